//! The REPL's statements, run without I/O: a line in, a [`Reply`] out.
//!
//! A statement is a declaration (`S: symmetric`), a binding
//! (`let M = A X X^T A^T`), one of the CLI's commands in the same words
//! (`diff EXPR wrt X_ij`, `grad EXPR wrt X`, `eval EXPR at X=[[1,2],[3,4]]`),
//! a bare expression (simplified), or a meta command (`:latex`, `:steps`,
//! `:vars`, …). The binary (`src/cli/repl.rs`) only reads lines and prints
//! replies, so every statement is tested here without a terminal.
//!
//! Diagnostics are moved onto the line the user typed: an error inside the
//! expression of `diff … wrt X` gets its caret under the place in the line.

use super::{Action, Claim, Command, Derivative, Format, Session, render};
use crate::lower::Context;
use crate::simplify::Form;
use crate::span::{Diagnostic, Label, Origin, Span, nearest};

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Parseable text in Matrix Cookbook notation (the default).
    Text,
    /// LaTeX equations.
    Latex,
    /// NumPy functions.
    Numpy,
    /// JAX functions.
    Jax,
    /// One JSON object per result (and per error).
    Json,
    /// The component form.
    Index,
}

impl Mode {
    /// The format results are rendered in.
    pub fn format(self) -> Format {
        match self {
            Mode::Text => Format::Text,
            Mode::Latex => Format::Latex,
            Mode::Numpy => Format::Numpy,
            Mode::Jax => Format::Jax,
            Mode::Json => Format::Json,
            Mode::Index => Format::Index,
        }
    }
}

/// What a statement produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Nothing to show: a declaration, a binding, a blank line, a comment.
    Silent,
    /// A result, and notes for the error stream (the simplifier stopped
    /// early).
    Output {
        /// The result.
        text: String,
        /// Notes about how it was reached.
        notes: Vec<String>,
        /// Whether it is a refutation (a `check` that failed): a script
        /// that shows one ends with exit code 1.
        failed: bool,
    },
    /// A word about the session itself (`output: LaTeX`), worth showing on
    /// a terminal and not in a script's output.
    Info(String),
    /// The session ends.
    Quit,
}

/// The meta commands and what they do.
pub const META: [(&str, &str); 12] = [
    (":text", "print results as text (the default)"),
    (":latex", "print results as LaTeX"),
    (":numpy", "print results as NumPy functions"),
    (":jax", "print results as JAX functions"),
    (":json", "print results (and errors) as JSON objects"),
    (":index", "print results in index notation"),
    (":steps", "toggle derivations (`:steps on`, `:steps off`)"),
    (
        ":time",
        "toggle timing each result (`:time on`, `:time off`)",
    ),
    (":vars", "list declarations and bindings"),
    (":clear", "forget every declaration and binding"),
    (":help", "this list"),
    (":quit", "leave (also Ctrl-D)"),
];

/// The statement words.
pub const COMMANDS: [&str; 9] = [
    "diff", "grad", "hessian", "jacobian", "simplify", "check", "eval", "let", "help",
];

/// Words that follow an expression, for completion.
const KEYWORDS: [&str; 17] = [
    "wrt",
    "at",
    "where",
    "symmetric",
    "spd",
    "scalar",
    "vector",
    "matrix",
    "--factor",
    "--raw",
    "--direction",
    "--format",
    "--expand",
    "--grad",
    "--diff",
    "--hessian",
    "--jacobian",
];

/// An interactive session: the [`Session`] (declarations and bindings)
/// with the output mode and the names seen so far.
#[derive(Clone, Debug)]
pub struct Repl {
    session: Session,
    mode: Mode,
    steps: bool,
    time: bool,
    seen: Vec<String>,
}

impl Default for Repl {
    fn default() -> Repl {
        Repl::new()
    }
}

/// A command's arguments after its word, with where each came from.
struct Args<'a> {
    expr: Piece<'a>,
    wrt: Option<Piece<'a>>,
    where_: Option<Piece<'a>>,
    direction: Option<Piece<'a>>,
    factor: bool,
    expand: bool,
    raw: bool,
    /// `--format NAME` for this statement alone.
    format: Option<Format>,
    /// A claimed derivative (`--grad G` …), for `check`.
    claim: Option<(Derivative, Piece<'a>)>,
}

