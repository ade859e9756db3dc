// Loads the native addon once per thread (ESM cannot import a .node file on Node 20, so
// createRequire) and gives it a type. Node loads the addon once per environment, so each worker
// thread gets its own instance: its own ISA choice and thread pool.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { projectRoot } from '../paths.js';
import { installGemmFields } from './gemm-fields.js';

export type IsaName = 'ref' | 'avx2' | 'avx512';

export interface IsaReport {
  /** CPU features, as detected (the OS support for the wider registers included). */
  cpu: Record<string, boolean>;
  /** The ISA levels this CPU can run, portable first. */
  supported: IsaName[];
  /** The fastest level the CPU supports. */
  best: IsaName;
  /** The level this instance runs (the cap each op's candidate list is matched against). */
  active: IsaName;
  /** Whether KILN_ISA or setIsa() chose the level. */
  forced: boolean;
  /** The variant each op uses. */
  ops: Record<string, IsaName>;
}

export interface WorkspaceStats {
  /** bytes reserved over all slots */
  bytes: number;
  /** allocations so far (a slot grown, or the table of slots): constant in a steady state */
  growths: number;
  /** the bytes of each slot in use, by slot number (native/runtime/*.cc name their ranges) */
  slots: Record<string, number>;
}

export interface BuildInfo {
  builder: 'cmake-js' | 'node-gyp' | string;
  compiler: string;
  napiVersion: number;
  isaLibraries: boolean;
}

/** The exports of the addon. Every function validates its arguments and throws a TypeError or
 * RangeError (err.code KILN_ERR_ARG_TYPE / KILN_ERR_ARG_RANGE) that names the op and argument. */
export interface KilnNative {
  isa(): IsaReport;
  /** Caps the ISA level of this instance; null restores the CPU's best. */
  setIsa(name: IsaName | null): void;
  threads(): number;
  setThreads(n: number): void;
  buildInfo(): BuildInfo;
  /** Puts the calling OS thread (and the pool threads it starts later) under SCHED_IDLE; false
   * where there is no such policy (not Linux) or it is refused. */
  schedIdle(): boolean;
  /** This instance's scratch workspace (packed GEMM panels, convolution buffers and offset tables):
   * the bytes it holds and how many allocations it has made. It grows to the largest call of each
   * kind and is then reused, so after a first training step `growths` stays put. */
  workspaceStats(): WorkspaceStats;

