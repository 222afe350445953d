//! The e-graph language of the algebra and its analysis: exact rational
//! constants (folded, and asserted equal when two classes merge), and each
//! class's shape, symmetry and whether it is an identity.
//!
//! Anything the rules have nothing to say about (a variable, an
//! elementwise function, a broadcast sum, `vec`, `diag`, …) enters the
//! e-graph as an opaque [`Leaf`]: an index into the analysis's table of
//! already-simplified [`Expr`]s. Leaves are numbered in order of first
//! appearance, so runs are deterministic.

use crate::expr::{Expr, Func, Kind, product_shape};
use crate::hash::FxHashMap;
use crate::shape::Shape;
use egg::{Analysis, DidMerge, EGraph, Id, Language, RecExpr};
use num_rational::BigRational;
use num_traits::{One, Zero};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// An exact rational constant of the language (`5/6`, `-1`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Rat(pub BigRational);

impl FromStr for Rat {
    type Err = String;
    fn from_str(s: &str) -> Result<Rat, String> {
        let first = s.chars().next().ok_or("empty")?;
        if !(first.is_ascii_digit() || first == '-') {
            return Err(format!("not a number: {s}"));
        }
        s.parse::<BigRational>()
            .map(Rat)
            .map_err(|e| format!("not a number: {s}: {e}"))
    }
}

impl fmt::Display for Rat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An opaque leaf: the index of an expression in the analysis's table,
/// written `#3`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Leaf(pub u32);

impl FromStr for Leaf {
    type Err = String;
    fn from_str(s: &str) -> Result<Leaf, String> {
        s.strip_prefix('#')
            .and_then(|n| n.parse().ok())
            .map(Leaf)
            .ok_or_else(|| format!("not a leaf: {s}"))
    }
}

impl fmt::Display for Leaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

mod language {
    // The macro does not take doc comments on variants; the enum's own
    // comment lists them.
    #![allow(missing_docs)]
    use super::{Leaf, Rat};
    use egg::{Id, define_language};

    define_language! {
        /// The operators the rewrite rules speak about: `+`, `*` (matrix
    /// product, or scaling by a 1×1 side), `T`, `inv`, `pow` (a constant
    /// exponent), `id` (the identity with as many rows as its argument),
    /// `.*`, `kron`, `tr`, `det`, `logdet`, `sum`, exact constants and opaque
    /// leaves.
        pub enum Mat {
            "+" = Add([Id; 2]),
            "*" = Mul([Id; 2]),
            "T" = Trans(Id),
            "inv" = Inv(Id),
            "pow" = Pow([Id; 2]),
            "id" = IdOf(Id),
            ".*" = Had([Id; 2]),
            "kron" = Kron([Id; 2]),
            "tr" = Tr(Id),
            "det" = Det(Id),
            "logdet" = Logdet(Id),
        "sum" = Sum(Id),
            Num(Rat),
            Leaf(Leaf),
        }
    }
}
pub use language::Mat;

/// What the analysis knows about a class.
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// The exact value, when the class is a constant.
    pub constant: Option<BigRational>,
    /// The shape every member has.
    pub shape: Shape,
    /// Whether the class is known to be a symmetric matrix (or a scalar).
    pub symmetric: bool,
    /// Whether the class is known to be an identity matrix.
    pub identity: bool,
}

/// The analysis: the leaf table and the names of symmetric variables.
#[derive(Default, Debug)]
pub struct Facts {
    leaves: Vec<Expr>,
    index: FxHashMap<Expr, u32>,
    symmetric: BTreeSet<String>,
}

impl Facts {
    /// An analysis that knows which variables are symmetric.
    pub fn new(symmetric: BTreeSet<String>) -> Facts {
        Facts {
            symmetric,
            ..Facts::default()
        }
    }

    /// The leaf for `e`, interned.
    pub fn leaf(&mut self, e: &Expr) -> Leaf {
        if let Some(&i) = self.index.get(e) {
            return Leaf(i);
        }
        let i = u32::try_from(self.leaves.len()).expect("fewer than 2^32 leaves");
        self.leaves.push(e.clone());
        self.index.insert(e.clone(), i);
        Leaf(i)
    }

    /// The expression behind a leaf.
    pub fn expr(&self, l: Leaf) -> &Expr {
        &self.leaves[l.0 as usize]
    }

    fn symmetric_leaf(&self, e: &Expr) -> bool {
        e.is_scalar()
            || match e.kind() {
                Kind::Identity => true,
                Kind::Var(v) => self.symmetric.contains(&**v),
                _ => false,
            }
    }
}

fn fold(
    a: &Option<BigRational>,
    b: &Option<BigRational>,
    f: impl Fn(&BigRational, &BigRational) -> BigRational,
) -> Option<BigRational> {
    crate::stack::grow(|| Some(f(a.as_ref()?, b.as_ref()?)))
}

