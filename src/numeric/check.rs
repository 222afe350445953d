//! Numeric verification of derivatives: random instances that honour the
//! declarations, and central differences compared with the symbolic
//! differential.
//!
//! Sizes are distinct for distinct symbolic dimensions (3, 4, 5, 2, …), so
//! a transposed or misplaced factor cannot pass by accident on square
//! shapes. A point where the expression cannot be evaluated (a singular
//! matrix, a log of a negative number) is resampled.

use crate::expr::{Expr, Kind};
use crate::lower::Context;
use crate::numeric::exact::{
    DualMatrix, ExactError, ExactPoint, ExactValues, eval_dual, is_rational, small_int,
};
use crate::numeric::float::{Bindings, EvalError, Matrix, eval};
use crate::numeric::rng::Rng;
use num_rational::BigRational;
use num_traits::{One, ToPrimitive};
use std::collections::BTreeSet;

/// Sizes given to the symbolic dimensions, in order of first appearance.
const SIZES: [usize; 8] = [3, 4, 5, 2, 6, 7, 8, 9];

/// The direction a differential was taken in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A direction variable such as `dX` or `H`, set to a random matrix.
    Var(String),
    /// The unit matrix `E_ij` (or `e_i`), with random indices.
    Unit,
}

/// The outcome of a numeric check.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Points at which the comparison was made.
    pub points: usize,
    /// The largest relative error seen (0 for an exact check).
    pub max_rel_error: f64,
    /// Whether the comparison was exact, over Q with dual numbers.
    pub exact: bool,
    /// The point with the largest error, in words (f64 checks only).
    pub worst_point: Option<String>,
    /// The largest relative difference as measured, before allowing for
    /// the central differences' own error estimate (what `check` prints;
    /// `max_rel_error` is what it judges).
    pub measured_rel_error: f64,
}

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
fn distinct_nodes<'a>(exprs: &[&'a Expr]) -> Vec<&'a Expr> {
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
        _ => false,
    }
}

fn random_matrix(rng: &mut Rng, r: usize, c: usize, lo: f64, hi: f64) -> Matrix {
    Matrix {
        rows: r,
        cols: c,
        data: (0..r * c).map(|_| rng.uniform(lo, hi)).collect(),
    }
}

fn symmetrize(m: &Matrix) -> Matrix {
    m.zip(&m.transpose(), |a, b| (a + b) / 2.0).expect("square")
}

/// What drawing a random point needs to know about some expressions,
/// found in one walk over their distinct nodes: the dimension names in
/// order of first appearance, the unit matrices' index letters and
/// shapes, and whether a log or a root needs positive values.
pub struct Plan {
    names: Vec<String>,
    units: Vec<(std::rc::Rc<str>, crate::shape::Shape)>,
    positive: bool,
}

impl Plan {
    /// The plan for points at which `exprs` (over `ctx`'s variables) are
    /// evaluated.
    pub fn new(ctx: &Context, exprs: &[&Expr]) -> Plan {
        Plan::of_nodes(ctx, &distinct_nodes(exprs))
    }

    /// The plan from the distinct nodes of the expressions.
    fn of_nodes(ctx: &Context, nodes: &[&Expr]) -> Plan {
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
        }
    }
}

/// A random point: sizes for every dimension, values for every variable
/// (symmetric ones symmetric, SPD ones SPD, positive where logs need it).
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
        let m = if info.spd || (positive && r == c && r > 1) {
            let g = random_matrix(rng, r, c, -1.0, 1.0);
            let mut m = g.mul(&g.transpose())?;
            for i in 0..r {
                m.set(i, i, m.get(i, i) + r as f64);
            }
            m
        } else if info.symmetric {
            symmetrize(&random_matrix(rng, r, c, -1.0, 1.0))
        } else if positive {
            random_matrix(rng, r, c, 0.5, 1.5)
        } else {
            let mut m = random_matrix(rng, r, c, -1.0, 1.0);
            if r == c && r > 1 {
                for i in 0..r {
                    m.set(i, i, m.get(i, i) + 1.5);
                }
            }
            m
        };
        b.vars.insert(name.clone(), m);
    }
    Ok(b)
}

