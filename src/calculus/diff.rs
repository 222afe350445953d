//! The differential dF[dX]: one `match` arm per operator, each commented
//! with its rule.
//!
//! The direction is any expression of X's shape: a variable `dX` or `H`
//! for the differential, the unit matrix `E_ij` for the entrywise partial
//! ∂F/∂X_ij. Products keep their factor order (matrices do not commute) and
//! the smart constructors fold the zeros, so the raw output is already the
//! textbook form `A E_ij X^T A^T + A X E_ij^T A^T`.
//!
//! Matrix functions (`expm`, `logm`, `sqrtm`) are differentiated only
//! under a trace: for an analytic f, `d tr(f(Y)) = tr(f'(Y) dY)` (the
//! trace makes the Fréchet derivative's non-commuting pieces commute), so
//! the trace's arm looks through sums, transposes and constant scalar
//! factors for them. A differential that reaches f(Y) any other way
//! (`d expm(X)`, `d tr(A expm(X))`) is a Fréchet derivative, which has no
//! closed form in this algebra: [`differential`] refuses it
//! ([`DiffError::Frechet`]) rather than guess.

use crate::expr::{ElemFn, Expr, Func, Kind, rat};
use num_rational::BigRational;
use num_traits::{One, Signed};
use std::cell::{Cell, RefCell};

/// Most factor slots the product rule may create before giving up: the
/// differential of a product of k factors has k terms of k factors, so a
/// 20,000-factor product would need 4·10^8 of them.
pub const MAX_DIFF_WORK: usize = 2_000_000;

/// Why a differential cannot be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiffError {
    /// It would be too large to build.
    TooLarge {
        /// How much work it had reached when it stopped.
        work: usize,
    },
    /// It needs the Fréchet derivative of a matrix function (`expm(X)`
    /// outside a trace), which the algebra cannot write.
    Frechet(Func),
}

/// The differential of `f` with respect to the variable `wrt`, in the
/// direction `dir` (which has the variable's shape).
pub fn differential(f: &Expr, wrt: &str, dir: &Expr) -> Result<Expr, DiffError> {
    let d = Diff {
        wrt,
        dir,
        work: Cell::new(0),
        shallow: None,
        entered: Cell::new(false),
        frechet: Cell::new(None),
    };
    let out = d.d(f);
    if let Some(func) = d.frechet.get() {
        return Err(DiffError::Frechet(func));
    }
    if d.work.get() > MAX_DIFF_WORK {
        return Err(DiffError::TooLarge { work: d.work.get() });
    }
    Ok(out)
}

/// The differentials a derivation has left pending: each stands in the
/// derivation's expressions as a variable with an opaque name (`d#0`,
/// `d#1`, …, which no input can spell), listed here with the operand
/// whose differential it is. Calculus prints nothing: a printer that
/// shows a derivation spells each one from its operand (`d(A X)`).
///
/// One `Pending` serves a whole derivation, so an operand met again in a
/// later step keeps its name, and names are handed out in order of first
/// sight.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    entries: Vec<(String, Expr)>,
}

impl Pending {
    /// None pending yet.
    pub fn new() -> Pending {
        Pending::default()
    }

    /// How many differentials are pending.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `i`-th pending differential, in order of first sight: its
    /// variable's name and its operand.
    pub fn get(&self, i: usize) -> Option<(&str, &Expr)> {
        self.entries.get(i).map(|(n, e)| (n.as_str(), e))
    }

    /// Every pending differential: its variable's name and its operand.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Expr)> {
        self.entries.iter().map(|(n, e)| (n.as_str(), e))
    }

    /// The variable standing for `d operand`, named on first sight.
    fn stand_in(&mut self, operand: &Expr) -> Expr {
        let name = match self.entries.iter().find(|(_, e)| e == operand) {
            Some((n, _)) => n.clone(),
            None => {
                let n = format!("d#{}", self.entries.len());
                self.entries.push((n.clone(), operand.clone()));
                n
            }
        };
        Expr::var(&name, operand.shape().clone())
    }
}

