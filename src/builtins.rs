//! The one table of the language's built-in functions: [`TABLE`].
//!
//! A row says everything about a function that is not a rule of calculus:
//! the name users type (and its aliases), what a call of it means in the
//! algebra ([`Meaning`]), the shapes it takes and gives ([`Signature`], and
//! with it the arity), where it is defined ([`Domain`]), whether it keeps
//! values rational (so that checks are exact), and how it is spelled in
//! LaTeX, NumPy and JAX. Every list of names in the crate comes from here:
//! the readers (pest and the fast reader both resolve a call's name through
//! [`lookup`]), the "did you mean" suggestions and the help text ([`NAMES`]),
//! the REPL's completion, shape inference and lowering (by [`Signature`] and
//! [`Meaning`]), and the printers (by [`Func::row`]).
//!
//! The algebra's vocabulary, [`Func`] and [`ElemFn`], lives here too, so that
//! this module depends on nothing else in the crate. The rules stay where
//! their subject is: a derivative is an arm of the `match` in
//! `calculus/diff.rs`, a value an arm in `numeric/eval.rs` (one arm for f64
//! and exact dual numbers; exact only when the row is `rational`). Those
//! matches are
//! exhaustive, so a new variant does not compile without its rules, and a
//! test (`tests/it/builtins.rs`) checks every row's differential
//! numerically, and exactly where the row is rational. The README's
//! "Developing" section walks through adding a function.
//!
//! Why a `const` table of plain data rather than a macro that generates the
//! enums: the rows stay readable as one aligned list, the compiler checks
//! them like any other code, and derived lists ([`NAMES`], [`ElemFn::ALL`])
//! are computed from it at compile time, so nothing is built at run time.

use std::fmt;

/// Functions of one argument in the algebra (`Kind::Apply`). The order of
/// the variants is the order in which expressions sort; keep it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Func {
    /// trace
    Tr,
    /// determinant
    Det,
    /// log of the determinant
    Logdet,
    /// vector → diagonal matrix, or square matrix → its diagonal
    Diag,
    /// stack the columns
    Vec,
    /// sum of all entries
    Sum,
    /// Euclidean / Frobenius norm
    Norm2,
    /// 1-norm of a vector; the entrywise 1-norm (sum of absolute values)
    /// of a matrix
    Norm1,
    /// softmax of a vector: `exp(x) / sum(exp(x))`
    Softmax,
    /// log-sum-exp of a vector: `log(sum(exp(x)))`
    Logsumexp,
    /// the matrix exponential `Σ X^k / k!` of a square matrix
    Expm,
    /// the principal matrix logarithm (eigenvalues off the closed negative
    /// real axis)
    Logm,
    /// the principal matrix square root (eigenvalues off the closed
    /// negative real axis)
    Sqrtm,
    /// an elementwise function
    Elem(ElemFn),
}

/// Elementwise functions. The order of the variants is the order in which
/// expressions sort; keep it (a new one goes last).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum ElemFn {
    /// e^x
    Exp,
    /// natural logarithm
    Log,
    /// sine
    Sin,
    /// cosine
    Cos,
    /// tangent
    Tan,
    /// hyperbolic tangent
    Tanh,
    /// square root
    Sqrt,
    /// absolute value
    Abs,
    /// sign (−1, 0, 1)
    Sign,
    /// 1 / (1 + e^-x)
    Sigmoid,
    /// max(x, 0)
    Relu,
    /// log(1 + e^x)
    Softplus,
    /// inverse sine, on [-1, 1]
    Arcsin,
    /// inverse cosine, on [-1, 1]
    Arccos,
    /// inverse tangent
    Arctan,
    /// the step (Heaviside) function: 1 where x > 0, else 0 — ReLU's
    /// derivative (its value at 0, where ReLU has none, is taken as 0)
    Step,
    /// the error function `(2/√π) ∫₀ˣ e^(-t²) dt`
    Erf,
    /// the standard normal distribution function Φ (the probit link):
    /// `(1 + erf(x/√2)) / 2`
    Normcdf,
    /// the standard normal density φ, Φ's derivative: `e^(-x²/2) / √(2π)`
    Normpdf,
}