/// The data of an entrywise operation (`+`, `.*`): the larger shape, the
/// folded constant, symmetric when both operands are.
fn entrywise(a: Data, b: Data, op: impl Fn(&BigRational, &BigRational) -> BigRational) -> Data {
    Data {
        constant: fold(&a.constant, &b.constant, op),
        shape: if a.shape.is_scalar() {
            b.shape
        } else {
            a.shape
        },
        symmetric: a.symmetric && b.symmetric,
        identity: false,
    }
}

impl Analysis<Mat> for Facts {
    type Data = Data;

    fn make(egraph: &mut EGraph<Mat, Facts>, enode: &Mat, _id: Id) -> Data {
        let d = |i: &Id| egraph[*i].data.clone();
        let scalar = |constant| Data {
            constant,
            shape: Shape::scalar(),
            symmetric: true,
            identity: false,
        };
        match enode {
            Mat::Num(c) => Data {
                identity: c.0.is_one(),
                ..scalar(Some(c.0.clone()))
            },
            Mat::Leaf(l) => {
                let e = egraph.analysis.expr(*l).clone();
                Data {
                    constant: e.as_const().filter(|_| e.is_scalar()).cloned(),
                    symmetric: egraph.analysis.symmetric_leaf(&e),
                    identity: matches!(e.kind(), Kind::Identity),
                    shape: e.shape().clone(),
                }
            }
            Mat::Add([a, b]) => entrywise(d(a), d(b), |x, y| x + y),
            Mat::Mul([a, b]) => {
                let (a, b) = (d(a), d(b));
                let scaled =
                    (a.shape.is_scalar() && b.symmetric) || (b.shape.is_scalar() && a.symmetric);
                Data {
                    constant: fold(&a.constant, &b.constant, |x, y| x * y),
                    shape: product_shape(&a.shape, &b.shape),
                    symmetric: scaled || (a.identity && b.identity),
                    identity: a.identity && b.identity,
                }
            }
            Mat::Trans(a) => {
                let a = d(a);
                Data {
                    shape: a.shape.transpose(),
                    ..a
                }
            }
            Mat::Inv(a) => {
                let a = d(a);
                Data {
                    constant: a
                        .constant
                        .filter(|c| !c.is_zero())
                        .map(|c| BigRational::one() / c),
                    ..a
                }
            }
            Mat::Pow([a, k]) => {
                let (a, k) = (d(a), d(k));
                let constant = match (&a.constant, &k.constant) {
                    (Some(c), Some(k))
                        if k.is_integer()
                            && k.numer().bits() <= 6
                            && !(c.is_zero() && k < &BigRational::zero()) =>
                    {
                        let n: i32 = k.to_integer().try_into().expect("small exponent");
                        Some(num_traits::Pow::pow(c, n))
                    }
                    _ => None,
                };
                Data { constant, ..a }
            }
            Mat::IdOf(a) => {
                let rows = d(a).shape.rows;
                Data {
                    constant: rows.is_one().then(BigRational::one),
                    shape: Shape::square(rows),
                    symmetric: true,
                    identity: true,
                }
            }
            Mat::Had([a, b]) => entrywise(d(a), d(b), |x, y| x * y),
            Mat::Kron([a, b]) => {
                let (a, b) = (d(a), d(b));
                let big = crate::shape::Dim::lit(u64::MAX);
                let times = |x: &crate::shape::Dim, y: &crate::shape::Dim| {
                    x.times(y).unwrap_or_else(|| big.clone())
                };
                Data {
                    constant: fold(&a.constant, &b.constant, |x, y| x * y),
                    shape: Shape::new(
                        times(&a.shape.rows, &b.shape.rows),
                        times(&a.shape.cols, &b.shape.cols),
                    ),
                    symmetric: a.symmetric && b.symmetric,
                    identity: a.identity && b.identity,
                }
            }
            Mat::Tr(a) | Mat::Det(a) | Mat::Sum(a) => scalar(d(a).constant),
            Mat::Logdet(_) => scalar(None),
        }
    }

    fn merge(&mut self, to: &mut Data, from: Data) -> DidMerge {
        // The soundness tripwire: two classes with different known values
        // must never be merged. Every rule is checked numerically in the
        // tests, so this fires only on a bug (and only in debug builds; a
        // release build keeps the value it had).
        debug_assert!(
            to.constant.is_none() || from.constant.is_none() || to.constant == from.constant,
            "merged classes with constants {:?} and {:?}",
            to.constant,
            from.constant
        );
        debug_assert_eq!(to.shape, from.shape, "merged classes of different shapes");
        let mut to_changed = false;
        if to.constant.is_none() && from.constant.is_some() {
            to.constant = from.constant.clone();
            to_changed = true;
        }
        if from.symmetric && !to.symmetric {
            to.symmetric = true;
            to_changed = true;
        }
        if from.identity && !to.identity {
            to.identity = true;
            to_changed = true;
        }
        let from_changed = (to.constant.is_some() && from.constant.is_none())
            || (to.symmetric && !from.symmetric)
            || (to.identity && !from.identity);
        DidMerge(to_changed, from_changed)
    }

