"""Shared by the peer scripts: the line protocol with bench/peer.ts, and the timing policy of
bench/harness.ts implemented the same way (warm-up, calibration, samples, median, IQR/median).
Change both or neither.

Protocol, one JSON object per line on stdin, one reply per line on stdout:
  {"cmd": "config", "threads": N, "policy": {...}}        -> {"torch", "python", "threads", "capability"}
  {"cmd": "case", "name", "op", "params": {...}}           -> {"case", "variant", "stats", "candidates", "rejected"}
                                                              or {"case", "error"}
  {"cmd": "peak_rss", "name", "op", "params", "variant"}   -> {"case", "peak_rss"} or {"case", "error"}
The script exits at end of input. Cases come from the TypeScript suite: names and sizes are
never written here.
"""
import json
import math
import os
import subprocess
import sys
import time
import traceback

import torch


def _now():
    return time.perf_counter_ns()


def _time_batch(fn, iters):
    """Nanoseconds taken by `iters` back-to-back calls."""
    t0 = _now()
    for _ in range(iters):
        fn()
    return _now() - t0


def quantile(s, q):
    """Linear interpolation between closest ranks, on a sorted list (as harness.ts)."""
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def summarize(per_call, iters):
    s = sorted(per_call)
    median, p25, p75 = quantile(s, 0.5), quantile(s, 0.25), quantile(s, 0.75)
    return {
        "median": median, "p25": p25, "p75": p75, "min": s[0], "max": s[-1],
        "spread": (p75 - p25) / median if median > 0 else 0.0,
        "samples": len(s), "iters": iters,
    }


def measure(fn, policy):
    """Seconds per call of fn, under the same policy as measure() in harness.ts."""
    ms = 1_000_000
    warm_end = _now() + policy["warmupMs"] * ms
    calls = 0
    while calls < 2 or _now() < warm_end:
        fn()
        calls += 1

    sample_ns = policy["sampleMs"] * ms
    iters = 1
    while True:
        t = _time_batch(fn, iters)
        if t >= sample_ns:
            break
        iters = max(iters + 1, math.ceil(iters * min(10, 1.2 * sample_ns / max(t, 1))))

    per_call, total = [], 0
    while len(per_call) < policy["maxSamples"] and (
        len(per_call) < policy["minSamples"] or total < policy["minTimeMs"] * ms
    ):
        t = _time_batch(fn, iters)
        total += t
        per_call.append(t / iters / 1e9)
    return summarize(per_call, iters)


def check(got, expected, magnitude, rtol=1e-5):
    """None if |got - expected| <= rtol * magnitude + 1e-6 everywhere, else why not. magnitude is
    the size of the terms (|x| for maps, the sum of |terms| for reductions), so the rounding of a
    float32 result passes and a float32 accumulation that drifts (a naive dot product) does not."""
    got = torch.as_tensor(got, dtype=torch.float64)
    diff = (got - expected).abs()
    excess = diff - (rtol * magnitude + 1e-6)
    if bool((excess <= 0).all()):
        return None
    i = int(excess.argmax()) if excess.dim() > 0 else 0
    g, e = got.reshape(-1)[i].item(), torch.as_tensor(expected).reshape(-1)[i].item()
    return f"off by {abs(g - e):.3g} at index {i} ({g!r} vs {e!r} in float64)"


class Only:
    """A variant that exists for some cases only: skipped (not timed, not listed) where
    applies(t) is false, e.g. oneDNN's linear where B is not a layer's weight."""

    def __init__(self, applies, fn):
        self.applies, self.fn = applies, fn


class Op:
    """A PyTorch equivalent of one of our ops.

    make(params) -> namespace of tensors, allocated once and reused by every call;
    expected(t) -> (float64 result, magnitude), computed before the first call; None when there
    is no single answer to check (a training step);
    result(t, returned) -> what to compare: the returned value or an output tensor;
    variants: {"readable expression": fn(t)}. Every variant is checked against `expected` (one
    that is too inaccurate is rejected, with the reason), then timed; the fastest is reported, so
    PyTorch always gets its best honest equivalent.
    """

    def __init__(self, make, expected, result, variants):
        self.make, self.expected, self.result, self.variants = make, expected, result, variants


