//! Readings of the input that are guesses, and what folding constants
//! reveals: the checks of lowering that are not about shapes.
//!
//! Some inputs parse and may even have shapes, yet almost surely say
//! something other than what was meant: `AX` where `A` and `X` are used
//! too (a product with the space forgotten), a name glued to `(` that is
//! no function (`trace(X)`). These are refused with the likely reading as
//! a suggestion. Folding may also make visible what the text hides (a
//! division by zero, an exponent past its limit once nested powers
//! multiply, numbers too large to hold), which is refused too.
//!
//! Readings that are likely right but still guesses (a Greek name used as
//! a vector) are taken in `guess`, each with a note in the context.

use super::declare::Declarations;
use super::{MAX_EXPONENT, MAX_MATRIX_POWER, MAX_NUMBER_BITS, const_value, push_operands};
use crate::ast::{Ast, AstKind, BinOp, PostOp};
use crate::builtins::NAMES as FUNCTION_NAMES;
use crate::expr::Expr;
use crate::span::{Diagnostic, Span};
use num_rational::BigRational;
use num_traits::{One, Signed};
use std::collections::BTreeSet;

/// `AX` where `A` and `X` are used too is almost surely the product
/// `A X` with the space forgotten: an undeclared name that splits into
/// other names of the input is refused with that suggestion.
pub(super) fn check_glued(
    ast: &Ast,
    src: &str,
    used: &BTreeSet<String>,
    declared: &Declarations,
) -> Result<(), Diagnostic> {
    let mut stack = vec![ast];
    while let Some(a) = stack.pop() {
        match &a.kind {
            // `dX` glued to a variable's name is its differential (as
            // `infer` reads it), so that every printed differential reads
            // back even where `d` is a variable too.
            AstKind::Ident(n) if is_differential(n, used, declared) => {}
            AstKind::Ident(n) if !declared.contains_key(n) && n.chars().count() > 1 => {
                let known: Vec<&str> = used
                    .iter()
                    .chain(declared.keys())
                    .map(String::as_str)
                    .filter(|m| m != n)
                    .collect();
                if let Some(parts) = split_into(n, &known) {
                    let product = parts.join(" ");
                    return Err(Diagnostic::new(format!("unknown name `{n}`"), src)
                        .label(a.span, format!("did you mean `{product}`?"))
                        .help(format!(
                            "a product needs a space: `{product}`; to use `{n}` as a name of its own, declare it: `where {n}: matrix`"
                        )));
                }
            }
            _ => {}
        }
        push_operands(a, &mut stack);
    }
    Ok(())
}

/// Undeclared names that may be a product with the space forgotten, but
/// not surely (so not refused as `check_glued` does): a name of letters
/// that splits into two pieces, a name of the input and a single letter
/// (`Ax` in `x'Ax`), or two single letters, a capital first (`Xw`).
/// Each comes as the name and the product it may mean (`A x`); the caller
/// says so, in a note when it answers, in a help line when it refuses.
pub fn glued_guesses(parsed: &crate::ast::Parsed) -> Vec<(String, String)> {
    let mut used = BTreeSet::new();
    super::collect_names(&parsed.expr, &mut used);
    let declared: BTreeSet<&str> = parsed
        .decls
        .iter()
        .flat_map(|d| d.names.iter().map(|(n, _)| n.as_str()))
        .collect();
    let letters: Vec<String> = ('a'..='z').chain('A'..='Z').map(String::from).collect();
    let mut out: Vec<(String, String)> = Vec::new();
    for n in &used {
        let plain = n.len() > 1 && n.chars().all(|c| c.is_ascii_alphabetic());
        if !plain
            || declared.contains(n.as_str())
            || super::is_greek_name(n)
            || FUNCTION_NAMES.contains(&n.as_str())
            || n.strip_prefix('d').is_some_and(|b| used.contains(b))
        {
            continue;
        }
        let known: Vec<&str> = used
            .iter()
            .map(String::as_str)
            .chain(declared.iter().copied())
            .filter(|m| *m != n)
            .collect();
        if split_into(n, &known).is_some() {
            continue; // refused by `check_glued`
        }
        let with_letters: Vec<&str> = known
            .iter()
            .copied()
            .chain(letters.iter().map(String::as_str))
            .collect();
        let Some(parts) = split_into(n, &with_letters) else {
            continue;
        };
        let two_letters = n.len() == 2 && n.starts_with(|c: char| c.is_ascii_uppercase());
        let one_known = parts.iter().any(|p| known.contains(&p.as_str()));
        if parts.len() == 2 && (two_letters || one_known) {
            out.push((n.clone(), parts.join(" ")));
        }
    }
    out
}

