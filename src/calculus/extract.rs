//! Reading derivatives off a differential that is linear in a direction
//! `D`: the gradient `G` with `df = tr(G^T D)` (SPEC §4, denominator
//! layout) and the Jacobian `J` with `vec(dF) = J vec(D)` (numerator
//! layout, vec stacks columns).
//!
//! Both walk the differential from the outside in, carrying what the
//! enclosing operators do to `D`:
//! - the gradient carries the adjoint `W` of the current subexpression
//!   (`<W, e> = <G_e, D>`), e.g. `<W, L a R> = <L^T W R^T, a>`,
//!   `<W, a .* B> = <W .* B, a>`, `<w, tr(a)> = <w I, a>`;
//! - the Jacobian multiplies the factors out of `vec`, e.g.
//!   `vec(L a R) = (R^T ⊗ L) vec(a)`, `vec(a^T) = K vec(a)`,
//!   `vec(a .* B) = diag(vec(B)) vec(a)`.

use crate::expr::{Expr, Func, Kind};
use crate::shape::Shape;

/// The differential has `D` somewhere the extraction cannot undo (inside a
/// Kronecker product, say), or is not linear in `D`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// What was in the way, in words.
    pub message: String,
}

type Out = Result<Expr, Unsupported>;

/// The gradient `G` (shape of `D`) of a scalar `df` linear in the variable
/// `dir`: `df = sum(G .* D)`.
pub fn gradient(df: &Expr, dir: &str, dir_shape: &Shape) -> Out {
    let x = Extract { dir, dir_shape };
    x.adjoint(df, &Expr::int(1))
}

/// The Jacobian `J` of `dF` (linear in the variable `dir`):
/// `vec(dF) = J vec(D)`, of shape (size of F) × (size of D).
pub fn jacobian(df: &Expr, dir: &str, dir_shape: &Shape) -> Out {
    let x = Extract { dir, dir_shape };
    x.jac(df)
}

/// A product around its one factor that holds `D`.
struct Split<'e> {
    /// The factor holding `D`.
    active: &'e Expr,
    /// The other 1×1 factors.
    scalars: Vec<Expr>,
    /// The matrix chain before the active factor.
    before: Vec<Expr>,
    /// The matrix chain after it.
    after: Vec<Expr>,
}

impl Split<'_> {
    /// Every factor but the active one, as one product.
    fn rest(self) -> Expr {
        Expr::product(
            self.scalars
                .into_iter()
                .chain(self.before)
                .chain(self.after),
        )
    }
}

struct Extract<'a> {
    dir: &'a str,
    dir_shape: &'a Shape,
}

fn unsupported(message: impl Into<String>) -> Unsupported {
    Unsupported {
        message: message.into(),
    }
}

/// `vec(x)`, which is `x` itself for a column vector or a scalar.
pub(crate) fn vec_of(x: &Expr) -> Expr {
    if x.shape().cols.is_one() {
        x.clone()
    } else {
        Expr::apply(Func::Vec, x)
    }
}

/// The inner product `<w, m>` of two expressions of one shape.
pub(crate) fn inner(w: &Expr, m: &Expr) -> Expr {
    match w.kind() {
        Kind::Ones => Expr::apply(Func::Sum, m),
        _ if w.is_scalar() => Expr::mul(w, m),
        _ if w.shape().is_vector() => Expr::mul(&Expr::transpose(w), m),
        _ => Expr::apply(Func::Tr, &Expr::mul(&Expr::transpose(w), m)),
    }
}

