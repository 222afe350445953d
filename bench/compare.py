#!/usr/bin/env python3
"""matcalc against SymPy on the shared suite (bench/suite.tsv), side by side.

Both sides are timed in-process: SymPy's `.diff` on matrix expressions
(its cache cleared before every call), and matcalc's REPL, kept open, fed
the same gradients on stdin with `:time on` (the time from the line to the
printed result: parsing, shapes, differentiation, simplification and
printing). Each side runs warm, in blocks: for each case, up to 4 SymPy
runs within 0.25 s, then 25 matcalc runs back to back, and this six times,
so that both sides sample the same stretches of time on a machine whose
speed varies by up to 2× from one second to the next; each time is the
best of its runs.
Both answers are then checked
numerically, against central differences of the function at a random point
with the suite's shapes (the function and SymPy's result evaluated by a
small NumPy walk over SymPy's expression tree; matcalc's result through its
own NumPy output, `--format numpy`).

Usage (from bench/run-compare, which sets up the environment):
    python compare.py path/to/matcalc
Prints a Markdown report on stdout.
"""

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

HERE = os.path.dirname(os.path.abspath(__file__))
ROUNDS = 6  # alternating blocks of each side per case
SYMPY_BLOCK = 0.25  # seconds of SymPy runs per block (at least one run)
SYMPY_RUNS = 4  # at most, per block
MATCALC_REPEATS = 25  # matcalc runs per block, back to back


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
    rng = np.random.default_rng(seed)
    point = {}
    for n, (r, c) in dims.items():
        m = rng.uniform(-1, 1, (r, c))
        if r == c and r > 1:
            m = m @ m.T + r * np.eye(r)  # well conditioned, positive determinant
        point[n] = m
    return point


def scalar(v):
    v = np.asarray(v, dtype=float)
    return float(v.reshape(-1)[0]) if v.size == 1 else float("nan")


def numeric_gradient(f, point, wrt, h=1e-6):
    x = point[wrt]
    g = np.zeros_like(x)
    for idx in np.ndindex(*x.shape):
        plus, minus = dict(point), dict(point)
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        plus[wrt], minus[wrt] = xp, xm
        g[idx] = (scalar(f(plus)) - scalar(f(minus))) / (2 * h)
    return g


def agrees(g, reference):
    g = np.asarray(g, dtype=float)
    if g.shape != reference.shape:
        if g.size == reference.size:
            g = g.reshape(reference.shape)
        else:
            return False
    scale = max(1.0, float(np.max(np.abs(reference))))
    return bool(np.all(np.isfinite(g)) and np.max(np.abs(g - reference)) <= 1e-4 * scale)


# ----- SymPy -----


def sympy_setup(case):
    symbols = {n: sp.MatrixSymbol(n, r, c) for n, (r, c) in case["dims"].items()}
    ns = dict(symbols, Trace=sp.Trace, Determinant=sp.Determinant, log=sp.log)
    f = eval(case["sympy"], ns)
    return symbols, f, symbols[case["wrt"]]


def sympy_once(f, v):
    clear_cache()
    t = time.perf_counter()
    result = f.diff(v)
    return time.perf_counter() - t, result


def npeval(e, point):
    """The value of a SymPy matrix expression at `point` (names to arrays),
    with NumPy; raises on anything it does not know (no answer)."""
    if isinstance(e, sp.MatrixSymbol):
        return point[e.name]
    if isinstance(e, sp.ZeroMatrix):
        return np.zeros(e.shape, dtype=float)
    if isinstance(e, sp.Identity):
        return np.eye(int(e.shape[0]))
    if e.is_Number:
        return float(e)
    args = [npeval(a, point) for a in e.args]
    if isinstance(e, sp.MatMul) or isinstance(e, sp.Mul):
        out = args[0]
        for a in args[1:]:
            out = out * a if np.isscalar(out) or np.isscalar(a) or np.ndim(out) == 0 or np.ndim(a) == 0 else out @ a
        return out
    if isinstance(e, (sp.MatAdd, sp.Add)):
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
    raise TypeError(f"cannot evaluate {type(e).__name__}")


def sympy_right(symbols, f, result, case, reference, point):
    if result.has(sp.Derivative):
        return False, "unevaluated"
    try:
        g = npeval(result, point)
        if np.ndim(g) == 0 and reference.size > 1:
            g = np.full(reference.shape, float(g))
        return agrees(g, reference), ""
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


