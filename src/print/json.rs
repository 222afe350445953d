//! JSON output (`--format json`) for tools: one object with the input, the
//! variable, the kind of derivative, the result as text and as LaTeX, and
//! its symbolic shape.
//!
//! ```json
//! {"input": "tr(A X)", "variable": "X", "kind": "gradient",
//!  "text": "A^T", "latex": "A^\\top",
//!  "equation": "\\frac{\\partial f}{\\partial X} = A^\\top",
//!  "shape": ["m", "n"]}
//! ```
//! Written by hand: the object is flat and its values are strings, so a
//! serialiser dependency would buy nothing.
//!
//! The `text`, `latex` and `equation` fields hold the full expression,
//! never names for repeated pieces (`… where p = …`, see
//! `crate::print::named`): a tool reads one self-contained expression.

use crate::calculus::derivative::{Answer, Wrt};
use crate::print::latex::{lhs, to_latex_full};
use crate::print::text::to_text;

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The answer as one JSON object; `input` is the expression as the user
/// typed it.
pub fn to_json(a: &Answer, input: &str) -> String {
    let variable = match &a.wrt {
        Wrt::Var(v) => v.clone(),
        Wrt::Entry { var, indices } => format!("{var}_{indices}"),
    };
    let s = a.result.shape();
    // The full expression: the answer's own text unless that names
    // repeated pieces (its `ones` are sized where the text needs it).
    let text = if a.text.is_empty() || a.text.contains(" where ") {
        to_text(&a.result)
    } else {
        a.text.clone()
    };
    let fields = [
        ("input", json_string(input)),
        ("variable", json_string(&variable)),
        ("kind", json_string(a.kind.name())),
        ("text", json_string(&text)),
        ("latex", json_string(&to_latex_full(a))),
        (
            "equation",
            json_string(&format!("{} = {}", lhs(a), to_latex_full(a))),
        ),
        (
            "shape",
            format!(
                "[{}, {}]",
                json_string(&s.rows.to_string()),
                json_string(&s.cols.to_string())
            ),
        ),
    ];
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {v}", json_string(k)))
        .collect();
    format!("{{{}}}", body.join(", "))
}
