//! The text format: print/parse round trips, hand-written texts, precise
//! errors, and robustness against arbitrary input.

mod common;

use proptest::prelude::*;
use triceratops_ir::text::{parse, print};
use triceratops_ir::{
    verify, BinaryOp, CmpOp, ConvAttrs, Graph, IrError, Layout, NodeKind, Op, Padding, PoolAttrs,
    Role, TensorType, UnaryOp,
};

/// Parses the printed graph, checks the text is a fixed point and returns
/// the parsed graph.
fn round_trip(g: &Graph) -> Graph {
    let text = print(g);
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(print(&parsed), text);
    verify(&parsed).unwrap();
    parsed
}

fn conv(strides: [usize; 2], padding: Padding, layout: Layout) -> ConvAttrs {
    ConvAttrs {
        strides,
        padding,
        layout,
    }
}

fn pool(window: [usize; 2], strides: [usize; 2], padding: Padding, layout: Layout) -> PoolAttrs {
    PoolAttrs {
        window,
        strides,
        padding,
        layout,
    }
}

/// A graph using every op kind (without NaN, so `==` applies).
fn every_op() -> Graph {
    let mut g = Graph::new("every_op");
    let x = g.input("x", [2, 3]).unwrap();
    let y = g.input("y", [2, 3]).unwrap();
    let s = g.param("s", [3]).unwrap();
    let w = g.param("w", [3, 4]).unwrap();
    let step = g.state("step", []).unwrap();
    for u in UnaryOp::ALL {
        g.unary(u, x).unwrap();
    }
    for b in BinaryOp::ALL {
        g.binary(b, x, y).unwrap();
    }
    for c in CmpOp::ALL {
        g.compare(c, x, y).unwrap();
    }
    let mask = g.compare(CmpOp::Gt, x, s).unwrap(); // broadcasts %s
    g.select(mask, x, y).unwrap();
    g.pow(x, 0.5).unwrap();
    g.pow(x, -1e-7).unwrap();
    g.broadcast_in_dim(s, [4, 2, 3], vec![2]).unwrap();
    g.reshape(x, [3, 1, 2]).unwrap();
    g.reshape(x, [6]).unwrap();
    g.transpose(x, &[1, 0]).unwrap();
    g.pad(x, &[0, 1], &[2, 0]).unwrap();
    g.slice(x, &[1, 0], &[2, 2]).unwrap();
    g.slice(x, &[1, 1], &[1, 3]).unwrap(); // empty
    for keepdims in [true, false] {
        g.reduce_sum(x, &[1], keepdims).unwrap();
        g.reduce_max(x, &[0, 1], keepdims).unwrap();
    }
    g.reduce_sum(x, &[], false).unwrap();
    let xw = g.matmul(x, w).unwrap();
    let a = g.input("a", [5, 2, 3]).unwrap();
    let bw = g.param("bw", [5, 3, 4]).unwrap();
    g.matmul(a, bw).unwrap();

    // conv2d and both gradients, in both layouts.
    let img = g.input("img", [2, 5, 5, 3]).unwrap();
    let hwio = g.param("hwio", [3, 3, 3, 4]).unwrap();
    let c = conv([2, 2], Padding::Same, Layout::Nhwc);
    let out = g.conv2d(img, hwio, c).unwrap();
    assert_eq!(g.shape(out).dims(), [2, 3, 3, 4]);
    g.conv2d_input_grad(out, hwio, c, [2, 5, 5, 3]).unwrap();
    g.conv2d_filter_grad(img, out, c, [3, 3, 3, 4]).unwrap();
    let img2 = g.input("img2", [2, 3, 6, 6]).unwrap();
    let oihw = g.param("oihw", [4, 3, 2, 2]).unwrap();
    let c = conv([2, 1], Padding::Valid, Layout::Nchw);
    let out = g.conv2d(img2, oihw, c).unwrap();
    assert_eq!(g.shape(out).dims(), [2, 4, 3, 5]);
    g.conv2d_input_grad(out, oihw, c, [2, 3, 6, 6]).unwrap();
    g.conv2d_filter_grad(img2, out, c, [4, 3, 2, 2]).unwrap();

    // maxpool2d and its gradient, in both layouts.
    let p = pool([2, 2], [2, 2], Padding::Valid, Layout::Nhwc);
    let pooled = g.maxpool2d(img, p).unwrap();
    g.maxpool2d_grad(img, pooled, p).unwrap();
    let p = pool([3, 3], [2, 2], Padding::Same, Layout::Nchw);
    let pooled = g.maxpool2d(img2, p).unwrap();
    assert_eq!(g.shape(pooled).dims(), [2, 3, 3, 3]);
    g.maxpool2d_grad(img2, pooled, p).unwrap();

    // Consts of the three literal forms, an empty one, outputs, updates.
    let one = g.scalar(1.0).unwrap();
    g.tensor([2, 2], vec![0.25; 4]).unwrap();
    g.tensor([1, 1], vec![3.0]).unwrap();
    g.tensor([3], vec![1.0, -0.0, 1e-7]).unwrap();
    g.tensor([0, 2], vec![]).unwrap();
    let next = g.add(step, one).unwrap();
    let lr = g.scalar(0.1).unwrap();
    let delta = g.mul(w, lr).unwrap();
    let new_w = g.sub(w, delta).unwrap();
    g.add_output("xw", xw).unwrap();
    g.add_output("loss", next).unwrap();
    g.add_output("mask", mask).unwrap();
    g.add_update(w, new_w).unwrap();
    g.add_update(step, next).unwrap();
    g
}

