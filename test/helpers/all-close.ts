// allClose: elementwise comparison that reports the largest difference and the first failing
// index with both values, instead of a 1,000,003-element diff.
type Numeric = ArrayLike<number>;

export interface CloseOptions {
  /** absolute tolerance */
  atol?: number;
  /** relative tolerance, times |expected[i]| or, when given, times scale[i] */
  rtol?: number;
  /** per-element magnitude the relative tolerance applies to (e.g. |a|+|b| for a sum that may cancel) */
  scale?: Numeric;
  /** label for the message */
  what?: string;
}

export function allClose(actual: Numeric, expected: Numeric, opts: CloseOptions = {}): void {
  const { atol = 0, rtol = 0, scale, what = 'value' } = opts;
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length}, expected ${expected.length}`);
  }
  let worst = -1;
  let worstDiff = 0;
  let firstBad = -1;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) !== Number.isNaN(e)) {
        bad++;
        if (firstBad < 0) firstBad = i;
      }
      continue;
    }
    if (a === e) continue; // equal infinities too
    const diff = Math.abs(a - e);
    const tol = atol + rtol * Math.abs(scale ? scale[i]! : e);
    if (diff > worstDiff) {
      worstDiff = diff;
      worst = i;
    }
    if (!(diff <= tol)) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
  }
  if (bad > 0) {
    const f = firstBad;
    throw new Error(
      `${what}: ${bad} of ${actual.length} elements differ (atol ${atol}, rtol ${rtol}); ` +
        `first at [${f}]: got ${actual[f]}, expected ${expected[f]}; ` +
        `largest |diff| ${worstDiff} at [${worst}]: got ${actual[worst]}, expected ${expected[worst]}`,
    );
  }
}

/** Bitwise equality of two float arrays (NaN payloads and the sign of zero included). */
export function bitwiseEqual(a: Float32Array, b: Float32Array, what = 'value'): void {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  if (ua.length !== ub.length) throw new Error(`${what}: length ${ua.length}, expected ${ub.length}`);
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) throw new Error(`${what}: differs at [${i}]: ${a[i]} vs ${b[i]}`);
  }
}
