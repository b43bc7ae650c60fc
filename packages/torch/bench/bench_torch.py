"""PyTorch reference side of `npm run bench` (driven by bench/bench.ts).

The workloads mirror bench.ts exactly: float32, weights requiring grad, input not requiring grad.

  conv_a / conv_b   conv3d(C -> C, 3x3x3, padding 1, bias) -> instance norm (affine, no running
                    stats) -> leaky ReLU(0.01); loss = sum; backward (grads reset to None first).
                    One repetition = one forward + backward, reported in ms.
  add_overhead      x.add(y) on 1-element tensors, the result freed at once; one repetition =
                    --ops calls, reported in microseconds per call.

Modes:
  --serve           read JSON requests {"workload": W, "count": K} on stdin, one per line, run K
                    repetitions of W and answer {"times": [...]} on stdout; the first line out is
                    {"ready": true, ...}. bench.ts uses this to interleave repetitions with its own.
  --workload W      run --warmup + --reps repetitions of W on its own and print one JSON object.

Exit status 3 (with {"error": "no-torch", ...} on stdout) when torch cannot be imported.
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError as e:  # depends on the machine
    print(json.dumps({"error": "no-torch", "message": str(e)}), flush=True)
    sys.exit(3)

# name -> (batch, channels, spatial edge)
CONV_WORKLOADS = {
    "conv_a": (2, 32, 64),
    "conv_b": (2, 320, 8),
}
WORKLOADS = [*CONV_WORKLOADS, "add_overhead"]


def make_conv(name):
    n, c, s = CONV_WORKLOADS[name]
    torch.manual_seed(0)
    conv = nn.Conv3d(c, c, 3, padding=1)  # bias=True, like the Node side's Conv
    norm = nn.InstanceNorm3d(c, affine=True)  # no running stats, like the Node side's InstanceNorm
    act = nn.LeakyReLU(0.01)  # not in place, like the Node side
    params = list(conv.parameters()) + list(norm.parameters())
    x = torch.randn(n, c, s, s, s)  # float32, requires_grad=False

    def rep():
        for p in params:
            p.grad = None
        y = act(norm(conv(x)))
        y.sum().backward()

    return rep, "ms", 1.0


def make_add(ops):
    x = torch.ones(1)
    y = torch.ones(1)

    def rep():
        for _ in range(ops):
            x.add(y)  # the result is freed at once (its refcount drops to zero)

    return rep, "us", 1e3 / ops


def make(name, ops):
    return make_add(ops) if name == "add_overhead" else make_conv(name)


def timed(rep, scale, count):
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        rep()
        times.append((time.perf_counter() - t0) * 1e3 * scale)
    return times


def info():
    return {
        "torch_version": torch.__version__,
        "python_version": sys.version.split()[0],
        "threads": torch.get_num_threads(),
    }


def serve(ops):
    print(json.dumps({"ready": True, **info()}), flush=True)
    current = None  # (name, rep, unit, scale); only the latest workload's tensors stay alive
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        name = req["workload"]
        if name not in WORKLOADS:
            print(json.dumps({"error": f"unknown workload {name}"}), flush=True)
            continue
        if current is None or current[0] != name:
            current = None  # free the previous workload's tensors before allocating the next
            current = (name, *make(name, ops))
        _, rep, unit, scale = current
        print(json.dumps({"unit": unit, "times": timed(rep, scale, int(req["count"]))}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--serve", action="store_true")
    mode.add_argument("--workload", choices=WORKLOADS)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--ops", type=int, default=50000)
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    if a.serve:
        serve(a.ops)
        return
    rep, unit, scale = make(a.workload, a.ops)
    timed(rep, scale, a.warmup)
    times = timed(rep, scale, a.reps)
    med = statistics.median(times)
    print(json.dumps({"workload": a.workload, "unit": unit, "median": med, "times": times, **info()}))


if __name__ == "__main__":
    main()