def _reset_peak_rss():
    """Resets Linux's VmHWM (peak RSS), as bench/memory.ts does on our side."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _current_rss():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _start_extra():
    """Resets the peak and returns the resident size it is measured from."""
    _reset_peak_rss()
    return _current_rss() or 0


def _peak_rss():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _run_case(ops, msg, policy):
    op = ops.get(msg["op"])
    if op is None:
        return {"case": msg["name"], "error": f"no PyTorch equivalent for op {msg['op']!r} in this peer script"}
    best, candidates, rejected = None, {}, {}
    for name, fn in op.variants.items():
        t = op.make(msg["params"])
        if isinstance(fn, Only):
            if not fn.applies(t):
                continue
            fn = fn.fn
        extra = msg.get("memory") == "extra"  # what the calls add above the inputs: bench/runner.ts
        if op.expected is None:  # nothing to compare (a training step): just run it once first
            base = _start_extra() if extra else 0
            fn(t)
            why = None
        else:
            expected, magnitude = op.expected(t)
            base = _start_extra() if extra else 0  # after the float64 expectation, before the first call
            why = check(op.result(t, fn(t)), expected, magnitude)
        if why is not None:
            # Not an honest equivalent at this size: fast only because it is less accurate.
            rejected[name] = why
            continue
        stats = measure(lambda: fn(t), policy)
        if extra:
            stats = dict(stats, extra_rss=max(0, (_peak_rss() or 0) - base))
        candidates[name] = stats["median"]
        if best is None or stats["median"] < best[1]["median"]:
            best = (name, stats)
        del t  # frees this variant's buffers before the next one allocates its own
    if best is None:
        return {"case": msg["name"], "error": f"no variant computes {msg['op']} accurately: {rejected}"}
    reply = {"case": msg["name"], "variant": best[0], "stats": best[1], "candidates": candidates, "rejected": rejected}
    if msg.get("memory") == "extra":
        reply["peak_rss"] = best[1].pop("extra_rss")
    # memory: true (a whole training step) is asked for afterwards, with "peak_rss" (_fresh_peak_rss)
    return reply


def _fresh_peak_rss(msg, threads, policy):
    """The peak resident memory of ONE variant (the chosen one), each in a fresh process.

    Measured in this long-lived process, a case's peak would be the maximum over every variant it
    tried (NCHW, then channels-last, ...): with the raised glibc thresholds (bench/peer.ts) what an
    earlier variant freed stays resident, and resetting VmHWM only brings the mark down to that.
    A fresh Python (the same script and environment, so the same thresholds and thread count)
    imports torch, builds the case, runs the variant for the warm-up and reports VmHWM: torch's
    own footprint plus this variant's, as our side's figure is Node's plus the case's. It runs
    after the timing, outside the CPU-noise window (bench/runner.ts asks for it separately)."""
    job = dict(msg, threads=threads, policy=policy)
    r = subprocess.run([sys.executable, os.path.abspath(sys.argv[0]), "--peak-rss"], input=json.dumps(job) + "\n",
                       capture_output=True, text=True, env=os.environ, timeout=600)
    if r.returncode != 0:
        return {"case": msg["name"], "error": f"peak_rss child exited {r.returncode}: {r.stderr.strip()[-500:]}"}
    return dict(json.loads(r.stdout.strip().splitlines()[-1]), case=msg["name"])


def _peak_rss_child(ops):
    """--peak-rss: one variant of one case in this fresh process; prints {"peak_rss"}."""
    job = json.loads(sys.stdin.readline())
    torch.set_num_threads(job["threads"])
    op = ops[job["op"]]
    fn = op.variants[job["variant"]]
    fn = fn.fn if isinstance(fn, Only) else fn
    t = op.make(job["params"])
    # the warm-up of measure() (at least 5 calls): a training step's allocations are all made by
    # its second or third call, and the caching allocators keep them from then on
    ms = 1_000_000
    warm_end = _now() + job["policy"]["warmupMs"] * ms
    calls = 0
    while calls < 5 or _now() < warm_end:
        fn(t)
        calls += 1
    print(json.dumps({"peak_rss": _peak_rss(), "calls": calls}), flush=True)


def _capability():
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def serve(ops):
    """Answers the requests of bench/peer.ts until end of input."""
    if "--peak-rss" in sys.argv:
        _peak_rss_child(ops)
        return
    policy = None
    for line in iter(sys.stdin.readline, ""):
        msg = json.loads(line)
        if msg["cmd"] == "config":
            # Once, before any tensor work: set later, oneDNN keeps running crippled (TOOLCHAIN.md 9).
            torch.set_num_threads(msg["threads"])
            policy = msg["policy"]
            reply = {"torch": torch.__version__, "python": sys.executable,
                     "threads": torch.get_num_threads(), "capability": _capability()}
        elif msg["cmd"] in ("case", "peak_rss"):
            try:
                reply = _run_case(ops, msg, policy) if msg["cmd"] == "case" else _fresh_peak_rss(msg, torch.get_num_threads(), policy)
            except Exception as e:  # one broken case should not lose the rest of the run
                traceback.print_exc()
                reply = {"case": msg["name"], "error": f"{type(e).__name__}: {e}"}
        else:
            reply = {"error": f"unknown cmd {msg['cmd']!r}"}
        print(json.dumps(reply), flush=True)