/// The note or help line for a guess of [`glued_guesses`].
pub fn glued_words(name: &str, product: &str) -> String {
    format!(
        "`{name}` is read as one name; did you mean `{product}`? (a product needs a space; to keep the name, declare it: `where {name}: matrix`)"
    )
}

/// Whether `name` reads as the differential of a variable: `d` glued to
/// the name of one that is used or declared (the rule of `infer`).
fn is_differential(name: &str, used: &BTreeSet<String>, declared: &Declarations) -> bool {
    name.strip_prefix('d').is_some_and(|base| {
        !base.is_empty()
            && !super::is_greek_name(name)
            && !declared.contains_key(name)
            && (used.contains(base) || declared.contains_key(base))
    })
}

/// `name` as two or more of `known`, glued (the fewest pieces).
fn split_into(name: &str, known: &[&str]) -> Option<Vec<String>> {
    // best[i]: the fewest pieces covering name[..i], and the last piece.
    let mut best: Vec<Option<(usize, usize)>> = vec![None; name.len() + 1];
    best[0] = Some((0, 0));
    for i in 0..name.len() {
        let Some((count, _)) = best[i] else { continue };
        for k in known {
            let j = i + k.len();
            if name[i..].starts_with(k) && best[j].is_none_or(|(c, _)| count + 1 < c) {
                best[j] = Some((count + 1, i));
            }
        }
    }
    let (count, _) = best[name.len()]?;
    if count < 2 {
        return None;
    }
    let mut parts = Vec::new();
    let mut end = name.len();
    while end > 0 {
        let (_, start) = best[end]?;
        parts.push(name[start..end].to_string());
        end = start;
    }
    parts.reverse();
    Some(parts)
}

/// Refuses what folding made visible: a division by zero (the inverse of
/// a zero, a zero to a negative power, an elementwise division by zero),
/// and an exponent past its limit once nested powers multiply.
pub(super) fn check_folded(e: &Expr, src: &str) -> Result<(), Diagnostic> {
    use crate::expr::Kind;
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        let bad = match x.kind() {
            Kind::Inverse(a) => a.is_zero(),
            Kind::Power(a, k) => a.is_zero() && k.is_negative(),
            Kind::HadamardDiv(_, b) => b.is_zero(),
            _ => false,
        };
        if bad {
            return Err(Diagnostic::new("division by zero", src).label(
                Span::new(0, src.len()),
                "a divisor here is identically zero",
            ));
        }
        // Nested powers multiply their exponents: `((X^2)^2)^2` is X^8, and
        // so is `((X^2)^T)^4` transposed.
        if let Kind::Power(a, k) = x.kind() {
            let limit = if a.is_scalar() {
                MAX_EXPONENT
            } else {
                MAX_MATRIX_POWER as i64
            };
            let k = &(k * inner_exponent(a));
            let limit = num_bigint::BigInt::from(limit);
            if k.numer().abs() > limit || *k.denom() > limit {
                return Err(Diagnostic::new(
                    format!("nested powers make an exponent too large ({k}; at most ±{limit})"),
                    src,
                )
                .label(Span::new(0, src.len()), "the powers multiply"));
            }
        }
        stack.extend(x.children());
    }
    Ok(())
}

