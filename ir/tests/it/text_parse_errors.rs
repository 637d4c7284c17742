//! Text-format parse errors: for each kind of bad input (unknown ops and
//! types, wrong operand counts, bad or missing attributes, wrong const
//! sizes, mismatched annotated types, bad updates and outputs, broken
//! structure), the exact line, column and message reported.

use triceratops_ir::text::parse;
use triceratops_ir::IrError;

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
            "update %x is not a param or state",
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

#[test]
fn a_huge_splat_parses_without_allocating() {
    // A splat is one pooled value whatever its shape: the text cannot make
    // the parser allocate (what a run then needs is the shape's business).
    let g = parse("graph g {\n  const %c: f32[65536,65536] = splat(0.5)\n  output c = %c\n}\n")
        .unwrap();
    assert_eq!(g.constants(), [triceratops_ir::Constant::splat(0.5)]);
}
