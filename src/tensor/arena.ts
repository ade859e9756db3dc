// Buffer reuse across training steps. A step allocates the same activation and gradient buffers
// every time; fresh memory costs a page fault per 4 KiB (12-15 us here, TOOLCHAIN.md 9) and work
// for the garbage collector, so a step runs inside an arena: its temporary buffers come from
// free lists keyed by length and go back to them when the step ends. Parameters, their
// gradients and optimizer state live outside any arena.

export interface ArenaStats {
  /** buffers handed out since the last reset, and how many of them were freshly allocated */
  handedOut: number;
  fresh: number;
  freshBytes: number;
  /** bytes the arena holds (free and in use) */
  heldBytes: number;
}

export class Arena {
  private readonly free = new Map<number, Float32Array[]>();
  private used = new Set<Float32Array>();
  private stats: ArenaStats = { handedOut: 0, fresh: 0, freshBytes: 0, heldBytes: 0 };

  /** A buffer of n floats, valid until the next reset(): zeroed, unless `zero` is false (an
   * output the op writes in full, where the fill would be a wasted pass over memory). */
  alloc(n: number, zero = true): Float32Array {
    const list = this.free.get(n);
    let buf = list?.pop();
    if (buf) {
      if (zero) buf.fill(0);
    } else {
      buf = new Float32Array(n);
      this.stats.fresh++;
      this.stats.freshBytes += 4 * n;
      this.stats.heldBytes += 4 * n;
    }
    this.stats.handedOut++;
    this.used.add(buf);
    return buf;
  }

  /** Takes one buffer back before the step ends (a gradient the backward pass is done with), so
   * that the rest of the step can reuse it. Buffers the arena did not hand out are ignored. */
  release(buf: Float32Array): void {
    if (this.used.delete(buf)) this.freeList(buf.length).push(buf);
  }

  private freeList(n: number): Float32Array[] {
    let list = this.free.get(n);
    if (!list) this.free.set(n, (list = []));
    return list;
  }

  /** Takes back every buffer handed out; returns the counts since the previous reset. */
  reset(): ArenaStats {
    for (const b of this.used) this.freeList(b.length).push(b);
    this.used.clear();
    const out = { ...this.stats };
    this.stats = { handedOut: 0, fresh: 0, freshBytes: 0, heldBytes: out.heldBytes };
    return out;
  }
}

let current: Arena | null = null;

/** A zeroed buffer (or, with zero false, one whose contents are unspecified): from the current
 * arena inside withArena, else freshly allocated. */
export function allocFloats(n: number, zero = true): Float32Array {
  return current ? current.alloc(n, zero) : new Float32Array(n);
}

/** Gives a temporary buffer back to the current arena, if any (see Arena.release). */
export function releaseFloats(buf: Float32Array): void {
  current?.release(buf);
}

/**
 * Runs fn with `arena` supplying temporary buffers, then resets it: no tensor created inside
 * may be used afterwards (return plain numbers, or copy what must survive).
 */
export function withArena<T>(arena: Arena, fn: () => T): { result: T; stats: ArenaStats } {
  const before = current;
  current = arena;
  let result: T;
  try {
    result = fn();
  } finally {
    current = before;
  }
  return { result, stats: arena.reset() };
}
