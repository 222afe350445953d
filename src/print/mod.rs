//! Printers: every output format of SPEC §3.

pub mod index;
pub mod text;

pub use index::{IndexForm, Piece, index_form, to_index};
pub use text::to_text;
