// Downsampling a metric series for a chart: at most maxPoints points, each the mean of a run of
// consecutive points (nulls, i.e. non-finite values, skipped; a run of nulls stays null), placed
// at the run's last step. The first and last steps are always kept as run boundaries, so a chart
// spans the same range.
import type { Series } from './types.js';

export function downsample(s: Series, maxPoints: number): Series {
  const n = s.steps.length;
  if (n <= maxPoints) return s;
  const steps: number[] = [];
  const values: Array<number | null> = [];
  for (let b = 0; b < maxPoints; b++) {
    const lo = Math.floor((b * n) / maxPoints);
    const hi = Math.floor(((b + 1) * n) / maxPoints);
    let sum = 0, count = 0;
    for (let i = lo; i < hi; i++) {
      const v = s.values[i];
      if (v !== null && v !== undefined) {
        sum += v;
        count++;
      }
    }
    steps.push(s.steps[hi - 1]!);
    values.push(count ? sum / count : null);
  }
  return { steps, values };
}
