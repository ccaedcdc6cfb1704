"""The timing helpers every bench module shares: a call rate, interleaved medians, a table row."""

import os
import statistics
import threading
import time


def calls_per_second(fn, seconds, batch=1, clock=time.perf_counter):
    """How many calls of fn() run per second of clock (wall time; time.process_time for CPU
    time), timed for at least `seconds`, in batches of `batch`."""
    n, start = 0, clock()
    while True:
        for _ in range(batch):
            fn()
        n += batch
        el = clock() - start
        if el >= seconds:
            return n / el


def interleaved(a, b, runs, measure=lambda f: f()):
    """The medians of measure(a) and measure(b) over `runs` runs taken in turn, so that both
    figures of a ratio are measured under the same machine load.  A measure may give a tuple
    of figures: then each place has its median."""
    xa, xb = [], []
    for _ in range(runs):
        xa.append(measure(a))
        xb.append(measure(b))
    return _median(xa), _median(xb)


def _median(xs):
    """The median of figures, or of each place of tuples of figures."""
    if isinstance(xs[0], tuple):
        return tuple(statistics.median(c) for c in zip(*xs))
    return statistics.median(xs)


def row(name, ours, peer_name, peer, fmt, target, higher_is_better=True):
    """A row of bench/run.py's table: ratio = ours / peer, checked against target (a minimum
    when higher is better, else a maximum; None: a figure shown for information)."""
    ratio = ours / peer
    if target is None:
        return (name, fmt(ours), peer_name, fmt(peer), "%.2f" % ratio, "-", "-")
    met = ratio >= target if higher_is_better else ratio <= target
    return (name, fmt(ours), peer_name, fmt(peer), "%.2f" % ratio,
            "%s %.2f" % (">=" if higher_is_better else "<=", target), "yes" if met else "NO")


def print_table(rows):
    """Print rows under the table's heading, in columns."""
    head = ("benchmark", "M2Sec", "peer", "peer value", "ratio", "target", "met")
    widths = [max(len(str(r[i])) for r in list(rows) + [head]) for i in range(len(head))]
    line = "  ".join("%-*s" % (w, h) for w, h in zip(widths, head))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join("%-*s" % (w, v) for w, v in zip(widths, r)))


def _threads(make, n, count):
    """Calls per wall second of n threads each running make()() count times, and the CPUs the
    process had meanwhile (CPU time / wall time: a share-limited machine shows it here)."""
    fns = [make() for _ in range(n)]

    def loop(f):
        for _ in range(count):  # each result dropped at once (a list of them would page-fault)
            f()
    ts = [threading.Thread(target=loop, args=(f,)) for f in fns]
    start, cpu = time.perf_counter(), time.process_time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - start
    return n * count / wall, (time.process_time() - cpu) / wall


def two_threads_row(name, make, size, count, runs):
    """Two threads against one, wall time, `runs` runs taken in turn: (median ratio, the CPUs
    the process had while two threads ran, the table row).  make() gives one thread's call of
    `size` bytes, run `count` times.  Each long call releases the GIL, so two threads on two
    free cores do about twice the work; below 1.8 CPUs had, the machine was busy and the row
    says nothing about scaling."""
    one, two, cpus = [], [], []
    for _ in range(runs):
        one.append(_threads(make, 1, count)[0])
        rate, used = _threads(make, 2, count)
        two.append(rate)
        cpus.append(used)
    rs = [x / y for x, y in zip(two, one)]
    r, had = statistics.median(rs), statistics.median(cpus)
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        ncpu = os.cpu_count() or 1
    return r, had, ("%s, 2 threads (had %.1f CPUs)" % (name, had), "%.0f MB/s" % (statistics.median(two) * size / 1e6),
                    "1 thread", "%.0f MB/s" % (statistics.median(one) * size / 1e6),
                    "%.2f (%.2f-%.2f)" % (r, min(rs), max(rs)), ">= 1.8 (%d CPUs)" % ncpu,
                    ("yes" if r >= 1.8 else "NO") + ("" if had >= 1.8 else " (busy: %.1f CPUs)" % had))
