//! The array program between `Expr` and the Python printers (`numpy`,
//! `jax`): a hash-consed DAG of array operations, and the lowering that
//! writes an expression as the code a careful person would write by hand.
//!
//! Why a separate IR: the rewrites that decide what the generated code
//! costs and whether it is numerically stable are the same for NumPy and
//! JAX, and they are decisions about arrays, not about algebra. They live
//! here once, and the printers only spell the operations
//! ([`super::python`]):
//!
//! - **products** are split by the matrix-chain dynamic program over
//!   factor *kinds*: `diag(v)` is a row or column scaling (`v[:, None] * A`,
//!   `A * v`), never a dense matrix inside a product, and adjacent diagonals
//!   merge into one vector; `E_ij = e_i e_j^T` selects a column and a row
//!   (`A E_ij B` is `np.outer(A[:, i], B[j])`); the commutation matrix is a
//!   reshape/transpose of its operand; `A^-1 B` is a solve (unless the same
//!   matrix is inverted three times or more, where one `inv` is cheaper);
//!   when the cheapest order of three or more dense factors depends on
//!   sizes only known at run time, the chain is `multi_dot`, which decides
//!   then;
//! - **scalars** (coefficients and scalar factors) are applied to the
//!   smallest array of a product (a diagonal's vector, the small factor of
//!   a Kronecker product, the smallest intermediate);
//! - **sums** whose terms differ only in a diagonal factor are combined
//!   before multiplying (`X^T D1 X - X^T D2 X` is `X^T ((d1 - d2)[:, None] *
//!   X)`), and a leading negative term is moved behind a positive one;
//!   terms that share an end factor are multiplied once where that is
//!   cheaper at every size (`(B + B^T) @ X`); and a sum inside a product is
//!   multiplied out where that is cheaper (`(T - U V^T) V` forms an n×m
//!   residual that `U (V^T V) - T V` never does when the rank is small).
//!   Costs are chain costs (plus three units an entry for an elementwise
//!   pass) at every assignment of small and large sizes; where the winner
//!   depends on the sizes, both are written and the sizes choose at run
//!   time, as for chains;
//! - **stability**: `e^z / (1 + e^z)` and `1 / (1 + e^z)` are sigmoids,
//!   `log(1 + e^z)` is `logaddexp(0, z)`, `log(1 + x)` is `log1p(x)`,
//!   `log(sum(exp(z)))` and every term homogeneous of degree 0 in `exp(z)`
//!   (the softmax and its derivatives) are shifted by `max(z)`, and `-(-x)`
//!   is `x`;
//! - **shared subexpressions** are computed once: every operation is
//!   hash-consed, so equal code is one node whatever path built it.

use crate::builtins::Func;
use crate::expr::{ElemFn, Expr, Kind};
use crate::lower::Context;
use crate::shape::{Dim, Shape};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::HashMap;
use std::rc::Rc;

/// A node of the program, by index.
pub type Id = usize;

/// One array operation. Children are earlier nodes.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// A parameter of the function (a variable or an index), by its
    /// Python name.
    Param(String),
    /// A named size read from a parameter's shape: (size name, parameter,
    /// axis).
    Size(String, String, usize),
    /// An exact scalar constant.
    Num(BigRational),
    /// The identity of a size.
    Eye(Id),
    /// Zeros of one size (1-D) or two.
    Zeros(Vec<Id>),
    /// Ones of one size (1-D) or two.
    Ones(Vec<Id>),
    /// The unit vector of a length with a 1 at an index.
    OneHot(Id, Id),
    /// The unit matrix of (rows, cols) with a 1 at (i, j).
    Unit(Id, Id, Id, Id),
    /// A sum of terms, each negated or not.
    Add(Vec<(bool, Id)>),
    /// `-x`
    Neg(Id),
    /// `a * b`, elementwise (or by a scalar).
    Mul(Id, Id),
    /// `a / b`, elementwise (or by a scalar).
    Div(Id, Id),
    /// `a ** k`, elementwise.
    Pow(Id, BigRational),
    /// `a ** b`, elementwise, for an exponent that is an array or a
    /// scalar expression (either side broadcasts).
    PowE(Id, Id),
    /// `a @ b`
    MatMul(Id, Id),
    /// The outer product of two vectors.
    Outer(Id, Id),
    /// A chain of dense factors whose order is decided at run time.
    MultiDot(Vec<Id>),
    /// Three dense factors `a b c` of sizes p×q, q×r, r×s (the last four
    /// ids), multiplied in the order their run-time sizes make cheaper.
    Chain3([Id; 3], [Id; 4]),
    /// A literal size.
    Int(u64),
    /// The smallest of some sizes (Python's `min`).
    Min(Vec<Id>),
    /// `then if lhs <= rhs else other` over sizes (the last four ids:
    /// lhs, rhs, then, other): the cheaper of two ways to compute one
    /// value, decided by the sizes at run time.
    IfLe([Id; 4]),
    /// The transpose of a 2-D array.
    T(Id),
    /// `v[:, None] * A`: the rows of `A` scaled (`diag(v) A`).
    RowScale(Id, Id),
    /// `A * v`: the columns of `A` scaled (`A diag(v)`).
    ColScale(Id, Id),
    /// Column `i` of a 2-D array, or entry `i` of a 1-D one.
    Col(Id, Id),
    /// Row `j` of a 2-D array, or entry `j` of a 1-D one.
    Row(Id, Id),
    /// `solve(A, B)` = `A^-1 B`.
    Solve(Id, Id),
    /// `inv(A)`
    Inv(Id),
    /// An integer power of a square matrix.
    MatPow(Id, BigRational),
    /// A function of the table of builtins, spelled by its row.
    Call(Func, Id),
    /// A function that both dialects spell the same way up to the module
    /// (`log1p`, `exp`, `log`, `max`, `sum`): the name after `np.`/`jnp.`.
    Fn(&'static str, Id),
    /// `log(1 + exp(x))` as `logaddexp(0, x)`.
    Softplus(Id),
    /// The logistic sigmoid, written without overflow.
    Sigmoid(Id),
    /// The dense diagonal matrix of a vector (only where the result needs
    /// it).
    DiagMat(Id),
    /// `kron(a, b)`: each operand with its 1-D suffix (`[:, None]`,
    /// `[None, :]` or none), flattened after when the result is a vector.
    Kron(Id, &'static str, Id, &'static str, bool),
    /// `K_{p,q} M`: rows permuted as `vec(F) -> vec(F^T)` for a p×q `F`,
    /// by a reshape and a transpose.
    PermRows(Id, Id, Id),
    /// `M K_{p,q}`: columns permuted, by a reshape and a transpose.
    PermCols(Id, Id, Id),
    /// `K_{p,q} (A ⊗ B)` for matrices `A` (q rows) and `B` (p rows), in
    /// one pass: `(A[None, :, :, None] * B[:, None, None, :])` reshaped to
    /// (p q, its columns).
    PermKron(Id, Id, Id),
}

/// A node: its operation and its shape (1×1 scalars, n×1 and 1×n 1-D
/// arrays, anything else 2-D).
#[derive(Clone, Debug)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Its shape in the algebra.
    pub shape: Shape,
}

impl Node {
    /// Whether the value is a 1-D array.
    pub fn is_1d(&self) -> bool {
        !self.shape.is_scalar() && (self.shape.is_vector() || self.shape.is_row())
    }
}

/// A lowered function body.
#[derive(Debug)]
pub struct Program {
    /// The nodes, children before parents.
    pub nodes: Vec<Node>,
    /// The returned value.
    pub root: Id,
    /// Named sizes that no parameter carries.
    pub missing: Vec<String>,
}

impl Program {
    /// How often each node is used by the nodes reachable from the root
    /// (the root counts once).
    pub fn uses(&self) -> Vec<usize> {
        let mut uses = vec![0usize; self.nodes.len()];
        let mut seen = vec![false; self.nodes.len()];
        uses[self.root] = 1;
        let mut stack = vec![self.root];
        seen[self.root] = true;
        while let Some(id) = stack.pop() {
            for c in children(&self.nodes[id].op) {
                uses[c] += 1;
                if !seen[c] {
                    seen[c] = true;
                    stack.push(c);
                }
            }
        }
        uses
    }
}

/// The children of an operation, in order.
pub fn children(op: &Op) -> Vec<Id> {
    match op {
        Op::Param(_) | Op::Size(..) | Op::Num(_) | Op::Int(_) => vec![],
        Op::Chain3(f, d) => f.iter().chain(d).copied().collect(),
        Op::Eye(a)
        | Op::Neg(a)
        | Op::Pow(a, _)
        | Op::T(a)
        | Op::Inv(a)
        | Op::MatPow(a, _)
        | Op::Call(_, a)
        | Op::Fn(_, a)
        | Op::Softplus(a)
        | Op::Sigmoid(a)
        | Op::DiagMat(a) => vec![*a],
        Op::Zeros(v) | Op::Ones(v) | Op::MultiDot(v) | Op::Min(v) => v.clone(),
        Op::IfLe(v) => v.to_vec(),
        Op::Add(ts) => ts.iter().map(|(_, t)| *t).collect(),
        Op::OneHot(a, b)
        | Op::Mul(a, b)
        | Op::Div(a, b)
        | Op::PowE(a, b)
        | Op::MatMul(a, b)
        | Op::Outer(a, b)
        | Op::RowScale(a, b)
        | Op::ColScale(a, b)
        | Op::Col(a, b)
        | Op::Row(a, b)
        | Op::Solve(a, b)
        | Op::Kron(a, _, b, _, _) => vec![*a, *b],
        Op::PermRows(a, b, c) | Op::PermCols(a, b, c) | Op::PermKron(a, b, c) => {
            vec![*a, *b, *c]
        }
        Op::Unit(a, b, c, d) => vec![*a, *b, *c, *d],
    }
}

