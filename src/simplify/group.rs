//! The default form of SPEC §3: the collected sum of products, with the
//! groups the input wrote kept grouped.
//!
//! The canonicaliser expands everything, so that terms cancel and merge;
//! this pass then writes back the groups that survived. Two terms that
//! share a coefficient's factor, scalar factors, a left and a right part of
//! their chain, such as `2 A^T A x` and `-2 A^T b`, are written once around
//! the sum of what differs, `2 A^T (A x - b)`, when that sum is a
//! *residual* of the input: each of its terms is (a multiple of) a piece
//! the input itself wrote (`A x`, `b`, `sigmoid(X w)`, `y`, a constant).
//! Sums the input never wrote stay expanded, so `A X + A^T X` (the input
//! has no `A^T`) and `A E_ij X^T A^T + A X E_ij^T A^T` (it has no `E_ij`)
//! are printed as the product rule produced them.
//!
//! A scalar product of sums the input wrote, `(x - m)^T (x - m)`, whose
//! expansion survives whole in the result (times anything) is written
//! back as that product: `-2 (x - m)^T (x - m) / sigma^3`, not its three
//! terms. A group whose terms are all transposes is printed as the
//! transpose of the group, `(x - m)^T`.
//!
//! Terms of the form `L (H .* P_k) R` with one `H` are written
//! `L (H .* (Σ P_k)) R` when the sum of the `P_k` groups into one term
//! (Hadamard factoring, `A .* B + A .* C = A .* (B + C)`).
//!
//! Pulling a common factor out of two or more terms always makes the
//! expression smaller, so the default form is never longer than the
//! expanded one. The pass is greedy and deterministic: the candidate that
//! covers most terms wins, the first found on a tie.

use crate::expr::Expr;
use crate::hash::FxHashSet;
use crate::simplify::Simplifier;
use num_integer::Integer;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

/// A term split into its parts: coefficient, scalar factors, chain.
#[derive(Clone, Debug)]
struct Split {
    coeff: BigRational,
    scalars: Vec<Expr>,
    chain: Vec<Expr>,
}

impl Split {
    fn of(c: &BigRational, m: &Expr) -> Split {
        let (k, scalars, chain) = m.split_product();
        Split {
            coeff: c * k,
            scalars,
            chain,
        }
    }

    /// The term without its coefficient.
    fn monomial(&self) -> Expr {
        Expr::product(self.scalars.iter().chain(&self.chain).cloned())
    }

    fn expr(&self) -> Expr {
        Expr::scale(&self.coeff, &self.monomial())
    }
}

/// Terms above which a sum is left as it is (the pass is quadratic).
const MAX_TERMS: usize = 24;

/// Nodes above which a sum is left as it is.
const MAX_SIZE: usize = 2_000;

/// What two terms share: scalar factors, a left and a right part of the
/// chain.
struct Common {
    scalars: Vec<Expr>,
    left: Vec<Expr>,
    right: Vec<Expr>,
}

/// `Some(rest)` when every factor of `sub` is among `all` (as multisets).
fn minus(all: &[Expr], sub: &[Expr]) -> Option<Vec<Expr>> {
    let mut rest = all.to_vec();
    for s in sub {
        let i = rest.iter().position(|r| r == s)?;
        rest.remove(i);
    }
    Some(rest)
}

fn gcd(a: &BigRational, b: &BigRational) -> BigRational {
    let n = a.numer().gcd(b.numer());
    let d = a.denom().lcm(b.denom());
    BigRational::new(n, d)
}

