// Shared setup for the native tests: the ISA levels to test on this CPU, and a guard that puts
// the addon back to its default level and thread count after each test.
import { afterEach } from 'vitest';

import { native, type IsaName } from '../../src/native/index.js';

export { native };

/** Every level this CPU can run: each is tested against the float64 reference. */
export const isas: IsaName[] = native.isa().supported;

const initialThreads = native.threads();
const initialIsa = native.isa();

/** Restores what KILN_ISA / KILN_THREADS chose, so tests do not leak settings into each other. */
export function restoreAfterEach(): void {
  afterEach(() => {
    native.setIsa(initialIsa.forced ? initialIsa.active : null);
    native.setThreads(initialThreads);
  });
}
