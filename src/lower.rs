//! `Ast` → `Expr`: kinds from names and declarations, shape inference by
//! unification, and the lowering itself.
//!
//! Two passes over the tree. `infer` gives every name and every `I`/`E_ij`
//! a shape with size variables and unifies them, reporting clashes with
//! both operands labelled; `build` then walks the tree again and builds the
//! `Expr` through the smart constructors with the resolved shapes. Keeping
//! the passes apart keeps `Expr` free of unresolved variables.

use crate::ast::{Ast, AstKind, BinOp, Builtin, Decl, Parsed, PostOp};
use crate::builtins::{Meaning, NAMES as FUNCTION_NAMES, Signature};
use crate::expr::{Expr, rat};
use crate::shape::{Shape, TShape, Term, Unifier};
use crate::span::{Diagnostic, Span};
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::collections::{BTreeMap, BTreeSet};

mod guess;

/// Largest matrix power accepted (the differential of `X^k` has k terms).
pub const MAX_MATRIX_POWER: u32 = 64;

/// Largest numerator and denominator of a scalar or elementwise exponent
/// (exact evaluation raises rationals to it).
pub const MAX_EXPONENT: i64 = 1000;

/// Largest size, in bits, that the exact numbers of an expression may grow
/// to (about 30,000 decimal digits): constants multiply as they are folded,
/// and a power tower of small literals such as `33^33^4^44^42` has hundreds
/// of thousands of digits.
pub const MAX_NUMBER_BITS: u64 = 100_000;

/// What kind of thing a name denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarKind {
    /// 1×1
    Scalar,
    /// n×1
    Vector,
    /// p×q
    Matrix,
}

/// What is known about one variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarInfo {
    /// Its kind.
    pub kind: VarKind,
    /// Its shape.
    pub shape: Shape,
    /// Declared symmetric.
    pub symmetric: bool,
    /// Declared symmetric positive definite.
    pub spd: bool,
    /// For `dX`: the variable it is the differential of.
    pub differential_of: Option<String>,
}

/// The variables of an expression.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Every variable, by name.
    pub vars: BTreeMap<String, VarInfo>,
    /// Variable names in order of first appearance.
    pub order: Vec<String>,
    /// What the reading assumed where the naming convention did not fit
    /// (SPEC §2, "Reading what the user means"): one line each, for the
    /// error stream and JSON's `notes`.
    pub notes: Vec<String>,
}

impl Context {
    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&VarInfo> {
        self.vars.get(name)
    }

    /// The context with the direction `dir` of the variable `var` declared
    /// (unless it already is): it has the variable's shape and symmetry,
    /// so a direction of a symmetric variable is symmetric too.
    pub fn with_direction(&self, var: &str, dir: &str) -> Context {
        let mut ctx = self.clone();
        let info = self.vars[var].clone();
        ctx.vars.entry(dir.to_string()).or_insert(VarInfo {
            differential_of: Some(var.to_string()),
            spd: false,
            ..info
        });
        ctx
    }
}

/// An expression with its variables.
#[derive(Clone, Debug)]
pub struct Lowered {
    /// The expression.
    pub expr: Expr,
    /// Its variables.
    pub context: Context,
}

const GREEK: [&str; 24] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi",
    "psi", "omega",
];

/// Whether a name denotes a scalar by convention: a Greek name or letter,
/// optionally followed by digits or a subscript (`alpha2`, `σ_1`).
pub fn is_greek_name(name: &str) -> bool {
    let base = name.split('_').next().unwrap_or(name);
    let base = base.trim_end_matches(|c: char| c.is_ascii_digit());
    if GREEK.contains(&base) {
        return true;
    }
    let mut chars = base.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if ('α'..='ω').contains(&c))
}

/// The indices of a unit matrix name `E_ij`, or of a unit vector `e_i`.
pub fn unit_indices(name: &str) -> Option<(&str, bool)> {
    let (head, idx) = name.split_once('_')?;
    let letters = idx.chars().all(|c| c.is_ascii_lowercase());
    match head {
        "E" if letters && idx.chars().count() == 2 => Some((idx, true)),
        "e" if letters && idx.chars().count() == 1 => Some((idx, false)),
        _ => None,
    }
}

/// Whether a name is the identity matrix: `I`, or `eye` as
/// matrixcalculus.org (and MATLAB) write it.
pub fn is_identity(name: &str) -> bool {
    name == "I" || name == "eye"
}

/// The kind a name has by the naming convention of SPEC §2.
pub fn conventional_kind(name: &str) -> VarKind {
    if is_greek_name(name) {
        VarKind::Scalar
    } else if name.chars().next().is_some_and(|c| c.is_uppercase()) {
        VarKind::Matrix
    } else {
        VarKind::Vector
    }
}

struct Declared {
    kind: Option<VarKind>,
    symmetric: bool,
    spd: bool,
    dims: Vec<(String, Span)>,
    span: Span,
}

struct Symbol {
    shape: TShape,
    kind: VarKind,
    symmetric: bool,
    spd: bool,
    differential_of: Option<String>,
}

struct Lowerer<'a> {
    src: &'a str,
    unifier: Unifier,
    declared: BTreeMap<String, Declared>,
    dim_vars: BTreeMap<String, Term>,
    symbols: BTreeMap<String, Symbol>,
    order: Vec<String>,
    used: BTreeSet<String>,
    /// Shapes of `I`, `E_ij` occurrences, in traversal order.
    anonymous: Vec<TShape>,
    next_anonymous: usize,
    /// Kinds for undeclared names instead of the conventional ones.
    overrides: &'a Overrides,
    /// Undeclared conventional scalars broadcast over a vector or matrix,
    /// with the kind of what they were broadcast over.
    broadcasts: Vec<(String, VarKind)>,
}

