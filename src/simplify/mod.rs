//! The simplifier: the default normal form and `--factor`'s smallest
//! factored form, bounded and deterministic.
//!
//! Two stages, so that associativity and commutativity never reach the
//! e-graph whole:
//! 1. [`canon`] expands the expression into a flat list of terms with exact
//!    coefficients, pushes transposes onto the leaves, cancels inverses and
//!    identities, merges scalar factors and collects structurally equal
//!    terms, in the order the terms first appear (for a derivative, the
//!    order the product rule produced them).
//! 2. egg ([`lang`], [`rules`], [`cost`]) then proves the remaining
//!    equalities between terms — rotations under a trace, a 1×1 term equal
//!    to its transpose, Hadamard products in either order, inverses and
//!    determinants of products — and terms in one e-class become one term.
//!    A term is replaced by the e-graph's best form only when that is
//!    strictly cheaper under [`cost::NormalCost`].
//!
//! With `--factor`, the collected sum goes through the e-graph once more
//! with the additive laws (distributivity both ways, like terms) and the
//! smallest form under [`cost::FactorCost`] wins — if it is smaller than
//! the expanded one.
//!
//! Work is bounded by node and iteration limits (a time limit is only a
//! backstop), a cap on the terms of an expansion, and a size above which an
//! expression skips the e-graph; hitting one is reported in
//! [`Simplified::stopped`], never an error.

mod canon;
pub mod cost;
mod elementwise;
pub mod fingerprint;
mod group;
pub mod lang;
pub mod rules;

use crate::expr::{Expr, Kind};
use crate::hash::FxHashMap;
use crate::lower::Context;
use canon::Term;
use egg::{BackoffScheduler, Extractor, Id, Rewrite, Runner, StopReason};
use fingerprint::Fingerprints;
use lang::{Facts, Graph, Mat};
use num_rational::BigRational;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// Bounds on the simplifier's work.
#[derive(Clone, Debug)]
pub struct Limits {
    /// E-nodes per e-graph.
    pub nodes: usize,
    /// Rule iterations per e-graph.
    pub iterations: usize,
    /// A backstop only: node and iteration limits bind first.
    pub time: Duration,
    /// Terms an expansion may produce before a product stays factored.
    pub max_terms: usize,
    /// Nodes above which a sum skips the e-graph.
    pub max_egraph_input: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            nodes: 20_000,
            iterations: 12,
            time: Duration::from_secs(1),
            max_terms: 20_000,
            max_egraph_input: 4_000,
        }
    }
}

/// Which form to produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Form {
    /// The default form of SPEC §3: the collected sum of products, with
    /// the groups of the input (residuals such as `A x - b`) kept grouped
    /// where distributing them cancels or merges nothing.
    #[default]
    Default,
    /// The fully expanded, collected sum of products (`--expand`).
    Expanded,
    /// The smallest factored form (`--factor`).
    Factored,
}

/// A simplified expression, and why the simplifier stopped early if it did.
#[derive(Clone, Debug)]
pub struct Simplified {
    /// The result.
    pub expr: Expr,
    /// The limits that were hit, in words (empty when none was).
    pub stopped: Vec<String>,
}

/// Terms as a map key, hashed by their monomials only (each an O(1)
/// hash; hashing a `BigRational` divides big integers).
#[derive(PartialEq, Eq)]
struct Terms(Vec<Term>);

impl std::hash::Hash for Terms {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for (_, m) in &self.0 {
            m.hash(state);
        }
    }
}

