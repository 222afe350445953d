//! Exact evaluation over the rationals with dual numbers: F(X + εH) with
//! ε² = 0, whose ε part is the exact directional derivative. The dual
//! instance of the one evaluator (`numeric/eval.rs`).
//!
//! Every entry is a dual number a + εb with a, b ∈ Q, and every operation —
//! including the inverse (Gauss–Jordan) and the determinant (elimination) —
//! is carried out on dual entries directly, so the derivative comes from
//! arithmetic alone and never from the differentiation rules it checks.
//! Transcendental functions and fractional powers are outside Q: such
//! expressions report `Inexact` and are checked in f64 instead.

use crate::expr::{Expr, Kind};
use crate::numeric::eval::{Fault, Mat, Number, Point, evaluate};
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
}

/// Dual numbers over Q: any invertible pivot, a work budget to spend, no
/// transcendental functions.
impl Number for Dual {
    type Work = Budget;
    type Scale = ();
    const TRANSCENDENTAL: bool = false;

    fn zero() -> Dual {
        Dual::real(BigRational::zero())
    }

    fn one() -> Dual {
        Dual::real(BigRational::one())
    }

    fn from_rational(q: &BigRational) -> Dual {
        Dual::real(q.clone())
    }

    fn is_zero(&self) -> bool {
        self.re.is_zero() && self.eps.is_zero()
    }

    fn invertible(&self) -> bool {
        !self.re.is_zero()
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

    fn neg(&self) -> Dual {
        Dual {
            re: -&self.re,
            eps: -&self.eps,
        }
    }

    fn mul(&self, o: &Dual, budget: &mut Budget) -> Dual {
        // The cost of a product (and the gcd that reduces it) grows with
        // the square of the operands' sizes, in words.
        let words = |q: &BigRational| (q.numer().bits() + q.denom().bits()) / 64;
        let w = words(&self.re) + words(&o.re) + words(&self.eps) + words(&o.eps);
        budget.charge(1 + w * w);
        Dual {
            re: q_mul(&self.re, &o.re),
            eps: q_add(&q_mul(&self.eps, &o.re), &q_mul(&self.re, &o.eps)),
        }
    }

    fn add_mul(&mut self, a: &Dual, b: &Dual, budget: &mut Budget) {
        *self = self.add(&a.mul(b, budget));
    }

    fn div(&self, o: &Dual) -> Result<Dual, Fault> {
        if o.re.is_zero() {
            return Err(Fault::Undefined("division by zero".into()));
        }
        Ok(Dual {
            re: &self.re / &o.re,
            eps: (&self.eps * &o.re - &self.re * &o.eps) / (&o.re * &o.re),
        })
    }

    fn total<'a>(items: impl Iterator<Item = &'a Dual>) -> Dual {
        items.fold(Dual::zero(), |acc, x| acc.add(x))
    }

    fn afford(budget: &Budget) -> Result<(), Fault> {
        if budget.spent > budget.limit {
            return Err(Fault::TooCostly);
        }
        Ok(())
    }

    fn pivot<'a>(mut candidates: impl Iterator<Item = (usize, &'a Dual)>) -> Option<usize> {
        candidates.find(|(_, x)| x.invertible()).map(|(i, _)| i)
    }

    fn scale(_: &[Dual]) {}

    fn negligible(_: &Dual, _: &()) -> bool {
        false
    }

    fn singular_det() -> Result<Dual, Fault> {
        // Singular in its real part: the ε part of det needs the
        // adjugate; leave such points to the caller to resample.
        Err(Fault::Undefined("the matrix is singular".into()))
    }

    fn transcendental(
        _: DualMatrix,
        _: impl FnOnce(Mat<f64>) -> Result<Mat<f64>, Fault>,
    ) -> Result<DualMatrix, Fault> {
        Err(Fault::Inexact)
    }
}

/// A matrix of dual numbers.
pub type DualMatrix = Mat<Dual>;

/// Most work one exact check may do, at all its points together, in dual
/// multiplications weighted by the square of their operands' sizes in
/// 64-bit words (the [`Budget::standard`]); beyond it evaluation gives up
/// with [`ExactError::TooCostly`] and the check falls back to floating
/// point. High matrix powers and their Hessians would otherwise take
/// minutes.
pub const MAX_EXACT_WORK: u64 = 300_000;

/// What exact evaluations may still do: a value the caller creates for one
/// check and passes to each of its evaluations ([`eval_dual`]), which
/// charge every dual multiplication to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    spent: u64,
    limit: u64,
}

impl Budget {
    /// A budget of `limit` units of work (`u64::MAX`: none).
    pub fn new(limit: u64) -> Budget {
        Budget { spent: 0, limit }
    }

    /// The budget of one exact check, [`MAX_EXACT_WORK`].
    pub fn standard() -> Budget {
        Budget::new(MAX_EXACT_WORK)
    }

    /// No limit: the work is counted but never refused.
    pub fn unlimited() -> Budget {
        Budget::new(u64::MAX)
    }

    /// The work done so far.
    pub fn spent(&self) -> u64 {
        self.spent
    }

    fn charge(&mut self, cost: u64) {
        self.spent = self.spent.saturating_add(cost);
    }
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
    /// More work than its [`Budget`]: numbers grow too large.
    TooCostly,
}

impl From<Fault> for ExactError {
    fn from(f: Fault) -> ExactError {
        match f {
            Fault::Invalid(m) => ExactError::Invalid(m),
            Fault::Undefined(_) => ExactError::Singular,
            Fault::Inexact => ExactError::Inexact,
            Fault::TooCostly => ExactError::TooCostly,
        }
    }
}

/// Exact values of the variables.
pub type ExactValues = BTreeMap<String, Vec<Vec<BigRational>>>;

impl DualMatrix {
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

/// An exact point's variables are its rational values, the perturbed one
/// with its ε part.
impl Point<Dual> for ExactPoint<'_> {
    fn bindings(&self) -> &Bindings {
        self.bindings
    }

    fn value(&self, name: &str) -> Option<DualMatrix> {
        let rows = self.values.get(name)?;
        let eps = self.perturb.filter(|(v, _)| *v == name).map(|(_, h)| h);
        Some(from_rows(rows, eps))
    }
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

/// Evaluates `e` at `p` exactly, with dual numbers, charging `budget`
/// (one budget may serve all the points of a check).
pub fn eval_dual(e: &Expr, p: &ExactPoint, budget: &mut Budget) -> Result<DualMatrix, ExactError> {
    Ok(evaluate(e, p, budget)?)
}

/// Whether an expression stays within Q (no transcendental functions,
/// fractional or variable powers, log-determinants or norms).
pub fn is_rational(e: &Expr) -> bool {
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        match x.kind() {
            Kind::Apply(f, _) if !f.row().rational => return false,
            Kind::Power(_, k) | Kind::HadamardPow(_, k) if !k.is_integer() => return false,
            Kind::Pow(..) => return false,
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
        let mut budget = Budget::unlimited();
        let inv = m.inverted(&mut budget).expect("invertible");
        let prod = inv.times(&m, &mut budget).expect("square");
        assert_eq!(prod, DualMatrix::identity(2));
    }
}
