//! The command core shared by the CLI and the REPL: it runs a command on
//! text and returns a result value, with no I/O, so every command is
//! testable without a terminal.

use crate::calculus::diff::DiffError;
use crate::calculus::differential;
use crate::expr::Expr;
use crate::lower::{Context, Lowered, VarKind, lower};
use crate::parse::parse;
use crate::simplify::{Form, Simplified, simplify, simplify_from};
use crate::span::{Detail, Diagnostic, Origin, Phase, Span};

pub use crate::calculus::derivative::{Answer, Derivative, Wrt};

mod bindings;
mod claim;
mod command;
mod repl;
mod steps;
mod whole;

pub use command::{Action, Body, Claim, Command, Format, Output, render, render_error};
pub use repl::{Mode, Repl, Reply, is_incomplete};
pub use steps::Derivation;

/// The numeric verdict on one identity (exact, within a tolerance,
/// refuted, or inconclusive).
pub use crate::numeric::verify::Verdict as NumericVerdict;

/// Largest relative error a numeric (f64) check accepts, per entry.
pub const CHECK_TOLERANCE: f64 = crate::numeric::verify::TOLERANCE;

/// Points at which `check` compares.
pub const CHECK_POINTS: usize = 5;

/// The verdict on one kind of derivative.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// `differential` or `entrywise`.
    pub kind: &'static str,
    /// The derivative checked, as text.
    pub text: String,
    /// How it was checked: exactly, within a tolerance, refuted, or with
    /// no sound verdict.
    pub outcome: NumericVerdict,
    /// Why matcalc does not write this kind of derivative for the
    /// expression (e.g. a Jacobian through `diag(x)`); such a kind is
    /// neither confirmed nor failed.
    pub not_written: Option<String>,
    /// matcalc's own answer, shown beside a refuted claim of the user's.
    pub reference: Option<String>,
}

impl Verdict {
    /// The verdict on a computed answer.
    fn of(a: Answer, outcome: NumericVerdict) -> Verdict {
        Verdict {
            kind: a.kind.name(),
            text: a.text,
            outcome,
            not_written: None,
            reference: None,
        }
    }

    /// A kind matcalc does not write for this expression, and why.
    fn not_written(kind: Derivative, d: Diagnostic) -> Result<Verdict, Diagnostic> {
        let Some(Detail::NotWritten { reason: why }) = d.detail.as_deref() else {
            return Err(d);
        };
        Ok(Verdict {
            kind: kind.name(),
            text: String::new(),
            outcome: NumericVerdict::Inconclusive {
                reason: why.to_string(),
            },
            not_written: Some(why.to_string()),
            reference: None,
        })
    }
    /// Whether the derivative was confirmed (or is one matcalc does not
    /// write, so there is nothing to refute).
    pub fn passed(&self) -> bool {
        self.not_written.is_some() || self.outcome.passed()
    }

    /// The verdict's status in one word, for tools: `exact`, `numeric`,
    /// `mismatch`, `inconclusive` or `not written`.
    pub fn status(&self) -> &'static str {
        if self.not_written.is_some() {
            return "not written";
        }
        match self.outcome {
            NumericVerdict::Exact { .. } => "exact",
            NumericVerdict::Numeric(_) => "numeric",
            NumericVerdict::Fail(_) => "mismatch",
            NumericVerdict::Inconclusive { .. } => "inconclusive",
        }
    }

    /// One line for people: `exact (5 points)` or the error seen.
    pub fn summary(&self) -> String {
        if let Some(why) = &self.not_written {
            return format!("not written: {why}");
        }
        let summary = self.outcome.summary();
        match &self.reference {
            Some(r) if !self.outcome.passed() => format!("{summary}\n  matcalc's answer: {r}"),
            _ => summary,
        }
    }
}

/// A session: declarations and `let` bindings that apply to every command.
#[derive(Clone, Debug, Default)]
pub struct Session {
    declarations: Vec<Declared>,
    bindings: Vec<bindings::Binding>,
}

/// One declaration of a session: its names and the text after the colon.
#[derive(Clone, Debug)]
struct Declared {
    names: Vec<String>,
    ty: String,
}

impl Declared {
    fn text(&self) -> String {
        format!("{}: {}", self.names.join(", "), self.ty)
    }
}