impl Simplifier<'_> {
    /// The default form of a normal-form expression, whose input was
    /// `source`.
    pub(crate) fn regroup(&mut self, normal: &Expr, source: &Expr) -> Expr {
        let ts = match normal.kind() {
            crate::expr::Kind::Sum(ts) => ts.as_slice(),
            _ => std::slice::from_ref(normal),
        };
        if ts.len() > MAX_TERMS || normal.size() > MAX_SIZE {
            return normal.clone();
        }
        if self.source.as_ref() != Some(source) {
            self.source = Some(source.clone());
            self.pieces = None;
            self.dets = None;
        }
        let mut rejoined = false;
        let terms: Vec<Split> = ts
            .iter()
            .map(|t| {
                let mut s = Split::of(&BigRational::one(), t);
                rejoined |= self.rejoin_dets(&mut s);
                s
            })
            .collect();
        let n = terms.len();
        let (terms, folded) = if n > 1 && has_sum(source) {
            self.fold(terms)
        } else {
            (terms, false)
        };
        rejoined |= folded;
        let n = terms.len();
        // a group of the input needs a sum or an elementwise function in
        // the input (or, for Hadamard factoring, a Hadamard product in the
        // result)
        let grouping = n > 1 && (has_sum(source) || has_hadamard(normal));
        let grouped = if grouping {
            self.group_terms(terms)
        } else {
            terms
        };
        let mut untransposed = false;
        let grouped: Vec<Split> = grouped
            .into_iter()
            .map(|mut t| {
                for f in t.chain.iter_mut() {
                    if let Some(g) = untranspose(f) {
                        *f = g;
                        untransposed = true;
                    }
                }
                t
            })
            .collect();
        if grouped.len() == n && !rejoined && !untransposed {
            return normal.clone();
        }
        Expr::sum_shaped(normal.shape(), grouped.iter().map(Split::expr))
    }

    /// Terms that together are a multiple of a scalar product of sums the
    /// input wrote, `c R (e1 q1 + … + ek qk)` spread over k terms, written
    /// back as the one term `c R P`: `-2 (x^T x) / s^3 + 4 (x^T m) / s^3 -
    /// 2 (m^T m) / s^3` is `-2 (x - m)^T (x - m) / s^3`.
    fn fold(&mut self, mut terms: Vec<Split>) -> (Vec<Split>, bool) {
        self.pieces();
        let folds = std::mem::take(&mut self.folds);
        let mut any = false;
        for (p, expansion) in &folds {
            if terms.len() < expansion.len() {
                continue;
            }
            // each term as its scalar factors (a scalar term's chain is
            // one of them) and the rest of its chain
            let parts: Vec<(Vec<Expr>, Vec<Expr>)> = terms
                .iter()
                .map(|t| {
                    let mut sc = t.scalars.clone();
                    let chain = if !t.chain.is_empty() && t.monomial().is_scalar() {
                        sc.push(Expr::product(t.chain.iter().cloned()));
                        vec![]
                    } else {
                        t.chain.clone()
                    };
                    (sc, chain)
                })
                .collect();
            let (e0, q0) = &expansion[0];
            'start: for i in 0..terms.len() {
                let Some(rest) = minus(&parts[i].0, std::slice::from_ref(q0)) else {
                    continue;
                };
                let c = &terms[i].coeff / e0;
                let chain = &parts[i].1;
                let mut used = vec![i];
                for (ek, qk) in &expansion[1..] {
                    let found = (0..terms.len()).find(|&j| {
                        !used.contains(&j)
                            && &parts[j].1 == chain
                            && terms[j].coeff == &c * ek
                            && minus(&parts[j].0, std::slice::from_ref(qk)).is_some_and(|r| {
                                r.len() == rest.len() && minus(&r, &rest).is_some()
                            })
                    });
                    match found {
                        Some(j) => used.push(j),
                        None => continue 'start,
                    }
                }
                let mut scalars = rest.clone();
                scalars.push(p.clone());
                let folded = Split {
                    coeff: c,
                    scalars,
                    chain: chain.clone(),
                };
                let mut out = Vec::with_capacity(terms.len() - used.len() + 1);
                for (k, t) in terms.into_iter().enumerate() {
                    if k == i {
                        out.push(folded.clone());
                    } else if !used.contains(&k) {
                        out.push(t);
                    }
                }
                terms = out;
                any = true;
                self.fire("group-residual");
                break;
            }
        }
        self.folds = folds;
        (terms, any)
    }

    /// The canonical monomials of the input's pieces.
    fn pieces(&mut self) -> &FxHashSet<Expr> {
        if self.pieces.is_none() {
            let mut set = FxHashSet::default();
            let mut groups = FxHashSet::default();
            let mut folds = Vec::new();
            let mut seen = FxHashSet::default();
            let mut stack: Vec<Expr> = self.source.iter().cloned().collect();
            while let Some(e) = stack.pop() {
                if !seen.insert(e.clone()) {
                    continue;
                }
                stack.extend(e.children().into_iter().cloned());
                let n = self.normal(&e);
                let terms = match n.kind() {
                    crate::expr::Kind::Sum(ts) => ts.clone(),
                    _ => vec![n.clone()],
                };
                if terms.len() > 1 {
                    let split: Vec<Split> = terms
                        .iter()
                        .map(|t| Split::of(&BigRational::one(), t))
                        .collect();
                    groups.insert(key(&split));
                    // a scalar product of sums: its expansion folds back
                    let expansion: Vec<(BigRational, Expr)> = split
                        .iter()
                        .map(|t| (t.coeff.clone(), t.monomial()))
                        .collect();
                    if e.is_scalar()
                        && matches!(e.kind(), crate::expr::Kind::Product(_))
                        && expansion.iter().all(|(_, m)| m.as_const().is_none())
                        && e.size() <= expansion.iter().map(|(_, m)| m.size()).sum::<usize>()
                    {
                        folds.push((e.clone(), expansion));
                    }
                }
                for t in terms {
                    set.insert(Split::of(&BigRational::one(), &t).monomial());
                }
            }
            // the largest first: a group inside another folds only where
            // the outer one did not
            folds.sort_by_key(|(_, x): &(Expr, Vec<(BigRational, Expr)>)| {
                std::cmp::Reverse(x.len())
            });
            self.pieces = Some(set);
            self.groups = groups;
            self.folds = folds;
        }
        self.pieces.as_ref().expect("just built")
    }

    /// `det(A) det(X) det(B)` written back as the `det(A X B)` the input
    /// wrote (the determinant of a product is the product of
    /// determinants); whether any was.
    fn rejoin_dets(&mut self, t: &mut Split) -> bool {
        use crate::expr::{Func, Kind};
        if !t
            .scalars
            .iter()
            .any(|s| matches!(s.kind(), Kind::Apply(Func::Det, _)))
        {
            return false;
        }
        if self.dets.is_none() {
            let mut dets = Vec::new();
            let mut stack: Vec<Expr> = self.source.iter().cloned().collect();
            while let Some(e) = stack.pop() {
                stack.extend(e.children().into_iter().cloned());
                if let Kind::Apply(Func::Det, a) = e.kind() {
                    let whole = Expr::apply(Func::Det, &self.normal(a));
                    let split = self.normal(&e);
                    let (k, parts, _) = split.split_product();
                    if k.is_one() && parts.len() > 1 {
                        dets.push((parts, whole));
                    }
                }
            }
            self.dets = Some(dets);
        }
        let mut any = false;
        for (parts, whole) in self.dets.clone().unwrap_or_default() {
            if let Some(mut rest) = minus(&t.scalars, &parts) {
                self.fire("det-product");
                rest.insert(0, whole);
                t.scalars = rest;
                any = true;
            }
        }
        any
    }

    /// Whether the terms share a coefficient other than ±1.
    fn common_coefficient(&self, terms: &[Split]) -> bool {
        let k = terms
            .iter()
            .fold(BigRational::zero(), |g, t| gcd(&g, &t.coeff));
        !k.abs().is_one() && !k.is_zero()
    }

    /// Whether a term is, up to scalar factors, a piece of the input or a
    /// constant.
    fn is_piece_term(&mut self, t: &Split) -> bool {
        let m = t.monomial();
        if self.is_piece(&m) {
            return true;
        }
        let chain = Expr::product(t.chain.iter().cloned());
        !t.chain.is_empty() && self.is_piece(&chain)
    }

    /// Whether a monomial is a piece of the input, a constant, or an
    /// elementwise function (or softmax, or a Hadamard product or
    /// quotient) of pieces: the prediction of a residual such as
    /// `sigmoid(X w) - y` or `ones - X ./ (W H)`, which the input may have
    /// written only through its antiderivative (`softplus(X w)`).
    fn is_piece(&mut self, m: &Expr) -> bool {
        use crate::expr::{Func, Kind};
        crate::stack::grow(|| {
            m.is_one()
                || matches!(m.kind(), Kind::Ones | Kind::Identity)
                || self.pieces().contains(m)
                || match m.kind() {
                    Kind::Apply(Func::Elem(_) | Func::Softmax, a) => self.is_piece(a),
                    Kind::Hadamard(a, b) | Kind::HadamardDiv(a, b) => {
                        self.is_piece(a) && self.is_piece(b)
                    }
                    _ => false,
                }
        })
    }

    /// Groups terms greedily; the result has as many terms or fewer.
    fn group_terms(&mut self, terms: Vec<Split>) -> Vec<Split> {
        // nested groups deeper than this are rare and costly to search
        if self.depth >= 3 {
            return terms;
        }
        self.depth += 1;
        let out = self.group_terms_at_depth(terms);
        self.depth -= 1;
        out
    }

    fn group_terms_at_depth(&mut self, mut terms: Vec<Split>) -> Vec<Split> {
        loop {
            if terms.len() < 2 {
                return terms;
            }
            let mut best: Option<(usize, Vec<usize>, Split)> = None;
            let mut tried: Vec<(Vec<Expr>, Vec<Expr>, Vec<Expr>)> = Vec::new();
            let all_hadamard = terms.iter().all(|t| {
                matches!(t.chain.as_slice(), [f] if matches!(f.kind(), crate::expr::Kind::Hadamard(..)))
            });
            for i in 0..terms.len() {
                for j in i + 1..terms.len() {
                    let Some(common) = shared(&terms[i], &terms[j]) else {
                        continue;
                    };
                    let empty = common.left.is_empty()
                        && common.right.is_empty()
                        && common.scalars.is_empty();
                    if empty && !all_hadamard && !self.common_coefficient(&terms) {
                        continue;
                    }
                    let id = (
                        common.scalars.clone(),
                        common.left.clone(),
                        common.right.clone(),
                    );
                    if tried.contains(&id) {
                        continue;
                    }
                    tried.push(id);
                    let members: Vec<usize> = (0..terms.len())
                        .filter(|&k| fits(&terms[k], &common))
                        .collect();
                    if best.as_ref().is_some_and(|(n, _, _)| *n >= members.len()) {
                        continue;
                    }
                    if let Some(g) = self.grouped(&terms, &members, &common) {
                        best = Some((members.len(), members, g));
                    }
                }
            }
            let Some((_, members, g)) = best else {
                return terms;
            };
            self.fire("group-residual");
            let first = members[0];
            let mut out = Vec::with_capacity(terms.len() - members.len() + 1);
            for (k, t) in terms.into_iter().enumerate() {
                if k == first {
                    out.push(g.clone());
                } else if !members.contains(&k) {
                    out.push(t);
                }
            }
            terms = out;
        }
    }

    /// The members written once around their inner sum, if that sum is a
    /// residual of the input (or groups into one term).
    fn grouped(&mut self, terms: &[Split], members: &[usize], c: &Common) -> Option<Split> {
        let inner: Vec<Split> = members
            .iter()
            .map(|&k| {
                let t = &terms[k];
                Split {
                    coeff: t.coeff.clone(),
                    scalars: minus(&t.scalars, &c.scalars).expect("fits"),
                    chain: t.chain[c.left.len()..t.chain.len() - c.right.len()].to_vec(),
                }
            })
            .collect();
        let structural = !(c.left.is_empty() && c.right.is_empty() && c.scalars.is_empty());
        // sharing a group the input wrote, `D (X b + c) b^T + D^T (X b + c)
        // b^T`, is reason enough to write the rest once
        let shares_group = c
            .left
            .iter()
            .chain(&c.right)
            .any(|f| matches!(f.kind(), crate::expr::Kind::Sum(_)));
        let (k, sum) = match self.inner_sum(inner.clone(), structural, shares_group) {
            Some((k, sum)) if structural || !k.abs().is_one() => (k, sum),
            _ if !structural => {
                let h = self.hadamard_factor(&inner)?;
                return Some(Split {
                    coeff: BigRational::one(),
                    scalars: vec![],
                    chain: vec![h],
                });
            }
            _ => return None,
        };
        let mut chain = c.left.clone();
        chain.push(sum);
        chain.extend_from_slice(&c.right);
        Some(Split {
            coeff: k,
            scalars: c.scalars.clone(),
            chain,
        })
    }

    /// The sum of `inner` as (coefficient pulled out, one expression), if
    /// it is a residual of the input or (when something structural was
    /// pulled, so that the inner terms are smaller) groups into one term.
    fn inner_sum(
        &mut self,
        inner: Vec<Split>,
        regroup: bool,
        any: bool,
    ) -> Option<(BigRational, Expr)> {
        let mut k = inner
            .iter()
            .fold(BigRational::zero(), |g, t| gcd(&g, &t.coeff));
        if k.is_zero() {
            return None;
        }
        // pull a fraction only when every term has it: `(1/2) (6 a X + B)`
        // reads worse than `3 a X + (1/2) B`
        let equal = inner.iter().all(|t| t.coeff.abs() == inner[0].coeff.abs());
        if !k.is_integer() && !equal {
            k = BigRational::one();
        }
        // a positive coefficient outside, and a positive term first inside
        // (`X^T (sigmoid(X w) - y)`, not `-X^T (y - sigmoid(X w))`),
        // unless every term is negative
        if inner.iter().all(|t| t.coeff.is_negative()) {
            k = -k;
        }
        let (mut inner, negative): (Vec<Split>, Vec<Split>) = inner
            .into_iter()
            .partition(|t| t.coeff.is_positive() == k.is_positive());
        inner.extend(negative);
        let scaled: Vec<Split> = inner
            .into_iter()
            .map(|t| Split {
                coeff: &t.coeff / &k,
                ..t
            })
            .collect();
        let residual = any || scaled.iter().all(|t| self.is_piece_term(t));
        if !residual {
            if let Some(h) = self.hadamard_factor(&scaled) {
                return Some((k, h));
            }
            if !regroup {
                return None;
            }
            let once = self.group_terms(scaled);
            return match once.as_slice() {
                [one] => Some((&k * &one.coeff, one.monomial())),
                _ => None,
            };
        }
        // the way round the input wrote the group: `x - m`, not `m - x`
        let flipped: Vec<Split> = scaled
            .iter()
            .map(|t| Split {
                coeff: -&t.coeff,
                ..t.clone()
            })
            .collect();
        let (k, scaled) =
            if !self.groups.contains(&key(&scaled)) && self.groups.contains(&key(&flipped)) {
                let (mut pos, neg): (Vec<Split>, Vec<Split>) =
                    flipped.into_iter().partition(|t| t.coeff.is_positive());
                pos.extend(neg);
                (-k, pos)
            } else {
                (k, scaled)
            };
        Some((k, Expr::sum(scaled.iter().map(Split::expr))))
    }

    /// `H .* (Σ P_k)` for terms `H .* P_k` whose `P_k` group into one
    /// term.
    fn hadamard_factor(&mut self, terms: &[Split]) -> Option<Expr> {
        use crate::expr::Kind::Hadamard;
        let pair = |t: &Split| match t.chain.as_slice() {
            [f] if t.scalars.is_empty() => match f.kind() {
                Hadamard(a, b) => Some((a.clone(), b.clone())),
                _ => None,
            },
            _ => None,
        };
        let pairs: Vec<(Expr, Expr)> = terms.iter().map(pair).collect::<Option<_>>()?;
        let (a0, b0) = &pairs[0];
        for h in [a0, b0] {
            let others: Option<Vec<Split>> = pairs
                .iter()
                .zip(terms)
                .map(|((a, b), t)| {
                    let p = if a == h {
                        b
                    } else if b == h {
                        a
                    } else {
                        return None;
                    };
                    Some(Split::of(&t.coeff, p))
                })
                .collect();
            let Some(others) = others else { continue };
            let residual = others.iter().all(|t| self.is_piece_term(t));
            let grouped = self.group_terms(others);
            let inner = match grouped.as_slice() {
                [one] => Some(one.expr()),
                _ if residual => Some(Expr::sum(grouped.iter().map(Split::expr))),
                _ => None,
            };
            if let Some(inner) = inner {
                self.fire("group-hadamard");
                return Some(if h == a0 {
                    Expr::hadamard(h, &inner)
                } else {
                    Expr::hadamard(&inner, h)
                });
            }
        }
        None
    }
}

