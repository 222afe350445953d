//! Readings that are guesses (SPEC §2, "Reading what the user means"):
//! where an undeclared name's conventional kind makes no sense in its
//! context, the name takes the kind the context needs, and a note says so.
//!
//! The worst answer is a confident answer to a question the user did not
//! ask, so every guess here is either refused or noted:
//! - a multi-letter undeclared name glued to `(` that is no function is
//!   refused as an unknown function (`arctan(x)` is never `arctan` times
//!   `x`), whatever the product would have meant;
//! - a Greek name (a scalar by convention) added to a vector or matrix is
//!   read as one of those (`mu` in `x - mu`), with a note; when that
//!   reading fails, the broadcast stays, with a note too;
//! - when the conventional reading fails, one undeclared Greek name at a
//!   time tries the other kinds (`beta` in `y - X beta` a vector), and the
//!   first that reads is taken, with a note (a vector never silently
//!   becomes a scalar: `x y` stays an error);
//! - a command that needs a scalar (`grad`) may read one undeclared name
//!   in another kind when that alone makes it read and be 1×1 (`c` in
//!   `x^T A x + c sin(y)^T x` a scalar, `n` in `sum(x)/n`, `beta` in
//!   `y^T X beta` a vector).
//!
//! Declarations always win: a declared name is never guessed.
//!
//! Guessing works by lowering again with the guessed kinds
//! ([`super::lower_with`] and its overrides): lowering is cheap, and the
//! same code then checks the guess as it checks any input. The refusals
//! that need no second reading (`AX` for `A X`) are in `lint`.

use super::lint::unknown_function;
use super::{
    Lowered, Overrides, VarKind, collect_names, conventional_kind, is_identity, lower_with,
    push_operands, unit_indices,
};
use crate::ast::{AstKind, Builtin, Parsed};
use crate::shape::Shape;
use crate::span::Diagnostic;
use std::collections::BTreeSet;

/// Most names tried one at a time when the conventional reading fails.
const MAX_TRIES: usize = 16;

/// [`super::lower`] with some kinds already fixed (`base`).
pub(super) fn lower_guessing(
    parsed: &Parsed,
    src: &str,
    base: &Overrides,
    expect: Option<&Shape>,
) -> Result<Lowered, Diagnostic> {
    unknown_calls(parsed, src)?;
    let first = lower_with(parsed, src, base, expect);
    let (mut lowered, broadcasts) = match first {
        Ok(ok) => ok,
        Err(d) => {
            // Only a Greek name changes kind here: a vector read as a
            // scalar would turn the error of `x y` into a silent product
            // (that guess is left to commands that need a scalar).
            // ... and a divisor, which only a scalar can be: `n` in
            // `sum(x)/n` (a `/` by a vector or matrix means nothing), and
            // so are `x` in `x^x` and `b` in `2^b`.
            let divisors = divisors(parsed);
            let greek = candidates(parsed, base, None)
                .into_iter()
                .filter(|(n, k)| *k != VarKind::Scalar || divisors.contains(n.as_str()));
            for (name, kind) in greek {
                let mut over = base.clone();
                over.insert(name.clone(), kind);
                if let Ok((mut l, more)) = lower_with(parsed, src, &over, expect) {
                    l.context.notes.push(read_as(&name, kind));
                    for (n, _) in more {
                        l.context.notes.push(broadcast_note(&n));
                    }
                    return Ok(l);
                }
            }
            return Err(d);
        }
    };
    if broadcasts.is_empty() {
        return Ok(lowered);
    }
    let mut over = base.clone();
    over.extend(broadcasts.iter().cloned());
    if let Ok((mut l, more)) = lower_with(parsed, src, &over, expect)
        && more.is_empty()
    {
        for (name, kind) in &broadcasts {
            l.context.notes.push(format!(
                "`{name}` is read as a {}, like what it is added to (a Greek name is a scalar by convention, which would be added to every entry); to mean a scalar, declare `where {name}: scalar`",
                kind_word(*kind)
            ));
        }
        return Ok(l);
    }
    for (name, _) in &broadcasts {
        lowered.context.notes.push(broadcast_note(name));
    }
    Ok(lowered)
}

/// [`super::lower_scalar`]: `wrt` (the variable) is never guessed to be
/// a scalar.
pub(super) fn lower_scalar(parsed: &Parsed, src: &str, wrt: &str) -> Result<Lowered, Diagnostic> {
    let first = lower_guessing(parsed, src, &Overrides::new(), None);
    if first.as_ref().is_ok_and(|l| l.expr.is_scalar()) {
        return first;
    }
    for (name, kind) in candidates(parsed, &Overrides::new(), None) {
        // the variable is never guessed to be a scalar (`grad 'x' --wrt x`)
        if name == wrt && kind == VarKind::Scalar {
            continue;
        }
        let over = Overrides::from([(name.clone(), kind)]);
        if let Ok(mut l) = lower_guessing(parsed, src, &over, None)
            && l.expr.is_scalar()
        {
            l.context.notes.insert(0, read_as(&name, kind));
            return Ok(l);
        }
    }
    first
}