/// The names `decls` declares (none if it does not parse).
fn declared_names(decls: &str) -> Vec<String> {
    crate::parse::parse_decls(decls)
        .map(|ds| {
            ds.into_iter()
                .flat_map(|d| d.names.into_iter().map(|(n, _)| n))
                .collect()
        })
        .unwrap_or_default()
}

/// The text of `e` when some `ones` in its plain text would read back
/// with another shape (`2 ones ones^T`, whose size nothing in the text
/// fixes, reads back as the number 2): those are spelled with their sizes
/// (`2 ones(n) ones(n)^T`), every other `ones` stays bare, so ordinary
/// answers such as `(ones - X ./ (W H)) H^T` stay short. The plain text
/// is read back with every variable declared in its kind, the way a user
/// reading it back would have them, and each `ones`'s shape compared with
/// the one it was printed from. `None` when no `ones` needs a size.
pub fn text_with_sized_ones(e: &Expr) -> Option<String> {
    let (text, found) = crate::print::marked_ones(e);
    if found.is_empty() {
        return None;
    }
    let decls: Vec<String> = variables(e)
        .iter()
        .map(|(n, s)| {
            let kind = match (s.rows.is_one(), s.cols.is_one()) {
                (true, true) => "scalar",
                (false, true) => "vector",
                _ => "matrix",
            };
            format!("{n}: {kind}")
        })
        .collect();
    let input = if decls.is_empty() {
        text
    } else {
        format!("{text} where {}", decls.join(", "))
    };
    let shapes = parse(&input)
        .ok()
        .and_then(|p| crate::lower::ones_shapes(&p, &input).ok())
        .filter(|s| s.len() == found.len());
    let one = |d: &crate::shape::Dim| d.is_one();
    let sized: std::collections::BTreeMap<usize, (bool, bool)> = match shapes {
        None => found.iter().map(|(i, _)| (*i, (true, true))).collect(),
        Some(shapes) => found
            .iter()
            .zip(&shapes)
            .filter_map(|((i, printed), read)| {
                // a row prints as `ones^T`: its `ones` is the column
                let printed = if printed.rows.is_one() && !printed.cols.is_one() {
                    printed.transpose()
                } else {
                    printed.clone()
                };
                let rows = one(&printed.rows) != one(&read.rows);
                let cols = one(&printed.cols) != one(&read.cols);
                (rows || cols).then_some((*i, (rows, cols)))
            })
            .collect(),
    };
    (!sized.is_empty()).then(|| crate::print::to_text_sizing_ones(e, &sized))
}

/// The variables of `e` and their shapes, by name.
fn variables(e: &Expr) -> std::collections::BTreeMap<String, crate::shape::Shape> {
    let mut vars = std::collections::BTreeMap::new();
    let mut stack = vec![e];
    while let Some(x) = stack.pop() {
        if let crate::expr::Kind::Var(name) = x.kind() {
            vars.insert(name.to_string(), x.shape().clone());
        }
        stack.extend(x.children());
    }
    vars
}

/// `text` (printed from `e`) with the variables declared whose sides are
/// sizes the text spells in `ones(n)`: read alone, `… sum(x) (ones(n)^T
/// ones(n)) …` does not say that n is x's length; `… where x: n` does.
/// Added to the text's own `where` clause when it has one.
pub fn with_size_declarations(e: &Expr, text: String) -> String {
    let mut spelled = std::collections::BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("ones(") {
        rest = &rest[i + 5..];
        let Some(j) = rest.find(')') else { break };
        spelled.extend(rest[..j].split_whitespace().map(str::to_string));
        rest = &rest[j..];
    }
    if spelled.is_empty() {
        return text;
    }
    let shapes = variables(e);
    let side = |d: &crate::shape::Dim| match (d.factor, d.names.as_slice()) {
        (1, [n]) => Some(n.to_string()),
        (k, []) => Some(k.to_string()),
        _ => None,
    };
    let decls: Vec<String> = shapes
        .iter()
        .filter(|(_, s)| {
            s.rows
                .names
                .iter()
                .chain(&s.cols.names)
                .any(|n| spelled.contains(&n.to_string()))
        })
        .filter_map(|(name, s)| {
            let (r, c) = (side(&s.rows)?, side(&s.cols)?);
            Some(if s.cols.is_one() {
                format!("{name}: {r}")
            } else {
                format!("{name}: {r} x {c}")
            })
        })
        .collect();
    if decls.is_empty() {
        text
    } else if text.contains(" where ") {
        format!("{text}, {}", decls.join(", "))
    } else {
        format!("{text} where {}", decls.join(", "))
    }
}

