//! Random points for the checks: sizes for the symbolic dimensions and
//! values for the variables, in f64 and as small integers over Q.
//!
//! It owns the one policy that decides what a check can see. A point is
//! symmetric only where the user declared a variable symmetric (or SPD);
//! everywhere else it is deliberately non-symmetric, directions included,
//! so that a transposed factor, `X^-T` for `X^-1`, or the symmetric
//! formula for a general variable changes the value. Where the domain
//! asks for it (a `log`, `sqrt`, `logdet`, a fractional power or a
//! power with a variable exponent) entries
//! are positive and a square matrix is a positive diagonal plus positive
//! noise: strictly diagonally dominant, so its determinant is positive,
//! yet not symmetric. (Points for the simplifier's fingerprints keep the
//! older SPD drawing: they only decide which terms to compare, never a
//! verdict.)

use crate::expr::{Expr, Kind};
use crate::lower::Context;
use crate::numeric::exact::{ExactValues, small_int};
use crate::numeric::float::{Bindings, EvalError, Matrix};
use crate::numeric::rng::Rng;
use num_rational::BigRational;
use std::collections::BTreeSet;

/// Sizes given to the symbolic dimensions, in order of first appearance.
const SIZES: [usize; 8] = [3, 4, 5, 2, 6, 7, 8, 9];

/// Names of the symbolic dimensions of the expressions, in first-appearance
/// order (variables of the context first).
fn dim_names(ctx: &Context, nodes: &[&Expr]) -> Vec<String> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    let mut note = |d: &crate::shape::Dim| {
        for n in &d.names {
            let n: &str = n.as_ref();
            if !seen.contains(n) {
                seen.insert(n.to_string());
                out.push(n.to_string());
            }
        }
    };
    for name in &ctx.order {
        let s = &ctx.vars[name].shape;
        note(&s.rows);
        note(&s.cols);
    }
    for x in nodes {
        note(&x.shape().rows);
        note(&x.shape().cols);
    }
    out
}

/// The distinct subexpressions of `exprs` (equal subtrees once), in the
/// order of a depth-first walk.
pub(crate) fn distinct_nodes<'a>(exprs: &[&'a Expr]) -> Vec<&'a Expr> {
    let mut visited: crate::hash::FxHashSet<&Expr> = Default::default();
    let mut out = Vec::new();
    for e in exprs {
        let mut stack = vec![*e];
        while let Some(x) = stack.pop() {
            if visited.insert(x) {
                out.push(x);
                stack.extend(x.children());
            }
        }
    }
    out
}

/// Whether a node needs positive values (a log, a root, a log-det).
fn needs_positive(x: &Expr) -> bool {
    match x.kind() {
        Kind::Apply(f, _) => f.row().domain == crate::builtins::Domain::Positive,
        Kind::Power(_, k) | Kind::HadamardPow(_, k) => !k.is_integer(),
        // a^b with a variable exponent: the base must be positive
        Kind::Pow(..) => true,
        _ => false,
    }
}

pub(crate) fn random_matrix(rng: &mut Rng, r: usize, c: usize, lo: f64, hi: f64) -> Matrix {
    Matrix {
        rows: r,
        cols: c,
        data: (0..r * c).map(|_| rng.uniform(lo, hi)).collect(),
    }
}

pub(crate) fn symmetrize(m: &Matrix) -> Matrix {
    m.zip(&m.transpose(), |a, b| (a + b) / 2.0).expect("square")
}

/// What drawing a random point needs to know about some expressions,
/// found in one walk over their distinct nodes: the dimension names in
/// order of first appearance, the unit matrices' index letters and
/// shapes, and whether a log or a root needs positive values.
pub struct Plan {
    pub(crate) names: Vec<String>,
    pub(crate) units: Vec<(std::rc::Rc<str>, crate::shape::Shape)>,
    pub(crate) positive: bool,
    /// Whether a node needs entries in (-1, 1) (`arcsin`, `arccos`): then
    /// every value is drawn small.
    pub(crate) unit: bool,
}

