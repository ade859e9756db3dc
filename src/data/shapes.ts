// Coloured shapes: a generated 10-class image set (3x32x32 by default) for colour ResNets, with no
// download. Each image is one shape of a random colour, size, position and small rotation on a
// random background colour with Gaussian noise; edges are anti-aliased by 4x4 supersampling.
// Everything comes from the seed: the same seed gives the same bytes.
import { invalid } from '../errors.js';
import { Rng } from '../tensor/random.js';
import type { ImageDataset, ImageSplit } from './types.js';

export const SHAPE_CLASSES = ['circle', 'square', 'triangle', 'diamond', 'ring', 'plus', 'cross', 'hexagon', 'star', 'ellipse'] as const;

/** Whether the point (u, v), in units of the shape's radius around its centre, is inside. Rotations
 * stay within +-15 degrees, so square and diamond (a square turned 45) and plus and cross remain
 * distinct classes. */
function inside(cls: number, u: number, v: number): boolean {
  const d = Math.hypot(u, v);
  switch (cls) {
    case 0: return d < 1;
    case 1: return Math.max(Math.abs(u), Math.abs(v)) < 0.8;
    case 2: return v < 0.6 && v > -1 + 2 * Math.abs(u) * 0.9; // apex up, base at v = 0.6
    case 3: return Math.abs(u) + Math.abs(v) < 1;
    case 4: return d < 1 && d > 0.6;
    case 5: return (Math.abs(u) < 0.28 && Math.abs(v) < 1) || (Math.abs(v) < 0.28 && Math.abs(u) < 1);
    case 6: {
      const a = (u + v) / Math.SQRT2, b = (u - v) / Math.SQRT2;
      return (Math.abs(a) < 0.25 && Math.abs(b) < 1) || (Math.abs(b) < 0.25 && Math.abs(a) < 1);
    }
    case 7: {
      const k = Math.sqrt(3) / 2; // flat-topped hexagon of circumradius 1: |v| < k and the two slanted sides
      return Math.abs(v) < k && Math.abs(u) * k + Math.abs(v) * 0.5 < k;
    }
    case 8: return d < 0.45 + 0.55 * Math.pow(Math.abs(Math.cos(2.5 * Math.atan2(v, u))), 3);
    default: return (u * u) / 1 + (v * v) / (0.45 * 0.45) < 1;
  }
}

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6), f = h * 6 - i;
  const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  return ([[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]] as const)[i % 6] as unknown as [number, number, number];
}

export interface ShapesOptions {
  train?: number;
  validation?: number;
  test?: number;
  seed?: number;
  /** image side (default 32) */
  size?: number;
  /** standard deviation of the background noise, in [0, 1] units (default 0.06) */
  noise?: number;
}

/** n images; image i is of class i mod 10 (balanced; loaders shuffle). */
export function generateShapes(n: number, seed: number, size = 32, noise = 0.06): ImageSplit {
  const rng = new Rng(seed);
  const plane = size * size;
  const pixels = new Uint8Array(n * 3 * plane);
  const labels = new Int32Array(n);
  const ss = 4; // supersampling per axis
  for (let i = 0; i < n; i++) {
    const cls = i % 10;
    labels[i] = cls;
    const bg = hsvToRgb(rng.next(), rng.uniform(0, 0.6), rng.uniform(0.1, 0.9));
    let fg: [number, number, number];
    do fg = hsvToRgb(rng.next(), rng.uniform(0.5, 1), rng.uniform(0.4, 1));
    while (Math.abs(fg[0] - bg[0]) + Math.abs(fg[1] - bg[1]) + Math.abs(fg[2] - bg[2]) < 0.6);
    const r = rng.uniform(0.22, 0.42) * size;
    const cx = rng.uniform(r, size - r), cy = rng.uniform(r, size - r);
    const angle = rng.uniform(-Math.PI / 12, Math.PI / 12);
    const cos = Math.cos(angle), sin = Math.sin(angle);
    const base = i * 3 * plane;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        let cover = 0;
        for (let sy = 0; sy < ss; sy++) {
          for (let sx = 0; sx < ss; sx++) {
            const dx = (x + (sx + 0.5) / ss - cx) / r, dy = (y + (sy + 0.5) / ss - cy) / r;
            if (inside(cls, cos * dx + sin * dy, -sin * dx + cos * dy)) cover++;
          }
        }
        const a = cover / (ss * ss);
        for (let ch = 0; ch < 3; ch++) {
          const value = a * fg[ch]! + (1 - a) * (bg[ch]! + noise * rng.normal());
          pixels[base + ch * plane + y * size + x] = Math.min(255, Math.max(0, Math.round(value * 255)));
        }
      }
    }
  }
  return { n, c: 3, h: size, w: size, pixels, labels };
}

export function openShapes(opts: ShapesOptions = {}): ImageDataset {
  const seed = opts.seed ?? 0, size = opts.size ?? 32, noise = opts.noise ?? 0.06;
  const counts = { train: opts.train ?? 10000, validation: opts.validation ?? 1000, test: opts.test ?? 1000 };
  for (const [k, v] of Object.entries(counts)) if (!(Number.isInteger(v) && v >= 0 && v <= 1_000_000)) invalid(`shapes: ${k} expected an integer in [0, 1000000], got ${v}`);
  if (!(Number.isInteger(size) && size >= 8 && size <= 256)) invalid(`shapes: size expected an integer in [8, 256], got ${size}`);
  // one independent stream per split, so changing the size of one split leaves the others as they were
  return {
    kind: 'image',
    name: 'shapes',
    classes: [...SHAPE_CLASSES],
    shape: [3, size, size],
    train: generateShapes(counts.train, seed * 3 + 1, size, noise),
    validation: generateShapes(counts.validation, seed * 3 + 2, size, noise),
    test: generateShapes(counts.test, seed * 3 + 3, size, noise),
  };
}