/// An answer's text as matcalc prints it: with its `ones` sized where
/// the text would not fix their sizes ([`text_with_sized_ones`]), else
/// with names for its repeated pieces where it asks for them
/// ([`crate::print::named::answer_text`]).
pub fn readable_text(a: &Answer) -> String {
    let text =
        text_with_sized_ones(&a.result).unwrap_or_else(|| crate::print::named::answer_text(a));
    with_size_declarations(&a.result, text)
}

impl Session {
    /// A session with no declarations.
    pub fn new() -> Session {
        Session::default()
    }

    /// Adds declarations (`S: symmetric, X: n x m`) to every later command.
    /// A name declared again is declared anew: the later declaration wins.
    pub fn declare(&mut self, decls: &str) -> Result<(), Diagnostic> {
        let parsed = crate::parse::parse_decls(decls).map_err(|d| d.phase_or(Phase::Parse))?;
        // Lowering a constant under the declarations checks them whole
        // (kinds against sizes, built-in names, a name declared twice).
        let probe = crate::ast::Parsed {
            expr: crate::ast::Ast {
                kind: crate::ast::AstKind::Number(crate::expr::rat(1)),
                span: Span::new(0, 0),
            },
            decls: parsed.clone(),
        };
        lower(&probe, decls).map_err(|d| d.origin(Origin::Where).phase_or(Phase::Shape))?;
        for d in parsed {
            let names: Vec<String> = d.names.iter().map(|(n, _)| n.clone()).collect();
            let after_names = d.names.last().map_or(d.span.start, |(_, s)| s.end);
            let ty = decls[after_names..d.span.end].trim_start();
            let ty = ty.strip_prefix(':').unwrap_or(ty).trim().to_string();
            for old in &mut self.declarations {
                old.names.retain(|n| !names.contains(n));
            }
            self.declarations.retain(|old| !old.names.is_empty());
            self.declarations.push(Declared { names, ty });
        }
        Ok(())
    }

    /// The input with the session's and the command's declarations appended,
    /// so that every span points into one text. A name the command declares
    /// itself (inline or in `extra`) overrides the session's declaration.
    fn full_input(&self, expr: &str, extra: Option<&str>) -> String {
        let extra = extra.filter(|s| !s.trim().is_empty());
        if self.declarations.is_empty() {
            return match extra {
                None => expr.to_string(),
                Some(x) if where_at(expr).is_some() => format!("{expr}, {x}"),
                Some(x) => format!("{expr} where {x}"),
            };
        }
        let mut own = extra.map(declared_names).unwrap_or_default();
        if let Some(at) = where_at(expr) {
            // the clause may bind names too (`p = A x`): read it whole
            match parse(expr) {
                Ok(p) => own.extend(p.decls.into_iter().flat_map(|d| d.names).map(|(n, _)| n)),
                Err(_) => own.extend(declared_names(&expr[at + "where".len()..])),
            }
        }
        let mut decls: Vec<String> = self
            .declarations
            .iter()
            .filter_map(|d| {
                let names: Vec<String> = d
                    .names
                    .iter()
                    .filter(|n| !own.contains(n))
                    .cloned()
                    .collect();
                (!names.is_empty()).then(|| {
                    Declared {
                        names,
                        ty: d.ty.clone(),
                    }
                    .text()
                })
            })
            .collect();
        decls.extend(extra.map(str::to_string));
        if decls.is_empty() {
            return expr.to_string();
        }
        let joiner = if where_at(expr).is_some() {
            ", "
        } else {
            " where "
        };
        format!("{expr}{joiner}{}", decls.join(", "))
    }

    /// Parses and shape-checks an expression, with every name bound by
    /// `let` replaced by its expression.
    pub fn lower(&self, expr: &str, where_: Option<&str>) -> Result<Lowered, Diagnostic> {
        let input = self.full_input(expr, where_);
        let mut parsed = parse(&input).map_err(|d| d.phase_or(Phase::Parse))?;
        self.substitute(&mut parsed.expr, &input)
            .map_err(|d| d.phase_or(Phase::Parse))?;
        lower(&parsed, &input).map_err(|d| self.explain_bound(d).phase_or(Phase::Shape))
    }

