//! Every layout rule, and the sinks and folds that must not fire.

use crate::{proves, refutes};

fn layout() -> crate::support::Rules {
    triceratops_passes::layout_rules()
}

// Composition is the algebra set's rule, run by the layout phase too.
proves!(transpose_transpose_cancels, layout(), [[2, 3, 4]],
    "(transpose [2,0,1] (transpose [1,2,0] $0))" => "$0");
proves!(transpose_transpose_composes, layout(), [[2, 3, 4]],
    "(transpose [1,0,2] (transpose [1,2,0] $0))" => "(transpose [2,1,0] $0)");
// Only extent-1 axes move: the element order is unchanged.
proves!(transpose_of_unit_axes_is_reshape, layout(), [[1, 3, 4]],
    "(transpose [1,0,2] $0)" => "(reshape [3,1,4] $0)");
proves!(reshape_transpose_chain_folds, layout(), [[3, 4]],
    "(transpose [1,0,2] (reshape [3,1,4] $0))" => "(reshape [1,3,4] $0)");
refutes!(transpose_of_real_axes_is_no_reshape, layout(), [[2, 3, 1]],
    "(transpose [1,0,2] $0)" => "(reshape [3,2,1] $0)");
// Dense backward: matmul(transpose(x), g) and matmul(g, transpose(w)).
proves!(matmul_transpose_a, layout(), [[4, 3], [4, 5]],
    "(matmul false false (transpose [1,0] $0) $1)" => "(matmul true false $0 $1)");
proves!(matmul_transpose_b, layout(), [[4, 5], [3, 5]],
    "(matmul false false $0 (transpose [1,0] $1))" => "(matmul false true $0 $1)");
proves!(matmul_transpose_a_flag_flips_back, layout(), [[3, 4], [4, 5]],
    "(matmul true false (transpose [1,0] $0) $1)" => "(matmul false false $0 $1)");
proves!(matmul_transpose_both, layout(), [[4, 3], [5, 4]],
    "(matmul false false (transpose [1,0] $0) (transpose [1,0] $1))" => "(matmul true true $0 $1)");
proves!(batched_matmul_transpose_last_two, layout(), [[2, 4, 3], [2, 4, 5]],
    "(matmul false false (transpose [0,2,1] $0) $1)" => "(matmul true false $0 $1)");
// A batched transpose that moves the batch axis is no flag.
// Same shapes either way, so only the condition keeps it out.
refutes!(batched_matmul_other_transpose_stays, layout(), [[2, 2, 3], [2, 3, 5]],
    "(matmul false false (transpose [1,0,2] $0) $1)" => "(matmul false false $0 $1)");
refutes!(batched_matmul_other_transpose_is_no_flag, layout(), [[3, 4, 4], [4, 4, 4]],
    "(matmul false false (transpose [1,0,2] $0) $1)" => "(matmul true false $0 $1)");
// Elementwise sinking.
proves!(unary_sinks, layout(), [[2, 3]],
    "(relu (transpose [1,0] $0))" => "(transpose [1,0] (relu $0))");
proves!(pow_sinks, layout(), [[2, 3]],
    "(pow 3.0 (transpose [1,0] $0))" => "(transpose [1,0] (pow 3.0 $0))");
proves!(binary_sinks_same_perm, layout(), [[2, 3], [2, 3]],
    "(add (transpose [1,0] $0) (transpose [1,0] $1))" => "(transpose [1,0] (add $0 $1))");
proves!(binary_sinks_past_splat, layout(), [[2, 3]],
    "(mul (transpose [1,0] $0) const[3,2]:0.5)" => "(transpose [1,0] (mul $0 const[2,3]:0.5))");
proves!(binary_sinks_past_splat_left, layout(), [[2, 3]],
    "(sub const[3,2]:0.5 (transpose [1,0] $0))" => "(transpose [1,0] (sub const[2,3]:0.5 $0))");
proves!(binary_sinks_past_scalar_broadcast, layout(), [[2, 3], []],
    "(mul (transpose [1,0] $0) (broadcast [3,2] [] $1))"
    => "(transpose [1,0] (mul $0 (broadcast [2,3] [] $1)))");
proves!(select_sinks, layout(), [[2, 3], [2, 3]],
    "(select (gt (transpose [1,0] $0) const[3,2]:0.0) (transpose [1,0] $1) const[3,2]:0.0)"
    => "(transpose [1,0] (select (gt $0 const[2,3]:0.0) $1 const[2,3]:0.0))");
// A same-shaped operand that is not transposed: shapes prove nothing.
refutes!(no_sink_past_plain_operand, layout(), [[3, 3], [3, 3]],
    "(add (transpose [1,0] $0) $1)" => "(transpose [1,0] (add $0 $1))");
refutes!(no_sink_past_other_perm, layout(), [[2, 3, 4], [3, 2, 4]],
    "(add (transpose [1,0,2] $0) (transpose [0,1,2] $1))" => "(transpose [1,0,2] (add $0 $1))");
