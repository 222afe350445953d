//! The rewrite rules, grouped by theory, each named `theory-law` (unique,
//! tested) and each carrying a *witness*: declarations of its pattern
//! variables under which its condition holds, on rectangular shapes of
//! distinct sizes wherever the law allows. The soundness test instantiates
//! every rule on its witness and compares both sides at random points,
//! exactly over Q; a rule without a working witness fails that test.
//!
//! Conditions read only analysis data (shape, symmetry, identity), never
//! the nodes themselves. There is deliberately no matrix `mul-comm`: only
//! scalars commute.

use crate::simplify::lang::{Facts, Mat};
use egg::{ConditionalApplier, EGraph, Id, Pattern, Rewrite, Subst, Var};

/// When a rule may fire, read from the analysis data of its variables.
#[derive(Clone, Copy, Debug)]
pub enum Cond {
    /// Always.
    Always,
    /// The variable is 1×1.
    Scalar(&'static str),
    /// At least one of the two is 1×1.
    EitherScalar(&'static str, &'static str),
    /// Both are square and not 1×1 (matrix inverses and determinants).
    BothSquare(&'static str, &'static str),
    /// Neither is 1×1 (trace rotations stay matrix products).
    BothMatrix(&'static str, &'static str),
    /// The variable is a symmetric matrix.
    Symmetric(&'static str),
    /// The variable is an identity matrix.
    Identity(&'static str),
    /// The first is an identity and the second a matrix (`I s` is not `s`).
    IdentityOn(&'static str, &'static str),
    /// `(a b)` is a well-formed product (so re-associating keeps shapes).
    Multiplies(&'static str, &'static str),
    /// `(a b)` is a 1×1 product of matrices.
    ScalarProduct(&'static str, &'static str),
    /// The two have the same shape (no broadcasting hides in a factored sum).
    SameShape(&'static str, &'static str),
}

/// One rule: its name, its two sides, its condition and its witness.
#[derive(Clone, Copy, Debug)]
pub struct RuleSpec {
    /// `theory-law`, unique.
    pub name: &'static str,
    /// The left-hand side pattern.
    pub lhs: &'static str,
    /// The right-hand side pattern.
    pub rhs: &'static str,
    /// When it applies.
    pub cond: Cond,
    /// Declarations of the pattern variables (`a: 3 x 4, s: scalar`; `i: I 4`
    /// for an identity) under which the condition holds.
    pub witness: &'static str,
}

const fn rule(
    name: &'static str,
    lhs: &'static str,
    rhs: &'static str,
    cond: Cond,
    witness: &'static str,
) -> RuleSpec {
    RuleSpec {
        name,
        lhs,
        rhs,
        cond,
        witness,
    }
}

use Cond::*;

/// The laws of the normal form: everything except the additive laws that
/// only `--factor` needs (expansion and like terms are done before the
/// e-graph, see `canon`).
#[rustfmt::skip]
pub const LAWS: &[RuleSpec] = &[
    // products: associativity (guarded by shapes) and commuting scalars
    rule("mul-assoc-left",  "(* ?a (* ?b ?c))", "(* (* ?a ?b) ?c)", Multiplies("?a", "?b"), "a: 3 x 4, b: 4 x 5, c: 5 x 2"),
    rule("mul-assoc-right", "(* (* ?a ?b) ?c)", "(* ?a (* ?b ?c))", Multiplies("?b", "?c"), "a: 3 x 4, b: 4 x 5, c: 5 x 2"),
    rule("mul-scalar-comm", "(* ?a ?b)",        "(* ?b ?a)",        EitherScalar("?a", "?b"), "a: scalar, b: 3 x 4"),
    rule("mul-one-left",    "(* 1 ?a)",         "?a",               Always,               "a: 3 x 4"),
    rule("mul-identity-left",  "(* ?i ?a)",     "?a",               IdentityOn("?i", "?a"), "i: I 3, a: 3 x 4"),
    rule("mul-identity-right", "(* ?a ?i)",     "?a",               IdentityOn("?i", "?a"), "a: 3 x 4, i: I 4"),
    // transposes
    rule("transpose-involution", "(T (T ?a))",       "?a",                     Always,             "a: 3 x 4"),
    rule("transpose-product",    "(T (* ?a ?b))",    "(* (T ?b) (T ?a))",      Always,             "a: 3 x 4, b: 4 x 5"),
    rule("transpose-sum",        "(T (+ ?a ?b))",    "(+ (T ?a) (T ?b))",      SameShape("?a", "?b"), "a: 3 x 4, b: 3 x 4"),
    rule("transpose-scalar",     "(T ?a)",           "?a",                     Scalar("?a"),       "a: scalar"),
    rule("transpose-scalar-product", "(* ?a ?b)",    "(T (* ?a ?b))",          ScalarProduct("?a", "?b"), "a: 1 x 4, b: 4 x 1"),
    rule("transpose-symmetric",  "(T ?a)",           "?a",                     Symmetric("?a"),    "a: symmetric 4 x 4"),
    rule("transpose-inverse",    "(T (inv ?a))",     "(inv (T ?a))",           Always,             "a: 4 x 4"),
    rule("transpose-inverse-out","(inv (T ?a))",     "(T (inv ?a))",           Always,             "a: 4 x 4"),
    rule("transpose-power",      "(T (pow ?a ?k))",  "(pow (T ?a) ?k)",        Always,             "a: 4 x 4, k: 3"),
    rule("transpose-hadamard",   "(T (.* ?a ?b))",   "(.* (T ?a) (T ?b))",     Always,             "a: 3 x 4, b: 3 x 4"),
    rule("transpose-kron",       "(T (kron ?a ?b))", "(kron (T ?a) (T ?b))",   Always,             "a: 3 x 4, b: 2 x 5"),
    // inverses
    rule("inverse-involution",   "(inv (inv ?a))",   "?a",                     Always,             "a: 4 x 4"),
    rule("inverse-cancel-right", "(* ?a (inv ?a))",  "(id ?a)",                Always,             "a: 4 x 4"),
    rule("inverse-cancel-left",  "(* (inv ?a) ?a)",  "(id ?a)",                Always,             "a: 4 x 4"),
    rule("inverse-product",      "(inv (* ?a ?b))",  "(* (inv ?b) (inv ?a))",  BothSquare("?a", "?b"), "a: 4 x 4, b: 4 x 4"),
    rule("inverse-scaled",       "(inv (* ?s ?a))",  "(* (pow ?s -1) (inv ?a))", Scalar("?s"),     "s: scalar, a: 4 x 4"),
    rule("inverse-identity",     "(inv ?i)",         "?i",                     Identity("?i"),     "i: I 4"),
    rule("inverse-kron",         "(inv (kron ?a ?b))", "(kron (inv ?a) (inv ?b))", BothSquare("?a", "?b"), "a: 3 x 3, b: 2 x 2"),
    // traces
    rule("trace-sum",       "(tr (+ ?a ?b))",   "(+ (tr ?a) (tr ?b))",   SameShape("?a", "?b"),  "a: 4 x 4, b: 4 x 4"),
    rule("trace-scaled",    "(tr (* ?s ?a))",   "(* ?s (tr ?a))",        Scalar("?s"),           "s: scalar, a: 4 x 4"),
    rule("trace-transpose", "(tr (T ?a))",      "(tr ?a)",               Always,                 "a: 4 x 4"),
    rule("trace-transpose-intro", "(tr ?a)",        "(tr (T ?a))",           Always,                 "a: 4 x 4"),
    rule("trace-cyclic",    "(tr (* ?a ?b))",   "(tr (* ?b ?a))",        BothMatrix("?a", "?b"), "a: 3 x 4, b: 4 x 3"),
    rule("trace-scalar",    "(tr ?a)",          "?a",                    Scalar("?a"),           "a: scalar"),
    // determinants
    rule("det-transpose",    "(det (T ?a))",      "(det ?a)",                       Always,                 "a: 4 x 4"),
    rule("det-inverse",      "(det (inv ?a))",    "(pow (det ?a) -1)",              Always,                 "a: 4 x 4"),
    rule("det-product",      "(det (* ?a ?b))",   "(* (det ?a) (det ?b))",          BothSquare("?a", "?b"), "a: 4 x 4, b: 4 x 4"),
    rule("det-identity",     "(det ?i)",          "1",                              Identity("?i"),         "i: I 4"),
    rule("logdet-transpose", "(logdet (T ?a))",   "(logdet ?a)",                    Always,                 "a: spd 4 x 4"),
    rule("logdet-inverse",   "(logdet (inv ?a))", "(* -1 (logdet ?a))",             Always,                 "a: spd 4 x 4"),
    rule("logdet-product",   "(logdet (* ?a ?b))", "(+ (logdet ?a) (logdet ?b))",   BothSquare("?a", "?b"), "a: spd 4 x 4, b: spd 4 x 4"),
    // Hadamard and Kronecker products
    rule("sum-transpose",         "(sum (T ?a))",           "(sum ?a)",               Always, "a: 3 x 4"),
    rule("sum-scaled",            "(sum (* ?s ?a))",        "(* ?s (sum ?a))",        Scalar("?s"), "s: scalar, a: 3 x 4"),
    rule("hadamard-comm",         "(.* ?a ?b)",             "(.* ?b ?a)",             Always, "a: 3 x 4, b: 3 x 4"),
];

/// The additive laws, for `--factor` (the normal form expands instead).
#[rustfmt::skip]
pub const ADDITIVE: &[RuleSpec] = &[
    rule("add-comm",          "(+ ?a ?b)",                 "(+ ?b ?a)",               Always, "a: 3 x 4, b: 3 x 4"),
    rule("add-assoc-left",    "(+ ?a (+ ?b ?c))",          "(+ (+ ?a ?b) ?c)",        Always, "a: 3 x 4, b: 3 x 4, c: 3 x 4"),
    rule("add-assoc-right",   "(+ (+ ?a ?b) ?c)",          "(+ ?a (+ ?b ?c))",        Always, "a: 3 x 4, b: 3 x 4, c: 3 x 4"),
    rule("add-same",          "(+ ?a ?a)",                 "(* 2 ?a)",                Always, "a: 3 x 4"),
    rule("add-like-terms",    "(+ (* ?c ?a) ?a)",          "(* (+ ?c 1) ?a)",         Scalar("?c"), "c: scalar, a: 3 x 4"),
    rule("distribute-left",   "(* ?a (+ ?b ?c))",          "(+ (* ?a ?b) (* ?a ?c))", SameShape("?b", "?c"), "a: 3 x 4, b: 4 x 5, c: 4 x 5"),
    rule("distribute-right",  "(* (+ ?a ?b) ?c)",          "(+ (* ?a ?c) (* ?b ?c))", SameShape("?a", "?b"), "a: 3 x 4, b: 3 x 4, c: 4 x 5"),
    rule("factor-left",       "(+ (* ?a ?b) (* ?a ?c))",   "(* ?a (+ ?b ?c))",        SameShape("?b", "?c"), "a: 3 x 4, b: 4 x 5, c: 4 x 5"),
    rule("factor-right",      "(+ (* ?a ?c) (* ?b ?c))",   "(* (+ ?a ?b) ?c)",        SameShape("?a", "?b"), "a: 3 x 4, b: 3 x 4, c: 4 x 5"),
];

/// Every rule, for the soundness test and for `--factor`.
pub fn all_specs() -> impl Iterator<Item = &'static RuleSpec> {
    LAWS.iter().chain(ADDITIVE)
}

fn var(name: &str) -> Var {
    name.parse().expect("a pattern variable")
}

fn data(g: &EGraph<Mat, Facts>, subst: &Subst, v: &str) -> crate::simplify::lang::Data {
    g[subst[var(v)]].data.clone()
}

/// Whether `cond` holds for a match.
pub fn holds(cond: Cond, g: &EGraph<Mat, Facts>, subst: &Subst) -> bool {
    let d = |v| data(g, subst, v);
    match cond {
        Always => true,
        Scalar(a) => d(a).shape.is_scalar(),
        EitherScalar(a, b) => d(a).shape.is_scalar() || d(b).shape.is_scalar(),
        BothSquare(a, b) => [d(a), d(b)]
            .iter()
            .all(|x| x.shape.is_square() && !x.shape.is_scalar()),
        BothMatrix(a, b) => !d(a).shape.is_scalar() && !d(b).shape.is_scalar(),
        Symmetric(a) => d(a).symmetric && !d(a).shape.is_scalar(),
        Identity(a) => d(a).identity,
        IdentityOn(i, a) => d(i).identity && !d(a).shape.is_scalar(),
        Multiplies(a, b) => {
            let (a, b) = (d(a).shape, d(b).shape);
            a.is_scalar() || b.is_scalar() || a.cols == b.rows
        }
        SameShape(a, b) => d(a).shape == d(b).shape,
        ScalarProduct(a, b) => {
            let (a, b) = (d(a).shape, d(b).shape);
            !a.is_scalar() && !b.is_scalar() && a.rows.is_one() && b.cols.is_one()
        }
    }
}

/// The egg rewrite of a spec.
pub fn rewrite(spec: &RuleSpec) -> Rewrite<Mat, Facts> {
    let lhs: Pattern<Mat> = spec.lhs.parse().expect("a valid left-hand side");
    let rhs: Pattern<Mat> = spec.rhs.parse().expect("a valid right-hand side");
    let cond = spec.cond;
    let condition = move |g: &mut EGraph<Mat, Facts>, _: Id, s: &Subst| holds(cond, g, s);
    Rewrite::new(
        spec.name,
        lhs,
        ConditionalApplier {
            condition,
            applier: rhs,
        },
    )
    .expect("a valid rule")
}

/// The rewrites of a list of specs.
pub fn rewrites<'a>(specs: impl IntoIterator<Item = &'a RuleSpec>) -> Vec<Rewrite<Mat, Facts>> {
    specs.into_iter().map(rewrite).collect()
}

/// A law the canonicaliser applies itself, deterministically, as it
/// builds a term (`elementwise.rs`, `canon.rs`, `group.rs`): the elementwise,
/// diagonal and grouping algebra, whose operands (elementwise functions,
/// `diag`, `./`) the e-graph sees only as opaque leaves. Its sides are
/// written in the input language; its condition is read from an analysis
/// of the expression (which entries are known positive, which sums the
/// input wrote), never assumed.
#[derive(Clone, Copy, Debug)]
pub struct CanonLaw {
    /// `theory-law`, unique; the name `--steps` shows when it fires.
    pub name: &'static str,
    /// The left-hand side, in the input language.
    pub lhs: &'static str,
    /// The right-hand side, which the default form prints for the left.
    pub rhs: &'static str,
    /// When it applies, in words.
    pub cond: &'static str,
    /// The declarations (`--where`) of the witness it is tested on.
    pub witness: &'static str,
}

const fn canon(
    name: &'static str,
    lhs: &'static str,
    rhs: &'static str,
    cond: &'static str,
    witness: &'static str,
) -> CanonLaw {
    CanonLaw {
        name,
        lhs,
        rhs,
        cond,
        witness,
    }
}

/// The canonicaliser's laws. The tests check each one numerically on its
/// witness (both sides agree at random points, on rectangular shapes) and
/// check that the default form of its left side is its right side.
#[rustfmt::skip]
pub const CANON: &[CanonLaw] = &[
    canon("elementwise-cancel",            "sigmoid(a) .* (b ./ sigmoid(a))", "b",               "the cancelled base is known positive (exp, sigmoid, softplus, 1 - sigmoid, sums and products of positives)", "a: 3 x 4, b: 3 x 4"),
    canon("elementwise-cancel-complement", "(1 - sigmoid(a)) .* (b ./ (1 - sigmoid(a)))", "b",   "1 - sigmoid is positive",                "a: 3 x 4, b: 3 x 4"),
    canon("elementwise-cancel-exp",        "b .* exp(a) ./ exp(a)",           "b",               "exp is positive",                        "a: 3 x 4, b: 3 x 4"),
    canon("elementwise-sigmoid-of",        "1 ./ (1 + exp(-a))",              "sigmoid(a)",      "always",                                 "a: 3 x 4"),
    canon("elementwise-exp-times-sigmoid", "exp(a) .* sigmoid(-a)",           "sigmoid(a)",      "always",                                 "a: 3 x 4"),
    canon("elementwise-log-exp",           "log(exp(a))",                     "a",               "always",                                 "a: 3 x 4"),
    canon("elementwise-exp-log",           "exp(log(sigmoid(a)))",            "sigmoid(a)",      "the argument of log is known positive",  "a: 3 x 4"),
    canon("elementwise-softplus-of",       "log(1 + exp(a))",                 "softplus(a)",     "always",                                 "a: 3 x 4"),
    canon("elementwise-softmax-of",        "exp(z) / sum(exp(z))",            "softmax(z)",      "z is a vector",                          "z: 4"),
    canon("elementwise-transpose",         "exp(x^T W^T)",                    "exp(W x)^T",      "the argument has fewer transposes",      "x: 4, W: 3 x 4"),
    canon("elementwise-distribute",        "(1 - sigmoid(a)) .* b + sigmoid(a) .* b", "b",       "distributing makes terms cancel or merge", "a: 3 x 4, b: 3 x 4"),
    canon("diag-product",                  "diag(a) diag(b)",                 "diag(a .* b)",    "a and b are vectors",                    "a: 4, b: 4"),
    canon("diag-times-vector",             "diag(a) x",                       "a .* x",          "a and x are vectors",                    "a: 4, x: 4"),
    canon("diag-outer",                    "diag(x y^T)",                     "x .* y",          "x and y are vectors",                    "x: 4, y: 4"),
    canon("group-residual",                "2 A^T A x - 2 A^T b",             "2 A^T (A x - b)", "the inner sum is a residual of the input (each term a piece the input wrote)", "A: 3 x 4"),
    canon("group-coefficient",             "2 A x - 2 b",                     "2 (A x - b)",     "the inner sum is a residual of the input", "A: 3 x 4"),
    canon("group-hadamard",                "A .* B + A .* C",                 "A .* (B + C)",    "the other operands group into one term", "A: 3 x 4, B: 3 x 4, C: 3 x 4"),
];