#[test]
fn every_op_round_trips() {
    let g = every_op();
    let text = print(&g);
    for name in [
        "conv2d_input_grad",
        "maxpool2d_grad",
        "select",
        "splat(0.25)",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    assert_eq!(round_trip(&g), g);
}

#[test]
fn special_floats_round_trip() {
    let mut g = Graph::new("floats");
    let special = vec![
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        0.0,
        1e-7,
        -3.25e10,
        f32::MIN_POSITIVE,
        f32::MAX,
        0.1,
    ];
    g.tensor([2, 5], special.clone()).unwrap();
    g.tensor([3], vec![f32::NAN; 3]).unwrap();
    g.scalar(f32::NEG_INFINITY).unwrap();
    g.scalar(-0.0).unwrap();
    let x = g.input("x", [2]).unwrap();
    g.pow(x, f32::NAN).unwrap();
    g.pow(x, f32::INFINITY).unwrap();
    let text = print(&g);
    assert!(
        text.contains(
            "[NaN, inf, -inf, -0.0, 0.0, 1e-7, -32500000000.0, 1.1754944e-38, 3.4028235e38, 0.1]"
        ),
        "{text}"
    );
    assert!(text.contains("splat(NaN)"));
    assert!(text.contains("exponent=NaN"));
    // NaN != NaN, so compare texts and bits.
    let parsed = round_trip(&g);
    let NodeKind::Const(data) = &parsed.nodes()[0].kind else {
        panic!("not a const");
    };
    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert!(data[0].is_nan());
    assert_eq!(bits(&data[1..]), bits(&special[1..]));
}

#[test]
fn empty_and_unnamed_graphs_round_trip() {
    let g = Graph::new("empty");
    assert_eq!(print(&g), "graph empty {\n}\n");
    assert_eq!(round_trip(&g), g);
    let mut g = Graph::new("");
    g.input("x", []).unwrap();
    assert_eq!(print(&g), "graph  {\n  input %x: f32[]\n}\n");
    assert_eq!(round_trip(&g), g);
}

#[test]
fn unusual_names_round_trip() {
    let mut g = Graph::new("net-1.2_b");
    let x = g.input("-1", [2]).unwrap();
    let y = g.neg(x).unwrap();
    g.rename(y, "3_1").unwrap();
    let z = g.abs(y).unwrap();
    g.rename(z, ".").unwrap();
    g.add_output("-", z).unwrap();
    g.add_output("graph", y).unwrap();
    let text = print(&g);
    assert!(text.contains("%.: f32[2] = abs %3_1"));
    assert_eq!(round_trip(&g), g);
}

#[test]
fn parses_hand_written_text() {
    let text = "\
// A hand-written graph.

graph   sgd_step{   // the name is followed directly by `{`
input %x :f32[ 2 , 3 ]
\tparam %w: f32[3,2]   // weights
  state   %lr: f32[] \r
  const %half: f32[] = 0.5

  const %bias: f32[2, 2] = splat( -1e-7 )
  const %v: f32[2] = [1.0,2.5]
  %y: f32[2,2] = matmul %x , %w
  %z: f32[1,2] = reduce_sum %y, keepdims=true, axes=[0]   // attributes in any order
  %p: f32[2,2]=add %y,%bias
      output   out = %p
  output z = %z
  %g: f32[3,2] = mul %w, %w
  update %w <- %g
}
// trailing comment

";
    let g = parse(text).unwrap();
    verify(&g).unwrap();
    assert_eq!(g.name(), "sgd_step");
    assert_eq!(g.len(), 10);
    let x = g.lookup("x").unwrap();
    assert_eq!(g.node(x).kind, NodeKind::Arg(Role::Input));
    assert_eq!(*g.ty(x), TensorType::f32([2, 3]));
    assert_eq!(
        g.node(g.lookup("lr").unwrap()).kind,
        NodeKind::Arg(Role::State)
    );
    let bias = g.node(g.lookup("bias").unwrap());
    assert_eq!(bias.kind, NodeKind::Const(vec![-1e-7; 4]));
    assert_eq!(
        g.node(g.lookup("v").unwrap()).kind,
        NodeKind::Const(vec![1.0, 2.5])
    );
    let z = g.node(g.lookup("z").unwrap());
    assert_eq!(
        z.op(),
        Some(&Op::ReduceSum {
            axes: vec![0],
            keepdims: true
        })
    );
    let y = g.lookup("y").unwrap();
    assert_eq!(z.operands(), [y]);
    assert_eq!(g.output("out"), g.lookup("p"));
    assert_eq!(g.outputs().len(), 2);
    assert_eq!(g.updates().len(), 1);
    assert_eq!(g.updates()[0].target, g.lookup("w").unwrap());
    // The canonical form orders outputs and updates after the values.
    let canonical = print(&g);
    assert!(canonical.contains("  %z: f32[1,2] = reduce_sum %y, axes=[0], keepdims=true\n"));
    assert!(canonical.ends_with("  output z = %z\n  update %w <- %g\n}\n"));
    assert_eq!(print(&parse(&canonical).unwrap()), canonical);
}

#[test]
fn statements_may_share_the_brace_lines() {
    let g = parse("graph g { input %x: f32[2]\n}").unwrap();
    assert_eq!(print(&g), "graph g {\n  input %x: f32[2]\n}\n");
    let g = parse("graph g {}").unwrap();
    assert!(g.is_empty());
}

/// Every printed graph among the reviewed snapshots parses back to itself.
#[test]
fn snapshot_graphs_round_trip() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut graphs = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let snap = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        // An insta snapshot: a `---` header block, then the content.
        let Some((_, content)) = snap
            .strip_prefix("---\n")
            .and_then(|s| s.split_once("---\n"))
        else {
            continue;
        };
        if content.starts_with("graph ") {
            let text = format!("{}\n", content.trim_end());
            let g = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(print(&g), text);
            graphs += 1;
        }
    }
    assert!(graphs >= 2, "found only {graphs} graph snapshots");
}

