"""results.json -> results.md: per example and metric, every system's median
and its ratio to Kiln (peer time / Kiln time: > 1 means Kiln is faster)."""
import re

LABEL = {"kiln": "Kiln", "torch_eager": "PyTorch eager", "torch_compile": "torch.compile",
         "torch_jit": "PyTorch jit+oneDNN", "keras": "TF/Keras", "jax": "JAX/XLA", "iree": "IREE",
         "ort": "ONNX Runtime"}
COMPILERS = ("torch_compile", "keras", "jax", "iree")


def t(s):
    if s is None:
        return "—"
    if s < 1e-3:
        return "%.3g µs" % (s * 1e6)
    if s < 1:
        return "%.3g ms" % (s * 1e3)
    return "%.3g s" % s


def num(x):
    if x >= 1e6:
        return "%.3gM" % (x / 1e6)
    if x >= 1e4:
        return "%.0fk" % (x / 1e3)
    if x >= 100:
        return "%.0f" % x
    return "%.3g" % x


def ratio(peer, kiln):
    if peer is None or not kiln:
        return ""
    r = peer / kiln
    return " (×%.3g)" % r if r < 100 else " (×%.0f)" % r


def metric(r, key):
    if not r or r.get("skipped"):
        return None
    m = r.get("metrics", {}).get(key)
    return m["median_s"] if m else None


def why(r, key):
    if not r:
        return "—"
    if r.get("skipped"):
        return "skipped"
    if key in r.get("skips", {}):
        return "n/a"
    if key in r.get("errors", {}):
        return "error"
    return "—"


def compile_time(E, s):
    r = E["systems"].get(s)
    if s == "kiln":
        c = E.get("kiln_compile", {}).get("train_b32")
        return c["median_s"] if c else None
    if s not in COMPILERS or not r or r.get("skipped"):
        return None
    m = r.get("metrics", {}).get("train_b32")
    return m.get("compile_s") if m else None


def kiln_check(E, tol=1e-3):
    """Compares Kiln's first-step loss and predict checksum with the peers' (their
    median). Returns a list of disagreements (empty: Kiln computes what they do)."""
    import statistics
    bad = []
    for key, get in (("loss of the first b32 step", lambda c: c.get("train_b32_loss1")),
                     ("weighted sum of predict b64 outputs", lambda c: (c.get("predict_b64") or {}).get("wsum"))):
        k = get(E["systems"].get("kiln", {}).get("checks", {}))
        peers = [get(r.get("checks", {})) for s, r in E["systems"].items() if s != "kiln" and not r.get("skipped")]
        peers = [p for p in peers if p is not None]
        if k is None or not peers:
            continue
        ref = statistics.median(peers)
        if not (abs(k - ref) <= tol * max(1.0, abs(ref))):  # also catches NaN
            bad.append("%s: Kiln %.6g, peers %.6g" % (key, k, ref))
    return bad


