// The differentiable ops: each runs forward eagerly and records its backward (src/autograd).
export { add, addRelu, dot, mean, mul, relu, scale, sum } from './elementwise.js';
export { linear, linearStacked, withPackedWeights } from './linear.js';
export { conv2d, type Conv2dOptions } from './conv.js';
export { avgPool2d, globalAvgPool2d, maxPool2d, type Pool2dOptions } from './pool.js';
export { batchNorm2d, batchNorm2dAddRelu, type BatchNormOptions, type RunningStats } from './norm.js';
export { flatten, reshape } from './reshape.js';
export { shortcutA } from './shortcut.js';
export { softmaxCrossEntropy, type CrossEntropyOptions } from './loss.js';
export { concat } from './concat.js';
export { addDropout, attention, dropout, embedding, erf, gelu, layerNorm, maskedMean, mergeHeads, multiHeadAttention, multiHeadSelfAttention, splitHeads, type AttentionMask, type AttentionOptions } from './sequence.js';
