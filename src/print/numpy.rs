//! NumPy code generation (`--format numpy`), as SPEC §3 states it: one
//! function named after the command, whose parameters are the input's
//! variables by name.
//!
//! How values are represented: a 1×1 value is a Python float (or NumPy
//! scalar), a column or row vector a 1-D array (its orientation is known
//! statically from the shape, so `x x^T` is `np.outer(x, x)` and `x^T A` is
//! `x @ A`), anything else a 2-D array. Sizes are read from the arguments
//! (`_n = X.shape[0]`), never fixed.
//!
//! The code is built as a DAG: every subexpression and every segment of a
//! matrix chain is hash-consed, so an expression used twice is computed
//! once into a temporary, and everything used once is written inline.
//! Chains are parenthesised by the classic matrix-chain dynamic program
//! with 1 for unit dimensions and a large size for symbolic ones, which
//! makes `A x x^T` `np.outer(A @ x, x)`: a matrix–vector product never
//! waits behind an outer product.

use crate::calculus::derivative::{Answer, Derivative, Wrt};
use crate::expr::{Expr, Func, Kind};
use crate::lower::Context;
use crate::shape::{Dim, Shape};
use crate::span::Diagnostic;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::rc::Rc;

/// Python's reserved words, which cannot be parameter names.
const KEYWORDS: [&str; 36] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "np",
];

/// A variable's name as a Python identifier: braces dropped from
/// subscripts, and a trailing `_` on reserved words and on `np`.
pub fn python_name(name: &str) -> String {
    let plain: String = name.chars().filter(|c| *c != '{' && *c != '}').collect();
    if KEYWORDS.contains(&plain.as_str()) {
        format!("{plain}_")
    } else {
        plain
    }
}

/// The answer as a NumPy function named after its command.
pub fn to_numpy(a: &Answer) -> Result<String, Diagnostic> {
    let name = match a.kind {
        Derivative::Differential | Derivative::Entrywise => "differential",
        Derivative::Gradient => "gradient",
        Derivative::Hessian => "hessian",
        Derivative::Jacobian => "jacobian",
    };
    let mut params = variables(&a.function, &a.context);
    let mut indices = Vec::new();
    match (&a.wrt, &a.direction) {
        (_, Some(d)) if a.kind == Derivative::Differential => params.push(d.clone()),
        (Wrt::Entry { indices: ix, .. }, _) => {
            for c in ix.chars() {
                if !indices.contains(&c) {
                    indices.push(c);
                }
            }
        }
        _ => {}
    }
    let wrt = match &a.wrt {
        Wrt::Var(v) => v.clone(),
        Wrt::Entry { var, indices } => format!("{var}_{indices}"),
    };
    let f = crate::print::to_text(&a.function);
    let what = match a.kind {
        Derivative::Differential => format!(
            "The differential of {f} in the direction {}",
            a.direction.as_deref().unwrap_or("dX")
        ),
        Derivative::Entrywise => format!("The partial derivative of {f} with respect to {wrt}"),
        Derivative::Gradient => format!("The gradient of {f} with respect to {wrt}"),
        Derivative::Hessian => format!("The Hessian of {f} with respect to {wrt}"),
        Derivative::Jacobian => format!("The Jacobian d vec(F) / d vec({wrt})^T of F = {f}"),
    };
    let doc = format!("{what}:\n\n        {}", a.text);
    function(
        name,
        &a.result,
        &a.direction_context(),
        &params,
        &indices,
        &doc,
    )
}

/// An expression as a NumPy function `value` of its variables (for
/// `simplify` and eval-like use).
pub fn value_to_numpy(e: &Expr, ctx: &Context) -> Result<String, Diagnostic> {
    let doc = format!("The value of {}.", crate::print::to_text(e));
    function("value", e, ctx, &variables(e, ctx), &[], &doc)
}

