//! The REPL: scripted sessions through the binary's stdin (snapshots), the
//! library's statement runner (bindings, declarations, diagnostics moved
//! onto the line, completion), and one real terminal (history recall with
//! Up, tab completion, `:latex`, Ctrl-C, Ctrl-D). Every derivative these
//! tests assert is also checked numerically, and equals the CLI's answer.

use crate::common::{
    checked, matcalc, run, run_with_stdin_status, spawn_with_stdin, with_settings,
};
use insta_cmd::assert_cmd_snapshot;
use matcalc::{Repl, Reply};

/// The REPL's stdout for a script.
fn repl(script: &str) -> String {
    run_with_stdin_status(matcalc().arg("repl"), script)
}

/// The text a statement prints, failing on an error.
#[track_caller]
fn said(r: &mut Repl, line: &str) -> String {
    match r.run(line) {
        Ok(Reply::Output { text, .. }) => text,
        Ok(other) => panic!("{line}: {other:?}"),
        Err(d) => panic!("{line}:\n{}", d.render()),
    }
}

/// The diagnostic a statement gives, failing if it succeeds.
#[track_caller]
fn refused(r: &mut Repl, line: &str) -> matcalc::Diagnostic {
    match r.run(line) {
        Err(d) => d,
        Ok(reply) => panic!("{line}: expected an error, got {reply:?}"),
    }
}

#[test]
fn must_show_sessions() {
    let out = repl("let M = A X X^T A^T\ndiff M wrt X_ij\n");
    assert_eq!(out, "A E_ij X^T A^T + A X E_ij^T A^T\n");
    checked("A X X^T A^T", "X", None);

    let out = repl("S: symmetric\ngrad x^T S x wrt x\n");
    assert_eq!(out, "2 S x\n");
    checked("x^T S x", "x", Some("S: symmetric"));

    let out = spawn_with_stdin(
        matcalc().arg("repl"),
        b"diff (A X wrt X\ngrad tr(A X) wrt X\n",
        "matcalc",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: expected `)`"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "A^T\n");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed statement fails the script"
    );
    checked("tr(A X)", "X", None);

    with_settings(|| {
        assert_cmd_snapshot!(
            "must_show_let",
            matcalc()
                .arg("repl")
                .pass_stdin("let M = A X X^T A^T\ndiff M wrt X_ij\n")
        );
        assert_cmd_snapshot!(
            "must_show_symmetric",
            matcalc()
                .arg("repl")
                .pass_stdin("S: symmetric\ngrad x^T S x wrt x\n")
        );
        assert_cmd_snapshot!(
            "must_show_error_then_answer",
            matcalc()
                .arg("repl")
                .pass_stdin("diff (A X wrt X\ngrad tr(A X) wrt X\n")
        );
    });
}

/// One derivative statement of the long session, with the CLI command it
/// must agree with and the declarations in force.
struct Derived {
    line: &'static str,
    cli: &'static [&'static str],
    expr: &'static str,
    wrt: &'static str,
    decls: Option<&'static str>,
}

const DERIVED: &[Derived] = &[
    Derived {
        line: "diff M wrt X_ij",
        cli: &["diff", "A X X^T A^T", "--wrt", "X_ij"],
        expr: "A X X^T A^T",
        wrt: "X",
        decls: None,
    },
    Derived {
        line: "diff X X^T wrt X --direction H",
        cli: &["diff", "X X^T", "--wrt", "X", "--direction", "H"],
        expr: "X X^T",
        wrt: "X",
        decls: None,
    },
    Derived {
        line: "grad tr(X^T B X) wrt X --factor",
        cli: &["grad", "tr(X^T B X)", "--wrt", "X", "--factor"],
        expr: "tr(X^T B X)",
        wrt: "X",
        decls: None,
    },
    Derived {
        line: "grad x^T S x wrt x",
        cli: &["grad", "x^T S x", "--wrt", "x", "--where", "S: symmetric"],
        expr: "x^T S x",
        wrt: "x",
        decls: Some("S: symmetric"),
    },
    Derived {
        line: "hessian f wrt x",
        cli: &[
            "hessian",
            "x^T S x + b^T x",
            "--wrt",
            "x",
            "--where",
            "S: symmetric",
        ],
        expr: "x^T S x + b^T x",
        wrt: "x",
        decls: Some("S: symmetric"),
    },
    Derived {
        line: "jacobian C Y D wrt Y where C: 3 x 4, Y: 4 x 5",
        cli: &["jacobian", "C Y D where C: 3 x 4, Y: 4 x 5", "--wrt", "Y"],
        expr: "C Y D",
        wrt: "Y",
        decls: Some("C: 3 x 4, Y: 4 x 5"),
    },
    Derived {
        line: "grad logdet(W) + tr(W^-1 G) wrt W",
        cli: &["grad", "logdet(W) + tr(W^-1 G)", "--wrt", "W"],
        expr: "logdet(W) + tr(W^-1 G)",
        wrt: "W",
        decls: None,
    },
];

