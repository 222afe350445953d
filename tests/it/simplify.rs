//! The simplifier: the issue's exact outputs, a table of simplifications
//! each shown to preserve the value (exactly over Q where rational), the
//! soundness of every rewrite rule on its witness, determinism, bounds.

use crate::common::with_settings;
use matcalc::numeric::check::check_equal;
use matcalc::simplify::rules::{RuleSpec, all_specs, holds, rewrite};
use matcalc::simplify::{
    Form, Limits,
    lang::{Facts, Graph, Mat},
    simplify_with,
};
use matcalc::{Context, Expr, Session, simplify, to_text};
use std::collections::BTreeSet;

/// Simplifies, checks that the value is unchanged, and returns the text.
#[track_caller]
fn verified_simplify(input: &str, form: Form) -> String {
    let lowered = Session::new()
        .lower(input, None)
        .unwrap_or_else(|d| panic!("{input}: {}", d.render()));
    let out = simplify(&lowered.expr, &lowered.context, form);
    assert_equal(&lowered.expr, &out.expr, &lowered.context, input);
    to_text(&out.expr)
}

#[track_caller]
fn assert_equal(a: &Expr, b: &Expr, ctx: &Context, what: &str) {
    let report = check_equal(a, b, ctx, 4, 0x51a7)
        .unwrap_or_else(|e| panic!("{what}: {} ≠ {}: {e}", to_text(a), to_text(b)));
    assert!(
        report.max_rel_error < 1e-9,
        "{what}: {} ≠ {}: relative error {:e}",
        to_text(a),
        to_text(b),
        report.max_rel_error
    );
}

/// The outputs the issue fixes, exactly.
const MUST: &[(&str, Form, &str)] = &[
    ("(A B)^T + B^T A^T", Form::Expanded, "2 B^T A^T"),
    ("x^T A^T x + x^T A x", Form::Expanded, "2 x^T A x"),
    ("(A^T)^T", Form::Expanded, "A"),
    ("X X^-1 A", Form::Expanded, "A"),
    ("A X + 2 A X - A X", Form::Expanded, "2 A X"),
    ("A X - A X", Form::Expanded, "0"),
    ("A/2 + A/3", Form::Expanded, "(5/6) A"),
    ("A X + A^T X", Form::Factored, "(A + A^T) X"),
    ("(A + A^T) X", Form::Expanded, "A X + A^T X"),
];

#[test]
fn the_issues_outputs_are_exact() {
    for &(input, form, expected) in MUST {
        assert_eq!(verified_simplify(input, form), expected, "simplify {input}");
    }
}

/// Inputs over every theory, on rectangular shapes where the law allows.
const CASES: &[&str] = &[
    // transposes onto the leaves
    "(A B C)^T",
    "(A + B)^T C",
    "((A B)^T)^T",
    "(2 A B)^T",
    "S^T where S: symmetric",
    "(S X)^T where S: symmetric",
    "(X^-1)^T",
    "(A^T)^-1",
    "(A .* B)^T",
    "(A ⊗ B)^T",
    // inverses and identities
    "X^-1 X",
    "A X X^-1 B",
    "(A B)^-1 where A: n x n, B: n x n",
    "(A B)^-1 A B where A: n x n, B: n x n",
    "((X)^-1)^-1",
    "I A",
    "A I B",
    "(2 X)^-1",
    // like terms and coefficients
    "A - 2 A + A",
    "3 (A + B) - 2 B",
    "A X/4 + X/4",
    "(A + B) (C + D)",
    "(x + y)^T (x + y)",
    "alpha A + A alpha",
    "alpha beta A - beta alpha A",
    // scalars and their transposes
    "x^T y + y^T x",
    "x^T A y + y^T A^T x",
    "(x^T A x) B + B (x^T A^T x)",
    // traces
    "tr(A B) + tr(B A)",
    "tr(A B C) - tr(C A B)",
    "tr(A^T)",
    "tr(X^T A) + tr(A^T X)",
    "tr(2 A + B)",
    "tr(x^T A x)",
    // determinants and log-determinants
    "det(X^T)",
    "det(X^-1) det(X)",
    "det(A B) where A: n x n, B: n x n",
    "logdet(X^T)",
    "logdet(X^-1) + logdet(X)",
    "logdet(A B) - logdet(A) where A: n x n, B: n x n",
    // Hadamard and Kronecker products
    "A .* B + B .* A",
    "(2 A) .* B",
    "(A + B) .* C",
    "(A + B) ⊗ C",
    "sum(A .* B) + sum(B .* A)",
    // scalar powers
    "alpha^2 alpha^-1",
    "(x^T x) / (x^T x)",
    "(2 alpha)^3",
];

