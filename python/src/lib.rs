//! The `matcalc` Python module: a thin shell over the library's command
//! core. Each function turns its arguments into a [`matcalc::Command`],
//! runs it with [`matcalc::Session::run`] (with the GIL released, inside
//! `catch_unwind` so that no Rust panic reaches Python), and renders the
//! [`matcalc::Output`] into plain strings that the result objects keep.
//!
//! Why render eagerly: the library's expressions share subtrees through
//! `Rc`, so an `Output` may not leave the thread that made it, nor be held
//! by a Python object that any thread may touch. Rendering every format at
//! once costs little next to the simplification and leaves result objects
//! that are plain, immutable data, safe to share between threads.
//!
//! Nothing about a command is decided here: which derivative `X_ij` means,
//! how a verdict reads and what each format prints all come from the
//! library. This module only maps Python's keywords onto a `Command`,
//! NumPy arrays onto `--at` text, and diagnostics onto `matcalc.Error`.

use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use matcalc::numeric::Matrix;
use matcalc::{
    Action, Body, Claim, Command, Derivative, Diagnostic, Dim, Form, Format, Output, Shape, render,
};
use pyo3::exceptions::{PyImportError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

pyo3::create_exception!(
    matcalc,
    Error,
    PyValueError,
    "A user error (syntax, shape, unknown name, …).\n\n\
     `str(e)` is the caret diagnostic; `.message` the one-line message, \
     `.span` the `(start, end)` byte range it points at in `.source` (the \
     whole source when it is about the input as a whole), `.help` the \
     suggestion (or None), `.origin` which text `.source` is."
);

/// A diagnostic as a `matcalc.Error`, with its parts as attributes.
fn to_error(py: Python<'_>, d: &Diagnostic) -> PyErr {
    let err = Error::new_err(d.render());
    let value = err.value(py);
    // A diagnostic about the input as a whole (too long, too large to
    // print) has no place of its own: its span is the whole source.
    let span = d
        .labels
        .first()
        .map_or((0, d.source.len()), |l| (l.span.start, l.span.end));
    let set = || -> PyResult<()> {
        value.setattr("message", &d.message)?;
        value.setattr("span", span)?;
        value.setattr("help", d.help.as_deref())?;
        value.setattr("source", &d.source)?;
        value.setattr("origin", d.origin.name())?;
        value.setattr("phase", d.phase.name())?;
        Ok(())
    };
    match set() {
        Ok(()) => err,
        Err(e) => e,
    }
}

/// Runs `f`, turning a panic into a diagnostic: no panic crosses into
/// Python.
fn guarded<T>(source: &str, f: impl FnOnce() -> Result<T, Diagnostic>) -> Result<T, Diagnostic> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let why = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Diagnostic::new(format!("internal error: {why}"), source)
                .help("this is a bug in matcalc; please report it with the input"))
        }
    }
}

/// One dimension as Python shows it: an int when it is a literal size,
/// else its name (`"n"`, `"2n"`, `"nm"`).
#[derive(Clone, Debug)]
enum DimValue {
    Int(u64),
    Name(String),
}

fn dim_value(d: &Dim) -> DimValue {
    if d.names.is_empty() {
        DimValue::Int(d.factor)
    } else {
        DimValue::Name(d.to_string())
    }
}

fn shape_value(s: &Shape) -> (DimValue, DimValue) {
    (dim_value(&s.rows), dim_value(&s.cols))
}

impl<'py> IntoPyObject<'py> for DimValue {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(match self {
            DimValue::Int(n) => n.into_pyobject(py)?.into_any(),
            DimValue::Name(s) => s.into_pyobject(py)?.into_any(),
        })
    }
}

/// A derivative or simplified expression, rendered in every format.
#[pyclass(frozen, module = "matcalc", name = "Result")]
struct PyOutcome {
    /// `differential`, `entrywise`, `gradient`, `hessian`, `jacobian` or
    /// `simplify`.
    #[pyo3(get)]
    kind: String,
    /// The expression as given.
    #[pyo3(get)]
    input: String,
    /// The expression's variables, in order of first appearance.
    #[pyo3(get)]
    variables: Vec<String>,
    /// The result as text in Matrix Cookbook notation (parseable again).
    #[pyo3(get)]
    text: String,
    /// The result as a LaTeX equation (`\frac{\partial f}{\partial X} = …`).
    #[pyo3(get)]
    latex: String,
    /// The right-hand side of the LaTeX equation alone.
    #[pyo3(get)]
    latex_rhs: String,
    /// The result as one JSON object (input, variable, text, LaTeX, shape).
    #[pyo3(get)]
    json: String,
    index: Result<String, Diagnostic>,
    numpy: Result<String, Diagnostic>,
    jax: Result<String, Diagnostic>,
    shape: (DimValue, DimValue),
    /// Notes: a simplification that stopped early, and why.
    #[pyo3(get)]
    notes: Vec<String>,
    /// The derivation line by line as text, when asked for with `steps=True`.
    #[pyo3(get)]
    steps: Option<String>,
    /// The derivation as a LaTeX `align*` block, when asked for with
    /// `steps=True`.
    #[pyo3(get)]
    steps_latex: Option<String>,
}

