//! Commands as values: a [`Command`] says what was asked (the action, the
//! expression, the declarations, the form, whether to show the
//! derivation, the format), [`Session::run`] answers it with an
//! [`Output`], and [`render`] writes an output in any format.
//!
//! Every shell — the CLI, the REPL, and any later binding — turns its input
//! into a `Command`, calls `run`, and prints `render`'s text, so nothing
//! about a command is decided twice: which kind of derivative `X_ij` means,
//! how a verdict reads, what size of result is too big to print, which
//! formats a command takes.

use super::{Session, Verdict, printable};
use crate::calculus::derivative::{Answer, Derivative};
use crate::expr::Expr;
use crate::lower::Context;
use crate::numeric::Matrix;
use crate::print::json::json_string;
use crate::print::{
    expr_to_index, expr_to_latex, to_index, to_jax, to_json, to_latex, to_latex_rhs, to_numpy,
    to_text, value_to_jax, value_to_numpy,
};
use crate::simplify::{Form, simplify};
use crate::span::Diagnostic;

use super::steps::Derivation;

/// What a command does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The differential in a direction (`wrt` a variable), or the
    /// entrywise partial (`wrt` an entry such as `X_ij`).
    Diff {
        /// The variable or entry.
        wrt: String,
        /// The direction's name (default `dX`).
        direction: Option<String>,
    },
    /// The gradient of a scalar.
    Grad {
        /// The variable.
        wrt: String,
    },
    /// The Hessian of a scalar.
    Hessian {
        /// The variable.
        wrt: String,
    },
    /// The Jacobian `d vec(F) / d vec(X)^T`.
    Jacobian {
        /// The variable.
        wrt: String,
    },
    /// The simplified form of the expression.
    Simplify,
    /// The numeric value at given values (`X=[[1,2],[3,4]], a=2`).
    Eval {
        /// The values.
        at: String,
    },
    /// Verifies every derivative, or the one the user claims.
    Check {
        /// The variable.
        wrt: String,
        /// A derivative the user claims, to be verified instead of
        /// matcalc's own.
        claim: Option<Claim>,
    },
}

/// A derivative the user claims (`check … --grad 'G'`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// Which derivative it is: differential (in the direction `dX`),
    /// gradient, Hessian or Jacobian.
    pub kind: Derivative,
    /// The claimed derivative, as typed.
    pub text: String,
}

/// How a result is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// Parseable text in Matrix Cookbook notation.
    #[default]
    Text,
    /// A LaTeX equation (`\frac{\partial M}{\partial X_{ij}} = …`).
    Latex,
    /// The right-hand side of the LaTeX equation alone.
    LatexRhs,
    /// One Python function over NumPy.
    Numpy,
    /// The same function over `jax.numpy`, traceable by `jax.jit`.
    Jax,
    /// One JSON object.
    Json,
    /// The component form (`∂M_kl/∂X_ij = …`).
    Index,
}

impl Format {
    /// The format's name as `--format` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Latex | Format::LatexRhs => "latex",
            Format::Numpy => "numpy",
            Format::Jax => "jax",
            Format::Json => "json",
            Format::Index => "index",
        }
    }
}

/// One command: what to do, to which expression, and how to show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// What to do.
    pub action: Action,
    /// The expression as the user typed it (with any inline `where`).
    pub expr: String,
    /// Declarations given beside the expression (`--where`).
    pub where_: Option<String>,
    /// The form of the result; `None` for the unsimplified one (`--raw`).
    pub form: Option<Form>,
    /// Whether to show the derivation line by line.
    pub steps: bool,
    /// How to write the result.
    pub format: Format,
}

impl Command {
    /// A command with the default options: simplified into the normal
    /// form, no derivation, as text.
    pub fn new(action: Action, expr: impl Into<String>) -> Command {
        Command {
            action,
            expr: expr.into(),
            where_: None,
            form: Some(Form::Default),
            steps: false,
            format: Format::Text,
        }
    }

    /// The command's word (`diff`, `grad`, …), for messages.
    pub fn word(&self) -> &'static str {
        match self.action {
            Action::Diff { .. } => "diff",
            Action::Grad { .. } => "grad",
            Action::Hessian { .. } => "hessian",
            Action::Jacobian { .. } => "jacobian",
            Action::Simplify => "simplify",
            Action::Eval { .. } => "eval",
            Action::Check { .. } => "check",
        }
    }
}

