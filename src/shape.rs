//! Shapes: kinds by naming convention and declarations, symbolic dimensions,
//! and their inference by unification.
//!
//! Every value is a matrix with symbolic dimensions; a column vector is
//! `n×1` and a scalar `1×1`. A dimension is a positive integer times a
//! product of named sizes (`vec(X)` of an `n×m` matrix is `nm×1`). Inferred
//! size variables never unify with 1, so a name's kind (scalar, vector,
//! matrix) is fixed the moment it is seen: that is what lets `x y` be an
//! error rather than a silent scalar `y`.

use std::fmt;
use std::rc::Rc;

/// A dimension: `factor` times the product of `names` (sorted, with repeats).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Dim {
    /// The integer factor (1 for a plain named size).
    pub factor: u64,
    /// The named sizes multiplied together, sorted.
    pub names: Vec<Rc<str>>,
}

impl Dim {
    /// The dimension 1.
    pub fn one() -> Dim {
        Dim::lit(1)
    }

    /// A literal size.
    pub fn lit(n: u64) -> Dim {
        Dim {
            factor: n,
            names: Vec::new(),
        }
    }

    /// A named size such as `n`.
    pub fn named(name: &str) -> Dim {
        Dim {
            factor: 1,
            names: vec![Rc::from(name)],
        }
    }

    /// Whether this is the literal 1.
    pub fn is_one(&self) -> bool {
        self.factor == 1 && self.names.is_empty()
    }

    /// The product of two dimensions (`None` on overflow).
    pub fn times(&self, other: &Dim) -> Option<Dim> {
        let mut names = self.names.clone();
        names.extend(other.names.iter().cloned());
        names.sort();
        Some(Dim {
            factor: self.factor.checked_mul(other.factor)?,
            names,
        })
    }

    /// The concrete size, given a size for every name.
    pub fn size(&self, lookup: &dyn Fn(&str) -> Option<usize>) -> Option<usize> {
        let mut n = usize::try_from(self.factor).ok()?;
        for name in &self.names {
            n = n.checked_mul(lookup(name)?)?;
        }
        Some(n)
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.names.is_empty() {
            return write!(f, "{}", self.factor);
        }
        let mut parts: Vec<String> = Vec::new();
        if self.factor != 1 {
            parts.push(self.factor.to_string());
        }
        parts.extend(self.names.iter().map(|n| n.to_string()));
        f.write_str(&parts.join("·"))
    }
}

/// The shape of a value: rows × columns.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Shape {
    /// Number of rows.
    pub rows: Dim,
    /// Number of columns.
    pub cols: Dim,
}

impl Shape {
    /// `rows × cols`.
    pub fn new(rows: Dim, cols: Dim) -> Shape {
        Shape { rows, cols }
    }

    /// The 1×1 shape of a scalar.
    pub fn scalar() -> Shape {
        Shape::new(Dim::one(), Dim::one())
    }

    /// An `n×n` shape.
    pub fn square(n: Dim) -> Shape {
        Shape::new(n.clone(), n)
    }

    /// Whether this is 1×1.
    pub fn is_scalar(&self) -> bool {
        self.rows.is_one() && self.cols.is_one()
    }

    /// Whether this is a column vector (`n×1`, n ≠ 1).
    pub fn is_vector(&self) -> bool {
        self.cols.is_one() && !self.rows.is_one()
    }

    /// Whether this is a row vector (`1×n`, n ≠ 1).
    pub fn is_row(&self) -> bool {
        self.rows.is_one() && !self.cols.is_one()
    }

    /// Whether rows and columns are the same dimension.
    pub fn is_square(&self) -> bool {
        self.rows == self.cols
    }

    /// The transposed shape.
    pub fn transpose(&self) -> Shape {
        Shape::new(self.cols.clone(), self.rows.clone())
    }

    /// The length of `vec` of a matrix of this shape (saturating at an
    /// impossible size, which the shape checker rejects before use).
    pub fn vec_len(&self) -> Dim {
        self.rows
            .times(&self.cols)
            .unwrap_or_else(|| Dim::lit(u64::MAX))
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}", self.rows, self.cols)
    }
}

/// A dimension during inference: a factor times size variables, in the
/// order the Kronecker products that made it multiplied them (so that
/// `A ⊗ B + C ⊗ D` unifies A with C and B with D).
#[derive(Clone, Debug)]
pub(crate) struct Term {
    factor: u64,
    vars: Vec<u32>,
}

impl Term {
    pub(crate) fn lit(n: u64) -> Term {
        Term {
            factor: n,
            vars: Vec::new(),
        }
    }

    pub(crate) fn one() -> Term {
        Term::lit(1)
    }

    pub(crate) fn is_one(&self) -> bool {
        self.factor == 1 && self.vars.is_empty()
    }