/// The name of the one function the generated code defines.
fn function_name(kind: &str) -> &'static str {
    match kind {
        "gradient" => "gradient",
        "hessian" => "hessian",
        "jacobian" => "jacobian",
        "simplify" => "value",
        _ => "differential",
    }
}

/// Runs generated Python source as a fresh module and returns its function.
fn compile<'py>(
    py: Python<'py>,
    source: &str,
    name: &str,
    file: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let code = CString::new(source).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let file = CString::new(file).map_err(|e| PyValueError::new_err(e.to_string()))?;
    let module = PyModule::from_code(py, &code, &file, c"matcalc_generated")?;
    module.getattr(name)
}

#[pymethods]
impl PyOutcome {
    /// The shape of the result as `(rows, cols)`: ints for literal sizes,
    /// names such as `"n"` for symbolic ones; `(1, 1)` for a scalar.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, [self.shape.0.clone(), self.shape.1.clone()])
    }

    /// The component form (`∂M_kl/∂X_ij = …`).
    #[getter]
    fn index(&self, py: Python<'_>) -> PyResult<String> {
        self.index.clone().map_err(|d| to_error(py, &d))
    }

    /// Python source of one NumPy function (named `differential`,
    /// `gradient`, `hessian`, `jacobian` or `value`) whose keyword
    /// parameters are the expression's variables.
    #[getter]
    fn numpy_source(&self, py: Python<'_>) -> PyResult<String> {
        self.numpy.clone().map_err(|d| to_error(py, &d))
    }

    /// Python source of the same function over `jax.numpy`, traceable by
    /// `jax.jit`, `jax.vmap` and `jax.grad`.
    #[getter]
    fn jax_source(&self, py: Python<'_>) -> PyResult<String> {
        self.jax.clone().map_err(|d| to_error(py, &d))
    }

    /// The generated NumPy function, compiled: call it with the variables
    /// as keywords, e.g. `f(A=np.eye(3), X=np.ones((3, 2)))`.
    fn numpy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let source = self.numpy_source(py)?;
        compile(py, &source, function_name(&self.kind), "<matcalc numpy>")
    }

    /// The generated JAX function, compiled (imports `jax` only now).
    /// Raises `NotImplementedError` in this version, and `ImportError`
    /// when JAX is not installed.
    fn jax<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let source = self.jax_source(py)?;
        py.import("jax").map_err(|e| {
            PyImportError::new_err(format!(
                "`.jax()` needs JAX: `pip install jax` ({})",
                e.value(py)
            ))
        })?;
        compile(py, &source, function_name(&self.kind), "<matcalc jax>")
    }

    /// The result in the named format: `text`, `latex`, `latex_rhs`,
    /// `numpy`, `jax`, `json` or `index`.
    fn format(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        match name {
            "text" => Ok(self.text.clone()),
            "latex" => Ok(self.latex.clone()),
            "latex_rhs" => Ok(self.latex_rhs.clone()),
            "numpy" => self.numpy_source(py),
            "jax" => self.jax_source(py),
            "json" => Ok(self.json.clone()),
            "index" => self.index(py),
            other => Err(PyValueError::new_err(format!(
                "unknown format `{other}`: use text, latex, latex_rhs, numpy, jax, json or index"
            ))),
        }
    }

    /// The equation for Jupyter, as display math.
    fn _repr_latex_(&self) -> String {
        format!("$$ {} $$", self.latex)
    }

    fn __str__(&self) -> String {
        self.text.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "<matcalc.Result {} of {:?}: {}>",
            self.kind, self.input, self.text
        )
    }
}

