//! Every row of the table of builtins has its rules: for each function, a
//! call on a variable is differentiated, and the differential is confirmed
//! by central differences and, where the row says the function is
//! rational, exactly with dual numbers over Q; then every derivative kind
//! `check` computes (entrywise, gradient, Hessian, Jacobian) passes. A new
//! row is tested here without a word added.

use crate::common::{checked, verified_diff};
use matcalc::builtins::{Meaning, Signature, TABLE};
use matcalc::numeric::check::{Direction, check_exact};
use matcalc::{Wrt, to_text};

/// Calls of `name` on the variable `X` (or `x`) that its signature admits.
fn calls(name: &str, signature: Signature) -> Vec<(String, &'static str)> {
    match signature {
        Signature::SquareToScalar
        | Signature::SquareToSquare
        | Signature::AnyToScalar
        | Signature::Elementwise
        | Signature::Flatten => vec![(format!("{name}(X)"), "X")],
        Signature::Diag => vec![(format!("{name}(x)"), "x"), (format!("{name}(X)"), "X")],
        Signature::Kron => vec![
            (format!("{name}(A, X)"), "X"),
            (format!("{name}(X, B)"), "X"),
        ],
        Signature::VectorToVector | Signature::VectorToScalar => {
            vec![(format!("{name}(x)"), "x"), (format!("{name}(A x)"), "x")]
        }
        Signature::ScalarToVector => vec![(format!("x .* {name}(alpha)"), "alpha")],
        Signature::ScalarToMatrix => vec![(format!("X .* {name}(alpha)"), "alpha")],
        // differentiable only under a trace; A X B is square, X is not
        Signature::MatrixFunction => vec![
            (format!("tr({name}(X))"), "X"),
            (format!("tr({name}(A X B))"), "X"),
        ],
        Signature::Sizes => vec![(format!("{name}(n, m) vec(X) where X: n x m"), "X")],
        Signature::Size => vec![(format!("{name}(n)^T x where x: n"), "x")],
    }
}

#[test]
fn every_builtin_has_a_checked_derivative() {
    for row in TABLE {
        for (call, wrt) in calls(row.name, row.signature) {
            let answer = verified_diff(&call, wrt, None);
            // The call is what the table says it means.
            if let Meaning::Apply(f) = row.meaning
                && row.signature != Signature::MatrixFunction
            {
                assert_eq!(to_text(&answer.function), call, "{}: {f:?}", row.name);
            }
            let Wrt::Var(var) = &answer.wrt else {
                unreachable!("a variable")
            };
            let dir = Direction::Var(answer.direction.clone().expect("a direction"));
            let exact = check_exact(
                &answer.function,
                &answer.result,
                &answer.context,
                var,
                &dir,
                3,
                0xb1,
            )
            .unwrap_or_else(|e| panic!("{call}: {e}"));
            assert_eq!(
                exact.is_some(),
                row.rational,
                "{call}: checked exactly iff the row is rational"
            );
            checked(&call, wrt, None);
        }
    }
}

#[test]
fn every_builtin_is_named_in_the_help() {
    let src = "foo(X)";
    let parsed = matcalc::parse(src).expect("a name times a group");
    let err = matcalc::lower(&parsed, src).expect_err("an unknown function");
    let text = err.render();
    let names: Vec<&str> = TABLE.iter().map(|r| r.name).collect();
    assert!(
        text.contains(&format!("the functions are {};", names.join(", "))),
        "{text}"
    );
}

/// The probit functions: the probit loss, erf through its derivative in
/// φ, and every derivative kind checked numerically on rectangular shapes
/// (X is 3×4 or 4×5 in the checks). The loss is differentiated in its
/// stable form `log(normcdf(-X w))`: written `log(1 - normcdf(X w))`, its
/// f64 value near `X w = 6` has lost five digits to the subtraction, and
/// central differences there cannot decide (the form is still
/// checked below, at `check`'s own points).
#[test]
fn probit_functions_differentiate_as_a_textbook_does() {
    let probit = "-(y^T log(normcdf(X w)) + (1 - y)^T log(normcdf(-X w)))";
    let cases = [
        ("erf(X)", "X", "2 sqrt(2) (normpdf(sqrt(2) X) .* dX)"),
        ("normcdf(A x)", "x", "normpdf(A x) .* (A dx)"),
        ("normpdf(X)", "X", "-((X .* normpdf(X)) .* dX)"),
        (
            probit,
            "w",
            "-y^T ((normpdf(X w) .* (X dw)) ./ normcdf(X w)) + (1 - y^T) ((normpdf(-X w) .* (X dw)) ./ normcdf(-X w))",
        ),
    ];
    for (expr, wrt, want) in cases {
        let answer = verified_diff(expr, wrt, None);
        assert_eq!(to_text(&answer.result), want, "{expr}");
        checked(expr, wrt, None);
    }
    checked(
        "-(y^T log(normcdf(X w)) + (1 - y)^T log(1 - normcdf(X w)))",
        "w",
        None,
    );
    checked("sum(erf(A X B))", "X", None);
    checked("normcdf(x)^T normpdf(y) + sum(erf(X))", "X", None);
}
