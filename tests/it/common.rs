//! Shared test helpers: snapshot settings, the binary under test, and the
//! numeric verification every asserted derivative goes through.

use matcalc::numeric::check::{Direction, check_differential, check_exact};
use matcalc::{Answer, Session, Wrt};
use std::process::Command;

/// Largest relative error accepted between central differences and the
/// symbolic derivative.
pub const TOLERANCE: f64 = 1e-6;

/// Insta settings: every snapshot lives in the top-level `snapshots/`.
pub fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
    s.set_prepend_module_to_snapshot(true);
    s
}

/// Runs `body` with the project's snapshot settings.
pub fn with_settings<R>(body: impl FnOnce() -> R) -> R {
    settings().bind(body)
}

/// The `matcalc` binary, without colour.
pub fn matcalc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_matcalc"));
    c.env("NO_COLOR", "1");
    c
}

/// `check` passes on every derivative kind of `expr`.
#[track_caller]
pub fn checked(expr: &str, wrt: &str, decls: Option<&str>) {
    let verdicts = Session::new()
        .check(expr, wrt, decls)
        .unwrap_or_else(|d| panic!("{expr}: {}", d.render()));
    for v in &verdicts {
        assert!(v.passed(), "{expr}: {} {}: {}", v.kind, v.text, v.summary());
    }
    let kinds: Vec<&str> = verdicts.iter().map(|v| v.kind).collect();
    assert!(kinds.contains(&"jacobian"), "{kinds:?}");
}

/// Runs the binary and returns stdout, asserting exit code 0.
#[track_caller]
pub fn run(args: &[&str]) -> String {
    let out = matcalc().args(args).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim_end()
        .to_string()
}

/// Differentiates and verifies the result by central differences at five
/// random points of distinct sizes; panics with the details otherwise.
#[track_caller]
pub fn verified_diff(expr: &str, wrt: &str, direction: Option<&str>) -> Answer {
    let answer = Session::new()
        .diff(expr, wrt, direction, None)
        .unwrap_or_else(|d| panic!("diff {expr:?} --wrt {wrt} failed:\n{}", d.render()));
    verify(&answer, expr);
    answer
}

/// Checks an answer: exactly over Q with dual numbers where the expression
/// is rational, and by central differences as well (always).
#[track_caller]
pub fn verify(answer: &Answer, what: &str) {
    let (var, dir) = match (&answer.wrt, &answer.direction) {
        (Wrt::Var(v), Some(d)) => (v.clone(), Direction::Var(d.clone())),
        (Wrt::Entry { var, .. }, _) => (var.clone(), Direction::Unit),
        (Wrt::Var(v), None) => panic!("differential of {v} without a direction"),
    };
    let exact = check_exact(
        &answer.function,
        &answer.result,
        &answer.context,
        &var,
        &dir,
        3,
        0xe4ac7,
    )
    .unwrap_or_else(|e| {
        panic!(
            "{what}: d/d{var} = {} fails the exact check: {e}",
            answer.text
        )
    });
    if let Some(r) = exact {
        assert!(r.exact && r.points == 3);
    }
    let report = check_differential(
        &answer.function,
        &answer.result,
        &answer.context,
        &var,
        &dir,
        5,
        0x5eed,
    )
    .unwrap_or_else(|e| panic!("{what}: could not check {}: {e}", answer.text));
    assert!(
        report.max_rel_error < TOLERANCE,
        "{what}: d/d{var} = {} is wrong: relative error {:e} (measured {:e} at {:?})",
        answer.text,
        report.max_rel_error,
        report.measured_rel_error,
        report.worst_point
    );
}

/// Runs a Python script (stdin) and returns its stdout; panics with its
/// stderr when it fails. `.ci/run` installs NumPy.
#[track_caller]
pub fn python(script: &str) -> String {
    run_with_stdin(Command::new("python3").arg("-"), script, "python3")
}

/// Runs a command with `input` (any bytes) on stdin and waits for it.
pub fn spawn_with_stdin(cmd: &mut Command, input: &[u8], what: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what} (see .ci/run for what to install): {e}"));
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("writer").expect("write stdin");
    out
}

/// Runs a command with `input` on stdin; panics unless it exits 0.
#[track_caller]
pub fn run_with_stdin(cmd: &mut Command, input: &str, what: &str) -> String {
    let out = spawn_with_stdin(cmd, input.as_bytes(), what);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Renders every text with KaTeX in strict mode (`tests/katex/render.js`);
/// panics with KaTeX's messages if any fails. `.ci/run` installs KaTeX.
#[track_caller]
pub fn katex(texts: &[String]) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/katex/render.js");
    let input = texts.join("\0");
    let out = run_with_stdin(Command::new("node").arg(script), &input, "node (KaTeX)");
    assert_eq!(out.trim(), "ok", "{out}");
}

/// Runs a command with `input` on stdin; returns its stdout whatever its
/// exit status.
pub fn run_with_stdin_status(cmd: &mut Command, input: &str) -> String {
    let out = spawn_with_stdin(cmd, input.as_bytes(), "the command");
    String::from_utf8_lossy(&out.stdout).to_string()
}