  /** y = a + b */
  add(y: Float32Array, a: Float32Array, b: Float32Array): void;
  /** y = a * b */
  mul(y: Float32Array, a: Float32Array, b: Float32Array): void;
  /** y += alpha * x */
  axpy(y: Float32Array, alpha: number, x: Float32Array): void;
  /** y = alpha * x */
  scale(y: Float32Array, x: Float32Array, alpha: number): void;
  /** y = max(x, 0); NaN propagates */
  reluForward(y: Float32Array, x: Float32Array): void;
  /** dx += dy where x > 0; with overwrite, dx = that (dx's old contents are ignored), and dx may
   * then be dy itself (masked in place) */
  reluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, overwrite?: boolean): void;
  /** y = max(a + b, 0): add then reluForward, block by block (one pass over memory) */
  addRelu(y: Float32Array, a: Float32Array, b: Float32Array): void;
  /** da += dy where x > 0, and db += the same: two reluBackward calls, block by block; overwriteA/B
   * write da/db instead of adding (overwriteB with db the same buffer as da is an error) */
  reluBackwardPair(da: Float32Array, db: Float32Array, dy: Float32Array, x: Float32Array, overwriteA?: boolean, overwriteB?: boolean): void;
  /** sum of x, accumulated in double */
  sum(x: Float32Array): number;
  /** sum of x^2 */
  sumsq(x: Float32Array): number;
  /** y(cols) += column sums of x(rows, cols) */
  columnSum(y: Float32Array, x: Float32Array, rows: number, cols: number): void;
  /** C = act(alpha op(A) op(B) + beta C + bias), row-major, optionally batched (see GemmOptions). */
  gemm(c: Float32Array, a: Float32Array, b: Float32Array, params: GemmOptions): void;
  /** gemm with its params read by src/native/gemm-fields.ts (which `gemm` uses itself: call gemm). */
  gemmFields(c: Float32Array, a: Float32Array, b: Float32Array, fields: Float64Array, bias: Float32Array | undefined): void;
  /** op(B) packed once in the active GEMM kernel's layout, for a B that many GEMMs share (a
   * layer's weight during inference): gemm(c, a, panel, { ..., packedB: true }) then skips packing
   * it. The panel carries a header naming the kernel and the sizes; gemm refuses a panel packed
   * for another ISA (pack again after setIsa) or other n, k. */
  gemmPackB(b: Float32Array, params: GemmPackOptions): Float32Array;
  /** Runs the FMA peak probe of an ISA on every pool thread; returns the flops done (time the call). */
  fmaPeak(isa: 'avx2' | 'avx512', iterations: number): number;

  // ---- optimizer updates: in place over one parameter buffer and its state ----
  /** One torch.optim.SGD step (dampening 0) in a single pass: g' = grad + weightDecay * param
   * (skipped when 0); velocity = momentum * velocity + g' (= g' when params.first); param -=
   * lr * (nesterov ? g' + momentum * velocity : velocity), or lr * g' without momentum. grad is
   * only read. velocity may be null when momentum is 0. */
  sgdStep(param: Float32Array, grad: Float32Array, velocity: Float32Array | null, params: SgdStepParams): void;
  /** One torch.optim.Adam step (AdamW with params.decoupled) in a single pass over param, grad
   * (only read) and the moments m and v, with bias correction for params.step:
   * param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). Adam adds
   * weightDecay * param to the gradient; AdamW first multiplies param by 1 - lr * weightDecay. */
  adamStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, params: AdamStepParams): void;
  /** The global L2 norm of every buffer together (squares in float, sums in double), identical
   * for every thread count; for one buffer it is exactly Math.sqrt(sumsq(x)). */
  gradNorm(buffers: readonly Float32Array[]): number;
  /** torch.nn.utils.clip_grad_norm_: returns the global norm before clipping and, when
   * maxNorm / (norm + 1e-6) < 1, multiplies every buffer by that factor. A NaN or infinite norm
   * is returned and nothing is scaled (PyTorch would scale by NaN). Buffers must not overlap. */
  clipGradNorm(buffers: readonly Float32Array[], maxNorm: number): number;

  // ---- convolution, pooling, normalization: NCHW, float32; backward passes accumulate (+=) ----
  /** y(n,k,p,q) = conv2d(x(n,c,h,w), w(k,c,r,s)) + bias(k); bias may be null. */
  conv2dForward(y: Float32Array, x: Float32Array, w: Float32Array, bias: Float32Array | null, params: Conv2dParams): void;
  /** dx += the input gradient of conv2d given dy; with overwrite, dx = it (old contents ignored). */
  conv2dBackwardData(dx: Float32Array, dy: Float32Array, w: Float32Array, params: Conv2dParams, overwrite?: boolean): void;
  /** dw += the weight gradient, db += the bias gradient (db may be null). */
  conv2dBackwardWeight(dw: Float32Array, db: Float32Array | null, x: Float32Array, dy: Float32Array, params: Conv2dParams): void;

  /** y = window maxima; argmax = h*W + w of each maximum within its (n, c) plane. */
  maxPool2dForward(y: Float32Array, argmax: Int32Array, x: Float32Array, params: Pool2dParams): void;
  /** dx += dy routed to the recorded maxima. */
  maxPool2dBackward(dx: Float32Array, dy: Float32Array, argmax: Int32Array, params: Pool2dParams, overwrite?: boolean): void;
  avgPool2dForward(y: Float32Array, x: Float32Array, params: Pool2dParams): void;
  avgPool2dBackward(dx: Float32Array, dy: Float32Array, params: Pool2dParams): void;
  /** y(n, c) = mean over (h, w) of x(n, c, h, w). */
  globalAvgPool2dForward(y: Float32Array, x: Float32Array, params: PlaneParams): void;
  globalAvgPool2dBackward(dx: Float32Array, dy: Float32Array, params: PlaneParams): void;

  /** The ResNet shortcut option A: stride-`stride` subsampling, zero channels padded to k. */
  shortcutAForward(y: Float32Array, x: Float32Array, params: ShortcutParams): void;
  shortcutABackward(dx: Float32Array, dy: Float32Array, params: ShortcutParams): void;

  /** Batch norm 2d. Fills saveMean/saveInvstd(c): the batch statistics when training (and updates
   * runningMean/runningVar with momentum), the running ones otherwise. gamma/beta/running* may be null. */
  batchNormForward(
    y: Float32Array,
    saveMean: Float32Array,
    saveInvstd: Float32Array,
    x: Float32Array,
    gamma: Float32Array | null,
    beta: Float32Array | null,
    runningMean: Float32Array | null,
    runningVar: Float32Array | null,
    params: BatchNormParams,
    /** added to the normalized values before the ReLU: y = relu(bn(x) + residual), a residual
     * block's tail in one pass */
    residual?: Float32Array | null,
    /** params.relu only: receives the ReLU's mask as bits, n*c*ceil(h*w/32) words (bit i % 32 of
     * word i / 32 of each plane, little-endian), for the backward pass */
    reluMask?: Int32Array | null,
  ): void;
  /** dx += ..., dgamma += ..., dbeta += ..., dresidual += dy masked by y > 0 (each output may be
   * null); y is the forward output, needed when params.relu (else null). With overwrite, dx = ...
   * (its old contents ignored); overwriteResidual, the same for dresidual. */
  batchNormBackward(
    dx: Float32Array | null,
    dgamma: Float32Array | null,
    dbeta: Float32Array | null,
    dy: Float32Array,
    x: Float32Array,
    y: Float32Array | null,
    gamma: Float32Array | null,
    saveMean: Float32Array,
    saveInvstd: Float32Array,
    params: BatchNormParams,
    overwrite?: boolean,
    dresidual?: Float32Array | null,
    overwriteResidual?: boolean,
    /** the forward pass's reluMask: read instead of y (which may then be null) */
    reluMask?: Int32Array | null,
  ): void;

  // ---- sequence ops over the last axis of (rows, d) float32 rows; backward passes accumulate ----
  /** Layer norm: y = (x - mean) * rstd * gamma + beta per row (gamma/beta null: 1 and 0), and
   * mean(rows), rstd(rows) = 1 / sqrt(var + eps) saved for backward. */
  layerNormForward(
    y: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    x: Float32Array,
    gamma: Float32Array | null,
    beta: Float32Array | null,
    params: LayerNormParams,
  ): void;
  /** dx += ..., dgamma += ..., dbeta += ... (each may be null) from the forward's mean and rstd.
   * dgamma/dbeta are summed over fixed chunks of rows in double: identical for every thread count. */
  layerNormBackward(
    dx: Float32Array | null,
    dgamma: Float32Array | null,
    dbeta: Float32Array | null,
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array | null,
    mean: Float32Array,
    rstd: Float32Array,
    params: LayerNormParams,
    overwrite?: boolean,
  ): void;
  /** y = softmax(x) per row (y may be x). NaN or +Infinity in a row, or a row of only -Infinity,
   * makes the row NaN (as PyTorch). */
  softmaxForward(y: Float32Array, x: Float32Array, params: RowParams): void;
  /** forward was y = softmax(x): dx += y * (dy - sum(dy * y)) */
  softmaxBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, params: RowParams): void;
  /** y = log_softmax(x) per row (y may be x) */
  logSoftmaxForward(y: Float32Array, x: Float32Array, params: RowParams): void;
  /** forward was y = log_softmax(x): dx += dy - exp(y) * sum(dy) */
  logSoftmaxBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, params: RowParams): void;
  /** Softmax cross-entropy of logits (rows, vocab) against targets (rows), PyTorch's
   * cross_entropy(reduction='mean', ignore_index, label_smoothing): returns the mean loss over the
   * `count` rows whose target is not ignoreIndex (loss 0 when count is 0) and saves each row's
   * log-sum-exp in lse (rows, 2) as the pair (max, log sum exp(z - max)). Every other target must
   * be in [0, vocab): a RangeError names the first that is not, before anything is written. */
  crossEntropyForward(lse: Float32Array, logits: Float32Array, targets: Int32Array, params: CrossEntropyParams): { loss: number; count: number };
  /** dlogits += grad / count * (softmax(logits) - q) for the rows not ignored (q the smoothed
   * one-hot target); nothing when count is 0. lse is the forward's; the probabilities are
   * recomputed, never stored. With overwrite, dlogits holds garbage (a fresh buffer) and is
   * written (ignored rows, or all rows when count is 0, get zeros). */
  crossEntropyBackward(dlogits: Float32Array, logits: Float32Array, targets: Int32Array, lse: Float32Array, grad: number, params: CrossEntropyParams, overwrite?: boolean): void;
  /** y = gelu(x): x * Phi(x) ('none', PyTorch's default) or the tanh approximation ('tanh') */
  geluForward(y: Float32Array, x: Float32Array, approximate: 'none' | 'tanh'): void;
  /** dx += dy * gelu'(x) */
  geluBackward(dx: Float32Array, dy: Float32Array, x: Float32Array, approximate: 'none' | 'tanh'): void;
  /** Inverted dropout: y = x / (1 - p) where kept, 0 where dropped (p = 0: y = x; p = 1: zeros;
   * NaN stays NaN). Element i is kept by a hash of (seed, offset + i): the same mask on every ISA
   * and thread count, and backward regenerates it from the same params. With `residual` (not
   * overlapping y): y = residual + dropout(x), the add in the same pass (a residual connection). */
  dropoutForward(y: Float32Array, x: Float32Array, params: DropoutParams, residual?: Float32Array | null): void;
  /** dx += dy * (the forward's multiplier) */
  dropoutBackward(dx: Float32Array, dy: Float32Array, params: DropoutParams, overwrite?: boolean): void;
  /** y(ids.length, d) = rows ids[i] of table(vocab, d); an id outside [0, vocab) is a RangeError
   * naming its index and value, before anything is written. */
  embeddingForward(y: Float32Array, ids: Int32Array, table: Float32Array, params: EmbeddingParams): void;
  /** dtable[ids[i]] += dy[i]; each table row summed in the order of the ids, whatever the thread count. */
  embeddingBackward(dtable: Float32Array, ids: Int32Array, dy: Float32Array, params: EmbeddingParams): void;

  /** Fused scaled dot-product attention (flash-attention style: no (tq, tk) matrix is stored).
   * Writes out (q's shape) and lse (b, h, tq), the per-query log-sum-exp backward needs. A query
   * that sees no key gets zeros and lse = -Infinity. */
  attentionForward(out: Float32Array, lse: Float32Array, q: Float32Array, k: Float32Array | null, v: Float32Array | null, params: AttentionParams): void;
  /** dq += ..., dk += ..., dv += ... (each may be null), from dout and the forward's out and lse;
   * params must be the forward's (same seed when dropout > 0). With overwrite, the gradients hold
   * garbage (fresh buffers) and are written (=), with the bits of adding into zeros. */
  attentionBackward(
    dq: Float32Array | null,
    dk: Float32Array | null,
    dv: Float32Array | null,
    dout: Float32Array,
    q: Float32Array,
    k: Float32Array | null,
    v: Float32Array | null,
    out: Float32Array,
    lse: Float32Array,
    params: AttentionParams,
    overwrite?: boolean,
  ): void;
}