/// A slice of the line and its byte offset in it.
#[derive(Clone, Copy)]
struct Piece<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Piece<'a> {
    fn of(line: &'a str, start: usize, end: usize) -> Piece<'a> {
        Piece {
            text: &line[start..end],
            at: start,
        }
    }
}

impl Repl {
    /// A session with no declarations, printing text.
    pub fn new() -> Repl {
        Repl {
            session: Session::new(),
            mode: Mode::Text,
            steps: false,
            time: false,
            seen: Vec::new(),
        }
    }

    /// The output mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether derivations are shown.
    pub fn steps(&self) -> bool {
        self.steps
    }

    /// The session's declarations and bindings.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Whether each result is timed (`:time on`).
    pub fn timed(&self) -> bool {
        self.time
    }

    /// Runs one statement. With `:time on`, a result carries the note
    /// `time: … ms`: the wall time from the line to the printed result.
    pub fn run(&mut self, line: &str) -> Result<Reply, Diagnostic> {
        let start = std::time::Instant::now();
        let mut reply = self.statement(line);
        if self.time
            && let Ok(Reply::Output { notes, .. }) = &mut reply
        {
            let ms = start.elapsed().as_secs_f64() * 1e3;
            notes.push(format!("time: {ms:.3} ms"));
        }
        reply
    }

