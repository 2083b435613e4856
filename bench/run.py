#!/usr/bin/env python3
"""bench/run.py: Kiln against its peers, side by side, in one run.

    bench/setup-peers.sh                      # once, optional: the peers into bench/.venv
    bench/.venv/bin/python bench/run.py       # everything (~20-30 min on 2 cores)
    bench/.venv/bin/python bench/run.py --quick            # smoke test, < 5 min
    bench/.venv/bin/python bench/run.py --only mnist_cnn --systems kiln,torch_eager

On a GPU (docs/gpu.md): compile here, where kilnc runs, then measure there:
    python3 bench/run.py --prepare gpu-bundle/kbins             # kilnc --target=cpu,cuda, every example
    python3 bench/run.py --device cuda --kbins-from gpu-bundle/kbins --runtime .../libkiln_runtime.so

For each of the six seed programs (examples/*.kiln): compile time with the
training step, train-step time at batch 32 / 64 / 256, predict latency at
batch 1 and throughput at batch 64, one MNIST CNN epoch on 8,000 real digits,
peak memory; for Kiln and every peer that imports from bench/.venv. Results:
<out>/<date>/results.json and results.md (docs/performance.md explains them).
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

try:
    import numpy as np
except ImportError:  # run under the benchmark's venv when started with another python
    venv_py = os.path.join(HERE, ".venv", "bin", "python")
    if os.path.exists(venv_py) and os.path.realpath(sys.executable) != os.path.realpath(venv_py):
        os.execv(venv_py, [venv_py] + sys.argv)
    sys.exit("bench/run.py needs numpy: run bench/setup-peers.sh (or bench/setup-peers.sh numpy) first")

sys.path.insert(0, HERE)
from kbench import kiln_rt, models, report  # noqa: E402

SYSTEMS = ["kiln", "torch_eager", "torch_compile", "torch_jit", "keras", "jax", "iree", "ort"]
MALLOC = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184"


def log(*a):
    print(time.strftime("[%H:%M:%S]"), *a, file=sys.stderr, flush=True)


def run_child(cmd, env=None, timeout=None, stdout=None, stderr=None, cwd=None):
    """Runs a child; returns (returncode, wall seconds, peak RSS in MB of that child)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=stdout, stderr=stderr, cwd=cwd)
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            p.returncode = os.waitstatus_to_exitcode(status)
            break
        if timeout and time.perf_counter() - t0 > timeout:
            p.kill()
            pid, status, ru = os.wait4(p.pid, 0)
            p.returncode = -9
            break
        time.sleep(0.05)
    return p.returncode, time.perf_counter() - t0, ru.ru_maxrss / 1024.0


# ---- the machine ---------------------------------------------------------------------------