    fn modify(egraph: &mut EGraph<Mat, Facts>, id: Id) {
        if let Some(c) = egraph[id].data.constant.clone() {
            let num = egraph.add(Mat::Num(Rat(c)));
            egraph.union(id, num);
        }
    }
}

/// The e-graph of the simplifier.
pub type Graph = EGraph<Mat, Facts>;

/// Adds `e` to the e-graph, returning its class.
pub fn add_expr(g: &mut Graph, e: &Expr) -> Id {
    crate::stack::grow(|| {
        let node = match e.kind() {
            Kind::Const(c) if e.is_scalar() => Mat::Num(Rat(c.clone())),
            Kind::Sum(ts) if ts.iter().all(|t| t.shape() == e.shape()) => {
                return fold_binary(g, ts, Mat::Add);
            }
            Kind::Product(fs) => return fold_binary(g, fs, Mat::Mul),
            Kind::Transpose(a) => Mat::Trans(add_expr(g, a)),
            Kind::Inverse(a) => Mat::Inv(add_expr(g, a)),
            Kind::Power(a, k) if !e.is_scalar() => {
                let a = add_expr(g, a);
                let k = g.add(Mat::Num(Rat(k.clone())));
                Mat::Pow([a, k])
            }
            Kind::Hadamard(a, b) => Mat::Had([add_expr(g, a), add_expr(g, b)]),
            Kind::Kron(a, b) => Mat::Kron([add_expr(g, a), add_expr(g, b)]),
            Kind::Apply(Func::Tr, a) => Mat::Tr(add_expr(g, a)),
            Kind::Apply(Func::Det, a) => Mat::Det(add_expr(g, a)),
            Kind::Apply(Func::Logdet, a) => Mat::Logdet(add_expr(g, a)),
            Kind::Apply(Func::Sum, a) => Mat::Sum(add_expr(g, a)),
            _ => Mat::Leaf(g.analysis.leaf(e)),
        };
        g.add(node)
    })
}

fn fold_binary(g: &mut Graph, xs: &[Expr], op: fn([Id; 2]) -> Mat) -> Id {
    let mut acc = add_expr(g, &xs[0]);
    for x in &xs[1..] {
        let next = add_expr(g, x);
        acc = g.add(op([acc, next]));
    }
    acc
}

/// Builds the expression of one node from its children's expressions,
/// through the smart constructors.
pub fn node_expr(facts: &Facts, node: &Mat, kids: &[Expr]) -> Expr {
    let k = |i: usize| &kids[i];
    let exponent = |i: usize| k(i).as_const().cloned().unwrap_or_else(BigRational::one);
    match node {
        Mat::Num(c) => Expr::constant(c.0.clone()),
        Mat::Leaf(l) => facts.expr(*l).clone(),
        Mat::Add(_) => Expr::add(k(0), k(1)),
        Mat::Mul(_) => Expr::mul(k(0), k(1)),
        Mat::Trans(_) => Expr::transpose(k(0)),
        Mat::Inv(_) => Expr::inverse(k(0)),
        Mat::Pow(_) => Expr::power(k(0), &exponent(1)),
        Mat::IdOf(_) => Expr::identity(k(0).shape().rows.clone()),
        Mat::Had(_) => Expr::hadamard(k(0), k(1)),
        Mat::Kron(_) => Expr::kron(k(0), k(1)),
        Mat::Tr(_) => Expr::apply(Func::Tr, k(0)),
        Mat::Det(_) => Expr::apply(Func::Det, k(0)),
        Mat::Logdet(_) => Expr::apply(Func::Logdet, k(0)),
        Mat::Sum(_) => Expr::apply(Func::Sum, k(0)),
    }
}

/// The expression of a term extracted from the e-graph.
pub fn to_expr(facts: &Facts, rec: &RecExpr<Mat>) -> Expr {
    let mut built: Vec<Expr> = Vec::with_capacity(rec.len());
    for node in rec.iter() {
        let kids: Vec<Expr> = node
            .children()
            .iter()
            .map(|&c| built[usize::from(c)].clone())
            .collect();
        built.push(node_expr(facts, node, &kids));
    }
    built.pop().expect("a non-empty term")
}
