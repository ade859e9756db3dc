// Where a training step's time goes: runs one case of the `train` bench suite with every native
// function wrapped in a timer, then prints time per native op and per (op, argument shapes), and
// what is left for TypeScript (autograd, arena, op glue).
//   node --import tsx tools/profile-step.ts resnet20.b128 [steps=10]
// Timings are wall clock of the calling thread, so they include the native thread pool's work.
import { native } from '../src/native/index.js';
import { train } from '../bench/suites/train.js';

const [name = 'resnet20.b128', stepsArg = '10'] = process.argv.slice(2);
const found = train.cases().find((c) => c.name === name);
if (!found) throw new Error(`no train case ${name}; cases: ${train.cases().map((c) => c.name).join(' ')}`);

const step = found.setup();
for (let i = 0; i < 3; i++) step(); // warm-up: the arena and the kernels' workspaces settle

const byOp = new Map<string, { ms: number; calls: number }>();
const byShape = new Map<string, { ms: number; calls: number }>();
const add = (m: Map<string, { ms: number; calls: number }>, k: string, ms: number) => {
  const e = m.get(k) ?? { ms: 0, calls: 0 };
  e.ms += ms;
  e.calls++;
  m.set(k, e);
};
// A call's "shape": the parameter object's numbers (conv/gemm geometry) or the array lengths.
const describe = (args: unknown[]) =>
  args
    .map((a) => (a instanceof Float32Array || a instanceof Int32Array ? a.length : a && typeof a === 'object' ? JSON.stringify(a) : String(a)))
    .join(' ')
    .slice(0, 160);

const table = native as unknown as Record<string, unknown>;
for (const key of Object.keys(table)) {
  const f = table[key];
  if (typeof f !== 'function' || ['isa', 'threads', 'buildInfo', 'setThreads', 'setIsa'].includes(key)) continue;
  table[key] = (...args: unknown[]) => {
    const t0 = performance.now();
    const r = (f as (...a: unknown[]) => unknown)(...args);
    const ms = performance.now() - t0;
    add(byOp, key, ms);
    add(byShape, `${key} ${describe(args)}`, ms);
    return r;
  };
}

const steps = Number(stepsArg);
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
const total = (performance.now() - t0) / steps;
const nativeMs = [...byOp.values()].reduce((s, e) => s + e.ms, 0) / steps;

const rows = (m: Map<string, { ms: number; calls: number }>, n: number) =>
  [...m.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, n)
    .map(([k, e]) => `${(e.ms / steps).toFixed(2).padStart(8)} ms ${((100 * e.ms) / steps / total).toFixed(1).padStart(5)}%  ${String(e.calls / steps).padStart(4)}x  ${k}`);

console.log(`${name}: ${total.toFixed(1)} ms per step; native ${nativeMs.toFixed(1)} ms, the rest (TypeScript) ${(total - nativeMs).toFixed(1)} ms; ${native.threads()} threads`);
console.log('\nper op:');
console.log(rows(byOp, 40).join('\n'));
console.log('\nper op and shape (top 30):');
console.log(rows(byShape, 30).join('\n'));
