//! User errors: parse and shape diagnostics, snapshotted, and their exit
//! codes through the binary.

use crate::common::{matcalc, with_settings};
use matcalc::Session;

/// Renders the diagnostic for a failing `diff`.
fn diagnose(expr: &str, wrt: &str) -> String {
    match Session::new().diff(expr, wrt, None, None) {
        Ok(a) => panic!("{expr:?} should fail, gave {}", a.text),
        Err(d) => d.render(),
    }
}

#[test]
fn parse_errors_say_what_was_expected_in_words() {
    let cases = [
        "(A X",
        "A +",
        "A^",
        "A X)",
        "",
        "A ++ B",
        "tr X",
        "kron(A)",
        "A^TT",
        "x^T S x where S",
        "x^T S x where S: 3 x",
        "x^T S x where S: symmetric scalar",
        "A @ B",
        "A\u{200b}B",
    ];
    let mut out = String::new();
    for input in cases {
        let rendered = diagnose(input, "A");
        let words: Vec<&str> = rendered
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .collect();
        for rule in [
            "EOI",
            "SOI",
            "expr",
            "primary",
            "rparen",
            "lparen",
            "ident",
            "func_name",
            "signed_number",
            "decl_type",
            "kind_word",
        ] {
            assert!(
                !words.contains(&rule),
                "rule name {rule} leaked into {rendered}"
            );
        }
        out.push_str(&format!("$ {input:?}\n{rendered}\n\n"));
    }
    with_settings(|| insta::assert_snapshot!("parse_errors", out));
}

#[test]
fn shape_errors_name_both_operands() {
    let cases = [
        ("A X where A: 3 x 4, X: 5 x 5", "X"),
        ("x y", "x"),
        ("A + x", "A"),
        ("tr(A X) where A: 3 x 4, X: 4 x 5", "X"),
        ("det(x x^T) + det(A)  where A: 2 x 3", "A"),
        ("A / X", "X"),
        ("X^2 where X: 3 x 4", "X"),
        ("X^(1/2)", "X"),
        ("X^alpha", "X"),
        ("S where S: symmetric 3 x 4", "S"),
        ("inv(x)", "x"),
        ("diag(A) where A: 3 x 4", "A"),
    ];
    let mut out = String::new();
    for (input, wrt) in cases {
        out.push_str(&format!("$ {input:?}\n{}\n\n", diagnose(input, wrt)));
    }
    with_settings(|| insta::assert_snapshot!("shape_errors", out));
}

#[test]
fn bad_wrt_values_are_explained() {
    let cases = [
        ("A X", "2"),
        ("A X", "Y"),
        ("A X", "A X"),
        ("A X", "X_i"),
        ("alpha X", "alpha_ij"),
        ("X + dX", "dX"),
    ];
    let mut out = String::new();
    for (input, wrt) in cases {
        out.push_str(&format!(
            "$ {input:?} --wrt {wrt:?}\n{}\n\n",
            diagnose(input, wrt)
        ));
    }
    with_settings(|| insta::assert_snapshot!("wrt_errors", out));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // (An argument is at most 128 KiB on Linux.)
    for input in [
        "(".repeat(60_000) + "A" + &")".repeat(60_000),
        "-".repeat(99_000) + "A",
        "A".to_string() + &"^T".repeat(20_000),
        vec!["A"; 20_000].join(" + "),
        vec!["A"; 20_000].join(" "),
    ] {
        let out = matcalc()
            .args(["diff", "--wrt", "A", "--", &input])
            .output()
            .expect("runs");
        let code = out.status.code();
        assert!(matches!(code, Some(0) | Some(1)), "exit {code:?}");
    }
}

#[test]
fn user_errors_exit_1_and_usage_errors_exit_2() {
    let out = matcalc()
        .args(["diff", "(A X", "--wrt", "X"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`)`"), "{stderr}");
    assert!(out.stdout.is_empty());
    let out = matcalc().args(["diff", "A X"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = matcalc().args(["frobnicate"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
}
