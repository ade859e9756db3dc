// What a benchmark suite is. A suite is a list of cases; each case is the single source of truth
// for its name and sizes: our side runs it, and the PyTorch peer receives the same description
// (name, op, params) as JSON, so the two sides cannot drift apart.

/** Parameters a peer needs to build the same case: sizes and scalars, nothing else. */
export type CaseParams = Record<string, number>;

export interface BenchCase {
  /** Unique in its suite, e.g. "add/4096"; the peer reports under the same name. */
  name: string;
  /** The operation, the key the peer script looks its PyTorch equivalents up by. */
  op: string;
  /** Sizes and scalars, sent to the peer verbatim. */
  params: CaseParams;
  /** Bytes one call must read plus write (the minimum traffic, not what caches add). */
  bytes?: number;
  /** Floating-point operations of one call. */
  flops?: number;
  /** Items one call processes (images, tokens): quoted as items per second, the headline. */
  items?: { count: number; unit: string };
  /**
   * Allocates and fills the buffers once, outside the timing, and returns the call to time.
   * Buffers are reused by every call: fresh memory costs a page fault per 4 KiB (TOOLCHAIN.md 9).
   */
  setup(): () => unknown;
  /** For cases whose calls run in an arena (training steps): after the timed calls, what the
   * calls of the last setup() allocated in their steady state. */
  allocations?(): StepAllocations | undefined;
}

/** A training step's allocations: src/tensor/arena.ts counts the buffers it had to allocate
 * fresh (none once every length it asks for is on a free list) and the bytes it holds. */
export interface StepAllocations {
  /** calls counted: every call after the first (the first fills the arena) */
  steps: number;
  /** fresh arena buffers per steady-state call, and their bytes (means over `steps`) */
  freshBuffers: number;
  freshBytes: number;
  /** bytes the arena held after the last call: every buffer a step uses, free or in use */
  heldBytes: number;
}

export interface Suite {
  name: string;
  /** One line for the suite list. */
  description: string;
  /** Built on demand, so that listing suites allocates nothing. */
  cases(): BenchCase[];
  /** The PyTorch side, a file in bench/peers/, or undefined when the suite has none. */
  peer?: string;
  /** Compute-bound suites: measure the fp32 FMA peak first and quote each case as a fraction. */
  peak?: boolean;
  /**
   * Report memory per case, next to PyTorch's with the peer: true, the peak resident memory from
   * setup on (training steps); 'extra', what the calls add at their peak above what setup left
   * resident (a kernel's scratch: inputs and outputs excluded).
   */
  memory?: boolean | 'extra';
  /** Weighted sums of case times printed after the table (e.g. one training step of a network). */
  totals?(): Total[];
  /** A suite that is not a list of timed calls (accuracy: whole training runs) runs itself and
   * returns the exit code; cases() then only names its runs. */
  run?(o: SelfRunOptions): Promise<number>;
}

export interface SelfRunOptions {
  filter: string | undefined;
  json: boolean;
  /** stop each run after this many optimizer steps (a smoke run) */
  steps: number | undefined;
}

/** A total: each named case's time times its weight (how often a step runs it). */
export interface Total {
  name: string;
  parts: Array<[caseName: string, weight: number]>;
}