/// The state of one simplification.
pub(crate) struct Simplifier<'a> {
    /// The laws that fired since the last [`Simplifier::take_fired`], in
    /// order (only kept when tracing).
    fired: Option<RefCell<Vec<String>>>,
    symmetric: BTreeSet<String>,
    /// Terms told apart by their values.
    fingerprints: Fingerprints<'a>,
    limits: &'a Limits,
    cache: FxHashMap<Expr, Expr>,
    /// `merge_like_terms` by its input: `X^200 dX X^55 + …` asks for the
    /// same one-term base thousands of times.
    merged: FxHashMap<Terms, Vec<Term>>,
    notes: Vec<String>,
    laws: &'static [Rewrite<Mat, Facts>],
    /// The input whose groups the default form keeps.
    source: Option<Expr>,
    /// The canonical monomials of the input's pieces (built on demand).
    pieces: Option<crate::hash::FxHashSet<Expr>>,
    /// The input's sums, as order-free keys (built with `pieces`), to
    /// write a group the way round the input wrote it.
    groups: crate::hash::FxHashSet<Vec<(Expr, BigRational)>>,
    /// The input's scalar products of sums, such as `(x - m)^T (x - m)`,
    /// each with its expansion's terms (built with `pieces`), to write the
    /// expansion back as the product the input wrote.
    folds: Vec<(Expr, Vec<(BigRational, Expr)>)>,
    /// Bases known nonzero because the input takes their log or root
    /// (`log(X ./ (W H))` is defined only where `X` and `W H` are
    /// nonzero).
    domain: crate::hash::FxHashSet<Expr>,
    /// The input's determinants of products, split and whole (built on
    /// demand).
    dets: Option<Vec<(Vec<Expr>, Expr)>>,
    /// Whether broadcast sums distribute over Hadamard products (the
    /// second pass of [`Simplifier::normal_distributed`]).
    distribute: bool,
    /// How deeply the default form's grouping is nested.
    depth: usize,
}

/// Every law, the additive ones included (for `--factor`), compiled once
/// per process.
fn factor_laws() -> &'static [Rewrite<Mat, Facts>] {
    static LAWS: std::sync::OnceLock<Vec<Rewrite<Mat, Facts>>> = std::sync::OnceLock::new();
    LAWS.get_or_init(|| rules::rewrites(rules::all_specs()))
}

/// The normal form's laws, compiled once per process (parsing their
/// patterns took a third of a small gradient's time).
fn normal_laws() -> &'static [Rewrite<Mat, Facts>] {
    static LAWS: std::sync::OnceLock<Vec<Rewrite<Mat, Facts>>> = std::sync::OnceLock::new();
    LAWS.get_or_init(|| rules::rewrites(rules::LAWS))
}

/// Simplifies `e`, whose variables are described by `ctx`, into `form`;
/// the default form keeps the groups `e` itself writes.
pub fn simplify(e: &Expr, ctx: &Context, form: Form) -> Simplified {
    simplify_with(e, ctx, form, &Limits::default())
}

/// [`simplify`] of a result computed from `source` (a derivative of it):
/// the default form keeps the groups `source` writes.
pub fn simplify_from(e: &Expr, ctx: &Context, form: Form, source: &Expr) -> Simplified {
    simplify_bounded(e, ctx, form, &Limits::default(), source)
}

/// [`simplify`] with explicit limits.
pub fn simplify_with(e: &Expr, ctx: &Context, form: Form, limits: &Limits) -> Simplified {
    simplify_bounded(e, ctx, form, limits, e)
}

fn simplify_bounded(
    e: &Expr,
    ctx: &Context,
    form: Form,
    limits: &Limits,
    source: &Expr,
) -> Simplified {
    let mut s = Simplifier::new(ctx, e, limits, false);
    s.learn_domain(source);
    let normal = s.normal(e);
    let normal = s.normal_distributed(&normal);
    let expr = match form {
        Form::Default => s.regroup(&normal, source),
        Form::Expanded => normal,
        Form::Factored => s.factor(&normal),
    };
    let expr = s.softmax_written(&expr);
    Simplified {
        expr,
        stopped: s.notes,
    }
}

/// The cost of a term outside any e-graph: built in a scratch e-graph,
/// which holds exactly one node per class before any rule runs.
fn standalone_cost<C: egg::CostFunction<Mat>>(cost: &mut C, e: &Expr) -> C::Cost {
    let mut g = Graph::new(Facts::default());
    let root = lang::add_expr(&mut g, e);
    cost.cost_rec(&g.id_to_expr(root))
}

