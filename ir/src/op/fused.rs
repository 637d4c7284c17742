//! The `fused` op's kernel: one iteration space (the result shape), tensor
//! operands read through broadcast index maps, and a small SSA body of
//! scalar instructions.
//!
//! A body instruction applies one of the IR's own elementwise ops (the
//! [`UnaryOp`], [`BinaryOp`] and [`CmpOp`] groups, `pow` and `select`) to
//! earlier instructions, so a fused kernel means exactly what the same ops
//! mean as separate graph nodes, bit for bit. Fusion passes make these
//! kernels after autodiff; users and autodiff never see them.
//!
//! A kernel with `k` results is `k` sibling `fused` nodes with identical
//! operands and kernel, differing only in `result` (which entry of
//! [`FusedKernel::results`] the node yields): one node per value, as
//! everywhere else in the IR. A backend groups the siblings back into one
//! loop; the interpreter computes each on its own.

use std::fmt;

use super::{BinaryOp, CmpOp, Op, UnaryOp};
use crate::types::{F32Bits, Shape};

/// One scalar instruction of a fused body. Arguments are indices of earlier
/// instructions of the same body.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScalarInstr {
    /// The element of operand `k` at the current iteration index, read
    /// through operand `k`'s map (text: `in k`).
    Input(u32),
    /// A literal, the same in every element (text: `const 0.5`).
    Const(F32Bits),
    Unary(UnaryOp, u32),
    Binary(BinaryOp, u32, u32),
    /// `x ^ exponent` (text: `pow %x, exponent=2.0`).
    Pow {
        exponent: F32Bits,
        x: u32,
    },
    /// A 0/1 mask.
    Compare(CmpOp, u32, u32),
    /// `mask != 0 ? on_true : on_false`.
    Select(u32, u32, u32),
}

impl ScalarInstr {
    /// The instructions this one reads, in operand order.
    pub fn args(&self) -> Vec<u32> {
        match *self {
            ScalarInstr::Input(_) | ScalarInstr::Const(_) => vec![],
            ScalarInstr::Unary(_, x) | ScalarInstr::Pow { x, .. } => vec![x],
            ScalarInstr::Binary(_, a, b) | ScalarInstr::Compare(_, a, b) => vec![a, b],
            ScalarInstr::Select(m, t, f) => vec![m, t, f],
        }
    }

    /// The graph op this instruction applies (`None` for `in` and `const`).
    pub fn op(&self) -> Option<Op> {
        Some(match *self {
            ScalarInstr::Input(_) | ScalarInstr::Const(_) => return None,
            ScalarInstr::Unary(u, _) => Op::Unary(u),
            ScalarInstr::Binary(b, _, _) => Op::Binary(b),
            ScalarInstr::Pow { exponent, .. } => Op::Pow { exponent },
            ScalarInstr::Compare(c, _, _) => Op::Compare(c),
            ScalarInstr::Select(..) => Op::Select,
        })
    }

    /// The instruction applying the elementwise graph op `op` to `args`, if
    /// `op` is one a body may hold and `args` has its arity.
    pub fn from_op(op: &Op, args: &[u32]) -> Option<ScalarInstr> {
        Some(match (op, args) {
            (Op::Unary(u), &[x]) => ScalarInstr::Unary(*u, x),
            (Op::Binary(b), &[x, y]) => ScalarInstr::Binary(*b, x, y),
            (Op::Pow { exponent }, &[x]) => ScalarInstr::Pow {
                exponent: *exponent,
                x,
            },
            (Op::Compare(c), &[x, y]) => ScalarInstr::Compare(*c, x, y),
            (Op::Select, &[m, t, f]) => ScalarInstr::Select(m, t, f),
            _ => return None,
        })
    }
}

/// The text form: `in 0`, `const 0.5`, `mul %1, %2`, `pow %3, exponent=2.0`.
impl fmt::Display for ScalarInstr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScalarInstr::Input(k) => return write!(f, "in {k}"),
            ScalarInstr::Const(v) => return write!(f, "const {v}"),
            _ => {}
        }
        let op = self.op().expect("an op instruction");
        f.write_str(op.name())?;
        for (i, a) in self.args().iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}%{a}")?;
        }
        if let ScalarInstr::Pow { exponent, .. } = self {
            write!(f, ", exponent={exponent}")?;
        }
        Ok(())
    }
}

/// Writes a body as `{ %0 = in 0; %1 = exp %0 }` (`{}` when empty).
pub(crate) fn write_body(f: &mut fmt::Formatter<'_>, body: &[ScalarInstr]) -> fmt::Result {
    if body.is_empty() {
        return f.write_str("{}");
    }
    f.write_str("{ ")?;
    for (i, instr) in body.iter().enumerate() {
        if i > 0 {
            f.write_str("; ")?;
        }
        write!(f, "%{i} = {instr}")?;
    }
    f.write_str(" }")
}

