"""PyTorch equivalents of the gemm suite (bench/suites/gemm.ts): torch.mm / torch.bmm with out=,
on the same stored layouts (a transposed operand is a .t() / .transpose() view, as a model's
weight is), so PyTorch picks its own BLAS path for each shape. The `+packedW` rows (ours: B
packed once by gemmPackB) get oneDNN's linear (mkldnn_linear) with the weight prepared once in
oneDNN's layout outside the timing, and only that: like with like. Activations are never
re-laid-out for free.

NOTE: Debian's python3-torch calls the system BLAS. With only the reference libblas3 installed it
runs at a few GFLOP/s; install libopenblas0-openmp (the OpenMP build: one thread pool with
PyTorch's own) to give PyTorch its real speed. A warning is printed when the reference BLAS is
the one loaded.
"""
import sys
from types import SimpleNamespace as NS

import torch

from common import Only, Op, serve


def _warn_reference_blas():
    torch.mm(torch.ones(2, 2), torch.ones(2, 2))  # loads the BLAS
    with open("/proc/self/maps") as f:
        maps = f.read()
    if "openblas" not in maps and "mkl" not in maps:
        print("gemm peer: PyTorch is using the reference BLAS (no OpenBLAS/MKL loaded): install "
              "libopenblas0-openmp for a fair comparison", file=sys.stderr)


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
    ns = NS(a=a, b=b, c=torch.empty((batch, m, n)), batch=batch)
    ns.dnn = p["packedW"] == 1  # ours packs B once: a single problem, A not transposed
    if ns.dnn:
        # oneDNN linear computes x W^T with x (m, k) and W (n, k), both contiguous
        ns.x_dnn = a[0].contiguous().to_mkldnn()
        ns.w_dnn = b[0].t().contiguous().to_mkldnn()
    return ns


def expected(t):
    e = torch.bmm(t.a.double(), t.b.double())
    return e, torch.bmm(t.a.double().abs(), t.b.double().abs())


OPS = {
    "gemm": Op(
        make=make,
        expected=expected,
        # out= variants write t.c; oneDNN returns a new mkldnn tensor
        result=lambda t, r: r.to_dense().unsqueeze(0) if isinstance(r, torch.Tensor) and r.is_mkldnn else t.c,
        variants={
            "torch.mm / torch.bmm(out=c)": Only(lambda t: not t.dnn, lambda t: (
                torch.mm(t.a[0], t.b[0], out=t.c[0]) if t.batch == 1 else torch.bmm(t.a, t.b, out=t.c)
            )),
            "torch.matmul(out=c)": Only(lambda t: not t.dnn, lambda t: torch.matmul(t.a, t.b, out=t.c)),
            "oneDNN mkldnn_linear(x, W), prepacked W": Only(
                lambda t: t.dnn, lambda t: torch.ops.aten.mkldnn_linear(t.x_dnn, t.w_dnn)
            ),
        },
    ),
}

if __name__ == "__main__":
    _warn_reference_blas()
    serve(OPS)
