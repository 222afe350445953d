//! Gradients, Hessians and Jacobians (SPEC §4): the must-show outputs
//! through the binary, the answers other tools get wrong, symmetric
//! variables, the component form, and the errors. Every asserted answer is
//! also verified by `Session::check` (exactly over Q where rational).

use crate::common::{checked, matcalc, run, with_settings};
use matcalc::numeric::check::{Direction, check_differential};
use matcalc::{Form, Session};

#[test]
fn the_must_show_outputs() {
    let cases: [(&[&str], &str); 7] = [
        (&["grad", "tr(X^T A X)", "--wrt", "X"], "A X + A^T X"),
        (
            &["grad", "tr(X^T A X)", "--wrt", "X", "--factor"],
            "(A + A^T) X",
        ),
        (&["grad", "logdet(X)", "--wrt", "X"], "X^-T"),
        (
            &["grad", "x^T S x where S: symmetric", "--wrt", "x"],
            "2 S x",
        ),
        (&["hessian", "x^T A x", "--wrt", "x"], "A + A^T"),
        (&["jacobian", "A X B", "--wrt", "X"], "B^T ⊗ A"),
        (
            &["diff", "A X X^T A^T", "--wrt", "X_ij", "--format", "index"],
            "∂M_kl/∂X_ij = A_ki (A X)_lj + (A X)_kj A_li",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(run(args), want, "{args:?}");
    }
    checked("tr(X^T A X)", "X", None);
    checked("logdet(X)", "X", None);
    checked("x^T S x", "x", Some("S: symmetric"));
    checked("x^T A x", "x", None);
    checked("A X B", "X", None);
    checked("A X X^T A^T", "X", None);
}

/// The answers SymPy gets wrong (or returns 0 for), each right here.
#[test]
fn the_answers_other_tools_get_wrong() {
    let s = Session::new();
    let grad = |e: &str, x: &str, d: Option<&str>| {
        s.grad(e, x, d, Some(Form::Expanded))
            .unwrap_or_else(|d| panic!("{e}: {}", d.render()))
            .text
    };
    // SymPy transposes E_ij the wrong way round.
    let a = s.diff("X X^T", "X_ij", None, None).expect("diff");
    assert_eq!(a.text, "E_ij X^T + X E_ij^T");
    checked("X X^T", "X", None);
    // SymPy: log(det(X)).diff(X) = 0.
    assert_eq!(grad("logdet(X)", "X", None), "X^-T");
    // SymPy: 0.
    assert_eq!(grad("tr(A^T A) + tr(B^T B)", "A", None), "2 A");
    checked("tr(A^T A) + tr(B^T B)", "A", None);
    // SymPy: 0.
    assert_eq!(grad("tr(E) + 1", "E", None), "I");
    checked("tr(E) + 1", "E", None);
    assert_eq!(grad("3 det(X)", "X", None), "3 det(X) X^-T");
    checked("3 det(X)", "X", None);
    assert_eq!(grad("1/det(X)", "X", None), "-X^-T / det(X)");
    checked("1/det(X)", "X", None);
    // SymPy commutes the factors of d(X^k).
    let a = s.diff("X^3", "X", None, None).expect("diff");
    assert_eq!(a.text, "dX X^2 + X dX X + X^2 dX");
    checked("X^3", "X", None);
    // The symmetric gradient of tr(A^T X B) is (A B^T + B A^T)/2.
    let sym = grad("tr(A^T X B)", "X", Some("X: symmetric"));
    assert_eq!(sym, "(1/2) A B^T + (1/2) B A^T");
    checked("tr(A^T X B)", "X", Some("X: symmetric"));
}

/// SPEC §4: for a symmetric S the gradient is sym(G0) = (G0 + G0^T)/2, and
/// the often-quoted 2 G0 − diag(G0) is not a gradient: df = tr(G dS) fails
/// for it along symmetric directions, and holds for matcalc's answer.
#[test]
fn symmetric_gradients_are_the_symmetric_part() {
    let s = Session::new();
    let decls = Some("X: symmetric");
    let f = "tr(A^T X B)";
    let ours = s.grad(f, "X", decls, Some(Form::Expanded)).expect("grad");
    let claim = |g: &str| {
        let text = format!("tr(A^T X B) + tr(({g}) dX)");
        let lowered = s.lower(&text, decls).expect("reads");
        let matcalc::Kind::Sum(parts) = lowered.expr.kind() else {
            panic!("a sum")
        };
        let r = check_differential(
            &parts[0],
            &parts[1],
            &lowered.context,
            "X",
            &Direction::Var("dX".into()),
            5,
            7,
        )
        .expect("evaluates");
        r.max_rel_error
    };
    // tr(G dS) = tr(G^T dS) for symmetric G
    assert!(claim(&ours.text) < 1e-6, "{}", ours.text);
    let folklore = "2 A B^T - diag(diag(A B^T))";
    assert!(
        claim(folklore) > 1e-2,
        "{folklore} passed, but is no gradient"
    );
    // The gradient is symmetric itself, and check says so.
    checked(f, "X", decls);
}

#[test]
fn hessians_and_jacobians_of_every_variable_kind() {
    let s = Session::new();
    let f = Some(Form::Expanded);
    let h = |e: &str, x: &str| s.hessian(e, x, None, f).expect("hessian").text;
    let j = |e: &str, x: &str| s.jacobian(e, x, None, f).expect("jacobian").text;
    assert_eq!(h("alpha^3", "alpha"), "6 alpha");
    assert_eq!(h("tr(X^T X)", "X"), "2 I");
    assert_eq!(h("tr(X^T A X)", "X"), "I ⊗ A + I ⊗ A^T");
    assert_eq!(j("exp(A x)", "x"), "diag(exp(A x)) A");
    assert_eq!(j("A x", "x"), "A");
    assert_eq!(j("X^T", "X"), "commutation(n, m)");
    assert_eq!(j("alpha x", "alpha"), "x");
    for (e, x) in [
        ("alpha^3", "alpha"),
        ("tr(X^T X)", "X"),
        ("A x", "x"),
        ("tr(X^T A X)", "X"),
        ("exp(A x)", "x"),
        ("X^T", "X"),
        ("kron(X, B)", "X"),
        ("kron(A, X)", "X"),
        ("alpha x", "alpha"),
    ] {
        checked(e, x, None);
    }
}

#[test]
fn the_component_form() {
    let out = |args: &[&str]| run(args);
    let cases: [(&[&str], &str); 6] = [
        (
            &["diff", "X X^T", "--wrt", "X_ij", "--format", "index"],
            "∂M_kl/∂X_ij = δ_ki X_lj + X_kj δ_il",
        ),
        (
            &["diff", "tr(A X)", "--wrt", "X_ij", "--format", "index"],
            "∂f/∂X_ij = A_ji",
        ),
        (
            &["diff", "A x", "--wrt", "x_i", "--format", "index"],
            "∂y_k/∂x_i = A_ki",
        ),
        (
            &["grad", "tr(X^T A X)", "--wrt", "X", "--format", "index"],
            "∂f/∂X_ij = (A X)_ij + (A^T X)_ij",
        ),
        (
            &["grad", "a^T X b", "--wrt", "X", "--format", "index"],
            "∂f/∂X_ij = a_i b_j",
        ),
        (
            &["hessian", "x^T A x", "--wrt", "x", "--format", "index"],
            "∂²f/∂x_i∂x_j = A_ij + A_ji",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(out(args), want, "{args:?}");
    }
    for (e, x) in [
        ("X X^T", "X"),
        ("tr(A X)", "X"),
        ("A x", "x"),
        ("tr(X^T A X)", "X"),
        ("a^T X b", "X"),
        ("x^T A x", "x"),
    ] {
        checked(e, x, None);
    }
}

#[test]
fn errors_name_the_problem() {
    let cases: [&[&str]; 5] = [
        &["grad", "A X", "--wrt", "X"],
        &["hessian", "X X^T", "--wrt", "X"],
        &["grad", "tr(A X)", "--wrt", "X_ij"],
        &["grad", "tr(A X)", "--wrt", "Y"],
        &["jacobian", "diag(x)", "--wrt", "x"],
    ];
    let mut all = String::new();
    for args in cases {
        let out = matcalc().args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        all.push_str(&format!(
            "$ matcalc {}\n{}\n",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    with_settings(|| insta::assert_snapshot!(all));
}

/// The component form is the result, entry by entry: every entry of the
/// evaluated result equals the index form's right-hand side at those index
/// values, at random points of distinct sizes.
#[test]
fn the_component_form_is_the_result_entry_by_entry() {
    use matcalc::numeric::check::random_bindings;
    use matcalc::numeric::{eval, rng::Rng};
    use matcalc::{Answer, Wrt, index_form};
    let s = Session::new();
    let f = Some(Form::Expanded);
    let answers: Vec<Answer> = vec![
        s.diff("A X X^T A^T", "X_ij", None, None).expect("diff"),
        s.diff("X X^T", "X_ij", None, None).expect("diff"),
        s.diff("X X^T", "X", None, None).expect("diff"),
        s.diff("tr(A X)", "X_ij", None, None).expect("diff"),
        s.diff("A x", "x_i", None, None).expect("diff"),
        s.diff("x^T A x", "x_i", None, None).expect("diff"),
        s.diff("X^-1", "X_ij", None, None).expect("diff"),
        s.diff("alpha X B", "X_ij", None, None).expect("diff"),
        s.grad("tr(X^T A X)", "X", None, f).expect("grad"),
        s.grad("a^T X b", "X", None, f).expect("grad"),
        s.grad("b^T X^T X c", "X", None, f).expect("grad"),
        s.grad("x^T A x", "x", None, f).expect("grad"),
        s.grad("logdet(X)", "X", None, f).expect("grad"),
        s.hessian("x^T A x", "x", None, f).expect("hessian"),
        s.jacobian("A X B", "X", None, f).expect("jacobian"),
        s.jacobian("exp(A x)", "x", None, f).expect("jacobian"),
    ];
    for a in &answers {
        let form = index_form(a);
        let mut ctx = a.context.clone();
        if let (Some(d), Wrt::Var(v)) = (&a.direction, &a.wrt) {
            let info = ctx.vars[v].clone();
            ctx.vars.insert(
                d.clone(),
                matcalc::VarInfo {
                    differential_of: Some(v.clone()),
                    ..info
                },
            );
            ctx.order.push(d.clone());
        }
        let mut rng = Rng::new(11);
        let mut b = random_bindings(&ctx, &[&a.function, &a.result], &mut rng, 0)
            .unwrap_or_else(|e| panic!("{}: {e}", a.text));
        if let Some(d) = &a.direction {
            let (rows, cols) = b.shape(&ctx.vars[d].shape).expect("sizes");
            let mut h = matcalc::numeric::Matrix::zeros(rows, cols);
            for i in 0..rows {
                for j in 0..cols {
                    h.set(i, j, (3 * i + 7 * j) as f64 / 5.0 - 1.0);
                }
            }
            b.vars.insert(d.clone(), h);
        }
        let value = eval(&a.result, &b).unwrap_or_else(|e| panic!("{}: {e}", a.text));
        let letter = |x: &Option<String>| x.as_ref().and_then(|s| s.chars().next());
        let (r, c) = (letter(&form.row), letter(&form.col));
        for i in 0..value.rows {
            for j in 0..value.cols {
                let (mut ri, mut cj) = (i, j);
                if value.rows == 1 {
                    (ri, cj) = (j, i);
                }
                if let Some(r) = r {
                    b.indices.insert(r, ri);
                }
                if let Some(c) = c {
                    b.indices.insert(c, cj);
                }
                let want = value.get(i, j);
                let got = form
                    .value(&b)
                    .unwrap_or_else(|e| panic!("{}: {e}", matcalc::to_index(a)));
                assert!(
                    (want - got).abs() <= 1e-9 * (1.0 + want.abs()),
                    "{} at ({i}, {j}): {got} vs {want}",
                    matcalc::to_index(a)
                );
            }
        }
    }
}

/// A kind matcalc does not write is reported as such by `check`, which
/// still verifies the others and exits 0.
#[test]
fn check_reports_kinds_it_does_not_write() {
    let out = matcalc()
        .args(["check", "diag(x)", "--wrt", "x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("differential: diag(dx)\n  exact"),
        "{stdout}"
    );
    assert!(
        stdout.contains("jacobian:\n  not written: the Jacobian of `diag(…)`"),
        "{stdout}"
    );
}

/// A scalar product of sums the input wrote, `(x - m)^T (x - m)`, stays
/// written that way when it survives differentiation as a whole (the
/// Gaussian's variance, a ridge weight), instead of its three-term
/// expansion; a group of transposes is the transpose of the group.
#[test]
fn products_of_sums_the_input_wrote_are_kept() {
    let cases = [
        (
            "(x - m)^T (x - m) / sigma^2",
            "sigma",
            None,
            "-2 ((x - m)^T (x - m)) / sigma^3",
        ),
        (
            "(A x - b)^T (A x - b) beta",
            "beta",
            Some("beta: scalar"),
            "(A x - b)^T (A x - b)",
        ),
        (
            "-(x - m)^T inv(S) (x - m)/2 - logdet(S)/2",
            "S",
            None,
            "(1/2) S^-T (x - m) (x - m)^T S^-T - (1/2) S^-T",
        ),
    ];
    for (e, wrt, decls, want) in cases {
        let mut args = vec!["grad", e, "--wrt", wrt];
        if let Some(d) = decls {
            args.extend(["--where", d]);
        }
        assert_eq!(run(&args).trim(), want, "{e}");
        checked(e, wrt, decls);
        // the printed answer is the gradient
        let mut args = vec!["check", e, "--wrt", wrt, "--grad", want];
        if let Some(d) = decls {
            args.extend(["--where", d]);
        }
        run(&args);
    }
}

/// Kronecker factors multiply factor by factor, `(A ⊗ B)(C ⊗ D) = (A C) ⊗
/// (B D)`, and a matrix beside a Kronecker factor with a vector side joins
/// it (`(w ⊗ I) D (w^T ⊗ I) = (w w^T) ⊗ D`): the Hessians of the softmax
/// regression in W and of the logistic loss in X are the textbook's
/// Kronecker products, not chains of them.
#[test]
fn kronecker_factors_multiply_factor_by_factor() {
    let cases = [
        (
            "hessian",
            "logsumexp(W x) - y^T W x",
            "W",
            "W: 4 x 3",
            "(x x^T) ⊗ diag(p) - (x x^T) ⊗ (p p^T) where p = softmax(W x)",
        ),
        (
            "hessian",
            "sum(log(1 + exp(-y .* (X w))))",
            "X",
            "X: 5 x 3",
            "(w w^T) ⊗ diag(((y .* p) .* (1 - p)) .* y) where p = sigmoid(-(y .* (X w)))",
        ),
        ("jacobian", "A X B", "X", "A: 3 x 4, B: 5 x 2", "B^T ⊗ A"),
    ];
    for (cmd, e, wrt, decls, want) in cases {
        assert_eq!(
            run(&[cmd, e, "--wrt", wrt, "--where", decls]).trim(),
            want,
            "{e}"
        );
        checked(e, wrt, Some(decls));
        let flag = format!("--{cmd}");
        run(&["check", e, "--wrt", wrt, "--where", decls, &flag, want]);
    }
    assert_eq!(
        run(&["simplify", "(x ⊗ I) (x^T ⊗ A) - (x x^T) ⊗ A"]).trim(),
        "0"
    );
}
