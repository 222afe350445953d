//! A hand-written reader for the grammar in `grammar/matcalc.pest`: the same
//! language, read by the same ordered choices and the same implicit blanks,
//! giving the same trees and spans, without pest's per-rule bookkeeping
//! (about half the time of a small gradient went to it).
//!
//! A call of a name that is not a function (`A(B + C)`) is read as the
//! grammar's tree has it, the name and then a group; the names of the
//! functions come from the table of builtins (`src/builtins.rs`), as they
//! do for the grammar's tree builder.
//!
//! It only ever reads well-formed input. At the first thing it cannot read,
//! and at anything the tree builder would refuse (a long literal, too many
//! postfix operators, a call with the wrong number of arguments), it gives
//! up and `parse` runs the pest grammar, which stays the reference and
//! writes every diagnostic. Each function below is one grammar rule and
//! follows pest's generated code: a sequence skips blanks between its
//! elements, a repetition skips blanks before every item after the first,
//! and a failed alternative or item puts the position back.

use super::{
    Item, MAX_LITERAL_DIGITS, MAX_POSTFIX, MAX_TEN_POWER, climb, normalize_ident, parse_number,
};
use crate::ast::{Ast, AstKind, BinOp, Builtin, Decl, Parsed, PostOp};
use crate::span::Span;

/// Why a rule did not match.
enum Stop {
    /// The rule does not match here; the caller may try something else.
    Fail,
    /// The input is refused whatever follows: leave it to the pest grammar
    /// and its diagnostics.
    Abort,
}

type Read<T> = Result<T, Stop>;

/// The kind words, in the grammar's order.
const KIND_WORDS: [&str; 5] = ["symmetric", "spd", "scalar", "vector", "matrix"];

/// Reads a whole input (rule `main`), or `None` to leave it to pest.
pub(super) fn parse(src: &str) -> Option<Parsed> {
    let mut r = Reader { src, pos: 0 };
    r.main().ok()
}

/// Reads the declarations of a `--where` option (rule `decls_only`).
pub(super) fn parse_decls(src: &str) -> Option<Vec<Decl>> {
    let mut r = Reader { src, pos: 0 };
    r.skip();
    let decls = r.decl_list().ok()?;
    r.skip();
    r.at_end().then_some(decls)
}

fn is_greek(c: char) -> bool {
    ('α'..='ω').contains(&c) || ('Α'..='Ω').contains(&c)
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || is_greek(c)
}

