//! Byte spans into the user's input, and the user-facing diagnostic: a
//! message, the input echoed with carets under the places it is about, and
//! an optional hint.
//!
//! The renderer is ours rather than miette's or ariadne's: the output is a
//! contract (SPEC §5, snapshot-tested), it must be plain text without colour
//! when piped, and a hundred lines here cost less to build and keep stable
//! than a dependency tree on a two-core machine.

use std::fmt;

/// A half-open byte range `start..end` in one source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// The span from `start` to `end`.
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span that covers both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// One place a diagnostic points at, with a short label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say under the carets (may be empty).
    pub text: String,
}

/// Which text a diagnostic's spans point into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Origin {
    /// The expression (with its declarations), or a REPL line.
    #[default]
    Input,
    /// The variable (`--wrt`).
    Wrt,
    /// Declarations given beside the expression (`--where`).
    Where,
    /// The direction's name (`--direction`).
    Direction,
    /// Values for `eval` (`--at`).
    At,
    /// The name of a `let` binding.
    Let,
    /// A differential the user claims (`check --diff`).
    ClaimedDiff,
    /// A gradient the user claims (`check --grad`).
    ClaimedGrad,
    /// A Hessian the user claims (`check --hessian`).
    ClaimedHessian,
    /// A Jacobian the user claims (`check --jacobian`).
    ClaimedJacobian,
}

impl Origin {
    /// The name the CLI gives that text (`input`, `--wrt`, …).
    pub fn name(self) -> &'static str {
        match self {
            Origin::Input => "input",
            Origin::Wrt => "--wrt",
            Origin::Where => "--where",
            Origin::Direction => "--direction",
            Origin::At => "--at",
            Origin::Let => "let",
            Origin::ClaimedDiff => "--diff",
            Origin::ClaimedGrad => "--grad",
            Origin::ClaimedHessian => "--hessian",
            Origin::ClaimedJacobian => "--jacobian",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The phase of the work an error comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    /// Reading the command itself (a flag's value, a REPL statement).
    #[default]
    Usage,
    /// Reading the text (syntax).
    Parse,
    /// Names, kinds and shapes.
    Shape,
    /// Taking or writing a derivative.
    Derivative,
    /// Computing a value.
    Evaluation,
    /// A bound on the work or the size of the result.
    Limit,
}

impl Phase {
    /// The phase's name, for tools (`parse`, `shape`, …).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Usage => "usage",
            Phase::Parse => "parse",
            Phase::Shape => "shape",
            Phase::Derivative => "derivative",
            Phase::Evaluation => "evaluation",
            Phase::Limit => "limit",
        }
    }
}

/// One operand of an operator, as an error reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operand {
    /// Where it is.
    pub span: Span,
    /// Its text.
    pub text: String,
    /// Its shape, as the message writes it (`n×m`).
    pub shape: String,
}

/// What an error is about, as data for callers that act on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Two operands whose shapes do not fit the operator.
    ShapeClash {
        /// What was being done (`add`, `multiply`, …).
        verb: String,
        /// The left operand.
        left: Operand,
        /// The right operand.
        right: Operand,
    },
    /// A derivative matcalc does not write for this expression (it needs
    /// selection matrices or an un-vec), and why.
    NotWritten {
        /// Why, in words.
        reason: String,
    },
}