/// What a call of a built-in means in the algebra. `Inverse` and `Kron`
/// are operators that the printers write with their own notation
/// (`X^-1`, `A ⊗ B`); their rows' spellings say how a call would be written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Meaning {
    /// The function node `Kind::Apply(func, x)`, printed with the row's
    /// spellings.
    Apply(Func),
    /// The inverse `x^-1` (`inv`), printed as a power.
    Inverse,
    /// The Kronecker product (`kron`), printed as `⊗`.
    Kron,
    /// `c` times the all-ones vector (`vector(c)`, as matrixcalculus.org
    /// writes it) or matrix (`matrix(c)`): lowered to `c ones`, so never
    /// printed as a call.
    Fill,
    /// The commutation matrix `K` with `vec(F^T) = K vec(F)` for a `p×q`
    /// matrix `F`, called with the sizes: `commutation(p, q)`. The text
    /// printer writes it so, a name no input can use for anything else.
    Commutation,
    /// The all-ones column of a given length, called with the size:
    /// `ones(n)`. The text printer writes it so where nothing else fixes
    /// the size (`ones(n)^T ones(n)` is n; a bare `ones^T ones` is 1).
    SizedOnes,
}

/// The shapes a built-in takes and gives: its argument and result kinds,
/// and so its arity. Shape inference (`lower.rs`) has one arm per variant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Signature {
    /// A square matrix to a scalar (`tr`, `det`).
    SquareToScalar,
    /// A square matrix to one of the same shape (`inv`).
    SquareToSquare,
    /// A matrix function of a square matrix (`expm`, `logm`, `sqrtm`):
    /// shaped as [`Signature::SquareToSquare`], but differentiable only
    /// under a trace, `d tr(f(X)) = tr(f'(X) dX)`; elsewhere its
    /// derivative is a Fréchet derivative the algebra cannot write.
    MatrixFunction,
    /// Anything to a scalar (`sum`, `norm2`).
    AnyToScalar,
    /// Anything to the same shape, entry by entry (`exp`).
    Elementwise,
    /// Anything to the column of its entries (`vec`).
    Flatten,
    /// A vector to the diagonal matrix, a square matrix to its diagonal.
    Diag,
    /// Two of anything to their Kronecker product (`kron`).
    Kron,
    /// A vector to a vector of its length (`softmax`).
    VectorToVector,
    /// A vector to a scalar (`logsumexp`).
    VectorToScalar,
    /// A scalar to a vector whose length the context gives (`vector(c)`).
    ScalarToVector,
    /// A scalar to a matrix whose shape the context gives (`matrix(c)`).
    ScalarToMatrix,
    /// Two sizes to a square matrix of their product's size
    /// (`commutation(p, q)`): the arguments are sizes (`n`, `3`, `n m`),
    /// not expressions.
    Sizes,
    /// A size to a column of that length (`ones(n)`): the argument is a
    /// size, not an expression.
    Size,
}

impl Signature {
    /// How many arguments a call takes.
    pub const fn arity(self) -> usize {
        match self {
            Signature::Kron | Signature::Sizes => 2,
            _ => 1,
        }
    }

    /// Whether the arguments are sizes (`n`, `3`, `n m`) rather than
    /// expressions.
    pub const fn takes_sizes(self) -> bool {
        matches!(self, Signature::Sizes | Signature::Size)
    }
}

/// Where a function is defined, for drawing random points to check it at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Domain {
    /// Everywhere.
    All,
    /// Positive values (entries for an elementwise function, the
    /// determinant for `logdet`).
    Positive,
    /// Entries in the open interval (-1, 1) (`arcsin`, `arccos`).
    Unit,
}

/// How LaTeX writes a function applied to `x`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Latex {
    /// The row's name as an operator: `\operatorname{tr}\left(x\right)`.
    Name,
    /// An operator name before parentheses: `\det\left(x\right)`.
    Call(&'static str),
    /// A notation around the argument: `\sqrt{x}` is `Around("\\sqrt{", "}")`.
    Around(&'static str, &'static str),
}

