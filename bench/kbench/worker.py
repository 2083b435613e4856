"""Runs one system on one example in this process and writes its results as
JSON. Started by bench/run.py, one process per (system, example), so that
frameworks do not disturb each other and peak memory is the process's own:

    python -m kbench.worker SYSTEM CONFIG.json OUT.json
"""
import importlib
import json
import sys
import traceback

import numpy as np

from .common import Skip, maxrss_mb, measure, measure_runs, peak_mb, perf, reset_peak, rss_mb
from .models import load_mnist

MODULES = {"kiln": "sys_kiln", "torch_eager": "sys_torch", "torch_compile": "sys_torch",
           "torch_jit": "sys_torch", "keras": "sys_keras", "jax": "sys_jax", "iree": "sys_iree",
           "ort": "sys_ort"}


def short(e):
    s = "%s: %s" % (type(e).__name__, e)
    s = " ".join(s.split())
    return s[:400]


def run(system, cfg):
    res = {"system": system, "example": cfg["example"], "metrics": {}, "errors": {}, "skips": {},
           "notes": [], "checks": {}, "rss_after": {}}
    t_start = perf()
    try:
        mod = importlib.import_module("kbench." + MODULES[system])
        S = mod.make(system, cfg)
    except Skip as e:
        res["skipped"] = str(e)
        return res
    except Exception as e:
        res["skipped"] = "could not start: " + short(e)
        res["traceback"] = traceback.format_exc()[-2000:]
        return res
    res["version"] = S.version
    res["notes"] += S.notes
    res["rss_after_import_mb"] = rss_mb()
    weights = dict(np.load(cfg["weights"]))
    data = np.load(cfg["data"])
    try:
        S.build(weights)
    except Skip as e:
        res["skipped"] = str(e)
        return res
    except Exception as e:
        res["skipped"] = "could not build the model: " + short(e)
        res["traceback"] = traceback.format_exc()[-2000:]
        return res
    res["rss_after_build_mb"] = rss_mb()
    budget, min_reps = cfg["budget_s"], cfg["min_reps"]

    def attempt(key, body):
        try:
            body()
        except Skip as e:
            res["skips"][key] = str(e)
        except Exception as e:
            res["errors"][key] = short(e)
            res.setdefault("tracebacks", {})[key] = traceback.format_exc()[-3000:]
            print("%s/%s %s: %s" % (system, cfg["example"], key, short(e)), file=sys.stderr)

    # Predict first, on the initial weights (its outputs are compared across systems).
    for b in cfg["predict_batches"]:
        def body(b=b):
            fn, out = S.predict_fn(data["px_b%d" % b])
            t0 = perf()
            fn()
            first = perf() - t0
            y = np.asarray(out(), dtype=np.float64).ravel()
            # a weighted sum: a plain one is 1 per row for softmax outputs
            wsum = float(np.dot(y, np.linspace(1.0, 2.0, y.size)))
            res["checks"]["predict_b%d" % b] = {"wsum": wsum, "head": y[:4].tolist()}
            reset_peak()  # steady-state peak: after the first (compiling) call
            m = measure(fn, budget, min_reps)
            m["peak_rss_mb"] = peak_mb()
            m["first_s"] = first
            res["metrics"]["predict_b%d" % b] = m
            res["rss_after"]["predict_b%d" % b] = rss_mb()
        attempt("predict_b%d" % b, body)

    for b in cfg["train_batches"]:
        def body(b=b):
            S.reset()
            fn, loss = S.train_fn(data["x_b%d" % b], data["y_b%d" % b])
            t0 = perf()
            fn()
            first = perf() - t0
            res["checks"]["train_b%d_loss1" % b] = float(loss())
            reset_peak()
            m = measure(fn, budget, min_reps)
            m["peak_rss_mb"] = peak_mb()
            m["first_s"] = first
            key = "train_b%d" % b
            if key in getattr(S, "compile_s", {}):
                m["compile_s"] = S.compile_s[key]  # compiled ahead of the first call (IREE)
            else:
                m["compile_s"] = max(first - m["median_s"], 0.0)  # first call minus a warm one
            res["metrics"][key] = m
            res["rss_after"][key] = rss_mb()
        attempt("train_b%d" % b, body)

    if cfg.get("epoch"):
        def body():
            ep = cfg["epoch"]
            x, y = load_mnist(ep["data"])
            xt, yt = x[:ep["train"]], y[:ep["train"]]
            xv, yv = x[ep["train"]:], y[ep["train"]:]
            S.prepare_epoch(xt, yt, ep["batch"])
            # Warm-up on 10 batches (compilation, first-touch), then timed epochs,
            # each from the initial weights and a fresh optimizer.
            S.reset()
            warm = min(10, len(xt) // ep["batch"] // 2) * ep["batch"]
            S.epoch(xt[:warm], yt[:warm], ep["batch"], seed=99, warmup=True)
            seeds = iter(range(1, 1000))
            m = measure_runs(lambda: S.epoch(xt, yt, ep["batch"], seed=next(seeds)),
                             ep["budget_s"], ep.get("min_reps", min_reps), max_reps=ep.get("max_reps", 5),
                             long_s=ep["long_s"], before=S.reset)
            m["samples"] = len(xt)
            m["batch"] = ep["batch"]
            res["metrics"]["epoch"] = m
            res["rss_after"]["epoch"] = rss_mb()
            try:
                res["checks"]["epoch_test_accuracy"] = float(S.accuracy(xv, yv))
            except Skip:
                pass
        attempt("epoch", body)

    res["notes"] = list(dict.fromkeys(res["notes"] + S.notes))  # systems add notes as they go
    res["peak_rss_mb"] = maxrss_mb()
    res["wall_s"] = perf() - t_start
    return res


def main():
    system, cfg_path, out_path = sys.argv[1:4]
    cfg = json.load(open(cfg_path))
    res = run(system, cfg)
    json.dump(res, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