/// What a command produced.
#[derive(Clone, Debug)]
pub struct Output {
    /// The expression as the user typed it.
    pub input: String,
    /// The result.
    pub body: Body,
    /// Notes for the error stream (the simplifier stopped early, …).
    pub notes: Vec<String>,
}

/// The result of a command.
#[derive(Clone, Debug)]
pub enum Body {
    /// A derivative.
    Derivative(Box<Answer>),
    /// A derivative with its derivation.
    Derivation(Box<Derivation>),
    /// A simplified expression.
    Simplified {
        /// The expression.
        expr: Expr,
        /// Its variables.
        context: Context,
    },
    /// A numeric value.
    Value(Matrix),
    /// The verdicts of `check`, one per kind of derivative.
    Verdicts(Vec<Verdict>),
}

impl Body {
    /// The variables of the expression, where the body has them.
    fn context(&self) -> Option<&Context> {
        match self {
            Body::Derivative(a) => Some(&a.context),
            Body::Derivation(d) => Some(&d.answer.context),
            Body::Simplified { context, .. } => Some(context),
            _ => None,
        }
    }
}

impl Output {
    /// Whether the command succeeded as a whole: false only for a `check`
    /// that refuted a derivative or reached no verdict.
    pub fn passed(&self) -> bool {
        match &self.body {
            Body::Verdicts(vs) => vs.iter().all(Verdict::passed),
            _ => true,
        }
    }

    /// The derivative answered, if the command asked for one.
    pub fn answer(&self) -> Option<&Answer> {
        match &self.body {
            Body::Derivative(a) => Some(a),
            Body::Derivation(d) => Some(&d.answer),
            _ => None,
        }
    }

    /// The variables of the expression the command was about, where it
    /// has them.
    pub fn context(&self) -> Option<&Context> {
        self.body.context()
    }
}

/// Notes for limits the simplifier hit.
fn stopped_notes(stopped: &[String]) -> Vec<String> {
    stopped
        .iter()
        .map(|w| format!("simplification stopped early: {w}"))
        .collect()
}

impl Session {
    /// Runs one command with the session's declarations and bindings.
    /// An error says too where a name of the input may be a product with
    /// the space forgotten (`Ax`), as a note does when there is an answer.
    pub fn run(&self, cmd: &Command) -> Result<Output, Diagnostic> {
        self.run_command(cmd).map_err(|d| {
            let guesses = self.glued_guesses(&cmd.expr, cmd.where_.as_deref());
            guesses.into_iter().fold(d, |d, (name, product)| {
                d.also_help(crate::lower::glued_words(&name, &product))
            })
        })
    }

