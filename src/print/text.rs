//! The infix printers: one precedence-aware walk shared by the text and
//! LaTeX notations. What the text notation prints parses back to the same
//! `Expr` (a tested property); the LaTeX notation renders in KaTeX (also
//! tested).
//!
//! Precedence levels, loosest first: sums (1); the product level —
//! products, `/`, `.*`, `./`, `⊗` — (2); unary minus (3); powers (4);
//! postfix transposes and inverses (5); atoms (6). An operand is
//! parenthesised when its level is below what its position needs. Products
//! print as coefficient, scalar numerators, the matrix chain, then
//! `/ denominators`; a 1×1 product used as a factor is parenthesised,
//! `(x^T A x) B`, so the reader sees the scalar.
//!
//! A [`Notation`] says how each piece is spelled; the walk decides where
//! the parentheses go, so the two notations never disagree on structure.

use crate::expr::{Expr, Func, Kind};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed};
use std::collections::HashMap;

const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const UNARY: u8 = 3;
const POWER: u8 = 4;
const POSTFIX: u8 = 5;
const ATOM: u8 = 6;

/// How a notation spells the pieces of an expression.
pub(crate) trait Notation {
    /// A variable's name.
    fn var(&self, name: &str) -> String;
    /// The identity, the all-ones matrix and the commutation matrix.
    fn leaf(&self, kind: &Kind) -> String;
    /// A unit matrix `E_ij` (or vector `e_i`) with these indices.
    fn unit(&self, indices: &str, vector: bool) -> String;
    /// A non-integer rational, and its precedence level.
    fn fraction(&self, numer: &BigInt, denom: &BigInt) -> (String, u8);
    /// An exponent as written after `^` (the base is already an atom).
    fn exponent(&self, k: &BigRational) -> String;
    /// `base^T`, `base^-T` (`inverse`), `base^-1`.
    fn postfix(&self, base: &str, transpose: bool, inverse: bool) -> String;
    /// `base.^k`.
    fn hadamard_power(&self, base: &str, k: &BigRational) -> String;
    /// The all-ones column (or with `row` its transpose) of the length
    /// `size`, spelled with it: where nothing else fixes the length.
    fn sized_ones(&self, size: &str, row: bool) -> String {
        let _ = size;
        let ones = self.leaf(&Kind::Ones);
        if row {
            self.postfix(&ones, true, false)
        } else {
            ones
        }
    }
    /// A leaf of ones of this shape, and its level: `ones`, or `ones^T`
    /// for a row (a bare `ones` would read back as a column, or as 1).
    fn ones(&self, shape: &crate::shape::Shape) -> (String, u8) {
        let ones = self.leaf(&Kind::Ones);
        if shape.rows.is_one() && !shape.cols.is_one() {
            (self.postfix(&ones, true, false), POSTFIX)
        } else {
            (ones, ATOM)
        }
    }
    /// `base^exponent` for an exponent that is an expression (`name`: it
    /// is a variable's name, which needs no brackets), entry by entry
    /// when `elementwise`.
    fn general_power(&self, base: &str, exponent: &str, name: bool, elementwise: bool) -> String;
    /// The infix operator of a Hadamard product, quotient or Kronecker
    /// product.
    fn operator(&self, kind: &Kind) -> &'static str;
    /// A function applied to its (unparenthesised) argument.
    fn apply(&self, f: Func, arg: &str) -> String;
    /// Parentheses.
    fn paren(&self, s: &str) -> String;
    /// A product's numerator over its scalar denominators, and the level.
    fn divide(&self, numerator: &str, denominators: &[String]) -> (String, u8);
    /// The level a denominator must reach to go without parentheses.
    fn denominator_level(&self) -> u8 {
        POWER
    }
    /// Factors of a product, side by side.
    fn join(&self, parts: &[String]) -> String {
        parts.join(" ")
    }
    /// What comes between a result and the bindings of its named pieces.
    fn where_word(&self) -> &'static str {
        " where "
    }
    /// What comes between two bindings.
    fn binding_separator(&self) -> &'static str {
        ", "
    }
}

/// Parseable text: `A X^T`, `tr(A)`, `B .* C`, `A ⊗ B`.
pub(crate) struct Text;

