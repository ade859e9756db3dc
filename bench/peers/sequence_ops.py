"""PyTorch equivalents of the sequence cases (bench/suites/sequence.ts: layer norm, softmax
cross-entropy). Not a peer script of its own: bench/peers/attention.py imports OPS and serves it
together with the attention ops.

Each pass is the aten op PyTorch's autograd itself calls (native_layer_norm and its backward;
log_softmax + nll_loss and their backwards, which is what F.cross_entropy runs), next to the
autograd spelling; the fastest accurate variant is reported. Backward results are fresh tensors
in PyTorch (ours accumulate into reused buffers); inputs are allocated once per variant.
"""
from types import SimpleNamespace as NS

import torch
import torch.nn.functional as F

from common import Op

aten = torch.ops.aten


def rand(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 2 - 1


def ln_make(p):
    rows, d = p["rows"], p["d"]
    return NS(d=d, x=rand((rows, d), 1), g=rand(d, 2), b=rand(d, 3), dy=rand((rows, d), 4))


def ln_expected(t):
    x = t.x.double().requires_grad_(True)
    y = F.layer_norm(x, (t.d,), t.g.double(), t.b.double(), 1e-5)
    return y.detach(), y.detach().abs() + 1


def ln_train_expected(t):
    x = t.x.double().requires_grad_(True)
    y = F.layer_norm(x, (t.d,), t.g.double(), t.b.double(), 1e-5)
    (dx,) = torch.autograd.grad(y, x, t.dy.double())
    return dx, dx.abs() + 1


def ln_train_aten(t):
    y, mean, rstd = aten.native_layer_norm(t.x, [t.d], t.g, t.b, 1e-5)
    return aten.native_layer_norm_backward(t.dy, t.x, [t.d], mean, rstd, t.g, t.b, [True, True, True])[0]


def ln_train_autograd(t):
    x = t.x.detach().requires_grad_(True)
    g = t.g.detach().requires_grad_(True)
    b = t.b.detach().requires_grad_(True)
    y = F.layer_norm(x, (t.d,), g, b, 1e-5)
    y.backward(t.dy)
    return x.grad


def ce_make(p):
    rows, v = p["rows"], p["vocab"]
    z = rand((rows, v), 5) * 4
    targets = torch.tensor([(i * 7919) % v for i in range(rows)], dtype=torch.long)
    return NS(z=z, t=targets)


def ce_expected(t):
    z = t.z.double().requires_grad_(True)
    (dz,) = torch.autograd.grad(F.cross_entropy(z, t.t), z)
    return dz, dz.abs() + 1e-3 / t.z.shape[0]


def ce_train_aten(t):
    logp = aten._log_softmax(t.z, 1, False)
    loss, total = aten.nll_loss_forward(logp, t.t, None, 1, -100)
    dlogp = aten.nll_loss_backward(torch.ones(()), logp, t.t, None, 1, -100, total)
    return aten._log_softmax_backward_data(dlogp, logp, 1, torch.float32)


def ce_train_autograd(t):
    z = t.z.detach().requires_grad_(True)
    F.cross_entropy(z, t.t).backward()
    return z.grad


OPS = {
    "layerNormForward": Op(
        make=ln_make,
        expected=ln_expected,
        result=lambda t, r: r,
        variants={
            "aten.native_layer_norm(x, [d], g, b, eps)[0]": lambda t: aten.native_layer_norm(t.x, [t.d], t.g, t.b, 1e-5)[0],
            "F.layer_norm(x, (d,), g, b)": lambda t: F.layer_norm(t.x, (t.d,), t.g, t.b, 1e-5),
        },
    ),
    "layerNormTrain": Op(
        make=ln_make,
        expected=ln_train_expected,
        result=lambda t, r: r,
        variants={
            "native_layer_norm + native_layer_norm_backward": ln_train_aten,
            "F.layer_norm(...).backward(dy)": ln_train_autograd,
        },
    ),
    "crossEntropyTrain": Op(
        make=ce_make,
        expected=ce_expected,
        result=lambda t, r: r,
        variants={
            "_log_softmax + nll_loss_forward + their backwards": ce_train_aten,
            "F.cross_entropy(z, t).backward()": ce_train_autograd,
        },
    ),
}
