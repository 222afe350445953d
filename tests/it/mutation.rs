//! The mutation suite: the verifier must reject every wrong derivative.
//!
//! For each derivative kind (differential, entrywise, gradient, Hessian,
//! Jacobian) and each function family, matcalc's own answer is taken
//! (and must pass), then mutated as a human or a bug would: one factor
//! transposed, a term dropped, doubled, negated or off by 1%, two factors
//! swapped, the symmetric formula used for a variable that is not
//! symmetric (or the general one for a symmetric one). Every mutant that
//! differs in value from the right answer must be rejected by
//! `numeric::verify::verify_claim`, the path `check --grad G` uses. The
//! score (100%) and the number of mutants are printed; mutants equal in
//! value to the answer (transposing a symmetric factor) are counted and
//! left out, since they are not wrong.

use matcalc::numeric::check::check_equal;
use matcalc::numeric::verify::{Claim, Verdict, verify_claim};
use matcalc::{Answer, Context, Expr, Form, Kind, Session, rat};

/// The derivative kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Differential,
    Entrywise,
    Gradient,
    Hessian,
    Jacobian,
}

const KINDS: [Want; 5] = [
    Want::Differential,
    Want::Entrywise,
    Want::Gradient,
    Want::Hessian,
    Want::Jacobian,
];

/// matcalc's answer of one kind: the one place this suite calls the
/// session (its API may be renamed). `None` when matcalc does not write
/// that kind for the expression (a non-scalar has no gradient).
fn matcalc_answer(want: Want, expr: &str, wrt: &str, decls: Option<&str>) -> Option<Answer> {
    let s = Session::new();
    let form = Some(Form::Expanded);
    let entry = |a: &Answer| match a.context.get(wrt).map(|v| v.kind) {
        Some(matcalc::VarKind::Matrix) => Some(format!("{wrt}_ij")),
        Some(matcalc::VarKind::Vector) => Some(format!("{wrt}_i")),
        _ => None,
    };
    match want {
        Want::Differential => s.diff(expr, wrt, None, decls).ok(),
        Want::Entrywise => {
            let whole = s.diff(expr, wrt, None, decls).ok()?;
            s.diff(expr, &entry(&whole)?, None, decls).ok()
        }
        Want::Gradient => s.grad(expr, wrt, decls, form).ok(),
        Want::Hessian => s.hessian(expr, wrt, decls, form).ok(),
        Want::Jacobian => s.jacobian(expr, wrt, decls, form).ok(),
    }
}

/// The claim an answer makes, with `value` in place of its result.
fn claim(want: Want, a: &Answer, value: Expr) -> Claim {
    match want {
        Want::Differential => Claim::Differential {
            direction: a.direction.clone().expect("a direction"),
            value,
        },
        Want::Entrywise => Claim::Entrywise(value),
        Want::Gradient => Claim::Gradient(value),
        Want::Hessian => Claim::Hessian(value),
        Want::Jacobian => Claim::Jacobian(value),
    }
}

fn variable(a: &Answer) -> String {
    match &a.wrt {
        matcalc::Wrt::Var(v) | matcalc::Wrt::Entry { var: v, .. } => v.clone(),
    }
}

/// Every node of `e` with its path (child indices from the root).
fn sites(e: &Expr) -> Vec<(Vec<usize>, Expr)> {
    let mut out = Vec::new();
    let mut stack = vec![(Vec::new(), e.clone())];
    while let Some((path, x)) = stack.pop() {
        for (i, c) in x.children().into_iter().enumerate() {
            let mut p = path.clone();
            p.push(i);
            stack.push((p, c.clone()));
        }
        out.push((path, x));
    }
    out
}

/// `e` with the node at `path` replaced by `new`.
fn replace(e: &Expr, path: &[usize], new: &Expr) -> Expr {
    let Some((&first, rest)) = path.split_first() else {
        return new.clone();
    };
    let kids: Vec<Expr> = e
        .children()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            if i == first {
                replace(c, rest, new)
            } else {
                c.clone()
            }
        })
        .collect();
    e.rebuild(kids)
}

fn square(e: &Expr) -> bool {
    let s = e.shape();
    !s.is_scalar() && s.rows == s.cols
}

