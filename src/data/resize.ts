// Bilinear resizing with the half-pixel-centre convention (PyTorch's align_corners=False, PIL's
// and OpenCV's): output pixel (y, x) samples the input at ((y + 0.5) * H/P - 0.5, ...), clamped
// to the border.
import { buffer, type Image } from './image.js';

/** One axis's source taps: for each output index, the two input indices and the weight of the second. */
function taps(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; t: Float32Array } {
  const lo = new Int32Array(outSize), hi = new Int32Array(outSize), t = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const s = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), inSize - 1);
    const l = Math.floor(s);
    lo[o] = l;
    hi[o] = Math.min(l + 1, inSize - 1);
    t[o] = s - l;
  }
  return { lo, hi, t };
}

export function resizeBilinear(img: Image, p: number, q: number, out?: Float32Array): Image {
  const { c, h, w } = img;
  const data = buffer(c, p, q, out);
  const ys = taps(h, p), xs = taps(w, q);
  for (let ch = 0; ch < c; ch++) {
    const src = ch * h * w;
    for (let y = 0; y < p; y++) {
      const r0 = src + ys.lo[y]! * w, r1 = src + ys.hi[y]! * w, ty = ys.t[y]!;
      for (let x = 0; x < q; x++) {
        const x0 = xs.lo[x]!, x1 = xs.hi[x]!, tx = xs.t[x]!;
        const top = img.data[r0 + x0]! + (img.data[r0 + x1]! - img.data[r0 + x0]!) * tx;
        const bottom = img.data[r1 + x0]! + (img.data[r1 + x1]! - img.data[r1 + x0]!) * tx;
        data[(ch * p + y) * q + x] = top + (bottom - top) * ty;
      }
    }
  }
  return { c, h: p, w: q, data };
}

/** The size (p, q) that makes the shorter side `short`, keeping the aspect ratio. */
export function shortSideSize(h: number, w: number, short: number): [number, number] {
  return h <= w ? [short, Math.max(short, Math.round((w * short) / h))] : [Math.max(short, Math.round((h * short) / w)), short];
}
