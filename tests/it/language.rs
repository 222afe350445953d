//! The language means what the user means (issue 20): the must-show
//! commands through the binary, a battery of misreading traps (each one
//! answers the meant question, checked numerically against the reading
//! the user meant, or says what it assumed, or refuses with a caret), the
//! new functions' every derivative kind on rectangular shapes, and printed
//! derivatives with the commutation matrix read back to the same value.

use crate::common::{checked, matcalc};
use matcalc::Session;

/// Runs the binary: exit code, stdout, stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = matcalc().args(args).output().expect("runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `claimed` is the gradient of `expr` under the declarations `meant`
/// (what the user meant), by `check --grad` through the binary.
#[track_caller]
fn means(expr: &str, wrt: &str, meant: &str, claimed: &str) {
    let (code, out, err) = run(&[
        "check", expr, "--wrt", wrt, "--where", meant, "--grad", claimed,
    ]);
    assert_eq!(
        code,
        Some(0),
        "{expr} with {meant}: `{claimed}` is not its gradient\n{out}\n{err}"
    );
}

#[test]
fn must_show() {
    let logistic = "sum(log(exp(-y.*(X*w)) + vector(1)))";
    let (code, out, err) = run(&["grad", logistic, "--wrt", "w"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
    means(logistic, "w", "y: vector", &out);
    // `e^z ./ (e^z + ones)` is the sigmoid, as `1 ./ (1 + e^-z)` is
    assert_eq!(out, "-X^T (y .* sigmoid(-(y .* (X w))))");
    let (_, py, _) = run(&["grad", logistic, "--wrt", "w", "--format", "numpy"]);
    assert!(py.contains("def gradient(y, X, w)"), "{py}");

    let (code, _, err) = run(&["grad", "y^T foo(x)", "--wrt", "x"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("unknown function `foo`") && err.contains('^'),
        "{err}"
    );

    let (code, out, err) = run(&["grad", "(x - mu)^T (x - mu)", "--wrt", "mu"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("note: `mu` is read as a vector"), "{err}");
    means("(x - mu)^T (x - mu)", "mu", "mu: vector", &out);
    means("(x - mu)^T (x - mu)", "mu", "mu: vector", "2 mu - 2 x");

    assert_eq!(
        run(&["grad", "norm1(A x - b)", "--wrt", "x"]).1,
        "A^T sign(A x - b)"
    );
    let (_, out, _) = run(&["grad", "arctan(x)^T y", "--wrt", "x"]);
    means("arctan(x)^T y", "x", "y: vector", &out);
    means("arctan(x)^T y", "x", "y: vector", "y ./ (1 + x .* x)");
    assert_eq!(
        run(&["jacobian", "softmax(x)", "--wrt", "x"]).1,
        "diag(softmax(x)) - softmax(x) softmax(x)^T"
    );

    let (_, h, _) = run(&["hessian", "logdet(K)", "--wrt", "K"]);
    let (code, again, err) = run(&["simplify", &h]);
    assert_eq!(code, Some(0), "{h}: {err}");
    assert_eq!(again, h);
    let (code, out, err) = run(&["check", "logdet(K)", "--wrt", "K", "--hessian", &again]);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn misreading_traps() {
    // Unknown words before `(` are refused with a caret, whatever the
    // product would have meant.
    for (expr, wrt, word) in [
        ("y^T foo(x)", "x", "foo"),
        ("sigma(z)^T y", "z", "sigma"),
        ("y^T Phi(z)", "z", "Phi"),
        ("arctn(x)^T y", "x", "arctn"),
        ("sum(cosh(X))", "X", "cosh"),
    ] {
        let (code, _, err) = run(&["grad", expr, "--wrt", wrt]);
        assert_eq!(code, Some(1), "{expr}");
        assert!(err.contains(&format!("unknown function `{word}`")), "{err}");
        assert!(err.contains('^'), "{err}");
    }
    // A single-letter or declared name before `(` is a product.
    // (the default form keeps the group the input wrote; expanded, the
    // product is plain)
    assert_eq!(run(&["simplify", "A(B + C)"]).1, "A (B + C)");
    assert_eq!(run(&["simplify", "A(B + C)", "--expand"]).1, "A B + A C");
    let (code, _, err) = run(&["grad", "x^T ab(x)", "--wrt", "x", "--where", "ab: matrix"]);
    assert_eq!(code, Some(0), "{err}");
    // Guessed kinds: answered as meant, with a note.
    for (expr, wrt, meant, note) in [
        (
            "(x - mu)^T (x - mu)",
            "mu",
            "mu: vector",
            "`mu` is read as a vector",
        ),
        (
            "norm2(y - X beta)^2",
            "beta",
            "beta: vector",
            "`beta` is read as a vector",
        ),
        (
            "y^T X beta",
            "beta",
            "beta: vector",
            "`beta` is read as a vector",
        ),
        (
            "x'*A*x + c*sin(y)'*x",
            "x",
            "c: scalar",
            "`c` is read as a scalar",
        ),
        (
            "sum(x)/n + x^T x",
            "x",
            "n: scalar",
            "`n` is read as a scalar",
        ),
        (
            "sum(exp(x - theta))",
            "x",
            "theta: vector",
            "`theta` is read as a vector",
        ),
    ] {
        let (code, out, err) = run(&["grad", expr, "--wrt", wrt]);
        assert_eq!(code, Some(0), "{expr}: {err}");
        assert!(err.contains(&format!("note: {note}")), "{expr}: {err}");
        means(expr, wrt, meant, &out);
    }
    // A declaration wins, and says nothing.
    let (code, out, err) = run(&[
        "grad",
        "(x - mu)^T (x - mu)",
        "--wrt",
        "x",
        "--where",
        "mu: scalar",
    ]);
    assert_eq!(code, Some(0));
    assert!(err.is_empty(), "{err}");
    means("(x - mu)^T (x - mu)", "x", "mu: scalar", &out);
    // Numbers broadcast as before, silently.
    let (_, _, err) = run(&["grad", "sum(1 - tanh(z).^2)", "--wrt", "z"]);
    assert!(err.is_empty(), "{err}");
    // matrixcalculus.org's documented examples, as typed there.
    for (expr, wrt, meant) in [
        ("x'*A*x + c*sin(y)'*x", "y", "c: scalar"),
        ("sum(log(exp(-y.*(X*w)) + vector(1)))", "w", "y: vector"),
        ("norm2(X*w-y)^2", "w", "y: vector"),
        ("tr(X*A*X')", "X", "A: matrix"),
        ("exp(x)'*A*x", "x", "A: matrix"),
        ("log(det(X))", "X", "X: matrix"),
        ("norm1(X*w-y)", "w", "y: vector"),
    ] {
        let (code, out, err) = run(&["grad", expr, "--wrt", wrt]);
        assert_eq!(code, Some(0), "{expr}: {err}");
        means(expr, wrt, meant, &out);
    }
    // The notes are in JSON too.
    let (_, json, _) = run(&[
        "grad",
        "(x - mu)^T (x - mu)",
        "--wrt",
        "mu",
        "--format",
        "json",
    ]);
    assert!(
        json.contains("\"notes\": [\"`mu` is read as a vector"),
        "{json}"
    );
    let (_, json, _) = run(&["grad", "x^T x", "--wrt", "x", "--format", "json"]);
    assert!(json.contains("\"notes\": []"), "{json}");
}

#[test]
fn ones_settles_to_a_size() {
    // the gradient's `ones` has a size nothing in it fixes: spelled out
    assert_eq!(run(&["grad", "ones^T x", "--wrt", "x"]).1, "ones(p)");
    let (code, _, err) = run(&[
        "grad",
        "norm2(x - (sum(x)/nu) ones)^2",
        "--wrt",
        "x",
        "--where",
        "nu: scalar",
    ]);
    assert_eq!(code, Some(0), "{err}");
    checked("norm2(x - (sum(x)/nu) ones)^2", "x", Some("nu: scalar"));
    checked("y^T (x - vector(alpha))", "x", None);
    checked("tr(A^T (X .* matrix(alpha)))", "alpha", None);
    checked("x^T eye y", "x", None);
    // a printed `ones^T ones` of x's length n says n: `ones(n)^T ones(n)`
    // (a bare `ones^T ones` would read back as 1), and reads back so
    let expr = "norm2(x - (sum(x)/nu) ones)^2";
    let (code, text, err) = run(&["grad", expr, "--wrt", "x", "--where", "nu: scalar"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("ones(n)^T ones(n)"), "{text}");
    means(expr, "x", "nu: scalar", &text);
    checked("ones(n)^T x + x^T ones(n) ones(n)^T x", "x", None);
    assert_eq!(
        run(&["simplify", "ones(n)^T ones(n)"]).1,
        "ones(n)^T ones(n)"
    );
}

#[test]
fn every_new_function_on_rectangular_shapes() {
    let decls = Some("A: 3 x 4, B: 5 x 2, X: 4 x 5, x: 4, y: 3, b: 3");
    for (expr, wrt) in [
        ("norm1(A X B)", "X"),
        ("norm1(A x - b)", "x"),
        ("norm1(A x - b)", "A"),
        ("arcsin(A x)", "x"),
        // Hessians too: points inside (-1, 1) though the gradient they
        // are checked against holds no arcsin
        ("sum(arcsin(A x))", "x"),
        ("y^T arccos(A x + b)", "x"),
        ("sum(asin(A X))", "X"),
        ("y^T acos(A X B) ones", "X"),
        ("arccos(A X)", "X"),
        ("asin(A x) + acos(A x)", "A"),
        ("arctan(A X)", "X"),
        ("y^T atan(A x)", "A"),
        ("y^T softmax(A x)", "x"),
        ("softmax(A x)", "A"),
        ("logsumexp(A x)", "x"),
        ("logsumexp(A x - b)", "A"),
        ("vector(y^T A x) .* b", "x"),
        ("matrix(y^T A x) .* X", "x"),
        ("commutation(4, 5) vec(X)", "X"),
    ] {
        checked(expr, wrt, decls);
    }
}

#[test]
fn printed_derivatives_with_the_commutation_matrix_read_back() {
    for (expr, wrt, decls) in [
        ("logdet(K)", "K", ""),
        ("tr(X X)", "X", ""),
        ("X^T", "X", "X: 3 x 4"),
        ("A X^T B", "X", ""),
        ("X X^T", "X", ""),
        ("K^T K", "K", ""),
    ] {
        for kind in ["hessian", "jacobian"] {
            let (code, text, _) = run(&[kind, expr, "--wrt", wrt, "--where", decls]);
            if code != Some(0) {
                continue; // no Hessian of a matrix-valued expression
            }
            // the printed text reads back, guesses nothing, and is the
            // derivative (checked exactly where rational)
            let again = Session::new()
                .lower(&text, Some(decls))
                .unwrap_or_else(|d| panic!("{text}: {}", d.render()));
            assert!(again.context.notes.is_empty(), "{text}");
            let flag = format!("--{kind}");
            let (code, out, err) =
                run(&["check", expr, "--wrt", wrt, "--where", decls, &flag, &text]);
            assert_eq!(code, Some(0), "{expr}: {text}\n{out}{err}");
        }
    }
}

/// Scalar powers with scalar exponents, and elementwise powers with array
/// exponents (`a^b`, `alpha^(x^T x)`, `2^x`, `x^x`, `X .^ Y`): every
/// derivative kind checked numerically on rectangular shapes, and every
/// printed gradient, Hessian and Jacobian read back and checked as a claim.
#[test]
fn powers_with_variable_exponents() {
    let scalars = "a: scalar, b: scalar";
    assert_eq!(
        run(&["grad", "a^b", "--wrt", "a", "--where", scalars]).1,
        "b a^(b - 1)"
    );
    assert_eq!(
        run(&["grad", "a^b", "--wrt", "b", "--where", scalars]).1,
        "log(a) a^b"
    );
    assert_eq!(
        run(&["grad", "alpha^(x^T x)", "--wrt", "x"]).1,
        "2 log(alpha) alpha^(x^T x) x"
    );
    // `x` alone can only be a scalar here: read so, with a note
    let (code, out, err) = run(&["grad", "x^x", "--wrt", "x"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("`x` is read as a scalar"), "{err}");
    assert_eq!(out, "x^x + log(x) x^x");
    // powers of one base add, whatever the exponent
    assert_eq!(
        run(&["grad", "det(X)^alpha", "--wrt", "X"]).1,
        "alpha det(X)^alpha X^-T"
    );
    crate::common::checked("det(X)^alpha", "X", None);
    // `x^Ty` is not `x^T y`, and says so
    let (code, _, err) = run(&["grad", "x^Ty", "--wrt", "x"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("`x^T y`") && err.contains('^'), "{err}");

    let decls = "A: 3 x 4, B: 3 x 4, X: 4 x 5, Y: 4 x 5, x: 4, y: 3, a: scalar, b: scalar";
    let cases = [
        ("a^b", "a"),
        ("a^b", "b"),
        ("alpha^(x^T x)", "x"),
        ("2^a", "a"),
        ("a^a", "a"),
        ("(y^T A x)^(a x^T x)", "x"),
        ("(y^T A x)^(a x^T x)", "A"),
        ("sum(X .^ Y)", "X"),
        ("sum(X .^ Y)", "Y"),
        ("sum(2 .^ X)", "X"),
        ("y^T (A .^ B) x", "A"),
        ("y^T (A .^ B) x", "B"),
        ("sum(X .^ (a x^T x))", "x"),
        ("tr((X .^ Y) Y^T)", "X"),
    ];
    for (expr, wrt) in cases {
        checked(expr, wrt, Some(decls));
        // (a claim takes its sizes from the expression: named sizes here)
        let decls = "a: scalar, b: scalar";
        for kind in ["grad", "hessian", "jacobian"] {
            let (code, text, err) = run(&[kind, expr, "--wrt", wrt, "--where", decls]);
            if code != Some(0) {
                assert!(err.contains("needs a scalar"), "{kind} {expr}: {err}");
                continue;
            }
            let flag = format!("--{kind}");
            let flag = if kind == "grad" { "--grad" } else { &flag };
            let (code, out, err) =
                run(&["check", expr, "--wrt", wrt, "--where", decls, flag, &text]);
            assert_eq!(code, Some(0), "{kind} {expr}: {text}\n{out}{err}");
        }
    }
}

/// `a^b^c` could be `(a^b)^c` (as matcalc read it: `2^3^2` was 64) or
/// `a^(b^c)` (as mathematics and Python read it: 512): it is refused with
/// a caret under the second exponent. Postfix transposes keep their one
/// reading, before or after a power.
#[test]
fn chained_powers_are_refused() {
    for args in [
        &["simplify", "2^3^2"][..],
        &["simplify", "alpha^(1/2)^2"],
        &[
            "eval",
            "alpha^beta^gamma",
            "--at",
            "alpha=2, beta=3, gamma=2",
        ],
        &["grad", "x^T X^-1^2 x", "--wrt", "x"],
    ] {
        let (code, out, err) = run(args);
        assert_eq!(code, Some(1), "{args:?}: {out}");
        assert!(err.contains("two exponents in a row"), "{err}");
        assert!(err.contains("write `(a^b)^c` or `a^(b^c)`"), "{err}");
    }
    assert_eq!(run(&["simplify", "2^(3^2)"]).1, "512");
    assert_eq!(run(&["simplify", "(2^3)^2"]).1, "64");
    for (input, out) in [
        ("X^T^T", "X"),
        ("X^-1^T", "X^-T"),
        ("X^T^-1", "X^-T"),
        ("X^2^T", "(X^2)^T"),
        ("X^T^2", "(X^2)^T"),
        ("X⁻¹^2", "X^-2"),
    ] {
        assert_eq!(run(&["simplify", input]).1, out, "{input}");
    }
    checked("tr(X^2^T A)", "X", None);
    checked("x^T X^-T^2 x", "X", None);
}

/// `ones` is a constant and `ones(n)` a call: only a name glued to `(` is
/// a call, so `ones (alpha + beta)` is the product, as matcalc prints it
/// (it was refused: "a size is a name …"), and a printed result with
/// `ones (…)` reads back.
#[test]
fn ones_before_a_blank_is_the_constant() {
    let (code, out, err) = run(&["simplify", "ones (alpha + beta)"]);
    assert_eq!((code, out.as_str()), (Some(0), "alpha + beta"), "{err}");
    let (code, out, err) = run(&["simplify", "x + ones (alpha + beta)"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "x + alpha ones + beta ones"),
        "{err}"
    );
    let printed = "2 ones ((ones(n)^T ones(n)) ones^T / nu^2 - 2 ones^T / nu)";
    assert_eq!(run(&["simplify", printed]).0, Some(0));
    // glued, it is the call; a function that is no constant is a call either way
    assert_eq!(run(&["simplify", "ones(n)^T x"]).1, "sum(x)");
    // `ones^T x` and `sum(x)` are one spelling, so they cancel and merge
    assert_eq!(run(&["simplify", "sum(x) - ones^T x"]).1, "0");
    // the printed size n is x's length: declared with the answer, so that
    // the text read alone evaluates (n = 3 from x's value)
    let grad = "2 (x + sum(x) (ones(n)^T ones(n)) ones / nu^2 - 2 sum(x) ones / nu) where x: n";
    let (code, value, err) = run(&["eval", grad, "--at", "x=[1,2,3], nu=7"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(value.starts_with("[-0.69387755102]"), "{value}");
    assert_eq!(
        run(&["grad", "norm2(x - (sum(x)/nu) ones)^2", "--wrt", "x"]).1,
        "2 (x + sum(x) (ones(n)^T ones(n)) ones / nu^2 - 2 sum(x) ones / nu) where x: n"
    );
    assert_eq!(run(&["simplify", "exp (x)"]).1, "exp(x)");
    checked("x^T ones (alpha + x^T x)", "x", None);
    checked("norm2(x - (sum(x)/nu) ones)^2", "x", None);
}

#[test]
fn a_vector_function_of_a_matrix_suggests_one_column_of_its_own_argument() {
    for (expr, hint) in [
        ("logsumexp(Z)", "`logsumexp(Z e_j)`"),
        ("sum(softmax(A + B))", "`softmax((A + B) e_j)`"),
    ] {
        let (code, _, err) = run(&["grad", expr, "--wrt", "A"]);
        assert_eq!(code, Some(1), "{expr}");
        assert!(err.contains(hint), "{err}");
    }
    // the suggestion is differentiable and checked
    crate::common::checked("logsumexp(Z e_j)", "Z", None);
}

/// A minus after `^` or `.^` negates the exponent that follows (a name or
/// a bracket), as `2^-1` always did for a number: `2^-alpha` is
/// `2^(-alpha)` (it was refused: "expected an exponent"). `X^-1` and
/// `X^-T` keep their meanings, and two exponents in a row stay refused.
#[test]
fn a_negated_name_is_an_exponent() {
    for (input, out) in [
        ("2^-alpha", "2^(-alpha)"),
        ("x.^-alpha", "x.^(-alpha)"),
        ("2 .^ -x", "2.^(-x)"),
        ("2^- (alpha + beta)", "2^(-alpha - beta)"),
        ("alpha^-beta gamma", "alpha^(-beta) gamma"),
        ("2^-1", "1/2"),
        ("X^-1", "X^-1"),
        ("X^-T", "X^-T"),
    ] {
        let (code, text, err) = run(&["simplify", input]);
        assert_eq!((code, text.as_str()), (Some(0), out), "{input}: {err}");
        // the printed text reads back to itself
        assert_eq!(run(&["simplify", out]).1, out, "{out}");
    }
    let (code, _, err) = run(&["simplify", "2^-alpha^2"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("two exponents in a row") && err.contains('^'),
        "{err}"
    );
    let (code, _, err) = run(&["simplify", "X^-Tx"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("write a space: `X^-T x`"), "{err}");
    checked("sum(x.^-alpha)", "alpha", None);
    checked("sum(exp(x) .^ -alpha)", "x", None);
    checked("sum(2 .^ -x)", "x", None);
    checked("(x^T x)^-beta", "x", None);
    checked("tr(A X)^-(alpha + 1)", "X", None);
}

/// `.5` is the exact 1/2, as `0.5` is (it was refused: "expected an
/// operand"); glued to what comes before it (`x.5`, `2.5.5`) it has no
/// one reading and is refused with a caret.
#[test]
fn a_decimal_may_start_with_its_point() {
    for (input, out) in [
        (".5 x", "(1/2) x"),
        ("x^T x + .25", "x^T x + 1/4"),
        ("-.5e1 x", "-5 x"),
        ("alpha^.5", "alpha^(1/2)"),
        ("alpha^-.5", "alpha^(-1/2)"),
    ] {
        let (code, text, err) = run(&["simplify", input]);
        assert_eq!((code, text.as_str()), (Some(0), out), "{input}: {err}");
    }
    for glued in ["x.5", "2.5.5", "(x).5"] {
        let (code, _, err) = run(&["simplify", glued]);
        assert_eq!(code, Some(1), "{glued}");
        assert!(err.contains("glued") && err.contains('^'), "{glued}: {err}");
    }
    assert_eq!(
        run(&["grad", ".5 norm2(A X - B)^2", "--wrt", "X"]).1,
        "A^T (A X - B)"
    );
    checked(".5 norm2(A X - B)^2", "X", None);
}

/// An undeclared name that may be a product with the space forgotten
/// (`Ax` in `x'Ax`, `Xw`) is never silently one name: an error says
/// "did you mean `A x`?", an answer carries a note.
#[test]
fn a_glued_product_is_named() {
    let (code, _, err) = run(&["grad", "x'Ax", "--wrt", "x"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("needs a scalar"), "{err}");
    assert!(
        err.contains("help: `Ax` is read as one name; did you mean `A x`?"),
        "{err}"
    );
    let (code, out, err) = run(&["simplify", "x'Ax"]);
    assert_eq!((code, out.as_str()), (Some(0), "x^T Ax"));
    assert!(
        err.contains("note: `Ax` is read as one name; did you mean `A x`?"),
        "{err}"
    );
    let (code, _, err) = run(&["grad", "norm2(Xw - y)^2", "--wrt", "w"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("did you mean `X w`?"), "{err}");
    // declared, or a name of its own, it says nothing
    let (code, _, err) = run(&["simplify", "x'Ax where Ax: n x n"]);
    assert_eq!(code, Some(0));
    assert!(!err.contains("did you mean"), "{err}");
    for quiet in ["Sigma x", "beta x", "dX + X", "x^T A x"] {
        let (_, _, err) = run(&["simplify", quiet]);
        assert!(!err.contains("did you mean"), "{quiet}: {err}");
    }
    // the meant reading, checked
    assert_eq!(run(&["grad", "x'A x", "--wrt", "x"]).1, "A x + A^T x");
    checked("x'A x", "x", None);
}

/// A printed `ones(…)` or `commutation(…)` never spells a size with the
/// name of a variable (it did: `ones(n)` beside the scalar `n`, and
/// `commutation(n, m)` beside the vectors `n` and `m`), and an answer
/// with `ones(…)` evaluates on its own: a variable's value fixes the size
/// it is linked to, and a size nothing fixes is named, to give in `--at`.
#[test]
fn printed_sizes_are_no_variables_and_evaluate() {
    let values = "[-0.69387755102]\n[   1.306122449]\n[   3.306122449]";
    for (expr, scalar, size) in [
        ("norm2(x - (sum(x)/nu) ones)^2", "nu", "ones(n)"),
        ("norm2(x - (sum(x)/n) ones)^2", "n", "ones(m)"),
    ] {
        let (code, out, err) = run(&["grad", expr, "--wrt", "x"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.contains(size), "{out}");
        assert!(!out.contains(&format!("ones({scalar})")), "{out}");
        means(expr, "x", &format!("{scalar}: scalar"), &out);
        let at = format!("x=[1,2,3], {scalar}=7");
        let (code, value, err) = run(&["eval", &out, "--at", &at]);
        assert_eq!((code, value.as_str()), (Some(0), values), "{out}: {err}");
        checked(expr, "x", None);
    }
    let (code, out, err) = run(&["jacobian", "X^T + n m^T", "--wrt", "X"]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "commutation(p, q)"),
        "{err}"
    );
    checked("X^T + n m^T", "X", None);
    // a size that no value fixes
    let (code, _, err) = run(&["eval", "x + ones(n)^T ones(n) ones", "--at", "x=[1,2]"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no value fixes the size `n`") && err.contains("add `n=…`"),
        "{err}"
    );
    let (code, out, err) = run(&["eval", "x + ones(n)^T ones(n) ones", "--at", "x=[1,2], n=3"]);
    assert_eq!((code, out.as_str()), (Some(0), "[4]\n[5]"), "{err}");
    // given, it agrees with the values that fix it
    let (code, _, err) = run(&["eval", "ones(n)^T x", "--at", "x=[1,2], n=3"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("the size `n` is 2 to match `x`"), "{err}");
    let (code, _, err) = run(&["eval", "ones(n)^T ones(n)", "--at", "n=2.5"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("a whole number"), "{err}");
}

/// `vector(c)` is c times the all-ones vector and `matrix(c)` c times the
/// all-ones matrix, sized by the context (SPEC §2). Where nothing fixes
/// the size it is 1, as for `ones`, and the constant is the scalar `c`:
/// that reads back with the same value and shape, and a note says so
/// (it was silent), with how to write a vector of a length of its own.
#[test]
fn a_constant_vector_whose_size_nothing_fixes_says_so() {
    for (input, out, note) in [
        ("vector(alpha)", "alpha", "write `alpha ones(n)`"),
        ("vector (alpha)", "alpha", "write `alpha ones(n)`"),
        ("matrix(alpha)", "alpha", "write `alpha ones(n) ones(m)^T`"),
        (
            "vector(alpha + beta)",
            "alpha + beta",
            "write `(alpha + beta) ones(n)`",
        ),
    ] {
        let (code, text, err) = run(&["simplify", input, "--format", "json"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(text.contains(&format!("\"text\": \"{out}\"")), "{text}");
        assert!(text.contains("\"shape\": [\"1\", \"1\"]"), "{text}");
        assert!(
            text.contains("nothing fixes") && text.contains(note),
            "{text}"
        );
        // the printed text reads back to the same value and shape
        let (_, again, _) = run(&["simplify", out, "--format", "json"]);
        assert!(again.contains("\"shape\": [\"1\", \"1\"]"), "{again}");
    }
    // the spellings the note suggests are vectors and matrices
    let (_, text, _) = run(&["simplify", "alpha ones(n)", "--format", "json"]);
    assert!(text.contains("\"shape\": [\"n\", \"1\"]"), "{text}");
    let (_, text, _) = run(&["simplify", "alpha ones(n) ones(m)^T", "--format", "json"]);
    assert!(text.contains("\"shape\": [\"n\", \"m\"]"), "{text}");
    // sized by the context, they are vectors and matrices, with no note
    for (input, out) in [
        ("x + vector(alpha)", "x + alpha ones"),
        ("A + matrix(alpha)", "A + alpha ones"),
        ("x^T + matrix(alpha)", "x^T + alpha ones^T"),
    ] {
        let (code, text, err) = run(&["simplify", input]);
        assert_eq!((code, text.as_str()), (Some(0), out), "{err}");
        assert!(!err.contains("nothing fixes"), "{err}");
    }
    assert_eq!(
        run(&["grad", "x^T vector(alpha)", "--wrt", "x"]).1,
        "alpha ones(n)"
    );
    checked("x^T vector(alpha)", "x", None);
    checked("tr(X^T matrix(alpha))", "X", None);
}
