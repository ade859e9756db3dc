// A model as a JSON layer graph: nodes with an op, its parameters and its inputs (earlier node
// ids, or "input"). The whole graph is checked from shapes alone before any parameter is
// allocated, and an error names the node, the input and the shapes that disagree.
import { invalid, KilnError } from '../errors.js';
import * as ops from '../ops/index.js';
import { Rng } from '../tensor/random.js';
import { resolveConv2d, resolvePool2d } from '../tensor/shape.js';
import { shapeText, sizeOf, type Tensor } from '../tensor/tensor.js';
import { AvgPool2d, BatchNorm2d, Conv2d, Dropout, Flatten, GlobalAvgPool2d, Linear, MaxPool2d, ReLU } from './layers.js';
import { Module, type Field, type SummaryRow, widen } from './module.js';

export interface GraphNode {
  id: string;
  op: string;
  params?: Record<string, unknown>;
  inputs: string[];
}

export interface GraphSpec {
  /** one example's shape, without the batch axis: [C, H, W] or [features] */
  input: number[];
  nodes: GraphNode[];
  /** the node whose output is the model's; default the last */
  output?: string;
  seed?: number;
}

const INPUT = 'input';

type Shape = readonly number[];

interface OpDef {
  /** the parameters it accepts, and which are required */
  params: Record<string, 'int' | 'number' | 'bool' | 'padding' | 'int?' | 'number?' | 'bool?' | 'padding?'>;
  arity: 1 | 'many';
  /** `where` names the node and its first input with that input's shape (enough for one-input
   * ops); `node` names the node alone and `ids` its inputs, for ops that compare inputs. */
  shape(p: Record<string, unknown>, inputs: Shape[], where: string, node: string, ids: string[]): Shape;
  build?(p: Record<string, unknown>, inputs: Shape[], rng: Rng, seed: number): Module;
}

function nchw(where: string, s: Shape): [number, number, number, number] {
  if (s.length !== 4) invalid(`${where}: expected a 4-d input (N, C, H, W)`);
  return s as unknown as [number, number, number, number];
}

function guard<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof KilnError) invalid(`${where}: ${e.message}`);
    throw e;
  }
}

const num = (p: Record<string, unknown>, k: string, d?: number) => (p[k] === undefined ? d : (p[k] as number));
const padding = (p: Record<string, unknown>) => (p.padding ?? 0) as number | 'same' | 'valid';
const pool = (p: Record<string, unknown>) => ({
  kernel: p.kernel as number,
  ...(p.stride !== undefined ? { stride: p.stride as number } : {}),
  ...(p.padding !== undefined ? { padding: p.padding as number } : {}),
  ceilMode: (p.ceilMode as boolean | undefined) ?? false,
  countIncludePad: (p.countIncludePad as boolean | undefined) ?? true,
});
// countIncludePad only means something to average pooling: max pooling does not take it
const poolParams = { kernel: 'int', stride: 'int?', padding: 'int?', ceilMode: 'bool?' } as const;