    pub(crate) fn times(&self, other: &Term) -> Option<Term> {
        let mut vars = self.vars.clone();
        vars.extend(other.vars.iter().copied());
        Some(Term {
            factor: self.factor.checked_mul(other.factor)?,
            vars,
        })
    }

    fn sorted_vars(&self) -> Vec<u32> {
        let mut v = self.vars.clone();
        v.sort_unstable();
        v
    }

    fn single(&self) -> Option<u32> {
        (self.factor == 1 && self.vars.len() == 1).then(|| self.vars[0])
    }
}

/// Equal as products: the same factor and the same variables in any order.
impl PartialEq for Term {
    fn eq(&self, other: &Term) -> bool {
        self.factor == other.factor && self.sorted_vars() == other.sorted_vars()
    }
}

impl Eq for Term {}

/// A shape during inference.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct TShape {
    pub(crate) rows: Term,
    pub(crate) cols: Term,
}

impl TShape {
    pub(crate) fn new(rows: Term, cols: Term) -> TShape {
        TShape { rows, cols }
    }

    pub(crate) fn scalar() -> TShape {
        TShape::new(Term::one(), Term::one())
    }

    pub(crate) fn is_scalar(&self) -> bool {
        self.rows.is_one() && self.cols.is_one()
    }

    pub(crate) fn transpose(&self) -> TShape {
        TShape::new(self.cols.clone(), self.rows.clone())
    }
}

