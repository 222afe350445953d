//! f64 evaluation of any expression at concrete values.
//!
//! A small dense row-major matrix type of our own (products, inverse by
//! Gauss–Jordan with partial pivoting, determinant by LU, Kronecker)
//! rather than nalgebra: the sizes here are tiny, the operations few, and
//! the build stays lean. Every failure — a singular inverse, a log of a
//! non-positive number, a non-finite result, a value of the wrong shape —
//! is an `EvalError`, never a panic.

use crate::expr::{ElemFn, Expr, Func, Kind};
use crate::shape::{Dim, Shape};
use num_traits::ToPrimitive;
use std::collections::BTreeMap;
use std::fmt;

/// A dense matrix of f64, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Entries, row by row.
    pub data: Vec<f64>,
}

impl Matrix {
    /// The zero matrix.
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The identity.
    pub fn identity(n: usize) -> Matrix {
        let mut m = Matrix::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }

    /// A 1×1 matrix.
    pub fn scalar(x: f64) -> Matrix {
        Matrix {
            rows: 1,
            cols: 1,
            data: vec![x],
        }
    }

    /// Entry (i, j).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Sets entry (i, j).
    pub fn set(&mut self, i: usize, j: usize, x: f64) {
        self.data[i * self.cols + j] = x;
    }

    /// Whether it is 1×1.
    pub fn is_scalar(&self) -> bool {
        self.rows == 1 && self.cols == 1
    }

