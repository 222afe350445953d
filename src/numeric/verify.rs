//! Verdicts on derivatives: is a claimed derivative of `f` right?
//!
//! This module owns the one decision every checker of the crate defers to
//! (`check`, the test helpers, the mutation suite, and `check --grad G`
//! once the CLI is wired to [`verify_claim`]). Its rules, and why:
//!
//! - **Exact where possible.** When `f` and the claim are rational, the
//!   exact directional derivative (dual numbers over Q at integer points,
//!   `check::check_exact`) decides, with no tolerance at all.
//! - **Otherwise a stated tolerance that nothing inflates.** Central
//!   differences are taken at a ladder of steps `s, s/2, s/4, …` and
//!   combined by Richardson extrapolation. For each entry the estimate of
//!   the extrapolation's own error (the spread of three consecutive
//!   extrapolated values, plus a bound on rounding) picks the best step.
//!   An entry passes only if `|claimed − estimated| + error estimate ≤
//!   TOLERANCE · scale`; it fails only if `|claimed − estimated| >
//!   TOLERANCE · scale + error estimate` (and the failure is seen again
//!   from a second, finer ladder); anything in between makes the point
//!   *unsure*, and another point and direction are drawn. Too many unsure
//!   points give [`Verdict::Inconclusive`], never a pass.
//! - **Each entry on its own scale.** `scale` is the largest of the
//!   entry's claimed value, its estimated value, 10⁻³ of the function's
//!   own entry there, and 10⁻⁶ of the largest claimed entry (a floor for
//!   entries that are truly zero): a wrong small entry cannot hide behind
//!   a large one elsewhere.
//! - **Points that can see every mistake**: see `numeric::point`
//!   (non-symmetric unless declared, directions likewise).

use crate::calculus::extract::{inner, vec_of};
use crate::expr::{Expr, Kind};
use crate::lower::Context;
use crate::numeric::check::{Direction, Report, check_equal, check_exact, describe_float_point};
use crate::numeric::float::{Bindings, EvalError, Matrix, eval};
use crate::numeric::point::{Plan, draw, float_direction};
use crate::numeric::rng::Rng;

/// The largest relative error, per entry, that a numeric (f64) check
/// accepts; the error estimate of the differences must fit inside it too.
pub const TOLERANCE: f64 = 1e-8;

/// Points a verdict compares at, unless told otherwise.
pub const POINTS: usize = 5;

/// Relative rounding error assumed for one evaluation of the function (a
/// generous bound: deep expressions lose a few digits).
const EVAL_ROUNDING: f64 = 1e-14;

/// Steps in the ladder of central differences (the first step is 10⁻²
/// of the variable's scale over the direction's, each next one half).
const LEVELS: usize = 30;

/// A derivative that someone claims, in one of the five forms matcalc
/// writes. The expressions must be lowered in the same [`Context`] as the
/// function (the same dimension names), e.g. by lowering the function and
/// the claim under the same declarations.
#[derive(Clone, Debug)]
pub enum Claim {
    /// The differential `dF[H]`, linear in the variable `direction` (which
    /// need not be in the context yet: it gets the variable's shape and
    /// symmetry).
    Differential {
        /// The direction's name, e.g. `dX` or `H`.
        direction: String,
        /// The claimed differential.
        value: Expr,
    },
    /// The entrywise partial `∂F/∂X_ij`, written with the unit matrix
    /// `E_ij` (or `e_i`) of the variable's shape.
    Entrywise(Expr),
    /// The gradient `G` of a scalar: `df = tr(G^T dX)`, `G` of `X`'s shape
    /// (symmetric for a symmetric `X`, SPEC §4).
    Gradient(Expr),
    /// The Hessian of a scalar with respect to `vec(X)`.
    Hessian(Expr),
    /// The Jacobian `d vec(F) / d vec(X)^T`.
    Jacobian(Expr),
}

/// Agreement within the tolerance at every point.
#[derive(Clone, Debug, PartialEq)]
pub struct Agreement {
    /// Points compared.
    pub points: usize,
    /// The largest relative error of an entry (against that entry's scale).
    pub error: f64,
    /// The largest error estimate of the differences, relative likewise.
    pub estimate: f64,
    /// The tolerance both were held to (`error + estimate ≤ tolerance`).
    pub tolerance: f64,
    /// The point with the largest error, in words.
    pub worst_point: String,
}