/// A session that uses every kind of statement, in text, LaTeX and NumPy,
/// with errors in between that do not stop it.
const SESSION: &str = "\
# a comment, then a blank line

let M = A X X^T A^T
diff M wrt X_ij
diff X X^T wrt X --direction H
grad tr(X^T B X) wrt X --factor
S: symmetric
grad x^T S x wrt x
f = x^T S x + b^T x
hessian f wrt x
jacobian C Y D wrt Y where C: 3 x 4, Y: 4 x 5
grad logdet(W) + tr(W^-1 G) wrt W
simplify (A B)^T + B^T A^T
(A B)^T + B^T A^T
eval x^T x at x=[1,2]
check x^T B x wrt x
:vars
:latex
grad tr(A X) wrt X
simplify (A B)^T
:numpy
grad tr(A X) wrt X
:text
:steps
diff X X^T wrt X
:steps off
grd tr(X) wrt X
diff M wrt M
let I = A
A X where A: 3 x 4, X: 5 x 5
:latx
:clear
:vars
:quit
grad tr(A X) wrt X
";

#[test]
fn scripted_session() {
    with_settings(|| {
        assert_cmd_snapshot!(
            "scripted_session",
            matcalc().arg("repl").pass_stdin(SESSION)
        );
    });
    // Each derivative the session prints is the CLI's answer, and right.
    let mut r = Repl::new();
    for line in SESSION.lines().take_while(|l| *l != ":vars") {
        let got = r.run(line);
        if let Some(d) = DERIVED.iter().find(|d| d.line == line) {
            let Ok(Reply::Output { text, .. }) = got else {
                panic!("{line}: {got:?}");
            };
            assert_eq!(text, run(d.cli), "{line}");
            checked(d.expr, d.wrt, d.decls);
        }
    }
}

#[test]
fn bindings_build_on_earlier_ones() {
    let mut r = Repl::new();
    assert_eq!(r.run("let M = A X"), Ok(Reply::Silent));
    assert_eq!(r.run("let M = M B"), Ok(Reply::Silent));
    assert_eq!(said(&mut r, "diff M wrt X"), "A dX B");
    checked("A X B", "X", None);
    // A binding is an expression in parentheses, not pasted text.
    r.run("let s = x + y").unwrap();
    assert_eq!(said(&mut r, "grad s^T s wrt x"), "2 (x + y)");
    checked("(x + y)^T (x + y)", "x", None);
    assert_eq!(
        said(&mut r, ":vars"),
        "let M = M B\nlet s = x + y\nused: A, X, B, x, y"
    );
}

/// A chain of bindings that doubles (`let p1 = p0 + p0`, …) is refused
/// at the first binding past the size limit, before anything is copied
/// (it hung: each binding copied the tree of the one before, twice), and
/// so is a command whose bound names would expand past it.
#[test]
fn doubling_bindings_are_refused_before_they_are_copied() {
    let mut r = Repl::new();
    r.run("let p0 = x^T x").unwrap();
    let mut refused_at = None;
    for i in 1..=40 {
        let line = format!("let p{i} = p{} + p{}", i - 1, i - 1);
        if let Err(d) = r.run(&line) {
            assert!(
                d.message.contains("more than 100000 nodes"),
                "{}",
                d.render()
            );
            refused_at = Some(i);
            break;
        }
    }
    assert_eq!(refused_at, Some(14));
    assert_eq!(said(&mut r, "grad p10 wrt x"), "2048 x");
    checked("(x^T x) + (x^T x)", "x", None);
    let d = refused(&mut r, "grad p13 + p13 + p13 + p13 wrt x");
    assert!(d.message.contains("past 100000 nodes"), "{}", d.render());
}

/// An answer with names for its pieces (`… where p = softmax(W x)`)
/// pastes back as a claim: that `where` belongs to the claim, while a
/// `where` of declarations after a claim is still the command's.
#[test]
fn a_claim_keeps_its_own_where() {
    let mut r = Repl::new();
    let hessian = said(&mut r, "hessian logsumexp(W x) - y^T W x wrt x");
    assert!(hessian.contains(" where p = softmax(W x)"), "{hessian}");
    let verdict = said(
        &mut r,
        &format!("check logsumexp(W x) - y^T W x wrt x --hessian {hessian}"),
    );
    assert!(verdict.starts_with("hessian: "), "{verdict}");
    checked("logsumexp(W x) - y^T W x", "x", None);
    let verdict = said(
        &mut r,
        "check x^T A x wrt x --grad A x + A^T x where A: 3 x 3",
    );
    assert!(verdict.contains("exact"), "{verdict}");
    checked("x^T A x", "x", None);
}

