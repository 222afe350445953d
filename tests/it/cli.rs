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

/// Runs the binary with `args` (and `stdin`), returning (exit code, stdout,
/// stderr).
fn run(args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = matcalc()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or("").as_bytes())
        .expect("writes stdin");
    drop(input);
    let out = child.wait_with_output().expect("finishes");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn expression_from_stdin_and_from_a_file() {
    let seed = "A E_ij X^T A^T + A X E_ij^T A^T\n";
    let (code, out, _) = run(&["diff", "-", "--wrt", "X_ij"], Some("A X X^T A^T\n"));
    assert_eq!((code, out.as_str()), (Some(0), seed));
    crate::common::checked("A X X^T A^T", "X", None);
    let path = std::env::temp_dir().join(format!("matcalc-expr-{}.txt", std::process::id()));
    std::fs::write(&path, "A X X^T A^T\n").expect("writes");
    let at = format!("@{}", path.display());
    let (code, out, _) = run(&["diff", &at, "--wrt", "X_ij"], None);
    std::fs::remove_file(&path).ok();
    assert_eq!((code, out.as_str()), (Some(0), seed));
    let (code, _, err) = run(&["diff", "@/no/such/file", "--wrt", "X"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("cannot read the expression"), "{err}");
}

#[test]
fn an_expression_may_start_with_a_minus() {
    let (code, out, err) = run(&["grad", "-x^T x", "--wrt", "x"], None);
    assert_eq!((code, out.as_str()), (Some(0), "-2 x\n"), "{err}");
    crate::common::checked("-x^T x", "x", None);
}

#[test]
fn every_command_takes_its_formats() {
    let (code, out, _) = run(
        &["simplify", "x^T A^T x + x^T A x", "--format", "latex"],
        None,
    );
    assert_eq!((code, out.as_str()), (Some(0), "2 x^\\top A x\n"));
    let (code, out, _) = run(
        &["check", "A X X^T A^T", "--wrt", "X", "--format", "json"],
        None,
    );
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("{\"input\": \"A X X^T A^T\", \"passed\": true, \"verdicts\": [{\"kind\": \"differential\""), "{out}");
    assert_eq!(out.matches("\"exact\": true").count(), 3, "{out}");
    let (code, out, _) = run(&["simplify", "A X + A X", "--format", "index"], None);
    assert_eq!((code, out.as_str()), (Some(0), "M_kl = 2 (A X)_kl\n"));
    let (code, out, _) = run(&["simplify", "A x", "--format", "json"], None);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("\"text\": \"A x\"") && out.contains("\"latex\": \"A x\""),
        "{out}"
    );
    let (code, out, _) = run(
        &[
            "eval",
            "A x",
            "--at",
            "A=[[1,2],[3,4]], x=[1,2]",
            "--format",
            "latex",
        ],
        None,
    );
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "\\begin{bmatrix} 5 \\\\ 11 \\end{bmatrix}\n")
    );
}

#[test]
fn errors_in_json_are_json() {
    let (code, out, err) = run(&["grad", "(A x", "--wrt", "x", "--format", "json"], None);
    assert_eq!(code, Some(1));
    assert!(err.is_empty(), "{err}");
    assert!(
        out.starts_with("{\"error\": {\"message\": \"expected `)`")
            && out.contains("\"span\": [4, 4]"),
        "{out}"
    );
}

#[test]
fn the_repl_prints_json() {
    let (code, out, _) = run(&["repl"], Some(":json\ngrad tr(A X) wrt X\n"));
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("{\"input\": \"tr(A X)\", \"variable\": \"X\", \"kind\": \"gradient\", \"text\": \"A^T\""), "{out}");
    crate::common::checked("tr(A X)", "X", None);
    let (code, out, _) = run(&["repl"], Some("grad tr(A X) wrt X --format index\n"));
    assert_eq!((code, out.as_str()), (Some(0), "∂f/∂X_ij = A_ji\n"));
}

