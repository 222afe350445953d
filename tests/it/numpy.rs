//! NumPy code generation: the generated functions are run with NumPy on
//! random inputs and compared with the project's own evaluator, for every
//! derivative in the coverage table; and the must-show gradient is
//! compared with central differences computed in Python.

use crate::common::{checked, matcalc, python};
use crate::coverage::{FILES, answer, cases};
use matcalc::numeric::check::random_bindings;
use matcalc::numeric::rng::Rng;
use matcalc::numeric::{Bindings, Matrix, eval};
use matcalc::{Answer, Derivative, Session, Wrt};
use std::fmt::Write as _;

/// A value as a Python literal: a float, a 1-D array for a vector, a 2-D
/// array otherwise.
fn literal(m: &Matrix, as_vector: bool) -> String {
    let num = |x: f64| format!("{x:?}");
    if m.rows == 1 && m.cols == 1 && !as_vector {
        return num(m.get(0, 0));
    }
    if as_vector {
        let xs: Vec<String> = m.data.iter().map(|x| num(*x)).collect();
        return format!("np.array([{}])", xs.join(", "));
    }
    array_2d(m)
}

/// A value as a 2-D NumPy array, whatever its shape.
fn array_2d(m: &Matrix) -> String {
    let rows: Vec<String> = (0..m.rows)
        .map(|i| {
            let xs: Vec<String> = (0..m.cols).map(|j| format!("{:?}", m.get(i, j))).collect();
            format!("[{}]", xs.join(", "))
        })
        .collect();
    format!("np.array([{}])", rows.join(", "))
}

/// The keyword arguments and the expected value of one answer at a random
/// point (a few points are tried, for expressions such as `(X^T X)^-1`
/// that need particular sizes).
fn instance(a: &Answer, seed: u64) -> Option<(String, Matrix)> {
    let var = match &a.wrt {
        Wrt::Var(v) | Wrt::Entry { var: v, .. } => v.clone(),
    };
    let ctx = match (&a.direction, a.kind) {
        (Some(d), Derivative::Differential) => a.context.with_direction(&var, d),
        _ => a.context.clone(),
    };
    for shuffle in 0..8 {
        let mut rng = Rng::new(seed + shuffle as u64);
        let Ok(mut b) = random_bindings(&ctx, &[&a.function, &a.result], &mut rng, shuffle) else {
            continue;
        };
        if let (Some(d), Derivative::Differential) = (&a.direction, a.kind) {
            let (r, c) = b.shape(&ctx.vars[d].shape).ok()?;
            let mut m = Matrix::zeros(r, c);
            for i in 0..r {
                for j in 0..c {
                    m.set(i, j, rng.uniform(-1.0, 1.0));
                }
            }
            b.vars.insert(d.clone(), m);
        }
        let Ok(expected) = eval(&a.result, &b) else {
            continue;
        };
        if eval(&a.function, &b).is_err() || expected.data.iter().any(|x| !x.is_finite()) {
            continue;
        }
        return Some((kwargs(a, &ctx, &b), expected));
    }
    None
}

fn kwargs(a: &Answer, ctx: &matcalc::Context, b: &Bindings) -> String {
    let mut args = Vec::new();
    for (name, m) in &b.vars {
        if !a.function.mentions(name) && a.direction.as_deref() != Some(name.as_str()) {
            continue;
        }
        if ctx.vars[name].differential_of.is_some() && a.kind != Derivative::Differential {
            continue;
        }
        let vector = ctx.vars[name].shape.is_vector();
        args.push(format!(
            "{:?}: {}",
            matcalc::python_name(name),
            literal(m, vector)
        ));
    }
    for (letter, i) in &b.indices {
        args.push(format!("{:?}: {i}", letter.to_string()));
    }
    format!("{{{}}}", args.join(", "))
}