/// The product of the exponents of the matrix powers nested under
/// transposes and inverses: 2 for `(X^2)^T`, 6 for `((X^3)^-1)^2`
/// (1 when there is none).
fn inner_exponent(a: &Expr) -> BigRational {
    use crate::expr::Kind;
    let mut k = BigRational::one();
    let mut x = a;
    loop {
        match x.kind() {
            Kind::Transpose(b) | Kind::Inverse(b) => x = b,
            Kind::Power(b, j) if !x.is_scalar() => {
                k *= j.abs();
                x = b;
            }
            _ => return k,
        }
    }
}

/// A name glued to `(` whose product makes no sense: most likely a
/// function matcalc does not have.
pub(super) fn unknown_function(d: Diagnostic, name: &str, span: Span) -> Diagnostic {
    let aliases = [
        ("trace", "tr"),
        ("transpose", "^T"),
        ("inverse", "inv"),
        ("ln", "log"),
        ("logm", "logdet"),
        ("expm", "exp"),
    ];
    let suggestion = aliases
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(_, f)| *f)
        .or_else(|| crate::span::nearest(name, &FUNCTION_NAMES));
    let d = match suggestion {
        Some("^T") => d.label(span, "write `X^T` for the transpose"),
        Some(f) => d.label(span, format!("did you mean `{f}`?")),
        None => d.label(span, "not a function"),
    };
    d.help(format!(
        "the functions are {}; `exp`, `log` and the like apply elementwise (`exp(A)` is not the matrix exponential)",
        FUNCTION_NAMES.join(", ")
    ))
}

/// Refuses an input whose constants, folded, would grow past
/// [`MAX_NUMBER_BITS`] (a power tower of small literals such as
/// `33^33^4^44^42`).
pub(super) fn check_number_sizes(ast: &Ast, src: &str) -> Result<(), Diagnostic> {
    number_bits(ast).map_err(|span| {
        Diagnostic::new(
            format!(
                "the numbers here grow too large: folded, they could take more than {} decimal digits",
                MAX_NUMBER_BITS * 3 / 10
            ),
            src,
        )
        .label(span, "too large a number")
        .help("powers of constants multiply their sizes; write a smaller exponent or keep the constant symbolic (a scalar name)")
    })?;
    Ok(())
}

/// An upper bound on the size in bits of the exact numbers the expression
/// can produce when its constants are folded and its products expanded:
/// literals count their bits, products and powers multiply (add and scale
/// sizes), sums add one bit. `Err` is the span of the smallest part whose
/// bound passes [`MAX_NUMBER_BITS`].
fn number_bits(ast: &Ast) -> Result<u64, Span> {
    crate::stack::grow(|| {
        let bits = match &ast.kind {
            AstKind::Number(c) => c.numer().bits() + c.denom().bits(),
            AstKind::Ident(_) => 0,
            AstKind::Call { args, .. } => {
                let mut total = 0u64;
                for a in args {
                    total = total.saturating_add(number_bits(a)?);
                }
                total
            }
            AstKind::Neg(x) | AstKind::Group(x) => number_bits(x)?,
            AstKind::Binary { op, lhs, rhs, .. } => {
                let (a, b) = (number_bits(lhs)?, number_bits(rhs)?);
                match op {
                    BinOp::Add | BinOp::Sub => a.max(b).saturating_add(1),
                    _ => a.saturating_add(b),
                }
            }
            AstKind::Postfix { op, arg, .. } => {
                let a = number_bits(arg)?;
                match op {
                    PostOp::Power(k) | PostOp::ElemPower(k) => {
                        let n = const_value(k).map_or(1, |k| {
                            u64::try_from(k.numer().abs()).unwrap_or(u64::MAX).max(1)
                        });
                        a.saturating_mul(n)
                    }
                    _ => a,
                }
            }
        };
        if bits > MAX_NUMBER_BITS {
            Err(ast.span)
        } else {
            Ok(bits)
        }
    })
}
