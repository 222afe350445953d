"""matcalc.Session: declarations and let bindings, as in the REPL."""

import numpy as np
import pytest

import matcalc


def test_let_binding_is_used_by_later_commands():
    s = matcalc.Session()
    s.let("M", "A X X^T A^T")
    assert s.diff("M", wrt="X_ij").text == "A E_ij X^T A^T + A X E_ij^T A^T"
    assert s.bindings == [("M", "A X X^T A^T")]
    # a fresh module-level call knows nothing of the session
    with pytest.raises(matcalc.Error):
        matcalc.grad("tr(M)", wrt="X")


def test_declarations_apply_to_every_command():
    s = matcalc.Session()
    s.declare("S: symmetric")
    assert s.declarations == ["S: symmetric"]
    assert s.grad("x^T S x", wrt="S").text == matcalc.grad(
        "x^T S x", wrt="S", where="S: symmetric"
    ).text
    s.declare("X: 3 x 4")
    assert s.grad("tr(X^T A X)", wrt="X").shape == (3, 4)
    assert s.declarations == ["S: symmetric", "X: 3 x 4"]


def test_redeclaring_replaces_and_failures_leave_the_session_alone():
    s = matcalc.Session()
    s.declare("X: 3 x 4")
    s.declare("X: 2 x 2")
    assert s.declarations == ["X: 2 x 2"]
    with pytest.raises(matcalc.Error):
        s.declare("S: symetric")
    with pytest.raises(matcalc.Error):
        s.let("M", "(A X")
    assert s.declarations == ["X: 2 x 2"]
    assert s.bindings == []
    s.clear()
    assert s.declarations == [] and s.bindings == []


def test_let_extends_an_earlier_binding():
    s = matcalc.Session()
    s.let("M", "A X")
    s.let("M", "M + B")
    assert s.simplify("M").text == "A X + B"
    assert "M = " in repr(s)


def test_session_check_eval_hessian_jacobian():
    s = matcalc.Session()
    s.let("f", "x^T A x")
    assert s.hessian("f", wrt="x").text == "A + A^T"
    assert s.check("f", wrt="x").passed
    assert s.jacobian("A x", wrt="x").text == "A"
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = np.array([1.0, -1.0])
    assert s.eval("f", A=A, x=x) == pytest.approx(x @ A @ x)