/// The position and message of a parse error.
fn parse_error(text: &str) -> (usize, usize, String) {
    match parse(text) {
        Err(IrError::Parse { line, col, message }) => (line, col, message),
        other => panic!("expected a parse error for\n{text}\ngot {other:?}"),
    }
}

#[track_caller]
fn check_error(text: &str, line: usize, col: usize, fragment: &str) {
    let (l, c, message) = parse_error(text);
    assert!(
        message.contains(fragment),
        "message {message:?} lacks {fragment:?}"
    );
    assert_eq!((l, c), (line, col), "position of {message:?}");
}

/// A graph with `%x: f32[2,3]` on line 2 and `body` starting on line 3.
fn with_x(body: &str) -> String {
    format!("graph g {{\n  input %x: f32[2,3]\n{body}\n}}\n")
}

#[test]
fn error_positions_and_messages() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("  %y: f32[2,3] = foo %x", 3, 18, "unknown op `foo`"),
        (
            "  input %z: f32[2,x]",
            3,
            19,
            "expected a non-negative integer, found `x`",
        ),
        ("  input %z: f64[2]", 3, 13, "unknown element type `f64`"),
        ("  input %z: f32 2", 3, 17, "expected `[`, found `2`"),
        ("  input %z: f32[2,3", 3, 20, "expected `,` or `]`"),
        ("  input %z: f32[99999999999]", 3, 17, "too large"),
        (
            "  input %z: f32[4294967295,4294967295,4294967295]",
            3,
            13,
            "too many elements",
        ),
        ("  %y: f32[2,3] = neg %q", 3, 22, "undefined value %q"),
        ("  param %x: f32[2]", 3, 9, "duplicate value name %x"),
        ("  %x: f32[2,3] = neg %x", 3, 3, "duplicate value name %x"),
        (
            "  %y: f32[2,3] = add %x",
            3,
            18,
            "`add` takes 2 operands, got 1",
        ),
        (
            "  %y: f32[2,3] = add",
            3,
            18,
            "`add` takes 2 operands, got 0",
        ),
        (
            "  %y: f32[2,3] = neg %x, %x",
            3,
            26,
            "`neg` takes 1 operand, got 2",
        ),
        ("  %y: f32[2,3] = select %x, %x", 3, 18, "takes 3 operands"),
        (
            "  %y: f32[3,2] = transpose %x",
            3,
            18,
            "missing attribute `perm`",
        ),
        (
            "  %y: f32[3,2] = transpose %x, prem=[1,0]",
            3,
            32,
            "unknown attribute `prem` for `transpose`",
        ),
        (
            "  %y: f32[2,3] = neg %x, axes=[0]",
            3,
            26,
            "`neg` takes no attributes",
        ),
        (
            "  %y: f32[3,2] = transpose %x, perm=[1,0], perm=[1,0]",
            3,
            44,
            "duplicate attribute `perm`",
        ),
        (
            "  %y: f32[3,2] = transpose perm=[1,0], %x",
            3,
            40,
            "operands must come before attributes",
        ),
        (
            "  %y: f32[2] = reduce_sum %x, axes=[0], keepdims=maybe",
            3,
            50,
            "attribute `keepdims` expects `true` or `false`, found `maybe`",
        ),
        (
            "  %y: f32[2,3] = pow %x, exponent=half",
            3,
            35,
            "expected a number",
        ),
        (
            "  const %c: f32[2,2] = [1.0, 2.0, 3.0]",
            3,
            24,
            "const %c: f32[2,2] needs 4 values, got 3",
        ),
        (
            "  const %c: f32[2,2] = 1.0",
            3,
            24,
            "needs 4 values, got 1 (write splat(v) to fill it)",
        ),
        (
            "  const %c: f32[] = [1.0, 2.0]",
            3,
            21,
            "needs 1 values, got 2",
        ),
        (
            "  const %c: f32[2] = [1.0 2.0]",
            3,
            27,
            "expected `,` or `]`",
        ),
        (
            "  const %c: f32[2] = splat(x)",
            3,
            28,
            "expected a number, found `x`",
        ),
        (
            "  const %c: f32[65536,65536] = splat(0.0)",
            3,
            32,
            "too large",
        ),
        (
            "  %y: f32[2,3] = transpose %x, perm=[1,0]",
            3,
            7,
            "annotated type f32[2,3] does not match the type `transpose` infers, f32[3,2]",
        ),
        (
            "  %y: f32[4] = reshape %x, shape=[4]",
            3,
            16,
            "cannot reshape 6 elements into [4]",
        ),
        (
            "  input %z: f32[3]\n  %y: f32[2,3] = add %x, %z",
            4,
            18,
            "add: cannot apply to (f32[2,3], f32[3]): operand shapes differ",
        ),
        (
            "  %y: f32[2,3] = add %x %x",
            3,
            25,
            "expected `,` or end of line, found `%x`",
        ),
        ("  input %z: f32[2] $", 3, 20, "unexpected character `$`"),
        ("  input %: f32[2]", 3, 9, "expected a value name after `%`"),
        (
            "  input z: f32[2]",
            3,
            9,
            "expected a value name like `%x`, found `z`",
        ),
        (
            "  update %x <- %x",
            3,
            10,
            "update target %x is not a param or state",
        ),
        (
            "  param %w: f32[2]\n  update %w <- %x",
            4,
            10,
            "type f32[2,3] does not match f32[2]",
        ),
        (
            "  param %w: f32[2]\n  update %w < %w",
            4,
            13,
            "did you mean `<-`?",
        ),
        (
            "  output y = %x\n  output y = %x",
            4,
            10,
            "duplicate output name `y`",
        ),
        ("  output y = %nope", 3, 14, "undefined value %nope"),
        ("  frobnicate %x", 3, 3, "expected a statement"),
        (
            "  input %z: f32[2] input",
            3,
            20,
            "expected end of line, found `input`",
        ),
    ];
    for &(body, line, col, fragment) in cases {
        check_error(&with_x(body), line, col, fragment);
    }
}

