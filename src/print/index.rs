//! The component form (`--format index`): one entry of a derivative in
//! index notation, e.g. for the seed question
//! `∂M_kl/∂X_ij = A_ki (A X)_lj + (A X)_kj A_li`.
//!
//! A term `L E_ij R` has the entry `L_ki R_jl` (and `L E_ij^T R` the entry
//! `L_kj R_il`); `tr(L E_ij R)` is `(R L)_ji`. Any other matrix `P` is
//! written `(P)_kl`, or `(P^T)_lk` when that needs fewer transposes.

use crate::calculus::derivative::{Answer, Derivative, Wrt};
use crate::expr::{Expr, Func, Kind};
use crate::lower::{Context, VarKind};
use crate::print::text::{join_signed, magnitude, to_text};
use crate::simplify::{Form, simplify};
use num_rational::BigRational;
use num_traits::Signed;

/// The answer in index notation, structured so that it can be evaluated.
pub fn index_form(a: &Answer) -> IndexForm {
    let (var, wrt_ix) = match &a.wrt {
        Wrt::Var(v) => (v.clone(), None),
        Wrt::Entry { var, indices } => (var.clone(), Some(indices.clone())),
    };
    let vkind = a.context.vars.get(&var).map(|v| v.kind);
    let taken: String = wrt_ix.clone().unwrap_or_default();
    let mut free = "klmnpqrsuvwab".chars().filter(|c| !taken.contains(*c));
    let (k, l) = (free.next().unwrap_or('k'), free.next().unwrap_or('l'));
    let (rows, cols) = {
        let s = a.result.shape();
        (!s.rows.is_one(), !s.cols.is_one())
    };
    let out_ix = |r: char, c: char| {
        (
            rows.then(|| r.to_string()),
            cols.then(|| if rows { c } else { r }.to_string()),
        )
    };
    let f_shape = a.function.shape();
    let f_name = function_name(f_shape);
    let sub = |r: &Option<String>, c: &Option<String>| subscript(r.as_deref(), c.as_deref());
    let (lhs, (r, c)) = match a.kind {
        Derivative::Entrywise => {
            let (r, c) = out_ix(k, l);
            let ix = wrt_ix.unwrap_or_default();
            (format!("∂{f_name}{}/∂{var}_{ix}", sub(&r, &c)), (r, c))
        }
        Derivative::Differential => {
            let (r, c) = out_ix(k, l);
            (format!("d{f_name}{}", sub(&r, &c)), (r, c))
        }
        Derivative::Gradient => {
            let (r, c) = out_ix('i', 'j');
            (format!("∂f/∂{var}{}", sub(&r, &c)), (r, c))
        }
        Derivative::Hessian => {
            let (r, c) = out_ix('i', 'j');
            let lhs = match vkind {
                Some(VarKind::Scalar) => format!("∂²f/∂{var}²"),
                Some(VarKind::Vector) => format!("∂²f/∂{var}_i∂{var}_j"),
                _ => format!("∂²f/∂vec({var})_i∂vec({var})_j"),
            };
            (lhs, (r, c))
        }
        Derivative::Jacobian => {
            let (r, c) = out_ix(k, l);
            let num = if f_shape.cols.is_one() {
                format!("{f_name}{}", sub(&r, &None))
            } else {
                format!("vec({f_name}){}", sub(&r, &None))
            };
            let den = match vkind {
                Some(VarKind::Scalar) => var.clone(),
                Some(VarKind::Vector) => format!("{var}{}", sub(&c, &None)),
                _ => format!("vec({var}){}", sub(&c, &None)),
            };
            (format!("∂{num}/∂{den}"), (r, c))
        }
    };
    let printer = Entries { ctx: &a.context };
    let terms = printer.sum(&a.result, r.as_deref(), c.as_deref());
    IndexForm {
        lhs,
        row: r,
        col: c,
        terms,
    }
}

