// One case of a memory suite in a fresh Node process: set it up, run the warm-up of the timing
// policy (at least 5 calls and warmupMs), print {"peak_rss": VmHWM bytes} as the last line.
// Measured in the long-lived bench process, a case's peak would include whatever earlier cases
// left resident (freed ArrayBuffers the GC has not returned, arenas of other models); PyTorch's
// figure is measured the same way, in a fresh Python (bench/peers/common.py _peak_rss_child).
// Usage: node --import tsx bench/peak-rss-child.ts <suite> <case> <isa> <threads> <warmupMs>
import { native, type IsaName } from '../src/native/index.js';
import { peakRss } from './memory.js';
import { suites } from './registry.js';

const [suiteName, caseName, isa, threads, warmupMs] = process.argv.slice(2);
const c = suites[suiteName ?? '']?.cases().find((x) => x.name === caseName);
if (!c) {
  console.error(`peak-rss-child: no case ${JSON.stringify(caseName)} in suite ${JSON.stringify(suiteName)}`);
  process.exit(2);
}
native.setThreads(Number(threads));
native.setIsa(isa as IsaName);
const call = c.setup();
const end = performance.now() + Number(warmupMs);
for (let calls = 0; calls < 5 || performance.now() < end; calls++) call();
console.log(JSON.stringify({ peak_rss: peakRss() }));
