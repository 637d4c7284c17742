//! The VJP table: for each op, the gradients of its operands given the
//! gradient `dy` of its result, written with the builder. Each rule returns
//! one entry per operand; `None` means "no gradient" (not needed, or the
//! operand is a mask that gets none).

use crate::error::{IrError, Result};
use crate::graph::{Graph, ValueId};
use crate::op::{BinaryOp, ConvAttrs, MatMulAttrs, Op, Props, UnaryOp};

/// What a rule sees: the operands `x`, the result `y`, its gradient `dy`,
/// and which operand gradients are wanted.
pub(super) struct Ctx<'a> {
    pub x: &'a [ValueId],
    pub y: ValueId,
    pub dy: ValueId,
    pub needs: &'a [bool],
}

type Grads = Result<Vec<Option<ValueId>>>;

pub(super) fn vjp(
    g: &mut Graph,
    op: &Op,
    x: &[ValueId],
    y: ValueId,
    dy: ValueId,
    needs: &[bool],
) -> Grads {
    let c = Ctx { x, y, dy, needs };
    // The op table says which ops no gradient flows through.
    if op.kind().has(Props::NOT_DIFFERENTIABLE) {
        return Err(not_differentiable(g, op, &c));
    }
    match op {
        Op::Unary(u) => unary(g, *u, &c).map(|d| vec![Some(d)]),
        Op::Binary(b) => binary(g, *b, &c),
        Op::Pow { exponent } => pow(g, exponent.get(), &c),
        Op::Select => select(g, &c),
        Op::Broadcast { dims, .. } => broadcast(g, dims, &c),
        Op::Reshape { .. } => one(reshape_like(g, c.dy, c.x[0])),
        Op::Transpose { perm } => one(transpose(g, perm, &c)),
        Op::Pad { low, .. } => one(pad(g, low, &c)),
        Op::Slice { start, end } => one(slice(g, start, end, &c)),
        Op::ReduceSum { axes, keepdims } => one(reduce_sum(g, axes, *keepdims, &c)),
        Op::ReduceMax { axes, keepdims } => one(reduce_max(g, axes, *keepdims, &c)),
        Op::MatMul(attrs) => matmul(g, *attrs, &c),
        Op::Conv2d(attrs) => conv2d(g, attrs, &c),
        Op::Conv2dInputGrad { conv, .. } => conv2d_input_grad(g, conv, &c),
        Op::Conv2dFilterGrad { conv, .. } => conv2d_filter_grad(g, conv, &c),
        Op::MaxPool2d(attrs) => one(g.maxpool2d_grad(c.x[0], c.dy, *attrs)),
        Op::Compare(_) | Op::MaxPool2dGrad(_) | Op::Fused { .. } => {
            Err(not_differentiable(g, op, &c))
        }
    }
}

fn one(d: Result<ValueId>) -> Grads {
    Ok(vec![Some(d?)])
}

fn not_differentiable(g: &Graph, op: &Op, c: &Ctx) -> IrError {
    let why = match op {
        Op::Compare(_) => "comparisons are piecewise constant; use the mask in `select`",
        Op::Fused { .. } => {
            "fused kernels are made by optimization passes: fuse after differentiation"
        }
        _ => "second derivatives of max pooling are not supported",
    };
    IrError::Grad(format!(
        "%{} = {} is on the path from the parameters to the loss, but {} is not differentiable ({why})",
        g.value_name(c.y),
        op.name(),
        op.name()
    ))
}