#[test]
fn conv_and_pool_attribute_errors() {
    let text = |attrs: &str| {
        format!(
            "graph g {{\n  input %x: f32[1,4,4,1]\n  param %f: f32[3,3,1,1]\n  \
             %y: f32[1,4,4,1] = conv2d %x, %f, {attrs}\n}}\n"
        )
    };
    assert!(parse(&text("strides=[1,1], padding=same, layout=nhwc")).is_ok());
    // `padding` starts at column 52 and its value at 60.
    check_error(
        &text("strides=[1,1], padding=middle, layout=nhwc"),
        4,
        60,
        "attribute `padding` expects `same` or `valid`, found `middle`",
    );
    check_error(
        &text("strides=[1,1], padding=same, layout=hwc"),
        4,
        73,
        "attribute `layout` expects `nhwc` or `nchw`, found `hwc`",
    );
    check_error(
        &text("strides=[1,1,1], padding=same, layout=nhwc"),
        4,
        45,
        "attribute `strides` needs 2 entries, got 3",
    );
    check_error(
        &text("strides=[1,1], layout=nhwc"),
        4,
        22,
        "missing attribute `padding` for `conv2d`",
    );
    check_error(
        &text("strides=[1,1], padding=valid, layout=nhwc"),
        4,
        7,
        "annotated type f32[1,4,4,1] does not match the type `conv2d` infers, f32[1,2,2,1]",
    );
    check_error(
        &text("strides=[1,1], padding=same, layout=nchw"),
        4,
        22,
        "conv2d: cannot apply to",
    );
    check_error(
        &text("strides=[0,1], padding=same, layout=nhwc"),
        4,
        22,
        "strides must be positive",
    );
}

