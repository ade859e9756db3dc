// Model specs: a preset with its options, or a custom layer graph. Every spec is checked before
// anything is allocated (unknown presets and options, out-of-range values, shapes that do not
// fit), with messages that name what is wrong.
import { invalid, KilnError } from '../errors.js';
import { GraphModel, checkGraph, type GraphNode, type GraphSpec } from '../nn/graph.js';
import type { Module } from '../nn/module.js';
import { summarize, type Summary, type SummaryOptions } from '../nn/summary.js';
import { cifarDepths, imagenetDepths, resnetCifar, resnetImagenet, type Shortcut } from './resnet.js';
import { DecoderLM, EncoderClassifier, Seq2SeqTransformer, type TransformerOptions } from './transformer.js';

export type ModelSpec = { preset: string; options?: Record<string, unknown> } | { graph: GraphSpec };

type OptionType = { type: 'int'; min: number; max: number } | { type: 'number'; min: number; max: number } | { type: 'bool' } | { type: 'enum'; values: readonly string[] } | { type: 'ints'; min: number; max: number };

export interface Preset {
  description: string;
  /** the shape of one example, from the options */
  input(o: Record<string, unknown>): number[];
  options: Record<string, OptionType & { default: unknown; description: string }>;
  /** checks that involve several options at once, or an option given where it has no effect
   * (`given`: the options as the spec wrote them, before defaults); throws with a message */
  check?(o: Record<string, unknown>, name: string, given: Record<string, unknown>): void;
  /** presets that are layer graphs: the graph, checked node by node with the options */
  graph?(o: Record<string, unknown>): GraphSpec;
  build(o: Record<string, unknown>): Module;
}

/** A plain network has no shortcuts: a shortcut option given with plain: true would be ignored. */
function checkPlain(o: Record<string, unknown>, name: string, given: Record<string, unknown>): void {
  if (o.plain === true && given.shortcut !== undefined) invalid(`model ${name}: option 'shortcut' (${JSON.stringify(given.shortcut)}) has no effect with plain: true, which removes the shortcuts; leave one of them out`);
}

const common = {
  classes: { type: 'int', min: 2, max: 100_000, default: 10, description: 'output classes' },
  seed: { type: 'int', min: 0, max: 2 ** 31 - 1, default: 0, description: 'weight initialization seed' },
} as const;

function cifarPreset(depth: number): Preset {
  return {
    description: `CIFAR ResNet-${depth} (He et al. 2016, section 4.2): 6n+2 layers at 16/32/64 channels`,
    input: (o) => [o.inChannels as number, o.size as number, o.size as number],
    options: {
      ...common,
      shortcut: { type: 'enum', values: ['A', 'B', 'C'], default: 'A', description: "A: zero padding (the paper's CIFAR choice); B: projections where the shape changes; C: projections everywhere" },
      plain: { type: 'bool', default: false, description: 'no shortcuts (the degradation experiment)' },
      inChannels: { type: 'int', min: 1, max: 64, default: 3, description: 'input channels' },
      size: { type: 'int', min: 8, max: 512, default: 32, description: 'input height and width' },
    },
    check: checkPlain,
    build: (o) => resnetCifar(depth, { classes: o.classes as number, shortcut: o.shortcut as Shortcut, plain: o.plain as boolean, inChannels: o.inChannels as number, seed: o.seed as number }),
  };
}

function imagenetPreset(depth: number): Preset {
  return {
    description: `ResNet-${depth} (ImageNet layout: 7x7/2 stem, max pool, four stages${depth >= 50 ? ' of bottleneck blocks' : ''})`,
    input: (o) => [o.inChannels as number, o.size as number, o.size as number],
    options: {
      ...common,
      classes: { ...common.classes, default: 1000 },
      shortcut: { type: 'enum', values: ['A', 'B', 'C'], default: 'B', description: "B: projections where the shape changes (torchvision's); A: zero padding; C: projections everywhere" },
      plain: { type: 'bool', default: false, description: 'no shortcuts' },
      inChannels: { type: 'int', min: 1, max: 64, default: 3, description: 'input channels (1 for grayscale)' },
      size: { type: 'int', min: 32, max: 1024, default: 224, description: 'input height and width' },
    },
    check: checkPlain,
    build: (o) => resnetImagenet(depth, { classes: o.classes as number, shortcut: o.shortcut as Shortcut, plain: o.plain as boolean, inChannels: o.inChannels as number, seed: o.seed as number }),
  };
}

