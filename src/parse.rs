//! Text → `Ast`: the pest grammar in `grammar/matcalc.pest`, a precedence
//! climber over its flat operand/operator sequences, the bindings of a
//! `where` clause (`p = softmax(W x)`) substituted as they are read (by
//! [`resolve`], shared by both readers), and parse errors in the user's
//! words.
//!
//! The grammar leaves precedence to this file (rather than to pest's
//! `PrattParser`) because juxtaposition is an operator with no token: the
//! climber inserts it between two operands, and every operator keeps its
//! span for later diagnostics. Levels, loosest first (SPEC §2): `+ -`; the
//! product level (juxtaposition, `*`, `/`, `.*`, `./`, `⊗`), left to right;
//! unary minus; then postfix operators (powers, transposes, inverses),
//! applied left to right.
//!
//! The grammar reads every `name(…)` as a call; the names of functions are
//! the table of builtins' (`src/builtins.rs`). A call of any other name is
//! built as that name times a group, the tree the language has always
//! given `A(B + C)`, and where the grammar cannot know that a comma was
//! out of place (`A(B, C)`), this file says so in pest's words.

use crate::ast::{Ast, AstKind, BinOp, Builtin, Decl, Parsed, PostOp};
use crate::span::{Diagnostic, Span};
use num_bigint::BigInt;
use num_rational::BigRational;
use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/matcalc.pest"]
struct Grammar;

/// Deepest bracket nesting accepted; deeper input is refused before pest
/// (which recurses per level) ever sees it.
pub const MAX_NESTING: usize = 200;

/// Most postfix operators (`^T`, `^-1`, powers) on one operand.
pub const MAX_POSTFIX: usize = 64;

fn is_postfix(r: Rule) -> bool {
    matches!(
        r,
        Rule::transpose | Rule::inverse | Rule::inv_transpose | Rule::power | Rule::epower
    )
}

/// Whether a postfix operator raises to an exponent written after a caret
/// (`^2`, `.^b`, `^-1`): two in a row (`2^3^2`) could be read either way,
/// `(2^3)^2` or `2^(3^2)` as mathematics and Python read it, and are
/// refused ([`chained_powers`]). A transpose takes no exponent (`X^2^T`,
/// `X^T^2`, `X^-T^2` have one reading), nor does the superscript `⁻¹`
/// (`X⁻¹^2` is `(X⁻¹)^2`).
pub(crate) fn is_exponent(r: Rule, text: &str) -> bool {
    match r {
        Rule::power | Rule::epower => true,
        Rule::inverse => text.starts_with('^'),
        _ => false,
    }
}

/// The refusal of a second exponent in a row: `a^b^c`.
pub(crate) fn chained_powers(span: Span, src: &str) -> Diagnostic {
    Diagnostic::new("two exponents in a row: which power is taken first?", src)
        .label(span, "a second exponent")
        .help("write `(a^b)^c` or `a^(b^c)`")
}

/// Refuses a number written from its point (`.5`) glued to what comes
/// before it: `x.5` or `2.5.5` has no one reading.
pub(crate) fn check_leading_dot(span: Span, src: &str) -> Result<(), Diagnostic> {
    if !src[span.start..].starts_with('.') {
        return Ok(());
    }
    let glued = src[..span.start]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | ')' | '}' | '\'' | '_'));
    if glued {
        return Err(Diagnostic::new("a number glued to what comes before it", src)
            .label(span, "starts with `.`")
            .help("a number may start with its point (`.5`) only after a blank or an operator; `.*` is the elementwise product"));
    }
    Ok(())
}

/// Most digits in one number literal.
pub const MAX_LITERAL_DIGITS: usize = 100;

