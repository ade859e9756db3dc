// Linear: y = x W^T + b over the last axis, one GEMM with the bias (and a ReLU) fused into its
// store. x is (..., in), W (out, in) as PyTorch stores it, b (out).
//   dx += dy W        dW += dy^T x        db += column sums of dy
import { gradOf, gradOutputIsScratch, gradTargetOf, record } from '../autograd/graph.js';
import { native } from '../native/index.js';
import { allocFloats, releaseFloats } from '../tensor/arena.js';
import { shapeText, Tensor } from '../tensor/tensor.js';
import { fail } from './check.js';

// Weights packed once for the GEMM kernel (native.gemmPackB) while a scope runs: decoding
// multiplies a few rows by the same weights at every step, and packing a weight per call (a pass
// over all of it, transposed) costs more there than the multiplication. Keyed by the weight's
// buffer; the scope's owner promises that no weight changes while it runs.
let packedWeights: Map<Float32Array, Float32Array> | null = null;

/** Off: withPackedWeights runs fn as it is (same results; for A/B measurements, tools/decode-ab.ts). */
export const weightPacking = { enabled: true };

/** Runs fn with every weight ops.linear meets packed once and reused (see packedWeights). The
 * weights must not change inside fn (decoding and inference; never a training step). Nested
 * scopes share the outer one's panels. */
export function withPackedWeights<T>(fn: () => T): T {
  if (packedWeights || !weightPacking.enabled) return fn();
  packedWeights = new Map();
  try {
    return fn();
  } finally {
    packedWeights = null;
  }
}

/** y = x W^T (+ b, act) through the scope's packed W when a scope runs (same bits either way). */
function forwardGemm(y: Float32Array, x: Float32Array, w: Float32Array, rows: number, out: number, inp: number, bias: Float32Array | null, act: 'none' | 'relu') {
  const epilogue = { ...(bias ? { bias } : {}), act };
  if (!packedWeights) return native.gemm(y, x, w, { m: rows, n: out, k: inp, transB: true, ...epilogue });
  let panel = packedWeights.get(w);
  if (!panel) packedWeights.set(w, (panel = native.gemmPackB(w, { n: out, k: inp, transB: true })));
  native.gemm(y, x, panel, { m: rows, n: out, k: inp, packedB: true, ...epilogue });
}

/** With act 'relu', `dropout` (p in [0, 1) and the mask's seed, as ops.dropout) is applied to the
 * ReLU's output in place: the same values as ops.dropout(linear(.., 'relu'), p, seed). */
export function linear(x: Tensor, w: Tensor, b: Tensor | null = null, act: 'none' | 'relu' = 'none', dropout?: { p: number; seed: number }): Tensor {
  const op = 'linear';
  if (w.shape.length !== 2) fail(op, `weight expected 2 dimensions (out, in), got ${shapeText(w.shape)}`);
  const [out, inp] = w.shape as [number, number];
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== inp) fail(op, `input ${shapeText(x.shape)} expected its last dimension to be ${inp} (the weight is ${shapeText(w.shape)})`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== out)) fail(op, `bias expected shape [${out}], got ${shapeText(b.shape)}`);
  const rows = x.size / inp;
  const y = Tensor.empty([...x.shape.slice(0, -1), out]);
  forwardGemm(y.data, x.data, w.data, rows, out, inp, b ? b.data : null, act);
  // Dropout after the ReLU, in place: y = relu(.) * keep / (1 - p) is > 0 exactly where the ReLU
  // passed and the mask kept, so backward regenerates no mask: dy flows where y > 0, times
  // 1 / (1 - p) (the dropout kernel's float), which backward's GEMMs take as alpha. One
  // activation buffer and one pass over it fewer than a separate dropout.
  if (dropout && !(act === 'relu' && dropout.p >= 0 && dropout.p < 1)) fail(op, `dropout expected act 'relu' and p in [0, 1), got act '${act}' and p ${dropout.p}`);
  const drop = dropout && dropout.p > 0 ? dropout : null;
  if (drop) native.dropoutForward(y.data, y.data, drop);
  const s = drop ? Math.fround(1 / (1 - drop.p)) : 1;
  return record(y, drop ? 'linear+relu+dropout' : act === 'relu' ? 'linear+relu' : op, b ? [x, w, b] : [x, w], (g) => {
    let gy = g;
    if (act === 'relu') {
      // the ReLU's gradient: dy where y > 0, written whole; over dy itself when backward drops
      // dy after this op (no fresh buffer to bring into cache)
      gy = gradOutputIsScratch() ? g : allocFloats(g.length, false);
      native.reluBackward(gy, g, y.data, true);
    }
    // a fresh input gradient is written (beta 0: C is not read), not zeroed and added to
    const gx = gradTargetOf(x), gw = gradOf(w), gb = b ? gradOf(b) : null;
    if (gx) native.gemm(gx.buf, gy, w.data, { m: rows, n: inp, k: out, alpha: s, beta: gx.overwrite ? 0 : 1 });
    if (gw) native.gemm(gw, gy, x.data, { m: out, n: inp, k: rows, transA: true, alpha: s, beta: 1 });
    if (gb && s === 1) native.columnSum(gb, gy, rows, out);
    else if (gb) {
      const sums = allocFloats(out);
      native.columnSum(sums, gy, rows, out);
      native.axpy(gb, s, sums);
      releaseFloats(sums); // the rest of the backward pass reuses it (every layer asks for one)
    }
  });
}

