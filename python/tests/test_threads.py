"""Thread safety: several threads calling grad (and a shared Session) at
once give the same answers as one thread."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import matcalc

CASES = [
    ("tr(X^T A X)", "X"),
    ("norm2(A x - b)^2", "x"),
    ("logdet(X)", "X"),
    ("x^T A x", "x"),
    ("tr(A X B X^T)", "X"),
    ("sum(exp(A x))", "x"),
    ("a^T X b", "X"),
    ("det(X)", "X"),
]


def test_many_threads_calling_grad_agree_with_one():
    expected = {c: matcalc.grad(c[0], wrt=c[1]).text for c in CASES}
    work = CASES * 12
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda c: (c, matcalc.grad(c[0], wrt=c[1]).text), work))
    assert len(got) == len(work)
    for case, text in got:
        assert text == expected[case]


def test_a_shared_session_across_threads():
    s = matcalc.Session()
    s.declare("S: symmetric")
    s.let("f", "x^T S x")
    expected = s.grad("f", wrt="S").text

    def job(k):
        s.let(f"g{k}", "x^T S x")
        return s.grad("f", wrt="S").text, s.grad(f"g{k}", wrt="S").text

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(job, range(24)))
    assert all(a == expected and b == expected for a, b in results)
    assert len(s.bindings) == 25


def test_results_are_shareable_between_threads():
    g = matcalc.grad("tr(X^T A X)", wrt="X")
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(lambda _: (g.text, g.latex, g.numpy_source), range(16)))
    assert len(set(texts)) == 1


def test_long_work_releases_the_gil():
    """While one thread differentiates a long product, this thread keeps
    running: no pause as long as the work (as there would be if the GIL
    were held)."""
    expr = " ".join(["A"] * 10_000)
    done = threading.Event()

    def work():
        matcalc.diff(expr, wrt="A")
        done.set()

    worker = threading.Thread(target=work)
    stamps = [time.perf_counter()]
    worker.start()
    while not done.is_set():
        stamps.append(time.perf_counter())
    worker.join()
    total = time.perf_counter() - stamps[0]
    longest_pause = max(b - a for a, b in zip(stamps, stamps[1:]))
    assert total > 0.05, "the work is too short to tell"
    assert longest_pause < total / 2, (longest_pause, total)