/// The verdict on one kind of derivative (from `check`).
#[pyclass(frozen, module = "matcalc", name = "Verdict")]
struct PyVerdict {
    /// `differential`, `entrywise`, `gradient`, `hessian` or `jacobian`.
    #[pyo3(get)]
    kind: String,
    /// The derivative checked, as text ("" for a kind not written).
    #[pyo3(get)]
    text: String,
    /// Whether it was confirmed (or is a kind matcalc does not write for
    /// this expression, so there is nothing to refute).
    #[pyo3(get)]
    passed: bool,
    /// Whether it was confirmed exactly (over the rationals), not within a
    /// tolerance.
    #[pyo3(get)]
    exact: bool,
    /// The number of points compared, when it was checked.
    #[pyo3(get)]
    points: Option<usize>,
    /// The largest relative error seen, when it was checked.
    #[pyo3(get)]
    max_rel_error: Option<f64>,
    /// One line for people: `exact (5 points)`, or where it differs.
    #[pyo3(get)]
    summary: String,
    /// Why matcalc does not write this kind for the expression, if so.
    #[pyo3(get)]
    not_written: Option<String>,
    /// matcalc's own answer, beside a refuted claim.
    #[pyo3(get)]
    reference: Option<String>,
}

#[pymethods]
impl PyVerdict {
    fn __bool__(&self) -> bool {
        self.passed
    }

    fn __repr__(&self) -> String {
        format!("<matcalc.Verdict {}: {}>", self.kind, self.summary)
    }
}

/// The verdicts of `check`, one per kind of derivative.
#[pyclass(frozen, module = "matcalc", name = "Check")]
struct PyCheck {
    /// Whether every derivative was confirmed.
    #[pyo3(get)]
    passed: bool,
    /// Whether every derivative that was checked was confirmed exactly.
    #[pyo3(get)]
    exact: bool,
    /// The verdicts, one per kind of derivative.
    #[pyo3(get)]
    verdicts: Vec<Py<PyVerdict>>,
    /// The verdicts for people, as the CLI prints them.
    #[pyo3(get)]
    text: String,
    /// The verdicts as one JSON object.
    #[pyo3(get)]
    json: String,
}

#[pymethods]
impl PyCheck {
    /// The verdict on one kind (`"gradient"`, …), or None.
    fn get(&self, py: Python<'_>, kind: &str) -> Option<Py<PyVerdict>> {
        self.verdicts
            .iter()
            .find(|v| v.get().kind == kind)
            .map(|v| v.clone_ref(py))
    }

    fn __bool__(&self) -> bool {
        self.passed
    }

    fn __str__(&self) -> String {
        self.text.clone()
    }

    fn __repr__(&self) -> String {
        let kinds: Vec<String> = self
            .verdicts
            .iter()
            .map(|v| {
                let v = v.get();
                format!("{}={}", v.kind, if v.passed { "ok" } else { "FAILED" })
            })
            .collect();
        format!(
            "<matcalc.Check {}: {}>",
            if self.passed { "passed" } else { "failed" },
            kinds.join(", ")
        )
    }
}

/// A verdict with no Python objects in it, made without the GIL.
struct VerdictData {
    kind: String,
    text: String,
    passed: bool,
    exact: bool,
    points: Option<usize>,
    max_rel_error: Option<f64>,
    summary: String,
    not_written: Option<String>,
    reference: Option<String>,
}

/// What a command produced, as plain data (no `Rc`), made without the GIL.
enum Done {
    Result(Box<PyOutcome>),
    Check {
        passed: bool,
        verdicts: Vec<VerdictData>,
        text: String,
        json: String,
    },
    Value(Matrix),
}

/// Renders a derivative or simplified expression in every format.
fn rendered(out: &Output, steps: Option<(String, String)>) -> Result<PyOutcome, Diagnostic> {
    let (kind, shape) = match &out.body {
        Body::Derivative(a) => (a.kind.name().to_string(), a.result.shape()),
        Body::Simplified { expr, .. } => ("simplify".to_string(), expr.shape()),
        _ => unreachable!("only derivatives and simplified expressions are rendered"),
    };
    let variables = out.context().map_or_else(Vec::new, |c| c.order.clone());
    Ok(PyOutcome {
        kind,
        input: out.input.clone(),
        variables,
        text: render(out, Format::Text)?,
        latex: render(out, Format::Latex)?,
        latex_rhs: render(out, Format::LatexRhs)?,
        json: render(out, Format::Json)?,
        index: render(out, Format::Index),
        numpy: render(out, Format::Numpy),
        jax: render(out, Format::Jax),
        shape: shape_value(shape),
        notes: out.notes.clone(),
        steps: steps.as_ref().map(|s| s.0.clone()),
        steps_latex: steps.map(|s| s.1),
    })
}