/// Lowers `e` to a program over the parameters `params` (variable names)
/// and the index letters `indices` (with their Python names).
pub fn lower(
    e: &Expr,
    ctx: &Context,
    params: &[(String, String)],
    indices: &[(char, String)],
) -> Program {
    let mut l = Lower::new(e, ctx, params, indices);
    let root = l.expr(e);
    Program {
        nodes: l.nodes,
        root,
        missing: l.missing,
    }
}

/// A factor of a matrix chain, by what multiplying by it costs.
#[derive(Clone, Debug)]
enum Fac {
    /// An ordinary array.
    Dense(Expr),
    /// `diag(v)`: the vector as (factor, exponent) pairs to multiply
    /// elementwise, or already built.
    Diag(Diag),
    /// The commutation matrix `K_{p,q}`.
    Perm(Dim, Dim),
    /// `A^-1` (`A^-T` when the flag is set).
    Inv(Expr, bool),
    /// The unit column `e_i` of a length.
    UnitCol(Dim, char),
    /// The unit row `e_j^T` of a length.
    UnitRow(Dim, char),
}

#[derive(Clone, Debug)]
enum Diag {
    Raw(Vec<(Expr, BigRational)>),
    Built(Id),
}

/// What a chain segment's product is, for the cost of the next product.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cls {
    Dense,
    Diag,
    Perm,
    Inv,
    UnitCol,
    UnitRow,
}

impl Fac {
    fn cls(&self) -> Cls {
        match self {
            Fac::Dense(_) => Cls::Dense,
            Fac::Diag(_) => Cls::Diag,
            Fac::Perm(..) => Cls::Perm,
            Fac::Inv(..) => Cls::Inv,
            Fac::UnitCol(..) => Cls::UnitCol,
            Fac::UnitRow(..) => Cls::UnitRow,
        }
    }
}

/// A parenthesisation of a chain.
#[derive(Clone, PartialEq, Eq, Debug)]
enum Tree {
    Leaf(usize),
    Node(Box<Tree>, Box<Tree>),
    /// Dense factors multiplied by `multi_dot` (order decided at run time).
    Multi(usize, usize),
}

/// An elementwise factor after the stability rewrites.
#[derive(Clone, Debug)]
enum Atom {
    Expr(Expr),
    /// `sigmoid(z)`, or `sigmoid(-z)` when the flag is set.
    Sigmoid(Expr, bool),
}

struct Lower {
    nodes: Vec<Node>,
    memo: HashMap<Op, Id>,
    /// Expressions already lowered (with or without the max shift).
    exprs: HashMap<(Expr, bool), Id>,
    names: HashMap<String, String>,
    /// Where each named size can be read: (parameter, axis).
    sizes: HashMap<Rc<str>, (String, usize)>,
    missing: Vec<String>,
    index_names: Vec<(char, String)>,
    /// How often each matrix is inverted in the whole result.
    inverted: HashMap<Expr, usize>,
    /// The max shift in force: `exp(z)` is written `exp(z - m)`.
    shift: Option<(Expr, Id)>,
    /// How many distributions of a sum over a product enclose the one
    /// being lowered (bounded, so nested sums cannot multiply the code).
    distributing: u32,
    /// The sums [`Lower::factored`] wrote: multiplied out again unless
    /// keeping them is cheaper at every size.
    proposed: std::cell::RefCell<std::collections::HashSet<Expr>>,
}

/// A size for cost estimates: 1 is 1, a literal is itself, a named size is
/// taken as large.
fn estimate(d: &Dim) -> f64 {
    d.factor as f64 * 100f64.powi(d.names.len() as i32)
}

fn size_of(s: &Shape) -> f64 {
    estimate(&s.rows) * estimate(&s.cols)
}

/// `1 + exp(z)` (in either order): `z`.
fn one_plus_exp(e: &Expr) -> Option<&Expr> {
    let Kind::Sum(ts) = e.kind() else {
        return None;
    };
    if ts.len() != 2 {
        return None;
    }
    let (a, b) = if ts[0].is_one() {
        (&ts[0], &ts[1])
    } else {
        (&ts[1], &ts[0])
    };
    if !a.is_one() {
        return None;
    }
    match b.kind() {
        Kind::Apply(Func::Elem(ElemFn::Exp), z) => Some(z),
        _ => None,
    }
}

/// `1 + x` (in either order): `x`.
fn one_plus(e: &Expr) -> Option<&Expr> {
    let Kind::Sum(ts) = e.kind() else {
        return None;
    };
    if ts.len() != 2 {
        return None;
    }
    if ts[0].is_one() {
        Some(&ts[1])
    } else if ts[1].is_one() {
        Some(&ts[0])
    } else {
        None
    }
}

/// The expression with a transpose of a 1-D value dropped (a 1-D array is
/// its own transpose).
fn strip_t(e: &Expr) -> &Expr {
    match e.kind() {
        Kind::Transpose(a) if a.shape().is_vector() || a.shape().is_row() || a.is_scalar() => a,
        _ => e,
    }
}

fn is_exp_of(e: &Expr, z: &Expr) -> bool {
    matches!(e.kind(), Kind::Apply(Func::Elem(ElemFn::Exp), a) if strip_t(a) == z)
}

fn has_exp_of(e: &Expr, z: &Expr) -> bool {
    is_exp_of(e, z) || e.children().into_iter().any(|c| has_exp_of(c, z))
}

/// The degree of `e` in `exp(z)` when `e` is homogeneous in it (a
/// product of powers of linear images of `exp(z)` and of factors free of
/// it); `None` otherwise.
fn exp_degree(e: &Expr, z: &Expr) -> Option<BigRational> {
    if is_exp_of(e, z) {
        return Some(BigRational::one());
    }
    match e.kind() {
        Kind::Apply(Func::Sum | Func::Diag | Func::Vec | Func::Tr, a) | Kind::Transpose(a) => {
            exp_degree(a, z)
        }
        Kind::Product(fs) => fs
            .iter()
            .try_fold(BigRational::zero(), |acc, f| Some(acc + exp_degree(f, z)?)),
        Kind::Hadamard(a, b) => Some(exp_degree(a, z)? + exp_degree(b, z)?),
        Kind::HadamardDiv(a, b) => Some(exp_degree(a, z)? - exp_degree(b, z)?),
        Kind::HadamardPow(a, k) | Kind::Power(a, k)
            if a.is_scalar() || matches!(e.kind(), Kind::HadamardPow(..)) =>
        {
            Some(exp_degree(a, z)? * k)
        }
        Kind::Sum(ts) => {
            let d = exp_degree(&ts[0], z)?;
            ts[1..]
                .iter()
                .all(|t| exp_degree(t, z).as_ref() == Some(&d))
                .then_some(d)
        }
        _ if has_exp_of(e, z) => None,
        _ => Some(BigRational::zero()),
    }
}

/// The best parenthesisation of a chain for the given sizes of its
/// boundaries (`dims[i]` × `dims[i + 1]` is factor i) and kinds.
fn best_tree(cls: &[Cls], dims: &[f64]) -> Tree {
    plan(cls, dims).0
}

/// The best parenthesisation of a chain and what it costs (infinite for
/// a chain too long to plan, which is multiplied left to right).
fn plan(cls: &[Cls], dims: &[f64]) -> (Tree, f64) {
    let n = cls.len();
    if n > 64 {
        // a very long chain: left to right
        let mut t = Tree::Leaf(0);
        for i in 1..n {
            t = Tree::Node(Box::new(t), Box::new(Tree::Leaf(i)));
        }
        return (t, f64::INFINITY);
    }
    let mut cost = vec![vec![0f64; n]; n];
    let mut split = vec![vec![0usize; n]; n];
    let kind = |i: usize, j: usize| if i == j { cls[i] } else { Cls::Dense };
    for len in 2..=n {
        for i in 0..=n - len {
            let j = i + len - 1;
            cost[i][j] = f64::INFINITY;
            for k in i..j {
                let c = cost[i][k]
                    + cost[k + 1][j]
                    + step_cost(
                        kind(i, k),
                        kind(k + 1, j),
                        dims[i],
                        dims[k + 1],
                        dims[j + 1],
                    );
                // ties go to the later split: left to right, as written
                if c <= cost[i][j] {
                    cost[i][j] = c;
                    split[i][j] = k + 1;
                }
            }
        }
    }
    fn build(split: &[Vec<usize>], i: usize, j: usize) -> Tree {
        if i == j {
            return Tree::Leaf(i);
        }
        let k = split[i][j];
        Tree::Node(
            Box::new(build(split, i, k - 1)),
            Box::new(build(split, k, j)),
        )
    }
    (build(&split, 0, n - 1), cost[0][n - 1])
}

/// A size under an assignment of small (10) and large (1000) values to
/// `names` (bit i of `mask` set: the i-th is large), or the estimate
/// without one.
fn masked_size(d: &Dim, mask: Option<u32>, names: &[Rc<str>]) -> f64 {
    let Some(mask) = mask else {
        return estimate(d);
    };
    d.names.iter().fold(d.factor as f64, |acc, n| {
        let i = names.iter().position(|m| m == n).expect("a name");
        acc * if mask & (1 << i) != 0 { 1000.0 } else { 10.0 }
    })
}

/// A cost as a polynomial in the named sizes: each monomial's sorted
/// names and its coefficient.
type Poly = std::collections::BTreeMap<Vec<Rc<str>>, u64>;