fn unary(g: &mut Graph, op: UnaryOp, c: &Ctx) -> Result<ValueId> {
    let (x, y, dy) = (c.x[0], c.y, c.dy);
    match op {
        UnaryOp::Neg => g.neg(dy),
        UnaryOp::Exp => times(g, dy, y),
        UnaryOp::Log => g.div(dy, x),
        UnaryOp::Sqrt => {
            // d sqrt(x) = 1 / (2 sqrt(x))
            let two_y = scaled(g, y, 2.0)?;
            g.div(dy, two_y)
        }
        UnaryOp::Rsqrt => {
            // d x^-1/2 = -1/2 x^-3/2 = -1/2 y / x
            let t = g.div(y, x)?;
            let t = scaled(g, t, -0.5)?;
            times(g, dy, t)
        }
        UnaryOp::Recip => {
            // d 1/x = -1/x^2 = -y^2
            let t = g.square(y)?;
            let t = times(g, dy, t)?;
            g.neg(t)
        }
        UnaryOp::Tanh => {
            let t = g.square(y)?;
            let one = g.scalar(1.0)?;
            let t = g.sub(one, t)?;
            times(g, dy, t)
        }
        UnaryOp::Sigmoid => {
            let one = g.scalar(1.0)?;
            let t = g.sub(one, y)?;
            let t = g.mul(y, t)?;
            times(g, dy, t)
        }
        UnaryOp::Relu => {
            let zero = g.scalar(0.0)?;
            let positive = g.compare(crate::op::CmpOp::Gt, x, zero)?;
            g.select(positive, dy, zero)
        }
        UnaryOp::Abs => {
            // sign(x), with sign(0) = 0; built from selects so the masks take
            // no gradient and the rule is itself differentiable.
            let zero = g.scalar(0.0)?;
            let one = g.scalar(1.0)?;
            let minus_one = g.scalar(-1.0)?;
            let pos = g.compare(crate::op::CmpOp::Gt, x, zero)?;
            let neg = g.compare(crate::op::CmpOp::Gt, zero, x)?;
            let sign = g.select(neg, minus_one, zero)?;
            let sign = g.select(pos, one, sign)?;
            times(g, dy, sign)
        }
        UnaryOp::Square => {
            let t = scaled(g, x, 2.0)?;
            times(g, dy, t)
        }
    }
}

/// `dy * v`, or just `v` when `dy` is the literal 1 of the loss seed, so the
/// top of a backward pass does not start with multiplications by one.
fn times(g: &mut Graph, dy: ValueId, v: ValueId) -> Result<ValueId> {
    let seed_one = g.const_value(dy).is_some_and(|c| c.as_splat() == Some(1.0));
    if seed_one && g.shape(dy) == g.shape(v) {
        Ok(v)
    } else {
        g.mul(dy, v)
    }
}

/// `x * k` for a literal `k`.
fn scaled(g: &mut Graph, x: ValueId, k: f32) -> Result<ValueId> {
    let k = g.scalar(k)?;
    g.mul(x, k)
}

fn binary(g: &mut Graph, op: BinaryOp, c: &Ctx) -> Grads {
    let (a, b, dy) = (c.x[0], c.x[1], c.dy);
    let mut da = None;
    let mut db = None;
    match op {
        BinaryOp::Add => {
            da = Some(dy);
            db = Some(dy);
        }
        BinaryOp::Sub => {
            da = Some(dy);
            if c.needs[1] {
                db = Some(g.neg(dy)?);
            }
        }
        BinaryOp::Mul => {
            if c.needs[0] {
                da = Some(times(g, dy, b)?);
            }
            if c.needs[1] {
                db = Some(times(g, dy, a)?);
            }
        }
        BinaryOp::Div => {
            if c.needs[0] {
                da = Some(g.div(dy, b)?);
            }
            if c.needs[1] {
                // d(a/b)/db = -a/b^2 = -y/b
                let t = g.div(c.y, b)?;
                let t = times(g, dy, t)?;
                db = Some(g.neg(t)?);
            }
        }
        BinaryOp::Max | BinaryOp::Min => {
            // The winner takes the gradient; ties go to the left operand.
            let (hi, lo) = if op == BinaryOp::Max { (a, b) } else { (b, a) };
            let a_wins = g.compare(crate::op::CmpOp::Ge, hi, lo)?;
            let zero = g.scalar(0.0)?;
            if c.needs[0] {
                da = Some(g.select(a_wins, dy, zero)?);
            }
            if c.needs[1] {
                db = Some(g.select(a_wins, zero, dy)?);
            }
        }
    }
    Ok(vec![da, db])
}

fn pow(g: &mut Graph, exponent: f32, c: &Ctx) -> Grads {
    if exponent == 0.0 {
        // x^0 is constant; `0 * x^-1` would be NaN at x = 0.
        let zero = g.scalar(0.0)?;
        let shape = g.shape(c.x[0]).clone();
        return one(g.broadcast_to(zero, shape));
    }
    // d x^p = p x^(p-1)
    let t = g.pow(c.x[0], exponent - 1.0)?;
    let t = scaled(g, t, exponent)?;
    one(times(g, c.dy, t))
}

