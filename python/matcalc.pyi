"""Type stubs for the `matcalc` extension module (python/src/lib.rs).

Symbolic matrix calculus: derivatives in Matrix Cookbook notation, checked,
with LaTeX and generated NumPy code. Every function takes the expression as
text in matcalc's input language (`"tr(X^T A X)"`), the variable as `wrt=`,
and declarations as `where=` (`"S: symmetric, X: n x m"`).
"""

from typing import Any, Callable, Literal, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Form = Literal["default", "expand", "factor", "raw"]
"""How a result is simplified: the textbook's form ("default"), the
expanded sum of products ("expand"), the smallest factored form ("factor"),
or the product rule's output as it is ("raw")."""

FormatName = Literal["text", "latex", "latex_rhs", "numpy", "jax", "json", "index"]
Dim = Union[int, str]
ArrayLike = Union[float, int, npt.ArrayLike]

class Error(ValueError):
    """A user error (syntax, shape, unknown name, ...).

    `str(e)` is the caret diagnostic, as the command-line tool prints it.
    """

    message: str
    """The one-line message, in the user's words."""
    span: Tuple[int, int]
    """The `(start, end)` byte range in `source` the message points at (the
    whole of `source` when the error is about the input as a whole)."""
    help: Optional[str]
    """A suggestion, if there is an obvious one."""
    source: str
    """The text the span points into (the expression with its declarations,
    or the value of `wrt=`, `direction=` or the values of `eval`)."""
    origin: str
    """Which text `source` is: `input`, `--wrt`, `--at`, ..."""
    phase: str
    """The phase the error comes from: `usage`, `parse`, `shape`,
    `derivative`, `evaluation` or `limit`."""

class Result:
    """A derivative or a simplified expression, rendered in every format.

    In Jupyter it shows as the rendered equation (`_repr_latex_`).
    """

    kind: str
    """`differential`, `entrywise`, `gradient`, `hessian`, `jacobian` or `simplify`."""
    input: str
    """The expression as given."""
    variables: list[str]
    """The expression's variables, in order of first appearance."""
    text: str
    """The result as text in Matrix Cookbook notation (parseable again)."""
    latex: str
    """The result as a LaTeX equation (`\\frac{\\partial f}{\\partial X} = ...`)."""
    latex_rhs: str
    """The right-hand side of the LaTeX equation alone."""
    json: str
    """The result as one JSON object: input, variable, text, LaTeX, shape."""
    notes: list[str]
    """Notes, such as a simplification that stopped early."""
    steps: Optional[str]
    """The derivation line by line, when asked for with `steps=True`."""
    steps_latex: Optional[str]
    """The derivation as a LaTeX `align*` block, with `steps=True`."""
    @property
    def shape(self) -> Tuple[Dim, Dim]:
        """`(rows, cols)`: ints for literal sizes, names for symbolic ones."""
    @property
    def index(self) -> str:
        """The component form (`∂M_kl/∂X_ij = ...`)."""
    @property
    def numpy_source(self) -> str:
        """Python source of one NumPy function whose keyword parameters are
        the expression's variables."""
    @property
    def jax_source(self) -> str:
        """The same function over `jax.numpy`, traceable by `jax.jit`,
        `jax.vmap` and `jax.grad`."""
    def numpy(self) -> Callable[..., Any]:
        """The generated NumPy function, compiled."""
    def jax(self) -> Callable[..., Any]:
        """The generated JAX function, compiled (imports `jax` only now);
        ImportError without JAX."""
    def format(self, name: FormatName) -> str:
        """The result in the named format."""
    def _repr_latex_(self) -> str: ...

class Verdict:
    """The verdict on one kind of derivative."""

    kind: str
    text: str
    passed: bool
    exact: bool
    points: Optional[int]
    max_rel_error: Optional[float]
    summary: str
    not_written: Optional[str]
    reference: Optional[str]
    def __bool__(self) -> bool: ...