impl Notation for Text {
    fn var(&self, name: &str) -> String {
        name.to_string()
    }
    fn leaf(&self, kind: &Kind) -> String {
        match kind {
            Kind::Identity => "I".to_string(),
            Kind::Ones => "ones".to_string(),
            // Spelled with its sizes, which the readers read back, and
            // with a built-in's name, which no input uses for anything
            // else (a bare `K` would be the user's `K`).
            Kind::Commutation(p, q) => format!("commutation({}, {})", size_text(p), size_text(q)),
            _ => "K".to_string(),
        }
    }
    fn unit(&self, indices: &str, vector: bool) -> String {
        format!("{}_{indices}", if vector { 'e' } else { 'E' })
    }
    fn fraction(&self, numer: &BigInt, denom: &BigInt) -> (String, u8) {
        (format!("{numer}/{denom}"), PRODUCT)
    }
    fn exponent(&self, k: &BigRational) -> String {
        if k.is_integer() {
            k.to_integer().to_string()
        } else {
            format!("({}/{})", k.numer(), k.denom())
        }
    }
    fn postfix(&self, base: &str, transpose: bool, inverse: bool) -> String {
        match (transpose, inverse) {
            (true, true) => format!("{base}^-T"),
            (true, false) => format!("{base}^T"),
            _ => format!("{base}^-1"),
        }
    }
    fn hadamard_power(&self, base: &str, k: &BigRational) -> String {
        format!("{base}.^{}", self.exponent(k))
    }
    fn sized_ones(&self, size: &str, row: bool) -> String {
        if row {
            format!("ones({size})^T")
        } else {
            format!("ones({size})")
        }
    }
    fn general_power(&self, base: &str, exponent: &str, name: bool, elementwise: bool) -> String {
        let op = if elementwise { ".^" } else { "^" };
        if name {
            format!("{base}{op}{exponent}")
        } else {
            format!("{base}{op}({exponent})")
        }
    }
    fn operator(&self, kind: &Kind) -> &'static str {
        match kind {
            Kind::Hadamard(..) => ".*",
            Kind::HadamardDiv(..) => "./",
            _ => "⊗",
        }
    }
    fn apply(&self, f: Func, arg: &str) -> String {
        format!("{}({arg})", f.name())
    }
    fn paren(&self, s: &str) -> String {
        format!("({s})")
    }
    fn divide(&self, numerator: &str, denominators: &[String]) -> (String, u8) {
        let mut body = numerator.to_string();
        for d in denominators {
            body.push_str(" / ");
            body.push_str(d);
        }
        (body, PRODUCT)
    }
}

/// A notation with some variable names spelled in advance (a
/// derivation's pending differentials, `d(A X)`, whose variables have
/// opaque names), every other piece as `inner` spells it.
pub(crate) struct Spelled<'a> {
    /// The notation for everything else.
    pub(crate) inner: &'a dyn Notation,
    /// Variable names, and how each is printed instead.
    pub(crate) names: &'a HashMap<String, String>,
}

impl Spelled<'_> {
    /// The expression in this notation.
    pub(crate) fn show(&self, e: &Expr) -> String {
        Printer { n: self }.show(e)
    }
}

impl Notation for Spelled<'_> {
    fn var(&self, name: &str) -> String {
        match self.names.get(name) {
            Some(s) => s.clone(),
            None => self.inner.var(name),
        }
    }
    fn leaf(&self, kind: &Kind) -> String {
        self.inner.leaf(kind)
    }
    fn unit(&self, indices: &str, vector: bool) -> String {
        self.inner.unit(indices, vector)
    }
    fn fraction(&self, numer: &BigInt, denom: &BigInt) -> (String, u8) {
        self.inner.fraction(numer, denom)
    }
    fn exponent(&self, k: &BigRational) -> String {
        self.inner.exponent(k)
    }
    fn postfix(&self, base: &str, transpose: bool, inverse: bool) -> String {
        self.inner.postfix(base, transpose, inverse)
    }
    fn hadamard_power(&self, base: &str, k: &BigRational) -> String {
        self.inner.hadamard_power(base, k)
    }
    fn sized_ones(&self, size: &str, row: bool) -> String {
        self.inner.sized_ones(size, row)
    }
    fn ones(&self, shape: &crate::shape::Shape) -> (String, u8) {
        self.inner.ones(shape)
    }
    fn general_power(&self, base: &str, exponent: &str, name: bool, elementwise: bool) -> String {
        // a renamed variable (a pending differential `d(A X)`) may need brackets
        let name = name && exponent.chars().all(|c| c.is_alphanumeric() || c == '_');
        self.inner.general_power(base, exponent, name, elementwise)
    }
    fn operator(&self, kind: &Kind) -> &'static str {
        self.inner.operator(kind)
    }
    fn apply(&self, f: Func, arg: &str) -> String {
        self.inner.apply(f, arg)
    }
    fn paren(&self, s: &str) -> String {
        self.inner.paren(s)
    }
    fn divide(&self, numerator: &str, denominators: &[String]) -> (String, u8) {
        self.inner.divide(numerator, denominators)
    }
    fn denominator_level(&self) -> u8 {
        self.inner.denominator_level()
    }
    fn join(&self, parts: &[String]) -> String {
        self.inner.join(parts)
    }
    fn where_word(&self) -> &'static str {
        self.inner.where_word()
    }
    fn binding_separator(&self) -> &'static str {
        self.inner.binding_separator()
    }
}

