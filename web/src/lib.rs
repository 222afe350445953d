//! The web page's engine: matcalc's command core behind a few
//! wasm-bindgen exports, each taking plain strings and returning one JSON
//! object as a string, so the JavaScript side needs no bindings beyond
//! `JSON.parse`.
//!
//! This crate is a shell like the CLI (ARCHITECTURE §1): it turns the
//! page's fields into a [`Command`], calls [`Session::run`], and renders the
//! [`Output`] in every format the page shows. Nothing about a command is
//! decided here: which kind of derivative `X_ij` means, how a verdict
//! reads and which formats a result takes all come from the core.
//!
//! Robustness: every export runs inside [`guarded`], which catches a panic
//! where the target unwinds (native tests) and turns it into an error
//! object. On `wasm32-unknown-unknown` a panic aborts (the instance traps
//! with `unreachable`); the panic hook installed at start-up keeps the
//! message, [`take_panic`] hands it to the worker, and the page replaces
//! the worker, so a panic never takes the page down.

use matcalc::{
    Action, Body, Command, Diagnostic, Form, Format, Output, Session, json_string, render,
};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use wasm_bindgen::prelude::wasm_bindgen;

/// The message of the last panic, kept by the panic hook.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Installs the panic hook that keeps the panic's message for
/// [`take_panic`]; runs once when the module is instantiated.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = info.to_string();
        }
    }));
}

/// The version of matcalc this page runs (the library's, not this crate's).
#[wasm_bindgen]
pub fn version() -> String {
    matcalc::VERSION.to_string()
}

/// The built-in function names, as a JSON array of strings, for the
/// page's hints (read from the library so the page never lists them).
#[wasm_bindgen]
pub fn functions() -> String {
    let names: Vec<String> = matcalc::function_names()
        .iter()
        .map(|n| json_string(n))
        .collect();
    format!("[{}]", names.join(", "))
}

/// The message of the last panic (empty if none), cleared as it is read.
/// The worker calls it after the instance trapped.
#[wasm_bindgen]
pub fn take_panic() -> String {
    LAST_PANIC
        .lock()
        .map(|mut last| std::mem::take(&mut *last))
        .unwrap_or_default()
}

/// Panics on purpose: the browser test's way to show that a panic in the
/// engine does not kill the page. Not part of the page's interface.
#[doc(hidden)]
#[wasm_bindgen]
pub fn panic_for_test() -> String {
    guarded(|| panic!("a panic on purpose (the page's robustness test)"))
}

/// The variables of `expr` (with the declarations `decls`), in order of
/// first appearance: `{"variables": [{"name": "X", "kind": "matrix"}, …]}`,
/// or `{"error": …}` when the expression does not read.
#[wasm_bindgen]
pub fn variables(expr: &str, decls: &str) -> String {
    guarded(|| match Session::new().lower(expr, non_empty(decls)) {
        Ok(lowered) => {
            let ctx = &lowered.context;
            let vars: Vec<String> = ctx
                .order
                .iter()
                .filter(|n| ctx.vars[*n].differential_of.is_none())
                .map(|n| {
                    let kind = match ctx.vars[n].kind {
                        matcalc::VarKind::Scalar => "scalar",
                        matcalc::VarKind::Vector => "vector",
                        matcalc::VarKind::Matrix => "matrix",
                    };
                    format!("{{\"name\": {}, \"kind\": \"{kind}\"}}", json_string(n))
                })
                .collect();
            format!("{{\"variables\": [{}]}}", vars.join(", "))
        }
        Err(d) => error_json(&d),
    })
}

/// Answers one command of the page. `cmd` is `diff`, `grad`, `hessian`,
/// `jacobian`, `simplify` or `check` (an entrywise partial is `diff` with
/// `wrt` an entry such as `X_ij`); `decls` is the declarations box (may be
/// empty); `form` is `default`, `expand` or `factor`; `steps` asks for the
/// derivation too.
///
/// Returns one JSON object: for a derivative or a simplified expression
/// `{"command", "text", "latex", "index", "numpy", "json", "steps",
/// "notes", "unavailable"}` (a format the result does not take is `null`,
/// with the reason in `unavailable`); for `check` `{"command", "text",
/// "json", "passed"}`; on an error `{"error": …}` (see [`error_json`]).
#[wasm_bindgen]
pub fn answer(cmd: &str, expr: &str, wrt: &str, decls: &str, form: &str, steps: bool) -> String {
    guarded(|| {
        let command = match command(cmd, expr, wrt, decls, form) {
            Ok(c) => c,
            Err(d) => return error_json(&d),
        };
        let session = Session::new();
        let out = match session.run(&command) {
            Ok(out) => out,
            Err(d) => return error_json(&d),
        };
        let mut fields = vec![("command", json_string(command.word()))];
        if let Body::Verdicts(_) = out.body {
            fields.push(("text", rendered(&out, Format::Text).0));
            fields.push(("json", rendered(&out, Format::Json).0));
            fields.push(("passed", out.passed().to_string()));
            return object(&fields);
        }
        let mut unavailable = Vec::new();
        for (key, format) in [
            ("text", Format::Text),
            ("latex", Format::Latex),
            ("index", Format::Index),
            ("numpy", Format::Numpy),
            ("json", Format::Json),
        ] {
            let (value, why) = rendered(&out, format);
            fields.push((key, value));
            if let Some(why) = why {
                unavailable.push(format!("{}: {why}", json_string(key)));
            }
        }
        let derivation = if steps && out.answer().is_some() {
            let text = Command {
                steps: true,
                ..command.clone()
            };
            let latex = Command {
                format: Format::Latex,
                ..text.clone()
            };
            let text = session.run(&text).and_then(|o| render(&o, Format::Text));
            let latex = session.run(&latex).and_then(|o| render(&o, Format::Latex));
            match (text, latex) {
                (Ok(t), Ok(l)) => format!(
                    "{{\"text\": {}, \"latex\": {}}}",
                    json_string(&t),
                    json_string(&l)
                ),
                (Err(d), _) | (_, Err(d)) => error_json(&d),
            }
        } else {
            "null".to_string()
        };
        fields.push(("steps", derivation));
        let notes: Vec<String> = out.notes.iter().map(|n| json_string(n)).collect();
        fields.push(("notes", format!("[{}]", notes.join(", "))));
        fields.push(("unavailable", format!("{{{}}}", unavailable.join(", "))));
        object(&fields)
    })
}