/// One application of a rule, for a derivation: the differential of an
/// expression with the differentials of its operands left pending.
#[derive(Clone, Debug)]
pub struct RuleStep {
    /// The rule, in words (`product rule`).
    pub law: &'static str,
    /// `d f` with the operands' differentials pending, as the variables
    /// of the [`Pending`] passed to [`rule_step`].
    pub result: Expr,
}

/// The differential of `f` one rule deep: the rule for `f`'s outermost
/// operator, with the differential of each operand that is not `wrt`
/// itself (nor constant) left pending, recorded in `pending`. Repeating
/// this on the pending operands is the derivation `--steps` prints;
/// substituting every pending differential gives [`differential`]'s
/// result.
pub fn rule_step(f: &Expr, wrt: &str, dir: &Expr, pending: &mut Pending) -> RuleStep {
    let d = Diff {
        wrt,
        dir,
        work: Cell::new(0),
        shallow: Some(RefCell::new(pending)),
        entered: Cell::new(false),
        frechet: Cell::new(None),
    };
    RuleStep {
        law: law(f),
        result: d.d(f),
    }
}

/// The rule [`differential`] applies to `f`'s outermost operator, in words.
pub fn law(f: &Expr) -> &'static str {
    match f.kind() {
        Kind::Const(_)
        | Kind::Identity
        | Kind::Unit(_)
        | Kind::Ones
        | Kind::Commutation(..)
        | Kind::Var(_) => "a constant has no differential",
        Kind::Sum(_) => "sum rule",
        Kind::Product(_) => "product rule",
        Kind::Transpose(_) => "transpose rule",
        Kind::Inverse(_) => "inverse rule",
        Kind::Power(a, _) if a.is_scalar() => "power rule",
        Kind::Power(..) => "product rule on a power",
        Kind::Hadamard(..) => "Hadamard product rule",
        Kind::HadamardDiv(..) => "elementwise quotient rule",
        Kind::HadamardPow(..) => "elementwise power rule",
        Kind::Pow(..) => "general power rule",
        Kind::Kron(..) => "Kronecker product rule",
        Kind::Apply(Func::Tr, a) if has_matrix_function(a) => "trace of a matrix function",
        Kind::Apply(Func::Tr | Func::Sum | Func::Diag | Func::Vec, _) => "linearity",
        Kind::Apply(Func::Det, _) => "Jacobi's formula",
        Kind::Apply(Func::Logdet, _) => "log-determinant rule",
        Kind::Apply(Func::Norm2 | Func::Norm1, _) => "norm rule",
        Kind::Apply(Func::Softmax, _) => "softmax rule",
        Kind::Apply(Func::Logsumexp, _) => "log-sum-exp rule",
        Kind::Apply(Func::Expm | Func::Logm | Func::Sqrtm, _) => "Fréchet derivative",
        Kind::Apply(Func::Elem(_), _) => "elementwise chain rule",
    }
}

struct Diff<'a> {
    wrt: &'a str,
    dir: &'a Expr,
    /// Factor slots created so far; past the limit every arm returns 0
    /// quickly and the caller reports `TooLarge`.
    work: Cell<usize>,
    /// In a rule step: the operands whose differentials are left pending.
    shallow: Option<RefCell<&'a mut Pending>>,
    /// Whether the rule step's outermost operator has been entered.
    entered: Cell<bool>,
    /// The matrix function whose Fréchet derivative was needed, if any:
    /// the differential is then refused.
    frechet: Cell<Option<Func>>,
}

