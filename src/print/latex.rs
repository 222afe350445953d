//! The LaTeX printer (`--format latex`): the text printer's walk in the
//! notation of the Matrix Cookbook as KaTeX and MathJax render it —
//! `X^\top`, `X^{-1}`, `E_{ij}`, `\mathrm{d}X`, `\operatorname{tr}`,
//! `\det`, `\odot`, `\otimes`, exact fractions as `\frac{5}{6}`.
//!
//! Names are escaped rather than pasted: a name is letters, digits and an
//! optional subscript, so `Sigma2` becomes `\Sigma_{2}`, `w1` `w_{1}`, `α`
//! `\alpha`, and a longer name such as `Xtrain` `\mathit{Xtrain}`; a
//! differential `dX` is `\mathrm{d}X`. No raw Unicode reaches the output,
//! so KaTeX's strict mode accepts every result (a tested property).

use crate::calculus::derivative::{Answer, Derivative, Wrt};
use crate::expr::{Expr, Func, Kind};
use crate::lower::{Context, VarKind};
use crate::print::text::{Notation, Printer};
use num_bigint::BigInt;
use num_rational::BigRational;

const ATOM: u8 = 6;
const POSTFIX: u8 = 5;

/// LaTeX, with the variables' roles from a context (names spelled in
/// advance, such as a derivation's pending differentials, are the
/// business of [`crate::print::text::Spelled`]).
pub(crate) struct Latex<'a> {
    /// Which names are differentials of which variables.
    pub(crate) ctx: &'a Context,
}

impl<'a> Latex<'a> {
    /// The notation for expressions over `ctx`'s variables.
    pub(crate) fn new(ctx: &'a Context) -> Latex<'a> {
        Latex { ctx }
    }

    /// The expression in LaTeX.
    pub(crate) fn show(&self, e: &Expr) -> String {
        Printer { n: self }.show(e)
    }
}

impl Notation for Latex<'_> {
    fn var(&self, name: &str) -> String {
        let base = self
            .ctx
            .vars
            .get(name)
            .and_then(|v| v.differential_of.as_deref());
        match base {
            Some(b) if name.strip_prefix('d') == Some(b) => format!("\\mathrm{{d}}{}", ident(b)),
            _ => ident(name),
        }
    }
    fn leaf(&self, kind: &Kind) -> String {
        match kind {
            Kind::Identity => "I".to_string(),
            Kind::Ones => "\\mathbf{1}".to_string(),
            // bold, with its sizes: never the user's `K`
            Kind::Commutation(p, q) => format!("\\mathbf{{K}}_{{{p},{q}}}"),
            _ => "K".to_string(),
        }
    }
    fn unit(&self, indices: &str, vector: bool) -> String {
        format!("{}_{{{indices}}}", if vector { 'e' } else { 'E' })
    }
    fn fraction(&self, numer: &BigInt, denom: &BigInt) -> (String, u8) {
        (format!("\\frac{{{numer}}}{{{denom}}}"), ATOM)
    }
    fn exponent(&self, k: &BigRational) -> String {
        if k.is_integer() {
            format!("{{{}}}", k.to_integer())
        } else {
            let sign = if k.numer() < &BigInt::from(0) {
                "-"
            } else {
                ""
            };
            let n = k.numer().magnitude();
            format!("{{{sign}\\frac{{{n}}}{{{}}}}}", k.denom())
        }
    }
    fn postfix(&self, base: &str, transpose: bool, inverse: bool) -> String {
        match (transpose, inverse) {
            (true, true) => format!("{base}^{{-\\top}}"),
            (true, false) => format!("{base}^\\top"),
            _ => format!("{base}^{{-1}}"),
        }
    }
    fn hadamard_power(&self, base: &str, k: &BigRational) -> String {
        let k = self.exponent(k);
        format!("{base}^{{\\circ {}}}", &k[1..k.len() - 1])
    }
    fn general_power(&self, base: &str, exponent: &str, _: bool, elementwise: bool) -> String {
        if elementwise {
            format!("{base}^{{\\circ {exponent}}}")
        } else {
            format!("{base}^{{{exponent}}}")
        }
    }
    fn operator(&self, kind: &Kind) -> &'static str {
        match kind {
            Kind::Hadamard(..) => "\\odot",
            Kind::HadamardDiv(..) => "\\oslash",
            _ => "\\otimes",
        }
    }
    fn apply(&self, f: Func, arg: &str) -> String {
        f.row().latex_of(arg)
    }
    fn paren(&self, s: &str) -> String {
        format!("\\left({s}\\right)")
    }
    fn denominator_level(&self) -> u8 {
        // a fraction bar groups its denominator
        0
    }
    fn divide(&self, numerator: &str, denominators: &[String]) -> (String, u8) {
        (
            format!("\\frac{{{numerator}}}{{{}}}", denominators.join(" ")),
            POSTFIX,
        )
    }
    fn where_word(&self) -> &'static str {
        " \\quad \\text{where } "
    }
    fn binding_separator(&self) -> &'static str {
        ",\\; "
    }
}