def machine_info():
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        kv = dict(re.findall(r"^([^:]+):\s+(.*)$", out, re.M))
        flags = kv.get("Flags", "").split()
        info.update({"model": kv.get("Model name", "?"), "cores": int(kv.get("CPU(s)", os.cpu_count())),
                     "hypervisor": kv.get("Hypervisor vendor"), "l2": kv.get("L2 cache"),
                     "l3": kv.get("L3 cache"), "avx2": "avx2" in flags, "fma": "fma" in flags,
                     "avx512f": "avx512f" in flags, "max_mhz": kv.get("CPU max MHz")})
    except OSError:
        pass
    try:
        info["kiln_commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                             capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            info["kiln_commit"] += " (+ local changes)"
    except OSError:
        pass
    return info


# The artifacts --prepare writes and a --kbins-from (GPU) run reads: <example>_<name>.kbin with
# these batch sizes (train 64 and 256, predict 1 and 64), CUDA code for sm_90 only (H100 / H200;
# three architectures would not fit the device tool's 64 MiB of carried files).
KBINS = {"b64_1": [64, 1], "b256": [256]}


def prepare(args):
    """--prepare DIR: the examples' .kbin files (--only, default all) with CPU code for any x86-64-v3
    CPU and CUDA code, for a run on a machine where kilnc cannot run (the GPU machine)."""
    os.makedirs(args.prepare, exist_ok=True)
    examples = [e for e in (args.only.split(",") if args.only else models.ORDER) if e]
    for ex in examples:
        for name, sizes in KBINS.items():
            out = os.path.join(args.prepare, "%s_%s.kbin" % (ex, name))
            cmd = [args.kilnc, os.path.join(ROOT, "examples", ex + ".kiln"),
                   "--batch-size=" + ",".join(map(str, sizes)), "--target=cpu,cuda", "--gpu-arch=sm_90",
                   "--cpu=x86-64-v3", "-o", out]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            log("%s: %.1f s" % (" ".join(cmd[1:]), time.perf_counter() - t0))


def measure_peak(threads, work, runs):
    """Best of `runs` runs of bench/peak_fma.c at 1 and at `threads` threads."""
    exe = os.path.join(work, "peak_fma")
    src = os.path.join(HERE, "peak_fma.c")
    for cc in ("cc", "clang", "gcc"):
        if shutil.which(cc) and subprocess.run([cc, "-O2", "-mavx2", "-mfma", "-pthread", src, "-o", exe],
                                               capture_output=True).returncode == 0:
            break
    else:
        return None
    res = {"method": "bench/peak_fma.c: 12 independent chains of AVX2 FMAs per thread, best of %d runs of 0.06 s" % runs}
    for n in sorted({1, threads}):
        best = []
        for _ in range(runs):
            out = subprocess.run([exe, str(n), "30000000"], capture_output=True, text=True).stdout
            try:
                best.append(float(out.strip()))
            except ValueError:
                pass
        res["gflops_%d" % n] = max(best) if best else None
        res["runs_%d" % n] = best
    one = res.get("gflops_1") or 0
    res["per_core"] = one
    # The machine's peak: the best single-core figure times the cores used. (Measured
    # with all threads at once it comes out lower whenever anything else runs.)
    res["machine"] = one * threads
    res["cores"] = threads
    many = res.get("gflops_%d" % threads)
    if threads > 1 and many and many < 0.75 * one * threads:
        res["contended"] = ("%d threads of FMAs reached %.0f GFLOP/s, %.0f %% of %d x one core's %.0f: "
                            "other processes hold the cores" % (threads, many, 100 * many / (one * threads),
                                                                threads, one))
    return res


# ---- Kiln: compile and the initial weights -------------------------------------------------

def fingerprint(paths):
    """mtime and size of each file: a Kiln rebuilt during a run shows here."""
    out = {}
    for p in paths:
        try:
            st = os.stat(p)
            out[os.path.relpath(p, ROOT)] = "%s, %d bytes" % (
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(st.st_mtime)), st.st_size)
        except OSError:
            out[os.path.relpath(p, ROOT)] = "missing"
    return out


def kiln_producer(lib, kbin):
    """The artifact's producer string ("kilnc 0.1"): kilnc --version prints LLVM's version."""
    m = kiln_rt.Model(kiln_rt.Runtime(lib), kbin)
    try:
        return m.producer() or "kilnc"
    finally:
        m.free()


def compile_kiln(kilnc, example, sizes, out, reps, budget):
    """Times `kilnc example --batch-size=sizes -o out` (median of reps runs, at least
    `reps`, more while the budget lasts, at most 5)."""
    src = os.path.join(ROOT, "examples", example + ".kiln")
    cmd = [kilnc, src, "--batch-size=" + ",".join(str(s) for s in sizes), "-o", out]
    times, rss = [], []
    start = time.perf_counter()
    while True:
        rc, t, m = run_child(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if rc != 0:
            raise RuntimeError("kilnc failed (%d): %s" % (rc, " ".join(cmd)))
        times.append(t)
        rss.append(m)
        spent = time.perf_counter() - start
        if len(times) >= 5 or (len(times) >= reps and spent + statistics.median(times) > budget):
            break
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "reps": len(times), "peak_rss_mb": max(rss), "command": "kilnc examples/%s.kiln --batch-size=%s"
            % (example, ",".join(str(s) for s in sizes))}