/// Lowers a parsed input to an `Expr` with its variables.
///
/// A name the input does not declare takes its conventional kind (SPEC
/// §2) unless that makes no sense in its context: then it takes the kind
/// the context needs, and the context's `notes` say so (see [`guess`]).
pub fn lower(parsed: &Parsed, src: &str) -> Result<Lowered, Diagnostic> {
    guess::lower_guessing(parsed, src, &Overrides::new())
}

/// Lowers as [`lower`] does, for a command that needs a scalar (`grad`,
/// `hessian`): when the expression is not 1×1 but reading one undeclared
/// name in another kind makes it so (`c` in `x^T A x + c sin(y)^T x` a
/// scalar), that reading is taken, with a note. The variable `wrt` keeps its kind.
pub fn lower_scalar(parsed: &Parsed, src: &str, wrt: &str) -> Result<Lowered, Diagnostic> {
    guess::lower_scalar(parsed, src, wrt)
}

/// Kinds given to undeclared names instead of their conventional ones.
pub(crate) type Overrides = BTreeMap<String, VarKind>;

/// Lowers with the kinds in `overrides` for undeclared names; also returns
/// the undeclared conventional scalars that were broadcast over a vector
/// or a matrix, with the kind of what they were broadcast over.
pub(crate) fn lower_with(
    parsed: &Parsed,
    src: &str,
    overrides: &Overrides,
) -> Result<(Lowered, Vec<(String, VarKind)>), Diagnostic> {
    let mut used = BTreeSet::new();
    collect_names(&parsed.expr, &mut used);
    let mut reserved: Vec<String> = parsed
        .decls
        .iter()
        .flat_map(|d| d.dims.iter().map(|(n, _)| n.clone()))
        .collect();
    size_names(&parsed.expr, &mut reserved);
    let mut l = Lowerer {
        src,
        unifier: Unifier::new(reserved),
        declared: BTreeMap::new(),
        dim_vars: BTreeMap::new(),
        symbols: BTreeMap::new(),
        order: Vec::new(),
        used,
        anonymous: Vec::new(),
        next_anonymous: 0,
        overrides,
        broadcasts: Vec::new(),
    };
    l.declare(&parsed.decls)?;
    check_glued(&parsed.expr, src, &l.used, &l.declared)?;
    l.infer(&parsed.expr)?;
    // A size of `ones` (or `vector(c)`, `matrix(c)`) that nothing fixed is 1.
    l.unifier.settle();
    number_bits(&parsed.expr).map_err(|span| {
        Diagnostic::new(
            format!(
                "the numbers here grow too large: folded, they could take more than {} decimal digits",
                MAX_NUMBER_BITS * 3 / 10
            ),
            src,
        )
        .label(span, "too large a number")
        .help("powers of constants multiply their sizes; write a smaller exponent or keep the constant symbolic (a scalar name)")
    })?;
    let expr = l.build(&parsed.expr);
    check_folded(&expr, src)?;
    let mut context = Context::default();
    for name in &l.order {
        let s = &l.symbols[name];
        context.vars.insert(
            name.clone(),
            VarInfo {
                kind: s.kind,
                shape: l.unifier.shape(&s.shape),
                symmetric: s.symmetric,
                spd: s.spd,
                differential_of: s.differential_of.clone(),
            },
        );
    }
    context.order = l.order.clone();
    Ok((Lowered { expr, context }, l.broadcasts))
}

/// `AX` where `A` and `X` are used too is almost surely the product
/// `A X` with the space forgotten: an undeclared name that splits into
/// other names of the input is refused with that suggestion.
fn check_glued(
    ast: &Ast,
    src: &str,
    used: &BTreeSet<String>,
    declared: &BTreeMap<String, Declared>,
) -> Result<(), Diagnostic> {
    let mut stack = vec![ast];
    while let Some(a) = stack.pop() {
        match &a.kind {
            AstKind::Ident(n) if !declared.contains_key(n) && n.chars().count() > 1 => {
                let known: Vec<&str> = used
                    .iter()
                    .chain(declared.keys())
                    .map(String::as_str)
                    .filter(|m| m != n)
                    .collect();
                if let Some(parts) = split_into(n, &known) {
                    let product = parts.join(" ");
                    return Err(Diagnostic::new(format!("unknown name `{n}`"), src)
                        .label(a.span, format!("did you mean `{product}`?"))
                        .help(format!(
                            "a product needs a space: `{product}`; to use `{n}` as a name of its own, declare it: `where {n}: matrix`"
                        )));
                }
            }
            _ => {}
        }
        push_operands(a, &mut stack);
    }
    Ok(())
}

/// `name` as two or more of `known`, glued (the fewest pieces).
fn split_into(name: &str, known: &[&str]) -> Option<Vec<String>> {
    // best[i]: the fewest pieces covering name[..i], and the last piece.
    let mut best: Vec<Option<(usize, usize)>> = vec![None; name.len() + 1];
    best[0] = Some((0, 0));
    for i in 0..name.len() {
        let Some((count, _)) = best[i] else { continue };
        for k in known {
            let j = i + k.len();
            if name[i..].starts_with(k) && best[j].is_none_or(|(c, _)| count + 1 < c) {
                best[j] = Some((count + 1, i));
            }
        }
    }
    let (count, _) = best[name.len()]?;
    if count < 2 {
        return None;
    }
    let mut parts = Vec::new();
    let mut end = name.len();
    while end > 0 {
        let (_, start) = best[end]?;
        parts.push(name[start..end].to_string());
        end = start;
    }
    parts.reverse();
    Some(parts)
}