/** An MLP as a graph: flatten, then Linear + ReLU (+ dropout) per hidden layer, then Linear. */
export function mlpGraph(o: Record<string, unknown>): GraphSpec {
  const nodes: GraphNode[] = [{ id: 'flatten', op: 'flatten', inputs: ['input'] }];
  let prev = 'flatten';
  (o.hidden as number[]).forEach((width, i) => {
    nodes.push({ id: `fc${i + 1}`, op: 'linear', params: { out: width }, inputs: [prev] });
    nodes.push({ id: `relu${i + 1}`, op: 'relu', inputs: [`fc${i + 1}`] });
    prev = `relu${i + 1}`;
    if ((o.dropout as number) > 0) {
      nodes.push({ id: `dropout${i + 1}`, op: 'dropout', params: { p: o.dropout }, inputs: [prev] });
      prev = `dropout${i + 1}`;
    }
  });
  nodes.push({ id: 'out', op: 'linear', params: { out: o.classes }, inputs: [prev] });
  return { input: [o.inChannels as number, o.size as number, o.size as number], nodes, seed: o.seed as number };
}

/** LeNet-5 style: conv 5x5 (6) - pool - conv 5x5 (16) - pool - 120 - 84 - classes; a 28x28
 * input is padded by 2 so that it sees the 32x32 of the original. */
export function lenetGraph(o: Record<string, unknown>): GraphSpec {
  const pad = (o.size as number) === 28 ? 2 : 0;
  return {
    input: [o.inChannels as number, o.size as number, o.size as number],
    seed: o.seed as number,
    nodes: [
      { id: 'conv1', op: 'conv2d', params: { out: 6, kernel: 5, padding: pad, bias: true }, inputs: ['input'] },
      { id: 'relu1', op: 'relu', inputs: ['conv1'] },
      { id: 'pool1', op: 'maxpool2d', params: { kernel: 2 }, inputs: ['relu1'] },
      { id: 'conv2', op: 'conv2d', params: { out: 16, kernel: 5, bias: true }, inputs: ['pool1'] },
      { id: 'relu2', op: 'relu', inputs: ['conv2'] },
      { id: 'pool2', op: 'maxpool2d', params: { kernel: 2 }, inputs: ['relu2'] },
      { id: 'flatten', op: 'flatten', inputs: ['pool2'] },
      { id: 'fc1', op: 'linear', params: { out: 120 }, inputs: ['flatten'] },
      { id: 'relu3', op: 'relu', inputs: ['fc1'] },
      { id: 'fc2', op: 'linear', params: { out: 84 }, inputs: ['relu3'] },
      { id: 'relu4', op: 'relu', inputs: ['fc2'] },
      { id: 'fc3', op: 'linear', params: { out: o.classes }, inputs: ['relu4'] },
    ],
  };
}

const transformerOptions = {
  seed: common.seed,
  vocab: { type: 'int', min: 4, max: 1_000_000, default: 1000, description: 'vocabulary size (id 0 is padding)' },
  dim: { type: 'int', min: 8, max: 8192, default: 128, description: 'model width d' },
  heads: { type: 'int', min: 1, max: 128, default: 4, description: 'attention heads (d must be divisible by heads)' },
  ffn: { type: 'int', min: 8, max: 65_536, default: 512, description: 'feed-forward width' },
  dropout: { type: 'number', min: 0, max: 0.9, default: 0.1, description: 'dropout on sublayer outputs, attention and the FFN' },
  norm: { type: 'enum', values: ['post', 'pre'], default: 'post', description: "post: LayerNorm after each residual add (the paper's); pre: before each sublayer" },
  positional: { type: 'enum', values: ['sinusoidal', 'learned'], default: 'sinusoidal', description: 'position encoding' },
  maxLen: { type: 'int', min: 1, max: 65_536, default: 128, description: 'longest sequence' },
  tied: { type: 'bool', default: false, description: 'output projection shares the (target) embedding' },
  activation: { type: 'enum', values: ['relu', 'gelu'], default: 'relu', description: 'FFN activation' },
  scoring: { type: 'enum', values: ['dot', 'additive'], default: 'dot', description: 'attention scores: scaled dot product or additive v.tanh(Wq q + Wk k)' },
} as const;

