//! The one evaluator: any expression at concrete values, generic over the
//! number type.
//!
//! [`evaluate`] has one arm per operator, written once for every
//! [`Number`]: f64 (`numeric/float.rs`, the fast path of the simplifier's
//! fingerprints and of `check`) and dual numbers over Q (`numeric/exact.rs`,
//! whose ε part is an exact directional derivative). The matrix type
//! [`Mat`] is generic too: products, Gauss–Jordan inverse, determinant by
//! elimination, powers by squaring, Kronecker products.
//!
//! Where the two number types differ, the trait says how, and nowhere
//! else:
//! - the pivot of an elimination ([`Number::pivot`], [`Number::negligible`]):
//!   the largest in magnitude for f64 (partial pivoting, with a relative
//!   threshold for "singular"), any non-zero one for exact numbers;
//! - what evaluation spends ([`Number::Work`]): nothing for f64, a work
//!   budget for exact numbers, passed in as a value and checked after
//!   each matrix product ([`Number::afford`]);
//! - transcendental functions (logarithms, norms, elementwise functions,
//!   real powers of scalars) are a capability ([`Number::transcendental`]):
//!   f64 computes them, exact numbers refuse with [`Fault::Inexact`].
//!
//! Monomorphisation makes the f64 instance as fast as a hand-written f64
//! evaluator, and the f64 operations run in the same order as before the
//! evaluators were merged, so every f64 result is bit for bit the same.

use crate::builtins::{ElemFn, Func};
use crate::expr::{Expr, Kind};
use crate::numeric::float::Bindings;
use num_rational::BigRational;
use num_traits::ToPrimitive;
use std::fmt;

/// Why an evaluation failed, for any number type. The f64 path reports
/// the message ([`crate::numeric::EvalError`]); the exact path the kind
/// ([`crate::numeric::exact::ExactError`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Missing values or mismatched shapes.
    Invalid(String),
    /// No value at this point: a singular matrix, a division by zero, a
    /// function outside its domain.
    Undefined(String),
    /// The number type cannot represent the value (a transcendental
    /// function of exact numbers).
    Inexact,
    /// The work budget is spent.
    TooCostly,
}

impl Fault {
    /// The message, in plain words.
    pub fn message(&self) -> String {
        match self {
            Fault::Invalid(m) | Fault::Undefined(m) => m.clone(),
            Fault::Inexact => "the value leaves the rational numbers".into(),
            Fault::TooCostly => "the exact evaluation is too costly".into(),
        }
    }
}

/// A number the evaluator computes with: a field (with what elimination
/// needs), plus an optional transcendental capability.
pub trait Number: Clone + fmt::Debug + Sized {
    /// What an evaluation spends and may run out of: `()` for f64, a
    /// work budget for exact numbers.
    type Work;
    /// What [`Number::negligible`] compares a pivot with, computed once
    /// per inverse by [`Number::scale`].
    type Scale;
    /// Whether [`Number::transcendental`] computes (f64) rather than
    /// refuses (exact numbers). A type that has it takes every real power
    /// of a scalar directly; one that has not multiplies out integer
    /// powers.
    const TRANSCENDENTAL: bool;