/// Runs a command and renders what it produced.
fn execute(session: &matcalc::Session, cmd: &Command) -> Result<Done, Diagnostic> {
    let out = session.run(cmd)?;
    Ok(match &out.body {
        Body::Value(m) => Done::Value(m.clone()),
        Body::Verdicts(vs) => Done::Check {
            passed: out.passed(),
            text: render(&out, Format::Text)?,
            json: render(&out, Format::Json)?,
            verdicts: vs
                .iter()
                .map(|v| {
                    use matcalc::NumericVerdict as V;
                    let (points, error) = match &v.outcome {
                        V::Exact { points } => (Some(*points), Some(0.0)),
                        V::Numeric(a) => (Some(a.points), Some(a.error)),
                        V::Fail(_) | V::Inconclusive { .. } => (None, None),
                    };
                    VerdictData {
                        kind: v.kind.to_string(),
                        text: v.text.clone(),
                        passed: v.passed(),
                        exact: matches!(v.outcome, V::Exact { .. }) && v.not_written.is_none(),
                        points,
                        max_rel_error: error,
                        summary: v.summary(),
                        not_written: v.not_written.clone(),
                        reference: v.reference.clone(),
                    }
                })
                .collect(),
        },
        Body::Derivation(d) => {
            let steps = (render(&out, Format::Text)?, render(&out, Format::Latex)?);
            let plain = Output {
                input: out.input.clone(),
                body: Body::Derivative(Box::new(d.answer.clone())),
                notes: out.notes.clone(),
            };
            Done::Result(Box::new(rendered(&plain, Some(steps))?))
        }
        Body::Derivative(_) | Body::Simplified { .. } => {
            Done::Result(Box::new(rendered(&out, None)?))
        }
    })
}

/// Runs a command on a copy of a session with the GIL released, and turns
/// any panic or diagnostic into `matcalc.Error`.
fn run(py: Python<'_>, session: matcalc::Session, cmd: Command) -> PyResult<Done> {
    let source = cmd.expr.clone();
    py.detach(move || guarded(&source, || execute(&session, &cmd)))
        .map_err(|d| to_error(py, &d))
}

/// Maps `form=` onto the library's forms.
fn parse_form(form: &str) -> PyResult<Option<Form>> {
    match form {
        // `default` is the expanded form until the library's default
        // form gets its own name.
        "default" => Ok(Some(Form::Default)),
        "expand" => Ok(Some(Form::Expanded)),
        "factor" => Ok(Some(Form::Factored)),
        "raw" => Ok(None),
        other => Err(PyValueError::new_err(format!(
            "form must be \"default\", \"expand\", \"factor\" or \"raw\", not {other:?}"
        ))),
    }
}

/// The command for a derivative or simplification.
fn command(
    action: Action,
    expr: &str,
    where_: Option<&str>,
    form: &str,
    steps: bool,
) -> PyResult<Command> {
    let mut cmd = Command::new(action, expr);
    cmd.where_ = where_.map(str::to_string);
    cmd.form = parse_form(form)?;
    cmd.steps = steps;
    Ok(cmd)
}

/// Turns what a command produced into Python objects.
fn to_python(py: Python<'_>, done: Done) -> PyResult<Py<PyAny>> {
    Ok(match done {
        Done::Result(r) => Py::new(py, *r)?.into_any(),
        Done::Check {
            passed,
            verdicts,
            text,
            json,
        } => {
            let checked: Vec<&VerdictData> =
                verdicts.iter().filter(|v| v.points.is_some()).collect();
            let exact = !checked.is_empty() && checked.iter().all(|v| v.exact);
            let verdicts = verdicts
                .into_iter()
                .map(|v| {
                    Py::new(
                        py,
                        PyVerdict {
                            kind: v.kind,
                            text: v.text,
                            passed: v.passed,
                            exact: v.exact,
                            points: v.points,
                            max_rel_error: v.max_rel_error,
                            summary: v.summary,
                            not_written: v.not_written,
                            reference: v.reference,
                        },
                    )
                })
                .collect::<PyResult<Vec<_>>>()?;
            Py::new(
                py,
                PyCheck {
                    passed,
                    exact,
                    verdicts,
                    text,
                    json,
                },
            )?
            .into_any()
        }
        Done::Value(m) => matrix_to_numpy(py, &m)?.unbind(),
    })
}

/// A value as NumPy: a float for a scalar, a 1-D array for a column
/// vector (as the generated code takes and returns them), else 2-D.
fn matrix_to_numpy<'py>(py: Python<'py>, m: &Matrix) -> PyResult<Bound<'py, PyAny>> {
    if m.rows == 1 && m.cols == 1 {
        return Ok(m.data[0].into_pyobject(py)?.into_any());
    }
    let np = py.import("numpy")?;
    let flat = np.call_method1("array", (m.data.clone(),))?;
    if m.cols == 1 {
        return Ok(flat);
    }
    flat.call_method1("reshape", ((m.rows, m.cols),))
}

