//! Derivations (`--steps`): the derivative as the engine works it out,
//! line by line — the definition as a directional derivative, the rule for
//! each operator (`calculus::diff::rule_step`, the same match arms that
//! compute the answer, with the operands' differentials left pending), the
//! substitution of the direction, each simplification with the laws that
//! fired (`simplify::simplify_traced`, from the canonicaliser's own record
//! and egg's explanations), and the result.
//!
//! Printed as aligned text lines, or as a LaTeX `align*` block. The
//! rule steps leave differentials pending as variables with opaque names
//! (`calculus::diff::Pending`: data, not text); this printer spells each
//! as `d(operand)` in the notation at hand.

use super::{Answer, Derivative, Session, Wrt};
use crate::calculus::diff::{Pending, rule_step};
use crate::calculus::differential;
use crate::expr::{Expr, Kind};
use crate::lower::Context;
use crate::print::index::function_name;
use crate::print::latex::{Latex, ident};
use crate::print::text::{Spelled, Text};
use crate::print::to_text;
use crate::simplify::{Form, simplify_traced};
use crate::span::Diagnostic;
use std::collections::HashMap;

/// Most rule applications a derivation shows before it goes straight to
/// the whole differential.
const MAX_RULE_STEPS: usize = 12;

/// One side of a line: an expression, or words in both notations.
#[derive(Clone, Debug)]
enum Side {
    Expr(Expr),
    Words { text: String, latex: String },
}

/// One line: `label: lhs = rhs (why)`.
#[derive(Clone, Debug)]
struct Line {
    label: String,
    lhs: Side,
    rhs: Side,
    /// The laws or the identity the step used, in words.
    why: Option<String>,
    /// The same in LaTeX math, when it is a formula (the `read off` line).
    why_latex: Option<String>,
}

/// A derivation, ready to print.
#[derive(Clone, Debug)]
pub struct Derivation {
    lines: Vec<Line>,
    /// The variables, the direction and the pending differentials.
    ctx: Context,
    /// The pending differentials: the variables standing for `d(…)` in
    /// the lines, with their operands; printed as `d(operand)`.
    pending: Pending,
    /// The answer the derivation arrives at.
    pub answer: Answer,
}

fn words(text: impl Into<String>, latex: impl Into<String>) -> Side {
    Side::Words {
        text: text.into(),
        latex: latex.into(),
    }
}

/// `e` with the variable `name` replaced by `by`.
fn substitute(e: &Expr, name: &str, by: &Expr) -> Expr {
    crate::stack::grow(|| {
        if !e.mentions(name) {
            return e.clone();
        }
        if let Kind::Var(v) = e.kind() {
            return if &**v == name { by.clone() } else { e.clone() };
        }
        let kids: Vec<Expr> = e
            .children()
            .into_iter()
            .map(|c| substitute(c, name, by))
            .collect();
        e.rebuild(kids)
    })
}

impl Session {
    /// The derivation of a derivative: `kind` says which command, the
    /// other arguments are the command's.
    pub fn derive(
        &self,
        kind: Derivative,
        expr: &str,
        wrt: &str,
        direction: Option<&str>,
        where_: Option<&str>,
        form: Form,
    ) -> Result<Derivation, Diagnostic> {
        let (answer, gradient) = match kind {
            Derivative::Differential | Derivative::Entrywise => (
                self.diff_with(expr, wrt, direction, where_, Some(form))?,
                None,
            ),
            Derivative::Gradient => (self.grad(expr, wrt, where_, Some(form))?, None),
            Derivative::Hessian => {
                let (a, g) = self.hessian_with_gradient(expr, wrt, where_, Some(form))?;
                (a, Some(g))
            }
            Derivative::Jacobian => (self.jacobian(expr, wrt, where_, Some(form))?, None),
        };
        Ok(derivation(answer, gradient, form))
    }
}