/// How generated Python (NumPy, JAX) writes a function applied to `x`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Code {
    /// A call: `np.trace(x)`.
    Call(&'static str),
    /// Text around the argument, which sits inside brackets of its own and
    /// so is never parenthesised: `np.linalg.slogdet(x)[1]`.
    Wrap(&'static str, &'static str),
    /// An arithmetic expression around the argument: the whole binds like
    /// a product, and the argument is parenthesised unless it binds like a
    /// power's base (it follows a unary minus): `1.0 / (1.0 + np.exp(-x))`.
    Arith(&'static str, &'static str),
}

/// One built-in function: everything about it but its rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Row {
    /// The name users type and the text printer writes.
    pub name: &'static str,
    /// Other names users may type for it.
    pub aliases: &'static [&'static str],
    /// What a call means in the algebra.
    pub meaning: Meaning,
    /// The shapes it takes and gives, and its arity.
    pub signature: Signature,
    /// Where it is defined.
    pub domain: Domain,
    /// Whether it keeps rational values rational, so that derivatives
    /// through it are checked exactly with dual numbers over Q.
    pub rational: bool,
    /// Its LaTeX spelling.
    pub latex: Latex,
    /// Its NumPy spelling.
    pub numpy: Code,
    /// Its JAX spelling (for a JAX printer: `jax.numpy` as `jnp`).
    pub jax: Code,
}

impl Row {
    /// A row for `name` meaning `meaning`, with no aliases, defined
    /// everywhere, not rational, spelled [`Latex::Name`]; its NumPy and JAX
    /// spellings come next ([`Row::calls`] or [`Row::code`]).
    const fn new(name: &'static str, meaning: Meaning, signature: Signature) -> Row {
        Row {
            name,
            aliases: &[],
            meaning,
            signature,
            domain: Domain::All,
            rational: false,
            latex: Latex::Name,
            numpy: Code::Call(""),
            jax: Code::Call(""),
        }
    }

    /// The same row, spelled as the calls `numpy(x)` and `jax(x)`.
    const fn calls(self, numpy: &'static str, jax: &'static str) -> Row {
        self.code(Code::Call(numpy), Code::Call(jax))
    }

    /// The same row with these NumPy and JAX spellings.
    const fn code(mut self, numpy: Code, jax: Code) -> Row {
        self.numpy = numpy;
        self.jax = jax;
        self
    }

    /// The same row, also called `aliases`.
    const fn aliases(mut self, aliases: &'static [&'static str]) -> Row {
        self.aliases = aliases;
        self
    }

    /// The same row, rational.
    const fn rational(mut self) -> Row {
        self.rational = true;
        self
    }

    /// The same row, defined for positive values only.
    const fn positive(mut self) -> Row {
        self.domain = Domain::Positive;
        self
    }

    /// The same row, defined on (-1, 1) only.
    const fn unit(mut self) -> Row {
        self.domain = Domain::Unit;
        self
    }

    /// The same row with a LaTeX spelling.
    const fn latex(mut self, latex: Latex) -> Row {
        self.latex = latex;
        self
    }

    /// How many arguments a call takes.
    pub const fn arity(&self) -> usize {
        self.signature.arity()
    }

    /// Writes `arg` (already LaTeX) as this function's argument.
    pub fn latex_of(&self, arg: &str) -> String {
        match self.latex {
            Latex::Name => format!("\\operatorname{{{}}}\\left({arg}\\right)", self.name),
            Latex::Call(op) => format!("{op}\\left({arg}\\right)"),
            Latex::Around(before, after) => format!("{before}{arg}{after}"),
        }
    }
}

use Meaning::{Apply, Commutation, Fill, Inverse, Kron, SizedOnes};
use Signature as S;

