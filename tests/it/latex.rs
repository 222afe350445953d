//! LaTeX and JSON output: snapshots of the CLI's LaTeX, every one rendered
//! by KaTeX, every coverage-table answer rendered as well, and JSON read
//! back by Python's parser.

use crate::common::{checked, katex, python, run, with_settings};
use crate::coverage::{FILES, answer, cases};
use matcalc::Session;

/// Commands whose LaTeX is pinned: the must-shows, and a spread of
/// operators, names and kinds.
const COMMANDS: &[&[&str]] = &[
    &["diff", "A X X^T A^T", "--wrt", "X_ij"],
    &["diff", "A X X^T A^T", "--wrt", "X_ij", "--rhs"],
    &["diff", "X X^T", "--wrt", "X"],
    &["diff", "X X^T", "--wrt", "X", "--direction", "H"],
    &["diff", "x^T A x", "--wrt", "x_i"],
    &["grad", "tr(X^T A X)", "--wrt", "X"],
    &["grad", "tr(X^T A X)", "--wrt", "X", "--factor"],
    &["grad", "logdet(X) + det(X)^(1/3)", "--wrt", "X"],
    &[
        "grad",
        "x^T S x / (x^T x)",
        "--wrt",
        "x",
        "--where",
        "S: symmetric",
    ],
    &[
        "grad",
        "sum(exp(A x)) + norm2(x) - 5/6 alpha x^T x",
        "--wrt",
        "x",
    ],
    &[
        "grad",
        "sum(log(sigmoid(w1 .* x)) .^ 2) + sqrt(alpha) tanh(b^T x)",
        "--wrt",
        "x",
    ],
    &[
        "grad",
        "tr(Sigma2 X^-1) + tr(Xtrain^T X) + lambda tr(X_1^T X)",
        "--wrt",
        "X",
    ],
    &[
        "grad",
        "α x^T x + sum(abs(x)) + sum(relu(x)) + sum(softplus(x))",
        "--wrt",
        "x",
    ],
    &[
        "grad",
        "sum((A x) ./ (b .^ 2)) + sum(sin(x) .* cos(x)) + sum(tan(x))",
        "--wrt",
        "x",
    ],
    &["hessian", "x^T A x", "--wrt", "x"],
    &["hessian", "tr(X^T A X)", "--wrt", "X"],
    &["hessian", "alpha^3", "--wrt", "alpha"],
    &["jacobian", "A X B", "--wrt", "X"],
    &["jacobian", "X^T", "--wrt", "X"],
    &["jacobian", "kron(A, X)", "--wrt", "X"],
    &["jacobian", "A x", "--wrt", "x"],
    &["jacobian", "x^T x", "--wrt", "x"],
];

/// The expression, variable and declarations of a pinned command.
fn parts<'a>(args: &[&'a str]) -> (&'a str, &'a str, Option<&'a str>) {
    let flag = |f: &str| args.iter().position(|a| *a == f).map(|i| args[i + 1]);
    let wrt = flag("--wrt").expect("a variable");
    (
        args[1],
        wrt.split('_').next().expect("a name"),
        flag("--where"),
    )
}

#[test]
fn every_pinned_derivative_passes_check() {
    for args in COMMANDS {
        let (expr, wrt, decls) = parts(args);
        checked(expr, wrt, decls);
    }
}

#[test]
fn latex_outputs_are_pinned_and_render_in_katex() {
    let mut pinned = String::new();
    let mut texts = Vec::new();
    for args in COMMANDS {
        let mut args = args.to_vec();
        args.extend(["--format", "latex"]);
        let out = run(&args);
        pinned.push_str(&format!("{}\n    {out}\n", args.join(" ")));
        texts.push(out);
    }
    with_settings(|| insta::assert_snapshot!("latex", pinned));
    katex(&texts);
}

#[test]
fn the_seed_answer_in_latex() {
    checked("A X X^T A^T", "X", None);
    checked("tr(X^T A X)", "X", None);
    assert_eq!(
        run(&["diff", "A X X^T A^T", "--wrt", "X_ij", "--format", "latex"]),
        r"\frac{\partial M}{\partial X_{ij}} = A E_{ij} X^\top A^\top + A X E_{ij}^\top A^\top"
    );
    assert_eq!(
        run(&[
            "grad",
            "tr(X^T A X)",
            "--wrt",
            "X",
            "--format",
            "latex",
            "--rhs"
        ]),
        r"A X + A^\top X"
    );
}

#[test]
fn katex_rejects_what_is_not_latex() {
    // the render check can fail: a broken fraction, an unknown command
    let out = crate::common::run_with_stdin_status(
        std::process::Command::new("node").arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/katex/render.js"
        )),
        "\\frac{1}{\0\\undefinedcommand{A}",
    );
    assert!(out.contains("2 failed"), "{out}");
}

#[test]
fn every_coverage_answer_renders_in_katex() {
    let session = Session::new();
    let mut texts = Vec::new();
    for file in FILES {
        for c in cases(file) {
            let a = answer(&session, &c).expect("the table's cases compute");
            texts.push(matcalc::to_latex(&a));
        }
    }
    assert!(texts.len() >= 130);
    katex(&texts);
}

#[test]
fn json_parses_and_carries_the_result() {
    let out = run(&["grad", "tr(A X)", "--wrt", "X", "--format", "json"]);
    let script = format!(
        "import json\nd = json.loads({out:?})\nprint(d['input'], '|', d['variable'], '|', d['kind'], '|', d['text'], '|', d['latex'], '|', d['shape'])"
    );
    assert_eq!(
        python(&script).trim(),
        r"tr(A X) | X | gradient | A^T | A^\top | ['m', 'n']"
    );
}

#[test]
fn every_coverage_answer_is_valid_json() {
    let session = Session::new();
    let mut script = String::from("import json\nn = 0\n");
    let mut count = 0;
    for file in FILES {
        for c in cases(file) {
            let a = answer(&session, &c).expect("the table's cases compute");
            let j = matcalc::to_json(&a, &c.expr);
            script.push_str(&format!(
                "d = json.loads({j:?})\nassert d['text'] == {:?} and d['input'] == {:?}\nn += 1\n",
                a.text, c.expr
            ));
            count += 1;
        }
    }
    script.push_str("print(n)\n");
    assert_eq!(python(&script).trim(), count.to_string());
}