/// One number as the `--at` reader reads it (shortest text that reads
/// back as the same f64).
fn number_text(x: f64) -> String {
    format!("{x:?}")
}

/// One value (anything `numpy.asarray` takes) as `--at` text.
fn value_text(np: &Bound<'_, PyModule>, name: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let array = np
        .call_method1("asarray", (value, "float64"))
        .map_err(|e| {
            PyTypeError::new_err(format!(
                "the value of `{name}` is not an array of numbers ({})",
                e.value(value.py())
            ))
        })?;
    let finite: bool = np
        .call_method1("all", (np.call_method1("isfinite", (&array,))?,))?
        .extract()?;
    if !finite {
        return Err(PyValueError::new_err(format!(
            "the value of `{name}` has a NaN or infinite entry; matcalc evaluates at finite values"
        )));
    }
    let ndim: usize = array.getattr("ndim")?.extract()?;
    let list = array.call_method0("tolist")?;
    let row = |xs: Vec<f64>| {
        let items: Vec<String> = xs.into_iter().map(number_text).collect();
        format!("[{}]", items.join(", "))
    };
    Ok(match ndim {
        0 => number_text(list.extract()?),
        1 => row(list.extract()?),
        2 => {
            let rows: Vec<Vec<f64>> = list.extract()?;
            let rows: Vec<String> = rows.into_iter().map(row).collect();
            format!("[{}]", rows.join(", "))
        }
        n => {
            return Err(PyValueError::new_err(format!(
                "the value of `{name}` has {n} dimensions; matcalc takes scalars, vectors and matrices"
            )));
        }
    })
}