#[test]
fn declarations_are_redeclared_and_overridden_inline() {
    let mut r = Repl::new();
    r.run("X: 3 x 4").unwrap();
    let d = refused(&mut r, "A X where A: 5 x 5");
    assert!(
        d.message.contains("5×5") && d.message.contains("3×4"),
        "{d}"
    );
    // The later declaration wins, and an inline one overrides the session's.
    r.run("X: 5 x 2").unwrap();
    assert_eq!(said(&mut r, "A X where A: 5 x 5"), "A X");
    assert_eq!(said(&mut r, "A X where A: 4 x 3, X: 3 x 1"), "A X");
    assert_eq!(said(&mut r, ":vars"), "X: 5 x 2\nused: A");
    // A declaration with an error is reported on the line.
    let d = refused(&mut r, "S: symetric");
    assert_eq!(d.source, "S: symetric", "{d}");
}

#[test]
fn diagnostics_point_into_the_line() {
    let mut r = Repl::new();
    let d = refused(&mut r, "grad tr(A X wrt X");
    assert_eq!(d.source, "grad tr(A X wrt X");
    assert!(d.message.contains("`)`"), "{d}");
    assert_eq!(d.labels[0].span.start, "grad tr(A X ".len(), "{d}");

    let d = refused(&mut r, "grad x^T A x wrt y");
    assert_eq!(d.source, "grad x^T A x wrt y");
    assert_eq!(d.labels[0].span.start, "grad x^T A x wrt ".len(), "{d}");
    assert!(!d.render().contains("--wrt"), "{d}");

    let d = refused(&mut r, "eval x^T x at x=[1,2,]");
    assert_eq!(d.source, "eval x^T x at x=[1,2,]", "{d}");

    let d = refused(&mut r, "grad tr(X)");
    assert!(d.message.contains("wrt"), "{d}");
    let d = refused(&mut r, "grad tr(X) wrt X --fast");
    assert_eq!(d.labels[0].span.start, "grad tr(X) wrt X ".len(), "{d}");
    let d = refused(&mut r, "grad tr(X) wrt X --direction H");
    assert_eq!(
        d.labels[0].span.start,
        "grad tr(X) wrt X --direction ".len(),
        "{d}"
    );
    r.run(":steps on").unwrap();
    let d = refused(&mut r, "grad tr(X) wrt X --direction H");
    assert!(d.message.contains("`diff` only"), "{d}");
    let d = refused(&mut r, ":steps maybe");
    assert!(d.message.contains("no argument"), "{d}");
}

#[test]
fn completion_offers_commands_names_and_functions() {
    let mut r = Repl::new();
    assert_eq!(r.complete("gr", 2), (0, vec!["grad ".to_string()]));
    assert_eq!(r.complete(":la", 3), (0, vec![":latex".to_string()]));
    assert_eq!(
        r.complete("grad lo", 7),
        (
            5,
            vec![
                "log(".to_string(),
                "logdet(".to_string(),
                "logm(".to_string(),
                "logsumexp(".to_string()
            ]
        )
    );
    r.run("Sigma: spd").unwrap();
    r.run("let Loss = tr(Sigma X)").unwrap();
    r.run("grad tr(Xtrain W) wrt W").unwrap();
    assert_eq!(r.complete("grad Si", 7).1, vec!["Sigma".to_string()]);
    assert_eq!(r.complete("diff Lo", 7).1, vec!["Loss".to_string()]);
    assert_eq!(
        r.complete("grad tr(Xt", 10),
        (8, vec!["Xtrain".to_string()])
    );
    assert_eq!(r.complete("grad tr(W) wr", 13).1, vec!["wrt ".to_string()]);
}

#[test]
fn open_brackets_ask_for_more_lines() {
    assert!(matcalc::is_incomplete("grad tr(A"));
    assert!(matcalc::is_incomplete("eval x at x=[1,"));
    assert!(!matcalc::is_incomplete("grad tr(A X) wrt X"));
    assert!(!matcalc::is_incomplete("diff A X) wrt X"));
    // The terminal joins the lines; the statement reads across them.
    let mut r = Repl::new();
    assert_eq!(said(&mut r, "grad tr(A\n X) wrt X"), "A^T");
    checked("tr(A X)", "X", None);
}