struct Reader<'a> {
    src: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_byte(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos == self.src.len()
    }

    /// `WHITESPACE*`.
    fn skip(&mut self) {
        while matches!(self.peek_byte(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Matches a literal.
    fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Matches a literal or fails.
    fn expect(&mut self, s: &str) -> Read<()> {
        if self.eat(s) { Ok(()) } else { Err(Stop::Fail) }
    }

    /// Matches one character that `ok` accepts.
    fn eat_char(&mut self, ok: impl Fn(char) -> bool) -> bool {
        match self.peek() {
            Some(c) if ok(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    /// `!ident_char`.
    fn no_ident_char(&self) -> bool {
        !self.peek().is_some_and(is_ident_char)
    }

    /// `ASCII_DIGIT+`.
    fn digits(&mut self) -> bool {
        let start = self.pos;
        while self.peek_byte().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// `unsigned = _{ ASCII_DIGIT+ ~ ("." ~ ASCII_DIGIT+)? | "." ~ ASCII_DIGIT+ }`, atomic.
    fn unsigned(&mut self) -> bool {
        if !self.digits() {
            let save = self.pos;
            if self.eat(".") && self.digits() {
                return true;
            }
            self.pos = save;
            return false;
        }
        let save = self.pos;
        if !(self.eat(".") && self.digits()) {
            self.pos = save;
        }
        true
    }

    /// Runs `f`, putting the position back when it fails.
    fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> Read<T>) -> Read<T> {
        let save = self.pos;
        let out = f(self);
        if out.is_err() {
            self.pos = save;
        }
        out
    }

    /// A repetition `item*` after its first item: blanks, then an item,
    /// until one fails (a failure aborts everything only when it says so).
    fn repeat(&mut self, mut item: impl FnMut(&mut Self) -> Read<()>) -> Read<()> {
        loop {
            let save = self.pos;
            self.skip();
            match item(self) {
                Ok(()) => {}
                Err(Stop::Fail) => {
                    self.pos = save;
                    return Ok(());
                }
                Err(Stop::Abort) => return Err(Stop::Abort),
            }
        }
    }

    /// `main = { SOI ~ expr ~ where_clause? ~ EOI }`.
    fn main(&mut self) -> Read<Parsed> {
        self.skip();
        let expr = self.expr()?;
        self.skip();
        let items = match self.attempt(Self::where_clause) {
            Ok(items) => items,
            Err(Stop::Fail) => Vec::new(),
            Err(Stop::Abort) => return Err(Stop::Abort),
        };
        self.skip();
        if !self.at_end() {
            return Err(Stop::Fail);
        }
        // a binding the tree builder refuses is the grammar's to report
        super::resolve(expr, items, self.src).map_err(|_| Stop::Abort)
    }

    /// `expr = { operand ~ (infix? ~ operand)* }`, with precedence resolved
    /// as `build_expr` does.
    fn expr(&mut self) -> Read<Ast> {
        crate::stack::grow(|| {
            let mut operands = vec![self.operand()?];
            let mut ops: Vec<(BinOp, Span)> = Vec::new();
            self.skip();
            let mut first = true;
            loop {
                let save = self.pos;
                if !first {
                    self.skip();
                }
                first = false;
                let op = self.infix();
                self.skip();
                let start = self.pos;
                match self.operand() {
                    Ok(a) => {
                        ops.push(op.unwrap_or((BinOp::Mul, Span::new(start, start))));
                        operands.push(a);
                    }
                    Err(Stop::Fail) => {
                        self.pos = save;
                        break;
                    }
                    Err(Stop::Abort) => return Err(Stop::Abort),
                }
            }
            Ok(climb(operands, ops))
        })
    }

    /// `infix`: one of the binary operators, or nothing (position kept).
    fn infix(&mut self) -> Option<(BinOp, Span)> {
        let start = self.pos;
        let op = if self.eat("+") {
            BinOp::Add
        } else if self.eat("-") || self.eat("−") {
            BinOp::Sub
        } else if self.eat("*") || self.eat("·") {
            BinOp::Mul
        } else if self.eat("/") {
            BinOp::Div
        } else if self.eat(".*") || self.eat("⊙") {
            BinOp::Hadamard
        } else if self.eat("./") {
            BinOp::HadamardDiv
        } else if self.eat("⊗") {
            BinOp::Kron
        } else {
            return None;
        };
        Some((op, Span::new(start, self.pos)))
    }

    /// `operand = { neg* ~ primary ~ postfix* }`, built as `build_operand`
    /// does.
    fn operand(&mut self) -> Read<Ast> {
        let mut first_neg: Option<Span> = None;
        let mut negs = 0usize;
        let mut first = true;
        loop {
            let save = self.pos;
            if !first {
                self.skip();
            }
            first = false;
            let start = self.pos;
            if self.eat("-") || self.eat("−") {
                negs += 1;
                first_neg.get_or_insert(Span::new(start, self.pos));
            } else {
                self.pos = save;
                break;
            }
        }
        self.skip();
        let mut node = self.primary()?;
        self.skip();
        let mut postfixes = 0usize;
        let mut last_exponent = false;
        let mut first = true;
        loop {
            let save = self.pos;
            if !first {
                self.skip();
            }
            first = false;
            let start = self.pos;
            match self.postfix() {
                Ok(op) => {
                    // `a^b^c` is refused by the grammar's tree builder
                    let exponent = match &op {
                        PostOp::Power(_) | PostOp::ElemPower(_) => true,
                        PostOp::Inverse => self.src[start..].starts_with('^'),
                        _ => false,
                    };
                    if exponent && last_exponent {
                        return Err(Stop::Abort);
                    }
                    last_exponent = exponent;
                    postfixes += 1;
                    if postfixes > MAX_POSTFIX {
                        return Err(Stop::Abort);
                    }
                    let op_span = Span::new(start, self.pos);
                    let span = node.span.join(op_span);
                    node = Ast {
                        kind: AstKind::Postfix {
                            op,
                            op_span,
                            arg: Box::new(node),
                        },
                        span,
                    };
                }
                Err(Stop::Fail) => {
                    self.pos = save;
                    break;
                }
                Err(Stop::Abort) => return Err(Stop::Abort),
            }
        }
        if negs % 2 == 1 {
            let span = first_neg.expect("a minus was read").join(node.span);
            node = Ast {
                kind: AstKind::Neg(Box::new(node)),
                span,
            };
        }
        Ok(node)
    }

    /// `primary = _{ number | call | ident | group }`.
    fn primary(&mut self) -> Read<Ast> {
        let start = self.pos;
        if self.unsigned() {
            // `("e" | "E") ~ ("+" | "-")? ~ ASCII_DIGIT+`, if it follows
            let save = self.pos;
            if self.eat("e") || self.eat("E") {
                if !self.eat("+") {
                    self.eat("-");
                }
                if !self.digits() {
                    self.pos = save;
                }
            }
            let span = Span::new(start, self.pos);
            if super::check_leading_dot(span, self.src).is_err() {
                return Err(Stop::Abort);
            }
            let text = &self.src[start..self.pos];
            return Ok(Ast {
                kind: AstKind::Number(literal(text)?),
                span,
            });
        }
        match self.attempt(Self::call) {
            Err(Stop::Fail) => {}
            done => return done,
        }
        if let Some(name) = self.ident() {
            return Ok(Ast {
                kind: AstKind::Ident(name),
                span: Span::new(start, self.pos),
            });
        }
        self.bracketed("(", ")")
    }

    /// `open ~ expr ~ close`, as a group spanning the brackets (position
    /// kept when it fails).
    fn bracketed(&mut self, open: &str, close: &str) -> Read<Ast> {
        let start = self.pos;
        let inner = self.attempt(|r| {
            r.expect(open)?;
            r.skip();
            let inner = r.expr()?;
            r.skip();
            r.expect(close)?;
            Ok(inner)
        })?;
        Ok(Ast {
            kind: AstKind::Group(Box::new(inner)),
            span: Span::new(start, self.pos),
        })
    }

    /// `item ~ (comma ~ item)*`.
    fn comma_list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Read<T>) -> Read<Vec<T>> {
        let mut items = vec![item(self)?];
        self.skip();
        self.repeat(|r| {
            r.expect(",")?;
            r.skip();
            items.push(item(r)?);
            Ok(())
        })?;
        Ok(items)
    }

    /// A name that the table of builtins knows as a function: the word of
    /// letters and digits here (with no subscript: no function has one).
    fn func_name(&mut self) -> Option<Builtin> {
        let rest = self.rest();
        if !rest.as_bytes().first().is_some_and(u8::is_ascii_lowercase) {
            return None;
        }
        let len = rest
            .char_indices()
            .find(|&(_, c)| !is_ident_char(c))
            .map_or(rest.len(), |(i, _)| i);
        if rest[len..].starts_with('_') {
            return None;
        }
        let func = crate::builtins::lookup(&rest[..len])?;
        self.pos += len;
        Some(func)
    }

    /// `glued_only ~ WHITESPACE` for the name read from `start` to here:
    /// a function's name that is also a constant, before a blank (`ones (`
    /// is never a call).
    fn glued_only(&self, start: usize) -> bool {
        crate::builtins::GLUED_ONLY.contains(&&self.src[start..self.pos])
            && matches!(self.peek_byte(), Some(b' ' | b'\t' | b'\r' | b'\n'))
    }

    /// `call = { call_name ~ lparen ~ expr ~ (comma ~ expr)* ~ rparen }` for
    /// a function's name; a call of another name is read as the grammar's
    /// tree has it, a name (`ident`) and then a group.
    fn call(&mut self) -> Read<Ast> {
        let start = self.pos;
        let func = self.func_name().ok_or(Stop::Fail)?;
        let name_span = Span::new(start, self.pos);
        if self.glued_only(start) {
            return Err(Stop::Fail);
        }
        self.skip();
        self.expect("(")?;
        self.skip();
        let args = self.comma_list(Self::expr)?;
        self.skip();
        self.expect(")")?;
        if args.len() != func.arity() {
            return Err(Stop::Abort);
        }
        Ok(Ast {
            kind: AstKind::Call {
                func,
                name_span,
                args,
            },
            span: Span::new(start, self.pos),
        })
    }

    /// `ident`: not the keyword, not a function's name before `(`; a letter,
    /// letters and digits, and an optional subscript. Returns the name with
    /// `E_{ij}` written `E_ij`.
    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        if self.func_name().is_some() {
            let glued_only = self.glued_only(start);
            self.skip();
            let call = !glued_only && self.peek_byte() == Some(b'(');
            self.pos = start;
            if call {
                return None;
            }
        }
        self.name_text()
    }

    /// `name`: not the keyword; a letter, letters and digits, and an
    /// optional subscript (`E_{ij}` written `E_ij`).
    fn name_text(&mut self) -> Option<String> {
        let start = self.pos;
        if self.eat("where") {
            let keyword = self.no_ident_char();
            self.pos = start;
            if keyword {
                return None;
            }
        }
        if !self.eat_char(|c| c.is_ascii_alphabetic() || is_greek(c)) {
            return None;
        }
        while self.eat_char(is_ident_char) {}
        let save = self.pos;
        if self.eat("_") {
            let braced = self.eat("{");
            let mut any = false;
            while self.eat_char(|c| c.is_ascii_alphanumeric()) {
                any = true;
            }
            if !any || (braced && !self.eat("}")) {
                self.pos = save;
            }
        }
        Some(normalize_ident(&self.src[start..self.pos]))
    }

    /// `postfix = _{ inv_transpose | inverse | transpose | power | epower }`.
    fn postfix(&mut self) -> Read<PostOp> {
        let tee = |r: &mut Self| {
            if r.eat("T") && r.no_ident_char() {
                Ok(())
            } else {
                Err(Stop::Fail)
            }
        };
        let braced = |r: &mut Self, inner: &[&str]| {
            r.expect("{")?;
            for s in inner {
                r.skip();
                r.expect(s)?;
            }
            r.skip();
            r.expect("}")
        };
        // inv_transpose = { "^" ~ ("-" ~ tee | "{" ~ "-" ~ "T" ~ "}") }
        let found = self.attempt(|r| {
            r.expect("^")?;
            r.skip();
            r.attempt(|r| {
                r.expect("-")?;
                r.skip();
                tee(r)
            })
            .or_else(|_| r.attempt(|r| braced(r, &["-", "T"])))
        });
        if found.is_ok() {
            return Ok(PostOp::InverseTranspose);
        }
        // inverse = { "^" ~ ("-" ~ one | "{" ~ "-" ~ "1" ~ "}") | "⁻¹" }
        let found = self.attempt(|r| {
            r.expect("^")?;
            r.skip();
            r.attempt(|r| {
                r.expect("-")?;
                r.skip();
                r.expect("1")?;
                match r.peek_byte() {
                    Some(b'0'..=b'9' | b'.') => Err(Stop::Fail),
                    _ => Ok(()),
                }
            })
            .or_else(|_| r.attempt(|r| braced(r, &["-", "1"])))
        });
        if found.is_ok() || self.eat("⁻¹") {
            return Ok(PostOp::Inverse);
        }
        // transpose = { "^" ~ (tee | "{" ~ "T" ~ "}") | "'" | "ᵀ" }
        let found = self.attempt(|r| {
            r.expect("^")?;
            r.skip();
            r.attempt(tee).or_else(|_| r.attempt(|r| braced(r, &["T"])))
        });
        if found.is_ok() || self.eat("'") || self.eat("ᵀ") {
            return Ok(PostOp::Transpose);
        }
        // power = { "^" ~ exponent }, epower = { ".^" ~ exponent }
        for (mark, elementwise) in [("^", false), (".^", true)] {
            let start = self.pos;
            if self.eat(mark) {
                self.skip();
                match self.exponent() {
                    Ok(e) => {
                        let e = Box::new(e);
                        return Ok(if elementwise {
                            PostOp::ElemPower(e)
                        } else {
                            PostOp::Power(e)
                        });
                    }
                    Err(Stop::Fail) => self.pos = start,
                    Err(Stop::Abort) => return Err(Stop::Abort),
                }
            }
        }
        Err(Stop::Fail)
    }

    /// `exponent = { signed_number | lparen ~ expr ~ rparen | "{" ~ expr ~ "}" | exp_name }`,
    /// built as `build_exponent` does.
    fn exponent(&mut self) -> Read<Ast> {
        let start = self.pos;
        let neg = self.eat("-") || self.eat("−");
        let digits_at = self.pos;
        if self.unsigned() {
            let value = literal(&self.src[digits_at..self.pos])?;
            return Ok(Ast {
                kind: AstKind::Number(if neg { -value } else { value }),
                span: Span::new(start, self.pos),
            });
        }
        self.pos = start;
        match self.bracketed("(", ")") {
            Err(Stop::Fail) => {}
            done => return done,
        }
        match self.bracketed("{", "}") {
            Err(Stop::Fail) => {}
            done => return done,
        }
        if let Some(name) = self.exp_name() {
            return Ok(Ast {
                kind: AstKind::Ident(name),
                span: Span::new(start, self.pos),
            });
        }
        // neg_exponent = { neg ~ (lparen ~ expr ~ rparen | "{" ~ expr ~ "}" | exp_name) }
        if self.eat("-") || self.eat("−") {
            self.skip();
            let body = self.pos;
            let arg = match self.bracketed("(", ")") {
                Err(Stop::Fail) => match self.bracketed("{", "}") {
                    Err(Stop::Fail) => match self.exp_name() {
                        Some(name) => Ok(Ast {
                            kind: AstKind::Ident(name),
                            span: Span::new(body, self.pos),
                        }),
                        None => Err(Stop::Fail),
                    },
                    done => done,
                },
                done => done,
            };
            match arg {
                Ok(arg) => {
                    return Ok(Ast {
                        kind: AstKind::Neg(Box::new(arg)),
                        span: Span::new(start, self.pos),
                    });
                }
                Err(Stop::Abort) => return Err(Stop::Abort),
                Err(Stop::Fail) => {}
            }
        }
        self.pos = start;
        Err(Stop::Fail)
    }

    /// `exp_name = @{ name ~ !"(" }` (position kept when it fails).
    fn exp_name(&mut self) -> Option<String> {
        let start = self.pos;
        if let Some(name) = self.name_text()
            && self.peek_byte() != Some(b'(')
        {
            return Some(name);
        }
        self.pos = start;
        None
    }

    /// `where_clause = { where_kw ~ where_item ~ (comma ~ where_item)* }`.
    fn where_clause(&mut self) -> Read<Vec<Item>> {
        self.expect("where")?;
        if !self.no_ident_char() {
            return Err(Stop::Fail);
        }
        self.skip();
        self.comma_list(Self::where_item)
    }

    /// `where_item = _{ binding | decl }`.
    fn where_item(&mut self) -> Read<Item> {
        match self.attempt(Self::binding) {
            Err(Stop::Fail) => Ok(Item::Decl(self.decl()?)),
            done => done,
        }
    }

    /// `binding = { decl_name ~ equals ~ expr }`.
    fn binding(&mut self) -> Read<Item> {
        let (name, span) = self.name()?;
        self.skip();
        self.expect("=")?;
        self.skip();
        let expr = self.expr()?;
        Ok(Item::Bind { name, span, expr })
    }

    /// `decl_list = { decl ~ (comma ~ decl)* }`.
    fn decl_list(&mut self) -> Read<Vec<Decl>> {
        self.comma_list(Self::decl)
    }

    /// `decl = { ident ~ (comma ~ ident)* ~ colon ~ decl_type }`.
    fn decl(&mut self) -> Read<Decl> {
        let start = self.pos;
        let names = self.comma_list(Self::name)?;
        self.skip();
        self.expect(":")?;
        self.skip();
        let (kinds, dims) = self.decl_type()?;
        Ok(Decl {
            names,
            kinds,
            dims,
            span: Span::new(start, self.pos),
        })
    }

    /// An `ident` with its span.
    fn name(&mut self) -> Read<(String, Span)> {
        let start = self.pos;
        let name = self.ident().ok_or(Stop::Fail)?;
        Ok((name, Span::new(start, self.pos)))
    }

    /// `decl_type = { kind_word+ ~ dims? | dims ~ kind_word* }`: the kind
    /// words and the dimensions.
    #[allow(clippy::type_complexity)]
    fn decl_type(&mut self) -> Read<(Vec<(String, Span)>, Vec<(String, Span)>)> {
        let start = self.pos;
        let mut kinds = Vec::new();
        let mut dims = Vec::new();
        if let Some(k) = self.kind_word() {
            kinds.push(k);
            self.repeat(|r| {
                kinds.push(r.kind_word().ok_or(Stop::Fail)?);
                Ok(())
            })?;
            self.skip();
            let save = self.pos;
            if self.dims(&mut dims).is_err() {
                self.pos = save;
            }
            return Ok((kinds, dims));
        }
        self.pos = start;
        self.dims(&mut dims)?;
        self.skip();
        self.repeat(|r| {
            kinds.push(r.kind_word().ok_or(Stop::Fail)?);
            Ok(())
        })?;
        Ok((kinds, dims))
    }

    /// `kind_word`.
    fn kind_word(&mut self) -> Option<(String, Span)> {
        let start = self.pos;
        let word = KIND_WORDS
            .into_iter()
            .find(|w| self.rest().starts_with(w))?;
        self.pos += word.len();
        if self.no_ident_char() {
            Some((word.to_string(), Span::new(start, self.pos)))
        } else {
            self.pos = start;
            None
        }
    }

    /// `dims = { dim ~ (times ~ dim)? }`, pushing each `dim`.
    fn dims(&mut self, out: &mut Vec<(String, Span)>) -> Read<()> {
        out.push(self.dim().ok_or(Stop::Fail)?);
        self.skip();
        let save = self.pos;
        if self.eat("x") || self.eat("×") {
            self.skip();
            match self.dim() {
                Some(d) => out.push(d),
                None => self.pos = save,
            }
        }
        Ok(())
    }

    /// `dim = @{ ASCII_DIGIT+ | (ASCII_ALPHA | greek) ~ (ASCII_ALPHANUMERIC | greek)* }`.
    fn dim(&mut self) -> Option<(String, Span)> {
        let start = self.pos;
        if !self.digits() {
            if !self.eat_char(|c| c.is_ascii_alphabetic() || is_greek(c)) {
                return None;
            }
            while self.eat_char(is_ident_char) {}
        }
        Some((
            self.src[start..self.pos].to_string(),
            Span::new(start, self.pos),
        ))
    }
}

/// The value of a number literal's digits, refused past the digit limit
/// (and past the exponent limit of scientific notation: the grammar's
/// reader writes both diagnostics).
fn literal(text: &str) -> Read<num_rational::BigRational> {
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if digits > MAX_LITERAL_DIGITS
        || super::exponent_of(text).is_some_and(|e| e.abs() > MAX_TEN_POWER)
    {
        return Err(Stop::Abort);
    }
    Ok(parse_number(text))
}