/// The `--at` text for values given by name. Index letters (`i`, `j` of
/// `E_ij`) are 0-based here, as NumPy and the generated code count, and
/// 1-based in `--at`.
fn at_text(
    py: Python<'_>,
    session: &matcalc::Session,
    expr: &str,
    where_: Option<&str>,
    values: &[(String, Bound<'_, PyAny>)],
) -> PyResult<String> {
    let np = py.import("numpy")?;
    let variables: Option<Vec<String>> = guarded(expr, || session.lower(expr, where_))
        .ok()
        .map(|l| l.context.order.clone());
    let mut parts = Vec::new();
    for (name, value) in values {
        let mut text = value_text(&np, name, value)?;
        let is_index = variables
            .as_ref()
            .is_some_and(|vs| !vs.contains(name) && name.chars().count() == 1);
        // A whole number, as an int or a float such as `np.float64(2.0)`.
        if is_index
            && let Ok(k) = value.extract::<f64>()
            && k.fract() == 0.0
        {
            text = number_text(k + 1.0);
        }
        parts.push(format!("{name}={text}"));
    }
    Ok(parts.join(", "))
}

/// The values given to `eval`.
enum Values<'py> {
    /// `--at` text as the CLI takes it (`"X=[[1,2],[3,4]], i=1"`).
    Text(String),
    /// Values by name: the mapping's, then the keywords'.
    Named(Vec<(String, Bound<'py, PyAny>)>),
}

/// Reads `eval`'s values: `--at` text, or a mapping and keywords.
fn collect_values<'py>(
    values: Option<&Bound<'py, PyAny>>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Values<'py>> {
    if let Some(text) = values.and_then(|v| v.extract::<String>().ok()) {
        if kwargs.is_some_and(|k| !k.is_empty()) {
            return Err(PyTypeError::new_err(
                "give the values either as `--at` text or by name, not both",
            ));
        }
        return Ok(Values::Text(text));
    }
    let values = values
        .map(|v| {
            v.cast::<PyDict>().cloned().map_err(|_| {
                PyTypeError::new_err("values must be a dict of name to array, or `--at` text")
            })
        })
        .transpose()?;
    let mut out: Vec<(String, Bound<'py, PyAny>)> = Vec::new();
    for dict in [values.as_ref(), kwargs].into_iter().flatten() {
        for (k, v) in dict.iter() {
            let k: String = k.extract()?;
            if out.iter().any(|(n, _)| *n == k) {
                return Err(PyTypeError::new_err(format!("`{k}` is given twice")));
            }
            out.push((k, v));
        }
    }
    Ok(Values::Named(out))
}

/// The claim `check` verifies, from its keywords (at most one).
fn claim(
    grad: Option<String>,
    diff: Option<String>,
    hessian: Option<String>,
    jacobian: Option<String>,
) -> PyResult<Option<Claim>> {
    let given: Vec<Claim> = [
        (Derivative::Gradient, grad),
        (Derivative::Differential, diff),
        (Derivative::Hessian, hessian),
        (Derivative::Jacobian, jacobian),
    ]
    .into_iter()
    .filter_map(|(kind, text)| text.map(|text| Claim { kind, text }))
    .collect();
    if given.len() > 1 {
        return Err(PyTypeError::new_err(
            "check verifies one claimed derivative at a time: give one of grad=, diff=, hessian=, jacobian=",
        ));
    }
    Ok(given.into_iter().next())
}

/// The action of `diff`.
fn diff_action(wrt: &str, direction: Option<&str>) -> Action {
    Action::Diff {
        wrt: wrt.into(),
        direction: direction.map(str::to_string),
    }
}

/// The operations shared by the module's functions and `Session`'s
/// methods, over a snapshot of the session.
mod ops {
    use super::*;

    pub fn derivative(
        py: Python<'_>,
        s: matcalc::Session,
        action: Action,
        expr: &str,
        where_: Option<&str>,
        form: &str,
        steps: bool,
    ) -> PyResult<Py<PyAny>> {
        let done = run(py, s, command(action, expr, where_, form, steps)?)?;
        to_python(py, done)
    }

    pub fn check(
        py: Python<'_>,
        s: matcalc::Session,
        expr: &str,
        wrt: &str,
        where_: Option<&str>,
        claim: Option<Claim>,
    ) -> PyResult<Py<PyAny>> {
        let action = Action::Check {
            wrt: wrt.into(),
            claim,
        };
        let done = run(py, s, command(action, expr, where_, "default", false)?)?;
        to_python(py, done)
    }

    pub fn eval(
        py: Python<'_>,
        s: matcalc::Session,
        expr: &str,
        where_: Option<&str>,
        values: Values<'_>,
    ) -> PyResult<Py<PyAny>> {
        let at = match values {
            Values::Text(at) => at,
            Values::Named(values) => at_text(py, &s, expr, where_, &values)?,
        };
        let done = run(
            py,
            s,
            command(Action::Eval { at }, expr, where_, "default", false)?,
        )?;
        to_python(py, done)
    }
}

/// The differential of `expr` with respect to `wrt` (`"X"`, in the
/// direction `dX` or `direction`), or the entrywise partial (`wrt="X_ij"`).
///
/// `where` adds declarations (`"S: symmetric"`); `form` is `"default"`,
/// `"expand"`, `"factor"` or `"raw"`; `steps=True` keeps the derivation.
#[pyfunction]
#[pyo3(signature = (expr, *, wrt, direction=None, r#where=None, form="default", steps=false))]
fn diff(
    py: Python<'_>,
    expr: &str,
    wrt: &str,
    direction: Option<&str>,
    r#where: Option<&str>,
    form: &str,
    steps: bool,
) -> PyResult<Py<PyAny>> {
    let action = diff_action(wrt, direction);
    ops::derivative(py, Default::default(), action, expr, r#where, form, steps)
}

/// The gradient of a scalar `expr` with respect to `wrt` (denominator
/// layout: it has the shape of the variable).
#[pyfunction]
#[pyo3(signature = (expr, *, wrt, r#where=None, form="default", steps=false))]
fn grad(
    py: Python<'_>,
    expr: &str,
    wrt: &str,
    r#where: Option<&str>,
    form: &str,
    steps: bool,
) -> PyResult<Py<PyAny>> {
    let action = Action::Grad { wrt: wrt.into() };
    ops::derivative(py, Default::default(), action, expr, r#where, form, steps)
}

/// The Hessian of a scalar `expr` with respect to `wrt` (w.r.t. `vec(X)`
/// for a matrix variable).
#[pyfunction]
#[pyo3(signature = (expr, *, wrt, r#where=None, form="default", steps=false))]
fn hessian(
    py: Python<'_>,
    expr: &str,
    wrt: &str,
    r#where: Option<&str>,
    form: &str,
    steps: bool,
) -> PyResult<Py<PyAny>> {
    let action = Action::Hessian { wrt: wrt.into() };
    ops::derivative(py, Default::default(), action, expr, r#where, form, steps)
}

/// The Jacobian `d vec(F) / d vec(X)^T` of `expr` with respect to `wrt`.
#[pyfunction]
#[pyo3(signature = (expr, *, wrt, r#where=None, form="default", steps=false))]
fn jacobian(
    py: Python<'_>,
    expr: &str,
    wrt: &str,
    r#where: Option<&str>,
    form: &str,
    steps: bool,
) -> PyResult<Py<PyAny>> {
    let action = Action::Jacobian { wrt: wrt.into() };
    ops::derivative(py, Default::default(), action, expr, r#where, form, steps)
}

/// The simplified form of `expr`.
#[pyfunction]
#[pyo3(signature = (expr, *, r#where=None, form="default"))]
fn simplify(py: Python<'_>, expr: &str, r#where: Option<&str>, form: &str) -> PyResult<Py<PyAny>> {
    ops::derivative(
        py,
        Default::default(),
        Action::Simplify,
        expr,
        r#where,
        form,
        false,
    )
}

/// Verifies every derivative of `expr` with respect to `wrt` (exactly over
/// the rationals where it can, else by central differences), or the one
/// claimed with `grad=`, `diff=`, `hessian=` or `jacobian=`. Returns a
/// `Check`, which is falsy when a derivative was refuted.
#[pyfunction]
#[pyo3(signature = (expr, *, wrt, r#where=None, grad=None, diff=None, hessian=None, jacobian=None))]
#[allow(clippy::too_many_arguments)]
fn check(
    py: Python<'_>,
    expr: &str,
    wrt: &str,
    r#where: Option<&str>,
    grad: Option<String>,
    diff: Option<String>,
    hessian: Option<String>,
    jacobian: Option<String>,
) -> PyResult<Py<PyAny>> {
    let claim = claim(grad, diff, hessian, jacobian)?;
    ops::check(py, Default::default(), expr, wrt, r#where, claim)
}

/// The value of `expr` at the given values: NumPy arrays (or anything
/// `numpy.asarray` takes) by name, in a dict `values` or as keywords.
/// Vectors are 1-D arrays; index letters (`i` of `E_ij`) are 0-based.
/// `values` may instead be `--at` text as the CLI takes it
/// (`"X=[[1,2],[3,4]], i=1"`, indices 1-based there). Returns a float for
/// a scalar, a 1-D array for a column vector, else a 2-D array.
#[pyfunction]
#[pyo3(signature = (expr, values=None, /, *, r#where=None, **kwargs))]
fn eval(
    py: Python<'_>,
    expr: &str,
    values: Option<&Bound<'_, PyAny>>,
    r#where: Option<&str>,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Py<PyAny>> {
    let values = collect_values(values, kwargs)?;
    ops::eval(py, Default::default(), expr, r#where, values)
}

/// Panics inside the same guard every command runs in: the tests' proof
/// that a panic reaches Python as `matcalc.Error`, not as a crash.
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    py.detach(|| {
        guarded("", || -> Result<(), Diagnostic> {
            panic!("a test of the guard")
        })
    })
    .map_err(|d| to_error(py, &d))
}

/// Declarations and `let` bindings kept across calls, as in the REPL:
/// `s = matcalc.Session(); s.declare("S: symmetric"); s.let("M", "A X X^T A^T")`,
/// then `s.diff("M", wrt="X_ij")`. Safe to share between threads.
#[pyclass(module = "matcalc", name = "Session")]
struct PySession {
    inner: Mutex<matcalc::Session>,
}

impl PySession {
    /// A copy of the session's state to run one command with.
    fn snapshot(&self) -> matcalc::Session {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Applies a change to the session; a failed change leaves it as it was.
    fn change(
        &self,
        py: Python<'_>,
        source: &str,
        f: impl FnOnce(&mut matcalc::Session) -> Result<(), Diagnostic>,
    ) -> PyResult<()> {
        let mut trial = self.snapshot();
        guarded(source, || f(&mut trial)).map_err(|d| to_error(py, &d))?;
        *self.inner.lock().unwrap_or_else(|e| e.into_inner()) = trial;
        Ok(())
    }
}

#[pymethods]
impl PySession {
    #[new]
    fn new() -> Self {
        PySession {
            inner: Mutex::new(matcalc::Session::new()),
        }
    }

    /// Adds declarations (`"S: symmetric, X: n x m"`) to every later
    /// command; a name declared again is declared anew.
    fn declare(&self, py: Python<'_>, decls: &str) -> PyResult<()> {
        self.change(py, decls, |s| s.declare(decls))
    }

    /// Binds `name` to `expr` for every later command (`let M = A X`).
    #[pyo3(name = "let")]
    fn let_(&self, py: Python<'_>, name: &str, expr: &str) -> PyResult<()> {
        self.change(py, expr, |s| s.bind(name, expr))
    }

    /// The declarations in force, in order (`["S: symmetric"]`).
    #[getter]
    fn declarations(&self) -> Vec<String> {
        self.snapshot().declarations()
    }

    /// The bindings, as `(name, expression)` pairs in binding order.
    #[getter]
    fn bindings(&self) -> Vec<(String, String)> {
        self.snapshot()
            .bindings()
            .map(|(n, e)| (n.to_string(), e.to_string()))
            .collect()
    }

    /// Forgets every declaration and binding.
    fn clear(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// `matcalc.diff` with this session's declarations and bindings.
    #[pyo3(signature = (expr, *, wrt, direction=None, r#where=None, form="default", steps=false))]
    #[allow(clippy::too_many_arguments)]
    fn diff(
        &self,
        py: Python<'_>,
        expr: &str,
        wrt: &str,
        direction: Option<&str>,
        r#where: Option<&str>,
        form: &str,
        steps: bool,
    ) -> PyResult<Py<PyAny>> {
        let action = diff_action(wrt, direction);
        ops::derivative(py, self.snapshot(), action, expr, r#where, form, steps)
    }

    /// `matcalc.grad` with this session's declarations and bindings.
    #[pyo3(signature = (expr, *, wrt, r#where=None, form="default", steps=false))]
    fn grad(
        &self,
        py: Python<'_>,
        expr: &str,
        wrt: &str,
        r#where: Option<&str>,
        form: &str,
        steps: bool,
    ) -> PyResult<Py<PyAny>> {
        let action = Action::Grad { wrt: wrt.into() };
        ops::derivative(py, self.snapshot(), action, expr, r#where, form, steps)
    }

    /// `matcalc.hessian` with this session's declarations and bindings.
    #[pyo3(signature = (expr, *, wrt, r#where=None, form="default", steps=false))]
    fn hessian(
        &self,
        py: Python<'_>,
        expr: &str,
        wrt: &str,
        r#where: Option<&str>,
        form: &str,
        steps: bool,
    ) -> PyResult<Py<PyAny>> {
        let action = Action::Hessian { wrt: wrt.into() };
        ops::derivative(py, self.snapshot(), action, expr, r#where, form, steps)
    }

    /// `matcalc.jacobian` with this session's declarations and bindings.
    #[pyo3(signature = (expr, *, wrt, r#where=None, form="default", steps=false))]
    fn jacobian(
        &self,
        py: Python<'_>,
        expr: &str,
        wrt: &str,
        r#where: Option<&str>,
        form: &str,
        steps: bool,
    ) -> PyResult<Py<PyAny>> {
        let action = Action::Jacobian { wrt: wrt.into() };
        ops::derivative(py, self.snapshot(), action, expr, r#where, form, steps)
    }

    /// `matcalc.simplify` with this session's declarations and bindings.
    #[pyo3(signature = (expr, *, r#where=None, form="default"))]
    fn simplify(
        &self,
        py: Python<'_>,
        expr: &str,
        r#where: Option<&str>,
        form: &str,
    ) -> PyResult<Py<PyAny>> {
        ops::derivative(
            py,
            self.snapshot(),
            Action::Simplify,
            expr,
            r#where,
            form,
            false,
        )
    }

    /// `matcalc.check` with this session's declarations and bindings.
    #[pyo3(signature = (expr, *, wrt, r#where=None, grad=None, diff=None, hessian=None, jacobian=None))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        py: Python<'_>,
        expr: &str,
        wrt: &str,
        r#where: Option<&str>,
        grad: Option<String>,
        diff: Option<String>,
        hessian: Option<String>,
        jacobian: Option<String>,
    ) -> PyResult<Py<PyAny>> {
        let claim = claim(grad, diff, hessian, jacobian)?;
        ops::check(py, self.snapshot(), expr, wrt, r#where, claim)
    }

    /// `matcalc.eval` with this session's declarations and bindings.
    #[pyo3(signature = (expr, values=None, /, *, r#where=None, **kwargs))]
    fn eval(
        &self,
        py: Python<'_>,
        expr: &str,
        values: Option<&Bound<'_, PyAny>>,
        r#where: Option<&str>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyAny>> {
        let values = collect_values(values, kwargs)?;
        ops::eval(py, self.snapshot(), expr, r#where, values)
    }

    fn __repr__(&self) -> String {
        let s = self.snapshot();
        let lets: Vec<String> = s.bindings().map(|(n, e)| format!("{n} = {e}")).collect();
        format!(
            "<matcalc.Session declarations={:?} bindings={:?}>",
            s.declarations(),
            lets
        )
    }
}

/// Symbolic matrix calculus: derivatives in Matrix Cookbook notation,
/// checked, with LaTeX and generated NumPy code.
#[pymodule(name = "matcalc")]
fn matcalc_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    m.add_class::<PyOutcome>()?;
    m.add_class::<PyCheck>()?;
    m.add_class::<PyVerdict>()?;
    m.add_class::<PySession>()?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(grad, m)?)?;
    m.add_function(wrap_pyfunction!(hessian, m)?)?;
    m.add_function(wrap_pyfunction!(jacobian, m)?)?;
    m.add_function(wrap_pyfunction!(simplify, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(eval, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