/// Where and how a claim is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// Whether the exact check found it (no tolerance involved).
    pub exact: bool,
    /// The point, in words.
    pub point: String,
    /// The worst entry (0-based row, column), when known.
    pub entry: Option<(usize, usize)>,
    /// The claimed value of that entry.
    pub claimed: Option<f64>,
    /// Its value by differences (or exactly).
    pub expected: Option<f64>,
    /// The relative error of that entry (0 for an exact failure).
    pub error: f64,
    /// The tolerance (0 for an exact failure).
    pub tolerance: f64,
    /// What went wrong, in words.
    pub message: String,
}

/// The verdict on a claimed derivative.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Equal to the exact derivative over Q at every point.
    Exact {
        /// Points compared.
        points: usize,
    },
    /// Within the tolerance, numerically, at every point.
    Numeric(Agreement),
    /// Wrong.
    Fail(Failure),
    /// No sound verdict: the differences could not be made accurate
    /// enough, or no point could be evaluated. Never a pass.
    Inconclusive {
        /// Why, in words.
        reason: String,
    },
}

impl Verdict {
    /// Whether the claim was confirmed (exactly or within the tolerance).
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Exact { .. } | Verdict::Numeric(_))
    }

    /// Whether the claim was refuted.
    pub fn failed(&self) -> bool {
        matches!(self, Verdict::Fail(_))
    }

    /// One line for people: `exact (5 points)`, `max relative error 2.1e-12
    /// within tolerance 1e-9 (5 points)`, the failure, or why there is no
    /// verdict.
    pub fn summary(&self) -> String {
        match self {
            Verdict::Exact { points } => format!("exact ({points} points)"),
            Verdict::Numeric(a) => format!(
                "max relative error {:.1e} within tolerance {:.0e} ({} points)",
                a.error, a.tolerance, a.points
            ),
            Verdict::Fail(f) => format!("MISMATCH: {}", f.message),
            Verdict::Inconclusive { reason } => format!("INCONCLUSIVE: {reason}"),
        }
    }

    /// The verdict as the session's `Result<Report, String>`: a pass is
    /// `Ok`, a failure or an inconclusive verdict `Err` with its words
    /// (an inconclusive one starting `inconclusive`).
    pub fn into_report(self) -> Result<Report, String> {
        match self {
            Verdict::Exact { points } => Ok(Report {
                points,
                max_rel_error: 0.0,
                exact: true,
                worst_point: None,
                measured_rel_error: 0.0,
            }),
            Verdict::Numeric(a) => Ok(Report {
                points: a.points,
                max_rel_error: a.error,
                exact: false,
                worst_point: Some(a.worst_point),
                measured_rel_error: a.error,
            }),
            Verdict::Fail(f) => Err(f.message),
            Verdict::Inconclusive { reason } => {
                Err(format!("inconclusive, no sound verdict: {reason}"))
            }
        }
    }
}

/// Verifies a claimed derivative of `f` with respect to the variable
/// `wrt` of `ctx`, at [`POINTS`] points: the one entry point for checking
/// a user's answer (`check --grad G`, `--diff D`, `--hessian H`,
/// `--jacobian J`).
///
/// - a differential or entrywise partial is compared with the derivative
///   of `f` in its direction;
/// - a gradient `G` must have `X`'s shape, give `tr(G^T dX)` as the
///   differential, and be symmetric for a symmetric `X`;
/// - a Hessian `H` must give `H vec(dX)` as the differential of
///   `vec(G)`, for matcalc's own gradient `G` (itself verified first: if
///   it cannot be confirmed the verdict is inconclusive);
/// - a Jacobian `J` must give `J vec(dX)` as the differential of `vec(F)`.
///
/// Exactly over Q where everything is rational, else by central
/// differences within [`TOLERANCE`] per entry; see the module doc.
pub fn verify_claim(f: &Expr, claim: &Claim, ctx: &Context, wrt: &str) -> Verdict {
    verify_claim_at(f, claim, ctx, wrt, POINTS, 0x6d61_7463)
}

