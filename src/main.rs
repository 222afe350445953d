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
    /// The simplified form: the collected sum of products with the input's
    /// groups kept, `--expand` fully expanded, or with `--factor` the
    /// smallest factored form.
    Simplify {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        form: FormArgs,
        /// The output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// The numeric value of EXPR at given values.
    Eval {
        #[command(flatten)]
        input: Input,
        /// Values: 'X=[[1,2],[3,4]], x=[1,2], alpha=2.5' (and `i=2` for E_ij).
        #[arg(long, value_name = "VALUES")]
        at: String,
        /// `text` (default), `json`, `latex` or `numpy`.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Verify every derivative of EXPR: exactly over the rationals where it
    /// is rational, by central differences otherwise. Exits 1 on a mismatch.
    /// With `--grad G` (or `--diff`, `--hessian`, `--jacobian`), verify a
    /// derivative you claim instead, and see matcalc's own if it is wrong.
    Check {
        #[command(flatten)]
        input: Input,
        /// The variable.
        #[arg(long)]
        wrt: String,
        /// A claimed differential in the direction `dX`, e.g. 'dX^T A X + X^T A dX'.
        #[arg(
            long = "diff",
            value_name = "D",
            allow_hyphen_values = true,
            group = "claim"
        )]
        claim_diff: Option<String>,
        /// A claimed gradient, e.g. '2 A X'.
        #[arg(
            long = "grad",
            value_name = "G",
            allow_hyphen_values = true,
            group = "claim"
        )]
        claim_grad: Option<String>,
        /// A claimed Hessian (w.r.t. vec(X) for a matrix).
        #[arg(
            long = "hessian",
            value_name = "H",
            allow_hyphen_values = true,
            group = "claim"
        )]
        claim_hessian: Option<String>,
        /// A claimed Jacobian d vec(F) / d vec(X)^T.
        #[arg(
            long = "jacobian",
            value_name = "J",
            allow_hyphen_values = true,
            group = "claim"
        )]
        claim_jacobian: Option<String>,
        /// `text` (default) or `json`.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

/// The expression and its declarations, as every command takes them.
#[derive(clap::Args, Debug)]
struct Input {
    /// The expression, e.g. 'A X X^T A^T'; `-` reads it from stdin and
    /// `@path` from a file.
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// Declarations, as in an inline `where` clause: 'S: symmetric, X: n x m'.
    #[arg(long = "where", value_name = "DECLS")]
    where_: Option<String>,
}

/// The form of a result.
#[derive(clap::Args, Debug)]
struct FormArgs {
    /// The smallest factored form instead of the expanded sum of products.
    #[arg(long, conflicts_with_all = ["raw", "expand"])]
    factor: bool,
    /// The fully expanded, collected sum of products (the default keeps
    /// the input's groups, such as `A x - b`, where nothing cancels).
    #[arg(long, conflicts_with = "raw")]
    expand: bool,
    /// The unsimplified result.
    #[arg(long)]
    raw: bool,
}

impl FormArgs {
    fn form(&self) -> Option<matcalc::Form> {
        if self.raw {
            None
        } else if self.factor {
            Some(matcalc::Form::Factored)
        } else if self.expand {
            Some(matcalc::Form::Expanded)
        } else {
            Some(matcalc::Form::Default)
        }
    }
}

/// What every derivative command takes.
#[derive(clap::Args, Debug)]
struct DerivArgs {
    #[command(flatten)]
    input: Input,
    /// The variable (`X`), or for `diff` one of its entries (`X_ij`).
    #[arg(long)]
    wrt: String,
    #[command(flatten)]
    form: FormArgs,
    /// The output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// With `--format latex`: the right-hand side alone.
    #[arg(long)]
    rhs: bool,
    /// The derivation, line by line (as text, or with `--format latex` as
    /// an `align*` block).
    #[arg(long, conflicts_with_all = ["raw", "rhs"])]
    steps: bool,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Parseable text in Matrix Cookbook notation.
    Text,
    /// A LaTeX equation, e.g. `\frac{\partial M}{\partial X_{ij}} = …`.
    Latex,
    /// A NumPy function named after the command, e.g. `def gradient(A, X):`.
    Numpy,
    /// The same function over `jax.numpy`, traceable by `jax.jit`.
    Jax,
    /// One JSON object (and on an error, `{"error": …}`).
    Json,
    /// The component form, e.g. `∂M_kl/∂X_ij = A_ki (A X)_lj + …`.
    Index,
}

