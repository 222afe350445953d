//! `Ast` → `Expr`: kinds from names and declarations, shapes by
//! unification, the `Expr` itself, and checks on readings that are guesses.
//!
//! Lowering is split by job, one file each, which [`lower`] runs in turn:
//!
//! - `declare`: the `where` clause, read and checked on its own;
//! - `infer`: every name and every `I`, `ones`, `E_ij` gets a shape with
//!   size variables, unified operator by operator; clashes are reported
//!   with both operands labelled;
//! - `build`: the `Expr`, through the smart constructors, with the shapes
//!   resolved;
//! - `lint`: refusals of likely misreadings (`AX` for `A X`, an unknown
//!   function) and of what folding constants reveals; each check runs
//!   once its data is ready (glued names before `infer`, number sizes
//!   after it, folding after `build`);
//! - `guess`: readings that are guesses (a Greek name read as a vector in
//!   `x - mu`, an unknown word before `(` refused): it runs the passes
//!   again with other kinds for undeclared names, and every guess it
//!   takes becomes a note in the context.
//!
//! `infer` hands `build` an `Inferred`: the resolved unifier, the symbols,
//! and the shapes of the nodes whose `Expr` cannot be built from their
//! operands alone (`I`, `ones`, `E_ij`, `e_i`), recorded per node, keyed
//! by the node's identity. `build` therefore reads what it needs and may
//! visit the tree in any order; it cannot change what was inferred (it
//! holds `Inferred` shared). Keeping the passes apart keeps `Expr` free of
//! unresolved variables.

mod build;
mod declare;
mod guess;
mod infer;
mod lint;
pub(crate) use lint::{glued_guesses, glued_words};

use crate::ast::{Ast, AstKind, BinOp, Parsed};
use crate::expr::Expr;
use crate::shape::Shape;
use crate::span::Diagnostic;
use num_rational::BigRational;
use num_traits::Zero;
use std::collections::{BTreeMap, BTreeSet};

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
    /// error stream and JSON's `notes` (see `lower/guess.rs`).
    pub notes: Vec<String>,
}

impl Context {
    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&VarInfo> {
        self.vars.get(name)
    }