// A bias broadcast along channels (NCHW) re-aims to NHWC's last axis.
proves!(bias_broadcast_sinks, layout(), [[2, 4, 5, 3], [3]],
    "(add (transpose [0,3,1,2] $0) (broadcast [2,3,4,5] [1] $1))"
    => "(transpose [0,3,1,2] (add $0 (broadcast [2,4,5,3] [3] $1)))");
proves!(transpose_of_broadcast, layout(), [[4, 3]],
    "(transpose [1,0,2] (broadcast [4,2,3] [0,2] $0))" => "(broadcast [2,4,3] [1,2] $0)");
// Dims [0,1] under [2,1,0] become [2,1]: not increasing, a transpose of
// the broadcast operand would be needed.
refutes!(no_sink_past_inconsistent_broadcast, layout(), [[2, 3, 4], [4, 3]],
    "(add (transpose [2,1,0] $0) (broadcast [4,3,2] [0,1] $1))"
    => "(transpose [2,1,0] (add $0 (broadcast [2,3,4] [2,1] $1)))");
refutes!(no_transpose_of_inconsistent_broadcast, layout(), [[4, 3]],
    "(transpose [2,1,0] (broadcast [4,3,2] [0,1] $0))" => "(broadcast [2,3,4] [2,1] $0)");
// conv/pool layouts: NCHW over transposed operands is NHWC, transposed.
proves!(conv2d_nchw_to_nhwc, layout(), [[1, 5, 5, 2], [3, 3, 2, 4]],
    "(conv2d [1,1] valid nchw (transpose [0,3,1,2] $0) (transpose [3,2,0,1] $1))"
    => "(transpose [0,3,1,2] (conv2d [1,1] valid nhwc $0 $1))");
proves!(conv2d_nhwc_to_nchw, layout(), [[1, 2, 5, 5], [4, 2, 3, 3]],
    "(conv2d [1,1] same nhwc (transpose [0,2,3,1] $0) (transpose [2,3,1,0] $1))"
    => "(transpose [0,2,3,1] (conv2d [1,1] same nchw $0 $1))");
proves!(conv2d_input_grad_nchw_to_nhwc, layout(), [[1, 3, 3, 4], [3, 3, 2, 4]],
    "(conv2d_input_grad [1,1] valid nchw [1,2,5,5] (transpose [0,3,1,2] $0) (transpose [3,2,0,1] $1))"
    => "(transpose [0,3,1,2] (conv2d_input_grad [1,1] valid nhwc [1,5,5,2] $0 $1))");
proves!(conv2d_filter_grad_nchw_to_nhwc, layout(), [[1, 5, 5, 2], [1, 3, 3, 4]],
    "(transpose [2,3,1,0] (conv2d_filter_grad [1,1] valid nchw [4,2,3,3] (transpose [0,3,1,2] $0) (transpose [0,3,1,2] $1)))"
    => "(conv2d_filter_grad [1,1] valid nhwc [3,3,2,4] $0 $1)");
proves!(maxpool_nchw_to_nhwc, layout(), [[1, 4, 4, 2]],
    "(maxpool2d [2,2] [2,2] valid nchw (transpose [0,3,1,2] $0))"
    => "(transpose [0,3,1,2] (maxpool2d [2,2] [2,2] valid nhwc $0))");
proves!(maxpool_grad_nchw_to_nhwc, layout(), [[1, 4, 4, 2], [1, 2, 2, 2]],
    "(maxpool2d_grad [2,2] [2,2] valid nchw (transpose [0,3,1,2] $0) (transpose [0,3,1,2] $1))"
    => "(transpose [0,3,1,2] (maxpool2d_grad [2,2] [2,2] valid nhwc $0 $1))");
// A layout flip never changes an op's padding or strides.
refutes!(conv_keeps_padding, layout(), [[1, 5, 5, 2], [3, 3, 2, 4]],
    "(conv2d [1,1] valid nchw (transpose [0,3,1,2] $0) (transpose [3,2,0,1] $1))"
    => "(transpose [0,3,1,2] (conv2d [1,1] same nhwc $0 $1))");

#[test]
fn layout_saturates_small() {
    // Flipping both ways and sinking closes: permutations compose.
    let (eg, _) = crate::support::saturate(
        &layout(),
        &[&[1, 5, 5, 2], &[3, 3, 2, 4], &[4]],
        "(relu (add (conv2d [1,1] valid nchw (transpose [0,3,1,2] $0) (transpose [3,2,0,1] $1)) (broadcast [1,4,3,3] [1] $2)))",
    );
    assert!(
        eg.total_number_of_nodes() < 200,
        "{}",
        eg.total_number_of_nodes()
    );
}

mod random {
    //! Random channels_first-style chains (NCHW convs and pools over
    //! transposed NHWC data and HWIO filters, bias broadcasts, transposed
    //! elementwise operands, splats, matmuls of transposes): the layout
    //! phase keeps every bit and leaves one transpose (before the flatten).
    use proptest::prelude::*;
    use triceratops_ir::op::MatMulAttrs;
    use triceratops_ir::{CmpOp, ConvAttrs, Graph, Layout, NodeKind, Op, Padding, PoolAttrs};
    use triceratops_passes::{optimize, PassOptions};