#[test]
fn simplifications_preserve_the_value() {
    let mut lines = String::new();
    for input in CASES {
        let expanded = verified_simplify(input, Form::Expanded);
        let factored = verified_simplify(input, Form::Factored);
        lines.push_str(&format!(
            "{input}\n  = {expanded}\n  = {factored} (factored)\n"
        ));
    }
    with_settings(|| insta::assert_snapshot!("simplifications", lines));
}

#[test]
fn simplified_output_round_trips_and_is_a_fixed_point() {
    for input in CASES {
        let once = verified_simplify(input, Form::Expanded);
        let decls = input.split_once(" where ").map(|(_, d)| d);
        let reparsed = Session::new()
            .lower(&once, decls)
            .unwrap_or_else(|d| panic!("{once}: {}", d.render()));
        let twice = to_text(&simplify(&reparsed.expr, &reparsed.context, Form::Expanded).expr);
        assert_eq!(once, twice, "simplify is not idempotent on {input}");
    }
}

#[test]
fn factoring_never_grows_the_expression() {
    for input in CASES {
        let lowered = Session::new().lower(input, None).expect("parses");
        let expanded = simplify(&lowered.expr, &lowered.context, Form::Expanded).expr;
        let factored = simplify(&lowered.expr, &lowered.context, Form::Factored).expr;
        assert!(
            factored.size() <= expanded.size(),
            "{input}: {} is bigger than {}",
            to_text(&factored),
            to_text(&expanded)
        );
    }
}

#[test]
fn every_rule_is_sound_on_its_witness() {
    let mut names = BTreeSet::new();
    for spec in all_specs() {
        assert!(names.insert(spec.name), "duplicate rule name {}", spec.name);
        let (theory, law) = spec.name.split_once('-').expect("theory-law");
        assert!(
            !theory.is_empty() && !law.is_empty(),
            "{}: rule names are `theory-law`",
            spec.name
        );
        check_rule(spec);
    }
    assert!(names.len() >= 40, "only {} rules", names.len());
}

/// Instantiates a rule on its witness: the rule must fire, and both sides
/// must have the same value at random points.
fn check_rule(spec: &RuleSpec) {
    let name = spec.name;
    let mut ctx = Context::default();
    let mut symmetric = BTreeSet::new();
    let mut subst = egg::Subst::default();
    let mut values: Vec<(egg::Var, Expr)> = Vec::new();
    for entry in spec.witness.split(", ") {
        let (v, decl) = entry.split_once(": ").expect("`name: declaration`");
        let expr = if let Some(n) = decl.strip_prefix("I ") {
            Expr::identity(matcalc::Dim::lit(n.parse().expect("a size")))
        } else if let Ok(k) = decl.parse::<i64>() {
            Expr::int(k)
        } else {
            let lowered = Session::new()
                .lower(v, Some(&format!("{v}: {decl}")))
                .unwrap_or_else(|d| panic!("{name}: witness {entry}: {}", d.render()));
            for (n, info) in lowered.context.vars {
                if info.symmetric {
                    symmetric.insert(n.clone());
                }
                ctx.order.push(n.clone());
                ctx.vars.insert(n, info);
            }
            lowered.expr
        };
        let var: egg::Var = format!("?{v}").parse().expect("a pattern variable");
        values.push((var, expr));
    }
    let mut g = Graph::new(Facts::new(symmetric));
    for (var, expr) in &values {
        let id = matcalc::simplify::lang::add_expr(&mut g, expr);
        subst.insert(*var, id);
    }
    let lhs: egg::Pattern<Mat> = spec.lhs.parse().expect("lhs");
    let rhs: egg::Pattern<Mat> = spec.rhs.parse().expect("rhs");
    let root = g.add_instantiation(&lhs.ast, &subst);
    g.rebuild();
    assert!(
        holds(spec.cond, &g, &subst),
        "{name}: the witness does not satisfy the condition"
    );
    let runner = egg::Runner::default()
        .with_egraph(g)
        .with_iter_limit(1)
        .run([&rewrite(spec)]);
    let mut g = runner.egraph;
    let other = g.add_instantiation(&rhs.ast, &subst);
    g.rebuild();
    assert_eq!(
        g.find(root),
        g.find(other),
        "{name}: the rule does not fire on its witness"
    );
    let side = |pattern: &egg::Pattern<Mat>| pattern_expr(&g.analysis, pattern, &values);
    let (l, r) = (side(&lhs), side(&rhs));
    assert_equal(&l, &r, &ctx, name);
}

