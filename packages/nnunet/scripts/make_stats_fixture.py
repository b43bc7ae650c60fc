#!/usr/bin/python3
"""NumPy's own float32 statistics for deterministic arrays (the fingerprint's stats must match).

    /usr/bin/python3 packages/nnunet/scripts/make_stats_fixture.py
Array k of length n has values float32(((i * 7919 + k) % 1000) / 7 - 40) for i < n.
"""
import json
import os

import numpy as np

out = {"numpy": np.__version__, "cases": []}
for k, n in enumerate([5, 100, 129, 8192, 9000, 30000, 100003]):
    i = np.arange(n, dtype=np.int64)
    a = (((i * 7919 + k) % 1000) / 7 - 40).astype(np.float32)
    out["cases"].append({
        "k": k, "n": n,
        "sum": float(np.sum(a)), "mean": float(np.mean(a)), "std": float(np.std(a)),
        "median": float(np.median(a)),
        "p99_5": float(np.percentile(a, 99.5)), "p00_5": float(np.percentile(a, 0.5)),
    })
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "numpy_stats.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
