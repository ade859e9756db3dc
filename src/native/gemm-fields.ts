// gemm's params object read in JavaScript. Read through Node-API (native/binding/params.cc), the
// object costs ~1.5 us per call: listing its keys, converting each name to UTF-8, one call per
// value. V8 reads the same fields in tens of nanoseconds, so `gemm` below copies them into a
// Float64Array and calls the addon's gemmFields, which checks every field again and then runs the
// very code gemm runs. Any call it cannot copy plainly (a key gemm does not know, a value of
// another type, a combination gemm refuses, an object that is not a plain literal) goes to the
// addon's gemm as it is: the errors and their messages stay in one place, the native layer.
import type { GemmOptions, KilnNative } from './index.js';

/** The order of the fields (native/binding/gemm.cc, enum GemmField). */
const M = 0, N = 1, K = 2, TRANS_A = 3, TRANS_B = 4, LDA = 5, LDB = 6, LDC = 7, ALPHA = 8, BETA = 9, ACT = 10, BATCH = 11;
const STRIDE_A = 12, STRIDE_B = 13, STRIDE_C = 14, PACKED_B = 15, BIAS_ROW = 16, FIELDS = 17;

/** gemm's parameter names: the same list as the addon's (native/binding/gemm.cc, `Params`); a test compares the two. */
export const GEMM_KEYS: ReadonlySet<string> = new Set(['m', 'n', 'k', 'transA', 'transB', 'lda', 'ldb', 'ldc', 'alpha', 'beta', 'bias', 'biasAxis', 'act', 'batch', 'strideA', 'strideB', 'strideC', 'packedB']);
const FLOAT_MAX = 3.4028234663852886e38;

const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** A size, or -1 (the stored layout) when absent. */
const sizeOr = (v: unknown): number => (v === undefined ? -1 : isSize(v) ? v : NaN);
const isFlag = (v: unknown): boolean => v === undefined || typeof v === 'boolean';
const isFloat = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= FLOAT_MAX;

/**
 * Copies `p` into `f` and returns its bias (null when none), or returns false when gemm itself
 * must see the call. Every key must be gemm's own and its value of the type gemm reads
 * (undefined counting as absent, as there). Each field is read once, before anything is written:
 * a getter that called gemm would otherwise overwrite the fields half way.
 */
export function readGemmFields(p: unknown, f: Float64Array): Float32Array | null | false {
  if (typeof p !== 'object' || p === null || Object.getPrototypeOf(p) !== Object.prototype) return false;
  for (const key in p) if (!GEMM_KEYS.has(key)) return false;
  const { m, n, k, transA, transB, lda, ldb, ldc, alpha, beta, bias, biasAxis, act, batch, strideA, strideB, strideC, packedB } = p as GemmOptions;
  if (!isSize(m) || !isSize(n) || !isSize(k)) return false;
  if (!isFlag(transA) || !isFlag(transB) || !isFlag(packedB)) return false;
  if ((alpha !== undefined && !isFloat(alpha)) || (beta !== undefined && !isFloat(beta))) return false;
  if (act !== undefined && act !== 'none' && act !== 'relu' && act !== 'gelu') return false;
  if (bias === undefined ? biasAxis !== undefined : !(bias instanceof Float32Array)) return false;
  if (biasAxis !== undefined && biasAxis !== 'col' && biasAxis !== 'row') return false;
  if (batch !== undefined && !isSize(batch)) return false;
  if (packedB === true && (transB !== undefined || ldb !== undefined || strideB !== undefined)) return false;
  const [la, lb, lc, sa, sb, sc] = [sizeOr(lda), sizeOr(ldb), sizeOr(ldc), sizeOr(strideA), sizeOr(strideB), sizeOr(strideC)];
  if (Number.isNaN(la + lb + lc + sa + sb + sc)) return false; // a leading dimension or stride that is not a size: gemm says so
  f[M] = m;
  f[N] = n;
  f[K] = k;
  f[TRANS_A] = transA ? 1 : 0;
  f[TRANS_B] = transB ? 1 : 0;
  f[LDA] = la;
  f[LDB] = lb;
  f[LDC] = lc;
  f[STRIDE_A] = sa;
  f[STRIDE_B] = sb;
  f[STRIDE_C] = sc;
  f[ALPHA] = alpha ?? 1;
  f[BETA] = beta ?? 0;
  f[ACT] = act === 'relu' ? 1 : act === 'gelu' ? 2 : 0;
  f[BATCH] = batch ?? 1;
  f[PACKED_B] = packedB ? 1 : 0;
  f[BIAS_ROW] = biasAxis === 'row' ? 1 : 0;
  return bias ?? null;
}

/** Replaces the addon's gemm with one that reads its params in JavaScript (see above). */
export function installGemmFields(native: KilnNative): void {
  const viaObject = native.gemm.bind(native);
  const gemmFields = native.gemmFields.bind(native);
  const fields = new Float64Array(FIELDS); // reused: calls on one thread never overlap
  native.gemm = function gemm(c: Float32Array, a: Float32Array, b: Float32Array, params: GemmOptions): void {
    // gemm's own count check (and message) for a call with another number of arguments
    // eslint-disable-next-line prefer-rest-params
    if (arguments.length !== 4) return (viaObject as (...args: unknown[]) => void)(...arguments);
    const bias = readGemmFields(params, fields);
    if (bias === false) return viaObject(c, a, b, params);
    gemmFields(c, a, b, fields, bias ?? undefined);
  };
}
