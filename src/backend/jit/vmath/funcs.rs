//! The four functions. Each takes and returns an F32X4 and is branch-free:
//! special inputs flow through the arithmetic or are patched with selects.

#![allow(
    clippy::excessive_precision,
    reason = "constants are quoted as published (SLEEF, Cephes) so they can be checked against the source"
)]

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::FunctionBuilder;

use super::{bits, cmp, float, horner, select, splat_f, splat_i};

/// Below this `exp` is +0 (`ln(2^-150)` = -103.97); clamping here keeps the
/// exponent arithmetic in range and still rounds to +0.
const EXP_LO: f32 = -104.0;
/// Above this `exp` overflows (`ln(f32::MAX)` = 88.7228); clamping here
/// keeps the exponent arithmetic in range and still gives +inf.
const EXP_HI: f32 = 89.0;
/// `1.5 * 2^23`: adding it rounds a float of magnitude < 2^22 to the nearest
/// integer and leaves that integer in the low mantissa bits.
const ROUND_SHIFTER: f32 = 12_582_912.0;
/// ln 2 split for Cody-Waite reduction (SLEEF's `L2Uf`/`L2Lf`): `n * LN2_HI`
/// is exact for the |n| <= 150 that occur, so `x - n ln2` loses no bits.
const LN2_HI: f32 = 0.693_145_751_953_125;
const LN2_LO: f32 = 1.428_606_765_330_187e-6;
/// `e^r - 1 - r` over `r^2` on |r| <= ln2/2, highest degree first (SLEEF
/// `expf_u10`).
const EXP_POLY: [f32; 6] = [
    1.985_276_176_128_536_5e-4,
    1.393_043_552_525_341_5e-3,
    8.333_360_776_305_199e-3,
    4.166_648_536_920_547_5e-2,
    1.666_666_716_337_204e-1,
    0.5,
];

/// `e^x`: `x = n ln2 + r` with |r| <= ln2/2, `e^r` by a polynomial, times
/// `2^n` built in the exponent field.
pub(super) fn exp(b: &mut FunctionBuilder, x: Value) -> Value {
    // Clamp; NaN lanes fail both comparisons and stay NaN.
    let hi = splat_f(b, EXP_HI);
    let above = cmp(b, FloatCC::GreaterThan, x, hi);
    let x = select(b, above, hi, x);
    let lo = splat_f(b, EXP_LO);
    let below = cmp(b, FloatCC::LessThan, x, lo);
    let x = select(b, below, lo, x);

    // n = round(x / ln2), as a float and (from the shifted sum's bits) as
    // an integer, without a float-to-int conversion.
    let shifter = splat_f(b, ROUND_SHIFTER);
    let log2e = splat_f(b, std::f32::consts::LOG2_E);
    let t = b.ins().fma(x, log2e, shifter);
    let n = b.ins().fsub(t, shifter);
    let t_bits = bits(b, t);
    let shifter_bits = splat_i(b, ROUND_SHIFTER.to_bits() as i32);
    let ni = b.ins().isub(t_bits, shifter_bits);

    // r = x - n ln2 in two steps (Cody-Waite).
    let minus_hi = splat_f(b, -LN2_HI);
    let r = b.ins().fma(n, minus_hi, x);
    let minus_lo = splat_f(b, -LN2_LO);
    let r = b.ins().fma(n, minus_lo, r);

    // e^r = 1 + (r + r^2 P(r)).
    let p = horner(b, r, &EXP_POLY);
    let r2 = b.ins().fmul(r, r);
    let p = b.ins().fma(r2, p, r);
    let one = splat_f(b, 1.0);
    let p = b.ins().fadd(p, one);

    // Scale by 2^n as 2^(n/2) * 2^(n - n/2): n ranges over [-150, 128], so
    // each factor is a normal float, and a subnormal result is rounded
    // once, by the last multiplication.
    let n1 = b.ins().sshr_imm_u(ni, 1);
    let n2 = b.ins().isub(ni, n1);
    let s1 = pow2(b, n1);
    let s2 = pow2(b, n2);
    let y = b.ins().fmul(p, s1);
    b.ins().fmul(y, s2)
}

/// `2^n` for integer lanes `n` in [-126, 127]: the biased exponent shifted
/// into place.
fn pow2(b: &mut FunctionBuilder, n: Value) -> Value {
    let bias = splat_i(b, 127);
    let e = b.ins().iadd(n, bias);
    let e = b.ins().ishl_imm_u(e, 23);
    float(b, e)
}

/// Cephes `logf`: `log(1 + f) = f - f^2/2 + f^3 P(f)` on
/// f in [sqrt(1/2) - 1, sqrt(2) - 1), highest degree first.
const LOG_POLY: [f32; 9] = [
    7.037_683_629_2e-2,
    -1.151_461_031_0e-1,
    1.167_699_874_0e-1,
    -1.242_014_084_6e-1,
    1.424_932_278_7e-1,
    -1.666_805_766_5e-1,
    2.000_071_476_5e-1,
    -2.499_999_399_3e-1,
    3.333_333_117_4e-1,
];
/// ln 2 = LOG_LN2_HI + LOG_LN2_LO (Cephes); `e * LOG_LN2_HI` is exact.
const LOG_LN2_HI: f32 = 0.693_359_375;
const LOG_LN2_LO: f32 = -2.121_944_4e-4;

