//! Deterministic canonicalisation before the e-graph: the expanded sum of
//! products, with exact coefficients, transposes pushed onto the leaves,
//! adjacent inverses and identities cancelled, scalar factors merged into
//! powers, and like terms collected in the order they first appear.
//!
//! Associativity, commutativity and distributivity are what make e-graphs
//! explode, so they are done here, in time linear in the size of the
//! expansion: sums are flat lists, products are flat chains, and only the
//! laws that need search (rotations under a trace, a 1×1 term equal to its
//! transpose, inverses and determinants of products) are left to egg, which
//! then only sees one term at a time.

use crate::expr::{ElemFn, Expr, Func, Kind, rat};
use crate::hash::FxHashMap;
use crate::simplify::Simplifier;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// A term: an exact coefficient times a monomial (a product without a
/// coefficient, or the scalar `1`).
pub type Term = (BigRational, Expr);

fn one() -> Expr {
    Expr::int(1)
}

/// Counts the transposes in a tree.
fn transposes(e: &Expr) -> usize {
    let mut n = 0;
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        n += usize::from(matches!(x.kind(), Kind::Transpose(_)));
        stack.extend(x.children());
    }
    n
}

/// Whether a chain factor is neither an inverse, a power, a commutation
/// matrix nor a transposed inverse: two such factors cancel or merge into a
/// power only when they are equal.
fn plain_factor(f: &Expr) -> bool {
    match f.kind() {
        Kind::Inverse(_) | Kind::Power(..) | Kind::Commutation(..) => false,
        Kind::Transpose(a) => !matches!(a.kind(), Kind::Inverse(_)),
        _ => true,
    }
}

/// The product of a chain of non-scalar factors.
fn chain(factors: Vec<Expr>) -> Expr {
    Expr::product(factors)
}

/// Adds terms with equal monomials, keeping the order of first appearance
/// and dropping those whose coefficients cancel.
pub fn collect(terms: Vec<Term>) -> Vec<Term> {
    let mut out: Vec<Term> = Vec::with_capacity(terms.len());
    let mut seen: FxHashMap<Expr, usize> = FxHashMap::default();
    for (c, m) in terms {
        if c.is_zero() {
            continue;
        }
        match seen.get(&m) {
            Some(&i) => out[i].0 += c,
            None => {
                seen.insert(m.clone(), out.len());
                out.push((c, m));
            }
        }
    }
    out.retain(|(c, _)| !c.is_zero());
    out
}

/// The sum of the terms.
pub fn rebuild(terms: &[Term], shape: &crate::shape::Shape) -> Expr {
    // no terms: the zero of the shape
    Expr::sum_shaped(shape, terms.iter().map(|(c, m)| Expr::scale(c, m)))
}