    fn statement(&mut self, line: &str) -> Result<Reply, Diagnostic> {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            return Ok(Reply::Silent);
        }
        let start = line.len() - line.trim_start().len();
        if t.starts_with(':') {
            return self.meta(line, start);
        }
        let word_end = t
            .find(|c: char| !c.is_alphanumeric())
            .map_or(line.len(), |i| start + i);
        let word = &line[start..word_end];
        let rest = Piece::of(line, word_end, line.len());
        let at_word = || Span::new(start, word_end);
        match word {
            "diff" | "grad" | "hessian" | "jacobian" | "check" => {
                let args = self.args(line, rest, true)?;
                self.derivative(word, line, args)
            }
            "simplify" => {
                let args = self.args(line, rest, false)?;
                self.simplify(line, args)
            }
            "eval" => self.eval(line, rest),
            "let" => self.bind(line, rest),
            "help" if rest.text.trim().is_empty() => Ok(help()),
            "quit" | "exit" if rest.text.trim().is_empty() => Ok(Reply::Quit),
            _ if binding_at(line).is_some() => self.bind(line, Piece::of(line, start, line.len())),
            _ if looks_declared(t) => {
                self.session
                    .declare(t)
                    .map_err(|d| rebase(d, Piece::of(line, start, start + t.len()), line))?;
                Ok(Reply::Silent)
            }
            _ if word_at(line, "wrt", true).is_some() || word_at(line, "at", false).is_some() => {
                let mut d = Diagnostic::new(format!("unknown command `{word}`"), line)
                    .label(at_word(), "not a command");
                d = match nearest(word, &COMMANDS) {
                    Some(c) => d.help(format!("did you mean `{c}`?")),
                    None => d.help(format!("the commands are {}", COMMANDS.join(", "))),
                };
                Err(d)
            }
            _ => {
                let args = self.args(line, Piece::of(line, start, line.len()), false)?;
                self.simplify(line, args)
            }
        }
    }

    /// Splits `EXPR [wrt X] [where …] [--factor] [--expand] [--raw]
    /// [--direction H] [--format F] [--grad G …]`.
    fn args<'a>(
        &self,
        line: &'a str,
        rest: Piece<'a>,
        needs_wrt: bool,
    ) -> Result<Args<'a>, Diagnostic> {
        let end = line.len();
        let (expr_end, tail_start) = if needs_wrt {
            match word_at(rest.text, "wrt", true) {
                Some(i) => (rest.at + i, rest.at + i + 3),
                None => {
                    return Err(
                        Diagnostic::new("a derivative needs `wrt` and a variable", line)
                            .label(Span::new(end, end), "add `wrt X`")
                            .help("e.g. `grad tr(A X) wrt X`, or `diff A X X^T A^T wrt X_ij`"),
                    );
                }
            }
        } else {
            let flag = rest.text.find(" --").map_or(end, |i| rest.at + i);
            (flag, flag)
        };
        let mut args = Args {
            expr: Piece::of(line, rest.at, expr_end),
            wrt: None,
            where_: None,
            direction: None,
            factor: false,
            expand: false,
            raw: false,
            format: None,
            claim: None,
        };
        let mut pos = tail_start;
        let mut want: Option<&str> = None;
        while let Some((s, e)) = next_token(line, pos) {
            let tok = &line[s..e];
            pos = e;
            if let Some(flag) = want.take() {
                if flag == "--direction" {
                    args.direction = Some(Piece::of(line, s, e));
                    continue;
                }
                args.format = Some(match tok {
                    "text" => Format::Text,
                    "latex" => Format::Latex,
                    "numpy" => Format::Numpy,
                    "jax" => Format::Jax,
                    "json" => Format::Json,
                    "index" => Format::Index,
                    _ => {
                        return Err(Diagnostic::new(format!("unknown format `{tok}`"), line)
                            .label(Span::new(s, e), "not a format")
                            .help("the formats are text, latex, numpy, jax, json and index"));
                    }
                });
            } else if needs_wrt && args.wrt.is_none() {
                args.wrt = Some(Piece::of(line, s, e));
            } else if tok == "where" && needs_wrt {
                args.where_ = Some(Piece::of(line, e, end));
                break;
            } else if tok == "--factor" {
                args.factor = true;
            } else if tok == "--expand" {
                args.expand = true;
            } else if tok == "--raw" {
                args.raw = true;
            } else if (tok == "--direction" && needs_wrt) || tok == "--format" {
                want = Some(tok);
            } else if let Some(kind) = claim_kind(tok).filter(|_| needs_wrt) {
                // the claim runs to the next option or `where`, unless that
                // `where` names pieces of the claim (`… where p = softmax(W
                // x)`, as answers print them): then it is the claim's
                let option = line[e..].find(" --").map_or(end, |i| e + i);
                let stop = match line[e..option].find(" where ") {
                    Some(w)
                        if line[e + w + 7..option]
                            .split(',')
                            .any(|item| binding_at(item.trim()).is_some()) =>
                    {
                        option
                    }
                    Some(w) => e + w,
                    None => option,
                };
                let piece = Piece::of(line, e, stop);
                if piece.text.trim().is_empty() {
                    return Err(Diagnostic::new(format!("`{tok}` needs a derivative"), line)
                        .label(Span::new(e, e), "add the derivative you claim"));
                }
                args.claim = Some((kind, piece));
                pos = stop;
            } else {
                let what = if needs_wrt {
                    "the variable"
                } else {
                    "the expression"
                };
                return Err(
                    Diagnostic::new(format!("unexpected `{tok}` after {what}"), line)
                        .label(Span::new(s, e), "not understood")
                        .help("options are `--factor`, `--expand`, `--raw`, `--format F`, `--direction NAME` and, for `check`, `--grad G`; declarations go after `where`"),
                );
            }
        }
        if let Some(flag) = want {
            let (what, hint) = if flag == "--direction" {
                ("a name", "add a name such as `H`")
            } else {
                ("a format", "add text, latex, numpy, jax, json or index")
            };
            return Err(Diagnostic::new(format!("`{flag}` needs {what}"), line)
                .label(Span::new(end, end), hint));
        }
        if needs_wrt && args.wrt.is_none() {
            return Err(Diagnostic::new("`wrt` needs a variable", line)
                .label(Span::new(end, end), "add a variable such as `X` or `X_ij`"));
        }
        if [args.factor, args.raw, args.expand]
            .iter()
            .filter(|b| **b)
            .count()
            > 1
        {
            return Err(Diagnostic::new(
                "`--factor`, `--expand` and `--raw` exclude each other",
                line,
            ));
        }
        Ok(args)
    }

    /// The format of one statement: its `--format`, or the session's mode.
    fn format(&self, args: &Args<'_>) -> Format {
        args.format.unwrap_or(self.mode.format())
    }

    /// Runs a command built from a statement and renders it.
    fn run_command(
        &mut self,
        cmd: Command,
        fix: impl Fn(Diagnostic) -> Diagnostic,
    ) -> Result<Reply, Diagnostic> {
        let out = self.session.run(&cmd).map_err(&fix)?;
        if let Some(ctx) = out.context() {
            let ctx = ctx.clone();
            self.saw(&ctx);
        } else if let Ok(l) = self.session.lower(&cmd.expr, cmd.where_.as_deref()) {
            self.saw(&l.context);
        }
        let text = render(&out, cmd.format).map_err(fix)?;
        Ok(Reply::Output {
            text,
            failed: !out.passed(),
            notes: out.notes,
        })
    }

    fn derivative(&mut self, word: &str, line: &str, args: Args<'_>) -> Result<Reply, Diagnostic> {
        let wrt = args.wrt.expect("checked by args");
        if self.session.is_bound(wrt.text) {
            return Err(Diagnostic::new(
                format!("`{}` is a name bound by `let`, not a variable", wrt.text),
                line,
            )
            .label(Span::new(wrt.at, wrt.at + wrt.text.len()), "")
            .help("differentiate with respect to a variable of its expression"));
        }
        if let Some(d) = args.direction
            && word != "diff"
        {
            return Err(
                Diagnostic::new("`--direction` applies to `diff` only", line)
                    .label(Span::new(d.at, d.at + d.text.len()), ""),
            );
        }
        if let Some((_, c)) = args.claim
            && word != "check"
        {
            return Err(Diagnostic::new(
                "a claimed derivative (`--grad G`, …) applies to `check` only",
                line,
            )
            .label(Span::new(c.at, c.at + c.text.len()), ""));
        }
        let w = wrt.text.to_string();
        let action = match word {
            "diff" => Action::Diff {
                wrt: w,
                direction: args.direction.map(|p| p.text.to_string()),
            },
            "grad" => Action::Grad { wrt: w },
            "hessian" => Action::Hessian { wrt: w },
            "jacobian" => Action::Jacobian { wrt: w },
            _ => Action::Check {
                wrt: w,
                claim: args.claim.map(|(kind, p)| Claim {
                    kind,
                    text: p.text.trim().to_string(),
                }),
            },
        };
        let format = self.format(&args);
        let is_check = word == "check";
        let cmd = Command {
            action,
            expr: args.expr.text.to_string(),
            where_: args.where_.map(|p| p.text.to_string()),
            form: form_of(&args),
            steps: self.steps
                && !is_check
                && !args.raw
                && matches!(format, Format::Text | Format::Latex),
            format: if is_check && format != Format::Json {
                Format::Text
            } else {
                format
            },
        };
        self.run_command(cmd, |d| fix(d, line, &args))
    }

    fn simplify(&mut self, line: &str, args: Args<'_>) -> Result<Reply, Diagnostic> {
        let format = self.format(&args);
        let cmd = Command {
            action: Action::Simplify,
            expr: args.expr.text.to_string(),
            where_: None,
            form: form_of(&args).or(Some(Form::Default)),
            steps: false,
            format,
        };
        let expr = args.expr;
        self.run_command(cmd, |d| rebase(d, expr, line))
    }

    fn eval(&mut self, line: &str, rest: Piece<'_>) -> Result<Reply, Diagnostic> {
        let Some(i) = word_at(rest.text, "at", false) else {
            let end = line.len();
            return Err(Diagnostic::new("`eval` needs values after `at`", line)
                .label(Span::new(end, end), "add `at X=[[1,2],[3,4]]`"));
        };
        let expr = Piece::of(line, rest.at, rest.at + i);
        let values = Piece::of(line, rest.at + i + 2, line.len());
        let format = match self.mode {
            Mode::Json => Format::Json,
            Mode::Latex => Format::Latex,
            _ => Format::Text,
        };
        let cmd = Command {
            action: Action::Eval {
                at: values.text.to_string(),
            },
            format,
            ..Command::new(Action::Simplify, expr.text)
        };
        self.run_command(cmd, |d| {
            if d.origin == Origin::At {
                rebase(d, values, line)
            } else {
                rebase(d, expr, line)
            }
        })
    }

    fn bind(&mut self, line: &str, rest: Piece<'_>) -> Result<Reply, Diagnostic> {
        let Some(eq) = rest.text.find('=') else {
            let end = line.len();
            return Err(
                Diagnostic::new("`let` needs a name and an expression", line)
                    .label(Span::new(end, end), "add `NAME = EXPR`")
                    .help("e.g. `let M = A X X^T A^T`"),
            );
        };
        let name_piece = Piece::of(line, rest.at, rest.at + eq);
        let name = name_piece.text.trim();
        let name_at = name_piece.at + (name_piece.text.len() - name_piece.text.trim_start().len());
        let body = Piece::of(line, rest.at + eq + 1, line.len());
        if body.text.trim().is_empty() {
            let end = line.len();
            return Err(Diagnostic::new("`let` needs an expression after `=`", line)
                .label(Span::new(end, end), "add an expression"));
        }
        self.session.bind(name, body.text).map_err(|d| {
            if d.origin == Origin::Let {
                rebase(
                    d,
                    Piece {
                        text: name,
                        at: name_at,
                    },
                    line,
                )
            } else {
                rebase(d, body, line)
            }
        })?;
        Ok(Reply::Silent)
    }

    fn meta(&mut self, line: &str, start: usize) -> Result<Reply, Diagnostic> {
        let t = line.trim();
        let (cmd, arg) = match t.split_once(char::is_whitespace) {
            Some((c, a)) => (c, a.trim()),
            None => (t, ""),
        };
        let info = |s: &str| Ok(Reply::Info(s.to_string()));
        match (cmd, arg) {
            (":text", "") => {
                self.mode = Mode::Text;
                info("output: text")
            }
            (":latex", "") => {
                self.mode = Mode::Latex;
                info("output: LaTeX")
            }
            (":numpy", "") => {
                self.mode = Mode::Numpy;
                info("output: NumPy")
            }
            (":jax", "") => {
                self.mode = Mode::Jax;
                info("output: JAX")
            }
            (":json", "") => {
                self.mode = Mode::Json;
                info("output: JSON")
            }
            (":index", "") => {
                self.mode = Mode::Index;
                info("output: index notation")
            }
            (":steps", "" | "on" | "off") => {
                self.steps = match arg {
                    "on" => true,
                    "off" => false,
                    _ => !self.steps,
                };
                info(if self.steps {
                    "steps: on"
                } else {
                    "steps: off"
                })
            }
            (":time", "" | "on" | "off") => {
                self.time = match arg {
                    "on" => true,
                    "off" => false,
                    _ => !self.time,
                };
                info(if self.time { "time: on" } else { "time: off" })
            }
            (":vars", "") => Ok(self.vars()),
            (":clear", "") => {
                self.session.clear();
                self.seen.clear();
                info("cleared: no declarations or bindings")
            }
            (":help", "") => Ok(help()),
            (":quit" | ":q" | ":exit", "") => Ok(Reply::Quit),
            _ if META.iter().any(|(m, _)| *m == cmd) || cmd == ":q" || cmd == ":exit" => {
                let at = start + cmd.len();
                let at = at + line[at..].len() - line[at..].trim_start().len();
                Err(
                    Diagnostic::new(format!("`{cmd}` takes no argument here"), line)
                        .label(Span::new(at, at + arg.len()), "unexpected"),
                )
            }
            _ => {
                let names: Vec<&str> = META.iter().map(|(m, _)| *m).collect();
                let d = Diagnostic::new(format!("unknown meta command `{cmd}`"), line)
                    .label(Span::new(start, start + cmd.len()), "");
                Err(match nearest(cmd, &names) {
                    Some(m) => d.help(format!("did you mean `{m}`?")),
                    None => d.help(format!("the meta commands are {}", names.join(" "))),
                })
            }
        }
    }

    fn vars(&self) -> Reply {
        let mut lines: Vec<String> = self.session.declarations();
        for (name, text) in self.session.bindings() {
            lines.push(format!("let {name} = {text}"));
        }
        let declared = self.declared();
        let others: Vec<&str> = self
            .seen
            .iter()
            .filter(|n| !declared.contains(n) && !self.session.is_bound(n))
            .map(String::as_str)
            .collect();
        if !others.is_empty() {
            lines.push(format!("used: {}", others.join(", ")));
        }
        if lines.is_empty() {
            lines.push("no declarations, bindings or variables yet".to_string());
        }
        output(lines.join("\n"), &[])
    }

    /// Remembers the variables of a context, for completion and `:vars`.
    fn saw(&mut self, ctx: &Context) {
        for n in &ctx.order {
            if ctx.vars[n].differential_of.is_none() && !self.seen.contains(n) {
                self.seen.push(n.clone());
            }
        }
    }

    /// Completions of the word that ends at byte `pos` of `line`: the byte
    /// where that word starts, and the candidates (commands first on a
    /// line, meta commands after `:`, functions, keywords and the names
    /// declared, bound or used so far).
    pub fn complete(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let pos = pos.min(line.len());
        let before = &line[..pos];
        let start = before
            .char_indices()
            .rev()
            .take_while(|&(_, c)| c.is_alphanumeric() || c == '_' || c == ':' || c == '-')
            .last()
            .map_or(pos, |(i, _)| i);
        let word = &line[start..pos];
        let first = line[..start].trim().is_empty();
        let mut out: Vec<String> = Vec::new();
        if word.starts_with(':') {
            out.extend(META.iter().map(|(m, _)| m.to_string()));
        } else {
            if first {
                out.extend(COMMANDS.iter().map(|c| format!("{c} ")));
            } else {
                out.extend(crate::ast::FUNCTION_NAMES.iter().map(|f| format!("{f}(")));
                out.extend(KEYWORDS.iter().map(|k| format!("{k} ")));
            }
            out.extend(self.names());
        }
        out.retain(|c| c.starts_with(word) && c.trim_end() != word);
        out.sort();
        out.dedup();
        (start, out)
    }

    /// Names the session's declarations declare.
    fn declared(&self) -> Vec<String> {
        self.session
            .declarations()
            .iter()
            .flat_map(|d| super::declared_names(d))
            .collect()
    }

    /// Names declared, bound or used so far.
    fn names(&self) -> Vec<String> {
        let mut names = self.declared();
        names.extend(self.session.bindings().map(|(n, _)| n.to_string()));
        names.extend(self.seen.iter().cloned());
        names
    }
}