/// Refuses what folding made visible: a division by zero (the inverse of
/// a zero, a zero to a negative power, an elementwise division by zero),
/// and an exponent past its limit once nested powers multiply.
fn check_folded(e: &Expr, src: &str) -> Result<(), Diagnostic> {
    use crate::expr::Kind;
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        let bad = match x.kind() {
            Kind::Inverse(a) => a.is_zero(),
            Kind::Power(a, k) => a.is_zero() && k.is_negative(),
            Kind::HadamardDiv(_, b) => b.is_zero(),
            _ => false,
        };
        if bad {
            return Err(Diagnostic::new("division by zero", src).label(
                Span::new(0, src.len()),
                "a divisor here is identically zero",
            ));
        }
        // Nested powers multiply their exponents: `((X^2)^2)^2` is X^8, and
        // so is `((X^2)^T)^4` transposed.
        if let Kind::Power(a, k) = x.kind() {
            let limit = if a.is_scalar() {
                MAX_EXPONENT
            } else {
                MAX_MATRIX_POWER as i64
            };
            let k = &(k * inner_exponent(a));
            let limit = num_bigint::BigInt::from(limit);
            if k.numer().abs() > limit || *k.denom() > limit {
                return Err(Diagnostic::new(
                    format!("nested powers make an exponent too large ({k}; at most ±{limit})"),
                    src,
                )
                .label(Span::new(0, src.len()), "the powers multiply"));
            }
        }
        stack.extend(x.children());
    }
    Ok(())
}

/// The product of the exponents of the matrix powers nested under
/// transposes and inverses: 2 for `(X^2)^T`, 6 for `((X^3)^-1)^2`
/// (1 when there is none).
fn inner_exponent(a: &Expr) -> BigRational {
    use crate::expr::Kind;
    let mut k = BigRational::one();
    let mut x = a;
    loop {
        match x.kind() {
            Kind::Transpose(b) | Kind::Inverse(b) => x = b,
            Kind::Power(b, j) if !x.is_scalar() => {
                k *= j.abs();
                x = b;
            }
            _ => return k,
        }
    }
}

/// A name glued to `(` whose product makes no sense: most likely a
/// function matcalc does not have.
fn unknown_function(d: Diagnostic, name: &str, span: Span) -> Diagnostic {
    let aliases = [
        ("trace", "tr"),
        ("transpose", "^T"),
        ("inverse", "inv"),
        ("ln", "log"),
        ("logm", "logdet"),
        ("expm", "exp"),
    ];
    let suggestion = aliases
        .iter()
        .find(|(a, _)| *a == name)
        .map(|(_, f)| *f)
        .or_else(|| crate::span::nearest(name, &FUNCTION_NAMES));
    let d = match suggestion {
        Some("^T") => d.label(span, "write `X^T` for the transpose"),
        Some(f) => d.label(span, format!("did you mean `{f}`?")),
        None => d.label(span, "not a function"),
    };
    d.help(format!(
        "the functions are {}; `exp`, `log` and the like apply elementwise (`exp(A)` is not the matrix exponential)",
        FUNCTION_NAMES.join(", ")
    ))
}

fn collect_names(ast: &Ast, out: &mut BTreeSet<String>) {
    let mut stack = vec![ast];
    while let Some(a) = stack.pop() {
        if let AstKind::Ident(n) = &a.kind {
            out.insert(n.clone());
        }
        push_operands(a, &mut stack);
    }
}

/// Pushes a node's operands (not a power's exponent) for an iterative walk.
fn push_operands<'a>(a: &'a Ast, stack: &mut Vec<&'a Ast>) {
    match &a.kind {
        AstKind::Ident(_) | AstKind::Number(_) => {}
        // The arguments of `commutation(p, q)` are sizes, not names.
        AstKind::Call { func, .. } if func.row().signature == Signature::Sizes => {}
        AstKind::Call { args, .. } => stack.extend(args.iter()),
        AstKind::Neg(x) | AstKind::Group(x) => stack.push(x),
        AstKind::Binary { lhs, rhs, .. } => {
            stack.push(lhs);
            stack.push(rhs);
        }
        AstKind::Postfix { arg, .. } => stack.push(arg),
    }
}

/// The names of sizes in calls such as `commutation(n, m)`, added to `out`
/// (so that inferred sizes take other names).
fn size_names(ast: &Ast, out: &mut Vec<String>) {
    let mut stack = vec![ast];
    while let Some(a) = stack.pop() {
        if let AstKind::Call { func, args, .. } = &a.kind
            && func.row().signature == Signature::Sizes
        {
            let mut inner: Vec<&Ast> = args.iter().collect();
            while let Some(x) = inner.pop() {
                match &x.kind {
                    AstKind::Ident(n) => out.push(n.clone()),
                    AstKind::Group(y) => inner.push(y),
                    AstKind::Binary { lhs, rhs, .. } => {
                        inner.push(lhs);
                        inner.push(rhs);
                    }
                    _ => {}
                }
            }
        }
        push_operands(a, &mut stack);
    }
}

