//! The `matcalc` binary: a thin clap shell over the library's `Session`.
//!
//! Exit codes: 0 success, 1 a user or math error (printed with a caret),
//! 2 a usage error (clap's own message).

use clap::{CommandFactory, Parser, Subcommand};
use std::io::IsTerminal;
use std::process::ExitCode;

mod cli {
    pub mod out;
    pub mod repl;
}
use cli::out;

/// mimalloc rather than the system allocator: see `bench/NOTES.md`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Symbolic matrix calculus: derivatives in Matrix Cookbook notation, checked.
#[derive(Parser, Debug)]
#[command(name = "matcalc", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The differential dF[dX] (`--wrt X`), or the entrywise partial (`--wrt X_ij`).
    Diff {
        #[command(flatten)]
        args: DerivArgs,
        /// Name of the direction (default `dX`).
        #[arg(long)]
        direction: Option<String>,
    },
    /// The gradient of a scalar expression (shape of X, df = tr(G^T dX)).
    Grad {
        #[command(flatten)]
        args: DerivArgs,
    },
    /// The Hessian of a scalar expression (for a matrix, w.r.t. vec(X)).
    Hessian {
        #[command(flatten)]
        args: DerivArgs,
    },
    /// The Jacobian d vec(F) / d vec(X)^T.
    Jacobian {
        #[command(flatten)]
        args: DerivArgs,
    },
    /// An interactive session (also: `matcalc` with no arguments on a
    /// terminal). With stdin piped, one statement per line, no prompts.
    Repl,
    /// The simplified form: the expanded sum of products with like terms
    /// collected, or with `--factor` the smallest factored form.
    Simplify {
        /// The expression.
        expr: String,
        /// Declarations, as in an inline `where` clause.
        #[arg(long = "where", value_name = "DECLS")]
        where_: Option<String>,
        /// The smallest factored form instead of the expanded sum of products.
        #[arg(long)]
        factor: bool,
    },
    /// The numeric value of EXPR at given values.
    Eval {
        /// The expression.
        expr: String,
        /// Values: 'X=[[1,2],[3,4]], x=[1,2], alpha=2.5' (and `i=2` for E_ij).
        #[arg(long, value_name = "VALUES")]
        at: String,
        /// Declarations, as in an inline `where` clause.
        #[arg(long = "where", value_name = "DECLS")]
        where_: Option<String>,
        /// `text` (default) or `json`.
        #[arg(long, value_enum, default_value = "text")]
        format: ValueFormat,
    },
    /// Verify every derivative of EXPR: exactly over the rationals where it
    /// is rational, by central differences otherwise. Exits 1 on a mismatch.
    Check {
        /// The expression.
        expr: String,
        /// The variable.
        #[arg(long)]
        wrt: String,
        /// Declarations, as in an inline `where` clause.
        #[arg(long = "where", value_name = "DECLS")]
        where_: Option<String>,
    },
}

/// What every derivative command takes.
#[derive(clap::Args, Debug)]
struct DerivArgs {
    /// The expression, e.g. 'A X X^T A^T'.
    expr: String,
    /// The variable (`X`), or for `diff` one of its entries (`X_ij`).
    #[arg(long)]
    wrt: String,
    /// Declarations, as in an inline `where` clause: 'S: symmetric, X: n x m'.
    #[arg(long = "where", value_name = "DECLS")]
    where_: Option<String>,
    /// The smallest factored form instead of the expanded sum of products.
    #[arg(long, conflicts_with = "raw")]
    factor: bool,
    /// The unsimplified result.
    #[arg(long)]
    raw: bool,
    /// The output format.
    #[arg(long, value_enum, default_value = "text")]
    format: DerivFormat,
    /// With `--format latex`: the right-hand side alone.
    #[arg(long)]
    rhs: bool,
    /// The derivation, line by line (as text, or with `--format latex` as
    /// an `align*` block).
    #[arg(long, conflicts_with_all = ["raw", "rhs"])]
    steps: bool,
}

/// Output formats of the derivative commands.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum DerivFormat {
    /// Parseable text in Matrix Cookbook notation.
    Text,
    /// A LaTeX equation, e.g. `\frac{\partial M}{\partial X_{ij}} = …`.
    Latex,
    /// A NumPy function named after the command, e.g. `def gradient(A, X):`.
    Numpy,
    /// One JSON object: input, variable, kind, text, LaTeX, shape.
    Json,
    /// The component form, e.g. `∂M_kl/∂X_ij = A_ki (A X)_lj + …`.
    Index,
}

/// Output formats of `eval`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ValueFormat {
    /// A readable number or matrix.
    Text,
    /// `{"value": …}`.
    Json,
}

/// Stack for the worker thread: the passes recurse once per nesting level,
/// and the parser admits up to `MAX_NESTING` levels of brackets.
const STACK_BYTES: usize = 256 << 20;

fn main() -> ExitCode {
    std::thread::Builder::new()
        .stack_size(STACK_BYTES)
        .spawn(run)
        .expect("spawn the worker thread")
        .join()
        .unwrap_or(ExitCode::from(101))
}

