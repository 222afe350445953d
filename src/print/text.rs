//! The text printer: precedence-aware, and what it prints parses back to the
//! same `Expr` (a tested property).
//!
//! Precedence levels, loosest first: sums (1); the product level —
//! products, `/`, `.*`, `./`, `⊗` — (2); unary minus (3); powers (4);
//! postfix transposes and inverses (5); atoms (6). An operand is
//! parenthesised when its level is below what its position needs. Products
//! print as coefficient, scalar numerators, the matrix chain, then
//! `/ denominators`; a 1×1 product used as a factor is parenthesised,
//! `(x^T x) A`, so the reader sees the scalar.

use crate::expr::{Expr, Kind};
use num_rational::BigRational;
use num_traits::{One, Signed};

const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const UNARY: u8 = 3;
const POWER: u8 = 4;
const POSTFIX: u8 = 5;
const ATOM: u8 = 6;

/// Prints an expression as parseable text.
pub fn to_text(e: &Expr) -> String {
    print(e).0
}

/// The text and its precedence level.
fn print(e: &Expr) -> (String, u8) {
    match e.kind() {
        Kind::Const(c) => print_const(c),
        Kind::Var(v) => (v.to_string(), ATOM),
        Kind::Identity => ("I".to_string(), ATOM),
        Kind::Ones => ("ones".to_string(), ATOM),
        Kind::Commutation(..) => ("K".to_string(), ATOM),
        Kind::Unit(idx) => {
            let name = if e.shape().is_vector() {
                format!("e_{idx}")
            } else {
                format!("E_{idx}")
            };
            (name, ATOM)
        }
        // A broadcast scalar whose matrix terms vanished: `s ones`.
        Kind::Sum(terms)
            if !e.is_scalar() && terms.iter().all(|t| t.is_scalar() || t.is_zero()) =>
        {
            let s = Expr::sum(terms.iter().filter(|t| t.is_scalar()).cloned());
            print(&Expr::mul(&s, &Expr::ones(e.shape().clone())))
        }
        Kind::Sum(terms) => (join_signed(terms.iter().map(signed_term)), SUM),
        Kind::Product(_) => {
            let (neg, body, level) = product_body(e);
            if neg {
                (format!("-{body}"), level.min(UNARY))
            } else {
                (body, level)
            }
        }
        Kind::Transpose(a) => match a.kind() {
            Kind::Inverse(b) => (format!("{}^-T", operand(b, ATOM)), POSTFIX),
            _ => (format!("{}^T", operand(a, ATOM)), POSTFIX),
        },
        Kind::Inverse(a) => (format!("{}^-1", operand(a, ATOM)), POSTFIX),
        // The Cookbook's (X^2)^T and (X^-2)^T rather than (X^T)^2, (X^-T)^2
        Kind::Power(a, k) if !e.is_scalar() && k.is_integer() => match a.kind() {
            Kind::Transpose(v) if matches!(v.kind(), Kind::Var(_)) => {
                (format!("({}^{})^T", operand(v, ATOM), exponent(k)), POSTFIX)
            }
            Kind::Transpose(i) if matches!(i.kind(), Kind::Inverse(v) if matches!(v.kind(), Kind::Var(_))) =>
            {
                let Kind::Inverse(v) = i.kind() else {
                    unreachable!("matched above")
                };
                (
                    format!("({}^{})^T", operand(v, ATOM), exponent(&-k)),
                    POSTFIX,
                )
            }
            Kind::Inverse(v) if matches!(v.kind(), Kind::Var(_)) => {
                (format!("{}^{}", operand(v, ATOM), exponent(&-k)), POWER)
            }
            _ => (format!("{}^{}", operand(a, ATOM), exponent(k)), POWER),
        },
        Kind::Power(a, k) => (format!("{}^{}", operand(a, ATOM), exponent(k)), POWER),
        Kind::HadamardPow(a, k) => (format!("{}.^{}", operand(a, ATOM), exponent(k)), POWER),
        Kind::Hadamard(a, b) => (infix(a, ".*", b), PRODUCT),
        Kind::HadamardDiv(a, b) => (infix(a, "./", b), PRODUCT),
        Kind::Kron(a, b) => (infix(a, "⊗", b), PRODUCT),
        Kind::Apply(f, a) => (format!("{}({})", f.name(), print(a).0), ATOM),
    }
}

