//! Printers: every output format of SPEC §3.

pub mod text;

pub use text::to_text;