/**
 * Several Linear layers of the same input as one: y = x [W1; W2; ...]^T + [b1; b2; ...], the
 * outputs side by side in the last axis (self-attention's q, k and v projections). One GEMM with
 * N = the summed outputs reads x once, and backward's dx is one GEMM over K = that sum instead of
 * a GEMM per layer adding into dx; the weights stay separate parameters (their names and
 * layouts), copied side by side per call (a small matrix next to the activations).
 * biases: one per weight, or null (no bias anywhere).
 */
export function linearStacked(x: Tensor, weights: readonly Tensor[], biases: readonly Tensor[] | null): Tensor {
  const op = 'linearStacked';
  if (weights.length === 0) fail(op, 'expected at least one weight');
  const inp = weights[0]!.shape[1]!;
  for (const w of weights) if (w.shape.length !== 2 || w.shape[1] !== inp) fail(op, `weights expected (out, ${inp}) each, got ${weights.map((t) => shapeText(t.shape)).join(', ')}`);
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== inp) fail(op, `input ${shapeText(x.shape)} expected its last dimension to be ${inp}`);
  if (biases && (biases.length !== weights.length || biases.some((b, i) => b.shape.length !== 1 || b.shape[0] !== weights[i]!.shape[0]))) {
    fail(op, `biases expected one per weight, shaped [out], got ${biases.map((t) => shapeText(t.shape)).join(', ')}`);
  }
  const out = weights.reduce((s, w) => s + w.shape[0]!, 0), rows = x.size / inp;
  const w = allocFloats(out * inp, false);
  weights.reduce((o, t) => (w.set(t.data, o), o + t.size), 0);
  const b = biases ? allocFloats(out, false) : null;
  if (b) biases!.reduce((o, t) => (b.set(t.data, o), o + t.size), 0);
  const y = Tensor.empty([...x.shape.slice(0, -1), out]);
  native.gemm(y.data, x.data, w, { m: rows, n: out, k: inp, transB: true, ...(b ? { bias: b } : {}) });
  return record(y, op, [x, ...weights, ...(biases ?? [])], (g) => {
    const gx = gradTargetOf(x);
    if (gx) native.gemm(gx.buf, g, w, { m: rows, n: inp, k: out, beta: gx.overwrite ? 0 : 1 });
    // the stacked weights' gradient in one GEMM, then added to each parameter's own
    const spread = (parts: readonly Tensor[], all: Float32Array) =>
      parts.reduce((o, t) => {
        const gt = gradOf(t);
        if (gt) native.axpy(gt, 1, all.subarray(o, o + t.size));
        return o + t.size;
      }, 0);
    if (weights.some((t) => t.requiresGrad)) {
      const gw = allocFloats(out * inp, false);
      native.gemm(gw, g, x.data, { m: out, n: inp, k: rows, transA: true, beta: 0 });
      spread(weights, gw);
      releaseFloats(gw); // temporaries: the next layer's backward reuses them
    }
    if (biases?.some((t) => t.requiresGrad)) {
      const gb = allocFloats(out);
      native.columnSum(gb, g, rows, out);
      spread(biases, gb);
      releaseFloats(gb);
    }
  });
}