/// What the sibling nodes of one fused kernel share: the iteration space,
/// one broadcast map per operand, the body and the results.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FusedKernel {
    /// The iteration space, which is also every result's shape.
    pub shape: Shape,
    /// Operand `k`'s axis `i` is iteration axis `maps[k][i]` (strictly
    /// increasing, like `broadcast`'s `dims`); its extent is the iteration
    /// extent or 1 (repeated).
    pub maps: Vec<Vec<usize>>,
    pub body: Vec<ScalarInstr>,
    /// The body instructions the kernel yields, in result order.
    pub results: Vec<u32>,
}

impl FusedKernel {
    /// Why the body is ill-formed for `operands` operands, if it is: every
    /// instruction reads only earlier ones, every `in k` has `k <
    /// operands`, and there is at least one result, each an instruction.
    pub fn check_body(&self, operands: usize) -> Result<(), String> {
        for (i, instr) in self.body.iter().enumerate() {
            if let ScalarInstr::Input(k) = *instr {
                if k as usize >= operands {
                    return Err(format!(
                        "body %{i} reads operand {k} of {operands} (operands are 0..{operands})"
                    ));
                }
            }
            if let Some(a) = instr.args().into_iter().find(|&a| a as usize >= i) {
                return Err(format!(
                    "body %{i} reads %{a}, which is not defined before it"
                ));
            }
        }
        if self.results.is_empty() {
            return Err("a fused kernel needs at least one result".into());
        }
        if let Some(&r) = self
            .results
            .iter()
            .find(|&&r| r as usize >= self.body.len())
        {
            return Err(format!(
                "result %{r} is not a body instruction (the body has {})",
                self.body.len()
            ));
        }
        Ok(())
    }

    /// Which body instructions result `result` depends on (itself included).
    pub fn live(&self, result: usize) -> Vec<bool> {
        let mut live = vec![false; self.body.len()];
        live[self.results[result] as usize] = true;
        for i in (0..self.body.len()).rev() {
            if live[i] {
                for a in self.body[i].args() {
                    live[a as usize] = true;
                }
            }
        }
        live
    }

    /// The numpy-style map of an operand of rank `rank` into the iteration
    /// space: its axes aligned with the trailing iteration axes.
    pub fn trailing_map(&self, rank: usize) -> Vec<usize> {
        let r = self.shape.rank();
        (r.saturating_sub(rank)..r).collect()
    }
}

/// Builds a body instruction by instruction; each method returns the new
/// instruction's index.
///
/// ```
/// use triceratops_ir::op::fused::BodyBuilder;
/// use triceratops_ir::BinaryOp;
/// // p - g * lr
/// let mut b = BodyBuilder::new();
/// let (p, g, lr) = (b.input(0), b.input(1), b.input(2));
/// let step = b.binary(BinaryOp::Mul, g, lr);
/// let new_p = b.binary(BinaryOp::Sub, p, step);
/// assert_eq!(new_p, 4);
/// assert_eq!(b.finish().len(), 5);
/// ```
#[derive(Clone, Debug, Default)]
pub struct BodyBuilder {
    body: Vec<ScalarInstr>,
}

impl BodyBuilder {
    pub fn new() -> BodyBuilder {
        BodyBuilder::default()
    }

    /// Appends any instruction.
    pub fn push(&mut self, instr: ScalarInstr) -> u32 {
        self.body.push(instr);
        u32::try_from(self.body.len() - 1).expect("fewer than 2^32 instructions")
    }

    pub fn input(&mut self, operand: u32) -> u32 {
        self.push(ScalarInstr::Input(operand))
    }

    pub fn constant(&mut self, value: f32) -> u32 {
        self.push(ScalarInstr::Const(F32Bits::new(value)))
    }

    pub fn unary(&mut self, op: UnaryOp, x: u32) -> u32 {
        self.push(ScalarInstr::Unary(op, x))
    }

    pub fn binary(&mut self, op: BinaryOp, a: u32, b: u32) -> u32 {
        self.push(ScalarInstr::Binary(op, a, b))
    }

    pub fn pow(&mut self, x: u32, exponent: f32) -> u32 {
        self.push(ScalarInstr::Pow {
            exponent: F32Bits::new(exponent),
            x,
        })
    }

    pub fn compare(&mut self, op: CmpOp, a: u32, b: u32) -> u32 {
        self.push(ScalarInstr::Compare(op, a, b))
    }

    pub fn select(&mut self, mask: u32, on_true: u32, on_false: u32) -> u32 {
        self.push(ScalarInstr::Select(mask, on_true, on_false))
    }

    /// The number of instructions so far.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }

    pub fn finish(self) -> Vec<ScalarInstr> {
        self.body
    }
}
