//! Elementwise and diagonal algebra in the canonicaliser: the laws of
//! [`crate::simplify::rules::ELEMENTWISE`], applied deterministically as
//! Hadamard products are built.
//!
//! A Hadamard product is read as a monomial: bases with integer exponents
//! (`a ./ b` is `a .* b.^-1`). Equal bases with exponents of opposite signs
//! cancel only where the base is known to be nonzero — by
//! [`Simplifier::positive`], an analysis of the expression (exp, sigmoid,
//! softplus, softmax and `1 - sigmoid` are positive, and so are sums and
//! Hadamard products of positives and positive constants), never by
//! assumption.
//! `(1 + exp(v)).^-1` is `sigmoid(-v)`, and `exp(u) .* sigmoid(-u)` is
//! `sigmoid(u)`.
//!
//! Elementwise distribution (`(1 - s) .* y = y - s .* y`) is a second pass
//! that the default form keeps only when it makes terms cancel or merge
//! (the result is smaller), see [`Simplifier::normal_distributed`].

use crate::expr::{ElemFn, Expr, Func, Kind};
use crate::simplify::Simplifier;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// A Hadamard monomial: (base, exponent) in order of first appearance.
type Mono = Vec<(Expr, BigRational)>;

fn elem(f: ElemFn, a: &Expr) -> Expr {
    Expr::apply(Func::Elem(f), a)
}

/// The base and exponent list of a Hadamard product.
fn flatten(e: &Expr, k: &BigRational, out: &mut Mono) {
    crate::stack::grow(|| match e.kind() {
        Kind::Ones => {}
        Kind::Hadamard(a, b) => {
            flatten(a, k, out);
            flatten(b, k, out);
        }
        Kind::HadamardDiv(a, b) if !a.is_scalar() => {
            flatten(a, k, out);
            flatten(b, &-k, out);
        }
        Kind::HadamardPow(a, j) if j.is_integer() => flatten(a, &(k * j), out),
        // a scaled vector or matrix: its scalar factors are bases too
        Kind::Product(_) if k.is_integer() => {
            let (c, scalars, chain) = e.split_product();
            if scalars.is_empty() && c.is_one() {
                out.push((e.clone(), k.clone()));
                return;
            }
            if !c.is_one() {
                out.push((Expr::constant(c), k.clone()));
            }
            for s in scalars {
                match s.kind() {
                    Kind::Power(b, j) => out.push((b.clone(), k * j)),
                    _ => out.push((s, k.clone())),
                }
            }
            if !chain.is_empty() {
                out.push((Expr::product(chain), k.clone()));
            }
        }
        _ => out.push((e.clone(), k.clone())),
    })
}

/// The sum `1 + exp(v)` as `v`.
fn one_plus_exp(e: &Expr) -> Option<&Expr> {
    let Kind::Sum(ts) = e.kind() else { return None };
    let [a, b] = ts.as_slice() else { return None };
    // 1, or the all-ones of the sum's shape (`exp(z) + ones`)
    let is_one = |e: &Expr| e.is_one() || matches!(e.kind(), Kind::Ones);
    let (one, ex) = if is_one(a) { (a, b) } else { (b, a) };
    if !is_one(one) {
        return None;
    }
    match ex.kind() {
        Kind::Apply(Func::Elem(ElemFn::Exp), v) => Some(v),
        _ => None,
    }
}