/// The expression a pattern denotes with its variables bound to `values`.
fn pattern_expr(facts: &Facts, p: &egg::Pattern<Mat>, values: &[(egg::Var, Expr)]) -> Expr {
    let mut built: Vec<Expr> = Vec::new();
    for node in p.ast.iter() {
        let e = match node {
            egg::ENodeOrVar::Var(v) => values
                .iter()
                .find(|(w, _)| w == v)
                .map(|(_, e)| e.clone())
                .expect("every pattern variable has a witness"),
            egg::ENodeOrVar::ENode(n) => {
                use egg::Language;
                let kids: Vec<Expr> = n
                    .children()
                    .iter()
                    .map(|&c| built[usize::from(c)].clone())
                    .collect();
                matcalc::simplify::lang::node_expr(facts, n, &kids)
            }
        };
        built.push(e);
    }
    built.pop().expect("a non-empty pattern")
}

#[test]
fn the_same_input_prints_the_same_text_on_any_thread() {
    const INPUTS: [&str; 3] = [
        "tr(A B C) + tr(C A B) + tr(B C A)",
        "x^T A y + y^T A^T x + (x + y)^T A (x + y)",
        "A X + A^T X + X A + X A^T",
    ];
    let run = || -> Vec<String> {
        INPUTS
            .iter()
            .flat_map(|i| {
                [
                    verified_simplify(i, Form::Expanded),
                    verified_simplify(i, Form::Factored),
                ]
            })
            .collect()
    };
    let here = run();
    let there: Vec<Vec<String>> = (0..3)
        .map(|_| std::thread::spawn(run))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("no panic"))
        .collect();
    for t in there {
        assert_eq!(t, here);
    }
}

#[test]
fn forty_distinct_products_collect() {
    // 40 distinct products, each written twice (once transposed).
    let mut terms = Vec::new();
    for k in 1..=40 {
        terms.push(format!("{k} A{k} X B{k}"));
        terms.push(format!("(B{k}^T X^T A{k}^T)^T"));
    }
    let input = format!("{} where X: 4 x 5", terms.join(" + "));
    let out = verified_simplify(&input, Form::Expanded);
    assert!(out.starts_with("2 A1 X B1 + 3 A2 X B2 + "), "{out}");
    assert!(out.ends_with(" + 41 A40 X B40"), "{out}");
}

#[test]
fn hitting_a_limit_is_reported_and_still_sound() {
    let input = "(A + B) (C + D) (E + F) + tr(A B C) + tr(C A B)";
    let lowered = Session::new().lower(input, None).expect("parses");
    let tight = Limits {
        nodes: 50,
        iterations: 2,
        max_terms: 4,
        ..Limits::default()
    };
    let out = simplify_with(&lowered.expr, &lowered.context, Form::Expanded, &tight);
    assert!(!out.stopped.is_empty(), "no limit reported");
    assert_equal(&lowered.expr, &out.expr, &lowered.context, input);
}

#[test]
fn the_cli_simplifies() {
    use insta_cmd::assert_cmd_snapshot;
    with_settings(|| {
        assert_cmd_snapshot!(
            "simplify_cli",
            crate::common::matcalc().args(["simplify", "(A B)^T + B^T A^T"])
        );
        assert_cmd_snapshot!(
            "simplify_cli_factor",
            crate::common::matcalc().args(["simplify", "A X + A^T X", "--factor"])
        );
        assert_cmd_snapshot!(
            "diff_cli_raw",
            crate::common::matcalc().args(["diff", "x^T x", "--wrt", "x", "--raw"])
        );
    });
}