    fn run_command(&self, cmd: &Command) -> Result<Output, Diagnostic> {
        if cmd.steps && !matches!(cmd.format, Format::Text | Format::Latex) {
            return Err(Diagnostic::new(
                format!("`--steps` prints text or LaTeX, not {}", cmd.format.name()),
                "",
            )
            .help("drop `--format`, or write `--format latex`"));
        }
        let where_ = cmd.where_.as_deref();
        let expr = cmd.expr.as_str();
        let derivative = |kind: Derivative, wrt: &str, direction: Option<&str>| {
            if cmd.steps {
                let form = cmd.form.unwrap_or(Form::Default);
                let d = self.derive(kind, expr, wrt, direction, where_, form)?;
                let notes = stopped_notes(&d.answer.stopped);
                return Ok((Body::Derivation(Box::new(d)), notes));
            }
            let a = match kind {
                Derivative::Differential | Derivative::Entrywise => {
                    self.diff_with(expr, wrt, direction, where_, cmd.form)?
                }
                Derivative::Gradient => self.grad(expr, wrt, where_, cmd.form)?,
                Derivative::Hessian => self.hessian(expr, wrt, where_, cmd.form)?,
                Derivative::Jacobian => self.jacobian(expr, wrt, where_, cmd.form)?,
            };
            let notes = stopped_notes(&a.stopped);
            Ok::<_, Diagnostic>((Body::Derivative(Box::new(a)), notes))
        };
        let (body, notes) = match &cmd.action {
            // Whether `wrt` names the variable or one of its entries is
            // settled by `resolve_wrt` against the expression's variables.
            Action::Diff { wrt, direction } => {
                derivative(Derivative::Differential, wrt, direction.as_deref())?
            }
            Action::Grad { wrt } => derivative(Derivative::Gradient, wrt, None)?,
            Action::Hessian { wrt } => derivative(Derivative::Hessian, wrt, None)?,
            Action::Jacobian { wrt } => derivative(Derivative::Jacobian, wrt, None)?,
            Action::Simplify => {
                let lowered = self.lower(expr, where_)?;
                let (e, stopped) = match cmd.form {
                    Some(form) => {
                        let s = simplify(&lowered.expr, &lowered.context, form);
                        (s.expr, s.stopped)
                    }
                    None => (lowered.expr, Vec::new()),
                };
                printable(&e)?;
                let body = Body::Simplified {
                    expr: e,
                    context: lowered.context,
                };
                (body, stopped_notes(&stopped))
            }
            Action::Eval { at } => (Body::Value(self.eval(expr, at, where_)?), Vec::new()),
            Action::Check { wrt, claim } => {
                let verdicts = match claim {
                    None => self.check(expr, wrt, where_)?,
                    Some(c) => vec![self.check_claim(expr, wrt, where_, c)?],
                };
                // the differentials checked are in a direction of another
                // name when the input uses `dX` itself: say so, as `diff` does
                let renamed = self
                    .lower(expr, where_)
                    .ok()
                    .and_then(|mut l| {
                        let var = match super::resolve_wrt(wrt, &l.context).ok()? {
                            super::Wrt::Var(v) | super::Wrt::Entry { var: v, .. } => v,
                        };
                        let before = l.context.notes.len();
                        super::default_direction(&var, &mut l.context);
                        Some(l.context.notes.split_off(before))
                    })
                    .unwrap_or_default();
                (Body::Verdicts(verdicts), renamed)
            }
        };
        // What the reading assumed comes first (SPEC §2: where a result
        // answers a guessed question, the note is mandatory).
        let assumed = match body.context() {
            Some(ctx) => ctx.notes.clone(),
            None => self
                .lower(expr, where_)
                .map(|l| l.context.notes)
                .unwrap_or_default(),
        };
        Ok(Output {
            input: cmd.expr.trim().to_string(),
            body,
            notes: assumed.into_iter().chain(notes).collect(),
        })
    }
}

/// An output in the requested format; in JSON, an object with the output's
/// notes as a `notes` array (empty when the reading assumed nothing).
pub fn render(out: &Output, format: Format) -> Result<String, Diagnostic> {
    let text = render_body(out, format)?;
    if format != Format::Json {
        return Ok(text);
    }
    let notes: Vec<String> = out.notes.iter().map(|n| json_string(n)).collect();
    Ok(match text.strip_suffix('}') {
        Some(head) if head.starts_with('{') => {
            format!("{head}, \"notes\": [{}]}}", notes.join(", "))
        }
        _ => text,
    })
}

/// The body of an output in the requested format.
fn render_body(out: &Output, format: Format) -> Result<String, Diagnostic> {
    let refuse = |what: &str, formats: &str| {
        Err(Diagnostic::new(
            format!("{what} prints {formats}, not {}", format.name()),
            "",
        ))
    };
    match &out.body {
        Body::Derivative(a) => Ok(match format {
            Format::Text => a.text.clone(),
            Format::Latex => to_latex(a),
            Format::LatexRhs => to_latex_rhs(a),
            Format::Numpy => to_numpy(a)?.trim_end().to_string(),
            Format::Jax => to_jax(a)?.trim_end().to_string(),
            Format::Json => to_json(a, &out.input),
            Format::Index => to_index(a),
        }),
        Body::Derivation(d) => match format {
            Format::Text => Ok(d.to_text()),
            Format::Latex => Ok(d.to_latex()),
            _ => refuse("`--steps`", "text or LaTeX"),
        },
        Body::Simplified { expr, context } => Ok(match format {
            Format::Text => super::with_size_declarations(
                expr,
                super::text_with_sized_ones(expr).unwrap_or_else(|| to_text(expr)),
            ),
            Format::Latex | Format::LatexRhs => expr_to_latex(expr, context),
            Format::Numpy => value_to_numpy(expr, context)?.trim_end().to_string(),
            Format::Jax => value_to_jax(expr, context)?.trim_end().to_string(),
            Format::Json => simplified_json(&out.input, expr, context),
            Format::Index => expr_to_index(expr, context),
        }),
        Body::Value(m) => match format {
            Format::Text => Ok(crate::numeric::at::to_text(m)),
            Format::Json => Ok(crate::numeric::at::to_json(m)),
            Format::Latex | Format::LatexRhs => Ok(crate::numeric::at::to_latex(m)),
            Format::Numpy => Ok(crate::numeric::at::to_numpy(m)),
            Format::Index | Format::Jax => refuse("`eval`", "text, JSON, LaTeX or NumPy"),
        },
        Body::Verdicts(vs) => match format {
            Format::Text => Ok(verdicts_text(vs)),
            Format::Json => Ok(verdicts_json(&out.input, vs)),
            _ => refuse("`check`", "text or JSON"),
        },
    }
}