/// One step of a traced simplification: the whole expression after it,
/// and the laws that took it there.
#[derive(Clone, Debug)]
pub struct TraceStep {
    /// The laws, in words or by rule name (`trace-cyclic`), in the order
    /// they first fired.
    pub laws: Vec<String>,
    /// The expression after the step.
    pub expr: Expr,
}

/// [`simplify`], and the steps it took: the expansion into canonical
/// terms, the merging of terms the e-graph proves equal (the laws named
/// from egg's explanations), and with `--factor` the factoring.
pub fn simplify_traced(
    e: &Expr,
    ctx: &Context,
    form: Form,
    source: &Expr,
) -> (Simplified, Vec<TraceStep>) {
    let limits = Limits::default();
    let mut s = Simplifier::new(ctx, e, &limits, true);
    let mut trace = Vec::new();
    let mut step = |s: &mut Simplifier, before: &Expr, after: &Expr| {
        let laws = s.take_fired();
        if after != before {
            trace.push(TraceStep {
                laws,
                expr: after.clone(),
            });
        }
    };
    s.learn_domain(source);
    let expanded = s.expand(e);
    let n = expanded.len();
    let collected = canon::collect(expanded);
    if collected.len() < n {
        s.fire("like terms are collected");
    }
    let canonical = canon::rebuild(&collected, e.shape());
    step(&mut s, e, &canonical);
    let merged = s.merge_like_terms(collected);
    let normal = canon::rebuild(&merged, e.shape());
    step(&mut s, &canonical, &normal);
    let distributed = s.normal_distributed(&normal);
    step(&mut s, &normal, &distributed);
    let normal = distributed;
    let out = match form {
        Form::Default => {
            let g = s.regroup(&normal, source);
            step(&mut s, &normal, &g);
            g
        }
        Form::Expanded => normal,
        Form::Factored => {
            let f = s.factor(&normal);
            step(&mut s, &normal, &f);
            f
        }
    };
    let written = s.softmax_written(&out);
    step(&mut s, &out, &written);
    (
        Simplified {
            expr: written,
            stopped: s.notes,
        },
        trace,
    )
}

impl<'a> Simplifier<'a> {
    /// A simplification of `e` over `ctx`, recording the laws that fire
    /// when `traced`.
    fn new(ctx: &'a Context, e: &Expr, limits: &'a Limits, traced: bool) -> Simplifier<'a> {
        Simplifier {
            fired: traced.then(|| RefCell::new(Vec::new())),
            symmetric: ctx
                .vars
                .iter()
                .filter(|(_, v)| v.symmetric)
                .map(|(n, _)| n.clone())
                .collect(),
            fingerprints: Fingerprints::new(ctx, e),
            limits,
            cache: FxHashMap::default(),
            merged: FxHashMap::default(),
            notes: Vec::new(),
            laws: normal_laws(),
            source: None,
            pieces: None,
            groups: Default::default(),
            folds: Vec::new(),
            domain: Default::default(),
            dets: None,
            distribute: false,
            depth: 0,
        }
    }
}

