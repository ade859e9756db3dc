// The ResNet family (He et al., CVPR 2016), with torchvision's module names so that weights map
// one to one onto PyTorch ("layer1.0.conv1.weight", "layer2.0.downsample.0.weight"):
//  - CIFAR ResNets 20/32/44/56/110: a 3x3 stem of 16 channels, three stages of n = (depth-2)/6
//    basic blocks at 16/32/64 channels (the first block of stages 2 and 3 halves the size),
//    global average pooling and a linear classifier: 6n+2 layers;
//  - ImageNet ResNets 18/34 (basic blocks) and 50/101/152 (bottlenecks 1x1-3x3-1x1, x4 channels),
//    a 7x7/2 stem and a 3x3/2 max pool, four stages at 64..512 channels.
// Shortcuts where the shape changes: option A (subsample and pad channels with zeros: no
// parameters, the paper's CIFAR choice), B (a 1x1 projection + batch norm) or C (projections on
// every block); `plain` drops the shortcuts for the degradation experiment.
import * as ops from '../ops/index.js';
import { Rng } from '../tensor/random.js';
import { sizeOf, type Tensor } from '../tensor/tensor.js';
import { Sequential } from '../nn/containers.js';
import { BatchNorm2d, Conv2d, GlobalAvgPool2d, Linear, MaxPool2d, reluMaskWords } from '../nn/layers.js';
import { addStepMemory, Module, type Field, type SummaryRow } from '../nn/module.js';
import { fail } from '../ops/check.js';

export type Shortcut = 'A' | 'B' | 'C';

interface BlockConfig {
  inChannels: number;
  /** the block's width (its output channels, times 4 for a bottleneck) */
  planes: number;
  stride: number;
  shortcut: Shortcut;
  plain: boolean;
}

/** The parameter-free option-A shortcut as a module (for summaries and the graph). */
class ZeroPadShortcut extends Module {
  constructor(readonly outChannels: number, readonly stride: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return ops.shortcutA(x, this.outChannels, this.stride, 0);
  }
  outputShape(input: readonly number[]): readonly number[] {
    const [n, , h, w] = input as [number, number, number, number];
    return [n, this.outChannels, Math.ceil(h / this.stride), Math.ceil(w / this.stride)];
  }
  describe(): string {
    return `ShortcutA(${this.outChannels}, stride ${this.stride})`;
  }
}

function projection(inC: number, outC: number, stride: number, rng: Rng): Sequential {
  return new Sequential([new Conv2d({ in: inC, out: outC, kernel: 1, stride }, rng), new BatchNorm2d(outC)]);
}

/** The layers of a block's main path, in order, and how the shortcut is made. */
abstract class Block extends Module {
  protected shortcutModule: Module | null = null;

  protected constructor(readonly label: string, readonly plain: boolean) {
    super();
  }

  protected abstract main(): Array<[string, Module]>;

  /** Chooses the shortcut: identity when the shape is kept (A, B), else A's zero padding or a
   * projection named "downsample" as in torchvision; C projects on every block. */
  protected makeShortcut(cfg: BlockConfig, outC: number, rng: Rng): void {
    if (cfg.plain) return;
    const changes = cfg.stride !== 1 || cfg.inChannels !== outC;
    if (cfg.shortcut === 'C' || (changes && cfg.shortcut === 'B')) {
      this.shortcutModule = this.childOf('downsample', projection(cfg.inChannels, outC, cfg.stride, rng));
    } else if (changes) {
      this.shortcutModule = new ZeroPadShortcut(outC, cfg.stride);
    }
  }

  protected childOf<M extends Module>(name: string, m: M): M {
    return this.child(name, m);
  }

  forward(x: Tensor): Tensor {
    const main = this.main();
    let y = x;
    for (const [, m] of main.slice(0, -1)) y = m.forward(y);
    const last = main[main.length - 1]![1];
    if (this.plain) return ops.relu(last.forward(y));
    const s = this.shortcutModule ? this.shortcutModule.forward(x) : x;
    // the last batch norm, the shortcut's add and the ReLU in one pass (ops.batchNorm2dAddRelu)
    if (last instanceof BatchNorm2d) return last.forwardAddRelu(y, s);
    return ops.addRelu(last.forward(y), s);
  }

  outputShape(input: readonly number[]): readonly number[] {
    const out = this.main().reduce<readonly number[]>((s, [, m]) => m.outputShape(s), input);
    if (!this.plain) {
      const s = this.shortcutModule ? this.shortcutModule.outputShape(input) : input;
      if (s.some((d, i) => d !== out[i])) fail(this.label, `the shortcut gives [${s.join(', ')}] but the main path gives [${out.join(', ')}]: use shortcut 'A', 'B' or 'C' where the shape changes`);
    }
    return out;
  }

  override macs(input: readonly number[]): number {
    let s = input;
    let total = this.shortcutModule ? this.shortcutModule.macs(input) : 0;
    for (const [, m] of this.main()) {
      total += m.macs(s);
      s = m.outputShape(s);
    }
    return total;
  }

