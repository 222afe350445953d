//! The span-free algebra type: `Expr`, with exact `BigRational` coefficients
//! and every node's shape, built only through smart constructors.
//!
//! Invariants the constructors keep (and the printer, differentiator and
//! simplifier rely on):
//! - sums are flat and hold no zero terms; an empty sum is the zero of its
//!   shape;
//! - a product is flat, in the order coefficient, scalar factors (those with
//!   a 1×1 shape, numerators before denominators `s^-k`), then the matrix
//!   chain in its original order; a 1×1 chain meeting a bigger chain is kept
//!   whole as one scalar factor, so `(x^T A x) B` never becomes the
//!   ill-shaped chain `x^T A x B`;
//! - zeros annihilate, ones and identities are dropped from products.
//!
//! Equality is structural (shapes included): two `Expr`s are equal when they
//! were built the same way, which is what like-term collection compares.

use crate::shape::{Dim, Shape};
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::rc::Rc;

/// An expression of the algebra. Cheap to clone (reference counted).
///
/// Each node stores the hash of its whole subtree, computed once from its
/// children's, so hashing is O(1) and unequal subtrees rarely need a deep
/// comparison.
#[derive(Clone, Eq, PartialOrd, Ord, Debug)]
pub struct Expr(Rc<Node>);

#[derive(PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Node {
    kind: Kind,
    shape: Shape,
    /// The hash of `kind` and `shape` (last, so it never decides an order).
    hash: u64,
}

impl PartialEq for Expr {
    fn eq(&self, other: &Expr) -> bool {
        Rc::ptr_eq(&self.0, &other.0) || (self.0.hash == other.0.hash && self.0 == other.0)
    }
}

impl std::hash::Hash for Expr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

/// The kinds of expression nodes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Kind {
    /// An exact rational constant; non-zero constants are 1×1, zero may have
    /// any shape.
    Const(BigRational),
    /// A variable (including differentials `dX` and directions `H`).
    Var(Rc<str>),
    /// The identity matrix `I` of the node's (square) shape.
    Identity,
    /// The unit matrix `E_ij` (indices `ij`) or unit vector `e_i`.
    Unit(Rc<str>),
    /// The all-ones matrix or vector `ones` of the node's shape (the
    /// gradient of `sum`).
    Ones,
    /// The commutation matrix `K` with `vec(F^T) = K vec(F)` for a `p×q`
    /// matrix `F` (fields `p`, `q`); its shape is `pq×pq`.
    Commutation(Dim, Dim),
    /// A sum of at least two terms (a scalar term broadcasts).
    Sum(Vec<Expr>),
    /// A product of at least two factors; see the module invariants.
    Product(Vec<Expr>),
    /// `A^T`
    Transpose(Expr),
    /// `A^-1`
    Inverse(Expr),
    /// `A^k`: an integer power of a square matrix or a rational power of a
    /// scalar.
    Power(Expr, BigRational),
    /// `A .* B`
    Hadamard(Expr, Expr),
    /// `A ./ B`
    HadamardDiv(Expr, Expr),
    /// `A .^ k`
    HadamardPow(Expr, BigRational),
    /// `A ⊗ B`
    Kron(Expr, Expr),
    /// A function applied to one argument.
    Apply(Func, Expr),
    /// `a^b` with an exponent that is an expression, not a constant, taken
    /// entry by entry: `a` and `b` of one shape, or either of them a
    /// scalar that broadcasts (`alpha^(x^T x)`, `x .^ y`, `2 .^ x`).
    /// Defined for a positive base.
    Pow(Expr, Expr),
}

// The functions of the algebra are named in the table of builtins.
pub use crate::builtins::{ElemFn, Func};

/// Shorthand for an integer rational.
pub fn rat(n: i64) -> BigRational {
    BigRational::from_integer(BigInt::from(n))
}

impl Expr {
    fn node(kind: Kind, shape: Shape) -> Expr {
        use std::hash::{Hash, Hasher};
        // a fast fixed-key hasher: hashes are the same from run to run
        let mut h = crate::hash::FxHasher::default();
        kind.hash(&mut h);
        shape.hash(&mut h);
        let hash = h.finish();
        Expr(Rc::new(Node { kind, shape, hash }))
    }

    /// What the node is.
    pub fn kind(&self) -> &Kind {
        &self.0.kind
    }

