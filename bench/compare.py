#!/usr/bin/env python3
"""matcalc against SymPy on the shared suite (bench/suite.tsv), side by side.

What is timed. SymPy's `.diff` on matrix expressions, in two modes:

- cold: SymPy's cache is cleared before every timed call;
- warm: the cache is kept (one untimed call per case first), and every
  timed call differentiates an expression built from fresh symbols (new
  names, built outside the timed region), so that the cache cannot simply
  hand back the answer of the previous call.

matcalc's REPL, kept open with `:time on`, is fed the same gradients on
stdin; its time runs from the line to the printed result (parsing, shapes,
differentiation, simplification and printing), so it covers more than
SymPy's `.diff` alone. matcalc keeps no answers between statements.

How. For each case, in ROUNDS alternating blocks (the order of the three
blocks rotating from round to round): up to SYMPY_RUNS cold SymPy runs
within SYMPY_BLOCK seconds, as many warm ones, and MATCALC_REPEATS matcalc
runs back to back. The machine's speed drifts from second to second, so
the three sample the same stretches of time. The whole suite is run PASSES
times (a fresh REPL each pass); each pass gives its own median ratio, and
the report gives their range. For each case and side both the best and
the median run are reported, over the samples of all passes.

Right or wrong. Both answers are evaluated at two random points with the
suite's shapes, with no symmetry imposed on any matrix (square ones are
diagonally dominant, so invertible with a positive determinant, but not
symmetric), against a complex-step derivative of the function (exact to
rounding, no step-size error); each entry must agree within 1e-7 of
itself plus 1e-9 of the largest. SymPy's answer is evaluated by a small
NumPy walk over its expression tree, array expressions included (a 4-D
answer such as the (4, 5, 1, 1) one for `a^T X b` is compared after
dropping its axes of length one); matcalc's through its own NumPy output
(`--format numpy`).

Usage (from bench/run-compare, which sets up the environment):
    python compare.py [--passes N] path/to/matcalc
Prints a Markdown report on stdout, progress on stderr.
"""

import argparse
import inspect
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import sympy as sp
from sympy.core.cache import clear_cache
from sympy.tensor.array.expressions import (
    ArrayAdd,
    ArrayContraction,
    ArrayDiagonal,
    ArrayTensorProduct,
    PermuteDims,
)

HERE = os.path.dirname(os.path.abspath(__file__))
PASSES = 3  # full passes over the suite, for the range of the headline ratio
ROUNDS = 6  # alternating blocks of each side per case and pass
SYMPY_BLOCK = 0.25  # seconds of SymPy runs per block (at least one run)
SYMPY_RUNS = 4  # at most, per block and mode
MATCALC_REPEATS = 25  # matcalc runs per block, back to back
SEEDS = (7, 8)  # the random points an answer is checked at
RTOL, ATOL = 1e-7, 1e-9  # per entry: RTOL of the entry + ATOL of the largest


def progress(*a):
    print(*a, file=sys.stderr, flush=True)


