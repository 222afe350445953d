//! JAX code generation (`--format jax`): every coverage case's function
//! runs under `jax.jit` (in float64) and agrees with the evaluator, and the
//! functions trace under `jax.vmap` and `jax.grad` too.

use crate::common::{matcalc, python};
use crate::numpy::{agree, coverage_agrees, special_forms};

/// jit with float64, as the comparison needs.
const JIT: &str = r#"
import jax
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")
WRAP = jax.jit
"#;

#[test]
fn jitted_jax_code_agrees_with_the_evaluator_on_every_coverage_case() {
    coverage_agrees(JIT, matcalc::to_jax);
}

#[test]
fn jitted_jax_code_agrees_on_the_special_forms() {
    let n = special_forms().len();
    assert_eq!(agree(JIT, matcalc::to_jax, special_forms()), n);
}

fn code(args: &[&str]) -> String {
    let out = matcalc().args(args).output().expect("run");
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn jax_functions_trace_under_vmap_and_grad() {
    let jac = code(&["jacobian", "exp(A x)", "--wrt", "x", "--format", "jax"]);
    let grad = code(&["grad", "x^T A x", "--wrt", "x", "--format", "jax"]);
    let unit = code(&["diff", "A X X^T A^T", "--wrt", "X_ij", "--format", "jax"]);
    assert!(jac.contains("import jax.numpy as jnp"), "{jac}");
    assert!(!unit.contains("for "), "{unit}");
    let script = format!(
        r#"
import jax, numpy as np
jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")
import jax.numpy as jnp
ns1, ns2, ns3 = {{}}, {{}}, {{}}
exec({jac:?}, ns1); exec({grad:?}, ns2); exec({unit:?}, ns3)
rng = np.random.default_rng(3)
A = rng.standard_normal((4, 4)); xs = rng.standard_normal((5, 4))
# vmap over a batch of x
J = jax.vmap(lambda x: ns1["jacobian"](A=A, x=x))(xs)
ok1 = np.allclose(J[2], np.exp(A @ xs[2])[:, None] * A)
# grad through the generated gradient: d/dx sum(g(x)) = (A + A^T)^T 1
g = jax.grad(lambda x: jnp.sum(ns2["gradient"](x=x, A=A)))(xs[0])
ok2 = np.allclose(g, (A + A.T).T @ np.ones(4))
# jit with traced indices
X = rng.standard_normal((4, 3))
D = jax.jit(ns3["differential"])(A=A, X=X, i=1, j=2)
E = np.zeros((4, 3)); E[1, 2] = 1.0
ok3 = np.allclose(D, A @ E @ X.T @ A.T + A @ X @ E.T @ A.T)
print(ok1, ok2, ok3)
"#
    );
    assert_eq!(python(&script).trim(), "True True True");
}

/// XLA on CPU copies a transposed matrix before a matrix-vector product
/// (about ten times slower at n = 3000), so the JAX dialect writes
/// `A.T @ x` as `x @ A`; the values are held to the evaluator by the
/// coverage test under `jax.jit`.
#[test]
fn jax_code_multiplies_a_vector_without_transposing_the_matrix() {
    crate::common::checked("x^T A x", "x", None);
    let grad = code(&["grad", "x^T A x", "--wrt", "x", "--format", "jax"]);
    assert!(grad.contains("return A @ x + x @ A"), "{grad}");
    let numpy = code(&["grad", "x^T A x", "--wrt", "x", "--format", "numpy"]);
    assert!(numpy.contains("return A @ x + A.T @ x"), "{numpy}");
}

/// Solves with one matrix and with its transpose share one LU
/// factorisation in JAX (`lu_solve(..., trans=1)`); NumPy has no
/// factorisation to share and writes two solves. The values are held to
/// the evaluator under `jax.jit` by the special forms.
#[test]
fn solves_with_a_matrix_and_its_transpose_share_one_factorisation_in_jax() {
    crate::common::checked("x^T inv(A) x", "x", None);
    let jax = code(&["grad", "x^T inv(A) x", "--wrt", "x", "--format", "jax"]);
    assert_eq!(jax.matches("lu_factor(").count(), 1, "{jax}");
    assert!(jax.contains("lu_solve(_lu1, x, trans=1)"), "{jax}");
    let numpy = code(&["grad", "x^T inv(A) x", "--wrt", "x", "--format", "numpy"]);
    assert_eq!(numpy.matches("np.linalg.solve(").count(), 2, "{numpy}");
}
