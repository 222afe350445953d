//! The `Expr` of an inferred tree, through the smart constructors (which
//! fold constants, zeros and ones as they go).
//!
//! `build` cannot fail and changes nothing: every check was made by
//! `infer` (or is made by `lint` on the result), and it reads the shapes
//! it needs from [`Inferred`] (a variable's by its name; an `I`'s, a
//! `ones`' or an `E_ij`'s by its node), so the order of its walk is its
//! own.

use super::infer::Inferred;
use super::{const_value, is_identity, spine, unit_indices};
use crate::ast::{Ast, AstKind, BinOp, PostOp};
use crate::builtins::Meaning;
use crate::expr::{Expr, rat};

/// The `Expr` of `ast`, whose shapes `inferred` holds.
pub(super) fn build<'a>(ast: &'a Ast, inferred: &Inferred<'a>) -> Expr {
    crate::stack::grow(|| {
        match &ast.kind {
            AstKind::Number(c) => Expr::constant(c.clone()),
            AstKind::Ident(name) => {
                if is_identity(name) {
                    return Expr::identity(inferred.node_shape(ast).rows);
                }
                if name == "ones" {
                    return Expr::ones(inferred.node_shape(ast));
                }
                if let Some((idx, _)) = unit_indices(name) {
                    return Expr::unit(idx, inferred.node_shape(ast));
                }
                Expr::var(name, inferred.var_shape(name))
            }
            AstKind::Group(x) => build(x, inferred),
            AstKind::Neg(x) => Expr::neg(&build(x, inferred)),
            AstKind::Call { func, .. } if func.row().meaning == Meaning::SizedOnes => {
                Expr::ones(inferred.node_shape(ast))
            }
            AstKind::Call { func, .. } if func.row().meaning == Meaning::Commutation => {
                let s = inferred.node_shape(ast);
                Expr::commutation(s.rows, s.cols)
            }
            AstKind::Call { func, args, .. } => {
                let a = build(&args[0], inferred);
                match func.row().meaning {
                    Meaning::Apply(f) => Expr::apply(f, &a),
                    Meaning::Inverse => Expr::inverse(&a),
                    Meaning::Kron => {
                        let b = build(&args[1], inferred);
                        Expr::kron(&a, &b)
                    }
                    // `vector(c)`, `matrix(c)`: c times the all-ones of the
                    // size inferred for the call
                    Meaning::Fill => Expr::mul(&a, &Expr::ones(inferred.node_shape(ast))),
                    Meaning::Commutation | Meaning::SizedOnes => unreachable!("built above"),
                }
            }
            AstKind::Binary { .. } => {
                // Sums and runs of products are built in one pass each, so
                // long flat inputs take linear time.
                let (first, nodes) = spine(ast);
                let mut pending = vec![build(first, inferred)];
                let mut additive = false;
                for node in nodes {
                    let AstKind::Binary { op, rhs, .. } = &node.kind else {
                        unreachable!("the spine holds binary nodes")
                    };
                    let b = build(rhs, inferred);
                    match op {
                        BinOp::Add => {
                            additive = true;
                            pending.push(b);
                        }
                        BinOp::Sub => {
                            additive = true;
                            pending.push(Expr::neg(&b));
                        }
                        BinOp::Mul => pending.push(b),
                        BinOp::Div => pending.push(Expr::power(&b, &rat(-1))),
                        BinOp::Hadamard | BinOp::HadamardDiv | BinOp::Kron => {
                            let a = Expr::product(std::mem::take(&mut pending));
                            pending.push(match op {
                                BinOp::Hadamard => Expr::hadamard(&a, &b),
                                BinOp::HadamardDiv => Expr::hadamard_div(&a, &b),
                                _ => Expr::kron(&a, &b),
                            });
                        }
                    }
                }
                if additive {
                    Expr::sum(pending)
                } else {
                    Expr::product(pending)
                }
            }
            AstKind::Postfix { op, arg, .. } => {
                let a = build(arg, inferred);
                match op {
                    PostOp::Transpose => Expr::transpose(&a),
                    PostOp::Inverse => Expr::inverse(&a),
                    PostOp::InverseTranspose => Expr::transpose(&Expr::inverse(&a)),
                    PostOp::Power(e) | PostOp::ElemPower(e) if const_value(e).is_none() => {
                        Expr::pow(&a, &build(e, inferred))
                    }
                    PostOp::Power(e) => Expr::power(&a, &const_value(e).expect("checked")),
                    PostOp::ElemPower(e) => {
                        Expr::hadamard_pow(&a, &const_value(e).expect("checked"))
                    }
                }
            }
        }
    })
}