export interface AttentionParams {
  /** batch, heads, query length, key length, head size (<= 1024) */
  b: number;
  h: number;
  tq: number;
  tk: number;
  d: number;
  /** 'bhtd' (default): q (b, h, tq, d), k/v (b, h, kvCapacity, d); 'bthd': q (b, tq, h, d), k/v
   * (b, kvCapacity, h, d), the layout Linear layers produce (no head split copies) */
  layout?: 'bhtd' | 'bthd';
  /** self-attention on one projection's output: q is (b, t, 3, h, d) holding q, k and v (dq
   * their gradients), k, v, dk, dv are null; needs layout 'bthd', tq == tk, no kvCapacity */
  packed?: boolean;
  /** the T axis k and v are stored with (a decoding cache), >= tk; keys past tk are not read */
  kvCapacity?: number;
  /** query i sees keys j <= i + tk - tq */
  causal?: boolean;
  /** per batch row: keys at or past this length are padding */
  keyLengths?: Int32Array | null;
  /** default 1/sqrt(d) */
  scale?: number;
  /** probability in [0, 1) of dropping an attention probability (kept ones scale by 1/(1-p));
   * the mask is a hash of seed and position, so backward regenerates it */
  dropout?: number;
  seed?: number;
}

/** A (rows, d) matrix of rows over the last axis. */
export interface RowParams {
  rows: number;
  /** >= 1 */
  d: number;
}