/// Compares the symbolic differential `df` of `f` (taken with respect to
/// `wrt` in direction `dir`) with central differences at `points` random
/// points.
pub fn check_differential(
    f: &Expr,
    df: &Expr,
    ctx: &Context,
    wrt: &str,
    dir: &Direction,
    points: usize,
    seed: u64,
) -> Result<Report, EvalError> {
    let symmetric = ctx.get(wrt).is_some_and(|v| v.symmetric);
    let mut worst: (f64, Option<String>) = (-1.0, None);
    let mut measured: f64 = 0.0;
    let report = sample(ctx, &[f, df], points, seed, "", |rng, mut b| {
        let x = b
            .vars
            .get(wrt)
            .cloned()
            .ok_or_else(|| not_a_variable(wrt))?;
        let h = match dir {
            Direction::Var(name) => {
                let h = float_direction(rng, x.rows, x.cols, symmetric);
                b.vars.insert(name.clone(), h.clone());
                h
            }
            Direction::Unit => {
                let (i, j) = (rng.below(x.rows), rng.below(x.cols));
                b.indices.insert('i', i);
                b.indices.insert('j', j);
                let mut h = Matrix::zeros(x.rows, x.cols);
                h.set(i, j, 1.0);
                h
            }
        };
        // the function first: it is cheaper than its differential, and a
        // point where it cannot be evaluated is drawn again
        if eval(f, &b).is_err() {
            return Ok(None);
        }
        let Ok(symbolic) = eval(df, &b) else {
            return Ok(None);
        };
        // Central differences at steps h and h/2, combined by Richardson
        // extrapolation: the truncation error falls from O(h²) to O(h⁴),
        // which keeps badly scaled points (entries near a pole of x^(-1/2))
        // from failing a correct derivative.
        let central = |step: f64| -> Result<Option<Matrix>, Stop> {
            let mut plus = b.clone();
            let mut minus = b.clone();
            plus.vars
                .insert(wrt.to_string(), x.zip(&h, |a, d| a + step * d)?);
            minus
                .vars
                .insert(wrt.to_string(), x.zip(&h, |a, d| a - step * d)?);
            let (Ok(fp), Ok(fm)) = (eval(f, &plus), eval(f, &minus)) else {
                return Ok(None);
            };
            Ok(Some(fp.zip(&fm, |a, c| (a - c) / (2.0 * step))?))
        };
        let step = 1e-4;
        let (Some(coarse), Some(fine)) = (central(step)?, central(step / 2.0)?) else {
            return Ok(None);
        };
        let fd = fine.zip(&coarse, |a, c| (4.0 * a - c) / 3.0)?;
        if (fd.rows, fd.cols) != (symbolic.rows, symbolic.cols) && !symbolic.is_scalar() {
            return Err(Stop::Fail(EvalError::new(format!(
                "the differential is {}×{} but the function's change is {}×{}",
                symbolic.rows, symbolic.cols, fd.rows, fd.cols
            ))));
        }
        // The gap between the two steps estimates the differences' own
        // error (truncation and rounding, large near a pole); only what
        // exceeds a few times that estimate counts against the derivative.
        let noise = fine.zip(&coarse, |a, c| (a - c).abs())?;
        let diff = fd.zip(&symbolic, |a, c| a - c)?;
        let scale = fd.max_abs().max(symbolic.max_abs()).max(1e-3);
        measured = measured.max(diff.max_abs() / scale);
        let diff = if noise.is_scalar() == diff.is_scalar() {
            diff.zip(&noise, |d, e| (d.abs() - 4.0 * e).max(0.0))?
        } else {
            diff
        };
        let err = diff.max_abs() / scale;
        if err > worst.0 {
            worst = (err, Some(describe_float_point(&b)));
        }
        Ok(Some(err))
    });
    match report {
        Ok(r) => Ok(Report {
            worst_point: worst.1,
            measured_rel_error: measured,
            ..r
        }),
        Err(Stop::Fail(e)) => Err(e),
        Err(Stop::Inexact) => unreachable!("f64 checks are never inexact"),
    }
}