    /// 0.
    fn zero() -> Self;
    /// 1.
    fn one() -> Self;
    /// A rational constant.
    fn from_rational(q: &BigRational) -> Self;
    /// Whether it is zero (all of it: for a dual number, both parts).
    fn is_zero(&self) -> bool;
    /// Whether one may divide by it.
    fn invertible(&self) -> bool;
    /// `self + o`.
    fn add(&self, o: &Self) -> Self;
    /// `self − o`.
    fn sub(&self, o: &Self) -> Self;
    /// `−self`.
    fn neg(&self) -> Self;
    /// `self o`, charged to `work`.
    fn mul(&self, o: &Self, work: &mut Self::Work) -> Self;
    /// `self += a b`, charged to `work` (the inner step of a product).
    fn add_mul(&mut self, a: &Self, b: &Self, work: &mut Self::Work);
    /// `self / o`; an error when `o` is not [`Number::invertible`].
    fn div(&self, o: &Self) -> Result<Self, Fault>;
    /// The sum of some numbers, in order.
    fn total<'a>(items: impl Iterator<Item = &'a Self>) -> Self
    where
        Self: 'a;
    /// An error once `work` is over its budget.
    fn afford(work: &Self::Work) -> Result<(), Fault>;
    /// The pivot for column elimination among `(row, entry)` candidates:
    /// f64 takes the largest in magnitude, exact numbers the first
    /// invertible one; `None` when there is none (the column is zero).
    fn pivot<'a>(candidates: impl Iterator<Item = (usize, &'a Self)>) -> Option<usize>
    where
        Self: 'a;
    /// The scale against which an inverse's pivots are judged.
    fn scale(entries: &[Self]) -> Self::Scale;
    /// Whether a pivot is too small to divide by (f64: within rounding of
    /// zero, relative to the matrix; exact numbers: never).
    fn negligible(pivot: &Self, scale: &Self::Scale) -> bool;
    /// The determinant of a matrix with a zero pivot column: 0 for f64;
    /// an error for dual numbers, whose ε part would need the adjugate.
    fn singular_det() -> Result<Self, Fault>;
    /// The transcendental capability: `f` applied to the values as f64
    /// (f64 does it; exact numbers refuse with [`Fault::Inexact`]).
    fn transcendental(
        m: Mat<Self>,
        f: impl FnOnce(Mat<f64>) -> Result<Mat<f64>, Fault>,
    ) -> Result<Mat<Self>, Fault>;
}

/// A dense matrix, row-major, of any [`Number`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mat<N> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Entries, row by row.
    pub data: Vec<N>,
}