/// Lower-case Greek letters in Unicode order from α (U+03B1) to ω; final
/// sigma ς sits between ρ and σ.
const GREEK_LOWER: [&str; 25] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "varsigma", "sigma", "tau", "upsilon",
    "phi", "chi", "psi", "omega",
];

/// Upper-case Greek letters from Α (U+0391) to Ω (U+03A9), U+03A2 unused.
const GREEK_UPPER: [&str; 25] = [
    "Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta", "Eta", "Theta", "Iota", "Kappa",
    "Lambda", "Mu", "Nu", "Xi", "Omicron", "Pi", "Rho", "", "Sigma", "Tau", "Upsilon", "Phi",
    "Chi", "Psi", "Omega",
];

/// A Greek letter's name (`alpha`, `Sigma`) in LaTeX: `\alpha`, `\Sigma`;
/// capitals that look Latin are upright Latin letters (`\mathrm{A}`).
fn greek_word(word: &str) -> Option<String> {
    match word {
        "omicron" => return Some("o".to_string()),
        "varsigma" => return Some("\\varsigma".to_string()),
        _ => {}
    }
    if GREEK_LOWER.contains(&word) {
        return Some(format!("\\{word}"));
    }
    if !GREEK_UPPER.contains(&word) || word.is_empty() {
        return None;
    }
    let latin_look = [
        ("Alpha", "A"),
        ("Beta", "B"),
        ("Epsilon", "E"),
        ("Zeta", "Z"),
        ("Eta", "H"),
        ("Iota", "I"),
        ("Kappa", "K"),
        ("Mu", "M"),
        ("Nu", "N"),
        ("Omicron", "O"),
        ("Rho", "P"),
        ("Tau", "T"),
        ("Chi", "X"),
    ];
    Some(match latin_look.iter().find(|(g, _)| *g == word) {
        Some((_, l)) => format!("\\mathrm{{{l}}}"),
        None => format!("\\{word}"),
    })
}

/// A Greek character (`α`, `Σ`) in LaTeX; other characters as they are.
fn letter(c: char) -> String {
    let code = c as u32;
    let word = match code {
        0x3B1..=0x3C9 => GREEK_LOWER[(code - 0x3B1) as usize],
        0x391..=0x3A9 => GREEK_UPPER[(code - 0x391) as usize],
        _ => return c.to_string(),
    };
    greek_word(word).unwrap_or_else(|| "?".to_string())
}