/// The built-in functions, in the order the help text lists them.
///
/// Each row: the name, its meaning and signature, then what differs from
/// the defaults of [`Row::new`], the NumPy and JAX spellings last.
#[rustfmt::skip]
pub const TABLE: &[Row] = &[
    Row::new("tr",       Apply(Func::Tr),      S::SquareToScalar).rational()
        .calls("np.trace", "jnp.trace"),
    Row::new("det",      Apply(Func::Det),     S::SquareToScalar).rational().latex(Latex::Call("\\det"))
        .calls("np.linalg.det", "jnp.linalg.det"),
    Row::new("logdet",   Apply(Func::Logdet),  S::SquareToScalar).positive().latex(Latex::Call("\\log\\det"))
        .code(Code::Wrap("np.linalg.slogdet(", ")[1]"), Code::Wrap("jnp.linalg.slogdet(", ")[1]")),
    Row::new("inv",      Inverse,              S::SquareToSquare).rational()
        .calls("np.linalg.inv", "jnp.linalg.inv"),
    Row::new("diag",     Apply(Func::Diag),    S::Diag).rational()
        .calls("np.diag", "jnp.diag"),
    Row::new("vec",      Apply(Func::Vec),     S::Flatten).rational()
        .code(Code::Wrap("np.ravel(", ", order=\"F\")"), Code::Wrap("jnp.ravel(", ", order=\"F\")")),
    Row::new("sum",      Apply(Func::Sum),     S::AnyToScalar).rational()
        .calls("np.sum", "jnp.sum"),
    Row::new("norm2",    Apply(Func::Norm2),   S::AnyToScalar).latex(Latex::Around("\\left\\lVert ", " \\right\\rVert"))
        .calls("np.linalg.norm", "jnp.linalg.norm"),
    Row::new("norm1",    Apply(Func::Norm1),   S::AnyToScalar).latex(Latex::Around("\\left\\lVert ", " \\right\\rVert_1"))
        .code(Code::Wrap("np.sum(np.abs(", "))"), Code::Wrap("jnp.sum(jnp.abs(", "))")),
    Row::new("softmax",  Apply(Func::Softmax), S::VectorToVector)
        .code(Code::Wrap("(lambda v: np.exp(v - np.max(v)) / np.sum(np.exp(v - np.max(v))))(", ")"),
              Code::Call("jax.nn.softmax")),
    Row::new("logsumexp", Apply(Func::Logsumexp), S::VectorToScalar)
        .code(Code::Wrap("(lambda v: np.max(v) + np.log(np.sum(np.exp(v - np.max(v)))))(", ")"),
              Code::Call("jax.nn.logsumexp")),
    // Matrix functions: NumPy has none, so the code calls SciPy's (and
    // imports `scipy.linalg`); JAX has `expm` and `sqrtm` (whose complex
    // result is real for the matrices logm and sqrtm are defined on), but
    // no `logm`, which the JAX printer refuses.
    Row::new("expm",     Apply(Func::Expm),    S::MatrixFunction)
        .calls("scipy.linalg.expm", "jax.scipy.linalg.expm"),
    Row::new("logm",     Apply(Func::Logm),    S::MatrixFunction).positive()
        .code(Code::Wrap("np.real(scipy.linalg.logm(", "))"), Code::Call("")),
    Row::new("sqrtm",    Apply(Func::Sqrtm),   S::MatrixFunction).positive()
        .code(Code::Wrap("np.real(scipy.linalg.sqrtm(", "))"), Code::Wrap("jnp.real(jax.scipy.linalg.sqrtm(", "))")),
    Row::new("kron",     Kron,                 S::Kron).rational()
        .calls("np.kron", "jnp.kron"),
    // `vector(c)`, `matrix(c)`: lowered to `c ones`, which the printers
    // write themselves; the spellings say what a call would be.
    Row::new("vector",   Fill,                 S::ScalarToVector).rational()
        .calls("np.full", "jnp.full"),
    Row::new("matrix",   Fill,                 S::ScalarToMatrix).rational()
        .calls("np.full", "jnp.full"),
    // `ones(n)`: lowered to the all-ones column of length n, which the
    // printers write themselves.
    Row::new("ones",     SizedOnes,            S::Size).rational()
        .calls("np.ones", "jnp.ones"),
    // The NumPy printer writes K as a reshape/transpose of its own.
    Row::new("commutation", Commutation,       S::Sizes).rational()
        .calls("commutation", "commutation"),
    Row::new("exp",      elem(ElemFn::Exp),    S::Elementwise).latex(Latex::Call("\\exp"))
        .calls("np.exp", "jnp.exp"),
    Row::new("log",      elem(ElemFn::Log),    S::Elementwise).positive().latex(Latex::Call("\\log"))
        .calls("np.log", "jnp.log"),
    Row::new("sin",      elem(ElemFn::Sin),    S::Elementwise).latex(Latex::Call("\\sin"))
        .calls("np.sin", "jnp.sin"),
    Row::new("cos",      elem(ElemFn::Cos),    S::Elementwise).latex(Latex::Call("\\cos"))
        .calls("np.cos", "jnp.cos"),
    Row::new("tan",      elem(ElemFn::Tan),    S::Elementwise).latex(Latex::Call("\\tan"))
        .calls("np.tan", "jnp.tan"),
    Row::new("tanh",     elem(ElemFn::Tanh),   S::Elementwise).latex(Latex::Call("\\tanh"))
        .calls("np.tanh", "jnp.tanh"),
    Row::new("sqrt",     elem(ElemFn::Sqrt),   S::Elementwise).positive().latex(Latex::Around("\\sqrt{", "}"))
        .calls("np.sqrt", "jnp.sqrt"),
    Row::new("abs",      elem(ElemFn::Abs),    S::Elementwise).latex(Latex::Around("\\left\\lvert ", " \\right\\rvert"))
        .calls("np.abs", "jnp.abs"),
    Row::new("sign",     elem(ElemFn::Sign),   S::Elementwise)
        .calls("np.sign", "jnp.sign"),
    Row::new("sigmoid",  elem(ElemFn::Sigmoid), S::Elementwise)
        .code(Code::Arith("1.0 / (1.0 + np.exp(-", "))"), Code::Call("jax.nn.sigmoid")),
    Row::new("relu",     elem(ElemFn::Relu),   S::Elementwise)
        .code(Code::Wrap("np.maximum(", ", 0.0)"), Code::Call("jax.nn.relu")),
    Row::new("softplus", elem(ElemFn::Softplus), S::Elementwise)
        .code(Code::Wrap("np.logaddexp(0.0, ", ")"), Code::Call("jax.nn.softplus")),
    Row::new("arcsin",   elem(ElemFn::Arcsin), S::Elementwise).unit().aliases(&["asin"]).latex(Latex::Call("\\arcsin"))
        .calls("np.arcsin", "jnp.arcsin"),
    Row::new("arccos",   elem(ElemFn::Arccos), S::Elementwise).unit().aliases(&["acos"]).latex(Latex::Call("\\arccos"))
        .calls("np.arccos", "jnp.arccos"),
    Row::new("arctan",   elem(ElemFn::Arctan), S::Elementwise).aliases(&["atan"]).latex(Latex::Call("\\arctan"))
        .calls("np.arctan", "jnp.arctan"),
    Row::new("step",     elem(ElemFn::Step),   S::Elementwise).aliases(&["heaviside"])
        .code(Code::Wrap("np.heaviside(", ", 0.0)"), Code::Wrap("jnp.heaviside(", ", 0.0)")),
    // NumPy has no vectorised erf: the code maps Python's `math.erf` and
    // `math.erfc` (correctly rounded to within an ulp or so) over the
    // entries, and the printer imports `math` when a row needs it.
    // Φ(x) = erfc(-x/√2)/2 keeps its relative accuracy in the lower tail.
    Row::new("erf",      elem(ElemFn::Erf),    S::Elementwise)
        .code(Code::Call("np.vectorize(math.erf, otypes=[float])"), Code::Call("jax.scipy.special.erf")),
    Row::new("normcdf",  elem(ElemFn::Normcdf), S::Elementwise)
        .code(Code::Arith("0.5 * np.vectorize(math.erfc, otypes=[float])(-0.7071067811865476 * ", ")"),
              Code::Call("jax.scipy.stats.norm.cdf")),
    Row::new("normpdf",  elem(ElemFn::Normpdf), S::Elementwise)
        .code(Code::Arith("0.3989422804014327 * np.exp(-0.5 * ", " ** 2)"),
              Code::Call("jax.scipy.stats.norm.pdf")),
];

