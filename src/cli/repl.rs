//! The REPL's terminal shell: rustyline (line editing, history in the
//! user's data directory, tab completion, more lines while a bracket is
//! open) around the library's [`matcalc::Repl`], which runs statements.
//!
//! On a terminal every statement runs on a worker thread against a copy of
//! the session, so that Ctrl-C abandons a long command and leaves the
//! session as it was before it. With stdin piped there are no prompts and
//! no colour: one result per statement on stdout, diagnostics and notes on
//! stderr, and the exit code is 1 if any statement failed.

use super::out;
use matcalc::{Diagnostic, Repl, Reply};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{CompletionType, Config, Editor, Helper};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Set by Ctrl-C while a statement runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Runs the REPL on stdin: interactive on a terminal, scripted otherwise.
pub fn run(stack_bytes: usize) -> ExitCode {
    if std::io::stdin().is_terminal() {
        interactive(stack_bytes)
    } else {
        scripted()
    }
}

/// Prints a reply; returns false when the session should end.
fn show(reply: Result<Reply, Diagnostic>, terminal: bool, json: bool) -> (bool, bool) {
    match reply {
        Ok(Reply::Silent) => (true, true),
        Ok(Reply::Output {
            text,
            notes,
            failed,
        }) => {
            for n in notes {
                out::err_line(&format!("note: {n}"));
            }
            out::line(&text);
            (true, !failed)
        }
        Ok(Reply::Info(text)) => {
            if terminal {
                out::line(&text);
            }
            (true, true)
        }
        Ok(Reply::Quit) => (false, true),
        Err(d) if json => {
            out::line(&matcalc::render_error(&d, matcalc::Format::Json));
            (true, false)
        }
        Err(d) => {
            out::err_line(&d.render());
            (true, false)
        }
    }
}

/// Statements from a pipe or a file, one per line.
fn scripted() -> ExitCode {
    let mut repl = Repl::new();
    let mut ok = true;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match lines.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                out::err_line(&format!("error: cannot read the input: {e}"));
                return ExitCode::from(1);
            }
        }
        let reply = match std::str::from_utf8(&buf) {
            Ok(line) => repl.run(line.trim_end_matches(['\n', '\r'])),
            Err(e) => Err(Diagnostic::new(
                format!(
                    "the line is not valid UTF-8 (a stray byte at {})",
                    e.valid_up_to()
                ),
                "",
            )),
        };
        let json = repl.mode() == matcalc::Mode::Json;
        let (go_on, fine) = show(reply, false, json);
        ok &= fine;
        let _ = std::io::stdout().flush();
        if !go_on {
            break;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The editor's helper: completion from the session, and more lines while
/// a bracket is open.
struct Assist {
    repl: Repl,
}

impl Completer for Assist {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(self.repl.complete(line, pos))
    }
}

impl Hinter for Assist {
    type Hint = String;
}

impl Highlighter for Assist {}

impl Validator for Assist {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        let input = ctx.input();
        // An empty line after an open bracket submits anyway, so that a
        // missing `)` is reported rather than waited for.
        if matcalc::is_incomplete(input) && !input.ends_with('\n') {
            Ok(ValidationResult::Incomplete)
        } else {
            Ok(ValidationResult::Valid(None))
        }
    }
}

impl Helper for Assist {}

/// Where history is kept: `$MATCALC_HISTORY` if set (empty: nowhere),
/// else `matcalc/history` in the user's data directory.
fn history_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MATCALC_HISTORY") {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let data = if cfg!(windows) {
        env("APPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        env("XDG_DATA_HOME").or_else(|| env("HOME").map(|h| h.join(".local/share")))
    };
    Some(data?.join("matcalc").join("history"))
}

fn interactive(stack_bytes: usize) -> ExitCode {
    let config = Config::builder()
        .max_history_size(1000)
        .and_then(|b| b.history_ignore_dups(true))
        .map(|b| b.completion_type(CompletionType::List).build())
        .unwrap_or_default();
    let mut rl: Editor<Assist, FileHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            out::err_line(&format!("error: cannot start the line editor: {e}"));
            return ExitCode::from(1);
        }
    };
    let mut repl = Repl::new();
    rl.set_helper(Some(Assist { repl: repl.clone() }));
    let history = history_path();
    if let Some(h) = &history {
        if let Some(dir) = h.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = rl.load_history(h);
    }
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
    out::line(&format!(
        "matcalc {} — :help for commands, Ctrl-D to leave",
        env!("CARGO_PKG_VERSION")
    ));
    loop {
        match rl.readline("> ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                    if let Some(h) = &history {
                        let _ = rl.save_history(h);
                    }
                }
                let Some((next, reply)) = run_cancellable(&repl, line, stack_bytes) else {
                    out::line("interrupted");
                    continue;
                };
                repl = next;
                if let Some(helper) = rl.helper_mut() {
                    helper.repl = repl.clone();
                }
                if !show(reply, true, repl.mode() == matcalc::Mode::Json).0 {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                out::err_line(&format!("error: {e}"));
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

/// Runs a statement on a worker thread against a copy of the session;
/// `None` if Ctrl-C came first (the worker's result is then dropped).
fn run_cancellable(
    repl: &Repl,
    line: String,
    stack_bytes: usize,
) -> Option<(Repl, Result<Reply, Diagnostic>)> {
    INTERRUPTED.store(false, Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    let mut copy = repl.clone();
    let spawned = std::thread::Builder::new()
        .stack_size(stack_bytes)
        .spawn(move || {
            let reply = copy.run(&line);
            let _ = tx.send((copy, reply));
        });
    if spawned.is_err() {
        return Some((
            repl.clone(),
            Err(Diagnostic::new("cannot start a worker thread", "")),
        ));
    }
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(done) => return Some(done),
            Err(mpsc::RecvTimeoutError::Timeout) if INTERRUPTED.load(Ordering::SeqCst) => {
                return None;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Some((
                    repl.clone(),
                    Err(Diagnostic::new(
                        "internal error: the statement stopped without a result",
                        "",
                    )),
                ));
            }
        }
    }
}