impl Diff<'_> {
    fn spend(&self, n: usize) -> bool {
        self.work.set(self.work.get().saturating_add(n));
        self.work.get() > MAX_DIFF_WORK
    }

    fn d(&self, f: &Expr) -> Expr {
        crate::stack::grow(|| {
            let zero = || Expr::zero(f.shape().clone());
            if self.spend(1) || !f.mentions(self.wrt) {
                return zero();
            }
            if let Some(pending) = &self.shallow {
                let is_wrt = matches!(f.kind(), Kind::Var(v) if &**v == self.wrt);
                if self.entered.get() && !is_wrt {
                    return pending.borrow_mut().stand_in(f);
                }
                self.entered.set(true);
            }
            match f.kind() {
                // d c = 0, d I = 0, d E_ij = 0
                Kind::Const(_)
                | Kind::Identity
                | Kind::Unit(_)
                | Kind::Ones
                | Kind::Commutation(..) => zero(),
                // d X = dX; other variables are constants
                Kind::Var(v) => {
                    if &**v == self.wrt {
                        self.dir.clone()
                    } else {
                        zero()
                    }
                }
                // d(A + B) = dA + dB
                Kind::Sum(terms) => Expr::sum_shaped(f.shape(), terms.iter().map(|t| self.d(t))),
                // d(A1 ⋯ An) = Σ_k A1 ⋯ dAk ⋯ An, factor order kept; a run
                // of r equal factors B gives Σ_j B^j dB B^(r-1-j), so that
                // `X X ⋯ X` costs as much as its k-term result, not k².
                Kind::Product(fs) => {
                    let mut runs: Vec<(&Expr, usize)> = Vec::new();
                    for x in fs {
                        match runs.last_mut() {
                            Some((y, n)) if *y == x => *n += 1,
                            _ => runs.push((x, 1)),
                        }
                    }
                    let active: usize = runs
                        .iter()
                        .filter(|(x, _)| x.mentions(self.wrt))
                        .map(|(_, n)| n)
                        .sum();
                    if self.spend(active.saturating_mul(runs.len() + 2)) {
                        return zero();
                    }
                    let mut terms = Vec::with_capacity(active);
                    for (r, &(x, n)) in runs.iter().enumerate() {
                        if !x.mentions(self.wrt) {
                            continue;
                        }
                        let dx = self.d(x);
                        for j in 0..n {
                            let mut factors = Vec::with_capacity(fs.len() + 2);
                            for (i, &(y, m)) in runs.iter().enumerate() {
                                if i != r {
                                    factors.extend(std::iter::repeat_n(y.clone(), m));
                                    continue;
                                }
                                if j > 0 {
                                    factors.push(Expr::power(x, &rat(j as i64)));
                                }
                                factors.push(dx.clone());
                                if n - 1 - j > 0 {
                                    factors.push(Expr::power(x, &rat((n - 1 - j) as i64)));
                                }
                            }
                            terms.push(Expr::product(factors));
                        }
                    }
                    Expr::sum_shaped(f.shape(), terms)
                }
                // d(A^T) = (dA)^T
                Kind::Transpose(a) => Expr::transpose(&self.d(a)),
                // d(A^-1) = -A^-1 dA A^-1
                Kind::Inverse(a) => {
                    let inv = f.clone();
                    Expr::neg(&Expr::product([inv.clone(), self.d(a), inv]))
                }
                Kind::Power(a, k) => self.power(f, a, k),
                // d(A .* B) = dA .* B + A .* dB
                Kind::Hadamard(a, b) => Expr::add(
                    &Expr::hadamard(&self.d(a), b),
                    &Expr::hadamard(a, &self.d(b)),
                ),
                // d(A ./ B) = dA ./ B - (A .* dB) ./ B.^2
                Kind::HadamardDiv(a, b) => Expr::sub(
                    &Expr::hadamard_div(&self.d(a), b),
                    &Expr::hadamard_div(
                        &Expr::hadamard(a, &self.d(b)),
                        &Expr::hadamard_pow(b, &rat(2)),
                    ),
                ),
                // d(A .^ k) = k A.^(k-1) .* dA
                Kind::HadamardPow(a, k) => Expr::scale(
                    k,
                    &Expr::hadamard(
                        &Expr::hadamard_pow(a, &(k - BigRational::one())),
                        &self.d(a),
                    ),
                ),
                // d(A ⊗ B) = dA ⊗ B + A ⊗ dB
                Kind::Kron(a, b) => {
                    Expr::add(&Expr::kron(&self.d(a), b), &Expr::kron(a, &self.d(b)))
                }
                Kind::Apply(func, a) => self.apply(f, *func, a),
                // d(a^b) = b a^(b-1) da + log(a) a^b db, entry by entry
                Kind::Pow(a, b) => {
                    let lower = Expr::pow(a, &Expr::sub(b, &Expr::int(1)));
                    let log = Expr::apply(Func::Elem(ElemFn::Log), a);
                    Expr::add(
                        &Expr::hadamard(&Expr::hadamard(b, &lower), &self.d(a)),
                        &Expr::hadamard(&Expr::hadamard(&log, f), &self.d(b)),
                    )
                }
            }
        })
    }

    fn power(&self, f: &Expr, a: &Expr, k: &BigRational) -> Expr {
        let da = self.d(a);
        if a.is_scalar() {
            // d(s^k) = k s^(k-1) ds
            return Expr::product([
                Expr::constant(k.clone()),
                Expr::power(a, &(k - BigRational::one())),
                da,
            ]);
        }
        // Integer powers of a square matrix, never commuted:
        // d(A^k) = Σ_{j=0}^{k-1} A^j dA A^(k-1-j)                    (k > 0)
        // with B = A^-1 and dB = -B dA B for negative powers:
        // d(B^m) = Σ_{j=0}^{m-1} B^j dB B^(m-1-j)                     (k = -m)
        let (base, dbase, m) = if k.is_positive() {
            (a.clone(), da, k.to_integer())
        } else {
            let b = Expr::inverse(a);
            let db = Expr::neg(&Expr::product([b.clone(), da, b.clone()]));
            (b, db, -k.to_integer())
        };
        let m: i64 = m.try_into().expect("exponent bounded by the shape checker");
        if self.spend(3 * m as usize) {
            return Expr::zero(f.shape().clone());
        }
        Expr::sum((0..m).map(|j| {
            Expr::product([
                Expr::power(&base, &rat(j)),
                dbase.clone(),
                Expr::power(&base, &rat(m - 1 - j)),
            ])
        }))
    }

    /// `d tr(a)` where `a` holds a matrix function: linearity through
    /// sums, transposes and constant scalar factors, and at a matrix
    /// function `d tr(f(Y)) = tr(f'(Y) dY)`; any other shape of `a` is
    /// `tr(d a)` (which refuses a matrix function it reaches).
    fn trace(&self, a: &Expr) -> Expr {
        if !a.mentions(self.wrt) {
            return Expr::zero(crate::shape::Shape::scalar());
        }
        match a.kind() {
            // d tr f(Y) = tr(f'(Y) dY)
            Kind::Apply(func, y) if func.is_matrix_function() => {
                let dy = self.d(y);
                Expr::apply(Func::Tr, &Expr::mul(&derivative_of(*func, y), &dy))
            }
            // tr(B^T) = tr(B)
            Kind::Transpose(b) => self.trace(b),
            // tr(B + C) = tr(B) + tr(C), when no term is a broadcast scalar
            Kind::Sum(ts) if ts.iter().all(|t| t.shape() == a.shape()) => Expr::sum_shaped(
                &crate::shape::Shape::scalar(),
                ts.iter().map(|t| self.trace(t)),
            ),
            // tr(c B) = c tr(B) for scalars c that do not vary
            Kind::Product(fs)
                if fs.iter().filter(|x| !x.is_scalar()).count() == 1
                    && fs.iter().all(|x| !x.is_scalar() || !x.mentions(self.wrt)) =>
            {
                let factors = fs.iter().map(|x| {
                    if x.is_scalar() {
                        x.clone()
                    } else {
                        self.trace(x)
                    }
                });
                Expr::product(factors.collect::<Vec<_>>())
            }
            _ => Expr::apply(Func::Tr, &self.d(a)),
        }
    }

    fn apply(&self, f: &Expr, func: Func, a: &Expr) -> Expr {
        crate::stack::grow(|| {
            if func == Func::Tr && has_matrix_function(a) {
                return self.trace(a);
            }
            if func.is_matrix_function() {
                // d f(Y) outside a trace: a Fréchet derivative
                if self.frechet.get().is_none() {
                    self.frechet.set(Some(func));
                }
                return Expr::zero(f.shape().clone());
            }
            let da = self.d(a);
            match func {
                // tr, sum, diag and vec are linear: d f(A) = f(dA)
                Func::Tr | Func::Sum | Func::Diag | Func::Vec => Expr::apply(func, &da),
                // d det A = det A tr(A^-1 dA)
                Func::Det => Expr::mul(
                    f,
                    &Expr::apply(Func::Tr, &Expr::mul(&Expr::inverse(a), &da)),
                ),
                // d logdet A = tr(A^-1 dA)
                Func::Logdet => Expr::apply(Func::Tr, &Expr::mul(&Expr::inverse(a), &da)),
                // d ‖A‖ = <A, dA> / ‖A‖: a^T da for vectors, tr(A^T dA) for matrices
                Func::Norm2 => {
                    let inner = if a.is_scalar() || a.shape().is_vector() {
                        Expr::mul(&Expr::transpose(a), &da)
                    } else {
                        Expr::apply(Func::Tr, &Expr::mul(&Expr::transpose(a), &da))
                    };
                    Expr::div(&inner, f)
                }
                // d ‖A‖₁ = <sign(A), dA> (where no entry of A is 0):
                // sign(a)^T da for vectors, tr(sign(A)^T dA) for matrices
                Func::Norm1 => {
                    let s = Expr::apply(Func::Elem(ElemFn::Sign), a);
                    if a.is_scalar() || a.shape().is_vector() {
                        Expr::mul(&Expr::transpose(&s), &da)
                    } else {
                        Expr::apply(Func::Tr, &Expr::mul(&Expr::transpose(&s), &da))
                    }
                }
                // d softmax(z) = (diag(p) - p p^T) dz with p = softmax(z)
                Func::Softmax => Expr::sub(
                    &Expr::mul(&Expr::apply(Func::Diag, f), &da),
                    &Expr::product([f.clone(), Expr::transpose(f), da]),
                ),
                // d logsumexp(z) = softmax(z)^T dz
                Func::Logsumexp => Expr::mul(&Expr::transpose(&Expr::apply(Func::Softmax, a)), &da),
                // d f(Z) = f'(Z) .* dZ, elementwise
                Func::Elem(g) => self.elementwise(f, g, a, &da),
                Func::Expm | Func::Logm | Func::Sqrtm => unreachable!("refused above"),
            }
        })
    }

    fn elementwise(&self, f: &Expr, g: ElemFn, z: &Expr, dz: &Expr) -> Expr {
        let one = Expr::int(1);
        let sq = |e: &Expr| Expr::hadamard_pow(e, &rat(2));
        let ap = |h: ElemFn| Expr::apply(Func::Elem(h), z);
        match g {
            // exp' = exp
            ElemFn::Exp => Expr::hadamard(f, dz),
            // log' z = 1/z
            ElemFn::Log => Expr::hadamard_div(dz, z),
            // sin' = cos
            ElemFn::Sin => Expr::hadamard(&ap(ElemFn::Cos), dz),
            // cos' = -sin
            ElemFn::Cos => Expr::neg(&Expr::hadamard(&ap(ElemFn::Sin), dz)),
            // tan' = 1 + tan^2
            ElemFn::Tan => Expr::hadamard(&Expr::add(&one, &sq(f)), dz),
            // tanh' = 1 - tanh^2
            ElemFn::Tanh => Expr::hadamard(&Expr::sub(&one, &sq(f)), dz),
            // sqrt' z = 1 / (2 sqrt z)
            ElemFn::Sqrt => Expr::scale(
                &BigRational::new(1.into(), 2.into()),
                &Expr::hadamard_div(dz, f),
            ),
            // abs' = sign (away from 0)
            ElemFn::Abs => Expr::hadamard(&ap(ElemFn::Sign), dz),
            // sign' = 0 (away from 0)
            ElemFn::Sign => Expr::zero(f.shape().clone()),
            // sigmoid' = sigmoid (1 - sigmoid)
            ElemFn::Sigmoid => Expr::hadamard(&Expr::hadamard(f, &Expr::sub(&one, f)), dz),
            // relu' = step(z) (away from 0)
            ElemFn::Relu => Expr::hadamard(&ap(ElemFn::Step), dz),
            // step' = 0 (away from 0)
            ElemFn::Step => Expr::zero(f.shape().clone()),
            // softplus' = sigmoid
            ElemFn::Softplus => Expr::hadamard(&ap(ElemFn::Sigmoid), dz),
            // arcsin' z = 1 / sqrt(1 - z^2)
            ElemFn::Arcsin => Expr::hadamard_div(dz, &unit_root(z)),
            // arccos' z = -1 / sqrt(1 - z^2)
            ElemFn::Arccos => Expr::neg(&Expr::hadamard_div(dz, &unit_root(z))),
            // arctan' z = 1 / (1 + z^2)
            ElemFn::Arctan => Expr::hadamard_div(dz, &Expr::add(&one, &sq(z))),
            // erf' z = (2/√π) e^(-z²) = 2 √2 φ(√2 z): the algebra's
            // constants are rational, and φ carries the 1/√(2π)
            ElemFn::Erf => {
                let root2 = Expr::apply(Func::Elem(ElemFn::Sqrt), &Expr::int(2));
                let inner = Expr::mul(&root2, z);
                Expr::hadamard(
                    &Expr::product([
                        Expr::int(2),
                        root2,
                        Expr::apply(Func::Elem(ElemFn::Normpdf), &inner),
                    ]),
                    dz,
                )
            }
            // Φ' = φ
            ElemFn::Normcdf => Expr::hadamard(&ap(ElemFn::Normpdf), dz),
            // φ' z = -z φ(z)
            ElemFn::Normpdf => Expr::neg(&Expr::hadamard(&Expr::hadamard(z, f), dz)),
        }
    }
}