/// The meaning of a call of an elementwise function (shorthand for the
/// table).
const fn elem(g: ElemFn) -> Meaning {
    Meaning::Apply(Func::Elem(g))
}

/// The functions' names, in [`TABLE`]'s order (aliases not included): for
/// the help text, suggestions and completion.
pub const NAMES: [&str; TABLE.len()] = {
    let mut out = [""; TABLE.len()];
    let mut i = 0;
    while i < TABLE.len() {
        out[i] = TABLE[i].name;
        i += 1;
    }
    out
};

/// A built-in function named in the input: a handle on its row of
/// [`TABLE`], as cheap to copy and compare as an integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Builtin(u8);

const _: () = assert!(TABLE.len() <= u8::MAX as usize, "Builtin holds a u8");

impl Builtin {
    /// The builtin called `name` (or one of its aliases), if any.
    pub fn from_name(name: &str) -> Option<Builtin> {
        lookup(name)
    }

    /// Its row of the table.
    pub fn row(self) -> &'static Row {
        &TABLE[self.0 as usize]
    }

    /// How many arguments it takes.
    pub fn arity(self) -> usize {
        self.row().arity()
    }

    /// Its name (the canonical one, whichever alias was typed).
    pub fn name(self) -> &'static str {
        self.row().name
    }
}