impl Extract<'_> {
    fn zero_gradient(&self) -> Expr {
        Expr::zero(self.dir_shape.clone())
    }

    fn mentions(&self, e: &Expr) -> bool {
        crate::stack::grow(|| e.mentions(self.dir))
    }

    /// The one factor of a product that holds `D`, with the others split
    /// around it; `None` when no factor does.
    fn split<'e>(&self, fs: &'e [Expr]) -> Result<Option<Split<'e>>, Unsupported> {
        let mut found: Option<usize> = None;
        for (i, f) in fs.iter().enumerate() {
            if self.mentions(f) {
                if found.is_some() {
                    return Err(self.not_linear());
                }
                found = Some(i);
            }
        }
        let Some(k) = found else { return Ok(None) };
        let mut scalars = Vec::new();
        let mut before = Vec::new();
        let mut after = Vec::new();
        for (i, f) in fs.iter().enumerate() {
            if i == k {
                continue;
            }
            if f.is_scalar() {
                scalars.push(f.clone());
            } else if i < k {
                before.push(f.clone());
            } else {
                after.push(f.clone());
            }
        }
        Ok(Some(Split {
            active: &fs[k],
            scalars,
            before,
            after,
        }))
    }

    /// The gradient contribution of `e` under the adjoint `w` (shape of `e`).
    fn adjoint(&self, e: &Expr, w: &Expr) -> Out {
        crate::stack::grow(|| {
            if !self.mentions(e) {
                return Ok(self.zero_gradient());
            }
            match e.kind() {
                Kind::Var(_) => Ok(w.clone()),
                Kind::Sum(ts) => {
                    let mut parts = Vec::new();
                    for t in ts.iter().filter(|t| self.mentions(t)) {
                        // A broadcast scalar term adds t to every entry:
                        // <W, t ones> = t sum(W).
                        let wt = if t.is_scalar() && !e.is_scalar() {
                            Expr::apply(Func::Sum, w)
                        } else {
                            w.clone()
                        };
                        parts.push(self.adjoint(t, &wt)?);
                    }
                    Ok(Expr::sum(parts))
                }
                // <W, a^T> = <W^T, a>
                Kind::Transpose(a) => self.adjoint(a, &Expr::transpose(w)),
                Kind::Product(fs) => {
                    let Some(split) = self.split(fs)? else {
                        return Ok(self.zero_gradient());
                    };
                    let a = split.active;
                    if a.is_scalar() {
                        // <W, a M> = a <W, M> for a scalar factor a
                        return self.adjoint(a, &inner(w, &split.rest()));
                    }
                    // <W, s L a R> = <s L^T W R^T, a>
                    let l = Expr::product(split.before);
                    let r = Expr::product(split.after);
                    let mut factors = split.scalars;
                    if !l.is_one() {
                        factors.push(Expr::transpose(&l));
                    }
                    factors.push(w.clone());
                    if !r.is_one() {
                        factors.push(Expr::transpose(&r));
                    }
                    self.adjoint(a, &Expr::product(factors))
                }
                // <W, a .* B> = <W .* B, a>
                Kind::Hadamard(a, b) => {
                    if self.mentions(a) && self.mentions(b) {
                        return Err(self.not_linear());
                    }
                    if self.mentions(a) {
                        self.adjoint(a, &Expr::hadamard(w, b))
                    } else {
                        self.adjoint(b, &Expr::hadamard(a, w))
                    }
                }
                // <W, a ./ B> = <W ./ B, a>
                Kind::HadamardDiv(a, b) if !self.mentions(b) => {
                    self.adjoint(a, &Expr::hadamard_div(w, b))
                }
                // tr(a ⊗ b) = tr(a) tr(b) for square a and b (a square
                // a ⊗ b of rectangular factors has no such split);
                // sum(a ⊗ b) = sum(a) sum(b) always
                Kind::Apply(f @ (Func::Tr | Func::Sum), k)
                    if matches!(k.kind(), Kind::Kron(a, b)
                        if *f == Func::Sum || (a.shape().is_square() && b.shape().is_square())) =>
                {
                    let Kind::Kron(a, b) = k.kind() else {
                        unreachable!("matched above")
                    };
                    let split = Expr::mul(&Expr::apply(*f, a), &Expr::apply(*f, b));
                    self.adjoint(&split, w)
                }
                // <w, tr(a)> = <w I, a>
                Kind::Apply(Func::Tr, a) => {
                    let i = Expr::identity(a.shape().rows.clone());
                    self.adjoint(a, &Expr::mul(w, &i))
                }
                // <w, sum(a)> = <w ones, a>
                Kind::Apply(Func::Sum, a) => {
                    self.adjoint(a, &Expr::mul(w, &Expr::ones(a.shape().clone())))
                }
                // diag is its own adjoint: <W, diag(a)> = <diag(W), a>
                Kind::Apply(Func::Diag, a) => {
                    let wd = match w.kind() {
                        Kind::Ones if a.shape().is_vector() => Expr::ones(a.shape().clone()),
                        Kind::Ones => Expr::identity(a.shape().rows.clone()),
                        _ => Expr::apply(Func::Diag, w),
                    };
                    self.adjoint(a, &wd)
                }
                Kind::Apply(Func::Vec, a) if matches!(w.kind(), Kind::Ones) => {
                    self.adjoint(a, &Expr::ones(a.shape().clone()))
                }
                Kind::Apply(Func::Vec, a) if a.shape().cols.is_one() => self.adjoint(a, w),
                Kind::Apply(Func::Vec, _) => Err(unsupported(
                    "the gradient through `vec(…)` of a matrix needs an un-vec, which matcalc does not write",
                )),
                Kind::Kron(..) => Err(unsupported(
                    "the gradient through a Kronecker product (other than `sum(A ⊗ B)`, or `tr(A ⊗ B)` of square factors) needs an un-vec, which matcalc does not write",
                )),
                _ => Err(self.not_linear()),
            }
        })
    }

    fn not_linear(&self) -> Unsupported {
        unsupported(format!("the expression is not linear in `{}`", self.dir))
    }

    /// `J` with `vec(e) = J vec(D)`.
    fn jac(&self, e: &Expr) -> Out {
        crate::stack::grow(|| {
            let zero = || {
                Ok(Expr::zero(Shape::new(
                    e.shape().vec_len(),
                    self.dir_shape.vec_len(),
                )))
            };
            if !self.mentions(e) {
                return zero();
            }
            if e.is_scalar() && !self.dir_shape.is_scalar() {
                // A scalar: J = vec(G)^T
                let g = self.adjoint(e, &Expr::int(1))?;
                return Ok(Expr::transpose(&vec_of(&g)));
            }
            match e.kind() {
                Kind::Var(_) => Ok(Expr::identity(self.dir_shape.vec_len())),
                Kind::Sum(ts) => {
                    let mut parts = Vec::new();
                    for t in ts.iter().filter(|t| self.mentions(t)) {
                        let jt = self.jac(t)?;
                        // vec(t ones) = ones t for a broadcast scalar t
                        parts.push(if t.is_scalar() && !e.is_scalar() {
                            Expr::mul(
                                &Expr::ones(Shape::new(
                                    e.shape().vec_len(),
                                    t.shape().cols.clone(),
                                )),
                                &jt,
                            )
                        } else {
                            jt
                        });
                    }
                    Ok(Expr::sum(parts))
                }
                // vec(a^T) = K vec(a)
                Kind::Transpose(a) => {
                    let ja = self.jac(a)?;
                    let s = a.shape();
                    Ok(Expr::mul(
                        &Expr::commutation(s.rows.clone(), s.cols.clone()),
                        &ja,
                    ))
                }
                Kind::Product(fs) => {
                    let Some(split) = self.split(fs)? else {
                        return zero();
                    };
                    let a = split.active;
                    let ja = self.jac(a)?;
                    if a.is_scalar() {
                        // vec(a M) = vec(M) a
                        return Ok(Expr::mul(&vec_of(&split.rest()), &ja));
                    }
                    // vec(s L a R) = s (R^T ⊗ L) vec(a)
                    let l = if split.before.is_empty() {
                        Expr::identity(a.shape().rows.clone())
                    } else {
                        Expr::product(split.before)
                    };
                    let rt = if split.after.is_empty() {
                        Expr::identity(a.shape().cols.clone())
                    } else {
                        Expr::transpose(&Expr::product(split.after))
                    };
                    let mut factors = split.scalars;
                    factors.push(Expr::kron(&rt, &l));
                    factors.push(ja);
                    Ok(Expr::product(factors))
                }
                // vec(a .* B) = diag(vec(B)) vec(a)
                Kind::Hadamard(a, b) => {
                    if self.mentions(a) && self.mentions(b) {
                        return Err(self.not_linear());
                    }
                    let (x, c) = if self.mentions(a) { (a, b) } else { (b, a) };
                    let d = Expr::apply(Func::Diag, &vec_of(c));
                    Ok(Expr::mul(&d, &self.jac(x)?))
                }
                // vec(a ./ B) = diag(vec(B))^-1 vec(a)
                Kind::HadamardDiv(a, b) if !self.mentions(b) => {
                    let d = Expr::inverse(&Expr::apply(Func::Diag, &vec_of(b)));
                    Ok(Expr::mul(&d, &self.jac(a)?))
                }
                Kind::Apply(Func::Vec, a) => self.jac(a),
                // For a m×n and b p×q (Magnus & Neudecker):
                // vec(a ⊗ b) = P (vec a ⊗ vec b) with P = I_n ⊗ K_{q,m} ⊗ I_p, so
                // vec(a ⊗ B) = P (I_mn ⊗ vec B) vec(a) and
                // vec(A ⊗ b) = P (vec A ⊗ I_pq) vec(b).
                Kind::Kron(a, b) => {
                    if self.mentions(a) && self.mentions(b) {
                        return Err(self.not_linear());
                    }
                    let (sa, sb) = (a.shape(), b.shape());
                    let perm = Expr::kron(
                        &Expr::kron(
                            &Expr::identity(sa.cols.clone()),
                            &Expr::commutation(sb.cols.clone(), sa.rows.clone()),
                        ),
                        &Expr::identity(sb.rows.clone()),
                    );
                    let spread = if self.mentions(a) {
                        Expr::kron(&Expr::identity(a.shape().vec_len()), &vec_of(b))
                    } else {
                        Expr::kron(&vec_of(a), &Expr::identity(b.shape().vec_len()))
                    };
                    let inner = if self.mentions(a) { a } else { b };
                    Ok(Expr::product([perm, spread, self.jac(inner)?]))
                }
                Kind::Apply(Func::Diag, _) => Err(unsupported(
                    "the Jacobian of `diag(…)` needs a selection matrix, which matcalc does not write",
                )),
                _ => Err(self.not_linear()),
            }
        })
    }
}
