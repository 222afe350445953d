//! The simplifier's fingerprints: terms told apart by their values at one
//! random point. Two terms that laws could prove equal have equal values,
//! so terms whose values differ need no e-graph to be kept apart; that
//! keeps the e-graph off the common path of small gradients.
//!
//! They belong to the simplifier, which is their only user; the point is
//! drawn with the checker's point drawing (`numeric::point`) and valued by
//! the one evaluator, so a fingerprint means what a check would compute.

use crate::expr::{Expr, Kind};
use crate::lower::Context;
use crate::numeric::float::{Bindings, Matrix, eval};
use crate::numeric::point::{Plan, distinct_nodes, draw_with, random_matrix, symmetrize};
use crate::numeric::rng::Rng;
use num_rational::BigRational;
use num_traits::{One, ToPrimitive};

/// One reproducible random point at which every variable of `exprs` has a
/// value, directions such as `dX` included (symmetric where the context
/// says so), or `None` when no such point could be drawn.
pub fn sample_point(ctx: &Context, exprs: &[&Expr], seed: u64) -> Option<Bindings> {
    let mut rng = Rng::new(seed);
    let nodes = distinct_nodes(exprs);
    let plan = Plan::of_nodes(ctx, &nodes);
    let mut b = draw_with(&plan, ctx, &mut rng, 0, true).ok()?;
    // General square matrices become random orthogonal ones: the powers of
    // a matrix with a dominant eigenvalue all tend to one rank-1 matrix, so
    // `X^40 dX X^60` and `X^41 dX X^59` would look equal; orthogonal powers
    // neither converge nor overflow.
    if !plan.positive {
        for (name, info) in &ctx.vars {
            let (r, c) = b.shape(&info.shape).ok()?;
            if r == c && r > 1 && !info.symmetric && !info.spd && info.differential_of.is_none() {
                b.vars.insert(name.clone(), random_orthogonal(&mut rng, r));
            }
        }
    }
    for x in nodes {
        if let Kind::Var(v) = x.kind()
            && !b.vars.contains_key(&**v)
        {
            let (r, c) = b.shape(x.shape()).ok()?;
            let m = random_matrix(&mut rng, r, c, -1.0, 1.0);
            let symmetric = ctx.get(v).is_some_and(|i| i.symmetric || i.spd);
            let m = if symmetric && r == c {
                symmetrize(&m)
            } else {
                m
            };
            b.vars.insert(v.to_string(), m);
        }
    }
    Some(b)
}