/// Refuses a number literal with more than `MAX_LITERAL_DIGITS` digits.
fn check_digits(text: &str, span: Span, src: &str) -> Result<(), Diagnostic> {
    if exponent_of(text).is_some_and(|e| e.abs() > MAX_TEN_POWER) {
        return Err(Diagnostic::new(
            format!("a number's power of ten is limited to ±{MAX_TEN_POWER}"),
            src,
        )
        .label(span, "too large")
        .help("name the constant instead, e.g. `alpha`"));
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if digits > MAX_LITERAL_DIGITS {
        return Err(Diagnostic::new(
            format!("a number has at most {MAX_LITERAL_DIGITS} digits (this one has {digits})"),
            src,
        )
        .label(span, "too long")
        .help("name the constant instead, e.g. `alpha`"));
    }
    Ok(())
}

/// Largest power of ten a number in scientific notation may carry
/// (`1e300`): the number is exact, so `1e100000` would be 100,000 digits.
pub const MAX_TEN_POWER: i64 = 300;

/// The power of ten of a literal in scientific notation (`3` of `2e3`),
/// `None` for a plain literal (and for a power too long to hold, which
/// is past the limit anyway: `i64::MAX`).
fn exponent_of(text: &str) -> Option<i64> {
    let k = text.find(['e', 'E'])?;
    let e = &text[k + 1..];
    Some(e.parse::<i64>().unwrap_or(if e.starts_with('-') {
        i64::MIN + 1
    } else {
        i64::MAX
    }))
}

/// Longest input accepted, in bytes.
pub const MAX_INPUT_LEN: usize = 100_000;

mod fast;

/// Parses an expression with an optional `where` clause.
///
/// Well-formed input is read by a hand-written reader (`parse/fast.rs`);
/// anything else goes to the pest grammar, which writes the diagnostic.
/// Both give the same trees ([`parse_reference`] is the grammar alone).
pub fn parse(src: &str) -> Result<Parsed, Diagnostic> {
    precheck(src)?;
    match fast::parse(src) {
        Some(parsed) => Ok(parsed),
        None => parse_reference(src),
    }
}

/// The hand-written reader alone: `None` for every input it leaves to the
/// grammar (all ill-formed input). Tests hold it to [`parse_reference`].
pub fn parse_fast(src: &str) -> Option<Parsed> {
    precheck(src).ok()?;
    fast::parse(src)
}

/// [`parse_fast`] for the declarations of a `--where` option.
pub fn parse_decls_fast(src: &str) -> Option<Vec<Decl>> {
    precheck(src).ok()?;
    fast::parse_decls(src)
}

/// Parses with the pest grammar alone: the reference that [`parse`]'s
/// hand-written reader is tested against.
pub fn parse_reference(src: &str) -> Result<Parsed, Diagnostic> {
    precheck(src)?;
    let mut pairs = Grammar::parse(Rule::main, src).map_err(|e| parse_error(e, src))?;
    let main = pairs.next().expect("main matched");
    unknown_call_comma(&main, src)?;
    let mut expr = None;
    let mut items = Vec::new();
    for p in main.into_inner() {
        match p.as_rule() {
            Rule::expr => expr = Some(build_expr(p, src)?),
            Rule::where_clause => {
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::decl => items.push(Item::Decl(build_decl(q))),
                        Rule::binding => items.push(build_binding(q, src)?),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    resolve(expr.expect("main holds an expr"), items, src)
}

/// One item of a `where` clause as read.
pub(crate) enum Item {
    /// A declaration: `S: symmetric`.
    Decl(Decl),
    /// A binding: `p = softmax(W x)`.
    Bind {
        /// The bound name.
        name: String,
        /// Where the name is.
        span: Span,
        /// The expression it stands for.
        expr: Ast,
    },
}

fn build_binding(pair: Pair<Rule>, src: &str) -> Result<Item, Diagnostic> {
    let mut name = None;
    let mut expr = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::decl_name => name = Some((normalize_ident(p.as_str()), span_of(&p))),
            Rule::expr => expr = Some(build_expr(p, src)?),
            _ => {}
        }
    }
    let (name, span) = name.expect("a binding has a name");
    Ok(Item::Bind {
        name,
        span,
        expr: expr.expect("a binding has an expression"),
    })
}

/// Most nodes an expression (or one binding) may have once its bindings
/// are substituted (bindings that use bindings can double the size per
/// level): twice what the longest input ([`MAX_INPUT_LEN`] bytes) can
/// spell out, so expanding never makes more than typing could, and a
/// derivative of the largest accepted expansion takes about a second.
pub const MAX_BOUND_NODES: u64 = 100_000;

/// The expression with the `where` clause's bindings substituted (each as
/// a parenthesised group, spanning the name it replaces; its nodes keep
/// their spans in the binding), and the declarations. Shared by both
/// readers, so that they agree. A binding may use the names bound before
/// it; it may not use its own name or a later one, bind a name twice,
/// bind a declared name or a built-in's name.
pub(crate) fn resolve(expr: Ast, items: Vec<Item>, src: &str) -> Result<Parsed, Diagnostic> {
    let mut decls = Vec::new();
    let mut binds: Vec<(String, Span, Ast)> = Vec::new();
    for item in items {
        match item {
            Item::Decl(d) => decls.push(d),
            Item::Bind { name, span, expr } => binds.push((name, span, expr)),
        }
    }
    if binds.is_empty() {
        return Ok(Parsed { expr, decls });
    }
    let refuse = |msg: String, span: Span, label: &str, help: &str| {
        Err(Diagnostic::new(msg, src).label(span, label).help(help))
    };
    for (i, (name, span, _)) in binds.iter().enumerate() {
        if Builtin::from_name(name).is_some() || matches!(name.as_str(), "I" | "eye" | "ones") {
            return refuse(
                format!("`{name}` is a built-in name and cannot be bound"),
                *span,
                "a built-in",
                "bind another name, such as `p`",
            );
        }
        if binds[..i].iter().any(|(n, _, _)| n == name) {
            return refuse(
                format!("`{name}` is bound twice"),
                *span,
                "bound again here",
                "give each binding its own name",
            );
        }
        if decls.iter().any(|d| d.names.iter().any(|(n, _)| n == name)) {
            return refuse(
                format!("`{name}` is both bound and declared"),
                *span,
                "bound here",
                "a bound name takes the kind of its expression: drop its declaration",
            );
        }
    }
    // Sizes first, bottom-up: the size of each binding once expanded is
    // known from the sizes of the ones before it, before anything is
    // copied, so a chain that doubles per binding (`p1 = p0 + p0`, …) is
    // refused at the first binding past the limit, in time linear in the
    // input. Only the main expression is then expanded, once.
    let mut bound: Vec<(String, Ast, u64)> = Vec::new();
    for (i, (name, span, e)) in binds.iter().enumerate() {
        if let Some((used, at)) = first_ident(e, |n| binds[i..].iter().any(|(b, _, _)| b == n)) {
            return refuse(
                format!("the binding of `{name}` uses `{used}`, which is not bound before it"),
                at,
                "bound later or by this binding",
                "a binding may use only the names bound before it",
            );
        }
        let size = bound_size(e, &bound);
        if size > MAX_BOUND_NODES {
            return refuse(
                format!("the binding of `{name}` expands past {MAX_BOUND_NODES} nodes"),
                span.join(e.span),
                "too large once expanded",
                "bindings that use a binding twice double in size: differentiate a smaller expression",
            );
        }
        bound.push((name.clone(), deep_clone(e), size));
    }
    let mut expr = expr;
    if bound_size(&expr, &bound) > MAX_BOUND_NODES {
        return refuse(
            format!("the bindings expand the expression past {MAX_BOUND_NODES} nodes"),
            expr.span,
            "too large once expanded",
            "differentiate a smaller expression",
        );
    }
    substitute(&mut expr, &bound);
    Ok(Parsed { expr, decls })
}

/// The first name that `pick` accepts in `e`, with its span.
fn first_ident(e: &Ast, pick: impl Fn(&str) -> bool + Copy) -> Option<(String, Span)> {
    let mut stack = vec![e];
    while let Some(a) = stack.pop() {
        if let AstKind::Ident(n) = &a.kind
            && pick(n)
        {
            return Some((n.clone(), a.span));
        }
        push_children(a, &mut stack);
    }
    None
}

fn push_children<'a>(a: &'a Ast, stack: &mut Vec<&'a Ast>) {
    match &a.kind {
        AstKind::Number(_) | AstKind::Ident(_) => {}
        AstKind::Call { args, .. } => stack.extend(args.iter().rev()),
        AstKind::Neg(x) | AstKind::Group(x) => stack.push(x),
        AstKind::Binary { lhs, rhs, .. } => {
            stack.push(rhs);
            stack.push(lhs);
        }
        AstKind::Postfix { op, arg, .. } => {
            if let PostOp::Power(x) | PostOp::ElemPower(x) = op {
                stack.push(x);
            }
            stack.push(arg);
        }
    }
}

/// The nodes of `e` once `bound`'s names (with their sizes) are
/// substituted, saturating.
/// The number of nodes of `e` once every name that `size_of` knows is
/// replaced by its expression of that many nodes (saturating).
pub(crate) fn expanded_size(e: &Ast, size_of: impl Fn(&str) -> Option<u64>) -> u64 {
    let mut size = 0u64;
    let mut stack = vec![e];
    while let Some(a) = stack.pop() {
        size = size.saturating_add(match &a.kind {
            AstKind::Ident(n) => size_of(n).map_or(1, |s| s.saturating_add(1)),
            _ => 1,
        });
        push_children(a, &mut stack);
    }
    size
}

fn bound_size(e: &Ast, bound: &[(String, Ast, u64)]) -> u64 {
    let mut size = 0u64;
    let mut stack = vec![e];
    while let Some(a) = stack.pop() {
        size = size.saturating_add(match &a.kind {
            AstKind::Ident(n) => bound
                .iter()
                .find(|(b, _, _)| b == n)
                .map_or(1, |(_, _, s)| s.saturating_add(1)),
            _ => 1,
        });
        push_children(a, &mut stack);
    }
    size
}

/// Replaces every name of `bound` in `e` by its expression, in parentheses,
/// itself expanded (each binding's expression may use the ones before it).
fn substitute(e: &mut Ast, bound: &[(String, Ast, u64)]) {
    crate::stack::grow(|| match &mut e.kind {
        AstKind::Number(_) => {}
        AstKind::Ident(n) => {
            if let Some(k) = bound.iter().position(|(name, _, _)| name == n) {
                // a binding's expression uses only the bindings before it
                let mut b = deep_clone(&bound[k].1);
                substitute(&mut b, &bound[..k]);
                e.kind = AstKind::Group(Box::new(b));
            }
        }
        AstKind::Call { args, .. } => args.iter_mut().for_each(|a| substitute(a, bound)),
        AstKind::Neg(x) | AstKind::Group(x) => substitute(x, bound),
        AstKind::Binary { lhs, rhs, .. } => {
            substitute(lhs, bound);
            substitute(rhs, bound);
        }
        AstKind::Postfix { op, arg, .. } => {
            if let PostOp::Power(x) | PostOp::ElemPower(x) = op {
                substitute(x, bound);
            }
            substitute(arg, bound);
        }
    })
}

/// A clone that grows the stack as it goes (a long input is a deep tree).
fn deep_clone(a: &Ast) -> Ast {
    crate::stack::grow(|| {
        let kind = match &a.kind {
            AstKind::Number(n) => AstKind::Number(n.clone()),
            AstKind::Ident(n) => AstKind::Ident(n.clone()),
            AstKind::Call {
                func,
                name_span,
                args,
            } => AstKind::Call {
                func: *func,
                name_span: *name_span,
                args: args.iter().map(deep_clone).collect(),
            },
            AstKind::Neg(x) => AstKind::Neg(Box::new(deep_clone(x))),
            AstKind::Group(x) => AstKind::Group(Box::new(deep_clone(x))),
            AstKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => AstKind::Binary {
                op: *op,
                op_span: *op_span,
                lhs: Box::new(deep_clone(lhs)),
                rhs: Box::new(deep_clone(rhs)),
            },
            AstKind::Postfix { op, op_span, arg } => AstKind::Postfix {
                op: match op {
                    PostOp::Power(x) => PostOp::Power(Box::new(deep_clone(x))),
                    PostOp::ElemPower(x) => PostOp::ElemPower(Box::new(deep_clone(x))),
                    other => other.clone(),
                },
                op_span: *op_span,
                arg: Box::new(deep_clone(arg)),
            },
        };
        Ast { kind, span: a.span }
    })
}

/// Parses the declarations of a `--where` option (without the keyword).
pub fn parse_decls(src: &str) -> Result<Vec<Decl>, Diagnostic> {
    precheck(src).map_err(|d| d.origin(crate::span::Origin::Where))?;
    match fast::parse_decls(src) {
        Some(decls) => Ok(decls),
        None => parse_decls_reference(src),
    }
}

/// [`parse_decls`] with the pest grammar alone.
pub fn parse_decls_reference(src: &str) -> Result<Vec<Decl>, Diagnostic> {
    precheck(src).map_err(|d| d.origin(crate::span::Origin::Where))?;
    let mut pairs = Grammar::parse(Rule::decls_only, src)
        .map_err(|e| parse_error(e, src).origin(crate::span::Origin::Where))?;
    let top = pairs.next().expect("decls_only matched");
    Ok(top
        .into_inner()
        .find(|p| p.as_rule() == Rule::decl_list)
        .map(build_decls)
        .unwrap_or_default())
}

/// Refuses inputs that are too long or nested too deeply, before parsing.
fn precheck(src: &str) -> Result<(), Diagnostic> {
    if src.len() > MAX_INPUT_LEN {
        return Err(Diagnostic::new(
            format!(
                "the input is too long ({} bytes; at most {MAX_INPUT_LEN})",
                src.len()
            ),
            "",
        ));
    }
    // printable ASCII is never invisible: only other characters are looked at
    let visible = |b: &u8| (b' '..=b'~').contains(b) || matches!(b, b'\t' | b'\n' | b'\r');
    if !src.as_bytes().iter().all(visible)
        && let Some((i, c)) = src.char_indices().find(|&(_, c)| is_invisible(c))
    {
        return Err(Diagnostic::new(
            format!("invisible character U+{:04X} in the input", c as u32),
            src,
        )
        .label(Span::new(i, i + c.len_utf8()), "remove this character"));
    }
    let mut depth = 0usize;
    for (i, &c) in src.as_bytes().iter().enumerate() {
        match c {
            b'(' | b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::new(
                        format!("brackets are nested too deeply (more than {MAX_NESTING} levels)"),
                        src,
                    )
                    .label(Span::new(i, i + 1), "this bracket is too deep"));
                }
            }
            b')' | b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Zero-width, bidirectional-control and other invisible characters.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{7f}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{ad}')
}

