"""The package's surface: every public name is documented (docstrings
reach Python from the Rust doc comments) and the type stub matcalc.pyi
declares exactly what the module has."""

import ast
import inspect
from pathlib import Path

import matcalc

STUB = Path(__file__).resolve().parents[1] / "matcalc.pyi"
PUBLIC = ["diff", "grad", "hessian", "jacobian", "simplify", "check", "eval"]
CLASSES = ["Result", "Check", "Verdict", "Session", "Error"]


def public_names(obj):
    return sorted(n for n in dir(obj) if not n.startswith("_"))


def test_every_public_function_and_method_has_a_docstring():
    for name in PUBLIC:
        f = getattr(matcalc, name)
        assert f.__doc__ and len(f.__doc__) > 20, name
        assert "wrt" in str(inspect.signature(f)) or name in ("simplify", "eval")
    for cls in CLASSES:
        c = getattr(matcalc, cls)
        assert c.__doc__, cls
        if cls == "Error":
            continue
        for attr in public_names(c):
            assert getattr(c, attr).__doc__, f"{cls}.{attr}"


def test_error_is_a_value_error():
    assert issubclass(matcalc.Error, ValueError)


def test_the_stub_declares_the_module():
    tree = ast.parse(STUB.read_text())
    top = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top[node.name] = node
    for name in PUBLIC + CLASSES:
        assert name in top, name
    for cls in ["Result", "Check", "Verdict", "Session"]:
        declared = set()
        for node in top[cls].body:
            if isinstance(node, ast.FunctionDef):
                declared.add(node.name)
            elif isinstance(node, ast.AnnAssign):
                declared.add(node.target.id)
        missing = set(public_names(getattr(matcalc, cls))) - declared
        assert not missing, (cls, missing)
    # and the stub's functions take the module's keywords
    for name in PUBLIC:
        stub_args = {a.arg for a in top[name].args.kwonlyargs}
        real = inspect.signature(getattr(matcalc, name)).parameters
        real_kw = {n for n, p in real.items() if p.kind == p.KEYWORD_ONLY}
        assert stub_args == real_kw, name
