"""Tidy result records shared by the benchmark scripts.

One record per figure (``benchmarks/README.md``)::

    {"task", "dataset", "method", "params", "metric", "mean", "std", "n", "unit", "device", "command",
     "per_seed"}

``method`` is a canonical name (``IGExplainer``, ``IsingSegmenter``, ``ISING+MAG``, ...), ``params`` the
configuration as a dict, ``per_seed`` the value of every seed (``{"0": v0, "1": v1}``). ``mean``, ``std``
(ddof 1, ``None`` for one seed) and ``n`` are computed from ``per_seed``, so runs of single seeds in
separate processes merge into the same record: :func:`merge` replaces the values of the seeds it is given
and keeps the others.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import tempfile
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
FIELDS = ("task", "dataset", "method", "params", "metric", "mean", "std", "n", "unit", "device", "command")


def summarize(values):
    """``(mean, std, n)`` of a list of numbers (``std`` with ddof 1, ``None`` below two values)."""
    v = [float(x) for x in values]
    n = len(v)
    mean = sum(v) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1)) if n > 1 else None
    return mean, std, n


def record(task, dataset, method, params, metric, per_seed, unit, device, command):
    """One tidy record; ``per_seed`` maps a seed (int or str) to its value."""
    per_seed = {str(k): float(v) for k, v in per_seed.items()}
    mean, std, n = summarize(per_seed.values())
    return {"task": task, "dataset": dataset, "method": method, "params": dict(params), "metric": metric,
            "mean": mean, "std": std, "n": n, "unit": unit, "device": device, "command": command,
            "per_seed": per_seed}


def key(rec):
    return (rec["task"], rec["dataset"], rec["method"], json.dumps(rec["params"], sort_keys=True), rec["metric"])


def seeds_of(rec):
    return sorted(int(s) for s in rec["per_seed"])


@contextmanager
def _locked(path):
    # the lock file lives outside the tree and is never removed (removing it would let two
    # processes hold locks on different files)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"skising-bench-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def merge(path, new_records, command_for=None):
    """Merge ``new_records`` into the JSON list at ``path`` and return the whole list.

    A record with the same task, dataset, method, params and metric as a stored one replaces the stored
    values of its seeds; ``command_for(rec)``, when given, rewrites ``command`` for the merged seeds.
    Safe against concurrent runs of the same benchmark (file lock).
    """
    path = Path(path)
    with _locked(path):
        old = json.loads(path.read_text()) if path.exists() else []
        index = {key(r): i for i, r in enumerate(old)}
        for rec in new_records:
            k = key(rec)
            if k in index:
                kept = old[index[k]]
                per_seed = {**kept.get("per_seed", {}), **rec["per_seed"]}
                merged = dict(rec, per_seed=dict(sorted(per_seed.items(), key=lambda kv: int(kv[0]))))
                merged["mean"], merged["std"], merged["n"] = summarize(merged["per_seed"].values())
                old[index[k]] = merged
            else:
                index[k] = len(old)
                old.append(rec)
        if command_for is not None:
            for rec in old:
                rec["command"] = command_for(rec)
        path.write_text(json.dumps(old, indent=1) + "\n")
    return old


def fmt(rec, digits=3):
    """``mean ± std`` of a record (``mean`` alone for one seed, blank for ``None``)."""
    if rec is None:
        return ""
    s = f"{rec['mean']:.{digits}g}"
    return s + (f" ± {rec['std']:.2g}" if rec.get("std") is not None else "")
