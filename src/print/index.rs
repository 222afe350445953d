//! The component form (`--format index`): one entry of a derivative in
//! index notation, e.g. for the seed question
//! `∂M_kl/∂X_ij = A_ki (A X)_lj + (A X)_kj A_li`.
//!
//! A term `L E_ij R` has the entry `L_ki R_jl` (and `L E_ij^T R` the entry
//! `L_kj R_il`); `tr(L E_ij R)` is `(R L)_ji`. Any other matrix `P` is
//! written `(P)_kl`, or `(P^T)_lk` when that needs fewer transposes.

use crate::expr::{Expr, Func, Kind};
use crate::lower::{Context, VarKind};
use crate::print::text::to_text;
use crate::session::{Answer, Derivative, Wrt};
use crate::simplify::{Form, simplify};
use num_traits::{One, Signed};

/// The answer in index notation, as `lhs = rhs`.
pub fn to_index(a: &Answer) -> String {
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
    let f_name = if f_shape.is_scalar() {
        "f"
    } else if f_shape.is_vector() {
        "y"
    } else {
        "M"
    };
    let sub = |r: &Option<String>, c: &Option<String>| -> String {
        let s: String = r.iter().chain(c.iter()).map(String::as_str).collect();
        if s.is_empty() { s } else { format!("_{s}") }
    };
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
    format!(
        "{lhs} = {}",
        printer.sum(&a.result, r.as_deref(), c.as_deref())
    )
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
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if matches!(x.kind(), Kind::Unit(_)) {
            return true;
        }
        stack.extend(x.children());
    }
    false
}

impl Entries<'_> {
    /// The entry `(r, c)` of a sum, term by term.
    fn sum(&self, e: &Expr, r: Option<&str>, c: Option<&str>) -> String {
        let terms: Vec<Expr> = match e.kind() {
            Kind::Sum(ts) => ts.clone(),
            _ => vec![e.clone()],
        };
        let mut out = String::new();
        for (n, t) in terms.iter().enumerate() {
            let (neg, body) = self.term(t, r, c);
            match (n, neg) {
                (0, false) => {}
                (0, true) => out.push('-'),
                (_, false) => out.push_str(" + "),
                (_, true) => out.push_str(" - "),
            }
            out.push_str(&body);
        }
        if out.is_empty() { "0".into() } else { out }
    }

    /// One term as (is negative, text).
    fn term(&self, t: &Expr, r: Option<&str>, c: Option<&str>) -> (bool, String) {
        if t.is_zero() {
            return (false, "0".into());
        }
        if t.is_scalar() && (r.is_some() || c.is_some()) {
            // A broadcast scalar: every entry is the scalar itself.
            return self.term(t, None, None);
        }
        let (coeff, scalars, chain) = t.split_product();
        let mut parts: Vec<String> = Vec::new();
        let abs = coeff.abs();
        if !abs.is_one() {
            parts.push(if abs.is_integer() {
                abs.to_integer().to_string()
            } else {
                format!("({}/{})", abs.numer(), abs.denom())
            });
        }
        for s in &scalars {
            parts.push(self.scalar(s));
        }
        if !chain.is_empty() {
            parts.push(self.chain(&chain, r, c));
        }
        if parts.is_empty() {
            parts.push("1".into());
        }
        (coeff.is_negative(), parts.join(" "))
    }

    /// A scalar factor, with traces and 1×1 products of a unit matrix
    /// written as entries.
    fn scalar(&self, s: &Expr) -> String {
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
        let text = to_text(s);
        match s.kind() {
            Kind::Sum(_) | Kind::Product(_) => format!("({text})"),
            _ => text,
        }
    }

    /// The entry `(r, c)` of a matrix chain.
    fn chain(&self, chain: &[Expr], r: Option<&str>, c: Option<&str>) -> String {
        let Some(k) = single_unit(chain) else {
            return self.entry(&Expr::product(chain.iter().cloned()), r, c);
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
                    parts.push(format!("δ_{x}{y}"));
                }
            } else {
                parts.push(self.entry(&Expr::product(side.iter().cloned()), x, y));
            }
        }
        if parts.is_empty() {
            "1".into()
        } else {
            parts.join(" ")
        }
    }

    /// The entry `(r, c)` of a matrix `p`.
    fn entry(&self, p: &Expr, r: Option<&str>, c: Option<&str>) -> String {
        let ix = |x: Option<&str>, y: Option<&str>| -> String {
            let s: String = x.into_iter().chain(y).collect();
            if s.is_empty() { s } else { format!("_{s}") }
        };
        if r.is_none() && c.is_none() {
            let text = to_text(p);
            return match p.kind() {
                Kind::Sum(_) | Kind::Product(_) => format!("({text})"),
                _ => text,
            };
        }
        match p.kind() {
            Kind::Var(v) => return format!("{v}{}", ix(r, c)),
            Kind::Transpose(v) if matches!(v.kind(), Kind::Var(_)) => {
                return format!("{}{}", to_text(v), ix(c, r));
            }
            Kind::Identity => return format!("δ{}", ix(r, c)),
            Kind::Ones => return "1".into(),
            _ => {}
        }
        let text = to_text(p);
        let t = simplify(&Expr::transpose(p), self.ctx, Form::Expanded).expr;
        let t_text = to_text(&t);
        let prefer_t = (p.shape().rows.is_one() && !t.shape().rows.is_one())
            || t_text.matches("^T").count() < text.matches("^T").count();
        if prefer_t {
            format!("({t_text}){}", ix(c, r))
        } else {
            format!("({text}){}", ix(r, c))
        }
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