/// Builds the lines for an answer (and, for a Hessian, its gradient).
fn derivation(answer: Answer, gradient: Option<Expr>, form: Form) -> Derivation {
    let var = match &answer.wrt {
        Wrt::Var(v) | Wrt::Entry { var: v, .. } => v.clone(),
    };
    let shape = answer.context.vars[&var].shape.clone();
    let mut dname = format!("d{var}");
    // a name of the input is never the direction (`tr(dX X)`)
    while answer.context.get(&dname).is_some() {
        dname.push('_');
    }
    let ctx = answer.direction_context().with_direction(&var, &dname);
    let dir = Expr::var(&dname, shape.clone());
    let f = &answer.function;
    let fname = function_name(f.shape());
    let (x_text, x_latex) = (var.clone(), ident(&var));
    let d_f = words(format!("d{fname}"), format!("\\mathrm{{d}}{fname}"));
    let df_dx = words(
        format!("∂f/∂{x_text}"),
        format!("\\frac{{\\partial f}}{{\\partial {x_latex}}}"),
    );
    let mut lines = vec![Line {
        label: "function".into(),
        lhs: words(fname, fname),
        rhs: Side::Expr(f.clone()),
        why: None,
        why_latex: None,
    }];

    // definition: the directional derivative
    let t = if ctx.get("t").is_some() { "τ" } else { "t" };
    let moved = substitute(
        f,
        &var,
        &Expr::add(
            &Expr::var(&var, shape.clone()),
            &Expr::mul(&Expr::var(t, crate::Shape::scalar()), &dir),
        ),
    );
    let latex_ctx = Latex::new(&ctx);
    lines.push(Line {
        label: "definition".into(),
        lhs: d_f.clone(),
        rhs: words(
            format!("d/d{t} [{}] at {t} = 0", to_text(&moved)),
            format!(
                "\\left.\\frac{{\\mathrm{{d}}}}{{\\mathrm{{d}}{0}}} {1} \\right|_{{{0}=0}}",
                ident(t),
                latex_ctx.show(&moved)
            ),
        ),
        why: None,
        why_latex: None,
    });

    // the rules, operator by operator
    let mut pending = Pending::new();
    let first = rule_step(f, &var, &dir, &mut pending);
    lines.push(Line {
        label: first.law.into(),
        lhs: d_f.clone(),
        rhs: Side::Expr(first.result.clone()),
        why: None,
        why_latex: None,
    });
    let mut next = 0;
    while next < pending.len() && next < MAX_RULE_STEPS {
        let (name, operand) = match pending.get(next) {
            Some((n, e)) => (n.to_string(), e.clone()),
            None => break,
        };
        let step = rule_step(&operand, &var, &dir, &mut pending);
        lines.push(Line {
            label: step.law.into(),
            lhs: Side::Expr(Expr::var(&name, operand.shape().clone())),
            rhs: Side::Expr(step.result),
            why: None,
            why_latex: None,
        });
        next += 1;
    }
    let df = differential(f, &var, &dir).unwrap_or_else(|_| answer.raw.clone());
    if !pending.is_empty() {
        lines.push(Line {
            label: "so".into(),
            lhs: d_f.clone(),
            rhs: Side::Expr(df.clone()),
            why: None,
            why_latex: None,
        });
    }

    // the substitution, or the extraction, then the simplification
    let (lhs, start) = match answer.kind {
        Derivative::Entrywise | Derivative::Differential => {
            let by = match (&answer.wrt, &answer.direction) {
                (Wrt::Entry { indices, .. }, _) => Some(Expr::unit(indices, shape.clone())),
                (_, Some(d)) if *d != dname => Some(Expr::var(d, shape.clone())),
                _ => None,
            };
            let lhs = match &answer.wrt {
                Wrt::Entry { indices, .. } => words(
                    format!("∂{fname}/∂{x_text}_{indices}"),
                    format!("\\frac{{\\partial {fname}}}{{\\partial {x_latex}_{{{indices}}}}}"),
                ),
                Wrt::Var(_) => d_f.clone(),
            };
            match by {
                Some(by) => {
                    lines.push(Line {
                        label: "substitution".into(),
                        lhs: Side::Expr(dir.clone()),
                        rhs: Side::Expr(by.clone()),
                        why: None,
                        why_latex: None,
                    });
                    let substituted = substitute(&df, &dname, &by);
                    lines.push(Line {
                        label: "so".into(),
                        lhs: lhs.clone(),
                        rhs: Side::Expr(substituted.clone()),
                        why: None,
                        why_latex: None,
                    });
                    (lhs, substituted)
                }
                None => (lhs, df.clone()),
            }
        }
        Derivative::Gradient | Derivative::Jacobian | Derivative::Hessian => {
            let lhs = match answer.kind {
                Derivative::Gradient => df_dx.clone(),
                Derivative::Hessian => words("H", "H"),
                _ => words("J", "J"),
            };
            if let Some(g) = &gradient {
                lines.push(Line {
                    label: "gradient".into(),
                    lhs: df_dx.clone(),
                    rhs: Side::Expr(g.clone()),
                    why: Some("read off df = tr(G^T dX), simplified".into()),
                    why_latex: None,
                });
            }
            // the identity that reads the derivative off, naming the
            // actual differential (`dS`, `dx`), in text and in LaTeX
            let d = dname.as_str();
            let dl = format!("\\mathrm{{d}}{x_latex}");
            let (how, how_latex) = match answer.kind {
                Derivative::Gradient if answer.context.vars[&var].symmetric => (
                    format!("df = tr(G^T {d}), then (G + G^T)/2 for a symmetric variable"),
                    format!(
                        "\\mathrm{{d}}f = \\operatorname{{tr}}(G^\\top {dl}),\\ \\text{{then }} \\tfrac{{1}}{{2}}(G + G^\\top) \\text{{ for a symmetric variable}}"
                    ),
                ),
                Derivative::Gradient => (
                    format!("df = tr(G^T {d}): tr(L {d} R) = tr(R L {d})"),
                    format!(
                        "\\mathrm{{d}}f = \\operatorname{{tr}}(G^\\top {dl}),\\ \\operatorname{{tr}}(L\\, {dl}\\, R) = \\operatorname{{tr}}(R L\\, {dl})"
                    ),
                ),
                Derivative::Hessian => (
                    format!("d vec(G) = H vec({d})"),
                    format!(
                        "\\mathrm{{d}}\\operatorname{{vec}}(G) = H \\operatorname{{vec}}({dl})"
                    ),
                ),
                _ => (
                    format!("vec(dF) = J vec({d}): vec(L {d} R) = (R^T kron L) vec({d})"),
                    format!(
                        "\\operatorname{{vec}}(\\mathrm{{d}}F) = J \\operatorname{{vec}}({dl}),\\ \\operatorname{{vec}}(L\\, {dl}\\, R) = (R^\\top \\otimes L) \\operatorname{{vec}}({dl})"
                    ),
                ),
            };
            lines.push(Line {
                label: "read off".into(),
                lhs: lhs.clone(),
                rhs: Side::Expr(answer.raw.clone()),
                why: Some(how),
                why_latex: Some(how_latex),
            });
            (lhs, answer.raw.clone())
        }
    };
    let (_, trace) = simplify_traced(&start, &ctx, form, &answer.function);
    for step in trace {
        lines.push(Line {
            label: "simplify".into(),
            lhs: lhs.clone(),
            rhs: Side::Expr(step.expr),
            why: Some(step.laws.join("; ")).filter(|w| !w.is_empty()),
            why_latex: None,
        });
    }
    // The last simplification is the result: say so once, not twice.
    match lines.last_mut() {
        Some(last)
            if last.label == "simplify"
                && matches!(&last.rhs, Side::Expr(e) if *e == answer.result) =>
        {
            last.label = "result".into();
        }
        _ => lines.push(Line {
            label: "result".into(),
            lhs,
            rhs: Side::Expr(answer.result.clone()),
            why: None,
            why_latex: None,
        }),
    }
    Derivation {
        lines,
        ctx,
        pending,
        answer,
    }
}

