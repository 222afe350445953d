"""matcalc.eval: NumPy values in, NumPy values out."""

import numpy as np
import pytest

import matcalc


def test_matrix_vector_scalar():
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = np.array([1.0, 2.0])
    y = matcalc.eval("A x", A=A, x=x)
    assert isinstance(y, np.ndarray) and y.shape == (2,)
    np.testing.assert_allclose(y, A @ x)
    s = matcalc.eval("x^T A x", A=A, x=x)
    assert isinstance(s, float) and s == pytest.approx(x @ A @ x)
    M = matcalc.eval("A X", {"A": A}, X=np.ones((2, 3)))
    assert M.shape == (2, 3)
    np.testing.assert_allclose(M, A @ np.ones((2, 3)))


def test_python_lists_and_scalars_and_exact_floats():
    assert matcalc.eval("alpha x^T x", alpha=0.1, x=[1, 2]) == pytest.approx(0.5)
    tiny = 1.2345678901234567e-300
    assert matcalc.eval("alpha", alpha=tiny) == tiny


def test_indices_are_zero_based_like_numpy():
    X = np.arange(6.0).reshape(2, 3)
    assert matcalc.eval("tr(E_ij^T X)", X=X, i=1, j=2) == X[1, 2]
    assert matcalc.eval("tr(E_ij^T X)", X=X, i=0, j=0) == X[0, 0]
    assert matcalc.eval("tr(E_ij^T X)", X=X, i=np.int64(1), j=1.0) == X[1, 1]


def test_at_text_as_the_cli_takes_it():
    assert matcalc.eval("x^T x", "x=[1,2]") == 5.0


def test_bad_values():
    with pytest.raises(matcalc.Error) as info:
        matcalc.eval("A x", A=np.eye(2), x=np.ones(3))
    assert info.value.origin == "--at" and info.value.span is not None
    with pytest.raises(ValueError, match="finite"):
        matcalc.eval("x^T x", x=np.array([np.nan, 1.0]))
    with pytest.raises(ValueError, match="dimensions"):
        matcalc.eval("x^T x", x=np.ones((2, 2, 2)))
    with pytest.raises(TypeError, match="twice"):
        matcalc.eval("x^T x", {"x": [1]}, x=[1])
    with pytest.raises(TypeError):
        matcalc.eval("x^T x", x=["a", "b"])
    with pytest.raises(TypeError):
        matcalc.eval("x^T x", "x=[1]", x=[1])
