//! Exact evaluation over the rationals with dual numbers: F(X + εH) with
//! ε² = 0, whose ε part is the exact directional derivative.
//!
//! Every entry is a dual number a + εb with a, b ∈ Q, and every operation —
//! including the inverse (Gauss–Jordan) and the determinant (elimination) —
//! is carried out on dual entries directly, so the derivative comes from
//! arithmetic alone and never from the differentiation rules it checks.
//! Transcendental functions and fractional powers are outside Q: such
//! expressions report `Inexact` and are checked in f64 instead.

use crate::expr::{Expr, Func, Kind};
use crate::numeric::float::Bindings;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::BTreeMap;

/// `a + b`, without a gcd when both are integers (the common case: the
/// points are integer matrices), which `Ratio`'s own addition always takes.
fn q_add(a: &BigRational, b: &BigRational) -> BigRational {
    if a.is_integer() && b.is_integer() {
        BigRational::from_integer(a.numer() + b.numer())
    } else {
        a + b
    }
}

/// `a b`, without a gcd when both are integers.
fn q_mul(a: &BigRational, b: &BigRational) -> BigRational {
    if a.is_integer() && b.is_integer() {
        BigRational::from_integer(a.numer() * b.numer())
    } else {
        a * b
    }
}

/// A dual number a + εb over Q.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dual {
    /// The value.
    pub re: BigRational,
    /// The ε part.
    pub eps: BigRational,
}

impl Dual {
    fn real(re: BigRational) -> Dual {
        Dual {
            re,
            eps: BigRational::zero(),
        }
    }

    fn zero() -> Dual {
        Dual::real(BigRational::zero())
    }

    fn add(&self, o: &Dual) -> Dual {
        Dual {
            re: q_add(&self.re, &o.re),
            eps: q_add(&self.eps, &o.eps),
        }
    }

    fn sub(&self, o: &Dual) -> Dual {
        Dual {
            re: q_add(&self.re, &-&o.re),
            eps: q_add(&self.eps, &-&o.eps),
        }
    }

    fn mul(&self, o: &Dual) -> Dual {
        // The cost of a product (and the gcd that reduces it) grows with
        // the square of the operands' sizes, in words.
        let words = |q: &BigRational| (q.numer().bits() + q.denom().bits()) / 64;
        let w = words(&self.re) + words(&o.re) + words(&self.eps) + words(&o.eps);
        let cost = 1 + w * w;
        WORK.with(|w| w.set(w.get() + cost));
        Dual {
            re: q_mul(&self.re, &o.re),
            eps: q_add(&q_mul(&self.eps, &o.re), &q_mul(&self.re, &o.eps)),
        }
    }

    fn div(&self, o: &Dual) -> Result<Dual, ExactError> {
        if o.re.is_zero() {
            return Err(ExactError::Singular);
        }
        Ok(Dual {
            re: &self.re / &o.re,
            eps: (&self.eps * &o.re - &self.re * &o.eps) / (&o.re * &o.re),
        })
    }
}

/// A matrix of dual numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DualMatrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Entries, row by row.
    pub data: Vec<Dual>,
}

/// Most work one exact check may do, at all its points together, in dual
/// multiplications weighted by the square of their operands' sizes in
/// 64-bit words
/// (counted from the last [`reset_work`]); beyond it evaluation gives up
/// with [`ExactError::TooCostly`] and the check falls back to floating
/// point. High matrix powers and their Hessians would otherwise take
/// minutes.
pub const MAX_EXACT_WORK: u64 = 300_000;

thread_local! {
    static WORK: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static LIMIT: std::cell::Cell<u64> = const { std::cell::Cell::new(MAX_EXACT_WORK) };
}

/// Starts a new exact check's work count, with the budget
/// [`MAX_EXACT_WORK`].
pub fn reset_work() {
    reset_work_with(MAX_EXACT_WORK);
}

/// Starts a new work count with the given budget (`u64::MAX`: none).
pub fn reset_work_with(limit: u64) {
    WORK.with(|w| w.set(0));
    LIMIT.with(|l| l.set(limit));
}

fn over_budget() -> bool {
    WORK.with(|w| w.get()) > LIMIT.with(|l| l.get())
}