/// A random orthogonal matrix: Gram–Schmidt on random columns.
fn random_orthogonal(rng: &mut Rng, n: usize) -> Matrix {
    let g = random_matrix(rng, n, n, -1.0, 1.0);
    let mut q = Matrix::zeros(n, n);
    for j in 0..n {
        let mut v: Vec<f64> = (0..n).map(|i| g.get(i, j)).collect();
        for k in 0..j {
            let dot: f64 = (0..n).map(|i| v[i] * q.get(i, k)).sum();
            for (i, x) in v.iter_mut().enumerate() {
                *x -= dot * q.get(i, k);
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
        for (i, x) in v.iter().enumerate() {
            q.set(i, j, x / norm);
        }
    }
    q
}

/// Tells terms apart by their values at one random point, drawn once for
/// a whole simplification (from the expression being simplified) and kept
/// with every term's value: a simplification asks about the same terms
/// again and again.
pub struct Fingerprints<'a> {
    ctx: &'a Context,
    /// What the point is drawn for.
    root: Expr,
    /// The point, once drawn (`None` inside when none could be).
    point: Option<Option<Bindings>>,
    /// Random weights on the rows (`u`) and columns (`v`) of a term: its
    /// key is `u^T M v` over the first entries of each.
    u: Vec<f64>,
    v: Vec<f64>,
    weight_rng: Rng,
    /// Each term's key (`None`: it cannot be evaluated at the point).
    keys: crate::hash::FxHashMap<Expr, Option<f64>>,
    /// The values of the factors of products.
    values: crate::hash::FxHashMap<Expr, Option<std::rc::Rc<Matrix>>>,
}

impl<'a> Fingerprints<'a> {
    /// Fingerprints for the terms met while simplifying `root`.
    pub fn new(ctx: &'a Context, root: &Expr) -> Fingerprints<'a> {
        Fingerprints {
            ctx,
            root: root.clone(),
            point: None,
            u: Vec::new(),
            v: Vec::new(),
            weight_rng: Rng::new(0x0dd_ba11),
            keys: Default::default(),
            values: Default::default(),
        }
    }

    /// A term's key: `u^T M v` for its value `M` at the point.
    fn key(&mut self, e: &Expr) -> Option<f64> {
        if let Some(k) = self.keys.get(e) {
            return *k;
        }
        if self.point.is_none() {
            let exprs = [&self.root];
            self.point = Some(sample_point(self.ctx, &exprs, 0x5eed_f00d));
        }
        let key = self.functional(e).filter(|k| k.is_finite());
        self.keys.insert(e.clone(), key);
        key
    }

    /// The value of a factor at the point (kept).
    fn value(&mut self, e: &Expr) -> Option<std::rc::Rc<Matrix>> {
        if let Some(m) = self.values.get(e) {
            return m.clone();
        }
        let b = self.point.as_ref()?.as_ref()?;
        let m = eval(e, b).ok().map(std::rc::Rc::new);
        self.values.insert(e.clone(), m.clone());
        m
    }

    /// `u^T M v` for the value `M` of `e`. A product is folded from the
    /// left, a row vector through its chain, rather than multiplied out.
    fn functional(&mut self, e: &Expr) -> Option<f64> {
        let (rows, cols) = self.point.as_ref()?.as_ref()?.shape(e.shape()).ok()?;
        while self.u.len() < rows.max(cols) {
            let mut draw = || 0.5 + self.weight_rng.below(1_000_000) as f64 / 1e6;
            let (a, b) = (draw(), draw());
            self.u.push(a);
            self.v.push(b);
        }
        let (c, scalars, chain) = match e.kind() {
            Kind::Product(_) => e.split_product(),
            _ => (BigRational::one(), Vec::new(), vec![e.clone()]),
        };
        let mut scale = c.to_f64()?;
        for s in &scalars {
            scale *= self.value(s)?.data.first().copied()?;
        }
        if chain.is_empty() {
            return (rows == 1 && cols == 1).then(|| scale * self.u[0] * self.v[0]);
        }
        let mut row: Vec<f64> = self.u[..rows].to_vec();
        for f in &chain {
            let m = self.value(f)?;
            if m.rows != row.len() {
                return None;
            }
            let mut next = vec![0.0; m.cols];
            for (&r, m_row) in row.iter().zip(m.data.chunks_exact(m.cols.max(1))) {
                for (n, &x) in next.iter_mut().zip(m_row) {
                    *n += r * x;
                }
            }
            row = next;
        }
        if row.len() != cols {
            return None;
        }
        Some(scale * row.iter().zip(&self.v).map(|(r, v)| r * v).sum::<f64>())
    }

    /// Whether the values of `exprs` are pairwise far apart (relative gap
    /// over 1e-6 between their keys). Terms that laws prove equal have
    /// equal values, so `true` means no two of them can be merged; `false`
    /// (close values, or a term that cannot be evaluated at the point)
    /// means they might be.
    pub fn distinct(&mut self, exprs: &[&Expr]) -> bool {
        let mut keys = Vec::with_capacity(exprs.len());
        for e in exprs {
            match self.key(e) {
                Some(k) => keys.push(k),
                None => return false,
            }
        }
        keys.sort_by(f64::total_cmp);
        keys.windows(2)
            .all(|p| (p[1] - p[0]).abs() > 1e-6 * p[0].abs().max(p[1].abs()).max(1e-300))
    }
}
