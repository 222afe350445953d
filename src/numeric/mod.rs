//! Numbers: evaluation of expressions at concrete values, and the checks
//! that prove derivatives right.

pub mod at;
pub mod check;
pub mod exact;
pub mod float;
pub mod rng;

pub use float::{Bindings, EvalError, Matrix, eval};