/// Whether `e` has a sum node or an elementwise function.
/// A group whose terms are all transposes, written as the transpose of
/// the group: `(x^T - m^T)` is `(x - m)^T`, as a textbook prints it.
fn transposed_sum(f: &Expr) -> Option<Expr> {
    let crate::expr::Kind::Sum(ts) = f.kind() else {
        return None;
    };
    let inner: Option<Vec<Expr>> = ts
        .iter()
        .map(|t| {
            let (c, scalars, chain) = t.split_product();
            match chain.as_slice() {
                [x] => match x.kind() {
                    crate::expr::Kind::Transpose(u) => Some(Expr::scale(
                        &c,
                        &Expr::product(scalars.into_iter().chain([u.clone()])),
                    )),
                    _ => None,
                },
                _ => None,
            }
        })
        .collect();
    Some(Expr::transpose(&Expr::sum(inner?)))
}

/// [`transposed_sum`] applied to every group among the factors of a
/// product (and inside those groups' terms), `None` where none applies.
fn untranspose(f: &Expr) -> Option<Expr> {
    // the children rewritten, if any was
    let each = |xs: &[Expr]| {
        let out: Vec<Option<Expr>> = xs.iter().map(untranspose).collect();
        out.iter().any(Option::is_some).then(|| {
            out.into_iter()
                .zip(xs)
                .map(|(h, g)| h.unwrap_or_else(|| g.clone()))
                .collect::<Vec<Expr>>()
        })
    };
    match f.kind() {
        crate::expr::Kind::Product(fs) => each(fs).map(Expr::product),
        crate::expr::Kind::Sum(ts) => {
            transposed_sum(f).or_else(|| each(ts).map(|out| Expr::sum_shaped(f.shape(), out)))
        }
        _ => None,
    }
}

