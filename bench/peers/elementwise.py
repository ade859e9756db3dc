"""PyTorch equivalents of the elementwise suite (bench/suites/elementwise.ts).

Every op lists the honest equivalents a PyTorch user would write; each is checked against a
float64 result and timed, and the fastest one is compared with us. Outputs and temporaries are
preallocated where PyTorch allows it (out=), as our side reuses its buffers. Variants that
allocate stay in the list because that is what most PyTorch code does; they rarely win.
"""
from types import SimpleNamespace as NS

import torch

from common import Op, serve

ATEN = torch.ops.aten


def rand(shape, seed):
    """Uniform in [-1, 1): half negative, as the TypeScript side."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 2 - 1


def d(t):
    return t.double()


def binary(p):
    return NS(y=torch.empty(p["n"]), a=rand(p["n"], 1), b=rand(p["n"], 2))


def unary(p):
    alpha = p.get("alpha", 0.0)
    return NS(y=torch.empty(p["n"]), x=rand(p["n"], 1), alpha=alpha, alpha_t=torch.tensor(alpha))


def reduction(p):
    # tmp: a preallocated temporary for the two-pass variants (x*x, then sum)
    return NS(x=rand(p["n"], 1), tmp=torch.empty(p["n"]))


def with_abs(e):
    """(expected, magnitude) for a map rounded once per element: its error is relative to the result."""
    return e, e.abs()


def output_y(t, _returned):
    return t.y


def returned(_t, value):
    return value


def reduction_expected(terms):
    return lambda t: (terms(t).sum(), terms(t).abs().sum())


OPS = {
    "add": Op(
        make=binary,
        expected=lambda t: with_abs(d(t.a) + d(t.b)),
        result=output_y,
        variants={"torch.add(a, b, out=y)": lambda t: torch.add(t.a, t.b, out=t.y)},
    ),
    "mul": Op(
        make=binary,
        expected=lambda t: with_abs(d(t.a) * d(t.b)),
        result=output_y,
        variants={"torch.mul(a, b, out=y)": lambda t: torch.mul(t.a, t.b, out=t.y)},
    ),
    # y += alpha * x, in place like ours
    "axpy": Op(
        make=lambda p: NS(y=rand(p["n"], 1), x=rand(p["n"], 2), alpha=p["alpha"]),
        expected=lambda t: (d(t.y) + t.alpha * d(t.x), d(t.y).abs() + abs(t.alpha) * d(t.x).abs()),
        result=output_y,
        variants={"y.add_(x, alpha=alpha)": lambda t: t.y.add_(t.x, alpha=t.alpha)},
    ),
    "scale": Op(
        make=unary,
        expected=lambda t: with_abs(t.alpha * d(t.x)),
        result=output_y,
        variants={
            "torch.mul(x, alpha, out=y)": lambda t: torch.mul(t.x, t.alpha, out=t.y),
            # a Python float is wrapped into a new tensor on every call; a 0-d tensor made once is not
            "torch.mul(x, alpha_tensor, out=y)": lambda t: torch.mul(t.x, t.alpha_t, out=t.y),
        },
    ),
    # torch.relu has no out= (1.13); these write into a preallocated y as ours does.
    "reluForward": Op(
        make=unary,
        expected=lambda t: with_abs(d(t.x).clamp_min(0)),
        result=lambda t, r: r,
        variants={
            "torch.clamp_min(x, 0, out=y)": lambda t: torch.clamp_min(t.x, 0, out=t.y),
            "torch.threshold(x, 0, 0, out=y)": lambda t: torch.threshold(t.x, 0.0, 0.0, out=t.y),
            "torch.relu(x)": lambda t: torch.relu(t.x),
        },
    ),
    # dx += dy where x > 0. PyTorch has no fused accumulate: autograd runs threshold_backward (its
    # real ReLU backward kernel) and then adds into the gradient, two passes.
    "reluBackward": Op(
        make=lambda p: NS(dx=rand(p["n"], 1), dy=rand(p["n"], 2), x=rand(p["n"], 3), tmp=torch.empty(p["n"])),
        expected=lambda t: (d(t.dx) + torch.where(t.x > 0, d(t.dy), 0.0), d(t.dx).abs() + d(t.dy).abs()),
        result=lambda t, _r: t.dx,
        variants={
            "dx.add_(threshold_backward(dy, x, 0, grad_input=tmp))":
                lambda t: t.dx.add_(ATEN.threshold_backward.grad_input(t.dy, t.x, 0, grad_input=t.tmp)),
            "dx.addcmul_(dy, torch.gt(x, 0, out=tmp))": lambda t: t.dx.addcmul_(t.dy, torch.gt(t.x, 0, out=t.tmp)),
            "dx.add_(torch.where(x > 0, dy, 0))": lambda t: t.dx.add_(torch.where(t.x > 0, t.dy, 0.0)),
        },
    ),
    # Ours accumulates in double; PyTorch's float32 sum uses cascade summation, accurate enough to
    # be the honest equivalent. The result stays a tensor (no .item(): that would cost PyTorch ~1 us).
    "sum": Op(
        make=reduction,
        expected=reduction_expected(lambda t: d(t.x)),
        result=returned,
        variants={
            "x.sum()": lambda t: t.x.sum(),
            "x.sum(dtype=torch.float64)": lambda t: t.x.sum(dtype=torch.float64),
        },
    ),
    "sumsq": Op(
        make=reduction,
        expected=reduction_expected(lambda t: d(t.x) ** 2),
        result=returned,
        variants={
            "torch.dot(x, x)": lambda t: torch.dot(t.x, t.x),
            "torch.mul(x, x, out=tmp).sum()": lambda t: torch.mul(t.x, t.x, out=t.tmp).sum(),
            "torch.linalg.vector_norm(x) ** 2": lambda t: torch.linalg.vector_norm(t.x) ** 2,
        },
    ),
    # y(cols) += column sums of x(rows, cols): a Linear layer's bias gradient
    "columnSum": Op(
        make=lambda p: NS(y=rand(p["cols"], 1), x=rand((p["rows"], p["cols"]), 2), tmp=torch.empty(p["cols"])),
        expected=lambda t: (d(t.y) + d(t.x).sum(0), d(t.y).abs() + d(t.x).abs().sum(0)),
        result=output_y,
        variants={
            "y.add_(torch.sum(x, 0, out=tmp))": lambda t: t.y.add_(torch.sum(t.x, 0, out=t.tmp)),
            "y.add_(x.sum(0))": lambda t: t.y.add_(t.x.sum(0)),
        },
    ),
}

if __name__ == "__main__":
    serve(OPS)