/// Terms whose words differ are left apart without a numeric point, and
/// terms that are equal however they are written still merge: a symmetric
/// matrix's transpose, a scalar part that equals its own transpose, a
/// product written in another order.
#[test]
fn terms_told_apart_by_their_words_still_merge_when_equal() {
    let cases = [
        // different words: stay apart (rectangular, all sides over 1)
        (
            "A X B + A^T X B^T where A: 3 x 3, X: 3 x 4, B: 4 x 4",
            "A X B + A^T X B^T",
        ),
        ("X^T X + X X^T where X: 3 x 3", "X^T X + X X^T"),
        // a symmetric S^T is S: one word
        (
            "A S B + A S^T B where S: symmetric 4 x 4, A: 3 x 4, B: 4 x 5",
            "2 A S B",
        ),
        // with vectors, words that differ can be equal: x^T A y = y^T A^T x
        (
            "x^T A y z^T + y^T A^T x z^T where A: 3 x 4, z: 5",
            "2 (x^T A y) z^T",
        ),
        ("A x + A^T x where A: 3 x 3", "A x + A^T x"),
        ("x^T A + x^T A^T where A: 3 x 3", "x^T A + x^T A^T"),
        ("A x + A x where A: 3 x 4", "2 A x"),
        // a vector at both ends makes the term 1×1: equal to its transpose
        ("x^T A y + y^T A^T x where A: 3 x 4", "2 x^T A y"),
        // a 1×1 part inside a chain equals its transpose: y^T B z = z^T B^T y
        (
            "A x y^T B z w^T + A x z^T B^T y w^T where A: 3 x 4, B: 5 x 2, w: 6",
            "2 A x y^T B z w^T",
        ),
        // a 1×1 chain inside
        (
            "(x^T A x) B + (x^T A^T x) B where A: 3 x 3, B: 4 x 5",
            "2 (x^T A x) B",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(
            verified_simplify(input, Form::Expanded),
            expected,
            "simplify {input}"
        );
    }
}

/// Every law of the canonicaliser's table: both sides agree at random
/// points on the witness's rectangular shapes, and the default form of the
/// left side (its groups those of the right side) is the right side's.
#[test]
fn every_canonicaliser_law_holds_on_its_witness_and_fires() {
    use matcalc::simplify::rules::CANON;
    let mut names = BTreeSet::new();
    for law in CANON {
        assert!(names.insert(law.name), "duplicate law name {}", law.name);
        assert!(
            law.name.contains('-'),
            "{}: names are `theory-law`",
            law.name
        );
        let side = |text: &str| {
            Session::new()
                .lower(text, Some(law.witness))
                .unwrap_or_else(|d| panic!("{}: {}", law.name, d.render()))
        };
        let (lowered, right) = (side(law.lhs), side(law.rhs));
        let (l, r) = (&lowered.expr, &right.expr);
        assert_eq!(l.shape(), r.shape(), "{}: the sides' shapes", law.name);
        assert_equal(l, r, &lowered.context, law.name);
        let ctx = &lowered.context;
        let rhs = to_text(&simplify(r, ctx, Form::Default).expr);
        let lhs = to_text(&matcalc::simplify_from(l, ctx, Form::Default, r).expr);
        assert_eq!(lhs, rhs, "{}: the default form of `{}`", law.name, law.lhs);
        assert_eq!(
            rhs, law.rhs,
            "{}: the right side is in default form",
            law.name
        );
    }
}

/// `exp(z) / sum(exp(z))` is written `softmax(z)`, and a residual whose
/// prediction the input wrote only through its antiderivative
/// (`softplus(X w)`, `logsumexp(W x)`) is grouped as the textbook groups
/// it. Each derivative is checked numerically on rectangular shapes.
#[test]
fn softmax_is_recognised_and_predictions_group_as_residuals() {
    let decls = Some("X: 5 x 3, W: 4 x 3");
    for (cmd, expr, wrt, want) in [
        ("grad", "log(sum(exp(x)))", "x", "softmax(x)"),
        (
            "grad",
            "logsumexp(W x) - y^T W x",
            "W",
            "(softmax(W x) - y) x^T",
        ),
        (
            "grad",
            "-y^T log(softmax(W x))",
            "W",
            "(sum(y) softmax(W x) - y) x^T",
        ),
        (
            "grad",
            "-y^T log(exp(W x) / sum(exp(W x)))",
            "W",
            "(sum(y) softmax(W x) - y) x^T",
        ),
        (
            "grad",
            "sum(softplus(X w) - y .* (X w))",
            "w",
            "X^T (sigmoid(X w) - y)",
        ),
        (
            "hessian",
            "logsumexp(x)",
            "x",
            "diag(softmax(x)) - softmax(x) softmax(x)^T",
        ),
        (
            "hessian",
            "-y^T log(softmax(W x))",
            "x",
            "sum(y) W^T diag(p) W - sum(y) W^T p p^T W where p = softmax(W x)",
        ),
    ] {
        let s = Session::new();
        let a = match cmd {
            "grad" => s.grad(expr, wrt, decls, Some(Form::Default)),
            _ => s.hessian(expr, wrt, decls, Some(Form::Default)),
        }
        .unwrap_or_else(|d| panic!("{expr}: {}", d.render()));
        assert_eq!(a.text, want, "{cmd} {expr} --wrt {wrt}");
        crate::common::checked(expr, wrt, decls);
    }
    for (input, want) in [
        ("exp(z) / sum(exp(z))", "softmax(z)"),
        ("exp(z) ./ sum(exp(z))", "softmax(z)"),
        ("exp(z) * (1/sum(exp(z)))", "softmax(z)"),
        ("exp(z)^T / sum(exp(z))", "softmax(z)^T"),
        ("A exp(z) / sum(exp(z))", "A softmax(z)"),
        // a matrix has no softmax
        ("exp(Z) / sum(exp(Z))", "exp(Z) / sum(exp(Z))"),
    ] {
        let l = Session::new().lower(input, None).expect("parses");
        let out = simplify(&l.expr, &l.context, Form::Default).expr;
        assert_eq!(to_text(&out), want, "simplify {input}");
    }
}