/// The non-differential variables `e` mentions, in order of appearance.
pub fn variables(e: &Expr, ctx: &Context) -> Vec<String> {
    ctx.order
        .iter()
        .filter(|n| ctx.vars[*n].differential_of.is_none() && e.mentions(n))
        .cloned()
        .collect()
}

/// `def name(params): return e` with the sizes read from the parameters'
/// shapes; `indices` are extra integer parameters (0-based) for `E_ij`.
pub fn function(
    name: &str,
    e: &Expr,
    ctx: &Context,
    params: &[String],
    indices: &[char],
    doc: &str,
) -> Result<String, Diagnostic> {
    let mut g = Gen::new(ctx, params, indices);
    let root = g.expr(e);
    if let Some(d) = g.missing.first() {
        return Err(Diagnostic::new(
            format!("cannot write NumPy code: no argument fixes the size `{d}`"),
            "",
        )
        .help(
            "the code reads every size from an argument's shape, and no argument has this one (e.g. a free `I` under `tr`)",
        ));
    }
    let mut out = String::from("import numpy as np\n\n\n");
    let mut args: Vec<String> = params.iter().map(|p| python_name(p)).collect();
    args.extend(g.index_names.iter().map(|(_, n)| n.clone()));
    let _ = writeln!(out, "def {name}({}):", args.join(", "));
    let _ = writeln!(
        out,
        "    \"\"\"{}",
        doc.replace('\\', "\\\\").replace('"', "'")
    );
    if !indices.is_empty() {
        let _ = writeln!(out, "\n    Indices are 0-based, as NumPy counts.");
    }
    let _ = writeln!(out, "    \"\"\"");
    for line in g.statements(root) {
        let _ = writeln!(out, "    {line}");
    }
    let _ = writeln!(out, "    return {}", g.render(root, 0));
    Ok(out)
}

/// Precedence of Python operators, loosest first.
const ADD: u8 = 1;
const MUL: u8 = 2;
const NEG: u8 = 3;
const POW: u8 = 4;
const ATOM: u8 = 5;

/// A piece of a node's code.
enum Piece {
    /// Literal code.
    Lit(String),
    /// Another node, parenthesised unless its level reaches the given one.
    Ref(usize, u8),
}

/// One value the function computes.
struct Node {
    pieces: Vec<Piece>,
    level: u8,
    uses: usize,
    /// Cheaper to recompute than to name (`X.T`).
    cheap: bool,
    /// Statements that build the value (`_K1`, `_E`), whose name is then
    /// the node's code.
    setup: Vec<String>,
}

/// What a node is hash-consed by.
#[derive(PartialEq, Eq, Hash)]
enum Key {
    Expr(Expr),
    Chain(Vec<Expr>),
    Dim(Dim),
}

struct Gen {
    nodes: Vec<Node>,
    memo: HashMap<Key, usize>,
    /// Python names of the parameters, by variable.
    names: HashMap<String, String>,
    /// Where each named size can be read: (parameter, axis).
    sizes: HashMap<Rc<str>, (String, usize)>,
    /// Named sizes no parameter carries.
    missing: Vec<String>,
    /// Index letters and their parameter names.
    index_names: Vec<(char, String)>,
}

impl Gen {
    fn new(ctx: &Context, params: &[String], indices: &[char]) -> Gen {
        let mut names = HashMap::new();
        let mut sizes = HashMap::new();
        for p in params {
            let py = python_name(p);
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
            names.insert(p.clone(), py);
        }
        let taken: Vec<String> = names.values().cloned().collect();
        let index_names = indices
            .iter()
            .map(|c| {
                let mut n = c.to_string();
                while taken.contains(&n) {
                    n.push('_');
                }
                (*c, n)
            })
            .collect();
        Gen {
            nodes: Vec::new(),
            memo: HashMap::new(),
            names,
            sizes,
            missing: Vec::new(),
            index_names,
        }
    }

