//! The parser: the inverse of [`print`](super::print()), by recursive descent
//! over the tokens of [`lex`](super::lex). One statement per line; blank
//! lines, extra spaces and `//` comments are ignored.
//!
//! ```text
//! graph   := "graph" NAME? "{" stmt* "}"
//! stmt    := ("input" | "param" | "state") %name ":" type
//!          | "const" %name ":" type "=" literal
//!          | %name ":" type "=" OP (item ("," item)*)?
//!          | "output" NAME "=" %name
//!          | "update" %name "<-" %name
//! type    := "f32" "[" ints? "]"
//! item    := %name | KEY "=" value           (operands first, then attributes)
//! value   := "[" ints? "]" | FLOAT | INT | true | false | same | valid | nhwc | nchw
//!          | "[" ("[" ints? "]" ("," "[" ints? "]")*)? "]"      (lists of lists)
//!          | "{" (instr (";" instr)*)? "}"                      (a fused body)
//! instr   := %N "=" ("in" INT | "const" FLOAT | OP %a ("," %b)* ("," "exponent" "=" FLOAT)?)
//! literal := FLOAT | "splat" "(" FLOAT ")" | "[" (FLOAT ("," FLOAT)*)? "]"
//! ints    := INT ("," INT)*
//! ```
//!
//! Attributes of type flag may be left out (they are then `false`); every
//! other attribute must be given. Body instructions are numbered in order
//! (`%0`, `%1`, ...) and read only earlier ones.
//!
//! The graph is built through the public `Graph` API, so shape inference,
//! name and update rules are exactly those of the builder; their errors are
//! reported at the offending token. Every error is an [`IrError::Parse`].

mod body;

use super::lex::{Lexer, Pos, Tok, Token};
use crate::error::{IrError, Result};
use crate::graph::{Constant, Graph, Role, ValueId};
use crate::op::{AttrType, AttrValue, Op, OpKind};
use crate::types::{DType, F32Bits, Shape, TensorType};

/// How a constant's data was written.
enum Literal {
    /// `splat(v)`: every element.
    Splat(f32),
    /// A bare number: only for one-element constants.
    Bare(f32),
    List(Vec<f32>),
}

/// Rejects shapes whose element count does not fit a `usize`.
fn check_numel(shape: &Shape, pos: Pos) -> Result<()> {
    match shape.checked_numel() {
        Some(_) => Ok(()),
        None => Err(pos.error(format!("shape {shape} has too many elements"))),
    }
}

/// Parses the text form of a graph.
pub fn parse(text: &str) -> Result<Graph> {
    let mut lexer = Lexer::new(text);
    let tok = lexer.next_token()?;
    Parser {
        lexer,
        tok,
        graph: Graph::new(""),
    }
    .graph()
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    /// The current (not yet consumed) token.
    tok: Token<'a>,
    graph: Graph,
}

impl<'a> Parser<'a> {
    fn bump(&mut self) -> Result<Token<'a>> {
        let next = self.lexer.next_token()?;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn unexpected(&self, expected: &str) -> IrError {
        self.tok
            .pos
            .error(format!("expected {expected}, found {}", self.tok.tok))
    }

    fn eat(&mut self, tok: Tok) -> Result<bool> {
        let found = self.tok.tok == tok;
        if found {
            self.bump()?;
        }
        Ok(found)
    }