/// A user-facing error: what went wrong, where, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The one-line message, in the user's words.
    pub message: String,
    /// The text the labels' spans point into (the expression, or a flag's value).
    pub source: String,
    /// Which text that is.
    pub origin: Origin,
    /// The phase the error comes from.
    pub phase: Phase,
    /// What the error is about, as data, where a caller may act on it.
    pub detail: Option<Box<Detail>>,
    /// The places, in the order they are drawn.
    pub labels: Vec<Label>,
    /// A suggestion, if there is an obvious one.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic about `source` with no labels yet.
    pub fn new(message: impl Into<String>, source: &str) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            source: source.to_string(),
            origin: Origin::Input,
            phase: Phase::Usage,
            detail: None,
            labels: Vec::new(),
            help: None,
        }
    }

    /// Adds a labelled place.
    pub fn label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// Adds a hint after any there is (each is a line of its own).
    pub fn also_help(mut self, more: impl Into<String>) -> Diagnostic {
        let more = more.into();
        self.help = Some(match self.help.take() {
            Some(old) => format!("{old}\n{more}"),
            None => more,
        });
        self
    }

    /// Sets the hint.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Names the text the spans point into.
    pub fn origin(mut self, origin: Origin) -> Diagnostic {
        self.origin = origin;
        self
    }

    /// Sets the phase the error comes from.
    pub fn phase(mut self, phase: Phase) -> Diagnostic {
        self.phase = phase;
        self
    }

    /// The phase, unless an earlier one already set it (a shape error
    /// passed up through the derivative stays a shape error).
    pub fn phase_or(mut self, phase: Phase) -> Diagnostic {
        if self.phase == Phase::Usage {
            self.phase = phase;
        }
        self
    }

    /// Attaches what the error is about, as data.
    pub fn detail(mut self, detail: Detail) -> Diagnostic {
        self.detail = Some(Box::new(detail));
        self
    }

    /// Renders the diagnostic as plain text, ending without a newline.
    pub fn render(&self) -> String {
        let mut out = format!("error: {}", self.message);
        if !self.labels.is_empty() || !self.source.is_empty() {
            self.render_source(&mut out);
        }
        if let Some(help) = &self.help {
            for line in help.lines() {
                out.push_str(&format!("\n  = help: {line}"));
            }
        }
        out
    }

    fn render_source(&self, out: &mut String) {
        let lines = line_starts(&self.source);
        let gutter = lines.len().to_string().len().max(1);
        let pad = " ".repeat(gutter);
        out.push_str(&format!("\n{pad}--> {}", self.origin));
        out.push_str(&format!("\n{pad} |"));
        // Group labels by the line their start falls on, in line order.
        let mut shown: Vec<usize> = self
            .labels
            .iter()
            .map(|l| line_of(&lines, clamp(&self.source, l.span.start)))
            .collect();
        if shown.is_empty() {
            shown.push(0);
        }
        shown.sort_unstable();
        shown.dedup();
        for line in shown {
            let start = lines[line];
            let end = lines
                .get(line + 1)
                .map(|&next| next - 1)
                .unwrap_or(self.source.len());
            let text: Vec<char> = visible(&self.source[start..end]).chars().collect();
            // Columns (in characters) of this line's labels.
            let cols: Vec<(usize, usize, &str)> = self
                .labels
                .iter()
                .filter_map(|label| {
                    let s = clamp(&self.source, label.span.start);
                    if line_of(&lines, s) != line {
                        return None;
                    }
                    let e = clamp(&self.source, label.span.end.max(label.span.start)).min(end);
                    let col = display_width(&self.source[start..s]);
                    let width = display_width(&self.source[s..e.max(s)]).max(1);
                    Some((col, width, label.text.as_str()))
                })
                .collect();
            if text.len() <= MAX_SHOWN_WIDTH {
                let shown: String = text.iter().collect();
                out.push_str(&format!("\n{:>gutter$} | {shown}", line + 1));
                for (col, width, label) in cols {
                    push_caret(out, &pad, col, width, label);
                }
                continue;
            }
            // A long line is shown as a window around each label.
            let windows: Vec<(usize, usize, &str)> = if cols.is_empty() {
                vec![(0, 1, "")]
            } else {
                cols
            };
            for (col, width, label) in windows {
                let lo = col.saturating_sub(MAX_SHOWN_WIDTH / 3);
                let lo = lo.min(text.len() - MAX_SHOWN_WIDTH);
                let hi = lo + MAX_SHOWN_WIDTH;
                let lead = usize::from(lo > 0);
                let mut shown: String = if lo > 0 { "…".into() } else { String::new() };
                shown.extend(&text[lo..hi]);
                if hi < text.len() {
                    shown.push('…');
                }
                out.push_str(&format!("\n{:>gutter$} | {shown}", line + 1));
                let width = width.min(hi.saturating_sub(col)).max(1);
                push_caret(out, &pad, col - lo + lead, width, label);
            }
        }
    }
}

/// One row of carets under a shown line.
fn push_caret(out: &mut String, pad: &str, col: usize, width: usize, label: &str) {
    let mut row = format!("\n{pad} | {}{}", " ".repeat(col), "^".repeat(width));
    if !label.is_empty() {
        row.push(' ');
        row.push_str(label);
    }
    out.push_str(&row);
}

/// Widest part of a source line a diagnostic shows, in characters; a
/// longer line is cut to a window around the place with `…` on either side.
const MAX_SHOWN_WIDTH: usize = 100;

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Diagnostic {}

/// The candidate closest to `word` by edit distance, if it is close
/// enough to be a likely typo (one edit in a word of up to four letters,
/// two in a longer one); ties go to the earlier candidate.
pub(crate) fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w: Vec<char> = word.chars().collect();
    let mut best: Option<(usize, &'a str)> = None;
    for &c in candidates {
        let d = edit_distance(&w, &c.chars().collect::<Vec<_>>());
        let allowed = if w.len() <= 4 { 1 } else { 2 };
        if d <= allowed && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn line_starts(source: &str) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
    starts
}

fn line_of(starts: &[usize], offset: usize) -> usize {
    match starts.binary_search(&offset) {
        Ok(i) => i,
        Err(i) => i - 1,
    }
}

/// Clamps an offset into the text and back onto a character boundary.
fn clamp(source: &str, offset: usize) -> usize {
    let mut o = offset.min(source.len());
    while !source.is_char_boundary(o) {
        o -= 1;
    }
    o
}

/// Columns a caret must move to pass over `text` (one per character; tabs
/// are drawn as one space by `visible`).
fn display_width(text: &str) -> usize {
    text.chars().count()
}

/// The line as drawn: tabs and control characters become single spaces so
/// that carets line up.
fn visible(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