fn form(factor: bool) -> matcalc::Form {
    if factor {
        matcalc::Form::Factored
    } else {
        matcalc::Form::Expanded
    }
}

/// The simplifier never fails; when it stops at a limit, the result is its
/// best so far and stderr says why.
fn warn_stopped(stopped: &[String]) {
    for why in stopped {
        out::err_line(&format!("note: simplification stopped early: {why}"));
    }
}

/// An answer in the requested format, after any simplifier notes.
fn show(a: &matcalc::Answer, args: &DerivArgs) -> Result<String, matcalc::Diagnostic> {
    warn_stopped(&a.stopped);
    Ok(match args.format {
        DerivFormat::Text => a.text.clone(),
        DerivFormat::Numpy => matcalc::to_numpy(a)?.trim_end().to_string(),
        DerivFormat::Latex if args.rhs => matcalc::to_latex_rhs(a),
        DerivFormat::Latex => matcalc::to_latex(a),
        DerivFormat::Json => matcalc::to_json(a, &args.expr),
        DerivFormat::Index => matcalc::to_index(a),
    })
}

/// The derivation of a derivative command, in the requested format.
fn steps(
    session: &matcalc::Session,
    kind: matcalc::Derivative,
    args: &DerivArgs,
    direction: Option<&str>,
) -> Result<String, matcalc::Diagnostic> {
    let d = session.derive(
        kind,
        &args.expr,
        &args.wrt,
        direction,
        args.where_.as_deref(),
        form(args.factor),
    )?;
    warn_stopped(&d.answer.stopped);
    match args.format {
        DerivFormat::Text => Ok(d.to_text()),
        DerivFormat::Latex => Ok(d.to_latex()),
        other => Err(matcalc::Diagnostic::new(
            format!(
                "`--steps` prints text or LaTeX, not {}",
                format!("{other:?}").to_lowercase()
            ),
            "",
        )
        .help("drop `--format`, or write `--format latex`")),
    }
}

fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let Some(command) = &cli.command else {
        if std::io::stdin().is_terminal() {
            return cli::repl::run(STACK_BYTES);
        }
        out::err(&Cli::command().render_help().to_string());
        out::err_line(
            "\n(no command given and stdin is not a terminal: for a script, run `matcalc repl`)",
        );
        return ExitCode::from(2);
    };
    let session = matcalc::Session::new();
    let result = match command {
        Command::Repl => return cli::repl::run(STACK_BYTES),
        Command::Diff { args, direction } if args.steps => {
            let kind = if args.wrt.contains('_') {
                matcalc::Derivative::Entrywise
            } else {
                matcalc::Derivative::Differential
            };
            steps(&session, kind, args, direction.as_deref())
        }
        Command::Grad { args } | Command::Hessian { args } | Command::Jacobian { args }
            if args.steps =>
        {
            let kind = match command {
                Command::Grad { .. } => matcalc::Derivative::Gradient,
                Command::Hessian { .. } => matcalc::Derivative::Hessian,
                _ => matcalc::Derivative::Jacobian,
            };
            steps(&session, kind, args, None)
        }
        Command::Diff { args, direction } => {
            let form = (!args.raw).then_some(form(args.factor));
            let w = args.where_.as_deref();
            let answer = session.diff_with(&args.expr, &args.wrt, direction.as_deref(), w, form);
            answer.and_then(|a| show(&a, args))
        }
        Command::Grad { args } | Command::Hessian { args } | Command::Jacobian { args } => {
            let form = (!args.raw).then_some(form(args.factor));
            let w = args.where_.as_deref();
            let (e, x) = (&args.expr, &args.wrt);
            let answer = match command {
                Command::Grad { .. } => session.grad(e, x, w, form),
                Command::Hessian { .. } => session.hessian(e, x, w, form),
                _ => session.jacobian(e, x, w, form),
            };
            answer.and_then(|a| show(&a, args))
        }
        Command::Simplify {
            expr,
            where_,
            factor,
        } => session
            .simplify(expr, where_.as_deref(), form(*factor))
            .map(|s| {
                warn_stopped(&s.stopped);
                matcalc::to_text(&s.expr)
            }),
        Command::Eval {
            expr,
            at,
            where_,
            format,
        } => session
            .eval(expr, at, where_.as_deref())
            .map(|m| match format {
                ValueFormat::Text => matcalc::numeric::at::to_text(&m),
                ValueFormat::Json => matcalc::numeric::at::to_json(&m),
            }),
        Command::Check { expr, wrt, where_ } => match session.check(expr, wrt, where_.as_deref()) {
            Ok(verdicts) => {
                let ok = verdicts.iter().all(|v| v.passed());
                for v in &verdicts {
                    if v.text.is_empty() {
                        out::line(&format!("{}:\n  {}", v.kind, v.summary()));
                    } else {
                        out::line(&format!("{}: {}\n  {}", v.kind, v.text, v.summary()));
                    }
                }
                return if ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                };
            }
            Err(d) => Err(d),
        },
    };
    match result {
        Ok(text) => {
            out::line(&text);
            ExitCode::SUCCESS
        }
        Err(diag) => {
            out::err_line(&diag.render());
            ExitCode::from(1)
        }
    }
}
