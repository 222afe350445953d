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