impl Plan {
    /// The plan for points at which `exprs` (over `ctx`'s variables) are
    /// evaluated.
    pub fn new(ctx: &Context, exprs: &[&Expr]) -> Plan {
        Plan::of_nodes(ctx, &distinct_nodes(exprs))
    }

    /// The plan from the distinct nodes of the expressions.
    pub(crate) fn of_nodes(ctx: &Context, nodes: &[&Expr]) -> Plan {
        // distinct nodes, so each (letters, shape) pair once
        let units = nodes
            .iter()
            .filter_map(|x| match x.kind() {
                Kind::Unit(ix) => Some((ix.clone(), x.shape().clone())),
                _ => None,
            })
            .collect();
        Plan {
            names: dim_names(ctx, nodes),
            units,
            positive: nodes.iter().any(|x| needs_positive(x)),
            unit: nodes.iter().any(|x| {
                matches!(x.kind(), Kind::Apply(f, _) if f.row().domain == crate::builtins::Domain::Unit)
            }),
        }
    }
}

impl Plan {
    /// When an attempt finds no value after `points` attempts, draws
    /// small values from then on, as for `arcsin`: a derivative may need them
    /// without naming the function that does (the gradient of
    /// `sum(arcsin(A x))`, against which its Hessian is checked, holds
    /// `sqrt(1 - (A x).^2)` but no `arcsin`).
    pub(crate) fn shrink_after_misses(&mut self, attempts: usize, points: usize) {
        if attempts > points {
            self.unit = true;
        }
    }
}

/// A random point: sizes for every dimension, values for every variable
/// (declared symmetric ones symmetric, SPD ones SPD, every other one
/// non-symmetric; positive where logs need it, see the module doc).
///
/// `shuffle` = 0 gives the dimensions the sizes 3, 4, 5, 2, … in order of
/// first appearance; other values permute them (used when a point cannot
/// be evaluated, e.g. `(X^T X)^-1` needs more rows than columns).
pub fn random_bindings(
    ctx: &Context,
    exprs: &[&Expr],
    rng: &mut Rng,
    shuffle: usize,
) -> Result<Bindings, EvalError> {
    draw(&Plan::new(ctx, exprs), ctx, rng, shuffle)
}

/// A random point for a [`Plan`], as [`random_bindings`] draws it.
pub fn draw(
    plan: &Plan,
    ctx: &Context,
    rng: &mut Rng,
    shuffle: usize,
) -> Result<Bindings, EvalError> {
    draw_with(plan, ctx, rng, shuffle, false)
}