    /// The names of the input that may be products with the space
    /// forgotten (`crate::lower::glued_guesses`); none when it does not parse.
    pub(crate) fn glued_guesses(&self, expr: &str, where_: Option<&str>) -> Vec<(String, String)> {
        let input = self.full_input(expr, where_);
        let Ok(mut parsed) = parse(&input) else {
            return Vec::new();
        };
        if self.substitute(&mut parsed.expr, &input).is_err() {
            return Vec::new();
        }
        crate::lower::glued_guesses(&parsed)
    }

    /// [`Session::lower`] for an expression whose shape is known
    /// beforehand (a claimed derivative): its free sizes unify with
    /// `expect` (`crate::lower::lower_expecting`).
    pub(crate) fn lower_expecting(
        &self,
        expr: &str,
        where_: Option<&str>,
        expect: &crate::shape::Shape,
    ) -> Result<Lowered, Diagnostic> {
        let input = self.full_input(expr, where_);
        let mut parsed = parse(&input).map_err(|d| d.phase_or(Phase::Parse))?;
        self.substitute(&mut parsed.expr, &input)
            .map_err(|d| d.phase_or(Phase::Parse))?;
        crate::lower::lower_expecting(&parsed, &input, expect)
            .map_err(|d| self.explain_bound(d).phase_or(Phase::Shape))
    }

    /// [`Session::lower`] for a command that needs a scalar: an undeclared
    /// vector name (other than `wrt`) may be read as a scalar when that
    /// makes the expression 1×1, with a note (`crate::lower::lower_scalar`).
    pub fn lower_scalar(
        &self,
        expr: &str,
        where_: Option<&str>,
        wrt: &str,
    ) -> Result<Lowered, Diagnostic> {
        let input = self.full_input(expr, where_);
        let mut parsed = parse(&input).map_err(|d| d.phase_or(Phase::Parse))?;
        self.substitute(&mut parsed.expr, &input)
            .map_err(|d| d.phase_or(Phase::Parse))?;
        let wrt = wrt.split('_').next().unwrap_or(wrt).trim();
        crate::lower::lower_scalar(&parsed, &input, wrt)
            .map_err(|d| self.explain_bound(d).phase_or(Phase::Shape))
    }

    /// The declarations in force, in order (`S: symmetric`).
    pub fn declarations(&self) -> Vec<String> {
        self.declarations.iter().map(Declared::text).collect()
    }

    /// Forgets every declaration and binding.
    pub fn clear(&mut self) {
        self.declarations.clear();
        self.bindings.clear();
    }

    /// The differential of `expr` with respect to `wrt` (`X` or `X_ij`),
    /// in the direction named `direction` (default `dX`).
    pub fn diff(
        &self,
        expr: &str,
        wrt: &str,
        direction: Option<&str>,
        where_: Option<&str>,
    ) -> Result<Answer, Diagnostic> {
        let lowered = self.lower(expr, where_)?;
        diff_lowered(lowered, expr, wrt, direction, Some(Form::Default))
    }

    /// [`Session::diff`] with every option: `form` is `None` for the raw
    /// product rule (`--raw`).
    pub fn diff_with(
        &self,
        expr: &str,
        wrt: &str,
        direction: Option<&str>,
        where_: Option<&str>,
        form: Option<Form>,
    ) -> Result<Answer, Diagnostic> {
        let lowered = self.lower(expr, where_)?;
        diff_lowered(lowered, expr, wrt, direction, form)
    }

