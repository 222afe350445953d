//! Numbers: evaluation of expressions at concrete values, and the checks
//! that prove derivatives right.

pub mod at;
pub mod check;
pub mod eval;
pub mod exact;
pub mod float;
pub mod matfn;
pub mod point;
pub mod rng;
pub mod special;
pub mod verify;

pub use float::{Bindings, EvalError, Matrix, eval};
