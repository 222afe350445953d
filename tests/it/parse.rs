//! Every form of the input language of SPEC §2 parses, and each lowers to
//! the expression its canonical text shows (snapshotted), which parses back
//! to the same text.

use crate::common::with_settings;
use matcalc::{Session, to_text};

const FORMS: &[&str] = &[
    // names and kinds
    "A + Sigma2",
    "x + w1",
    "alpha x + α x + beta2 y",
    "I + E + E_ij + E_{ij}",
    "e_i + x",
    "X + dX",
    // numbers
    "2 A + 0.5 A + 1/2 A + 12.25 A",
    // sums, differences, negation
    "A - B + -C - -D",
    "−A − B",
    // products
    "A B C",
    "A * B · C",
    "A / 2 + A / alpha + A / (x^T x)",
    // elementwise and Kronecker
    "A .* B ./ C",
    "A ⊙ B",
    "A .^ 2 + A.^(1/2) + A.^-1",
    "kron(A, B) + A ⊗ B",
    // transposes and inverses
    "A^T + A^{T} + A' + Aᵀ",
    "X^-1 + X^{-1} + inv(X) + X⁻¹",
    "X^-T + X^{-T}",
    // powers
    "X^3 + X^-2 + X^{2}",
    "alpha^2 + (x^T x)^2 + (x^T y)^(1/2) + alpha^(-3/2)",
    // functions
    "tr(X) + det(X) + logdet(X)",
    "diag(x) + diag(diag(X)) + diag(X) x^T",
    "vec(A) + vec(B) + vec(A x)^T vec(A x) y",
    "sum(A) + norm2(A) + norm2(x)",
    "exp(A) + log(A) + sin(A) + cos(A) + tanh(A) + sqrt(A)",
    "tan(A) + abs(A) + sign(A) + sigmoid(A) + relu(A) + softplus(A)",
    // broadcasting and scalars times anything
    "1 - tanh(z).^2",
    "x^T A x B",
    "(x^T A x) B",
    // precedence
    "-A^T B",
    "A + B C .* D",
    "A B^T^-1",
    // declarations
    "x^T S x where S: symmetric, a: scalar, X: n x m, y: vector, Z: matrix",
    "A X where A: 3 x 4, X: 4×5",
    "y^T X where y: n, X: n x m",
    "S where S: spd",
    "A + B where A, B: symmetric",
];

#[test]
fn every_form_of_the_language_parses() {
    let mut out = String::new();
    for input in FORMS {
        let lowered = Session::new()
            .lower(input, None)
            .unwrap_or_else(|d| panic!("{input:?} does not parse:\n{}", d.render()));
        let text = to_text(&lowered.expr);
        let again = Session::new()
            .lower(&text, None)
            .expect("printed text parses");
        assert_eq!(to_text(&again.expr), text, "{input:?} does not round-trip");
        let shapes: Vec<String> = lowered
            .context
            .order
            .iter()
            .map(|n| format!("{n}: {}", lowered.context.vars[n].shape))
            .collect();
        out.push_str(&format!(
            "{input}\n  → {text}\n  shape {}; {}\n",
            lowered.expr.shape(),
            shapes.join(", ")
        ));
    }
    with_settings(|| insta::assert_snapshot!("forms", out));
}

/// The inputs to hold the two readers to: the language forms above, the
/// case files' expressions and the fuzzer's corpus (first line and second
/// line of each entry, which the target reads as an expression and a
/// `--wrt` value).
fn sample_inputs() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<String> = FORMS.iter().map(|s| s.to_string()).collect();
    for entry in std::fs::read_dir(root.join("tests/cases")).expect("case files") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            inputs.extend(line.split(" | ").map(str::to_string));
        }
    }
    for dir in ["fuzz/corpus/pipeline", "fuzz/regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("readable");
            if let Ok(text) = String::from_utf8(bytes) {
                inputs.extend(text.splitn(3, '\n').take(2).map(str::to_string));
            }
        }
    }
    inputs
}

/// The hand-written reader reads exactly what the pest grammar reads, into
/// the same tree with the same spans, and leaves every other input (every
/// error) to the grammar: `parse_fast(s)` is `parse_reference(s).ok()`.
fn assert_same_reading(s: &str) {
    let reference = matcalc::parse_reference(s).ok();
    assert_eq!(matcalc::parse_fast(s), reference, "reading {s:?}");
    let decls = matcalc::parse_decls_reference(s).ok();
    assert_eq!(matcalc::parse_decls_fast(s), decls, "declarations {s:?}");
}