/// [`draw`], or with `spd_where_positive` the older drawing that makes
/// every square matrix SPD when the expressions need positive values
/// (kept for the simplifier's fingerprints, whose choices it fixes).
pub(crate) fn draw_with(
    plan: &Plan,
    ctx: &Context,
    rng: &mut Rng,
    shuffle: usize,
    spd_where_positive: bool,
) -> Result<Bindings, EvalError> {
    let mut b = Bindings::default();
    let mut sizes: Vec<usize> = (0..plan.names.len())
        .map(|k| SIZES[k % SIZES.len()] + 6 * (k / SIZES.len()))
        .collect();
    if shuffle > 0 {
        for i in (1..sizes.len()).rev() {
            sizes.swap(i, rng.below(i + 1));
        }
    }
    for (name, size) in plan.names.iter().zip(sizes) {
        b.dims.insert(name.clone(), size);
    }
    // Index letters of unit matrices in the expressions: a random index
    // that fits every unit that uses the letter.
    let mut limits: std::collections::BTreeMap<char, usize> = Default::default();
    for (ix, shape) in &plan.units {
        let (r, c) = b.shape(shape)?;
        for (letter, size) in ix.chars().zip([r, c]) {
            let l = limits.entry(letter).or_insert(size);
            *l = (*l).min(size);
        }
    }
    for (letter, size) in limits {
        b.indices.insert(letter, rng.below(size.max(1)));
    }
    let positive = plan.positive;
    for name in &ctx.order {
        let info = &ctx.vars[name];
        if info.differential_of.is_some() {
            continue;
        }
        let (r, c) = b.shape(&info.shape)?;
        let square = r == c && r > 1;
        let m = if info.spd || (spd_where_positive && positive && square) {
            let g = random_matrix(rng, r, c, -1.0, 1.0);
            let mut m = g.mul(&g.transpose())?;
            for i in 0..r {
                m.set(i, i, m.get(i, i) + r as f64);
            }
            m
        } else if positive {
            // positive entries, and for a square matrix a diagonal that
            // dominates each row: det > 0, and symmetric only if declared
            let mut m = random_matrix(rng, r, c, 0.5, 1.5);
            if info.symmetric && square {
                m = symmetrize(&m);
            }
            if square {
                for i in 0..r {
                    m.set(i, i, m.get(i, i) + 1.5 * r as f64);
                }
            }
            m
        } else if info.symmetric {
            symmetrize(&random_matrix(rng, r, c, -1.0, 1.0))
        } else {
            let mut m = random_matrix(rng, r, c, -1.0, 1.0);
            if square {
                for i in 0..r {
                    m.set(i, i, m.get(i, i) + 1.5);
                }
            }
            m
        };
        // small values keep `arcsin(A x)` inside (-1, 1); scaling keeps
        // signs and diagonal dominance
        let m = if plan.unit {
            let k = 4.0f64.max(2.0 * m.max_abs());
            m.map(|x| x / k)
        } else {
            m
        };
        b.vars.insert(name.clone(), m);
    }
    Ok(b)
}

/// Random small-integer values for every variable (symmetric ones
/// symmetric, square ones with a heavy diagonal so they are invertible).
pub(crate) fn exact_values(
    ctx: &Context,
    b: &Bindings,
    rng: &mut Rng,
) -> Result<ExactValues, EvalError> {
    let mut values = ExactValues::new();
    for name in &ctx.order {
        let info = &ctx.vars[name];
        if info.differential_of.is_some() {
            continue;
        }
        let (r, c) = b.shape(&info.shape)?;
        let mut m: Vec<Vec<BigRational>> = (0..r)
            .map(|_| (0..c).map(|_| small_int(rng, -3, 3)).collect())
            .collect();
        if r == c && r > 1 {
            if info.symmetric {
                mirror_upper(&mut m);
            }
            for (i, row) in m.iter_mut().enumerate() {
                row[i] += BigRational::from_integer((3 * r as i64).into());
            }
        }
        values.insert(name.clone(), m);
    }
    Ok(values)
}

/// A random direction in f64 (symmetric for a symmetric variable).
pub(crate) fn float_direction(rng: &mut Rng, r: usize, c: usize, symmetric: bool) -> Matrix {
    let h = random_matrix(rng, r, c, -1.0, 1.0);
    if symmetric { symmetrize(&h) } else { h }
}

/// A random small-integer direction (symmetric for a symmetric variable).
pub(crate) fn exact_direction(
    rng: &mut Rng,
    r: usize,
    c: usize,
    symmetric: bool,
) -> Vec<Vec<BigRational>> {
    let mut h: Vec<Vec<BigRational>> = (0..r)
        .map(|_| (0..c).map(|_| small_int(rng, -2, 2)).collect())
        .collect();
    if symmetric {
        mirror_upper(&mut h);
    }
    h
}

/// Copies the upper triangle onto the lower one (a symmetric matrix).
fn mirror_upper(m: &mut [Vec<BigRational>]) {
    for i in 1..m.len() {
        let (upper, lower) = m.split_at_mut(i);
        for (j, row) in upper.iter().enumerate() {
            lower[0][j] = row[i].clone();
        }
    }
}