impl Simplifier<'_> {
    /// The simplified form of `e` in the default normal form.
    pub(crate) fn normal(&mut self, e: &Expr) -> Expr {
        if let Some(done) = self.cache.get(e) {
            return done.clone();
        }
        let terms = self.expand(e);
        let terms = collect(terms);
        let terms = self.merge_like_terms(terms);
        let out = rebuild(&terms, e.shape());
        self.cache.insert(e.clone(), out.clone());
        self.cache.insert(out.clone(), out.clone());
        out
    }

    fn symmetric_var(&self, e: &Expr) -> bool {
        matches!(e.kind(), Kind::Var(v) if self.symmetric.contains(&**v))
    }

    /// `e^T` with the transpose pushed onto the leaves (`e` canonical).
    pub(crate) fn transpose(&self, e: &Expr) -> Expr {
        crate::stack::grow(|| {
            if e.is_scalar() {
                return e.clone();
            }
            match e.kind() {
                Kind::Var(_) if self.symmetric_var(e) => {
                    self.fire("a symmetric matrix is its own transpose");
                    e.clone()
                }
                Kind::Const(_)
                | Kind::Var(_)
                | Kind::Unit(_)
                | Kind::Ones
                | Kind::Commutation(..) => Expr::transpose(e),
                Kind::Identity => e.clone(),
                Kind::Transpose(a) => {
                    self.fire("the transpose of a transpose");
                    a.clone()
                }
                Kind::Product(_) => {
                    self.fire("the transpose of a product reverses it");
                    let (c, scalars, ch) = e.split_product();
                    let mut fs = vec![Expr::constant(c)];
                    fs.extend(scalars);
                    fs.extend(ch.iter().rev().map(|f| self.transpose(f)));
                    Expr::product(fs)
                }
                Kind::Sum(ts) => {
                    Expr::sum_shaped(&e.shape().transpose(), ts.iter().map(|t| self.transpose(t)))
                }
                Kind::Inverse(a) => match a.kind() {
                    Kind::Var(_) if self.symmetric_var(a) => e.clone(),
                    Kind::Var(_) | Kind::Unit(_) => Expr::transpose(e),
                    _ => {
                        self.fire("transpose and inverse commute");
                        Expr::inverse(&self.transpose(a))
                    }
                },
                Kind::Power(a, k) => Expr::power(&self.transpose(a), k),
                Kind::Hadamard(a, b) => Expr::hadamard(&self.transpose(a), &self.transpose(b)),
                Kind::HadamardDiv(a, b) => {
                    Expr::hadamard_div(&self.transpose(a), &self.transpose(b))
                }
                Kind::HadamardPow(a, k) => Expr::hadamard_pow(&self.transpose(a), k),
                Kind::Pow(a, b) => Expr::pow(&self.transpose(a), &self.transpose(b)),
                Kind::Kron(a, b) => Expr::kron(&self.transpose(a), &self.transpose(b)),
                Kind::Apply(Func::Elem(f), a) => {
                    let t = self.transpose(a);
                    if transposes(&t) > transposes(a) {
                        Expr::transpose(e)
                    } else {
                        Expr::apply(Func::Elem(*f), &t)
                    }
                }
                Kind::Apply(Func::Diag, a) if a.shape().is_vector() => e.clone(),
                Kind::Apply(..) => Expr::transpose(e),
            }
        })
    }

    /// The inverse of one canonical chain factor, on the leaves.
    fn inverse_factor(&self, f: &Expr) -> Expr {
        match f.kind() {
            Kind::Inverse(a) => a.clone(),
            Kind::Transpose(a) => match a.kind() {
                Kind::Inverse(b) => Expr::transpose(b),
                _ => Expr::transpose(&Expr::inverse(a)),
            },
            Kind::Power(a, k) => Expr::power(a, &-k),
            _ => Expr::inverse(f),
        }
    }

    /// A square chain factor as (base, integer exponent): `X^-2` is
    /// (X, -2), `X^-T` is (X^T, -1).
    fn power_parts(&self, f: &Expr) -> (Expr, BigRational) {
        crate::stack::grow(|| match f.kind() {
            Kind::Power(a, k) if !f.is_scalar() => {
                let (b, j) = self.power_parts(a);
                (b, j * k)
            }
            Kind::Inverse(a) => (a.clone(), -BigRational::one()),
            Kind::Transpose(a) if matches!(a.kind(), Kind::Inverse(_)) => {
                let Kind::Inverse(b) = a.kind() else {
                    unreachable!("matched above")
                };
                (Expr::transpose(b), -BigRational::one())
            }
            _ => (f.clone(), BigRational::one()),
        })
    }

    /// `A^j A^k = A^(j+k)` for adjacent chain factors with one base: the
    /// merged factor (none when the powers cancel), or `None` when the
    /// bases differ.
    fn merge_powers(&self, a: &Expr, b: &Expr) -> Option<Option<Expr>> {
        if a.is_scalar() || !a.shape().is_square() {
            return None;
        }
        let (ba, ja) = self.power_parts(a);
        let (bb, jb) = self.power_parts(b);
        if ba != bb {
            return None;
        }
        let k = ja + jb;
        if k.is_zero() {
            return Some(None);
        }
        Some(Some(if k.is_negative() {
            let inv = self.inverse_factor(&ba);
            Expr::power(&inv, &-k)
        } else {
            Expr::power(&ba, &k)
        }))
    }

    /// Builds one term from a coefficient and factors: flattens products,
    /// merges equal scalar factors into powers, cancels `X X^-1` in the
    /// chain, and writes a 1×1 chain the way round with fewer transposes.
    pub(crate) fn make_product(&self, coeff: BigRational, factors: &[Expr]) -> Term {
        let mut c = coeff;
        let mut scalars: Vec<(Expr, BigRational)> = Vec::new();
        let mut stack: Vec<Expr> = Vec::new();
        let mut rows = None;
        let note_scalar =
            |s: Expr, k: BigRational, scalars: &mut Vec<(Expr, BigRational)>| match scalars
                .iter_mut()
                .find(|(b, _)| *b == s)
            {
                Some((_, e)) => {
                    self.fire("equal scalar factors multiply into a power");
                    *e += k
                }
                None => scalars.push((s, k)),
            };
        for f in factors {
            // f's coefficient, scalar factors and chain, read in place
            let parts = f.flat_factors();
            let is_const = |p: &Expr| matches!(p.kind(), Kind::Const(_));
            for p in parts {
                if let Kind::Const(k) = p.kind()
                    && !k.is_one()
                {
                    c *= k;
                }
            }
            if c.is_zero() {
                return (c, one());
            }
            for s in parts.iter().filter(|p| p.is_scalar() && !is_const(p)) {
                let (base, k) = match s.kind() {
                    Kind::Power(b, k) => (b.clone(), k.clone()),
                    _ => (s.clone(), BigRational::one()),
                };
                note_scalar(self.orient(&base), k, &mut scalars);
            }
            let fch = parts.iter().filter(|p| !p.is_scalar() && !is_const(p));
            if f.is_scalar() && fch.clone().next().is_some() {
                let mut pair = fch.clone();
                if let (Some(a), Some(b), None) = (pair.next(), pair.next(), pair.next())
                    && let Some(s) = self.dot_cancel(a, b)
                {
                    let (k, ss, _) = s.split_product();
                    c *= k;
                    for x in ss {
                        note_scalar(x, BigRational::one(), &mut scalars);
                    }
                    continue;
                }
                note_scalar(
                    self.orient(&chain(fch.cloned().collect())),
                    BigRational::one(),
                    &mut scalars,
                );
                continue;
            }
            for mut g in fch.cloned() {
                // diag(a) diag(b) = diag(a .* b), diag(a) x = a .* x
                while let Some(m) = stack.last().and_then(|t| self.diag_product(t, &g)) {
                    stack.pop();
                    g = m;
                }
                // (A ⊗ B)(C ⊗ D) = (A C) ⊗ (B D)
                while let Some((k, m)) = stack.last().and_then(|t| self.kron_product(t, &g)) {
                    stack.pop();
                    c *= k;
                    g = m;
                }
                // a^T (b ./ a) = sum(b): a scalar factor
                if let Some(s) = stack
                    .last()
                    .and_then(|t| self.dot_cancel(t, &g).or_else(|| self.ones_dot(t, &g)))
                {
                    stack.pop();
                    let (k, ss, _) = s.split_product();
                    c *= k;
                    for x in ss {
                        note_scalar(x, BigRational::one(), &mut scalars);
                    }
                    continue;
                }
                if rows.is_none() {
                    rows = Some(g.shape().rows.clone());
                }
                if matches!(g.kind(), Kind::Identity) {
                    self.fire("the identity drops from a product");
                    continue;
                }
                // Two plain factors (no inverse, power or K) neither cancel
                // nor merge unless equal: skip building their inverses.
                if stack
                    .last()
                    .is_none_or(|top| plain_factor(top) && plain_factor(&g) && *top != g)
                {
                    stack.push(g);
                } else if stack
                    .last()
                    .is_some_and(|top| self.inverse_factor(top) == g && !g.is_scalar())
                {
                    self.fire("a matrix times its inverse is the identity");
                    stack.pop();
                } else if let Some(merged) = stack.last().and_then(|top| self.merge_powers(top, &g))
                {
                    self.fire("powers of a matrix add");
                    stack.pop();
                    stack.extend(merged);
                } else {
                    stack.push(g);
                }
            }
        }
        // A chain that is 1×1 as a whole is a scalar factor too.
        if stack.len() > 1
            && stack[0].shape().rows.is_one()
            && stack[stack.len() - 1].shape().cols.is_one()
        {
            let whole = self.orient(&chain(std::mem::take(&mut stack)));
            note_scalar(whole, BigRational::one(), &mut scalars);
        }
        if stack.is_empty()
            && let Some(r) = rows
        {
            stack.push(Expr::identity(r));
        }
        merge_expression_powers(&mut scalars, |law| self.fire(law));
        let mut fs: Vec<Expr> = Vec::with_capacity(scalars.len() + stack.len());
        for (base, mut k) in scalars {
            // sqrt(q)^k = q^(k div 2) sqrt(q)^(k mod 2) for a number q > 0
            // (the 2 sqrt(2) of erf's derivative, differentiated again)
            if let Kind::Apply(Func::Elem(ElemFn::Sqrt), r) = base.kind()
                && let Some(q) = r.as_const()
                && q.is_positive()
                && k.is_integer()
                && k.abs() >= rat(2)
                && k.abs() <= rat(64)
            {
                let n: i32 = k.to_integer().try_into().expect("bounded above");
                let half = n.div_euclid(2);
                self.fire("the square of a root of a number is the number");
                c *= num_traits::Pow::pow(q, half);
                k = BigRational::from_integer(n.rem_euclid(2).into());
            }
            if !k.is_zero() {
                fs.push(Expr::power(&base, &k));
            }
        }
        fs.extend(stack);
        let m = Expr::product(fs);
        // The product may have folded constants (e.g. a power of a number).
        let (mc, ms, mch) = m.split_product();
        if mc.is_one() {
            (c, m)
        } else {
            let mut rest = ms;
            rest.extend(mch);
            (c * mc, Expr::product(rest))
        }
    }

    /// `ones^T v = v^T ones = sum(v)` for a vector `v` (not itself ones):
    /// one spelling, so that `sum(x) - ones^T x` cancels.
    fn ones_dot(&self, l: &Expr, r: &Expr) -> Option<Expr> {
        let is_ones = |e: &Expr| matches!(e.kind(), Kind::Ones);
        let row = l.shape().rows.is_one() && !l.shape().cols.is_one();
        let col = r.shape().cols.is_one() && !r.shape().rows.is_one();
        if !row || !col || is_ones(l) == is_ones(r) {
            return None;
        }
        let v = if is_ones(l) {
            r.clone()
        } else {
            match l.kind() {
                Kind::Transpose(u) => u.clone(),
                _ => Expr::transpose(l),
            }
        };
        self.fire("ones-dot-is-sum");
        Some(Expr::apply(crate::builtins::Func::Sum, &v))
    }

    /// `(A ⊗ B)(C ⊗ D) = (A C) ⊗ (B D)` when the products are defined and
    /// neither is 1×1: the coefficient and the merged factor. A matrix
    /// beside a Kronecker factor whose other side is a vector is one with
    /// a 1×1 identity: `(a ⊗ B) M = a ⊗ (B M)` for a column `a`, and
    /// `M (c ⊗ D) = c ⊗ (M D)` for a row `c`.
    fn kron_product(&self, l: &Expr, r: &Expr) -> Option<(BigRational, Expr)> {
        if l.is_scalar() || r.is_scalar() {
            return None;
        }
        let product = |x: &Expr, y: &Expr| {
            let (k, m) = self.make_product(BigRational::one(), &[x.clone(), y.clone()]);
            (!m.is_scalar() && !k.is_zero()).then_some((k, m))
        };
        let merged = match (l.kind(), r.kind()) {
            (Kind::Kron(a, b), Kind::Kron(c, d)) => {
                if a.shape().cols != c.shape().rows || b.shape().cols != d.shape().rows {
                    return None;
                }
                let (ka, ac) = product(a, c)?;
                let (kb, bd) = product(b, d)?;
                (ka * kb, kron_identities(&ac, &bd))
            }
            (Kind::Kron(a, b), _)
                if a.shape().cols.is_one() && b.shape().cols == r.shape().rows =>
            {
                let (k, bm) = product(b, r)?;
                (k, Expr::kron(a, &bm))
            }
            (_, Kind::Kron(c, d))
                if c.shape().rows.is_one() && l.shape().cols == d.shape().rows =>
            {
                let (k, md) = product(l, d)?;
                (k, Expr::kron(c, &md))
            }
            _ => return None,
        };
        self.fire("kron-mixed-product");
        Some(merged)
    }

    /// A 1×1 product equals its transpose: keep the way round with fewer
    /// transposes (the first way on a tie).
    fn orient(&self, s: &Expr) -> Expr {
        if !matches!(s.kind(), Kind::Product(_)) || !s.is_scalar() {
            return s.clone();
        }
        let (c, scalars, ch) = s.split_product();
        if ch.len() < 2 {
            return s.clone();
        }
        let mut fs = vec![Expr::constant(c)];
        fs.extend(scalars);
        fs.extend(ch.iter().rev().map(|f| self.transpose(f)));
        let flipped = Expr::product(fs);
        if transposes(&flipped) < transposes(s) {
            self.fire("a 1x1 product equals its transpose");
            flipped
        } else {
            s.clone()
        }
    }

    /// A product of canonical factors as terms, with scalars pulled out
    /// of a bilinear operation `op` on the matrix parts.
    fn bilinear(&mut self, a: &Expr, b: &Expr, op: fn(&Self, &Expr, &Expr) -> Expr) -> Vec<Term> {
        let (ta, tb) = (self.expand(a), self.expand(b));
        let hadamard = std::ptr::fn_addr_eq(op, Self::hadamard as fn(&Self, &Expr, &Expr) -> Expr);
        let (ta, tb) = if hadamard && self.distribute {
            (self.explode(ta), self.explode(tb))
        } else {
            (ta, tb)
        };
        if ta.len().saturating_mul(tb.len()) > self.limits.max_terms {
            self.note("the expansion was cut short at the term limit");
            let (na, nb) = (self.normal(a), self.normal(b));
            return vec![(BigRational::one(), op(self, &na, &nb))];
        }
        // A scalar term of a matrix operand is broadcast: its matrix part is
        // the all-ones matrix (A ⊗ (s + 0 B) is s (A ⊗ ones), not s A).
        let matrix_part = |operand: &Expr, ch: Vec<Expr>| {
            if ch.is_empty() && !operand.is_scalar() {
                Expr::ones(operand.shape().clone())
            } else {
                chain(ch)
            }
        };
        let mut out = Vec::with_capacity(ta.len() * tb.len());
        for (ca, ma) in &ta {
            let (ka, sa, cha) = ma.split_product();
            for (cb, mb) in &tb {
                let (kb, sb, chb) = mb.split_product();
                let mut fs: Vec<Expr> = sa.iter().chain(&sb).cloned().collect();
                fs.push(op(
                    self,
                    &matrix_part(a, cha.clone()),
                    &matrix_part(b, chb.clone()),
                ));
                out.push(self.make_product(ca * cb * &ka * kb, &fs));
            }
        }
        out
    }

    /// Terms with each broadcast sum (`1 - s`) split into its terms, for
    /// the distributing pass.
    fn explode(&mut self, ts: Vec<Term>) -> Vec<Term> {
        let mut out = Vec::with_capacity(ts.len());
        for (c, m) in ts {
            match m.kind() {
                Kind::Sum(parts) if !m.is_scalar() && parts.iter().any(Expr::is_scalar) => {
                    for p in parts {
                        for (k, t) in self.expand(p) {
                            out.push((&c * k, t));
                        }
                    }
                }
                _ => out.push((c, m)),
            }
        }
        out
    }

    /// `a ./ b`: each term of `a` over `b`, as Hadamard monomials.
    fn expand_hadamard_div(&mut self, a: &Expr, b: &Expr) -> Vec<Term> {
        if a.is_scalar() && b.is_scalar() {
            return vec![(
                BigRational::one(),
                Expr::hadamard_div(&self.normal(a), &self.normal(b)),
            )];
        }
        let den = self.normal(b);
        let ta = self.expand(a);
        let mut ta = self.merge_like_terms(collect(ta));
        if self.distribute {
            ta = self.explode(ta);
        }
        let mut out = Vec::with_capacity(ta.len());
        for (c, m) in ta {
            let (k, scalars, ch) = m.split_product();
            let num = if ch.is_empty() {
                Expr::ones(b.shape().clone())
            } else {
                chain(ch)
            };
            let mut fs = scalars;
            fs.push(self.hadamard_div(&num, &den));
            out.push(self.make_product(c * k, &fs));
        }
        out
    }

    /// The canonical terms of a linear function applied to `a`: scalars
    /// come out, `f` applies to each matrix part.
    fn linear(&mut self, a: &Expr, f: impl Fn(&Self, Expr) -> Vec<Term>) -> Vec<Term> {
        let mut out = Vec::new();
        for (c, m) in self.expand(a) {
            if m.is_scalar() {
                out.push((c, m));
                continue;
            }
            let (k, scalars, ch) = m.split_product();
            for (fc, fm) in f(self, chain(ch)) {
                let mut fs = scalars.clone();
                fs.push(fm);
                out.push(self.make_product(&c * &k * fc, &fs));
            }
        }
        out
    }

    /// Expands `e` into canonical terms.
    pub(crate) fn expand(&mut self, e: &Expr) -> Vec<Term> {
        crate::stack::grow(|| {
            let single = |m: Expr| vec![(BigRational::one(), m)];
            match e.kind() {
                Kind::Const(c) if c.is_zero() => vec![],
                Kind::Const(c) => vec![(c.clone(), one())],
                Kind::Var(_)
                | Kind::Identity
                | Kind::Unit(_)
                | Kind::Ones
                | Kind::Commutation(..) => single(e.clone()),
                Kind::Sum(ts) => {
                    if !e.is_scalar() && ts.iter().any(Expr::is_scalar) {
                        // A broadcast scalar: `(A + s) B` is not `A B + s B`, so
                        // the sum stays whole.
                        // Its scalar terms are collected together, and so are its
                        // matrix terms; the shape is kept when the latter vanish.
                        let (scalars, matrices): (Vec<Expr>, Vec<Expr>) =
                            ts.iter().cloned().partition(Expr::is_scalar);
                        let scalar = self.normal(&Expr::sum(scalars));
                        let matrix = self.normal(&Expr::sum_shaped(e.shape(), matrices));
                        if matrix.is_zero() {
                            // `s ones`, so that `s` moves out of products
                            return self
                                .expand(&Expr::mul(&scalar, &Expr::ones(e.shape().clone())));
                        }
                        let parts = if ts[0].is_scalar() {
                            [scalar, matrix]
                        } else {
                            [matrix, scalar]
                        };
                        return single(Expr::sum_shaped(e.shape(), parts));
                    }
                    ts.iter().flat_map(|t| self.expand(t)).collect()
                }
                Kind::Product(fs) => self.expand_product(fs),
                Kind::Transpose(a) => self
                    .expand(a)
                    .into_iter()
                    .map(|(c, m)| {
                        let t = self.transpose(&m);
                        let (k, rest) = self.make_product(c, &[t]);
                        (k, rest)
                    })
                    .collect(),
                Kind::Inverse(a) => self.expand_inverse(a),
                Kind::Power(a, k) => self.expand_power(a, k),
                Kind::Hadamard(a, b) => self.bilinear(a, b, Self::hadamard),
                Kind::Kron(a, b) => self.bilinear(a, b, |_, a, b| kron_identities(a, b)),
                Kind::HadamardDiv(a, b) => self.expand_hadamard_div(a, b),
                Kind::HadamardPow(a, k) if k.is_integer() && !a.is_scalar() => {
                    let n = self.normal(a);
                    single(self.hadamard_power(&n, k))
                }
                Kind::HadamardPow(a, k) => single(Expr::hadamard_pow(&self.normal(a), k)),
                Kind::Pow(a, b) => single(Expr::pow(&self.normal(a), &self.normal(b))),
                Kind::Apply(f @ (Func::Tr | Func::Sum | Func::Vec | Func::Diag), a) => {
                    let f = *f;
                    self.linear(a, move |s, m| {
                        if f == Func::Diag
                            && let Some(d) = s.diag_outer(&m)
                        {
                            return vec![(BigRational::one(), d)];
                        }
                        let m = if f == Func::Tr { s.rotate(&m) } else { m };
                        vec![(BigRational::one(), Expr::apply(f, &m))]
                    })
                }
                Kind::Apply(Func::Det, a) => self.expand_det(a),
                Kind::Apply(Func::Logdet, a) => self.expand_logdet(a),
                Kind::Apply(Func::Elem(f), a) => {
                    let n = self.normal(a);
                    if let Some(done) = self.elementwise_law(*f, &n) {
                        return single(done);
                    }
                    // f(x^T W^T) = f(W x)^T: the way with fewer transposes
                    let t = self.transpose(&n);
                    if transposes(&t) < transposes(&n) {
                        self.fire("elementwise-transpose");
                        single(Expr::transpose(&Expr::apply(Func::Elem(*f), &t)))
                    } else {
                        single(Expr::apply(Func::Elem(*f), &n))
                    }
                }
                Kind::Apply(f, a) => single(Expr::apply(*f, &self.normal(a))),
            }
        })
    }

    fn expand_product(&mut self, fs: &[Expr]) -> Vec<Term> {
        let mut acc: Vec<(BigRational, Vec<Expr>)> = vec![(BigRational::one(), vec![])];
        for f in fs {
            let tf = self.expand(f);
            if tf.is_empty() {
                return vec![];
            }
            if acc.len().saturating_mul(tf.len()) > self.limits.max_terms {
                self.note("the expansion was cut short at the term limit");
                let whole = self.normal(f);
                for (_, factors) in &mut acc {
                    factors.push(whole.clone());
                }
                continue;
            }
            if let [(cf, mf)] = tf.as_slice() {
                // one term: extend every partial product in place
                for (c, factors) in &mut acc {
                    if !cf.is_one() {
                        *c *= cf;
                    }
                    factors.push(mf.clone());
                }
                continue;
            }
            self.fire("products distribute over sums");
            let mut next = Vec::with_capacity(acc.len() * tf.len());
            for (c, factors) in &acc {
                for (cf, mf) in &tf {
                    let mut fs = factors.clone();
                    fs.push(mf.clone());
                    let k = match (c.is_one(), cf.is_one()) {
                        (_, true) => c.clone(),
                        (true, false) => cf.clone(),
                        (false, false) => c * cf,
                    };
                    next.push((k, fs));
                }
            }
            acc = next;
        }
        acc.into_iter()
            .map(|(c, fs)| self.make_product(c, &fs))
            .filter(|(c, _)| !c.is_zero())
            .collect()
    }

    fn expand_inverse(&mut self, a: &Expr) -> Vec<Term> {
        let ta = self.expand(a);
        if let [(c, m)] = ta.as_slice() {
            let (k, scalars, ch) = m.split_product();
            let c = c * k;
            if !c.is_zero() && ch.iter().all(|f| f.shape().is_square()) {
                let mut fs: Vec<Expr> = scalars.iter().map(|s| Expr::power(s, &rat(-1))).collect();
                fs.extend(ch.iter().rev().map(|f| self.inverse_factor(f)));
                return vec![self.make_product(c.recip(), &fs)];
            }
        }
        let inner = rebuild(&self.merge_like_terms(collect(ta)), a.shape());
        vec![(BigRational::one(), Expr::inverse(&inner))]
    }

    fn expand_power(&mut self, a: &Expr, k: &BigRational) -> Vec<Term> {
        let ta = self.expand(a);
        if k.is_integer()
            && let [(c, m)] = ta.as_slice()
            && !(c.is_zero() && k.is_negative())
        {
            // a coefficient of ±1 stays small at any power
            let unit = c.abs().is_one();
            let n: Option<i32> = k
                .to_integer()
                .try_into()
                .ok()
                .filter(|n: &i32| n.abs() <= 64 || unit);
            if let Some(n) = n {
                let ck = num_traits::Pow::pow(c, n);
                let (mk, scalars, ch) = m.split_product();
                let mut fs: Vec<Expr> = scalars.iter().map(|s| Expr::power(s, k)).collect();
                if !ch.is_empty() {
                    fs.push(Expr::power(&chain(ch), k));
                }
                return vec![self.make_product(ck * num_traits::Pow::pow(mk, n), &fs)];
            }
        }
        let inner = rebuild(&self.merge_like_terms(collect(ta)), a.shape());
        vec![(BigRational::one(), Expr::power(&inner, k))]
    }

    fn expand_det(&mut self, a: &Expr) -> Vec<Term> {
        let ta = self.expand(a);
        if let [(c, m)] = ta.as_slice() {
            let (k, scalars, ch) = m.split_product();
            let c = c * k;
            let n = a
                .shape()
                .rows
                .names
                .is_empty()
                .then_some(a.shape().rows.factor);
            let scaled = !c.is_one() || !scalars.is_empty();
            let n = n.and_then(|n| i32::try_from(n).ok()).filter(|n| *n <= 64);
            if ch.iter().all(|f| f.shape().is_square()) && (!scaled || n.is_some()) {
                let n = n.unwrap_or(1);
                let mut fs: Vec<Expr> = scalars
                    .iter()
                    .map(|s| Expr::power(s, &rat(n.into())))
                    .collect();
                fs.extend(ch.iter().map(det_factor));
                return vec![self.make_product(num_traits::Pow::pow(&c, n), &fs)];
            }
        }
        let inner = rebuild(&self.merge_like_terms(collect(ta)), a.shape());
        vec![(BigRational::one(), Expr::apply(Func::Det, &inner))]
    }

    fn expand_logdet(&mut self, a: &Expr) -> Vec<Term> {
        let ta = self.expand(a);
        if let [(c, m)] = ta.as_slice()
            && c.is_one()
        {
            let (k, scalars, ch) = m.split_product();
            if k.is_one() && scalars.is_empty() && ch.iter().all(|f| f.shape().is_square()) {
                return ch.iter().filter_map(logdet_factor).collect();
            }
        }
        let inner = rebuild(&self.merge_like_terms(collect(ta)), a.shape());
        vec![(BigRational::one(), Expr::apply(Func::Logdet, &inner))]
    }

    /// The chain under a trace, rotated (and transposed, since
    /// `tr(M^T) = tr(M)`) to the way with fewest transposes, starting as
    /// close to where it started as possible.
    pub(crate) fn rotate(&self, m: &Expr) -> Expr {
        let (_, _, ch) = m.split_product();
        if ch.is_empty() {
            return m.clone();
        }
        let flipped: Vec<Expr> = ch.iter().rev().map(|f| self.transpose(f)).collect();
        let mut best = m.clone();
        let mut fewest = transposes(m);
        for ways in [&ch, &flipped] {
            for r in 0..ways.len() {
                let mut rotated = ways[r..].to_vec();
                rotated.extend_from_slice(&ways[..r]);
                let cand = chain(rotated);
                let t = transposes(&cand);
                if t < fewest {
                    fewest = t;
                    best = cand;
                }
            }
        }
        best
    }
}