/// The script's comparison: the result reshaped to the evaluator's shape
/// (a vector may come back as (n,) or (n, 1)), relative error printed.
/// `PRELUDE` may wrap the function (`jax.jit`).
const HARNESS: &str = r#"
import numpy as np
def compare(name, code, fname, args, expected):
    ns = {}
    try:
        exec(code, ns)
        out = np.asarray(WRAP(ns[fname])(**args), dtype=float)
        if out.size != expected.size:
            print(f"{name} SHAPE {out.shape} vs {expected.shape}")
            return
        out = out.reshape(expected.shape)
        err = np.max(np.abs(out - expected)) / max(1.0, np.max(np.abs(expected)))
        print(f"{name} {err:.3e}")
    except Exception as e:
        print(f"{name} ERROR {type(e).__name__}: {e}".replace("\n", " "))
"#;

/// Runs the code `generate` writes for every coverage case with Python
/// (after `prelude`, which defines `WRAP`, applied to each function) and
/// compares it with the evaluator.
pub fn coverage_agrees(
    prelude: &str,
    generate: fn(&Answer) -> Result<String, matcalc::Diagnostic>,
) {
    let session = Session::new();
    let mut answers = Vec::new();
    for file in FILES {
        for c in cases(file) {
            let at = format!("{file}:{}", c.line);
            let a = answer(&session, &c).unwrap_or_else(|d| panic!("{at}: {}", d.render()));
            answers.push((at, a, 0x9e37 + c.line as u64));
        }
    }
    let ran = agree(prelude, generate, answers);
    assert!(ran >= 130, "only {ran} cases ran");
}