/// `ln x`: `x = 2^e m` with m in [sqrt(1/2), sqrt(2)), then
/// `e ln2 + log(m)` by a polynomial in `f = m - 1`.
pub(super) fn log(b: &mut FunctionBuilder, x: Value) -> Value {
    // Subnormals: scale by 2^23 so the exponent field holds the exponent.
    let min_normal = splat_f(b, f32::MIN_POSITIVE);
    let tiny = cmp(b, FloatCC::LessThan, x, min_normal);
    let scale = splat_f(b, 8_388_608.0);
    let scaled = b.ins().fmul(x, scale);
    let xs = select(b, tiny, scaled, x);
    let minus_23 = splat_f(b, -23.0);
    let zero = splat_f(b, 0.0);
    let e_adjust = select(b, tiny, minus_23, zero);

    // Offset the bits by 1 - sqrt(1/2) (musl's trick): the exponent field
    // then counts from sqrt(1/2) instead of 1, and the mantissa, re-biased,
    // lands in [sqrt(1/2), sqrt(2)) without a compare.
    let ix = bits(b, xs);
    let offset = splat_i(b, 0x3f80_0000 - 0x3f35_04f3);
    let ix = b.ins().iadd(ix, offset);
    let k = b.ins().sshr_imm_u(ix, 23);
    let bias = splat_i(b, 127);
    let k = b.ins().isub(k, bias);
    let mantissa_mask = splat_i(b, 0x007f_ffff);
    let m = b.ins().band(ix, mantissa_mask);
    let sqrt_half = splat_i(b, 0x3f35_04f3);
    let m = b.ins().iadd(m, sqrt_half);
    let m = float(b, m);
    let one = splat_f(b, 1.0);
    let f = b.ins().fsub(m, one); // exact (Sterbenz)
    let e = b.ins().fcvt_from_sint(types::F32X4, k);
    let e = b.ins().fadd(e, e_adjust);

    // log(m) + e ln2, smallest terms first.
    let z = b.ins().fmul(f, f);
    let p = horner(b, f, &LOG_POLY);
    let y = b.ins().fmul(p, f);
    let y = b.ins().fmul(y, z);
    let ln2_lo = splat_f(b, LOG_LN2_LO);
    let y = b.ins().fma(e, ln2_lo, y);
    let minus_half = splat_f(b, -0.5);
    let y = b.ins().fma(z, minus_half, y);
    let r = b.ins().fadd(f, y);
    let ln2_hi = splat_f(b, LOG_LN2_HI);
    let r = b.ins().fma(e, ln2_hi, r);

    // Special inputs: +inf -> +inf, ±0 -> -inf, negative or NaN -> NaN.
    let inf = splat_f(b, f32::INFINITY);
    let is_inf = cmp(b, FloatCC::Equal, x, inf);
    let r = select(b, is_inf, inf, r);
    let is_zero = cmp(b, FloatCC::Equal, x, zero);
    let minus_inf = splat_f(b, f32::NEG_INFINITY);
    let r = select(b, is_zero, minus_inf, r);
    let in_domain = cmp(b, FloatCC::GreaterThanOrEqual, x, zero);
    let nan = splat_f(b, f32::NAN);
    select(b, in_domain, r, nan)
}

/// Below this |x|, tanh uses its odd polynomial (Cephes `tanhf`); above,
/// `1 - 2 / (e^2|x| + 1)`, whose cancellation is mild there.
const TANH_SMALL: f32 = 0.625;
/// `(tanh(x) - x) / x^3` as a polynomial in `x^2` (Cephes), highest degree
/// first.
const TANH_POLY: [f32; 5] = [
    -5.704_988_727_45e-3,
    2.063_908_879_54e-2,
    -5.373_971_555_31e-2,
    1.333_144_220_36e-1,
    -3.333_328_194_22e-1,
];

/// `tanh x`, computed on |x| and given the sign of `x` back (so ±0 and the
/// sign of tiny inputs are kept).
pub(super) fn tanh(b: &mut FunctionBuilder, x: Value) -> Value {
    let a = b.ins().fabs(x);

    // |x| < 0.625: a + a z P(z), z = a^2; exactly `a` once a z P underflows.
    let z = b.ins().fmul(a, a);
    let p = horner(b, z, &TANH_POLY);
    let pz = b.ins().fmul(p, z);
    let small = b.ins().fma(pz, a, a);

    // Larger: e^2a overflows to +inf from |x| ~ 44 on, giving exactly 1.
    let two_a = b.ins().fadd(a, a);
    let e = exp(b, two_a);
    let one = splat_f(b, 1.0);
    let e1 = b.ins().fadd(e, one);
    let two = splat_f(b, 2.0);
    let q = b.ins().fdiv(two, e1);
    let large = b.ins().fsub(one, q);

    // NaN fails the comparison and takes the polynomial, which keeps it NaN.
    let threshold = splat_f(b, TANH_SMALL);
    let is_large = cmp(b, FloatCC::GreaterThan, a, threshold);
    let t = select(b, is_large, large, small);

    let sign_mask = splat_i(b, i32::MIN);
    let x_bits = bits(b, x);
    let sign = b.ins().band(x_bits, sign_mask);
    let t_bits = bits(b, t);
    let t_bits = b.ins().bor(t_bits, sign);
    float(b, t_bits)
}

/// The reference's two-sided logistic: with `e = e^-|x|`, `1 / (1 + e)` for
/// x >= 0 and `e / (1 + e)` otherwise, so neither side overflows.
pub(super) fn sigmoid(b: &mut FunctionBuilder, x: Value) -> Value {
    let a = b.ins().fabs(x);
    let minus_a = b.ins().fneg(a);
    let e = exp(b, minus_a);
    let one = splat_f(b, 1.0);
    let d = b.ins().fadd(one, e);
    let zero = splat_f(b, 0.0);
    // NaN fails `>=` and takes `e`, which is NaN.
    let non_negative = cmp(b, FloatCC::GreaterThanOrEqual, x, zero);
    let num = select(b, non_negative, one, e);
    b.ins().fdiv(num, d)
}
