//! JAX code generation (`--format jax`): the same function as
//! `--format numpy` (SPEC §3), over `jax.numpy`. The shared lowering
//! ([`super::array_ir`]) never loops over a size and never updates an
//! array in place (unit matrices are `.at[i, j].set(1.0)`), so the
//! function traces under `jax.jit`, `jax.vmap` and `jax.grad`.

use super::numpy::{answer_function, value_function};
use super::python::Dialect;
use crate::calculus::derivative::Answer;
use crate::expr::Expr;
use crate::lower::Context;
use crate::span::Diagnostic;

/// The answer as a JAX function named after its command.
pub fn to_jax(a: &Answer) -> Result<String, Diagnostic> {
    answer_function(Dialect::Jax, a)
}

/// An expression as a JAX function `value` of its variables.
pub fn value_to_jax(e: &Expr, ctx: &Context) -> Result<String, Diagnostic> {
    value_function(Dialect::Jax, e, ctx)
}
