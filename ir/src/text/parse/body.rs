//! The body of a `fused` op: `{ %0 = in 0; %1 = const 0.5; %2 = mul %0, %1 }`.
//! Instruction `%i` is the `i`-th; it may read only `%0..%i`. Errors point
//! at the offending token.

use super::Parser;
use crate::error::Result;
use crate::op::{Op, OpClass, OpKind, ScalarInstr};
use crate::text::lex::Tok;
use crate::types::F32Bits;

impl<'a> Parser<'a> {
    /// `{ instr; ... }`.
    pub(super) fn body(&mut self) -> Result<Vec<ScalarInstr>> {
        self.expect('{')?;
        let mut body = Vec::new();
        if self.eat(Tok::Punct('}'))? {
            return Ok(body);
        }
        loop {
            body.push(self.instr(body.len())?);
            if self.eat(Tok::Punct('}'))? {
                return Ok(body);
            }
            if !self.eat(Tok::Punct(';'))? {
                return Err(self.unexpected("`;` or `}`"));
            }
        }
    }

    /// `%index = in K | const F | OP %a, ... [, exponent=F]`.
    fn instr(&mut self, index: usize) -> Result<ScalarInstr> {
        match self.tok.tok {
            Tok::Value(n) if n == index.to_string() => {
                self.bump()?;
            }
            _ => {
                return Err(self.unexpected(&format!(
                    "`%{index}` (body instructions are numbered in order)"
                )))
            }
        }
        self.expect('=')?;
        let (name, pos) = self.word("an instruction (`in`, `const` or an elementwise op)")?;
        match name {
            "in" => {
                let k = self.int()?;
                return Ok(ScalarInstr::Input(
                    u32::try_from(k).expect("int() is at most u32::MAX"),
                ));
            }
            "const" => return Ok(ScalarInstr::Const(F32Bits::new(self.float()?))),
            _ => {}
        }
        let kind = match OpKind::from_name(name) {
            Some(k) if k.class() == OpClass::Elementwise && k != OpKind::Fused => k,
            Some(_) => {
                return Err(pos.error(format!(
                    "`{name}` cannot be part of a fused body (only elementwise ops can)"
                )))
            }
            None => return Err(pos.error(format!("unknown op `{name}`"))),
        };
        let arity = kind.arity().fixed().unwrap_or(0);
        let mut args = vec![self.body_ref(index)?];
        while args.len() < arity {
            self.expect(',')?;
            args.push(self.body_ref(index)?);
        }
        let op = if kind == OpKind::Pow {
            self.expect(',')?;
            if !self.eat(Tok::Word("exponent"))? {
                return Err(self.unexpected("`exponent`"));
            }
            self.expect('=')?;
            Op::pow(self.float()?)
        } else {
            Op::from_attrs(kind, vec![]).map_err(|e| pos.wrap(e))?
        };
        ScalarInstr::from_op(&op, &args)
            .ok_or_else(|| pos.error(format!("`{name}` cannot be part of a fused body")))
    }

    /// `%k`, an instruction before `%index`.
    fn body_ref(&mut self, index: usize) -> Result<u32> {
        let Tok::Value(n) = self.tok.tok else {
            return Err(self.unexpected("a body value like `%0`"));
        };
        let pos = self.tok.pos;
        match n.parse::<u32>() {
            Ok(k) if (k as usize) < index && n == k.to_string() => {
                self.bump()?;
                Ok(k)
            }
            Ok(_) if n.bytes().all(|b| b.is_ascii_digit()) => {
                Err(pos.error(format!("body value %{n} is not defined before %{index}")))
            }
            _ => Err(self.unexpected("a body value like `%0`")),
        }
    }
}