/// The mutants of a result, each with the mutation's name.
fn mutants(result: &Expr) -> Vec<(&'static str, Expr)> {
    let mut out: Vec<(&'static str, Expr)> = Vec::new();
    let scaled = |c: (i64, i64), t: &Expr| Expr::scale(&(rat(c.0) / rat(c.1)), t);
    // the whole result doubled, negated, 1% off
    out.push(("double a term", scaled((2, 1), result)));
    out.push(("flip a sign", Expr::neg(result)));
    out.push(("perturb a coefficient by 1%", scaled((101, 100), result)));
    for (path, node) in sites(result) {
        match node.kind() {
            Kind::Sum(terms) if terms.len() >= 2 => {
                for (i, t) in terms.iter().enumerate() {
                    let others = terms
                        .iter()
                        .enumerate()
                        .filter(|(j, _)| *j != i)
                        .map(|(_, x)| x.clone());
                    let dropped = Expr::sum_shaped(node.shape(), others);
                    out.push(("drop a term", replace(result, &path, &dropped)));
                    let with = |new: Expr| {
                        let mut ts = terms.clone();
                        ts[i] = new;
                        replace(result, &path, &Expr::sum_shaped(node.shape(), ts))
                    };
                    out.push(("double a term", with(scaled((2, 1), t))));
                    out.push(("flip a sign", with(Expr::neg(t))));
                    out.push(("perturb a coefficient by 1%", with(scaled((101, 100), t))));
                }
            }
            Kind::Product(fs) => {
                for i in 0..fs.len().saturating_sub(1) {
                    let (a, b) = (&fs[i], &fs[i + 1]);
                    if square(a) && a.shape() == b.shape() && a != b {
                        let mut swapped = fs.clone();
                        swapped.swap(i, i + 1);
                        let new = Expr::product(swapped);
                        out.push(("swap two factors", replace(result, &path, &new)));
                    }
                }
            }
            Kind::Kron(a, b) if a != b => {
                let new = Expr::kron(b, a);
                out.push(("swap two factors", replace(result, &path, &new)));
            }
            Kind::HadamardDiv(a, b) if a.shape() == b.shape() => {
                let new = Expr::hadamard_div(b, a);
                out.push(("swap two factors", replace(result, &path, &new)));
            }
            _ => {}
        }
        let leaf = matches!(
            node.kind(),
            Kind::Const(_) | Kind::Identity | Kind::Ones | Kind::Commutation(..)
        );
        if square(&node) && !leaf {
            let t = match node.kind() {
                Kind::Transpose(inner) => inner.clone(),
                _ => Expr::transpose(&node),
            };
            out.push(("transpose one factor", replace(result, &path, &t)));
        }
    }
    out
}

/// Whether a mutant has the same value as the answer (so it is not a
/// wrong derivative): equal exactly over Q, or to 1e-12 in f64, at random
/// non-symmetric points. `None` when no point could be evaluated.
///
/// A Jacobian or Hessian is compared by what it does to a direction
/// (`J vec(dX)`): for a symmetric variable only symmetric directions
/// exist, and `vec(A)^T` and `vec((A + A^T)/2)^T` are the same map there
/// (SPEC §4 fixes the symmetric form for gradients only).
fn equivalent(want: Want, a: &Answer, mutant: &Expr, ctx: &Context) -> Option<bool> {
    let (right, mutant) = match (want, &a.direction) {
        (Want::Jacobian | Want::Hessian, Some(d)) => {
            let dx = Expr::var(d, ctx.get(d)?.shape.clone());
            let v = if dx.shape().cols.is_one() {
                dx
            } else {
                Expr::apply(matcalc::Func::Vec, &dx)
            };
            (Expr::mul(&a.result, &v), Expr::mul(mutant, &v))
        }
        _ => (a.result.clone(), mutant.clone()),
    };
    match check_equal(&right, &mutant, ctx, 3, 0xe9) {
        Ok(r) => Some(r.max_rel_error <= 1e-12),
        Err(e) if e.message.starts_with("could not find a point") => None,
        Err(_) => Some(false),
    }
}

/// The tally of one run.
#[derive(Default)]
struct Score {
    mutants: usize,
    rejected: usize,
    /// Rejected as inconclusive rather than as failing (still not a pass).
    inconclusive: usize,
    equivalent: usize,
    unevaluable: usize,
    survivors: Vec<String>,
}

/// The answer must pass, and every non-equivalent mutant must be rejected.
fn run_case(score: &mut Score, expr: &str, wrt: &str, decls: Option<&str>) -> usize {
    let mut kinds = 0;
    for want in KINDS {
        let Some(a) = matcalc_answer(want, expr, wrt, decls) else {
            continue;
        };
        kinds += 1;
        let var = variable(&a);
        let right = verify_claim(
            &a.function,
            &claim(want, &a, a.result.clone()),
            &a.context,
            &var,
        );
        assert!(
            right.passed(),
            "{expr} ({want:?}): matcalc's answer {} does not pass: {}",
            a.text,
            right.summary()
        );
        // the direction in the order too, so that `check_equal` gives it
        // a value
        let mut ctx = a.direction_context();
        if let Some(d) = &a.direction
            && !ctx.order.contains(d)
        {
            ctx.order.push(d.clone());
        }
        let mut list = mutants(&a.result);
        list.extend(symmetric_formula(want, &a, expr, wrt, decls));
        for (what, m) in list {
            match equivalent(want, &a, &m, &ctx) {
                Some(true) => {
                    score.equivalent += 1;
                    continue;
                }
                None => {
                    score.unevaluable += 1;
                    continue;
                }
                Some(false) => {}
            }
            score.mutants += 1;
            let v = verify_claim(&a.function, &claim(want, &a, m.clone()), &a.context, &var);
            match v {
                Verdict::Fail(_) => score.rejected += 1,
                Verdict::Inconclusive { .. } => {
                    score.rejected += 1;
                    score.inconclusive += 1;
                }
                Verdict::Exact { .. } | Verdict::Numeric(_) => score.survivors.push(format!(
                    "{expr} --wrt {wrt} ({want:?}, {what}): {} passed as {}",
                    matcalc::to_text(&m),
                    v.summary()
                )),
            }
        }
    }
    kinds
}

/// The answer for the other symmetry: each square matrix variable that is
/// not declared symmetric declared so (the symmetric formula used where it
/// does not apply), and a symmetric `wrt` left undeclared.
fn symmetric_formula(
    want: Want,
    a: &Answer,
    expr: &str,
    wrt: &str,
    decls: Option<&str>,
) -> Vec<(&'static str, Expr)> {
    let mut out = Vec::new();
    for (name, info) in &a.context.vars {
        if info.differential_of.is_some() || info.shape.is_scalar() {
            continue;
        }
        let other = if info.symmetric {
            if name != wrt {
                continue;
            }
            // the same declarations without this one
            match decls {
                Some(d) if d.trim() == format!("{name}: symmetric") => None,
                _ => continue,
            }
        } else if info.shape.rows == info.shape.cols {
            Some(match decls {
                Some(d) => format!("{d}, {name}: symmetric"),
                None => format!("{name}: symmetric"),
            })
        } else {
            continue;
        };
        if let Some(b) = matcalc_answer(want, expr, wrt, other.as_deref()) {
            out.push(("symmetric formula for a non-symmetric variable", b.result));
        }
    }
    out
}

/// One case per function family; rectangular, distinct shapes where the
/// family allows (X is 3×4, A 4×3 … through the declarations).
const CASES: &[(&str, &str, Option<&str>)] = &[
    // products and transposes
    ("A X B", "X", Some("A: 5 x 3, X: 3 x 4, B: 4 x 2")),
    ("A X X^T A^T", "X", Some("A: 4 x 3, X: 3 x 5")),
    ("tr(X^T A X)", "X", Some("X: 3 x 4")),
    ("x^T A x", "x", None),
    ("a^T X b", "X", Some("X: 4 x 5")),
    // inverses
    ("tr(A X^-1 B)", "X", Some("A: 4 x 3, B: 3 x 5")),
    ("x^T X^-1 y", "X", None),
    ("(X^T X)^-1", "X", Some("X: 5 x 3")),
    // det / logdet
    ("det(X)", "X", None),
    ("logdet(X)", "X", None),
    ("log(det(A X B))", "X", Some("A: 3 x 4, X: 4 x 5, B: 5 x 3")),
    // powers
    ("tr(X^3)", "X", None),
    ("X^2 A", "X", Some("A: 3 x 4")),
    ("(x^T x)^(1/2)", "x", None),
    ("(x^T A x)^(3/2)", "x", None),
    // traces
    ("tr(A X B X^T)", "X", Some("X: 3 x 4")),
    // Hadamard and Kronecker
    ("sum(X .* (A X))", "X", Some("X: 3 x 4")),
    ("x .* (A x)", "x", None),
    ("kron(A, X)", "X", Some("A: 2 x 3, X: 3 x 4")),
    ("X ./ (A + X)", "X", Some("X: 3 x 4")),
    // elementwise functions
    ("sum(exp(A x))", "x", Some("A: 4 x 3")),
    ("log(A x)", "x", Some("A: 4 x 3")),
    ("sum(sin(X) .* A)", "X", Some("X: 3 x 4")),
    ("cos(A x)", "x", Some("A: 4 x 3")),
    ("sum(tan(X / 2))", "X", Some("X: 3 x 4")),
    ("tanh(A x)", "x", Some("A: 4 x 3")),
    ("sqrt(A x)", "x", Some("A: 4 x 3")),
    ("sum(abs(A x))", "x", Some("A: 4 x 3")),
    ("sigmoid(X) B", "X", Some("X: 3 x 4")),
    ("sum(softplus(A x))", "x", Some("A: 4 x 3")),
    ("relu(A x) .* x", "x", Some("A: 3 x 3")),
    // norms
    ("norm2(A x - b)^2", "x", Some("A: 4 x 3")),
    ("norm2(X)", "X", Some("X: 3 x 4")),
    ("norm2(A X B)", "X", Some("A: 2 x 3, X: 3 x 4, B: 4 x 5")),
    // the issue's cases, ill-scaled ones included
    ("x^T A x + sum(log(x))", "x", None),
    ("sin(10000 alpha)", "alpha", None),
    ("sin(100000 alpha)", "alpha", None),
    ("10000000 X + exp(X)", "X", Some("X: 3 x 4")),
    ("alpha^3 exp(1000 alpha)", "alpha", None),
    // symmetric variables: the general formula is wrong for them
    ("tr(S A)", "S", Some("S: symmetric")),
    ("x^T S x", "S", Some("S: symmetric")),
];

#[test]
fn every_wrong_derivative_is_rejected() {
    let mut score = Score::default();
    let mut kinds = 0;
    for (expr, wrt, decls) in CASES {
        kinds += run_case(&mut score, expr, wrt, *decls);
    }
    let pct = 100.0 * score.rejected as f64 / score.mutants.max(1) as f64;
    println!(
        "mutation score {pct:.1}%: {} of {} mutants rejected ({} as inconclusive) over {} cases \
         and {kinds} derivatives; {} mutants equal to the answer and {} never evaluable left out",
        score.rejected,
        score.mutants,
        score.inconclusive,
        CASES.len(),
        score.equivalent,
        score.unevaluable
    );
    assert!(
        score.survivors.is_empty(),
        "{} mutants survived:\n{}",
        score.survivors.len(),
        score.survivors.join("\n")
    );
    assert!(score.mutants > 500, "too few mutants: {}", score.mutants);
}

/// The issue's reproductions, by their text: a claimed derivative parsed
/// with the function (so both share one context) and judged by
/// `verify_claim`; each right answer beside it passes.
#[test]
fn the_issues_reproductions_are_judged_right() {
    let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
        // (function, variable, claimed differential in dX, decls, right?)
        (
            "x^T A x + sum(log(x))",
            "x",
            "2 x^T A dx + sum(dx ./ x)",
            None,
            false,
        ),
        (
            "x^T A x + sum(log(x))",
            "x",
            "x^T A dx + dx^T A x + sum(dx ./ x)",
            None,
            true,
        ),
        ("logdet(X)", "X", "tr(X^-T dX)", None, false),
        ("logdet(X)", "X", "tr(X^-1 dX)", None, true),
        (
            "sin(10000 alpha)",
            "alpha",
            "10100 cos(10000 alpha) dalpha",
            None,
            false,
        ),
        (
            "sin(10000 alpha)",
            "alpha",
            "10000 cos(10000 alpha) dalpha",
            None,
            true,
        ),
        // alone, `dalpha` would read as a vector: say it is a scalar
        (
            "sin(100000 alpha)",
            "alpha",
            "7 dalpha",
            Some("dalpha: scalar"),
            false,
        ),
        (
            "sin(100000 alpha)",
            "alpha",
            "100000 cos(100000 alpha) dalpha",
            None,
            true,
        ),
        (
            "10000000 X + exp(X)",
            "X",
            "10000000 dX + 3 exp(X) .* dX",
            Some("X: 3 x 4"),
            false,
        ),
        (
            "10000000 X + exp(X)",
            "X",
            "10000000 dX + exp(X) .* dX",
            Some("X: 3 x 4"),
            true,
        ),
    ];
    for (f, wrt, d, decls, right) in cases {
        // one lowering for both, so they share the context: the claim is
        // the difference between `f + 0 (d)` terms, read back apart
        let (fe, de, ctx) = lower_pair(f, d, *decls);
        let v = verify_claim(
            &fe,
            &Claim::Differential {
                direction: format!("d{wrt}"),
                value: de,
            },
            &ctx,
            wrt,
        );
        println!("{f} with d = {d}: {}", v.summary());
        if *right {
            assert!(v.passed(), "{f}: {d} should pass: {}", v.summary());
        } else {
            assert!(v.failed(), "{f}: {d} should fail: {}", v.summary());
        }
    }
}

/// `f` and `d` lowered in one context: the pair is lowered as
/// `kron(f, d)`-free text `f` and `d` separately under declarations that
/// fix every shape the pair shares, and the contexts merged.
fn lower_pair(f: &str, d: &str, decls: Option<&str>) -> (Expr, Expr, Context) {
    let s = Session::new();
    let lf = s.lower(f, decls).expect("f lowers");
    let ld = s.lower(d, decls).expect("d lowers");
    let mut ctx = lf.context.clone();
    for (name, info) in &ld.context.vars {
        if let Some(mine) = ctx.vars.get(name) {
            assert_eq!(mine.shape, info.shape, "`{name}` has one shape in both");
        } else {
            ctx.vars.insert(name.clone(), info.clone());
            ctx.order.push(name.clone());
        }
    }
    (lf.expr, ld.expr, ctx)
}