/// Why an exact evaluation could not be done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExactError {
    /// The expression leaves Q (a transcendental function, a fractional power).
    Inexact,
    /// A singular matrix or a division by zero at this point.
    Singular,
    /// Missing values or mismatched shapes.
    Invalid(String),
    /// More work than [`MAX_EXACT_WORK`]: numbers grow too large.
    TooCostly,
}

/// Exact values of the variables.
pub type ExactValues = BTreeMap<String, Vec<Vec<BigRational>>>;

impl DualMatrix {
    fn zeros(rows: usize, cols: usize) -> DualMatrix {
        DualMatrix {
            rows,
            cols,
            data: vec![Dual::zero(); rows * cols],
        }
    }

    fn identity(n: usize) -> DualMatrix {
        let mut m = DualMatrix::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = Dual::real(BigRational::one());
        }
        m
    }

    fn at(&self, i: usize, j: usize) -> &Dual {
        &self.data[i * self.cols + j]
    }

    fn is_scalar(&self) -> bool {
        self.rows == 1 && self.cols == 1
    }

    fn zip(
        &self,
        o: &DualMatrix,
        f: impl Fn(&Dual, &Dual) -> Result<Dual, ExactError>,
    ) -> Result<DualMatrix, ExactError> {
        if self.is_scalar() && !o.is_scalar() {
            let a = &self.data[0];
            return Ok(DualMatrix {
                rows: o.rows,
                cols: o.cols,
                data: o.data.iter().map(|b| f(a, b)).collect::<Result<_, _>>()?,
            });
        }
        if o.is_scalar() {
            let b = &o.data[0];
            return Ok(DualMatrix {
                rows: self.rows,
                cols: self.cols,
                data: self
                    .data
                    .iter()
                    .map(|a| f(a, b))
                    .collect::<Result<_, _>>()?,
            });
        }
        if (self.rows, self.cols) != (o.rows, o.cols) {
            return Err(ExactError::Invalid("shapes do not match".into()));
        }
        Ok(DualMatrix {
            rows: self.rows,
            cols: self.cols,
            data: self
                .data
                .iter()
                .zip(&o.data)
                .map(|(a, b)| f(a, b))
                .collect::<Result<_, _>>()?,
        })
    }

    fn mul(&self, o: &DualMatrix) -> Result<DualMatrix, ExactError> {
        if self.is_scalar() || o.is_scalar() {
            return self.zip(o, |a, b| Ok(a.mul(b)));
        }
        if self.cols != o.rows {
            return Err(ExactError::Invalid("product of mismatched shapes".into()));
        }
        let mut out = DualMatrix::zeros(self.rows, o.cols);
        for i in 0..self.rows {
            for k in 0..self.cols {
                let a = self.at(i, k);
                if a.re.is_zero() && a.eps.is_zero() {
                    continue;
                }
                for j in 0..o.cols {
                    let idx = i * o.cols + j;
                    out.data[idx] = out.data[idx].add(&a.mul(o.at(k, j)));
                }
            }
        }
        if over_budget() {
            return Err(ExactError::TooCostly);
        }
        Ok(out)
    }

    fn transpose(&self) -> DualMatrix {
        let mut t = DualMatrix::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                t.data[j * self.rows + i] = self.at(i, j).clone();
            }
        }
        t
    }

    fn square(&self) -> Result<usize, ExactError> {
        if self.rows != self.cols {
            return Err(ExactError::Invalid("needs a square matrix".into()));
        }
        Ok(self.rows)
    }

    /// Gauss–Jordan on dual entries, pivoting on a non-zero real part.
    fn inverse(&self) -> Result<DualMatrix, ExactError> {
        let n = self.square()?;
        if over_budget() {
            return Err(ExactError::TooCostly);
        }
        let mut a = self.clone();
        let mut inv = DualMatrix::identity(n);
        for col in 0..n {
            let pivot = (col..n)
                .find(|&i| !a.at(i, col).re.is_zero())
                .ok_or(ExactError::Singular)?;
            for j in 0..n {
                a.data.swap(col * n + j, pivot * n + j);
                inv.data.swap(col * n + j, pivot * n + j);
            }
            let p = a.at(col, col).clone();
            for j in 0..n {
                a.data[col * n + j] = a.at(col, j).div(&p)?;
                inv.data[col * n + j] = inv.at(col, j).div(&p)?;
            }
            for i in 0..n {
                if i == col {
                    continue;
                }
                let f = a.at(i, col).clone();
                if f.re.is_zero() && f.eps.is_zero() {
                    continue;
                }
                for j in 0..n {
                    a.data[i * n + j] = a.at(i, j).sub(&f.mul(a.at(col, j)));
                    inv.data[i * n + j] = inv.at(i, j).sub(&f.mul(inv.at(col, j)));
                }
            }
        }
        Ok(inv)
    }

    /// The determinant by elimination on dual entries.
    fn det(&self) -> Result<Dual, ExactError> {
        let n = self.square()?;
        let mut a = self.clone();
        let mut det = Dual::real(BigRational::one());
        for col in 0..n {
            let Some(pivot) = (col..n).find(|&i| !a.at(i, col).re.is_zero()) else {
                // Singular in its real part: the ε part of det needs the
                // adjugate; leave such points to the caller to resample.
                return Err(ExactError::Singular);
            };
            if pivot != col {
                for j in 0..n {
                    a.data.swap(col * n + j, pivot * n + j);
                }
                det = Dual::zero().sub(&det);
            }
            let p = a.at(col, col).clone();
            det = det.mul(&p);
            for i in col + 1..n {
                let f = a.at(i, col).div(&p)?;
                for j in col..n {
                    a.data[i * n + j] = a.at(i, j).sub(&f.mul(a.at(col, j)));
                }
            }
        }
        Ok(det)
    }

    /// The ε parts as a plain rational matrix, row by row.
    pub fn eps_rows(&self) -> Vec<Vec<BigRational>> {
        (0..self.rows)
            .map(|i| (0..self.cols).map(|j| self.at(i, j).eps.clone()).collect())
            .collect()
    }

    /// The real parts as a plain rational matrix, row by row.
    pub fn re_rows(&self) -> Vec<Vec<BigRational>> {
        (0..self.rows)
            .map(|i| (0..self.cols).map(|j| self.at(i, j).re.clone()).collect())
            .collect()
    }
}

