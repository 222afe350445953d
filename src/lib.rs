#![doc = include_str!("../README.md")]
//!
//! # Library layout
//!
//! Data flows one way: text → [`parse`] → `Ast` → [`lower`] (shapes) →
//! [`Expr`] → [`differential`] → printers. [`Session`] is the command core
//! every shell shares: a shell builds a [`Command`], calls
//! [`Session::run`], and prints [`render`]'s text.
//!
//! ```
//! use matcalc::{Action, Command, Format, Session, render};
//! let cmd = Command::new(Action::Diff { wrt: "X_ij".into(), direction: None }, "A X X^T A^T");
//! let out = Session::new().run(&cmd).unwrap();
//! assert_eq!(render(&out, Format::Text).unwrap(), "A E_ij X^T A^T + A X E_ij^T A^T");
//! ```

#![warn(missing_docs)]

mod ast;
pub mod builtins;
mod calculus;
mod expr;
mod hash;
mod lower;
mod parse;
mod print;
mod session;
mod shape;
pub mod simplify;
mod span;
mod stack;

pub mod numeric;

pub use ast::{Ast, AstKind, BinOp, Decl, Parsed, PostOp};
pub use builtins::{Builtin, ElemFn, Func};
pub use calculus::differential;
pub use expr::{Expr, Kind, product_shape, rat};
pub use lower::{Context, Lowered, VarInfo, VarKind, lower};
pub use parse::{parse, parse_decls};
/// The two readers, exposed for the tests and the fuzzer that hold them
/// equal; not part of the supported API.
#[doc(hidden)]
pub use parse::{parse_decls_fast, parse_decls_reference, parse_fast, parse_reference};
/// A string as a JSON string literal, escaped as every JSON output of
/// matcalc escapes it (for shells that build their own JSON).
pub use print::json::json_string;
/// Names for repeated pieces of a result (`… where p = softmax(W x)`).
pub use print::named::{Named, answer_text, name_repeats};
pub use print::{
    IndexForm, Piece, expr_to_index, expr_to_latex, index_form, python_name, to_index, to_jax,
    to_json, to_latex, to_latex_rhs, to_numpy, to_text, value_to_jax, value_to_numpy,
};
pub use session::{
    Action, Answer, Body, CHECK_POINTS, CHECK_TOLERANCE, Claim, Command, Derivation, Derivative,
    Format, Mode, NumericVerdict, Output, Repl, Reply, Session, Verdict, Wrt, is_incomplete,
    readable_text, render, render_error, resolve_wrt, text_with_sized_ones,
};
pub use shape::{Dim, Shape};
pub use simplify::{Form, Limits, Simplified, simplify, simplify_from};
pub use span::{Detail, Diagnostic, Label, Operand, Origin, Phase, Span};

/// The library's version (the page and other shells show it).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The names of the built-in functions, for a shell's hints and completion.
pub fn function_names() -> &'static [&'static str] {
    &ast::FUNCTION_NAMES
}

/// The error of every user-facing operation: a diagnostic with a caret.
pub type Error = Diagnostic;

/// The result of every user-facing operation.
pub type Result<T> = std::result::Result<T, Error>;