fn select(g: &mut Graph, c: &Ctx) -> Grads {
    let zero = g.scalar(0.0)?;
    let mask = c.x[0];
    let on_true = if c.needs[1] {
        Some(g.select(mask, c.dy, zero)?)
    } else {
        None
    };
    let on_false = if c.needs[2] {
        Some(g.select(mask, zero, c.dy)?)
    } else {
        None
    };
    // The mask is piecewise constant: it gets no gradient.
    Ok(vec![None, on_true, on_false])
}

/// `dy` reshaped to the shape of `like`.
fn reshape_like(g: &mut Graph, dy: ValueId, like: ValueId) -> Result<ValueId> {
    let shape = g.shape(like).clone();
    if *g.shape(dy) == shape {
        return Ok(dy);
    }
    g.reshape(dy, shape)
}

fn broadcast(g: &mut Graph, dims: &[usize], c: &Ctx) -> Grads {
    // Sum over the axes the broadcast created or repeated, then restore the
    // operand's extent-1 axes.
    let from = g.shape(c.x[0]).clone();
    let to = g.shape(c.y).clone();
    let summed: Vec<usize> = (0..to.rank())
        .filter(|&axis| match dims.iter().position(|&d| d == axis) {
            None => true,
            Some(i) => from[i] == 1 && to[axis] != 1,
        })
        .collect();
    let reduced = if summed.is_empty() {
        c.dy
    } else {
        g.reduce_sum(c.dy, &summed, false)?
    };
    one(reshape_like(g, reduced, c.x[0]))
}

fn transpose(g: &mut Graph, perm: &[usize], c: &Ctx) -> Result<ValueId> {
    let mut inverse = vec![0; perm.len()];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    g.transpose(c.dy, &inverse)
}

fn pad(g: &mut Graph, low: &[usize], c: &Ctx) -> Result<ValueId> {
    let extent = g.shape(c.x[0]).clone();
    let end: Vec<usize> = low.iter().zip(extent.iter()).map(|(l, e)| l + e).collect();
    g.slice(c.dy, low, &end)
}

fn slice(g: &mut Graph, start: &[usize], end: &[usize], c: &Ctx) -> Result<ValueId> {
    let extent = g.shape(c.x[0]).clone();
    let high: Vec<usize> = end.iter().zip(extent.iter()).map(|(e, n)| n - e).collect();
    g.pad(c.dy, start, &high)
}

/// A reduction's result (or its gradient) broadcast back over the operand.
fn spread(
    g: &mut Graph,
    v: ValueId,
    axes: &[usize],
    keepdims: bool,
    x: ValueId,
) -> Result<ValueId> {
    let x_shape = g.shape(x).clone();
    let dims = (0..x_shape.rank())
        .filter(|i| keepdims || !axes.contains(i))
        .collect();
    g.broadcast_in_dim(v, x_shape, dims)
}

fn reduce_sum(g: &mut Graph, axes: &[usize], keepdims: bool, c: &Ctx) -> Result<ValueId> {
    spread(g, c.dy, axes, keepdims, c.x[0])
}

fn reduce_max(g: &mut Graph, axes: &[usize], keepdims: bool, c: &Ctx) -> Result<ValueId> {
    // The gradient is shared equally among the elements that equal the max
    // (JAX's rule); without ties it all goes to the argmax. The mask only
    // feeds selects, so this rule is itself differentiable.
    let x = c.x[0];
    let max = spread(g, c.y, axes, keepdims, x)?;
    let is_max = g.compare(crate::op::CmpOp::Eq, x, max)?;
    let (zero, one) = (g.scalar(0.0)?, g.scalar(1.0)?);
    let hits = g.select(is_max, one, zero)?;
    let count = g.reduce_sum(hits, axes, keepdims)?;
    let share = g.div(c.dy, count)?;
    let share = spread(g, share, axes, keepdims, x)?;
    g.select(is_max, share, zero)
}