    /// A node for `key`, built by `make` on first use.
    fn node(&mut self, key: Key, make: impl FnOnce(&mut Self) -> Node) -> usize {
        if let Some(&id) = self.memo.get(&key) {
            self.nodes[id].uses += 1;
            return id;
        }
        let node = make(self);
        let id = self.nodes.len();
        self.nodes.push(node);
        self.memo.insert(key, id);
        id
    }

    fn lit(level: u8, pieces: Vec<Piece>) -> Node {
        Node {
            pieces,
            level,
            uses: 1,
            cheap: false,
            setup: Vec::new(),
        }
    }

    /// Code for a size.
    fn dim(&mut self, d: &Dim) -> usize {
        self.node(Key::Dim(d.clone()), |g| {
            let mut parts: Vec<Piece> = Vec::new();
            if d.factor != 1 || d.names.is_empty() {
                parts.push(Piece::Lit(d.factor.to_string()));
            }
            let mut setup = Vec::new();
            for n in &d.names {
                if !parts.is_empty() {
                    parts.push(Piece::Lit(" * ".into()));
                }
                let local = format!("_{n}");
                match g.sizes.get(n) {
                    Some((p, axis)) => {
                        let line = format!("{local} = {p}.shape[{axis}]");
                        if d.names.len() == 1 && d.factor == 1 {
                            setup.push(line);
                        } else {
                            let id = g.dim(&Dim::named(n));
                            parts.push(Piece::Ref(id, ATOM));
                            continue;
                        }
                    }
                    None => g.missing.push(n.to_string()),
                }
                parts.push(Piece::Lit(local));
            }
            let level = if parts.len() > 1 { MUL } else { ATOM };
            Node {
                pieces: parts,
                level,
                uses: 1,
                cheap: true,
                setup,
            }
        })
    }

    /// `(rows, cols)` for `np.zeros`, `np.ones`, or one size for a vector.
    fn dims_arg(&mut self, s: &Shape) -> Vec<Piece> {
        if s.is_vector() || s.is_row() {
            let d = if s.is_vector() { &s.rows } else { &s.cols };
            vec![Piece::Ref(self.dim(d), MUL)]
        } else {
            let (r, c) = (self.dim(&s.rows), self.dim(&s.cols));
            vec![
                Piece::Lit("(".into()),
                Piece::Ref(r, MUL),
                Piece::Lit(", ".into()),
                Piece::Ref(c, MUL),
                Piece::Lit(")".into()),
            ]
        }
    }

    /// `prefix arg suffix`, the argument unparenthesised (it sits inside
    /// the call's own parentheses).
    fn wrap(prefix: &str, arg: usize, suffix: &str) -> Node {
        Gen::lit(
            ATOM,
            vec![
                Piece::Lit(prefix.into()),
                Piece::Ref(arg, 0),
                Piece::Lit(suffix.into()),
            ],
        )
    }

    fn call(name: &str, arg: usize) -> Node {
        Gen::wrap(&format!("{name}("), arg, ")")
    }

    fn constant(c: &BigRational) -> Node {
        if c.is_integer() {
            let level = if c.is_negative() { NEG } else { ATOM };
            Gen::lit(level, vec![Piece::Lit(format!("{}.0", c.to_integer()))])
        } else {
            Gen::lit(
                MUL,
                vec![Piece::Lit(format!("{} / {}", c.numer(), c.denom()))],
            )
        }
    }

    fn exponent(k: &BigRational) -> String {
        if k.is_integer() && !k.is_negative() {
            k.to_integer().to_string()
        } else if k.is_integer() {
            format!("({}.0)", k.to_integer())
        } else {
            format!("({} / {})", k.numer(), k.denom())
        }
    }