#[test]
fn the_fast_reader_agrees_with_the_grammar_on_every_sample() {
    let inputs = sample_inputs();
    assert!(inputs.len() > 5000, "the fuzz corpus is there");
    let mut read = 0;
    for s in &inputs {
        assert_same_reading(s);
        read += usize::from(matcalc::parse_reference(s).is_ok());
    }
    // both kinds are well represented
    assert!(
        read > 1000 && inputs.len() - read > 1000,
        "{read} of {}",
        inputs.len()
    );
}

#[test]
fn the_fast_reader_agrees_with_the_grammar_at_the_edges() {
    for s in [
        "",
        " ",
        "A ",
        " A",
        "tr (X)",
        "tr_1 (X)",
        "tr(X",
        "tr(tr(x",
        "sinh(x)",
        "expm(X)",
        "logdet(X) + log(x)",
        "norm2(x)",
        "X ^ T",
        "X^ {T }",
        "X^{ - T}",
        "X ^ - 1",
        "X^-12",
        "X^-1.5",
        "X^{-12}",
        "X^-TT",
        "X^TT",
        "X^- 2",
        "X^(1/2)^T'",
        "X''ᵀ⁻¹",
        "2.^2",
        "2.5.*A",
        "2.",
        "A./B.*C⊙D⊗E",
        "A - -B −C",
        "--A",
        "- - -A",
        "E_{ij} + E_ij + E_{i j} + E_{ij",
        "x_ + y",
        "wherever + where",
        "A where",
        "A where S: symmetric , X: 3 x 4 ",
        "A where X: n x m, y: n, S: spd n, T: n symmetric",
        "A where X: nxm",
        "A where X: 3x4",
        "A where X: n x3",
        "A where y: n x, z: n",
        "A where y: x",
        "A where A, B: matrix",
        "p p^T where p = A x",
        "p where p = A x, A: symmetric",
        "p where A: symmetric, p = A x",
        "q where p = A x, q = p p^T",
        "q where q = p p^T, p = A x",
        "r where p = x^T x, q = p + p, r = q q",
        "p where p = p",
        "p where p = A, p = B",
        "p where p = A, p: matrix",
        "exp where exp = A",
        "p where p = ",
        "p where p = A,",
        "p where p A",
        "p where p == A",
        "p where p = (A + B)^T, q: vector",
        "p where p = tr(A, B)",
        "p where p = A where q = B",
        "p where p = A^TT",
        "A, B where p = A",
        "A where A, B",
        "A where spdx: spd",
        "A where X: 3 x 4 matrix symmetric",
        "α + Ω β_1",
        "where A: matrix",
        "S: symmetric",
        "X: n x m, y: n",
        "kron(A, B, C)",
        "tr(A, B)",
        "a^b",
        "ones (alpha + beta)",
        "ones(n) + ones (n) + ones\t(x) + onesx (y) + exp (x) + vector (alpha)",
        "2 ones ((ones(n)^T ones(n)) ones^T / nu^2 - 2 ones^T / nu)",
        "ones (a, b)",
        "2^3^2",
        "a^b^c",
        "X^-1^2",
        "X^2^-1",
        "X^{-1}^{2}",
        "x.^2.^3",
        "X^T^T + X^-1^T + X^T^-1 + X^2^T + X^T^2 + X^-T^2 + X⁻¹^2",
        "a^ b c",
        "a^b(c)",
        "a^b (c)",
        "a^tr (X)",
        "a^a (log(a) + 1)",
        "a^tr(X)",
        "a^where",
        "a^wherever",
        "x^x^x",
        "2^x",
        "2.^x",
        "x.^y_1",
        "x .^ α",
        "a^E_{ij}",
        "a^-b",
        "a^Tb",
        "2^-alpha",
        "2^- alpha",
        "2^−alpha",
        "x.^-alpha",
        "2 .^ -x",
        "2^-(a + b)",
        "2^- ( a )",
        "a^-{b}",
        "a^-b^c",
        "a^-b c",
        "a^-b(c)",
        "a^-tr(X)",
        "a^--b",
        "a^-",
        "X^-T",
        "X^-Tx",
        "X^-1 x",
        "X^-where",
        ".5 x",
        ".5",
        "-.5e2 x",
        "x .5",
        "x.5",
        "2.5.5",
        "(x).5",
        "x'.5",
        "x.*.5",
        "x^.5",
        "x^-.5",
        ".",
        ". 5",
        "x..5",
        &format!("{}A", "^T".repeat(70)),
        &format!("A{}", "'".repeat(64)),
        &format!("A{}", "'".repeat(65)),
        &format!("{} A", "9".repeat(101)),
        &format!("X^{}", "9".repeat(101)),
    ] {
        assert_same_reading(s);
    }
}

