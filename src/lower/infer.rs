//! Shapes by unification: every name and every `I`, `ones`, `E_ij`, `e_i`
//! gets a shape with size variables, and each operator unifies its
//! operands' shapes or reports the clash with both operands labelled.
//!
//! The result, [`Inferred`], is all `build` needs: the unifier (to resolve
//! size variables), the symbols, and the shapes of the nodes whose `Expr`
//! cannot be built from their operands alone. Those shapes are recorded
//! per node, keyed by the node's address ([`NodeShapes`]), rather than
//! replayed in walk order: the address is unique for as long as the tree
//! is borrowed (which the record's lifetime enforces), costs nothing to
//! compute, needs no id in `Ast` (which both readers build) and, unlike a
//! span, cannot collide (`I` and `I^T` start at the same byte). Only those
//! few nodes are recorded, so the record costs nothing on inputs without
//! them; every other node's shape follows from its operands in `build`'s
//! smart constructors.

use super::declare::Declarations;
use super::{
    Context, MAX_EXPONENT, MAX_MATRIX_POWER, Overrides, VarInfo, VarKind, const_value,
    conventional_kind, is_greek_name, is_identity, lint, size_names, spine, unit_indices,
};
use crate::ast::{Ast, AstKind, BinOp, Builtin, Parsed, PostOp};
use crate::builtins::Signature;
use crate::expr::rat;
use crate::hash::FxHashMap;
use crate::shape::{Dim, Shape, TShape, Term, Unifier};
use crate::span::{Diagnostic, Span};
use num_rational::BigRational;
use num_traits::{Signed, Zero};
use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

/// A name's symbol: its shape with size variables, and what it is.
struct Symbol {
    shape: TShape,
    kind: VarKind,
    symmetric: bool,
    spd: bool,
    differential_of: Option<String>,
}

/// Shapes recorded per node of the tree borrowed for `'a`, keyed by the
/// node's address (never dereferenced: the pointer is only an identity).
pub(super) struct NodeShapes<'a> {
    shapes: FxHashMap<*const Ast, TShape>,
    tree: PhantomData<&'a Ast>,
}

impl<'a> NodeShapes<'a> {
    fn new() -> Self {
        NodeShapes {
            shapes: FxHashMap::default(),
            tree: PhantomData,
        }
    }

    /// Records the shape of `node`.
    fn record(&mut self, node: &'a Ast, shape: TShape) {
        self.shapes.insert(node as *const Ast, shape);
    }

    /// The shape recorded for `node`, if any.
    fn get(&self, node: &'a Ast) -> Option<&TShape> {
        self.shapes.get(&(node as *const Ast))
    }
}

/// What inference found, for `build` and for the context.
pub(super) struct Inferred<'a> {
    unifier: Unifier,
    symbols: BTreeMap<String, Symbol>,
    order: Vec<String>,
    nodes: NodeShapes<'a>,
    /// Undeclared conventional scalars broadcast over a vector or a
    /// matrix, with the kind of what they were broadcast over.
    broadcasts: Vec<(String, VarKind)>,
}

impl<'a> Inferred<'a> {
    /// The undeclared conventional scalars broadcast over a vector or a
    /// matrix (for `guess`), taken out.
    pub(super) fn take_broadcasts(&mut self) -> Vec<(String, VarKind)> {
        std::mem::take(&mut self.broadcasts)
    }

    /// The resolved shape of the variable `name`.
    pub(super) fn var_shape(&self, name: &str) -> Shape {
        self.unifier.shape(&self.symbols[name].shape)
    }

    /// The resolved shape of a node whose shape does not follow from its
    /// operands (`I`, `ones`, `E_ij`, `e_i`).
    pub(super) fn node_shape(&self, node: &'a Ast) -> Shape {
        let s = self
            .nodes
            .get(node)
            .expect("infer records the shape of every I, ones, E_ij and e_i");
        self.unifier.shape(s)
    }

    /// The variables, in order of first appearance, with resolved shapes.
    pub(super) fn into_context(self) -> Context {
        let mut vars = BTreeMap::new();
        for name in &self.order {
            let s = &self.symbols[name];
            vars.insert(
                name.clone(),
                VarInfo {
                    kind: s.kind,
                    shape: self.unifier.shape(&s.shape),
                    symmetric: s.symmetric,
                    spd: s.spd,
                    differential_of: s.differential_of.clone(),
                },
            );
        }
        Context {
            vars,
            order: self.order,
            notes: Vec::new(),
        }
    }
}

/// A size equation put off until more is known: two products of sizes
/// that could be made equal in more than one way (`r·s` and `m·p`), with
/// the error to report if they cannot (none for an expected shape).
type Deferred = (Term, Term, Option<Diagnostic>);