/// Where to evaluate: exact values, sizes and indices, and the variable
/// perturbed along `direction` (its ε part).
pub struct ExactPoint<'a> {
    /// Values of the variables.
    pub values: &'a ExactValues,
    /// Sizes and indices (the values in it are ignored).
    pub bindings: &'a Bindings,
    /// The variable that gets an ε part, and that part.
    pub perturb: Option<(&'a str, &'a Vec<Vec<BigRational>>)>,
}

fn from_rows(rows: &[Vec<BigRational>], eps: Option<&Vec<Vec<BigRational>>>) -> DualMatrix {
    let r = rows.len();
    let c = rows.first().map_or(0, Vec::len);
    let mut data = Vec::with_capacity(r * c);
    for i in 0..r {
        for j in 0..c {
            data.push(Dual {
                re: rows[i][j].clone(),
                eps: eps.map_or_else(BigRational::zero, |e| e[i][j].clone()),
            });
        }
    }
    DualMatrix {
        rows: r,
        cols: c,
        data,
    }
}

/// Evaluates `e` at `p` exactly, with dual numbers.
pub fn eval_dual(e: &Expr, p: &ExactPoint) -> Result<DualMatrix, ExactError> {
    crate::stack::grow(|| {
        let size = |d| {
            p.bindings
                .size(d)
                .map_err(|e| ExactError::Invalid(e.message))
        };
        Ok(match e.kind() {
            Kind::Const(c) => {
                if e.is_scalar() {
                    DualMatrix {
                        rows: 1,
                        cols: 1,
                        data: vec![Dual::real(c.clone())],
                    }
                } else {
                    DualMatrix::zeros(size(&e.shape().rows)?, size(&e.shape().cols)?)
                }
            }
            Kind::Var(v) => {
                let rows = p
                    .values
                    .get(&**v)
                    .ok_or_else(|| ExactError::Invalid(format!("no value for `{v}`")))?;
                let eps = p.perturb.filter(|(name, _)| *name == &**v).map(|(_, h)| h);
                from_rows(rows, eps)
            }
            Kind::Identity => DualMatrix::identity(size(&e.shape().rows)?),
            Kind::Ones => {
                let (r, c) = (size(&e.shape().rows)?, size(&e.shape().cols)?);
                let mut m = DualMatrix::zeros(r, c);
                for x in &mut m.data {
                    *x = Dual::real(BigRational::one());
                }
                m
            }
            Kind::Commutation(pd, qd) => {
                let (rows, cols) = (size(pd)?, size(qd)?);
                let n = rows * cols;
                let mut m = DualMatrix::zeros(n, n);
                for (row, col) in super::float::commutation_entries(rows, cols) {
                    m.data[row * n + col] = Dual::real(BigRational::one());
                }
                m
            }
            Kind::Unit(idx) => {
                let (r, c) = (size(&e.shape().rows)?, size(&e.shape().cols)?);
                let mut chars = idx.chars();
                let mut index = || {
                    chars
                        .next()
                        .and_then(|ch| p.bindings.indices.get(&ch).copied())
                        .ok_or_else(|| ExactError::Invalid("no value for an index".into()))
                };
                let i = index()?;
                let j = if c == 1 { 0 } else { index()? };
                let mut m = DualMatrix::zeros(r, c);
                if i >= r || j >= c {
                    return Err(ExactError::Invalid("index out of range".into()));
                }
                m.data[i * c + j] = Dual::real(BigRational::one());
                m
            }
            Kind::Sum(ts) => {
                let mut acc = eval_dual(&ts[0], p)?;
                for t in &ts[1..] {
                    acc = acc.zip(&eval_dual(t, p)?, |a, b| Ok(a.add(b)))?;
                }
                if acc.rows * acc.cols == 1 && !e.is_scalar() {
                    // a broadcast scalar whose matrix terms vanished
                    let zeros = DualMatrix::zeros(size(&e.shape().rows)?, size(&e.shape().cols)?);
                    acc = zeros.zip(&acc, |a, b| Ok(a.add(b)))?;
                }
                acc
            }
            Kind::Product(fs) => {
                let mut acc = eval_dual(&fs[0], p)?;
                for f in &fs[1..] {
                    acc = acc.mul(&eval_dual(f, p)?)?;
                }
                acc
            }
            Kind::Transpose(a) => eval_dual(a, p)?.transpose(),
            Kind::Inverse(a) => eval_dual(a, p)?.inverse()?,
            Kind::Power(a, k) => {
                if !k.is_integer() {
                    return Err(ExactError::Inexact);
                }
                let m = eval_dual(a, p)?;
                let n: i64 = k.to_integer().try_into().map_err(|_| ExactError::Inexact)?;
                let mut base = if n < 0 { m.inverse()? } else { m };
                let mut acc = if base.is_scalar() {
                    DualMatrix::identity(1)
                } else {
                    DualMatrix::identity(base.rows)
                };
                // by squaring: O(log n) products
                let mut e = n.unsigned_abs();
                while e > 0 {
                    if e & 1 == 1 {
                        acc = acc.mul(&base)?;
                    }
                    e >>= 1;
                    if e > 0 {
                        base = base.mul(&base)?;
                    }
                }
                acc
            }
            Kind::Hadamard(a, b) => eval_dual(a, p)?.zip(&eval_dual(b, p)?, |x, y| Ok(x.mul(y)))?,
            Kind::HadamardDiv(a, b) => eval_dual(a, p)?.zip(&eval_dual(b, p)?, |x, y| x.div(y))?,
            Kind::HadamardPow(a, k) => {
                if !k.is_integer() {
                    return Err(ExactError::Inexact);
                }
                let n: i64 = k.to_integer().try_into().map_err(|_| ExactError::Inexact)?;
                let m = eval_dual(a, p)?;
                let one = Dual::real(BigRational::one());
                let pow = |x: &Dual| -> Result<Dual, ExactError> {
                    let mut acc = one.clone();
                    for _ in 0..n.unsigned_abs() {
                        acc = acc.mul(x);
                    }
                    if n < 0 { one.div(&acc) } else { Ok(acc) }
                };
                DualMatrix {
                    rows: m.rows,
                    cols: m.cols,
                    data: m.data.iter().map(pow).collect::<Result<_, _>>()?,
                }
            }
            Kind::Kron(a, b) => {
                let (x, y) = (eval_dual(a, p)?, eval_dual(b, p)?);
                let mut out = DualMatrix::zeros(x.rows * y.rows, x.cols * y.cols);
                for i in 0..x.rows {
                    for j in 0..x.cols {
                        for k in 0..y.rows {
                            for l in 0..y.cols {
                                out.data[(i * y.rows + k) * out.cols + j * y.cols + l] =
                                    x.at(i, j).mul(y.at(k, l));
                            }
                        }
                    }
                }
                out
            }
            Kind::Apply(f, a) => {
                let m = eval_dual(a, p)?;
                let scalar = |d: Dual| DualMatrix {
                    rows: 1,
                    cols: 1,
                    data: vec![d],
                };
                match f {
                    Func::Tr => {
                        let n = m.square()?;
                        scalar((0..n).fold(Dual::zero(), |acc, i| acc.add(m.at(i, i))))
                    }
                    Func::Det => scalar(m.det()?),
                    Func::Sum => scalar(m.data.iter().fold(Dual::zero(), |acc, x| acc.add(x))),
                    Func::Diag => {
                        if m.cols == 1 {
                            let mut d = DualMatrix::zeros(m.rows, m.rows);
                            for i in 0..m.rows {
                                d.data[i * m.rows + i] = m.data[i].clone();
                            }
                            d
                        } else {
                            let n = m.square()?;
                            DualMatrix {
                                rows: n,
                                cols: 1,
                                data: (0..n).map(|i| m.at(i, i).clone()).collect(),
                            }
                        }
                    }
                    Func::Vec => {
                        let t = m.transpose();
                        DualMatrix {
                            rows: m.rows * m.cols,
                            cols: 1,
                            data: t.data,
                        }
                    }
                    Func::Logdet
                    | Func::Norm2
                    | Func::Norm1
                    | Func::Softmax
                    | Func::Logsumexp
                    | Func::Elem(_) => return Err(ExactError::Inexact),
                }
            }
        })
    })
}

