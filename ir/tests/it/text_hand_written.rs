//! Parsing hand-written text: free spacing, comments, tabs and `\r`,
//! attributes in any order, statements sharing the brace lines; the parsed
//! graph is what the text says, and printing gives the canonical form.

use triceratops_ir::text::{parse, print};
use triceratops_ir::{verify, NodeKind, Op, Role, TensorType};

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
    assert!(matches!(bias.kind, NodeKind::Const(_)));
    let data = |name: &str| {
        let v = g.lookup(name).unwrap();
        g.const_value(v).unwrap().to_vec(g.ty(v).numel())
    };
    assert_eq!(data("bias"), vec![-1e-7; 4]);
    assert_eq!(data("v"), vec![1.0, 2.5]);
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