/// `det` of one square chain factor.
/// `a^e a^k = a^(e + k)` among a term's scalar factors (base, rational
/// exponent), where `e` is an expression: `det(X)^(alpha - 1) det(X)` is
/// `det(X)^alpha`. The constants of the new exponent are folded.
fn merge_expression_powers(scalars: &mut Vec<(Expr, BigRational)>, fire: impl Fn(&'static str)) {
    let mut i = 0;
    while i < scalars.len() {
        let (f, k) = &scalars[i];
        let Kind::Pow(a, e) = f.kind() else {
            i += 1;
            continue;
        };
        if !k.is_one() {
            i += 1;
            continue;
        }
        let Some(j) = scalars.iter().position(|(b, _)| b == a) else {
            i += 1;
            continue;
        };
        let add = scalars[j].1.clone();
        // the exponent's constant terms and the rest
        let terms: Vec<Expr> = match e.kind() {
            Kind::Sum(ts) => ts.clone(),
            _ => vec![e.clone()],
        };
        let mut c = add;
        let mut rest = Vec::new();
        for t in terms {
            match t.kind() {
                Kind::Const(x) => c += x,
                _ => rest.push(t),
            }
        }
        if !c.is_zero() {
            rest.push(Expr::constant(c));
        }
        let merged = if rest.is_empty() {
            None
        } else {
            let exponent = Expr::sum(rest);
            Some(match exponent.kind() {
                Kind::Const(k) => Expr::power(a, k),
                _ => Expr::pow(a, &exponent),
            })
        };
        fire("powers of one base add");
        // drop the plain factor (j) and replace the power (i)
        match merged {
            Some(m) => scalars[i] = (m, BigRational::one()),
            None => scalars[i].1 = BigRational::zero(),
        }
        scalars.remove(j);
        i = 0;
    }
}

fn det_factor(f: &Expr) -> Expr {
    crate::stack::grow(|| match f.kind() {
        Kind::Transpose(a) => det_factor(a),
        Kind::Inverse(a) => Expr::power(&det_factor(a), &rat(-1)),
        Kind::Power(a, k) => Expr::power(&det_factor(a), k),
        Kind::Identity => one(),
        _ => Expr::apply(Func::Det, f),
    })
}

/// `logdet` of one square chain factor, as a term (none for `logdet I`).
fn logdet_factor(f: &Expr) -> Option<Term> {
    crate::stack::grow(|| match f.kind() {
        Kind::Transpose(a) => logdet_factor(a),
        Kind::Inverse(a) => logdet_factor(a).map(|(c, m)| (-c, m)),
        Kind::Power(a, k) => logdet_factor(a).map(|(c, m)| (c * k, m)),
        Kind::Identity => None,
        _ => Some((BigRational::one(), Expr::apply(Func::Logdet, f))),
    })
}

/// `a ⊗ b`, with `I_m ⊗ I_n = I_mn`.
fn kron_identities(a: &Expr, b: &Expr) -> Expr {
    if matches!(a.kind(), Kind::Identity) && matches!(b.kind(), Kind::Identity) {
        let n = a.shape().rows.times(&b.shape().rows);
        if let Some(n) = n {
            return Expr::identity(n);
        }
    }
    Expr::kron(a, b)
}