/// The cost of chains (all dense) and `extra` elementwise passes over
/// `extra_dim` entries, symbolically: a polynomial, plus one minimum for
/// each chain whose best order differs between sizes (`multi_dot` picks
/// the cheapest at run time).
fn cost_of(
    plans: &[(Vec<Cls>, Vec<Dim>)],
    extra_dim: &Dim,
    extra: u64,
    masks: &[Option<u32>],
    names: &[Rc<str>],
) -> (Poly, Vec<Vec<Poly>>) {
    let mut fixed = Poly::new();
    add_monomial(&mut fixed, extra_dim, extra);
    let mut mins = Vec::new();
    for (cls, b) in plans {
        if cls.len() < 2 {
            continue;
        }
        let mut trees: Vec<Tree> = Vec::new();
        for m in masks {
            let dims: Vec<f64> = b.iter().map(|d| masked_size(d, *m, names)).collect();
            let t = plan(cls, &dims).0;
            if !trees.contains(&t) {
                trees.push(t);
            }
        }
        let polys: Vec<Poly> = trees
            .iter()
            .map(|t| {
                let mut p = Poly::new();
                tree_cost(t, b, &mut p);
                p
            })
            .collect();
        if polys.len() == 1 {
            for (k, c) in &polys[0] {
                *fixed.entry(k.clone()).or_insert(0) += c;
            }
        } else {
            mins.push(polys);
        }
    }
    (fixed, mins)
}

/// Adds `k` times a size to a polynomial.
fn add_monomial(p: &mut Poly, d: &Dim, k: u64) {
    if k > 0 {
        *p.entry(d.names.clone()).or_insert(0) += d.factor.saturating_mul(k);
    }
}

/// The multiplications of a tree of dense factors with boundaries `b`.
fn tree_cost(t: &Tree, b: &[Dim], p: &mut Poly) {
    if let Tree::Node(l, r) = t {
        tree_cost(l, b, p);
        tree_cost(r, b, p);
        let (lo, k, hi) = (leftmost(l), rightmost(l) + 1, rightmost(r) + 1);
        if let Some(d) = b[lo].times(&b[k]).and_then(|d| d.times(&b[hi])) {
            add_monomial(p, &d, 1);
        }
    }
}

/// Removes what two polynomials share.
fn cancel(a: &mut Poly, b: &mut Poly) {
    for (k, c) in a.iter_mut() {
        if let Some(d) = b.get_mut(k) {
            let m = (*c).min(*d);
            *c -= m;
            *d -= m;
        }
    }
}

/// What materialising a special factor of size q×q costs.
fn materialise_cost(c: Cls, q: f64) -> f64 {
    match c {
        Cls::Dense => 0.0,
        Cls::Diag | Cls::Perm => q * q,
        Cls::Inv => q * q * q,
        Cls::UnitCol | Cls::UnitRow => q,
    }
}

/// The cost of multiplying a p×q segment by a q×r one.
fn step_cost(l: Cls, r: Cls, p: f64, q: f64, s: f64) -> f64 {
    use Cls::*;
    match (l, r) {
        (Dense, Dense) => p * q * s,
        (Diag, Dense) | (Perm, Dense) => q * s,
        // a tie goes to scaling the right factor's rows: `A^T (d[:, None] * A)`
        (Dense, Diag) => p * q * (1.0 + 1e-9),
        (Dense, Perm) => p * q,
        (Dense, UnitCol) => p,
        (UnitRow, Dense) => s,
        (UnitCol, UnitRow) => p * s,
        (UnitRow, UnitCol) => 1.0,
        (Inv, Dense) => q * q * q + q * q * s,
        (Dense, Inv) => q * q * q + p * q * q,
        _ => materialise_cost(l, p.max(q)) + materialise_cost(r, q.max(s)) + p * q * s,
    }
}

impl Lower {
    fn new(
        e: &Expr,
        ctx: &Context,
        params: &[(String, String)],
        indices: &[(char, String)],
    ) -> Lower {
        let mut names = HashMap::new();
        let mut sizes = HashMap::new();
        for (p, py) in params {
            if let Some(info) = ctx.vars.get(p) {
                let s = &info.shape;
                for (axis, d) in [&s.rows, &s.cols].into_iter().enumerate() {
                    if d.factor == 1 && d.names.len() == 1 {
                        sizes
                            .entry(d.names[0].clone())
                            .or_insert_with(|| (py.clone(), axis));
                    }
                }
            }
            names.insert(p.clone(), py.clone());
        }
        let mut inverted = HashMap::new();
        count_inverses(e, &mut inverted);
        Lower {
            nodes: Vec::new(),
            memo: HashMap::new(),
            exprs: HashMap::new(),
            names,
            sizes,
            missing: Vec::new(),
            index_names: indices.to_vec(),
            inverted,
            shift: None,
            distributing: 0,
            proposed: Default::default(),
        }
    }

