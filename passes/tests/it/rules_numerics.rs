//! The numerics rules: stability rewrites, checked for firing here and
//! against the f64 interpreter in `roundtrip`.

use triceratops_passes::rules::numerics;

use crate::{proves, refutes};

const M: [usize; 2] = [2, 3];

proves!(log_exp, numerics::rules(), [M], "(log (exp $0))" => "$0");
refutes!(exp_log_stays, numerics::rules(), [M], "(exp (log $0))" => "$0");
proves!(sqrt_square, numerics::rules(), [M], "(sqrt (square $0))" => "(abs $0)");
proves!(sqrt_mul_self, numerics::rules(), [M], "(sqrt (mul $0 $0))" => "(abs $0)");
proves!(log_softmax_shifted, numerics::rules(), [M],
    "(log (div (exp (sub $0 (broadcast [2,3] [0,1] (reduce_max [1] true $0))))
               (broadcast [2,3] [0,1] (reduce_sum [1] true (exp (sub $0 (broadcast [2,3] [0,1] (reduce_max [1] true $0))))))))"
    => "(sub (sub $0 (broadcast [2,3] [0,1] (reduce_max [1] true $0)))
             (broadcast [2,3] [0,1] (log (reduce_sum [1] true (exp (sub $0 (broadcast [2,3] [0,1] (reduce_max [1] true $0))))))))");
proves!(log_softmax_unshifted_gets_shifted, numerics::rules(), [M],
    "(log (div (exp $0) (broadcast [2,3] [0,1] (reduce_sum [1] true (exp $0)))))"
    => "(sub (sub $0 (broadcast [2,3] [0,1] (reduce_max [1] true $0)))
             (broadcast [2,3] [0,1] (log (reduce_sum [1] true (exp (sub $0 (broadcast [2,3] [0,1] (reduce_max [1] true $0))))))))");
// A softmax over one axis divided by a sum over another is not a softmax.
refutes!(log_of_other_ratio_stays, numerics::rules(), [M, M],
    "(log (div (exp $0) (broadcast [2,3] [0,1] (reduce_sum [1] true (exp $1)))))"
    => "(sub $0 (broadcast [2,3] [0,1] (log (reduce_sum [1] true (exp $0)))))");
