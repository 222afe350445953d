//! Python source from an array program ([`super::array_ir`]), in one of
//! two dialects: NumPy (`np`) and JAX (`jax.numpy` as `jnp`).
//!
//! The dialects differ only in spelling: the module prefix, a function's
//! row in the table of builtins (`numpy` or `jax` column), the sigmoid
//! (`jax.nn.sigmoid`, or an overflow-free NumPy expression), and the unit
//! vectors and matrices (NumPy builds them with `np.eye`/`np.outer`; JAX
//! writes index updates as `.at[...].set(...)`, never in place). Nothing
//! here loops over a size, so JAX can trace every function
//! (`jax.jit`, `jax.vmap`, `jax.grad`).
//!
//! The function's docstring states the conventions a caller needs: the
//! parameters' expected shapes, the result's layout, and that vec stacks
//! columns (`x.reshape(-1, order='F')`).

use super::array_ir::{Id, Op, Program};
use crate::builtins::Code;
use crate::lower::Context;
use crate::shape::{Dim, Shape};
use crate::span::Diagnostic;
use num_rational::BigRational;
use num_traits::{One, Signed};
use std::fmt::Write as _;

/// Which array library the code calls.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Dialect {
    /// `import numpy as np`
    Numpy,
    /// `import jax` and `import jax.numpy as jnp`
    Jax,
}

impl Dialect {
    fn np(self) -> &'static str {
        match self {
            Dialect::Numpy => "np",
            Dialect::Jax => "jnp",
        }
    }

    fn header(self) -> &'static str {
        match self {
            Dialect::Numpy => "import numpy as np\n\n\n",
            Dialect::Jax => "import jax\nimport jax.numpy as jnp\n\n\n",
        }
    }
}

/// What the docstring says about the function, besides the parameters.
pub struct Doc<'a> {
    /// The first paragraph (what the function computes).
    pub what: String,
    /// The result in the text notation.
    pub formula: &'a str,
    /// Extra notes (layout of a Jacobian or Hessian).
    pub notes: Vec<String>,
    /// The result's shape.
    pub result: Shape,
}

/// `def name(params): …` computing `program`, whose parameters are
/// `params` (variable name, Python name) and the index parameters.
pub fn function(
    dialect: Dialect,
    name: &str,
    program: &Program,
    ctx: &Context,
    params: &[(String, String)],
    indices: &[(char, String)],
    doc: &Doc<'_>,
) -> Result<String, Diagnostic> {
    if let Some(d) = program.missing.first() {
        return Err(Diagnostic::new(
            format!("cannot write NumPy code: no argument fixes the size `{d}`"),
            "",
        )
        .help(
            "the code reads every size from an argument's shape, and no argument has this one (e.g. a free `I` under `tr`)",
        ));
    }
    let calls = |pred: &dyn Fn(Code) -> bool| {
        program.nodes.iter().any(|n| {
            matches!(&n.op, Op::Call(f, _) if pred(match dialect {
                Dialect::Numpy => f.row().numpy,
                Dialect::Jax => f.row().jax,
            }))
        })
    };
    // JAX has no matrix logarithm: refused rather than written wrong.
    if dialect == Dialect::Jax && calls(&|c| c == Code::Call("")) {
        return Err(Diagnostic::new(
            "cannot write JAX code: JAX has no matrix logarithm (`logm`)",
            "",
        )
        .help("`--format numpy` writes it with SciPy's `scipy.linalg.logm`"));
    }
    let r = Render::new(dialect, program);
    let mut out = String::new();
    let spelled_with = |prefix: &str| {
        calls(
            &|c| matches!(c, Code::Call(c) | Code::Wrap(c, _) | Code::Arith(c, _) if c.contains(prefix)),
        )
    };
    // A row spelled with Python's `math` (NumPy's erf) needs its import,
    // and one spelled with SciPy (the matrix functions) SciPy's.
    if dialect == Dialect::Numpy && spelled_with("math.") {
        out.push_str("import math\n");
    }
    if dialect == Dialect::Numpy && spelled_with("scipy.linalg.") {
        out.push_str("import scipy.linalg\n");
    }
    out.push_str(dialect.header());
    let mut args: Vec<String> = params.iter().map(|(_, p)| p.clone()).collect();
    args.extend(indices.iter().map(|(_, n)| n.clone()));
    let _ = writeln!(out, "def {name}({}):", args.join(", "));
    let _ = writeln!(out, "    \"\"\"{}", escape(&doc.what));
    let _ = writeln!(out, "\n        {}\n", escape(doc.formula));
    let _ = writeln!(out, "    Args (by keyword, in any order):");
    for (v, py) in params {
        let shape = ctx
            .vars
            .get(v)
            .map(|i| i.shape.clone())
            .unwrap_or_else(Shape::scalar);
        let _ = writeln!(out, "        {py}: {}", describe(&shape));
    }
    for (_, n) in indices {
        let _ = writeln!(out, "        {n}: an int, 0-based as NumPy counts");
    }
    let _ = writeln!(out, "\n    Returns: {}.", describe(&doc.result));
    for n in &doc.notes {
        let _ = writeln!(out, "    {}", escape(n));
    }
    let _ = writeln!(
        out,
        "    vec stacks columns (column-major): vec(X) = X.reshape(-1, order='F')."
    );
    let _ = writeln!(out, "    \"\"\"");
    for line in r.statements() {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "    return {}", r.render(program.root, 0));
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "'")
}