def side_by_side(repl, case):
    """SymPy's and matcalc's best times for one case, in alternating blocks."""
    symbols, f, v = sympy_setup(case)
    s_times, m_times, result, answer = [], [], None, None
    for _ in range(ROUNDS):
        block, start = [], time.perf_counter()
        while not block or (time.perf_counter() - start < SYMPY_BLOCK and len(block) < SYMPY_RUNS):
            t, result = sympy_once(f, v)
            block.append(t)
        s_times += block
        times, answer = repl.timed(statement(case), MATCALC_REPEATS)
        m_times += times
    return symbols, f, result, min(s_times), answer, min(m_times)


def matcalc_right(binary, case, reference, point):
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
    args = {n: point[n] for n in inspect.signature(fn).parameters}
    return agrees(fn(**args), reference)


# ----- report -----


def fmt_time(t):
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.0f} µs"


def short(s, n=38):
    s = str(s).replace("|", "\\|")
    return s if len(s) <= n else s[: n - 1] + "…"


def run(binary, cases, title, show_answers):
    repl = Repl(binary)
    # One untimed pass first, as SymPy is imported and warm before it is
    # timed: a process's first statements pay for page faults and set-up.
    for case in cases:
        repl.timed(statement(case))
    rows = []
    for case in cases:
        symbols, f, result, st, manswer, mt = side_by_side(repl, case)
        point = random_point(case["dims"], seed=7)
        reference = numeric_gradient(lambda p: npeval(f, p), point, case["wrt"])
        s_ok, why = sympy_right(symbols, f, result, case, reference, point)
        m_ok = matcalc_right(binary, case, reference, point)
        rows.append((case, st, mt, result, manswer, s_ok, why, m_ok))
    repl.close()
    print(f"### {title}\n")
    if show_answers:
        print("| case | SymPy | matcalc | SymPy time | matcalc time | ratio | SymPy right | matcalc right |")
        print("|---|---|---|---:|---:|---:|:---:|:---:|")
    else:
        print("| case | SymPy time | matcalc time | ratio | SymPy right | matcalc right |")
        print("|---|---:|---:|---:|:---:|:---:|")
    for case, st, mt, result, manswer, s_ok, why, m_ok in rows:
        ok = lambda b, w="": ("yes" if b else ("no" + (f" ({w})" if w else "")))
        cells = [f"`{case['name']}`"]
        if show_answers:
            cells += [f"`{short(result)}`", f"`{short(manswer)}`"]
        cells += [fmt_time(st), fmt_time(mt), f"{st / mt:,.0f}×", ok(s_ok, why), ok(m_ok)]
        print("| " + " | ".join(cells) + " |")
    ratios = [st / mt for _, st, mt, *_ in rows]
    print(
        f"\nMedian ratio {statistics.median(ratios):,.0f}× (SymPy's time over matcalc's); "
        f"SymPy right on {sum(r[5] for r in rows)} of {len(rows)}, matcalc on {sum(r[7] for r in rows)} of {len(rows)}.\n"
    )
    return rows


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "unknown"


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "target", "release", "matcalc")
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print("## matcalc and SymPy, side by side\n")
    print(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}")
    print(f"- matcalc: {version([binary, '--version'])} (release build), {version(['rustc', '--version'])}")
    print(f"- SymPy {sp.__version__}, NumPy {np.__version__}, Python {platform.python_version()}")
    print(
        f"- times: the best of {ROUNDS} alternating blocks per case: up to {SYMPY_RUNS} SymPy runs within "
        f"{SYMPY_BLOCK} s, then {MATCALC_REPEATS} matcalc runs back to back (after one untimed pass)\n"
    )
    rows = run(binary, read_suite(), "The shared suite (gradients)", True)
    run(binary, [trace_chain_case(k) for k in (1, 2, 4, 8, 16, 32)], "grad tr(A1 X A2 X … Ak X) wrt X", False)
    median = statistics.median(st / mt for _, st, mt, *_ in rows)
    print(f"Target: the suite's median ratio at least 1000×: {'met' if median >= 1000 else 'NOT met'} ({median:,.0f}×).\n")


if __name__ == "__main__":
    main()
