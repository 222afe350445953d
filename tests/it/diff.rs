//! The differential of every operator of SPEC §2, each verified by central
//! differences on random rectangular shapes of distinct sizes, and the text
//! of each pinned in a snapshot.

use crate::common::{checked, verified_diff, with_settings};

/// (expression, --wrt) pairs covering every operator.
const CASES: &[(&str, &str)] = &[
    // the seed questions
    ("A X X^T A^T", "X_ij"),
    ("A X X^T A^T", "X"),
    ("X X^T", "X_ij"),
    ("X X^T", "X"),
    // sums, coefficients, division by a number
    ("2 A X - X B / 3 + (1/2) X", "X"),
    ("A X + X", "X_ij"),
    // transposes
    ("(A X)^T B", "X"),
    ("X^T A X", "X"),
    // inverses
    ("inv(X)", "X"),
    ("A X^-1 B", "X"),
    ("(X^T X)^-1", "X"),
    ("X^-T", "X"),
    ("(A X B)^{-1}", "X"),
    // integer matrix powers, never commuted
    ("X^3", "X"),
    ("X^-2", "X"),
    ("(A X)^2", "X"),
    // rational powers of scalars
    ("(x^T x)^(1/2)", "x"),
    ("(x^T A x)^2 + (x^T x)^(-3/2)", "x"),
    ("alpha^3 X + alpha^(1/2) B", "alpha"),
    // traces, determinants, log-determinants
    ("tr(A X B)", "X"),
    ("tr(X^T X)", "X"),
    ("det(X)", "X"),
    ("det(A X B)", "X"),
    ("logdet(X)", "X"),
    ("logdet(X^T X)", "X"),
    // Hadamard products, divisions and powers
    ("(A X) .* (A X)", "X"),
    ("X .* X ./ (X .^ 2 + 1)", "X"),
    ("X .^ 3", "X"),
    ("sqrt(X) .^ (3/2)", "X"),
    // Kronecker products
    ("kron(X, A)", "X"),
    ("X ⊗ X^T", "X"),
    // elementwise functions
    ("exp(A X)", "X"),
    ("log(X)", "X"),
    ("sin(X) + cos(A X)", "X"),
    ("tan(X) + tanh(X)", "X"),
    ("sqrt(X)", "X"),
    ("abs(A x)", "x"),
    ("sigmoid(A x) + softplus(A x)", "x"),
    ("relu(A x)", "x"),
    ("sign(A x) .* (A x)", "x"),
    ("1 - tanh(A x).^2", "x"),
    // sum, diag, vec, norm2
    ("sum(X .* X)", "X"),
    ("diag(A x)", "x"),
    ("diag(X)", "X"),
    ("vec(A X)", "X"),
    ("norm2(A x)", "x"),
    ("norm2(X)", "X"),
    ("norm2(alpha X)", "alpha"),
    // division by a scalar expression
    ("X / tr(X^T X)", "X"),
    ("A x / (x^T x)", "x"),
    // vectors and their entries
    ("x^T A x", "x"),
    ("x^T A x", "x_i"),
    ("A x x^T", "x"),
    ("(x^T A x) B", "x"),
    // declared kinds
    ("x^T S x where S: symmetric", "S"),
    ("a X where a: scalar", "a"),
    ("X B where X: n x m, B: m x p", "X_ij"),
    ("A X B + I", "X"),
];

#[test]
fn every_operator_differentiates_correctly() {
    let mut table = String::new();
    for (expr, wrt) in CASES {
        let answer = verified_diff(expr, wrt, None);
        table.push_str(&format!("d[{expr}] / d{wrt}\n  = {}\n", answer.text));
    }
    with_settings(|| insta::assert_snapshot!("differentials", table));
}

#[test]
fn the_seed_answers_are_exact_text() {
    let cases = [
        (
            "A X X^T A^T",
            "X_ij",
            None,
            "A E_ij X^T A^T + A X E_ij^T A^T",
        ),
        ("X X^T", "X_ij", None, "E_ij X^T + X E_ij^T"),
        ("X X^T", "X", None, "dX X^T + X dX^T"),
        ("X X^T", "X", Some("H"), "H X^T + X H^T"),
    ];
    for (expr, wrt, dir, want) in cases {
        assert_eq!(verified_diff(expr, wrt, dir).text, want);
    }
}

#[test]
fn a_wrong_derivative_fails_the_check() {
    // The check must be able to fail: twice the answer, or the answer with
    // its second product-rule term dropped, are caught.
    let answer = matcalc::Session::new()
        .diff("A X X^T A^T", "X_ij", None, None)
        .expect("differentiates");
    let matcalc::Kind::Sum(terms) = answer.result.kind() else {
        panic!("a sum of two terms")
    };
    let check = |result: &matcalc::Expr| {
        matcalc::numeric::check::check_differential(
            &answer.function,
            result,
            &answer.context,
            "X",
            &matcalc::numeric::check::Direction::Unit,
            3,
            7,
        )
        .expect("evaluates")
        .max_rel_error
    };
    assert!(check(&answer.result) < 1e-6);
    assert!(check(&matcalc::Expr::add(&answer.result, &answer.result)) > 0.1);
    assert!(check(&terms[0]) > 0.01);
}