/// The name an answer gives its function: `f` for a scalar, `y` for a
/// vector, `M` for a matrix.
pub(crate) fn function_name(shape: &crate::shape::Shape) -> &'static str {
    if shape.is_scalar() {
        "f"
    } else if shape.is_vector() {
        "y"
    } else {
        "M"
    }
}

/// The answer in index notation, as `lhs = rhs`.
pub fn to_index(a: &Answer) -> String {
    let form = index_form(a);
    let printer = Entries { ctx: &a.context };
    format!("{} = {}", form.lhs, printer.rhs(&form.terms))
}

/// Any expression in index notation (for `simplify --format index`): its
/// entry `M_kl = …` (`y_k` for a vector, `f` for a scalar).
pub fn expr_to_index(e: &Expr, ctx: &Context) -> String {
    let s = e.shape();
    let r = (!s.rows.is_one()).then(|| "k".to_string());
    let c = (!s.cols.is_one()).then(|| if r.is_some() { "l" } else { "k" }.to_string());
    let printer = Entries { ctx };
    let terms = printer.sum(e, r.as_deref(), c.as_deref());
    let lhs = format!(
        "{}{}",
        function_name(s),
        subscript(r.as_deref(), c.as_deref())
    );
    format!("{lhs} = {}", printer.rhs(&terms))
}

impl IndexForm {
    /// The value of the right-hand side at the bindings (whose `indices`
    /// give every index letter a value).
    pub fn value(&self, b: &crate::numeric::Bindings) -> Result<f64, crate::numeric::EvalError> {
        use crate::numeric::EvalError;
        use num_traits::ToPrimitive;
        let letter = |x: &Option<String>| -> Result<Option<usize>, EvalError> {
            match x {
                None => Ok(None),
                Some(s) => {
                    let c = s.chars().next().unwrap_or('?');
                    b.indices
                        .get(&c)
                        .copied()
                        .map(Some)
                        .ok_or_else(|| EvalError::new(format!("no value for the index {c}")))
                }
            }
        };
        let mut total = 0.0;
        for (coeff, pieces) in &self.terms {
            let mut v = coeff.to_f64().unwrap_or(f64::NAN);
            for p in pieces {
                v *= match p {
                    Piece::Scalar(s) => crate::numeric::eval(s, b)?.get(0, 0),
                    Piece::Delta(x, y) => {
                        let (x, y) = (letter(&Some(x.clone()))?, letter(&Some(y.clone()))?);
                        if x == y { 1.0 } else { 0.0 }
                    }
                    Piece::Entry(m, r, c) => {
                        let value = crate::numeric::eval(m, b)?;
                        let (mut i, mut j) = (letter(r)?.unwrap_or(0), letter(c)?.unwrap_or(0));
                        // a row vector's only index is its column
                        if r.is_some() && c.is_none() && value.rows == 1 {
                            (i, j) = (0, i);
                        }
                        if c.is_some() && r.is_none() && value.cols == 1 {
                            (i, j) = (j, 0);
                        }
                        if i >= value.rows || j >= value.cols {
                            return Err(EvalError::new("an index is out of range"));
                        }
                        value.get(i, j)
                    }
                };
            }
            total += v;
        }
        Ok(total)
    }
}

struct Entries<'a> {
    ctx: &'a Context,
}

/// The (row, column) index letters of a unit factor: `E_ij` → (i, j),
/// `E_ij^T` → (j, i), `e_i` → (i, –), `e_i^T` → (–, i).
fn unit_indices(f: &Expr) -> Option<(Option<String>, Option<String>)> {
    let (u, transposed) = match f.kind() {
        Kind::Transpose(u) => (u, true),
        _ => (f, false),
    };
    let Kind::Unit(ix) = u.kind() else {
        return None;
    };
    let mut chars = ix.chars().map(|c| c.to_string());
    let first = chars.next();
    let (r, c) = if u.shape().cols.is_one() {
        (first, None)
    } else {
        (first, chars.next())
    };
    Some(if transposed { (c, r) } else { (r, c) })
}

