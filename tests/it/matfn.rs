//! Matrix functions (`expm`, `logm`, `sqrtm`): their trace gradients,
//! checked numerically (rectangular matrices around a square argument),
//! and the clean refusal of every derivative that needs a Fréchet
//! derivative.

use crate::common::{checked, matcalc, run};
use matcalc::Session;

#[test]
fn trace_gradients_are_the_cookbooks() {
    for (f, g) in [
        ("tr(expm(X))", "expm(X)^T"),
        ("tr(logm(X))", "X^-T"),
        ("tr(sqrtm(X))", "(1/2) sqrtm(X)^-T"),
        ("tr(expm(A X B))", "A^T expm(A X B)^T B^T"),
        ("3 tr(expm(X)^T) - tr(logm(X))", "3 expm(X)^T - X^-T"),
    ] {
        assert_eq!(run(&["grad", f, "--wrt", "X"]), g, "{f}");
        checked(f, "X", None);
        // the printed gradient reads back as itself
        assert_eq!(run(&["simplify", g]), g);
    }
    // A is p×n, X n×m, B m×p: X is rectangular
    checked("tr(sqrtm(A X B)) + tr(logm(A X B))", "X", None);
    assert_eq!(
        run(&["hessian", "tr(logm(X))", "--wrt", "X"]),
        "-commutation(n, n) (X^-T ⊗ X^-1)"
    );
}

#[test]
fn a_frechet_derivative_is_refused_with_a_caret() {
    for (cmd, f, caret) in [
        ("diff", "expm(X)", "^^^^^^^"),
        ("grad", "tr(A expm(X))", "     ^^^^^^^"),
        ("grad", "tr(logm(X) A)", "   ^^^^^^^"),
        ("hessian", "tr(expm(X))", "   ^^^^^^^"),
        ("hessian", "tr(sqrtm(X))", "   ^^^^^^^^"),
        ("jacobian", "sqrtm(X) x", "^^^^^^^^"),
        ("grad", "det(expm(X))", "    ^^^^^^^"),
    ] {
        let out = matcalc()
            .env("NO_COLOR", "1")
            .args([cmd, f, "--wrt", "X"])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{f}: {err}");
        assert!(
            err.contains("outside a trace is a Fréchet derivative, which matcalc cannot write"),
            "{f}: {err}"
        );
        assert!(err.contains(&format!("| {caret} ")), "{f}: {err}");
    }
}

#[test]
fn check_passes_and_says_the_hessian_is_not_written() {
    let verdicts = Session::new()
        .check("tr(expm(X))", "X", None)
        .expect("checks");
    let hessian = verdicts.iter().find(|v| v.kind == "hessian").expect("one");
    assert!(hessian.not_written.as_deref().unwrap().contains("Fréchet"));
    assert!(verdicts.iter().all(|v| v.passed()));
    assert!(
        verdicts
            .iter()
            .filter(|v| v.kind != "hessian")
            .all(|v| v.outcome.passed())
    );
}

#[test]
fn code_calls_scipy_for_numpy_and_refuses_logm_for_jax() {
    let numpy = run(&["simplify", "expm(X) + sqrtm(X)", "--format", "numpy"]);
    assert!(numpy.starts_with("import scipy.linalg\n"), "{numpy}");
    assert!(numpy.contains("scipy.linalg.expm(X)"), "{numpy}");
    let out = matcalc()
        .args(["simplify", "logm(X)", "--format", "jax"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("JAX has no matrix logarithm"));
}

#[test]
fn values_off_the_domain_are_errors() {
    let out = matcalc()
        .args(["eval", "sqrtm(X)", "--at", "X=[[-1,0],[0,2]]"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no real principal square root"));
    let v = run(&[
        "eval",
        "tr(logm(expm(X)))",
        "--at",
        "X=[[0.5,1],[-0.3,0.2]]",
    ]);
    assert!((v.parse::<f64>().unwrap() - 0.7).abs() < 1e-12, "{v}");
}
