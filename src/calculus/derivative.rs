//! What was asked and what was found: the kind of derivative, the
//! variable (or entry) it is taken with respect to, the direction, and the
//! answer with its context. These are the data every printer and the
//! verifier read; they live here, beside the calculus that fills them, so
//! that nothing below the session needs the session to describe a result.

use crate::expr::Expr;
use crate::lower::Context;

/// What a derivative is taken with respect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wrt {
    /// The whole variable: the differential in a direction.
    Var(String),
    /// One entry `X_ij` (or `x_i`): the partial derivative, with `E_ij`.
    Entry {
        /// The variable.
        var: String,
        /// The index letters, e.g. `ij`.
        indices: String,
    },
}

/// The kinds of derivative the engine computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Derivative {
    /// The differential `dF[dX]` in a direction.
    Differential,
    /// The entrywise partial `∂F/∂X_ij`.
    Entrywise,
    /// The gradient `G` of a scalar: `df = tr(G^T dX)`.
    Gradient,
    /// The Hessian of a scalar (w.r.t. `vec(X)` for a matrix).
    Hessian,
    /// `d vec(F) / d vec(X)^T`.
    Jacobian,
}

impl Derivative {
    /// Its name as the CLI spells the command's output (`differential`,
    /// `entrywise`, `gradient`, `hessian`, `jacobian`).
    pub fn name(self) -> &'static str {
        match self {
            Derivative::Differential => "differential",
            Derivative::Entrywise => "entrywise",
            Derivative::Gradient => "gradient",
            Derivative::Hessian => "hessian",
            Derivative::Jacobian => "jacobian",
        }
    }
}

/// A computed derivative with everything needed to print or check it.
#[derive(Clone, Debug)]
pub struct Answer {
    /// Which derivative this is.
    pub kind: Derivative,
    /// The function differentiated.
    pub function: Expr,
    /// Its variables.
    pub context: Context,
    /// The variable.
    pub wrt: Wrt,
    /// The direction variable (`dX`, `H`), or `None` for an entrywise partial.
    pub direction: Option<String>,
    /// The result, simplified into the requested form.
    pub result: Expr,
    /// The product rule's result before simplification.
    pub raw: Expr,
    /// Limits the simplifier hit, in words (empty when none was).
    pub stopped: Vec<String>,
    /// The result as text (with names for repeated pieces where
    /// `name_repeats` asks for them).
    pub text: String,
    /// Whether the text and LaTeX printers name repeated pieces
    /// (`… where p = softmax(W x)`): the default and factored forms do,
    /// `--expand` and `--raw` print the full expression.
    pub name_repeats: bool,
}

impl Answer {
    /// The answer's context with its direction (`dX`, `H`) declared as the
    /// differential of its variable.
    pub fn direction_context(&self) -> Context {
        let var = match &self.wrt {
            Wrt::Var(v) | Wrt::Entry { var: v, .. } => v,
        };
        match &self.direction {
            Some(d) => self.context.with_direction(var, d),
            None => self.context.clone(),
        }
    }
}