impl Simplifier<'_> {
    /// Whether every entry of `e` is known to be positive.
    pub(crate) fn positive(&self, e: &Expr) -> bool {
        crate::stack::grow(|| match e.kind() {
            Kind::Const(c) => c.is_positive(),
            Kind::Ones => true,
            Kind::Apply(
                Func::Elem(
                    ElemFn::Exp
                    | ElemFn::Sigmoid
                    | ElemFn::Softplus
                    | ElemFn::Normcdf
                    | ElemFn::Normpdf,
                ),
                _,
            ) => true,
            Kind::Apply(Func::Softmax, _) => true,
            Kind::Hadamard(a, b) | Kind::HadamardDiv(a, b) => self.positive(a) && self.positive(b),
            Kind::HadamardPow(a, _) => self.positive(a),
            Kind::Apply(Func::Elem(ElemFn::Sqrt), a) => self.positive(a),
            Kind::Power(a, _) if e.is_scalar() => self.positive(a),
            Kind::Apply(Func::Sum, a) => self.positive(a),
            Kind::Product(_) if e.is_scalar() || e.shape().is_vector() => {
                let (c, scalars, chain) = e.split_product();
                c.is_positive()
                    && chain.len() <= 1
                    && scalars.iter().chain(&chain).all(|f| self.positive(f))
            }
            Kind::Sum(ts) => {
                // 1 - c sigmoid(z) (or c normcdf(z)) with 0 < c <= 1 is
                // positive
                if let [one, s] = ts.as_slice()
                    && let Some(k) = one.as_const()
                    && let (c, sc, ch) = s.split_product()
                    && sc.is_empty()
                    && let [f] = ch.as_slice()
                    && matches!(
                        f.kind(),
                        Kind::Apply(Func::Elem(ElemFn::Sigmoid | ElemFn::Normcdf), _)
                    )
                    && c.is_negative()
                    && -c <= *k
                {
                    return true;
                }
                ts.iter().all(|t| self.positive(t))
            }
            _ => false,
        })
    }

    /// Whether every entry of `e` is known to be nonzero: positive, or a
    /// base of an argument the input takes the log or square root of.
    fn nonzero(&self, e: &Expr) -> bool {
        self.positive(e) || self.domain.contains(e)
    }

    /// Learns from `source` which bases are nonzero: the input is defined
    /// only where the arguments of its logs and roots are positive.
    pub(crate) fn learn_domain(&mut self, source: &Expr) {
        let mut args = Vec::new();
        let mut stack = vec![source];
        while let Some(e) = stack.pop() {
            if let Kind::Apply(Func::Elem(ElemFn::Log | ElemFn::Sqrt), a) = e.kind()
                && !a.is_scalar()
            {
                args.push(a.clone());
            }
            stack.extend(e.children());
        }
        for a in args {
            let n = self.normal(&a);
            let mut m: Mono = Vec::new();
            flatten(&n, &BigRational::one(), &mut m);
            self.domain.insert(n);
            for (base, _) in m {
                self.domain.insert(base);
            }
        }
        self.cache.clear();
    }

    /// `a .* b` as a canonical Hadamard monomial: cancelled, with the
    /// sigmoid laws applied.
    pub(crate) fn hadamard(&self, a: &Expr, b: &Expr) -> Expr {
        if a.is_scalar() || b.is_scalar() {
            return Expr::hadamard(a, b);
        }
        let mut m: Mono = Vec::new();
        flatten(a, &BigRational::one(), &mut m);
        flatten(b, &BigRational::one(), &mut m);
        self.monomial(m, a.shape())
    }

    /// `a ./ b` for one canonical numerator term `a`.
    pub(crate) fn hadamard_div(&self, a: &Expr, b: &Expr) -> Expr {
        if b.is_scalar() || a.is_scalar() {
            return Expr::hadamard_div(a, b);
        }
        let mut m: Mono = Vec::new();
        flatten(a, &BigRational::one(), &mut m);
        flatten(b, &-BigRational::one(), &mut m);
        self.monomial(m, a.shape())
    }

    /// `a .^ k` for an integer `k`, as a canonical Hadamard monomial.
    pub(crate) fn hadamard_power(&self, a: &Expr, k: &BigRational) -> Expr {
        let mut m: Mono = Vec::new();
        flatten(a, k, &mut m);
        self.monomial(m, a.shape())
    }

    fn monomial(&self, mut m: Mono, shape: &crate::shape::Shape) -> Expr {
        // (1 + exp(v)).^-1 = sigmoid(-v)
        for (base, k) in m.iter_mut() {
            if *k == -BigRational::one()
                && let Some(v) = one_plus_exp(base)
            {
                self.fire("elementwise-sigmoid-of");
                *base = elem(ElemFn::Sigmoid, &self.negated(v));
                *k = BigRational::one();
            }
        }
        // exp(u) .* sigmoid(-u) = sigmoid(u)
        let mut i = 0;
        while i < m.len() {
            if let Kind::Apply(Func::Elem(ElemFn::Exp), u) = m[i].0.kind()
                && m[i].1.is_one()
            {
                let target = elem(ElemFn::Sigmoid, &self.negated(u));
                if let Some(j) = m.iter().position(|(b, k)| *b == target && k.is_one()) {
                    self.fire("elementwise-exp-times-sigmoid");
                    m[i].0 = elem(ElemFn::Sigmoid, u);
                    m.remove(j);
                    continue;
                }
            }
            i += 1;
        }
        // equal bases with exponents of opposite signs cancel where nonzero
        let mut out: Mono = Vec::with_capacity(m.len());
        for (base, k) in m {
            match out
                .iter_mut()
                .find(|(b, j)| *b == base && (j.is_negative() != k.is_negative()))
            {
                Some(slot) if self.nonzero(&base) => {
                    self.fire("elementwise-cancel");
                    slot.1 += k;
                }
                _ => out.push((base, k)),
            }
        }
        out.retain(|(_, k)| !k.is_zero());
        // scalar bases multiply the whole
        let (scalars, out): (Mono, Mono) = out.into_iter().partition(|(b, _)| b.is_scalar());
        let (num, den): (Mono, Mono) = out.into_iter().partition(|(_, k)| k.is_positive());
        let join = |xs: &Mono| {
            xs.iter().fold(None::<Expr>, |acc, (b, k)| {
                let f = Expr::hadamard_pow(b, &k.abs());
                Some(match acc {
                    Some(a) => Expr::hadamard(&a, &f),
                    None => f,
                })
            })
        };
        let ones = Expr::ones(shape.clone());
        let body = match (join(&num), join(&den)) {
            (None, None) => ones,
            (Some(n), None) => n,
            (None, Some(d)) => Expr::hadamard_div(&ones, &d),
            (Some(n), Some(d)) => Expr::hadamard_div(&n, &d),
        };
        let mut fs: Vec<Expr> = scalars.iter().map(|(b, k)| Expr::power(b, k)).collect();
        fs.push(body);
        Expr::product(fs)
    }

    /// `f(n)` for a canonical `n` by a law: `log(exp(z)) = z`,
    /// `exp(log(z)) = z` where `z` is known positive, `log(1 + exp(z)) =
    /// softplus(z)`.
    pub(crate) fn elementwise_law(&self, f: ElemFn, n: &Expr) -> Option<Expr> {
        match (f, n.kind()) {
            (ElemFn::Log, Kind::Apply(Func::Elem(ElemFn::Exp), z)) => {
                self.fire("elementwise-log-exp");
                Some(z.clone())
            }
            (ElemFn::Exp, Kind::Apply(Func::Elem(ElemFn::Log), z)) if self.positive(z) => {
                self.fire("elementwise-exp-log");
                Some(z.clone())
            }
            (ElemFn::Log, _) => {
                let v = one_plus_exp(n)?;
                self.fire("elementwise-softplus-of");
                Some(elem(ElemFn::Softplus, v))
            }
            _ => None,
        }
    }

    /// `-v` in canonical form.
    fn negated(&self, v: &Expr) -> Expr {
        let (c, scalars, chain) = v.split_product();
        let mut fs = vec![Expr::constant(-c)];
        fs.extend(scalars);
        fs.extend(chain);
        Expr::product(fs)
    }

    /// `diag(u v^T) = u .* v` for vectors `u`, `v`.
    pub(crate) fn diag_outer(&self, m: &Expr) -> Option<Expr> {
        let Kind::Product(fs) = m.kind() else {
            return None;
        };
        let [u, vt] = fs.as_slice() else { return None };
        if !(u.shape().cols.is_one() && vt.shape().rows.is_one()) || u.is_scalar() {
            return None;
        }
        self.fire("diag-outer");
        Some(self.hadamard(u, &self.transpose(vt)))
    }

    /// `a^T (b ./ a) = sum(b)` for a nonzero column `a`: a 1×1 product of
    /// adjacent chain factors.
    pub(crate) fn dot_cancel(&self, a: &Expr, b: &Expr) -> Option<Expr> {
        let Kind::Transpose(u) = a.kind() else {
            return None;
        };
        if !u.shape().cols.is_one() || !b.shape().cols.is_one() || u.is_scalar() {
            return None;
        }
        let mut m: Mono = Vec::new();
        flatten(b, &BigRational::one(), &mut m);
        let i = m
            .iter()
            .position(|(base, k)| base == u && *k == -BigRational::one())?;
        if !self.nonzero(u) {
            return None;
        }
        m.remove(i);
        self.fire("elementwise-dot-cancel");
        let rest = self.monomial(m, b.shape());
        let (c, scalars, chain) = rest.split_product();
        let mut fs = vec![Expr::constant(c)];
        fs.extend(scalars);
        fs.push(Expr::apply(Func::Sum, &Expr::product(chain)));
        Some(Expr::product(fs))
    }

    /// Two adjacent chain factors that multiply elementwise:
    /// `diag(a) diag(b) = diag(a .* b)`, `diag(a) x = a .* x`.
    pub(crate) fn diag_product(&self, a: &Expr, b: &Expr) -> Option<Expr> {
        let Kind::Apply(Func::Diag, u) = a.kind() else {
            return None;
        };
        if !u.shape().is_vector() || u.is_scalar() {
            return None;
        }
        match b.kind() {
            Kind::Apply(Func::Diag, v) if v.shape().is_vector() && !v.is_scalar() => {
                self.fire("diag-product");
                Some(Expr::apply(Func::Diag, &self.hadamard(u, v)))
            }
            _ if b.shape().cols.is_one() && !b.is_scalar() => {
                self.fire("diag-times-vector");
                Some(self.hadamard(u, b))
            }
            _ => None,
        }
    }

    /// Whether a Hadamard product in `e` has a broadcast sum (`1 - s`)
    /// as an operand: the second, distributing pass may then cancel terms.
    pub(crate) fn has_broadcast_hadamard(e: &Expr) -> bool {
        let broadcast = |x: &Expr| matches!(x.kind(), Kind::Sum(ts) if !x.is_scalar() && ts.iter().any(Expr::is_scalar));
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            if let Kind::Hadamard(a, b) = x.kind()
                && (broadcast(a) || broadcast(b))
            {
                return true;
            }
            stack.extend(x.children());
        }
        false
    }

    /// The normal form of an already normal `e` with broadcast sums
    /// distributed over Hadamard products, if that is smaller.
    pub(crate) fn normal_distributed(&mut self, e: &Expr) -> Expr {
        if !Self::has_broadcast_hadamard(e) {
            return e.clone();
        }
        let cache = std::mem::take(&mut self.cache);
        self.distribute = true;
        let d = self.normal(e);
        self.distribute = false;
        self.cache = cache;
        let terms = |x: &Expr| match x.kind() {
            Kind::Sum(ts) => ts.len(),
            _ => 1,
        };
        // kept only when terms cancel or merge: no more terms, and smaller
        if terms(&d) <= terms(e) && d.size() < e.size() {
            self.fire("elementwise-distribute");
            d
        } else {
            e.clone()
        }
    }
}

