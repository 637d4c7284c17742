//! The interpreter's sum order is defined on logical indices (highest
//! reduced axis first, each in index order), not on memory layout: a sum
//! over a transposed tensor, over the permuted axes, gives the same bits
//! whenever the permutation keeps the reduced axes in order. The layout
//! pass's `reduce_sum-through-transpose` rule relies on this.

use ndarray::IxDyn;
use proptest::prelude::*;
use triceratops_ir::interp::evaluate;
use triceratops_ir::testing::random_inputs;
use triceratops_ir::Graph;

proptest! {
    #[test]
    fn sum_of_a_transpose_is_the_sum_over_permuted_axes(
        dims in prop::collection::vec(1usize..20, 2..=3),
        perm_seed in any::<u64>(),
        mask in 1u32..16,
        seed in any::<u64>(),
    ) {
        let rank = dims.len();
        // A random permutation (Fisher-Yates from the seed).
        let mut perm: Vec<usize> = (0..rank).collect();
        let mut s = perm_seed;
        for i in (1..rank).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            perm.swap(i, (s >> 33) as usize % (i + 1));
        }
        let axes: Vec<usize> = (0..rank).filter(|a| mask & (1 << a) != 0).collect();
        prop_assume!(!axes.is_empty());
        let mapped: Vec<usize> = axes.iter().map(|&a| perm[a]).collect();
        prop_assume!(mapped.windows(2).all(|w| w[0] < w[1]));

        // The transposed tensor as its own contiguous input, so the two
        // sums walk memory differently (a transpose node may be a view).
        let tdims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
        let mut g = Graph::new("sums");
        let x = g.input("x", dims.clone()).unwrap();
        let t = g.input("t", tdims).unwrap();
        let of_transpose = g.reduce_sum(t, &axes, true).unwrap();
        let direct = g.reduce_sum(x, &mapped, true).unwrap();
        let back = g.transpose(direct, &perm).unwrap();
        g.add_output("of_transpose", of_transpose).unwrap();
        g.add_output("direct", back).unwrap();
        // Full-mantissa values of mixed magnitude, so that the order of the
        // additions shows in the bits (the shared generator's dyadic values
        // often sum exactly in any order).
        let mut inputs = random_inputs::<f32>(&g, seed);
        let mut state = seed | 1;
        let x_data = inputs["x"].mapv(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
            unit * 2f32.powi((state % 17) as i32 - 8)
        });
        inputs.insert("x".into(), x_data);
        let xt = inputs["x"]
            .view()
            .permuted_axes(IxDyn(&perm))
            .as_standard_layout()
            .into_owned();
        inputs.insert("t".into(), xt);
        let out = evaluate::<f32>(&g, &inputs).unwrap();
        let bits = |name: &str| {
            out.output(name).unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        prop_assert_eq!(bits("of_transpose"), bits("direct"), "perm {:?} axes {:?}", perm, axes);
    }
}
