"""Generated-code speed: matcalc's `--format numpy` functions against the
same derivative written by hand, `jax.jit(jax.grad / jax.hessian /
jax.jacobian)`, and autograd (issue 22); and matcalc's `--format jax`
functions under `jax.jit` against the framework's own jitted derivative.

Usage: python codegen.py PATH/TO/matcalc [--quick]   (bench/run-codegen sets
up the venv and builds matcalc). Prints a Markdown section on stdout.

Method: for each problem and size, every answer is computed once and
checked equal to the hand-written one (relative max error < 1e-6) before
anything is timed; then the methods run interleaved — one call of each per
round, in rotating order — for several rounds, and each method's time is
its best round (the machine is shared, so only interleaved ratios are
meaningful). Peak memory of the NumPy functions (matcalc's and the
hand-written one) is measured with tracemalloc, which NumPy reports its
allocations to. A method is left out at a size where it would take too
long (its time at the previous size, scaled by the problem's order,
exceeds a budget) or too much memory (JAX's Hessian of the matrix
factorisation materialises an (n r) x n x n tensor).
"""

import gc
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
import tracemalloc

import numpy as np

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import autograd  # noqa: E402
import autograd.numpy as anp  # noqa: E402

MATCALC = sys.argv[1] if len(sys.argv) > 1 else "matcalc"
QUICK = "--quick" in sys.argv
# `--only 'A|B'`: the problems whose name contains A or B
ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else ""
BUDGET = 8.0  # seconds one call may be expected to take before a method is left out
RANK = 5  # rank r of the matrix factorisation