/// The page's fields as a [`Command`].
fn command(
    cmd: &str,
    expr: &str,
    wrt: &str,
    decls: &str,
    form: &str,
) -> Result<Command, Diagnostic> {
    let wrt = wrt.trim().to_string();
    let action = match cmd {
        "diff" => Action::Diff {
            wrt,
            direction: None,
        },
        "grad" => Action::Grad { wrt },
        "hessian" => Action::Hessian { wrt },
        "jacobian" => Action::Jacobian { wrt },
        "simplify" => Action::Simplify,
        "check" => Action::Check { wrt, claim: None },
        other => {
            return Err(Diagnostic::new(format!("unknown command `{other}`"), other)
                .help("diff, grad, hessian, jacobian, simplify or check"));
        }
    };
    let mut command = Command::new(action, expr);
    command.where_ = non_empty(decls).map(str::to_string);
    // the textbook form by default; `expand` the expanded sum of
    // products, `factor` the smallest factored one
    command.form = Some(match form {
        "factor" => Form::Factored,
        "expand" => Form::Expanded,
        _ => Form::Default,
    });
    Ok(command)
}

/// One format of an output, as a JSON value (a string, or `null` with the
/// reason when the output does not take that format).
fn rendered(out: &Output, format: Format) -> (String, Option<String>) {
    match render(out, format) {
        Ok(s) => (json_string(&s), None),
        Err(d) => ("null".to_string(), Some(json_string(&d.message))),
    }
}

/// `None` for a blank field.
fn non_empty(s: &str) -> Option<&str> {
    (!s.trim().is_empty()).then_some(s)
}

/// Runs `f`; a panic becomes an error object instead of an unwind across
/// the boundary (where the target unwinds at all).
pub fn guarded(f: impl FnOnce() -> String) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(s) => s,
        Err(_) => {
            let d = Diagnostic::new(
                format!("internal error (a bug in matcalc): {}", take_panic()),
                "",
            );
            // not a text of the user's: the page shows no caret for it
            error_json(&d).replacen("\"origin\": \"input\"", "\"origin\": \"panic\"", 1)
        }
    }
}

/// A diagnostic as `{"error": {"message", "help", "source", "origin",
/// "spans", "rendered"}}`. Unlike the CLI's JSON, `spans` holds every
/// label as `[start, end, text]`, in UTF-16 code units of `source` as
/// JavaScript indexes strings, so the page can put the caret under the
/// right character; `rendered` is the CLI's caret text.
pub fn error_json(d: &Diagnostic) -> String {
    let spans: Vec<String> = d
        .labels
        .iter()
        .map(|l| {
            let (start, end) = (utf16(&d.source, l.span.start), utf16(&d.source, l.span.end));
            format!("[{start}, {end}, {}]", json_string(&l.text))
        })
        .collect();
    let help = d.help.as_deref().map_or("null".to_string(), json_string);
    let fields = [
        ("message", json_string(&d.message)),
        ("help", help),
        ("source", json_string(&d.source)),
        ("origin", json_string(&d.origin.to_string())),
        ("spans", format!("[{}]", spans.join(", "))),
        ("rendered", json_string(&d.render())),
    ];
    format!("{{\"error\": {}}}", object(&fields))
}

/// The UTF-16 offset of byte offset `byte` in `s` (clamped to `s`).
fn utf16(s: &str, byte: usize) -> usize {
    let mut end = byte.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].encode_utf16().count()
}

/// A JSON object from keys and already-encoded values.
fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", json_string(k)))
        .collect();
    format!("{{{}}}", body.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_question_answers_in_every_format() {
        let a = answer("diff", "A X X^T A^T", "X_ij", "", "default", true);
        assert!(
            a.contains(r#""text": "A E_ij X^T A^T + A X E_ij^T A^T""#),
            "{a}"
        );
        assert!(a.contains("def differential"), "{a}");
        assert!(a.contains(r#""steps": {"text""#), "{a}");
    }

    #[test]
    fn an_error_has_utf16_spans_under_the_input() {
        let e = answer("grad", "tr(X^T A X", "X", "", "default", false);
        assert!(e.starts_with("{\"error\": "), "{e}");
        assert!(e.contains("\"spans\": ["), "{e}");
        assert_eq!(utf16("αβ x", 4), 2);
        assert_eq!(utf16("αβ x", 3), 1);
    }

    #[test]
    fn a_panic_becomes_an_error_object() {
        start();
        let e = panic_for_test();
        assert!(e.contains("internal error"), "{e}");
        assert!(e.contains("on purpose"), "{e}");
        assert!(e.contains(r#""origin": "panic""#), "{e}");
    }

    #[test]
    fn variables_come_in_order_of_appearance() {
        assert_eq!(
            variables("A X X^T A^T", ""),
            r#"{"variables": [{"name": "A", "kind": "matrix"}, {"name": "X", "kind": "matrix"}]}"#
        );
        assert!(functions().contains("\"logdet\""));
    }
}