export const graphOps: Record<string, OpDef> = {
  conv2d: {
    params: { out: 'int', kernel: 'int', stride: 'int?', padding: 'padding?', dilation: 'int?', bias: 'bool?' },
    arity: 1,
    shape: (p, [s], where) => {
      const [n, c, h, w] = nchw(where, s!);
      const g = guard(where, () => resolveConv2d({ n, c, h, w, k: p.out as number, kernel: p.kernel as number, stride: num(p, 'stride', 1)!, padding: padding(p), dilation: num(p, 'dilation', 1)! }));
      return [n, p.out as number, g.p, g.q];
    },
    build: (p, [s], rng) => new Conv2d({ in: s![1]!, out: p.out as number, kernel: p.kernel as number, stride: num(p, 'stride', 1)!, padding: padding(p), dilation: num(p, 'dilation', 1)!, bias: (p.bias as boolean) ?? false }, rng),
  },
  batchnorm2d: {
    params: { relu: 'bool?', momentum: 'number?', eps: 'number?' },
    arity: 1,
    shape: (p, [s], where, node) => {
      // the ranges the native kernel enforces, checked here so that a spec never fails there
      const m = num(p, 'momentum', 0.1)!, eps = num(p, 'eps', 1e-5)!;
      if (!(m >= 0 && m <= 1)) invalid(`${node}: parameter 'momentum' expected a number in [0, 1], got ${m}`);
      if (!(Math.fround(eps) > 0)) invalid(`${node}: parameter 'eps' expected a number > 0 (as a float32), got ${eps}`);
      return (nchw(where, s!), s!);
    },
    build: (p, [s]) => new BatchNorm2d(s![1]!, { relu: (p.relu as boolean) ?? false, momentum: num(p, 'momentum', 0.1)!, eps: num(p, 'eps', 1e-5)! }),
  },
  linear: {
    // `in` (optional, PyTorch's in_features) states the width the layer expects; without it the
    // width is taken from the input
    params: { in: 'int?', out: 'int', bias: 'bool?' },
    arity: 1,
    shape: (p, [s], where) => {
      const width = s![s!.length - 1]!;
      if (p.in !== undefined && p.in !== width) invalid(`${where}: parameter 'in' is ${String(p.in)} but the input's last axis is ${width}`);
      return [...s!.slice(0, -1), p.out as number];
    },
    build: (p, [s], rng) => new Linear(s![s!.length - 1]!, p.out as number, rng, (p.bias as boolean) ?? true),
  },
  relu: { params: {}, arity: 1, shape: (_, [s]) => s!, build: () => new ReLU() },
  flatten: { params: {}, arity: 1, shape: (_, [s]) => [s![0]!, sizeOf(s!) / s![0]!], build: () => new Flatten() },
  dropout: {
    params: { p: 'number' },
    arity: 1,
    shape: (p, [s], _where, node) => {
      if (!((p.p as number) >= 0 && (p.p as number) < 1)) invalid(`${node}: parameter 'p' expected a probability in [0, 1), got ${String(p.p)}`);
      return s!;
    },
    build: (p, _s, _r, seed) => new Dropout(p.p as number, seed) },
  globalavgpool2d: { params: {}, arity: 1, shape: (_, [s], where) => nchw(where, s!).slice(0, 2), build: () => new GlobalAvgPool2d() },
  maxpool2d: {
    params: poolParams,
    arity: 1,
    shape: (p, [s], where) => {
      const [n, c, h, w] = nchw(where, s!);
      const g = guard(where, () => resolvePool2d({ n, c, h, w, ...pool(p) }));
      return [n, c, g.p, g.q];
    },
    build: (p) => new MaxPool2d(pool(p)),
  },
  avgpool2d: {
    params: { ...poolParams, countIncludePad: 'bool?' },
    arity: 1,
    shape: (p, s, where, node, ids) => graphOps.maxpool2d!.shape(p, s, where, node, ids),
    build: (p) => new AvgPool2d(pool(p)),
  },
  add: {
    params: {},
    arity: 'many',
    shape: (_, inputs, _where, node, ids) => {
      sameShapes(node, 'add', inputs, ids, () => false, 'equal shapes');
      return inputs[0]!;
    },
  },
  concat: {
    params: {},
    arity: 'many',
    shape: (_, inputs, _where, node, ids) => {
      const f = inputs[0]!;
      sameShapes(node, 'concat', inputs, ids, (i) => i === 1, 'equal shapes outside axis 1');
      return [f[0]!, inputs.reduce((a, s) => a + s[1]!, 0), ...f.slice(2)];
    },
  },
  shortcutA: {
    params: { out: 'int', stride: 'int' },
    arity: 1,
    shape: (p, [s], where) => {
      const [n, c, h, w] = nchw(where, s!);
      if ((p.out as number) < c) invalid(`${where}: out expected >= the input's ${c} channels, got ${String(p.out)}`);
      return [n, p.out as number, Math.ceil(h / (p.stride as number)), Math.ceil(w / (p.stride as number))];
    },
  },
};

/** Every input's shape against the first's (axes where `free` is true may differ); an error names
 * the node, both inputs and both shapes. */
function sameShapes(node: string, op: string, inputs: Shape[], ids: string[], free: (axis: number) => boolean, need: string): void {
  const f = inputs[0]!;
  inputs.forEach((s, k) => {
    if (s.length !== f.length || s.some((d, i) => !free(i) && d !== f[i])) {
      invalid(`${node}: input '${ids[k]}' has shape ${shapeText(s)} but input '${ids[0]}' has ${shapeText(f)}; ${op} needs ${need}`);
    }
  });
}