    /// The node for `op` of shape `shape`, shared with any equal one.
    fn op(&mut self, op: Op, shape: Shape) -> Id {
        // -(-x) = x
        if let Op::Neg(a) = op
            && let Op::Neg(b) = self.nodes[a].op
        {
            return b;
        }
        if let Some(&id) = self.memo.get(&op) {
            return id;
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            op: op.clone(),
            shape,
        });
        self.memo.insert(op, id);
        id
    }

    fn shape(&self, id: Id) -> Shape {
        self.nodes[id].shape.clone()
    }

    fn num(&mut self, c: BigRational) -> Id {
        self.op(Op::Num(c), Shape::scalar())
    }

    fn neg(&mut self, a: Id) -> Id {
        if let Op::Num(c) = &self.nodes[a].op {
            let c = -c.clone();
            return self.num(c);
        }
        let s = self.shape(a);
        self.op(Op::Neg(a), s)
    }

    fn mul(&mut self, a: Id, b: Id) -> Id {
        let s = broadcast(&self.nodes[a].shape, &self.nodes[b].shape);
        // pull signs out: (-a) * b = -(a * b)
        match (&self.nodes[a].op, &self.nodes[b].op) {
            (Op::Neg(x), _) => {
                let x = *x;
                let m = self.mul(x, b);
                self.neg(m)
            }
            (_, Op::Neg(y)) => {
                let y = *y;
                let m = self.mul(a, y);
                self.neg(m)
            }
            (Op::Num(c), _) if c.is_one() => b,
            (Op::Num(c), _) if c.is_negative() => {
                let c = -c.clone();
                let c = self.num(c);
                let m = self.mul(c, b);
                self.neg(m)
            }
            _ => self.op(Op::Mul(a, b), s),
        }
    }

    fn div(&mut self, a: Id, b: Id) -> Id {
        let s = broadcast(&self.nodes[a].shape, &self.nodes[b].shape);
        if let Op::Neg(x) = self.nodes[a].op {
            let d = self.div(x, b);
            return self.neg(d);
        }
        self.op(Op::Div(a, b), s)
    }

    fn fun(&mut self, name: &'static str, a: Id, shape: Shape) -> Id {
        self.op(Op::Fn(name, a), shape)
    }

    /// Code for a size.
    fn dim(&mut self, d: &Dim) -> Id {
        let mut acc: Option<Id> = None;
        if d.factor != 1 || d.names.is_empty() {
            acc = Some(self.op(Op::Int(d.factor), Shape::scalar()));
        }
        for n in &d.names {
            let id = match self.sizes.get(n).cloned() {
                Some((p, axis)) => self.op(Op::Size(n.to_string(), p, axis), Shape::scalar()),
                None => {
                    if !self.missing.contains(&n.to_string()) {
                        self.missing.push(n.to_string());
                    }
                    self.op(Op::Param(format!("_{n}")), Shape::scalar())
                }
            };
            acc = Some(match acc {
                None => id,
                Some(a) => self.op(Op::Mul(a, id), Shape::scalar()),
            });
        }
        acc.expect("a size")
    }

    fn dims(&mut self, s: &Shape) -> Vec<Id> {
        if s.is_vector() {
            vec![self.dim(&s.rows)]
        } else if s.is_row() {
            vec![self.dim(&s.cols)]
        } else {
            vec![self.dim(&s.rows), self.dim(&s.cols)]
        }
    }

    fn index(&mut self, c: char) -> Id {
        let name = self
            .index_names
            .iter()
            .find(|(l, _)| *l == c)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| c.to_string());
        self.op(Op::Param(name), Shape::scalar())
    }

    /// The node computing `e`.
    fn expr(&mut self, e: &Expr) -> Id {
        crate::stack::grow(|| {
            let e = strip_t(e);
            let key = (e.clone(), self.shift.is_some());
            if let Some(&id) = self.exprs.get(&key) {
                return id;
            }
            let id = self.build(e);
            self.exprs.insert(key, id);
            id
        })
    }

    fn build(&mut self, e: &Expr) -> Id {
        let s = e.shape().clone();
        match e.kind() {
            Kind::Const(c) if c.is_zero() && !e.is_scalar() => {
                let d = self.dims(&s);
                self.op(Op::Zeros(d), s)
            }
            Kind::Const(c) => self.num(c.clone()),
            Kind::Var(v) => {
                let name = self
                    .names
                    .get(&**v)
                    .cloned()
                    .unwrap_or_else(|| super::numpy::python_name(v));
                self.op(Op::Param(name), s)
            }
            Kind::Identity | Kind::Ones if e.is_scalar() => self.num(BigRational::one()),
            Kind::Identity => {
                let n = self.dim(&s.rows);
                self.op(Op::Eye(n), s)
            }
            Kind::Ones => {
                let d = self.dims(&s);
                self.op(Op::Ones(d), s)
            }
            Kind::Commutation(p, q) => {
                let n = self.dim(&s.rows);
                let eye = self.op(Op::Eye(n), s.clone());
                let (p, q) = (self.dim(p), self.dim(q));
                self.op(Op::PermRows(p, q, eye), s)
            }
            Kind::Unit(ix) => self.unit(ix, &s),
            // a broadcast scalar whose matrix terms vanished: `s * ones`
            Kind::Sum(terms) if !e.is_scalar() && terms.iter().all(Expr::is_scalar) => {
                let scalar = self.expr(&Expr::sum(terms.iter().cloned()));
                let d = self.dims(&s);
                let ones = self.op(Op::Ones(d), s);
                self.mul(scalar, ones)
            }
            Kind::Sum(terms) => self.sum(terms, &s),
            Kind::Product(_) => {
                let (c, scalars, chain) = e.split_product();
                self.product(c, scalars, chain)
            }
            Kind::Transpose(a) => {
                let a = self.expr(a);
                self.op(Op::T(a), s)
            }
            Kind::Inverse(_) | Kind::Power(..) if !e.is_scalar() && diag_vector(e).is_some() => {
                self.product(BigRational::one(), vec![], vec![e.clone()])
            }
            Kind::Inverse(a) if !a.is_scalar() => {
                let a = self.expr(a);
                self.op(Op::Inv(a), s)
            }
            Kind::Power(a, k) if !a.is_scalar() => {
                let a = self.expr(a);
                self.op(Op::MatPow(a, k.clone()), s)
            }
            Kind::Inverse(_)
            | Kind::Power(..)
            | Kind::HadamardPow(..)
            | Kind::Hadamard(..)
            | Kind::HadamardDiv(..) => self.elementwise(e),
            Kind::Kron(a, b) => self.kron(e, a, b, None),
            Kind::Apply(f, a) => self.apply(*f, a, &s),
            Kind::Pow(a, b) => {
                let (a, b) = (self.expr(a), self.expr(b));
                self.op(Op::PowE(a, b), s)
            }
        }
    }

    /// The unit vector `e_i` or unit matrix `E_ij` as a dense array.
    fn unit(&mut self, ix: &str, s: &Shape) -> Id {
        let letters: Vec<char> = ix.chars().collect();
        if s.is_vector() || s.is_row() || letters.len() == 1 {
            let n = if s.is_row() { &s.cols } else { &s.rows };
            let n = self.dim(n);
            let i = self.index(letters[0]);
            return self.op(Op::OneHot(n, i), s.clone());
        }
        let (m, n) = (self.dim(&s.rows), self.dim(&s.cols));
        let (i, j) = (self.index(letters[0]), self.index(letters[1]));
        self.op(Op::Unit(m, n, i, j), s.clone())
    }

    fn kron(&mut self, e: &Expr, a: &Expr, b: &Expr, scale: Option<Id>) -> Id {
        let both_columns = a.shape().is_vector() && b.shape().is_vector();
        let both_rows = a.shape().is_row() && b.shape().is_row();
        let suffix = |x: &Expr| {
            let s = x.shape();
            if both_columns || both_rows || x.is_scalar() {
                ""
            } else if s.is_vector() {
                "[:, None]"
            } else if s.is_row() {
                "[None, :]"
            } else {
                ""
            }
        };
        let (sa, sb) = (suffix(a), suffix(b));
        let mut ia = self.expr(a);
        let mut ib = self.expr(b);
        if let Some(k) = scale {
            // the scalar goes on the smaller factor (never on an identity)
            let a_small = !matches!(a.kind(), Kind::Identity)
                && (matches!(b.kind(), Kind::Identity) || size_of(a.shape()) <= size_of(b.shape()));
            if a_small {
                ia = self.mul(k, ia);
            } else {
                ib = self.mul(k, ib);
            }
        }
        let s = e.shape();
        let ravel = (s.is_vector() || s.is_row()) && !(both_columns || both_rows);
        self.op(Op::Kron(ia, sa, ib, sb, ravel), s.clone())
    }

    fn apply(&mut self, f: Func, a: &Expr, s: &Shape) -> Id {
        let vector = a.shape().is_vector() || a.shape().is_row();
        match f {
            Func::Tr | Func::Diag | Func::Vec | Func::Sum if a.is_scalar() => return self.expr(a),
            Func::Vec if vector => return self.expr(a),
            Func::Elem(ElemFn::Log) => {
                if let Some(z) = one_plus_exp(a) {
                    let z = self.expr(z);
                    return self.op(Op::Softplus(z), s.clone());
                }
                if let Some(x) = one_plus(a) {
                    let x = self.expr(x);
                    return self.fun("log1p", x, s.clone());
                }
                if let Kind::Apply(Func::Sum, inner) = a.kind()
                    && let Kind::Apply(Func::Elem(ElemFn::Exp), z) = inner.kind()
                    && !z.is_scalar()
                {
                    return self.logsumexp(z);
                }
            }
            Func::Elem(ElemFn::Exp) => {
                if let Some((z, m)) = self.shift.clone()
                    && strip_t(a) == &z
                {
                    let za = self.expr(a);
                    let zs = self.shape(za);
                    let d = self.op(Op::Add(vec![(false, za), (true, m)]), zs);
                    return self.fun("exp", d, s.clone());
                }
            }
            Func::Elem(ElemFn::Sigmoid) => {
                let z = self.expr(a);
                return self.op(Op::Sigmoid(z), s.clone());
            }
            _ => {}
        }
        // functions added to the table later that need the max shift
        match f.name() {
            "logsumexp" if vector || a.is_scalar() => return self.logsumexp(a),
            "softmax" if vector => {
                let (ex, sum, _) = self.shifted_exp(a);
                return self.div(ex, sum);
            }
            _ => {}
        }
        let id = self.expr(a);
        self.op(Op::Call(f, id), s.clone())
    }

    /// `log(sum(exp(z)))` as `m + log(sum(exp(z - m)))` with `m = max(z)`.
    fn logsumexp(&mut self, z: &Expr) -> Id {
        let (_, sum, m) = self.shifted_exp(z);
        let log = self.fun("log", sum, Shape::scalar());
        self.op(Op::Add(vec![(false, m), (false, log)]), Shape::scalar())
    }

    /// `exp(z - m)`, its sum, and `m = max(z)`.
    fn shifted_exp(&mut self, z: &Expr) -> (Id, Id, Id) {
        let z = self.expr(z);
        let zs = self.shape(z);
        let m = self.fun("max", z, Shape::scalar());
        let d = self.op(Op::Add(vec![(false, z), (true, m)]), zs.clone());
        let ex = self.fun("exp", d, zs);
        let sum = self.fun("sum", ex, Shape::scalar());
        (ex, sum, m)
    }

    /// An elementwise (or scalar) product, quotient or power, with the
    /// stability rewrites.
    fn elementwise(&mut self, e: &Expr) -> Id {
        let mut fs = Vec::new();
        let mut coeff = BigRational::one();
        flatten(e, &BigRational::one(), &mut coeff, &mut fs);
        self.elem_product(coeff, fs)
    }

    /// `coeff` times the factors (each to its power), elementwise; sigmoids
    /// found, scalars first, then denominators.
    fn elem_product(&mut self, coeff: BigRational, fs: Vec<(Expr, BigRational)>) -> Id {
        let mut flat = Vec::new();
        let mut c = coeff;
        for (f, k) in &fs {
            flatten(f, k, &mut c, &mut flat);
        }
        let atoms = stabilise(flat);
        self.atoms(c, atoms)
    }

    fn atoms(&mut self, coeff: BigRational, mut atoms: Vec<(Atom, BigRational)>) -> Id {
        // scalars first, so that they multiply each other before an array
        let mut sized: Vec<(f64, Id, BigRational)> = Vec::new();
        for (a, k) in atoms.drain(..) {
            let id = match a {
                Atom::Expr(e) => self.expr(&e),
                Atom::Sigmoid(z, neg) => {
                    let z = self.expr(&z);
                    let z = if neg { self.neg(z) } else { z };
                    let s = self.shape(z);
                    self.op(Op::Sigmoid(z), s)
                }
            };
            let size = if self.nodes[id].shape.is_scalar() {
                1.0
            } else {
                2.0
            };
            sized.push((size, id, k));
        }
        sized.sort_by(|a, b| a.0.total_cmp(&b.0));
        let neg = coeff.is_negative();
        let c = coeff.abs();
        let mut num: Option<Id> = (!c.is_one()).then(|| self.num(c.clone()));
        let mut dens: Vec<Id> = Vec::new();
        for (_, id, k) in sized {
            if k.is_negative() {
                let k = -k;
                let d = if k.is_one() { id } else { self.pow(id, k) };
                dens.push(d);
            } else {
                let f = if k.is_one() { id } else { self.pow(id, k) };
                num = Some(match num {
                    None => f,
                    Some(n) => self.mul(n, f),
                });
            }
        }
        let mut out = match num {
            Some(n) => n,
            None => self.num(BigRational::one()),
        };
        for d in dens {
            out = self.div(out, d);
        }
        if neg { self.neg(out) } else { out }
    }

    fn pow(&mut self, a: Id, k: BigRational) -> Id {
        let s = self.shape(a);
        if let Op::Neg(x) = self.nodes[a].op
            && k.is_integer()
        {
            let p = self.pow(x, k.clone());
            let even = (k.to_integer() % 2u8) == 0u8.into();
            return if even { p } else { self.neg(p) };
        }
        self.op(Op::Pow(a, k), s)
    }

    fn sum(&mut self, terms: &[Expr], s: &Shape) -> Id {
        // 1 - sigmoid(z) = sigmoid(-z) and 1 - normcdf(z) = normcdf(-z):
        // the complement is computed without cancelling (1 - normcdf(10)
        // is 0 in floats, normcdf(-10) is 7.6e-24)
        if let [a, b] = terms {
            let one = |e: &Expr| e.is_one() || matches!(e.kind(), Kind::Ones);
            let (c, rest) = if one(a) { (a, b) } else { (b, a) };
            let (k, scalars, chain) = rest.split_product();
            if one(c)
                && k == -BigRational::one()
                && scalars.is_empty()
                && let [f] = chain.as_slice()
                && let Kind::Apply(Func::Elem(g @ (ElemFn::Sigmoid | ElemFn::Normcdf)), z) =
                    f.kind()
            {
                return self.expr(&Expr::apply(Func::Elem(*g), &Expr::neg(z)));
            }
        }
        if let Some(ts) = self.factored(terms) {
            return self.sum(&ts, s);
        }
        // group terms that differ only in one run of diagonal factors
        struct Term {
            neg: bool,
            coeff: BigRational,
            scalars: Vec<Expr>,
            chain: Vec<Expr>,
            key: Option<Vec<Option<Expr>>>,
        }
        let mut ts: Vec<Term> = terms
            .iter()
            .map(|t| {
                let (c, scalars, chain) = t.split_product();
                let key = diag_key(&chain);
                Term {
                    neg: c.is_negative(),
                    coeff: c.abs(),
                    scalars,
                    chain,
                    key,
                }
            })
            .collect();
        let mut out: Vec<(bool, Id)> = Vec::new();
        let mut done = vec![false; ts.len()];
        for i in 0..ts.len() {
            if done[i] {
                continue;
            }
            done[i] = true;
            let group: Vec<usize> = match &ts[i].key {
                Some(k) => std::iter::once(i)
                    .chain((i + 1..ts.len()).filter(|&j| !done[j] && ts[j].key.as_ref() == Some(k)))
                    .collect(),
                None => vec![i],
            };
            if group.len() == 1 {
                let t = &mut ts[i];
                let id = self.product(
                    t.coeff.clone(),
                    std::mem::take(&mut t.scalars),
                    std::mem::take(&mut t.chain),
                );
                out.push((t.neg, id));
                continue;
            }
            // one diagonal: the sum of the terms' vectors, with their scalars
            let mut vecs = Vec::new();
            for &j in &group {
                done[j] = true;
                let t = &ts[j];
                let mut fs: Vec<(Expr, BigRational)> = t
                    .scalars
                    .iter()
                    .map(|x| (x.clone(), BigRational::one()))
                    .collect();
                for f in &t.chain {
                    if let Some(v) = diag_vector(f) {
                        fs.push(v);
                    }
                }
                let v = self.elem_product(t.coeff.clone(), fs);
                vecs.push((t.neg, v));
            }
            if vecs[0].0
                && let Some(p) = vecs.iter().position(|(n, _)| !n)
            {
                vecs.swap(0, p);
            }
            let vs = self.shape(vecs[0].1);
            let v = self.op(Op::Add(vecs), vs);
            let mut facs = Vec::new();
            let mut in_run = false;
            for f in &ts[i].chain {
                if diag_vector(f).is_some() {
                    if !in_run {
                        facs.push(Fac::Diag(Diag::Built(v)));
                    }
                    in_run = true;
                } else {
                    in_run = false;
                    facs.extend(self.classify(f));
                }
            }
            let id = self.chain(BigRational::one(), vec![], facs);
            out.push((false, id));
        }
        // a positive term first: `b - a`, not `-a + b`
        if out[0].0
            && let Some(p) = out.iter().position(|(n, _)| !n)
        {
            let t = out.remove(p);
            out.insert(0, t);
        }
        if out.len() == 1 {
            let (neg, id) = out[0];
            return if neg { self.neg(id) } else { id };
        }
        self.op(Op::Add(out), s.clone())
    }

    /// The terms with the largest group of them that share their first
    /// (or last) chain factor written as one product with that factor
    /// outside: `A X + A^T X` is `(A + A^T) X`. Whether the product is
    /// then multiplied out again is [`Lower::distributed`]'s decision, by
    /// cost; so this only proposes. Dense factors only (a diagonal or a
    /// unit factor is cheap to apply to each term), and never inside a
    /// distribution (which wrote these terms).
    fn factored(&self, terms: &[Expr]) -> Option<Vec<Expr>> {
        if self.distributing > 0 || terms.len() < 2 || terms.len() > 16 {
            return None;
        }
        let split: Vec<_> = terms.iter().map(Expr::split_product).collect();
        let dense = |chain: &[Expr]| {
            chain.len() >= 2
                && chain
                    .iter()
                    .all(|f| self.classify(f).iter().all(|c| matches!(c, Fac::Dense(_))))
        };
        let mut best: Option<(bool, Expr, Vec<usize>)> = None;
        for last in [false, true] {
            let mut groups: Vec<(Expr, Vec<usize>)> = Vec::new();
            for (i, (_, _, chain)) in split.iter().enumerate() {
                if !dense(chain) {
                    continue;
                }
                let f = if last {
                    &chain[chain.len() - 1]
                } else {
                    &chain[0]
                };
                match groups.iter_mut().find(|(g, _)| g == f) {
                    Some((_, v)) => v.push(i),
                    None => groups.push((f.clone(), vec![i])),
                }
            }
            for (f, v) in groups {
                if v.len() >= 2 && best.as_ref().is_none_or(|b| v.len() > b.2.len()) {
                    best = Some((last, f, v));
                }
            }
        }
        let (last, _, group) = best?;
        // the longest run the group shares at that end, leaving each term
        // at least one factor of its own
        let chains: Vec<&Vec<Expr>> = group.iter().map(|&i| &split[i].2).collect();
        let at = |ch: &Vec<Expr>, k: usize| {
            if last {
                ch[ch.len() - 1 - k].clone()
            } else {
                ch[k].clone()
            }
        };
        let mut run = 1;
        while chains.iter().all(|ch| ch.len() > run + 1)
            && chains.iter().all(|ch| at(ch, run) == at(chains[0], run))
        {
            run += 1;
        }
        let rest = group.iter().map(|&i| {
            let (c, scalars, chain) = &split[i];
            let chain = if last {
                &chain[..chain.len() - run]
            } else {
                &chain[run..]
            };
            let mut fs = vec![Expr::constant(c.clone())];
            fs.extend(scalars.iter().cloned());
            fs.extend(chain.iter().cloned());
            Expr::product(fs)
        });
        let inner = Expr::sum(rest);
        let shared = if last {
            chains[0][chains[0].len() - run..].to_vec()
        } else {
            chains[0][..run].to_vec()
        };
        let product = if last {
            Expr::product(std::iter::once(inner.clone()).chain(shared))
        } else {
            Expr::product(shared.into_iter().chain([inner.clone()]))
        };
        self.proposed.borrow_mut().insert(inner);
        let mut out = Vec::with_capacity(terms.len() - group.len() + 1);
        for (i, t) in terms.iter().enumerate() {
            if i == group[0] {
                out.push(product.clone());
            } else if !group.contains(&i) {
                out.push(t.clone());
            }
        }
        Some(out)
    }

    /// A product term: a coefficient, scalar factors and a matrix chain.
    fn product(&mut self, coeff: BigRational, scalars: Vec<Expr>, chain: Vec<Expr>) -> Id {
        // a term of degree 0 in exp(z) (softmax and its derivatives) is
        // computed with exp(z - max z)
        if self.shift.is_none()
            && let Some(z) = shift_candidate(&scalars, &chain)
        {
            let zid = self.expr(&z);
            let m = self.fun("max", zid, Shape::scalar());
            self.shift = Some((z, m));
            let id = self.product_plain(coeff, scalars, chain);
            self.shift = None;
            return id;
        }
        self.product_plain(coeff, scalars, chain)
    }

    fn product_plain(&mut self, coeff: BigRational, scalars: Vec<Expr>, chain: Vec<Expr>) -> Id {
        if chain.is_empty() {
            let fs = scalars
                .into_iter()
                .map(|x| (x, BigRational::one()))
                .collect();
            return self.elem_product(coeff, fs);
        }
        if let Some(id) = self.distributed(&coeff, &scalars, &chain) {
            return id;
        }
        self.grouped(coeff, scalars, chain)
    }

    /// A product with its chain's factors as they are (a sum factor
    /// computed first).
    fn grouped(&mut self, coeff: BigRational, scalars: Vec<Expr>, chain: Vec<Expr>) -> Id {
        let mut facs = Vec::new();
        for f in &chain {
            facs.extend(self.classify(f));
        }
        self.chain(coeff, scalars, facs)
    }

    /// A product with a sum among its factors, `L (t1 + … + tk) R`, written
    /// as `L t1 R + … + L tk R` where that is cheaper: `(T - U V^T) V`
    /// forms an n×m residual that `T V - U (V^T V)` never does. The two
    /// are compared by the chain costs at every assignment of small and
    /// large sizes; where the cheaper one depends on the sizes, both are
    /// written and the sizes choose at run time (`IfLe`). `None` keeps
    /// the sum grouped.
    fn distributed(&mut self, coeff: &BigRational, scalars: &[Expr], chain: &[Expr]) -> Option<Id> {
        if chain.len() < 2 || self.distributing >= 2 {
            return None;
        }
        let at = chain.iter().position(|f| {
            matches!(f.kind(), Kind::Sum(ts) if ts.len() <= 4 && ts.iter().all(|t| !t.is_scalar()))
        })?;
        let Kind::Sum(terms) = chain[at].kind() else {
            return None;
        };
        let parts: Vec<(BigRational, Vec<Expr>, Vec<Expr>)> =
            terms.iter().map(Expr::split_product).collect();
        // grouped: each term's chain, then the chain with the sum in it
        let mut g_chains: Vec<Vec<Expr>> = parts.iter().map(|p| p.2.clone()).collect();
        g_chains.push(chain.to_vec());
        // distributed: the chain with each term in the sum's place
        let d_chains: Vec<Vec<Expr>> = parts
            .iter()
            .map(|p| [&chain[..at], &p.2[..], &chain[at + 1..]].concat())
            .collect();
        // an elementwise pass reads two arrays and writes one, at memory
        // speed: three units an entry, where a product's multiply-add is one
        let extra = 3 * (terms.len() - 1) as u64;
        let sum_shape = chain[at].shape();
        let res_shape = Shape::new(
            chain[0].shape().rows.clone(),
            chain[chain.len() - 1].shape().cols.clone(),
        );
        let g_extra = sum_shape.rows.times(&sum_shape.cols)?;
        let d_extra = res_shape.rows.times(&res_shape.cols)?;
        let g_plans: Vec<(Vec<Cls>, Vec<Dim>)> = g_chains.iter().map(|c| self.bounds(c)).collect();
        let d_plans: Vec<(Vec<Cls>, Vec<Dim>)> = d_chains.iter().map(|c| self.bounds(c)).collect();
        let mut names: Vec<Rc<str>> = g_plans
            .iter()
            .chain(&d_plans)
            .flat_map(|(_, b)| b.iter().flat_map(|d| d.names.iter().cloned()))
            .collect();
        names.sort();
        names.dedup();
        // each name small (10) or large (1000); too many names: the
        // estimate alone
        let masks: Vec<Option<u32>> = if names.len() <= 6 {
            (0..(1u32 << names.len())).map(Some).collect()
        } else {
            vec![None]
        };
        let total = |plans: &[(Vec<Cls>, Vec<Dim>)], extra_dim: &Dim, mask: Option<u32>| {
            let size = |d: &Dim| masked_size(d, mask, &names);
            let chains: f64 = plans
                .iter()
                .map(|(cls, b)| {
                    if cls.len() < 2 {
                        return 0.0;
                    }
                    let dims: Vec<f64> = b.iter().map(size).collect();
                    plan(cls, &dims).1
                })
                .sum();
            chains + extra as f64 * size(extra_dim)
        };
        let (mut d_wins, mut g_wins, mut d_cheaper) = (0, 0, false);
        for &m in &masks {
            let (g, d) = (total(&g_plans, &g_extra, m), total(&d_plans, &d_extra, m));
            if d < 0.99 * g {
                d_wins += 1;
            } else if g <= d {
                g_wins += 1;
            }
            d_cheaper |= d < g;
        }
        let all_dense = g_plans
            .iter()
            .chain(&d_plans)
            .all(|(cls, _)| cls.iter().all(|c| *c == Cls::Dense));
        // a sum the factoring proposed stays only where it always pays
        let proposed = self.proposed.borrow().contains(&chain[at]);
        if proposed {
            if !d_cheaper {
                return None;
            }
            g_wins = 0;
        } else if d_wins == 0 || (g_wins > 0 && !all_dense) {
            return None;
        }
        // the distributed terms
        let d_terms: Vec<Expr> = parts
            .iter()
            .zip(&d_chains)
            .map(|((c, s, _), ch)| {
                let mut fs = vec![Expr::constant(coeff * c)];
                fs.extend(scalars.iter().cloned());
                fs.extend(s.iter().cloned());
                fs.extend(ch.iter().cloned());
                Expr::product(fs)
            })
            .collect();
        self.distributing += 1;
        let d = self.sum(&d_terms, &res_shape);
        self.distributing -= 1;
        if g_wins == 0 {
            return Some(d);
        }
        // it depends on the sizes: both, and the sizes choose, when the
        // condition is short enough to read; else the estimate decides
        let mut g_cost = cost_of(&g_plans, &g_extra, extra, &masks, &names);
        let mut d_cost = cost_of(&d_plans, &d_extra, extra, &masks, &names);
        cancel(&mut g_cost.0, &mut d_cost.0);
        let terms = |(fixed, mins): &(Poly, Vec<Vec<Poly>>)| {
            fixed.values().filter(|c| **c > 0).count()
                + mins.iter().flatten().map(|p| p.len()).sum::<usize>()
        };
        if terms(&g_cost) + terms(&d_cost) > 8 {
            let (g, dd) = (
                total(&g_plans, &g_extra, None),
                total(&d_plans, &d_extra, None),
            );
            return (dd < g).then_some(d);
        }
        let g = self.grouped(coeff.clone(), scalars.to_vec(), chain.to_vec());
        let lhs = self.cost_node(&d_cost);
        let rhs = self.cost_node(&g_cost);
        Some(self.op(Op::IfLe([lhs, rhs, d, g]), res_shape))
    }

    /// A chain's factor kinds and boundary sizes.
    fn bounds(&self, chain: &[Expr]) -> (Vec<Cls>, Vec<Dim>) {
        let facs: Vec<Fac> = chain.iter().flat_map(|f| self.classify(f)).collect();
        let shapes: Vec<Shape> = facs.iter().map(|f| self.fac_shape(f)).collect();
        let cls = facs.iter().map(Fac::cls).collect();
        let mut b: Vec<Dim> = shapes.iter().map(|s| s.rows.clone()).take(1).collect();
        b.extend(shapes.iter().map(|s| s.cols.clone()));
        (cls, b)
    }

    /// The code of a cost: its polynomial plus its minima.
    fn cost_node(&mut self, (fixed, mins): &(Poly, Vec<Vec<Poly>>)) -> Id {
        let mut terms: Vec<(bool, Id)> = fixed
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(names, c)| {
                let d = self.dim(&Dim {
                    factor: *c,
                    names: names.clone(),
                });
                (false, d)
            })
            .collect();
        for m in mins {
            let polys: Vec<Id> = m
                .iter()
                .map(|p| self.cost_node(&(p.clone(), vec![])))
                .collect();
            terms.push((false, self.op(Op::Min(polys), Shape::scalar())));
        }
        match terms.len() {
            0 => self.op(Op::Int(0), Shape::scalar()),
            1 => terms[0].1,
            _ => self.op(Op::Add(terms), Shape::scalar()),
        }
    }

    /// The factors one chain factor stands for.
    fn classify(&self, f: &Expr) -> Vec<Fac> {
        if let Some(v) = diag_vector(f) {
            return vec![Fac::Diag(Diag::Raw(vec![v]))];
        }
        let s = f.shape();
        match f.kind() {
            Kind::Commutation(p, q) => vec![Fac::Perm(p.clone(), q.clone())],
            Kind::Unit(ix) if s.is_vector() => {
                vec![Fac::UnitCol(
                    s.rows.clone(),
                    ix.chars().next().unwrap_or('i'),
                )]
            }
            Kind::Unit(ix) if s.is_row() => {
                vec![Fac::UnitRow(
                    s.cols.clone(),
                    ix.chars().next().unwrap_or('i'),
                )]
            }
            Kind::Unit(ix) if ix.chars().count() == 2 => {
                let l: Vec<char> = ix.chars().collect();
                vec![
                    Fac::UnitCol(s.rows.clone(), l[0]),
                    Fac::UnitRow(s.cols.clone(), l[1]),
                ]
            }
            Kind::Transpose(u) if matches!(u.kind(), Kind::Unit(ix) if ix.chars().count() == 2) => {
                let Kind::Unit(ix) = u.kind() else {
                    unreachable!()
                };
                let l: Vec<char> = ix.chars().collect();
                vec![
                    Fac::UnitCol(s.rows.clone(), l[1]),
                    Fac::UnitRow(s.cols.clone(), l[0]),
                ]
            }
            Kind::Transpose(u) if matches!(u.kind(), Kind::Unit(_)) && s.is_row() => {
                let Kind::Unit(ix) = u.kind() else {
                    unreachable!()
                };
                vec![Fac::UnitRow(
                    s.cols.clone(),
                    ix.chars().next().unwrap_or('i'),
                )]
            }
            Kind::Inverse(a) if self.solves(a) => match a.kind() {
                Kind::Transpose(b) => vec![Fac::Inv(b.clone(), true)],
                _ => vec![Fac::Inv(a.clone(), false)],
            },
            Kind::Transpose(i) if matches!(i.kind(), Kind::Inverse(a) if self.solves(a)) => {
                let Kind::Inverse(a) = i.kind() else {
                    unreachable!()
                };
                match a.kind() {
                    Kind::Transpose(b) => vec![Fac::Inv(b.clone(), false)],
                    _ => vec![Fac::Inv(a.clone(), true)],
                }
            }
            _ => vec![Fac::Dense(f.clone())],
        }
    }

    /// Whether `A^-1` should be applied by solves: unless the same matrix
    /// is inverted three times or more, where one inverse costs less.
    fn solves(&self, a: &Expr) -> bool {
        let a = match a.kind() {
            Kind::Transpose(b) => b,
            _ => a,
        };
        self.inverted.get(a).copied().unwrap_or(0) < 3
    }

    fn fac_shape(&self, f: &Fac) -> Shape {
        match f {
            Fac::Dense(e) => e.shape().clone(),
            Fac::Diag(Diag::Raw(v)) => Shape::square(v[0].0.shape().rows.clone()),
            Fac::Diag(Diag::Built(id)) => Shape::square(self.nodes[*id].shape.rows.clone()),
            Fac::Perm(p, q) => Shape::square(p.times(q).unwrap_or_else(|| Dim::lit(u64::MAX))),
            Fac::Inv(a, _) => a.shape().clone(),
            Fac::UnitCol(n, _) => Shape::new(n.clone(), Dim::one()),
            Fac::UnitRow(n, _) => Shape::new(Dim::one(), n.clone()),
        }
    }

    /// A chain of factors times a coefficient and scalars.
    fn chain(&mut self, coeff: BigRational, scalars: Vec<Expr>, facs: Vec<Fac>) -> Id {
        // merge adjacent diagonals into one vector
        let mut merged: Vec<Fac> = Vec::new();
        for f in facs {
            if let (Some(Fac::Diag(Diag::Raw(prev))), Fac::Diag(Diag::Raw(v))) =
                (merged.last_mut(), &f)
            {
                prev.extend(v.iter().cloned());
                continue;
            }
            merged.push(f);
        }
        let mut facs = merged;
        let mut coeff = coeff;
        let mut scalars = scalars;
        // the scalars go into a diagonal's vector when there is one
        if let Some(Fac::Diag(Diag::Raw(v))) = facs
            .iter_mut()
            .find(|f| matches!(f, Fac::Diag(Diag::Raw(_))))
        {
            v.extend(scalars.drain(..).map(|x| (x, BigRational::one())));
            let c = std::mem::replace(&mut coeff, BigRational::one());
            if !c.is_one() {
                v.push((Expr::constant(c), BigRational::one()));
            }
        }
        for f in facs.iter_mut() {
            if let Fac::Diag(Diag::Raw(v)) = f {
                let v = std::mem::take(v);
                let (c, fs) = split_const(v);
                let id = self.elem_product(c, fs);
                *f = Fac::Diag(Diag::Built(id));
            }
        }
        let shapes: Vec<Shape> = facs.iter().map(|f| self.fac_shape(f)).collect();
        let cls: Vec<Cls> = facs.iter().map(Fac::cls).collect();
        let tree = choose_tree(&cls, &shapes);
        let scaled = !(coeff.is_one() && scalars.is_empty());
        // a Kronecker factor takes a scalar on its smaller operand
        let sizes: Vec<f64> = facs
            .iter()
            .zip(&shapes)
            .map(|(f, s)| match f {
                Fac::Dense(e) => match e.kind() {
                    Kind::Kron(a, b) => size_of(a.shape()).min(size_of(b.shape())),
                    _ => size_of(s),
                },
                _ => size_of(s),
            })
            .collect();
        let target = if scaled {
            Some(scale_target(&tree, &cls, &shapes, &sizes))
        } else {
            None
        };
        let scale = (coeff, scalars);
        let mut counter = 0usize;
        let (id, c) = self.emit(&tree, &facs, &shapes, target, &scale, &mut counter);
        // a lone special factor is the result: written densely
        self.materialise(id, c, &tree, &facs, &shapes)
    }

    /// Emits a tree; the scalars are applied at the node numbered
    /// `target` in pre-order.
    fn emit(
        &mut self,
        t: &Tree,
        facs: &[Fac],
        shapes: &[Shape],
        target: Option<usize>,
        scale: &(BigRational, Vec<Expr>),
        counter: &mut usize,
    ) -> (Id, Cls) {
        let me = *counter;
        *counter += 1;
        let here = target == Some(me);
        let (id, cls) = match t {
            Tree::Leaf(i) => match &facs[*i] {
                Fac::Dense(e) if here => {
                    if let Kind::Kron(a, b) = e.kind() {
                        let k = self.scalar_factor(scale);
                        return (self.kron(e, a, b, Some(k)), Cls::Dense);
                    }
                    let mut fs: Vec<(Expr, BigRational)> = scale
                        .1
                        .iter()
                        .map(|x| (x.clone(), BigRational::one()))
                        .collect();
                    fs.push((e.clone(), BigRational::one()));
                    return (self.elem_product(scale.0.clone(), fs), Cls::Dense);
                }
                Fac::Dense(e) => (self.expr(e), Cls::Dense),
                Fac::Diag(Diag::Built(id)) => (*id, Cls::Diag),
                Fac::Diag(Diag::Raw(_)) => unreachable!("diagonals are built first"),
                f => (usize::MAX, f.cls()),
            },
            Tree::Multi(i, j) => {
                let ids: Vec<Id> = (*i..=*j)
                    .map(|k| match &facs[k] {
                        Fac::Dense(e) => self.expr(e),
                        _ => unreachable!("multi_dot takes dense factors"),
                    })
                    .collect();
                let s = Shape::new(shapes[*i].rows.clone(), shapes[*j].cols.clone());
                if let [a, b, c] = ids[..] {
                    // the decision inline: no call overhead for small sizes
                    let p = self.dim(&shapes[*i].rows);
                    let q = self.dim(&shapes[*i].cols);
                    let r = self.dim(&shapes[*i + 1].cols);
                    let t = self.dim(&shapes[*j].cols);
                    (self.op(Op::Chain3([a, b, c], [p, q, r, t]), s), Cls::Dense)
                } else {
                    (self.op(Op::MultiDot(ids), s), Cls::Dense)
                }
            }
            Tree::Node(l, r) => {
                let (lo, hi) = (leftmost(l), rightmost(r));
                let (li, lc) = self.emit(l, facs, shapes, target, scale, counter);
                let (ri, rc) = self.emit(r, facs, shapes, target, scale, counter);
                let lf = (lc, li, leftmost(l), rightmost(l));
                let rf = (rc, ri, leftmost(r), rightmost(r));
                let s = Shape::new(shapes[lo].rows.clone(), shapes[hi].cols.clone());
                (self.combine(lf, rf, facs, shapes, &s), Cls::Dense)
            }
        };
        if here {
            let id = self.materialise(id, cls, t, facs, shapes);
            let k = self.scalar_factor(scale);
            return (self.mul(k, id), Cls::Dense);
        }
        (id, cls)
    }

    fn scalar_factor(&mut self, scale: &(BigRational, Vec<Expr>)) -> Id {
        let fs = scale
            .1
            .iter()
            .map(|x| (x.clone(), BigRational::one()))
            .collect();
        self.elem_product(scale.0.clone(), fs)
    }

    /// A special single factor as a dense array.
    fn materialise(&mut self, id: Id, cls: Cls, t: &Tree, facs: &[Fac], shapes: &[Shape]) -> Id {
        let i = match t {
            Tree::Leaf(i) => *i,
            _ => return id,
        };
        let s = shapes[i].clone();
        match (&facs[i], cls) {
            (_, Cls::Dense) => id,
            (Fac::Diag(_), _) => self.op(Op::DiagMat(id), s),
            (Fac::Perm(p, q), _) => {
                let n = self.dim(&s.rows);
                let eye = self.op(Op::Eye(n), s.clone());
                let (p, q) = (self.dim(p), self.dim(q));
                self.op(Op::PermRows(p, q, eye), s)
            }
            (Fac::Inv(a, tr), _) => {
                let a = self.expr(a);
                let inv = self.op(Op::Inv(a), s.clone());
                if *tr { self.op(Op::T(inv), s) } else { inv }
            }
            (Fac::UnitCol(n, c), _) | (Fac::UnitRow(n, c), _) => {
                let n = self.dim(n);
                let i = self.index(*c);
                self.op(Op::OneHot(n, i), s)
            }
            _ => id,
        }
    }

    /// The product of two emitted segments.
    fn combine(
        &mut self,
        (lc, li, l0, l1): (Cls, Id, usize, usize),
        (rc, ri, r0, r1): (Cls, Id, usize, usize),
        facs: &[Fac],
        shapes: &[Shape],
        s: &Shape,
    ) -> Id {
        let lshape = Shape::new(shapes[l0].rows.clone(), shapes[l1].cols.clone());
        let rshape = Shape::new(shapes[r0].rows.clone(), shapes[r1].cols.clone());
        let r_1d = rshape.is_vector() || rshape.is_row();
        let l_1d = lshape.is_vector() || lshape.is_row();
        match (lc, rc) {
            (Cls::Diag, Cls::Dense) if !rshape.is_scalar() => {
                if r_1d {
                    self.mul(li, ri)
                } else {
                    self.op(Op::RowScale(li, ri), s.clone())
                }
            }
            (Cls::Dense, Cls::Diag) if !lshape.is_scalar() => {
                if l_1d {
                    self.mul(li, ri)
                } else {
                    self.op(Op::ColScale(li, ri), s.clone())
                }
            }
            (Cls::Perm, Cls::Dense) => {
                let Fac::Perm(p, q) = &facs[l0] else {
                    unreachable!()
                };
                // K_{p,q} (A ⊗ B) with A q×·, B p×·: one broadcast product
                if r0 == r1
                    && let Fac::Dense(e) = &facs[r0]
                    && let Kind::Kron(a, b) = e.kind()
                    && a.shape().rows == *q
                    && b.shape().rows == *p
                    && let Op::Kron(ia, "", ib, "", false) = self.nodes[ri].op
                    && !self.nodes[ia].is_1d()
                    && !self.nodes[ib].is_1d()
                    && !self.nodes[ia].shape.is_scalar()
                    && !self.nodes[ib].shape.is_scalar()
                {
                    let n = self.dim(&s.rows);
                    return self.op(Op::PermKron(ia, ib, n), s.clone());
                }
                let (p, q) = (self.dim(p), self.dim(q));
                self.op(Op::PermRows(p, q, ri), s.clone())
            }
            (Cls::Dense, Cls::Perm) => {
                let Fac::Perm(p, q) = &facs[r0] else {
                    unreachable!()
                };
                let (p, q) = (self.dim(p), self.dim(q));
                self.op(Op::PermCols(li, p, q), s.clone())
            }
            (Cls::Dense, Cls::UnitCol) => {
                let Fac::UnitCol(_, c) = &facs[r0] else {
                    unreachable!()
                };
                let i = self.index(*c);
                self.op(Op::Col(li, i), s.clone())
            }
            (Cls::UnitRow, Cls::Dense) => {
                let Fac::UnitRow(_, c) = &facs[l0] else {
                    unreachable!()
                };
                let j = self.index(*c);
                self.op(Op::Row(ri, j), s.clone())
            }
            (Cls::Inv, Cls::Dense) => {
                let Fac::Inv(a, tr) = &facs[l0] else {
                    unreachable!()
                };
                let mut m = self.expr(a);
                if *tr {
                    let ms = self.shape(m).transpose();
                    m = self.op(Op::T(m), ms);
                }
                self.op(Op::Solve(m, ri), s.clone())
            }
            (Cls::Dense, Cls::Inv) => {
                // X A^-1 = (A^-T X^T)^T
                let Fac::Inv(a, tr) = &facs[r0] else {
                    unreachable!()
                };
                let mut m = self.expr(a);
                if !*tr {
                    let ms = self.shape(m).transpose();
                    m = self.op(Op::T(m), ms);
                }
                if l_1d || lshape.is_scalar() {
                    self.op(Op::Solve(m, li), s.clone())
                } else {
                    let lt = self.op(Op::T(li), lshape.transpose());
                    let x = self.op(Op::Solve(m, lt), s.transpose());
                    self.op(Op::T(x), s.clone())
                }
            }
            _ => {
                let lt = Tree::Leaf(l0);
                let rt = Tree::Leaf(r0);
                let li = if l0 == l1 {
                    self.materialise(li, lc, &lt, facs, shapes)
                } else {
                    li
                };
                let ri = if r0 == r1 {
                    self.materialise(ri, rc, &rt, facs, shapes)
                } else {
                    ri
                };
                if lshape.is_scalar() || rshape.is_scalar() {
                    self.mul(li, ri)
                } else if lshape.cols.is_one() {
                    self.op(Op::Outer(li, ri), s.clone())
                } else {
                    self.op(Op::MatMul(li, ri), s.clone())
                }
            }
        }
    }
}

