//! `let` bindings: a name that stands for an expression in every later
//! command of a session (`let M = A X X^T A^T`, then `diff M wrt X_ij`).
//!
//! A bound name is replaced in the parsed tree, not in the text, so that
//! diagnostics still point into what the user typed: every node of the
//! substituted expression carries the span of the name it replaces, and a
//! shape clash inside a binding is reported at the name. The walks here
//! are iterative, since a long flat input is a deep tree.

use super::Session;
use crate::ast::{Ast, AstKind, PostOp};
use crate::parse::parse;
use crate::span::{Diagnostic, Span};

/// One `let` binding.
#[derive(Clone, Debug)]
pub(super) struct Binding {
    /// The bound name.
    pub name: String,
    /// The expression as typed.
    pub text: String,
    /// The expression's tree, with earlier bindings already substituted.
    pub ast: Ast,
    /// Its number of nodes (with the earlier bindings substituted).
    pub size: u64,
}

impl Session {
    /// Binds `name` to `expr` for every later command (`let M = A X`).
    ///
    /// The expression is parsed and shape-checked now, with the session's
    /// declarations; names bound earlier are replaced by their expressions
    /// (so `let M = M + A` extends the old `M`). A `where` clause in
    /// `expr` adds its declarations to the session.
    pub fn bind(&mut self, name: &str, expr: &str) -> Result<(), Diagnostic> {
        check_name(name)?;
        let parsed = parse(expr)?;
        let mut trial = self.clone();
        let text = match (parsed.decls.first(), parsed.decls.last()) {
            (Some(first), Some(last)) => {
                trial.declare(&expr[first.span.start..last.span.end])?;
                let head = expr[..first.span.start].trim_end();
                head.strip_suffix("where").unwrap_or(head).trim_end()
            }
            _ => expr.trim_end(),
        };
        let mut ast = parse(text)?.expr;
        // refused before anything is copied: `let p1 = p0 + p0`, … doubles
        let size = self.expanded_size(&ast);
        if size > crate::parse::MAX_BOUND_NODES {
            return Err(Diagnostic::new(
                format!(
                    "`{name}` would stand for more than {} nodes",
                    crate::parse::MAX_BOUND_NODES
                ),
                text,
            )
            .origin(crate::span::Origin::Let)
            .label(Span::new(0, text.len()), "too large once the bound names are expanded")
            .help("a binding that uses an earlier one twice doubles in size: bind a smaller expression"));
        }
        trial.lower(text, None)?;
        self.substitute(&mut ast, text)?;
        let text = text.trim().to_string();
        self.declarations = trial.declarations;
        self.bindings.retain(|b| b.name != name);
        self.bindings.push(Binding {
            name: name.to_string(),
            text,
            ast,
            size,
        });
        Ok(())
    }

    /// The bound names and their expressions as typed, in binding order.
    pub fn bindings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.bindings
            .iter()
            .map(|b| (b.name.as_str(), b.text.as_str()))
    }

    /// Whether `name` is bound by `let`.
    pub fn is_bound(&self, name: &str) -> bool {
        self.bindings.iter().any(|b| b.name == name)
    }

    /// A diagnostic whose carets fall on bound names says what they stand
    /// for (the carets point at the name, the trouble is inside).
    pub(super) fn explain_bound(&self, mut d: Diagnostic) -> Diagnostic {
        let mut said: Vec<String> = Vec::new();
        for l in &d.labels {
            let Some(text) = d.source.get(l.span.start..l.span.end) else {
                continue;
            };
            if let Some(b) = self.bindings.iter().find(|b| b.name == text) {
                let line = format!("`{}` stands for `{}`", b.name, b.text);
                if !said.contains(&line) {
                    said.push(line);
                }
            }
        }
        if !said.is_empty() {
            let mut help = said.join("; ");
            if let Some(h) = d.help.take() {
                help = format!("{h}; {help}");
            }
            d.help = Some(help);
        }
        d
    }

    /// The number of nodes of `root` with its bound names expanded.
    fn expanded_size(&self, root: &Ast) -> u64 {
        crate::parse::expanded_size(root, |n| {
            self.bindings.iter().find(|b| b.name == n).map(|b| b.size)
        })
    }

    /// Replaces every bound name in `root` by its expression, in
    /// parentheses, spanned at the name; refused when that would make
    /// more than [`crate::parse::MAX_BOUND_NODES`] nodes.
    pub(super) fn substitute(&self, root: &mut Ast, input: &str) -> Result<(), Diagnostic> {
        if self.bindings.is_empty() {
            return Ok(());
        }
        if self.expanded_size(root) > crate::parse::MAX_BOUND_NODES {
            return Err(Diagnostic::new(
                format!(
                    "the bound names would expand this input past {} nodes",
                    crate::parse::MAX_BOUND_NODES
                ),
                input,
            )
            .label(root.span, "too large once the bound names are expanded")
            .help(
                "each use of a bound name copies its expression: use fewer, or bind a smaller one",
            ));
        }
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            let bound = match &node.kind {
                AstKind::Ident(n) => self.bindings.iter().find(|b| &b.name == n),
                _ => None,
            };
            if let Some(b) = bound {
                let mut body = b.ast.clone();
                respan(&mut body, node.span);
                node.kind = AstKind::Group(Box::new(body));
                continue;
            }
            stack.extend(children_mut(node));
        }
        Ok(())
    }
}

/// A name `let` can bind: a plain name of the input language, not `I`
/// (the identity) and without a subscript (`E_ij` is the unit matrix).
fn check_name(name: &str) -> Result<(), Diagnostic> {
    let whole = Span::new(0, name.len());
    let bad = |why: &str| {
        Diagnostic::new(format!("cannot bind `{name}`: {why}"), name)
            .origin(crate::span::Origin::Let)
            .label(whole, "")
    };
    let plain = parse(name).is_ok_and(|p| matches!(&p.expr.kind, AstKind::Ident(n) if n == name));
    if !plain {
        return Err(bad("a binding needs a plain name such as `M` or `f`"));
    }
    if name == "I" {
        return Err(bad("`I` is the identity matrix"));
    }
    if name.contains('_') {
        return Err(bad("a subscripted name is an entry or a unit matrix"));
    }
    Ok(())
}

/// Gives every node of `root` (and every operator and name span in it)
/// the span `s`.
fn respan(root: &mut Ast, s: Span) {
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        node.span = s;
        match &mut node.kind {
            AstKind::Call { name_span, .. } => *name_span = s,
            AstKind::Binary { op_span, .. } | AstKind::Postfix { op_span, .. } => *op_span = s,
            _ => {}
        }
        stack.extend(children_mut(node));
    }
}

/// The direct subtrees of a node, exponents included.
fn children_mut(node: &mut Ast) -> Vec<&mut Ast> {
    match &mut node.kind {
        AstKind::Neg(x) | AstKind::Group(x) => vec![&mut **x],
        AstKind::Binary { lhs, rhs, .. } => vec![&mut **lhs, &mut **rhs],
        AstKind::Postfix { op, arg, .. } => {
            let mut v = vec![&mut **arg];
            if let PostOp::Power(e) | PostOp::ElemPower(e) = op {
                v.push(&mut **e);
            }
            v
        }
        AstKind::Call { args, .. } => args.iter_mut().collect(),
        AstKind::Number(_) | AstKind::Ident(_) => Vec::new(),
    }
}