def initial_weights(lib, kbins, example):
    """Kiln's initial parameters (the weights every peer starts from) and whether
    every artifact holds the same ones."""
    rt = kiln_rt.Runtime(lib)
    weights, same = None, True
    for path in kbins:
        m = kiln_rt.Model(rt, path)
        w = {name: m.get_param(name, shape, dt) for name, shape, dt, trainable, state in m.params() if not state}
        m.free()
        if weights is None:
            weights = w
        elif any(not np.array_equal(weights[k], w[k]) for k in weights):
            same = False
    want = models.param_shapes(example)
    got = {k: tuple(v.shape) for k, v in weights.items()}
    if got != {k: tuple(v) for k, v in want.items()}:
        raise RuntimeError("%s: Kiln's parameters %s differ from the harness's model %s" % (example, got, want))
    return weights, same


# ---- main -------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke test: batch 32, mnist_cnn + linear_regression, "
                    "few repetitions, a short epoch (< 5 min)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for every peer (default: all cores)")
    ap.add_argument("--only", default="", help="comma-separated examples (default: all six)")
    ap.add_argument("--systems", default="", help="comma-separated subset of: " + ",".join(SYSTEMS))
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="results go to OUT/<date>/")
    ap.add_argument("--budget", type=float, default=None, help="seconds per measurement (default 4; --quick 1.5)")
    ap.add_argument("--min-reps", type=int, default=3)
    ap.add_argument("--peak-per-core", type=float, default=None, metavar="GFLOPS",
                    help="use this fp32 FMA peak per core instead of the measured one (e.g. one measured on a quiet machine)")
    ap.add_argument("--epoch-samples", type=int, default=None, help="MNIST digits per epoch (default 8000; --quick 640, at batch 32)")
    ap.add_argument("--kilnc", default=os.path.join(ROOT, "build", "bin", "kilnc"))
    ap.add_argument("--runtime", default=os.path.join(ROOT, "build", "runtime", "libkiln_runtime.so"))
    ap.add_argument("--python", default=sys.executable, help="python that runs the workers (default: this one)")
    ap.add_argument("--timeout", type=float, default=1500, help="seconds before a worker is killed")
    ap.add_argument("--keep-work", action="store_true", help="keep the .kbin / data / ONNX files")
    ap.add_argument("--update-docs", action="store_true", help="also replace the table in docs/performance.md")
    ap.add_argument("--note", default="", help="a line to print under the table (e.g. what else ran)")
    ap.add_argument("--report-only", metavar="RESULTS.json", help="only rewrite results.md (and, with "
                    "--update-docs, docs/performance.md) from an earlier run's results.json")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda: Kiln (kiln_model_set_device), PyTorch and "
                    "JAX on the GPU; Keras, ONNX Runtime and IREE are not run")
    ap.add_argument("--prepare", metavar="DIR", help="only compile every example's .kbin files (with CUDA code, "
                    "for x86-64-v3) into DIR, for a --kbins-from run on a machine without kilnc")
    ap.add_argument("--kbins-from", metavar="DIR", help="use the .kbin files --prepare wrote instead of compiling")
    args = ap.parse_args()

    if args.prepare:
        prepare(args)
        return
    if args.report_only:
        res = json.load(open(args.report_only))
        outdir = os.path.dirname(os.path.abspath(args.report_only))
        md = report.markdown(res, note=args.note or res.get("note", ""))
        open(os.path.join(outdir, "results.md"), "w").write(md)
        if args.update_docs:
            report.update_docs(os.path.join(ROOT, "docs", "performance.md"), md, os.path.relpath(outdir, ROOT))
        print(md)
        return

    quick = args.quick
    examples = [e for e in (args.only.split(",") if args.only else
                            (["mnist_cnn", "linear_regression"] if quick else models.ORDER)) if e]
    for e in examples:
        if e not in models.EXAMPLES:
            ap.error("unknown example %r (known: %s)" % (e, ", ".join(models.ORDER)))
    gpu = args.device != "cpu"
    default_systems = ["kiln", "torch_eager", "torch_compile", "jax"] if gpu else SYSTEMS
    systems = [s for s in (args.systems.split(",") if args.systems else default_systems) if s]
    for s in systems:
        if s not in SYSTEMS:
            ap.error("unknown system %r (known: %s)" % (s, ", ".join(SYSTEMS)))
    if "kiln" not in systems:
        systems.insert(0, "kiln")
    if "ort" in systems and "torch_eager" not in systems:
        log("note: ort uses the ONNX files torch_eager exports; adding torch_eager")
        systems.insert(systems.index("ort"), "torch_eager")
    systems.sort(key=SYSTEMS.index)
    train_batches = ([64] if gpu else [32]) if quick else ([64, 256] if gpu else [32, 64, 256])
    predict_batches = [1, 64]
    budget = args.budget or (1.5 if quick else 4.0)
    epoch_samples = args.epoch_samples or (640 if quick else 8000)
    epoch_batch = 32 if quick and not gpu else 64  # --quick: the batch already compiled
    for tool in ([args.runtime] if args.kbins_from else [args.kilnc, args.runtime]):
        if not os.path.exists(tool):
            sys.exit("missing %s: build Kiln first (scripts/build.sh)" % tool)

    date = datetime.date.today().isoformat()
    outdir = os.path.join(args.out, date + ("-" + args.device.replace(":", "") if gpu else "") + ("-quick" if quick else ""))  # a smoke test keeps the full run's files
    os.makedirs(outdir, exist_ok=True)
    work = os.path.join(outdir, "work") if args.keep_work else tempfile.mkdtemp(prefix="kiln-bench-")
    os.makedirs(work, exist_ok=True)
    onnx_dir = os.path.join(work, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    t_all = time.perf_counter()

    # One Kiln for the whole run: the runtime is copied (kilnc is run from the build, since it
    # links build/kernels/cpu/libkiln_kernels_cpu.a by path); the build's files are
    # fingerprinted at the start and the end, and a change is reported.
    kiln_files = [os.path.realpath(args.runtime)] + ([] if args.kbins_from else [
        args.kilnc, os.path.join(ROOT, "build", "kernels", "cpu", "libkiln_kernels_cpu.a")])
    fp_start = fingerprint(kiln_files)
    runtime_copy = os.path.join(work, "libkiln_runtime.so")
    shutil.copy(os.path.realpath(args.runtime), runtime_copy)
    args.runtime = runtime_copy
    machine = machine_info()
    load = os.getloadavg()
    log("machine: %s, %s cores; load average %.2f" % (machine.get("model"), machine.get("cores"), load[0]))
    peak = None if gpu else measure_peak(os.cpu_count() or 1, work, 20)  # the CPU's FMA peak
    if peak and args.peak_per_core:
        peak["measured_per_core"] = peak["per_core"]
        peak["per_core"] = args.peak_per_core
        peak["machine"] = args.peak_per_core * peak["cores"]
        peak["method"] = "given with --peak-per-core (measured here: %.1f)" % peak["measured_per_core"]
    if load[0] > 0.5:
        log("WARNING: load average %.2f at the start: other processes are running, and every figure "
            "(the FMA peak too) is lowered by them" % load[0])
    if peak:
        log("fp32 FMA peak: %.1f GFLOP/s on 1 core, so %.1f on %d cores" % (peak["per_core"], peak["machine"], peak["cores"]))
        if peak.get("contended"):
            log("WARNING: %s; multi-threaded peers will be distorted%s" % (
                peak["contended"], " (try --threads 1)" if args.threads > 1 else ""))
    peers_file = os.path.join(HERE, ".venv", "peers.json")
    peers = json.load(open(peers_file)) if os.path.exists(peers_file) else {}

    results = {"date": date, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine, "peak": peak,
               "load_average_at_start": load, "peers_installed": peers,
               "config": {"quick": quick, "threads": args.threads, "train_batches": train_batches,
                          "predict_batches": predict_batches, "budget_s": budget, "min_reps": args.min_reps,
                          "epoch_samples": epoch_samples, "systems": systems, "examples": examples,
                          "malloc_for_peers": "GLIBC_TUNABLES=" + MALLOC,
                          "python": sys.executable, "device": args.device,
                          "kbins_from": args.kbins_from},
               "kiln_version": "kilnc", "examples": {}}

    env_base = dict(os.environ)
    n = str(args.threads)
    env_base.update({"KILN_NUM_THREADS": n, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n, "OPENBLAS_NUM_THREADS": n,
                     "TF_CPP_MIN_LOG_LEVEL": "2", "KERAS_BACKEND": "tensorflow",
                     "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=" + n,
                     "TORCHINDUCTOR_CACHE_DIR": os.path.join(work, "inductor-cache"),
                     "TORCHINDUCTOR_FX_GRAPH_CACHE": "0", "TORCHINDUCTOR_AUTOGRAD_CACHE": "0",
                     "PYTHONPATH": HERE + os.pathsep + env_base.get("PYTHONPATH", ""),
                     "PYTHONDONTWRITEBYTECODE": "1",
                     # JAX on the device measured (it would take a GPU whenever it finds one)
                     "JAX_PLATFORMS": "cuda" if gpu else "cpu"})
    env_base.pop("GLIBC_TUNABLES", None)

    for ex in examples:
        log("== %s" % ex)
        E = results["examples"][ex] = {"flops_per_sample": models.flops(ex), "systems": {}}
        # Kiln: compile (timed), one artifact per batch size so each has its own timing.
        kb = {}
        kb[32] = os.path.join(work, "%s_b32.kbin" % ex)
        comp = {}
        if args.kbins_from:
            kb = {name: os.path.join(args.kbins_from, "%s_%s.kbin" % (ex, name)) for name in KBINS}
            missing = [p for p in kb.values() if not os.path.exists(p)]
            if missing:
                log("error: missing %s (bench/run.py --prepare)" % ", ".join(missing))
                E["error"] = "missing prepared .kbin files"
                continue
        try:
            if args.kbins_from:
                raise StopIteration  # compiled elsewhere: nothing to time here
            comp["train_b32"] = compile_kiln(args.kilnc, ex, [32], kb[32], 1 if quick else 3, 25 if quick else 45)
            log("kilnc %s --batch-size=32: %.2f s (median of %d)" % (ex, comp["train_b32"]["median_s"], comp["train_b32"]["reps"]))
            extra = [[64, 1]] + ([] if quick else [[256]])
            for sizes in extra:
                key = "b" + "_".join(map(str, sizes))
                kb[key] = os.path.join(work, "%s_%s.kbin" % (ex, key))
                comp[key] = compile_kiln(args.kilnc, ex, sizes, kb[key], 1, 0)
                log("kilnc %s --batch-size=%s: %.2f s" % (ex, ",".join(map(str, sizes)), comp[key]["median_s"]))
        except StopIteration:
            pass
        except Exception as e:
            log("error: %s" % e)
            E["error"] = str(e)
            continue
        E["kiln_compile"] = comp
        kbins = list(kb.values())
        try:
            results["kiln_version"] = kiln_producer(args.runtime, next(iter(kb.values())))
            weights, same = initial_weights(args.runtime, kbins, ex)
        except Exception as e:
            log("error: %s" % e)
            E["error"] = str(e)
            continue
        E["kiln_initial_weights_same_in_every_artifact"] = same
        wpath = os.path.join(work, ex + "_weights.npz")
        np.savez(wpath, **weights)
        data = {}
        for b in train_batches:
            data["x_b%d" % b], data["y_b%d" % b] = models.make_batch(ex, b, seed=1000 + b)
        for b in predict_batches:
            data["px_b%d" % b], _ = models.make_batch(ex, b, seed=2000 + b)
        dpath = os.path.join(work, ex + "_data.npz")
        np.savez(dpath, **data)
        epoch = None
        if ex == "mnist_cnn":
            mnist = os.path.join(ROOT, "data", "mnist-10k")
            if os.path.isdir(mnist):
                epoch = {"data": mnist, "train": epoch_samples, "batch": epoch_batch,
                         "budget_s": 20 if quick else 40, "long_s": 30.0, "max_reps": 5, "min_reps": 1 if quick else args.min_reps}
            else:
                E["epoch_skipped"] = "no data/mnist-10k"

        for s in systems:
            cfg = {"example": ex, "threads": args.threads, "weights": wpath, "data": dpath,
                   "train_batches": train_batches, "predict_batches": predict_batches,
                   "budget_s": budget, "min_reps": args.min_reps, "epoch": epoch, "onnx_dir": onnx_dir,
                   "kbins": kbins, "kiln_lib": args.runtime, "kiln_version": results["kiln_version"],
                   "device": args.device}
            if s in ("torch_jit", "ort"):
                cfg["train_batches"], cfg["epoch"] = [], None
            cpath = os.path.join(work, "%s_%s.json" % (ex, s))
            rpath = os.path.join(work, "%s_%s.result.json" % (ex, s))
            json.dump(cfg, open(cpath, "w"))
            env = dict(env_base)
            if s != "kiln":
                env["GLIBC_TUNABLES"] = MALLOC
            logf = open(os.path.join(work, "%s_%s.log" % (ex, s)), "w")
            rc, wall, rss = run_child([args.python, "-m", "kbench.worker", s, cpath, rpath], env=env,
                                      timeout=args.timeout, stdout=logf, stderr=subprocess.STDOUT, cwd=HERE)
            logf.close()
            if os.path.exists(rpath):
                r = json.load(open(rpath))
            else:
                tail = open(os.path.join(work, "%s_%s.log" % (ex, s))).read()[-1500:]
                r = {"system": s, "skipped": "worker died (exit %d after %.0f s): %s" % (rc, wall, " ".join(tail.split())[-400:])}
            r["process_peak_rss_mb"] = rss
            r["process_wall_s"] = wall
            E["systems"][s] = r
            if r.get("skipped"):
                log("%-13s skipped: %s" % (s, r["skipped"][:200]))
            else:
                got = ", ".join("%s %.4g s" % (k, v["median_s"]) for k, v in r["metrics"].items())
                log("%-13s %.0f s, %.0f MB: %s%s" % (s, wall, rss, got,
                                                   ("; errors: " + "; ".join(r["errors"])) if r.get("errors") else ""))

        bad = report.kiln_check(E)
        if bad:
            log("WARNING: %s: Kiln's outputs disagree with the peers': %s" % (ex, "; ".join(bad)))

    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    results["note"] = args.note
    fp_end = fingerprint(kiln_files)
    results["kiln_build"] = {"start": fp_start, "end": fp_end}
    if fp_end != fp_start:
        results["kiln_rebuilt_during_run"] = True
        log("WARNING: Kiln's build changed during this run: %s -> %s" % (fp_start, fp_end))
    logs = os.path.join(outdir, "logs")  # the workers' output, for errors and skips
    os.makedirs(logs, exist_ok=True)
    for f in os.listdir(work):
        if f.endswith(".log"):
            shutil.copy(os.path.join(work, f), logs)
    results["wall_s"] = time.perf_counter() - t_all
    results["load_average_at_end"] = os.getloadavg()
    jpath = os.path.join(outdir, "results.json")
    json.dump(results, open(jpath, "w"), indent=1)
    md = report.markdown(results, note=args.note)
    open(os.path.join(outdir, "results.md"), "w").write(md)
    if args.update_docs:
        report.update_docs(os.path.join(ROOT, "docs", "performance.md"), md, os.path.relpath(outdir, ROOT))
    if not args.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    print(md)
    log("wrote %s and results.md (%.0f s in all)" % (jpath, results["wall_s"]))


if __name__ == "__main__":
    main()