impl Lowerer<'_> {
    fn err(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(message, self.src)
    }

    fn text(&self, span: Span) -> String {
        let t = self.src.get(span.start..span.end).unwrap_or("").trim();
        if t.chars().count() > 40 {
            let cut: String = t.chars().take(37).collect();
            format!("{cut}…")
        } else {
            t.to_string()
        }
    }

    fn shape_text(&self, s: &TShape) -> String {
        self.unifier.shape(s).to_string()
    }

    fn declare(&mut self, decls: &[Decl]) -> Result<(), Diagnostic> {
        for d in decls {
            let mut kind = None;
            let (mut symmetric, mut spd) = (false, false);
            for (word, span) in &d.kinds {
                let k = match word.as_str() {
                    "scalar" => VarKind::Scalar,
                    "vector" => VarKind::Vector,
                    "matrix" => VarKind::Matrix,
                    "symmetric" => {
                        symmetric = true;
                        VarKind::Matrix
                    }
                    _ => {
                        symmetric = true;
                        spd = true;
                        VarKind::Matrix
                    }
                };
                if kind.is_some_and(|old| old != k) {
                    return Err(self
                        .err("contradictory kinds in one declaration")
                        .label(*span, "this kind contradicts an earlier one"));
                }
                kind = Some(k);
            }
            for (dim, span) in &d.dims {
                let words = ["symmetric", "spd", "scalar", "vector", "matrix"];
                if dim.len() >= 4
                    && let Some(w) = crate::span::nearest(dim, &words)
                {
                    return Err(self
                        .err(format!("`{dim}` is not a kind (nor, likely, a size)"))
                        .label(*span, format!("did you mean `{w}`?"))
                        .help(
                            "the kinds are symmetric, spd, scalar, vector and matrix; sizes are written `n`, `n x m` or `3 x 4`",
                        ));
                }
            }
            match (kind, d.dims.len()) {
                (Some(VarKind::Scalar), n) if n > 0 => {
                    return Err(self
                        .err("a scalar has no dimensions to declare")
                        .label(d.span, "remove the size or the word `scalar`"));
                }
                (Some(VarKind::Vector), 2) => {
                    return Err(self
                        .err("a vector has one dimension: write `y: n` or `y: vector`")
                        .label(d.span, "two dimensions given"));
                }
                (Some(VarKind::Matrix), 1) => {
                    return Err(self
                        .err("a matrix has two dimensions: write `X: n x m`")
                        .label(d.span, "one dimension given"));
                }
                _ => {}
            }
            let kind = kind.or(match d.dims.len() {
                1 => Some(VarKind::Vector),
                2 => Some(VarKind::Matrix),
                _ => None,
            });
            for (name, span) in &d.names {
                if self.declared.contains_key(name) {
                    return Err(self
                        .err(format!("`{name}` is declared twice"))
                        .label(*span, "second declaration"));
                }
                if unit_indices(name).is_some() || is_identity(name) || name == "ones" {
                    return Err(self
                        .err(format!("`{name}` is built in and cannot be declared"))
                        .label(*span, "built-in name"));
                }
                self.declared.insert(
                    name.clone(),
                    Declared {
                        kind,
                        symmetric,
                        spd,
                        dims: d.dims.clone(),
                        span: *span,
                    },
                );
            }
        }
        Ok(())
    }

    fn dim_term(&mut self, text: &str, span: Span) -> Result<Term, Diagnostic> {
        if text.chars().all(|c| c.is_ascii_digit()) {
            let n: u64 = text
                .parse()
                .ok()
                .filter(|&n| n > 0 && n <= 1 << 24)
                .ok_or_else(|| {
                    self.err("a dimension must be a whole number from 1 to 16777216")
                        .label(span, "this size")
                })?;
            return Ok(Term::lit(n));
        }
        if let Some(t) = self.dim_vars.get(text) {
            return Ok(t.clone());
        }
        let t = self.unifier.fresh(Some(text));
        self.dim_vars.insert(text.to_string(), t.clone());
        Ok(t)
    }

    /// A size written as an argument of `commutation(p, q)`: a name (`n`),
    /// a whole number, or their product (`n m`, `2 n`).
    fn size_term(&mut self, ast: &Ast) -> Result<Term, Diagnostic> {
        let t = match &ast.kind {
            AstKind::Ident(n) => self.dim_term(n, ast.span)?,
            AstKind::Number(c) if c.is_integer() => self.dim_term(&c.to_string(), ast.span)?,
            AstKind::Group(x) => self.size_term(x)?,
            AstKind::Binary {
                op: BinOp::Mul,
                lhs,
                rhs,
                ..
            } => {
                let (a, b) = (self.size_term(lhs)?, self.size_term(rhs)?);
                a.times(&b)
                    .ok_or_else(|| self.err("dimension too large").label(ast.span, "here"))?
            }
            _ => {
                return Err(self
                    .err("a size is a name such as `n`, a whole number, or their product")
                    .label(ast.span, "not a size"));
            }
        };
        Ok(t)
    }

    /// The symbol for a name, created on first sight.
    fn symbol(&mut self, name: &str) -> Result<TShape, Diagnostic> {
        if let Some(s) = self.symbols.get(name) {
            return Ok(s.shape.clone());
        }
        // `dX` is the differential of X when X is used or declared too.
        if let Some(base) = name.strip_prefix('d')
            && !base.is_empty()
            && !is_greek_name(name)
            && !self.declared.contains_key(name)
            && (self.used.contains(base) || self.declared.contains_key(base))
        {
            let shape = self.symbol(base)?;
            let b = &self.symbols[base];
            let sym = Symbol {
                shape: shape.clone(),
                kind: b.kind,
                symmetric: b.symmetric,
                spd: false,
                differential_of: Some(base.to_string()),
            };
            self.symbols.insert(name.to_string(), sym);
            self.order.push(name.to_string());
            return Ok(shape);
        }
        let (kind, symmetric, spd, dims) = match self.declared.get(name) {
            Some(d) => (
                d.kind.unwrap_or_else(|| conventional_kind(name)),
                d.symmetric,
                d.spd,
                d.dims.clone(),
            ),
            None => (
                self.overrides
                    .get(name)
                    .copied()
                    .unwrap_or_else(|| conventional_kind(name)),
                false,
                false,
                Vec::new(),
            ),
        };
        let shape = match (kind, dims.as_slice()) {
            (VarKind::Scalar, _) => TShape::scalar(),
            (VarKind::Vector, [(n, s)]) => TShape::new(self.dim_term(n, *s)?, Term::one()),
            (VarKind::Vector, _) => TShape::new(self.unifier.fresh(None), Term::one()),
            (VarKind::Matrix, [(r, rs), (c, cs)]) => {
                let shape = TShape::new(self.dim_term(r, *rs)?, self.dim_term(c, *cs)?);
                if symmetric && !self.unifier.unify(&shape.rows, &shape.cols) {
                    let span = self.declared[name].span;
                    return Err(self
                        .err(format!("`{name}` is declared symmetric but not square"))
                        .label(span, "a symmetric matrix must be n x n"));
                }
                shape
            }
            (VarKind::Matrix, _) => {
                let r = self.unifier.fresh(None);
                let c = if symmetric {
                    r.clone()
                } else {
                    self.unifier.fresh(None)
                };
                TShape::new(r, c)
            }
        };
        self.symbols.insert(
            name.to_string(),
            Symbol {
                shape: shape.clone(),
                kind,
                symmetric,
                spd,
                differential_of: None,
            },
        );
        self.order.push(name.to_string());
        Ok(shape)
    }

    fn square(&mut self, s: &TShape, what: &str, arg: &Ast) -> Result<(), Diagnostic> {
        if s.is_scalar() || self.unifier.unify(&s.rows, &s.cols) {
            return Ok(());
        }
        let shape = self.shape_text(s);
        Err(self
            .err(format!(
                "{what} needs a square matrix, but `{}` is {shape}",
                self.text(arg.span)
            ))
            .label(arg.span, shape))
    }

    /// Evaluates a constant exponent.
    fn exponent(&self, ast: &Ast) -> Result<BigRational, Diagnostic> {
        let k = const_value(ast).ok_or_else(|| {
            self.err("an exponent must be a constant number such as `2`, `-1` or `(1/2)`")
                .label(ast.span, "not a constant")
        })?;
        let limit = num_bigint::BigInt::from(MAX_EXPONENT);
        if k.numer().abs() > limit || *k.denom() > limit {
            return Err(self
                .err(format!(
                    "exponents are limited to ±{MAX_EXPONENT}, with denominators up to {MAX_EXPONENT}"
                ))
                .label(ast.span, "too large"));
        }
        Ok(k)
    }

    fn infer(&mut self, ast: &Ast) -> Result<TShape, Diagnostic> {
        crate::stack::grow(|| {
            match &ast.kind {
                AstKind::Number(_) => Ok(TShape::scalar()),
                AstKind::Ident(name) => {
                    if is_identity(name) {
                        let n = self.unifier.fresh(None);
                        let s = TShape::new(n.clone(), n);
                        self.anonymous.push(s.clone());
                        return Ok(s);
                    }
                    if name == "ones" {
                        let s = TShape::new(
                            self.unifier.fresh_flexible(),
                            self.unifier.fresh_flexible(),
                        );
                        self.anonymous.push(s.clone());
                        return Ok(s);
                    }
                    if let Some((_, matrix)) = unit_indices(name) {
                        let r = self.unifier.fresh(None);
                        let c = if matrix {
                            self.unifier.fresh(None)
                        } else {
                            Term::one()
                        };
                        let s = TShape::new(r, c);
                        self.anonymous.push(s.clone());
                        return Ok(s);
                    }
                    if Builtin::from_name(name).is_some() {
                        return Err(self
                            .err(format!("`{name}` is a function and needs parentheses"))
                            .label(ast.span, "a function name")
                            .help(format!("write `{name}(…)`")));
                    }
                    self.symbol(name)
                }
                AstKind::Group(x) => self.infer(x),
                AstKind::Neg(x) => self.infer(x),
                AstKind::Call { func, args, .. } => self.infer_call(*func, args, ast),
                AstKind::Binary { .. } => {
                    // Walk long chains iteratively: `A + A + ⋯` may have
                    // thousands of terms.
                    let (first, nodes) = spine(ast);
                    let mut acc = self.infer(first)?;
                    for node in nodes {
                        let AstKind::Binary {
                            op,
                            op_span,
                            lhs,
                            rhs,
                        } = &node.kind
                        else {
                            unreachable!("the spine holds binary nodes")
                        };
                        let b = self.infer(rhs)?;
                        acc = self.infer_binary(*op, *op_span, lhs, rhs, acc, b)?;
                    }
                    Ok(acc)
                }
                AstKind::Postfix { op, arg, .. } => {
                    let s = self.infer(arg)?;
                    let inverts = match op {
                        PostOp::Inverse | PostOp::InverseTranspose => true,
                        PostOp::Power(e) | PostOp::ElemPower(e) => {
                            const_value(e).is_some_and(|k| k.is_negative())
                        }
                        PostOp::Transpose => false,
                    };
                    if inverts && const_value(arg).is_some_and(|c| c.is_zero()) {
                        return Err(self
                            .err("division by zero: 0 to a negative power")
                            .label(arg.span, "this is 0"));
                    }
                    match op {
                        PostOp::Transpose => Ok(s.transpose()),
                        PostOp::Inverse | PostOp::InverseTranspose => {
                            self.square(&s, "the inverse", arg)?;
                            Ok(if matches!(op, PostOp::Inverse) {
                                s
                            } else {
                                s.transpose()
                            })
                        }
                        PostOp::Power(e) => {
                            let k = self.exponent(e)?;
                            if s.is_scalar() {
                                return Ok(s);
                            }
                            if !k.is_integer() {
                                return Err(self
                                    .err("a matrix can only be raised to an integer power")
                                    .label(e.span, "not an integer")
                                    .help("for an elementwise power write `.^`"));
                            }
                            if k.abs() > rat(MAX_MATRIX_POWER as i64) {
                                return Err(self
                                    .err(format!(
                                        "matrix powers are limited to ±{MAX_MATRIX_POWER}"
                                    ))
                                    .label(e.span, "too large"));
                            }
                            self.square(&s, "a matrix power", arg)?;
                            Ok(s)
                        }
                        PostOp::ElemPower(e) => {
                            self.exponent(e)?;
                            Ok(s)
                        }
                    }
                }
            }
        })
    }

    fn infer_call(
        &mut self,
        func: Builtin,
        args: &[Ast],
        call: &Ast,
    ) -> Result<TShape, Diagnostic> {
        crate::stack::grow(|| {
            if func.row().signature == Signature::Sizes {
                let p = self.size_term(&args[0])?;
                let q = self.size_term(&args[1])?;
                let n = p
                    .times(&q)
                    .ok_or_else(|| self.err("dimension too large").label(call.span, "here"))?;
                self.anonymous.push(TShape::new(p, q));
                return Ok(TShape::new(n.clone(), n));
            }
            let mut shapes = Vec::new();
            for a in args {
                shapes.push(self.infer(a)?);
            }
            let s = shapes[0].clone();
            let arg = &args[0];
            match func.row().signature {
                Signature::SquareToScalar => {
                    self.square(&s, &format!("`{}`", func.name()), arg)?;
                    Ok(TShape::scalar())
                }
                Signature::SquareToSquare => {
                    self.square(&s, &format!("`{}`", func.name()), arg)?;
                    Ok(s)
                }
                Signature::AnyToScalar => Ok(TShape::scalar()),
                Signature::Elementwise => Ok(s),
                Signature::Flatten => {
                    let rows = s
                        .rows
                        .times(&s.cols)
                        .ok_or_else(|| self.err("dimension too large").label(call.span, "here"))?;
                    Ok(TShape::new(rows, Term::one()))
                }
                Signature::Diag => {
                    let name = func.name();
                    let resolved =
                        TShape::new(self.unifier.resolve(&s.rows), self.unifier.resolve(&s.cols));
                    if resolved.is_scalar() {
                        return Err(self
                            .err(format!(
                                "`{name}` needs a vector or a square matrix, not a scalar"
                            ))
                            .label(arg.span, "1×1"));
                    }
                    if resolved.cols.is_one() {
                        return Ok(TShape::new(s.rows.clone(), s.rows));
                    }
                    self.square(&s, &format!("`{name}` of a matrix"), arg)?;
                    Ok(TShape::new(s.rows, Term::one()))
                }
                Signature::VectorToVector | Signature::VectorToScalar => {
                    if !self.unifier.unify(&s.cols, &Term::one()) {
                        let shape = self.shape_text(&s);
                        return Err(self
                            .err(format!(
                                "`{}` takes a vector, but `{}` is {shape}",
                                func.name(),
                                self.text(arg.span)
                            ))
                            .label(arg.span, shape)
                            .help("for a matrix, apply it to each column: `softmax(X e_j)`"));
                    }
                    Ok(if func.row().signature == Signature::VectorToVector {
                        s
                    } else {
                        TShape::scalar()
                    })
                }
                Signature::ScalarToVector | Signature::ScalarToMatrix => {
                    if !(self.unifier.settle_one(&s.rows) && self.unifier.settle_one(&s.cols)) {
                        let shape = self.shape_text(&s);
                        return Err(self
                            .err(format!(
                                "`{}(c)` takes a scalar, the value of every entry, but `{}` is {shape}",
                                func.name(),
                                self.text(arg.span)
                            ))
                            .label(arg.span, shape));
                    }
                    let rows = self.unifier.fresh_flexible();
                    let cols = if func.row().signature == Signature::ScalarToVector {
                        Term::one()
                    } else {
                        self.unifier.fresh_flexible()
                    };
                    let out = TShape::new(rows, cols);
                    self.anonymous.push(out.clone());
                    Ok(out)
                }
                Signature::Sizes => unreachable!("handled above"),
                Signature::Kron => {
                    let t = shapes[1].clone();
                    if s.is_scalar() {
                        return Ok(t);
                    }
                    if t.is_scalar() {
                        return Ok(s);
                    }
                    let big = || self.err("dimension too large").label(call.span, "here");
                    let rows = s.rows.times(&t.rows).ok_or_else(big)?;
                    let cols = s.cols.times(&t.cols).ok_or_else(big)?;
                    Ok(TShape::new(rows, cols))
                }
            }
        })
    }

    fn infer_binary(
        &mut self,
        op: BinOp,
        op_span: Span,
        lhs: &Ast,
        rhs: &Ast,
        a: TShape,
        b: TShape,
    ) -> Result<TShape, Diagnostic> {
        crate::stack::grow(|| {
            let clash = |me: &Self, verb: &str, why: &str| {
                let (sa, sb) = (me.shape_text(&a), me.shape_text(&b));
                let operand = |ast: &Ast, shape: &str| crate::span::Operand {
                    span: ast.span,
                    text: me.text(ast.span),
                    shape: shape.to_string(),
                };
                let detail = crate::span::Detail::ShapeClash {
                    verb: verb.to_string(),
                    left: operand(lhs, &sa),
                    right: operand(rhs, &sb),
                };
                me.err(format!(
                    "cannot {verb} `{}` ({sa}) and `{}` ({sb}){why}",
                    me.text(lhs.span),
                    me.text(rhs.span)
                ))
                .label(lhs.span, sa)
                .label(rhs.span, sb)
                .detail(detail)
            };
            if matches!(op, BinOp::Div | BinOp::HadamardDiv)
                && const_value(rhs).is_some_and(|c| c.is_zero())
            {
                return Err(self.err("division by zero").label(rhs.span, "this is 0"));
            }
            match op {
                BinOp::Add | BinOp::Sub | BinOp::Hadamard | BinOp::HadamardDiv => {
                    if a.is_scalar() || b.is_scalar() {
                        let (scalar, other) = if a.is_scalar() { (lhs, &b) } else { (rhs, &a) };
                        if matches!(op, BinOp::Add | BinOp::Sub) && !other.is_scalar() {
                            self.note_broadcast(scalar, other);
                        }
                        return Ok(if a.is_scalar() { b } else { a });
                    }
                    // A size of `ones` that can be 1 makes it a broadcast
                    // scalar when the shapes cannot otherwise agree.
                    let flexible = |me: &Self, t: &TShape| {
                        me.unifier.could_be_one(&t.rows) && me.unifier.could_be_one(&t.cols)
                    };
                    if flexible(self, &a) || flexible(self, &b) {
                        let saved = self.unifier.clone();
                        if self.unifier.unify_shapes(&a, &b) {
                            return Ok(a);
                        }
                        self.unifier = saved;
                        if flexible(self, &a) {
                            self.unifier.settle_one(&a.rows);
                            self.unifier.settle_one(&a.cols);
                            return Ok(b);
                        }
                        self.unifier.settle_one(&b.rows);
                        self.unifier.settle_one(&b.cols);
                        return Ok(a);
                    }
                    if self.unifier.unify_shapes(&a, &b) {
                        return Ok(a);
                    }
                    let verb = match op {
                        BinOp::Add => "add",
                        BinOp::Sub => "subtract",
                        _ => "combine elementwise",
                    };
                    Err(clash(self, verb, ": their shapes differ"))
                }
                BinOp::Mul => {
                    if a.is_scalar() {
                        return Ok(b);
                    }
                    if b.is_scalar() {
                        return Ok(a);
                    }
                    if self.unifier.unify(&a.cols, &b.rows) {
                        return Ok(TShape::new(a.rows, b.cols));
                    }
                    // `(ones^T x) A`: a side whose sizes can be 1 is a scalar
                    for (side, other) in [(&a, &b), (&b, &a)] {
                        if self.unifier.could_be_one(&side.rows)
                            && self.unifier.could_be_one(&side.cols)
                        {
                            self.unifier.settle_one(&side.rows);
                            self.unifier.settle_one(&side.cols);
                            return Ok(other.clone());
                        }
                    }
                    if let AstKind::Ident(name) = &lhs.kind
                        && self.src[lhs.span.end.min(self.src.len())..].starts_with('(')
                    {
                        return Err(unknown_function(
                            self.err(format!("unknown function `{name}`")),
                            name,
                            lhs.span,
                        ));
                    }
                    let (ca, rb) = (self.unifier.dim(&a.cols), self.unifier.dim(&b.rows));
                    let mut d = clash(
                        self,
                        "multiply",
                        &format!(
                            ": the left has {ca} column{}, the right {rb} row{}",
                            plural(&ca),
                            plural(&rb)
                        ),
                    );
                    if self.unifier.resolve(&a.cols).is_one()
                        && self.unifier.resolve(&b.rows) != Term::one()
                    {
                        d = d.help("an outer product is written `x y^T`; an inner product `x^T y`");
                    } else if self.unifier.resolve(&a.rows) == self.unifier.resolve(&b.rows)
                        && self.unifier.resolve(&a.cols).is_one()
                    {
                        d = d.help("did you mean to transpose one side?");
                    }
                    Err(d)
                }
                BinOp::Div => {
                    if b.is_scalar() {
                        return Ok(a);
                    }
                    let sb = self.shape_text(&b);
                    Err(self
                    .err(format!(
                        "division by a matrix is undefined: `{}` is {sb}",
                        self.text(rhs.span)
                    ))
                    .label(rhs.span, sb)
                    .help(format!(
                        "multiply by the inverse: write `{} {}^-1`, or divide elementwise with `./`",
                        self.text(lhs.span),
                        atom_text(&self.text(rhs.span))
                    )))
                }
                BinOp::Kron => {
                    if a.is_scalar() {
                        return Ok(b);
                    }
                    if b.is_scalar() {
                        return Ok(a);
                    }
                    let rows = a.rows.times(&b.rows);
                    let cols = a.cols.times(&b.cols);
                    match (rows, cols) {
                        (Some(r), Some(c)) => Ok(TShape::new(r, c)),
                        _ => Err(self.err("dimension too large").label(op_span, "here")),
                    }
                }
            }
        })
    }

    /// Records `scalar` (an operand 1×1, added to something of shape
    /// `other`) when it is a bare undeclared name that is a scalar only by
    /// convention: a broadcast the user most likely did not mean.
    fn note_broadcast(&mut self, scalar: &Ast, other: &TShape) {
        let mut x = scalar;
        while let AstKind::Group(y) | AstKind::Neg(y) = &x.kind {
            x = y;
        }
        if let AstKind::Ident(name) = &x.kind
            && !self.declared.contains_key(name)
            && !self.overrides.contains_key(name)
            && self
                .symbols
                .get(name)
                .is_some_and(|s| s.differential_of.is_none())
            && conventional_kind(name) == VarKind::Scalar
        {
            let kind = if self.unifier.resolve(&other.cols).is_one() {
                VarKind::Vector
            } else {
                VarKind::Matrix
            };
            if !self.broadcasts.iter().any(|(n, _)| n == name) {
                self.broadcasts.push((name.clone(), kind));
            }
        }
    }

    fn next_anonymous(&mut self) -> Shape {
        let s = self.unifier.shape(&self.anonymous[self.next_anonymous]);
        self.next_anonymous += 1;
        s
    }

    fn var_shape(&self, name: &str) -> Shape {
        self.unifier.shape(&self.symbols[name].shape)
    }

    fn build(&mut self, ast: &Ast) -> Expr {
        crate::stack::grow(|| {
            match &ast.kind {
                AstKind::Number(c) => Expr::constant(c.clone()),
                AstKind::Ident(name) => {
                    if is_identity(name) {
                        let s = self.next_anonymous();
                        return Expr::identity(s.rows);
                    }
                    if name == "ones" {
                        return Expr::ones(self.next_anonymous());
                    }
                    if let Some((idx, _)) = unit_indices(name) {
                        let s = self.next_anonymous();
                        return Expr::unit(idx, s);
                    }
                    Expr::var(name, self.var_shape(name))
                }
                AstKind::Group(x) => self.build(x),
                AstKind::Neg(x) => Expr::neg(&self.build(x)),
                AstKind::Call { func, .. } if func.row().meaning == Meaning::Commutation => {
                    let s = self.next_anonymous();
                    Expr::commutation(s.rows, s.cols)
                }
                AstKind::Call { func, args, .. } => {
                    let a = self.build(&args[0]);
                    match func.row().meaning {
                        Meaning::Apply(f) => Expr::apply(f, &a),
                        Meaning::Inverse => Expr::inverse(&a),
                        Meaning::Kron => {
                            let b = self.build(&args[1]);
                            Expr::kron(&a, &b)
                        }
                        Meaning::Fill => Expr::mul(&a, &Expr::ones(self.next_anonymous())),
                        Meaning::Commutation => unreachable!("built above"),
                    }
                }
                AstKind::Binary { .. } => {
                    // Sums and runs of products are built in one pass each, so
                    // long flat inputs take linear time.
                    let (first, nodes) = spine(ast);
                    let mut pending = vec![self.build(first)];
                    let mut additive = false;
                    for node in nodes {
                        let AstKind::Binary { op, rhs, .. } = &node.kind else {
                            unreachable!("the spine holds binary nodes")
                        };
                        let b = self.build(rhs);
                        match op {
                            BinOp::Add => {
                                additive = true;
                                pending.push(b);
                            }
                            BinOp::Sub => {
                                additive = true;
                                pending.push(Expr::neg(&b));
                            }
                            BinOp::Mul => pending.push(b),
                            BinOp::Div => pending.push(Expr::power(&b, &rat(-1))),
                            BinOp::Hadamard | BinOp::HadamardDiv | BinOp::Kron => {
                                let a = Expr::product(std::mem::take(&mut pending));
                                pending.push(match op {
                                    BinOp::Hadamard => Expr::hadamard(&a, &b),
                                    BinOp::HadamardDiv => Expr::hadamard_div(&a, &b),
                                    _ => Expr::kron(&a, &b),
                                });
                            }
                        }
                    }
                    if additive {
                        Expr::sum(pending)
                    } else {
                        Expr::product(pending)
                    }
                }
                AstKind::Postfix { op, arg, .. } => {
                    let a = self.build(arg);
                    match op {
                        PostOp::Transpose => Expr::transpose(&a),
                        PostOp::Inverse => Expr::inverse(&a),
                        PostOp::InverseTranspose => Expr::transpose(&Expr::inverse(&a)),
                        PostOp::Power(e) => Expr::power(&a, &const_value(e).expect("checked")),
                        PostOp::ElemPower(e) => {
                            Expr::hadamard_pow(&a, &const_value(e).expect("checked"))
                        }
                    }
                }
            }
        })
    }
}