fn mentions_unit(e: &Expr) -> bool {
    crate::stack::grow(|| {
        let mut stack = vec![e];
        while let Some(x) = stack.pop() {
            if matches!(x.kind(), Kind::Unit(_)) {
                return true;
            }
            stack.extend(x.children());
        }
        false
    })
}

/// One factor of a term in index notation.
#[derive(Clone, Debug)]
pub enum Piece {
    /// A scalar factor, printed as text (it may hold `E_ij` inside a
    /// function, which its value reads from the index letters).
    Scalar(Expr),
    /// The entry (row, column) of a matrix; a missing index is a vector's
    /// (or a row's) only one.
    Entry(Expr, Option<String>, Option<String>),
    /// The Kronecker delta of two index letters.
    Delta(String, String),
}

/// A derivative in index notation: `lhs = Σ ± c Π pieces`.
#[derive(Clone, Debug)]
pub struct IndexForm {
    /// The left-hand side, e.g. `∂M_kl/∂X_ij`.
    pub lhs: String,
    /// The index letters of the entry the right-hand side is.
    pub row: Option<String>,
    /// See `row`.
    pub col: Option<String>,
    /// Terms as (coefficient, pieces).
    pub terms: Vec<(num_rational::BigRational, Vec<Piece>)>,
}

