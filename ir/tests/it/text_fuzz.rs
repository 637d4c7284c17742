//! Property tests of the text parser: random well-typed graphs round trip,
//! and edited graphs, token soup and arbitrary strings never panic (they
//! give a positioned parse error or a graph that prints to a fixed point);
//! plus a guard that the random-graph generator reaches every op kind.

use triceratops_ir::testing as common;

use proptest::prelude::*;
use triceratops_ir::text::{parse, print};
use triceratops_ir::{verify, BinaryOp, CmpOp, IrError, NodeKind, UnaryOp};

/// Characters that make small edits of a printed graph interesting.
const EDIT_CHARS: &[char] = &[
    '%', ':', '=', ',', ';', '[', ']', '{', '}', '(', ')', '<', '-', '.', '_', ' ', '\n', '/', '0',
    '1', '2', '9', 'a', 'e', 'f', 'x', 'é',
];

/// Token soup for the arbitrary-input test.
const TOKENS: &[&str] = &[
    "graph",
    "g",
    " ",
    "\n",
    "{",
    "}",
    "input",
    "param",
    "state",
    "const",
    "output",
    "update",
    "%x",
    "%y",
    "%3",
    ":",
    "=",
    ",",
    "<-",
    "f32",
    "[",
    "]",
    "2",
    "0",
    "4294967296",
    "splat",
    "(",
    ")",
    "1.5",
    "NaN",
    "-inf",
    "add",
    "neg",
    "transpose",
    "perm",
    "conv2d",
    "strides",
    "padding",
    "same",
    "layout",
    "nhwc",
    "reduce_max",
    "axes",
    "keepdims",
    "true",
    "matmul",
    "transpose_b",
    "fused",
    "shape",
    "maps",
    "body",
    "results",
    "result",
    "in",
    ";",
    "%0",
    "//",
    "é",
    "\t",
];

/// Asserts the parser's contract on any input: a parse error with a valid
/// position, or a graph that verifies and prints to a fixed point.
fn check_any_input(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Ok(g) => {
            prop_assert!(verify(&g).is_ok());
            let printed = print(&g);
            let again = parse(&printed).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(print(&again), printed);
        }
        Err(IrError::Parse { line, col, .. }) => {
            prop_assert!(line >= 1 && col >= 1);
            prop_assert!(line <= text.lines().count() + 1);
        }
        Err(e) => prop_assert!(false, "not a parse error: {e:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_graphs_round_trip(g in common::arb_graph()) {
        let text = print(&g);
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(print(&parsed), text);
        prop_assert!(verify(&parsed).is_ok());
        let has_nan = g.ids().any(|v| {
            g.const_value(v)
                .is_some_and(|c| c.to_vec(g.ty(v).numel()).iter().any(|x| x.is_nan()))
        });
        if !has_nan {
            prop_assert_eq!(parsed, g);
        }
    }

    #[test]
    fn edited_graphs_never_panic(
        g in common::arb_graph(),
        at in any::<prop::sample::Index>(),
        kind in 0..4usize,
        c in prop::sample::select(EDIT_CHARS),
    ) {
        let mut chars: Vec<char> = print(&g).chars().collect();
        let i = at.index(chars.len());
        match kind {
            0 => chars[i] = c,
            1 => chars.insert(i, c),
            2 => { chars.remove(i); }
            _ => chars.truncate(i),
        }
        let text: String = chars.into_iter().collect();
        check_any_input(&text)?;
    }

    #[test]
    fn fused_graphs_round_trip((_, g) in common::arb_fused_graph()) {
        let text = print(&g);
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(print(&parsed), text);
        prop_assert!(verify(&parsed).is_ok());
    }

    #[test]
    fn edited_fused_graphs_never_panic(
        (_, g) in common::arb_fused_graph(),
        at in any::<prop::sample::Index>(),
        kind in 0..4usize,
        c in prop::sample::select(EDIT_CHARS),
    ) {
        let mut chars: Vec<char> = print(&g).chars().collect();
        let i = at.index(chars.len());
        match kind {
            0 => chars[i] = c,
            1 => chars.insert(i, c),
            2 => { chars.remove(i); }
            _ => chars.truncate(i),
        }
        let text: String = chars.into_iter().collect();
        check_any_input(&text)?;
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..80)) {
        check_any_input(&tokens.concat())?;
    }

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>()) {
        check_any_input(&text)?;
    }
}

/// Guards the strategy's reach: over a few hundred draws, every op kind,
/// every role and consts all appear.
#[test]
fn generator_reaches_every_op() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = common::arb_graph();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let g = strategy.new_tree(&mut runner).unwrap().current();
        for node in g.nodes() {
            seen.insert(match &node.kind {
                NodeKind::Op { op, .. } => op.name(),
                NodeKind::Const(_) => "const",
                NodeKind::Arg(role) => role.name(),
            });
        }
    }
    let mut expected: Vec<&str> = UnaryOp::ALL.iter().map(|u| u.name()).collect();
    expected.extend(BinaryOp::ALL.iter().map(|b| b.name()));
    expected.extend(CmpOp::ALL.iter().map(|c| c.name()));
    expected.extend([
        "pow",
        "select",
        "broadcast",
        "reshape",
        "transpose",
        "pad",
        "slice",
        "reduce_sum",
        "reduce_max",
        "matmul",
        "conv2d",
        "conv2d_input_grad",
        "conv2d_filter_grad",
        "maxpool2d",
        "maxpool2d_grad",
        "const",
        "input",
        "param",
        "state",
    ]);
    for name in expected {
        assert!(seen.contains(name), "the generator never makes {name}");
    }
}