/// Random small-integer values for every variable (symmetric ones
/// symmetric, square ones with a heavy diagonal so they are invertible).
fn exact_values(ctx: &Context, b: &Bindings, rng: &mut Rng) -> Result<ExactValues, EvalError> {
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

/// Compares the symbolic differential `df` of `f` with the exact
/// directional derivative, the ε part of F(X + εH) over Q, at `points`
/// random integer points. `Ok(None)` when `f` or `df` leaves Q.
pub fn check_exact(
    f: &Expr,
    df: &Expr,
    ctx: &Context,
    wrt: &str,
    dir: &Direction,
    points: usize,
    seed: u64,
) -> Result<Option<Report>, EvalError> {
    if !is_rational(f) || !is_rational(df) {
        return Ok(None);
    }
    // One budget for the whole check: past it, the caller checks in f64.
    crate::numeric::exact::reset_work();
    let symmetric = ctx.get(wrt).is_some_and(|v| v.symmetric);
    let report = sample(ctx, &[f, df], points, seed, " exactly", |rng, mut b| {
        let mut values = exact_values(ctx, &b, rng)?;
        let x = values.get(wrt).ok_or_else(|| not_a_variable(wrt))?;
        let (r, c) = (x.len(), x.first().map_or(0, Vec::len));
        let h: Vec<Vec<BigRational>> = match dir {
            Direction::Var(name) => {
                let h = exact_direction(rng, r, c, symmetric);
                values.insert(name.clone(), h.clone());
                h
            }
            Direction::Unit => {
                let (i, j) = (rng.below(r), rng.below(c));
                b.indices.insert('i', i);
                b.indices.insert('j', j);
                (0..r)
                    .map(|a| {
                        (0..c)
                            .map(|k| BigRational::from_integer(i64::from(a == i && k == j).into()))
                            .collect()
                    })
                    .collect()
            }
        };
        let at = |perturb| ExactPoint {
            values: &values,
            bindings: &b,
            perturb,
        };
        let dual = |e: &Expr, p: &ExactPoint| match eval_dual(e, p) {
            Ok(m) => Ok(Some(m)),
            Err(ExactError::Singular) => Ok(None),
            Err(ExactError::Inexact | ExactError::TooCostly) => Err(Stop::Inexact),
            Err(ExactError::Invalid(m)) => Err(Stop::Fail(EvalError::new(m))),
        };
        let Some(truth) = dual(f, &at(Some((wrt, &h))))? else {
            return Ok(None);
        };
        let Some(symbolic) = dual(df, &at(None))? else {
            return Ok(None);
        };
        if !agree(&truth.eps_rows(), &symbolic) {
            return Err(Stop::Fail(EvalError::new(format!(
                "mismatch at {}: the exact derivative is {:?} but the result gives {:?}",
                describe_point(&values, &b),
                rows_text(&truth.eps_rows()),
                rows_text(&symbolic.re_rows())
            ))));
        }
        Ok(Some(0.0))
    });
    match report {
        Ok(r) => Ok(Some(Report { exact: true, ..r })),
        Err(Stop::Inexact) => Ok(None),
        Err(Stop::Fail(e)) => Err(e),
    }
}

/// Exact agreement, a 1×1 result broadcasting.
fn agree(truth: &[Vec<BigRational>], symbolic: &DualMatrix) -> bool {
    let sym = symbolic.re_rows();
    if sym.len() == 1 && sym[0].len() == 1 {
        return truth.iter().flatten().all(|x| *x == sym[0][0]);
    }
    truth == sym.as_slice()
}

fn rows_text(rows: &[Vec<BigRational>]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|x| x.to_string()).collect())
        .collect()
}