export interface LayerNormParams extends RowParams {
  /** added to the variance; default 1e-5 (as PyTorch) */
  eps?: number;
}

export interface CrossEntropyParams {
  vocab: number;
  /** rows with this target count for nothing; default -100 (as PyTorch) */
  ignoreIndex?: number;
  /** in [0, 1]; default 0 */
  labelSmoothing?: number;
}

export interface DropoutParams {
  /** drop probability in [0, 1] */
  p: number;
  /** an integer in [0, 2^53) */
  seed: number;
  /** the index of the first element in the whole tensor (default 0), for calls over parts */
  offset?: number;
}

export interface EmbeddingParams {
  vocab: number;
  d: number;
}

/** (n, c, h, w): a batch of planes. */
export interface PlaneParams {
  n: number;
  c: number;
  h: number;
  w: number;
}

/** A convolution with every padding explicit; src/tensor/shape.ts resolves 'same'/'valid'. */
export interface Conv2dParams extends PlaneParams {
  /** output channels and kernel size */
  k: number;
  r: number;
  s: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  dilationH: number;
  dilationW: number;
}

export interface Pool2dParams extends PlaneParams {
  /** window size */
  r: number;
  s: number;
  strideH: number;
  strideW: number;
  /** symmetric padding, at most half the window (as PyTorch) */
  padH: number;
  padW: number;
  /** output size rounded up (a last partial window that starts inside the input or left padding) */
  ceilMode?: boolean;
  /** average pooling: whether padding cells count in the divisor (default true, as PyTorch) */
  countIncludePad?: boolean;
  /** the output size, as resolvePool2d computes it; when given, it must equal the addon's */
  p?: number;
  q?: number;
}