fn span_of(p: &Pair<Rule>) -> Span {
    let s = p.as_span();
    Span::new(s.start(), s.end())
}

fn build_expr(pair: Pair<Rule>, src: &str) -> Result<Ast, Diagnostic> {
    crate::stack::grow(|| {
        let mut operands = Vec::new();
        let mut ops: Vec<(BinOp, Span)> = Vec::new();
        let mut pending: Option<(BinOp, Span)> = None;
        for p in pair.into_inner() {
            let op = match p.as_rule() {
                Rule::operand => {
                    let start = p.as_span().start();
                    let (factor, operand) = build_operand(p, src)?;
                    // a name before a group is one more operand, juxtaposed
                    // with the group where the group starts
                    let group_start = factor.as_ref().map(|_| operand.span.start);
                    let starts = [start].into_iter().chain(group_start);
                    for (node, start) in factor.into_iter().chain([operand]).zip(starts) {
                        if !operands.is_empty() {
                            let op = pending
                                .take()
                                .unwrap_or((BinOp::Mul, Span::new(start, start)));
                            ops.push(op);
                        }
                        operands.push(node);
                    }
                    continue;
                }
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                Rule::mul => BinOp::Mul,
                Rule::div => BinOp::Div,
                Rule::hadamard => BinOp::Hadamard,
                Rule::hdiv => BinOp::HadamardDiv,
                Rule::kron_op => BinOp::Kron,
                r => unreachable!("unexpected {r:?} in expr"),
            };
            pending = Some((op, span_of(&p)));
        }
        Ok(climb(operands, ops))
    })
}