#[test]
fn check_verifies_a_claimed_derivative() {
    let (code, out, _) = run(
        &["check", "tr(X^T A X)", "--wrt", "X", "--grad", "2 A X"],
        None,
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("MISMATCH") && out.contains("matcalc's answer: A X + A^T X"),
        "{out}"
    );
    let (code, out, _) = run(
        &[
            "check",
            "tr(X^T A X)",
            "--wrt",
            "X",
            "--grad",
            "A X + A^T X",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("exact"), "{out}");
    let (code, out, _) = run(
        &["check", "X X^T", "--wrt", "X", "--diff", "dX X^T + X dX^T"],
        None,
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = run(
        &["check", "X X^T", "--wrt", "X", "--diff", "2 dX X^T"],
        None,
    );
    assert_eq!(code, Some(1), "{out}");
    let (code, out, _) = run(
        &["check", "x^T A x", "--wrt", "x", "--hessian", "A + A^T"],
        None,
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = run(
        &["check", "x^T A x", "--wrt", "x", "--hessian", "2 A"],
        None,
    );
    assert_eq!(code, Some(1), "{out}");
    let (code, out, _) = run(
        &["check", "A X B", "--wrt", "X", "--jacobian", "B^T ⊗ A"],
        None,
    );
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = run(
        &["check", "A X B", "--wrt", "X", "--jacobian", "B ⊗ A"],
        None,
    );
    assert_eq!(code, Some(1), "{out}");
    // a claim of the wrong shape, or with a stranger in it, is an error
    let (code, _, err) = run(&["check", "tr(X^T A X)", "--wrt", "X", "--grad", "A"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("the claimed gradient is"), "{err}");
    let (code, _, err) = run(
        &["check", "tr(X^T A X)", "--wrt", "X", "--grad", "B X"],
        None,
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("`B` does not appear"), "{err}");
    // and in the REPL
    let (code, out, _) = run(&["repl"], Some("check tr(X^T A X) wrt X --grad 2 A X\n"));
    assert_eq!(code, Some(1));
    assert!(out.contains("matcalc's answer: A X + A^T X"), "{out}");
}

/// A claim is read with the expression's variables and has the
/// derivative's shape: the free sizes of its `I`, `ones` and commutation
/// matrices unify with that shape rather than being compared by name, so
/// matcalc's own answers (and any correct claim) pass, whatever the order
/// of the terms.
#[test]
fn claims_with_free_sizes_take_the_derivatives_shape() {
    let cases: [(&str, &str, &str, &str); 11] = [
        ("hessian", "x^T x + x^T A x", "x", "2 I + A + A^T"),
        ("hessian", "x^T x", "x", "2 I"),
        ("grad", "tr(X)", "X", "I"),
        ("jacobian", "x", "x", "I"),
        ("grad", "sum(x)", "x", "ones(n)"),
        ("hessian", "sum(x)^2", "x", "2 ones(n) ones(n)^T"),
        ("hessian", "norm2(A X - B)^2", "X", "2 (I ⊗ (A^T A))"),
        ("hessian", "logsumexp(W x) - y^T W x", "W", ""),
        ("jacobian", "kron(A, X)", "X", ""),
        ("jacobian", "kron(X, X)", "X", ""),
        ("jacobian", "kron(X, A)", "X", ""),
    ];
    for (command, expr, wrt, expected) in cases {
        crate::common::checked(expr, wrt, None);
        let (code, own, err) = run(&[command, expr, "--wrt", wrt], None);
        assert_eq!(code, Some(0), "{err}");
        let own = own.trim_end();
        if !expected.is_empty() {
            assert_eq!(own, expected);
        }
        let flag = format!("--{}", if command == "grad" { "grad" } else { command });
        let (code, out, err) = run(&["check", expr, "--wrt", wrt, &flag, own], None);
        assert_eq!(code, Some(0), "check {expr} {flag} '{own}': {out}{err}");
        assert!(
            out.contains("exact") || out.contains("within tolerance"),
            "{out}"
        );
    }
    // the same claim with its terms in another order
    let (code, out, err) = run(
        &[
            "check",
            "x^T x + x^T A x",
            "--wrt",
            "x",
            "--hessian",
            "A + A^T + 2 I",
        ],
        None,
    );
    assert_eq!(code, Some(0), "{out}{err}");
    // a wrong claim with a free size is still refuted, and a claim of the
    // wrong shape still an error
    let (code, out, _) = run(&["check", "tr(X)", "--wrt", "X", "--grad", "2 I"], None);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("matcalc's answer: I"), "{out}");
    let (code, _, err) = run(&["check", "sum(x)", "--wrt", "x", "--grad", "I"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("the claimed gradient is"), "{err}");
    // and in the REPL
    let (code, out, err) = run(
        &["repl"],
        Some("check x^T x + x^T A x wrt x --hessian 2 I + A + A^T\n"),
    );
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("exact"), "{out}");
}

/// A `ones` whose size nothing in the printed answer fixes is printed
/// with its size, so that the answer reads back with its shape (a bare
/// `2 ones ones^T` reads back as the number 2); a `ones` that its context
/// sizes stays bare.
#[test]
fn a_ones_with_a_free_size_prints_its_size() {
    for (command, expr, wrt, want) in [
        ("hessian", "sum(x)^2", "x", "2 ones(n) ones(n)^T"),
        ("grad", "sum(x)", "x", "ones(n)"),
        ("grad", "sum(x) / nu", "x", "ones(n) / nu"),
        (
            "grad",
            "sum(W H - X .* log(W H))",
            "W",
            "(ones - X ./ (W H)) H^T",
        ),
    ] {
        crate::common::checked(expr, wrt, None);
        let (code, out, err) = run(&[command, expr, "--wrt", wrt], None);
        assert_eq!((code, out.trim_end()), (Some(0), want), "{err}");
        // read back on its own, it has its shape and prints the same
        let (code, again, err) = run(&["simplify", want], None);
        assert_eq!((code, again.trim_end()), (Some(0), want), "{err}");
    }
    let (code, out, _) = run(&["simplify", "2 ones ones^T"], None);
    assert_eq!((code, out.trim_end()), (Some(0), "2"));
}

/// The files under `src/<dir>` (for each of `dirs`) whose text mentions
/// `needle`.
fn sources_mentioning(dirs: &[&str], needle: &str) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for dir in dirs {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("reads src") {
                let p = entry.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else if std::fs::read_to_string(&p).expect("reads").contains(needle) {
                    offenders.push(p.display().to_string());
                }
            }
        }
    }
    offenders
}

#[test]
fn lower_layers_never_import_the_session() {
    let offenders = sources_mentioning(
        &["print", "calculus", "simplify", "numeric"],
        "crate::session",
    );
    assert!(offenders.is_empty(), "import the session: {offenders:?}");
}

#[test]
fn calculus_prints_nothing() {
    // pending differentials are data; the derivation's printer spells them
    let offenders = sources_mentioning(&["calculus"], "crate::print");
    assert!(offenders.is_empty(), "import the printers: {offenders:?}");
}

#[test]
fn scientific_notation_is_a_number() {
    let (code, out, err) = run(&["grad", "1e-3 x^T x", "--wrt", "x"], None);
    assert_eq!((code, out.as_str()), (Some(0), "(1/500) x\n"), "{err}");
    assert!(err.is_empty(), "no guess is noted: {err}");
    crate::common::checked("1e-3 x^T x", "x", None);
    let (code, out, _) = run(&["simplify", "2.5E2 + 1e+1 - 3e0"], None);
    assert_eq!((code, out.as_str()), (Some(0), "257\n"));
    // `2 e_i` is still the unit vector times 2
    let (code, out, _) = run(&["grad", "2e_i^T x", "--wrt", "x"], None);
    assert_eq!((code, out.as_str()), (Some(0), "2 e_i\n"));
    let (code, _, err) = run(&["simplify", "1e400"], None);
    assert_eq!(code, Some(1));
    assert!(err.contains("power of ten is limited"), "{err}");
}

#[test]
fn several_expressions_on_stdin_are_refused() {
    let (code, _, err) = run(&["grad", "-", "--wrt", "x"], Some("x^T x\nx^T A x\n"));
    assert_eq!(code, Some(1));
    assert!(err.contains("holds 2 expressions"), "{err}");
    // comments, blank lines, and a line break inside brackets are fine
    let (code, out, err) = run(
        &["grad", "-", "--wrt", "x"],
        Some("# a quadratic form\n\nx^T (A\n  x)\n"),
    );
    assert_eq!((code, out.as_str()), (Some(0), "A x + A^T x\n"), "{err}");
    crate::common::checked("x^T (A x)", "x", None);
}

#[test]
fn trace_of_a_kronecker_product_of_rectangular_factors_is_not_split() {
    // tr(A ⊗ X) = tr(A) tr(X) only for square factors: with A 2×3 and X
    // 3×2 the product is square but the split is meaningless
    let (code, out, err) = run(
        &[
            "grad",
            "tr(kron(A, X)) where A: 2 x 3, X: 3 x 2",
            "--wrt",
            "X",
        ],
        None,
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(err.contains("Kronecker product"), "{err}");
    let (code, out, _) = run(&["grad", "tr(kron(A, X))", "--wrt", "X"], None);
    assert_eq!((code, out.as_str()), (Some(0), "tr(A) I\n"));
    crate::common::checked("tr(kron(A, X))", "X", None);
}

#[test]
fn a_divisor_is_read_as_a_scalar_with_a_note() {
    for cmd in [
        &["simplify", "sum(x)/n"][..],
        &["grad", "sum(x)/n", "--wrt", "x"],
    ] {
        let (code, _, err) = run(cmd, None);
        assert_eq!(code, Some(0), "{cmd:?}: {err}");
        assert!(err.contains("`n` is read as a scalar"), "{err}");
    }
    crate::common::checked("norm2(x - (sum(x)/n) ones)^2", "x", Some("n: scalar"));
    // a declaration wins: a vector divisor is refused
    let (code, _, _) = run(&["simplify", "sum(x)/n where n: vector"], None);
    assert_eq!(code, Some(1));
}

/// The input's own `dX` is never the direction: `tr(dX X)` was answered
/// `tr(dX dX)` (and `tr(dX^2)`). The direction takes a fresh name of the
/// variable's kind, with a note, in every shell and in `check`.
#[test]
fn an_input_dx_is_not_the_direction() {
    let note = "the input uses `dX`, so the direction is named `H`";
    for input in ["tr(dX X)", "tr(dX X) where dX: matrix"] {
        let (code, out, err) = run(&["diff", input, "--wrt", "X"], None);
        assert_eq!((code, out.trim()), (Some(0), "tr(dX H)"), "{err}");
        assert!(err.contains(note), "{err}");
    }
    let (_, out, _) = run(
        &["diff", "tr(dX X)", "--wrt", "X", "--format", "json"],
        None,
    );
    assert!(out.contains("\"text\": \"tr(dX H)\""), "{out}");
    assert!(out.contains(note), "{out}");
    let (code, out, err) = run(&["check", "tr(dX X)", "--wrt", "X"], None);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("differential: tr(dX H)"), "{out}");
    assert!(err.contains(note), "{err}");
    let claim = ["check", "tr(dX X)", "--wrt", "X", "--diff", "tr(dX H)"];
    let (code, out, err) = run(&claim, None);
    assert_eq!(code, Some(0), "{out}{err}");
    // a claimed differential is read in the renamed direction: say so too
    assert!(err.contains(note), "{err}");
    let (code, out, err) = run(
        &["check", "tr(dX X)", "--wrt", "X", "--diff", "tr(H X)"],
        None,
    );
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains("matcalc's answer: tr(dX H)") && err.contains(note),
        "{out}{err}"
    );
    let (_, out, _) = run(&[&claim[..], &["--format", "json"]].concat(), None);
    assert!(
        out.contains(note) && out.contains("\"passed\": true"),
        "{out}"
    );
    let (_, out, err) = run(&["repl"], Some("check tr(dX X) wrt X --diff tr(dX H)\n"));
    assert!(
        out.contains("differential: tr(dX H)") && err.contains(note),
        "{out}{err}"
    );
    crate::common::checked("tr(dX X)", "X", None);
    let (_, out, err) = run(&["repl"], Some("diff tr(dX X) wrt X\n"));
    assert!(out.contains("tr(dX H)") && err.contains(note), "{out}{err}");
    // a vector's direction is `h`, the next free name if `h` is used
    let (_, out, err) = run(&["diff", "dx^T x + h^T x", "--wrt", "x"], None);
    assert_eq!(out.trim(), "(dx + h)^T h1", "{err}");
    assert!(err.contains("the direction is named `h1`"), "{err}");
    // a direction that is named is used as it is, without a note
    let (_, out, err) = run(
        &["diff", "tr(dX X)", "--wrt", "X", "--direction", "K"],
        None,
    );
    assert_eq!((out.trim(), err.as_str()), ("tr(dX K)", ""));
    crate::common::checked("tr(dX X)", "X", None);
    crate::common::checked("dx^T x + h^T x", "x", None);
    crate::common::checked("x^T dX x where dX: matrix", "x", None);
}