fn describe_point(values: &ExactValues, b: &Bindings) -> String {
    let mut parts: Vec<String> = values
        .iter()
        .map(|(n, v)| format!("{n}={:?}", rows_text(v)))
        .collect();
    parts.extend(b.indices.iter().map(|(c, i)| format!("{c}={}", i + 1)));
    parts.join(", ").replace('"', "")
}

/// A float point in words, entries to four decimals.
fn describe_float_point(b: &Bindings) -> String {
    let mut parts: Vec<String> = b
        .vars
        .iter()
        .map(|(n, m)| {
            let rows: Vec<String> = (0..m.rows)
                .map(|i| {
                    let row: Vec<String> =
                        (0..m.cols).map(|j| format!("{:.4}", m.get(i, j))).collect();
                    format!("[{}]", row.join(", "))
                })
                .collect();
            format!("{n}=[{}]", rows.join(", "))
        })
        .collect();
    parts.extend(b.indices.iter().map(|(c, i)| format!("{c}={}", i + 1)));
    parts.join(", ")
}

/// A random direction in f64 (symmetric for a symmetric variable).
fn float_direction(rng: &mut Rng, r: usize, c: usize, symmetric: bool) -> Matrix {
    let h = random_matrix(rng, r, c, -1.0, 1.0);
    if symmetric { symmetrize(&h) } else { h }
}

