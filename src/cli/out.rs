//! Writing to the terminal without panicking: `println!` panics when stdout
//! is a pipe whose reader has gone (`matcalc … | head`) or a full disk.
//!
//! A reader that went away ends the process quietly with exit code 0, as it
//! asked for no more; any other failure to write is reported on stderr with
//! exit code 1. Failures to write to stderr are ignored: there is nowhere
//! left to report them.

use std::io::{ErrorKind, Write};

/// Writes `text` and a newline to stdout, and flushes it.
pub fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{text}").and_then(|()| out.flush());
    if let Err(e) = written {
        if e.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        err_line(&format!("error: cannot write the output: {e}"));
        std::process::exit(1);
    }
}

/// Writes `text` and a newline to stderr.
pub fn err_line(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Writes `text` to stderr as it is.
pub fn err(text: &str) {
    let _ = write!(std::io::stderr().lock(), "{text}");
}