/// [`verify_claim`] with a number of points and a seed.
pub fn verify_claim_at(
    f: &Expr,
    claim: &Claim,
    ctx: &Context,
    wrt: &str,
    points: usize,
    seed: u64,
) -> Verdict {
    let Some(info) = ctx.get(wrt) else {
        return inconclusive(format!("`{wrt}` is not a variable"));
    };
    let shape = info.shape.clone();
    let mut dir = format!("d{wrt}");
    while ctx
        .get(&dir)
        .is_some_and(|d| d.differential_of.as_deref() != Some(wrt))
    {
        dir.push('_');
    }
    let run = |name: &str, f: &Expr, df: &Expr| {
        let c = ctx.with_direction(wrt, name);
        verify_differential(
            f,
            df,
            &c,
            wrt,
            &Direction::Var(name.to_string()),
            points,
            seed,
        )
    };
    let dx = Expr::var(&dir, shape.clone());
    match claim {
        Claim::Differential { direction, value } => run(direction, f, value),
        Claim::Entrywise(value) => {
            verify_differential(f, value, ctx, wrt, &Direction::Unit, points, seed)
        }
        Claim::Gradient(g) => {
            if let Some(v) = wrong_size(ctx, f, g, |b| b.shape(&shape).ok(), "the gradient") {
                return v;
            }
            let verdict = run(&dir, f, &inner(g, &dx));
            if verdict.passed() && info.symmetric {
                let c = ctx.with_direction(wrt, &dir);
                match check_equal(g, &Expr::transpose(g), &c, points, seed) {
                    Ok(r) if r.max_rel_error <= TOLERANCE => {}
                    Ok(r) => {
                        return fail_msg(format!(
                            "the gradient of the symmetric `{wrt}` must be symmetric (SPEC §4), \
                             but it differs from its transpose by {:.1e}",
                            r.max_rel_error
                        ));
                    }
                    Err(e) => {
                        return fail_msg(format!(
                            "the gradient of the symmetric `{wrt}` must be symmetric (SPEC §4): {e}"
                        ));
                    }
                }
            }
            verdict
        }
        Claim::Jacobian(j) => {
            let want = |b: &Bindings| {
                let (fr, fc) = b.shape(f.shape()).ok()?;
                let (xr, xc) = b.shape(&shape).ok()?;
                Some((fr * fc, xr * xc))
            };
            if let Some(v) = wrong_size(ctx, f, j, want, "the Jacobian") {
                return v;
            }
            run(&dir, &vec_of(f), &Expr::mul(j, &vec_of(&dx)))
        }
        Claim::Hessian(h) => {
            let want = |b: &Bindings| {
                let (xr, xc) = b.shape(&shape).ok()?;
                Some((xr * xc, xr * xc))
            };
            if let Some(v) = wrong_size(ctx, f, h, want, "the Hessian") {
                return v;
            }
            let c = ctx.with_direction(wrt, &dir);
            let Some(g) = own_gradient(f, &c, wrt, &dir) else {
                return inconclusive(
                    "matcalc cannot write the gradient that a Hessian is checked against".into(),
                );
            };
            let confirmed = run(&dir, f, &inner(&g, &dx));
            if !confirmed.passed() {
                return inconclusive(format!(
                    "matcalc's own gradient, which a Hessian is checked against, \
                     could not be confirmed: {}",
                    confirmed.summary()
                ));
            }
            run(&dir, &vec_of(&g), &Expr::mul(h, &vec_of(&dx)))
        }
    }
}

/// matcalc's gradient of the scalar `f` (symmetrised for a symmetric
/// variable), raw from the product rule: only its value matters here.
fn own_gradient(f: &Expr, ctx: &Context, wrt: &str, dir: &str) -> Option<Expr> {
    use crate::calculus::{differential, extract};
    let shape = ctx.get(wrt)?.shape.clone();
    let df = differential(f, wrt, &Expr::var(dir, shape.clone())).ok()?;
    let g = extract::gradient(&df, dir, &shape)
        .or_else(|_| {
            let simpler = crate::simplify::simplify(&df, ctx, crate::simplify::Form::Expanded).expr;
            extract::gradient(&simpler, dir, &shape)
        })
        .ok()?;
    if ctx.get(wrt)?.symmetric {
        let half = crate::expr::rat(1) / crate::expr::rat(2);
        return Some(Expr::scale(&half, &Expr::add(&g, &Expr::transpose(&g))));
    }
    Some(g)
}

