//! What the user typed, as a tree with byte spans for diagnostics.
//!
//! The AST keeps every distinction the input makes (`X^-1` versus `inv(X)`,
//! parentheses, the spelling of a name) so that errors can point at the
//! exact place. `lower` turns it into the span-free algebra type `Expr`.

use crate::span::Span;
use num_rational::BigRational;

/// A node of the parsed input.
#[derive(Clone, Debug, PartialEq)]
pub struct Ast {
    /// What the node is.
    pub kind: AstKind,
    /// Where it is in the input.
    pub span: Span,
}

/// The kinds of AST nodes.
#[derive(Clone, Debug, PartialEq)]
pub enum AstKind {
    /// An exact number literal.
    Number(BigRational),
    /// A name, with `E_{ij}` already written `E_ij`.
    Ident(String),
    /// A built-in function applied to its arguments.
    Call {
        /// The function.
        func: Builtin,
        /// Where its name is.
        name_span: Span,
        /// Its arguments.
        args: Vec<Ast>,
    },
    /// Unary minus.
    Neg(Box<Ast>),
    /// An infix operator (juxtaposition is `BinOp::Mul` with an empty span).
    Binary {
        /// The operator.
        op: BinOp,
        /// Where the operator is.
        op_span: Span,
        /// Left operand.
        lhs: Box<Ast>,
        /// Right operand.
        rhs: Box<Ast>,
    },
    /// A postfix operator.
    Postfix {
        /// The operator.
        op: PostOp,
        /// Where the operator is.
        op_span: Span,
        /// Its operand.
        arg: Box<Ast>,
    },
    /// Parentheses.
    Group(Box<Ast>),
}

/// Infix operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// matrix product: juxtaposition, `*`, `·`
    Mul,
    /// `/` by a scalar
    Div,
    /// `.*`, `⊙`
    Hadamard,
    /// `./`
    HadamardDiv,
    /// `⊗`
    Kron,
}

/// Postfix operators.
#[derive(Clone, Debug, PartialEq)]
pub enum PostOp {
    /// `^T`, `'`, `ᵀ`
    Transpose,
    /// `^-1`
    Inverse,
    /// `^-T`
    InverseTranspose,
    /// `^k`
    Power(Box<Ast>),
    /// `.^k`
    ElemPower(Box<Ast>),
}

/// A call's function: a row of the table of builtins.
pub use crate::builtins::Builtin;

/// The names of the built-in functions, for suggestions and completion
/// (read off the table of builtins).
pub(crate) use crate::builtins::NAMES as FUNCTION_NAMES;

/// One declaration of a `where` clause: `S: symmetric`, `X: n x m`.
#[derive(Clone, Debug, PartialEq)]
pub struct Decl {
    /// The names declared, with their spans.
    pub names: Vec<(String, Span)>,
    /// Kind words: `symmetric`, `spd`, `scalar`, `vector`, `matrix`.
    pub kinds: Vec<(String, Span)>,
    /// Dimensions: one (a vector) or two (rows, columns).
    pub dims: Vec<(String, Span)>,
    /// The whole declaration.
    pub span: Span,
}

/// A parsed input: the expression and its declarations.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The expression.
    pub expr: Ast,
    /// The `where` clause, if any.
    pub decls: Vec<Decl>,
}

/// Dropping iteratively: a long chain such as `A + A + ⋯` is a deep tree,
/// and the default recursive drop could overflow the stack.
impl Drop for Ast {
    fn drop(&mut self) {
        let mut stack: Vec<Ast> = Vec::new();
        take_children(&mut self.kind, &mut stack);
        while let Some(mut node) = stack.pop() {
            take_children(&mut node.kind, &mut stack);
        }
    }
}

fn take_children(kind: &mut AstKind, stack: &mut Vec<Ast>) {
    let placeholder = || AstKind::Ident(String::new());
    match std::mem::replace(kind, placeholder()) {
        AstKind::Neg(x) | AstKind::Group(x) => stack.push(*x),
        AstKind::Binary { lhs, rhs, .. } => {
            stack.push(*lhs);
            stack.push(*rhs);
        }
        AstKind::Postfix { op, arg, .. } => {
            stack.push(*arg);
            if let PostOp::Power(e) | PostOp::ElemPower(e) = op {
                stack.push(*e);
            }
        }
        AstKind::Call { args, .. } => stack.extend(args),
        AstKind::Number(_) | AstKind::Ident(_) => {}
    }
}
