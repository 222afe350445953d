//! The text printer round-trips: printing, parsing and printing again gives
//! the same text, and the re-parsed expression has the same value.
//!
//! Expressions come from a generator of random well-shaped expressions over
//! square n×n matrices, n-vectors, scalars and Kronecker products, built
//! with the library's smart constructors, so every operator and every
//! precedence boundary is exercised.

use matcalc::numeric::rng::Rng;
use matcalc::numeric::{Bindings, Matrix, eval};
use matcalc::{Dim, ElemFn, Expr, Func, Session, Shape, rat, to_text};
use num_rational::BigRational;
use proptest::prelude::*;

/// The kinds of expression the generator builds.
#[derive(Clone, Copy)]
pub enum Ty {
    Scalar,
    Square,
    Vector,
    Row,
    Big,
}

/// A generator of random well-shaped expressions.
pub struct Gen {
    pub rng: Rng,
}

fn n() -> Dim {
    Dim::named("n")
}

impl Gen {
    /// A random expression of a random type from `seed`, at most `depth`
    /// deep.
    pub fn random(seed: u64, depth: u32) -> Expr {
        let mut g = Gen {
            rng: Rng::new(seed),
        };
        let ty = [Ty::Scalar, Ty::Square, Ty::Vector, Ty::Row, Ty::Big][g.pick(5)];
        g.build(ty, depth)
    }

    /// A random number below `k`.
    pub fn pick(&mut self, k: usize) -> usize {
        self.rng.below(k)
    }

    fn leaf(&mut self, ty: Ty) -> Expr {
        let sq = Shape::square(n());
        let vec = Shape::new(n(), Dim::one());
        match ty {
            Ty::Scalar => match self.pick(4) {
                0 => Expr::var("alpha", Shape::scalar()),
                1 => Expr::var("beta", Shape::scalar()),
                // Non-zero: a zero matrix prints as the broadcast `0`, whose
                // structure (not value) differs after parsing.
                2 => Expr::constant(BigRational::new(
                    [-3i64, -2, -1, 1, 2, 3][self.pick(6)].into(),
                    (1 + self.pick(3) as i64).into(),
                )),
                _ => Expr::int(1 + self.pick(5) as i64),
            },
            Ty::Square => match self.pick(5) {
                0 => Expr::var("A", sq),
                1 => Expr::var("B", sq),
                2 => Expr::identity(n()),
                3 => Expr::unit("ij", sq),
                _ => Expr::var("X", sq),
            },
            Ty::Vector => match self.pick(3) {
                0 => Expr::var("x", vec),
                1 => Expr::unit("i", vec),
                _ => Expr::var("y", vec),
            },
            Ty::Row => Expr::transpose(&self.leaf(Ty::Vector)),
            Ty::Big => Expr::kron(&self.leaf(Ty::Square), &self.leaf(Ty::Square)),
        }
    }

