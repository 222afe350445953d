//! Printers: every output format of SPEC §3.

pub mod index;
pub mod latex;
pub mod text;

pub use index::{IndexForm, Piece, index_form, to_index};
pub use latex::{expr_to_latex, to_latex, to_latex_rhs};
pub use text::to_text;
