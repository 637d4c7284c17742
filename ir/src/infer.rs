//! Shape inference: the single definition of which operands each op accepts
//! and what type it returns. The builder, the parser and the verifier all
//! call `infer_type`, so they cannot disagree.

use crate::error::{IrError, Result};
use crate::geometry::{filter_dims, image_dims, image_shape, window};
use crate::op::{ConvAttrs, FusedKernel, MatMulAttrs, Op, PoolAttrs};
use crate::types::{DType, Shape, TensorType};

/// The result type of `op` applied to operands of the given types.
pub fn infer_type(op: &Op, operands: &[&TensorType]) -> Result<TensorType> {
    let fail = |reason: String| IrError::Type {
        op: op.name().to_string(),
        operands: operands.iter().map(|t| (*t).clone()).collect(),
        reason,
    };
    // A fused kernel's body must be well-formed before its arity (the
    // number of maps) means anything.
    if let Op::Fused { kernel, result } = op {
        check_fused(kernel, *result).map_err(&fail)?;
    }
    if operands.len() != op.arity() {
        return Err(fail(format!(
            "takes {} operand(s), got {}",
            op.arity(),
            operands.len()
        )));
    }
    if let Some(t) = operands.iter().find(|t| t.dtype != DType::F32) {
        return Err(fail(format!("element type {} is not supported", t.dtype)));
    }
    let shape = infer_shape(op, operands).map_err(&fail)?;
    if shape.checked_numel().is_none() {
        return Err(fail(format!("result shape {shape} has too many elements")));
    }
    Ok(TensorType::f32(shape))
}

fn shapes<'a>(operands: &[&'a TensorType]) -> Vec<&'a [usize]> {
    operands.iter().map(|t| t.shape.dims()).collect()
}

fn infer_shape(op: &Op, operands: &[&TensorType]) -> Result<Shape, String> {
    let s = shapes(operands);
    match op {
        Op::Unary(_) | Op::Pow { .. } => Ok(Shape::from(s[0])),
        Op::Binary(_) | Op::Compare(_) => {
            same_shapes(&s)?;
            Ok(Shape::from(s[0]))
        }
        Op::Select => {
            same_shapes(&s)?;
            Ok(Shape::from(s[0]))
        }
        Op::Broadcast { shape, dims } => broadcast(s[0], shape, dims),
        Op::Reshape { shape } => {
            // Operand counts fit usize (checked when they were made).
            let from: usize = s[0].iter().product();
            match shape.checked_numel() {
                Some(to) if to == from => Ok(shape.clone()),
                to => Err(format!(
                    "cannot reshape {from} elements into {shape} ({} elements)",
                    to.map_or("too many".to_string(), |n| n.to_string())
                )),
            }
        }
        Op::Transpose { perm } => {
            check_permutation(perm, s[0].len())?;
            Ok(Shape::new(
                perm.iter().map(|&p| s[0][p]).collect::<Vec<_>>(),
            ))
        }
        Op::Pad { low, high } => {
            check_rank_list("low", low, s[0].len())?;
            check_rank_list("high", high, s[0].len())?;
            let dims = (0..s[0].len())
                .map(|i| s[0][i].checked_add(low[i])?.checked_add(high[i]))
                .collect::<Option<Vec<_>>>()
                .ok_or("padded extent overflows")?;
            Ok(Shape::new(dims))
        }
        Op::Slice { start, end } => {
            check_rank_list("start", start, s[0].len())?;
            check_rank_list("end", end, s[0].len())?;
            for i in 0..s[0].len() {
                if start[i] > end[i] || end[i] > s[0][i] {
                    return Err(format!(
                        "axis {i}: range {}..{} is not within 0..{}",
                        start[i], end[i], s[0][i]
                    ));
                }
            }
            Ok(Shape::new(
                (0..s[0].len())
                    .map(|i| end[i] - start[i])
                    .collect::<Vec<_>>(),
            ))
        }
        Op::ReduceSum { axes, keepdims } | Op::ReduceMax { axes, keepdims } => {
            check_axes(axes, s[0].len())?;
            if matches!(op, Op::ReduceMax { .. }) {
                if let Some(&a) = axes.iter().find(|&&a| s[0][a] == 0) {
                    return Err(format!("reduce_max over empty axis {a}"));
                }
            }
            let dims = (0..s[0].len()).filter_map(|i| {
                if !axes.contains(&i) {
                    Some(s[0][i])
                } else if *keepdims {
                    Some(1)
                } else {
                    None
                }
            });
            Ok(Shape::new(dims.collect::<Vec<_>>()))
        }
        Op::MatMul(attrs) => matmul(s[0], s[1], attrs),
        Op::Conv2d(attrs) => conv2d(s[0], s[1], attrs),
        Op::Conv2dInputGrad { conv, input_shape } => {
            let dy = conv2d(input_shape, s[1], conv)
                .map_err(|e| format!("input_shape {input_shape}: {e}"))?;
            expect_dy(&dy, s[0])?;
            Ok(input_shape.clone())
        }
        Op::Conv2dFilterGrad { conv, filter_shape } => {
            let dy = conv2d(s[0], filter_shape, conv)
                .map_err(|e| format!("filter_shape {filter_shape}: {e}"))?;
            expect_dy(&dy, s[1])?;
            Ok(filter_shape.clone())
        }
        Op::MaxPool2d(attrs) => maxpool2d(s[0], attrs),
        Op::MaxPool2dGrad(attrs) => {
            let dy = maxpool2d(s[0], attrs)?;
            expect_dy(&dy, s[1])?;
            Ok(Shape::from(s[0]))
        }
        Op::Fused { kernel, .. } => {
            for (k, (from, map)) in s.iter().zip(&kernel.maps).enumerate() {
                broadcast(from, &kernel.shape, map).map_err(|e| format!("operand {k}: {e}"))?;
            }
            Ok(kernel.shape.clone())
        }
    }
}

