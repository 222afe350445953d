//! The cost functions that define "simplified".
//!
//! - [`NormalCost`], for the default form: first no transpose above
//!   anything but a leaf (or a leaf's inverse, printed `A^-T`), no inverse
//!   above anything but a leaf — transposes and inverses on the leaves —
//!   then the fewest nodes.
//! - [`FactorCost`], for `--factor`: the fewest nodes, then the same
//!   preference for transposes on the leaves.
//!
//! Ties are broken by egg's extraction order, which the `deterministic`
//! feature makes the order of insertion, so every run prints the same text.

use crate::simplify::lang::Mat;
use egg::{CostFunction, Id, Language};

/// What a subterm looks like from above, for the transpose/inverse rules.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub enum Top {
    /// A leaf or a constant.
    Leaf,
    /// The inverse of a leaf.
    InvLeaf,
    /// Anything else.
    Other,
}

/// A cost: misplaced transposes and inverses, and the node count.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Cost {
    /// Transposes and inverses not on the leaves.
    pub misplaced: u32,
    /// Nodes.
    pub size: u32,
    /// The top of the subterm.
    pub top: Top,
}

fn cost_of(enode: &Mat, mut child: impl FnMut(Id) -> Cost) -> Cost {
    crate::stack::grow(|| {
        let top = match enode {
            Mat::Leaf(_) | Mat::Num(_) | Mat::IdOf(_) => Top::Leaf,
            Mat::Inv(a) if child(*a).top == Top::Leaf => Top::InvLeaf,
            _ => Top::Other,
        };
        let misplaced = match enode {
            Mat::Trans(a) => u32::from(child(*a).top == Top::Other),
            Mat::Inv(a) => u32::from(child(*a).top != Top::Leaf),
            _ => 0,
        };
        if let Mat::IdOf(_) = enode {
            return Cost {
                misplaced: 0,
                size: 1,
                top,
            };
        }
        enode.children().iter().fold(
            Cost {
                misplaced,
                size: 1,
                top,
            },
            |acc, &c| {
                let k = child(c);
                Cost {
                    misplaced: acc.misplaced.saturating_add(k.misplaced),
                    size: acc.size.saturating_add(k.size),
                    top: acc.top,
                }
            },
        )
    })
}

/// The default normal form's cost.
#[derive(Clone, Copy, Debug, Default)]
pub struct NormalCost;

impl CostFunction<Mat> for NormalCost {
    type Cost = Cost;
    fn cost<C: FnMut(Id) -> Cost>(&mut self, enode: &Mat, costs: C) -> Cost {
        cost_of(enode, costs)
    }
}

/// `--factor`'s cost: the fewest nodes first.
#[derive(Clone, Copy, Debug, Default)]
pub struct FactorCost;

impl CostFunction<Mat> for FactorCost {
    type Cost = (u32, Cost);
    fn cost<C: FnMut(Id) -> (u32, Cost)>(&mut self, enode: &Mat, mut costs: C) -> (u32, Cost) {
        let c = cost_of(enode, |id| costs(id).1);
        (c.size, c)
    }
}