impl<N: Number> Mat<N> {
    /// The zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Mat<N> {
        Mat::filled(rows, cols, N::zero())
    }

    /// A matrix with every entry `x`.
    pub fn filled(rows: usize, cols: usize, x: N) -> Mat<N> {
        Mat {
            rows,
            cols,
            data: vec![x; rows * cols],
        }
    }

    /// The identity.
    pub fn identity(n: usize) -> Mat<N> {
        let mut m = Mat::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = N::one();
        }
        m
    }

    /// A 1×1 matrix.
    pub fn scalar(x: N) -> Mat<N> {
        Mat {
            rows: 1,
            cols: 1,
            data: vec![x],
        }
    }

    /// Entry (i, j), by reference.
    pub fn at(&self, i: usize, j: usize) -> &N {
        &self.data[i * self.cols + j]
    }

    /// Sets entry (i, j).
    pub fn set(&mut self, i: usize, j: usize, x: N) {
        self.data[i * self.cols + j] = x;
    }

    /// Whether it is 1×1.
    pub fn is_scalar(&self) -> bool {
        self.rows == 1 && self.cols == 1
    }

    /// The transpose.
    pub fn transpose(&self) -> Mat<N> {
        let mut t = Mat::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                t.set(j, i, self.at(i, j).clone());
            }
        }
        t
    }

    /// `f` of every entry.
    pub fn map_with(&self, f: impl FnMut(&N) -> N) -> Mat<N> {
        Mat {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(f).collect(),
        }
    }

    /// `f` of every entry, or its first error.
    pub fn try_map(&self, f: impl FnMut(&N) -> Result<N, Fault>) -> Result<Mat<N>, Fault> {
        Ok(Mat {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(f).collect::<Result<_, _>>()?,
        })
    }

    /// Entrywise combination, broadcasting a 1×1 side.
    pub fn zip_with(
        &self,
        other: &Mat<N>,
        mut f: impl FnMut(&N, &N) -> Result<N, Fault>,
    ) -> Result<Mat<N>, Fault> {
        if self.is_scalar() && !other.is_scalar() {
            let a = &self.data[0];
            return other.try_map(|b| f(a, b));
        }
        if other.is_scalar() {
            let b = &other.data[0];
            return self.try_map(|a| f(a, b));
        }
        if self.rows != other.rows || self.cols != other.cols {
            return Err(Fault::Invalid(format!(
                "shapes {}×{} and {}×{} do not match",
                self.rows, self.cols, other.rows, other.cols
            )));
        }
        Ok(Mat {
            rows: self.rows,
            cols: self.cols,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(a, b)| f(a, b))
                .collect::<Result<_, _>>()?,
        })
    }

    /// The product, or scalar multiplication when one side is 1×1.
    pub fn times(&self, other: &Mat<N>, work: &mut N::Work) -> Result<Mat<N>, Fault> {
        if self.is_scalar() || other.is_scalar() {
            return self.zip_with(other, |a, b| Ok(a.mul(b, work)));
        }
        if self.cols != other.rows {
            return Err(Fault::Invalid(format!(
                "cannot multiply {}×{} by {}×{}",
                self.rows, self.cols, other.rows, other.cols
            )));
        }
        let mut out = Mat::zeros(self.rows, other.cols);
        let n = other.cols;
        if n == 0 {
            return Ok(out);
        }
        for (row, out_row) in self
            .data
            .chunks_exact(self.cols.max(1))
            .zip(out.data.chunks_exact_mut(n))
        {
            for (a, b_row) in row.iter().zip(other.data.chunks_exact(n)) {
                if a.is_zero() {
                    continue;
                }
                for (o, b) in out_row.iter_mut().zip(b_row) {
                    o.add_mul(a, b, work);
                }
            }
        }
        N::afford(work)?;
        Ok(out)
    }

    /// The `n`th power of a square matrix (or a scalar), by repeated
    /// squaring: O(log n) products.
    pub fn pow(&self, n: u64, work: &mut N::Work) -> Result<Mat<N>, Fault> {
        let mut acc = Mat::identity(self.rows);
        let mut base = self.clone();
        let mut e = n;
        while e > 0 {
            if e & 1 == 1 {
                acc = acc.times(&base, work)?;
            }
            e >>= 1;
            if e > 0 {
                base = base.times(&base, work)?;
            }
        }
        Ok(acc)
    }

    /// The inverse, by Gauss–Jordan elimination with [`Number::pivot`].
    pub fn inverted(&self, work: &mut N::Work) -> Result<Mat<N>, Fault> {
        let n = self.square("an inverse")?;
        N::afford(work)?;
        let mut a = self.clone();
        let mut inv = Mat::<N>::identity(n);
        let scale = N::scale(&self.data);
        for col in 0..n {
            let pivot = N::pivot((col..n).map(|i| (i, a.at(i, col))))
                .filter(|&p| !N::negligible(a.at(p, col), &scale))
                .ok_or_else(|| {
                    Fault::Undefined("the matrix is singular (not invertible)".into())
                })?;
            a.swap_rows(col, pivot);
            inv.swap_rows(col, pivot);
            let p = a.at(col, col).clone();
            for j in 0..n {
                a.set(col, j, a.at(col, j).div(&p)?);
                inv.set(col, j, inv.at(col, j).div(&p)?);
            }
            for i in 0..n {
                if i == col {
                    continue;
                }
                let f = a.at(i, col).clone();
                if f.is_zero() {
                    continue;
                }
                for j in 0..n {
                    let x = a.at(i, j).sub(&f.mul(a.at(col, j), work));
                    a.set(i, j, x);
                    let y = inv.at(i, j).sub(&f.mul(inv.at(col, j), work));
                    inv.set(i, j, y);
                }
            }
        }
        Ok(inv)
    }

    /// The determinant, by elimination with [`Number::pivot`].
    pub fn determinant(&self, work: &mut N::Work) -> Result<N, Fault> {
        let n = self.square("a determinant")?;
        let mut a = self.clone();
        let mut det = N::one();
        for col in 0..n {
            let Some(pivot) = N::pivot((col..n).map(|i| (i, a.at(i, col)))) else {
                return N::singular_det();
            };
            if pivot != col {
                a.swap_rows(col, pivot);
                det = det.neg();
            }
            let p = a.at(col, col).clone();
            det = det.mul(&p, work);
            for i in col + 1..n {
                let f = a.at(i, col).div(&p)?;
                for j in col..n {
                    let x = a.at(i, j).sub(&f.mul(a.at(col, j), work));
                    a.set(i, j, x);
                }
            }
        }
        Ok(det)
    }

    /// The Kronecker product.
    pub fn kronecker(&self, other: &Mat<N>, work: &mut N::Work) -> Mat<N> {
        let (r, c) = (self.rows * other.rows, self.cols * other.cols);
        let mut out = Mat::zeros(r, c);
        for i in 0..self.rows {
            for j in 0..self.cols {
                for k in 0..other.rows {
                    for l in 0..other.cols {
                        out.set(
                            i * other.rows + k,
                            j * other.cols + l,
                            self.at(i, j).mul(other.at(k, l), work),
                        );
                    }
                }
            }
        }
        out
    }

    fn swap_rows(&mut self, a: usize, b: usize) {
        if a != b {
            for j in 0..self.cols {
                self.data.swap(a * self.cols + j, b * self.cols + j);
            }
        }
    }

    fn square(&self, what: &str) -> Result<usize, Fault> {
        if self.rows != self.cols {
            return Err(Fault::Invalid(format!(
                "{what} needs a square matrix, got {}×{}",
                self.rows, self.cols
            )));
        }
        Ok(self.rows)
    }
}