    /// Its shape.
    pub fn shape(&self) -> &Shape {
        &self.0.shape
    }

    /// Whether it is 1×1.
    pub fn is_scalar(&self) -> bool {
        self.0.shape.is_scalar()
    }

    /// Whether it is the constant 0 (of any shape).
    pub fn is_zero(&self) -> bool {
        matches!(self.kind(), Kind::Const(c) if c.is_zero())
    }

    /// Whether it is the scalar constant 1.
    pub fn is_one(&self) -> bool {
        matches!(self.kind(), Kind::Const(c) if c.is_one())
    }

    /// The constant value, if it is one.
    pub fn as_const(&self) -> Option<&BigRational> {
        match self.kind() {
            Kind::Const(c) => Some(c),
            _ => None,
        }
    }

    // ----- leaves -----

    /// A scalar constant.
    pub fn constant(c: BigRational) -> Expr {
        Expr::node(Kind::Const(c), Shape::scalar())
    }

    /// An integer scalar constant.
    pub fn int(n: i64) -> Expr {
        Expr::constant(rat(n))
    }

    /// The zero of a shape.
    pub fn zero(shape: Shape) -> Expr {
        Expr::node(Kind::Const(BigRational::zero()), shape)
    }

    /// A variable of a shape.
    pub fn var(name: &str, shape: Shape) -> Expr {
        Expr::node(Kind::Var(Rc::from(name)), shape)
    }

    /// The `n×n` identity.
    pub fn identity(n: Dim) -> Expr {
        if n.is_one() {
            return Expr::int(1);
        }
        Expr::node(Kind::Identity, Shape::square(n))
    }

    /// The unit matrix `E_ij` (or unit vector `e_i`) of a shape.
    pub fn unit(indices: &str, shape: Shape) -> Expr {
        Expr::node(Kind::Unit(Rc::from(indices)), shape)
    }

    /// The all-ones matrix (or vector) of a shape; `1` when 1×1.
    pub fn ones(shape: Shape) -> Expr {
        if shape.is_scalar() {
            return Expr::int(1);
        }
        Expr::node(Kind::Ones, shape)
    }

    /// The commutation matrix `K` with `vec(F^T) = K vec(F)` for a `p×q`
    /// matrix `F`; the identity when `F` is a vector.
    pub fn commutation(p: Dim, q: Dim) -> Expr {
        let n = p.times(&q).unwrap_or_else(|| Dim::lit(u64::MAX));
        if p.is_one() || q.is_one() {
            return Expr::identity(n);
        }
        Expr::node(Kind::Commutation(p, q), Shape::square(n))
    }

    // ----- sums -----

    /// `a + b`, with broadcasting of a scalar term.
    pub fn add(a: &Expr, b: &Expr) -> Expr {
        Expr::sum([a.clone(), b.clone()])
    }

    /// `a - b`.
    pub fn sub(a: &Expr, b: &Expr) -> Expr {
        Expr::add(a, &Expr::neg(b))
    }

    /// The sum of terms that together have `shape`: the same as
    /// [`Expr::sum`], except that when every term is a scalar and `shape` is
    /// a matrix's, the result is the broadcast `s ones` of that shape rather
    /// than the scalar `s` (the case of a sum whose matrix terms vanished, or
    /// of such a sum's terms mapped one by one).
    pub fn sum_shaped(shape: &Shape, terms: impl IntoIterator<Item = Expr>) -> Expr {
        Expr::sum(terms.into_iter().chain([Expr::zero(shape.clone())]))
    }

    /// The sum of the terms: flattened, zeros dropped.
    pub fn sum(terms: impl IntoIterator<Item = Expr>) -> Expr {
        let mut shape: Option<Shape> = None;
        let mut flat: Vec<Expr> = Vec::new();
        for t in terms {
            if shape.as_ref().is_none_or(|s| s.is_scalar()) {
                shape = Some(t.shape().clone());
            }
            match t.kind() {
                Kind::Sum(inner) => flat.extend(inner.iter().cloned()),
                _ if t.is_zero() => {}
                _ => flat.push(t),
            }
        }
        let shape = shape.unwrap_or_else(Shape::scalar);
        match flat.len() {
            0 => Expr::zero(shape),
            1 => {
                let only = flat.pop().expect("one term");
                if only.is_scalar() && !shape.is_scalar() {
                    // A broadcast scalar whose matrix partners vanished: keep
                    // it a sum so the node keeps the matrix shape.
                    Expr::node(Kind::Sum(vec![only, Expr::zero(shape.clone())]), shape)
                } else {
                    only
                }
            }
            _ => Expr::node(Kind::Sum(flat), shape),
        }
    }