/// A shape in a docstring's words.
fn describe(s: &Shape) -> String {
    if s.is_scalar() {
        "a float".to_string()
    } else if s.is_vector() {
        format!("a 1-D array of shape ({},)", dim(&s.rows))
    } else if s.is_row() {
        format!("a 1-D array of shape ({},) (a row)", dim(&s.cols))
    } else {
        format!("a 2-D array of shape ({}, {})", dim(&s.rows), dim(&s.cols))
    }
}

fn dim(d: &Dim) -> String {
    d.to_string().replace('·', "*")
}

/// Precedence of Python operators, loosest first.
const ADD: u8 = 1;
const MUL: u8 = 2;
const NEG: u8 = 3;
const POW: u8 = 4;
const ATOM: u8 = 5;

struct Render<'a> {
    d: Dialect,
    p: &'a Program,
    uses: Vec<usize>,
    /// The temporary's name of each named node.
    names: Vec<Option<String>>,
    /// JAX: the LU factorisation shared by the solves with one matrix
    /// (`A` and `A^T` alike), by the matrix's node.
    lu: std::collections::HashMap<Id, String>,
}

impl<'a> Render<'a> {
    fn new(d: Dialect, p: &'a Program) -> Render<'a> {
        let uses = p.uses();
        let mut r = Render {
            d,
            p,
            uses,
            names: vec![None; p.nodes.len()],
            lu: Default::default(),
        };
        let mut k = 0;
        for id in 0..p.nodes.len() {
            if r.uses[id] == 0 {
                continue;
            }
            if let Op::Size(n, ..) = &p.nodes[id].op {
                r.names[id] = Some(format!("_{n}"));
            } else if id != p.root && r.uses[id] > 1 && !r.cheap(id) {
                k += 1;
                r.names[id] = Some(format!("_t{k}"));
            }
        }
        if d == Dialect::Jax {
            // two or more solves with one matrix (or its transpose) share
            // one factorisation
            let mut count: std::collections::HashMap<Id, usize> = Default::default();
            for id in 0..p.nodes.len() {
                if r.uses[id] > 0
                    && let Op::Solve(a, _) = &p.nodes[id].op
                {
                    *count.entry(r.solve_base(*a).0).or_insert(0) += 1;
                }
            }
            let mut bases: Vec<Id> = count
                .into_iter()
                .filter(|(_, c)| *c >= 2)
                .map(|(b, _)| b)
                .collect();
            bases.sort_unstable();
            for (k, b) in bases.into_iter().enumerate() {
                r.lu.insert(b, format!("_lu{}", k + 1));
            }
        }
        r
    }

    /// The matrix a solve factorises, and whether the solve is with its
    /// transpose.
    fn solve_base(&self, a: Id) -> (Id, bool) {
        match &self.p.nodes[a].op {
            Op::T(m) if self.names[a].is_none() => (*m, true),
            _ => (a, false),
        }
    }

    /// Cheaper to recompute than to name.
    fn cheap(&self, id: Id) -> bool {
        match &self.p.nodes[id].op {
            Op::Param(_) | Op::Num(_) | Op::Size(..) | Op::Int(_) => true,
            // a product of sizes
            Op::Mul(a, b) => [a, b].iter().all(|x| {
                matches!(self.p.nodes[**x].op, Op::Size(..) | Op::Int(_))
                    || (matches!(self.p.nodes[**x].op, Op::Mul(..)) && self.cheap(**x))
            }),
            Op::T(a) | Op::Col(a, _) | Op::Row(a, _) => {
                matches!(self.p.nodes[*a].op, Op::Param(_))
            }
            _ => false,
        }
    }

    fn statements(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (id, n) in self.p.nodes.iter().enumerate() {
            if let Some(name) = &self.names[id] {
                let code = match &n.op {
                    Op::Size(_, p, axis) => format!("{p}.shape[{axis}]"),
                    _ => self.code(id).0,
                };
                out.push(format!("{name} = {code}"));
            }
            // a shared factorisation right after its matrix, before any
            // solve that uses it (children come before parents)
            if let Some(lu) = self.lu.get(&id) {
                out.push(format!(
                    "{lu} = jax.scipy.linalg.lu_factor({})",
                    self.render(id, 0)
                ));
            }
        }
        out
    }

    /// A node's code where the context needs at least `need`.
    fn render(&self, id: Id, need: u8) -> String {
        if let Some(n) = &self.names[id] {
            return n.clone();
        }
        let (code, level) = self.code(id);
        if level < need {
            format!("({code})")
        } else {
            code
        }
    }

    fn is_1d(&self, id: Id) -> bool {
        self.p.nodes[id].is_1d()
    }

    /// The code of a node and how tightly it binds.
    fn code(&self, id: Id) -> (String, u8) {
        let np = self.d.np();
        let r = |id: Id, need: u8| self.render(id, need);
        let call = |f: &str, args: String| (format!("{f}({args})"), ATOM);
        let dims = |ds: &[Id]| {
            if ds.len() == 1 {
                r(ds[0], 0)
            } else {
                format!("({}, {})", r(ds[0], 0), r(ds[1], 0))
            }
        };
        match &self.p.nodes[id].op {
            Op::Param(n) => (n.clone(), ATOM),
            Op::Size(n, ..) => (format!("_{n}"), ATOM),
            Op::Num(c) => constant(c),
            Op::Eye(n) => call(&format!("{np}.eye"), r(*n, 0)),
            Op::Zeros(ds) => call(&format!("{np}.zeros"), dims(ds)),
            Op::Ones(ds) => call(&format!("{np}.ones"), dims(ds)),
            Op::OneHot(n, i) => match self.d {
                Dialect::Numpy => (format!("np.eye(1, {}, {})[0]", r(*n, 0), r(*i, 0)), ATOM),
                Dialect::Jax => (
                    format!("jnp.zeros({}).at[{}].set(1.0)", r(*n, 0), r(*i, 0)),
                    ATOM,
                ),
            },
            Op::Unit(m, n, i, j) => match self.d {
                Dialect::Numpy => (
                    format!(
                        "np.outer(np.eye(1, {}, {})[0], np.eye(1, {}, {})[0])",
                        r(*m, 0),
                        r(*i, 0),
                        r(*n, 0),
                        r(*j, 0)
                    ),
                    ATOM,
                ),
                Dialect::Jax => (
                    format!(
                        "jnp.zeros(({}, {})).at[{}, {}].set(1.0)",
                        r(*m, 0),
                        r(*n, 0),
                        r(*i, 0),
                        r(*j, 0)
                    ),
                    ATOM,
                ),
            },
            Op::Add(ts) => {
                let mut s = String::new();
                for (k, (neg, t)) in ts.iter().enumerate() {
                    match (k, neg) {
                        (0, false) => s.push_str(&r(*t, ADD)),
                        (0, true) => {
                            s.push('-');
                            s.push_str(&r(*t, NEG));
                        }
                        (_, neg) => {
                            s.push_str(if *neg { " - " } else { " + " });
                            s.push_str(&r(*t, MUL));
                        }
                    }
                }
                (s, ADD)
            }
            Op::Neg(a) => (format!("-{}", r(*a, NEG)), NEG),
            Op::Mul(a, b) => (format!("{} * {}", r(*a, MUL), r(*b, POW)), MUL),
            Op::Div(a, b) => (format!("{} / {}", r(*a, MUL), r(*b, POW)), MUL),
            Op::Pow(a, k) => (format!("{} ** {}", r(*a, ATOM), exponent(k)), POW),
            // XLA on CPU copies a transposed matrix before a
            // matrix-vector product (ten times slower at n = 3000):
            // `A.T @ x` is written `x @ A`, and `x @ A.T` is `A @ x`
            Op::MatMul(a, b) if self.d == Dialect::Jax && self.is_1d(*b) && !self.is_1d(*a) => {
                match &self.p.nodes[*a].op {
                    Op::T(m) if self.names[*a].is_none() => {
                        (format!("{} @ {}", r(*b, MUL), r(*m, POW)), MUL)
                    }
                    _ => (format!("{} @ {}", r(*a, MUL), r(*b, POW)), MUL),
                }
            }
            Op::MatMul(a, b) if self.d == Dialect::Jax && self.is_1d(*a) && !self.is_1d(*b) => {
                match &self.p.nodes[*b].op {
                    Op::T(m) if self.names[*b].is_none() => {
                        (format!("{} @ {}", r(*m, MUL), r(*a, POW)), MUL)
                    }
                    _ => (format!("{} @ {}", r(*a, MUL), r(*b, POW)), MUL),
                }
            }
            Op::PowE(a, b) => (format!("{} ** {}", r(*a, ATOM), r(*b, ATOM)), POW),
            Op::MatMul(a, b) => (format!("{} @ {}", r(*a, MUL), r(*b, POW)), MUL),
            Op::Outer(a, b) => call(
                &format!("{np}.outer"),
                format!("{}, {}", r(*a, 0), r(*b, 0)),
            ),
            Op::Int(k) => (k.to_string(), ATOM),
            Op::Chain3([a, b, c], [p, q, t, u]) => {
                let (a, b, c) = (r(*a, MUL), r(*b, POW), r(*c, POW));
                let [p, q, t, u] = [p, q, t, u].map(|d| r(*d, POW));
                (
                    format!(
                        "{a} @ {b} @ {c} if {p} * {t} * ({q} + {u}) <= {q} * {u} * ({p} + {t}) else {a} @ ({b} @ {c})"
                    ),
                    0,
                )
            }
            Op::Min(xs) => {
                let args: Vec<String> = xs.iter().map(|x| r(*x, 0)).collect();
                call("min", args.join(", "))
            }
            Op::IfLe([lhs, rhs, then, other]) => (
                format!(
                    "{} if {} <= {} else {}",
                    r(*then, ADD),
                    r(*lhs, ADD),
                    r(*rhs, ADD),
                    r(*other, ADD)
                ),
                0,
            ),
            Op::MultiDot(fs) => {
                let args: Vec<String> = fs.iter().map(|f| r(*f, 0)).collect();
                call(
                    &format!("{np}.linalg.multi_dot"),
                    format!("[{}]", args.join(", ")),
                )
            }
            Op::T(a) => (format!("{}.T", r(*a, ATOM)), ATOM),
            Op::RowScale(v, m) => (format!("{}[:, None] * {}", r(*v, ATOM), r(*m, POW)), MUL),
            Op::ColScale(m, v) => (format!("{} * {}", r(*m, MUL), r(*v, POW)), MUL),
            Op::Col(m, i) if self.is_1d(*m) => (format!("{}[{}]", r(*m, ATOM), r(*i, 0)), ATOM),
            Op::Col(m, i) => (format!("{}[:, {}]", r(*m, ATOM), r(*i, 0)), ATOM),
            Op::Row(m, j) => (format!("{}[{}]", r(*m, ATOM), r(*j, 0)), ATOM),
            Op::Solve(a, b) if self.lu.contains_key(&self.solve_base(*a).0) => {
                let (base, trans) = self.solve_base(*a);
                let t = if trans { ", trans=1" } else { "" };
                call(
                    "jax.scipy.linalg.lu_solve",
                    format!("{}, {}{t}", self.lu[&base], r(*b, 0)),
                )
            }
            Op::Solve(a, b) => call(
                &format!("{np}.linalg.solve"),
                format!("{}, {}", r(*a, 0), r(*b, 0)),
            ),
            Op::Inv(a) => call(&format!("{np}.linalg.inv"), r(*a, 0)),
            Op::MatPow(a, k) => call(
                &format!("{np}.linalg.matrix_power"),
                format!("{}, {}", r(*a, 0), k.to_integer()),
            ),
            Op::Call(f, a) => {
                let row = f.row();
                let code = match self.d {
                    Dialect::Numpy => row.numpy,
                    Dialect::Jax => row.jax,
                };
                match code {
                    Code::Call(name) => call(name, r(*a, 0)),
                    Code::Wrap(before, after) => (format!("{before}{}{after}", r(*a, 0)), ATOM),
                    Code::Arith(before, after) => (format!("{before}{}{after}", r(*a, POW)), MUL),
                }
            }
            Op::Fn(name, a) => call(&format!("{np}.{name}"), r(*a, 0)),
            Op::Softplus(a) => call(&format!("{np}.logaddexp"), format!("0.0, {}", r(*a, 0))),
            Op::Sigmoid(a) => match self.d {
                Dialect::Jax => call("jax.nn.sigmoid", r(*a, 0)),
                // exp(-log(1 + e^-z)): no overflow, full precision in the tails
                Dialect::Numpy => {
                    let minus = match &self.p.nodes[*a].op {
                        Op::Neg(b) if self.names[*a].is_none() => r(*b, 0),
                        _ => format!("-{}", r(*a, NEG)),
                    };
                    (format!("np.exp(-np.logaddexp(0.0, {minus}))"), ATOM)
                }
            },
            Op::DiagMat(v) => call(&format!("{np}.diag"), r(*v, 0)),
            Op::Kron(a, sa, b, sb, ravel) => {
                let arg = |x: Id, s: &str| {
                    if s.is_empty() {
                        r(x, 0)
                    } else {
                        format!("{}{s}", r(x, ATOM))
                    }
                };
                let k = format!("{np}.kron({}, {})", arg(*a, sa), arg(*b, sb));
                (if *ravel { format!("{k}.ravel()") } else { k }, ATOM)
            }
            Op::PermKron(a, b, n) => (
                format!(
                    "({}[None, :, :, None] * {}[:, None, None, :]).reshape({}, -1)",
                    r(*a, ATOM),
                    r(*b, ATOM),
                    r(*n, 0)
                ),
                ATOM,
            ),
            Op::PermRows(p, q, m) | Op::PermCols(m, p, q) => {
                let rows = matches!(self.p.nodes[id].op, Op::PermRows(..));
                let (p, q) = (r(*p, POW), r(*q, POW));
                let one_d = self.is_1d(*m);
                let m = r(*m, ATOM);
                let f = "order=\"F\"";
                let code = match (one_d, rows) {
                    // K_pq v = vec(V^T); v^T K_pq = (K_qp v)^T
                    (true, true) => format!("{m}.reshape({p}, {q}, {f}).T.reshape(-1, {f})"),
                    (true, false) => format!("{m}.reshape({q}, {p}, {f}).T.reshape(-1, {f})"),
                    (false, true) => format!(
                        "{m}.reshape({p}, {q}, -1, {f}).transpose(1, 0, 2).reshape({p} * {q}, -1, {f})"
                    ),
                    (false, false) => format!(
                        "{m}.reshape(-1, {q}, {p}, {f}).transpose(0, 2, 1).reshape(-1, {p} * {q}, {f})"
                    ),
                };
                (code, ATOM)
            }
        }
    }
}

fn constant(c: &BigRational) -> (String, u8) {
    if c.is_integer() {
        let level = if c.is_negative() { NEG } else { ATOM };
        (format!("{}.0", c.to_integer()), level)
    } else {
        (format!("{} / {}", c.numer(), c.denom()), MUL)
    }
}

fn exponent(k: &BigRational) -> String {
    if k.is_integer() && !k.is_negative() {
        k.to_integer().to_string()
    } else if k.is_integer() {
        format!("({}.0)", k.to_integer())
    } else if k.is_one() {
        "1".into()
    } else {
        format!("({} / {})", k.numer(), k.denom())
    }
}
