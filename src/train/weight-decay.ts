// Weight-decay exclusions: the usual recipes (the Transformer's AdamW setups, many ResNet ones)
// decay only weight matrices and convolution kernels, never biases and never the scales and
// shifts of normalization layers, whose size is not what decay is meant to limit. The predicate
// goes to the noDecay option of Sgd, Adam and AdamW.
import { Module } from '../nn/module.js';
import { BatchNorm2d } from '../nn/layers.js';
import { LayerNorm } from '../nn/transformer.js';
import type { Tensor } from '../tensor/tensor.js';

/** Is this module a normalization layer (all its parameters are exempt)? */
export function isNorm(m: Module): boolean {
  return m instanceof BatchNorm2d || m instanceof LayerNorm;
}

/** The dotted names (as namedParameters gives them) of the parameters that get no decay: every
 * parameter of a norm layer and every parameter named "bias". */
export function noDecayNames(model: Module): string[] {
  const out: string[] = [];
  const walk = (m: Module, prefix: string) => {
    if (isNorm(m)) {
      for (const [name] of m.namedParameters(prefix)) out.push(name);
      return;
    }
    for (const [name] of m.namedParameters(prefix)) if (name.slice(prefix.length) === 'bias' && !out.includes(name)) out.push(name);
    for (const [name, child] of m.children()) walk(child, `${prefix}${name}.`);
  };
  walk(model, '');
  return [...new Set(out)];
}

/** The noDecay predicate for the optimizers: true for the parameters noDecayNames lists. A tensor
 * shared under two names (a tied embedding) is decayed unless every name of it is exempt. */
export function noDecayPredicate(model: Module): (p: Tensor) => boolean {
  const exempt = new Set(noDecayNames(model));
  const decayed = new Set<Tensor>(), spared = new Set<Tensor>();
  for (const [name, t] of model.namedParameters()) (exempt.has(name) ? spared : decayed).add(t);
  return (p) => spared.has(p) && !decayed.has(p);
}