def generated(cmd, expr, wrt, fmt="numpy"):
    """matcalc's generated NumPy (or JAX) function, and its source."""
    src = subprocess.run(
        [MATCALC, cmd, expr, "--wrt", wrt, "--format", fmt],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    ns = {}
    exec(src, ns)
    name = src.split("def ")[1].split("(")[0]
    return ns[name], src


def spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def logdet_hess_hand(X):
    # d2 logdet / dX_ij dX_kl = -(X^-1)_jk (X^-1)_li, vec index i + n j
    n = X.shape[0]
    Xi = np.linalg.inv(X)
    return -np.einsum("jk,li->ijkl", Xi, Xi).reshape(n * n, n * n, order="F")


# Each problem: name, kind, matcalc command, the function written three
# ways (NumPy by hand, jax.numpy, autograd.numpy), the variable, inputs,
# sizes, the order of its cost in n (for the time budget), and the hand-
# written derivative.
PROBLEMS = [
    dict(
        name="quadratic x^T A x, gradient",
        cmd=("grad", "x^T A x", "x"),
        f=lambda m: lambda x, A: x @ A @ x,
        hand=lambda x, A: A @ x + A.T @ x,
        make=lambda rng, n: dict(A=rng.standard_normal((n, n)), x=rng.standard_normal(n)),
        sizes=[100, 1000, 3000],
        order=2,
    ),
    dict(
        name="quadratic x^T A x, Hessian",
        cmd=("hessian", "x^T A x", "x"),
        f=lambda m: lambda x, A: x @ A @ x,
        hand=lambda x, A: A + A.T,
        make=lambda rng, n: dict(A=rng.standard_normal((n, n)), x=rng.standard_normal(n)),
        sizes=[100, 1000, 3000],
        order=3,
    ),
    dict(
        name="logistic loss (log/exp form), gradient",
        cmd=("grad", "sum(log(1 + exp(-y .* (X w))))", "w"),
        f=lambda m: lambda w, X, y: m.sum(m.log(1 + m.exp(-y * (X @ w)))),
        hand=lambda w, X, y: -(X.T @ (y * (1 / (1 + np.exp(y * (X @ w)))))),
        make=lambda rng, n: dict(
            X=rng.standard_normal((n, n)) / np.sqrt(n),
            y=np.sign(rng.standard_normal(n)),
            w=rng.standard_normal(n),
        ),
        sizes=[100, 1000, 3000],
        order=2,
    ),
    dict(
        name="logistic loss (log/exp form), Hessian",
        cmd=("hessian", "sum(log(1 + exp(-y .* (X w))))", "w"),
        f=lambda m: lambda w, X, y: m.sum(m.log(1 + m.exp(-y * (X @ w)))),
        hand=lambda w, X, y: (
            lambda s: X.T @ ((s * (1 - s))[:, None] * X)
        )(1 / (1 + np.exp(-y * (X @ w)))),
        make=lambda rng, n: dict(
            X=rng.standard_normal((n, n)) / np.sqrt(n),
            y=np.sign(rng.standard_normal(n)),
            w=rng.standard_normal(n),
        ),
        sizes=[100, 1000, 3000],
        order=3,
    ),
    dict(
        name="logistic loss (softplus form), Hessian",
        cmd=("hessian", "sum(softplus(-y .* (X w)))", "w"),
        f=lambda m: lambda w, X, y: m.sum(m.logaddexp(0.0, -y * (X @ w))),
        hand=lambda w, X, y: (
            lambda s: X.T @ ((s * (1 - s))[:, None] * X)
        )(1 / (1 + np.exp(-y * (X @ w)))),
        make=lambda rng, n: dict(
            X=rng.standard_normal((n, n)) / np.sqrt(n),
            y=np.sign(rng.standard_normal(n)),
            w=rng.standard_normal(n),
        ),
        sizes=[100, 1000, 3000],
        order=3,
    ),
    dict(
        name=f"matrix factorisation ||T - U V^T||^2 (rank {RANK}), gradient",
        cmd=("grad", "norm2(T - U V^T)^2", "U"),
        f=lambda m: lambda U, T, V: m.sum((T - U @ V.T) ** 2),
        hand=lambda U, T, V: 2 * (U @ (V.T @ V) - T @ V),
        make=lambda rng, n: dict(
            T=rng.standard_normal((n, n)),
            U=rng.standard_normal((n, RANK)),
            V=rng.standard_normal((n, RANK)),
        ),
        sizes=[100, 1000, 3000],
        order=2,
    ),
    dict(
        name=f"matrix factorisation (rank {RANK}), Hessian",
        cmd=("hessian", "norm2(T - U V^T)^2", "U"),
        f=lambda m: lambda U, T, V: m.sum((T - U @ V.T) ** 2),
        hand=lambda U, T, V: np.kron(2 * (V.T @ V), np.eye(U.shape[0])),
        make=lambda rng, n: dict(
            T=rng.standard_normal((n, n)),
            U=rng.standard_normal((n, RANK)),
            V=rng.standard_normal((n, RANK)),
        ),
        sizes=[300, 1000, 3000],
        # the frameworks' cost: n r derivative passes over n x n arrays
        order=3,
        # jax.hessian pushes n r tangents through n x n arrays
        jax_bytes=lambda n: 8 * n * RANK * n * n * 3,
    ),
    dict(
        name="Jacobian of exp(A x)",
        cmd=("jacobian", "exp(A x)", "x"),
        f=lambda m: lambda x, A: m.exp(A @ x),
        hand=lambda x, A: np.exp(A @ x)[:, None] * A,
        make=lambda rng, n: dict(
            A=rng.standard_normal((n, n)) / np.sqrt(n), x=rng.standard_normal(n)
        ),
        sizes=[100, 1000, 3000],
        order=3,
    ),
    dict(
        name="gradient of x^T inv(A) x",
        cmd=("grad", "x^T inv(A) x", "x"),
        f=lambda m: lambda x, A: x @ m.linalg.solve(A, x),
        hand=lambda x, A: np.linalg.solve(A, x) + np.linalg.solve(A.T, x),
        make=lambda rng, n: dict(A=spd(rng, n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n), x=rng.standard_normal(n)),
        sizes=[100, 1000, 3000],
        order=3,
    ),
    dict(
        name="Hessian of logdet(X)",
        cmd=("hessian", "logdet(X)", "X"),
        f=lambda m: lambda X: m.linalg.slogdet(X)[1],
        hand=logdet_hess_hand,
        make=lambda rng, n: dict(X=spd(rng, n)),
        sizes=[20, 40, 60],
        order=4,
    ),
]


def derivative_of(kind, fn, argnum):
    """The derivative function a framework builds: (jax, autograd)."""
    jx = {
        "grad": jax.grad,
        "hessian": jax.hessian,
        "jacobian": jax.jacobian,
    }[kind](fn(jnp), argnums=argnum)
    ag = {
        "grad": autograd.grad,
        "hessian": autograd.hessian,
        "jacobian": autograd.jacobian,
    }[kind](fn(anp), argnum)
    return jax.jit(jx), ag


def as_matrix(out, shape):
    a = np.asarray(out, dtype=float)
    if a.size != int(np.prod(shape)):
        return None
    if a.ndim == 4:
        # d2f / dX_ij dX_kl as (i, j, k, l): to vec layout
        n2 = a.shape[0] * a.shape[1]
        return a.reshape(n2, n2, order="F")
    return a.reshape(shape)


def close(a, b):
    if a is None or b is None or a.shape != b.shape:
        return False
    return np.max(np.abs(a - b)) <= 1e-6 * max(1.0, np.max(np.abs(b)))


def peak_bytes(call):
    gc.collect()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def fmt_time(t):
    if t is None:
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.0f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def run_problem(p, rng):
    kind, expr, wrt = p["cmd"]
    gen, src = generated(kind, expr, wrt)
    # matcalc's JAX function, jitted like the framework's derivative
    gen_jax = jax.jit(generated(kind, expr, wrt, "jax")[0])
    rows = []
    last = {}
    for n in p["sizes"][: 2 if QUICK else None]:
        args = p["make"](rng, n)
        # the frameworks take positional arguments; argnum is the variable
        names = list(p["f"](np).__code__.co_varnames[: p["f"](np).__code__.co_argcount])
        pos = [args[k] for k in names]
        argnum = names.index(wrt)
        jx, ag = derivative_of(kind, p["f"], argnum)
        methods = {
            "matcalc": lambda: gen(**args),
            "hand": lambda: p["hand"](**args),
            "jax": lambda: jax.block_until_ready(jx(*pos)),
            "matcalc-jax": lambda: jax.block_until_ready(gen_jax(**args)),
            "autograd": lambda: ag(*pos),
        }
        skipped = {}
        first = 0.0
        for m in ("jax", "autograd", "matcalc-jax"):
            if m in last and last[m] * (n / last["n"]) ** p["order"] > BUDGET:
                skipped[m] = "time"
        if "jax_bytes" in p and p["jax_bytes"](n) > 8e9:
            skipped["jax"] = f"~{p['jax_bytes'](n) / 1e9:.0f} GB"
        for m in skipped:
            methods.pop(m)
        # answers checked equal first (the first JAX call also compiles)
        expected = np.asarray(methods["hand"](), dtype=float)
        agree = {}
        for m, call in methods.items():
            t0 = time.perf_counter()
            out = call()
            first = time.perf_counter() - t0
            agree[m] = close(as_matrix(out, expected.shape), expected)
            if not agree[m]:
                print(f"<!-- {p['name']} n={n}: {m} disagrees -->", file=sys.stderr)
            if first > BUDGET and m in ("jax", "autograd", "matcalc-jax"):
                skipped[m] = "time"
        for m in [m for m in methods if m in skipped]:
            methods.pop(m)
        # matcalc and the hand-written formula alternate in short blocks
        # (>= ~5 ms) for up to 40 rounds or ~3 s each, so that the best of
        # each samples the same stretches of a busy machine; a framework
        # call joins the first rounds (3 of them when it is slow)
        t0 = time.perf_counter()
        methods["hand"]()
        once = max(time.perf_counter() - t0, 1e-7)
        number = max(1, min(10000, int(0.005 / once)))
        best = {m: float("inf") for m in methods}
        order = list(methods)
        spent = {m: 0.0 for m in methods}
        for r in range(40):
            for m in order[r % len(order):] + order[: r % len(order)]:
                if m in ("jax", "autograd", "matcalc-jax") and r >= 3 and spent[m] > 1.0:
                    continue
                if m in ("jax", "autograd", "matcalc-jax") and r >= 15:
                    continue
                t0 = time.perf_counter()
                for _ in range(number):
                    methods[m]()
                dt = time.perf_counter() - t0
                spent[m] += dt
                best[m] = min(best[m], dt / number)
            if r >= 2 and spent["matcalc"] + spent["hand"] > 6.0:
                break
        mem = {m: peak_bytes(methods[m]) for m in ("matcalc", "hand")}
        for m in ("jax", "autograd", "matcalc-jax"):
            if m in best:
                last[m] = best[m]
        last["n"] = n
        rows.append(dict(n=n, best=best, agree=agree, skipped=skipped, mem=mem))
    return rows, src


def main():
    rng = np.random.default_rng(22)
    out = []
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    version = subprocess.run([MATCALC, "--version"], capture_output=True, text=True).stdout.strip()
    out.append("## Generated code: matcalc's NumPy functions, by hand, JAX and autograd\n")
    out.append(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    out.append(f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()} (shared with other engineers compiling: only ratios from interleaved runs mean anything)")
    out.append(f"- {version} (release build); Python {platform.python_version()}, NumPy {np.__version__}, JAX {jax.__version__} (CPU, float64), autograd {importlib.metadata.version('autograd')}")
    out.append("- method: answers checked equal to the hand-written formula first; then one call of each method per round, in rotating order, matcalc and the hand-written formula alternate in blocks of ≥ 5 ms for up to 40 rounds (≥ 3, ~3 s each), JAX and autograd join the first rounds (3 when slow); each method's best block counts; JAX jitted and compiled before timing; peak memory by tracemalloc; `—` = left out (time budget, or the memory JAX would need)")
    out.append("- run: `bench/run-codegen` (sets up target/venv-codegen with the pinned NumPy, JAX and autograd)\n")
    out.append("| problem | n | matcalc | by hand | jax.jit | autograd | matcalc ÷ hand | JAX ÷ matcalc | matcalc's JAX (jit) | jax.jit ÷ matcalc's JAX | peak memory matcalc ÷ hand | all answers equal |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    summary = []
    for p in PROBLEMS:
        if ONLY and not any(w in p["name"] for w in ONLY.split("|")):
            continue
        rows, _ = run_problem(p, rng)
        ratios = []
        for r in rows:
            b = r["best"]
            ratio = b["matcalc"] / b["hand"]
            ratios.append(ratio)
            jr = b["jax"] / b["matcalc"] if "jax" in b else None
            mem = r["mem"]["matcalc"] / max(1, r["mem"]["hand"])
            sk = r["skipped"]
            jcell = fmt_time(b.get("jax")) if "jax" in b else f"— ({sk.get('jax', '')})"
            acell = fmt_time(b.get("autograd")) if "autograd" in b else f"— ({sk.get('autograd', '')})"
            mjcell = fmt_time(b.get("matcalc-jax")) if "matcalc-jax" in b else f"— ({sk.get('matcalc-jax', '')})"
            mjr = b["jax"] / b["matcalc-jax"] if "jax" in b and "matcalc-jax" in b else None
            ok = "yes" if all(r["agree"].values()) else "no: " + ", ".join(m for m, v in r["agree"].items() if not v)
            out.append(
                f"| {p['name']} | {r['n']} | {fmt_time(b['matcalc'])} | {fmt_time(b['hand'])} | {jcell} | {acell} | {ratio:.2f} | {'%.1f×' % jr if jr else '—'} | {mjcell} | {'%.1f×' % mjr if mjr else '—'} | {mem:.2f} | {ok} |"
            )
            print(out[-1], file=sys.stderr, flush=True)
        summary.append((p["name"], float(np.median(ratios)), max(ratios)))
    out.append("")
    out.append("Target: matcalc ÷ hand ≤ 1.2 (median over sizes), never above 1.5.\n")
    out.append("| problem | median matcalc ÷ hand | worst | met |")
    out.append("|---|---:|---:|:---:|")
    for name, med, worst in summary:
        met = "yes" if med <= 1.2 and worst <= 1.5 else "no"
        out.append(f"| {name} | {med:.2f} | {worst:.2f} | {met} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
