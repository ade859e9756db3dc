"""PyTorch equivalents of the conv suite (bench/suites/conv.ts): each convolution pass is the
aten op PyTorch's autograd itself calls (convolution / convolution_backward with the output mask
of that pass), in NCHW and in channels-last (PyTorch's oneDNN path often prefers it), and the
faster one is reported. Pooling and batch norm likewise: the aten forward and backward ops,
NCHW and channels-last; batch norm + ReLU is PyTorch's batch norm followed by an in-place ReLU
(it has no fused CPU kernel). Buffers are allocated once per variant and reused.
"""
from types import SimpleNamespace as NS

import torch
import torch.nn.functional as F

from common import Op, serve

aten = torch.ops.aten
CL = torch.channels_last


def rand(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g) * 2 - 1


_memo = {}


def memo(key, fn):
    """The float64 expectation of a case, computed once for all its variants."""
    if key not in _memo:
        _memo.clear()
        _memo[key] = fn()
    return _memo[key]


# ---- convolution -----------------------------------------------------------------------------

def conv_make(p):
    n, c, h, w, k, r, s = (p[key] for key in ("n", "c", "h", "w", "k", "r", "s"))
    stride, pad = p["stride"], p["pad"]
    x = rand((n, c, h, w), 1)
    wt = rand((k, c, r, s), 2)
    y = F.conv2d(x, wt, None, stride, pad)
    dy = rand(tuple(y.shape), 3)
    return NS(p=p, x=x, w=wt, dy=dy, stride=[stride, stride], pad=[pad, pad],
              cl=NS(x=x.contiguous(memory_format=CL), w=wt.contiguous(memory_format=CL),
                    dy=dy.contiguous(memory_format=CL)))


def conv_backward(t, x, w, dy, mask):
    return aten.convolution_backward(dy, x, w, None, t.stride, t.pad, [1, 1], False, [0, 0], 1, mask)


def conv_expected(which):
    def expected(t):
        def compute():
            x, w, dy = t.x.double(), t.w.double(), t.dy.double()
            if which == "fwd":
                return (F.conv2d(x, w, None, t.stride, t.pad), F.conv2d(x.abs(), w.abs(), None, t.stride, t.pad))
            mask = [True, False, False] if which == "bwd_data" else [False, True, False]
            i = 0 if which == "bwd_data" else 1
            return (conv_backward(t, x, w, dy, mask)[i], conv_backward(t, x.abs(), w.abs(), dy.abs(), mask)[i])
        return memo(("conv", which, tuple(sorted(t.p.items()))), compute)
    return expected


def conv_op(which):
    if which == "fwd":
        variants = {
            "F.conv2d (NCHW)": lambda t: F.conv2d(t.x, t.w, None, t.stride, t.pad),
            "F.conv2d (channels-last)": lambda t: F.conv2d(t.cl.x, t.cl.w, None, t.stride, t.pad),
        }
        result = lambda t, r: r  # noqa: E731
    else:
        mask = [True, False, False] if which == "bwd_data" else [False, True, False]
        i = 0 if which == "bwd_data" else 1
        variants = {
            f"aten.convolution_backward {mask} (NCHW)": lambda t: conv_backward(t, t.x, t.w, t.dy, mask),
            f"aten.convolution_backward {mask} (channels-last)": lambda t: conv_backward(t, t.cl.x, t.cl.w, t.cl.dy, mask),
        }
        result = lambda t, r: r[i]  # noqa: E731
    return Op(make=conv_make, expected=conv_expected(which), result=result, variants=variants)


# ---- pooling ---------------------------------------------------------------------------------

def pool_make(p):
    x = rand((p["n"], p["c"], p["h"], p["w"]), 1)
    k, s, pad = [p["r"], p["s"]], [p["stride"]] * 2, [p["pad"]] * 2
    y, idx = F.max_pool2d(x, k, s, pad, return_indices=True)
    dy = rand(tuple(y.shape), 2)
    xc = x.contiguous(memory_format=CL)
    yc, idxc = F.max_pool2d(xc, k, s, pad, return_indices=True)
    return NS(p=p, x=x, k=k, s=s, pad=pad, idx=idx, dy=dy,
              cl=NS(x=xc, idx=idxc, dy=dy.contiguous(memory_format=CL)))


def pool_expected(which):
    def expected(t):
        def compute():
            x = t.x.double()
            if which == "fwd":
                e = F.max_pool2d(x, t.k, t.s, t.pad)
            else:
                e = aten.max_pool2d_with_indices_backward(t.dy.double(), x, t.k, t.s, t.pad, [1, 1], False, t.idx)
            return e, e.abs()
        return memo(("pool", which, tuple(sorted(t.p.items()))), compute)
    return expected


POOL_FWD = Op(
    make=pool_make, expected=pool_expected("fwd"), result=lambda t, r: r[0],
    variants={
        "F.max_pool2d(return_indices) (NCHW)": lambda t: F.max_pool2d(t.x, t.k, t.s, t.pad, return_indices=True),
        "F.max_pool2d(return_indices) (channels-last)": lambda t: F.max_pool2d(t.cl.x, t.k, t.s, t.pad, return_indices=True),
    })
