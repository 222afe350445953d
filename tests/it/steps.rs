//! Derivations (`--steps`): the must-show lines, LaTeX that renders, and
//! for every coverage case a closing chain of equalities that hold
//! numerically (so no step can be a template that merely looks right).

use crate::common::{checked, katex, run, with_settings};
use crate::coverage::{FILES, cases};
use matcalc::numeric::check::check_equal;
use matcalc::{Derivative, Form, Session};

#[test]
fn the_seed_derivation_has_its_steps_one_per_line() {
    checked("A X X^T A^T", "X", None);
    let out = run(&["diff", "A X X^T A^T", "--wrt", "X_ij", "--steps"]);
    let label = |l: &str| {
        out.lines()
            .find(|line| line.starts_with(&format!("{l}:")))
            .unwrap_or_else(|| panic!("no `{l}` line in\n{out}"))
            .to_string()
    };
    assert!(label("definition").contains("d/dt [A (X + t dX) (X + t dX)^T A^T] at t = 0"));
    assert!(label("product rule").ends_with("dM = A dX X^T A^T + A X d(X^T) A^T"));
    assert!(label("substitution").ends_with("dX = E_ij"));
    assert!(label("result").ends_with("∂M/∂X_ij = A E_ij X^T A^T + A X E_ij^T A^T"));
    with_settings(|| insta::assert_snapshot!("seed_steps", out));
}

#[test]
fn derivations_in_latex_render_in_katex() {
    let commands: &[&[&str]] = &[
        &["diff", "A X X^T A^T", "--wrt", "X_ij"],
        &["diff", "X X^T", "--wrt", "X", "--direction", "H"],
        &["grad", "tr(X^T A X)", "--wrt", "X", "--factor"],
        &["grad", "logdet(X) + tr(X^-1 B)", "--wrt", "X"],
        &["grad", "x^T S x", "--wrt", "S", "--where", "S: symmetric"],
        &["grad", "sum(exp(A x)) + norm2(x)", "--wrt", "x"],
        &["hessian", "x^T A x", "--wrt", "x"],
        &["jacobian", "A X B", "--wrt", "X"],
    ];
    let mut texts = Vec::new();
    let mut pinned = String::new();
    for args in commands {
        let decls = args
            .iter()
            .position(|a| *a == "--where")
            .map(|i| args[i + 1]);
        checked(args[1], args[3].split('_').next().expect("a name"), decls);
        let mut a = args.to_vec();
        a.extend(["--steps", "--format", "latex"]);
        let out = run(&a);
        assert!(out.starts_with("\\begin{align*}") && out.ends_with("\\end{align*}"));
        pinned.push_str(&format!("{}\n{out}\n\n", a.join(" ")));
        texts.push(out);
    }
    with_settings(|| insta::assert_snapshot!("steps_latex", pinned));
    katex(&texts);
}

#[test]
fn steps_show_the_laws_that_fired() {
    // the e-graph's explanation names the trace rotation
    let out = run(&["grad", "tr(X^T A X)", "--wrt", "X", "--steps", "--factor"]);
    assert!(out.contains("factor-right"), "{out}");
    checked("tr(X^T A X)", "X", None);
    checked("tr(A X B) - tr(B A X)", "X", None);
    let out = run(&["diff", "tr(A X B) - tr(B A X)", "--wrt", "X", "--steps"]);
    assert!(out.contains("trace-cyclic"), "{out}");
    let last = out.lines().last().expect("lines");
    assert!(
        last.starts_with("result:") && last.contains(" df = 0"),
        "{out}"
    );
}

#[test]
fn every_closing_chain_is_a_chain_of_equalities() {
    let session = Session::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in FILES {
        for c in cases(file) {
            let kind = match c.command.as_str() {
                "diff" if c.wrt.contains('_') => Derivative::Entrywise,
                "diff" => Derivative::Differential,
                "grad" => Derivative::Gradient,
                "hessian" => Derivative::Hessian,
                _ => Derivative::Jacobian,
            };
            let d = session
                .derive(
                    kind,
                    &c.expr,
                    &c.wrt,
                    None,
                    c.decls.as_deref(),
                    Form::Expanded,
                )
                .unwrap_or_else(|e| panic!("{file}:{}: {}", c.line, e.render()));
            let (chain, ctx) = d.closing_chain();
            // the direction gets a random value like any other variable
            let mut ctx = ctx.clone();
            for (name, info) in ctx.vars.iter_mut() {
                info.differential_of = None;
                if !ctx.order.contains(name) {
                    ctx.order.push(name.clone());
                }
            }
            assert!(chain.len() >= 2, "{file}:{}: {}", c.line, d.to_text());
            assert_eq!(chain.last(), Some(&d.answer.result));
            for pair in chain.windows(2) {
                match check_equal(&pair[0], &pair[1], &ctx, 2, 0x57e9) {
                    Ok(r) if r.max_rel_error < 1e-9 => checked += 1,
                    Ok(r) => failures.push(format!(
                        "{file}:{}: off by {:e}\n{}",
                        c.line,
                        r.max_rel_error,
                        d.to_text()
                    )),
                    Err(e) => failures.push(format!("{file}:{}: {}", c.line, e.message)),
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(checked >= 136, "only {checked} equalities checked");
}