/// Where to evaluate: sizes and indices, and the value of each variable.
pub trait Point<N: Number> {
    /// Sizes of dimensions and values of indices (its variables' values
    /// may be ignored).
    fn bindings(&self) -> &Bindings;
    /// The value of a variable, if it has one.
    fn value(&self, name: &str) -> Option<Mat<N>>;
}

/// Evaluates `e` at `p` with numbers `N`, charging `work`. One arm per
/// operator, for every number type.
pub fn evaluate<N: Number>(
    e: &Expr,
    p: &impl Point<N>,
    work: &mut N::Work,
) -> Result<Mat<N>, Fault> {
    crate::stack::grow(|| {
        let b = p.bindings();
        let size = |d: &crate::shape::Dim| b.size(d).map_err(|e| Fault::Invalid(e.message));
        let shape = |e: &Expr| Ok::<_, Fault>((size(&e.shape().rows)?, size(&e.shape().cols)?));
        Ok(match e.kind() {
            Kind::Const(c) => {
                if e.is_scalar() {
                    Mat::scalar(N::from_rational(c))
                } else {
                    let (r, c) = shape(e)?;
                    Mat::zeros(r, c)
                }
            }
            Kind::Var(v) => {
                let m = p
                    .value(v)
                    .ok_or_else(|| Fault::Invalid(format!("no value given for `{v}`")))?;
                let (r, c) = b.shape(e.shape()).unwrap_or((m.rows, m.cols));
                if (m.rows, m.cols) != (r, c) {
                    return Err(Fault::Invalid(format!(
                        "`{v}` is {}×{} but its shape {} needs {r}×{c}",
                        m.rows,
                        m.cols,
                        e.shape()
                    )));
                }
                m
            }
            Kind::Identity => Mat::identity(size(&e.shape().rows)?),
            Kind::Ones => {
                let (r, c) = shape(e)?;
                Mat::filled(r, c, N::one())
            }
            Kind::Commutation(p, q) => {
                let (p, q) = (size(p)?, size(q)?);
                let mut m = Mat::zeros(p * q, p * q);
                for (row, col) in commutation_entries(p, q) {
                    m.set(row, col, N::one());
                }
                m
            }
            Kind::Unit(idx) => {
                let (r, c) = shape(e)?;
                let mut chars = idx.chars();
                let i = index(b, chars.next())?;
                let j = if c == 1 { 0 } else { index(b, chars.next())? };
                if i >= r || j >= c {
                    return Err(Fault::Invalid(format!(
                        "index ({i}, {j}) is outside {r}×{c}"
                    )));
                }
                let mut m = Mat::zeros(r, c);
                m.set(i, j, N::one());
                m
            }
            Kind::Sum(terms) => {
                let mut acc = evaluate(&terms[0], p, work)?;
                for t in &terms[1..] {
                    acc = acc.zip_with(&evaluate(t, p, work)?, |x, y| Ok(x.add(y)))?;
                }
                if acc.is_scalar() && !e.is_scalar() {
                    // a broadcast scalar whose matrix terms vanished
                    let (r, c) = shape(e)?;
                    acc = Mat::zeros(r, c).zip_with(&acc, |x, y| Ok(x.add(y)))?;
                }
                acc
            }
            Kind::Product(fs) => {
                // a run of equal factors (square, as they multiply) is a power
                let mut acc: Option<Mat<N>> = None;
                let mut i = 0;
                while i < fs.len() {
                    let run = fs[i..].iter().take_while(|f| **f == fs[i]).count();
                    let m = evaluate(&fs[i], p, work)?;
                    let m = if run > 1 { m.pow(run as u64, work)? } else { m };
                    acc = Some(match acc {
                        Some(a) => a.times(&m, work)?,
                        None => m,
                    });
                    i += run;
                }
                acc.expect("a product has factors")
            }
            Kind::Transpose(a) => evaluate(a, p, work)?.transpose(),
            Kind::Inverse(a) => evaluate(a, p, work)?.inverted(work)?,
            Kind::Power(a, k) => {
                let m = evaluate(a, p, work)?;
                if m.is_scalar() && (N::TRANSCENDENTAL || !k.is_integer()) {
                    let k = k.clone();
                    N::transcendental(m, move |m| {
                        let x = m.data[0];
                        let y = x.powf(k.to_f64().unwrap_or(f64::NAN));
                        if !y.is_finite() {
                            return Err(Fault::Undefined(format!("{x}^{k} is not a real number")));
                        }
                        Ok(Mat::scalar(y))
                    })?
                } else {
                    if !k.is_integer() {
                        return Err(Fault::Invalid(
                            "a matrix can only be raised to an integer power".into(),
                        ));
                    }
                    let n: i64 = k
                        .to_integer()
                        .try_into()
                        .map_err(|_| Fault::Invalid("exponent too large".into()))?;
                    let base = if n < 0 { m.inverted(work)? } else { m };
                    base.pow(n.unsigned_abs(), work)?
                }
            }
            Kind::Hadamard(x, y) => {
                evaluate(x, p, work)?.zip_with(&evaluate(y, p, work)?, |a, b| Ok(a.mul(b, work)))?
            }
            Kind::HadamardDiv(x, y) => {
                let d = evaluate(y, p, work)?;
                if d.data.iter().any(|q| !q.invertible()) {
                    return Err(Fault::Undefined("elementwise division by zero".into()));
                }
                evaluate(x, p, work)?.zip_with(&d, |a, b| a.div(b))?
            }
            Kind::HadamardPow(a, k) => {
                let m = evaluate(a, p, work)?;
                if N::TRANSCENDENTAL || !k.is_integer() {
                    let k = k.to_f64().unwrap_or(f64::NAN);
                    N::transcendental(m, |m| Ok(m.map(|x| x.powf(k))))?
                } else {
                    let n: i64 = k
                        .to_integer()
                        .try_into()
                        .map_err(|_| Fault::Invalid("exponent too large".into()))?;
                    m.try_map(|x| {
                        let mut acc = N::one();
                        for _ in 0..n.unsigned_abs() {
                            acc = acc.mul(x, work);
                        }
                        if n < 0 { N::one().div(&acc) } else { Ok(acc) }
                    })?
                }
            }
            Kind::Kron(x, y) => evaluate(x, p, work)?.kronecker(&evaluate(y, p, work)?, work),
            Kind::Apply(f, a) => apply(*f, evaluate(a, p, work)?, work)?,
            Kind::Pow(a, b) => general_power(evaluate(a, p, work)?, evaluate(b, p, work)?)?,
        })
    })
}

