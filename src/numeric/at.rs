//! The values of `eval --at 'X=[[1,2],[3,4]], x=[1,2], alpha=2.5, i=2'`:
//! parsing them (with carets under mistakes), binding the symbolic sizes of
//! the expression from their shapes, and formatting a result as text or
//! JSON.
//!
//! A flat list is a column vector (a row vector when the variable is a
//! row), a number is a scalar, and a single letter that is not a variable
//! gives a (1-based) index of `E_ij` / `e_i`.

use crate::lower::Context;
use crate::numeric::float::{Bindings, Matrix};
use crate::span::{Diagnostic, Span};

/// Longest number literal accepted.
const MAX_NUMBER_LEN: usize = 64;

/// Largest number of entries in all the values together.
const MAX_ENTRIES: usize = 1 << 20;

/// One `name=value` entry.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    name_span: Span,
    value: Matrix,
    /// Whether the value was written as a flat list.
    flat: bool,
    value_span: Span,
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
    entries: usize,
}

impl Reader<'_> {
    fn err(&self, message: impl Into<String>, at: Span, label: &str) -> Diagnostic {
        Diagnostic::new(message, self.text)
            .origin(crate::span::Origin::At)
            .label(at, label)
    }

    fn skip_ws(&mut self) {
        while let Some(c) = self.text[self.pos..].chars().next() {
            if !c.is_whitespace() {
                break;
            }
            self.pos += c.len_utf8();
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn here(&self) -> Span {
        let len = self.peek().map_or(0, char::len_utf8);
        Span::new(self.pos, self.pos + len)
    }

    fn expect(&mut self, want: char) -> Result<(), Diagnostic> {
        self.skip_ws();
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            let found = match self.peek() {
                Some(c) => format!("`{c}`"),
                None => "the end of the values".to_string(),
            };
            Err(self.err(
                format!("expected `{want}` in the values, found {found}"),
                self.here(),
                &format!("expected `{want}`"),
            ))
        }
    }

    fn name(&mut self) -> Result<(String, Span), Diagnostic> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !(c.is_alphanumeric() || c == '_' || c == '{' || c == '}') {
                break;
            }
            self.pos += c.len_utf8();
        }
        if self.pos == start {
            return Err(self.err(
                "expected a variable name in the values",
                self.here(),
                "expected a name such as `X`",
            ));
        }
        Ok((
            self.text[start..self.pos].to_string(),
            Span::new(start, self.pos),
        ))
    }

    fn number(&mut self) -> Result<f64, Diagnostic> {
        self.skip_ws();
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')) {
                break;
            }
            self.pos += 1;
        }
        let span = Span::new(
            start,
            self.pos.max(start + 1).min(self.text.len().max(start)),
        );
        let lit = &self.text[start..self.pos];
        if lit.is_empty() {
            return Err(self.err(
                "expected a number in the values",
                self.here(),
                "expected a number",
            ));
        }
        if lit.len() > MAX_NUMBER_LEN {
            return Err(self.err(
                format!("a number in the values has more than {MAX_NUMBER_LEN} characters"),
                span,
                "too long",
            ));
        }
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(self.err(
                format!("the values have more than {MAX_ENTRIES} entries"),
                span,
                "too many entries",
            ));
        }
        match lit.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(x),
            _ => Err(self.err(
                format!("`{lit}` is not a finite number"),
                span,
                "not a number",
            )),
        }
    }

    fn list(&mut self) -> Result<Vec<f64>, Diagnostic> {
        self.expect('[')?;
        let mut xs = Vec::new();
        self.skip_ws();
        if self.peek() == Some(']') {
            self.pos += 1;
            return Ok(xs);
        }
        loop {
            xs.push(self.number()?);
            self.skip_ws();
            if self.peek() == Some(',') {
                self.pos += 1;
                continue;
            }
            self.expect(']')?;
            return Ok(xs);
        }
    }

    /// A number, a flat list, or a list of rows.
    fn value(&mut self) -> Result<(Matrix, bool, Span), Diagnostic> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() != Some('[') {
            let x = self.number()?;
            return Ok((Matrix::scalar(x), false, Span::new(start, self.pos)));
        }
        let after = self.text[self.pos + 1..].trim_start();
        if !after.starts_with('[') {
            let xs = self.list()?;
            let m = Matrix {
                rows: xs.len(),
                cols: 1,
                data: xs,
            };
            return Ok((m, true, Span::new(start, self.pos)));
        }
        self.expect('[')?;
        let mut rows: Vec<Vec<f64>> = Vec::new();
        loop {
            let row_start = self.pos;
            let row = self.list()?;
            if let Some(first) = rows.first()
                && first.len() != row.len()
            {
                return Err(self.err(
                    format!(
                        "the rows of a matrix have different lengths ({} and {})",
                        first.len(),
                        row.len()
                    ),
                    Span::new(row_start, self.pos),
                    "this row",
                ));
            }
            rows.push(row);
            self.skip_ws();
            if self.peek() == Some(',') {
                self.pos += 1;
                continue;
            }
            self.expect(']')?;
            break;
        }
        let m = Matrix {
            rows: rows.len(),
            cols: rows.first().map_or(0, Vec::len),
            data: rows.into_iter().flatten().collect(),
        };
        Ok((m, false, Span::new(start, self.pos)))
    }
}