/// A random small-integer direction (symmetric for a symmetric variable).
fn exact_direction(rng: &mut Rng, r: usize, c: usize, symmetric: bool) -> Vec<Vec<BigRational>> {
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

/// Why sampling stopped early.
enum Stop {
    /// A real failure, reported as it is.
    Fail(EvalError),
    /// The expression leaves Q (exact checks only).
    Inexact,
}

impl From<EvalError> for Stop {
    fn from(e: EvalError) -> Stop {
        Stop::Fail(e)
    }
}

/// The sampling loop both checks share: draws points until `points` of
/// them could be compared, resampling (with the sizes shuffled after two
/// failures) when `compare` returns `Ok(None)`, and giving up after 20
/// attempts per point. `compare` gets the generator and fresh bindings and
/// returns the relative error at that point.
fn sample(
    ctx: &Context,
    exprs: &[&Expr],
    points: usize,
    seed: u64,
    what: &str,
    mut compare: impl FnMut(&mut Rng, Bindings) -> Result<Option<f64>, Stop>,
) -> Result<Report, Stop> {
    let mut rng = Rng::new(seed);
    let mut report = Report {
        points: 0,
        max_rel_error: 0.0,
        exact: false,
        worst_point: None,
        measured_rel_error: 0.0,
    };
    let plan = Plan::new(ctx, exprs);
    let mut attempts = 0;
    while report.points < points {
        attempts += 1;
        if attempts > 20 * points {
            return Err(Stop::Fail(EvalError::new(format!(
                "could not find a point where the expression can be evaluated{what}"
            ))));
        }
        let shuffle = if attempts > 2 { attempts } else { 0 };
        let b = draw(&plan, ctx, &mut rng, shuffle)?;
        if let Some(err) = compare(&mut rng, b)? {
            report.max_rel_error = report.max_rel_error.max(err);
            report.points += 1;
        }
    }
    Ok(report)
}

fn not_a_variable(wrt: &str) -> EvalError {
    EvalError::new(format!("`{wrt}` is not a variable"))
}

/// Compares two expressions' values at `points` random points: exactly
/// over Q when both are rational, else in f64 (the report's largest
/// relative error). Directions such as `dX` get random values too. Used to
/// show that simplification and rewrite rules preserve values.
pub fn check_equal(
    a: &Expr,
    b: &Expr,
    ctx: &Context,
    points: usize,
    seed: u64,
) -> Result<Report, EvalError> {
    let exact = is_rational(a) && is_rational(b);
    compare_values(a, b, ctx, points, seed, exact)
}

/// [`check_equal`], exactly or in f64; an exact comparison that proves too
/// costly is done again in f64.
fn compare_values(
    a: &Expr,
    b: &Expr,
    ctx: &Context,
    points: usize,
    seed: u64,
    exact: bool,
) -> Result<Report, EvalError> {
    // Equality of two expressions is checked exactly however long it
    // takes: the tests and the symmetric-gradient check rely on it.
    crate::numeric::exact::reset_work_with(u64::MAX);
    let directions: Vec<&String> = ctx
        .order
        .iter()
        .filter(|n| ctx.vars[*n].differential_of.is_some())
        .collect();
    let report = sample(ctx, &[a, b], points, seed, "", |rng, mut bind| {
        if exact {
            let mut values = exact_values(ctx, &bind, rng)?;
            for name in &directions {
                let (r, c) = bind.shape(&ctx.vars[*name].shape)?;
                let h = exact_direction(rng, r, c, ctx.vars[*name].symmetric);
                values.insert((*name).clone(), h);
            }
            let at = ExactPoint {
                values: &values,
                bindings: &bind,
                perturb: None,
            };
            let (va, vb) = match (eval_dual(a, &at), eval_dual(b, &at)) {
                (Ok(va), Ok(vb)) => (va, vb),
                (Err(ExactError::Invalid(m)), _) | (_, Err(ExactError::Invalid(m))) => {
                    return Err(Stop::Fail(EvalError::new(m)));
                }
                (Err(ExactError::TooCostly), _) | (_, Err(ExactError::TooCostly)) => {
                    return Err(Stop::Inexact);
                }
                _ => return Ok(None),
            };
            let (ra, rb) = (va.re_rows(), vb.re_rows());
            let same = if ra.len() * ra.first().map_or(0, Vec::len) == 1 {
                agree(&rb, &va)
            } else {
                agree(&ra, &vb)
            };
            if !same {
                return Err(Stop::Fail(EvalError::new(format!(
                    "the values differ at {}: {:?} against {:?}",
                    describe_point(&values, &bind),
                    rows_text(&ra),
                    rows_text(&rb)
                ))));
            }
            return Ok(Some(0.0));
        }
        for name in &directions {
            let (r, c) = bind.shape(&ctx.vars[*name].shape)?;
            let h = float_direction(rng, r, c, ctx.vars[*name].symmetric);
            bind.vars.insert((*name).clone(), h);
        }
        let (Ok(va), Ok(vb)) = (eval(a, &bind), eval(b, &bind)) else {
            return Ok(None);
        };
        let diff = va.zip(&vb, |x, y| x - y)?;
        let scale = va.max_abs().max(vb.max_abs()).max(1e-3);
        Ok(Some(diff.max_abs() / scale))
    });
    match report {
        Ok(r) => Ok(Report {
            exact,
            measured_rel_error: r.max_rel_error,
            ..r
        }),
        Err(Stop::Fail(e)) => Err(e),
        Err(Stop::Inexact) => compare_values(a, b, ctx, points, seed, false),
    }
}

/// One reproducible random point at which every variable of `exprs` has a
/// value, directions such as `dX` included (symmetric where the context
/// says so), or `None` when no such point could be drawn.
pub fn sample_point(ctx: &Context, exprs: &[&Expr], seed: u64) -> Option<Bindings> {
    let mut rng = Rng::new(seed);
    let nodes = distinct_nodes(exprs);
    let plan = Plan::of_nodes(ctx, &nodes);
    let mut b = draw(&plan, ctx, &mut rng, 0).ok()?;
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