impl Entries<'_> {
    /// The entry `(r, c)` of a sum, term by term.
    fn sum(&self, e: &Expr, r: Option<&str>, c: Option<&str>) -> Vec<(BigRational, Vec<Piece>)> {
        let terms: Vec<Expr> = match e.kind() {
            Kind::Sum(ts) => ts.clone(),
            _ => vec![e.clone()],
        };
        terms
            .iter()
            .filter(|t| !t.is_zero())
            .map(|t| self.term(t, r, c))
            .collect()
    }

    /// One term as (coefficient, pieces).
    fn term(&self, t: &Expr, r: Option<&str>, c: Option<&str>) -> (BigRational, Vec<Piece>) {
        crate::stack::grow(|| {
            if t.is_scalar() && (r.is_some() || c.is_some()) {
                // A broadcast scalar: every entry is the scalar itself.
                return self.term(t, None, None);
            }
            let (coeff, scalars, chain) = t.split_product();
            let mut parts: Vec<Piece> = Vec::new();
            for s in &scalars {
                parts.extend(self.scalar(s));
            }
            if !chain.is_empty() {
                parts.extend(self.chain(&chain, r, c));
            }
            (coeff, parts)
        })
    }

    /// A scalar factor, with traces and 1×1 products of a unit matrix
    /// written as entries.
    fn scalar(&self, s: &Expr) -> Vec<Piece> {
        if mentions_unit(s) {
            if let Kind::Apply(Func::Tr, p) = s.kind() {
                let (_, sc, ch) = p.split_product();
                if sc.is_empty()
                    && let Some(k) = single_unit(&ch)
                {
                    // tr(L U R) = tr(R L U) = (R L)_{b a} for U with indices (a, b)
                    let (a, b) = unit_indices(&ch[k]).expect("a unit");
                    let rl: Vec<Expr> = ch[k + 1..].iter().chain(&ch[..k]).cloned().collect();
                    return self.chain(&rl, b.as_deref(), a.as_deref());
                }
            }
            if let Kind::Product(fs) = s.kind()
                && fs.iter().all(|f| !f.is_scalar())
            {
                return self.chain(fs, None, None);
            }
        }
        vec![Piece::Scalar(s.clone())]
    }

    /// The entry `(r, c)` of a matrix chain.
    fn chain(&self, chain: &[Expr], r: Option<&str>, c: Option<&str>) -> Vec<Piece> {
        let own = |x: Option<&str>| x.map(str::to_string);
        let Some(k) = single_unit(chain) else {
            // An outer product u v^T has the entry u_r v_c.
            if let Some(k) = (1..chain.len()).find(|&k| chain[k - 1].shape().cols.is_one())
                && r.is_some()
                && c.is_some()
            {
                let u = Expr::product(chain[..k].iter().cloned());
                let v = Expr::product(chain[k..].iter().cloned());
                return vec![Piece::Entry(u, own(r), None), Piece::Entry(v, None, own(c))];
            }
            let p = Expr::product(chain.iter().cloned());
            return vec![Piece::Entry(p, own(r), own(c))];
        };
        let (a, b) = unit_indices(&chain[k]).expect("a unit");
        let mut parts = Vec::new();
        for (side, (x, y)) in [
            (&chain[..k], (r, a.as_deref())),
            (&chain[k + 1..], (b.as_deref(), c)),
        ] {
            if side.is_empty() {
                if let (Some(x), Some(y)) = (x, y)
                    && x != y
                {
                    parts.push(Piece::Delta(x.to_string(), y.to_string()));
                }
            } else {
                let p = Expr::product(side.iter().cloned());
                parts.push(Piece::Entry(p, own(x), own(y)));
            }
        }
        parts
    }

    /// A piece as text.
    fn show(&self, piece: &Piece) -> String {
        match piece {
            Piece::Scalar(s) => {
                let text = to_text(s);
                match s.kind() {
                    Kind::Sum(_) | Kind::Product(_) => format!("({text})"),
                    _ => text,
                }
            }
            Piece::Delta(x, y) => format!("δ_{x}{y}"),
            Piece::Entry(p, r, c) => self.entry(p, r.as_deref(), c.as_deref()),
        }
    }

    /// The entry `(r, c)` of a matrix `p`.
    fn entry(&self, p: &Expr, r: Option<&str>, c: Option<&str>) -> String {
        if r.is_none() && c.is_none() {
            return self.show(&Piece::Scalar(p.clone()));
        }
        match p.kind() {
            Kind::Var(v) => return format!("{v}{}", subscript(r, c)),
            Kind::Transpose(v) if matches!(v.kind(), Kind::Var(_)) => {
                return format!("{}{}", to_text(v), subscript(c, r));
            }
            Kind::Identity => return format!("δ{}", subscript(r, c)),
            Kind::Ones => return "1".into(),
            _ => {}
        }
        let text = to_text(p);
        let t = simplify(&Expr::transpose(p), self.ctx, Form::Expanded).expr;
        let t_text = to_text(&t);
        let prefer_t = (p.shape().rows.is_one() && !t.shape().rows.is_one())
            || t_text.matches("^T").count() < text.matches("^T").count();
        if prefer_t {
            format!("({t_text}){}", subscript(c, r))
        } else {
            format!("({text}){}", subscript(r, c))
        }
    }

    /// The right-hand side as text.
    fn rhs(&self, terms: &[(BigRational, Vec<Piece>)]) -> String {
        let out = join_signed(terms.iter().map(|(coeff, pieces)| {
            let mut parts: Vec<String> = magnitude(coeff).into_iter().collect();
            parts.extend(pieces.iter().map(|p| self.show(p)));
            if parts.is_empty() {
                parts.push("1".into());
            }
            (coeff.is_negative(), parts.join(" "))
        }));
        if out.is_empty() { "0".into() } else { out }
    }
}

/// The position of the only unit factor of a chain, if exactly one is.
fn single_unit(chain: &[Expr]) -> Option<usize> {
    let units: Vec<usize> = (0..chain.len())
        .filter(|&i| unit_indices(&chain[i]).is_some())
        .collect();
    let others_clean = chain
        .iter()
        .enumerate()
        .all(|(i, f)| units.contains(&i) || !mentions_unit(f));
    (units.len() == 1 && others_clean).then(|| units[0])
}

/// `_kl` for the index letters present (nothing for none).
fn subscript(r: Option<&str>, c: Option<&str>) -> String {
    let s: String = r.into_iter().chain(c).collect();
    if s.is_empty() { s } else { format!("_{s}") }
}
