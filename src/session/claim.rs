//! Checking the user's own derivative (`check EXPR --wrt X --grad 'G'`):
//! the claim is read with the expression's variables and shapes, turned
//! into the same identity `check` verifies for matcalc's own answer
//! (`df = sum(G .* dX)`, `d vec(G) = H vec(dX)`, `d vec(F) = J vec(dX)`),
//! and verified by the same machinery. matcalc's own answer comes along,
//! so a refuted claim can be compared with it.

use super::{Answer, Derivative, Session, Verdict, Wrt, resolve_wrt};
use crate::lower::{Context, VarKind};
use crate::shape::{Dim, Shape};
use crate::simplify::Form;
use crate::span::{Diagnostic, Origin, Span};

use super::command::Claim;

/// The option a claim of this kind is given with.
fn flag(kind: Derivative) -> Origin {
    match kind {
        Derivative::Differential | Derivative::Entrywise => Origin::ClaimedDiff,
        Derivative::Gradient => Origin::ClaimedGrad,
        Derivative::Hessian => Origin::ClaimedHessian,
        Derivative::Jacobian => Origin::ClaimedJacobian,
    }
}

/// Declarations that give every variable of `ctx` its kind, symmetry and
/// symbolic shape, so that a claim read under them has the expression's
/// shapes (a dimension that is neither a plain name nor a number is left
/// to inference).
fn declarations_of(ctx: &Context) -> String {
    let plain = |d: &Dim| match d.names.as_slice() {
        [] => Some(d.factor.to_string()),
        [n] if d.factor == 1 => Some(n.to_string()),
        _ => None,
    };
    let mut out = Vec::new();
    for name in &ctx.order {
        let info = &ctx.vars[name];
        if info.differential_of.is_some() {
            continue;
        }
        let mut words: Vec<String> = Vec::new();
        if info.spd {
            words.push("spd".into());
        } else if info.symmetric {
            words.push("symmetric".into());
        }
        match info.kind {
            VarKind::Scalar => words.push("scalar".into()),
            VarKind::Vector => match plain(&info.shape.rows) {
                Some(n) => words.push(format!("vector {n}")),
                None => words.push("vector".into()),
            },
            VarKind::Matrix => match (plain(&info.shape.rows), plain(&info.shape.cols)) {
                (Some(r), Some(c)) => words.push(format!("matrix {r} x {c}")),
                _ => words.push("matrix".into()),
            },
        }
        out.push(format!("{name}: {}", words.join(" ")));
    }
    out.join(", ")
}

impl Session {
    /// Verifies a derivative the user claims for `expr` with respect to
    /// `wrt`. The verdict's text is the claim; when it is refuted, the
    /// verdict carries matcalc's own answer for comparison.
    pub fn check_claim(
        &self,
        expr: &str,
        wrt: &str,
        where_: Option<&str>,
        claim: &Claim,
    ) -> Result<Verdict, Diagnostic> {
        let opt = flag(claim.kind);
        let mut lowered = self.lower(expr, where_)?;
        let var = match resolve_wrt(wrt, &lowered.context)? {
            Wrt::Var(v) => v,
            Wrt::Entry { .. } => {
                return Err(Diagnostic::new(
                    format!("`check {opt}` is taken with respect to a whole variable"),
                    wrt,
                )
                .origin(crate::span::Origin::Wrt)
                .label(Span::new(0, wrt.len()), "an entry"));
            }
        };
        lowered.context.free_differential(&var);
        // matcalc's own answer: the reference, and the direction's name
        let form = Some(Form::Default);
        let own = match claim.kind {
            Derivative::Differential | Derivative::Entrywise => {
                self.diff_with(expr, &var, None, where_, form)?
            }
            Derivative::Gradient => self.grad(expr, &var, where_, form)?,
            Derivative::Hessian => self.hessian(expr, &var, where_, form)?,
            Derivative::Jacobian => self.jacobian(expr, &var, where_, form)?,
        };
        let dir = own.direction.clone().unwrap_or_else(|| format!("d{var}"));
        let decls = declarations_of(&lowered.context);
        let text = claim.text.as_str();
        let at_claim = |d: Diagnostic| {
            if d.origin == Origin::Input {
                d.origin(opt)
            } else {
                d
            }
        };
        // The claim has the derivative's shape: that shape is a constraint
        // on its free sizes (`I`, `ones`, `E_ij`, commutation sizes),
        // unified with them rather than compared by name afterwards.
        let f = &lowered.expr;
        let x_shape = lowered.context.vars[&var].shape.clone();
        let len = |s: &Shape| s.rows.times(&s.cols).unwrap_or_else(Dim::one);
        let want = match claim.kind {
            Derivative::Differential | Derivative::Entrywise => f.shape().clone(),
            Derivative::Gradient => x_shape.clone(),
            Derivative::Hessian => Shape::new(len(&x_shape), len(&x_shape)),
            Derivative::Jacobian => Shape::new(len(f.shape()), len(&x_shape)),
        };
        let claimed = self
            .lower_expecting(text, Some(&decls), &want)
            .map_err(at_claim)?;
        let whole = Span::new(0, text.len());
        for name in &claimed.context.order {
            let info = &claimed.context.vars[name];
            let known = match &info.differential_of {
                Some(of) => of == &var && name == &dir,
                // a direction named otherwise (`H` where the input uses `dX`)
                None => lowered.context.get(name).is_some() || name == &dir,
            };
            if !known {
                let what = if info.differential_of.is_some() {
                    format!("the direction is `{dir}`")
                } else {
                    format!("`{name}` does not appear in `{}`", expr.trim())
                };
                return Err(Diagnostic::new(
                    format!("the claimed derivative mentions `{name}`: {what}"),
                    text,
                )
                .origin(opt)
                .label(whole, ""));
            }
        }
        // A zero matrix prints as `0`: claimed, it is the zero of the
        // derivative's shape.
        let claimed_expr = if claimed.expr.is_zero() && claimed.expr.is_scalar() {
            crate::expr::Expr::zero(want.clone())
        } else {
            claimed.expr.clone()
        };
        let got = claimed_expr.shape().clone();
        if got != want && !(got.is_scalar() && want.is_scalar()) {
            return Err(Diagnostic::new(
                format!(
                    "the claimed {} is {got}, but the {} of this expression is {want}",
                    claim.kind.name(),
                    claim.kind.name()
                ),
                text,
            )
            .origin(opt)
            .label(whole, format!("{got}")));
        }
        if matches!(claim.kind, Derivative::Differential)
            && !claimed_expr.is_zero()
            && !claimed_expr.mentions(&dir)
        {
            return Err(Diagnostic::new(
                format!("the claimed differential does not mention the direction `{dir}`"),
                text,
            )
            .origin(opt)
            .label(whole, "")
            .help(format!(
                "write the differential in the direction `{dir}`, e.g. `{dir}^T x + x^T {dir}`"
            )));
        }
        // The claim in place of matcalc's own answer, judged as `check`
        // judges its own (one path: `numeric::verify::verify_claim`).
        let outcome = super::judge(&Answer {
            result: claimed_expr,
            ..own.clone()
        });
        let reference = (!outcome.passed()).then(|| own.text.clone());
        Ok(Verdict {
            kind: claim.kind.name(),
            text: text.trim().to_string(),
            outcome,
            not_written: None,
            reference,
        })
    }
}