fn parse(text: &str) -> Result<Vec<Entry>, Diagnostic> {
    if let Some((i, c)) = text
        .char_indices()
        .find(|(_, c)| c.is_control() && !c.is_whitespace())
    {
        return Err(Diagnostic::new(
            format!(
                "the values contain the control character U+{:04X}",
                c as u32
            ),
            text,
        )
        .origin(crate::span::Origin::At)
        .label(Span::new(i, i + c.len_utf8()), "here"));
    }
    let mut r = Reader {
        text,
        pos: 0,
        entries: 0,
    };
    let mut out: Vec<Entry> = Vec::new();
    loop {
        r.skip_ws();
        if r.peek().is_none() {
            break;
        }
        let (name, name_span) = r.name()?;
        r.expect('=')?;
        let (value, flat, value_span) = r.value()?;
        if out.iter().any(|e| e.name == name) {
            return Err(r.err(
                format!("`{name}` is given twice"),
                name_span,
                "given again here",
            ));
        }
        out.push(Entry {
            name,
            name_span,
            value,
            flat,
            value_span,
        });
        r.skip_ws();
        match r.peek() {
            None => break,
            Some(',') => r.pos += 1,
            Some(_) => r.expect(',')?,
        }
    }
    Ok(out)
}

fn shape_text(r: usize, c: usize) -> String {
    format!("{r}×{c}")
}

/// Reads `--at` values for the variables of `ctx`: every variable needs a
/// value, sizes must agree with the expression's shapes.
///
/// A named size of the expression that no variable's value fixes
/// (`ones(n)^T ones(n)`) may be given as a whole number, `n=3`, unless a
/// variable has its name.
pub fn bindings(
    text: &str,
    ctx: &Context,
    index_letters: &[char],
    sizes: &std::collections::BTreeSet<String>,
) -> Result<Bindings, Diagnostic> {
    let entries = parse(text)?;
    let mut b = Bindings::default();
    let mut dim_source: std::collections::BTreeMap<String, String> = Default::default();
    for e in &entries {
        let err = |m: String, label: &str| {
            Diagnostic::new(m, text)
                .origin(crate::span::Origin::At)
                .label(e.value_span, label)
        };
        let Some(info) = ctx.get(&e.name) else {
            let mut letters = e.name.chars();
            if let (Some(c), None) = (letters.next(), letters.next())
                && index_letters.contains(&c)
            {
                let k = e.value.data.first().copied().unwrap_or(0.0);
                if !e.value.is_scalar() || k.fract() != 0.0 || k < 1.0 {
                    return Err(err(
                        format!("the index `{c}` must be a whole number from 1"),
                        "not an index",
                    ));
                }
                b.indices.insert(c, k as usize - 1);
                continue;
            }
            if sizes.contains(&e.name) {
                let k = e.value.data.first().copied().unwrap_or(0.0);
                if !e.value.is_scalar() || k.fract() != 0.0 || !(1.0..=1e6).contains(&k) {
                    return Err(err(
                        format!("the size `{}` must be a whole number from 1", e.name),
                        "not a size",
                    ));
                }
                let k = k as usize;
                match b.dims.get(&e.name) {
                    Some(&was) if was != k => {
                        return Err(err(
                            format!(
                                "the size `{}` is {was} to match `{}`",
                                e.name, dim_source[&e.name]
                            ),
                            "another size",
                        ));
                    }
                    _ => {
                        b.dims.insert(e.name.clone(), k);
                        dim_source
                            .entry(e.name.clone())
                            .or_insert_with(|| format!("{}={k}", e.name));
                    }
                }
                continue;
            }
            return Err(Diagnostic::new(
                format!("`{}` does not occur in the expression", e.name),
                text,
            )
            .origin(crate::span::Origin::At)
            .label(e.name_span, "not a variable of the expression"));
        };
        let mut m = e.value.clone();
        if e.flat && info.shape.rows.is_one() && !info.shape.cols.is_one() {
            m = m.transpose();
        }
        for (d, n, role) in [
            (&info.shape.rows, m.rows, "rows"),
            (&info.shape.cols, m.cols, "columns"),
        ] {
            let need = |what: String| {
                err(
                    format!(
                        "`{}` is {} here, but the expression needs {}",
                        e.name,
                        shape_text(m.rows, m.cols),
                        what
                    ),
                    "this value",
                )
            };
            if d.names.is_empty() {
                if d.factor != n as u64 {
                    return Err(need(format!("{} {}", d.factor, role)));
                }
            } else if d.names.len() == 1 && d.factor == 1 {
                let name = d.names[0].to_string();
                match b.dims.get(&name) {
                    Some(&k) if k != n => {
                        return Err(need(format!(
                            "{k} {} to match `{}`",
                            role, dim_source[&name]
                        )));
                    }
                    _ => {
                        b.dims.insert(name.clone(), n);
                        dim_source.entry(name).or_insert_with(|| e.name.clone());
                    }
                }
            }
        }
        b.vars.insert(e.name.clone(), m);
    }
    for name in &ctx.order {
        if !b.vars.contains_key(name) {
            return Err(Diagnostic::new(format!("no value for `{name}`"), text)
                .origin(crate::span::Origin::At)
                .label(Span::new(text.len(), text.len()), format!("add `{name}=…`"))
                .help("every variable of the expression needs a value"));
        }
    }
    // Composite sizes (`n m` from a Kronecker product) are checked now that
    // every named size is known.
    for name in &ctx.order {
        let info = &ctx.vars[name];
        let v = &b.vars[name];
        match b.shape(&info.shape) {
            Ok((r, c)) if (r, c) == (v.rows, v.cols) => {}
            Ok((r, c)) => {
                let span = entries
                    .iter()
                    .find(|e| &e.name == name)
                    .map(|e| e.value_span);
                return Err(Diagnostic::new(
                    format!(
                        "`{name}` is {} here, but the expression needs {}",
                        shape_text(v.rows, v.cols),
                        shape_text(r, c)
                    ),
                    text,
                )
                .origin(crate::span::Origin::At)
                .label(span.unwrap_or_default(), "this value"));
            }
            Err(e) => return Err(Diagnostic::new(e.message, text).origin(crate::span::Origin::At)),
        }
    }
    Ok(b)
}