impl fmt::Debug for Builtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Builtin({:?})", self.name())
    }
}

/// The functions whose names are also constants: `ones` is the all-ones
/// matrix, and `ones(n)` (glued) the all-ones column of length `n`. Such
/// a name followed by a blank and `(` is the constant times a group,
/// `ones (a + b)`, as matcalc prints it; the grammar spells the list out
/// too (`glued_only` in `grammar/matcalc.pest`).
pub const GLUED_ONLY: [&str; 1] = ["ones"];

/// The built-in function a name (or alias) calls, if any. Allocates
/// nothing: the fast reader calls it for every name before `(`.
pub fn lookup(name: &str) -> Option<Builtin> {
    // Every name starts with a lower-case letter: anything else is not one.
    if !name.as_bytes().first().is_some_and(u8::is_ascii_lowercase) {
        return None;
    }
    TABLE
        .iter()
        .position(|r| r.name == name || r.aliases.contains(&name))
        .map(|i| Builtin(i as u8))
}

impl Func {
    /// Its row of the table.
    pub fn row(self) -> &'static Row {
        TABLE
            .iter()
            .find(|r| r.meaning == Meaning::Apply(self))
            .expect("every function has a row (tested)")
    }

    /// The name as printed.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// Whether it is a matrix function (`expm`, `logm`, `sqrtm`), whose
    /// derivative matcalc writes only under a trace.
    pub fn is_matrix_function(self) -> bool {
        matches!(self, Func::Expm | Func::Logm | Func::Sqrtm)
    }
}

/// How many rows are elementwise functions.
const ELEM_COUNT: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < TABLE.len() {
        if let Meaning::Apply(Func::Elem(_)) = TABLE[i].meaning {
            n += 1;
        }
        i += 1;
    }
    n
};

impl ElemFn {
    /// All of them, in [`TABLE`]'s order: for tests and generators.
    pub const ALL: [ElemFn; ELEM_COUNT] = {
        let mut out = [ElemFn::Exp; ELEM_COUNT];
        let (mut i, mut n) = (0, 0);
        while i < TABLE.len() {
            if let Meaning::Apply(Func::Elem(g)) = TABLE[i].meaning {
                out[n] = g;
                n += 1;
            }
            i += 1;
        }
        out
    };

