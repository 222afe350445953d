//! Names for repeated pieces: a result that repeats a large subexpression
//! is printed with a name for it and a `where` clause of bindings,
//! `diag(p) - p p^T where p = softmax(x)`, in text and in LaTeX.
//!
//! The grammar reads such bindings back (`name = expr` in the `where`
//! clause, beside declarations `name: kind`) and substitutes them as it
//! reads, so a named result parses back to the same value, and printing
//! it again names the same pieces.
//!
//! A piece is named when it is not a leaf (a function call, a product, an
//! inverse, a sum, …), is at least [`MIN_PIECE`] characters long, occurs at
//! least twice in the printed answer, and naming it makes the whole answer
//! at least [`MIN_SAVING`] characters shorter; the piece that saves most
//! goes first, at most [`MAX_NAMES`] of them. The names are `p, q, s, u,
//! v, r, t, g, h`, then `p1, p2, …`, skipping every name the input uses
//! (its variables, their differentials, the direction) and every size the
//! result prints (`commutation(p, q)`). JSON, NumPy, JAX and the index form
//! print the full expression (the generated code computes each shared
//! piece once anyway).

use crate::calculus::derivative::Answer;
use crate::expr::{Expr, Kind};
use crate::hash::FxHashMap;
use crate::print::text::{Notation, Printer, Text};
use num_traits::Signed;
use std::collections::BTreeSet;

/// Fewest characters a named piece prints as.
pub const MIN_PIECE: usize = 10;

/// Fewest characters naming must save over the whole answer.
pub const MIN_SAVING: usize = 8;

/// Most names in one answer.
pub const MAX_NAMES: usize = 3;

/// Nodes above which a result is printed without names (the search
/// prints each candidate).
const MAX_NODES: usize = 20_000;

/// The names tried, in order, before `p1, p2, …`.
const NAMES: [&str; 9] = ["p", "q", "s", "u", "v", "r", "t", "g", "h"];

/// A result written with names for its repeated pieces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    /// The result with each named piece replaced by its name.
    pub body: Expr,
    /// The names and the pieces they stand for, in the order they are
    /// bound (a piece may use the names bound before it).
    pub bindings: Vec<(String, Expr)>,
}

/// `e` with names for its repeated pieces, or `None` when naming would
/// not shorten it enough. `taken` says which names the input uses.
pub fn name_repeats(e: &Expr, taken: &dyn Fn(&str) -> bool) -> Option<Named> {
    let plain = Printer { n: &Text }.show(e).len();
    named_shorter(e, plain, taken)
}

/// Shortest full text in which naming can save [`MIN_SAVING`] characters:
/// a piece of length `L` met `k` times saves `(k - 1) L - k - 11`, which
/// reaches 8 first at `k = 3`, `L = 11`.
const MIN_TEXT: usize = 33;

/// [`name_repeats`] for `e`, whose full text is `plain` characters long.
fn named_shorter(e: &Expr, plain: usize, taken: &dyn Fn(&str) -> bool) -> Option<Named> {
    if plain < MIN_TEXT || !within(e, MAX_NODES) {
        return None;
    }
    let mut body = e.clone();
    let first = best_piece(&body, true)?;
    let mut sizes = BTreeSet::new();
    collect_sizes(e, &mut sizes);
    let mut fresh = (0..)
        .map(|i: usize| match NAMES.get(i) {
            Some(n) => n.to_string(),
            None => format!("p{}", i + 1 - NAMES.len()),
        })
        .filter(|n| !taken(n) && !taken(&format!("d{n}")) && !sizes.contains(n));
    let mut bindings: Vec<(String, Expr)> = Vec::new();
    let mut next = Some(first);
    while bindings.len() < MAX_NAMES {
        let Some(piece) = next.take().or_else(|| best_piece(&body, false)) else {
            break;
        };
        let name = fresh.next().expect("names never run out");
        let var = Expr::var(&name, piece.shape().clone());
        body = replace(&body, &piece, &var, &mut FxHashMap::default());
        // earlier pieces may hold this one too
        for (_, b) in &mut bindings {
            *b = replace(b, &piece, &var, &mut FxHashMap::default());
        }
        bindings.push((name, piece));
    }
    let named = Named {
        body,
        bindings: ordered(bindings),
    };
    (text(&named, &Text).len() + MIN_SAVING <= plain).then_some(named)
}

/// The bindings in an order where each uses only the names before it.
fn ordered(mut rest: Vec<(String, Expr)>) -> Vec<(String, Expr)> {
    let mut out: Vec<(String, Expr)> = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let names: Vec<String> = rest.iter().map(|(n, _)| n.clone()).collect();
        let ready = rest
            .iter()
            .position(|(n, b)| names.iter().all(|m| m == n || !b.mentions(m)))
            .unwrap_or(0);
        out.push(rest.remove(ready));
    }
    out
}