    // ----- products -----

    /// `-a`.
    pub fn neg(a: &Expr) -> Expr {
        Expr::scale(&rat(-1), a)
    }

    /// `c a` for a rational `c`.
    pub fn scale(c: &BigRational, a: &Expr) -> Expr {
        Expr::mul(&Expr::constant(c.clone()), a)
    }

    /// `a / s` for a scalar `s`.
    pub fn div(a: &Expr, s: &Expr) -> Expr {
        Expr::mul(a, &Expr::power(s, &rat(-1)))
    }

    /// The product of the factors, left to right, in one pass.
    pub fn product(factors: impl IntoIterator<Item = Expr>) -> Expr {
        let mut acc = ProductBuilder::default();
        for f in factors {
            acc.push(&f);
        }
        acc.finish()
    }

    /// `a b`: the matrix product, or scalar multiplication when one side is
    /// 1×1.
    pub fn mul(a: &Expr, b: &Expr) -> Expr {
        let mut acc = ProductBuilder::default();
        acc.push(a);
        acc.push(b);
        acc.finish()
    }

    /// A product node over a chain of non-scalar factors (kept whole).
    fn chain(mut factors: Vec<Expr>) -> Expr {
        if factors.len() > 1 {
            let rows = factors[0].shape().rows.clone();
            factors.retain(|f| !matches!(f.kind(), Kind::Identity));
            if factors.is_empty() {
                return Expr::identity(rows);
            }
        }
        if factors.len() == 1 {
            return factors.pop().expect("one factor");
        }
        let shape = Shape::new(
            factors[0].shape().rows.clone(),
            factors[factors.len() - 1].shape().cols.clone(),
        );
        Expr::node(Kind::Product(factors), shape)
    }

    /// Whether this is a scalar denominator `s^-k`.
    pub fn is_denominator(&self) -> bool {
        matches!(self.kind(), Kind::Power(_, k) if k.is_negative()) && self.is_scalar()
    }

    /// The factors of a product, or the expression itself as one factor.
    pub(crate) fn flat_factors(&self) -> &[Expr] {
        match self.kind() {
            Kind::Product(fs) => fs,
            _ => std::slice::from_ref(self),
        }
    }

    /// Splits into (coefficient, scalar factors, matrix chain).
    pub fn split_product(&self) -> (BigRational, Vec<Expr>, Vec<Expr>) {
        match self.kind() {
            Kind::Const(c) => (c.clone(), vec![], vec![]),
            Kind::Product(fs) => {
                let mut coeff = BigRational::one();
                let mut scalars = Vec::new();
                let mut chain = Vec::new();
                for f in fs {
                    match f.kind() {
                        Kind::Const(c) if coeff.is_one() => coeff = c.clone(),
                        Kind::Const(c) => coeff *= c,
                        _ if f.is_scalar() => scalars.push(f.clone()),
                        _ => chain.push(f.clone()),
                    }
                }
                (coeff, scalars, chain)
            }
            _ if self.is_scalar() => (BigRational::one(), vec![self.clone()], vec![]),
            _ => (BigRational::one(), vec![], vec![self.clone()]),
        }
    }

    // ----- unary -----

    /// `a^T`.
    pub fn transpose(a: &Expr) -> Expr {
        match a.kind() {
            Kind::Const(_) | Kind::Ones => Expr::node(a.kind().clone(), a.shape().transpose()),
            Kind::Identity => a.clone(),
            // K_{p,q}^T = K_{q,p}
            Kind::Commutation(p, q) => Expr::commutation(q.clone(), p.clone()),
            _ => Expr::node(Kind::Transpose(a.clone()), a.shape().transpose()),
        }
    }

    /// `a^-1` (for a scalar, `a^-1` as a power).
    pub fn inverse(a: &Expr) -> Expr {
        if a.is_scalar() {
            return Expr::power(a, &rat(-1));
        }
        match a.kind() {
            Kind::Identity => a.clone(),
            // K is orthogonal: K_{p,q}^-1 = K_{q,p}
            Kind::Commutation(p, q) => Expr::commutation(q.clone(), p.clone()),
            _ => Expr::node(Kind::Inverse(a.clone()), a.shape().clone()),
        }
    }