/// Whether `text` leaves a bracket open, so that a terminal should read
/// another line before running it.
pub fn is_incomplete(text: &str) -> bool {
    let mut depth = 0i64;
    for c in text.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// Moves a command's diagnostic onto the line: the spans of the
/// expression, the variable, the declarations or the direction.
fn fix(d: Diagnostic, line: &str, args: &Args<'_>) -> Diagnostic {
    let piece = match d.origin {
        Origin::Wrt => args.wrt,
        Origin::Where => args.where_,
        Origin::Direction => args.direction,
        Origin::ClaimedDiff
        | Origin::ClaimedGrad
        | Origin::ClaimedHessian
        | Origin::ClaimedJacobian => args.claim.map(|(_, p)| p),
        Origin::Input | Origin::At | Origin::Let => Some(args.expr),
    };
    match piece {
        Some(p) => rebase(d, p, line),
        None => d,
    }
}

/// The form a statement asks for; `None` for `--raw`.
fn form_of(args: &Args<'_>) -> Option<Form> {
    if args.raw {
        None
    } else if args.factor {
        Some(Form::Factored)
    } else if args.expand {
        Some(Form::Expanded)
    } else {
        Some(Form::Default)
    }
}

/// The claimed-derivative option `tok` names, if any.
fn claim_kind(tok: &str) -> Option<Derivative> {
    match tok {
        "--diff" => Some(Derivative::Differential),
        "--grad" => Some(Derivative::Gradient),
        "--hessian" => Some(Derivative::Hessian),
        "--jacobian" => Some(Derivative::Jacobian),
        _ => None,
    }
}

fn output(text: String, stopped: &[String]) -> Reply {
    Reply::Output {
        text,
        failed: false,
        notes: stopped
            .iter()
            .map(|w| format!("simplification stopped early: {w}"))
            .collect(),
    }
}

fn help() -> Reply {
    let mut lines = vec![
        "statements:".to_string(),
        "  S: symmetric, X: n x m          declare names".to_string(),
        "  let M = A X X^T A^T             bind a name".to_string(),
        "  diff M wrt X_ij                 entrywise partial (wrt X: the differential)".to_string(),
        "  grad tr(A X) wrt X              gradient (also hessian, jacobian)".to_string(),
        "  check x^T A x wrt x             verify every derivative".to_string(),
        "  simplify (A B)^T + B^T A^T      simplify (a bare expression too)".to_string(),
        "  eval x^T x at x=[1,2]           numeric value".to_string(),
        "options after the variable: --factor, --raw, --direction H, where DECLS".to_string(),
        "meta commands:".to_string(),
    ];
    lines.extend(META.iter().map(|(m, what)| format!("  {m:<8} {what}")));
    output(lines.join("\n"), &[])
}

/// A diagnostic about `piece` (its spans relative to `piece.text`) moved
/// onto the whole line, with the CLI's flag names put in the REPL's words.
/// A diagnostic that points outside the piece (into declarations the
/// session appended) is left on its own text.
fn rebase(mut d: Diagnostic, piece: Piece<'_>, line: &str) -> Diagnostic {
    for (flag, word) in [
        ("`--wrt`", "`wrt`"),
        ("`--at`", "`at`"),
        ("`--where`", "`where`"),
        ("`--wrt ", "`wrt "),
    ] {
        d.message = d.message.replace(flag, word);
        d.help = d.help.map(|h| h.replace(flag, word));
    }
    let within =
        d.source.starts_with(piece.text) && d.labels.iter().all(|l| l.span.end <= piece.text.len());
    if !within || (d.labels.is_empty() && d.source.is_empty()) {
        return d;
    }
    d.labels = d
        .labels
        .into_iter()
        .map(|l| Label {
            span: Span::new(l.span.start + piece.at, l.span.end + piece.at),
            text: l.text,
        })
        .collect();
    d.source = line.to_string();
    d.origin = Origin::Input;
    d
}

/// Byte offset of `word` standing alone in `text` (not part of a name):
/// the last such place if `last`, else the first.
pub(crate) fn word_at(text: &str, word: &str, last: bool) -> Option<usize> {
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    let hits = text.match_indices(word).map(|(i, _)| i).filter(|&i| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    });
    if last {
        hits.last()
    } else {
        hits.into_iter().next()
    }
}

/// The next whitespace-separated token at or after `pos`.
fn next_token(line: &str, pos: usize) -> Option<(usize, usize)> {
    let rest = &line[pos..];
    let s = pos + rest.len() - rest.trim_start().len();
    if s >= line.len() {
        return None;
    }
    let e = line[s..]
        .find(char::is_whitespace)
        .map_or(line.len(), |i| s + i);
    Some((s, e))
}

/// `NAME = …` (a binding without `let`): the offset of `=`.
fn binding_at(line: &str) -> Option<usize> {
    let eq = line.find('=')?;
    let name = line[..eq].trim();
    let ok = !name.is_empty()
        && name.chars().next().is_some_and(char::is_alphabetic)
        && name.chars().all(char::is_alphanumeric)
        && !line[..eq].contains('[');
    ok.then_some(eq)
}

/// `A, B: matrix`: names, then a colon.
fn looks_declared(t: &str) -> bool {
    match t.split_once(':') {
        Some((names, _)) => names.split(',').all(|n| {
            let n = n.trim();
            !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '_')
        }),
        None => false,
    }
}
