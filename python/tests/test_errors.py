"""Errors: the bad-input battery of tests/it/errors.rs (SPEC §5), through
the Python API. Every user error raises matcalc.Error (a ValueError) with
its message, span and caret text; an input the CLI answers with exit 0
returns a result; nothing panics or crashes the interpreter."""

import numpy as np
import pytest

import matcalc


def diff(expr, wrt):
    return lambda: matcalc.diff(expr, wrt=wrt)


def grad(expr, wrt):
    return lambda: matcalc.grad(expr, wrt=wrt)


def hessian(expr, wrt):
    return lambda: matcalc.hessian(expr, wrt=wrt)


def at(expr, text):
    return lambda: matcalc.eval(expr, text)


deep_parens = "(" * 100_000 + "A" + ")" * 100_000

# (name, call, ok): `ok` is True where the CLI exits 0.
BATTERY = [
    # syntax
    ("empty", diff("", "X"), False),
    ("blank", diff("   ", "X"), False),
    ("dangling operator", diff("A +", "A"), False),
    ("leading operator", diff("* A", "A"), False),
    ("unclosed paren", diff("(A X", "X"), False),
    ("unopened paren", diff("A X)", "X"), False),
    ("empty parens", diff("A ()", "A"), False),
    ("caret alone", diff("A^", "A"), False),
    ("double transpose letter", diff("A^TT", "A"), False),
    ("two carets", diff("A^^T", "A"), False),
    ("empty call", diff("tr()", "A"), False),
    ("too many arguments", diff("tr(A, B)", "A"), False),
    ("too few arguments", diff("kron(A)", "A"), False),
    ("stray comma", diff("A, B", "A"), False),
    ("unknown operator", diff("A @ B", "A"), False),
    ("double dot", diff("A .. B", "A"), False),
    ("malformed number", diff("3.5.2 A", "A"), False),
    ("where without declarations", diff("A where", "A"), False),
    ("declaration without kind", diff("A where A", "A"), False),
    ("half a size", diff("A where A: 3 x", "A"), False),
    ("contradictory kinds", diff("A where A: symmetric vector", "A"), False),
    ("zero size", diff("A where A: 0 x 3", "A"), False),
    ("declaring a built-in", diff("I where I: matrix", "A"), False),
    ("misspelt kind", diff("x^T S x where S: symetric", "x"), False),
    # shapes
    ("product clash", diff("A X where A: 3 x 4, X: 5 x 5", "X"), False),
    ("sum clash", diff("A + x", "A"), False),
    ("vector times vector", diff("x y", "x"), False),
    ("non-square trace", diff("tr(A) where A: 3 x 4", "A"), False),
    ("determinant of a vector", diff("det(x)", "x"), False),
    ("non-square inverse", diff("inv(A) where A: 2 x 3", "A"), False),
    ("non-square power", diff("X^2 where X: 3 x 4", "X"), False),
    ("matrix to a fraction", diff("X^(1/2)", "X"), False),
    ("hadamard clash", diff("A .* B where A: 2 x 3, B: 3 x 2", "A"), False),
    ("division by a matrix", diff("A / X", "X"), False),
    ("diag of a rectangle", diff("diag(A) where A: 3 x 4", "A"), False),
    ("symmetric rectangle", diff("S where S: symmetric 3 x 4", "S"), False),
    # names and functions
    ("glued names", diff("AX + A X", "X"), False),
    ("unknown function", diff("foo(X)", "X"), False),
    ("trace spelt out", diff("trace(X)", "X"), False),
    # wrt
    ("wrt a number", diff("A X", "2"), False),
    ("wrt an expression", diff("A X", "A X"), False),
    ("wrt a stranger", diff("A X", "Y"), False),
    ("wrt one index of a matrix", diff("A X", "X_i"), False),
    ("wrt a differential", diff("X + dX", "dX"), False),
    ("wrt nothing", diff("A X", ""), False),
    ("gradient of a matrix", grad("A X", "X"), False),
    ("hessian of a vector", hessian("A x", "x"), False),
    # deep and long
    ("1e5 parentheses", diff(deep_parens, "A"), False),
    ("1e5 unary minus", diff("-" * 100_000 + "A", "A"), False),
    ("1e5 transposes", diff("A" + "^T" * 100_000, "A"), False),
    ("30000 unary minus", diff("-" * 30_000 + "A", "A"), True),
    ("30000 transposes", diff("A" + "^T" * 30_000, "A"), False),
    ("unknown function with a near miss", diff("tanhh(X)", "X"), False),
    ("40000 parentheses", diff("(" * 40_000 + "A" + ")" * 40_000, "A"), False),
    ("60 unclosed calls", diff("tr(" * 60 + "x", "x"), False),
    ("60 unclosed two-argument calls", diff("kron(A, " * 60 + "x", "x"), False),
    ("20000 factors", diff(" ".join(["A"] * 20_000), "A"), True),
    ("20000 alternating factors", diff(" ".join(["A X"] * 10_000), "X"), False),
    ("20000 terms", diff(" + ".join(["A"] * 20_000), "A"), True),
    # numbers
    ("101-digit literal", diff("9" * 101 + " A", "A"), False),
    ("matrix power too large", diff("X^65", "X"), False),
    ("huge negative power", diff("X^-1000000000000000000000", "X"), False),
    ("scalar exponent too large", diff("alpha^1001", "alpha"), False),
    ("power tower of constants", diff("33^33^4^44^42 X", "X"), False),
    ("many large folded constants", diff(" ".join(["(10^99)^20 X"] * 200), "X"), False),
    ("exponent denominator too large", diff("alpha^(1/1001)", "alpha"), False),
    ("symbolic exponent of a matrix", diff("X^beta", "X"), False),
    ("division by zero", diff("X / 0", "X"), False),
    ("division by a zero sum", diff("X / (1 - 1)", "X"), False),
    ("inverse of zero", diff("inv(0 X)", "X"), False),
    ("zero to a negative power", diff("0^-1 X", "X"), False),
    # Unicode
    ("zero-width space", diff("A\u200bX", "X"), False),
    ("bidi override", diff("A \u202eX", "X"), False),
    ("Cyrillic lookalike", diff("\u0410 X", "X"), False),
    ("aliases accepted", diff("Aᵀ ⊙ B − C · X", "X"), True),
    ("NUL in a statement", diff("A\0X", "X"), False),
    # values
    ("unclosed value", at("x^T x", "x=[1,2"), False),
    ("value given twice", at("x^T x", "x=[1,2], x=[3,4]"), False),
    ("ragged matrix", at("tr(X)", "X=[[1,2],[3]]"), False),
    ("singular inverse", at("inv(X)", "X=[[1,2],[2,4]]"), False),
    ("overflowing value", at("x^T x", "x=[1e999]"), False),
    ("not a number", at("x^T x", "x=[NaN]"), False),
    ("wrong shape value", at("A x", "A=[[1,2]], x=[1,2,3]"), False),
    ("missing value", at("A x", "A=[[1,2]]"), False),
    ("control character", at("x^T x", "x=[1,\u00012]"), False),
]