    /// The node computing `e`.
    fn expr(&mut self, e: &Expr) -> usize {
        crate::stack::grow(|| {
            if let Kind::Transpose(a) = e.kind()
                && (a.is_scalar() || a.shape().is_vector() || a.shape().is_row())
            {
                // a 1-D array is its own transpose
                return self.expr(a);
            }
            if let Some(&id) = self.memo.get(&Key::Expr(e.clone())) {
                self.nodes[id].uses += 1;
                return id;
            }
            let node = self.build(e);
            let id = self.nodes.len();
            self.nodes.push(node);
            self.memo.insert(Key::Expr(e.clone()), id);
            id
        })
    }

    fn build(&mut self, e: &Expr) -> Node {
        let s = e.shape();
        match e.kind() {
            Kind::Const(c) if c.is_zero() && !e.is_scalar() => {
                let mut p = vec![Piece::Lit("np.zeros(".into())];
                p.extend(self.dims_arg(s));
                p.push(Piece::Lit(")".into()));
                Gen::lit(ATOM, p)
            }
            Kind::Const(c) => Gen::constant(c),
            Kind::Var(v) => {
                let name = self
                    .names
                    .get(&**v)
                    .cloned()
                    .unwrap_or_else(|| python_name(v));
                Gen::lit(ATOM, vec![Piece::Lit(name)])
            }
            Kind::Identity if e.is_scalar() => Gen::lit(ATOM, vec![Piece::Lit("1.0".into())]),
            Kind::Identity => {
                let n = self.dim(&s.rows);
                Gen::call("np.eye", n)
            }
            Kind::Ones if e.is_scalar() => Gen::lit(ATOM, vec![Piece::Lit("1.0".into())]),
            Kind::Ones => {
                let mut p = vec![Piece::Lit("np.ones(".into())];
                p.extend(self.dims_arg(s));
                p.push(Piece::Lit(")".into()));
                Gen::lit(ATOM, p)
            }
            Kind::Commutation(p, q) => self.commutation(p, q),
            Kind::Unit(ix) => self.unit(ix, s),
            // a broadcast scalar whose matrix terms vanished: `s * np.ones(…)`
            Kind::Sum(terms) if !e.is_scalar() && terms.iter().all(Expr::is_scalar) => {
                let scalar = Expr::sum(terms.iter().cloned());
                let id = self.expr(&Expr::mul(&scalar, &Expr::ones(s.clone())));
                Gen::lit(self.nodes[id].level, vec![Piece::Ref(id, 0)])
            }
            Kind::Sum(terms) => self.sum(terms),
            Kind::Product(_) => self.product(e),
            Kind::Transpose(a) => {
                let leaf = matches!(a.kind(), Kind::Var(_));
                let a = self.expr(a);
                let mut n = Gen::lit(ATOM, vec![Piece::Ref(a, ATOM), Piece::Lit(".T".into())]);
                n.cheap = leaf;
                n
            }
            Kind::Inverse(a) if a.is_scalar() => {
                let a = self.expr(a);
                Gen::lit(MUL, vec![Piece::Lit("1.0 / ".into()), Piece::Ref(a, POW)])
            }
            Kind::Inverse(a) => {
                let a = self.expr(a);
                Gen::call("np.linalg.inv", a)
            }
            Kind::Power(a, k) if a.is_scalar() => self.power(a, k),
            Kind::Power(a, k) => {
                let a = self.expr(a);
                Gen::lit(
                    ATOM,
                    vec![
                        Piece::Lit("np.linalg.matrix_power(".into()),
                        Piece::Ref(a, 0),
                        Piece::Lit(format!(", {})", k.to_integer())),
                    ],
                )
            }
            Kind::HadamardPow(a, k) => self.power(a, k),
            Kind::Hadamard(a, b) => self.binary(a, " * ", b),
            Kind::HadamardDiv(a, b) => self.binary(a, " / ", b),
            Kind::Kron(a, b) => self.kron(e, a, b),
            Kind::Apply(f, a) => self.apply(*f, a),
        }
    }

    fn power(&mut self, a: &Expr, k: &BigRational) -> Node {
        let a = self.expr(a);
        Gen::lit(
            POW,
            vec![
                Piece::Ref(a, ATOM),
                Piece::Lit(format!(" ** {}", Gen::exponent(k))),
            ],
        )
    }