    /// Its name.
    pub fn name(self) -> &'static str {
        Func::Elem(self).name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_are_distinct_and_lower_case() {
        let mut seen = std::collections::BTreeSet::new();
        for row in TABLE {
            for &name in std::iter::once(&row.name).chain(row.aliases) {
                assert!(seen.insert(name), "`{name}` names two rows");
                assert!(
                    name.starts_with(|c: char| c.is_ascii_lowercase())
                        && name.chars().all(|c| c.is_ascii_alphanumeric()),
                    "`{name}`: the readers take a name for a lower-case letter, then letters and digits"
                );
                assert_eq!(lookup(name).map(|b| b.row()), Some(row));
            }
        }
    }

    /// Every function of the algebra. The `match` does not compile when a
    /// variant is added: list it here too (and give it a row).
    fn every_func() -> Vec<Func> {
        let _exhaustive = |f: Func| match f {
            Func::Tr | Func::Det | Func::Logdet | Func::Diag | Func::Vec | Func::Sum => {}
            Func::Norm2 | Func::Norm1 | Func::Softmax | Func::Logsumexp => {}
            Func::Expm | Func::Logm | Func::Sqrtm => {}
            Func::Elem(g) => match g {
                ElemFn::Exp | ElemFn::Log | ElemFn::Sin | ElemFn::Cos | ElemFn::Tan => {}
                ElemFn::Tanh | ElemFn::Sqrt | ElemFn::Abs | ElemFn::Sign => {}
                ElemFn::Sigmoid | ElemFn::Relu | ElemFn::Softplus => {}
                ElemFn::Arcsin | ElemFn::Arccos | ElemFn::Arctan | ElemFn::Step => {}
                ElemFn::Erf | ElemFn::Normcdf | ElemFn::Normpdf => {}
            },
        };
        use ElemFn as E;
        let elem = [
            E::Exp,
            E::Log,
            E::Sin,
            E::Cos,
            E::Tan,
            E::Tanh,
            E::Sqrt,
            E::Abs,
            E::Sign,
            E::Sigmoid,
            E::Relu,
            E::Softplus,
            E::Arcsin,
            E::Arccos,
            E::Arctan,
            E::Step,
            E::Erf,
            E::Normcdf,
            E::Normpdf,
        ];
        assert_eq!(
            elem.len(),
            ElemFn::ALL.len(),
            "an elementwise function without a row"
        );
        [
            Func::Tr,
            Func::Det,
            Func::Logdet,
            Func::Diag,
            Func::Vec,
            Func::Sum,
            Func::Norm2,
            Func::Norm1,
            Func::Softmax,
            Func::Logsumexp,
            Func::Expm,
            Func::Logm,
            Func::Sqrtm,
        ]
        .into_iter()
        .chain(elem.map(Func::Elem))
        .collect()
    }

    #[test]
    fn every_function_has_one_row() {
        for f in every_func() {
            let rows = TABLE.iter().filter(|r| r.meaning == Meaning::Apply(f));
            assert_eq!(rows.count(), 1, "{f:?}");
        }
    }

    #[test]
    fn every_row_is_spelled_for_numpy_and_jax() {
        for row in TABLE {
            for code in [row.numpy, row.jax] {
                let spelled = match code {
                    // JAX has no logm: its printer refuses the call
                    Code::Call("") if row.name == "logm" => true,
                    Code::Call(s) => !s.is_empty(),
                    Code::Wrap(a, b) | Code::Arith(a, b) => !a.is_empty() && !b.is_empty(),
                };
                assert!(spelled, "{}", row.name);
            }
        }
    }

    #[test]
    fn elementwise_rows_say_so() {
        for row in TABLE {
            let elem = matches!(row.meaning, Meaning::Apply(Func::Elem(_)));
            assert_eq!(
                elem,
                row.signature == Signature::Elementwise,
                "{}",
                row.name
            );
        }
    }
}