POOL_BWD = Op(
    make=pool_make, expected=pool_expected("bwd"), result=lambda t, r: r,
    variants={
        "aten.max_pool2d_with_indices_backward (NCHW)": lambda t: aten.max_pool2d_with_indices_backward(
            t.dy, t.x, t.k, t.s, t.pad, [1, 1], False, t.idx),
        "aten.max_pool2d_with_indices_backward (channels-last)": lambda t: aten.max_pool2d_with_indices_backward(
            t.cl.dy, t.cl.x, t.k, t.s, t.pad, [1, 1], False, t.cl.idx),
    })


def gap_make(p):
    x = rand((p["n"], p["c"], p["h"], p["w"]), 1)
    return NS(p=p, x=x, xc=x.contiguous(memory_format=CL))


GAP_FWD = Op(
    make=gap_make,
    expected=lambda t: (t.x.double().mean((2, 3)), t.x.double().abs().mean((2, 3))),
    result=lambda t, r: r.reshape(t.x.shape[0], t.x.shape[1]),
    variants={
        "F.adaptive_avg_pool2d(x, 1) (NCHW)": lambda t: F.adaptive_avg_pool2d(t.x, 1),
        "F.adaptive_avg_pool2d(x, 1) (channels-last)": lambda t: F.adaptive_avg_pool2d(t.xc, 1),
        "x.mean((2, 3))": lambda t: t.x.mean((2, 3)),
    })


# ---- batch norm ------------------------------------------------------------------------------

EPS, MOMENTUM = 1e-5, 0.1


def bn_make(p):
    n, c, h, w = p["n"], p["c"], p["h"], p["w"]
    x = rand((n, c, h, w), 1)
    dy = rand((n, c, h, w), 2)
    g, b = rand((c,), 3), rand((c,), 4)
    rm, rv = torch.zeros(c), torch.ones(c)
    _, mean, invstd = aten.native_batch_norm(x, g, b, rm.clone(), rv.clone(), True, MOMENTUM, EPS)
    xc, dyc = x.contiguous(memory_format=CL), dy.contiguous(memory_format=CL)
    return NS(p=p, x=x, dy=dy, g=g, b=b, rm=rm, rv=rv, mean=mean, invstd=invstd, cl=NS(x=xc, dy=dyc))


def bn_reference(t):
    """float64 forward and input gradient, with the magnitudes of their terms."""
    x, dy, g, b = t.x.double(), t.dy.double(), t.g.double(), t.b.double()
    dims, m = (0, 2, 3), t.x.numel() // t.x.shape[1]
    mean = x.mean(dims, keepdim=True)
    invstd = (x.var(dims, unbiased=False, keepdim=True) + EPS).rsqrt()
    xhat = (x - mean) * invstd
    gv, bv = g.view(1, -1, 1, 1), b.view(1, -1, 1, 1)
    y = xhat * gv + bv
    sdy = dy.sum(dims, keepdim=True)
    sdx = (dy * xhat).sum(dims, keepdim=True)
    dx = gv * invstd / m * (m * dy - sdy - xhat * sdx)
    dx_mag = gv.abs() * invstd / m * (m * dy.abs() + sdy.abs() + xhat.abs() * (dy * xhat).abs().sum(dims, keepdim=True))
    return NS(y=y, y_mag=xhat.abs() * gv.abs() + bv.abs(), dx=dx, dx_mag=dx_mag)


def bn_expected(which):
    def expected(t):
        r = memo(("bn", tuple(sorted(t.p.items()))), lambda: bn_reference(t))
        if which == "fwd":
            return r.y, r.y_mag
        if which == "relu":
            return r.y.clamp(min=0), r.y_mag
        return r.dx, r.dx_mag
    return expected


def bn_forward(t, x):
    return aten.native_batch_norm(x, t.g, t.b, t.rm, t.rv, True, MOMENTUM, EPS)


def bn_backward(t, x, dy):
    return aten.native_batch_norm_backward(dy, x, t.g, t.rm, t.rv, t.mean, t.invstd, True, EPS, [True, True, True])


BN_FWD = Op(
    make=bn_make, expected=bn_expected("fwd"), result=lambda t, r: r[0],
    variants={
        "aten.native_batch_norm (NCHW)": lambda t: bn_forward(t, t.x),
        "aten.native_batch_norm (channels-last)": lambda t: bn_forward(t, t.cl.x),
    })
BN_RELU_FWD = Op(
    make=bn_make, expected=bn_expected("relu"), result=lambda t, r: r,
    variants={
        "native_batch_norm + relu_ (NCHW)": lambda t: torch.relu_(bn_forward(t, t.x)[0]),
        "native_batch_norm + relu_ (channels-last)": lambda t: torch.relu_(bn_forward(t, t.cl.x)[0]),
    })
BN_BWD = Op(
    make=bn_make, expected=bn_expected("bwd"), result=lambda t, r: r[0],
    variants={
        "aten.native_batch_norm_backward (NCHW)": lambda t: bn_backward(t, t.x, t.dy),
        "aten.native_batch_norm_backward (channels-last)": lambda t: bn_backward(t, t.cl.x, t.cl.dy),
    })

OPS = {
    "conv2d_fwd": conv_op("fwd"),
    "conv2d_bwd_data": conv_op("bwd_data"),
    "conv2d_bwd_weight": conv_op("bwd_weight"),
    "max_pool2d_fwd": POOL_FWD,
    "max_pool2d_bwd": POOL_BWD,
    "global_avg_pool_fwd": GAP_FWD,
    "batch_norm_fwd": BN_FWD,
    "batch_norm_relu_fwd": BN_RELU_FWD,
    "batch_norm_bwd": BN_BWD,
}

if __name__ == "__main__":
    serve(OPS)