/// Swaps the last two axes.
fn transpose_last(g: &mut Graph, v: ValueId) -> Result<ValueId> {
    let r = g.shape(v).rank();
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    g.transpose(v, &perm)
}

/// With `C = op(a) op(b)`: `d op(a) = dC op(b)^T` and `d op(b) = op(a)^T
/// dC`, each transposed back when its operand is read transposed. The plain
/// product's rule transposes with explicit nodes (the layout pass folds
/// them into the matmul); a product that already has transposed operands
/// folds them itself, so its gradients need no transpose node either.
fn matmul(g: &mut Graph, attrs: MatMulAttrs, c: &Ctx) -> Grads {
    if attrs == MatMulAttrs::PLAIN {
        return plain_matmul(g, c);
    }
    let (a, b, dy) = (c.x[0], c.x[1], c.dy);
    let (ta, tb) = (attrs.transpose_a, attrs.transpose_b);
    let mm = |g: &mut Graph, x, y, tx, ty| g.matmul_with(x, y, MatMulAttrs::new(tx, ty));
    let da = if !c.needs[0] {
        None
    } else if !ta {
        // dC op(b)^T
        Some(mm(g, dy, b, false, !tb)?)
    } else {
        // (dC op(b)^T)^T = op(b) dC^T
        Some(mm(g, b, dy, tb, true)?)
    };
    let db = if !c.needs[1] {
        None
    } else if !tb {
        // op(a)^T dC
        Some(mm(g, a, dy, !ta, false)?)
    } else {
        // (op(a)^T dC)^T = dC^T op(a)
        Some(mm(g, dy, a, true, ta)?)
    };
    Ok(vec![da, db])
}

fn plain_matmul(g: &mut Graph, c: &Ctx) -> Grads {
    let (a, b, dy) = (c.x[0], c.x[1], c.dy);
    let da = if c.needs[0] {
        let bt = transpose_last(g, b)?;
        Some(g.matmul(dy, bt)?)
    } else {
        None
    };
    let db = if c.needs[1] {
        let at = transpose_last(g, a)?;
        Some(g.matmul(at, dy)?)
    } else {
        None
    };
    Ok(vec![da, db])
}

fn conv2d(g: &mut Graph, attrs: &ConvAttrs, c: &Ctx) -> Grads {
    let (x, w, dy) = (c.x[0], c.x[1], c.dy);
    let dx = if c.needs[0] {
        let shape = g.shape(x).clone();
        Some(g.conv2d_input_grad(dy, w, *attrs, shape)?)
    } else {
        None
    };
    let dw = if c.needs[1] {
        let shape = g.shape(w).clone();
        Some(g.conv2d_filter_grad(x, dy, *attrs, shape)?)
    } else {
        None
    };
    Ok(vec![dx, dw])
}

/// `input_grad(d, w)` is the adjoint of `conv2d(., w)`, bilinear in `(d, w)`:
/// `<g, input_grad(d, w)> = <conv2d(g, w), d> = <w, filter_grad(g, d)>`.
fn conv2d_input_grad(g: &mut Graph, attrs: &ConvAttrs, c: &Ctx) -> Grads {
    let (d, w, dy) = (c.x[0], c.x[1], c.dy);
    let dd = if c.needs[0] {
        Some(g.conv2d(dy, w, *attrs)?)
    } else {
        None
    };
    let dw = if c.needs[1] {
        let shape = g.shape(w).clone();
        Some(g.conv2d_filter_grad(dy, d, *attrs, shape)?)
    } else {
        None
    };
    Ok(vec![dd, dw])
}

/// `filter_grad(x, d)`, bilinear in `(x, d)`:
/// `<g, filter_grad(x, d)> = <conv2d(x, g), d> = <x, input_grad(d, g)>`.
fn conv2d_filter_grad(g: &mut Graph, attrs: &ConvAttrs, c: &Ctx) -> Grads {
    let (x, d, dy) = (c.x[0], c.x[1], c.dy);
    let dx = if c.needs[0] {
        let shape = g.shape(x).clone();
        Some(g.conv2d_input_grad(d, dy, *attrs, shape)?)
    } else {
        None
    };
    let dd = if c.needs[1] {
        Some(g.conv2d(x, dy, *attrs)?)
    } else {
        None
    };
    Ok(vec![dx, dd])
}