/// `a^b` entry by entry (either side a broadcast scalar), for a positive
/// base: transcendental, so f64 only. The two operands travel to the f64
/// side stacked as one matrix (`a`'s entries, then `b`'s).
fn general_power<N: Number>(a: Mat<N>, b: Mat<N>) -> Result<Mat<N>, Fault> {
    if !N::TRANSCENDENTAL {
        return Err(Fault::Inexact);
    }
    let (rows, cols) = if a.is_scalar() {
        (b.rows, b.cols)
    } else {
        (a.rows, a.cols)
    };
    let spread = |m: Mat<N>| -> Result<Vec<N>, Fault> {
        if m.is_scalar() {
            Ok(vec![m.data[0].clone(); rows * cols])
        } else if (m.rows, m.cols) == (rows, cols) {
            Ok(m.data)
        } else {
            Err(Fault::Invalid(format!(
                "shapes {}×{} and {rows}×{cols} do not match",
                m.rows, m.cols
            )))
        }
    };
    let mut data = spread(a)?;
    data.extend(spread(b)?);
    let stacked = Mat {
        rows: 2 * rows,
        cols,
        data,
    };
    N::transcendental(stacked, |m| {
        let (base, exponent) = m.data.split_at(rows * cols);
        let data = base
            .iter()
            .zip(exponent)
            .map(|(&x, &y)| {
                let v = x.powf(y);
                if x < 0.0 || !v.is_finite() {
                    Err(Fault::Undefined(format!(
                        "{x}^{y}: the base must be positive"
                    )))
                } else {
                    Ok(v)
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Mat { rows, cols, data })
    })
}

fn index(b: &Bindings, c: Option<char>) -> Result<usize, Fault> {
    let c = c.ok_or_else(|| Fault::Invalid("a unit matrix needs two indices".into()))?;
    b.indices
        .get(&c)
        .copied()
        .ok_or_else(|| Fault::Invalid(format!("no value given for the index `{c}`")))
}

/// A function of one argument: the rational ones for every number type,
/// the others through [`Number::transcendental`].
fn apply<N: Number>(f: Func, m: Mat<N>, work: &mut N::Work) -> Result<Mat<N>, Fault> {
    Ok(match f {
        Func::Tr => {
            if m.rows != m.cols {
                return Err(Fault::Invalid("a trace needs a square matrix".into()));
            }
            Mat::scalar(N::total((0..m.rows).map(|i| m.at(i, i))))
        }
        Func::Det => Mat::scalar(m.determinant(work)?),
        Func::Diag => {
            if m.cols == 1 {
                let mut d = Mat::zeros(m.rows, m.rows);
                for (i, x) in m.data.into_iter().enumerate() {
                    d.set(i, i, x);
                }
                d
            } else {
                let n = m.rows.min(m.cols);
                Mat {
                    rows: n,
                    cols: 1,
                    data: (0..n).map(|i| m.at(i, i).clone()).collect(),
                }
            }
        }
        Func::Vec => {
            let t = m.transpose();
            Mat {
                rows: m.rows * m.cols,
                cols: 1,
                data: t.data,
            }
        }
        Func::Sum => Mat::scalar(N::total(m.data.iter())),
        Func::Logdet => N::transcendental(m, |m| {
            let d = m.determinant(&mut ())?;
            if d <= 0.0 {
                return Err(Fault::Undefined(format!(
                    "logdet needs a positive determinant, got {d}"
                )));
            }
            Ok(Mat::scalar(d.ln()))
        })?,
        Func::Norm2 => N::transcendental(m, |m| {
            Ok(Mat::scalar(
                m.data.iter().map(|x| x * x).sum::<f64>().sqrt(),
            ))
        })?,
        Func::Norm1 => {
            N::transcendental(m, |m| Ok(Mat::scalar(m.data.iter().map(|x| x.abs()).sum())))?
        }
        // Stable: shifted by the largest entry, so no exp overflows.
        Func::Softmax => N::transcendental(m, |m| {
            let top = m.data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e = m.map(|x| (x - top).exp());
            let total: f64 = e.data.iter().sum();
            Ok(e.map(|x| x / total))
        })?,
        Func::Logsumexp => N::transcendental(m, |m| {
            let top = m.data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = m.data.iter().map(|x| (x - top).exp()).sum();
            Ok(Mat::scalar(top + total.ln()))
        })?,
        Func::Expm => N::transcendental(m, |m| super::matfn::expm(&m))?,
        Func::Logm => N::transcendental(m, |m| super::matfn::logm(&m))?,
        Func::Sqrtm => N::transcendental(m, |m| super::matfn::sqrtm(&m))?,
        Func::Elem(g) => N::transcendental(m, |m| {
            let needs_positive = matches!(g, ElemFn::Log | ElemFn::Sqrt);
            if needs_positive
                && m.data
                    .iter()
                    .any(|&x| x <= 0.0 && (g == ElemFn::Log || x < 0.0))
            {
                return Err(Fault::Undefined(format!(
                    "{} of a non-positive number",
                    g.name()
                )));
            }
            if matches!(g, ElemFn::Arcsin | ElemFn::Arccos) && m.data.iter().any(|x| x.abs() > 1.0)
            {
                return Err(Fault::Undefined(format!(
                    "{} of a number outside [-1, 1]",
                    g.name()
                )));
            }
            Ok(m.map(|x| elem(g, x)))
        })?,
    })
}

/// One elementwise function at one point.
pub fn elem(g: ElemFn, x: f64) -> f64 {
    match g {
        ElemFn::Exp => x.exp(),
        ElemFn::Log => x.ln(),
        ElemFn::Sin => x.sin(),
        ElemFn::Cos => x.cos(),
        ElemFn::Tan => x.tan(),
        ElemFn::Tanh => x.tanh(),
        ElemFn::Sqrt => x.sqrt(),
        ElemFn::Abs => x.abs(),
        ElemFn::Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        ElemFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        ElemFn::Relu => x.max(0.0),
        ElemFn::Softplus => {
            if x > 30.0 {
                x + (-x).exp().ln_1p()
            } else {
                x.exp().ln_1p()
            }
        }
        ElemFn::Arcsin => x.asin(),
        ElemFn::Arccos => x.acos(),
        ElemFn::Arctan => x.atan(),
        ElemFn::Step => {
            if x > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        ElemFn::Erf => super::special::erf(x),
        ElemFn::Normcdf => super::special::normcdf(x),
        ElemFn::Normpdf => super::special::normpdf(x),
    }
}

/// The non-zero entries `(row, col)` of the commutation matrix `K` with
/// `vec(F^T) = K vec(F)` for a `p×q` matrix `F` (vec stacks columns).
pub fn commutation_entries(p: usize, q: usize) -> impl Iterator<Item = (usize, usize)> {
    // F_ij sits at j p + i in vec(F) and at i q + j in vec(F^T).
    (0..p).flat_map(move |i| (0..q).map(move |j| (i * q + j, j * p + i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtins::{Meaning, Signature, TABLE};
    use crate::numeric::exact::{Budget, Dual};

    fn dual(n: i64, e: i64) -> Dual {
        Dual {
            re: BigRational::from_integer(n.into()),
            eps: BigRational::from_integer(e.into()),
        }
    }

    /// The table's `rational` says what the exact instance computes: a
    /// rational row evaluates with dual numbers, any other is refused as
    /// inexact (its arm runs inside [`Number::transcendental`]).
    #[test]
    fn exact_evaluation_refuses_exactly_the_rows_that_are_not_rational() {
        for row in TABLE {
            let Meaning::Apply(f) = row.meaning else {
                continue;
            };
            let m = match row.signature {
                Signature::Diag
                | Signature::VectorToVector
                | Signature::VectorToScalar
                | Signature::Flatten => Mat {
                    rows: 2,
                    cols: 1,
                    data: vec![dual(2, 1), dual(3, 0)],
                },
                _ => Mat {
                    rows: 2,
                    cols: 2,
                    data: vec![dual(3, 1), dual(1, 0), dual(1, 2), dual(2, -1)],
                },
            };
            let got = apply(f, m, &mut Budget::unlimited());
            assert_eq!(
                got.as_ref().err() == Some(&Fault::Inexact),
                !row.rational,
                "{}: {got:?}",
                row.name
            );
        }
    }

    /// The f64 instance pivots by magnitude, the exact one on the first
    /// invertible entry, and both invert alike.
    #[test]
    fn both_instances_invert_with_their_own_pivots() {
        let f: Mat<f64> = Mat {
            rows: 2,
            cols: 2,
            data: vec![1.0, 2.0, 4.0, 3.0],
        };
        let inv = f.inverted(&mut ()).expect("invertible");
        let want = [-0.6, 0.4, 0.8, -0.2];
        assert!(
            inv.data
                .iter()
                .zip(want)
                .all(|(x, y)| (x - y).abs() < 1e-15)
        );
        assert_eq!(f64::pivot([(0, &1.0), (1, &-4.0)].into_iter()), Some(1));
        assert_eq!(f64::pivot([(0, &0.0)].into_iter()), None);
        let q: Mat<Dual> = Mat {
            rows: 2,
            cols: 2,
            data: vec![dual(1, 0), dual(2, 0), dual(4, 0), dual(3, 0)],
        };
        let inv = q.inverted(&mut Budget::unlimited()).expect("invertible");
        let fifth = |n: i64| BigRational::new(n.into(), 5.into());
        let re: Vec<BigRational> = inv.data.iter().map(|x| x.re.clone()).collect();
        assert_eq!(re, vec![fifth(-3), fifth(2), fifth(4), fifth(-1)]);
        assert_eq!(
            Dual::pivot([(0, &dual(0, 1)), (1, &dual(5, 0))].into_iter()),
            Some(1)
        );
    }

    /// A spent budget stops the next product, not the one before.
    #[test]
    fn a_budget_is_a_value_that_runs_out() {
        let m: Mat<Dual> = Mat::identity(2);
        // a product of 2×2 identities: each non-zero entry on the left
        // times a row on the right, four multiplications of small numbers
        // at 1 unit each
        let mut budget = Budget::new(4);
        assert!(m.times(&m, &mut budget).is_ok());
        assert_eq!(m.times(&m, &mut budget), Err(Fault::TooCostly));
        assert_eq!(budget.spent(), 8);
    }
}