/// The body, results and `result` of a fused op, before its operands.
fn check_fused(kernel: &FusedKernel, result: usize) -> Result<(), String> {
    kernel.check_body(kernel.maps.len())?;
    if result >= kernel.results.len() {
        return Err(format!(
            "result {result} is out of range for a kernel with {} result(s)",
            kernel.results.len()
        ));
    }
    Ok(())
}

fn same_shapes(s: &[&[usize]]) -> Result<(), String> {
    if s.iter().all(|x| *x == s[0]) {
        Ok(())
    } else {
        Err("operand shapes differ (broadcast explicitly)".into())
    }
}

fn broadcast(from: &[usize], shape: &Shape, dims: &[usize]) -> Result<Shape, String> {
    if dims.len() != from.len() {
        return Err(format!(
            "dims has {} entries for an operand of rank {}",
            dims.len(),
            from.len()
        ));
    }
    for (i, &d) in dims.iter().enumerate() {
        if d >= shape.rank() {
            return Err(format!("dims[{i}] = {d} is out of range for {shape}"));
        }
        if i > 0 && d <= dims[i - 1] {
            return Err("dims must be strictly increasing".into());
        }
        if from[i] != shape[d] && from[i] != 1 {
            return Err(format!(
                "operand axis {i} (extent {}) cannot broadcast to axis {d} of {shape}",
                from[i]
            ));
        }
    }
    Ok(shape.clone())
}

fn check_permutation(perm: &[usize], rank: usize) -> Result<(), String> {
    let mut seen = vec![false; rank];
    if perm.len() != rank {
        return Err(format!("perm has {} entries for rank {rank}", perm.len()));
    }
    for &p in perm {
        if p >= rank || std::mem::replace(&mut seen[p], true) {
            return Err(format!("perm {perm:?} is not a permutation of 0..{rank}"));
        }
    }
    Ok(())
}

fn check_rank_list(what: &str, list: &[usize], rank: usize) -> Result<(), String> {
    if list.len() == rank {
        Ok(())
    } else {
        Err(format!("{what} has {} entries for rank {rank}", list.len()))
    }
}

fn check_axes(axes: &[usize], rank: usize) -> Result<(), String> {
    for (i, &a) in axes.iter().enumerate() {
        if a >= rank {
            return Err(format!("axis {a} is out of range for rank {rank}"));
        }
        if i > 0 && a <= axes[i - 1] {
            return Err("axes must be strictly increasing".into());
        }
    }
    Ok(())
}

fn matmul(a: &[usize], b: &[usize], attrs: &MatMulAttrs) -> Result<Shape, String> {
    if a.len() < 2 || a.len() != b.len() {
        return Err("operands must have the same rank, at least 2".into());
    }
    let r = a.len();
    if a[..r - 2] != b[..r - 2] {
        return Err("batch axes differ".into());
    }
    // `(rows, cols)` of each operand as the product reads it.
    let read = |x: &[usize], t: bool| {
        if t {
            (x[r - 1], x[r - 2])
        } else {
            (x[r - 2], x[r - 1])
        }
    };
    let (m, ka) = read(a, attrs.transpose_a);
    let (kb, n) = read(b, attrs.transpose_b);
    if ka != kb {
        return Err(format!("contracting extents differ ({ka} vs {kb})"));
    }
    let mut out = a[..r - 2].to_vec();
    out.extend([m, n]);
    Ok(Shape::new(out))
}

fn spatial_out(
    h: usize,
    w: usize,
    window_hw: [usize; 2],
    attrs_strides: [usize; 2],
    padding: crate::op::Padding,
) -> Result<[usize; 2], String> {
    if attrs_strides.contains(&0) {
        return Err("strides must be positive".into());
    }
    let oh = window(h, window_hw[0], attrs_strides[0], padding);
    let ow = window(w, window_hw[1], attrs_strides[1], padding);
    match (oh, ow) {
        (Some(oh), Some(ow)) => Ok([oh.out, ow.out]),
        _ => Err(format!(
            "a {}x{} window does not fit a {h}x{w} image with {} padding",
            window_hw[0],
            window_hw[1],
            padding.name()
        )),
    }
}

fn conv2d(x: &[usize], f: &[usize], attrs: &ConvAttrs) -> Result<Shape, String> {
    if x.len() != 4 || f.len() != 4 {
        return Err("image and filter must both have rank 4".into());
    }
    let [n, h, w, c] = image_dims(x, attrs.layout);
    let [kh, kw, ci, co] = filter_dims(f, attrs.layout);
    if c != ci {
        return Err(format!(
            "image has {c} channels but the filter expects {ci} ({} layout)",
            attrs.layout.name()
        ));
    }
    let [oh, ow] = spatial_out(h, w, [kh, kw], attrs.strides, attrs.padding)?;
    Ok(Shape::new(image_shape([n, oh, ow, co], attrs.layout)))
}

fn maxpool2d(x: &[usize], attrs: &PoolAttrs) -> Result<Shape, String> {
    if x.len() != 4 {
        return Err("image must have rank 4".into());
    }
    let [n, h, w, c] = image_dims(x, attrs.layout);
    let [oh, ow] = spatial_out(h, w, attrs.window, attrs.strides, attrs.padding)?;
    Ok(Shape::new(image_shape([n, oh, ow, c], attrs.layout)))
}

fn expect_dy(expected: &Shape, dy: &[usize]) -> Result<(), String> {
    if expected.dims() == dy {
        Ok(())
    } else {
        Err(format!(
            "dy has shape {} but the forward op produces {expected}",
            Shape::from(dy)
        ))
    }
}