#[test]
fn symmetric_variables_are_perturbed_symmetrically() {
    // d(x^T S x) = x^T dS x holds for any dS; the check perturbs along
    // symmetric directions only, and still agrees.
    verified_diff("x^T S x + tr(S A) where S: symmetric", "S", None);
}

#[test]
fn entrywise_partials_match_for_rectangular_variables() {
    for (expr, wrt) in [
        ("A X X^T A^T", "X_ij"),
        ("X^T A X", "X_ij"),
        ("tr(X^T A X B)", "X_ij"),
        ("A x x^T A^T", "x_i"),
    ] {
        verified_diff(expr, wrt, None);
    }
}

#[test]
fn the_exact_check_is_exact_and_can_fail() {
    use matcalc::numeric::check::{Direction, check_exact};
    let answer = matcalc::Session::new()
        .diff("A X^-1 B + det(X) X^2", "X", None, None)
        .expect("differentiates");
    let dir = Direction::Var("dX".into());
    let check = |result: &matcalc::Expr| {
        check_exact(&answer.function, result, &answer.context, "X", &dir, 3, 11)
    };
    let ok = check(&answer.result).expect("checks").expect("rational");
    assert!(ok.exact && ok.max_rel_error == 0.0);
    // One ulp of difference is a failure: the check has no tolerance.
    let off = matcalc::Expr::add(
        &answer.result,
        &matcalc::Expr::scale(
            &num_rational::BigRational::new(1.into(), 1_000_000_007.into()),
            &matcalc::Expr::var("dX", answer.result.shape().clone()),
        ),
    );
    assert!(check(&off).is_err());
    // Transcendental expressions are not claimed exact.
    let t = matcalc::Session::new()
        .diff("exp(X)", "X", None, None)
        .expect("differentiates");
    assert!(
        check_exact(&t.function, &t.result, &t.context, "X", &dir, 3, 1)
            .expect("runs")
            .is_none()
    );
}

/// A sum of a scalar and a matrix whose matrix terms vanish in the
/// differential is the broadcast `s ones`, and keeps that shape when it is
/// transposed, differentiated again or simplified (the simplifier once
/// turned `(x^T x + X)^-T` into a scalar times a squared inverse).
#[test]
fn broadcast_scalars_keep_their_matrix_shape() {
    let cases = [
        ("(x^T x + X)^-T where x: 3, X: 4 x 4", "x"),
        ("(x^T x + X)^-T", "x"),
        ("((x^T x + X) A)^T where x: 3, X: 4 x 5, A: 5 x 2", "x"),
        (
            "(alpha + X)^T B where X: 3 x 4, B: 3 x 5, alpha: scalar",
            "alpha",
        ),
        ("tr((x^T x + X)^-T A)", "x"),
    ];
    for (expr, wrt) in cases {
        let answer = verified_diff(expr, wrt, None);
        assert!(answer.text.contains("ones"), "{expr}: {}", answer.text);
        checked(expr, wrt, None);
    }
    assert_eq!(
        verified_diff("(x^T x + X)^-T", "x", None).text,
        // (`ones (…)` with a blank is the constant times a group)
        "-2 (dx^T x) (x^T x + X^T)^-1 ones (x^T x + X^T)^-1"
    );
}

/// A run of equal factors differentiates as Σ_j B^j dB B^(r-1-j): the
/// same derivative as the product rule factor by factor, in k terms of
/// constant size instead of k terms of k factors.
#[test]
fn runs_of_equal_factors_differentiate_as_powers() {
    let cases = [
        ("A X X X B where A: 3 x 4, X: 4 x 4, B: 4 x 5", "X"),
        ("A X X B X X C where A: 3 x 4, B: 4 x 4, C: 4 x 5", "X"),
        ("(A X)(A X)(A X) where A: 4 x 3, X: 3 x 4", "X"),
        ("alpha alpha X where X: 3 x 4", "alpha"),
        ("X X X X", "X_ij"),
    ];
    for (expr, wrt) in cases {
        verified_diff(expr, wrt, None);
        checked(expr, wrt, None);
    }
    assert_eq!(
        verified_diff("X X X", "X", None).text,
        "dX X^2 + X dX X + X^2 dX"
    );
    // 200 factors: 200 terms, each a power, a direction and a power
    let long = vec!["X"; 200].join(" ");
    let a = verified_diff(&long, "X", None);
    assert_eq!(a.text.matches(" + ").count(), 199, "{}", a.text);
    assert!(a.text.starts_with("dX X^199 + X dX X^198 + "), "{}", a.text);
}
