//! The binary's exact output for the seed questions (SPEC §1, §3).

use crate::common::{matcalc, with_settings};
use insta_cmd::assert_cmd_snapshot;

#[test]
fn seed_entrywise_partial() {
    with_settings(|| {
        assert_cmd_snapshot!(matcalc().args(["diff", "A X X^T A^T", "--wrt", "X_ij"]));
        assert_cmd_snapshot!(matcalc().args(["diff", "X X^T", "--wrt", "X_ij"]));
    });
}

#[test]
fn seed_differential() {
    with_settings(|| {
        assert_cmd_snapshot!(matcalc().args(["diff", "X X^T", "--wrt", "X"]));
        assert_cmd_snapshot!(matcalc().args(["diff", "X X^T", "--wrt", "X", "--direction", "H"]));
    });
}

#[test]
fn where_option_declares() {
    let answer = matcalc::Session::new()
        .diff("x^T S x", "x", None, Some("S: symmetric"))
        .expect("differentiates");
    crate::common::verify(&answer, "x^T S x where S: symmetric");
    with_settings(|| {
        assert_cmd_snapshot!(matcalc().args([
            "diff",
            "x^T S x",
            "--wrt",
            "x",
            "--where",
            "S: symmetric"
        ]));
    });
}

#[test]
fn shape_clash_through_the_binary() {
    with_settings(|| {
        assert_cmd_snapshot!(matcalc().args([
            "diff",
            "A X where A: 3 x 4, X: 5 x 5",
            "--wrt",
            "X"
        ]));
    });
}

#[test]
fn check_reports_exact_verification() {
    with_settings(|| {
        assert_cmd_snapshot!(matcalc().args(["check", "A X X^T A^T", "--wrt", "X"]));
    });
    // Transcendental: checked in f64 (the figure depends on libm, so it is
    // not pinned).
    let out = matcalc()
        .args(["check", "tanh(A x) + x", "--wrt", "x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("max relative error").count(), 3, "{stdout}");
}