    fn binary(&mut self, a: &Expr, op: &str, b: &Expr) -> Node {
        let (a, b) = (self.expr(a), self.expr(b));
        Gen::lit(
            MUL,
            vec![
                Piece::Ref(a, MUL),
                Piece::Lit(op.into()),
                Piece::Ref(b, POW),
            ],
        )
    }

    /// `np.kron` on 2-D operands (a 1-D operand becomes a column or a row,
    /// as its shape says), flattened again when the result is a vector.
    fn kron(&mut self, e: &Expr, a: &Expr, b: &Expr) -> Node {
        let both_columns = a.shape().is_vector() && b.shape().is_vector();
        let both_rows = a.shape().is_row() && b.shape().is_row();
        let arg = |g: &mut Self, x: &Expr| -> Vec<Piece> {
            let id = g.expr(x);
            let s = x.shape();
            let suffix = if both_columns || both_rows || x.is_scalar() {
                ""
            } else if s.is_vector() {
                "[:, None]"
            } else if s.is_row() {
                "[None, :]"
            } else {
                ""
            };
            let need = if suffix.is_empty() { 0 } else { ATOM };
            vec![Piece::Ref(id, need), Piece::Lit(suffix.into())]
        };
        let mut p = vec![Piece::Lit("np.kron(".into())];
        p.extend(arg(self, a));
        p.push(Piece::Lit(", ".into()));
        p.extend(arg(self, b));
        p.push(Piece::Lit(")".into()));
        let s = e.shape();
        if (s.is_vector() || s.is_row()) && !(both_columns || both_rows) {
            p.push(Piece::Lit(".ravel()".into()));
        }
        Gen::lit(ATOM, p)
    }

    fn apply(&mut self, f: Func, a: &Expr) -> Node {
        use crate::builtins::Code;
        let scalar = a.is_scalar();
        let id = self.expr(a);
        let call = |name: &str| Gen::call(name, id);
        // the function is the identity on this operand
        let same = Gen::lit(ATOM, vec![Piece::Ref(id, 0)]).with_level(self.nodes[id].level);
        let vector = a.shape().is_vector() || a.shape().is_row();
        match f {
            Func::Tr | Func::Diag | Func::Vec | Func::Sum if scalar => same,
            Func::Vec if vector => same,
            _ => match f.row().numpy {
                Code::Call(name) => call(name),
                Code::Wrap(before, after) => Gen::wrap(before, id, after),
                Code::Arith(before, after) => Gen::lit(
                    MUL,
                    vec![
                        Piece::Lit(before.into()),
                        Piece::Ref(id, POW),
                        Piece::Lit(after.into()),
                    ],
                ),
            },
        }
    }

    /// The commutation matrix, built by a loop into `_K<id>`.
    fn commutation(&mut self, p: &Dim, q: &Dim) -> Node {
        let (pi, qi) = (self.dim(p), self.dim(q));
        let (ps, qs) = (self.render(pi, POW), self.render(qi, POW));
        let name = format!("_K{}", self.nodes.len());
        Node {
            pieces: vec![Piece::Lit(name.clone())],
            level: ATOM,
            uses: 1,
            cheap: true,
            setup: vec![
                format!("{name} = np.zeros(({ps} * {qs}, {ps} * {qs}))"),
                format!("for _a in range({ps}):"),
                format!("    for _b in range({qs}):"),
                format!("        {name}[_b + _a * {qs}, _a + _b * {ps}] = 1.0"),
            ],
        }
    }