/// Whether `e` applies a matrix function somewhere.
/// Each shared subtree is visited once.
pub fn has_matrix_function(e: &Expr) -> bool {
    let mut seen: crate::hash::FxHashSet<&Expr> = Default::default();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if matches!(x.kind(), Kind::Apply(f, _) if f.is_matrix_function()) {
            return true;
        }
        if seen.insert(x) {
            stack.extend(x.children());
        }
    }
    false
}

/// The scalar derivative f' of a matrix function, applied to `y`:
/// `expm' = expm`, `logm'(Y) = Y^-1`, `sqrtm'(Y) = (1/2) sqrtm(Y)^-1`.
fn derivative_of(func: Func, y: &Expr) -> Expr {
    match func {
        Func::Expm => Expr::apply(Func::Expm, y),
        Func::Logm => Expr::inverse(y),
        Func::Sqrtm => Expr::scale(
            &BigRational::new(1.into(), 2.into()),
            &Expr::inverse(&Expr::apply(Func::Sqrtm, y)),
        ),
        _ => unreachable!("not a matrix function: {func:?}"),
    }
}

/// `sqrt(1 - z.^2)`, the root in the derivatives of `arcsin` and `arccos`.
fn unit_root(z: &Expr) -> Expr {
    Expr::apply(
        Func::Elem(ElemFn::Sqrt),
        &Expr::sub(&Expr::int(1), &Expr::hadamard_pow(z, &rat(2))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::{Dim, Shape};

    #[test]
    fn a_derivation_names_each_pending_operand_once() {
        let m = |name| Expr::var(name, Shape::square(Dim::named("n")));
        let (a, b, x) = (m("A"), m("B"), m("X"));
        let xt = Expr::transpose(&x);
        let ax = Expr::product(vec![a, xt.clone()]);
        let bx = Expr::product(vec![b, xt.clone()]);
        let f = Expr::sum(vec![ax.clone(), bx.clone()]);
        let dx = m("dX");
        let mut pending = Pending::new();
        // d(A X^T + B X^T) = d(A X^T) + d(B X^T)
        let first = rule_step(&f, "X", &dx, &mut pending);
        assert_eq!(first.law, "sum rule");
        let names: Vec<(&str, &Expr)> = pending.iter().collect();
        assert_eq!(names, [("d#0", &ax), ("d#1", &bx)]);
        // both products leave d(X^T) pending, under one name
        for i in 0..2 {
            let operand = pending.get(i).expect("pending").1.clone();
            let step = rule_step(&operand, "X", &dx, &mut pending);
            assert!(step.result.mentions("d#2"), "{:?}", step.result);
        }
        assert_eq!(pending.len(), 3);
        assert_eq!(pending.get(2), Some(("d#2", &xt)));
    }
}