function checkParams(node: GraphNode, def: OpDef, where: string): Record<string, unknown> {
  const p = node.params ?? {};
  if (typeof p !== 'object' || p === null || Array.isArray(p)) invalid(`${where}: params expected an object, got ${JSON.stringify(p)}`);
  for (const key of Object.keys(p)) if (!Object.hasOwn(def.params, key)) invalid(`${where}: unknown parameter '${key}' (${node.op} takes ${Object.keys(def.params).join(', ') || 'none'})`);
  for (const [key, type] of Object.entries(def.params)) {
    const v = p[key];
    const optional = type.endsWith('?');
    if (v === undefined) {
      if (!optional) invalid(`${where}: parameter '${key}' is required`);
      continue;
    }
    const base = type.replace('?', '');
    const ok =
      base === 'int' ? Number.isSafeInteger(v) && (v as number) >= (key === 'padding' ? 0 : 1)
      : base === 'number' ? typeof v === 'number' && Number.isFinite(v)
      : base === 'bool' ? typeof v === 'boolean'
      : v === 'same' || v === 'valid' || (Number.isSafeInteger(v) && (v as number) >= 0);
    if (!ok) invalid(`${where}: parameter '${key}' expected ${base === 'int' ? 'a positive integer' : base === 'padding' ? "a non-negative integer, 'same' or 'valid'" : `a ${base}`}, got ${JSON.stringify(v)}`);
  }
  return p;
}

/** Checks a graph spec from shapes alone; returns each node's input and output shapes (batch 1). */
export function checkGraph(spec: GraphSpec, batch = 1): Map<string, { inputs: Shape[]; output: Shape }> {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) invalid(`graph: expected an object { input, nodes, output?, seed? }, got ${JSON.stringify(spec)}`);
  if (!Array.isArray(spec.input) || spec.input.length === 0 || spec.input.some((d) => !Number.isSafeInteger(d) || d < 1)) {
    invalid(`graph: input expected a shape of positive integers such as [3, 32, 32], got ${JSON.stringify(spec.input)}`);
  }
  if (!Array.isArray(spec.nodes) || spec.nodes.length === 0) invalid('graph: nodes expected a non-empty array');
  // the presets' seed range (the generator keeps 32 bits)
  if (spec.seed !== undefined && !(Number.isSafeInteger(spec.seed) && spec.seed >= 0 && spec.seed <= 2 ** 31 - 1)) invalid(`graph: seed expected an integer in [0, 2147483647], got ${JSON.stringify(spec.seed)}`);
  const shapes = new Map<string, Shape>([[INPUT, [batch, ...spec.input]]]);
  const out = new Map<string, { inputs: Shape[]; output: Shape }>();
  spec.nodes.forEach((node, i) => {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) invalid(`graph: node ${i} expected an object { id, op, inputs, params? }, got ${JSON.stringify(node)}`);
    const where = `node '${node.id ?? i}' (${node.op})`;
    if (typeof node.id !== 'string' || node.id === '' || shapes.has(node.id)) invalid(`graph: node ${i} needs a unique id other than 'input', got ${JSON.stringify(node.id)}`);
    const def = Object.hasOwn(graphOps, node.op) ? graphOps[node.op] : undefined;
    if (!def) invalid(`${where}: unknown op; expected one of ${Object.keys(graphOps).join(', ')}`);
    if (!Array.isArray(node.inputs) || node.inputs.length === 0) invalid(`${where}: inputs expected a non-empty array of node ids`);
    if (def.arity === 1 && node.inputs.length !== 1) invalid(`${where}: takes one input, got ${node.inputs.length}`);
    if (def.arity === 'many' && node.inputs.length < 2) invalid(`${where}: takes two or more inputs, got ${node.inputs.length}`);
    const inputs = node.inputs.map((id) => {
      const s = shapes.get(id);
      if (!s) invalid(`${where}: input '${id}' is not 'input' or an earlier node`);
      return s;
    });
    const p = checkParams(node, def, where);
    const output = def.shape(p, inputs, `${where}, input '${node.inputs[0]}' ${shapeText(inputs[0]!)}`, where, node.inputs);
    shapes.set(node.id, output);
    out.set(node.id, { inputs, output });
  });
  if (spec.output !== undefined && !out.has(spec.output)) invalid(`graph: output '${spec.output}' is not a node`);
  // every node must feed the output: GraphModel runs them all, and a dead branch's parameters
  // would be allocated and never trained
  const output = spec.output ?? spec.nodes[spec.nodes.length - 1]!.id;
  const used = new Set([output]);
  for (let i = spec.nodes.length - 1; i >= 0; i--) {
    const node = spec.nodes[i]!;
    if (!used.has(node.id)) invalid(`graph: node '${node.id}' (${node.op}) does not lead to the output '${output}'; its result would never be used`);
    for (const id of node.inputs) used.add(id);
  }
  return out;
}