/// The left spine of a chain of operators of one precedence level
/// (additive, or the product level): the innermost left operand, and the
/// binary nodes from the innermost out.
fn spine(ast: &Ast) -> (&Ast, Vec<&Ast>) {
    let additive = |op: &BinOp| matches!(op, BinOp::Add | BinOp::Sub);
    let AstKind::Binary { op, .. } = &ast.kind else {
        return (ast, Vec::new());
    };
    let class = additive(op);
    let mut nodes = Vec::new();
    let mut cur = ast;
    while let AstKind::Binary { op, lhs, .. } = &cur.kind {
        if additive(op) != class {
            break;
        }
        nodes.push(cur);
        cur = lhs;
    }
    nodes.reverse();
    (cur, nodes)
}

/// The value of a constant AST (numbers, `+ - * /`, unary minus, groups).
fn const_value(ast: &Ast) -> Option<BigRational> {
    crate::stack::grow(|| match &ast.kind {
        AstKind::Number(c) => Some(c.clone()),
        AstKind::Group(x) => const_value(x),
        AstKind::Neg(x) => Some(-const_value(x)?),
        AstKind::Binary { op, lhs, rhs, .. } => {
            let (a, b) = (const_value(lhs)?, const_value(rhs)?);
            match op {
                BinOp::Add => Some(a + b),
                BinOp::Sub => Some(a - b),
                BinOp::Mul => Some(a * b),
                BinOp::Div if !b.is_zero() => Some(a / b),
                _ => None,
            }
        }
        _ => None,
    })
}