/// Prints an expression as parseable text.
pub fn to_text(e: &Expr) -> String {
    Printer { n: &Text }.print(e).0
}

/// The text notation with some leaves of ones spelled with their sizes
/// (`ones(n)`, `ones(n)^T`, `ones(m) ones(n)^T`): the leaves are numbered
/// in the order the walk meets them, which is the same on every walk of
/// one expression. With `mark`, every bare `ones` is followed by a
/// marker holding its number, so that the caller can tell which `ones`
/// of the text is which leaf (see [`marked_ones`]).
struct SizedOnes<'a> {
    /// The leaves to size, with whether their rows and their columns
    /// need it (a matrix spells only those).
    sized: &'a std::collections::BTreeMap<usize, (bool, bool)>,
    mark: bool,
    next: std::cell::Cell<usize>,
    shapes: std::cell::RefCell<Vec<crate::shape::Shape>>,
}

/// Opens and closes a marker in [`marked_ones`]'s text.
const MARK: (char, char) = ('\u{1}', '\u{2}');

impl SizedOnes<'_> {
    fn spell(&self, shape: &crate::shape::Shape) -> (String, u8) {
        let i = self.next.get();
        self.next.set(i + 1);
        self.shapes.borrow_mut().push(shape.clone());
        if let Some(&(free_rows, free_cols)) = self.sized.get(&i) {
            let (rows, cols) = (&shape.rows, &shape.cols);
            let column = |free: bool| {
                if free {
                    Text.sized_ones(&size_text(rows), false)
                } else {
                    "ones".to_string()
                }
            };
            let row = |free: bool| {
                if free {
                    Text.sized_ones(&size_text(cols), true)
                } else {
                    "ones^T".to_string()
                }
            };
            return match (rows.is_one(), cols.is_one()) {
                (_, true) => (column(true), ATOM),
                (true, false) => (row(true), POSTFIX),
                // only the free sizes are spelled: `A^T ones ones(q)^T`
                (false, false) => (format!("{} {}", column(free_rows), row(free_cols)), PRODUCT),
            };
        }
        let (text, level) = Text.ones(shape);
        if self.mark {
            let marked = format!("ones{}{i}{}", MARK.0, MARK.1);
            return (text.replacen("ones", &marked, 1), level);
        }
        (text, level)
    }
}

/// Parseable text in which the leaves of ones numbered in `sized` (as
/// [`marked_ones`] numbers them) are spelled with their sizes.
pub fn to_text_sizing_ones(
    e: &Expr,
    sized: &std::collections::BTreeMap<usize, (bool, bool)>,
) -> String {
    let n = SizedOnes {
        sized,
        mark: false,
        next: std::cell::Cell::new(0),
        shapes: std::cell::RefCell::new(Vec::new()),
    };
    Printer {
        n: &OnesNotation(&n),
    }
    .show(e)
}

