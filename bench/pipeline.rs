//! `cargo bench`: each stage of the pipeline (parse, differentiate,
//! simplify, the whole gradient, print) on the shared suite in
//! `bench/suite.tsv`, and the gradient of tr(A1 X A2 X … Ak X) for k up to
//! 256 in-process (`bench/sweep.py` adds peak memory and output size).

use matcalc::{Form, Session};

fn main() {
    divan::main();
}

/// One case of the shared suite.
struct Case {
    name: &'static str,
    expr: &'static str,
    wrt: &'static str,
    decls: String,
}

/// `A=3x4 x=4x1` as matcalc declarations: `A: 3 x 4, x: 4`.
fn declarations(shapes: &str) -> String {
    shapes
        .split_whitespace()
        .map(|s| {
            let (name, dims) = s.split_once('=').expect("name=RxC");
            let (r, c) = dims.split_once('x').expect("RxC");
            if c == "1" {
                format!("{name}: {r}")
            } else {
                format!("{name}: {r} x {c}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn suite() -> Vec<Case> {
    include_str!("suite.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&'static str> = l.split('\t').collect();
            Case {
                name: cols[0],
                expr: cols[1],
                wrt: cols[2],
                decls: declarations(cols[4]),
            }
        })
        .collect()
}

fn case(name: &str) -> Case {
    suite()
        .into_iter()
        .find(|c| c.name == name)
        .expect("a case of the suite")
}

/// The names of the suite's cases, for `args`.
fn names() -> Vec<&'static str> {
    suite().into_iter().map(|c| c.name).collect()
}

#[divan::bench(args = names())]
fn parse(bencher: divan::Bencher, name: &str) {
    let c = case(name);
    let input = format!("{} where {}", c.expr, c.decls);
    bencher.bench_local(|| matcalc::parse(divan::black_box(&input)).expect("parses"));
}

#[divan::bench(args = names())]
fn differentiate(bencher: divan::Bencher, name: &str) {
    let c = case(name);
    let s = Session::new();
    bencher.bench_local(|| {
        s.diff_with(c.expr, c.wrt, None, Some(&c.decls), None)
            .expect("differentiates")
    });
}

#[divan::bench(args = names())]
fn simplify(bencher: divan::Bencher, name: &str) {
    let c = case(name);
    let raw = Session::new()
        .diff_with(c.expr, c.wrt, None, Some(&c.decls), None)
        .expect("differentiates");
    bencher.bench_local(|| matcalc::simplify(&raw.result, &raw.context, Form::Expanded));
}

#[divan::bench(args = names())]
fn gradient(bencher: divan::Bencher, name: &str) {
    let c = case(name);
    let s = Session::new();
    bencher.bench_local(|| {
        s.grad(c.expr, c.wrt, Some(&c.decls), Some(Form::Expanded))
            .expect("a gradient")
    });
}

#[divan::bench(args = names())]
fn print(bencher: divan::Bencher, name: &str) {
    let c = case(name);
    let a = Session::new()
        .grad(c.expr, c.wrt, Some(&c.decls), Some(Form::Expanded))
        .expect("a gradient");
    bencher.bench_local(|| {
        (
            matcalc::to_text(&a.result),
            matcalc::to_latex(&a),
            matcalc::to_numpy(&a),
        )
    });
}

/// tr(A1 X A2 X … Ak X).
fn trace_chain(k: usize) -> String {
    let body: Vec<String> = (1..=k).map(|i| format!("A{i} X")).collect();
    format!("tr({})", body.join(" "))
}

#[divan::bench(args = [1, 2, 4, 8, 16, 32, 64, 128, 256], sample_count = 10)]
fn sweep_gradient(bencher: divan::Bencher, k: usize) {
    let e = trace_chain(k);
    let s = Session::new();
    bencher.bench_local(|| {
        s.grad(&e, "X", None, Some(Form::Expanded))
            .expect("a gradient")
    });
}

#[divan::bench(args = [1, 2, 4, 8, 16, 32, 64, 128, 256], sample_count = 10)]
fn sweep_differential(bencher: divan::Bencher, k: usize) {
    let e = vec!["X"; k].join(" ");
    let s = Session::new();
    bencher.bench_local(|| s.diff(&e, "X", None, None).expect("a differential"));
}