/// A name of the input language in LaTeX: `Sigma2` → `\Sigma_{2}`,
/// `w1` → `w_{1}`, `X_ij` → `X_{ij}`, `Xtrain` → `\mathit{Xtrain}`.
pub(crate) fn ident(name: &str) -> String {
    let (base, explicit) = match name.split_once('_') {
        Some((b, s)) => (b, Some(s.trim_start_matches('{').trim_end_matches('}'))),
        None => (name, None),
    };
    let letters = base.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = &base[letters.len()..];
    let head = if let Some(g) = greek_word(letters) {
        g
    } else if letters.chars().count() == 1 {
        letters.chars().map(letter).collect()
    } else {
        let inner: String = letters
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    format!("{{{}}}", letter(c))
                }
            })
            .collect();
        format!("\\mathit{{{inner}}}")
    };
    let subs: Vec<&str> = [Some(digits).filter(|d| !d.is_empty()), explicit]
        .into_iter()
        .flatten()
        .collect();
    if subs.is_empty() {
        head
    } else {
        format!("{head}_{{{}}}", subs.join(","))
    }
}

/// The left-hand side of an answer's equation, e.g.
/// `\frac{\partial M}{\partial X_{ij}}`.
pub(crate) fn lhs(a: &Answer) -> String {
    let f = crate::print::index::function_name(a.function.shape());
    let var = match &a.wrt {
        Wrt::Var(v) | Wrt::Entry { var: v, .. } => v.as_str(),
    };
    let x = ident(var);
    let vkind = a.context.vars.get(var).map(|v| v.kind);
    let vec_x = format!("\\operatorname{{vec}}\\left({x}\\right)");
    match (&a.kind, &a.wrt) {
        (Derivative::Entrywise, Wrt::Entry { indices, .. }) => {
            let x = if x.contains('_') {
                format!("\\left({x}\\right)")
            } else {
                x
            };
            format!("\\frac{{\\partial {f}}}{{\\partial {x}_{{{indices}}}}}")
        }
        (Derivative::Differential, _) => match &a.direction {
            Some(d) if d.strip_prefix('d') == Some(var) => format!("\\mathrm{{d}}{f}"),
            Some(d) => format!("\\mathrm{{D}}{f}\\left[{}\\right]", ident(d)),
            None => format!("\\mathrm{{d}}{f}"),
        },
        (Derivative::Hessian, _) => match vkind {
            Some(VarKind::Scalar) => format!("\\frac{{\\partial^2 {f}}}{{\\partial {x}^2}}"),
            Some(VarKind::Vector) => {
                format!("\\frac{{\\partial^2 {f}}}{{\\partial {x} \\, \\partial {x}^\\top}}")
            }
            _ => format!(
                "\\frac{{\\partial^2 {f}}}{{\\partial {vec_x} \\, \\partial {vec_x}^\\top}}"
            ),
        },
        (Derivative::Jacobian, _) => {
            let num = if a.function.shape().cols.is_one() {
                f.to_string()
            } else {
                format!("\\operatorname{{vec}}\\left({f}\\right)")
            };
            let den = match vkind {
                Some(VarKind::Scalar) => x,
                Some(VarKind::Vector) => format!("{x}^\\top"),
                _ => format!("{vec_x}^\\top"),
            };
            format!("\\frac{{\\partial {num}}}{{\\partial {den}}}")
        }
        _ => format!("\\frac{{\\partial {f}}}{{\\partial {x}}}"),
    }
}

/// The answer as a LaTeX equation, `lhs = rhs`.
pub fn to_latex(a: &Answer) -> String {
    format!("{} = {}", lhs(a), to_latex_rhs(a))
}

/// The right-hand side alone (`--rhs`), with names for repeated pieces
/// where the answer asks for them (`crate::print::named`).
pub fn to_latex_rhs(a: &Answer) -> String {
    let ctx = a.direction_context();
    let latex = Latex::new(&ctx);
    match crate::print::named::of_answer(a) {
        Some(n) => crate::print::named::text(&n, &latex),
        None => latex.show(&a.result),
    }
}

/// The right-hand side with the full expression, never with names (for
/// JSON).
pub fn to_latex_full(a: &Answer) -> String {
    Latex::new(&a.direction_context()).show(&a.result)
}

/// Any expression over `ctx`'s variables in LaTeX (for `simplify`).
pub fn expr_to_latex(e: &Expr, ctx: &Context) -> String {
    Latex::new(ctx).show(e)
}