/// An upper bound on the size in bits of the exact numbers the expression
/// can produce when its constants are folded and its products expanded:
/// literals count their bits, products and powers multiply (add and scale
/// sizes), sums add one bit. `Err` is the span of the smallest part whose
/// bound passes [`MAX_NUMBER_BITS`].
fn number_bits(ast: &Ast) -> Result<u64, Span> {
    crate::stack::grow(|| {
        let bits = match &ast.kind {
            AstKind::Number(c) => c.numer().bits() + c.denom().bits(),
            AstKind::Ident(_) => 0,
            AstKind::Call { args, .. } => {
                let mut total = 0u64;
                for a in args {
                    total = total.saturating_add(number_bits(a)?);
                }
                total
            }
            AstKind::Neg(x) | AstKind::Group(x) => number_bits(x)?,
            AstKind::Binary { op, lhs, rhs, .. } => {
                let (a, b) = (number_bits(lhs)?, number_bits(rhs)?);
                match op {
                    BinOp::Add | BinOp::Sub => a.max(b).saturating_add(1),
                    _ => a.saturating_add(b),
                }
            }
            AstKind::Postfix { op, arg, .. } => {
                let a = number_bits(arg)?;
                match op {
                    PostOp::Power(k) | PostOp::ElemPower(k) => {
                        let n = const_value(k).map_or(1, |k| {
                            u64::try_from(k.numer().abs()).unwrap_or(u64::MAX).max(1)
                        });
                        a.saturating_mul(n)
                    }
                    _ => a,
                }
            }
        };
        if bits > MAX_NUMBER_BITS {
            Err(ast.span)
        } else {
            Ok(bits)
        }
    })
}

fn plural(d: &crate::shape::Dim) -> &'static str {
    if d.is_one() { "" } else { "s" }
}

/// The text, parenthesised unless it is a plain name.
fn atom_text(t: &str) -> String {
    if t.chars().all(|c| c.is_alphanumeric() || c == '_') {
        t.to_string()
    } else {
        format!("({t})")
    }
}
