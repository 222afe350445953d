//! The coverage table (`tests/cases/*.txt`, format in its README): every
//! identity is computed, pinned in a snapshot, verified by `check` (every
//! derivative kind of the expression, exactly or by central differences),
//! and compared numerically with the textbook answer.

use crate::common::with_settings;
use matcalc::numeric::check::check_equal;
use matcalc::{Answer, Claim, Derivative, Expr, Form, Session, VarKind};
use std::path::Path;

/// The table's files.
pub const FILES: [&str; 7] = [
    "traces.txt",
    "determinants.txt",
    "inverses.txt",
    "forms.txt",
    "elementwise.txt",
    "losses.txt",
    "ml.txt",
];

/// One line of the table.
pub struct Case {
    pub command: String,
    pub expr: String,
    pub wrt: String,
    pub decls: Option<String>,
    expected: Option<String>,
    pub line: usize,
}

/// The cases of one file.
pub fn cases(file: &str) -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("the table exists");
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(fields.len(), 6, "{file}:{}: six fields: {line}", n + 1);
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        out.push(Case {
            command: fields[0].to_string(),
            expr: fields[1].to_string(),
            wrt: fields[2].to_string(),
            decls: opt(fields[3]),
            expected: opt(fields[4]),
            line: n + 1,
        });
    }
    out
}

/// The derivative a case asks for.
pub fn answer(s: &Session, c: &Case) -> Result<Answer, matcalc::Diagnostic> {
    let (e, w, d, f) = (&c.expr, &c.wrt, c.decls.as_deref(), Some(Form::Default));
    match c.command.as_str() {
        "diff" => s.diff_with(e, w, None, d, f),
        "grad" => s.grad(e, w, d, f),
        "hessian" => s.hessian(e, w, d, f),
        "jacobian" => s.jacobian(e, w, d, f),
        other => panic!("unknown command {other}"),
    }
}

/// Whether `ours` equals `expected` at random points (exactly over Q when
/// both are rational); both are read in one expression so their shapes
/// unify.
fn agrees(ours: &str, expected: &str, decls: Option<&str>) -> Result<String, String> {
    let text = format!("({ours}) - ({expected})");
    let lowered = Session::new()
        .lower(&text, decls)
        .map_err(|d| format!("`{text}` does not read: {}", d.render()))?;
    let zero = Expr::zero(lowered.expr.shape().clone());
    let r =
        check_equal(&lowered.expr, &zero, &lowered.context, 4, 0xc0de).map_err(|e| e.message)?;
    if r.max_rel_error > 1e-9 {
        return Err(format!("differs by {:.1e}", r.max_rel_error));
    }
    Ok(if r.exact { "exact" } else { "f64" }.into())
}

/// The derivative a `check` verdict of this kind is claimed as (`None`
/// for the entrywise one, which a claim cannot be).
fn claim_kind(kind: &str) -> Option<Derivative> {
    Some(match kind {
        "differential" => Derivative::Differential,
        "gradient" => Derivative::Gradient,
        "hessian" => Derivative::Hessian,
        "jacobian" => Derivative::Jacobian,
        _ => return None,
    })
}