    /// The value of `expr` at the values `at` (`X=[[1,2],[3,4]], a=2`).
    pub fn eval(
        &self,
        expr: &str,
        at: &str,
        where_: Option<&str>,
    ) -> Result<crate::numeric::Matrix, Diagnostic> {
        let lowered = self.lower(expr, where_)?;
        let mut letters: Vec<char> = Vec::new();
        let mut stack = vec![&lowered.expr];
        while let Some(e) = stack.pop() {
            if let crate::expr::Kind::Unit(ix) = e.kind() {
                letters.extend(ix.chars());
            }
            stack.extend(e.children());
        }
        // the named sizes of the expression (of `ones(n)`, say), which a
        // variable's value fixes or `--at` gives (`n=3`)
        let mut sizes = std::collections::BTreeSet::new();
        let mut stack = vec![&lowered.expr];
        while let Some(e) = stack.pop() {
            for d in [&e.shape().rows, &e.shape().cols] {
                sizes.extend(d.names.iter().map(|n| n.to_string()));
            }
            if let crate::expr::Kind::Commutation(p, q) = e.kind() {
                sizes.extend(p.names.iter().chain(&q.names).map(|n| n.to_string()));
            }
            stack.extend(e.children());
        }
        sizes.retain(|n| !lowered.context.vars.contains_key(n));
        let b = crate::numeric::at::bindings(at, &lowered.context, &letters, &sizes)
            .map_err(|d| d.phase_or(Phase::Evaluation))?;
        if let Some(free) = sizes.iter().find(|n| !b.dims.contains_key(*n)) {
            return Err(Diagnostic::new(
                format!("cannot evaluate: no value fixes the size `{free}`"),
                at,
            )
            .origin(Origin::At)
            .label(Span::new(at.len(), at.len()), format!("add `{free}=…`"))
            .help(format!(
                "no variable's value has a side of size `{free}` (as in `ones({free})`): give it as a whole number, `{free}=3`"
            ))
            .phase(Phase::Evaluation));
        }
        for c in letters {
            if !b.indices.contains_key(&c) {
                return Err(Diagnostic::new(format!("no value for the index `{c}`"), at)
                    .origin(crate::span::Origin::At)
                    .label(Span::new(at.len(), at.len()), format!("add `{c}=…`")));
            }
        }
        crate::numeric::eval(&lowered.expr, &b).map_err(|e| {
            Diagnostic::new(format!("cannot evaluate: {}", e.message), at)
                .origin(Origin::At)
                .label(Span::new(0, at.len()), "at these values")
                .phase(Phase::Evaluation)
        })
    }

    /// The simplified form of `expr`.
    pub fn simplify(
        &self,
        expr: &str,
        where_: Option<&str>,
        form: Form,
    ) -> Result<Simplified, Diagnostic> {
        let lowered = self.lower(expr, where_)?;
        let s = simplify(&lowered.expr, &lowered.context, form);
        printable(&s.expr)?;
        Ok(s)
    }
}

/// Most nodes a printed result may have (a few megabytes of text).
pub const MAX_OUTPUT_NODES: usize = 1_000_000;

/// Refuses to print a result whose text would run to many megabytes: the
/// tree is counted as printed, shared subtrees once per use.
pub(crate) fn printable(e: &Expr) -> Result<(), Diagnostic> {
    let mut stack = vec![e];
    let mut count = 0usize;
    while let Some(x) = stack.pop() {
        count += 1;
        if count > MAX_OUTPUT_NODES {
            return Err(Diagnostic::new(
                format!(
                    "the result is too large to print (over {MAX_OUTPUT_NODES} terms and factors)"
                ),
                "",
            )
            .help("try `--factor` for the factored form, or differentiate a smaller expression")
            .phase(Phase::Limit));
        }
        stack.extend(x.children());
    }
    Ok(())
}

/// The diagnostic for a differential that cannot be written, over the
/// input `input`: too large, or a Fréchet derivative (a caret under the
/// matrix function's call).
pub(crate) fn diff_error(e: DiffError, input: &str) -> Diagnostic {
    match e {
        DiffError::TooLarge { work } => Diagnostic::new(
            format!("the derivative is too large to build (over {work} factors)"),
            "",
        )
        .help(
            "differentiate a smaller expression, or group repeated factors as powers such as `X^3`",
        )
        .phase(Phase::Limit),
        DiffError::Frechet(func) => {
            let name = func.name();
            let span = call_span(input, name);
            let call = span.map_or_else(
                || format!("{name}(…)"),
                |s| input[s.start..s.end].to_string(),
            );
            let d = Diagnostic::new(
                format!(
                    "the derivative of `{call}` outside a trace is a Fréchet derivative, which matcalc cannot write"
                ),
                input,
            )
            .help(format!(
                "matcalc differentiates `{name}` only under a trace, `d tr({name}(Y)) = tr(f'(Y) dY)`: \
                 `tr({name}(X))` has a gradient, but `{name}(X)` itself, `tr(A {name}(X))`, and a Hessian \
                 whose gradient holds `{name}(X)` do not"
            ))
            .phase(Phase::Derivative)
            .detail(Detail::NotWritten {
                reason: format!("it needs the Fréchet derivative of `{name}`"),
            });
            match span {
                Some(s) => d.label(s, "its derivative is needed outside a trace"),
                None => d,
            }
        }
    }
}

