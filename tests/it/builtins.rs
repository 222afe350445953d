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
            if let Meaning::Apply(f) = row.meaning {
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