fn has_sum(e: &Expr) -> bool {
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if matches!(
            x.kind(),
            crate::expr::Kind::Sum(_) | crate::expr::Kind::Apply(crate::expr::Func::Elem(_), _)
        ) {
            return true;
        }
        stack.extend(x.children());
    }
    false
}

/// Whether `e` has a Hadamard product.
fn has_hadamard(e: &Expr) -> bool {
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if matches!(x.kind(), crate::expr::Kind::Hadamard(..)) {
            return true;
        }
        stack.extend(x.children());
    }
    false
}

/// A sum's terms as a key that does not depend on their order.
fn key(terms: &[Split]) -> Vec<(Expr, BigRational)> {
    let mut k: Vec<(Expr, BigRational)> = terms
        .iter()
        .map(|t| (t.monomial(), t.coeff.clone()))
        .collect();
    k.sort();
    k
}

/// The longest common parts of two terms, if they share anything.
fn shared(a: &Split, b: &Split) -> Option<Common> {
    let mut scalars = Vec::new();
    let mut rest = b.scalars.clone();
    for s in &a.scalars {
        if let Some(i) = rest.iter().position(|r| r == s) {
            scalars.push(rest.remove(i));
        }
    }
    let (x, y) = (&a.chain, &b.chain);
    let most = x.len().min(y.len());
    let left = (0..most).take_while(|&i| x[i] == y[i]).count();
    // leave each inner part at least one factor
    let left = left.min(most.saturating_sub(1));
    let right = (0..most - left)
        .take_while(|&i| x[x.len() - 1 - i] == y[y.len() - 1 - i])
        .count()
        .min((most - left).saturating_sub(1));
    if x.is_empty() || y.is_empty() {
        return None;
    }
    Some(Common {
        scalars,
        left: x[..left].to_vec(),
        right: x[x.len() - right..].to_vec(),
    })
}

/// Whether a term has the common parts, with a non-empty inner chain.
fn fits(t: &Split, c: &Common) -> bool {
    t.chain.len() > c.left.len() + c.right.len()
        && t.chain.starts_with(&c.left)
        && t.chain.ends_with(&c.right)
        && minus(&t.scalars, &c.scalars).is_some()
}