/// A direction must read back as itself: `--direction I` printed
/// `I X^T + X I^T` (which reads back as `X^T + X`), `--direction alpha`
/// a "scalar" direction of a matrix. Built-in names and names of another
/// conventional kind are refused, exit 1.
#[test]
fn a_direction_reads_back_as_itself() {
    for (wrt, dir, says) in [
        ("X", "I", "`I` is a built-in name"),
        ("X", "ones", "`ones` is a built-in name"),
        ("X", "eye", "`eye` is a built-in name"),
        ("x", "exp", "`exp` is a built-in name"),
        (
            "X",
            "alpha",
            "`alpha` names a scalar by convention, but the direction of `X` is a matrix",
        ),
        (
            "X",
            "h",
            "`h` names a vector by convention, but the direction of `X` is a matrix",
        ),
        (
            "x",
            "H",
            "`H` names a matrix by convention, but the direction of `x` is a vector",
        ),
    ] {
        let input = if wrt == "X" { "X X^T" } else { "x^T x" };
        let (code, out, err) = run(&["diff", input, "--wrt", wrt, "--direction", dir], None);
        assert_eq!(code, Some(1), "{dir}: {out}");
        assert!(err.contains(says), "{err}");
    }
    let (code, out, _) = run(&["diff", "X X^T", "--wrt", "X", "--direction", "V"], None);
    assert_eq!((code, out.trim()), (Some(0), "V X^T + X V^T"));
    let (code, out, _) = run(&["diff", "x^T x", "--wrt", "x", "--direction", "v"], None);
    assert_eq!((code, out.trim()), (Some(0), "2 v^T x"));
    let (code, out, _) = run(
        &["diff", "alpha^2", "--wrt", "alpha", "--direction", "eta"],
        None,
    );
    assert_eq!((code, out.trim()), (Some(0), "2 alpha eta"));
    crate::common::verified_diff("X X^T", "X", Some("V"));
    crate::common::verified_diff("alpha^2", "alpha", Some("eta"));
}