/// The note for a guessed kind.
fn read_as(name: &str, kind: VarKind) -> String {
    let conventional = kind_word(conventional_kind(name));
    format!(
        "`{name}` is read as a {} (its name makes it a {conventional} by convention, which does not fit here); to mean a {conventional}, declare `where {name}: {conventional}`",
        kind_word(kind)
    )
}

/// The note for a broadcast that stays.
fn broadcast_note(name: &str) -> String {
    format!(
        "`{name}` is a scalar (a Greek name), added to every entry; if it is a vector or a matrix, declare it: `where {name}: vector`"
    )
}

fn kind_word(k: VarKind) -> &'static str {
    match k {
        VarKind::Scalar => "scalar",
        VarKind::Vector => "vector",
        VarKind::Matrix => "matrix",
    }
}

/// The undeclared names that may take another kind than their
/// conventional one, each with the kinds to try, in the order of the
/// names: a Greek name may be a vector or a matrix, a lower-case one a
/// scalar. Built-in names, differentials and `keep` are never guessed.
fn candidates(parsed: &Parsed, base: &Overrides, keep: Option<&str>) -> Vec<(String, VarKind)> {
    let mut used = BTreeSet::new();
    collect_names(&parsed.expr, &mut used);
    let declared: BTreeSet<&str> = parsed
        .decls
        .iter()
        .flat_map(|d| d.names.iter().map(|(n, _)| n.as_str()))
        .collect();
    let mut out = Vec::new();
    for name in &used {
        let differential = name
            .strip_prefix('d')
            .is_some_and(|b| !b.is_empty() && (used.contains(b) || declared.contains(b)));
        if declared.contains(name.as_str())
            || base.contains_key(name)
            || keep == Some(name.as_str())
            || differential
            || is_identity(name)
            || name == "ones"
            || unit_indices(name).is_some()
            || Builtin::from_name(name).is_some()
        {
            continue;
        }
        match conventional_kind(name) {
            VarKind::Scalar => {
                out.push((name.clone(), VarKind::Vector));
                out.push((name.clone(), VarKind::Matrix));
            }
            VarKind::Vector => out.push((name.clone(), VarKind::Scalar)),
            VarKind::Matrix => {}
        }
    }
    out.truncate(2 * MAX_TRIES);
    out
}

/// The names that stand alone on the right of a `/`, or as the base or
/// exponent of a power with a variable exponent: only a scalar fits there.
fn divisors(parsed: &Parsed) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    let mut stack = vec![&parsed.expr];
    fn bare(mut r: &crate::ast::Ast) -> Option<&str> {
        while let AstKind::Group(x) = &r.kind {
            r = x;
        }
        match &r.kind {
            AstKind::Ident(name) => Some(name.as_str()),
            _ => None,
        }
    }
    while let Some(a) = stack.pop() {
        // ... and the base and exponent of `a^b` with a variable
        // exponent, which only scalars can be: `x` in `x^x`
        if let AstKind::Postfix {
            op: crate::ast::PostOp::Power(e),
            arg,
            ..
        } = &a.kind
            && super::const_value(e).is_none()
        {
            out.extend(bare(arg));
            out.extend(bare(e));
        }
        if let AstKind::Binary {
            op: crate::ast::BinOp::Div,
            rhs,
            ..
        } = &a.kind
        {
            let mut r: &crate::ast::Ast = rhs;
            while let AstKind::Group(x) = &r.kind {
                r = x;
            }
            if let AstKind::Ident(name) = &r.kind {
                out.insert(name.as_str());
            }
        }
        push_operands(a, &mut stack);
    }
    out
}

/// Refuses a multi-letter name that is neither a function nor declared,
/// directly followed by `(`: `arctan(x)` is an unknown function, never
/// `arctan` times `x`. Single-letter and declared names followed by `(`
/// are products (`A(B + C)`), and so are differentials (`dX(A + B)`).
fn unknown_calls(parsed: &Parsed, src: &str) -> Result<(), Diagnostic> {
    let declared: BTreeSet<&str> = parsed
        .decls
        .iter()
        .flat_map(|d| d.names.iter().map(|(n, _)| n.as_str()))
        .collect();
    let mut used = BTreeSet::new();
    collect_names(&parsed.expr, &mut used);
    let mut stack = vec![&parsed.expr];
    let mut first: Option<(&str, crate::span::Span)> = None;
    while let Some(a) = stack.pop() {
        if let AstKind::Ident(name) = &a.kind
            && name.chars().count() > 1
            && !declared.contains(name.as_str())
            && src
                .get(a.span.end..)
                .is_some_and(|rest| rest.starts_with('('))
            && !name
                .strip_prefix('d')
                .is_some_and(|b| used.contains(b) || declared.contains(b))
            && first.is_none_or(|(_, s)| a.span.start < s.start)
        {
            first = Some((name, a.span));
        }
        push_operands(a, &mut stack);
    }
    match first {
        None => Ok(()),
        Some((name, span)) => Err(unknown_function(
            Diagnostic::new(format!("unknown function `{name}`"), src),
            name,
            span,
        )),
    }
}
