"""Timing and memory helpers shared by every system's worker."""
import math
import resource
import statistics
import time

perf = time.perf_counter


class Skip(Exception):
    """This system (or metric) cannot run here; the message says why."""


def maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak():
    """Resets the kernel's peak-RSS mark of this process (VmHWM; Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mb():
    """VmHWM: the peak RSS since the process started or since reset_peak()."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def measure(fn, budget_s, min_reps=3, max_reps=50, group_s=2e-3, long_s=30.0):
    """Median time of fn() (which must block until its work is done).

    The first call is timed on its own and reported as `first_s` (for a
    compiler it includes compilation); a second call is warm-up and gives an
    estimate t. Calls faster than `group_s` are grouped (each sample is the
    mean of `inner` back-to-back calls, so timer overhead stays < 0.1 %).
    Then `reps` samples, as many as fit into `budget_s` but at least
    `min_reps` (at least 1 when a single call takes longer than `long_s`)
    and at most `max_reps`; the median is reported, with min and max."""
    t0 = perf()
    fn()
    first = perf() - t0
    t0 = perf()
    fn()
    est = perf() - t0
    inner = 1 if est >= group_s else int(math.ceil(group_s / max(est, 1e-9)))
    inner = min(inner, 100000)
    unit = est * inner
    want = int(budget_s / max(unit, 1e-9))
    floor = min_reps if unit <= long_s else 1
    reps = max(floor, min(max_reps, want))
    samples = []
    for _ in range(reps):
        t0 = perf()
        for _ in range(inner):
            fn()
        samples.append((perf() - t0) / inner)
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples),
            "reps": reps, "inner": inner, "first_s": first}


def measure_runs(fn, budget_s, min_reps=3, max_reps=10, long_s=30.0, before=None):
    """For long operations (an epoch): no warm-up call here (the caller warms
    up), at least `min_reps` runs unless one run exceeds `long_s`, then as
    many as fit in `budget_s` (at least one)."""
    samples = []
    start = perf()
    while True:
        if before:
            before()  # not timed (e.g. restoring the initial weights)
        t0 = perf()
        fn()
        samples.append(perf() - t0)
        spent = perf() - start
        n = len(samples)
        if n >= max_reps:
            break
        if samples[0] > long_s:
            if spent + samples[0] > budget_s:
                break
        elif n >= min_reps and spent + statistics.median(samples) > budget_s:
            break
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples),
            "reps": len(samples), "inner": 1, "first_s": samples[0]}