def read_suite():
    cases = []
    with open(os.path.join(HERE, "suite.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, expr, wrt, sym, shapes = line.rstrip("\n").split("\t")
            dims = {}
            for s in shapes.split():
                n, rc = s.split("=")
                r, c = rc.split("x")
                dims[n] = (int(r), int(c))
            cases.append(dict(name=name, expr=expr, wrt=wrt, sympy=sym, dims=dims))
    return cases


def trace_chain_case(k):
    dims = {f"A{i}": (5, 4) for i in range(1, k + 1)}
    dims["X"] = (4, 5)
    return dict(
        name=f"k = {k}",
        expr="tr(" + " ".join(f"A{i} X" for i in range(1, k + 1)) + ")",
        wrt="X",
        sympy="Trace(" + "*".join(f"A{i}*X" for i in range(1, k + 1)) + ")",
        dims=dims,
    )


def declarations(dims):
    return ", ".join(f"{n}: {r}" if c == 1 else f"{n}: {r} x {c}" for n, (r, c) in dims.items())


# ----- numeric checking -----


def random_point(dims, seed):
    """Values for every name. No matrix is made symmetric (the suite
    declares no symmetric variable), so an answer that confuses A with A^T
    is caught; square ones get r on the diagonal, so they are invertible
    with a positive determinant (Gershgorin) and well conditioned."""
    rng = np.random.default_rng(seed)
    point = {}
    for n, (r, c) in dims.items():
        m = rng.uniform(-1, 1, (r, c))
        if r == c and r > 1:
            m = m + r * np.eye(r)
        point[n] = m
    return point


def scalar(v):
    v = np.asarray(v)
    if v.size != 1:
        raise ValueError(f"the function's value has shape {v.shape}, not a scalar")
    return v.reshape(-1)[0]


def complex_step_gradient(f, point, wrt, h=1e-30):
    """The gradient of the scalar f at `point`, by complex steps: the
    derivative along e_ij is Im f(x + i h e_ij) / h, with no subtraction
    and so no step-size trade-off (every function in the suite is
    analytic, and transposes do not conjugate)."""
    x = point[wrt].astype(complex)
    g = np.zeros(x.shape)
    for idx in np.ndindex(*x.shape):
        xp = x.copy()
        xp[idx] += 1j * h
        g[idx] = scalar(f(dict(point, **{wrt: xp}))).imag / h
    return g


def agrees(g, reference):
    """Whether g is the reference gradient, entry by entry. Axes of length
    one are dropped from both (a (4, 5, 1, 1) array is the 4 x 5 matrix);
    a scalar stands for a matrix full of it; otherwise the shapes must
    match."""
    g = np.asarray(g)
    if np.iscomplexobj(g):
        return False
    g = g.astype(float)
    ref = reference.reshape([d for d in reference.shape if d != 1])
    if g.ndim == 0:
        g = np.full(ref.shape, float(g))
    g = g.reshape([d for d in g.shape if d != 1])
    if g.shape != ref.shape:
        return False
    tol = RTOL * np.abs(ref) + ATOL * max(1.0, float(np.max(np.abs(ref), initial=0.0)))
    return bool(np.all(np.isfinite(g)) and np.all(np.abs(g - ref) <= tol))


# ----- SymPy -----


def sympy_function(case, suffix=""):
    """The case's function in SymPy, over symbols named `name + suffix`,
    and the variable."""
    symbols = {n: sp.MatrixSymbol(n + suffix, r, c) for n, (r, c) in case["dims"].items()}
    ns = dict(symbols, Trace=sp.Trace, Determinant=sp.Determinant, log=sp.log)
    return eval(case["sympy"], ns), symbols[case["wrt"]]


class SympyTimer:
    """SymPy's `.diff` for one case, cold or warm."""

    def __init__(self, case):
        self.case = case
        self.f, self.v = sympy_function(case)
        self.fresh = 0
        self.warmed = False

    def cold(self):
        """Wall time, this thread's CPU time, the answer."""
        f, v = self.f, self.v
        clear_cache()
        c, t = time.thread_time(), time.perf_counter()
        result = f.diff(v)
        return time.perf_counter() - t, time.thread_time() - c, result

    def warm(self):
        if not self.warmed:  # one untimed call, so the cache is warm
            self.warmed = True
            self.warm()
        self.fresh += 1
        f, v = sympy_function(self.case, f"_{self.fresh}")
        c, t = time.thread_time(), time.perf_counter()
        f.diff(v)
        return time.perf_counter() - t, time.thread_time() - c, None


def outer(*args):
    out = args[0]
    for a in args[1:]:
        out = np.multiply.outer(out, a)
    return out


def npeval(e, point):
    """The value of a SymPy matrix or array expression at `point` (names to
    arrays), with NumPy; raises on anything it does not know (no answer)."""
    if isinstance(e, sp.MatrixSymbol):
        return point[e.name]
    if isinstance(e, sp.ZeroMatrix):
        return np.zeros(e.shape, dtype=float)
    if isinstance(e, sp.Identity):
        return np.eye(int(e.shape[0]))
    if e.is_Number:
        return float(e)
    args = [npeval(a, point) for a in e.args if not isinstance(e, (PermuteDims, ArrayContraction, ArrayDiagonal))]
    if isinstance(e, sp.MatMul) or isinstance(e, sp.Mul):
        out = args[0]
        for a in args[1:]:
            out = out * a if np.ndim(out) == 0 or np.ndim(a) == 0 else out @ a
        return out
    if isinstance(e, (sp.MatAdd, sp.Add, ArrayAdd)):
        return sum(args[1:], args[0])
    if isinstance(e, sp.Transpose):
        return np.transpose(args[0])
    if isinstance(e, sp.Inverse):
        return np.linalg.inv(args[0])
    if isinstance(e, sp.MatPow):
        return np.linalg.matrix_power(args[0], int(e.args[1]))
    if isinstance(e, sp.Pow):
        return np.power(args[0], args[1])
    if isinstance(e, sp.Trace):
        return np.trace(args[0])
    if isinstance(e, sp.Determinant):
        return np.linalg.det(args[0])
    if isinstance(e, sp.log):
        return np.log(args[0])
    if isinstance(e, ArrayTensorProduct):
        return outer(*args)
    if isinstance(e, PermuteDims):
        return np.transpose(npeval(e.expr, point), e.permutation.array_form)
    if isinstance(e, ArrayContraction):
        a = np.asarray(npeval(e.expr, point))
        letters = list(range(a.ndim))
        for group in e.contraction_indices:
            for i in group:
                letters[i] = group[0]
        contracted = {i for group in e.contraction_indices for i in group}
        out = [letters[i] for i in range(a.ndim) if i not in contracted]
        return np.einsum(a, letters, out)
    if isinstance(e, ArrayDiagonal):
        # the diagonal axes go to the end, in the order of their groups
        a = np.asarray(npeval(e.expr, point))
        letters = list(range(a.ndim))
        for group in e.diagonal_indices:
            for i in group:
                letters[i] = group[0]
        diagonal = {i for group in e.diagonal_indices for i in group}
        out = [letters[i] for i in range(a.ndim) if i not in diagonal] + [g[0] for g in e.diagonal_indices]
        return np.einsum(a, letters, out)
    raise TypeError(f"cannot evaluate {type(e).__name__}")


def sympy_right(f, result, case, references):
    if result.has(sp.Derivative):
        return False, "unevaluated"
    try:
        for point, reference in references:
            if not agrees(npeval(result, point), reference):
                return False, ""
        return True, ""
    except Exception as e:  # an answer NumPy cannot evaluate is not an answer
        return False, type(e).__name__


# ----- matcalc -----


class Repl:
    """matcalc's REPL, kept open with `:time on`: one statement at a time."""

    def __init__(self, binary):
        self.p = subprocess.Popen(
            [binary, "repl"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.send(":time on")

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def timed(self, statement, repeats=1):
        """The answer and matcalc's times for `statement` run `repeats`
        times back to back, in seconds."""
        for _ in range(repeats):
            self.p.stdin.write(statement + "\n")
        self.p.stdin.flush()
        times, answer = [], None
        for _ in range(repeats):
            answer = self.p.stdout.readline().rstrip("\n")
            while True:
                line = self.p.stderr.readline()
                if not line:
                    sys.exit(f"matcalc stopped on {statement!r}")
                if line.startswith("note: time:"):
                    times.append(float(line.split()[2]) / 1e3)
                    break
                if line.startswith("error"):
                    sys.exit(f"matcalc failed on {statement!r}: {line}")
        return times, answer

    def close(self):
        self.p.stdin.close()
        self.p.wait()


def statement(case):
    return f"grad {case['expr']} wrt {case['wrt']} where {declarations(case['dims'])}"


def side_by_side(repl, timer, case):
    """Cold SymPy's, warm SymPy's and matcalc's times for one case, in
    alternating blocks whose order rotates from round to round."""
    times = dict(cold=[], warm=[], matcalc=[], cold_cpu=[], warm_cpu=[])
    answer = None

    def sympy_block(mode):
        block, start = [], time.perf_counter()
        while not block or (time.perf_counter() - start < SYMPY_BLOCK and len(block) < SYMPY_RUNS):
            wall, cpu, _ = timer.cold() if mode == "cold" else timer.warm()
            block.append(wall)
            times[mode + "_cpu"].append(cpu)
        times[mode] += block

    def matcalc_block():
        nonlocal answer
        ts, answer = repl.timed(statement(case), MATCALC_REPEATS)
        times["matcalc"] += ts

    blocks = [lambda: sympy_block("cold"), lambda: sympy_block("warm"), matcalc_block]
    for r in range(ROUNDS):
        for i in range(3):
            blocks[(r + i) % 3]()
    return times, answer


def matcalc_right(binary, case, references):
    p = subprocess.run(
        [binary, "grad", case["expr"], "--wrt", case["wrt"], "--where", declarations(case["dims"]),
         "--format", "numpy"],
        capture_output=True, text=True,
    )
    if p.returncode != 0:
        return False
    ns = {}
    exec(p.stdout, ns)
    fn = ns["gradient"]
    for point, reference in references:
        args = {n: point[n] for n in inspect.signature(fn).parameters}
        if not agrees(fn(**args), reference):
            return False
    return True


# ----- measuring -----


QUIET_LOAD = 2.5  # a pass waits for the 1-minute load average to fall below this
QUIET_WAIT = 120  # seconds, at most, before each pass


def wait_for_quiet():
    """Waits (at most QUIET_WAIT seconds) until the machine's 1-minute load
    average is below QUIET_LOAD: other work on a 2-core machine inflates
    SymPy's longer runs far more than matcalc's."""
    start = time.monotonic()
    while os.getloadavg()[0] >= QUIET_LOAD and time.monotonic() - start < QUIET_WAIT:
        time.sleep(5)


def measure(binary, cases, passes):
    """For each case: its samples per pass and mode, SymPy's and matcalc's
    answers, and whether each is right; and the load average at the end
    of each pass."""
    rows = [dict(case=c, samples=[]) for c in cases]
    loads = []
    for p in range(passes):
        wait_for_quiet()
        repl = Repl(binary)
        # One untimed pass first, as SymPy is imported and warm before it is
        # timed: a process's first statements pay for page faults and set-up.
        for case in cases:
            repl.timed(statement(case))
        for row in rows:
            progress(f"pass {p + 1}/{passes}: {row['case']['name']}")
            timer = SympyTimer(row["case"])
            times, answer = side_by_side(repl, timer, row["case"])
            row["samples"].append(times)
            row["matcalc_answer"] = answer
            if p == 0:
                case = row["case"]
                result = timer.cold()[2]
                references = []
                for seed in SEEDS:
                    point = random_point(case["dims"], seed)
                    references.append((point, complex_step_gradient(lambda q: npeval(timer.f, q), point, case["wrt"])))
                row["sympy_answer"] = result
                row["sympy_right"] = sympy_right(timer.f, result, case, references)
                row["matcalc_right"] = matcalc_right(binary, case, references)
        repl.close()
        loads.append(os.getloadavg()[0])
    return rows, loads


def pooled(row, mode):
    return [t for s in row["samples"] for t in s[mode]]


def ratio(row, mode, stat, p=None):
    """SymPy's time (cold or warm) over matcalc's, both by `stat`, over one
    pass's samples or (p None) all of them."""
    if p is None:
        s, m = pooled(row, mode), pooled(row, "matcalc")
    else:
        s, m = row["samples"][p][mode], row["samples"][p]["matcalc"]
    return stat(s) / stat(m)


def suite_ratio(rows, mode, stat, p=None):
    """The median over cases of each case's ratio."""
    return statistics.median(ratio(r, mode, stat, p) for r in rows)


# ----- report -----


def fmt_time(t):
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.0f} µs"


def fmt_ratio(x):
    return f"{x:,.0f}×" if x >= 10 else f"{x:.1f}×"


def short(s, n=38):
    s = str(s).replace("|", "\\|")
    return s if len(s) <= n else s[: n - 1] + "…"


def yes_no(ok_why):
    ok, why = ok_why if isinstance(ok_why, tuple) else (ok_why, "")
    return "yes" if ok else "no" + (f" ({why})" if why else "")


def print_tables(rows, show_answers):
    if show_answers:
        print("Answers, each checked at two random non-symmetric points:\n")
        print("| case | SymPy | matcalc | SymPy right | matcalc right |")
        print("|---|---|---|:---:|:---:|")
        for r in rows:
            print(f"| `{r['case']['name']}` | `{short(r['sympy_answer'])}` | `{short(r['matcalc_answer'])}` "
                  f"| {yes_no(r['sympy_right'])} | {yes_no(r['matcalc_right'])} |")
        print()
        print("Times, best and median over all passes; ratios are SymPy's time over matcalc's:\n")
    print("| case | SymPy cold best | SymPy cold median | SymPy warm best | SymPy warm median "
          "| matcalc best | matcalc median | ratio, medians, warm | ratio, bests, warm | ratio, medians, cold"
          + ("" if show_answers else " | SymPy right | matcalc right") + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("" if show_answers else ":---:|:---:|"))
    for r in rows:
        cells = [f"`{r['case']['name']}`"]
        for mode in ("cold", "warm", "matcalc"):
            cells += [fmt_time(min(pooled(r, mode))), fmt_time(statistics.median(pooled(r, mode)))]
        cells += [fmt_ratio(ratio(r, "warm", statistics.median)), fmt_ratio(ratio(r, "warm", min)),
                  fmt_ratio(ratio(r, "cold", statistics.median))]
        if not show_answers:
            cells += [yes_no(r["sympy_right"]), yes_no(r["matcalc_right"])]
        print("| " + " | ".join(cells) + " |")
    n = len(rows)
    print(f"\nSymPy right on {sum(r['sympy_right'][0] for r in rows)} of {n}, "
          f"matcalc on {sum(r['matcalc_right'] for r in rows)} of {n}. Samples per case: "
          f"{len(pooled(rows[0], 'matcalc'))} matcalc runs; SymPy {min(len(pooled(r, 'cold')) for r in rows)}–"
          f"{max(len(pooled(r, 'cold')) for r in rows)} cold and as many warm.\n")


def summary(rows, passes, loads):
    print("Median over the cases of each case's ratio (SymPy's time over matcalc's):\n")
    print("| | medians, warm SymPy | medians, cold SymPy | bests, warm SymPy | bests, cold SymPy "
          "| medians, warm SymPy's CPU time | load average (1 min) at the pass's end |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    stats = [("warm", statistics.median), ("cold", statistics.median), ("warm", min), ("cold", min),
             ("warm_cpu", statistics.median)]
    for p in range(passes):
        print(f"| pass {p + 1} | " + " | ".join(fmt_ratio(suite_ratio(rows, m, s, p)) for m, s in stats)
              + f" | {loads[p]:.2f} |")
    print("| range over passes | " + " | ".join(
        f"{fmt_ratio(min(suite_ratio(rows, m, s, p) for p in range(passes)))}–"
        f"{fmt_ratio(max(suite_ratio(rows, m, s, p) for p in range(passes)))}" for m, s in stats) + " | |")
    print("| all passes pooled | " + " | ".join(fmt_ratio(suite_ratio(rows, m, s)) for m, s in stats) + " | |")
    print()
    per_pass = [suite_ratio(rows, "warm", statistics.median, p) for p in range(passes)]
    met = sum(x >= 1000 for x in per_pass)
    print(f"Headline: the median-of-medians ratio against warm SymPy is "
          f"{fmt_ratio(suite_ratio(rows, 'warm', statistics.median))} over all passes, "
          f"{fmt_ratio(min(per_pass))}–{fmt_ratio(max(per_pass))} from pass to pass; with SymPy's CPU "
          f"time instead of its wall time, {fmt_ratio(suite_ratio(rows, 'warm_cpu', statistics.median))} "
          f"over all passes, {fmt_ratio(min(suite_ratio(rows, 'warm_cpu', statistics.median, p) for p in range(passes)))}–"
          f"{fmt_ratio(max(suite_ratio(rows, 'warm_cpu', statistics.median, p) for p in range(passes)))} "
          f"from pass to pass.\n")
    print("A caveat on medians: matcalc's runs take microseconds and SymPy's milliseconds, so when "
          "other work competes for the two cores a SymPy run is far more likely to be preempted, and "
          "SymPy's median can grow more than matcalc's: under load the ratio of medians leans "
          "matcalc's way. The pass with the lowest load is the fairest; the bests are the least "
          "affected by load. As a check, the last column but one puts SymPy's CPU time (its thread's, "
          "which does not count time spent preempted) over matcalc's wall time (matcalc reports only "
          "wall time; its runs are rarely preempted): it should move less with the load.\n")
    print(f"Target: that ratio at least 1000×: met in {met} of {passes} passes"
          f"{'' if met == passes else ' (so NOT met)'}.\n")


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def main():
    global ROUNDS, QUIET_WAIT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(HERE, "..", "target", "release", "matcalc"))
    ap.add_argument("--passes", type=int, default=PASSES, help="passes over the suite")
    ap.add_argument("--rounds", type=int, default=ROUNDS, help="alternating rounds per case and pass")
    ap.add_argument("--chain-max", type=int, default=32, help="largest k of the trace chain (0: none)")
    ap.add_argument("--quiet-wait", type=float, default=QUIET_WAIT,
                    help=f"seconds to wait before each pass for the load average to fall below {QUIET_LOAD}")
    args = ap.parse_args()
    ROUNDS = args.rounds
    QUIET_WAIT = args.quiet_wait
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()
    print("## matcalc and SymPy, side by side\n")
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
          f"load average at the start {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")
    print(f"- matcalc: {version([args.binary, '--version'])} (release build), {version(['rustc', '--version'])}")
    print(f"- SymPy {sp.__version__}, NumPy {np.__version__}, Python {platform.python_version()}")
    print(
        f"- times: per case and pass, {ROUNDS} rounds of three alternating blocks (their order rotating): "
        f"up to {SYMPY_RUNS} cold SymPy runs within {SYMPY_BLOCK} s (cache cleared before each), as many warm "
        f"ones (cache kept, fresh symbols for each), and {MATCALC_REPEATS} matcalc runs back to back in one open "
        f"REPL; {args.passes} passes over the suite (each after waiting up to {QUIET_WAIT:.0f} s for the load average to fall below {QUIET_LOAD}), the trace chain once. SymPy's time is `.diff` alone; "
        f"matcalc's is the whole statement, parsing to printing\n"
    )
    rows, loads = measure(args.binary, read_suite(), args.passes)
    print("### The shared suite (gradients)\n")
    print_tables(rows, True)
    summary(rows, args.passes, loads)
    ks = [k for k in (1, 2, 4, 8, 16, 32) if k <= args.chain_max]
    if ks:
        chain, _ = measure(args.binary, [trace_chain_case(k) for k in ks], 1)
        print("### grad tr(A1 X A2 X … Ak X) wrt X (one pass)\n")
        print_tables(chain, False)
    load = os.getloadavg()
    print(f"Load average at the end: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}.\n")


if __name__ == "__main__":
    main()
