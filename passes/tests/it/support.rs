//! Rule tests in the style of `egg::test_fn!`: an expression over typed
//! arguments, the rules of one set, and a goal that must (or must not)
//! end up in the start's e-class.

use egg::{RecExpr, Rewrite, Runner, SimpleScheduler};
use triceratops_ir::{Graph, TensorType};
use triceratops_passes::analysis::{TensorAnalysis, EG};
use triceratops_passes::Node;

pub type Rules = Vec<Rewrite<Node, TensorAnalysis>>;

/// Saturates `start` (arguments `$i` of the given shapes) under `rules`.
pub fn saturate(rules: &Rules, args: &[&[usize]], start: &str) -> (EG, egg::Id) {
    let args = args.iter().map(|s| TensorType::f32(s.to_vec())).collect();
    let expr: RecExpr<Node> = start.parse().expect("start parses");
    let mut eg = EG::new(TensorAnalysis::new(args));
    let root = eg.add_expr(&expr);
    eg.rebuild();
    let runner: Runner<Node, TensorAnalysis> = Runner::new(TensorAnalysis::default())
        .with_egraph(eg)
        .with_iter_limit(20)
        .with_node_limit(10_000)
        .with_scheduler(SimpleScheduler)
        .run(rules);
    assert_eq!(runner.egraph.analysis.conflicts, 0, "analysis conflicts");
    let root = runner.egraph.find(root);
    (runner.egraph, root)
}

/// Whether `goal` is in the class of `start` after saturation.
pub fn proves(rules: &Rules, args: &[&[usize]], start: &str, goal: &str) -> bool {
    let (eg, root) = saturate(rules, args, start);
    let goal: RecExpr<Node> = goal.parse().expect("goal parses");
    eg.lookup_expr(&goal) == Some(root)
}

/// `start => goal` must hold.
#[macro_export]
macro_rules! proves {
    ($name:ident, $rules:expr, [$($arg:expr),*], $start:literal => $goal:literal) => {
        #[test]
        fn $name() {
            assert!(
                $crate::support::proves(&$rules, &[$(&$arg),*], $start, $goal),
                "{} should become {}", $start, $goal
            );
        }
    };
}

/// `start => goal` must NOT hold (the rule must not fire).
#[macro_export]
macro_rules! refutes {
    ($name:ident, $rules:expr, [$($arg:expr),*], $start:literal => $goal:literal) => {
        #[test]
        fn $name() {
            assert!(
                !$crate::support::proves(&$rules, &[$(&$arg),*], $start, $goal),
                "{} must not become {}", $start, $goal
            );
        }
    };
}

/// Every output and update of `a` and `b` on the same random inputs,
/// compared bit for bit.
pub fn assert_same_bits(a: &Graph, b: &Graph, seed: u64) {
    use triceratops_ir::interp::evaluate;
    let inputs = triceratops_ir::testing::random_inputs::<f32>(a, seed);
    let ra = evaluate(a, &inputs).expect("before runs");
    let rb = evaluate(b, &inputs).expect("after runs");
    for (name, _) in a.outputs() {
        let (x, y) = (ra.output(name).unwrap(), rb.output(name).unwrap());
        assert_eq!(x.shape(), y.shape(), "output {name}");
        for (i, (p, q)) in x.iter().zip(y.iter()).enumerate() {
            assert_eq!(p.to_bits(), q.to_bits(), "output {name}[{i}]: {p} vs {q}");
        }
    }
    let ua: Vec<_> = ra.updates().collect();
    let ub: Vec<_> = rb.updates().collect();
    assert_eq!(ua.len(), ub.len());
    for ((n1, x), (n2, y)) in ua.iter().zip(&ub) {
        assert_eq!(n1, n2);
        for (p, q) in x.iter().zip(y.iter()) {
            assert_eq!(p.to_bits(), q.to_bits(), "update {n1}: {p} vs {q}");
        }
    }
}
