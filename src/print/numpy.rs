//! NumPy code generation (`--format numpy`), as SPEC §3 states it: one
//! function named after the command, whose parameters are the input's
//! variables by name.
//!
//! How values are represented: a 1×1 value is a Python float (or NumPy
//! scalar), a column or row vector a 1-D array (its orientation is known
//! statically from the shape, so `x x^T` is `np.outer(x, x)` and `x^T A` is
//! `x @ A`), anything else a 2-D array. Sizes are read from the arguments
//! (`_n = X.shape[0]`), never fixed.
//!
//! The expression is first lowered to an array program
//! ([`super::array_ir`]), where the choices that make the code cost what
//! the hand-written formula costs and keep it numerically stable are made
//! once for NumPy and JAX; [`super::python`] spells the program. This file
//! and `jax.rs` only say which function is written and what its docstring
//! says.

use super::array_ir;
use super::python::{self, Dialect, Doc};
use crate::calculus::derivative::{Answer, Derivative, Wrt};
use crate::expr::Expr;
use crate::lower::Context;
use crate::span::Diagnostic;

/// Python's reserved words, which cannot be parameter names (and the
/// modules the code imports).
const KEYWORDS: [&str; 38] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "np", "jnp", "jax",
];

/// A variable's name as a Python identifier: braces dropped from
/// subscripts, and a trailing `_` on reserved words and on `np`, `jnp`
/// and `jax`.
pub fn python_name(name: &str) -> String {
    let plain: String = name.chars().filter(|c| *c != '{' && *c != '}').collect();
    if KEYWORDS.contains(&plain.as_str()) {
        format!("{plain}_")
    } else {
        plain
    }
}

/// The answer as a NumPy function named after its command.
pub fn to_numpy(a: &Answer) -> Result<String, Diagnostic> {
    answer_function(Dialect::Numpy, a)
}

/// An expression as a NumPy function `value` of its variables (for
/// `simplify` and eval-like use).
pub fn value_to_numpy(e: &Expr, ctx: &Context) -> Result<String, Diagnostic> {
    value_function(Dialect::Numpy, e, ctx)
}

/// The non-differential variables `e` mentions, in order of appearance.
pub fn variables(e: &Expr, ctx: &Context) -> Vec<String> {
    ctx.order
        .iter()
        .filter(|n| ctx.vars[*n].differential_of.is_none() && e.mentions(n))
        .cloned()
        .collect()
}

/// The answer as a function in `dialect`.
pub(crate) fn answer_function(dialect: Dialect, a: &Answer) -> Result<String, Diagnostic> {
    let name = match a.kind {
        Derivative::Differential | Derivative::Entrywise => "differential",
        Derivative::Gradient => "gradient",
        Derivative::Hessian => "hessian",
        Derivative::Jacobian => "jacobian",
    };
    let mut params = variables(&a.function, &a.context);
    let mut indices = Vec::new();
    match (&a.wrt, &a.direction) {
        (_, Some(d)) if a.kind == Derivative::Differential => params.push(d.clone()),
        (Wrt::Entry { indices: ix, .. }, _) => {
            for c in ix.chars() {
                if !indices.contains(&c) {
                    indices.push(c);
                }
            }
        }
        _ => {}
    }
    let var = match &a.wrt {
        Wrt::Var(v) | Wrt::Entry { var: v, .. } => v.clone(),
    };
    let wrt = match &a.wrt {
        Wrt::Var(v) => v.clone(),
        Wrt::Entry { var, indices } => format!("{var}_{indices}"),
    };
    let f = crate::print::to_text(&a.function);
    let what = match a.kind {
        Derivative::Differential => format!(
            "The differential of {f} in the direction {}:",
            a.direction.as_deref().unwrap_or("dX")
        ),
        Derivative::Entrywise => format!("The partial derivative of {f} with respect to {wrt}:"),
        Derivative::Gradient => format!("The gradient of {f} with respect to {wrt}:"),
        Derivative::Hessian => format!("The Hessian of {f} with respect to {wrt}:"),
        Derivative::Jacobian => format!("The Jacobian d vec(F) / d vec({wrt})^T of F = {f}:"),
    };
    let matrix_var = a
        .context
        .vars
        .get(&var)
        .is_some_and(|i| !i.shape.is_vector() && !i.shape.is_scalar() && !i.shape.is_row());
    let mut notes = Vec::new();
    match a.kind {
        Derivative::Gradient => notes.push(format!(
            "The gradient has the shape of {var} (denominator layout): df = sum(G * d{var})."
        )),
        Derivative::Hessian if matrix_var => notes.push(format!(
            "Rows and columns are indexed by vec({var}): H[k, l] = d2f / dvec({var})[k] dvec({var})[l]."
        )),
        Derivative::Jacobian => notes.push(format!(
            "Numerator layout: rows index vec(F), columns index vec({var})."
        )),
        _ => {}
    }
    let doc = Doc {
        what,
        formula: &a.text,
        notes,
        result: a.result.shape().clone(),
    };
    function(
        dialect,
        name,
        &a.result,
        &a.direction_context(),
        &params,
        &indices,
        &doc,
    )
}

/// An expression as a function `value` in `dialect`.
pub(crate) fn value_function(
    dialect: Dialect,
    e: &Expr,
    ctx: &Context,
) -> Result<String, Diagnostic> {
    let text = crate::print::to_text(e);
    let doc = Doc {
        what: format!("The value of {text}:"),
        formula: &text,
        notes: Vec::new(),
        result: e.shape().clone(),
    };
    function(dialect, "value", e, ctx, &variables(e, ctx), &[], &doc)
}

/// `def name(params): return e`, the sizes read from the parameters'
/// shapes; `indices` are extra integer parameters (0-based) for `E_ij`.
fn function(
    dialect: Dialect,
    name: &str,
    e: &Expr,
    ctx: &Context,
    params: &[String],
    indices: &[char],
    doc: &Doc<'_>,
) -> Result<String, Diagnostic> {
    let params: Vec<(String, String)> =
        params.iter().map(|p| (p.clone(), python_name(p))).collect();
    let taken: Vec<String> = params.iter().map(|(_, p)| p.clone()).collect();
    let index_names: Vec<(char, String)> = indices
        .iter()
        .map(|c| {
            let mut n = c.to_string();
            while taken.contains(&n) {
                n.push('_');
            }
            (*c, n)
        })
        .collect();
    let program = array_ir::lower(e, ctx, &params, &index_names);
    python::function(dialect, name, &program, ctx, &params, &index_names, doc)
}