/// An answer's result with names for its repeated pieces, if the answer
/// asks for them and naming shortens it. The input's names (its
/// variables and the direction) are taken.
pub fn of_answer(a: &Answer) -> Option<Named> {
    if !a.name_repeats {
        return None;
    }
    let taken = |n: &str| a.context.vars.contains_key(n) || a.direction.as_deref() == Some(n);
    name_repeats(&a.result, &taken)
}

/// An answer's text: with names for its repeated pieces where it asks for
/// them, else the full expression.
pub fn answer_text(a: &Answer) -> String {
    let plain = Printer { n: &Text }.show(&a.result);
    if !a.name_repeats {
        return plain;
    }
    let taken = |n: &str| a.context.vars.contains_key(n) || a.direction.as_deref() == Some(n);
    match named_shorter(&a.result, plain.len(), &taken) {
        Some(n) => to_text(&n),
        None => plain,
    }
}

/// The named result in a notation: `body where p = …, q = …`.
pub(crate) fn text(n: &Named, notation: &dyn Notation) -> String {
    let p = Printer { n: notation };
    let binds: Vec<String> = n
        .bindings
        .iter()
        .map(|(name, e)| format!("{} = {}", notation.var(name), p.show(e)))
        .collect();
    format!(
        "{}{}{}",
        p.show(&n.body),
        notation.where_word(),
        binds.join(notation.binding_separator())
    )
}

/// The named result as parseable text.
pub(crate) fn to_text(n: &Named) -> String {
    text(n, &Text)
}

/// Whether `e` has at most `most` nodes, counted as printed.
fn within(e: &Expr, most: usize) -> bool {
    let mut n = 0usize;
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        n += 1;
        if n > most {
            return false;
        }
        stack.extend(x.children());
    }
    true
}

/// The sizes the result prints (`commutation(p, q)`), which a name must
/// not take.
fn collect_sizes(e: &Expr, out: &mut BTreeSet<String>) {
    let mut seen = crate::hash::FxHashSet::default();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if !seen.insert(x.clone()) {
            continue;
        }
        if let Kind::Commutation(p, q) = x.kind() {
            for d in [p, q] {
                out.extend(d.names.iter().map(|n| n.to_string()));
            }
        }
        stack.extend(x.children());
    }
}

/// Whether a node may be named: anything but a leaf, a transpose or a
/// scalar's reciprocal (their operand is named instead) or a constant.
fn nameable(e: &Expr) -> bool {
    if let Kind::Power(_, k) = e.kind()
        && k.is_negative()
    {
        return false;
    }
    !matches!(
        e.kind(),
        Kind::Const(_)
            | Kind::Var(_)
            | Kind::Identity
            | Kind::Unit(_)
            | Kind::Ones
            | Kind::Commutation(..)
            | Kind::Transpose(_)
    )
}

/// The repeated piece whose naming saves most characters, if any saves.
fn best_piece(body: &Expr, first: bool) -> Option<Expr> {
    // occurrences in the printed tree, in the order first met
    let mut counts: FxHashMap<Expr, usize> = FxHashMap::default();
    let mut order: Vec<Expr> = Vec::new();
    let mut stack = vec![body];
    while let Some(x) = stack.pop() {
        if nameable(x) {
            let c = counts.entry(x.clone()).or_insert(0);
            *c += 1;
            if *c == 2 {
                order.push(x.clone());
            }
        }
        // children in reverse, so that pieces are met left to right
        stack.extend(x.children().into_iter().rev());
    }
    // ` where p = ` before the first binding, `, q = ` before later ones
    let overhead = if first { 11 } else { 6 };
    let p = Printer { n: &Text };
    let mut best: Option<(usize, Expr)> = None;
    for piece in order {
        let k = counts[&piece];
        let len = p.show(&piece).len();
        if len < MIN_PIECE {
            continue;
        }
        let saving = ((k - 1) * len).saturating_sub(k + overhead);
        if saving > 0 && best.as_ref().is_none_or(|(s, _)| saving > *s) {
            best = Some((saving, piece));
        }
    }
    best.map(|(_, piece)| piece)
}

/// `e` with every occurrence of `piece` replaced by `var`.
fn replace(e: &Expr, piece: &Expr, var: &Expr, memo: &mut FxHashMap<Expr, Expr>) -> Expr {
    crate::stack::grow(|| {
        if e == piece {
            return var.clone();
        }
        if let Some(done) = memo.get(e) {
            return done.clone();
        }
        let kids: Vec<Expr> = e
            .children()
            .into_iter()
            .map(|c| replace(c, piece, var, memo))
            .collect();
        let changed = kids.iter().zip(e.children()).any(|(a, b)| a != b);
        let out = if changed { e.rebuild(kids) } else { e.clone() };
        memo.insert(e.clone(), out.clone());
        out
    })
}