/// A number for people: integers without a point, others with up to ten
/// significant digits.
fn human(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{:.10e}", x);
    let v: f64 = s.parse().unwrap_or(x);
    format!("{v}")
}

/// A value as text: a number, or the rows of a matrix in aligned columns.
pub fn to_text(m: &Matrix) -> String {
    if m.is_scalar() {
        return human(m.data[0]);
    }
    let cells: Vec<String> = m.data.iter().map(|&x| human(x)).collect();
    let width = cells.iter().map(|c| c.chars().count()).max().unwrap_or(1);
    let mut out = String::new();
    for i in 0..m.rows {
        let row: Vec<String> = (0..m.cols)
            .map(|j| format!("{:>width$}", cells[i * m.cols + j]))
            .collect();
        out.push_str(&format!("[{}]", row.join("  ")));
        if i + 1 < m.rows {
            out.push('\n');
        }
    }
    out
}

/// A value as JSON: `{"value": …}` with a number, a flat list for a column
/// vector, or a list of rows. JSON has no NaN or infinity: those entries
/// are the strings `"NaN"`, `"Infinity"` and `"-Infinity"` (as JavaScript
/// and Python spell them).
pub fn to_json(m: &Matrix) -> String {
    let num = |x: f64| {
        if x.is_nan() {
            "\"NaN\"".to_string()
        } else if x.is_infinite() {
            if x > 0.0 {
                "\"Infinity\""
            } else {
                "\"-Infinity\""
            }
            .to_string()
        } else {
            format!("{x}")
        }
    };
    let value = if m.is_scalar() {
        num(m.data[0])
    } else if m.cols == 1 {
        format!(
            "[{}]",
            m.data
                .iter()
                .map(|&x| num(x))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        let rows: Vec<String> = (0..m.rows)
            .map(|i| {
                let row: Vec<String> = (0..m.cols).map(|j| num(m.get(i, j))).collect();
                format!("[{}]", row.join(", "))
            })
            .collect();
        format!("[{}]", rows.join(", "))
    };
    format!("{{\"value\": {value}}}")
}

/// A value in LaTeX: a number, or a `bmatrix`.
pub fn to_latex(m: &Matrix) -> String {
    if m.is_scalar() {
        return human(m.data[0]);
    }
    let rows: Vec<String> = (0..m.rows)
        .map(|i| {
            let row: Vec<String> = (0..m.cols).map(|j| human(m.get(i, j))).collect();
            row.join(" & ")
        })
        .collect();
    format!(
        "\\begin{{bmatrix}} {} \\end{{bmatrix}}",
        rows.join(" \\\\ ")
    )
}

/// A value as a NumPy literal: a float, a 1-D array for a column vector,
/// or a 2-D array.
pub fn to_numpy(m: &Matrix) -> String {
    let num = |x: f64| {
        if x.is_nan() {
            "np.nan".to_string()
        } else if x.is_infinite() {
            if x > 0.0 { "np.inf" } else { "-np.inf" }.to_string()
        } else {
            format!("{x:?}")
        }
    };
    if m.is_scalar() {
        return num(m.data[0]);
    }
    if m.cols == 1 {
        let items: Vec<String> = m.data.iter().map(|&x| num(x)).collect();
        return format!("np.array([{}])", items.join(", "));
    }
    let rows: Vec<String> = (0..m.rows)
        .map(|i| {
            let row: Vec<String> = (0..m.cols).map(|j| num(m.get(i, j))).collect();
            format!("[{}]", row.join(", "))
        })
        .collect();
    format!("np.array([{}])", rows.join(", "))
}