/// Where `input` calls `name` (its name through the closing parenthesis):
/// a call not directly under `tr(` when there is one (that is the call
/// whose derivative is refused), else the first.
fn call_span(input: &str, name: &str) -> Option<Span> {
    let bytes = input.as_bytes();
    let mut found = Vec::new();
    let pattern = format!("{name}(");
    let mut from = 0;
    while let Some(at) = input[from..].find(&pattern) {
        let start = from + at;
        from = start + pattern.len();
        let glued =
            start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if glued {
            continue;
        }
        let mut depth = 0usize;
        let mut end = None;
        for (i, &b) in bytes.iter().enumerate().skip(start + name.len()) {
            match b {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        if let Some(end) = end {
            let under_trace = input[..start].trim_end().ends_with("tr(");
            found.push((under_trace, Span::new(start, end)));
        }
    }
    found
        .iter()
        .find(|(under, _)| !under)
        .or(found.first())
        .map(|&(_, s)| s)
}

/// The derivative of an already lowered expression.
fn diff_lowered(
    mut lowered: Lowered,
    input: &str,
    wrt: &str,
    direction: Option<&str>,
    form: Option<Form>,
) -> Result<Answer, Diagnostic> {
    let wrt = resolve_wrt(wrt, &lowered.context)?;
    let var = match &wrt {
        Wrt::Var(v) | Wrt::Entry { var: v, .. } => v.clone(),
    };
    lowered.context.free_differential(&var);
    let info = lowered.context.get(&var).expect("resolved").clone();
    let (dir_expr, dir_name) = match (&wrt, direction) {
        (Wrt::Entry { .. }, Some(d)) => {
            return Err(Diagnostic::new(
                "`--direction` does not apply to an entrywise partial (the direction is E_ij)",
                d,
            )
            .origin(crate::span::Origin::Direction));
        }
        (Wrt::Entry { indices, .. }, None) => (Expr::unit(indices, info.shape.clone()), None),
        (Wrt::Var(v), d) => {
            let name = match d {
                Some(d) => check_direction_for(d, v, &lowered.context)?,
                None => default_direction(v, &mut lowered.context),
            };
            (Expr::var(&name, info.shape.clone()), Some(name))
        }
    };
    let result = differential(&lowered.expr, &var, &dir_expr).map_err(|e| diff_error(e, input))?;
    // Shared subtrees keep the product rule's result small in memory even
    // when written out it is huge (nested squares double it per level).
    printable(&result)?;
    let ctx = match &dir_name {
        Some(name) => lowered.context.with_direction(&var, name),
        None => lowered.context.clone(),
    };
    let (simplified, stopped) = match form {
        Some(form) => {
            let s = simplify_from(&result, &ctx, form, &lowered.expr);
            (s.expr, s.stopped)
        }
        None => (result.clone(), Vec::new()),
    };
    printable(&simplified)?;
    let kind = match wrt {
        Wrt::Var(_) => Derivative::Differential,
        Wrt::Entry { .. } => Derivative::Entrywise,
    };
    let mut answer = Answer {
        kind,
        function: lowered.expr,
        context: lowered.context,
        wrt,
        direction: dir_name,
        result: simplified,
        raw: result,
        stopped,
        text: String::new(),
        name_repeats: matches!(form, Some(Form::Default | Form::Factored)),
    };
    answer.text = readable_text(&answer);
    Ok(answer)
}

impl Session {
    /// Verifies every derivative of `expr` with respect to `wrt` that the
    /// engine computes (the differential, the entrywise partial, and for a
    /// scalar the gradient and Hessian, and the Jacobian): exactly over Q
    /// with dual numbers where the expression is rational, by central
    /// differences otherwise.
    pub fn check(
        &self,
        expr: &str,
        wrt: &str,
        where_: Option<&str>,
    ) -> Result<Vec<Verdict>, Diagnostic> {
        let lowered = self.lower(expr, where_)?;
        let var = match resolve_wrt(wrt, &lowered.context)? {
            Wrt::Var(v) => v,
            Wrt::Entry { var, .. } => var,
        };
        let kind = lowered.context.vars[&var].kind;
        let mut wrts = vec![var.clone()];
        match kind {
            VarKind::Matrix => wrts.push(format!("{var}_ij")),
            VarKind::Vector => wrts.push(format!("{var}_i")),
            VarKind::Scalar => {}
        }
        let mut verdicts = Vec::new();
        for w in wrts {
            let answer = diff_lowered(lowered.clone(), expr, &w, None, Some(Form::Default))?;
            let outcome = judge(&answer);
            verdicts.push(Verdict::of(answer, outcome));
        }
        let w = var.as_str();
        let scalar = lowered.expr.shape().is_scalar();
        let form = Some(Form::Default);
        // every kind from the one lowering
        let setup = |command: &str, scalar: bool| {
            whole::setup(command, lowered.clone(), self.read(expr, where_), w, scalar)
        };
        let mut push = |kind: Derivative, answer: Result<Answer, Diagnostic>| {
            verdicts.push(match answer {
                Ok(a) => {
                    let outcome = judge(&a);
                    Verdict::of(a, outcome)
                }
                Err(d) => Verdict::not_written(kind, d)?,
            });
            Ok::<(), Diagnostic>(())
        };
        if scalar {
            push(Derivative::Gradient, setup("grad", true)?.gradient(form))?;
            push(
                Derivative::Hessian,
                setup("hessian", true)?.hessian(form).map(|(h, _)| h),
            )?;
        }
        push(
            Derivative::Jacobian,
            setup("jacobian", false)?.jacobian(form),
        )?;
        Ok(verdicts)
    }
}

/// The verdict on one of matcalc's own answers, by the one path every
/// claim goes through (`numeric::verify::verify_claim`): the same rules
/// for `check`, `check --grad G`, and the mutation suite.
fn judge(a: &Answer) -> NumericVerdict {
    use crate::numeric::verify::{Claim, verify_claim};
    let var = match &a.wrt {
        Wrt::Var(v) | Wrt::Entry { var: v, .. } => v,
    };
    let value = a.result.clone();
    let claim = match a.kind {
        Derivative::Differential => Claim::Differential {
            direction: a.direction.clone().unwrap_or_else(|| format!("d{var}")),
            value,
        },
        Derivative::Entrywise => Claim::Entrywise(value),
        Derivative::Gradient => Claim::Gradient(value),
        Derivative::Hessian => Claim::Hessian(value),
        Derivative::Jacobian => Claim::Jacobian(value),
    };
    verify_claim(&a.function, &claim, &a.context, var)
}

/// Where the keyword `where` stands in `expr`, as a word of its own.
fn where_at(expr: &str) -> Option<usize> {
    repl::word_at(expr, "where", false)
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic())
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '{' || c == '}')
}