  override summarize(input: readonly number[], field: Field | null, name: string, rows: SummaryRow[]) {
    let state = { shape: input, field };
    for (const [n, m] of this.main()) state = m.summarize(state.shape, state.field, `${name}.${n}`, rows);
    // the block's tail (forward()): relu(bn(y) + shortcut) in one op keeps the ReLU's mask bits;
    // its backward holds the block output's gradient while writing the main path's and the
    // shortcut's, and the shortcut's (the block input's, for an identity) lives on through the
    // main path's backward: three buffers of the output's size at once
    const tail = rows[rows.length - 1]!, last = this.main()[this.main().length - 1]![1];
    const [n, c, h, w] = state.shape as [number, number, number, number];
    const size = sizeOf(state.shape);
    if (this.plain) addStepMemory(tail, size); // relu(last(y))
    else {
      addStepMemory(tail, last instanceof BatchNorm2d ? reluMaskWords(n * c, h * w) : size);
      tail.grads = [[size, 3]];
    }
    if (this.shortcutModule) this.shortcutModule.summarize(input, field, `${name}.${this.shortcutModule instanceof ZeroPadShortcut ? 'shortcutA' : 'downsample'}`, rows);
    this.outputShape(input);
    return state;
  }

  describe(): string {
    return this.label;
  }
}

export class BasicBlock extends Block {
  static readonly expansion = 1;
  private readonly layers: Array<[string, Module]>;

  constructor(cfg: BlockConfig, rng: Rng) {
    super(`BasicBlock(${cfg.inChannels}, ${cfg.planes}, stride ${cfg.stride})`, cfg.plain);
    const { inChannels: c, planes: p, stride } = cfg;
    this.layers = [
      ['conv1', this.child('conv1', new Conv2d({ in: c, out: p, kernel: 3, stride, padding: 1 }, rng))],
      ['bn1', this.child('bn1', new BatchNorm2d(p, { relu: true }))],
      ['conv2', this.child('conv2', new Conv2d({ in: p, out: p, kernel: 3, padding: 1 }, rng))],
      ['bn2', this.child('bn2', new BatchNorm2d(p))],
    ];
    this.makeShortcut(cfg, p, rng);
  }

  protected main(): Array<[string, Module]> {
    return this.layers;
  }
}

export class Bottleneck extends Block {
  static readonly expansion = 4;
  private readonly layers: Array<[string, Module]>;

  constructor(cfg: BlockConfig, rng: Rng) {
    super(`Bottleneck(${cfg.inChannels}, ${cfg.planes}x4, stride ${cfg.stride})`, cfg.plain);
    const { inChannels: c, planes: p, stride } = cfg;
    // torchvision (v1.5): the stride sits on the 3x3 convolution
    this.layers = [
      ['conv1', this.child('conv1', new Conv2d({ in: c, out: p, kernel: 1 }, rng))],
      ['bn1', this.child('bn1', new BatchNorm2d(p, { relu: true }))],
      ['conv2', this.child('conv2', new Conv2d({ in: p, out: p, kernel: 3, stride, padding: 1 }, rng))],
      ['bn2', this.child('bn2', new BatchNorm2d(p, { relu: true }))],
      ['conv3', this.child('conv3', new Conv2d({ in: p, out: 4 * p, kernel: 1 }, rng))],
      ['bn3', this.child('bn3', new BatchNorm2d(4 * p))],
    ];
    this.makeShortcut(cfg, 4 * p, rng);
  }

  protected main(): Array<[string, Module]> {
    return this.layers;
  }
}

export interface ResNetOptions {
  classes?: number;
  shortcut?: Shortcut;
  plain?: boolean;
  inChannels?: number;
  seed?: number;
  /** ImageNet layout only: the stem's channels and the first stage's planes (the stages double
   * it); 64, torchvision's, by default. Narrow nets make weight files small enough to commit as
   * test fixtures. */
  width?: number;
}

/** A network: stem, stages of blocks, global average pooling, classifier. */
export class ResNet extends Module {
  private readonly order: Array<[string, Module]> = [];

  constructor(
    readonly label: string,
    stem: Array<[string, Module]>,
    stages: Module[],
    head: Array<[string, Module]>,
  ) {
    super();
    for (const [n, m] of stem) this.order.push([n, this.child(n, m)]);
    stages.forEach((m, i) => this.order.push([`layer${i + 1}`, this.child(`layer${i + 1}`, m)]));
    for (const [n, m] of head) this.order.push([n, this.child(n, m)]);
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const [, m] of this.order) y = m.forward(y);
    return y;
  }

  outputShape(input: readonly number[]): readonly number[] {
    return this.order.reduce<readonly number[]>((s, [, m]) => m.outputShape(s), input);
  }

  override macs(input: readonly number[]): number {
    let s = input;
    let total = 0;
    for (const [, m] of this.order) {
      total += m.macs(s);
      s = m.outputShape(s);
    }
    return total;
  }

  override summarize(input: readonly number[], field: Field | null, name: string, rows: SummaryRow[]) {
    let state = { shape: input, field };
    for (const [n, m] of this.order) state = m.summarize(state.shape, state.field, name ? `${name}.${n}` : n, rows);
    return state;
  }

  describe(): string {
    return this.label;
  }
}