function transformerPreset(kind: 'seq2seq' | 'lm' | 'classifier'): Preset {
  const layers =
    kind === 'seq2seq'
      ? { encoderLayers: { type: 'int', min: 1, max: 64, default: 2, description: 'encoder layers' }, decoderLayers: { type: 'int', min: 1, max: 64, default: 2, description: 'decoder layers' } }
      : kind === 'lm'
        ? { decoderLayers: { type: 'int', min: 1, max: 128, default: 4, description: 'decoder layers' } }
        : { encoderLayers: { type: 'int', min: 1, max: 64, default: 2, description: 'encoder layers' } };
  const extra =
    kind === 'seq2seq'
      ? { targetVocab: { type: 'int', min: 0, max: 1_000_000, default: 0, description: 'target vocabulary (0: the same as vocab)' } }
      : kind === 'classifier'
        ? { classes: { ...common.classes, default: 2 } }
        : {};
  // the classifier's head maps to classes, not to the vocabulary: there is nothing to tie
  const tied = kind === 'classifier' ? { tied: { ...transformerOptions.tied, description: 'must be false: the classifier has no output projection over the vocabulary to share the embedding with' } } : {};
  const options = { ...transformerOptions, ...tied, ...layers, ...extra } as unknown as Preset['options'];
  return {
    description:
      kind === 'seq2seq' ? 'Transformer encoder-decoder (Vaswani et al. 2017) for sequence-to-sequence tasks'
      : kind === 'lm' ? 'decoder-only Transformer language model (causal self-attention)'
      : 'encoder-only Transformer classifier (mean over the tokens, then a linear head)',
    input: (o) => [o.maxLen as number],
    options,
    check: (o, name) => {
      if ((o.dim as number) % (o.heads as number) !== 0) invalid(`model ${name}: option 'dim' (${String(o.dim)}) expected to be divisible by 'heads' (${String(o.heads)})`);
      if (kind === 'classifier' && o.tied === true) invalid(`model ${name}: option 'tied' expected false, got true: the classifier's head maps to classes, not to the vocabulary, so there is no output projection to share the embedding with`);
    },
    build: (o) => {
      const t: TransformerOptions = {
        vocab: o.vocab as number, dim: o.dim as number, heads: o.heads as number, ffn: o.ffn as number,
        encoderLayers: (o.encoderLayers as number | undefined) ?? 0, decoderLayers: (o.decoderLayers as number | undefined) ?? 0,
        dropout: o.dropout as number, norm: o.norm as 'post' | 'pre', positional: o.positional as 'sinusoidal' | 'learned',
        maxLen: o.maxLen as number, tied: o.tied as boolean, activation: o.activation as 'relu' | 'gelu', scoring: o.scoring as 'dot' | 'additive',
        classes: (o.classes as number | undefined) ?? 2, seed: o.seed as number,
        ...((o.targetVocab as number | undefined) ? { targetVocab: o.targetVocab as number } : {}),
      };
      return kind === 'seq2seq' ? new Seq2SeqTransformer(t) : kind === 'lm' ? new DecoderLM(t) : new EncoderClassifier(t);
    },
  };
}

const imageOptions = {
  inChannels: { type: 'int', min: 1, max: 64, default: 1, description: 'input channels' },
  size: { type: 'int', min: 8, max: 512, default: 28, description: 'input height and width' },
} as const;

export const presets: Record<string, Preset> = {
  ...Object.fromEntries(cifarDepths.map((d) => [`resnet${d}`, cifarPreset(d)])),
  ...Object.fromEntries(imagenetDepths.map((d) => [`resnet${d}-imagenet`, imagenetPreset(d)])),
  mlp: {
    description: 'a multilayer perceptron on flattened images (the CNN-vs-MLP parameter comparison)',
    input: (o) => [o.inChannels as number, o.size as number, o.size as number],
    options: {
      ...common,
      ...imageOptions,
      hidden: { type: 'ints', min: 1, max: 65_536, default: [256, 128], description: 'hidden layer widths' },
      dropout: { type: 'number', min: 0, max: 0.95, default: 0, description: 'dropout after each hidden layer' },
    },
    graph: mlpGraph,
    build: (o) => new GraphModel(mlpGraph(o)),
  },
  'transformer-seq2seq': transformerPreset('seq2seq'),
  'transformer-lm': transformerPreset('lm'),
  'transformer-classifier': transformerPreset('classifier'),
  lenet: {
    description: 'a LeNet-5 style CNN: two 5x5 convolutions with max pooling, three linear layers',
    input: (o) => [o.inChannels as number, o.size as number, o.size as number],
    // 16 is the smallest size whose second pooling still has a 2x2 window to pool (28 is padded to 32)
    options: { ...common, ...imageOptions, size: { ...imageOptions.size, min: 16, description: 'input height and width (28 is padded to 32, as in the original)' } },
    graph: lenetGraph,
    build: (o) => new GraphModel(lenetGraph(o)),
  },
};