/// A failure when the claim's size at a random point is not the one its
/// kind needs (`want` from the point), else `None` (also when either side
/// cannot be evaluated there: the checks will say).
fn wrong_size(
    ctx: &Context,
    f: &Expr,
    claim: &Expr,
    want: impl Fn(&Bindings) -> Option<(usize, usize)>,
    what: &str,
) -> Option<Verdict> {
    let mut rng = Rng::new(0x517e);
    let b = draw(&Plan::new(ctx, &[f, claim]), ctx, &mut rng, 0).ok()?;
    let need = want(&b)?;
    let got = b.shape(claim.shape()).ok()?;
    (got != need).then(|| {
        fail_msg(format!(
            "{what} is {}×{} but must be {}×{}",
            got.0, got.1, need.0, need.1
        ))
    })
}

fn fail_msg(message: String) -> Verdict {
    Verdict::Fail(Failure {
        exact: false,
        point: String::new(),
        entry: None,
        claimed: None,
        expected: None,
        error: 0.0,
        tolerance: 0.0,
        message,
    })
}

fn inconclusive(reason: String) -> Verdict {
    Verdict::Inconclusive { reason }
}

/// The verdict on `df` as the differential of `f` with respect to `wrt`
/// in direction `dir` (the direction variable declared in `ctx`, or the
/// unit matrix): exact over Q when both are rational, else numeric.
pub fn verify_differential(
    f: &Expr,
    df: &Expr,
    ctx: &Context,
    wrt: &str,
    dir: &Direction,
    points: usize,
    seed: u64,
) -> Verdict {
    match check_exact(f, df, ctx, wrt, dir, points, seed) {
        Ok(Some(r)) => return Verdict::Exact { points: r.points },
        Ok(None) => {}
        // no integer point where it can be evaluated: try in f64
        Err(e) if e.message.starts_with("could not find a point") => {}
        Err(e) => {
            return Verdict::Fail(Failure {
                exact: true,
                point: String::new(),
                entry: None,
                claimed: None,
                expected: None,
                error: 0.0,
                tolerance: 0.0,
                message: e.message,
            });
        }
    }
    numeric_verdict(f, df, ctx, wrt, dir, points, seed)
}

/// The rational part of a check, done exactly: `f = f_R + f_T` and the
/// claim `D = D_R + D_T` split into their rational and other terms. At an
/// f64 point (every f64 is a rational), `D_R − dF_R[H]` is computed
/// exactly over Q, so only `D_T` and central differences of `f_T` carry
/// rounding, and each entry is judged on the scale of those parts alone.
/// That is what catches `10000000 dX + (101/100) exp(X) .* dX` as the
/// derivative of `10000000 X + exp(X)`: the huge rational terms cancel
/// exactly instead of setting the scale.
struct Split {
    f_r: Expr,
    f_t: Expr,
    d_r: Expr,
    d_t: Expr,
}

/// The terms of a sum, seeing through one product or `vec` around it
/// (`(A + B) v` is `A v + B v`, `vec(A + B)` is `vec(A) + vec(B)`).
fn terms(e: &Expr) -> Vec<Expr> {
    // a scalar term broadcast over a matrix sum, spelled out with `ones`
    // before anything multiplies it (`(A + 1) v` is `A v + ones v`)
    let spelled = |sum: &Expr| -> Vec<Expr> {
        terms(sum)
            .into_iter()
            .map(|t| {
                if t.is_scalar() && !sum.is_scalar() {
                    Expr::mul(&t, &Expr::ones(sum.shape().clone()))
                } else {
                    t
                }
            })
            .collect()
    };
    match e.kind() {
        Kind::Sum(ts) => ts.clone(),
        Kind::Apply(crate::expr::Func::Vec, a) if matches!(a.kind(), Kind::Sum(_)) => {
            spelled(a).iter().map(vec_of).collect()
        }
        Kind::Product(fs) => {
            let Some(i) = fs.iter().position(|x| matches!(x.kind(), Kind::Sum(_))) else {
                return vec![e.clone()];
            };
            spelled(&fs[i])
                .into_iter()
                .map(|t| {
                    let mut g = fs.clone();
                    g[i] = t;
                    Expr::product(g)
                })
                .collect()
        }
        _ => vec![e.clone()],
    }
}