impl Simplifier<'_> {
    /// Records that a law fired (when tracing).
    pub(crate) fn fire(&self, law: &str) {
        if let Some(f) = &self.fired {
            let mut f = f.borrow_mut();
            if !f.iter().any(|l| l == law) {
                f.push(law.to_string());
            }
        }
    }

    /// The laws fired since the last call.
    fn take_fired(&mut self) -> Vec<String> {
        self.fired
            .as_ref()
            .map(|f| std::mem::take(&mut *f.borrow_mut()))
            .unwrap_or_default()
    }

    /// Records the rewrite rules egg's explanation of `a = b` uses.
    fn fire_explained(&self, g: &mut Graph, a: &egg::RecExpr<Mat>, b: &egg::RecExpr<Mat>) {
        if self.fired.is_none() {
            return;
        }
        let mut explanation = g.explain_equivalence(a, b);
        let mut stack: Vec<&egg::FlatTerm<Mat>> =
            explanation.make_flat_explanation().iter().collect();
        let mut names = Vec::new();
        while let Some(t) = stack.pop() {
            for r in [&t.forward_rule, &t.backward_rule].into_iter().flatten() {
                names.push(r.to_string());
            }
            stack.extend(t.children.iter());
        }
        names.reverse();
        for n in names {
            self.fire(&n);
        }
    }

    fn note(&mut self, why: &str) {
        if !self.notes.iter().any(|n| n == why) {
            self.notes.push(why.to_string());
        }
    }

    /// An empty e-graph for the variables' facts, recording explanations
    /// when tracing.
    fn graph(&self) -> Graph {
        let g = Graph::new(Facts::new(self.symmetric.clone()));
        if self.fired.is_some() {
            g.with_explanations_enabled()
        } else {
            g
        }
    }

    fn runner(&self, g: Graph) -> Runner<Mat, Facts> {
        Runner::default()
            .with_egraph(g)
            .with_node_limit(self.limits.nodes)
            .with_iter_limit(self.limits.iterations)
            .with_time_limit(self.limits.time)
            .with_scheduler(BackoffScheduler::default())
    }

    fn record(&mut self, stop: &Option<StopReason>) {
        match stop {
            Some(StopReason::NodeLimit(n)) => {
                self.note(&format!("the e-graph reached its limit of {n} nodes"));
            }
            Some(StopReason::TimeLimit(t)) => {
                self.note(&format!("the e-graph reached its time limit of {t} s"));
            }
            Some(StopReason::Other(why)) => self.note(why),
            // Running out of iterations is the normal end of a bounded search.
            Some(StopReason::IterationLimit(_) | StopReason::Saturated) | None => {}
        }
    }

    /// Whether the terms are chains of variables with no 1×1 part (a side
    /// of size 1 only at the chain's ends, and not at both) that read
    /// differently letter by letter (a symmetric matrix's transpose read as
    /// the matrix). Distinct words in matrices of sizes at least 2 are
    /// distinct functions, and so are `w1 x` and `w2 x` for a vector `x`
    /// found nowhere else: with no 1×1 part nothing commutes and no part
    /// equals its transpose, so no law equates two different words. Then
    /// no two of the terms can be merged, and telling them apart needs no
    /// point.
    fn words_distinct(&self, terms: &[&Expr]) -> bool {
        let mut words = Vec::with_capacity(terms.len());
        for t in terms {
            match self.word(t) {
                Some(w) => words.push(w),
                None => return false,
            }
        }
        words.sort();
        words.windows(2).all(|p| p[0] != p[1])
    }

    /// A chain's letters: (name, transposed), or `None` if it is not such a
    /// chain.
    fn word<'e>(&self, e: &'e Expr) -> Option<Vec<(&'e str, bool)>> {
        let factors = match e.kind() {
            Kind::Product(fs) => fs.as_slice(),
            _ => std::slice::from_ref(e),
        };
        let last = factors.len() - 1;
        let mut word = Vec::with_capacity(factors.len());
        for (i, f) in factors.iter().enumerate() {
            let (v, transposed) = match f.kind() {
                Kind::Var(v) => (v, false),
                Kind::Transpose(a) => match a.kind() {
                    Kind::Var(v) => (v, true),
                    _ => return None,
                },
                _ => return None,
            };
            let s = f.shape();
            if (s.rows.is_one() && i > 0) || (s.cols.is_one() && i < last) {
                return None;
            }
            let symmetric = self.symmetric.contains(&**v);
            word.push((&**v, transposed && !symmetric));
        }
        let whole = e.shape();
        if whole.rows.is_one() && whole.cols.is_one() {
            return None;
        }
        Some(word)
    }

    /// Merges terms the laws prove equal (stage 2 of the module docs).
    fn merge_like_terms(&mut self, terms: Vec<Term>) -> Vec<Term> {
        if terms.is_empty() {
            return terms;
        }
        // The canonical forms are final unless two terms might be equal:
        // the e-graph runs only when no point tells them apart.
        if terms.len() == 1 {
            return terms;
        }
        let terms = Terms(terms);
        if let Some(done) = self.merged.get(&terms) {
            return done.clone();
        }
        let Terms(terms) = terms;
        let size: usize = terms.iter().map(|(_, m)| m.size()).sum();
        if size > self.limits.max_egraph_input {
            self.note("an expression was too large for the e-graph and was only canonicalised");
            return terms;
        }
        let monomials: Vec<&Expr> = terms.iter().map(|(_, m)| m).collect();
        if self.words_distinct(&monomials) || self.fingerprints.distinct(&monomials) {
            return terms;
        }
        let out = self.merge_like_terms_anew(terms.clone());
        self.merged.insert(Terms(terms), out.clone());
        out
    }

    fn merge_like_terms_anew(&mut self, terms: Vec<Term>) -> Vec<Term> {
        let mut g = self.graph();
        let roots: Vec<Id> = terms
            .iter()
            .map(|(_, m)| lang::add_expr(&mut g, m))
            .collect();
        let mut runner = self.runner(g).run(self.laws);
        self.record(&runner.stop_reason);
        let g = &runner.egraph;
        let tracing = self.fired.is_some();
        // (term, what it became): the equalities a trace explains
        let mut proved: Vec<(Id, Option<egg::RecExpr<Mat>>)> = Vec::new();
        let mut groups: Vec<(Id, Id, BigRational, Expr)> = Vec::new();
        let mut index: HashMap<Id, usize> = HashMap::new();
        for ((c, m), root) in terms.into_iter().zip(roots) {
            let class = g.find(root);
            match index.get(&class) {
                Some(&i) => {
                    groups[i].2 += c;
                    if tracing {
                        proved.push((root, Some(g.id_to_expr(groups[i].1))));
                    }
                }
                None => {
                    index.insert(class, groups.len());
                    groups.push((class, root, c, m));
                }
            }
        }
        let extractor = Extractor::new(g, cost::NormalCost);
        let mut out = Vec::with_capacity(groups.len());
        for (class, root, c, m) in groups {
            let (best_cost, best) = extractor.find_best(class);
            if best_cost < standalone_cost(&mut cost::NormalCost, &m) {
                if tracing {
                    proved.push((root, Some(best.clone())));
                }
                let better = lang::to_expr(&g.analysis, &best);
                for (k, t) in self.expand(&better) {
                    out.push((&c * k, t));
                }
            } else {
                out.push((c, m));
            }
        }
        for (root, other) in proved {
            let term = runner.egraph.id_to_expr(root);
            if let Some(other) = other {
                self.fire_explained(&mut runner.egraph, &term, &other);
            }
        }
        let before = out.len();
        let out = canon::collect(out);
        if out.len() < before {
            self.fire("like terms are collected");
        }
        out
    }

    /// The smallest factored form of a normal-form expression, if smaller.
    fn factor(&mut self, normal: &Expr) -> Expr {
        if normal.size() > self.limits.max_egraph_input {
            self.note("the expression was too large to factor");
            return normal.clone();
        }
        let mut g = self.graph();
        let root = lang::add_expr(&mut g, normal);
        let rules = factor_laws();
        let mut runner = self.runner(g).run(rules);
        self.record(&runner.stop_reason);
        let g = &runner.egraph;
        let (_, best) = Extractor::new(g, cost::FactorCost).find_best(g.find(root));
        let factored = lang::to_expr(&g.analysis, &best);
        if factored.size() < normal.size() {
            let term = runner.egraph.id_to_expr(root);
            self.fire_explained(&mut runner.egraph, &term, &best);
            factored
        } else {
            normal.clone()
        }
    }
}