/// Runs one table file; returns how many cases it holds.
fn run(file: &str) -> usize {
    let session = Session::new();
    let mut pinned = String::new();
    let mut failures = Vec::new();
    let all = cases(file);
    for c in &all {
        let at = format!("{file}:{}", c.line);
        let a = match answer(&session, c) {
            Ok(a) => a,
            Err(d) => {
                failures.push(format!("{at}: {}", d.render()));
                continue;
            }
        };
        let decls = c
            .decls
            .as_ref()
            .map(|d| format!(" --where '{d}'"))
            .unwrap_or_default();
        pinned.push_str(&format!(
            "{} '{}' --wrt {}{decls}\n    {}\n",
            c.command, c.expr, c.wrt, a.text
        ));
        // `check` verifies every derivative kind; the one asked for must be
        // among them, with the same text.
        let var = c.wrt.split('_').next().expect("a name");
        match session.check(&c.expr, var, c.decls.as_deref()) {
            Ok(verdicts) => {
                for v in verdicts.iter().filter(|v| !v.passed()) {
                    failures.push(format!("{at}: check {}: {}", v.kind, v.summary()));
                }
                if !verdicts
                    .iter()
                    .any(|v| v.kind == a.kind.name() && v.text == a.text)
                {
                    failures.push(format!("{at}: check did not verify `{}`", a.text));
                }
                // Every answer matcalc prints is a claim `check` accepts:
                // read back with the expression's variables, its free
                // sizes (`I`, `ones`, commutation sizes) unified with the
                // derivative's shape.
                for v in verdicts
                    .iter()
                    .filter(|v| v.passed() && v.not_written.is_none())
                {
                    let Some(kind) = claim_kind(v.kind) else {
                        continue;
                    };
                    let claim = Claim {
                        kind,
                        text: v.text.clone(),
                    };
                    match session.check_claim(&c.expr, var, c.decls.as_deref(), &claim) {
                        Ok(w) if w.passed() => {}
                        Ok(w) => failures.push(format!(
                            "{at}: check --{} '{}': {}",
                            v.kind,
                            v.text,
                            w.summary()
                        )),
                        Err(d) => failures.push(format!(
                            "{at}: check --{} '{}': {}",
                            v.kind,
                            v.text,
                            d.render()
                        )),
                    }
                }
            }
            Err(d) => failures.push(format!("{at}: check failed: {}", d.render())),
        }
        // A differential's direction `dX` has the kind of `X`, which must be
        // declared when `X` itself does not appear.
        let kind = match a.context.vars[var].kind {
            VarKind::Matrix => "matrix",
            VarKind::Vector => "vector",
            VarKind::Scalar => "scalar",
        };
        let decls = match (&c.decls, a.kind) {
            (Some(d), Derivative::Differential) => format!("{d}, {var}: {kind}"),
            (None, Derivative::Differential) => format!("{var}: {kind}"),
            (d, _) => d.clone().unwrap_or_default(),
        };
        if let Some(expected) = &c.expected
            && let Err(e) = agrees(&a.text, expected, Some(&decls))
        {
            failures.push(format!("{at}: `{}` vs expected `{expected}`: {e}", a.text));
        }
        if a.kind == Derivative::Gradient || a.kind == Derivative::Hessian {
            assert!(a.function.is_scalar(), "{at}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    with_settings(|| insta::assert_snapshot!(file.trim_end_matches(".txt"), pinned));
    all.len()
}

#[test]
fn traces() {
    run("traces.txt");
}

#[test]
fn determinants() {
    run("determinants.txt");
}

#[test]
fn inverses_and_differentials() {
    run("inverses.txt");
}

#[test]
fn vector_and_matrix_forms() {
    run("forms.txt");
}

#[test]
fn elementwise() {
    run("elementwise.txt");
}

#[test]
fn losses() {
    run("losses.txt");
}

#[test]
fn ml_and_statistics() {
    run("ml.txt");
}

/// Most a default answer may be longer than the textbook's, in characters.
const WORST_RATIO: f64 = 1.5;

/// For every row with a textbook answer: the length of matcalc's default
/// answer divided by the textbook's. Prints every row and the
/// distribution; fails if any row's ratio exceeds [`WORST_RATIO`].
#[test]
fn default_answers_are_as_short_as_the_textbooks() {
    let session = Session::new();
    let mut rows: Vec<(f64, String)> = Vec::new();
    for file in FILES {
        for c in cases(file) {
            let Some(expected) = &c.expected else {
                continue;
            };
            let a = answer(&session, &c).expect("the table's cases all answer");
            let ratio = a.text.chars().count() as f64 / expected.chars().count() as f64;
            rows.push((
                ratio,
                format!("{file}:{}: `{}` vs `{expected}`", c.line, a.text),
            ));
        }
    }
    let mut ratios: Vec<f64> = rows.iter().map(|r| r.0).collect();
    ratios.sort_by(f64::total_cmp);
    for (r, what) in &rows {
        println!("{r:.2}  {what}");
    }
    let median = ratios[ratios.len() / 2];
    let worst = ratios[ratios.len() - 1];
    let above = |x: f64| ratios.iter().filter(|&&r| r > x).count();
    println!(
        "{} rows: median {median:.2}, worst {worst:.2}; above 1.0: {}, above 1.2: {}",
        ratios.len(),
        above(1.0),
        above(1.2)
    );
    let over: Vec<&String> = rows
        .iter()
        .filter(|(r, _)| *r > WORST_RATIO)
        .map(|(_, w)| w)
        .collect();
    assert!(
        over.is_empty(),
        "default answers over {WORST_RATIO}x the textbook's:\n{}",
        over.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_table_has_at_least_80_identities() {
    let n: usize = FILES.iter().map(|f| cases(f).len()).sum();
    assert!(n >= 80, "only {n} identities");
}