/// Inference in progress over a tree borrowed for `'a`.
struct Infer<'a, 'd> {
    /// Equations between products that are not yet determined, solved
    /// once the whole tree (and any expected shape) has been seen.
    deferred: Vec<Deferred>,
    src: &'d str,
    unifier: Unifier,
    declared: &'d Declarations,
    /// Every name used in the expression (`dX` is a differential only if
    /// `X` is used or declared).
    used: &'d BTreeSet<String>,
    dim_vars: BTreeMap<String, Term>,
    symbols: BTreeMap<String, Symbol>,
    order: Vec<String>,
    nodes: NodeShapes<'a>,
    /// Kinds for undeclared names instead of the conventional ones.
    overrides: &'d Overrides,
    /// See [`Inferred`]'s field of that name.
    broadcasts: Vec<(String, VarKind)>,
}

/// Infers the shapes of the expression of `parsed`.
pub(super) fn infer<'a>(
    parsed: &'a Parsed,
    src: &str,
    declared: &Declarations,
    used: &BTreeSet<String>,
    overrides: &Overrides,
    expect: Option<&Shape>,
) -> Result<Inferred<'a>, Diagnostic> {
    // The user's size names (declared, or written in `commutation(n, m)`)
    // are not handed out to inferred sizes.
    let mut reserved: Vec<String> = parsed
        .decls
        .iter()
        .flat_map(|d| d.dims.iter().map(|(n, _)| n.clone()))
        .collect();
    size_names(&parsed.expr, &mut reserved);
    // Nor are the names of its variables: a printed `ones(n)` or
    // `commutation(n, m)` must not spell a size with the name of a
    // variable `n` (SPEC §2: a built-in in the output never takes a name
    // the input uses for something else).
    reserved.extend(used.iter().cloned());
    if let Some(want) = expect {
        for d in [&want.rows, &want.cols] {
            reserved.extend(d.names.iter().map(|n| n.to_string()));
        }
    }
    let mut cx = Infer {
        src,
        unifier: Unifier::new(reserved),
        declared,
        used,
        dim_vars: BTreeMap::new(),
        symbols: BTreeMap::new(),
        order: Vec::new(),
        nodes: NodeShapes::new(),
        overrides,
        broadcasts: Vec::new(),
        deferred: Vec::new(),
    };
    let root = cx.infer(&parsed.expr)?;
    if let Some(want) = expect {
        // The expected shape's sizes are the declared names (`X: n x m`)
        // or their products; a failure is the caller's to report.
        let rows = cx.expected_term(&want.rows)?;
        let cols = cx.expected_term(&want.cols)?;
        cx.deferred.push((root.rows, rows, None));
        cx.deferred.push((root.cols, cols, None));
    }
    cx.solve_deferred()?;
    // A size of `ones` (or `vector(c)`, `matrix(c)`) that nothing fixed is 1.
    cx.unifier.settle();
    Ok(Inferred {
        unifier: cx.unifier,
        symbols: cx.symbols,
        order: cx.order,
        nodes: cx.nodes,
        broadcasts: cx.broadcasts,
    })
}