/// A diagnostic in the requested format: the caret diagnostic, or for
/// JSON one object `{"error": {"message", "span", "help"}}`.
pub fn render_error(d: &Diagnostic, format: Format) -> String {
    if format != Format::Json {
        return d.render();
    }
    let span = d.labels.first().map_or("null".to_string(), |l| {
        format!("[{}, {}]", l.span.start, l.span.end)
    });
    let help = d.help.as_deref().map_or("null".to_string(), json_string);
    format!(
        "{{\"error\": {{\"message\": {}, \"span\": {span}, \"help\": {help}, \"source\": {}, \"origin\": {}, \"phase\": {}}}}}",
        json_string(&d.message),
        json_string(&d.source),
        json_string(d.origin.name()),
        json_string(d.phase.name())
    )
}

/// `check`'s verdicts for people: the kind, the derivative, and how it was
/// verified.
fn verdicts_text(vs: &[Verdict]) -> String {
    let lines: Vec<String> = vs
        .iter()
        .map(|v| {
            if v.text.is_empty() {
                format!("{}:\n  {}", v.kind, v.summary())
            } else {
                format!("{}: {}\n  {}", v.kind, v.text, v.summary())
            }
        })
        .collect();
    lines.join("\n")
}

/// `check`'s verdicts as one JSON object.
fn verdicts_json(input: &str, vs: &[Verdict]) -> String {
    let items: Vec<String> = vs
        .iter()
        .map(|v| {
            use crate::numeric::verify::Verdict as V;
            let num = |x: f64| {
                if x.is_finite() {
                    format!("{x:e}")
                } else {
                    "null".into()
                }
            };
            let (points, error, tolerance) = match &v.outcome {
                V::Exact { points } => (points.to_string(), "0".into(), "0".into()),
                V::Numeric(a) => (a.points.to_string(), num(a.error), num(a.tolerance)),
                V::Fail(f) => ("null".into(), num(f.error), num(f.tolerance)),
                V::Inconclusive { .. } => ("null".into(), "null".into(), "null".into()),
            };
            let reference = v.reference.as_deref().map_or("null".into(), json_string);
            format!(
                "{{\"kind\": {}, \"text\": {}, \"passed\": {}, \"status\": {}, \"exact\": {}, \"points\": {points}, \"max_rel_error\": {error}, \"tolerance\": {tolerance}, \"summary\": {}, \"reference\": {reference}}}",
                json_string(v.kind),
                json_string(&v.text),
                v.passed(),
                json_string(v.status()),
                matches!(v.outcome, V::Exact { .. }),
                json_string(&v.summary())
            )
        })
        .collect();
    format!(
        "{{\"input\": {}, \"passed\": {}, \"verdicts\": [{}]}}",
        json_string(input),
        vs.iter().all(Verdict::passed),
        items.join(", ")
    )
}

/// A simplified expression as one JSON object.
fn simplified_json(input: &str, e: &Expr, ctx: &Context) -> String {
    let s = e.shape();
    format!(
        "{{\"input\": {}, \"text\": {}, \"latex\": {}, \"shape\": [{}, {}]}}",
        json_string(input),
        json_string(&to_text(e)),
        json_string(&expr_to_latex(e, ctx)),
        json_string(&s.rows.to_string()),
        json_string(&s.cols.to_string())
    )
}