function stage(make: (cfg: BlockConfig) => Module, blocks: number, inC: number, planes: number, stride: number, expansion: number, shortcut: Shortcut, plain: boolean): { stage: Sequential; out: number } {
  const list: Module[] = [];
  let c = inC;
  for (let i = 0; i < blocks; i++) {
    list.push(make({ inChannels: c, planes, stride: i === 0 ? stride : 1, shortcut, plain }));
    c = planes * expansion;
  }
  return { stage: new Sequential(list), out: c };
}

export const cifarDepths = [20, 32, 44, 56, 110] as const;

/** CIFAR ResNet-{20,32,44,56,110} (or any 6n+2), option A by default. */
export function resnetCifar(depth: number, opts: ResNetOptions = {}): ResNet {
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) fail('resnetCifar', `depth expected 6n+2 (20, 32, 44, 56, 110, ...), got ${depth}`);
  const n = (depth - 2) / 6;
  const rng = new Rng(opts.seed ?? 0);
  const shortcut = opts.shortcut ?? 'A', plain = opts.plain ?? false;
  const make = (cfg: BlockConfig) => new BasicBlock(cfg, rng);
  const stem: Array<[string, Module]> = [
    ['conv1', new Conv2d({ in: opts.inChannels ?? 3, out: 16, kernel: 3, padding: 1 }, rng)],
    ['bn1', new BatchNorm2d(16, { relu: true })],
  ];
  const s1 = stage(make, n, 16, 16, 1, 1, shortcut, plain);
  const s2 = stage(make, n, s1.out, 32, 2, 1, shortcut, plain);
  const s3 = stage(make, n, s2.out, 64, 2, 1, shortcut, plain);
  const head: Array<[string, Module]> = [['avgpool', new GlobalAvgPool2d()], ['fc', new Linear(64, opts.classes ?? 10, rng)]];
  return new ResNet(`${plain ? 'Plain' : 'ResNet'}-${depth} (CIFAR${plain ? '' : `, shortcut ${shortcut}`})`, stem, [s1.stage, s2.stage, s3.stage], head);
}

const imagenetBlocks: Record<number, { bottleneck: boolean; blocks: [number, number, number, number] }> = {
  18: { bottleneck: false, blocks: [2, 2, 2, 2] },
  34: { bottleneck: false, blocks: [3, 4, 6, 3] },
  50: { bottleneck: true, blocks: [3, 4, 6, 3] },
  101: { bottleneck: true, blocks: [3, 4, 23, 3] },
  152: { bottleneck: true, blocks: [3, 8, 36, 3] },
};

export const imagenetDepths = [18, 34, 50, 101, 152] as const;

/** ImageNet-style ResNet-{18,34,50,101,152}; option B (torchvision's) by default. */
export function resnetImagenet(depth: number, opts: ResNetOptions = {}): ResNet {
  const spec = imagenetBlocks[depth];
  if (!spec) fail('resnetImagenet', `depth expected one of 18, 34, 50, 101, 152, got ${depth}`);
  const width = opts.width ?? 64;
  if (!Number.isSafeInteger(width) || width < 1) fail('resnetImagenet', `width expected a positive integer, got ${width}`);
  const rng = new Rng(opts.seed ?? 0);
  const shortcut = opts.shortcut ?? 'B', plain = opts.plain ?? false;
  const expansion = spec.bottleneck ? 4 : 1;
  const make = (cfg: BlockConfig) => (spec.bottleneck ? new Bottleneck(cfg, rng) : new BasicBlock(cfg, rng));
  const stem: Array<[string, Module]> = [
    ['conv1', new Conv2d({ in: opts.inChannels ?? 3, out: width, kernel: 7, stride: 2, padding: 3 }, rng)],
    ['bn1', new BatchNorm2d(width, { relu: true })],
    ['maxpool', new MaxPool2d({ kernel: 3, stride: 2, padding: 1 })],
  ];
  const stages: Sequential[] = [];
  let c = width;
  [width, 2 * width, 4 * width, 8 * width].forEach((planes, i) => {
    const s = stage(make, spec.blocks[i]!, c, planes, i === 0 ? 1 : 2, expansion, shortcut, plain);
    stages.push(s.stage);
    c = s.out;
  });
  const head: Array<[string, Module]> = [['avgpool', new GlobalAvgPool2d()], ['fc', new Linear(c, opts.classes ?? 1000, rng)]];
  return new ResNet(`${plain ? 'Plain' : 'ResNet'}-${depth}${width === 64 ? '' : ` (width ${width})`}`, stem, stages, head);
}
