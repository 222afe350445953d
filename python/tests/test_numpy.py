"""The compiled NumPy functions (`.numpy()`) against matcalc's evaluator
and against central differences, on rectangular shapes (3×4, 4×5)."""

import numpy as np
import pytest

import matcalc
from conftest import central_difference, value


def vec(M):
    """vec(M): the columns stacked (column-major), as matcalc defines it."""
    return np.asarray(M).reshape(-1, order="F")


def test_gradient_of_a_trace_3x4(rng):
    A, X = rng.normal(size=(3, 3)), rng.normal(size=(3, 4))
    g = matcalc.grad("tr(X^T A X)", wrt="X")
    G = g.numpy()(A=A, X=X)
    assert G.shape == (3, 4)
    np.testing.assert_allclose(G, value(g.text, A=A, X=X), rtol=1e-12)
    for i in range(3):
        for j in range(4):
            E = np.zeros((3, 4))
            E[i, j] = 1.0
            fd = central_difference("tr(X^T A X)", "X", {"A": A, "X": X}, E)
            assert G[i, j] == pytest.approx(float(fd), rel=1e-6, abs=1e-6)


def test_gradient_of_a_bilinear_trace_4x5(rng):
    A, X, B = rng.normal(size=(2, 4)), rng.normal(size=(4, 5)), rng.normal(size=(5, 2))
    expr = "tr(A X B)"
    g = matcalc.grad(expr, wrt="X")
    G = g.numpy()(A=A, X=X, B=B)
    assert G.shape == (4, 5)
    np.testing.assert_allclose(G, value(g.text, A=A, X=X, B=B), rtol=1e-12)
    D = rng.normal(size=(4, 5))
    fd = central_difference(expr, "X", {"A": A, "X": X, "B": B}, D)
    assert np.sum(G * D) == pytest.approx(float(fd), rel=1e-6)


def test_least_squares_gradient_4x5(rng):
    A, x, b = rng.normal(size=(4, 5)), rng.normal(size=5), rng.normal(size=4)
    expr = "norm2(A x - b)^2"
    g = matcalc.grad(expr, wrt="x")
    G = g.numpy()(A=A, x=x, b=b)
    assert np.ravel(G).shape == (5,)
    np.testing.assert_allclose(np.ravel(G), 2 * A.T @ (A @ x - b), rtol=1e-10)
    np.testing.assert_allclose(np.ravel(G), value(g.text, A=A, x=x, b=b), rtol=1e-10)
    for k in range(5):
        e = np.zeros(5)
        e[k] = 1.0
        fd = central_difference(expr, "x", {"A": A, "x": x, "b": b}, e)
        assert np.ravel(G)[k] == pytest.approx(float(fd), rel=1e-5)


def test_differential_in_a_direction_3x4(rng):
    X, H = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    d = matcalc.diff("X X^T", wrt="X", direction="H")
    D = d.numpy()(X=X, H=H)
    np.testing.assert_allclose(D, value(d.text, X=X, H=H), rtol=1e-12)
    np.testing.assert_allclose(D, central_difference("X X^T", "X", {"X": X}, H), rtol=1e-6)


def test_entrywise_partial_3x4(rng):
    A, X = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    d = matcalc.diff("A X X^T A^T", wrt="X_ij")
    f = d.numpy()
    for i, j in [(0, 0), (2, 3), (1, 2)]:
        P = f(A=A, X=X, i=i, j=j)
        np.testing.assert_allclose(P, value(d.text, A=A, X=X, i=i, j=j), rtol=1e-12)
        E = np.zeros((3, 4))
        E[i, j] = 1.0
        fd = central_difference("A X X^T A^T", "X", {"A": A, "X": X}, E)
        np.testing.assert_allclose(P, fd, rtol=1e-6, atol=1e-8)


def test_jacobian_4x5(rng):
    A, X, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 5)), rng.normal(size=(5, 2))
    j = matcalc.jacobian("A X B", wrt="X")
    J = j.numpy()(A=A, X=X, B=B)
    assert J.shape == (6, 20)
    np.testing.assert_allclose(J, value(j.text, A=A, X=X, B=B), rtol=1e-12)
    D = rng.normal(size=(4, 5))
    fd = central_difference("A X B", "X", {"A": A, "X": X, "B": B}, D)
    np.testing.assert_allclose(J @ vec(D), vec(fd), rtol=1e-6)


def test_hessian_of_a_quadratic(rng):
    A, x = rng.normal(size=(4, 4)), rng.normal(size=4)
    h = matcalc.hessian("x^T A x", wrt="x")
    H = h.numpy()(A=A, x=x)
    np.testing.assert_allclose(H, A + A.T)
    np.testing.assert_allclose(H, value(h.text, A=A, x=x))


def test_hessian_of_a_matrix_variable_3x4(rng):
    A, X = rng.normal(size=(3, 3)), rng.normal(size=(3, 4))
    h = matcalc.hessian("tr(X^T A X)", wrt="X")
    H = h.numpy()(A=A, X=X)
    assert H.shape == (12, 12)
    g = matcalc.grad("tr(X^T A X)", wrt="X").numpy()
    D = rng.normal(size=(3, 4))
    fd = (g(A=A, X=X + 1e-6 * D) - g(A=A, X=X - 1e-6 * D)) / 2e-6
    np.testing.assert_allclose(H @ vec(D), vec(fd), rtol=1e-6)


def test_simplified_value_function(rng):
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
    s = matcalc.simplify("(A B)^T + B^T A^T")
    np.testing.assert_allclose(s.numpy()(A=A, B=B), 2 * (A @ B).T)


def test_log_det_gradient(rng):
    M = rng.normal(size=(4, 4))
    X = M @ M.T + 4 * np.eye(4)
    g = matcalc.grad("logdet(X)", wrt="X")
    np.testing.assert_allclose(g.numpy()(X=X), np.linalg.inv(X).T, rtol=1e-10)