#[test]
fn structural_errors() {
    check_error("", 1, 1, "expected `graph`, found end of input");
    check_error("grph g {\n}\n", 1, 1, "expected `graph`, found `grph`");
    check_error("graph g\n{\n}\n", 1, 8, "expected `{`, found end of line");
    check_error(
        "graph g {\n}\nfoo\n",
        3,
        1,
        "unexpected `foo` after the closing `}`",
    );
    check_error(
        "graph g {\n} x",
        2,
        3,
        "unexpected `x` after the closing `}`",
    );
    check_error("graph g {\n}\n}\n", 3, 1, "after the closing `}`");
    check_error(
        "graph g {\n  input %x: f32[2]\n",
        3,
        1,
        "missing `}` at the end of graph `g`",
    );
    check_error("graph g {\n  input %x: f32[2]", 2, 19, "missing `}`");
    check_error(
        "graph g {\n  input %x: f32[2] }\n",
        2,
        20,
        "expected end of line, found `}`",
    );
    // An error on an earlier line wins over a lexical error on a later one.
    check_error(
        "graph g {\n  input %x: f32[2]\n  %y: f32[3] = neg %x\n  ?\n}\n",
        3,
        7,
        "annotated type",
    );
    check_error(
        "graph g {\n  input %é: f32[2]\n}\n",
        2,
        9,
        "expected a value name after `%`",
    );
    check_error(
        "graph g {\n  // é\n  é\n}\n",
        3,
        3,
        "unexpected character `é`",
    );
    // Columns count characters, not bytes (U+00A0 is a two-byte space).
    check_error(
        "graph g {\n  input\u{a0}%x: f32[2] $\n}\n",
        2,
        20,
        "unexpected character `$`",
    );
}

#[test]
fn error_display_starts_with_position() {
    let err = parse(&with_x("  %y: f32[2,3] = foo %x")).unwrap_err();
    assert!(
        err.to_string().starts_with("3:18: unknown op `foo`"),
        "{err}"
    );
}

/// Characters that make small edits of a printed graph interesting.
const EDIT_CHARS: &[char] = &[
    '%', ':', '=', ',', '[', ']', '{', '}', '(', ')', '<', '-', '.', '_', ' ', '\n', '/', '0', '1',
    '2', '9', 'a', 'e', 'f', 'x', 'é',
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
        let has_nan = g.nodes().iter().any(|n| match &n.kind {
            NodeKind::Const(data) => data.iter().any(|v| v.is_nan()),
            _ => false,
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