    /// `a^k`.
    pub fn power(a: &Expr, k: &BigRational) -> Expr {
        if k.is_one() {
            return a.clone();
        }
        if k.is_zero() {
            return Expr::identity(a.shape().rows.clone());
        }
        if let Some(c) = a.as_const()
            && k.is_integer()
            && !(c.is_zero() && k.is_negative())
            && k.abs() <= rat(64)
        {
            let n: i32 = k.to_integer().try_into().expect("small exponent");
            return Expr::constant(num_traits::Pow::pow(c, n));
        }
        if !a.is_scalar() && *k == rat(-1) {
            return Expr::inverse(a);
        }
        // (a^j)^k = a^(jk) for integer k
        if let Kind::Power(base, j) = a.kind()
            && k.is_integer()
        {
            return Expr::power(base, &(j * k));
        }
        Expr::node(Kind::Power(a.clone(), k.clone()), a.shape().clone())
    }

    /// A function applied to `a`.
    pub fn apply(f: Func, a: &Expr) -> Expr {
        let shape = match f {
            Func::Tr
            | Func::Det
            | Func::Logdet
            | Func::Sum
            | Func::Norm2
            | Func::Norm1
            | Func::Logsumexp => Shape::scalar(),
            Func::Softmax | Func::Expm | Func::Logm | Func::Sqrtm => a.shape().clone(),
            Func::Diag if a.shape().is_vector() => Shape::square(a.shape().rows.clone()),
            Func::Diag => Shape::new(a.shape().rows.clone(), Dim::one()),
            Func::Vec => Shape::new(a.shape().vec_len(), Dim::one()),
            Func::Elem(_) => a.shape().clone(),
        };
        let linear = matches!(f, Func::Tr | Func::Diag | Func::Vec | Func::Sum);
        if linear && a.is_zero() {
            return Expr::zero(shape);
        }
        if matches!(f, Func::Tr | Func::Sum | Func::Vec) && a.is_scalar() {
            return a.clone();
        }
        Expr::node(Kind::Apply(f, a.clone()), shape)
    }

    // ----- binary elementwise and Kronecker -----

    /// `a .* b` (an ordinary product when one side is a scalar).
    pub fn hadamard(a: &Expr, b: &Expr) -> Expr {
        if a.is_scalar() || b.is_scalar() {
            return Expr::mul(a, b);
        }
        if a.is_zero() || b.is_zero() {
            return Expr::zero(a.shape().clone());
        }
        if matches!(a.kind(), Kind::Ones) {
            return b.clone();
        }
        if matches!(b.kind(), Kind::Ones) {
            return a.clone();
        }
        Expr::node(Kind::Hadamard(a.clone(), b.clone()), a.shape().clone())
    }

    /// `a ./ b` (a division when `b` is a scalar).
    pub fn hadamard_div(a: &Expr, b: &Expr) -> Expr {
        if b.is_scalar() {
            return Expr::div(a, b);
        }
        if a.is_zero() {
            return Expr::zero(b.shape().clone());
        }
        // c ones ./ B = c B.^-1
        let (c, scalars, chain) = a.split_product();
        if let [ones] = chain.as_slice()
            && matches!(ones.kind(), Kind::Ones)
        {
            let mut factors = vec![Expr::constant(c)];
            factors.extend(scalars);
            factors.push(Expr::hadamard_pow(b, &rat(-1)));
            return Expr::product(factors);
        }
        let shape = if a.is_scalar() {
            b.shape().clone()
        } else {
            a.shape().clone()
        };
        Expr::node(Kind::HadamardDiv(a.clone(), b.clone()), shape)
    }

    /// `a .^ k` (a power when `a` is a scalar).
    pub fn hadamard_pow(a: &Expr, k: &BigRational) -> Expr {
        if a.is_scalar() {
            return Expr::power(a, k);
        }
        if k.is_one() {
            return a.clone();
        }
        Expr::node(Kind::HadamardPow(a.clone(), k.clone()), a.shape().clone())
    }

    /// `a^b` entry by entry, for an exponent that may be any expression:
    /// a constant exponent gives [`Expr::hadamard_pow`] (a power for a
    /// scalar base). The shapes must match or one side be a scalar.
    pub fn pow(a: &Expr, b: &Expr) -> Expr {
        if let Some(k) = b.as_const() {
            return Expr::hadamard_pow(a, k);
        }
        if a.is_one() && b.is_scalar() {
            return a.clone();
        }
        let shape = if a.is_scalar() {
            b.shape().clone()
        } else {
            a.shape().clone()
        };
        Expr::node(Kind::Pow(a.clone(), b.clone()), shape)
    }

