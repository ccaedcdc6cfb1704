"""The timing helpers every bench module shares: a call rate, interleaved medians, a table row."""

import statistics
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