#[test]
fn piped_sessions_exit_by_outcome() {
    let ok = spawn_with_stdin(matcalc().arg("repl"), b"", "matcalc");
    assert_eq!(ok.status.code(), Some(0));
    let out = repl(":quit\ngrad tr(A X) wrt X\n");
    assert_eq!(out, "", ":quit stops reading");
    // A line that is not UTF-8 is an error, and the session goes on.
    let out = spawn_with_stdin(
        matcalc().arg("repl"),
        b"grad tr(A \xff X) wrt X\ngrad tr(A X) wrt X\n",
        "matcalc",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "A^T\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("UTF-8"));
    assert_eq!(out.status.code(), Some(1));
}

/// Types keys into the terminal (rexpect buffers until a flush).
fn type_keys(p: &mut rexpect::session::PtySession, keys: &str) {
    p.send(keys).expect("type");
    p.flush().expect("flush");
}

/// A real terminal: the banner, tab completion, Up recalling the last
/// command, `:latex`, a statement spread over two lines while a bracket is
/// open, Ctrl-C cancelling a line, Ctrl-D leaving with exit code 0, and the
/// history written to the file `MATCALC_HISTORY` names. Bare `matcalc` on a
/// terminal is the REPL.
#[test]
fn terminal_session() {
    use rexpect::process::WaitStatus;
    use rexpect::reader::Options;
    let dir = std::env::temp_dir().join(format!("matcalc-repl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let history = dir.join("history");
    let _ = std::fs::remove_file(&history);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_matcalc"));
    cmd.env("MATCALC_HISTORY", &history)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
    let options = Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    let mut p = rexpect::spawn_with_options(cmd, options).expect("spawn in a pty");
    p.exp_string(":help for commands").expect("banner");
    p.exp_string("> ").expect("prompt");

    // Tab completes `gr` to `grad `: without it the line would not parse.
    type_keys(&mut p, "gr\t");
    type_keys(&mut p, "tr(B Y) wrt Y\r");
    p.exp_string("B^T").expect("completed command runs");

    p.send_line("grad tr(A X) wrt X").unwrap();
    p.exp_string("A^T").expect("first answer");
    // Up recalls the last command; Enter runs it again.
    type_keys(&mut p, "\x1b[A");
    type_keys(&mut p, "\r");
    p.exp_string("A^T").expect("recalled answer");

    p.send_line(":latex").unwrap();
    p.exp_string("output: LaTeX").unwrap();
    // A bracket left open asks for another line.
    type_keys(&mut p, "grad tr(A\r");
    type_keys(&mut p, "X) wrt X\r");
    p.exp_string("\\frac{\\partial f}{\\partial X} = A^\\top")
        .expect("LaTeX answer");

    // Ctrl-C drops the line being typed; the session goes on.
    type_keys(&mut p, "diff nonsense((");
    p.exp_string("nonsense((").unwrap();
    p.send_control('c').unwrap();
    p.exp_string("> ").expect("a fresh prompt");
    p.send_line(":text").unwrap();
    p.exp_string("output: text").unwrap();
    p.send_control('d').unwrap();
    p.exp_eof().expect("Ctrl-D leaves");
    let status = p.process().wait().expect("exit status");
    assert!(matches!(status, WaitStatus::Exited(_, 0)), "{status:?}");

    checked("tr(A X)", "X", None);
    checked("tr(B Y)", "Y", None);
    let saved = std::fs::read_to_string(&history).expect("history written");
    assert!(saved.contains("grad tr(A X) wrt X"), "{saved}");
    assert!(saved.contains(":latex"), "{saved}");
    assert!(
        !saved.contains("nonsense"),
        "a cancelled line is not history: {saved}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn time_notes_each_result_while_on() {
    let mut r = Repl::new();
    let notes = |r: &mut Repl, line: &str| match r.run(line) {
        Ok(Reply::Output { notes, .. }) => notes,
        other => panic!("{line}: {other:?}"),
    };
    assert!(notes(&mut r, "grad tr(A X B) wrt X").is_empty());
    assert!(matches!(r.run(":time on"), Ok(Reply::Info(_))));
    assert!(r.timed());
    let n = notes(&mut r, "grad tr(A X B) wrt X");
    let [only] = n.as_slice() else {
        panic!("{n:?}")
    };
    let ms: f64 = only
        .strip_prefix("time: ")
        .and_then(|t| t.strip_suffix(" ms"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{only}"));
    assert!(ms >= 0.0, "{only}");
    // meta commands and declarations are not timed; errors carry no notes
    assert!(matches!(r.run("X: 3 x 4"), Ok(Reply::Silent)));
    assert!(r.run("grad tr(A X wrt X").is_err());
    r.run(":time").unwrap();
    assert!(!r.timed());
    assert!(notes(&mut r, "grad tr(A X B) wrt X").is_empty());
}
