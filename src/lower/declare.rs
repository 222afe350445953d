//! The `where` clause: what each declared name is (kind, symmetry,
//! sizes), read and checked before the expression is looked at.
//!
//! Declarations are checked on their own (contradictory kinds, a size
//! where a kind was meant, a scalar with sizes, a name declared twice or a
//! built-in declared), so that `infer` can take them as given. Sizes stay
//! text here: `infer` turns them into size variables on first use.

use super::{VarKind, unit_indices};
use crate::ast::Decl;
use crate::span::{Diagnostic, Span};
use std::collections::BTreeMap;

/// What the `where` clause says about one name.
pub(super) struct Declared {
    /// The kind, if a kind word or a size gave it.
    pub(super) kind: Option<VarKind>,
    /// Declared `symmetric` (or `spd`).
    pub(super) symmetric: bool,
    /// Declared `spd`.
    pub(super) spd: bool,
    /// Its sizes as written (none, one or two), with their spans.
    pub(super) dims: Vec<(String, Span)>,
    /// Where the name is declared.
    pub(super) span: Span,
}

/// Every declared name.
pub(super) type Declarations = BTreeMap<String, Declared>;

/// Reads and checks the declarations.
pub(super) fn declare(decls: &[Decl], src: &str) -> Result<Declarations, Diagnostic> {
    let err = |message: &str| Diagnostic::new(message, src);
    let mut declared = Declarations::new();
    for d in decls {
        let mut kind = None;
        let (mut symmetric, mut spd) = (false, false);
        for (word, span) in &d.kinds {
            let k = match word.as_str() {
                "scalar" => VarKind::Scalar,
                "vector" => VarKind::Vector,
                "matrix" => VarKind::Matrix,
                "symmetric" => {
                    symmetric = true;
                    VarKind::Matrix
                }
                _ => {
                    symmetric = true;
                    spd = true;
                    VarKind::Matrix
                }
            };
            if kind.is_some_and(|old| old != k) {
                return Err(err("contradictory kinds in one declaration")
                    .label(*span, "this kind contradicts an earlier one"));
            }
            kind = Some(k);
        }
        for (dim, span) in &d.dims {
            let words = ["symmetric", "spd", "scalar", "vector", "matrix"];
            if dim.len() >= 4
                && let Some(w) = crate::span::nearest(dim, &words)
            {
                return Err(err(&format!("`{dim}` is not a kind (nor, likely, a size)"))
                    .label(*span, format!("did you mean `{w}`?"))
                    .help(
                        "the kinds are symmetric, spd, scalar, vector and matrix; sizes are written `n`, `n x m` or `3 x 4`",
                    ));
            }
        }
        match (kind, d.dims.len()) {
            (Some(VarKind::Scalar), n) if n > 0 => {
                return Err(err("a scalar has no dimensions to declare")
                    .label(d.span, "remove the size or the word `scalar`"));
            }
            (Some(VarKind::Vector), 2) => {
                return Err(
                    err("a vector has one dimension: write `y: n` or `y: vector`")
                        .label(d.span, "two dimensions given"),
                );
            }
            (Some(VarKind::Matrix), 1) => {
                return Err(err("a matrix has two dimensions: write `X: n x m`")
                    .label(d.span, "one dimension given"));
            }
            _ => {}
        }
        let kind = kind.or(match d.dims.len() {
            1 => Some(VarKind::Vector),
            2 => Some(VarKind::Matrix),
            _ => None,
        });
        for (name, span) in &d.names {
            if let Some(prev) = declared.get(name) {
                // the same declaration again (a pasted answer's `where x: n`
                // beside the session's `x: vector n`) says nothing new
                let same_dims = prev.dims.len() == d.dims.len()
                    && prev.dims.iter().zip(&d.dims).all(|(a, b)| a.0 == b.0);
                if prev.kind == kind && same_dims && prev.symmetric == symmetric && prev.spd == spd
                {
                    continue;
                }
                return Err(
                    err(&format!("`{name}` is declared twice")).label(*span, "second declaration")
                );
            }
            if unit_indices(name).is_some() || super::is_identity(name) || name == "ones" {
                return Err(err(&format!("`{name}` is built in and cannot be declared"))
                    .label(*span, "built-in name"));
            }
            declared.insert(
                name.clone(),
                Declared {
                    kind,
                    symmetric,
                    spd,
                    dims: d.dims.clone(),
                    span: *span,
                },
            );
        }
    }
    Ok(declared)
}