/// Reads a `--wrt` value: a variable of the expression, or one of its
/// entries.
pub fn resolve_wrt(text: &str, ctx: &Context) -> Result<Wrt, Diagnostic> {
    let t = text.trim();
    let whole = Span::new(0, text.len());
    let err = |msg: String| {
        Diagnostic::new(msg, text)
            .origin(crate::span::Origin::Wrt)
            .label(whole, "")
    };
    let names = || {
        let vars: Vec<&str> = ctx
            .order
            .iter()
            .filter(|n| ctx.vars[*n].differential_of.is_none())
            .map(String::as_str)
            .collect();
        if vars.is_empty() {
            "the expression has no variables".to_string()
        } else {
            format!("its variables are {}", vars.join(", "))
        }
    };
    if !is_name(t) {
        return Err(
            err("`--wrt` needs a variable (`X`) or an entry (`X_ij`)".into()).help(names()),
        );
    }
    let t = crate::parse::normalize_ident(t);
    if let Some(info) = ctx.get(&t) {
        if info.differential_of.is_some() {
            return Err(err(format!("`{t}` is a differential, not a variable")).help(names()));
        }
        return Ok(Wrt::Var(t));
    }
    if let Some((var, idx)) = t.split_once('_')
        && let Some(info) = ctx.get(var)
    {
        let want = match info.kind {
            VarKind::Matrix => 2,
            VarKind::Vector => 1,
            VarKind::Scalar => {
                return Err(err(format!("`{var}` is a scalar: it has no entries"))
                    .help(format!("write `--wrt {var}`")));
            }
        };
        let ok = idx.chars().count() == want && idx.chars().all(|c| c.is_ascii_lowercase());
        if !ok {
            let example = if want == 2 { "ij" } else { "i" };
            return Err(err(format!(
                "an entry of `{var}` is named by {want} index letter{}, as in `{var}_{example}`",
                if want == 2 { "s" } else { "" }
            )));
        }
        return Ok(Wrt::Entry {
            var: var.to_string(),
            indices: idx.to_string(),
        });
    }
    Err(err(format!("`{t}` does not appear in the expression")).help(names()))
}