    /// The transpose.
    pub fn transpose(&self) -> Matrix {
        let mut t = Matrix::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                t.set(j, i, self.get(i, j));
            }
        }
        t
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
        if self.is_scalar() && !other.is_scalar() {
            let a = self.data[0];
            return Ok(other.map(|b| f(a, b)));
        }
        if other.is_scalar() {
            let b = other.data[0];
            return Ok(self.map(|a| f(a, b)));
        }
        if self.rows != other.rows || self.cols != other.cols {
            return Err(EvalError::new(format!(
                "shapes {}×{} and {}×{} do not match",
                self.rows, self.cols, other.rows, other.cols
            )));
        }
        Ok(Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self
                .data
                .iter()
                .zip(&other.data)
                .map(|(&a, &b)| f(a, b))
                .collect(),
        })
    }

    /// The product, or scalar multiplication when one side is 1×1.
    pub fn mul(&self, other: &Matrix) -> Result<Matrix, EvalError> {
        if self.is_scalar() || other.is_scalar() {
            return self.zip(other, |a, b| a * b);
        }
        if self.cols != other.rows {
            return Err(EvalError::new(format!(
                "cannot multiply {}×{} by {}×{}",
                self.rows, self.cols, other.rows, other.cols
            )));
        }
        let mut out = Matrix::zeros(self.rows, other.cols);
        let n = other.cols;
        if n == 0 {
            return Ok(out);
        }
        for (row, out_row) in self
            .data
            .chunks_exact(self.cols.max(1))
            .zip(out.data.chunks_exact_mut(n))
        {
            for (&a, b_row) in row.iter().zip(other.data.chunks_exact(n)) {
                if a == 0.0 {
                    continue;
                }
                for (o, &b) in out_row.iter_mut().zip(b_row) {
                    *o += a * b;
                }
            }
        }
        Ok(out)
    }

    /// The `n`th power of a square matrix (or a scalar), by repeated
    /// squaring: O(log n) products.
    pub fn power(&self, n: u64) -> Result<Matrix, EvalError> {
        let mut acc = Matrix::identity(self.rows);
        let mut base = self.clone();
        let mut e = n;
        while e > 0 {
            if e & 1 == 1 {
                acc = acc.mul(&base)?;
            }
            e >>= 1;
            if e > 0 {
                base = base.mul(&base)?;
            }
        }
        Ok(acc)
    }

    /// The inverse (Gauss–Jordan with partial pivoting).
    pub fn inverse(&self) -> Result<Matrix, EvalError> {
        self.square("an inverse")?;
        let n = self.rows;
        let mut a = self.clone();
        let mut inv = Matrix::identity(n);
        let scale = self
            .data
            .iter()
            .fold(0.0f64, |m, x| m.max(x.abs()))
            .max(1e-300);
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&i, &j| a.get(i, col).abs().total_cmp(&a.get(j, col).abs()))
                .expect("non-empty range");
            if a.get(pivot, col).abs() <= 1e-13 * scale {
                return Err(EvalError::new("the matrix is singular (not invertible)"));
            }
            a.swap_rows(col, pivot);
            inv.swap_rows(col, pivot);
            let p = a.get(col, col);
            for j in 0..n {
                a.set(col, j, a.get(col, j) / p);
                inv.set(col, j, inv.get(col, j) / p);
            }
            for i in 0..n {
                if i != col {
                    let f = a.get(i, col);
                    if f != 0.0 {
                        for j in 0..n {
                            a.set(i, j, a.get(i, j) - f * a.get(col, j));
                            inv.set(i, j, inv.get(i, j) - f * inv.get(col, j));
                        }
                    }
                }
            }
        }
        Ok(inv)
    }

    /// The determinant (LU with partial pivoting).
    pub fn det(&self) -> Result<f64, EvalError> {
        self.square("a determinant")?;
        let n = self.rows;
        let mut a = self.clone();
        let mut det = 1.0;
        for col in 0..n {
            let pivot = (col..n)
                .max_by(|&i, &j| a.get(i, col).abs().total_cmp(&a.get(j, col).abs()))
                .expect("non-empty range");
            if a.get(pivot, col) == 0.0 {
                return Ok(0.0);
            }
            if pivot != col {
                a.swap_rows(col, pivot);
                det = -det;
            }
            let p = a.get(col, col);
            det *= p;
            for i in col + 1..n {
                let f = a.get(i, col) / p;
                for j in col..n {
                    a.set(i, j, a.get(i, j) - f * a.get(col, j));
                }
            }
        }
        Ok(det)
    }

    /// The Kronecker product.
    pub fn kron(&self, other: &Matrix) -> Matrix {
        let (r, c) = (self.rows * other.rows, self.cols * other.cols);
        let mut out = Matrix::zeros(r, c);
        for i in 0..self.rows {
            for j in 0..self.cols {
                for k in 0..other.rows {
                    for l in 0..other.cols {
                        out.set(
                            i * other.rows + k,
                            j * other.cols + l,
                            self.get(i, j) * other.get(k, l),
                        );
                    }
                }
            }
        }
        out
    }

    /// The largest absolute entry.
    pub fn max_abs(&self) -> f64 {
        self.data.iter().fold(0.0, |m, x| m.max(x.abs()))
    }

    fn swap_rows(&mut self, a: usize, b: usize) {
        if a != b {
            for j in 0..self.cols {
                self.data.swap(a * self.cols + j, b * self.cols + j);
            }
        }
    }

    fn square(&self, what: &str) -> Result<(), EvalError> {
        if self.rows != self.cols {
            return Err(EvalError::new(format!(
                "{what} needs a square matrix, got {}×{}",
                self.rows, self.cols
            )));
        }
        Ok(())
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

/// Evaluates an expression at concrete values.
pub fn eval(e: &Expr, b: &Bindings) -> Result<Matrix, EvalError> {
    let m = eval_node(e, b)?;
    if m.data.iter().any(|x| !x.is_finite()) {
        return Err(EvalError::new(
            "the value is not finite (overflow, or a pole)",
        ));
    }
    Ok(m)
}

fn eval_node(e: &Expr, b: &Bindings) -> Result<Matrix, EvalError> {
    crate::stack::grow(|| {
        Ok(match e.kind() {
            Kind::Const(c) => {
                let x = c.to_f64().unwrap_or(f64::NAN);
                if e.is_scalar() {
                    Matrix::scalar(x)
                } else {
                    let (r, c) = b.shape(e.shape())?;
                    Matrix::zeros(r, c)
                }
            }
            Kind::Var(v) => {
                let m = b
                    .vars
                    .get(&**v)
                    .ok_or_else(|| EvalError::new(format!("no value given for `{v}`")))?;
                let (r, c) = b.shape(e.shape()).unwrap_or((m.rows, m.cols));
                if (m.rows, m.cols) != (r, c) {
                    return Err(EvalError::new(format!(
                        "`{v}` is {}×{} but its shape {} needs {r}×{c}",
                        m.rows,
                        m.cols,
                        e.shape()
                    )));
                }
                m.clone()
            }
            Kind::Identity => Matrix::identity(b.size(&e.shape().rows)?),
            Kind::Ones => {
                let (r, c) = b.shape(e.shape())?;
                let mut m = Matrix::zeros(r, c);
                for i in 0..r {
                    for j in 0..c {
                        m.set(i, j, 1.0);
                    }
                }
                m
            }
            Kind::Commutation(p, q) => {
                let (p, q) = (b.size(p)?, b.size(q)?);
                let mut m = Matrix::zeros(p * q, p * q);
                for (row, col) in commutation_entries(p, q) {
                    m.set(row, col, 1.0);
                }
                m
            }
            Kind::Unit(idx) => {
                let (r, c) = b.shape(e.shape())?;
                let mut chars = idx.chars();
                let i = index(b, chars.next())?;
                let j = if c == 1 { 0 } else { index(b, chars.next())? };
                if i >= r || j >= c {
                    return Err(EvalError::new(format!(
                        "index ({i}, {j}) is outside {r}×{c}"
                    )));
                }
                let mut m = Matrix::zeros(r, c);
                m.set(i, j, 1.0);
                m
            }
            Kind::Sum(terms) => {
                let mut acc = eval_node(&terms[0], b)?;
                for t in &terms[1..] {
                    acc = acc.zip(&eval_node(t, b)?, |x, y| x + y)?;
                }
                if acc.is_scalar() && !e.is_scalar() {
                    // a broadcast scalar whose matrix terms vanished
                    let (r, c) = b.shape(e.shape())?;
                    acc = Matrix::zeros(r, c).zip(&acc, |x, y| x + y)?;
                }
                acc
            }
            Kind::Product(fs) => {
                // a run of equal factors (square, as they multiply) is a power
                let mut acc: Option<Matrix> = None;
                let mut i = 0;
                while i < fs.len() {
                    let run = fs[i..].iter().take_while(|f| **f == fs[i]).count();
                    let m = eval_node(&fs[i], b)?;
                    let m = if run > 1 { m.power(run as u64)? } else { m };
                    acc = Some(match acc {
                        Some(a) => a.mul(&m)?,
                        None => m,
                    });
                    i += run;
                }
                acc.expect("a product has factors")
            }
            Kind::Transpose(a) => eval_node(a, b)?.transpose(),
            Kind::Inverse(a) => eval_node(a, b)?.inverse()?,
            Kind::Power(a, k) => {
                let m = eval_node(a, b)?;
                if m.is_scalar() {
                    let x = m.data[0];
                    let y = x.powf(k.to_f64().unwrap_or(f64::NAN));
                    if !y.is_finite() {
                        return Err(EvalError::new(format!("{x}^{k} is not a real number")));
                    }
                    Matrix::scalar(y)
                } else {
                    let n: i64 = k
                        .to_integer()
                        .try_into()
                        .map_err(|_| EvalError::new("exponent too large"))?;
                    let base = if n < 0 { m.inverse()? } else { m };
                    base.power(n.unsigned_abs())?
                }
            }
            Kind::Hadamard(x, y) => eval_node(x, b)?.zip(&eval_node(y, b)?, |p, q| p * q)?,
            Kind::HadamardDiv(x, y) => {
                let d = eval_node(y, b)?;
                if d.data.contains(&0.0) {
                    return Err(EvalError::new("elementwise division by zero"));
                }
                eval_node(x, b)?.zip(&d, |p, q| p / q)?
            }
            Kind::HadamardPow(a, k) => {
                let k = k.to_f64().unwrap_or(f64::NAN);
                eval_node(a, b)?.map(|x| x.powf(k))
            }
            Kind::Kron(x, y) => eval_node(x, b)?.kron(&eval_node(y, b)?),
            Kind::Apply(f, a) => apply(*f, &eval_node(a, b)?)?,
        })
    })
}

fn index(b: &Bindings, c: Option<char>) -> Result<usize, EvalError> {
    let c = c.ok_or_else(|| EvalError::new("a unit matrix needs two indices"))?;
    b.indices
        .get(&c)
        .copied()
        .ok_or_else(|| EvalError::new(format!("no value given for the index `{c}`")))
}

fn apply(f: Func, m: &Matrix) -> Result<Matrix, EvalError> {
    Ok(match f {
        Func::Tr => {
            if m.rows != m.cols {
                return Err(EvalError::new("a trace needs a square matrix"));
            }
            Matrix::scalar((0..m.rows).map(|i| m.get(i, i)).sum())
        }
        Func::Det => Matrix::scalar(m.det()?),
        Func::Logdet => {
            let d = m.det()?;
            if d <= 0.0 {
                return Err(EvalError::new(format!(
                    "logdet needs a positive determinant, got {d}"
                )));
            }
            Matrix::scalar(d.ln())
        }
        Func::Diag => {
            if m.cols == 1 {
                let mut d = Matrix::zeros(m.rows, m.rows);
                for i in 0..m.rows {
                    d.set(i, i, m.data[i]);
                }
                d
            } else {
                let n = m.rows.min(m.cols);
                Matrix {
                    rows: n,
                    cols: 1,
                    data: (0..n).map(|i| m.get(i, i)).collect(),
                }
            }
        }
        Func::Vec => {
            let t = m.transpose();
            Matrix {
                rows: m.rows * m.cols,
                cols: 1,
                data: t.data,
            }
        }
        Func::Sum => Matrix::scalar(m.data.iter().sum()),
        Func::Norm2 => Matrix::scalar(m.data.iter().map(|x| x * x).sum::<f64>().sqrt()),
        Func::Norm1 => Matrix::scalar(m.data.iter().map(|x| x.abs()).sum()),
        // Stable: shifted by the largest entry, so no exp overflows.
        Func::Softmax => {
            let top = m.data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e = m.map(|x| (x - top).exp());
            let total: f64 = e.data.iter().sum();
            e.map(|x| x / total)
        }
        Func::Logsumexp => {
            let top = m.data.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = m.data.iter().map(|x| (x - top).exp()).sum();
            Matrix::scalar(top + total.ln())
        }
        Func::Elem(g) => {
            let needs_positive = matches!(g, ElemFn::Log | ElemFn::Sqrt);
            if needs_positive
                && m.data
                    .iter()
                    .any(|&x| x <= 0.0 && (g == ElemFn::Log || x < 0.0))
            {
                return Err(EvalError::new(format!(
                    "{} of a non-positive number",
                    g.name()
                )));
            }
            if matches!(g, ElemFn::Arcsin | ElemFn::Arccos) && m.data.iter().any(|x| x.abs() > 1.0)
            {
                return Err(EvalError::new(format!(
                    "{} of a number outside [-1, 1]",
                    g.name()
                )));
            }
            m.map(|x| elem(g, x))
        }
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
    }
}

/// The non-zero entries `(row, col)` of the commutation matrix `K` with
/// `vec(F^T) = K vec(F)` for a `p×q` matrix `F` (vec stacks columns).
pub fn commutation_entries(p: usize, q: usize) -> impl Iterator<Item = (usize, usize)> {
    // F_ij sits at j p + i in vec(F) and at i q + j in vec(F^T).
    (0..p).flat_map(move |i| (0..q).map(move |j| (i * q + j, j * p + i)))
}