    /// Reads the input's own `dX` as an ordinary variable of `X`'s shape
    /// when differentiating with respect to `X`: it does not vary with `X`
    /// and is not the direction (which then takes another name), so its
    /// value is drawn like any other variable's when checking.
    pub fn free_differential(&mut self, var: &str) {
        if let Some(info) = self.vars.get_mut(&format!("d{var}"))
            && info.differential_of.as_deref() == Some(var)
        {
            info.differential_of = None;
        }
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
    /// Its variables (with the notes on guessed readings).
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
///
/// A differential `dX` has its variable's kind even where the variable
/// itself does not appear (a printed `tr(dX)` reads back with `dX` a
/// matrix, `dalpha` a scalar).
pub fn conventional_kind(name: &str) -> VarKind {
    if is_greek_name(name) {
        VarKind::Scalar
    } else if let Some(base) = name.strip_prefix('d')
        && base
            .chars()
            .next()
            .is_some_and(|c| c.is_uppercase() || !c.is_ascii())
    {
        conventional_kind(base)
    } else if let Some(base) = name.strip_prefix('d')
        && is_greek_name(base)
    {
        VarKind::Scalar
    } else if name.chars().next().is_some_and(|c| c.is_uppercase()) {
        VarKind::Matrix
    } else {
        VarKind::Vector
    }
}

/// Lowers a parsed input to an `Expr` with its variables.
///
/// A name the input does not declare takes its conventional kind (SPEC
/// §2) unless that makes no sense in its context: then it takes the kind
/// the context needs, and the context's `notes` say so (see `guess`).
pub fn lower(parsed: &Parsed, src: &str) -> Result<Lowered, Diagnostic> {
    guess::lower_guessing(parsed, src, &Overrides::new(), None)
}

/// Lowers as [`lower`] does, with the shape of the whole expression known
/// beforehand (a claimed derivative has the derivative's shape): the
/// expression's shape is unified with `expect` before the sizes that
/// nothing else fixes are settled, so the free sizes of `I`, `ones`,
/// `E_ij` and commutation matrices take the expected sizes rather than
/// fresh names (or 1). A shape that cannot be unified is left for the
/// caller to report, with both shapes in its words.
pub fn lower_expecting(parsed: &Parsed, src: &str, expect: &Shape) -> Result<Lowered, Diagnostic> {
    guess::lower_guessing(parsed, src, &Overrides::new(), Some(expect))
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

/// The passes, with the kinds in `overrides` for undeclared names; also
/// returns the undeclared conventional scalars that were broadcast over a
/// vector or a matrix, with the kind of what they were broadcast over.
pub(crate) fn lower_with(
    parsed: &Parsed,
    src: &str,
    overrides: &Overrides,
    expect: Option<&Shape>,
) -> Result<(Lowered, Vec<(String, VarKind)>), Diagnostic> {
    let declared = declare::declare(&parsed.decls, src)?;
    let mut used = BTreeSet::new();
    collect_names(&parsed.expr, &mut used);
    lint::check_glued(&parsed.expr, src, &used, &declared)?;
    let mut inferred = infer::infer(parsed, src, &declared, &used, overrides, expect)?;
    lint::check_number_sizes(&parsed.expr, src)?;
    let expr = build::build(&parsed.expr, &inferred);
    lint::check_folded(&expr, src)?;
    let broadcasts = inferred.take_broadcasts();
    let settled = settled_constants(&parsed.expr, src, &inferred);
    let mut context = inferred.into_context();
    context.notes.extend(settled);
    for (name, product) in lint::glued_guesses(parsed) {
        context.notes.push(lint::glued_words(&name, &product));
    }
    Ok((Lowered { expr, context }, broadcasts))
}

/// Notes for the `vector(c)` and `matrix(c)` whose sizes nothing in the
/// input fixes, so that they are 1 (SPEC §2) and the constant is the
/// scalar `c`: the user wrote a vector, and the answer is a scalar, so
/// it says so, with how to give a length.
fn settled_constants(ast: &Ast, src: &str, inferred: &infer::Inferred) -> Vec<String> {
    use crate::builtins::Signature;
    let mut notes = Vec::new();
    let mut stack = vec![ast];
    while let Some(a) = stack.pop() {
        if let AstKind::Call { func, args, .. } = &a.kind {
            let sig = func.row().signature;
            if matches!(sig, Signature::ScalarToVector | Signature::ScalarToMatrix) {
                let shape = inferred.node_shape(a);
                let c = args.first().map_or("c", |x| &src[x.span.start..x.span.end]);
                let text = &src[a.span.start..a.span.end];
                let c = if c.chars().all(|ch| ch.is_alphanumeric() || ch == '_') {
                    c.to_string()
                } else {
                    format!("({c})")
                };
                // a size fixed to 1 by the input itself is rare (`x + vector(c)
                // where x: 1`); a 1×1 constant almost always took the default
                if shape.is_scalar() {
                    let (what, write) = if sig == Signature::ScalarToVector {
                        (
                            "length",
                            format!("a vector of length n write `{c} ones(n)`"),
                        )
                    } else {
                        (
                            "size",
                            format!("an n×m matrix write `{c} ones(n) ones(m)^T`"),
                        )
                    };
                    notes.push(format!(
                        "nothing fixes the {what} of `{text}`, so it is 1 (a size nothing fixes is 1) and `{text}` is the scalar {c}; for {write}"
                    ));
                }
            }
        }
        push_operands(a, &mut stack);
    }
    notes
}

/// The shapes inference gives the bare `ones` of the expression (not
/// `ones(n)`), in the order of the text, with no other reading tried: for
/// telling whether a printed `ones` reads back with its size.
pub fn ones_shapes(parsed: &Parsed, src: &str) -> Result<Vec<Shape>, Diagnostic> {
    let declared = declare::declare(&parsed.decls, src)?;
    let mut used = BTreeSet::new();
    collect_names(&parsed.expr, &mut used);
    let inferred = infer::infer(parsed, src, &declared, &used, &Overrides::new(), None)?;
    let mut found = Vec::new();
    let mut stack = vec![&parsed.expr];
    while let Some(a) = stack.pop() {
        if matches!(&a.kind, AstKind::Ident(n) if n == "ones") {
            found.push(a);
        }
        push_operands(a, &mut stack);
    }
    found.sort_by_key(|a| a.span.start);
    Ok(found.into_iter().map(|a| inferred.node_shape(a)).collect())
}

/// Every name used in the expression.
pub(crate) fn collect_names(ast: &Ast, out: &mut BTreeSet<String>) {
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
        AstKind::Call { func, .. } if func.row().signature.takes_sizes() => {}
        AstKind::Call { args, .. } => stack.extend(args.iter()),
        AstKind::Neg(x) | AstKind::Group(x) => stack.push(x),
        AstKind::Binary { lhs, rhs, .. } => {
            stack.push(lhs);
            stack.push(rhs);
        }
        AstKind::Postfix { arg, .. } => stack.push(arg),
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

/// The names of sizes in calls such as `commutation(n, m)` and `ones(n)`, added to `out`
/// (so that inferred sizes take other names).
fn size_names(ast: &Ast, out: &mut Vec<String>) {
    let mut stack = vec![ast];
    while let Some(a) = stack.pop() {
        if let AstKind::Call { func, args, .. } = &a.kind
            && func.row().signature.takes_sizes()
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