fn leftmost(t: &Tree) -> usize {
    match t {
        Tree::Leaf(i) | Tree::Multi(i, _) => *i,
        Tree::Node(l, _) => leftmost(l),
    }
}

fn rightmost(t: &Tree) -> usize {
    match t {
        Tree::Leaf(i) | Tree::Multi(_, i) => *i,
        Tree::Node(_, r) => rightmost(r),
    }
}

/// The shape of an elementwise result: the larger operand's.
fn broadcast(a: &Shape, b: &Shape) -> Shape {
    if a.is_scalar() { b.clone() } else { a.clone() }
}

/// The parenthesisation: the dynamic program over estimated sizes, or
/// `multi_dot` when three or more dense factors would be ordered
/// differently by different run-time sizes.
fn choose_tree(cls: &[Cls], shapes: &[Shape]) -> Tree {
    let bounds: Vec<&Dim> = std::iter::once(&shapes[0].rows)
        .chain(shapes.iter().map(|s| &s.cols))
        .collect();
    let dims: Vec<f64> = bounds.iter().map(|d| estimate(d)).collect();
    let tree = best_tree(cls, &dims);
    let n = cls.len();
    let all_dense = cls.iter().all(|c| *c == Cls::Dense);
    // multi_dot needs 2-D factors inside the chain
    let inner_2d = bounds[1..n].iter().all(|d| !d.is_one());
    if n < 3 || !all_dense || !inner_2d {
        return tree;
    }
    let mut names: Vec<Rc<str>> = bounds
        .iter()
        .flat_map(|d| d.names.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    if names.len() < 2 || names.len() > 6 {
        return tree;
    }
    let mut first: Option<Tree> = None;
    for mask in 0..(1u32 << names.len()) {
        let size = |d: &Dim| masked_size(d, Some(mask), &names);
        let dims: Vec<f64> = bounds.iter().map(|d| size(d)).collect();
        let t = best_tree(cls, &dims);
        match &first {
            None => first = Some(t),
            Some(f) if *f != t => return Tree::Multi(0, n - 1),
            Some(_) => {}
        }
    }
    tree
}

/// The pre-order number of the node where the scalars cost least: the
/// smallest dense leaf, intermediate or result.
fn scale_target(t: &Tree, cls: &[Cls], shapes: &[Shape], sizes: &[f64]) -> usize {
    fn walk(
        t: &Tree,
        cls: &[Cls],
        shapes: &[Shape],
        sizes: &[f64],
        counter: &mut usize,
        best: &mut (f64, usize),
    ) {
        let me = *counter;
        *counter += 1;
        let (lo, hi) = (leftmost(t), rightmost(t));
        let (size, eligible) = match t {
            Tree::Leaf(i) => (sizes[*i], cls[*i] == Cls::Dense),
            _ => (
                size_of(&Shape::new(
                    shapes[lo].rows.clone(),
                    shapes[hi].cols.clone(),
                )),
                true,
            ),
        };
        // ties go to the outermost (the earliest in pre-order)
        if eligible && size < best.0 {
            *best = (size, me);
        }
        if let Tree::Node(l, r) = t {
            walk(l, cls, shapes, sizes, counter, best);
            walk(r, cls, shapes, sizes, counter, best);
        }
    }
    let mut best = (f64::INFINITY, 0);
    walk(t, cls, shapes, sizes, &mut 0, &mut best);
    best.1
}

/// `diag(v)`, `diag(v)^-1` or `diag(v)^k` in a chain: `(v, k)`.
fn diag_vector(f: &Expr) -> Option<(Expr, BigRational)> {
    match f.kind() {
        Kind::Apply(Func::Diag, v) if v.shape().is_vector() => {
            Some((v.clone(), BigRational::one()))
        }
        Kind::Inverse(d) => diag_vector(d).map(|(v, k)| (v, -k)),
        Kind::Power(d, k) if k.is_integer() => diag_vector(d).map(|(v, j)| (v, j * k)),
        _ => None,
    }
}

/// A chain with its one run of diagonal factors blanked out, for grouping
/// the terms of a sum (`None` when the chain has no run, or more than one).
fn diag_key(chain: &[Expr]) -> Option<Vec<Option<Expr>>> {
    let mut key: Vec<Option<Expr>> = Vec::new();
    let mut runs = 0;
    for f in chain {
        if diag_vector(f).is_some() {
            if key.last() != Some(&None) {
                runs += 1;
                key.push(None);
            }
        } else {
            key.push(Some(f.clone()));
        }
    }
    (runs == 1 && key.len() > 1).then_some(key)
}

/// The constant factors out of a list: (their product, the rest).
fn split_const(v: Vec<(Expr, BigRational)>) -> (BigRational, Vec<(Expr, BigRational)>) {
    let mut c = BigRational::one();
    let mut rest = Vec::new();
    for (e, k) in v {
        match e.as_const() {
            Some(x) if k.is_one() => c *= x,
            _ => rest.push((e, k)),
        }
    }
    (c, rest)
}

/// Counts the matrices inverted in `e` (`A^-1` and `A^-T` count for `A`).
fn count_inverses(e: &Expr, out: &mut HashMap<Expr, usize>) {
    if let Kind::Inverse(a) = e.kind()
        && !a.is_scalar()
    {
        let a = match a.kind() {
            Kind::Transpose(b) => b,
            _ => a,
        };
        *out.entry(a.clone()).or_default() += 1;
    }
    for c in e.children() {
        count_inverses(c, out);
    }
}

/// Flattens an elementwise product into (factor, exponent) pairs: the
/// coefficient multiplied into `coeff`.
fn flatten(e: &Expr, k: &BigRational, coeff: &mut BigRational, out: &mut Vec<(Expr, BigRational)>) {
    match e.kind() {
        Kind::Const(c) if e.is_scalar() && k.is_integer() && !c.is_zero() => {
            let n: i32 = k.to_integer().try_into().unwrap_or(1);
            *coeff *= num_traits::Pow::pow(c, n);
        }
        Kind::Hadamard(a, b) => {
            flatten(a, k, coeff, out);
            flatten(b, k, coeff, out);
        }
        Kind::HadamardDiv(a, b) => {
            flatten(a, k, coeff, out);
            flatten(b, &-k, coeff, out);
        }
        Kind::HadamardPow(a, j) => flatten(a, &(j * k), coeff, out),
        Kind::Power(a, j) if a.is_scalar() => flatten(a, &(j * k), coeff, out),
        Kind::Inverse(a) if a.is_scalar() => flatten(a, &-k, coeff, out),
        Kind::Product(_) if e.is_scalar() && k.is_integer() => {
            let (c, scalars, chain) = e.split_product();
            if chain.is_empty() {
                let n: i32 = k.to_integer().try_into().unwrap_or(1);
                *coeff *= num_traits::Pow::pow(&c, n);
                for s in scalars {
                    flatten(&s, k, coeff, out);
                }
            } else {
                out.push((e.clone(), k.clone()));
            }
        }
        _ => out.push((e.clone(), k.clone())),
    }
}

/// The stability rewrites on a product of powers: `exp(z)^a (1 +
/// exp(z))^-b` becomes `sigmoid(z)^min(a,b)` times what is left, and a
/// remaining `(1 + exp(z))^-c` is `sigmoid(-z)^c`.
fn stabilise(fs: Vec<(Expr, BigRational)>) -> Vec<(Atom, BigRational)> {
    let mut fs: Vec<(Expr, BigRational)> = fs;
    let mut out: Vec<(Atom, BigRational)> = Vec::new();
    let mut i = 0;
    while i < fs.len() {
        let (base, k) = fs[i].clone();
        if k.is_negative()
            && k.is_integer()
            && let Some(z) = one_plus_exp(&base)
        {
            let z = z.clone();
            let mut need = -k.clone();
            // cancel against exp(z) factors
            let mut sig = BigRational::zero();
            for f in fs.iter_mut() {
                if need.is_zero() {
                    break;
                }
                if f.1.is_positive() && f.1.is_integer() && is_exp_of(&f.0, &z) {
                    let c = if f.1 < need {
                        f.1.clone()
                    } else {
                        need.clone()
                    };
                    f.1 -= &c;
                    need -= &c;
                    sig += &c;
                }
            }
            if !sig.is_zero() {
                out.push((Atom::Sigmoid(z.clone(), false), sig));
            }
            if !need.is_zero() {
                out.push((Atom::Sigmoid(z, true), need));
            }
            fs[i].1 = BigRational::zero();
        }
        i += 1;
    }
    for (e, k) in fs {
        if !k.is_zero() {
            out.push((Atom::Expr(e), k));
        }
    }
    out
}

/// The `z` of a term homogeneous of degree 0 in `exp(z)` with a
/// `sum(exp(z))` in a denominator.
fn shift_candidate(scalars: &[Expr], chain: &[Expr]) -> Option<Expr> {
    for s in scalars {
        if let Kind::Power(b, k) = s.kind()
            && k.is_negative()
            && let Kind::Apply(Func::Sum, inner) = b.kind()
            && let Kind::Apply(Func::Elem(ElemFn::Exp), z) = inner.kind()
            && !z.is_scalar()
        {
            let z = strip_t(z).clone();
            let total = scalars
                .iter()
                .chain(chain)
                .try_fold(BigRational::zero(), |acc, f| Some(acc + exp_degree(f, &z)?));
            if total.is_some_and(|d| d.is_zero()) {
                return Some(z);
            }
        }
    }
    None
}