    fn expect(&mut self, c: char) -> Result<()> {
        if self.eat(Tok::Punct(c))? {
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{c}`")))
        }
    }

    fn word(&mut self, expected: &str) -> Result<(&'a str, Pos)> {
        match self.tok.tok {
            Tok::Word(w) => Ok((w, self.bump()?.pos)),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn skip_newlines(&mut self) -> Result<()> {
        while self.tok.tok == Tok::Newline {
            self.bump()?;
        }
        Ok(())
    }

    /// Checks that the statement is over, without consuming the line end (so
    /// that a lexical error on the next line is not reported first).
    fn end_of_line(&self) -> Result<()> {
        match self.tok.tok {
            Tok::Newline | Tok::Eof => Ok(()),
            _ => Err(self.unexpected("end of line")),
        }
    }

    fn graph(mut self) -> Result<Graph> {
        self.skip_newlines()?;
        if !self.eat(Tok::Word("graph"))? {
            return Err(self.unexpected("`graph`"));
        }
        let name = match self.tok.tok {
            Tok::Word(w) => {
                self.bump()?;
                w
            }
            _ => "",
        };
        self.expect('{')?;
        self.graph = Graph::new(name);
        self.skip_newlines()?;
        while self.tok.tok != Tok::Punct('}') {
            if self.tok.tok == Tok::Eof {
                return Err(self
                    .tok
                    .pos
                    .error(format!("missing `}}` at the end of graph `{name}`")));
            }
            self.statement()?;
            self.skip_newlines()?;
        }
        self.bump()?;
        self.skip_newlines()?;
        if self.tok.tok != Tok::Eof {
            return Err(self.tok.pos.error(format!(
                "unexpected {} after the closing `}}`",
                self.tok.tok
            )));
        }
        Ok(self.graph)
    }

    fn statement(&mut self) -> Result<()> {
        let role = match self.tok.tok {
            Tok::Word("input") => Role::Input,
            Tok::Word("param") => Role::Param,
            Tok::Word("state") => Role::State,
            Tok::Word("const") => return self.constant(),
            Tok::Word("output") => return self.output(),
            Tok::Word("update") => return self.update(),
            Tok::Value(_) => return self.op(),
            _ => {
                return Err(self.unexpected(
                    "a statement (input, param, state, const, output, update or `%name: type = op ...`)",
                ))
            }
        };
        self.bump()?;
        let (name, pos) = self.new_value()?;
        self.expect(':')?;
        let (ty, _) = self.ty()?;
        self.end_of_line()?;
        self.graph.arg(role, name, ty).map_err(|e| pos.wrap(e))?;
        Ok(())
    }

    fn constant(&mut self) -> Result<()> {
        self.bump()?;
        let (name, pos) = self.new_value()?;
        self.expect(':')?;
        let (ty, _) = self.ty()?;
        self.expect('=')?;
        let literal_pos = self.tok.pos;
        let literal = self.literal()?;
        self.end_of_line()?;
        let data = match literal {
            Literal::Splat(v) => Constant::splat(v),
            Literal::Bare(v) if ty.numel() == 1 => Constant::splat(v),
            Literal::List(data) if data.len() == ty.numel() => Constant::from_values(&data),
            Literal::Bare(_) | Literal::List(_) => {
                let (len, hint) = match literal {
                    Literal::List(d) => (d.len(), ""),
                    _ => (1, " (write splat(v) to fill it)"),
                };
                return Err(literal_pos.error(format!(
                    "const %{name}: {ty} needs {} values, got {len}{hint}",
                    ty.numel(),
                )));
            }
        };
        self.graph
            .constant_from(name, ty, data)
            .map_err(|e| pos.wrap(e))?;
        Ok(())
    }

    /// A constant's elements.
    fn literal(&mut self) -> Result<Literal> {
        match self.tok.tok {
            Tok::Word("splat") => {
                self.bump()?;
                self.expect('(')?;
                let v = self.float()?;
                self.expect(')')?;
                Ok(Literal::Splat(v))
            }
            Tok::Punct('[') => {
                self.bump()?;
                let mut data = Vec::new();
                if self.eat(Tok::Punct(']'))? {
                    return Ok(Literal::List(data));
                }
                loop {
                    data.push(self.float()?);
                    if self.eat(Tok::Punct(']'))? {
                        return Ok(Literal::List(data));
                    }
                    if !self.eat(Tok::Punct(','))? {
                        return Err(self.unexpected("`,` or `]`"));
                    }
                }
            }
            _ => Ok(Literal::Bare(self.float()?)),
        }
    }

    fn output(&mut self) -> Result<()> {
        self.bump()?;
        let (name, pos) = self.word("an output name")?;
        self.expect('=')?;
        let (value, _) = self.use_value()?;
        self.end_of_line()?;
        self.graph.add_output(name, value).map_err(|e| pos.wrap(e))
    }

    fn update(&mut self) -> Result<()> {
        self.bump()?;
        let (target, pos) = self.use_value()?;
        if !self.eat(Tok::Arrow)? {
            return Err(self.unexpected("`<-`"));
        }
        let (value, _) = self.use_value()?;
        self.end_of_line()?;
        self.graph
            .add_update(target, value)
            .map_err(|e| pos.wrap(e))
    }

    fn op(&mut self) -> Result<()> {
        let (name, _) = self.new_value()?;
        self.expect(':')?;
        let (ty, ty_pos) = self.ty()?;
        self.expect('=')?;
        let (op_name, op_pos) = self.word("an op name")?;
        let Some(kind) = OpKind::from_name(op_name) else {
            return Err(op_pos.error(format!("unknown op `{op_name}`")));
        };
        let mut operands: Vec<(ValueId, Pos)> = Vec::new();
        let mut values: Vec<Option<AttrValue>> = vec![None; kind.attrs().len()];
        if !matches!(self.tok.tok, Tok::Newline | Tok::Eof) {
            loop {
                let any_attr = values.iter().any(Option::is_some);
                match self.tok.tok {
                    Tok::Value(_) if !any_attr => operands.push(self.use_value()?),
                    Tok::Value(_) => {
                        return Err(self.tok.pos.error("operands must come before attributes"))
                    }
                    Tok::Word(key) => self.attribute(key, kind, &mut values)?,
                    _ => return Err(self.unexpected("an operand or an attribute")),
                }
                if !self.eat(Tok::Punct(','))? {
                    break;
                }
            }
        }
        if !matches!(self.tok.tok, Tok::Newline | Tok::Eof) {
            return Err(self.unexpected("`,` or end of line"));
        }
        let mut given = Vec::with_capacity(values.len());
        for (spec, value) in kind.attrs().iter().zip(values) {
            let Some(value) = value.or_else(|| spec.ty.default_value()) else {
                return Err(
                    op_pos.error(format!("missing attribute `{}` for `{op_name}`", spec.key))
                );
            };
            given.push(value);
        }
        let op = Op::from_attrs(kind, given).map_err(|e| op_pos.wrap(e))?;
        if operands.len() != op.arity() {
            let at = operands.get(op.arity()).map_or(op_pos, |&(_, p)| p);
            let s = if op.arity() == 1 { "" } else { "s" };
            return Err(at.error(format!(
                "`{op_name}` takes {} operand{s}, got {}",
                op.arity(),
                operands.len()
            )));
        }
        let ids: Vec<ValueId> = operands.iter().map(|&(v, _)| v).collect();
        let id = self
            .graph
            .push_named_op(name, op, &ids)
            .map_err(|e| op_pos.wrap(e))?;
        let inferred = self.graph.ty(id);
        if *inferred != ty {
            return Err(ty_pos.error(format!(
                "annotated type {ty} does not match the type `{op_name}` infers, {inferred}"
            )));
        }
        Ok(())
    }

    /// `key=value`, with `key` the current token; the key must be one of the
    /// op's (from the op table) and given once; its value's syntax and
    /// checks follow from the key's attribute type.
    fn attribute(
        &mut self,
        key: &'a str,
        kind: OpKind,
        values: &mut [Option<AttrValue>],
    ) -> Result<()> {
        let key_pos = self.bump()?.pos;
        let op = kind.name();
        let schema = kind.attrs();
        let Some(index) = schema.iter().position(|a| a.key == key) else {
            let keys: Vec<&str> = schema.iter().map(|a| a.key).collect();
            return Err(key_pos.error(if keys.is_empty() {
                format!("`{op}` takes no attributes, found `{key}`")
            } else {
                format!(
                    "unknown attribute `{key}` for `{op}` (expected {})",
                    keys.join(", ")
                )
            }));
        };
        if values[index].is_some() {
            return Err(key_pos.error(format!("duplicate attribute `{key}`")));
        }
        self.expect('=')?;
        let pos = self.tok.pos;
        let ty = schema[index].ty;
        let value = match ty {
            AttrType::Float => AttrValue::Float(F32Bits::new(self.float()?)),
            AttrType::Ints | AttrType::Pair | AttrType::Shape => AttrValue::Ints(self.ints()?),
            AttrType::Bool | AttrType::Flag | AttrType::Padding | AttrType::Layout => {
                self.choice(key, ty)?
            }
            AttrType::Int => AttrValue::Int(self.int()?),
            AttrType::IntLists => AttrValue::IntLists(self.int_lists()?),
            AttrType::Body => AttrValue::Body(self.body()?),
        };
        ty.check(&value)
            .map_err(|why| pos.error(format!("attribute `{key}` {why}")))?;
        values[index] = Some(value);
        Ok(())
    }

    /// One of the words an attribute type allows.
    fn choice(&mut self, key: &str, ty: AttrType) -> Result<AttrValue> {
        if let Tok::Word(w) = self.tok.tok {
            if let Some(v) = ty.from_word(w) {
                self.bump()?;
                return Ok(v);
            }
        }
        let names: Vec<String> = ty.words().iter().map(|n| format!("`{n}`")).collect();
        Err(self.tok.pos.error(format!(
            "attribute `{key}` expects {}, found {}",
            names.join(" or "),
            self.tok.tok
        )))
    }

    /// A value name being defined.
    fn new_value(&mut self) -> Result<(&'a str, Pos)> {
        let Tok::Value(name) = self.tok.tok else {
            return Err(self.unexpected("a value name like `%x`"));
        };
        let pos = self.bump()?.pos;
        if self.graph.lookup(name).is_some() {
            return Err(pos.error(format!("duplicate value name %{name}")));
        }
        Ok((name, pos))
    }

    /// A reference to a value defined earlier.
    fn use_value(&mut self) -> Result<(ValueId, Pos)> {
        let Tok::Value(name) = self.tok.tok else {
            return Err(self.unexpected("a value name like `%x`"));
        };
        let pos = self.bump()?.pos;
        match self.graph.lookup(name) {
            Some(id) => Ok((id, pos)),
            None => Err(pos.error(format!("undefined value %{name}"))),
        }
    }

    fn ty(&mut self) -> Result<(TensorType, Pos)> {
        let (name, pos) = self.word("a type like `f32[2,3]`")?;
        let Some(dtype) = DType::from_name(name) else {
            return Err(pos.error(format!("unknown element type `{name}` (expected f32)")));
        };
        let shape = Shape::new(self.ints()?);
        check_numel(&shape, pos)?;
        Ok((TensorType { dtype, shape }, pos))
    }

    /// `[a,b,...]` of non-negative integers.
    fn ints(&mut self) -> Result<Vec<usize>> {
        self.expect('[')?;
        let mut items = Vec::new();
        if self.eat(Tok::Punct(']'))? {
            return Ok(items);
        }
        loop {
            items.push(self.int()?);
            if self.eat(Tok::Punct(']'))? {
                return Ok(items);
            }
            if !self.eat(Tok::Punct(','))? {
                return Err(self.unexpected("`,` or `]`"));
            }
        }
    }

    /// `[[0,1],[],...]`: a list of integer lists.
    fn int_lists(&mut self) -> Result<Vec<Vec<usize>>> {
        self.expect('[')?;
        let mut lists = Vec::new();
        if self.eat(Tok::Punct(']'))? {
            return Ok(lists);
        }
        loop {
            lists.push(self.ints()?);
            if self.eat(Tok::Punct(']'))? {
                return Ok(lists);
            }
            if !self.eat(Tok::Punct(','))? {
                return Err(self.unexpected("`,` or `]`"));
            }
        }
    }

    /// A non-negative integer; at most `u32::MAX`, so that no shape
    /// arithmetic in inference can overflow.
    fn int(&mut self) -> Result<usize> {
        match self.tok.tok {
            Tok::Word(w) if w.bytes().all(|b| b.is_ascii_digit()) => match w.parse::<u32>() {
                Ok(v) => {
                    self.bump()?;
                    Ok(v as usize)
                }
                Err(_) => Err(self.tok.pos.error(format!("integer {w} is too large"))),
            },
            _ => Err(self.unexpected("a non-negative integer")),
        }
    }

    /// A float in Rust syntax (`1.0`, `-3e-7`, `inf`, `NaN`).
    fn float(&mut self) -> Result<f32> {
        match self.tok.tok {
            Tok::Word(w) => match w.parse::<f32>() {
                Ok(v) => {
                    self.bump()?;
                    Ok(v)
                }
                Err(_) => Err(self.unexpected("a number")),
            },
            _ => Err(self.unexpected("a number")),
        }
    }
}
