"""PyTorch equivalents of the gemm suite (bench/suites/gemm.ts): torch.mm / torch.bmm with out=,
on the same stored layouts (a transposed operand is a .t() / .transpose() view, as a model's
weight is), so PyTorch picks its own best BLAS path (MKL-DNN or OpenBLAS) for each shape."""
from types import SimpleNamespace as NS

import torch

from common import Op, serve


def rand(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 2 - 1


def make(p):
    m, n, k, batch = p["m"], p["n"], p["k"], p["batch"]
    # stored as ours: A (m, k) or, transposed, (k, m); B (k, n) or (n, k)
    a_stored = rand((batch, k, m) if p["transA"] else (batch, m, k), 1)
    b_stored = rand((batch, n, k) if p["transB"] else (batch, k, n), 2)
    a = a_stored.transpose(1, 2) if p["transA"] else a_stored
    b = b_stored.transpose(1, 2) if p["transB"] else b_stored
    return NS(a=a, b=b, c=torch.empty((batch, m, n)), batch=batch)


def expected(t):
    e = torch.bmm(t.a.double(), t.b.double())
    return e, torch.bmm(t.a.double().abs(), t.b.double().abs())


OPS = {
    "gemm": Op(
        make=make,
        expected=expected,
        result=lambda t, _r: t.c,
        variants={
            "torch.mm / torch.bmm(out=c)": lambda t: (
                torch.mm(t.a[0], t.b[0], out=t.c[0]) if t.batch == 1 else torch.bmm(t.a, t.b, out=t.c)
            ),
            "torch.matmul(out=c)": lambda t: torch.matmul(t.a, t.b, out=t.c),
        },
    ),
}

if __name__ == "__main__":
    serve(OPS)