/// What is left of two resolved products once the sizes and the factor
/// they share are divided out, each in its own order.
fn cancel(a: &Term, b: &Term) -> (Term, Term) {
    let mut rest = b.vars.clone();
    let mut left = Vec::new();
    for &v in &a.vars {
        match rest.iter().position(|&w| w == v) {
            Some(i) => {
                rest.remove(i);
            }
            None => left.push(v),
        }
    }
    let g = gcd(a.factor, b.factor).max(1);
    (
        Term {
            factor: a.factor / g,
            vars: left,
        },
        Term {
            factor: b.factor / g,
            vars: rest,
        },
    )
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Size variables and their bindings: a union-find over dimension terms.
///
/// A variable is rigid (a name's size: never 1, so a name's kind is fixed
/// the moment it is seen) or flexible (a size of `ones`, `vector(c)`,
/// `matrix(c)`: it may be 1, and is 1 when nothing fixes it, so that
/// `ones^T x` is a scalar). Unifying a flexible variable with a rigid one
/// binds the flexible one, so flexibility never leaks into a name's size.
#[derive(Clone, Default, Debug)]
pub(crate) struct Unifier {
    bound: Vec<Option<Term>>,
    flexible: Vec<bool>,
    /// Whether the variable is a size the user named (`X: n x m`,
    /// `commutation(n, m)`): unified with an anonymous one, it keeps
    /// its name.
    named: Vec<bool>,
    names: Vec<Rc<str>>,
    reserved: Vec<String>,
    next_name: usize,
}

/// Names given to inferred sizes, in order.
const POOL: [&str; 10] = ["n", "m", "p", "q", "r", "s", "k", "l", "t", "u"];

impl Unifier {
    /// A unifier that will not hand out the `reserved` names (the user's).
    pub(crate) fn new(reserved: Vec<String>) -> Unifier {
        Unifier {
            reserved,
            ..Unifier::default()
        }
    }

    /// A new size variable with the given name, or the next free one.
    pub(crate) fn fresh(&mut self, name: Option<&str>) -> Term {
        self.named.push(name.is_some());
        let name: Rc<str> = match name {
            Some(n) => Rc::from(n),
            None => Rc::from(self.next_free_name().as_str()),
        };
        let id = self.names.len() as u32;
        self.names.push(name);
        self.bound.push(None);
        self.flexible.push(false);
        Term {
            factor: 1,
            vars: vec![id],
        }
    }

    /// A new flexible size variable (see the type's doc): one that may be
    /// 1, and is 1 unless something fixes it.
    pub(crate) fn fresh_flexible(&mut self) -> Term {
        let t = self.fresh(None);
        *self.flexible.last_mut().expect("just pushed") = true;
        t
    }

    /// Whether `t` resolves to 1 or to one unbound flexible variable, so
    /// that [`Unifier::settle_one`] can make it 1.
    pub(crate) fn could_be_one(&self, t: &Term) -> bool {
        let t = self.resolve(t);
        t.is_one() || t.single().is_some_and(|v| self.flexible[v as usize])
    }

    /// Makes `t` 1, if [`Unifier::could_be_one`] says it can be.
    pub(crate) fn settle_one(&mut self, t: &Term) -> bool {
        self.could_be_one(t) && self.unify(t, &Term::one())
    }

    /// Makes every flexible variable that nothing fixed 1.
    pub(crate) fn settle(&mut self) {
        for v in 0..self.bound.len() {
            if self.flexible[v] && self.bound[v].is_none() {
                self.bound[v] = Some(Term::one());
            }
        }
    }

    fn next_free_name(&mut self) -> String {
        loop {
            let i = self.next_name;
            self.next_name += 1;
            let candidate = if i < POOL.len() {
                POOL[i].to_string()
            } else {
                format!("n{}", i - POOL.len() + 1)
            };
            if !self.reserved.contains(&candidate) {
                return candidate;
            }
        }
    }

    /// The term with every bound variable replaced by its binding.
    pub(crate) fn resolve(&self, t: &Term) -> Term {
        let mut out = Term::lit(t.factor);
        for &v in &t.vars {
            let part = match &self.bound[v as usize] {
                Some(b) => self.resolve(b),
                None => Term {
                    factor: 1,
                    vars: vec![v],
                },
            };
            out = out.times(&part).unwrap_or_else(|| Term::lit(u64::MAX));
        }
        out
    }

    /// Makes two dimensions equal, or says they cannot be.
    pub(crate) fn unify(&mut self, a: &Term, b: &Term) -> bool {
        let (a, b) = (self.resolve(a), self.resolve(b));
        if a == b {
            return true;
        }
        let flexible = |v: u32| self.flexible[v as usize];
        let (var, other) = match (a.single(), b.single()) {
            // A flexible variable is bound to a rigid one, never the
            // other way round.
            (Some(x), Some(y)) if flexible(x) != flexible(y) => {
                if flexible(x) {
                    (x, b)
                } else {
                    (y, a)
                }
            }
            // A size the user named keeps its name.
            (Some(x), Some(y)) if self.named[x as usize] != self.named[y as usize] => {
                if self.named[x as usize] {
                    (y, a)
                } else {
                    (x, b)
                }
            }
            // Bind the younger variable to the older, so names stay stable.
            (Some(x), Some(y)) => {
                if x < y {
                    (y, a)
                } else {
                    (x, b)
                }
            }
            (Some(x), None) => (x, b),
            (None, Some(y)) => (y, a),
            (None, None) => {
                // Two products: the sizes and the factor they share cancel
                // (`n·m` is `m·n`, `9` is `3·m` with m = 3); when what is left of one is a single size, it is
                // bound to what is left of the other (`r` to `m·n` in
                // `p (I ⊗ vec(X))`, p of size `m·n·r`).
                let (ra, rb) = cancel(&a, &b);
                if (ra.vars.len() < a.vars.len() || ra.factor < a.factor)
                    && (ra.single().is_some() || rb.single().is_some() || ra == rb)
                {
                    return self.unify(&ra, &rb);
                }
                // Two products of as many sizes: unify them factor by
                // factor, in the order the Kronecker products built them.
                let (a, b) = (ra, rb);
                if a.factor != b.factor || a.vars.len() != b.vars.len() {
                    return false;
                }
                let pairs: Vec<(u32, u32)> =
                    a.vars.iter().copied().zip(b.vars.iter().copied()).collect();
                return pairs.into_iter().all(|(x, y)| {
                    let one = |v| Term {
                        factor: 1,
                        vars: vec![v],
                    };
                    self.unify(&one(x), &one(y))
                });
            }
        };
        if (other.is_one() && !flexible(var)) || other.vars.contains(&var) {
            return false;
        }
        self.bound[var as usize] = Some(other);
        true
    }

    /// Whether unifying `a` with `b` has at most one outcome: not two
    /// products that, once their shared sizes cancel, still have two or
    /// more sizes each (`r·s` and `m·p` unify as r = m and s = p, or as
    /// r = p and s = m).
    pub(crate) fn determined(&self, a: &Term, b: &Term) -> bool {
        let (a, b) = (self.resolve(a), self.resolve(b));
        if a == b {
            return true;
        }
        let (ra, rb) = cancel(&a, &b);
        ra.vars.len() < 2 || rb.vars.len() < 2
    }

    /// Unifies both dimensions of two shapes.
    pub(crate) fn unify_shapes(&mut self, a: &TShape, b: &TShape) -> bool {
        self.unify(&a.rows, &b.rows) && self.unify(&a.cols, &b.cols)
    }

    /// The resolved, named dimension.
    pub(crate) fn dim(&self, t: &Term) -> Dim {
        let t = self.resolve(t);
        let mut names: Vec<Rc<str>> = t
            .vars
            .iter()
            .map(|&v| self.names[v as usize].clone())
            .collect();
        names.sort();
        Dim {
            factor: t.factor,
            names,
        }
    }

    /// The resolved, named shape.
    pub(crate) fn shape(&self, s: &TShape) -> Shape {
        Shape::new(self.dim(&s.rows), self.dim(&s.cols))
    }
}
