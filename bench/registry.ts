// Every suite, by name: the CLI (bench/run.ts) and the fresh-process peak-RSS child
// (bench/peak-rss-child.ts) look cases up here. A new suite is one import and one entry.
import type { Suite } from './suite.js';
import { accuracy } from './suites/accuracy.js';
import { attention } from './suites/attention.js';
import { conv } from './suites/conv.js';
import { elementwise } from './suites/elementwise.js';
import { gemm } from './suites/gemm.js';
import { server } from './suites/server.js';
import { train } from './suites/train.js';

export const suites: Record<string, Suite> = { elementwise, gemm, conv, attention, train, accuracy, server };