/// Two-level left-associative precedence climbing.
fn climb(operands: Vec<Ast>, ops: Vec<(BinOp, Span)>) -> Ast {
    let mut operands = operands.into_iter();
    let mut current = operands.next().expect("an expr has an operand");
    let mut terms: Vec<(Option<(BinOp, Span)>, Ast)> = Vec::new();
    let mut pending_add: Option<(BinOp, Span)> = None;
    for ((op, op_span), rhs) in ops.into_iter().zip(operands) {
        if matches!(op, BinOp::Add | BinOp::Sub) {
            terms.push((pending_add.take(), current));
            pending_add = Some((op, op_span));
            current = rhs;
        } else {
            current = binary(op, op_span, current, rhs);
        }
    }
    terms.push((pending_add, current));
    let mut terms = terms.into_iter();
    let (_, mut acc) = terms.next().expect("one term");
    for (op, rhs) in terms {
        let (op, op_span) = op.expect("later terms have an operator");
        acc = binary(op, op_span, acc, rhs);
    }
    acc
}

fn binary(op: BinOp, op_span: Span, lhs: Ast, rhs: Ast) -> Ast {
    let span = lhs.span.join(rhs.span);
    Ast {
        kind: AstKind::Binary {
            op,
            op_span,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span,
    }
}

/// An operand, and before it the name of a call that is not a function
/// (with the operand's minus signs): `-A(B)^T` is read as `(-A) (B)^T`, as
/// a name before a group always was.
type Operand = (Option<Ast>, Ast);

fn build_operand(pair: Pair<Rule>, src: &str) -> Result<Operand, Diagnostic> {
    let mut negs = Vec::new();
    let mut node: Option<Ast> = None;
    let mut factor: Option<Ast> = None;
    let mut postfixes = 0usize;
    let mut last_exponent = false;
    for p in pair.into_inner() {
        let span = span_of(&p);
        if is_postfix(p.as_rule()) {
            let exponent = is_exponent(p.as_rule(), p.as_str());
            if exponent && last_exponent {
                return Err(chained_powers(span, src));
            }
            last_exponent = exponent;
            postfixes += 1;
            if postfixes > MAX_POSTFIX {
                return Err(Diagnostic::new(
                    format!("too many postfix operators in a row (more than {MAX_POSTFIX})"),
                    src,
                )
                .label(span, "one too many")
                .help("group with parentheses, or simplify: (A^T)^T is A"));
            }
        }
        match p.as_rule() {
            Rule::neg => negs.push(span),
            Rule::number => {
                check_digits(p.as_str(), span, src)?;
                check_leading_dot(span, src)?;
                node = Some(Ast {
                    kind: AstKind::Number(parse_number(p.as_str())),
                    span,
                })
            }
            Rule::ident => {
                node = Some(Ast {
                    kind: AstKind::Ident(normalize_ident(p.as_str())),
                    span,
                })
            }
            Rule::group => node = Some(build_group(p, src)?),
            Rule::call => match build_call(p, src)? {
                Call::Builtin(call) => node = Some(call),
                Call::Product(name, group) => {
                    factor = Some(name);
                    node = Some(group);
                }
            },
            Rule::transpose | Rule::inverse | Rule::inv_transpose | Rule::power | Rule::epower => {
                let arg = node.take().expect("postfix follows a primary");
                let op = match p.as_rule() {
                    Rule::transpose => PostOp::Transpose,
                    Rule::inverse => PostOp::Inverse,
                    Rule::inv_transpose => PostOp::InverseTranspose,
                    rule => {
                        let exponent = p
                            .clone()
                            .into_inner()
                            .find(|q| q.as_rule() == Rule::exponent)
                            .expect("a power has an exponent");
                        let e = Box::new(build_exponent(exponent, src)?);
                        if rule == Rule::power {
                            PostOp::Power(e)
                        } else {
                            PostOp::ElemPower(e)
                        }
                    }
                };
                let whole = arg.span.join(span);
                node = Some(Ast {
                    kind: AstKind::Postfix {
                        op,
                        op_span: span,
                        arg: Box::new(arg),
                    },
                    span: whole,
                });
            }
            r => unreachable!("unexpected {r:?} in operand"),
        }
    }
    let node = node.expect("an operand has a primary");
    // --A is A: keep one minus for an odd count, so that a long run of
    // minus signs does not build a deep tree.
    let negate = |node: Ast| {
        if negs.len() % 2 == 1 {
            let span = negs[0].join(node.span);
            Ast {
                kind: AstKind::Neg(Box::new(node)),
                span,
            }
        } else {
            node
        }
    };
    Ok(match factor {
        Some(name) => (Some(negate(name)), node),
        None => (None, negate(node)),
    })
}

fn build_group(pair: Pair<Rule>, src: &str) -> Result<Ast, Diagnostic> {
    let span = span_of(&pair);
    let inner = pair
        .into_inner()
        .find(|p| p.as_rule() == Rule::expr)
        .expect("a group holds an expr");
    Ok(Ast {
        kind: AstKind::Group(Box::new(build_expr(inner, src)?)),
        span,
    })
}

/// A call as read: of a built-in function, or of another name, which is
/// that name times the parenthesised argument.
enum Call {
    /// A call of a built-in function.
    Builtin(Ast),
    /// A name that is no function, and the group after it.
    Product(Ast, Ast),
}

fn build_call(pair: Pair<Rule>, src: &str) -> Result<Call, Diagnostic> {
    let span = span_of(&pair);
    let mut name = "";
    let mut name_span = span;
    let mut lparen = span.start;
    let mut args = Vec::new();
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::call_name => {
                name_span = span_of(&p);
                name = p.as_str();
            }
            Rule::lparen => lparen = p.as_span().start(),
            Rule::expr => args.push(build_expr(p, src)?),
            _ => {}
        }
    }
    let Some(func) = Builtin::from_name(name) else {
        // `unknown_call_comma` refused any other number of arguments
        let inner = args.pop().expect("a call has an argument");
        let ident = Ast {
            kind: AstKind::Ident(normalize_ident(name)),
            span: name_span,
        };
        let group = Ast {
            kind: AstKind::Group(Box::new(inner)),
            span: Span::new(lparen, span.end),
        };
        return Ok(Call::Product(ident, group));
    };
    if args.len() != func.arity() {
        let want = func.arity();
        return Err(Diagnostic::new(
            format!(
                "`{}` takes {} argument{}, not {}",
                func.name(),
                want,
                if want == 1 { "" } else { "s" },
                args.len()
            ),
            src,
        )
        .label(
            span,
            format!(
                "{} argument{} given",
                args.len(),
                if args.len() == 1 { "" } else { "s" }
            ),
        ));
    }
    Ok(Call::Builtin(Ast {
        kind: AstKind::Call {
            func,
            name_span,
            args,
        },
        span,
    }))
}

