// ops.withPackedWeights: inside the scope ops.linear multiplies by a panel packed once per weight
// (native.gemmPackB) and reuses it; the outputs are the same bits as without the scope, on every
// ISA; the panels live as long as the outermost scope.
import { afterEach, describe, expect, it, vi } from 'vitest';

import { noGrad } from '../../src/autograd/graph.js';
import { linear, weightPacking, withPackedWeights } from '../../src/ops/linear.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { bitwiseEqual } from '../helpers/all-close.js';
import { isas, native, restoreAfterEach } from '../helpers/native.js';
import { uniform } from '../helpers/rng.js';

restoreAfterEach();
afterEach(() => vi.restoreAllMocks());

const tensor = (shape: number[], seed: number) => Tensor.from(Array.from(uniform(shape.reduce((a, b) => a * b, 1), seed)), shape);

describe.each(isas)('withPackedWeights on %s', (isa) => {
  it(`linear gives the same bits inside the scope as outside (${isa}), for edge widths, bias and ReLU`, () => {
    native.setIsa(isa);
    for (const [rows, inp, out] of [[1, 1, 1], [3, 17, 33], [32, 64, 50], [5, 130, 257], [300, 40, 96]] as const) {
      const x = tensor([rows, inp], rows + inp), w = tensor([out, inp], out), b = tensor([out], out + 1);
      for (const act of ['none', 'relu'] as const) {
        const want = noGrad(() => linear(x, w, b, act)).data;
        const got = noGrad(() => withPackedWeights(() => linear(x, w, b, act))).data;
        bitwiseEqual(got, want, `${isa} ${rows}x${inp}->${out} ${act}`);
      }
    }
  });
});

describe('withPackedWeights', () => {
  it('packs each weight once per scope and reuses the panel, nested scopes included', () => {
    const pack = vi.spyOn(native, 'gemmPackB');
    const x = tensor([4, 24], 1), w1 = tensor([16, 24], 2), w2 = tensor([24, 16], 3);
    noGrad(() =>
      withPackedWeights(() => {
        for (let step = 0; step < 5; step++) linear(linear(x, w1), w2);
        withPackedWeights(() => linear(x, w1));
      }),
    );
    expect(pack).toHaveBeenCalledTimes(2);
    noGrad(() => withPackedWeights(() => linear(x, w1))); // a new scope packs again
    expect(pack).toHaveBeenCalledTimes(3);
    noGrad(() => linear(x, w1)); // no scope: nothing packed
    expect(pack).toHaveBeenCalledTimes(3);
  });

  it('a weight changed after a scope is multiplied with its new values in the next one', () => {
    const x = tensor([3, 8], 4), w = tensor([5, 8], 5);
    const before = noGrad(() => withPackedWeights(() => linear(x, w))).data.slice();
    w.data.fill(0.25);
    const after = noGrad(() => withPackedWeights(() => linear(x, w))).data;
    bitwiseEqual(after, noGrad(() => linear(x, w)).data, 'new values');
    expect(Array.from(after)).not.toEqual(Array.from(before));
  });

  it('turned off (weightPacking.enabled = false) it packs nothing', () => {
    const pack = vi.spyOn(native, 'gemmPackB');
    weightPacking.enabled = false;
    try {
      noGrad(() => withPackedWeights(() => linear(tensor([2, 8], 6), tensor([4, 8], 7))));
    } finally {
      weightPacking.enabled = true;
    }
    expect(pack).not.toHaveBeenCalled();
  });
});