/// Whether `e` has an `exp` anywhere: only then can it divide `exp(z)`
/// by `sum(exp(z))`.
fn has_exponential(e: &Expr) -> bool {
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if matches!(x.kind(), Kind::Apply(Func::Elem(ElemFn::Exp), _)) {
            return true;
        }
        stack.extend(x.children());
    }
    false
}

impl Simplifier<'_> {
    /// `exp(z) / sum(exp(z))` written `softmax(z)` (the law
    /// `elementwise-softmax-of`, for a vector `z`) wherever a product
    /// divides `exp(z)`, its transpose or a Hadamard product with it by
    /// `sum(exp(z))`. A last pass over the finished form, so that the
    /// exponentials cancel and merge among themselves first.
    pub(crate) fn softmax_written(&self, e: &Expr) -> Expr {
        if !has_exponential(e) {
            return e.clone();
        }
        let mut memo = crate::hash::FxHashMap::default();
        self.softmax_in(e, &mut memo)
    }

    fn softmax_in(&self, e: &Expr, memo: &mut crate::hash::FxHashMap<Expr, Expr>) -> Expr {
        crate::stack::grow(|| {
            if let Some(done) = memo.get(e) {
                return done.clone();
            }
            let kids: Vec<Expr> = e
                .children()
                .into_iter()
                .map(|c| self.softmax_in(c, memo))
                .collect();
            let changed = kids.iter().zip(e.children()).any(|(a, b)| a != b);
            let mut out = if changed { e.rebuild(kids) } else { e.clone() };
            while let Some(s) = self.softmax_product(&out) {
                out = s;
            }
            memo.insert(e.clone(), out.clone());
            out
        })
    }

    /// One `exp(z) / sum(exp(z))` of a product written `softmax(z)`.
    fn softmax_product(&self, p: &Expr) -> Option<Expr> {
        if !matches!(p.kind(), Kind::Product(_)) {
            return None;
        }
        let (c, scalars, chain) = p.split_product();
        for (i, s) in scalars.iter().enumerate() {
            let Kind::Power(base, k) = s.kind() else {
                continue;
            };
            let (Kind::Apply(Func::Sum, ex), true) = (base.kind(), *k == -BigRational::one())
            else {
                continue;
            };
            let Kind::Apply(Func::Elem(ElemFn::Exp), z) = ex.kind() else {
                continue;
            };
            if !z.shape().is_vector() {
                continue;
            }
            let sm = Expr::apply(Func::Softmax, z);
            let swap = |f: &Expr| -> Option<Expr> {
                if f == ex {
                    return Some(sm.clone());
                }
                match f.kind() {
                    Kind::Transpose(a) if a == ex => Some(Expr::transpose(&sm)),
                    Kind::Hadamard(a, b) if a == ex => Some(Expr::hadamard(&sm, b)),
                    Kind::Hadamard(a, b) if b == ex => Some(Expr::hadamard(a, &sm)),
                    _ => None,
                }
            };
            for (j, f) in chain.iter().enumerate() {
                let Some(g) = swap(f) else { continue };
                self.fire("elementwise-softmax-of");
                let mut fs = vec![Expr::constant(c)];
                fs.extend(
                    scalars
                        .iter()
                        .enumerate()
                        .filter(|&(x, _)| x != i)
                        .map(|(_, s)| s.clone()),
                );
                fs.extend(
                    chain
                        .iter()
                        .enumerate()
                        .map(|(x, f)| if x == j { g.clone() } else { f.clone() }),
                );
                return Some(Expr::product(fs));
            }
        }
        None
    }
}
