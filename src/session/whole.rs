//! Gradients, Hessians and Jacobians: the derivatives with respect to a
//! whole variable, read off the product rule's differential by
//! `calculus::extract` and then simplified.

use super::{Answer, Derivative, Session, Wrt, resolve_wrt};
use crate::calculus::diff::DiffError;
use crate::calculus::{differential, extract};
use crate::expr::Expr;
use crate::lower::{Context, Lowered};
use crate::rat;
use crate::simplify::{Form, simplify, simplify_from};
use crate::span::{Detail, Diagnostic, Phase, Span};

/// What every whole-variable derivative starts from.
pub(super) struct Setup {
    lowered: Lowered,
    /// The variable.
    var: String,
    /// A direction name that is not in the expression.
    dir: String,
    /// The direction as an expression.
    dir_expr: Expr,
    /// The context with the direction declared.
    ctx: Context,
    /// The full input, for diagnostics.
    input: String,
    /// Where the expression sits in `input`.
    span: Span,
}

impl Session {
    fn setup(
        &self,
        command: &str,
        expr: &str,
        wrt: &str,
        where_: Option<&str>,
        need_scalar: bool,
    ) -> Result<Setup, Diagnostic> {
        let lowered = if need_scalar {
            self.lower_scalar(expr, where_, wrt)?
        } else {
            self.lower(expr, where_)?
        };
        setup(command, lowered, self.read(expr, where_), wrt, need_scalar)
    }

    /// The input as read, for diagnostics: the full text and where the
    /// expression sits in it.
    pub(super) fn read(&self, expr: &str, where_: Option<&str>) -> (String, Span) {
        (
            self.full_input(expr, where_),
            Span::new(0, expr.trim_end().len()),
        )
    }
}

/// What every whole-variable derivative of an already lowered expression
/// starts from; `read` is the input as read (text and the expression's
/// span), for diagnostics.
pub(super) fn setup(
    command: &str,
    lowered: Lowered,
    read: (String, Span),
    wrt: &str,
    need_scalar: bool,
) -> Result<Setup, Diagnostic> {
    let (input, span) = read;
    let mut lowered = lowered;
    let var = match resolve_wrt(wrt, &lowered.context)? {
        Wrt::Var(v) => v,
        Wrt::Entry { var, .. } => {
            return Err(Diagnostic::new(
                format!("`{command}` is taken with respect to a whole variable"),
                wrt,
            )
            .origin(crate::span::Origin::Wrt)
            .label(Span::new(0, wrt.len()), "an entry")
            .help(format!(
                "write `--wrt {var}`, or use `diff --wrt {}` for one entry",
                wrt.trim()
            )));
        }
    };
    let shape = lowered.expr.shape();
    if need_scalar && !shape.is_scalar() {
        return Err(Diagnostic::new(
            format!("`{command}` needs a scalar expression, but this one is {shape}"),
            &input,
        )
        .label(span, "not 1×1")
        .help("`diff` gives its differential and `jacobian` its Jacobian"));
    }
    lowered.context.free_differential(&var);
    let info = lowered.context.vars[&var].clone();
    let mut dir = format!("d{var}");
    while lowered.context.get(&dir).is_some() {
        dir.push('_');
    }
    let ctx = lowered.context.with_direction(&var, &dir);
    let dir_expr = Expr::var(&dir, info.shape.clone());
    Ok(Setup {
        lowered,
        var,
        dir,
        dir_expr,
        ctx,
        input,
        span,
    })
}

impl Session {
    /// The gradient of a scalar `expr` with respect to the variable `wrt`
    /// (SPEC §4: shape of X, `df = tr(G^T dX)`; symmetric for a symmetric
    /// variable). `form` is `None` for the unsimplified extraction.
    pub fn grad(
        &self,
        expr: &str,
        wrt: &str,
        where_: Option<&str>,
        form: Option<Form>,
    ) -> Result<Answer, Diagnostic> {
        self.setup("grad", expr, wrt, where_, true)?.gradient(form)
    }

    /// The Hessian of a scalar `expr`: the Jacobian of its gradient (for a
    /// matrix variable, with respect to `vec(X)`).
    pub fn hessian(
        &self,
        expr: &str,
        wrt: &str,
        where_: Option<&str>,
        form: Option<Form>,
    ) -> Result<Answer, Diagnostic> {
        self.hessian_with_gradient(expr, wrt, where_, form)
            .map(|(a, _)| a)
    }

    /// The Hessian and the (simplified) gradient it was taken of.
    pub(super) fn hessian_with_gradient(
        &self,
        expr: &str,
        wrt: &str,
        where_: Option<&str>,
        form: Option<Form>,
    ) -> Result<(Answer, Expr), Diagnostic> {
        self.setup("hessian", expr, wrt, where_, true)?
            .hessian(form)
    }

