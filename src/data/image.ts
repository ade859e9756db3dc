// One image in CHW float32 layout: what augmentations take and return. Pixel values are in
// [0, 1] until normalization (bytes / 255).

export interface Image {
  c: number;
  h: number;
  w: number;
  /** (C, H, W) row-major; at least c*h*w long (a scratch buffer may be longer) */
  data: Float32Array;
}

/** A buffer of c*h*w floats: `out` when given (and long enough), else a new one. */
export function buffer(c: number, h: number, w: number, out?: Float32Array): Float32Array {
  const n = c * h * w;
  if (out && out.length >= n) return out;
  return new Float32Array(n);
}

/** Image i of a byte batch (N, C, H, W), as floats in [0, 1]. */
export function imageFromBytes(pixels: Uint8Array, i: number, c: number, h: number, w: number, out?: Float32Array): Image {
  const n = c * h * w;
  const data = buffer(c, h, w, out);
  const base = i * n;
  for (let k = 0; k < n; k++) data[k] = pixels[base + k]! / 255;
  return { c, h, w, data };
}

/** The first c*h*w values of the image as a tight copy. */
export function tight(img: Image): Float32Array {
  return img.data.slice(0, img.c * img.h * img.w);
}
