//! Every algebra rule, and the identities that must not fire.

use triceratops_passes::rules::algebra;
use triceratops_passes::{algebra_rules, PassOptions};

use crate::{proves, refutes};

fn exact() -> crate::support::Rules {
    algebra::rules()
}

fn fast() -> crate::support::Rules {
    algebra_rules(&PassOptions {
        fast_math: true,
        ..PassOptions::default()
    })
}

const M: [usize; 2] = [2, 3];
const SQ: [usize; 2] = [3, 3];

proves!(mul_one, exact(), [M], "(mul $0 (broadcast [2,3] [] const[]:1.0))" => "$0");
proves!(one_mul, exact(), [M], "(mul const[2,3]:1.0 $0)" => "$0");
proves!(div_one, exact(), [M], "(div $0 const[2,3]:1.0)" => "$0");
proves!(sub_zero, exact(), [M], "(sub $0 (broadcast [2,3] [] const[]:0.0))" => "$0");
proves!(add_neg_zero, exact(), [M], "(add $0 const[2,3]:-0.0)" => "$0");
proves!(neg_zero_add, exact(), [M], "(add const[2,3]:-0.0 $0)" => "$0");
// -0 + +0 = +0: x + 0 is not x when x may be -0.
refutes!(add_pos_zero_stays, exact(), [M], "(add $0 const[2,3]:0.0)" => "$0");
// -0 - (-0) = +0: x - (-0) is not x either.
refutes!(sub_neg_zero_stays, exact(), [M], "(sub $0 const[2,3]:-0.0)" => "$0");
// NaN * 0 is NaN and -1 * 0 is -0.
refutes!(mul_zero_stays, exact(), [M], "(mul $0 const[2,3]:0.0)" => "const[2,3]:0.0");
refutes!(sub_self_stays, exact(), [M], "(sub $0 $0)" => "const[2,3]:0.0");
proves!(mul_two, exact(), [M], "(mul $0 const[2,3]:2.0)" => "(add $0 $0)");
proves!(two_mul, exact(), [M], "(mul const[2,3]:2.0 $0)" => "(add $0 $0)");
proves!(mul_self, exact(), [M], "(mul $0 $0)" => "(square $0)");
proves!(div_pow2, exact(), [M], "(div $0 const[2,3]:4.0)" => "(mul $0 const[2,3]:0.25)");
proves!(div_pow2_subnormal_reciprocal, exact(), [M],
    "(div $0 const[2,3]:1.7014118e38)" => "(mul $0 const[2,3]:5.877472e-39)");
refutes!(div_three_stays_exact, exact(), [M], "(div $0 const[2,3]:3.0)" => "(mul $0 const[2,3]:0.33333334)");
proves!(div_three_fast_math, fast(), [M], "(div $0 const[2,3]:3.0)" => "(mul $0 const[2,3]:0.33333334)");
refutes!(pow_two_stays_exact, exact(), [M], "(pow 2.0 $0)" => "(square $0)");
proves!(pow_two_fast_math, fast(), [M], "(pow 2.0 $0)" => "(square $0)");
refutes!(no_reassociation_exact, exact(), [M],
    "(add (add $0 const[2,3]:0.1) const[2,3]:0.2)" => "(add $0 const[2,3]:0.3)");
proves!(reassociation_fast_math, fast(), [M],
    "(add (add $0 const[2,3]:0.1) const[2,3]:0.2)" => "(add $0 const[2,3]:0.3)");
proves!(select_same, exact(), [M, M], "(select $1 $0 $0)" => "$0");
proves!(select_mask, exact(), [M, M],
    "(select (gt $0 $1) const[2,3]:1.0 const[2,3]:0.0)" => "(gt $0 $1)");
// Only a comparison is known to be exactly 0 or 1.
refutes!(select_non_mask_stays, exact(), [M],
    "(select $0 const[2,3]:1.0 const[2,3]:0.0)" => "$0");
refutes!(select_mask_negative_zero_stays, exact(), [M, M],
    "(select (gt $0 $1) const[2,3]:1.0 const[2,3]:-0.0)" => "(gt $0 $1)");
proves!(neg_neg, exact(), [M], "(neg (neg $0))" => "$0");
proves!(relu_relu, exact(), [M], "(relu (relu $0))" => "(relu $0)");
proves!(abs_abs, exact(), [M], "(abs (abs $0))" => "(abs $0)");
refutes!(exp_exp_stays, exact(), [M], "(exp (exp $0))" => "(exp $0)");
proves!(max_self, exact(), [M], "(max $0 $0)" => "$0");
proves!(min_self, exact(), [M], "(min $0 $0)" => "$0");
refutes!(add_self_stays, exact(), [M], "(add $0 $0)" => "$0");
proves!(transpose_cancels, exact(), [[2, 3, 4]],
    "(transpose [2,0,1] (transpose [1,2,0] $0))" => "$0");
proves!(transpose_composes, exact(), [[2, 3, 4]],
    "(transpose [1,0,2] (transpose [1,2,0] $0))" => "(transpose [2,1,0] $0)");
proves!(transpose_identity, exact(), [SQ], "(transpose [0,1] $0)" => "$0");
// Same shape, different element order: not the identity.
refutes!(square_transpose_stays, exact(), [SQ], "(transpose [1,0] $0)" => "$0");
proves!(reshape_reshape, exact(), [[2, 3, 4]],
    "(reshape [4,6] (reshape [6,4] $0))" => "(reshape [4,6] $0)");
proves!(reshape_back, exact(), [[2, 3, 4]], "(reshape [2,3,4] (reshape [6,4] $0))" => "$0");
proves!(broadcast_broadcast, exact(), [[3]],
    "(broadcast [5,2,3] [1,2] (broadcast [2,3] [1] $0))" => "(broadcast [5,2,3] [2] $0)");
proves!(broadcast_noop, exact(), [M], "(broadcast [2,3] [0,1] $0)" => "$0");
refutes!(broadcast_changes_meaning, exact(), [[1, 3]],
    "(broadcast [2,3] [0,1] $0)" => "(reshape [2,3] $0)");
// Folding is the interpreter's arithmetic, splats through one element.
proves!(fold_splat_chain, exact(), [],
    "(add (broadcast [2,3] [] const[]:0.1) const[2,3]:0.2)" => "const[2,3]:0.3");
proves!(fold_dense, exact(), [],
    "(reduce_sum [0] false const[3]:[1.0,2.0,3.5])" => "const[]:6.5");
proves!(fold_then_identity, exact(), [M],
    "(mul $0 (sub const[2,3]:3.0 const[2,3]:2.0))" => "$0");
// exp(log(x)) is not x for x < 0 (and log is not in the algebra set).
refutes!(exp_log_stays, exact(), [M], "(exp (log $0))" => "$0");

#[test]
fn no_rewrites_inside_constant_classes() {
    // A constant expression becomes its literal and nothing else new.
    let (eg, root) = crate::support::saturate(
        &fast(),
        &[],
        "(add (add const[]:1.0 const[]:2.0) (mul const[]:3.0 const[]:1.0))",
    );
    assert_eq!(eg[root].data.splat(), Some(6.0));
    assert!(
        eg.total_number_of_nodes() < 12,
        "{}",
        eg.total_number_of_nodes()
    );
}