    /// `a ⊗ b` (an ordinary product when one side is a scalar).
    pub fn kron(a: &Expr, b: &Expr) -> Expr {
        if a.is_scalar() || b.is_scalar() {
            return Expr::mul(a, b);
        }
        let big = Dim::lit(u64::MAX);
        let shape = Shape::new(
            a.shape()
                .rows
                .times(&b.shape().rows)
                .unwrap_or_else(|| big.clone()),
            a.shape().cols.times(&b.shape().cols).unwrap_or(big),
        );
        if a.is_zero() || b.is_zero() {
            return Expr::zero(shape);
        }
        Expr::node(Kind::Kron(a.clone(), b.clone()), shape)
    }

    /// The children of a node, in order.
    pub fn children(&self) -> Vec<&Expr> {
        match self.kind() {
            Kind::Const(_)
            | Kind::Var(_)
            | Kind::Identity
            | Kind::Unit(_)
            | Kind::Ones
            | Kind::Commutation(..) => vec![],
            Kind::Sum(xs) | Kind::Product(xs) => xs.iter().collect(),
            Kind::Transpose(a)
            | Kind::Inverse(a)
            | Kind::Power(a, _)
            | Kind::HadamardPow(a, _)
            | Kind::Apply(_, a) => vec![a],
            Kind::Hadamard(a, b) | Kind::HadamardDiv(a, b) | Kind::Kron(a, b) | Kind::Pow(a, b) => {
                vec![a, b]
            }
        }
    }

    /// The same operator over new children (as many as [`Expr::children`]
    /// gives, in its order), through the smart constructors.
    pub fn rebuild(&self, kids: Vec<Expr>) -> Expr {
        let k = |i: usize| kids[i].clone();
        match self.kind() {
            Kind::Const(_)
            | Kind::Var(_)
            | Kind::Identity
            | Kind::Unit(_)
            | Kind::Ones
            | Kind::Commutation(..) => self.clone(),
            Kind::Sum(_) => Expr::sum_shaped(self.shape(), kids),
            Kind::Product(_) => Expr::product(kids),
            Kind::Transpose(_) => Expr::transpose(&k(0)),
            Kind::Inverse(_) => Expr::inverse(&k(0)),
            Kind::Power(_, p) => Expr::power(&k(0), p),
            Kind::HadamardPow(_, p) => Expr::hadamard_pow(&k(0), p),
            Kind::Apply(f, _) => Expr::apply(*f, &k(0)),
            Kind::Hadamard(..) => Expr::hadamard(&k(0), &k(1)),
            Kind::HadamardDiv(..) => Expr::hadamard_div(&k(0), &k(1)),
            Kind::Kron(..) => Expr::kron(&k(0), &k(1)),
            Kind::Pow(..) => Expr::pow(&k(0), &k(1)),
        }
    }

    /// Whether the variable `name` occurs in the expression.
    pub fn mentions(&self, name: &str) -> bool {
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            if let Kind::Var(v) = e.kind()
                && &**v == name
            {
                return true;
            }
            stack.extend(e.children());
        }
        false
    }

    /// Number of nodes in the tree (shared subtrees counted each time).
    pub fn size(&self) -> usize {
        let mut n = 0;
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            n += 1;
            stack.extend(e.children());
        }
        n
    }
}

/// The shape of `a b` under SPEC §2's rules (a 1×1 side scales the other).
pub fn product_shape(a: &Shape, b: &Shape) -> Shape {
    if a.is_scalar() {
        b.clone()
    } else if b.is_scalar() {
        a.clone()
    } else {
        Shape::new(a.rows.clone(), b.cols.clone())
    }
}

/// Accumulates a product left to right in the canonical form of the module
/// invariants, in time linear in the number of factors.
#[derive(Default)]
struct ProductBuilder {
    shape: Option<Shape>,
    zero: bool,
    coeff: Option<BigRational>,
    nums: Vec<Expr>,
    dens: Vec<Expr>,
    chain: Vec<Expr>,
}

