//! Numeric verification of derivatives: random instances that honour the
//! declarations, and central differences compared with the symbolic
//! differential.
//!
//! Sizes are distinct for distinct symbolic dimensions (3, 4, 5, 2, …), so
//! a transposed or misplaced factor cannot pass by accident on square
//! shapes. A point where the expression cannot be evaluated (a singular
//! matrix, a log of a negative number) is resampled.

use crate::expr::Expr;
use crate::lower::Context;
use crate::numeric::exact::{
    Budget, DualMatrix, ExactError, ExactPoint, ExactValues, eval_dual, is_rational,
};
use crate::numeric::float::{Bindings, EvalError, eval};
pub use crate::numeric::point::{Plan, draw, random_bindings};
use crate::numeric::point::{exact_direction, exact_values, float_direction};
use crate::numeric::rng::Rng;
use num_rational::BigRational;

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
    /// The largest relative error seen (0 for an exact check; at least 1
    /// when the derivative was found wrong).
    pub max_rel_error: f64,
    /// Whether the comparison was exact, over Q with dual numbers.
    pub exact: bool,
    /// The point with the largest error, in words (f64 checks only).
    pub worst_point: Option<String>,
    /// The largest relative difference as measured, per entry against
    /// that entry's scale (what `check` prints; `max_rel_error` is what it
    /// judges, at least 1 for a failure).
    pub measured_rel_error: f64,
}

/// Compares the symbolic differential `df` of `f` (taken with respect to
/// `wrt` in direction `dir`) with central differences at `points` random
/// points, by the rules of `numeric::verify` (a tolerance per entry that
/// the differences' error estimate cannot inflate). A wrong `df` gives a
/// report whose `max_rel_error` is at least 1 (`measured_rel_error` is the
/// error as measured); no sound verdict at all is an `Err` starting
/// `inconclusive`.
pub fn check_differential(
    f: &Expr,
    df: &Expr,
    ctx: &Context,
    wrt: &str,
    dir: &Direction,
    points: usize,
    seed: u64,
) -> Result<Report, EvalError> {
    crate::numeric::verify::numeric_report(f, df, ctx, wrt, dir, points, seed)
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
    let mut budget = Budget::standard();
    let symmetric = ctx.get(wrt).is_some_and(|v| v.symmetric);
    let letters = match ctx.get(wrt) {
        Some(info) => crate::numeric::verify::unit_letters(&[f, df], &info.shape),
        None => vec!['i', 'j'],
    };
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
                for (letter, k) in letters.iter().zip([i, j]) {
                    b.indices.insert(*letter, k);
                }
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
        let mut dual = |e: &Expr, p: &ExactPoint| match eval_dual(e, p, &mut budget) {
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
                "in the direction given at {}, the derivative checked gives {} but the exact directional derivative is {}",
                describe_point(&values, &b),
                rows_text(&symbolic.re_rows()),
                rows_text(&truth.eps_rows())
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

/// Exact values as people write them: `17` for a scalar, `[1, 2]` for a
/// column, `[[1, 2], [3, 4]]` for a matrix (rows).
fn rows_text(rows: &[Vec<BigRational>]) -> String {
    let list = |xs: Vec<String>| format!("[{}]", xs.join(", "));
    match rows {
        [row] if row.len() == 1 => row[0].to_string(),
        _ if rows.iter().all(|r| r.len() == 1) => {
            list(rows.iter().map(|r| r[0].to_string()).collect())
        }
        _ => list(
            rows.iter()
                .map(|r| list(r.iter().map(ToString::to_string).collect()))
                .collect(),
        ),
    }
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
pub(crate) fn describe_float_point(b: &Bindings) -> String {
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
    let mut plan = Plan::new(ctx, exprs);
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
        } else {
            plan.shrink_after_misses(attempts, points);
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
    let mut budget = Budget::unlimited();
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
            let (va, vb) = match (
                eval_dual(a, &at, &mut budget),
                eval_dual(b, &at, &mut budget),
            ) {
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