impl Split {
    /// The split, when `f` has both rational and other terms.
    fn of(f: &Expr, df: &Expr) -> Option<Split> {
        use crate::numeric::exact::is_rational;
        let part = |e: &Expr| {
            let (r, t): (Vec<Expr>, Vec<Expr>) = terms(e).into_iter().partition(is_rational);
            (
                Expr::sum_shaped(e.shape(), r),
                Expr::sum_shaped(e.shape(), t),
            )
        };
        let (f_r, f_t) = part(f);
        if f_r.is_zero() || f_t.is_zero() {
            return None;
        }
        let (d_r, d_t) = part(df);
        Some(Split { f_r, f_t, d_r, d_t })
    }

    /// `D_R − dF_R[H]` at the point, exactly, then as f64 (`None` when the
    /// exact evaluation is singular or too costly there).
    fn exact_gap(&self, b: &Bindings, wrt: &str, h: &Matrix) -> Option<Matrix> {
        use crate::numeric::exact::{Budget, ExactPoint, eval_dual};
        use num_rational::BigRational;
        use num_traits::ToPrimitive;
        let rows = |m: &Matrix| -> Option<Vec<Vec<BigRational>>> {
            (0..m.rows)
                .map(|i| {
                    (0..m.cols)
                        .map(|j| BigRational::from_float(m.get(i, j)))
                        .collect()
                })
                .collect()
        };
        let mut values = crate::numeric::exact::ExactValues::new();
        for (name, m) in &b.vars {
            values.insert(name.clone(), rows(m)?);
        }
        let hr = rows(h)?;
        let mut budget = Budget::standard();
        let at = |perturb| ExactPoint {
            values: &values,
            bindings: b,
            perturb,
        };
        let truth = eval_dual(&self.f_r, &at(Some((wrt, &hr))), &mut budget)
            .ok()?
            .eps_rows();
        let claim = eval_dual(&self.d_r, &at(None), &mut budget).ok()?.re_rows();
        let (r, c) = (truth.len(), truth.first().map_or(0, Vec::len));
        let scalar = claim.len() == 1 && claim[0].len() == 1;
        let mut out = Matrix::zeros(r, c);
        for (i, row) in truth.iter().enumerate() {
            for (j, t) in row.iter().enumerate() {
                let d = if scalar {
                    &claim[0][0]
                } else {
                    claim.get(i)?.get(j)?
                };
                out.set(i, j, (d - t).to_f64()?);
            }
        }
        Some(out)
    }
}

/// What one point says.
enum At {
    /// Every entry within the tolerance, error estimate included.
    Pass { error: f64, estimate: f64 },
    /// Some entry is off by more than the tolerance plus the estimate.
    Fail(Box<Failure>),
    /// The estimate is too large to judge some entry; why.
    Unsure(String),
    /// The function or the claim cannot be evaluated here.
    Undefined,
}

/// The index letters of the unit matrix the entrywise partial uses (those
/// of the first `E_..` of the variable's shape in the expressions), `ij`
/// when there is none.
pub(crate) fn unit_letters(exprs: &[&Expr], shape: &crate::shape::Shape) -> Vec<char> {
    let mut stack: Vec<&Expr> = exprs.to_vec();
    while let Some(e) = stack.pop() {
        if let Kind::Unit(ix) = e.kind()
            && e.shape() == shape
        {
            return ix.chars().collect();
        }
        stack.extend(e.children());
    }
    vec!['i', 'j']
}