/// The text of `e`, and for each bare `ones` in it, in the order of the
/// text: its leaf's number and shape (a row's is the row's shape).
pub fn marked_ones(e: &Expr) -> (String, Vec<(usize, crate::shape::Shape)>) {
    let none = std::collections::BTreeMap::new();
    let n = SizedOnes {
        sized: &none,
        mark: true,
        next: std::cell::Cell::new(0),
        shapes: std::cell::RefCell::new(Vec::new()),
    };
    let marked = Printer {
        n: &OnesNotation(&n),
    }
    .show(e);
    let shapes = n.shapes.into_inner();
    let mut text = String::with_capacity(marked.len());
    let mut found = Vec::new();
    let mut rest = marked.as_str();
    while let Some(open) = rest.find(MARK.0) {
        text.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find(MARK.1).expect("every marker is closed");
        let i: usize = after[..close].parse().expect("a marker holds a number");
        found.push((i, shapes[i].clone()));
        rest = &after[close + 1..];
    }
    text.push_str(rest);
    (text, found)
}

/// [`Text`] with the leaves of ones as a [`SizedOnes`] spells them.
struct OnesNotation<'a>(&'a SizedOnes<'a>);

impl Notation for OnesNotation<'_> {
    fn var(&self, name: &str) -> String {
        Text.var(name)
    }
    fn leaf(&self, kind: &Kind) -> String {
        Text.leaf(kind)
    }
    fn unit(&self, indices: &str, vector: bool) -> String {
        Text.unit(indices, vector)
    }
    fn fraction(&self, numer: &BigInt, denom: &BigInt) -> (String, u8) {
        Text.fraction(numer, denom)
    }
    fn exponent(&self, k: &BigRational) -> String {
        Text.exponent(k)
    }
    fn postfix(&self, base: &str, transpose: bool, inverse: bool) -> String {
        Text.postfix(base, transpose, inverse)
    }
    fn hadamard_power(&self, base: &str, k: &BigRational) -> String {
        Text.hadamard_power(base, k)
    }
    fn sized_ones(&self, size: &str, row: bool) -> String {
        Text.sized_ones(size, row)
    }
    fn ones(&self, shape: &crate::shape::Shape) -> (String, u8) {
        self.0.spell(shape)
    }
    fn general_power(&self, base: &str, exponent: &str, name: bool, elementwise: bool) -> String {
        Text.general_power(base, exponent, name, elementwise)
    }
    fn operator(&self, kind: &Kind) -> &'static str {
        Text.operator(kind)
    }
    fn apply(&self, f: Func, arg: &str) -> String {
        Text.apply(f, arg)
    }
    fn paren(&self, s: &str) -> String {
        Text.paren(s)
    }
    fn divide(&self, numerator: &str, denominators: &[String]) -> (String, u8) {
        Text.divide(numerator, denominators)
    }
}

/// The precedence-aware walk, in a given notation.
pub(crate) struct Printer<'a> {
    /// The notation.
    pub(crate) n: &'a dyn Notation,
}

