"""The LaTeX a Jupyter cell shows (`_repr_latex_`), and every LaTeX output,
render with KaTeX in strict mode (through tests/katex/render.js)."""

import matcalc
from conftest import katex_render


def strip_display(tex):
    assert tex.startswith("$$ ") and tex.endswith(" $$")
    return tex[3:-3]


def test_repr_latex_renders_with_katex():
    results = [
        matcalc.diff("A X X^T A^T", wrt="X_ij"),
        matcalc.diff("X X^T", wrt="X", direction="H"),
        matcalc.grad("tr(X^T A X)", wrt="X"),
        matcalc.grad("tr(X^T A X)", wrt="X", form="factor"),
        matcalc.grad("logdet(X)", wrt="X"),
        matcalc.grad("sum(log(sigmoid(A x)))", wrt="x"),
        matcalc.grad("x^T S x", wrt="S", where="S: symmetric"),
        matcalc.hessian("x^T A x", wrt="x"),
        matcalc.jacobian("A X B", wrt="X"),
        matcalc.jacobian("X^T", wrt="X"),
        matcalc.simplify("(A B)^T + B^T A^T"),
    ]
    texts = [strip_display(r._repr_latex_()) for r in results]
    texts += [r.latex_rhs for r in results]
    steps = matcalc.grad("tr(X^T A X)", wrt="X", steps=True)
    texts.append(steps.steps_latex)
    assert katex_render(texts).strip() == "ok"
