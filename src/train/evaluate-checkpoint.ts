// A checkpoint's model on any split of its data set (the test split, once training is over): the
// same data, preprocessing (evaluation steps: no random augmentation) and metrics as validation.
import type { SplitName } from '../data/types.js';
import { ImageLoader } from '../data/image-loader.js';
import { evalSteps } from '../data/pipeline.js';
import { LmLoader } from '../data/lm-loader.js';
import { SequenceLoader } from '../data/sequence-loader.js';
import { invalid } from '../errors.js';
import { loadSafetensors } from '../io/safetensors.js';
import { Arena } from '../tensor/arena.js';
import { readCheckpoint } from './checkpoint.js';
import { validateConfig } from './config.js';
import type { TrainOptions } from './loop.js';
import { imageSteps, setupRun } from './setup.js';
import { evaluate, type Metrics } from './steps.js';

export async function evaluateCheckpoint(path: string, split: SplitName = 'test', options: TrainOptions = {}): Promise<Metrics> {
  const ck = readCheckpoint(path);
  const c = validateConfig(ck.manifest.config);
  const p = await setupRun(c, options.dataset);
  loadSafetensors(p.model, ck.files['model.safetensors'] ?? invalid(`checkpoint ${ck.dir}: model.safetensors missing`));
  const ds = p.dataset;
  const batchSize = c.data.evalBatchSize ?? c.batchSize;
  if (ds[split].n === 0) invalid(`evaluateCheckpoint: the ${split} split of '${ds.name}' is empty`);
  if (ds.kind === 'image') {
    const loader = new ImageLoader(ds[split], { batchSize, shuffle: false, steps: evalSteps(imageSteps(c.data.augment, ds)) });
    return evaluate(p.task, p.model, loader, new Arena(), null);
  }
  if (ds.kind === 'lm') return evaluate(p.task, p.model, new LmLoader(ds[split], { batchSize, length: ds.context, shuffle: false }), new Arena(), null);
  const loader = new SequenceLoader(ds[split], { batchSize, shuffle: false });
  return evaluate(p.task, p.model, loader, new Arena(), { split: ds[split], maxLen: ds.maxTargetLength + 1, limit: c.data.decodeLimit ?? Infinity });
}