mod soup {
    use proptest::prelude::*;

    /// Pieces of the grammar, valid and not, that the readers might treat
    /// differently: every operator spelling, braces, subscripts, keywords,
    /// function names with and without `(`, and declarations.
    const PIECES: &[&str] = &[
        "A",
        "X",
        "x",
        "E_ij",
        "E_{ij}",
        "_",
        "_{",
        "α",
        "T",
        "1",
        "12",
        "0.5",
        "2.",
        ".",
        ".5",
        "^-",
        "-alpha",
        "+",
        "-",
        "−",
        "*",
        "·",
        "/",
        ".*",
        "⊙",
        "./",
        ".^",
        "⊗",
        "^",
        "^T",
        "^-1",
        "^-T",
        "^{",
        "{",
        "}",
        "(",
        ")",
        "'",
        "ᵀ",
        "⁻¹",
        ",",
        ":",
        "tr",
        "tr(",
        "kron(",
        "logdet",
        "sinh(",
        "where",
        "wherefore",
        "symmetric",
        "spd",
        "matrix",
        "n",
        "x",
        "×",
        "3",
        "n x m",
        "=",
        "p",
        " = ",
        "p = A x",
    ];
    const BLANKS: &[&str] = &["", "", "", " ", "  ", "\t", "\n"];

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 4000,
            max_shrink_iters: 0,
            ..ProptestConfig::default()
        })]

        /// Random runs of pieces with random blanks between them.
        #[test]
        fn the_fast_reader_agrees_with_the_grammar_on_soup(
            picks in proptest::collection::vec((0..PIECES.len(), 0..BLANKS.len()), 1..16),
        ) {
            let s: String = picks.iter().map(|&(p, b)| format!("{}{}", BLANKS[b], PIECES[p])).collect();
            super::assert_same_reading(&s);
        }
    }

    /// Well-formed expressions, built from the grammar's rules with random
    /// blanks, so that the readers are compared on deep successful reads.
    fn expression() -> impl Strategy<Value = String> {
        let blank = || prop::sample::select(vec!["", " ", "  ", "\n"]);
        let leaf = prop::sample::select(vec![
            "A", "X", "x", "y", "alpha", "α", "E_{ij}", "dX", "I", "2", "0.25", "tr",
        ])
        .prop_map(str::to_string);
        leaf.prop_recursive(4, 24, 3, move |inner| {
            prop_oneof![
                (
                    inner.clone(),
                    blank(),
                    prop::sample::select(vec!["+", "-", "*", "", "/", ".*", "./", "⊗", "−"]),
                    blank(),
                    inner.clone()
                )
                    .prop_map(|(a, b1, op, b2, c)| format!("{a}{b1}{op}{b2} {c}")),
                (
                    prop::sample::select(vec!["-", "−", "- -"]),
                    blank(),
                    inner.clone()
                )
                    .prop_map(|(n, b, a)| format!("{n}{b}{a}")),
                (
                    inner.clone(),
                    blank(),
                    prop::sample::select(vec![
                        "^T",
                        "^ T",
                        "'",
                        "ᵀ",
                        "^-1",
                        "^{-1}",
                        "⁻¹",
                        "^-T",
                        "^{ -T }",
                        "^2",
                        "^-3",
                        "^(1/2)",
                        "^{k}",
                        ".^2",
                        ".^ (x^T x)"
                    ])
                )
                    .prop_map(|(a, b, p)| format!("({a}){b}{p}")),
                (
                    prop::sample::select(vec![
                        "tr", "det", "logdet", "inv", "diag", "vec", "sum", "norm2", "exp", "log",
                        "sigmoid", "softplus", "tanh", "sin"
                    ]),
                    blank(),
                    inner.clone()
                )
                    .prop_map(|(f, b, a)| format!("{f}{b}({a})")),
                (inner.clone(), blank(), inner.clone())
                    .prop_map(|(a, b, c)| format!("kron({a},{b}{c})")),
                (inner.clone(), blank()).prop_map(|(a, b)| format!("({b}{a}{b})")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2000,
            max_shrink_iters: 0,
            ..ProptestConfig::default()
        })]

        /// Well-formed expressions, with and without declarations.
        #[test]
        fn the_fast_reader_agrees_with_the_grammar_on_expressions(
            e in expression(),
            decls in prop::sample::select(vec!["", " where A: 3 x 4", " where X: n x m , y: n", " where S, T: spd n", "where x: scalar"]),
        ) {
            let s = format!("{e}{decls}");
            super::assert_same_reading(&s);
        }
    }
}
