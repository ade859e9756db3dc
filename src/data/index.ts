// Kiln's data layer: readers, data sets, augmentation and loaders. What the training loop uses:
//
//   const ds = await openDataset('fashion-mnist', { validation: 5000, seed: 0 });   // or 'shapes', 'reverse', ...
//   if (ds.kind === 'image') {
//     const steps = cifarRecipe(ds.train);                        // mean image from the TRAINING split
//     const train = new ImageLoader(ds.train, { batchSize: 128, seed: 1, steps });
//     const val = new ImageLoader(ds.validation, { batchSize: 500, shuffle: false, steps: evalSteps(steps) });
//     for (let b; (b = train.next()); ) step(b.images, b.shape, b.labels);   // null ends the epoch
//     checkpoint.cursor = train.cursor;                            // {epoch, position, rng}: 3 numbers
//     new ImageLoader(ds.train, { batchSize: 128, seed: 1, steps, cursor });  // same batches, bit for bit
//   } else if (ds.kind === 'lm') {                                 // a token stream ('licenses', 'text')
//     const train = new LmLoader(ds.train, { batchSize: 32, length: ds.context, seed: 1 });
//     const b = train.next()!;   // b.inputs (B,T) float ids; b.targets (B*T) int32, the next token of each
//   } else {                                                       // seq2seq
//     const train = new SequenceLoader(ds.train, { batchSize: 64, seed: 1 });
//     const b = train.next()!;   // b.source (B,Ts), b.decoderInput (B,Tt) float ids; b.labels (B*Tt) int32
//     // loss: softmaxCrossEntropy(logits (B*Tt, V), b.labels, { ignoreIndex: PAD })
//     ds.targetTokenizer.decode(ids); ds.targetTokenizer.toJSON();   // save with the model
//   }
//
// Contracts the loop can rely on:
// - Images are stored as bytes (ImageSplit, 0..255, (N, C, H, W)); batches are float32 (N, C, H, W)
//   after the pipeline's steps; labels are Int32Array class indices.
// - Token ids: PAD = 0 (as src/models/transformer.ts), BOS = 1, EOS = 2, UNK = 3; sequences are
//   right-padded with PAD. SequenceSplit holds ids without specials; the loader adds them.
// - A batch's arrays are views of the loader's buffers, overwritten by the next call to next().
// - next() returns null once at the end of every epoch; the cursor then points at epoch + 1.
// - Batch orders depend on (seed, epoch) only; augmentation draws come from one Rng whose state is
//   in the cursor. Restoring a cursor (options.cursor or restore()) replays the same batches.
// - Every malformed file raises KilnError KILN_ERR_VALIDATION whose message names the file, the
//   byte offset (and line for text) and what was expected versus found.
// - Validation splits never come from test data; tokenizers and normalization statistics come from
//   the training split only.

export * from './types.js';
export { formatError, hexBytes, type FilePlace } from './format-error.js';
export { ByteReader, isGzipFile } from './byte-reader.js';
export { openIdx, readIdx, encodeIdx, type IdxArray, type IdxChunk, type IdxFile, type IdxHeader, type IdxType } from './idx.js';
export { cifarRecords, readCifar, cifarFiles, cifarRecordSize, type CifarChunk, type CifarVariant } from './cifar.js';
export { decodeImage, imageFolderImages, listImageFolder, readImageFolder, rgbaToChw, type ImageFolderOptions } from './image-folder.js';
export { readLines, readText, readTsvFile, readTsvPairs, type Line, type Pair } from './text.js';
export { BOS, EOS, PAD, UNK, SPECIAL_TOKENS, Tokenizer, alphabetTokenizer, buildTokenizer, type TokenizerJSON, type TokenizerKind } from './tokenizer.js';
export { carveImageValidation, carveSequenceValidation, holdOut, imageSubset, permutation, sequenceSubset } from './split.js';
export { FASHION_MNIST_DIR, FASHION_MNIST_INSTALL, MNIST_INSTALL, fashionMnistFiles, mnistFiles, openFashionMnist, openMnist, readIdxPair } from './mnist.js';
export { SHAPE_CLASSES, generateShapes, openShapes, type ShapesOptions } from './shapes.js';
export { SEQUENCE_TASKS, openSequenceTask, solveTask, taskTokenizer, type SequenceTask, type SequenceTaskOptions } from './sequence-tasks.js';
export { openCifar, openImageFolder, openTsv } from './file-datasets.js';
export { listDatasets, openDataset, type DatasetInfo } from './registry.js';
export type { Image } from './image.js';
export { imageFromBytes } from './image.js';
export { resizeBilinear, shortSideSize } from './resize.js';
export { colorJitter, cropAt, flipHorizontal, randomCrop, randomFlip, randomScaleCrop, type JitterOptions } from './augment.js';
export { channelStats, meanImage, normalizeChannels, subtractMeanImage } from './normalize.js';
export { TEN_CROP_COUNT, averageCrops, tenCropPredict, tenCrops } from './ten-crop.js';
export { ImagePipeline, cifarRecipe, evalSteps, type ImageStep } from './pipeline.js';
export { BatchOrder, mixSeed, type Cursor, type OrderOptions } from './cursor.js';
export { ImageLoader, type ImageBatch, type ImageLoaderOptions } from './image-loader.js';
export { SequenceLoader, type SequenceBatch, type SequenceLoaderOptions } from './sequence-loader.js';
export { DEFAULT_CONTEXT, LICENSE_FILES, LICENSES_DIR, LICENSES_INSTALL, licenseFiles, openLicenses, openTextLm, splitText, textLmDataset, type LicensesOptions, type TextLmOptions } from './lm-text.js';
export { LmLoader, type LmBatch, type LmLoaderOptions } from './lm-loader.js';