/// Whether an expression stays within Q (no transcendental functions,
/// fractional powers, log-determinants or norms).
pub fn is_rational(e: &Expr) -> bool {
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x.kind() {
            Kind::Apply(f, _) if !f.row().rational => return false,
            Kind::Power(_, k) | Kind::HadamardPow(_, k) if !k.is_integer() => return false,
            _ => {}
        }
        stack.extend(x.children());
    }
    true
}

/// A small random integer as a rational.
pub fn small_int(rng: &mut crate::numeric::rng::Rng, lo: i64, hi: i64) -> BigRational {
    let span = (hi - lo + 1) as usize;
    BigRational::from_integer(BigInt::from(lo + rng.below(span) as i64))
}

/// Whether every entry of a plain rational matrix is zero.
pub fn all_zero(rows: &[Vec<BigRational>]) -> bool {
    rows.iter().flatten().all(|x| x.is_zero())
}

/// The largest absolute entry, as an f64 (for reports).
pub fn max_abs(rows: &[Vec<BigRational>]) -> f64 {
    use num_traits::ToPrimitive;
    rows.iter()
        .flatten()
        .map(|x| x.abs().to_f64().unwrap_or(f64::INFINITY))
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: i64) -> BigRational {
        BigRational::from_integer(n.into())
    }

    #[test]
    fn dual_division_is_the_quotient_rule() {
        // (1 + 2ε) / (3 + 4ε) = 1/3 + ε (2·3 − 1·4) / 9
        let a = Dual {
            re: q(1),
            eps: q(2),
        };
        let b = Dual {
            re: q(3),
            eps: q(4),
        };
        let c = a.div(&b).expect("non-zero");
        assert_eq!(c.re, BigRational::new(1.into(), 3.into()));
        assert_eq!(c.eps, BigRational::new(2.into(), 9.into()));
    }

    #[test]
    fn inverse_times_matrix_is_identity_in_both_parts() {
        let m = from_rows(
            &[vec![q(2), q(1)], vec![q(1), q(3)]],
            Some(&vec![vec![q(1), q(0)], vec![q(5), q(-2)]]),
        );
        let prod = m.inverse().expect("invertible").mul(&m).expect("square");
        assert_eq!(prod, DualMatrix::identity(2));
    }
}