    /// A random expression of type `ty`, at most `depth` deep.
    pub fn build(&mut self, ty: Ty, depth: u32) -> Expr {
        if depth == 0 || self.pick(4) == 0 {
            return self.leaf(ty);
        }
        let d = depth - 1;
        let elem = |g: &mut Gen| ElemFn::ALL[g.pick(ElemFn::ALL.len())];
        match ty {
            Ty::Scalar => match self.pick(12) {
                0 => Expr::add(&self.build(Ty::Scalar, d), &self.build(Ty::Scalar, d)),
                1 => Expr::mul(&self.build(Ty::Scalar, d), &self.build(Ty::Scalar, d)),
                2 => Expr::apply(Func::Tr, &self.build(Ty::Square, d)),
                3 => Expr::apply(
                    [Func::Det, Func::Logdet, Func::Sum, Func::Norm2][self.pick(4)],
                    &self.build(Ty::Square, d),
                ),
                4 => Expr::mul(&self.build(Ty::Row, d), &self.build(Ty::Vector, d)),
                5 => Expr::product([
                    self.build(Ty::Row, d),
                    self.build(Ty::Square, d),
                    self.build(Ty::Vector, d),
                ]),
                6 => Expr::power(
                    &self.build(Ty::Scalar, d),
                    &BigRational::new(
                        (self.pick(5) as i64 - 2).into(),
                        (1 + self.pick(2) as i64).into(),
                    ),
                ),
                7 => Expr::apply(Func::Elem(elem(self)), &self.build(Ty::Scalar, d)),
                8 => Expr::div(&self.build(Ty::Scalar, d), &self.build(Ty::Scalar, d)),
                9 => Expr::neg(&self.build(Ty::Scalar, d)),
                10 => Expr::apply(Func::Tr, &self.build(Ty::Big, d)),
                _ => Expr::transpose(&self.build(Ty::Scalar, d)),
            },
            Ty::Square => match self.pick(17) {
                0 => Expr::add(&self.build(Ty::Square, d), &self.build(Ty::Square, d)),
                1 => Expr::mul(&self.build(Ty::Square, d), &self.build(Ty::Square, d)),
                2 => Expr::mul(&self.build(Ty::Scalar, d), &self.build(Ty::Square, d)),
                3 => Expr::transpose(&self.build(Ty::Square, d)),
                4 => Expr::inverse(&self.build(Ty::Square, d)),
                5 => Expr::power(&self.build(Ty::Square, d), &rat(self.pick(6) as i64 - 3)),
                6 => Expr::hadamard(&self.build(Ty::Square, d), &self.build(Ty::Square, d)),
                7 => Expr::hadamard_div(&self.build(Ty::Square, d), &self.build(Ty::Square, d)),
                8 => Expr::hadamard_pow(
                    &self.build(Ty::Square, d),
                    &BigRational::new(
                        (self.pick(5) as i64 - 1).into(),
                        (1 + self.pick(2) as i64).into(),
                    ),
                ),
                9 => Expr::mul(&self.build(Ty::Vector, d), &self.build(Ty::Row, d)),
                10 => Expr::apply(Func::Elem(elem(self)), &self.build(Ty::Square, d)),
                11 => Expr::apply(Func::Diag, &self.build(Ty::Vector, d)),
                12 => Expr::neg(&self.build(Ty::Square, d)),
                13 => Expr::div(&self.build(Ty::Square, d), &self.build(Ty::Scalar, d)),
                14 => Expr::add(&self.build(Ty::Scalar, d), &self.build(Ty::Square, d)),
                15 => Expr::sub(&self.build(Ty::Square, d), &self.build(Ty::Square, d)),
                _ => Expr::transpose(&Expr::inverse(&self.build(Ty::Square, d))),
            },
            Ty::Vector => match self.pick(6) {
                0 => Expr::mul(&self.build(Ty::Square, d), &self.build(Ty::Vector, d)),
                1 => Expr::apply(Func::Diag, &self.build(Ty::Square, d)),
                2 => Expr::add(&self.build(Ty::Vector, d), &self.build(Ty::Vector, d)),
                3 => Expr::mul(&self.build(Ty::Scalar, d), &self.build(Ty::Vector, d)),
                4 => Expr::mul(&self.build(Ty::Vector, d), &self.build(Ty::Scalar, d)),
                _ => Expr::apply(Func::Elem(elem(self)), &self.build(Ty::Vector, d)),
            },
            Ty::Row => match self.pick(3) {
                0 => Expr::mul(&self.build(Ty::Row, d), &self.build(Ty::Square, d)),
                1 => Expr::transpose(&self.build(Ty::Vector, d)),
                _ => Expr::sub(&self.build(Ty::Row, d), &self.build(Ty::Row, d)),
            },
            Ty::Big => match self.pick(4) {
                0 => Expr::kron(&self.build(Ty::Square, d), &self.build(Ty::Square, d)),
                1 => Expr::add(&self.build(Ty::Big, d), &self.build(Ty::Big, d)),
                2 => Expr::mul(&self.build(Ty::Big, d), &self.build(Ty::Big, d)),
                _ => Expr::transpose(&self.build(Ty::Big, d)),
            },
        }
    }
}