/// The operand's text, parenthesised if its level is below `need`.
fn operand(e: &Expr, need: u8) -> String {
    let (s, level) = print(e);
    if level < need { format!("({s})") } else { s }
}

fn infix(a: &Expr, op: &str, b: &Expr) -> String {
    format!("{} {op} {}", operand(a, UNARY), operand(b, UNARY))
}

fn print_const(c: &BigRational) -> (String, u8) {
    if c.is_integer() {
        let level = if c.is_negative() { UNARY } else { ATOM };
        (c.to_integer().to_string(), level)
    } else {
        (format!("{}/{}", c.numer(), c.denom()), PRODUCT)
    }
}

fn exponent(k: &BigRational) -> String {
    if k.is_integer() {
        k.to_integer().to_string()
    } else {
        format!("({}/{})", k.numer(), k.denom())
    }
}

/// A sum term as (is negative, text of its absolute value).
fn signed_term(t: &Expr) -> (bool, String) {
    match t.kind() {
        Kind::Product(_) => {
            let (neg, body, _) = product_body(t);
            (neg, body)
        }
        Kind::Const(c) if c.is_negative() => (true, print_const(&-c).0),
        _ => (false, operand(t, PRODUCT)),
    }
}

/// A product as (is negative, text without the sign, level).
fn product_body(e: &Expr) -> (bool, String, u8) {
    let (coeff, scalars, chain) = e.split_product();
    let neg = coeff.is_negative();
    let c = coeff.abs();
    let mut parts: Vec<String> = magnitude(&coeff).into_iter().collect();
    let mut dens: Vec<String> = Vec::new();
    let numerators = scalars.iter().filter(|f| !f.is_denominator()).count();
    let many = numerators + chain.len() > 1 || !c.is_one();
    for f in &scalars {
        if let Kind::Power(base, k) = f.kind()
            && k.is_negative()
        {
            let k = -k;
            dens.push(if k.is_one() {
                operand(base, POWER)
            } else {
                format!("{}^{}", operand(base, ATOM), exponent(&k))
            });
            continue;
        }
        parts.push(factor(f, many));
    }
    for f in &chain {
        parts.push(factor(f, many));
    }
    if parts.is_empty() {
        parts.push("1".to_string());
    }
    let mut body = parts.join(" ");
    for d in dens {
        body.push_str(" / ");
        body.push_str(&d);
    }
    // A bare product of one factor (e.g. `-A`) keeps the factor's level.
    let level = if parts_is_single(&coeff, &scalars, &chain) {
        print(chain.first().or(scalars.first()).expect("one factor"))
            .1
            .max(UNARY)
    } else {
        PRODUCT
    };
    (neg, body, level)
}

fn parts_is_single(coeff: &BigRational, scalars: &[Expr], chain: &[Expr]) -> bool {
    coeff.abs().is_one()
        && scalars.len() + chain.len() == 1
        && !scalars.iter().any(Expr::is_denominator)
}

/// A factor inside a product: sums, product-level operators and nested 1×1
/// products get parentheses.
fn factor(f: &Expr, among_others: bool) -> String {
    let (s, level) = print(f);
    let is_product = matches!(f.kind(), Kind::Product(_));
    // A lone product before `/ s` needs no parentheses: `/` is left
    // associative, so `x^T A dx / s` reads as `(x^T A dx) / s`.
    let lone_product = is_product && !among_others;
    if (level <= PRODUCT && !lone_product)
        || (is_product && among_others)
        || (level == UNARY && among_others)
    {
        format!("({s})")
    } else {
        s
    }
}

/// Sum terms given as (is negative, text of the absolute value), joined
/// with their signs: `a - b + c`.
pub(crate) fn join_signed(terms: impl IntoIterator<Item = (bool, String)>) -> String {
    let mut out = String::new();
    for (i, (neg, body)) in terms.into_iter().enumerate() {
        match (i, neg) {
            (0, false) => {}
            (0, true) => out.push('-'),
            (_, false) => out.push_str(" + "),
            (_, true) => out.push_str(" - "),
        }
        out.push_str(&body);
    }
    out
}

/// The absolute value of a coefficient as a product's leading factor
/// (`2`, `(1/2)`), or `None` when it is 1.
pub(crate) fn magnitude(c: &BigRational) -> Option<String> {
    let c = c.abs();
    if c.is_one() {
        None
    } else if c.is_integer() {
        Some(c.to_integer().to_string())
    } else {
        Some(format!("({}/{})", c.numer(), c.denom()))
    }
}