/// The first comma among the arguments of a call whose name is not a
/// function: `A(B, C)` is a name times a group, and a group holds no comma.
/// The grammar reads every call alike, so the refusal is made here, in the
/// words pest would use had it known the name (the comma is unexpected
/// where a `)`, an operand or an operator could be).
fn unknown_call_comma(main: &Pair<Rule>, src: &str) -> Result<(), Diagnostic> {
    let mut first: Option<usize> = None;
    for call in main.clone().into_inner().flatten() {
        if call.as_rule() != Rule::call {
            continue;
        }
        let mut inner = call.into_inner();
        let name = inner.next().expect("a call has a name");
        if Builtin::from_name(name.as_str()).is_some() {
            continue;
        }
        if let Some(comma) = inner.find(|p| p.as_rule() == Rule::comma) {
            let at = comma.as_span().start();
            first = Some(first.map_or(at, |f| f.min(at)));
        }
    }
    match first {
        None => Ok(()),
        Some(at) => Err(error_at(
            at,
            describe(&[Rule::rparen, Rule::operand, Rule::add]),
            src,
        )),
    }
}

fn build_exponent(pair: Pair<Rule>, src: &str) -> Result<Ast, Diagnostic> {
    let span = span_of(&pair);
    let inner = pair.into_inner().find(|p| {
        matches!(
            p.as_rule(),
            Rule::signed_number | Rule::expr | Rule::exp_name | Rule::neg_exponent
        )
    });
    let inner = inner.expect("an exponent holds a number, an expr or a name");
    match inner.as_rule() {
        // `2^-alpha` is `2^(-alpha)`: the minus and what it negates, which
        // is built as an exponent of its own (spanning it alone).
        Rule::neg_exponent => {
            let mut parts = inner.into_inner();
            let after_minus = parts.next().expect("a minus").as_span().end();
            let blanks = src[after_minus..].len()
                - src[after_minus..]
                    .trim_start_matches([' ', '\t', '\r', '\n'])
                    .len();
            let body = Span::new(after_minus + blanks, span.end);
            let target = parts
                .find(|p| matches!(p.as_rule(), Rule::expr | Rule::exp_name))
                .expect("a negated name or group");
            let arg = match target.as_rule() {
                Rule::exp_name => Ast {
                    kind: AstKind::Ident(normalize_ident(target.as_str())),
                    span: body,
                },
                _ => Ast {
                    kind: AstKind::Group(Box::new(build_expr(target, src)?)),
                    span: body,
                },
            };
            Ok(Ast {
                kind: AstKind::Neg(Box::new(arg)),
                span,
            })
        }
        Rule::exp_name => Ok(Ast {
            kind: AstKind::Ident(normalize_ident(inner.as_str())),
            span,
        }),
        Rule::signed_number => {
            let text = inner.as_str();
            check_digits(text, span, src)?;
            let (neg, digits) = match text.strip_prefix('-').or_else(|| text.strip_prefix('−')) {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let value = parse_number(digits);
            Ok(Ast {
                kind: AstKind::Number(if neg { -value } else { value }),
                span,
            })
        }
        _ => Ok(Ast {
            kind: AstKind::Group(Box::new(build_expr(inner, src)?)),
            span,
        }),
    }
}

fn build_decls(pair: Pair<Rule>) -> Vec<Decl> {
    pair.into_inner()
        .filter(|p| p.as_rule() == Rule::decl)
        .map(build_decl)
        .collect()
}

fn build_decl(d: Pair<Rule>) -> Decl {
    let span = span_of(&d);
    let mut decl = Decl {
        names: Vec::new(),
        kinds: Vec::new(),
        dims: Vec::new(),
        span,
    };
    for p in d.into_inner() {
        match p.as_rule() {
            Rule::decl_name => decl.names.push((normalize_ident(p.as_str()), span_of(&p))),
            Rule::decl_type => {
                for q in p.into_inner() {
                    match q.as_rule() {
                        Rule::kind_word => decl.kinds.push((q.as_str().to_string(), span_of(&q))),
                        Rule::dims => {
                            for r in q.into_inner().filter(|r| r.as_rule() == Rule::dim) {
                                decl.dims.push((r.as_str().to_string(), span_of(&r)));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    decl
}

/// `E_{ij}` → `E_ij`.
pub fn normalize_ident(text: &str) -> String {
    text.chars().filter(|&c| c != '{' && c != '}').collect()
}

/// An exact rational from `12` or `0.25`.
fn parse_number(text: &str) -> BigRational {
    if let Some(k) = text.find(['e', 'E']) {
        let mantissa = parse_number(&text[..k]);
        let e = exponent_of(text).unwrap_or(0);
        let ten = num_traits::pow(BigInt::from(10), e.unsigned_abs() as usize);
        return if e < 0 {
            mantissa / BigRational::from_integer(ten)
        } else {
            mantissa * BigRational::from_integer(ten)
        };
    }
    match text.split_once('.') {
        None => BigRational::from_integer(text.parse::<BigInt>().expect("digits")),
        Some((int, frac)) => {
            let digits: BigInt = format!("{int}{frac}").parse().expect("digits");
            let denom = num_traits::pow(BigInt::from(10), frac.len());
            BigRational::new(digits, denom)
        }
    }
}

/// A pest error in the user's words: what was expected, with a caret.
fn parse_error(err: pest::error::Error<Rule>, src: &str) -> Diagnostic {
    let pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let (comma, in_other) = other_calls(src, pos);
    // Had the grammar known which names are functions, it would have
    // stopped at the first comma in another name's parentheses.
    if let Some(at) = comma {
        return error_at(at, describe(&[Rule::rparen, Rule::operand, Rule::add]), src);
    }
    let expected = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            // A comma continues the arguments of a function's call only:
            // after the argument of another name's "call" (a name times a
            // group) it is not expected.
            let mut positives = positives.clone();
            if in_other {
                positives.retain(|r| *r != Rule::comma);
            }
            describe(&positives)
        }
        ErrorVariant::CustomError { message } => message.clone(),
    };
    error_at(pos, expected, src)
}

/// Reads the parentheses before `pos`, each open one marked by whether it
/// follows a name that is not a built-in function (`A(`, `foo (`) rather
/// than a function's (`tr(`) or nothing (a group). Returns the first comma
/// directly inside such another name's parentheses, and whether the
/// innermost parenthesis open at `pos` is one. A name is read back from its
/// `(` as the grammar reads it forward.
fn other_calls(src: &str, pos: usize) -> (Option<usize>, bool) {
    let mut open: Vec<bool> = Vec::new();
    for (i, b) in src.as_bytes()[..pos].iter().enumerate() {
        match b {
            b'(' => {
                let before = src[..i].trim_end_matches([' ', '\t', '\r', '\n']);
                let run_start = before
                    .char_indices()
                    .rev()
                    .take_while(|&(_, c)| is_name_char(c) || matches!(c, '_' | '{' | '}'))
                    .last()
                    .map_or(before.len(), |(i, _)| i);
                let name = last_name(&before[run_start..]);
                open.push(name.is_some_and(|n| Builtin::from_name(n).is_none()));
            }
            b')' => {
                open.pop();
            }
            b',' if open.last() == Some(&true) => return (Some(i), true),
            _ => {}
        }
    }
    (None, open.last() == Some(&true))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ('α'..='ω').contains(&c) || ('Α'..='Ω').contains(&c)
}

/// The name that ends `run` (letters, digits, `_`, braces), read forward
/// as the grammar reads numbers and names, if the run ends with one.
fn last_name(run: &str) -> Option<&str> {
    let mut last = None;
    let mut rest = run;
    while let Some(c) = rest.chars().next() {
        let start = run.len() - rest.len();
        if c.is_ascii_digit() {
            rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            last = None;
        } else if is_name_char(c) {
            rest = rest.trim_start_matches(is_name_char);
            // an optional subscript: `_ij` or `_{ij}`
            if let Some(sub) = rest.strip_prefix('_') {
                let alnum = |c: char| c.is_ascii_alphanumeric();
                if let Some(braced) = sub.strip_prefix('{') {
                    let inner = braced.trim_start_matches(alnum);
                    if inner.len() < braced.len()
                        && let Some(after) = inner.strip_prefix('}')
                    {
                        rest = after;
                    }
                } else if sub.starts_with(alnum) {
                    rest = sub.trim_start_matches(alnum);
                }
            }
            last = Some(&run[start..run.len() - rest.len()]);
        } else {
            rest = &rest[c.len_utf8()..];
            last = None;
        }
    }
    last
}

/// A parse error at byte `pos`: what was expected, with a caret on what was
/// found.
fn error_at(pos: usize, expected: String, src: &str) -> Diagnostic {
    let found = match src[pos..].chars().next() {
        None => "the input ends here".to_string(),
        Some(c) if c.is_ascii() => format!("unexpected `{c}`"),
        Some(c) => format!("unexpected `{c}` (U+{:04X})", c as u32),
    };
    let end = src[pos..]
        .chars()
        .next()
        .map_or(pos, |c| pos + c.len_utf8());
    let mut d =
        Diagnostic::new(format!("expected {expected}"), src).label(Span::new(pos, end), found);
    if src[..pos].trim_end().ends_with('^') {
        d = d.help("after `^` write `T` (transpose), `-1` (inverse), or an exponent such as `2`, `(1/2)` or `b`");
    }
    d
}

/// Plain words for the rules pest says it expected, deduplicated, in a
/// fixed order.
fn describe(rules: &[Rule]) -> String {
    let mut words: Vec<&str> = Vec::new();
    let operand_start = rules.iter().any(|r| {
        matches!(
            r,
            Rule::number
                | Rule::ident
                | Rule::call
                | Rule::call_name
                | Rule::decl_name
                | Rule::group
                | Rule::neg
                | Rule::operand
                | Rule::expr
                | Rule::primary
        )
    });
    // the words for an exponent name its `(` already
    let exponent_start = rules.iter().any(|r| {
        matches!(
            r,
            Rule::exponent | Rule::signed_number | Rule::exp_name | Rule::neg_exponent
        )
    });
    for r in rules {
        let w = match r {
            Rule::rparen => "`)`",
            Rule::lparen if operand_start || exponent_start => continue,
            Rule::lparen => "`(`",
            Rule::comma => "`,`",
            Rule::colon => "`:`",
            Rule::equals => "`=`",
            Rule::EOI => "the end of the input",
            Rule::where_clause | Rule::where_kw => "`where`",
            Rule::add
            | Rule::sub
            | Rule::mul
            | Rule::div
            | Rule::hadamard
            | Rule::hdiv
            | Rule::kron_op
            | Rule::transpose
            | Rule::inverse
            | Rule::inv_transpose
            | Rule::power
            | Rule::epower => "an operator",
            Rule::exponent
            | Rule::signed_number
            | Rule::exp_name
            | Rule::neg_exponent
            | Rule::tee
            | Rule::one => "an exponent (`T`, `-1`, a number, a name or `(`)",
            Rule::kind_word | Rule::decl_type | Rule::dims | Rule::dim => {
                "a kind (`symmetric`, `scalar`, `vector`, `matrix`) or a size such as `n x m`"
            }
            Rule::times => "`x`",
            Rule::decl | Rule::decl_list | Rule::binding => "a declaration such as `S: symmetric`",
            Rule::ident | Rule::decl_name if !operand_start => "a name",
            _ if operand_start => "an operand (a name, a number, a function or `(`)",
            _ => "something else",
        };
        if !words.contains(&w) {
            words.push(w);
        }
    }
    // Fixed order: brackets first, operands, operators, then the end.
    let rank = |w: &&str| match *w {
        "`)`" => 0,
        w if w.starts_with("an operand") => 1,
        "an operator" => 2,
        "the end of the input" => 4,
        _ => 3,
    };
    words.sort_by_key(rank);
    match words.len() {
        0 => "something else".to_string(),
        1 => words[0].to_string(),
        n => format!("{} or {}", words[..n - 1].join(", "), words[n - 1]),
    }
}