def test_the_battery_is_whole():
    assert len(BATTERY) >= 80
    assert len({name for name, _, _ in BATTERY}) == len(BATTERY)


@pytest.mark.parametrize("name, call, ok", BATTERY, ids=[b[0] for b in BATTERY])
def test_bad_input(name, call, ok):
    if ok:
        assert call().text
        return
    with pytest.raises(matcalc.Error) as info:
        call()
    e = info.value
    assert isinstance(e, ValueError)
    assert e.message and "internal error" not in e.message
    assert str(e).startswith("error: " + e.message)
    assert e.help is None or isinstance(e.help, str)
    assert isinstance(e.origin, str) and isinstance(e.source, str)
    start, end = e.span
    assert 0 <= start <= end <= len(e.source.encode()) + 1
    if e.source:
        assert "^" in str(e) or end - start == len(e.source.encode())


def test_python_usage_errors():
    with pytest.raises(TypeError):
        matcalc.diff("A X")  # no wrt
    with pytest.raises(TypeError):
        matcalc.grad("tr(X)", "X")  # wrt is keyword-only
    with pytest.raises(TypeError):
        matcalc.eval("x^T x", x=np.ones(2), y=object())


def test_eval_values_from_numpy_in_the_battery():
    with pytest.raises(ValueError, match="finite"):
        matcalc.eval("x^T x", x=np.array([np.inf]))
    with pytest.raises(matcalc.Error, match="evaluate"):
        matcalc.eval("inv(X)", X=np.array([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(matcalc.Error):
        matcalc.eval("A x", A=np.array([[1.0, 2.0]]))


def test_a_panic_becomes_an_error():
    with pytest.raises(matcalc.Error, match="internal error") as info:
        matcalc._panic_for_tests()
    assert "bug in matcalc" in info.value.help


def test_error_attributes_for_the_caret():
    with pytest.raises(matcalc.Error) as info:
        matcalc.grad("(A x", wrt="x")
    e = info.value
    assert e.message == (
        "expected `)`, an operand (a name, a number, a function or `(`) or an operator"
    )
    assert e.origin == "input" and e.source == "(A x"
    assert e.span == (4, 4)
    assert e.help is None
    assert str(e) == "\n".join(
        [
            "error: " + e.message,
            " --> input",
            "  |",
            "1 | (A x",
            "  |     ^ the input ends here",
        ]
    )


def test_errors_in_wrt_point_into_wrt():
    with pytest.raises(matcalc.Error) as info:
        matcalc.grad("tr(A X)", wrt="Y")
    e = info.value
    assert e.origin == "--wrt" and e.source == "Y" and e.span == (0, 1)
    assert "its variables are A, X" in e.help