    use crate::support::assert_same_bits;

    fn build(steps: &[u8], c: usize) -> Graph {
        let mut g = Graph::new("layout");
        let x = g.input("x", [2, 6, 6, c]).unwrap();
        // The NCHW view of the running NHWC value.
        let mut v = g.transpose(x, &[0, 3, 1, 2]).unwrap();
        let mut ch = c;
        let mut hw = 6;
        for (i, &s) in steps.iter().enumerate() {
            let p = |name: &str| format!("{name}{i}");
            v = match s % 7 {
                0 => g.relu(v).unwrap(),
                1 => {
                    let two = g.scalar(0.5).unwrap();
                    let two = g.broadcast_to(two, [2, ch, hw, hw]).unwrap();
                    g.mul(two, v).unwrap()
                }
                2 => {
                    let b = g.param(&p("b"), [ch]).unwrap();
                    let b = g.broadcast_in_dim(b, [2, ch, hw, hw], vec![1]).unwrap();
                    g.add(v, b).unwrap()
                }
                3 => {
                    // Another NHWC value seen as NCHW.
                    let y = g.param(&p("y"), [2, hw, hw, ch]).unwrap();
                    let y = g.transpose(y, &[0, 3, 1, 2]).unwrap();
                    g.sub(v, y).unwrap()
                }
                4 => {
                    let w = g.param(&p("w"), [3, 3, ch, 2]).unwrap();
                    let w = g.transpose(w, &[3, 2, 0, 1]).unwrap();
                    let attrs = ConvAttrs {
                        strides: [1, 1],
                        padding: Padding::Same,
                        layout: Layout::Nchw,
                    };
                    ch = 2;
                    g.conv2d(v, w, attrs).unwrap()
                }
                5 if hw % 2 == 0 => {
                    let attrs = PoolAttrs {
                        window: [2, 2],
                        strides: [2, 2],
                        padding: Padding::Valid,
                        layout: Layout::Nchw,
                    };
                    hw /= 2;
                    g.maxpool2d(v, attrs).unwrap()
                }
                _ => {
                    // A ReLU-gradient-like select on a mask of v.
                    let zero = g.scalar(0.0).unwrap();
                    let zeros = g.broadcast_to(zero, [2, ch, hw, hw]).unwrap();
                    let m = g.compare(CmpOp::Gt, v, zeros).unwrap();
                    g.select(m, v, zeros).unwrap()
                }
            };
        }
        let flat = g.reshape(v, [2, ch * hw * hw]).unwrap();
        let d = g.param("d", [3, ch * hw * hw]).unwrap();
        let dt = g.transpose(d, &[1, 0]).unwrap();
        let out = g.matmul_with(flat, dt, MatMulAttrs::PLAIN).unwrap();
        let ft = g.transpose(flat, &[1, 0]).unwrap();
        let gd = g.matmul(ft, out).unwrap();
        g.add_output("out", out).unwrap();
        g.add_output("gd", gd).unwrap();
        g
    }

    fn transposes(g: &Graph) -> usize {
        g.ids()
            .filter(|&id| {
                matches!(
                    &g.node(id).kind,
                    NodeKind::Op {
                        op: Op::Transpose { .. },
                        ..
                    }
                )
            })
            .count()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn layout_keeps_bits(steps in proptest::collection::vec(any::<u8>(), 0..8),
                             c in 1usize..4, seed in any::<u64>()) {
            let g = build(&steps, c);
            let (opt, report) = optimize(&g, &PassOptions::default()).unwrap();
            for p in &report.phases {
                prop_assert_eq!(p.conflicts, 0);
                prop_assert!(!p.stop.contains("limit"), "{}", report);
            }
            // The input is NHWC: the transposes sink and cancel down to
            // the one before the flatten.
            prop_assert!(transposes(&opt) <= 1, "{}", triceratops_ir::text::print(&opt));
            assert_same_bits(&g, &opt, seed);
        }
    }
}

// A sum over a transposed tensor is a sum over the permuted axes: exact
// because the interpreter sums in logical-index order, so only when the
// permutation keeps the reduced axes in order.
proves!(reduce_sum_of_nchw_bias_gradient, layout(), [[2, 3, 3, 4]],
    "(reduce_sum [0,2,3] false (transpose [0,3,1,2] $0))" => "(reduce_sum [0,1,2] false $0)");
proves!(reduce_sum_through_transpose_keepdims, layout(), [[2, 3, 4]],
    "(reduce_sum [0] true (transpose [1,0,2] $0))" => "(transpose [1,0,2] (reduce_sum [1] true $0))");
proves!(reduce_sum_through_transpose_reorders_kept_axes, layout(), [[2, 3, 4]],
    "(reduce_sum [1] false (transpose [2,0,1] $0))" => "(transpose [1,0] (reduce_sum [0] false $0))");
refutes!(reduce_sum_through_transpose_keeps_reduced_order, layout(), [[2, 3, 4]],
    "(reduce_sum [0,1] false (transpose [1,0,2] $0))" => "(reduce_sum [0,1] false $0)");