    /// The unit matrix `E_ij` (or vector `e_i`), built into `_E`.
    fn unit(&mut self, ix: &str, s: &Shape) -> Node {
        let dims = self.dims_arg(s);
        let shape: String = dims.iter().map(|p| self.piece(p)).collect();
        let at: Vec<String> = ix
            .chars()
            .map(|c| {
                self.index_names
                    .iter()
                    .find(|(l, _)| *l == c)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_else(|| c.to_string())
            })
            .collect();
        let name = format!("_E{}", self.nodes.len());
        Node {
            pieces: vec![Piece::Lit(name.clone())],
            level: ATOM,
            uses: 1,
            cheap: true,
            setup: vec![
                format!("{name} = np.zeros({shape})"),
                format!("{name}[{}] = 1.0", at.join(", ")),
            ],
        }
    }

    fn sum(&mut self, terms: &[Expr]) -> Node {
        let mut pieces = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            let (coeff, _, _) = t.split_product();
            let (neg, t) = if coeff.is_negative() {
                (true, Expr::neg(t))
            } else {
                (false, t.clone())
            };
            let id = self.expr(&t);
            match (i, neg) {
                (0, false) => pieces.push(Piece::Ref(id, ADD)),
                (0, true) => {
                    pieces.push(Piece::Lit("-".into()));
                    pieces.push(Piece::Ref(id, NEG));
                }
                (_, neg) => {
                    pieces.push(Piece::Lit(if neg { " - " } else { " + " }.into()));
                    pieces.push(Piece::Ref(id, MUL));
                }
            }
        }
        Gen::lit(ADD, pieces)
    }

    /// coefficient × scalar factors × the chain / denominators.
    fn product(&mut self, e: &Expr) -> Node {
        let (coeff, scalars, chain) = e.split_product();
        let mut pieces: Vec<Piece> = Vec::new();
        let push = |pieces: &mut Vec<Piece>, op: &str, id: usize| {
            if !pieces.is_empty() {
                pieces.push(Piece::Lit(op.into()));
                pieces.push(Piece::Ref(id, POW));
            } else {
                pieces.push(Piece::Ref(id, MUL));
            }
        };
        let neg = coeff.is_negative();
        let c = coeff.abs();
        if !c.is_one() {
            let id = self.node(Key::Expr(Expr::constant(c.clone())), |_| Gen::constant(&c));
            push(&mut pieces, " * ", id);
        }
        let mut dens = Vec::new();
        for f in &scalars {
            match f.kind() {
                Kind::Power(base, k) if k.is_negative() => dens.push((base.clone(), -k)),
                _ => {
                    let id = self.expr(f);
                    push(&mut pieces, " * ", id);
                }
            }
        }
        if !chain.is_empty() {
            let id = self.chain(&chain);
            push(&mut pieces, " * ", id);
        }
        if pieces.is_empty() {
            pieces.push(Piece::Lit("1.0".into()));
        }
        for (base, k) in dens {
            let d = if k.is_one() {
                base
            } else {
                Expr::power(&base, &k)
            };
            let id = self.expr(&d);
            pieces.push(Piece::Lit(" / ".into()));
            pieces.push(Piece::Ref(id, POW));
        }
        let level = if pieces.len() == 1 {
            match pieces[0] {
                Piece::Ref(id, _) => self.nodes[id].level.max(MUL),
                Piece::Lit(_) => ATOM,
            }
        } else {
            MUL
        };
        if neg {
            let inner = self.nodes.len();
            self.nodes.push(Gen::lit(level, pieces));
            return Gen::lit(NEG, vec![Piece::Lit("-".into()), Piece::Ref(inner, NEG)]);
        }
        Gen::lit(level, pieces)
    }

    /// A matrix chain, split where the estimated cost is least.
    fn chain(&mut self, fs: &[Expr]) -> usize {
        if fs.len() == 1 {
            return self.expr(&fs[0]);
        }
        if let Some(&id) = self.memo.get(&Key::Chain(fs.to_vec())) {
            self.nodes[id].uses += 1;
            return id;
        }
        let split = best_split(fs);
        let (l, r) = (self.chain(&fs[..split]), self.chain(&fs[split..]));
        let left = product_shape(&fs[..split]);
        let right = product_shape(&fs[split..]);
        let node = if left.is_scalar() || right.is_scalar() {
            Gen::lit(
                MUL,
                vec![
                    Piece::Ref(l, MUL),
                    Piece::Lit(" * ".into()),
                    Piece::Ref(r, POW),
                ],
            )
        } else if left.cols.is_one() {
            Gen::lit(
                ATOM,
                vec![
                    Piece::Lit("np.outer(".into()),
                    Piece::Ref(l, 0),
                    Piece::Lit(", ".into()),
                    Piece::Ref(r, 0),
                    Piece::Lit(")".into()),
                ],
            )
        } else {
            Gen::lit(
                MUL,
                vec![
                    Piece::Ref(l, MUL),
                    Piece::Lit(" @ ".into()),
                    Piece::Ref(r, POW),
                ],
            )
        };
        let id = self.nodes.len();
        self.nodes.push(node);
        self.memo.insert(Key::Chain(fs.to_vec()), id);
        id
    }

    fn piece(&self, p: &Piece) -> String {
        match p {
            Piece::Lit(s) => s.clone(),
            Piece::Ref(id, need) => self.render(*id, *need),
        }
    }

    /// Whether a node is bound to a name rather than written inline.
    fn named(&self, id: usize) -> bool {
        let n = &self.nodes[id];
        n.uses > 1 && !n.cheap && (n.level < ATOM || n.pieces.len() > 1)
    }

    /// A node's code where the context needs at least `need`.
    fn render(&self, id: usize, need: u8) -> String {
        if self.named(id) {
            return format!("_t{id}");
        }
        let n = &self.nodes[id];
        let code: String = n.pieces.iter().map(|p| self.piece(p)).collect();
        if n.level < need {
            format!("({code})")
        } else {
            code
        }
    }

    /// Setup statements and temporaries the root needs, in order.
    fn statements(&self, root: usize) -> Vec<String> {
        let mut out = Vec::new();
        for (id, n) in self.nodes.iter().enumerate() {
            out.extend(n.setup.iter().cloned());
            if id != root && self.named(id) {
                let code: String = n.pieces.iter().map(|p| self.piece(p)).collect();
                out.push(format!("_t{id} = {code}"));
            }
        }
        out
    }
}