impl ProductBuilder {
    fn push(&mut self, f: &Expr) {
        let Some(shape) = self.shape.take() else {
            self.shape = Some(f.shape().clone());
            self.absorb(f);
            return;
        };
        let next = product_shape(&shape, f.shape());
        if f.is_zero() {
            self.zero = true;
        }
        if !self.zero {
            let parts = f.flat_factors();
            // (Non-zero constants are 1×1, and counted apart.)
            let has_matrix = parts.iter().any(|g| !g.is_scalar());
            let has_scalar = parts
                .iter()
                .any(|g| g.is_scalar() && !matches!(g.kind(), Kind::Const(_)));
            // A 1×1 chain so far becomes one scalar factor as soon as a
            // matrix or another scalar factor follows it, exactly as the
            // parser reads `(x^T x) A` and `(x^T x) alpha` left to right.
            if !self.chain.is_empty() && shape.is_scalar() && (has_matrix || has_scalar) {
                let whole = Expr::chain(std::mem::take(&mut self.chain));
                self.nums.push(whole);
                self.add_each(parts);
            } else if !self.chain.is_empty() && has_matrix && f.is_scalar() && !shape.is_scalar() {
                // a 1×1 chain inside `f` stays one scalar factor
                let mut matrices = Vec::new();
                for g in parts {
                    if g.is_scalar() {
                        self.add_each(std::slice::from_ref(g));
                    } else {
                        matrices.push(g.clone());
                    }
                }
                self.add_each(&[Expr::chain(matrices)]);
            } else {
                self.add_each(parts);
            }
        }
        self.shape = Some(next);
    }

    fn absorb(&mut self, f: &Expr) {
        if f.is_zero() {
            self.zero = true;
            return;
        }
        self.add_each(f.flat_factors());
    }

    /// Adds factors of a flat product: constants into the coefficient,
    /// scalars among the numerators or denominators, the rest to the chain.
    fn add_each(&mut self, parts: &[Expr]) {
        for g in parts {
            match g.kind() {
                Kind::Const(c) => {
                    if !c.is_one() {
                        self.coeff = Some(match self.coeff.take() {
                            Some(old) => old * c,
                            None => c.clone(),
                        });
                    }
                }
                _ if g.is_scalar() => {
                    if g.is_denominator() {
                        self.dens.push(g.clone());
                    } else {
                        self.nums.push(g.clone());
                    }
                }
                _ => self.chain.push(g.clone()),
            }
        }
    }

    fn finish(self) -> Expr {
        let shape = self.shape.unwrap_or_else(Shape::scalar);
        let coeff = self.coeff.unwrap_or_else(BigRational::one);
        if self.zero || coeff.is_zero() {
            return Expr::zero(shape);
        }
        let mut nums = self.nums;
        let mut chain = self.chain;
        // A proper prefix of the chain with a 1×1 product is a scalar
        // factor: `r v r2` (row, column, row) is `(r v) r2`, the one reading
        // the parser gives, so every product has one canonical form.
        let mut start = 0;
        for k in 0..chain.len().saturating_sub(1) {
            if chain[start].shape().rows.is_one() && chain[k].shape().cols.is_one() {
                nums.push(Expr::chain(chain[start..=k].to_vec()));
                start = k + 1;
            }
        }
        if start > 0 {
            chain.drain(..start);
        }
        // A 1×1 chain divided by something prints as `(x^T x) / s`: keep it
        // whole, as the parser does when `/ s` follows it.
        if !self.dens.is_empty() && chain.len() > 1 && shape.is_scalar() {
            nums.push(Expr::chain(std::mem::take(&mut chain)));
        }
        if chain.len() > 1 {
            chain.retain(|f| !matches!(f.kind(), Kind::Identity));
            if chain.is_empty() {
                chain.push(Expr::identity(shape.rows.clone()));
            }
        }
        let mut factors = if coeff.is_one() && nums.is_empty() && self.dens.is_empty() {
            // the common case: a bare chain is the product's factors as is
            chain
        } else {
            let mut f = Vec::with_capacity(1 + nums.len() + self.dens.len() + chain.len());
            if !coeff.is_one() {
                f.push(Expr::constant(coeff));
            }
            f.extend(nums);
            f.extend(self.dens);
            f.extend(chain);
            f
        };
        match factors.len() {
            0 => Expr::int(1),
            1 => factors.pop().expect("one factor"),
            _ => Expr::node(Kind::Product(factors), shape),
        }
    }
}
