//! The text format: a readable, parseable, round-trip-exact form of a graph.
//!
//! ```text
//! graph linear {
//!   input %x: f32[2,3]
//!   param %w: f32[3,4]
//!   const %half: f32[] = 0.5
//!   %3: f32[2,4] = matmul %x, %w
//!   %4: f32[4,2] = transpose %3, perm=[1,0]
//!   %5: f32[2,3] = matmul %3, %w, transpose_b=true
//!   %6: f32[2,3] = fused %5, %half, shape=[2,3], maps=[[0,1],[]], body={ %0 = in 0; %1 = in 1; %2 = mul %0, %1 }, results=[2], result=0
//!   output y = %4
//!   update %w <- %5
//! }
//! ```
//!
//! An op line is `%name: type = op operand, ..., key=value, ...`; attributes
//! follow the operands in a fixed order per op. Flag attributes (matmul's
//! `transpose_a`, `transpose_b`) print only when true and are false when
//! left out. A `fused` body is `{ %0 = ...; %1 = ... }` on the op's line:
//! instruction `%i` is `in k` (operand `k`), `const v`, or an elementwise
//! op over earlier instructions (`mul %0, %1`, `pow %2, exponent=2.0`). Floats print in Rust's
//! shortest round-trip form (`0.1`, `1e-7`, `inf`, `NaN`); a constant whose
//! elements are all equal prints as `splat(v)`. `//` starts a comment.
//! `print(parse(s)) == s` for every printed `s`, and a parsed graph equals
//! the printed one bit for bit, except that every NaN prints as `NaN`: a
//! NaN's sign and payload do not survive the text form.

mod lex;
mod parse;
mod print;

pub use parse::parse;
pub use print::print;