/// The numeric verdict alone (central differences), at `points` points.
pub fn numeric_verdict(
    f: &Expr,
    df: &Expr,
    ctx: &Context,
    wrt: &str,
    dir: &Direction,
    points: usize,
    seed: u64,
) -> Verdict {
    let Some(info) = ctx.get(wrt) else {
        return inconclusive(format!("`{wrt}` is not a variable"));
    };
    let symmetric = info.symmetric;
    let letters = unit_letters(&[f, df], &info.shape);
    let mut plan = Plan::new(ctx, &[f, df]);
    let split = Split::of(f, df);
    let mut rng = Rng::new(seed);
    let (mut passed, mut unsure, mut attempts) = (0, 0, 0);
    let mut last_unsure = String::new();
    let mut worst = Agreement {
        points: 0,
        error: 0.0,
        estimate: 0.0,
        tolerance: TOLERANCE,
        worst_point: String::new(),
    };
    while passed < points && attempts < 20 * points && unsure <= 2 * points + 2 {
        attempts += 1;
        let shuffle = if attempts > 2 { attempts } else { 0 };
        let Ok(mut b) = draw(&plan, ctx, &mut rng, shuffle) else {
            continue;
        };
        let Some(x) = b.vars.get(wrt).cloned() else {
            return inconclusive(format!("`{wrt}` is not a variable"));
        };
        let h = match dir {
            Direction::Var(name) => {
                let h = float_direction(&mut rng, x.rows, x.cols, symmetric);
                b.vars.insert(name.clone(), h.clone());
                h
            }
            Direction::Unit => {
                let (i, j) = (rng.below(x.rows), rng.below(x.cols));
                for (letter, k) in letters.iter().zip([i, j]) {
                    b.indices.insert(*letter, k);
                }
                let mut h = Matrix::zeros(x.rows, x.cols);
                h.set(i, j, 1.0);
                h
            }
        };
        match compare_at(f, df, split.as_ref(), &b, wrt, &h, 1.0) {
            At::Undefined => plan.shrink_after_misses(attempts, points),
            At::Pass { error, estimate } => {
                passed += 1;
                if error >= worst.error {
                    worst.worst_point = describe_float_point(&b);
                }
                worst.error = worst.error.max(error);
                worst.estimate = worst.estimate.max(estimate);
            }
            // A failure must be seen again from a ladder that starts 64
            // times finer: a coarse step that happened to alias (sin of a
            // large multiple) cannot fail a right answer.
            At::Fail(fail) => match compare_at(f, df, split.as_ref(), &b, wrt, &h, 1.0 / 64.0) {
                At::Fail(_) => return Verdict::Fail(*fail),
                At::Pass { .. } | At::Unsure(_) | At::Undefined => {
                    unsure += 1;
                    last_unsure =
                        "a failure at a coarse step was not seen again at finer ones".into();
                }
            },
            At::Unsure(why) => {
                unsure += 1;
                last_unsure = why;
            }
        }
    }
    if passed >= points {
        worst.points = passed;
        return Verdict::Numeric(worst);
    }
    if unsure > 0 {
        return inconclusive(format!(
            "at {unsure} of {attempts} points the central differences could not be made \
             accurate enough to judge within the tolerance {TOLERANCE:.0e} ({last_unsure}); \
             {passed} points agreed"
        ));
    }
    inconclusive("could not find a point where the expression can be evaluated".into())
}

/// Per entry, the sum of the absolute values of `e`'s terms at `b` (of
/// `e` itself when it is not a sum): the size of the numbers whose
/// rounding the value of `e` carries. Empty when a term cannot be
/// evaluated (then no allowance is made).
fn term_magnitude(e: &Expr, b: &Bindings, n: usize) -> Vec<f64> {
    let terms: Vec<&Expr> = match e.kind() {
        Kind::Sum(ts) => ts.iter().collect(),
        _ => vec![e],
    };
    let mut out = vec![0.0; n];
    for t in terms {
        let Ok(v) = eval(t, b) else {
            return Vec::new();
        };
        for (k, o) in out.iter_mut().enumerate() {
            let x = if v.is_scalar() {
                v.data[0]
            } else {
                v.data.get(k).copied().unwrap_or(0.0)
            };
            *o += x.abs();
        }
    }
    out
}