impl Derivation {
    /// Each pending differential's variable, spelled `d(operand)` by
    /// `show` (the operand as the notation writes it).
    fn spell_pending(&self, show: impl Fn(&Expr) -> String) -> HashMap<String, String> {
        self.pending
            .iter()
            .map(|(name, operand)| (name.to_string(), show(operand)))
            .collect()
    }

    /// The pending differentials spelled in text: `d(A X)`.
    fn text_names(&self) -> HashMap<String, String> {
        self.spell_pending(|e| format!("d({})", to_text(e)))
    }

    /// The right-hand sides of the closing run of lines, those that state
    /// the derivative itself (substituted or read off, each
    /// simplification, the result), and the context they are over: each
    /// must equal the next, which the tests check numerically.
    pub fn closing_chain(&self) -> (Vec<Expr>, &Context) {
        let names = self.text_names();
        let text = Spelled {
            inner: &Text,
            names: &names,
        };
        let key = |s: &Side| match s {
            Side::Expr(e) => text.show(e),
            Side::Words { text, .. } => text.clone(),
        };
        let last = self.lines.last().map(|l| key(&l.lhs)).unwrap_or_default();
        let mut chain = Vec::new();
        for l in self.lines.iter().rev() {
            match (&l.rhs, key(&l.lhs) == last) {
                (Side::Expr(e), true) => chain.push(e.clone()),
                _ => break,
            }
        }
        chain.reverse();
        (chain, &self.ctx)
    }

