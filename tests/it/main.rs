//! The one integration-test binary: it links the library once, which keeps
//! test builds fast on a two-core machine.

mod builtins;
mod cli;
mod common;
mod coverage;
mod diff;
mod errors;
mod gradients;
mod jax;
mod language;
mod latex;
mod matfn;
mod mutation;
mod numeric;
mod numpy;
mod parse;
mod print;
mod repl;
mod simplify;
mod steps;