def markdown(res, note=""):
    cfg, mach, peak = res["config"], res["machine"], res.get("peak") or {}
    P = peak.get("machine")
    systems = [s for s in cfg["systems"]]
    out = []
    w = out.append
    w("# Kiln benchmark, %s%s" % (res["date"], " (--quick)" if cfg["quick"] else ""))
    w("")
    w("- Machine: %s, %s cores%s, %s; %s" % (
        mach.get("model"), mach.get("cores"), " (%s VM)" % mach["hypervisor"] if mach.get("hypervisor") else "",
        "+".join(f for f in ("avx2", "fma") if mach.get(f)).upper() + (", AVX-512" if mach.get("avx512f") else ", no AVX-512"),
        res["machine"].get("platform", "")))
    if peak:
        nc = peak.get("cores", 1)
        w("- fp32 FMA peak: **%.1f GFLOP/s per core** measured (%s), so **%.0f GFLOP/s for the machine's %d cores**: "
          "the %% of peak figures below are of this machine peak (a system on one thread can reach 1/%d of it). "
          "Measured with %d threads at once: %s GFLOP/s." % (
              peak["per_core"], peak.get("method", ""), P, nc, nc, nc,
              "%.1f" % peak["gflops_%d" % nc] if peak.get("gflops_%d" % nc) else "?"))
    w("- Threads: %d for every system (Kiln: `KILN_NUM_THREADS`, its model's pool runs the GEMMs, "
      "convolutions and large generated loops). Peers run with `%s`." % (cfg["threads"], cfg["malloc_for_peers"]))
    w("- Each figure is the median of repeated runs after a warm-up (at least %d; budget %.1f s per "
      "measurement; steps faster than 2 ms are timed in groups). Load average at start %.2f, at end %.2f." % (
          cfg["min_reps"], cfg["budget_s"], res["load_average_at_start"][0], res["load_average_at_end"][0]))
    w("- Peak memory: \"peak RSS, training at bN\" is the process's resident-set peak (VmHWM, reset after the "
      "first, compiling call) over the timed steps: the steady state of a training loop, framework and runtime "
      "included. \"whole process\" adds imports, compilation and every other measurement of that process.")
    if res["load_average_at_start"][0] > 0.5:
        w("- **Warning: load average %.2f at the start**: other processes ran on this machine during the run, "
          "which lowers every figure, the measured FMA peak included." % res["load_average_at_start"][0])
    if peak and peak.get("contended"):
        w("- **Warning: the cores were shared during this run** (%s); multi-threaded peers suffer most." % peak["contended"])
    w("- Ratios in brackets: peer time / Kiln time, **> 1 means Kiln is faster**, < 1 means the peer is.")
    w("- Kiln: %s, commit %s. Run took %.0f min." % (res["kiln_version"], mach.get("kiln_commit", "?"), res["wall_s"] / 60))
    if note:
        w("- " + note)
    if res.get("kiln_rebuilt_during_run"):
        w("- **Warning: Kiln's build changed during this run** (%s at the start, %s at the end): examples "
          "compiled before and after the change ran different code." % (res["kiln_build"]["start"], res["kiln_build"]["end"]))
    elif res.get("kiln_build"):
        w("- Kiln build used: %s." % "; ".join("`%s` %s" % kv for kv in res["kiln_build"]["start"].items()))
    w("")
    # versions and skips
    first = {}
    for E in res["examples"].values():
        for s, r in E["systems"].items():
            if s not in first or (first[s].get("skipped") and not r.get("skipped")):
                first[s] = r
    w("| system | version | configuration |")
    w("|---|---|---|")
    for s in systems:
        r = first.get(s, {})
        if r.get("skipped"):
            w("| %s | — | skipped: %s |" % (LABEL[s], r["skipped"].replace("|", "/")[:300]))
        else:
            notes = "; ".join(dict.fromkeys(r.get("notes", [])))
            notes = re.sub(r"\b1 (threads|workers)\b", lambda m: "1 " + m.group(1)[:-1], notes)
            w("| %s | %s | %s |" % (LABEL[s], r.get("version", "?"), notes.replace("|", "/")))
    w("")
    common = {}
    for E in res["examples"].values():
        for s, r in E["systems"].items():
            for k, v in r.get("skips", {}).items():
                if v.startswith("not measured"):
                    common.setdefault((s, v), []).append(k.replace("predict_", "predict ").replace("train_", "train "))
    for (s, v), keys in common.items():
        w("- %s, %s: %s." % (LABEL[s], "/".join(sorted(set(keys))), v))
    if common:
        w("")
    live = [s for s in systems if not first.get(s, {}).get("skipped")]
    tb = cfg["train_batches"]
    main_b = 64 if 64 in tb else tb[0]

    def summary(title, key, fmt_fn, systems_):
        w("### " + title)
        w("")
        w("| example | " + " | ".join(LABEL[s] for s in systems_) + " |")
        w("|---|" + "---|" * len(systems_))
        for ex, E in res["examples"].items():
            k = fmt_fn(E, "kiln")
            row = []
            for s in systems_:
                v = fmt_fn(E, s)
                row.append((t(v) + ("" if s == "kiln" else ratio(v, k))) if v is not None else why(E["systems"].get(s), key))
            w("| %s%s | %s |" % (ex, " (Kiln WRONG)" if kiln_check(E) else "", " | ".join(row)))
        w("")

    w("## Summary")
    w("")
    summary("Train step at batch %d (time per step)" % main_b, "train_b%d" % main_b,
            lambda E, s: metric(E["systems"].get(s), "train_b%d" % main_b), [s for s in live if s not in ("torch_jit", "ort")])
    summary("Predict latency at batch 1", "predict_b1", lambda E, s: metric(E["systems"].get(s), "predict_b1"),
            [s for s in live if s != "torch_compile"])
    summary("Compile time with the training step (batch 32)", "train_b32", compile_time,
            [s for s in live if s == "kiln" or s in COMPILERS])

    for ex, E in res["examples"].items():
        fl = E["flops_per_sample"]
        w("## %s" % ex)
        w("")
        if E.get("error"):
            w("Kiln failed: %s" % E["error"])
            w("")
            continue
        w("FLOPs per sample (convolutions and matrix products, analytic): train step %s, predict %s." % (
            num(fl["train"]), num(fl["predict"])))
        w("")
        bad = kiln_check(E)
        if bad:
            w("**Kiln's results are wrong here: its outputs disagree with every peer's (%s). Its timings "
              "below are of wrong code.**" % "; ".join(bad))
            w("")
        cols = [s for s in live if s in E["systems"]]
        w("| metric | " + " | ".join(LABEL[s] for s in cols) + " |")
        w("|---|" + "---|" * len(cols))
        R = {s: E["systems"].get(s) for s in cols}

        def row(label, fn, with_ratio=True):
            k = fn("kiln")
            cells = []
            for s in cols:
                v = fn(s)
                if v is None:
                    cells.append(why(R[s], label_key[0]))
                else:
                    cells.append(v if isinstance(v, str) else (t(v) + (ratio(v, k) if with_ratio and s != "kiln" else "")))
            w("| %s | %s |" % (label, " | ".join(cells)))
        label_key = ["train_b32"]
        row("compile, train step b32", lambda s: compile_time(E, s) if (s == "kiln" or s in COMPILERS) else None)
        for b in tb:
            key = "train_b%d" % b
            label_key[0] = key
            row("train step b%d" % b, lambda s: metric(R[s], key))
            row("&nbsp;&nbsp;samples/s", lambda s: None if metric(R[s], key) is None else num(b / metric(R[s], key)))
            row("&nbsp;&nbsp;GFLOP/s (% of peak)", lambda s: None if metric(R[s], key) is None else
                "%.3g (%.2g %%)" % (fl["train"] * b / metric(R[s], key) / 1e9,
                                   100 * fl["train"] * b / metric(R[s], key) / 1e9 / P if P else float("nan")))
        for b in cfg["predict_batches"]:
            key = "predict_b%d" % b
            label_key[0] = key
            if b == 1:
                row("predict b1 latency", lambda s: metric(R[s], key))
            else:
                row("predict b%d time" % b, lambda s: metric(R[s], key))
                row("&nbsp;&nbsp;samples/s", lambda s: None if metric(R[s], key) is None else num(b / metric(R[s], key)))
                row("&nbsp;&nbsp;GFLOP/s (% of peak)", lambda s: None if metric(R[s], key) is None else
                    "%.3g (%.2g %%)" % (fl["predict"] * b / metric(R[s], key) / 1e9,
                                       100 * fl["predict"] * b / metric(R[s], key) / 1e9 / P if P else float("nan")))
        if any(metric(R[s], "epoch") for s in cols):
            label_key[0] = "epoch"
            em = next(r["metrics"]["epoch"] for r in R.values() if metric(r, "epoch"))
            row("epoch, %s MNIST digits, b%d" % (format(em["samples"], ","), em.get("batch", 64)),
                lambda s: metric(R[s], "epoch"))
            row("&nbsp;&nbsp;accuracy on 2,000 held-out digits", lambda s: None if not R[s] or R[s].get("skipped")
                or "epoch_test_accuracy" not in R[s].get("checks", {}) else "%.2f %%" % (100 * R[s]["checks"]["epoch_test_accuracy"]))
        def mpeak(s, key):
            r = R.get(s)
            if not r or r.get("skipped"):
                return None
            return r.get("metrics", {}).get(key, {}).get("peak_rss_mb")
        for key, label in (("train_b%d" % main_b, "peak RSS, training at b%d" % main_b), ("predict_b64", "peak RSS, predict at b64")):
            label_key[0] = key
            kr = mpeak("kiln", key)
            row(label, lambda s: None if mpeak(s, key) is None else
                "%.0f MB%s" % (mpeak(s, key), ratio(mpeak(s, key), kr) if s != "kiln" else ""))
        label_key[0] = ""
        kr = R["kiln"].get("process_peak_rss_mb") if R.get("kiln") else None
        row("peak RSS, whole process", lambda s: None if not R[s] or R[s].get("skipped") else
            "%.0f MB%s" % (R[s]["process_peak_rss_mb"], ratio(R[s]["process_peak_rss_mb"], kr) if s != "kiln" else ""))
        row("&nbsp;&nbsp;RSS after imports", lambda s: None if not R[s] or "rss_after_import_mb" not in R[s] else
            "%.0f MB" % R[s]["rss_after_import_mb"])
        row("check: loss of the first b32 step", lambda s: None if not R[s] or "train_b32_loss1" not in R[s].get("checks", {})
            else "%.6g" % R[s]["checks"]["train_b32_loss1"])
        row("check: weighted sum of predict b64 outputs", lambda s: None if not R[s] or "predict_b64" not in R[s].get("checks", {})
            else "%.6g" % R[s]["checks"]["predict_b64"]["wsum"])
        w("")
        errs = []
        for s in cols:
            r = R[s] or {}
            for k, v in r.get("errors", {}).items():
                errs.append("%s %s: error: %s" % (LABEL[s], k, v))
            for k, v in r.get("skips", {}).items():
                if v not in ("predict only", "inference only") and not v.startswith("not measured"):
                    errs.append("%s %s: %s" % (LABEL[s], k, v))
        ep = [E["systems"][s]["metrics"]["epoch"]["reps"] for s in cols if metric(R[s], "epoch")]
        if ep:
            errs.append("epoch: median of %s runs per system (a run of over 30 s is repeated only while the budget lasts)" %
                        "/".join(str(x) for x in ep))
        kc = E.get("kiln_compile", {})
        if kc:
            errs.append("Kiln compile: " + "; ".join("`%s` %.3g s (%d run%s, kilnc peak RSS %.0f MB)" % (
                c["command"], c["median_s"], c["reps"], "s" if c["reps"] > 1 else "", c["peak_rss_mb"]) for c in kc.values()))
        if E.get("kiln_initial_weights_same_in_every_artifact") is False:
            errs.append("Kiln's artifacts hold different initial weights; every system was given those of the b32 artifact")
        for e in errs:
            w("- " + e)
        if errs:
            w("")
    return "\n".join(out) + "\n"


BEGIN, END = "<!-- bench-results:begin -->", "<!-- bench-results:end -->"


def update_docs(path, md, where):
    """Replaces the text between the markers in docs/performance.md with `md`."""
    text = open(path).read()
    body = md.replace("# Kiln benchmark,", "### Latest run:", 1)
    body = re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", body, flags=re.M)
    body = body.replace("##### Latest run:", "### Latest run:", 1)
    new = "%s\n<!-- generated by bench/run.py --update-docs from %s/results.json -->\n\n%s\n%s" % (BEGIN, where, body, END)
    if BEGIN in text and END in text:
        text = text[:text.index(BEGIN)] + new + text[text.index(END) + len(END):]
    else:
        text += "\n" + new + "\n"
    open(path, "w").write(text)