/// Central differences of `f` along `h` at the point `b`, compared with
/// `df` there entry by entry. `start` scales the ladder's first step.
fn compare_at(
    f: &Expr,
    df: &Expr,
    split: Option<&Split>,
    b: &Bindings,
    wrt: &str,
    h: &Matrix,
    start: f64,
) -> At {
    let Some(x) = b.vars.get(wrt) else {
        return At::Undefined;
    };
    if eval(f, b).is_err() {
        return At::Undefined;
    }
    // with a split: differences of f_T only, against D_T + (D_R − dF_R)
    let gap = split.and_then(|s| Some((s, s.exact_gap(b, wrt, h)?)));
    let (f, sym) = match &gap {
        Some((s, gap)) => {
            let Ok(t) = eval(&s.d_t, b) else {
                return At::Undefined;
            };
            match t.zip(gap, |a, g| a + g) {
                Ok(sym) => (&s.f_t, Ok(sym)),
                Err(_) => (f, eval(df, b)),
            }
        }
        None => (f, eval(df, b)),
    };
    let (Ok(f0), Ok(sym)) = (eval(f, b), sym) else {
        return At::Undefined;
    };
    let n = f0.data.len();
    // The claimed value's own rounding: a sum whose terms cancel to zero
    // leaves noise of the size of its terms times the rounding unit, which
    // no tolerance relative to the (zero) result can absorb.
    let claimed_expr = match &gap {
        Some((s, _)) => &s.d_t,
        None => df,
    };
    let magnitude = term_magnitude(claimed_expr, b, n);
    let rounding = |k: usize| 64.0 * EVAL_ROUNDING * magnitude.get(k).copied().unwrap_or(0.0);
    if !sym.is_scalar() && (sym.rows, sym.cols) != (f0.rows, f0.cols) {
        return At::Fail(Box::new(Failure {
            exact: false,
            point: describe_float_point(b),
            entry: None,
            claimed: None,
            expected: None,
            error: f64::INFINITY,
            tolerance: TOLERANCE,
            message: format!(
                "the differential is {}×{} but the function's change is {}×{}",
                sym.rows, sym.cols, f0.rows, f0.cols
            ),
        }));
    }
    let claimed = |k: usize| {
        if sym.is_scalar() {
            sym.data[0]
        } else {
            sym.data[k]
        }
    };
    let at = |t: f64| -> Option<Matrix> {
        let mut p = b.clone();
        p.vars
            .insert(wrt.to_string(), x.zip(h, |a, d| a + t * d).ok()?);
        eval(f, &p).ok().filter(|m| m.data.len() == n)
    };
    let s0 = start * 1e-2 * x.max_abs().max(1.0) / h.max_abs().max(f64::MIN_POSITIVE);
    let global = (0..n).map(|k| claimed(k).abs()).fold(0.0, f64::max);
    let scale = |k: usize, r: f64| {
        claimed(k)
            .abs()
            .max(r.abs())
            .max(1e-3 * f0.data[k].abs())
            .max(1e-6 * global)
    };
    // the ladder: central differences D, their rounding bounds, and the
    // Richardson values R from consecutive steps (None where undefined)
    let mut d: Vec<Option<(Vec<f64>, Vec<f64>)>> = Vec::new();
    let mut r: Vec<Option<(Vec<f64>, Vec<f64>)>> = Vec::new();
    let mut best: Vec<(f64, f64)> = vec![(f64::INFINITY, f64::NAN); n];
    for k in 0..LEVELS {
        let s = s0 / f64::powi(2.0, k as i32);
        let level = match (at(s), at(-s)) {
            (Some(p), Some(m)) => Some((
                (0..n)
                    .map(|e| (p.data[e] - m.data[e]) / (2.0 * s))
                    .collect::<Vec<_>>(),
                (0..n)
                    .map(|e| EVAL_ROUNDING * (p.data[e].abs() + m.data[e].abs()) / (2.0 * s))
                    .collect::<Vec<_>>(),
            )),
            _ => None,
        };
        d.push(level);
        if k >= 1 {
            r.push(match (&d[k - 1], &d[k]) {
                (Some((dc, rc)), Some((df_, rf))) => Some((
                    (0..n).map(|e| (4.0 * df_[e] - dc[e]) / 3.0).collect(),
                    (0..n).map(|e| (4.0 * rf[e] + rc[e]) / 3.0).collect(),
                )),
                _ => None,
            });
        }
        // the middle of three consecutive Richardson values, judged by
        // its distance from both neighbours
        if r.len() >= 3 {
            let m = r.len() - 2;
            if let (Some((a, _)), Some((v, round)), Some((c, _))) = (&r[m - 1], &r[m], &r[m + 1]) {
                for e in 0..n {
                    let est = (a[e] - v[e]).abs().max((v[e] - c[e]).abs()) + round[e];
                    if est.is_finite() && est < best[e].0 {
                        best[e] = (est, v[e]);
                    }
                }
            }
            let settled = (0..n).all(|e| best[e].0 <= TOLERANCE * scale(e, best[e].1) / 16.0);
            if settled {
                break;
            }
        }
    }
    let mut error: f64 = 0.0;
    let mut estimate: f64 = 0.0;
    let mut worst_fail: Option<(f64, usize)> = None;
    let mut unsure: Option<String> = None;
    for (e, &(est, value)) in best.iter().enumerate() {
        let (row, col) = (e / f0.cols.max(1), e % f0.cols.max(1));
        if !est.is_finite() {
            unsure.get_or_insert_with(|| {
                format!(
                    "no step gave a stable estimate of entry ({}, {})",
                    row + 1,
                    col + 1
                )
            });
            continue;
        }
        let sc = scale(e, value);
        let tol = TOLERANCE * sc + rounding(e);
        let err = (claimed(e) - value).abs();
        if err > tol + est {
            let excess = (err - tol - est) / sc;
            if worst_fail.is_none_or(|(x, _)| excess > x) {
                worst_fail = Some((excess, e));
            }
        } else if err + est <= tol {
            error = error.max(err / sc);
            estimate = estimate.max(est / sc);
        } else {
            unsure.get_or_insert_with(|| {
                format!(
                    "entry ({}, {}): error {:.1e} with an estimate of {:.1e}, relative",
                    row + 1,
                    col + 1,
                    err / sc,
                    est / sc
                )
            });
        }
    }
    if let Some((_, e)) = worst_fail {
        let (row, col) = (e / f0.cols.max(1), e % f0.cols.max(1));
        let (est, value) = best[e];
        let sc = scale(e, value);
        let point = describe_float_point(b);
        let message = format!(
            "entry ({}, {}) is {:.10e} but central differences give {:.10e} \
             (relative error {:.1e}, error estimate {:.1e}, tolerance {:.0e}), at {}",
            row + 1,
            col + 1,
            claimed(e),
            value,
            (claimed(e) - value).abs() / sc,
            est / sc,
            TOLERANCE,
            point
        );
        return At::Fail(Box::new(Failure {
            exact: false,
            point,
            entry: Some((row, col)),
            claimed: Some(claimed(e)),
            expected: Some(value),
            error: (claimed(e) - value).abs() / sc,
            tolerance: TOLERANCE,
            message,
        }));
    }
    if let Some(why) = unsure {
        return At::Unsure(why);
    }
    At::Pass { error, estimate }
}