impl Format {
    fn core(self, rhs: bool) -> matcalc::Format {
        match self {
            Format::Text => matcalc::Format::Text,
            Format::Latex if rhs => matcalc::Format::LatexRhs,
            Format::Latex => matcalc::Format::Latex,
            Format::Numpy => matcalc::Format::Numpy,
            Format::Jax => matcalc::Format::Jax,
            Format::Json => matcalc::Format::Json,
            Format::Index => matcalc::Format::Index,
        }
    }
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

/// The text of stdin or a file as one expression: lines that are blank
/// or start with `#` are comments, and an expression runs over several
/// lines only inside an open bracket, as in the REPL. Several expressions
/// are several questions, which is refused rather than read as one
/// product.
fn one_expression(text: String, from: &str) -> Result<String, String> {
    let mut statements: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        if !open && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        if open {
            let last = statements.last_mut().expect("an open statement");
            last.push('\n');
            last.push_str(line);
        } else {
            statements.push(line.to_string());
        }
        open = matcalc::is_incomplete(statements.last().expect("a statement"));
    }
    if statements.len() > 1 {
        return Err(format!(
            "error: {from} holds {} expressions, one per line; give one (a line break may fall inside brackets), or run them as REPL statements with `matcalc repl`",
            statements.len()
        ));
    }
    Ok(statements.pop().unwrap_or_default())
}

/// The expression as given: `-` reads stdin, `@path` a file, anything
/// else is the expression itself.
fn read_expr(arg: &str) -> Result<String, String> {
    if arg == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| format!("error: cannot read the expression from stdin: {e}"))?;
        return one_expression(s, "stdin");
    }
    if let Some(path) = arg.strip_prefix('@')
        && !path.is_empty()
    {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("error: cannot read the expression from `{path}`: {e}"))?;
        return one_expression(text, &format!("`{path}`"));
    }
    Ok(arg.to_string())
}

/// The clap command as the library's [`matcalc::Command`].
fn to_command(c: &Command) -> Result<matcalc::Command, String> {
    use matcalc::Action;
    let derivative = |action: Action, a: &DerivArgs| -> Result<matcalc::Command, String> {
        Ok(matcalc::Command {
            action,
            expr: read_expr(&a.input.expr)?,
            where_: a.input.where_.clone(),
            form: a.form.form(),
            steps: a.steps,
            format: a.format.core(a.rhs),
        })
    };
    let plain = |action: Action, input: &Input, form, format: Format| {
        Ok(matcalc::Command {
            action,
            expr: read_expr(&input.expr)?,
            where_: input.where_.clone(),
            form,
            steps: false,
            format: format.core(false),
        })
    };
    match c {
        Command::Diff { args, direction } => derivative(
            Action::Diff {
                wrt: args.wrt.clone(),
                direction: direction.clone(),
            },
            args,
        ),
        Command::Grad { args } => derivative(
            Action::Grad {
                wrt: args.wrt.clone(),
            },
            args,
        ),
        Command::Hessian { args } => derivative(
            Action::Hessian {
                wrt: args.wrt.clone(),
            },
            args,
        ),
        Command::Jacobian { args } => derivative(
            Action::Jacobian {
                wrt: args.wrt.clone(),
            },
            args,
        ),
        Command::Simplify {
            input,
            form,
            format,
        } => plain(Action::Simplify, input, form.form(), *format),
        Command::Eval { input, at, format } => plain(
            Action::Eval { at: at.clone() },
            input,
            Some(matcalc::Form::Expanded),
            *format,
        ),
        Command::Check {
            input,
            wrt,
            claim_diff,
            claim_grad,
            claim_hessian,
            claim_jacobian,
            format,
        } => {
            use matcalc::Derivative as D;
            let claim = [
                (D::Differential, claim_diff),
                (D::Gradient, claim_grad),
                (D::Hessian, claim_hessian),
                (D::Jacobian, claim_jacobian),
            ]
            .into_iter()
            .find_map(|(kind, text)| {
                text.as_ref().map(|t| matcalc::Claim {
                    kind,
                    text: t.clone(),
                })
            });
            let action = Action::Check {
                wrt: wrt.clone(),
                claim,
            };
            plain(action, input, Some(matcalc::Form::Expanded), *format)
        }
        Command::Repl => unreachable!("the REPL is not a command"),
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
    if let Command::Repl = command {
        return cli::repl::run(STACK_BYTES);
    }
    let cmd = match to_command(command) {
        Ok(cmd) => cmd,
        Err(message) => {
            out::err_line(&message);
            return ExitCode::from(1);
        }
    };
    let session = matcalc::Session::new();
    let shown = session.run(&cmd).and_then(|output| {
        for n in &output.notes {
            out::err_line(&format!("note: {n}"));
        }
        matcalc::render(&output, cmd.format).map(|text| (text, output.passed()))
    });
    match shown {
        Ok((text, passed)) => {
            out::line(&text);
            if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(diag) => {
            let text = matcalc::render_error(&diag, cmd.format);
            if cmd.format == matcalc::Format::Json {
                out::line(&text);
            } else {
                out::err_line(&text);
            }
            ExitCode::from(1)
        }
    }
}
