//! f64 evaluation of any expression at concrete values: the f64 instance
//! of the one evaluator (`numeric/eval.rs`).
//!
//! A small dense row-major matrix type of our own (products, inverse by
//! Gauss–Jordan with partial pivoting, determinant by LU, Kronecker)
//! rather than nalgebra: the sizes here are tiny, the operations few, and
//! the build stays lean. Every failure — a singular inverse, a log of a
//! non-positive number, a non-finite result, a value of the wrong shape —
//! is an `EvalError`, never a panic.

use crate::expr::Expr;
use crate::numeric::eval::{Fault, Mat, Number, Point, evaluate};
pub use crate::numeric::eval::{commutation_entries, elem};
use crate::shape::{Dim, Shape};
use num_rational::BigRational;
use num_traits::ToPrimitive;
use std::collections::BTreeMap;
use std::fmt;

/// A dense matrix of f64, row-major: the evaluator's [`Mat`] over f64.
pub type Matrix = Mat<f64>;

/// f64 numbers: partial pivoting by magnitude, nothing to spend, and the
/// transcendental functions.
impl Number for f64 {
    type Work = ();
    type Scale = f64;
    const TRANSCENDENTAL: bool = true;

    #[inline]
    fn zero() -> f64 {
        0.0
    }
    #[inline]
    fn one() -> f64 {
        1.0
    }
    fn from_rational(q: &BigRational) -> f64 {
        q.to_f64().unwrap_or(f64::NAN)
    }
    #[inline]
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
    #[inline]
    fn invertible(&self) -> bool {
        *self != 0.0
    }
    #[inline]
    fn add(&self, o: &f64) -> f64 {
        self + o
    }
    #[inline]
    fn sub(&self, o: &f64) -> f64 {
        self - o
    }
    #[inline]
    fn neg(&self) -> f64 {
        -self
    }
    #[inline]
    fn mul(&self, o: &f64, _: &mut ()) -> f64 {
        self * o
    }
    #[inline]
    fn add_mul(&mut self, a: &f64, b: &f64, _: &mut ()) {
        *self += a * b;
    }
    #[inline]
    fn div(&self, o: &f64) -> Result<f64, Fault> {
        Ok(self / o)
    }
    fn total<'a>(items: impl Iterator<Item = &'a f64>) -> f64 {
        items.sum()
    }
    #[inline]
    fn afford(_: &()) -> Result<(), Fault> {
        Ok(())
    }
    fn pivot<'a>(candidates: impl Iterator<Item = (usize, &'a f64)>) -> Option<usize> {
        candidates
            .max_by(|(_, x), (_, y)| x.abs().total_cmp(&y.abs()))
            .filter(|(_, x)| **x != 0.0)
            .map(|(i, _)| i)
    }
    fn scale(entries: &[f64]) -> f64 {
        1e-13
            * entries
                .iter()
                .fold(0.0f64, |m, x| m.max(x.abs()))
                .max(1e-300)
    }
    fn negligible(pivot: &f64, scale: &f64) -> bool {
        pivot.abs() <= *scale
    }
    fn singular_det() -> Result<f64, Fault> {
        Ok(0.0)
    }
    fn transcendental(
        m: Matrix,
        f: impl FnOnce(Matrix) -> Result<Matrix, Fault>,
    ) -> Result<Matrix, Fault> {
        f(m)
    }
}

/// The f64 matrix's own API (the generic one is on [`Mat`]): values by
/// copy, errors as [`EvalError`].
impl Matrix {
    /// Entry (i, j).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Applies `f` to every entry.
    pub fn map(&self, f: impl Fn(f64) -> f64) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    /// Entrywise combination, broadcasting a 1×1 side.
    pub fn zip(&self, other: &Matrix, f: impl Fn(f64, f64) -> f64) -> Result<Matrix, EvalError> {
        Ok(self.zip_with(other, |&a, &b| Ok(f(a, b)))?)
    }

    /// The product, or scalar multiplication when one side is 1×1.
    pub fn mul(&self, other: &Matrix) -> Result<Matrix, EvalError> {
        Ok(self.times(other, &mut ())?)
    }

    /// The `n`th power of a square matrix (or a scalar), by repeated
    /// squaring: O(log n) products.
    pub fn power(&self, n: u64) -> Result<Matrix, EvalError> {
        Ok(self.pow(n, &mut ())?)
    }

    /// The inverse (Gauss–Jordan with partial pivoting).
    pub fn inverse(&self) -> Result<Matrix, EvalError> {
        Ok(self.inverted(&mut ())?)
    }

    /// The determinant (LU with partial pivoting).
    pub fn det(&self) -> Result<f64, EvalError> {
        Ok(self.determinant(&mut ())?)
    }

    /// The Kronecker product.
    pub fn kron(&self, other: &Matrix) -> Matrix {
        self.kronecker(other, &mut ())
    }

    /// The largest absolute entry.
    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0, |m, x| m.max(x.abs()))
    }
}

impl fmt::Display for Matrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..self.rows {
            let row: Vec<String> = (0..self.cols)
                .map(|j| format!("{:>12.6}", self.get(i, j)))
                .collect();
            writeln!(f, "[{}]", row.join(" "))?;
        }
        Ok(())
    }
}

/// A numeric evaluation failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvalError {
    /// What went wrong, in plain words.
    pub message: String,
}

impl EvalError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> EvalError {
        EvalError {
            message: message.into(),
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

impl From<Fault> for EvalError {
    fn from(f: Fault) -> EvalError {
        EvalError::new(f.message())
    }
}

/// Concrete values: variables, named sizes, and the indices of `E_ij`.
#[derive(Clone, Debug, Default)]
pub struct Bindings {
    /// Values of variables.
    pub vars: BTreeMap<String, Matrix>,
    /// Sizes of named dimensions.
    pub dims: BTreeMap<String, usize>,
    /// Values (0-based) of index letters such as `i`, `j`.
    pub indices: BTreeMap<char, usize>,
}

impl Bindings {
    /// The concrete size of a dimension.
    pub fn size(&self, d: &Dim) -> Result<usize, EvalError> {
        d.size(&|n| self.dims.get(n).copied())
            .ok_or_else(|| EvalError::new(format!("no size is known for the dimension {d}")))
    }

    /// The concrete (rows, cols) of a shape.
    pub fn shape(&self, s: &Shape) -> Result<(usize, usize), EvalError> {
        Ok((self.size(&s.rows)?, self.size(&s.cols)?))
    }
}

/// The values of [`Bindings`] are f64 matrices.
impl Point<f64> for Bindings {
    fn bindings(&self) -> &Bindings {
        self
    }
    fn value(&self, name: &str) -> Option<Matrix> {
        self.vars.get(name).cloned()
    }
}

/// Evaluates an expression at concrete values.
pub fn eval(e: &Expr, b: &Bindings) -> Result<Matrix, EvalError> {
    let m = evaluate(e, b, &mut ())?;
    if m.data.iter().any(|x| !x.is_finite()) {
        return Err(EvalError::new(
            "the value is not finite (overflow, or a pole)",
        ));
    }
    Ok(m)
}