class Check:
    """The verdicts of `check`: falsy when a derivative was refuted."""

    passed: bool
    exact: bool
    """Whether every derivative that was checked was confirmed exactly."""
    verdicts: list[Verdict]
    text: str
    json: str
    def get(self, kind: str) -> Optional[Verdict]:
        """The verdict on one kind (`"gradient"`, ...), or None."""
    def __bool__(self) -> bool: ...

Values = Union[Mapping[str, ArrayLike], str, None]

def diff(
    expr: str,
    *,
    wrt: str,
    direction: Optional[str] = None,
    where: Optional[str] = None,
    form: Form = "default",
    steps: bool = False,
) -> Result:
    """The differential in the direction `dX` (or `direction`), or with
    `wrt="X_ij"` the entrywise partial."""

def grad(
    expr: str, *, wrt: str, where: Optional[str] = None, form: Form = "default", steps: bool = False
) -> Result:
    """The gradient of a scalar (denominator layout: the shape of `wrt`)."""

def hessian(
    expr: str, *, wrt: str, where: Optional[str] = None, form: Form = "default", steps: bool = False
) -> Result:
    """The Hessian of a scalar (w.r.t. `vec(X)` for a matrix variable)."""

def jacobian(
    expr: str, *, wrt: str, where: Optional[str] = None, form: Form = "default", steps: bool = False
) -> Result:
    """The Jacobian `d vec(F) / d vec(X)^T`."""

def simplify(expr: str, *, where: Optional[str] = None, form: Form = "default") -> Result:
    """The simplified form of `expr`."""

def check(
    expr: str,
    *,
    wrt: str,
    where: Optional[str] = None,
    grad: Optional[str] = None,
    diff: Optional[str] = None,
    hessian: Optional[str] = None,
    jacobian: Optional[str] = None,
) -> Check:
    """Verifies every derivative, or the one claimed."""

def eval(
    expr: str, values: Values = None, /, *, where: Optional[str] = None, **kwargs: ArrayLike
) -> Union[float, np.ndarray]:
    """The value of `expr` at the given values (NumPy arrays by name)."""

class Session:
    """Declarations and `let` bindings kept across calls, as in the REPL."""

    def __init__(self) -> None: ...
    def declare(self, decls: str) -> None:
        """Adds declarations (`"S: symmetric"`) to every later command."""
    def let(self, name: str, expr: str) -> None:
        """Binds `name` to `expr` for every later command."""
    @property
    def declarations(self) -> list[str]: ...
    @property
    def bindings(self) -> list[Tuple[str, str]]: ...
    def clear(self) -> None:
        """Forgets every declaration and binding."""
    def diff(
        self,
        expr: str,
        *,
        wrt: str,
        direction: Optional[str] = None,
        where: Optional[str] = None,
        form: Form = "default",
        steps: bool = False,
    ) -> Result: ...
    def grad(
        self, expr: str, *, wrt: str, where: Optional[str] = None, form: Form = "default", steps: bool = False
    ) -> Result: ...
    def hessian(
        self, expr: str, *, wrt: str, where: Optional[str] = None, form: Form = "default", steps: bool = False
    ) -> Result: ...
    def jacobian(
        self, expr: str, *, wrt: str, where: Optional[str] = None, form: Form = "default", steps: bool = False
    ) -> Result: ...
    def simplify(self, expr: str, *, where: Optional[str] = None, form: Form = "default") -> Result: ...
    def check(
        self,
        expr: str,
        *,
        wrt: str,
        where: Optional[str] = None,
        grad: Optional[str] = None,
        diff: Optional[str] = None,
        hessian: Optional[str] = None,
        jacobian: Optional[str] = None,
    ) -> Check: ...
    def eval(
        self, expr: str, values: Values = None, /, *, where: Optional[str] = None, **kwargs: ArrayLike
    ) -> Union[float, np.ndarray]: ...
