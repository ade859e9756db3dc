// The shapes of data every reader, generator and loader agrees on. Images are stored as bytes
// (0..255, CHW) and turned into float32 only batch by batch: Fashion-MNIST's 60,000 images are 47 MB
// as bytes and would be 188 MB as floats.
import type { Tokenizer } from './tokenizer.js';

/** N images (N, C, H, W) as bytes 0..255 and their class labels. */
export interface ImageSplit {
  n: number;
  c: number;
  h: number;
  w: number;
  /** (N, C, H, W) row-major, 0..255 */
  pixels: Uint8Array;
  /** (N) class indices in [0, classes) */
  labels: Int32Array;
}

export interface ImageDataset {
  kind: 'image';
  name: string;
  /** class names, index = label */
  classes: string[];
  /** [C, H, W] of every image */
  shape: [number, number, number];
  train: ImageSplit;
  validation: ImageSplit;
  test: ImageSplit;
}

/** Source/target pairs as token ids WITHOUT specials (the loader adds BOS/EOS and PAD), and the
 * texts they came from (references for BLEU and exact match). */
export interface SequenceSplit {
  n: number;
  sources: Int32Array[];
  targets: Int32Array[];
  sourceTexts: string[];
  targetTexts: string[];
}

export interface SequenceDataset {
  kind: 'seq2seq';
  name: string;
  /** built from the training split only; saved with the model */
  sourceTokenizer: Tokenizer;
  targetTokenizer: Tokenizer;
  /** the longest source / target in ids over all splits, specials not counted */
  maxSourceLength: number;
  maxTargetLength: number;
  train: SequenceSplit;
  validation: SequenceSplit;
  test: SequenceSplit;
}

/** A token stream for language modelling: the split's text as ids (no specials added). */
export interface TokenSplit {
  /** tokens */
  n: number;
  tokens: Int32Array;
}

export interface LmDataset {
  kind: 'lm';
  name: string;
  /** built from the training split only; saved with the model */
  tokenizer: Tokenizer;
  /** tokens per training window (the LM loader's T and the model's maxLen) */
  context: number;
  train: TokenSplit;
  validation: TokenSplit;
  test: TokenSplit;
}

export type Dataset = ImageDataset | SequenceDataset | LmDataset;

export type SplitName = 'train' | 'validation' | 'test';