impl Printer<'_> {
    /// The expression's text.
    pub(crate) fn show(&self, e: &Expr) -> String {
        self.print(e).0
    }

    /// The text and its precedence level.
    fn print(&self, e: &Expr) -> (String, u8) {
        crate::stack::grow(|| {
            let n = self.n;
            match e.kind() {
                Kind::Const(c) => self.constant(c),
                Kind::Var(v) => (n.var(v), ATOM),
                Kind::Ones => n.ones(e.shape()),
                Kind::Identity | Kind::Commutation(..) => (n.leaf(e.kind()), ATOM),
                Kind::Unit(idx) => (n.unit(idx, e.shape().is_vector()), ATOM),
                // A broadcast scalar whose matrix terms vanished: `s ones`.
                Kind::Sum(terms)
                    if !e.is_scalar() && terms.iter().all(|t| t.is_scalar() || t.is_zero()) =>
                {
                    let s = Expr::sum(terms.iter().filter(|t| t.is_scalar()).cloned());
                    self.print(&Expr::mul(&s, &Expr::ones(e.shape().clone())))
                }
                Kind::Sum(terms) => (
                    join_signed(
                        terms
                            .iter()
                            .enumerate()
                            .map(|(i, t)| self.signed_term(t, i > 0)),
                    ),
                    SUM,
                ),
                // `ones^T ones` of a length nothing else fixes (the
                // length n of `x` in a gradient) would read back as 1:
                // `ones(n)^T ones(n)` keeps it
                Kind::Product(fs)
                    if e.is_scalar() && fs.iter().all(|f| matches!(f.kind(), Kind::Ones)) =>
                {
                    let parts: Vec<String> = fs
                        .iter()
                        .map(|f| {
                            let row = f.shape().rows.is_one();
                            let len = if row {
                                &f.shape().cols
                            } else {
                                &f.shape().rows
                            };
                            n.sized_ones(&size_text(len), row)
                        })
                        .collect();
                    (n.join(&parts), PRODUCT)
                }
                Kind::Product(_) => {
                    let (neg, body, level) = self.product_body(e);
                    if neg {
                        (format!("-{body}"), level.min(UNARY))
                    } else {
                        (body, level)
                    }
                }
                Kind::Transpose(a) => match a.kind() {
                    Kind::Inverse(b) => (n.postfix(&self.operand(b, ATOM), true, true), POSTFIX),
                    _ => (n.postfix(&self.operand(a, ATOM), true, false), POSTFIX),
                },
                // (f(Y)^T)^-1 is f(Y)^-T, as for a variable (where the
                // transpose sits outside); other bases keep their reading
                Kind::Inverse(a) => match a.kind() {
                    Kind::Transpose(b) if matches!(b.kind(), Kind::Apply(..)) => {
                        (n.postfix(&self.operand(b, ATOM), true, true), POSTFIX)
                    }
                    _ => (n.postfix(&self.operand(a, ATOM), false, true), POSTFIX),
                },
                // The Cookbook's (X^2)^T and (X^-2)^T rather than (X^T)^2, (X^-T)^2
                Kind::Power(a, k) if !e.is_scalar() && k.is_integer() => match a.kind() {
                    Kind::Transpose(v) if matches!(v.kind(), Kind::Var(_)) => {
                        let inner = self.power(&self.operand(v, ATOM), k);
                        (n.postfix(&n.paren(&inner), true, false), POSTFIX)
                    }
                    Kind::Transpose(i) if matches!(i.kind(), Kind::Inverse(v) if matches!(v.kind(), Kind::Var(_))) =>
                    {
                        let Kind::Inverse(v) = i.kind() else {
                            unreachable!("matched above")
                        };
                        let inner = self.power(&self.operand(v, ATOM), &-k);
                        (n.postfix(&n.paren(&inner), true, false), POSTFIX)
                    }
                    Kind::Inverse(v) if matches!(v.kind(), Kind::Var(_)) => {
                        (self.power(&self.operand(v, ATOM), &-k), POWER)
                    }
                    _ => (self.power(&self.operand(a, ATOM), k), POWER),
                },
                Kind::Power(a, k) => (self.power(&self.operand(a, ATOM), k), POWER),
                Kind::HadamardPow(a, k) => (n.hadamard_power(&self.operand(a, ATOM), k), POWER),
                Kind::Hadamard(a, b) | Kind::HadamardDiv(a, b) | Kind::Kron(a, b) => (
                    format!(
                        "{} {} {}",
                        self.operand(a, UNARY),
                        n.operator(e.kind()),
                        self.operand(b, UNARY)
                    ),
                    PRODUCT,
                ),
                Kind::Apply(f, a) => (n.apply(*f, &self.print(a).0), ATOM),
                Kind::Pow(a, b) => (
                    n.general_power(
                        &self.operand(a, ATOM),
                        &self.print(b).0,
                        matches!(b.kind(), Kind::Var(_)),
                        !e.is_scalar(),
                    ),
                    POWER,
                ),
            }
        })
    }

    fn power(&self, base: &str, k: &BigRational) -> String {
        format!("{base}^{}", self.n.exponent(k))
    }

    /// The operand's text, parenthesised if its level is below `need`.
    fn operand(&self, e: &Expr, need: u8) -> String {
        let (s, level) = self.print(e);
        if level < need { self.n.paren(&s) } else { s }
    }

    fn constant(&self, c: &BigRational) -> (String, u8) {
        if c.is_integer() {
            let level = if c.is_negative() { UNARY } else { ATOM };
            (c.to_integer().to_string(), level)
        } else if c.is_negative() {
            let (s, level) = self.n.fraction(&-c.numer(), c.denom());
            (format!("-{s}"), level.min(UNARY))
        } else {
            self.n.fraction(c.numer(), c.denom())
        }
    }

    /// The absolute value of a coefficient as a product's leading factor
    /// (`2`, `(1/2)`), or `None` when it is 1.
    fn magnitude(&self, c: &BigRational) -> Option<String> {
        let c = c.abs();
        if c.is_one() {
            None
        } else if c.is_integer() {
            Some(c.to_integer().to_string())
        } else {
            let (s, level) = self.n.fraction(c.numer(), c.denom());
            Some(if level < ATOM { self.n.paren(&s) } else { s })
        }
    }

    /// A sum term as (is negative, text of its absolute value).
    fn signed_term(&self, t: &Expr, later: bool) -> (bool, String) {
        match t.kind() {
            // `a - B .* C`: a later term's sign binds looser than the
            // product level, so a lone negated factor needs no parentheses
            // (a leading `-` is unary minus, which binds tighter)
            Kind::Product(fs)
                if later
                    && fs.len() == 2
                    && fs[0].as_const().is_some_and(|c| *c == -BigRational::one())
                    && matches!(
                        fs[1].kind(),
                        Kind::Hadamard(..) | Kind::HadamardDiv(..) | Kind::Kron(..)
                    ) =>
            {
                (true, self.operand(&fs[1], PRODUCT))
            }
            Kind::Product(_) => {
                let (neg, body, _) = self.product_body(t);
                (neg, body)
            }
            Kind::Const(c) if c.is_negative() => (true, self.constant(&-c).0),
            _ => (false, self.operand(t, PRODUCT)),
        }
    }

    /// A product as (is negative, text without the sign, level).
    fn product_body(&self, e: &Expr) -> (bool, String, u8) {
        let (coeff, scalars, chain) = e.split_product();
        let neg = coeff.is_negative();
        let c = coeff.abs();
        let mut parts: Vec<String> = self.magnitude(&coeff).into_iter().collect();
        let mut dens: Vec<String> = Vec::new();
        let numerators = scalars.iter().filter(|f| !f.is_denominator()).count();
        let many = numerators + chain.len() > 1 || !c.is_one();
        for f in &scalars {
            if let Kind::Power(base, k) = f.kind()
                && k.is_negative()
            {
                let k = -k;
                dens.push(if k.is_one() {
                    self.operand(base, self.n.denominator_level())
                } else {
                    self.power(&self.operand(base, ATOM), &k)
                });
                continue;
            }
            parts.push(self.factor(f, many));
        }
        for f in &chain {
            parts.push(self.factor(f, many));
        }
        if parts.is_empty() {
            parts.push("1".to_string());
        }
        let body = self.n.join(&parts);
        // A bare product of one factor (e.g. `-A`) keeps the factor's level.
        let single = c.is_one() && scalars.len() + chain.len() == 1 && dens.is_empty();
        if !dens.is_empty() {
            let (body, level) = self.n.divide(&body, &dens);
            return (neg, body, level);
        }
        let level = if single {
            self.print(chain.first().or(scalars.first()).expect("one factor"))
                .1
                .max(UNARY)
        } else {
            PRODUCT
        };
        (neg, body, level)
    }

    /// A factor inside a product: sums, product-level operators and nested
    /// 1×1 products get parentheses.
    fn factor(&self, f: &Expr, among_others: bool) -> String {
        let (s, level) = self.print(f);
        // A matrix of ones spelled with its sizes, `ones(m) ones(n)^T`, is
        // a chain of matrices: among the factors of a product it needs no
        // parentheses (it reads back as those factors, and prints again
        // the same).
        if matches!(f.kind(), Kind::Ones) {
            return s;
        }
        let is_product = matches!(f.kind(), Kind::Product(_));
        // A lone product before `/ s` needs no parentheses: `/` is left
        // associative, so `x^T A dx / s` reads as `(x^T A dx) / s`.
        let lone_product = is_product && !among_others;
        if (level <= PRODUCT && !lone_product)
            || (is_product && among_others)
            || (level == UNARY && among_others)
        {
            self.n.paren(&s)
        } else {
            s
        }
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

/// The absolute value of a coefficient as a product's leading factor in
/// text (`2`, `(1/2)`), or `None` when it is 1.
pub(crate) fn magnitude(c: &BigRational) -> Option<String> {
    Printer { n: &Text }.magnitude(c)
}

/// A size as the readers read it back: `n`, `3`, `2 n m`.
fn size_text(d: &crate::shape::Dim) -> String {
    let mut parts: Vec<String> = Vec::new();
    if d.factor != 1 || d.names.is_empty() {
        parts.push(d.factor.to_string());
    }
    parts.extend(d.names.iter().map(|n| n.to_string()));
    parts.join(" ")
}