/// Values for the generator's variables, with n = 3.
fn bindings(rng: &mut Rng) -> Bindings {
    let mut b = Bindings::default();
    let mut m = |r: usize, c: usize| Matrix {
        rows: r,
        cols: c,
        data: (0..r * c).map(|_| rng.uniform(0.2, 1.2)).collect(),
    };
    for v in ["A", "B", "X"] {
        b.vars.insert(v.into(), m(3, 3));
    }
    for v in ["x", "y"] {
        b.vars.insert(v.into(), m(3, 1));
    }
    for v in ["alpha", "beta"] {
        b.vars.insert(v.into(), m(1, 1));
    }
    b.indices.insert('i', 1);
    b.indices.insert('j', 2);
    b
}

/// Sizes for whatever dimension names the re-parsed expression inferred.
fn with_dims(mut b: Bindings, e: &Expr) -> Bindings {
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        for d in [&x.shape().rows, &x.shape().cols] {
            for name in &d.names {
                b.dims.insert(name.to_string(), 3);
            }
        }
        stack.extend(x.children());
    }
    b
}

/// Equal up to rounding; a 1×1 side broadcasts (the printed `0` of a
/// zero matrix parses back as the scalar 0, which broadcasts).
fn close(a: &Matrix, b: &Matrix) -> bool {
    let near = |x: f64, y: f64| (x - y).abs() <= 1e-8 * (1.0 + x.abs().max(y.abs()));
    match (a.is_scalar(), b.is_scalar()) {
        (false, true) => a.data.iter().all(|&x| near(x, b.data[0])),
        (true, false) => b.data.iter().all(|&y| near(a.data[0], y)),
        _ => {
            a.rows == b.rows
                && a.cols == b.cols
                && a.data.iter().zip(&b.data).all(|(&x, &y)| near(x, y))
        }
    }
}