/** A training step's arena share of a parameter-free node (see StepMemory): add sums its inputs
 * pairwise (one output per sum), and its backward holds the sum's gradient with its inputs'
 * (one of which is typically a long-lived residual gradient); concat and shortcutA keep their
 * output and hold their output's gradient and their inputs'. */
function opMemory(op: string, inputs: Shape[], output: Shape): { kept: number; grads: Array<[number, number]> } {
  const size = sizeOf(output);
  if (op === 'add') return { kept: size * Math.max(1, inputs.length - 1), grads: [[size, 3]] };
  return { kept: size, grads: [[size, 1], ...inputs.map((s): [number, number] => [sizeOf(s), 1])] };
}

/** A model built from a checked graph spec. */
export class GraphModel extends Module {
  private readonly nodes: Array<{ node: GraphNode; module: Module | null }> = [];
  private readonly output: string;

  constructor(readonly spec: GraphSpec) {
    super();
    const shapes = checkGraph(spec); // throws before anything is allocated
    const rng = new Rng(spec.seed ?? 0);
    spec.nodes.forEach((node, i) => {
      const def = graphOps[node.op]!;
      const module = def.build ? this.child(node.id, def.build(node.params ?? {}, shapes.get(node.id)!.inputs, rng, (spec.seed ?? 0) + i + 1)) : null;
      this.nodes.push({ node, module });
    });
    this.output = spec.output ?? spec.nodes[spec.nodes.length - 1]!.id;
  }

  forward(x: Tensor): Tensor {
    const values = new Map<string, Tensor>([[INPUT, x]]);
    for (const { node, module } of this.nodes) {
      const inputs = node.inputs.map((id) => values.get(id)!);
      let y: Tensor;
      if (module) y = module.forward(inputs[0]!);
      else if (node.op === 'add') y = inputs.slice(1).reduce((a, b) => ops.add(a, b), inputs[0]!);
      else if (node.op === 'concat') y = ops.concat(inputs);
      else y = ops.shortcutA(inputs[0]!, node.params!.out as number, node.params!.stride as number);
      values.set(node.id, y);
    }
    return values.get(this.output)!;
  }

  outputShape(input: readonly number[]): readonly number[] {
    const batch = input[0]!;
    if (input.slice(1).some((d, i) => d !== this.spec.input[i]) || input.length !== this.spec.input.length + 1) {
      invalid(`graph: input ${shapeText(input)} expected [batch, ${this.spec.input.join(', ')}]`);
    }
    return checkGraph(this.spec, batch).get(this.output)!.output;
  }

  override macs(input: readonly number[]): number {
    const shapes = checkGraph(this.spec, input[0]!);
    return this.nodes.reduce((s, { node, module }) => s + (module ? module.macs(shapes.get(node.id)!.inputs[0]!) : 0), 0);
  }

  override summarize(input: readonly number[], field: Field | null, name: string, rows: SummaryRow[]) {
    const shapes = checkGraph(this.spec, input[0]!);
    const fields = new Map<string, Field | null>([[INPUT, field]]);
    for (const { node, module } of this.nodes) {
      const s = shapes.get(node.id)!;
      // the widest field among the inputs
      const fin = node.inputs.map((id) => fields.get(id) ?? null).reduce<Field | null>((a, b) => (!a ? b : !b ? a : a.r >= b.r ? a : b), null);
      const path = name ? `${name}.${node.id}` : node.id;
      if (module) {
        fields.set(node.id, module.summarize(s.inputs[0]!, fin, path, rows).field);
      } else {
        const stride = node.op === 'shortcutA' ? (node.params!.stride as number) : 1;
        const f = fin && stride > 1 ? widen(fin, { kernel: 1, stride, dilation: 1 }) : fin;
        rows.push({ name: path, layer: node.op, output: s.output, params: 0, macs: 0, ...opMemory(node.op, s.inputs, s.output) });
        fields.set(node.id, f);
      }
    }
    return { shape: shapes.get(this.output)!.output, field: fields.get(this.output) ?? null };
  }

  describe(): string {
    return `Graph(${this.nodes.length} nodes)`;
  }
}
