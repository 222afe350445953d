//! Derivatives: the differential by the product rule, and what is built
//! from it.

pub mod derivative;
pub mod diff;
pub mod extract;

pub use diff::differential;