fn round_trip(seed: u64) {
    let e = Gen::random(seed, 4);
    let text = to_text(&e);
    // Declared scalars: an undeclared Greek name added to a matrix would
    // be read as a matrix (SPEC §2), which is not what the generator built.
    let lowered = match Session::new().lower(&text, Some("alpha: scalar, beta: scalar")) {
        Ok(l) => l,
        // The generator can divide by a constant sum such as `(2 - 2)`;
        // the input language refuses that, rightly.
        Err(d) if d.message.starts_with("division by zero") => return,
        Err(d) => panic!("printed text does not parse: {text}\n{}", d.render()),
    };
    let again = to_text(&lowered.expr);
    assert_eq!(again, text, "print → parse → print changed the text");
    // Same value at the same point (where the point is in the domain).
    let mut rng = Rng::new(seed ^ 0xabcdef);
    let b = bindings(&mut rng);
    if let (Ok(v1), Ok(v2)) = (
        eval(&e, &with_dims(b.clone(), &e)),
        eval(&lowered.expr, &with_dims(b, &lowered.expr)),
    ) {
        assert!(
            close(&v1, &v2),
            "{text}: values differ after re-parsing:\n{v1}\n{v2}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, max_shrink_iters: 0, ..ProptestConfig::default() })]
    #[test]
    fn printed_text_parses_back_to_the_same_expression(seed in any::<u64>()) {
        round_trip(seed);
    }
}

#[test]
fn printed_derivatives_parse_back() {
    for (expr, wrt) in [
        ("A X X^T A^T", "X_ij"),
        ("X X^T", "X"),
        ("(x^T A x) B", "x"),
        ("inv(X) + det(X) X + X^3", "X"),
        ("1 - tanh(A x).^2", "x"),
        ("norm2(x) y / (x^T x)", "x"),
    ] {
        let answer = Session::new()
            .diff(expr, wrt, None, None)
            .expect("differentiates");
        crate::common::verify(&answer, expr);
        let again = Session::new().lower(&answer.text, None).expect("parses");
        assert_eq!(to_text(&again.expr), answer.text);
    }
}

/// What the derivative round trip saw.
#[derive(Default, Debug)]
struct RoundTrips {
    /// Results re-read and compared by value.
    judged: usize,
    /// Printed the same after re-reading.
    same_text: usize,
    /// Re-read with the sizes of `commutation(p, q)` renamed (the names of
    /// inferred sizes are the reader's own; the value is the same).
    renamed_sizes: usize,
    /// A constant whose size comes from where it is used (`ones`, `I / c`),
    /// re-read on its own with a free size.
    free_size: usize,
    /// Printed with names for repeated pieces (`… where p = …`).
    named: usize,
}

/// `text` with the arguments of every `commutation(…)` dropped.
fn without_sizes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("commutation(") {
        out.push_str(&rest[..i + "commutation(".len()]);
        rest = &rest[i + "commutation(".len()..];
        rest = &rest[rest.find(')').map_or(rest.len(), |j| j)..];
    }
    out.push_str(rest);
    out
}

/// Every kind of derivative of a random expression prints text that
/// parses back to an expression of the same value (SPEC §2: a printed
/// result reads back, the commutation matrix and `E_ij` included), and
/// printing that again gives the same text, up to the names of inferred
/// sizes.
fn derivative_round_trip(seed: u64, seen: &mut RoundTrips) {
    let mut g = Gen {
        rng: Rng::new(seed),
    };
    let ty = [Ty::Scalar, Ty::Square, Ty::Vector][g.pick(3)];
    let e = g.build(ty, 3);
    let text = to_text(&e);
    let decls = Some("alpha: scalar, beta: scalar");
    let s = Session::new();
    let var = if e.mentions("X") {
        "X"
    } else if e.mentions("x") {
        "x"
    } else {
        return;
    };
    let entry = if var == "X" { "X_ij" } else { "x_i" };
    let mut answers = Vec::new();
    answers.extend(s.diff(&text, var, None, decls).ok());
    answers.extend(s.diff(&text, entry, None, decls).ok());
    // the expanded form prints the full expression, the default and
    // factored forms may name repeated pieces
    for form in [matcalc::Form::Expanded, matcalc::Form::Default] {
        answers.extend(s.jacobian(&text, var, decls, Some(form)).ok());
        if e.shape().is_scalar() {
            answers.extend(s.grad(&text, var, decls, Some(form)).ok());
            answers.extend(s.hessian(&text, var, decls, Some(form)).ok());
        }
    }
    for a in answers {
        seen.named += usize::from(a.text.contains(" where "));
        let printed = &a.text;
        let kind = a.kind.name();
        let again = match s.lower(printed, decls) {
            Ok(l) => l,
            // a generated `(I - I)^-3` folds to `0^-3`, which the input
            // language refuses, rightly
            Err(d) if d.message.starts_with("division by zero") => continue,
            Err(d) => panic!(
                "{text}: the {kind} `{printed}` does not parse back:\n{}",
                d.render()
            ),
        };
        // It reads back with its shape: a scalar, a vector, a row or a
        // matrix as printed (a `ones` whose size nothing in the text fixes
        // is printed `ones(n)`, never read back as the number 1; only a
        // zero matrix prints as the scalar `0`).
        let (s1, s2) = (a.result.shape(), again.expr.shape());
        assert!(
            a.result.is_zero()
                || (s1.rows.is_one() == s2.rows.is_one() && s1.cols.is_one() == s2.cols.is_one()),
            "{text}: the {kind} `{printed}` ({s1}) reads back {s2}"
        );
        // only scalars (or nothing) besides constants such as `I`, `ones`
        // (or an identity whose size no variable of the text has: `I` in
        // `2 tr(A B^T) I`, the Hessian of `tr(X X^T) tr(A B^T)`, is the
        // identity of X's size only in the answer's context; read alone
        // its size is free, as `2 I` alone is)
        let var_sizes: Vec<String> = again
            .context
            .vars
            .values()
            .flat_map(|v| [v.shape.rows.to_string(), v.shape.cols.to_string()])
            .collect();
        let mut stack = vec![&again.expr];
        let mut free_identity = false;
        while let Some(x) = stack.pop() {
            if matches!(x.kind(), matcalc::Kind::Identity)
                && !var_sizes.contains(&x.shape().rows.to_string())
            {
                free_identity = true;
            }
            stack.extend(x.children());
        }
        let free = free_identity
            || again
                .context
                .vars
                .values()
                .all(|v| v.kind == matcalc::VarKind::Scalar);
        // printed again as the answer prints it: with the same names for
        // the same repeated pieces
        let reprinted = matcalc::readable_text(&matcalc::Answer {
            result: again.expr.clone(),
            ..a.clone()
        });
        if &reprinted == printed {
            seen.same_text += 1;
        } else if without_sizes(&reprinted) == without_sizes(printed)
            || to_text(&again.expr) == to_text(&a.result)
        {
            // (a piece whose size nothing fixes, such as `e_i` in
            // `e_i^T (e_i .* e_i)`, reads back with a size of its own, so
            // its occurrences are no longer the same piece to name)
            seen.renamed_sizes += 1;
        } else if free {
            seen.free_size += 1;
            continue;
        } else {
            panic!("{text}: the {kind} changed on print → parse → print:\n{printed}\n{reprinted}");
        }
        let mut rng = Rng::new(seed ^ 0x5eed);
        let mut b = bindings(&mut rng);
        b.vars.insert("dX".into(), b.vars["A"].clone());
        b.vars.insert("dx".into(), b.vars["x"].clone());
        if let (Ok(v1), Ok(v2)) = (
            eval(&a.result, &with_dims(b.clone(), &a.result)),
            eval(&again.expr, &with_dims(b, &again.expr)),
        ) {
            if free && (v1.rows, v1.cols) != (v2.rows, v2.cols) {
                seen.free_size += 1;
                continue;
            }
            assert!(
                close(&v1, &v2),
                "{text}: the {kind} `{printed}` has another value once re-read:\n{v1}\n{v2}"
            );
            seen.judged += 1;
        }
    }
}

#[test]
fn printed_derivatives_of_every_kind_parse_back_to_the_same_value() {
    let mut seen = RoundTrips::default();
    for seed in 0..600u64 {
        derivative_round_trip(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), &mut seen);
    }
    println!("derivative round trips: {seen:?}");
    assert!(seen.judged >= 500, "too few judged: {seen:?}");
    assert!(seen.named >= 10, "too few named: {seen:?}");
}

