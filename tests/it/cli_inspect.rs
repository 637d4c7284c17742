//! `triceratops summary` and `triceratops compile --emit` end to end:
//! `summary` prints the Keras table (and the Keras JSON import of the lecture
//! CNN prints the same one as the built-in `seed-cnn`), `compile --emit`
//! prints text that parses back, and stages not built yet fail cleanly.

use crate::cli_support::{keras_fixture, ok, root};
use triceratops::ir::text::{parse, print};

// ---------------------------------------------------------------- summary

/// The table Keras 3.15.1 printed for the lecture CNN (fixture README).
fn keras_seed_cnn_table() -> String {
    let readme = std::fs::read_to_string(root().join("tests/fixtures/keras/README.md"))
        .expect("fixture README");
    let start = readme.find("Model: \"seed_cnn\"").expect("seed_cnn table");
    let end = start
        + readme[start..]
            .find(" Non-trainable params: 0 (0.00 B)\n")
            .expect("end of table");
    readme[start..end].to_string() + " Non-trainable params: 0 (0.00 B)\n"
}

#[test]
fn summary_of_builtin_seed_cnn_is_the_keras_table() {
    let out = ok(&["summary", "--model", "seed-cnn"]);
    assert!(out.contains(" Total params: 11,290 (44.10 KB)\n"), "{out}");
    assert_eq!(out, keras_seed_cnn_table());
}

#[test]
fn summary_of_keras_json_seed_cnn_equals_the_builtin() {
    let builtin = ok(&["summary", "--model", "seed-cnn"]);
    let imported = ok(&["summary", "--model", &keras_fixture("seed_cnn.json")]);
    let body = |s: &str| {
        s.split_once('\n')
            .expect("more than one line")
            .1
            .to_string()
    };
    assert!(imported.starts_with("Model: "), "{imported}");
    assert!(imported.contains("Total params: 11,290"), "{imported}");
    assert_eq!(body(&imported), body(&builtin));
}

// ---------------------------------------------------------------- compile

#[test]
fn compile_emit_graph_parses_back_with_output_y_pred() {
    let text = ok(&["compile", "--model", "mnist-mlp", "--emit", "graph"]);
    let graph = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(graph.output("y_pred").is_some(), "{text}");
    assert!(
        graph.updates().is_empty(),
        "a predict graph updates nothing"
    );
    // mnist-mlp's own batch size, unless told otherwise.
    assert!(text.contains("input %x: f32[128,784]"), "{text}");
    assert_eq!(print(&graph), text, "print(parse(text)) is text");

    let small = ok(&[
        "compile",
        "--model",
        "mnist-mlp",
        "--emit",
        "graph",
        "--batch-size",
        "16",
    ]);
    assert!(small.contains("input %x: f32[16,784]"), "{small}");
}

#[test]
fn compile_emit_grad_has_the_optimizer_updates_and_parses() {
    let text = ok(&["compile", "--model", "mnist-mlp", "--emit", "grad"]);
    assert!(text.contains("update %dense.kernel <-"), "{text}");
    assert!(text.contains("update %dense_1.bias <-"), "{text}");
    let graph = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!(graph.output("loss").is_some(), "{text}");
    // kernel and bias of two layers, Adam's two slots each, and the step.
    assert_eq!(graph.updates().len(), 4 * 3 + 1, "{text}");

    let sgd = ok(&[
        "compile",
        "--model",
        "mnist-mlp",
        "--emit",
        "grad",
        "--optimizer",
        "sgd",
    ]);
    let graph = parse(&sgd).unwrap_or_else(|e| panic!("{e}\n{sgd}"));
    assert_eq!(
        graph.updates().len(),
        4 + 1,
        "plain SGD has no slots:\n{sgd}"
    );
}

#[test]
fn compile_emit_dot_is_graphviz() {
    let text = ok(&["compile", "--model", "mnist-mlp", "--emit", "dot"]);
    assert!(text.starts_with("digraph"), "{text}");
    assert!(text.trim_end().ends_with('}'), "{text}");
}