/// [`numeric_verdict`] as a [`Report`] (what `check::check_differential`
/// returns): a failure is a report whose error exceeds the tolerance.
pub(crate) fn numeric_report(
    f: &Expr,
    df: &Expr,
    ctx: &Context,
    wrt: &str,
    dir: &Direction,
    points: usize,
    seed: u64,
) -> Result<Report, EvalError> {
    match numeric_verdict(f, df, ctx, wrt, dir, points, seed) {
        Verdict::Numeric(a) => Ok(Report {
            points: a.points,
            max_rel_error: a.error,
            exact: false,
            worst_point: Some(a.worst_point),
            measured_rel_error: a.error,
        }),
        Verdict::Exact { points } => Ok(Report {
            points,
            max_rel_error: 0.0,
            exact: true,
            worst_point: None,
            measured_rel_error: 0.0,
        }),
        Verdict::Fail(fail) => {
            // at least 1: a failure never reads as a pass to a caller that
            // compares the error with its own, looser tolerance
            let error = if fail.error.is_finite() {
                fail.error.max(1.0)
            } else {
                f64::INFINITY
            };
            Ok(Report {
                points: 1,
                max_rel_error: error,
                exact: false,
                worst_point: Some(fail.message),
                measured_rel_error: fail.error,
            })
        }
        Verdict::Inconclusive { reason } => Err(EvalError::new(
            if reason.starts_with("could not find a point") {
                reason
            } else {
                format!("inconclusive: {reason}")
            },
        )),
    }
}
