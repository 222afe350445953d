//! Fuzzes the whole pipeline: parse → shapes → diff → simplify → print →
//! eval, and the REPL's statements; and holds the hand-written reader to
//! the pest grammar. The input is up to three lines: an
//! expression, a `--wrt` value and an `--at` value; every line is also a
//! REPL statement. Any panic, abort, timeout or blow-up is a finding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use matcalc::{Answer, Form, Repl, Session};

fn print(a: &Answer, input: &str) {
    let _ = matcalc::to_text(&a.result);
    let _ = matcalc::to_latex(a);
    let _ = matcalc::to_numpy(a);
    let _ = matcalc::to_index(a);
    let _ = matcalc::to_json(a, input);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let expr = lines.next().unwrap_or("");
    let wrt = lines.next().unwrap_or("X");
    let at = lines.next().unwrap_or("");
    // The hand-written reader reads exactly what the grammar reads.
    for src in [expr, wrt] {
        assert_eq!(matcalc::parse_fast(src), matcalc::parse_reference(src).ok(), "{src:?}");
        assert_eq!(
            matcalc::parse_decls_fast(src),
            matcalc::parse_decls_reference(src).ok(),
            "{src:?}"
        );
    }
    let s = Session::new();
    for form in [Some(Form::Expanded), Some(Form::Factored), None] {
        if let Ok(a) = s.diff_with(expr, wrt, None, None, form) {
            print(&a, expr);
        }
    }
    for a in [
        s.grad(expr, wrt, None, Some(Form::Expanded)),
        s.hessian(expr, wrt, None, Some(Form::Expanded)),
        s.jacobian(expr, wrt, None, Some(Form::Expanded)),
    ]
    .into_iter()
    .flatten()
    {
        print(&a, expr);
    }
    if let Ok(d) = s.derive(
        matcalc::Derivative::Differential,
        expr,
        wrt,
        None,
        None,
        Form::Expanded,
    ) {
        let _ = d.to_text();
        let _ = d.to_latex();
    }
    let _ = s.simplify(expr, None, Form::Factored);
    if !at.is_empty() {
        let _ = s.eval(expr, at, None);
    }
    if expr.len() < 64 {
        let _ = s.check(expr, wrt, None);
    }
    let mut r = Repl::new();
    for line in text.lines() {
        let _ = r.run(line);
    }
});
