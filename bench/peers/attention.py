"""PyTorch equivalents of the attention suite (bench/suites/attention.ts): PyTorch's manual
softmax(Q K^T / sqrt(d)) V, forward and forward + backward through autograd, with the causal mask
applied by masked_fill on a precomputed boolean mask (torch 1.13 has no fused CPU attention).
Two spellings each (matmul + softmax, and baddbmm + softmax on 3-d views); the faster accurate
one is reported. The layer norm and cross-entropy cases come from sequence_ops.OPS.
"""
import math
from types import SimpleNamespace as NS

import torch

from common import Op, serve
from sequence_ops import OPS as SEQUENCE_OPS


def rand(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 2 - 1


def make(p):
    b, h, t, d = p["b"], p["h"], p["t"], p["d"]
    shape = (b, h, t, d)
    mask = torch.ones(t, t, dtype=torch.bool).triu(1) if p["causal"] else None
    return NS(q=rand(shape, 1), k=rand(shape, 2), v=rand(shape, 3), dout=rand(shape, 4), mask=mask,
              scale=1 / math.sqrt(d), shape=shape)


def forward_matmul(t, q, k, v):
    s = torch.matmul(q, k.transpose(-2, -1)) * t.scale
    if t.mask is not None:
        s = s.masked_fill(t.mask, float("-inf"))
    return torch.matmul(torch.softmax(s, -1), v)


def forward_baddbmm(t, q, k, v):
    b, h, n, d = t.shape
    q3, k3, v3 = q.reshape(b * h, n, d), k.reshape(b * h, n, d), v.reshape(b * h, n, d)
    if t.mask is not None:
        bias = torch.zeros(n, n).masked_fill(t.mask, float("-inf")).expand(b * h, n, n)
        s = torch.baddbmm(bias, q3, k3.transpose(1, 2), alpha=t.scale)
    else:
        s = torch.bmm(q3, k3.transpose(1, 2)) * t.scale
    return torch.bmm(torch.softmax(s, -1), v3).reshape(b, h, n, d)


def expected_forward(t):
    out = forward_matmul(t, t.q.double(), t.k.double(), t.v.double())
    return out, out.abs() + 1e-3


def train(forward):
    def run(t):
        q, k, v = (x.detach().requires_grad_(True) for x in (t.q, t.k, t.v))
        forward(t, q, k, v).backward(t.dout)
        return q.grad
    return run


def expected_train(t):
    q, k, v = (x.double().requires_grad_(True) for x in (t.q, t.k, t.v))
    forward_matmul(t, q, k, v).backward(t.dout.double())
    return q.grad, q.grad.abs() + 1e-3


OPS = {
    "attentionForward": Op(
        make=make, expected=expected_forward, result=lambda t, r: r,
        variants={
            "matmul(softmax(masked_fill(q k^T * s)), v)": lambda t: forward_matmul(t, t.q, t.k, t.v),
            "bmm(softmax(baddbmm(mask, q, k^T, alpha=s)), v)": lambda t: forward_baddbmm(t, t.q, t.k, t.v),
        }),
    "attentionTrain": Op(
        make=make, expected=expected_train, result=lambda t, r: r,
        variants={
            "matmul/softmax/matmul + autograd backward": train(forward_matmul),
            "baddbmm/softmax/bmm + autograd backward": train(forward_baddbmm),
        }),
    **SEQUENCE_OPS,
}

if __name__ == "__main__":
    serve(OPS)