impl Node {
    fn with_level(mut self, level: u8) -> Node {
        self.level = level;
        self
    }
}

/// The shape of a product of a chain segment.
fn product_shape(fs: &[Expr]) -> Shape {
    Shape::new(
        fs[0].shape().rows.clone(),
        fs[fs.len() - 1].shape().cols.clone(),
    )
}

/// A size for cost estimates: 1 is 1, a literal is itself, a named size is
/// taken as large.
fn estimate(d: &Dim) -> f64 {
    d.factor as f64 * 100f64.powi(d.names.len() as i32)
}

/// Where to split a chain so that the total cost of the products is least
/// (the matrix-chain dynamic program; long chains split in the middle of
/// their cheapest left-to-right order instead).
fn best_split(fs: &[Expr]) -> usize {
    let n = fs.len();
    let dims: Vec<f64> = std::iter::once(estimate(&fs[0].shape().rows))
        .chain(fs.iter().map(|f| estimate(&f.shape().cols)))
        .collect();
    if n > 64 {
        return 1;
    }
    // cost[i][j]: cheapest product of fs[i..=j]; split[i][j]: where
    let mut cost = vec![vec![0f64; n]; n];
    let mut split = vec![vec![0usize; n]; n];
    for len in 2..=n {
        for i in 0..=n - len {
            let j = i + len - 1;
            cost[i][j] = f64::INFINITY;
            for k in i..j {
                let c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1];
                // ties go to the later split: left to right, as written
                if c <= cost[i][j] {
                    cost[i][j] = c;
                    split[i][j] = k + 1;
                }
            }
        }
    }
    split[0][n - 1]
}