impl<'a> Infer<'a, '_> {
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

    /// Solves the deferred equations: every one that has become
    /// determined, again and again, and when none has, the first left in
    /// the order of the Kronecker products that built its sides.
    fn solve_deferred(&mut self) -> Result<(), Diagnostic> {
        let mut pending = std::mem::take(&mut self.deferred);
        while !pending.is_empty() {
            let i = pending
                .iter()
                .position(|(a, b, _)| self.unifier.determined(a, b))
                .unwrap_or(0);
            let (a, b, d) = pending.remove(i);
            let saved = self.unifier.clone();
            if !self.unifier.unify(&a, &b) {
                match d {
                    Some(d) => return Err(d),
                    None => self.unifier = saved,
                }
            }
        }
        Ok(())
    }

    /// The term of an expected dimension: its factor times its named sizes.
    fn expected_term(&mut self, d: &Dim) -> Result<Term, Diagnostic> {
        let mut t = Term::lit(d.factor);
        for name in &d.names {
            let v = self.dim_term(name, Span::new(0, 0))?;
            t = t.times(&v).ok_or_else(|| self.err("dimension too large"))?;
        }
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

    /// Whether `t` is 1×1, settling sizes that can be 1 (`ones^T x`) to 1.
    fn settle_scalar(&mut self, t: &TShape) -> bool {
        if t.is_scalar() {
            return true;
        }
        if self.unifier.could_be_one(&t.rows) && self.unifier.could_be_one(&t.cols) {
            self.unifier.settle_one(&t.rows);
            self.unifier.settle_one(&t.cols);
            return true;
        }
        false
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

    fn infer(&mut self, ast: &'a Ast) -> Result<TShape, Diagnostic> {
        crate::stack::grow(|| {
            match &ast.kind {
                AstKind::Number(_) => Ok(TShape::scalar()),
                AstKind::Ident(name) => {
                    if is_identity(name) {
                        let n = self.unifier.fresh(None);
                        let s = TShape::new(n.clone(), n);
                        self.nodes.record(ast, s.clone());
                        return Ok(s);
                    }
                    if name == "ones" {
                        let s = TShape::new(
                            self.unifier.fresh_flexible(),
                            self.unifier.fresh_flexible(),
                        );
                        self.nodes.record(ast, s.clone());
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
                        self.nodes.record(ast, s.clone());
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
                        PostOp::Power(e) if const_value(e).is_none() => {
                            // a^b with an exponent that varies: both scalars
                            let t = self.infer(e)?;
                            for (shape, side) in [(&s, &**arg), (&t, &**e)] {
                                if !self.settle_scalar(shape) {
                                    let text = self.shape_text(shape);
                                    let help = match &e.kind {
                                        // `x^Ty` for `x^T y`, `X^-Ty` for `X^-T y`
                                        _ if glued_after_transpose(e).is_some() => {
                                            let (op, what, rest) =
                                                glued_after_transpose(e).unwrap_or_default();
                                            format!(
                                                "for {what} times `{rest}` write a space: `{}{op} {rest}`",
                                                self.text(arg.span),
                                            )
                                        }
                                        _ => match &side.kind {
                                            AstKind::Ident(n) => format!(
                                                "for an elementwise power write `.^`; to mean a scalar, declare it: `where {n}: scalar`"
                                            ),
                                            _ => "for an elementwise power write `.^`".to_string(),
                                        },
                                    };
                                    return Err(self
                                        .err(format!(
                                            "a power with a variable exponent needs a scalar base and exponent, but `{}` is {text}",
                                            self.text(side.span)
                                        ))
                                        .label(side.span, text)
                                        .help(help));
                                }
                            }
                            Ok(TShape::scalar())
                        }
                        PostOp::ElemPower(e) if const_value(e).is_none() => {
                            // A .^ B entry by entry: shapes as for `.*`
                            let t = self.infer(e)?;
                            self.infer_binary(BinOp::Hadamard, e.span, arg, e, s, t)
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
        args: &'a [Ast],
        call: &'a Ast,
    ) -> Result<TShape, Diagnostic> {
        crate::stack::grow(|| {
            if func.row().signature == Signature::Size {
                let n = self.size_term(&args[0])?;
                let s = TShape::new(n, Term::one());
                self.nodes.record(call, s.clone());
                return Ok(s);
            }
            if func.row().signature == Signature::Sizes {
                let p = self.size_term(&args[0])?;
                let q = self.size_term(&args[1])?;
                let n = p
                    .times(&q)
                    .ok_or_else(|| self.err("dimension too large").label(call.span, "here"))?;
                self.nodes.record(call, TShape::new(p, q));
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
                Signature::SquareToSquare | Signature::MatrixFunction => {
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
                        let text = self.text(arg.span);
                        let column = if text.chars().all(|c| c.is_alphanumeric() || c == '_') {
                            format!("{text} e_j")
                        } else {
                            format!("({text}) e_j")
                        };
                        return Err(self
                            .err(format!(
                                "`{}` takes a vector, but `{}` is {shape}",
                                func.name(),
                                self.text(arg.span)
                            ))
                            .label(arg.span, shape)
                            .help(format!(
                                "for a matrix, apply it to one column: `{}({column})`",
                                func.name(),
                            )));
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
                    self.nodes.record(call, out.clone());
                    Ok(out)
                }
                Signature::Sizes | Signature::Size => unreachable!("handled above"),
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
                    let verb = match op {
                        BinOp::Add => "add",
                        BinOp::Sub => "subtract",
                        _ => "combine elementwise",
                    };
                    let (rows, cols) = (
                        self.unifier.determined(&a.rows, &b.rows),
                        self.unifier.determined(&a.cols, &b.cols),
                    );
                    if !(rows && cols) {
                        let d = clash(self, verb, ": their shapes differ");
                        for (x, y) in [(&a.rows, &b.rows), (&a.cols, &b.cols)] {
                            self.deferred.push((x.clone(), y.clone(), Some(d.clone())));
                        }
                        return Ok(a);
                    }
                    if self.unifier.unify_shapes(&a, &b) {
                        return Ok(a);
                    }
                    Err(clash(self, verb, ": their shapes differ"))
                }
                BinOp::Mul => {
                    if a.is_scalar() {
                        return Ok(b);
                    }
                    if b.is_scalar() {
                        return Ok(a);
                    }
                    if !self.unifier.determined(&a.cols, &b.rows) {
                        let (ca, rb) = (self.unifier.dim(&a.cols), self.unifier.dim(&b.rows));
                        let d = clash(
                            self,
                            "multiply",
                            &format!(": the left has {ca} columns, the right {rb} rows"),
                        );
                        self.deferred
                            .push((a.cols.clone(), b.rows.clone(), Some(d)));
                        return Ok(TShape::new(a.rows, b.cols));
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
                        return Err(lint::unknown_function(
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

/// The name glued after the `T` of a transpose in an exponent that was
/// read as a name (`x^Ty`, `X^-Ty`): the operator meant, its words, and
/// the name after it (`y`).
fn glued_after_transpose(e: &Ast) -> Option<(&'static str, &'static str, &str)> {
    let (op, what, name) = match &e.kind {
        AstKind::Ident(t) => ("^T", "a transpose", t),
        AstKind::Neg(inner) => match &inner.kind {
            AstKind::Ident(t) => ("^-T", "an inverse transpose", t),
            _ => return None,
        },
        _ => return None,
    };
    let rest = name.strip_prefix('T').filter(|r| !r.is_empty())?;
    Some((op, what, rest))
}