/// The direction of a differential with respect to `var` when none is
/// named: `dX`, unless the input itself uses that name (`tr(dX X)`), where
/// `dX` would be confused with the direction and the answer would be
/// wrong. Then the direction takes a fresh name of the variable's
/// conventional kind, so that the printed result reads back alike (`H`,
/// `h`, `epsilon`, then with a number), and a note says so.
fn default_direction(var: &str, ctx: &mut Context) -> String {
    let usual = format!("d{var}");
    if ctx.get(&usual).is_none() {
        return usual;
    }
    let base = match ctx.vars[var].kind {
        VarKind::Matrix => "H",
        VarKind::Vector => "h",
        VarKind::Scalar => "epsilon",
    };
    let name = std::iter::once(base.to_string())
        .chain((1..).map(|k| format!("{base}{k}")))
        .find(|n| ctx.get(n).is_none())
        .expect("a fresh name");
    ctx.notes.push(format!(
        "the input uses `{usual}`, so the direction is named `{name}` (choose another with `--direction`)"
    ));
    name
}

fn check_direction(d: &str, ctx: &Context) -> Result<String, Diagnostic> {
    let t = d.trim();
    let whole = Span::new(0, d.len());
    if !is_name(t) || t.contains('_') {
        return Err(
            Diagnostic::new("`--direction` needs a plain name such as `H`", d)
                .origin(crate::span::Origin::Direction)
                .label(whole, ""),
        );
    }
    if ctx.get(t).is_some() {
        return Err(Diagnostic::new(
            format!("`{t}` is already used in the expression; pick another direction name"),
            d,
        )
        .origin(crate::span::Origin::Direction)
        .label(whole, ""));
    }
    Ok(t.to_string())
}

/// [`check_direction`], and then a name that reads back as the direction:
/// not a built-in (`I`, `ones`, `eye`, a function: `I X^T + X I^T` reads
/// back as `X^T + X`), and of the variable's conventional kind (SPEC §2),
/// since the printed result reads the name by its convention: `alpha X^T +
/// X alpha^T` would read back with a scalar `alpha`. Refused rather than
/// noted: a note cannot make the printed text mean what was computed.
fn check_direction_for(d: &str, var: &str, ctx: &Context) -> Result<String, Diagnostic> {
    let t = check_direction(d, ctx)?;
    let refuse = |msg: String, help: String| {
        Err(Diagnostic::new(msg, d)
            .origin(crate::span::Origin::Direction)
            .label(Span::new(0, d.len()), "")
            .help(help))
    };
    let kind = ctx.vars[var].kind;
    let (word, example) = match kind {
        VarKind::Matrix => ("a matrix", "H"),
        VarKind::Vector => ("a vector", "h"),
        VarKind::Scalar => ("a scalar", "epsilon"),
    };
    if crate::builtins::lookup(&t).is_some()
        || crate::lower::is_identity(&t)
        || t == "ones"
        || t == "where"
    {
        return refuse(
            format!("`{t}` is a built-in name and cannot name the direction"),
            format!("name the direction otherwise, such as `{example}`"),
        );
    }
    let named = crate::lower::conventional_kind(&t);
    if named != kind {
        let is = match named {
            VarKind::Matrix => "a matrix",
            VarKind::Vector => "a vector",
            VarKind::Scalar => "a scalar",
        };
        return refuse(
            format!("`{t}` names {is} by convention, but the direction of `{var}` is {word}"),
            format!(
                "a printed `{t}` would read back as another kind: name the direction like `{var}`, such as `{example}`"
            ),
        );
    }
    Ok(t)
}
