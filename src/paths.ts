// The project root, the same from the TypeScript sources (src/paths.ts) and from the build
// (dist/src/paths.js): package.json, the native builds and public/ are found from it.
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const compiled = here.endsWith(`${sep}dist${sep}src`);

export const projectRoot: string = compiled ? join(here, '..', '..') : join(here, '..');