/// Runs the code `generate` writes for each answer (named, with a seed)
/// and compares it with the evaluator; returns how many ran.
pub fn agree(
    prelude: &str,
    generate: fn(&Answer) -> Result<String, matcalc::Diagnostic>,
    answers: Vec<(String, Answer, u64)>,
) -> usize {
    let mut script = format!("{prelude}\n{HARNESS}");
    let mut names = Vec::new();
    let mut skipped = Vec::new();
    {
        for (at, a, seed) in answers {
            let code = generate(&a).unwrap_or_else(|d| panic!("{at}: {}", d.render()));
            let Some((args, expected)) = instance(&a, seed) else {
                skipped.push(at);
                continue;
            };
            let fname = code
                .split("def ")
                .nth(1)
                .and_then(|s| s.split('(').next())
                .expect("one function");
            let _ = writeln!(
                script,
                "compare({at:?}, {code:?}, {fname:?}, {args}, {})",
                array_2d(&expected)
            );
            names.push((at, a.text.clone(), code));
        }
    }
    assert!(
        skipped.len() <= 3,
        "no point could be evaluated for {skipped:?}"
    );
    let out = python(&script);
    let mut failures = Vec::new();
    let mut seen = 0;
    for line in out.lines() {
        let (at, verdict) = line.split_once(' ').expect("name verdict");
        seen += 1;
        let ok = verdict.parse::<f64>().is_ok_and(|e| e < 1e-9);
        if !ok {
            let (_, text, code) = names.iter().find(|(n, ..)| n == at).expect("known case");
            failures.push(format!("{at} ({text}): {verdict}\n{code}"));
        }
    }
    assert_eq!(seen, names.len(), "python printed:\n{out}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    names.len()
}

/// Results with the commutation matrix, unit matrices, inverses and
/// softmax-like quotients, which the coverage table has few of, written
/// for NumPy and JAX.
pub fn special_forms() -> Vec<(String, Answer, u64)> {
    let s = Session::new();
    let f = Some(matcalc::Form::Expanded);
    let mut out = Vec::new();
    let mut push = |name: &str, a: Result<Answer, matcalc::Diagnostic>| {
        let a = a.unwrap_or_else(|d| panic!("{name}: {}", d.render()));
        // the harness prints "name verdict": no spaces in a name
        out.push((name.replace(' ', "_"), a, 17 + out.len() as u64));
    };
    push("H logdet(X)", s.hessian("logdet(X)", "X", None, f));
    push("H tr(X X)", s.hessian("tr(X X)", "X", None, f));
    push("J X^T", s.jacobian("X^T", "X", None, f));
    push("J X^T X", s.jacobian("X^T X", "X", None, f));
    push("J A X^T B", s.jacobian("A X^T B", "X", None, f));
    push("J X^-1", s.jacobian("X^-1", "X", None, f));
    push("G lse", s.grad("log(sum(exp(x)))", "x", None, f));
    push("H lse", s.hessian("log(sum(exp(x)))", "x", None, f));
    push("G x^T A^-1 x", s.grad("x^T inv(A) x", "x", None, f));
    push(
        "d A X X^T A^T / dX_ij",
        s.diff("A X X^T A^T", "X_ij", None, None),
    );
    push("d X^T A X / dX_ij", s.diff("X^T A X", "X_ij", None, None));
    push(
        "H logistic",
        s.hessian("sum(log(1 + exp(-y .* (X w))))", "w", None, f),
    );
    push("G mf", s.grad("norm2(T - U V^T)^2", "U", None, f));
    push("H mf", s.hessian("norm2(T - U V^T)^2", "U", None, f));
    out
}

#[test]
fn special_forms_agree_with_the_evaluator() {
    let n = special_forms().len();
    assert_eq!(
        agree("WRAP = lambda f: f", matcalc::to_numpy, special_forms()),
        n
    );
}

#[test]
fn generated_code_agrees_with_the_evaluator_on_every_coverage_case() {
    coverage_agrees("WRAP = lambda f: f", matcalc::to_numpy);
}

#[test]
fn the_must_show_gradient_matches_central_differences_in_python() {
    let out = matcalc()
        .args(["grad", "tr(A X B X^T C)", "--wrt", "X", "--format", "numpy"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let code = String::from_utf8(out.stdout).expect("utf-8");
    assert!(code.contains("def gradient(A, X, B, C):"), "{code}");
    checked("tr(A X B X^T C)", "X", None);
    let script = format!(
        r#"
import numpy as np
{code}
rng = np.random.default_rng(7)
A, X, B, C = (rng.standard_normal(s) for s in [(3, 4), (4, 5), (5, 5), (4, 3)])
f = lambda X: np.trace(A @ X @ B @ X.T @ C)
G = gradient(C=C, B=B, X=X, A=A)
h = 1e-6
fd = np.zeros_like(X)
for i in range(X.shape[0]):
    for j in range(X.shape[1]):
        E = np.zeros_like(X)
        E[i, j] = h
        fd[i, j] = (f(X + E) - f(X - E)) / (2 * h)
print(G.shape, np.max(np.abs(G - fd)) / np.max(np.abs(fd)))
"#
    );
    let out = python(&script);
    let (shape, err) = out.trim().rsplit_once(' ').expect("shape err");
    assert_eq!(shape, "(4, 5)");
    let err: f64 = err.parse().expect("a number");
    assert!(err < 1e-7, "relative error {err}");
}

#[test]
fn products_are_written_in_a_cheap_order() {
    let a = Session::new()
        .jacobian("A x x^T y", "y", None, Some(matcalc::Form::Expanded))
        .expect("jacobian");
    assert_eq!(a.text, "A x x^T");
    checked("A x x^T y", "y", None);
    let code = matcalc::to_numpy(&a).expect("code");
    assert!(code.contains("np.outer(A @ x, x)"), "{code}");
}

#[test]
fn shared_subexpressions_are_computed_once() {
    let a = Session::new()
        .grad("x^T A x x^T B x", "x", None, Some(matcalc::Form::Expanded))
        .expect("grad");
    checked("x^T A x x^T B x", "x", None);
    let code = matcalc::to_numpy(&a).expect("code");
    // x^T B x and x^T A x each appear twice in the gradient
    assert_eq!(code.matches("x @ B @ x").count(), 1, "{code}");
    assert_eq!(code.matches("x @ A @ x").count(), 1, "{code}");
}

/// The text of the call that starts at `at` (which points at its name),
/// and what follows it.
fn call_at(code: &str, at: usize) -> (&str, &str) {
    let open = code[at..].find('(').expect("a call") + at;
    let mut depth = 0;
    for (k, c) in code[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    let end = open + k + 1;
                    return (&code[at..end], &code[end..]);
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced call in {code}")
}

#[test]
fn no_dense_diagonal_in_a_product_and_no_dense_commutation_matrix() {
    let session = Session::new();
    let mut checked = 0;
    for file in FILES {
        for c in cases(file) {
            let a = answer(&session, &c).expect("answer");
            let code = matcalc::to_numpy(&a).expect("code");
            let at = format!("{file}:{} ({})", c.line, a.text);
            assert!(!code.contains("for "), "{at}: a loop\n{code}");
            assert!(!code.contains("-(-"), "{at}: a double negation\n{code}");
            for (i, _) in code.match_indices("np.eye(") {
                let (_, after) = call_at(&code, i);
                assert!(
                    !after.starts_with(".reshape(") || !code.contains(" @ "),
                    "{at}: a dense commutation matrix in a product\n{code}"
                );
            }
            let var_is_vector = a.context.vars[match &a.wrt {
                Wrt::Var(v) | Wrt::Entry { var: v, .. } => v,
            }]
            .shape
            .is_vector();
            if !(var_is_vector && matches!(a.kind, Derivative::Hessian | Derivative::Jacobian)) {
                continue;
            }
            checked += 1;
            for (i, _) in code.match_indices("np.diag(") {
                let (call, after) = call_at(&code, i);
                let before = code[..i].trim_end();
                assert!(
                    !after.trim_start().starts_with('@') && !before.ends_with('@'),
                    "{at}: `{call}` inside a product\n{code}"
                );
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} vector Hessians and Jacobians"
    );
}

#[test]
fn stable_where_the_value_is_finite_at_magnitude_1000() {
    let cases = [
        ("grad", "log(sum(exp(x)))", "x"),
        ("hessian", "log(sum(exp(x)))", "x"),
        ("grad", "sum(log(1 + exp(-y .* (X w))))", "w"),
        ("hessian", "sum(log(1 + exp(-y .* (X w))))", "w"),
        ("hessian", "sum(softplus(-y .* (X w)))", "w"),
        ("jacobian", "sigmoid(x)", "x"),
        ("grad", "sum(log(1 + exp(x)))", "x"),
    ];
    let mut script = String::from(
        "import numpy as np, warnings\nwarnings.simplefilter('error')\nnp.seterr(all='raise', under='ignore')\n",
    );
    for (cmd, e, wrt) in cases {
        let out = matcalc()
            .args([cmd, e, "--wrt", wrt, "--format", "numpy"])
            .output()
            .expect("run");
        assert!(out.status.success());
        let code = String::from_utf8(out.stdout).expect("utf-8");
        assert!(!code.contains("-(-"), "{code}");
        let fname = code
            .split("def ")
            .nth(1)
            .and_then(|s| s.split('(').next())
            .expect("a function");
        let _ = writeln!(
            script,
            r#"ns = {{}}
exec({code:?}, ns)
f = ns[{fname:?}]
x = np.array([1000.0, 1000.0, -1000.0]); y = np.array([1.0, -1.0, 1.0])
X = 1000.0 * np.array([[1.0, 0.5], [-1.0, 2.0], [0.3, -0.7]]); w = np.array([1.0, -1.0])
args = {{k: v for k, v in dict(x=x, y=y, X=X, w=w).items() if k in f.__code__.co_varnames[:f.__code__.co_argcount]}}
try:
    r = np.asarray(f(**args))
    print({e:?}, bool(np.all(np.isfinite(r))))
except Exception as ex:
    print({e:?}, type(ex).__name__, ex)"#
        );
    }
    let out = python(&script);
    for line in out.lines() {
        assert!(line.ends_with(" True"), "{out}");
    }
    assert_eq!(out.lines().count(), cases.len(), "{out}");
}

/// `(T - U V^T) V` forms an n×m residual; `U (V^T V) - T V` does not when
/// the rank q is small, and costs more when it is large. The generated
/// gradient carries both and lets the sizes choose; each branch is run
/// (small and large q) in NumPy and under `jax.jit`, against the formula.
#[test]
fn a_sum_in_a_product_is_distributed_when_the_sizes_make_that_cheaper() {
    checked("norm2(T - U V^T)^2", "U", None);
    let mut script = String::from(
        "import numpy as np, jax\njax.config.update('jax_enable_x64', True)\njax.config.update('jax_platforms', 'cpu')\n",
    );
    for format in ["numpy", "jax"] {
        let out = matcalc()
            .args([
                "grad",
                "norm2(T - U V^T)^2",
                "--wrt",
                "U",
                "--format",
                format,
            ])
            .output()
            .expect("run");
        assert!(out.status.success());
        let code = String::from_utf8(out.stdout).expect("utf-8");
        assert!(code.contains("(T - U @ V.T)"), "{code}");
        assert!(code.contains("T @ V"), "{code}");
        let wrap = if format == "jax" { "jax.jit" } else { "" };
        let _ = writeln!(
            script,
            r#"ns = {{}}
exec({code:?}, ns)
rng = np.random.default_rng(5)
for n, m, q in [(6, 7, 2), (3, 4, 9)]:
    T, U, V = rng.standard_normal((n, m)), rng.standard_normal((n, q)), rng.standard_normal((m, q))
    G = np.asarray({wrap}(ns["gradient"])(T=T, U=U, V=V))
    print({format:?}, n, m, q, np.max(np.abs(G - 2 * (U @ V.T @ V - T @ V))))"#
        );
    }
    let out = python(&script);
    assert_eq!(out.lines().count(), 4, "{out}");
    for line in out.lines() {
        let err: f64 = line.rsplit(' ').next().unwrap().parse().expect("a number");
        assert!(err < 1e-10, "{out}");
    }
}

/// Terms that share an end factor are multiplied once where that is
/// cheaper at every size: `B X + B^T X` is `(B + B^T) @ X` (one product
/// of n×n by n×m instead of two), but `B x + B^T x` stays two
/// matrix-vector products (the sum `B + B^T` would cost as much as both
/// and an n×n temporary). The values are held to the evaluator by the
/// coverage test.
#[test]
fn terms_sharing_a_factor_are_multiplied_once_where_that_is_cheaper() {
    let s = Session::new();
    let a = s
        .grad("tr(X^T B X)", "X", None, Some(matcalc::Form::Default))
        .expect("grad");
    checked("tr(X^T B X)", "X", None);
    let code = matcalc::to_numpy(&a).expect("code");
    assert!(code.contains("return (B + B.T) @ X"), "{code}");
    let a = s
        .grad("x^T B x", "x", None, Some(matcalc::Form::Default))
        .expect("grad");
    checked("x^T B x", "x", None);
    let code = matcalc::to_numpy(&a).expect("code");
    assert!(code.contains("return B @ x + B.T @ x"), "{code}");
    let a = s
        .grad("tr(B^T X^T C X B)", "X", None, Some(matcalc::Form::Default))
        .expect("grad");
    checked("tr(B^T X^T C X B)", "X", None);
    let code = matcalc::to_numpy(&a).expect("code");
    assert!(code.contains("[C + C.T, X, B, B.T]"), "{code}");
}

/// `1 - normcdf(z)` and `1 - sigmoid(z)` are computed as `normcdf(-z)` and
/// `sigmoid(-z)`: the probit gradient stays finite where `X w` is 10 (the
/// complement as written is 0 in floats there, and the gradient divided
/// by it).
#[test]
fn complements_are_computed_without_cancelling() {
    let probit = "-(y^T log(normcdf(X w)) + (1 - y)^T log(1 - normcdf(X w)))";
    checked(probit, "w", None);
    let out = matcalc()
        .args(["grad", probit, "--wrt", "w", "--format", "numpy"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let code = String::from_utf8(out.stdout).expect("utf-8");
    let script = format!(
        r#"
import math, numpy as np, warnings
warnings.simplefilter('error')
{code}
X = np.array([[10.0, 0.0], [0.0, -10.0], [3.0, 1.0]]); w = np.array([1.0, 1.0]); y = np.array([0.0, 1.0, 1.0])
z = X @ w
pdf = np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
cdf = lambda t: np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in t])
want = X.T @ (pdf * (1 - y) / cdf(-z) - pdf * y / cdf(z))
got = gradient(X=X, w=w, y=y)
print(bool(np.all(np.isfinite(got))), np.max(np.abs(got - want)) / np.max(np.abs(want)))
"#
    );
    let out = python(&script);
    let (finite, err) = out.trim().split_once(' ').expect("two values");
    assert_eq!(finite, "True", "{out}");
    assert!(err.parse::<f64>().expect("a number") < 1e-12, "{out}");
}