export interface ShortcutParams extends PlaneParams {
  /** output channels (>= c), the subsampling stride, and the zero channels before the copied ones */
  k: number;
  stride: number;
  offset: number;
  /** the output size ceil(h/stride), ceil(w/stride); when given, it must equal the addon's */
  p?: number;
  q?: number;
}

export interface BatchNormParams extends PlaneParams {
  training: boolean;
  /** default 0.1 and 1e-5, as PyTorch */
  momentum?: number;
  eps?: number;
  /** fused ReLU after the normalization */
  relu?: boolean;
}

/** Hyper-parameters of sgdStep; each must be a finite number >= 0. */
export interface SgdStepParams {
  lr: number;
  /** default 0 (plain SGD: velocity is not touched) */
  momentum?: number;
  /** default 0 */
  weightDecay?: number;
  /** default false; needs momentum > 0 */
  nesterov?: boolean;
  /** the first step with this velocity buffer: it is set to the gradient, not read (default false) */
  first?: boolean;
}

/** Hyper-parameters of adamStep (defaults as torch.optim.Adam). */
export interface AdamStepParams {
  /** >= 0 */
  lr: number;
  /** the step number t, an integer >= 1 (1 on the first step) */
  step: number;
  /** in [0, 1); default 0.9 and 0.999 */
  beta1?: number;
  beta2?: number;
  /** >= 0, added after the square root of the bias-corrected second moment; default 1e-8 */
  eps?: number;
  /** >= 0; default 0 */
  weightDecay?: number;
  /** AdamW: decay the parameter by lr * weightDecay instead of adding to the gradient (default false) */
  decoupled?: boolean;
}

export interface GemmOptions {
  /** op(A) is (m, k), op(B) is (k, n), C is (m, n); 0 is allowed (m or n = 0: nothing happens). */
  m: number;
  n: number;
  k: number;
  /** false: A stored (m, lda), B stored (k, ldb); true: A stored (k, lda), B stored (n, ldb). */
  transA?: boolean;
  transB?: boolean;
  /** Row strides; default the stored row length. */
  lda?: number;
  ldb?: number;
  ldc?: number;
  /** Default 1 and 0; beta = 0 never reads C. */
  alpha?: number;
  beta?: number;
  /** m values ('row') or n values ('col', the default), added before the activation. */
  bias?: Float32Array;
  biasAxis?: 'row' | 'col';
  act?: 'none' | 'relu' | 'gelu';
  /** batch problems at these float offsets; strideA/strideB may be 0 to share one A or B. */
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideC?: number;
  /** b is a panel from gemmPackB for this n and k (transB, ldb and strideB are then not allowed; a batch shares the panel) */
  packedB?: boolean;
}

export interface GemmPackOptions {
  /** op(B) is (k, n): B stored (k, ldb), or with transB (n, ldb) */
  n: number;
  k: number;
  transB?: boolean;
  ldb?: number;
}

/** Where the addon is loaded from: KILN_ADDON, else the cmake-js build, else the node-gyp build. */
export function addonPath(): string {
  if (process.env.KILN_ADDON) return process.env.KILN_ADDON;
  const cmake = join(projectRoot, 'build-cmake', 'Release', 'kiln.node');
  const gyp = join(projectRoot, 'build', 'Release', 'kiln.node');
  if (existsSync(cmake)) return cmake;
  if (existsSync(gyp)) return gyp;
  throw new Error(`kiln: native addon not built (looked for ${cmake} and ${gyp}); run npm run build:native`);
}

const require = createRequire(import.meta.url);
export const native: KilnNative = require(addonPath()) as KilnNative;
installGemmFields(native);