/** The options with defaults filled in, after checking each against its preset's schema. */
export function presetOptions(name: string, given: Record<string, unknown> = {}): Record<string, unknown> {
  const preset = Object.hasOwn(presets, name) ? presets[name] : undefined;
  if (!preset) invalid(`model: unknown preset '${name}'; expected one of ${Object.keys(presets).join(', ')}`);
  if (typeof given !== 'object' || given === null || Array.isArray(given)) invalid(`model ${name}: options expected an object, got ${JSON.stringify(given)}`);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(given)) if (!Object.hasOwn(preset.options, key)) invalid(`model ${name}: unknown option '${key}' (options: ${Object.keys(preset.options).join(', ')})`);
  for (const [key, t] of Object.entries(preset.options)) {
    // only a missing option takes the default: null is a value, and out of range
    const v = given[key] === undefined ? t.default : given[key];
    const where = `model ${name}: option '${key}'`;
    if (t.type === 'int' && !(Number.isSafeInteger(v) && (v as number) >= t.min && (v as number) <= t.max)) invalid(`${where} expected an integer in [${t.min}, ${t.max}], got ${JSON.stringify(v)}`);
    if (t.type === 'number' && !(typeof v === 'number' && v >= t.min && v <= t.max)) invalid(`${where} expected a number in [${t.min}, ${t.max}], got ${JSON.stringify(v)}`);
    if (t.type === 'bool' && typeof v !== 'boolean') invalid(`${where} expected true or false, got ${JSON.stringify(v)}`);
    if (t.type === 'enum' && !t.values.includes(v as string)) invalid(`${where} expected one of ${t.values.join(', ')}, got ${JSON.stringify(v)}`);
    if (t.type === 'ints' && !(Array.isArray(v) && v.length > 0 && v.every((x) => Number.isSafeInteger(x) && x >= t.min && x <= t.max))) invalid(`${where} expected a non-empty list of integers in [${t.min}, ${t.max}], got ${JSON.stringify(v)}`);
    out[key] = v;
  }
  preset.check?.(out, name, given);
  if (preset.graph) {
    // a graph preset is checked like a custom graph, shapes only, so that no option value can
    // pass here and fail when the model is built
    try {
      checkGraph(preset.graph(out));
    } catch (e) {
      if (e instanceof KilnError) invalid(`model ${name}: ${e.message}`);
      throw e;
    }
  }
  return out;
}

function resolved(spec: ModelSpec): { build: () => Module; input: number[] } {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) invalid('model: expected { preset, options } or { graph }');
  if ('graph' in spec) {
    checkGraph(spec.graph);
    return { build: () => new GraphModel(spec.graph), input: spec.graph.input };
  }
  if (typeof spec.preset !== 'string') invalid("model: expected { preset, options } or { graph }");
  const o = presetOptions(spec.preset, spec.options);
  const preset = presets[spec.preset]!;
  return { build: () => preset.build(o), input: preset.input(o) };
}

/** Checks a spec (nothing allocated) and returns the shape of one example it takes. Graph presets
 * (mlp, lenet) are checked node by node like custom graphs; the ResNet and Transformer presets'
 * option ranges keep every shape valid (the smallest input still reaches the classifier). */
export function checkModel(spec: ModelSpec): number[] {
  return resolved(spec).input;
}

export function buildModel(spec: ModelSpec): Module {
  return resolved(spec).build();
}

/** The per-layer summary of a spec at a batch size. */
export function modelSummary(spec: ModelSpec, batch = 1, opts: SummaryOptions = {}): Summary {
  const r = resolved(spec);
  return summarize(r.build(), [batch, ...r.input], opts);
}