    /// One line per step: `label: lhs = rhs`, labels aligned.
    pub fn to_text(&self) -> String {
        let names = self.text_names();
        let text = Spelled {
            inner: &Text,
            names: &names,
        };
        let side = |s: &Side| match s {
            Side::Expr(e) => text.show(e),
            Side::Words { text, .. } => text.clone(),
        };
        let width = self
            .lines
            .iter()
            .map(|l| l.label.chars().count())
            .max()
            .unwrap_or(0)
            .min(24);
        let mut out = String::new();
        for l in &self.lines {
            let label = format!("{}:", l.label);
            out.push_str(&format!(
                "{label:<w$} {} = {}",
                side(&l.lhs),
                side(&l.rhs),
                w = width + 1
            ));
            if let Some(why) = &l.why {
                out.push_str(&format!("    ({why})"));
            }
            out.push('\n');
        }
        out.trim_end().to_string()
    }

    /// The derivation as a LaTeX `align*` block: the left-hand side is
    /// written once per run of lines that share it.
    pub fn to_latex(&self) -> String {
        let latex = Latex::new(&self.ctx);
        let names =
            self.spell_pending(|e| format!("\\mathrm{{d}}\\left({}\\right)", latex.show(e)));
        let n = Spelled {
            inner: &latex,
            names: &names,
        };
        let side = |s: &Side| match s {
            Side::Expr(e) => n.show(e),
            Side::Words { latex, .. } => latex.clone(),
        };
        let mut rows = Vec::new();
        let mut last_lhs = String::new();
        for l in &self.lines {
            let lhs = side(&l.lhs);
            let shown = if lhs == last_lhs {
                String::new()
            } else {
                lhs.clone()
            };
            last_lhs = lhs;
            let label = match (&l.why_latex, &l.why) {
                (Some(math), _) => format!("\\text{{{}: }} {math}", latex_text(&l.label)),
                (None, Some(why)) => {
                    format!("\\text{{{}}}", latex_text(&format!("{}: {why}", l.label)))
                }
                (None, None) => format!("\\text{{{}}}", latex_text(&l.label)),
            };
            rows.push(format!("{shown} &= {} && {label}", side(&l.rhs)));
        }
        format!(
            "\\begin{{align*}}\n{}\n\\end{{align*}}",
            rows.join(" \\\\\n")
        )
    }
}

/// Words inside `\text{…}`: LaTeX's special characters escaped, and
/// symbols KaTeX's text mode lacks spelled out.
fn latex_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '{' | '}' | '$' | '&' | '#' | '%' | '_' => {
                out.push('\\');
                out.push(c);
            }
            '^' => out.push_str("\\^{}"),
            '~' => out.push_str("\\~{}"),
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}
