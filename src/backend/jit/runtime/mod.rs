//! TEMPORARY stand-ins until the runtime branch lands (replaced on merge).
#![allow(dead_code, unused_variables)]
use crate::ir::op::MatMulAttrs;
use crate::ir::{ConvAttrs, PoolAttrs};
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatMulDesc {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
}
impl MatMulDesc {
    pub fn new(a: &[usize], b: &[usize], attrs: MatMulAttrs) -> MatMulDesc {
        MatMulDesc {
            batch: 0,
            m: 0,
            k: 0,
            n: 0,
        }
    }
}
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConvDesc {
    x: usize,
}
impl ConvDesc {
    pub fn new(a: &[usize], b: &[usize], attrs: ConvAttrs) -> ConvDesc {
        ConvDesc { x: 0 }
    }
    pub fn scratch_len(&self) -> usize {
        0
    }
}
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PoolDesc {
    x: usize,
}
impl PoolDesc {
    pub fn new(a: &[usize], attrs: PoolAttrs) -> PoolDesc {
        PoolDesc { x: 0 }
    }
}
pub fn symbols() -> Vec<(&'static str, *const u8)> {
    vec![]
}
pub unsafe extern "C" fn tri_matmul(
    d: *const MatMulDesc,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
) {
    unimplemented!()
}
pub unsafe extern "C" fn tri_conv2d(
    d: *const ConvDesc,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    s: *mut f32,
) {
    unimplemented!()
}
pub unsafe extern "C" fn tri_conv2d_input_grad(
    d: *const ConvDesc,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    s: *mut f32,
) {
    unimplemented!()
}
pub unsafe extern "C" fn tri_conv2d_filter_grad(
    d: *const ConvDesc,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    s: *mut f32,
) {
    unimplemented!()
}
pub unsafe extern "C" fn tri_maxpool2d(d: *const PoolDesc, x: *const f32, y: *mut f32) {
    unimplemented!()
}
pub unsafe extern "C" fn tri_maxpool2d_grad(
    d: *const PoolDesc,
    x: *const f32,
    dy: *const f32,
    dx: *mut f32,
) {
    unimplemented!()
}