/// A result that repeats a large piece names it, in text and LaTeX; the
/// text reads back (bindings substituted) to the same expression, which
/// prints with the same names again; `--expand` and JSON print the full
/// expression. Each derivative is checked numerically.
#[test]
fn repeated_pieces_are_named_and_read_back() {
    let decls = Some("W: 4 x 3");
    for (expr, wrt, want) in [
        (
            "logsumexp(W x)",
            "x",
            "W^T diag(p) W - W^T p p^T W where p = softmax(W x)",
        ),
        (
            "-y^T log(softmax(W x))",
            "x",
            "sum(y) W^T diag(p) W - sum(y) W^T p p^T W where p = softmax(W x)",
        ),
        // a name the input uses is not taken
        (
            "logsumexp(W p) + q^T p",
            "p",
            "W^T diag(s) W - W^T s s^T W where s = softmax(W p)",
        ),
    ] {
        let s = Session::new();
        let a = s
            .hessian(expr, wrt, decls, Some(matcalc::Form::Default))
            .expect("differentiates");
        assert_eq!(a.text, want, "hessian {expr}");
        crate::common::checked(expr, wrt, decls);
        let again = s.lower(&a.text, decls).expect("reads back");
        assert_eq!(
            to_text(&again.expr),
            to_text(&a.result),
            "{want} reads back to the same expression"
        );
        let reprinted = matcalc::readable_text(&matcalc::Answer {
            result: again.expr,
            ..a.clone()
        });
        assert_eq!(reprinted, a.text);
        let latex = matcalc::to_latex_rhs(&a);
        assert!(latex.contains("\\quad \\text{where } "), "{latex}");
        let json = matcalc::to_json(&a, expr);
        assert!(!json.contains("where"), "{json}");
        let expanded = s
            .hessian(expr, wrt, decls, Some(matcalc::Form::Expanded))
            .expect("differentiates");
        assert!(!expanded.text.contains("where"), "{}", expanded.text);
    }
}
