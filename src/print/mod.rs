//! Printers: every output format of SPEC §3.

pub mod array_ir;
pub mod index;
pub mod jax;
pub mod json;
pub mod latex;
pub mod named;
pub mod numpy;
pub mod python;
pub mod text;

pub use index::{IndexForm, Piece, expr_to_index, index_form, to_index};
pub use jax::{to_jax, value_to_jax};
pub use json::to_json;
pub use latex::{expr_to_latex, to_latex, to_latex_rhs};
pub use numpy::{python_name, to_numpy, value_to_numpy};
pub use text::{marked_ones, to_text, to_text_sizing_ones};