    /// The Jacobian `d vec(F) / d vec(X)^T` of `expr` (numerator layout; for
    /// vectors the plain matrix of partials).
    pub fn jacobian(
        &self,
        expr: &str,
        wrt: &str,
        where_: Option<&str>,
        form: Option<Form>,
    ) -> Result<Answer, Diagnostic> {
        self.setup("jacobian", expr, wrt, where_, false)?
            .jacobian(form)
    }
}

impl Setup {
    /// The gradient.
    pub(super) fn gradient(self, form: Option<Form>) -> Result<Answer, Diagnostic> {
        let raw = gradient_of(&self, &self.lowered.expr)?;
        self.answer(Derivative::Gradient, raw, form)
    }

    /// The Hessian, and the simplified gradient it was taken of.
    pub(super) fn hessian(self, form: Option<Form>) -> Result<(Answer, Expr), Diagnostic> {
        let g = gradient_of(&self, &self.lowered.expr)?;
        let g = simplify(&g, &self.lowered.context, Form::Expanded).expr;
        let raw = jacobian_of(&self, &g)?;
        Ok((self.answer(Derivative::Hessian, raw, form)?, g))
    }

    /// The Jacobian.
    pub(super) fn jacobian(self, form: Option<Form>) -> Result<Answer, Diagnostic> {
        let raw = jacobian_of(&self, &self.lowered.expr)?;
        self.answer(Derivative::Jacobian, raw, form)
    }

    fn answer(self, kind: Derivative, raw: Expr, form: Option<Form>) -> Result<Answer, Diagnostic> {
        let (result, stopped) = match form {
            Some(form) => {
                let out = simplify_from(&raw, &self.lowered.context, form, &self.lowered.expr);
                (out.expr, out.stopped)
            }
            None => (raw.clone(), Vec::new()),
        };
        super::printable(&result)?;
        let mut answer = Answer {
            kind,
            text: String::new(),
            name_repeats: matches!(form, Some(Form::Default | Form::Factored)),
            function: self.lowered.expr,
            context: self.lowered.context,
            wrt: Wrt::Var(self.var),
            direction: Some(self.dir),
            result,
            raw,
            stopped,
        };
        answer.text = super::readable_text(&answer);
        Ok(answer)
    }

    /// The differential of `f`, or a diagnostic when it is too large.
    fn differential(&self, f: &Expr) -> Result<Expr, Diagnostic> {
        let d = differential(f, &self.var, &self.dir_expr).map_err(|e| match e {
            DiffError::TooLarge { work } => Diagnostic::new(
                format!("the derivative is too large to build (over {work} factors)"),
                &self.input,
            )
            .label(self.span, "")
            .phase(Phase::Limit),
            e => super::diff_error(e, &self.input),
        })?;
        super::printable(&d)?;
        Ok(d)
    }

    /// Runs an extraction on the product rule's differential of `f`, and on
    /// its simplified form if the raw one has the direction somewhere the
    /// extraction cannot undo.
    fn extract(
        &self,
        f: &Expr,
        how: fn(&Expr, &str, &crate::Shape) -> Result<Expr, extract::Unsupported>,
    ) -> Result<Expr, Diagnostic> {
        let df = self.differential(f)?;
        let shape = &self.dir_expr.shape().clone();
        how(&df, &self.dir, shape)
            .or_else(|_| {
                let simpler = simplify(&df, &self.ctx, Form::Expanded).expr;
                how(&simpler, &self.dir, shape)
            })
            .map_err(|e| {
                Diagnostic::new(
                    format!("cannot write this derivative: {}", e.message),
                    &self.input,
                )
                .label(self.span, "")
                .phase(Phase::Derivative)
                .detail(Detail::NotWritten {
                    reason: e.message.clone(),
                })
            })
    }
}

/// The gradient of the scalar `f`, symmetrised for a symmetric variable.
fn gradient_of(s: &Setup, f: &Expr) -> Result<Expr, Diagnostic> {
    let g = s.extract(f, extract::gradient)?;
    if s.lowered.context.vars[&s.var].symmetric {
        // SPEC §4: the symmetric G with df = tr(G dS) for every symmetric dS
        let half = rat(1) / rat(2);
        return Ok(Expr::scale(&half, &Expr::add(&g, &Expr::transpose(&g))));
    }
    Ok(g)
}

/// The Jacobian of `f`.
fn jacobian_of(s: &Setup, f: &Expr) -> Result<Expr, Diagnostic> {
    s.extract(f, extract::jacobian)
}
