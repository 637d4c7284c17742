//! `explore`'s data: the provenance of every stage, read without a
//! browser (the page itself is tested in Chromium by
//! `tests/explore_browser.rs`).

use std::collections::BTreeSet;

use serde_json::{json, Value};
use triceratops::compile::{CompileSpec, Origin, Passes};
use triceratops::explore::report::Report;
use triceratops::explore::{explore, ExploreOptions};
use triceratops::models::builtin;

use crate::cli_support::{ok, path_str, rejected};

fn report(name: &str, profile_steps: usize) -> Report {
    let b = builtin(name).unwrap().unwrap();
    let spec = CompileSpec::new(&b.model, b.optimizer, b.loss, &b.metrics, Passes::On);
    let options = ExploreOptions {
        profile_steps,
        threads: 1,
    };
    explore(&b.model, &spec, b.batch_size, &options).unwrap()
}

/// The kernel that updates `param` (and its slots): the one map kernel
/// whose values are all part of `param`'s update.
fn update_kernel<'r>(r: &'r Report, param: &str) -> &'r triceratops::explore::report::KernelInfo {
    let found: Vec<_> = r
        .kernels
        .kernels
        .iter()
        .filter(|k| k.kind == "map" && k.params == [param])
        .collect();
    assert_eq!(found.len(), 1, "one update kernel of {param}: {found:#?}");
    found[0]
}

#[test]
fn every_train_value_has_an_origin_and_layers_where_it_belongs() {
    let r = report("mnist-mlp", 0);
    let layers: BTreeSet<&str> = r.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(layers, BTreeSet::from(["dense", "dense_1"]));
    for v in &r.train.values {
        assert_eq!(v.origins.len(), 1, "{v:?}");
        let origin = v.origins[0];
        match origin {
            Origin::Forward => {
                assert_eq!(v.layers.len(), 1, "{v:?}");
                assert!(layers.contains(v.layers[0].as_str()), "{v:?}");
            }
            // The gradient of a layer's node belongs to that layer; the
            // gradient of the loss's own nodes to none.
            Origin::Backward => {
                assert!(v.layers.len() <= 1, "{v:?}");
                assert!(
                    v.layers.iter().all(|l| layers.contains(l.as_str())),
                    "{v:?}"
                );
            }
            Origin::Loss | Origin::Metric | Origin::Guard => assert!(v.layers.is_empty(), "{v:?}"),
            Origin::Optimizer | Origin::Input => {}
        }
        // The line of each value defines it.
        let line = r.train.text.lines().nth(v.line).unwrap();
        assert!(line.contains(&format!("%{}:", v.name)), "{line} / {v:?}");
    }
    let by_name = |n: &str| r.train.values.iter().find(|v| v.name == n).unwrap();
    assert_eq!(by_name("grad.dense.kernel").origins, [Origin::Backward]);
    assert_eq!(by_name("grad.dense.kernel").layers, ["dense"]);
    assert_eq!(by_name("loss").origins, [Origin::Loss]);
    assert_eq!(by_name("finite").origins, [Origin::Guard]);
    assert_eq!(by_name("dense_1.bias").layers, ["dense_1"]);
    // The slots belong to their parameter's update.
    assert_eq!(by_name("dense.kernel.momentum").params, ["dense.kernel"]);
    // Forward values are the train step's first nodes: each live one is
    // linked to the train value it became (itself, or the identical node
    // canonicalization merged it into: the metric's softmax recomputation).
    let mut linked = 0;
    for v in &r.forward.values {
        let into: Vec<_> = r
            .train
            .values
            .iter()
            .filter(|t| t.from.contains(&v.name))
            .collect();
        assert!(into.len() <= 1, "{v:?}");
        if let [t] = into.as_slice() {
            assert_eq!(t.op, v.op, "{v:?} -> {t:?}");
            linked += 1;
        }
    }
    assert_eq!(
        linked,
        r.forward.values.len(),
        "every forward value of mnist-mlp is live"
    );
    let merged: Vec<_> = r.train.values.iter().filter(|t| t.from.len() > 1).collect();
    assert!(
        !merged.is_empty(),
        "the metric's copy of the softmax is merged into the loss's"
    );
}

#[test]
fn the_adam_kernel_of_dense_kernel_links_back_to_its_update_nodes() {
    let r = report("mnist-mlp", 0);
    let k = update_kernel(&r, "dense.kernel");
    // Adam's three results: momentum, velocity, the parameter.
    assert_eq!(k.values.len(), 3, "{k:#?}");
    assert_eq!(k.origins, [Origin::Optimizer]);
    assert_eq!(k.layers, ["dense"]);
    let text: Vec<&str> = r.kernels.text.lines().collect();
    assert!(text[k.lines.0].starts_with(&format!("  k{}: map", k.index)));
    assert!(
        k.clif.contains(&format!(";; k{}_map", k.index)),
        "{}",
        k.clif
    );
    let updated: BTreeSet<&str> = r
        .optimized
        .text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("update %"))
        .filter(|l| l.starts_with("dense.kernel"))
        .filter_map(|l| l.split("<- %").nth(1))
        .collect();
    let values: BTreeSet<&str> = k.values.iter().map(String::as_str).collect();
    assert_eq!(values, updated, "the kernel computes the three updates");
    for name in &k.values {
        let v = r.optimized.values.iter().find(|v| &v.name == name).unwrap();
        assert_eq!(v.kernel, Some(k.index));
        assert_eq!(v.op, "fused");
        // Each fused result stands for train values of the update.
        assert!(!v.from.is_empty(), "{v:?}");
        for t in &v.from {
            let t = r.train.values.iter().find(|x| &x.name == t).unwrap();
            assert!(t.params.contains(&"dense.kernel".to_string()), "{t:?}");
        }
    }
}

#[test]
fn every_kernel_computes_values_and_every_computed_value_has_a_kernel() {
    for name in ["linreg", "mnist-mlp", "seed-cnn"] {
        let r = report(name, 0);
        for k in &r.kernels.kernels {
            assert!(!k.values.is_empty(), "{name}: {k:?}");
            assert!(k.lines.0 <= k.lines.1);
        }
        for v in &r.optimized.values {
            if let Some(k) = v.kernel {
                assert!(
                    r.kernels.kernels[k].values.contains(&v.name),
                    "{name}: {v:?}"
                );
            }
        }
        assert_eq!(r.dataflow.nodes.len(), r.optimized.values.len(), "{name}");
    }
}

#[test]
fn the_profile_has_one_row_per_kernel_on_both_backends() {
    let r = report("linreg", 2);
    let p = r.profile.as_ref().expect("measured");
    assert_eq!(p.steps, 2);
    assert_eq!(p.kernels.len(), r.kernels.kernels.len());
    let jit: f64 = p.kernels.iter().map(|k| k.jit_share).sum();
    assert!((jit - 1.0).abs() < 1e-6, "JIT shares sum to 1: {jit}");
    assert!(p
        .kernels
        .iter()
        .all(|k| k.jit_ms >= 0.0 && k.interp_ms >= 0.0));
    assert!(p.interp_step_ms > 0.0 && p.jit_step_ms > 0.0);
}

/// The report of mnist-mlp without its long texts, timings and drawing
/// coordinates: every provenance link and the pass counts.
fn digest(r: &Report) -> Value {
    json!({
        "model": {"name": r.model.name, "optimizer": r.model.optimizer, "batch": r.model.batch},
        "signature": r.signature,
        "layers": r.layers,
        "passes": r.passes.iter().map(|p| json!({
            "rule_set": p.rule_set, "iterations": p.iterations, "nodes": p.nodes,
            "classes": p.classes, "stop": p.stop, "cost": [p.cost_before, p.cost_after],
            "kernels": [p.kernels_before, p.kernels_after], "fired": p.fired,
        })).collect::<Vec<_>>(),
        "optimized": r.optimized.values.iter().map(|v| format!(
            "{} = {} origins={:?} layers={:?} params={:?} from={:?} kernel={:?}",
            v.name, v.op, v.origins, v.layers, v.params, v.from, v.kernel
        )).collect::<Vec<_>>(),
        "kernels": r.kernels.kernels.iter().map(|k| format!(
            "k{} {} lines={:?} values={:?} origins={:?} layers={:?} params={:?}",
            k.index, k.kind, k.lines, k.values, k.origins, k.layers, k.params
        )).collect::<Vec<_>>(),
        "arena_bytes": r.kernels.arena_bytes,
        "dataflow": {"nodes": r.dataflow.nodes.len(), "edges": r.dataflow.edges.len()},
    })
}

#[test]
fn mnist_mlp_report_snapshot() {
    let r = report("mnist-mlp", 0);
    insta::assert_snapshot!(serde_json::to_string_pretty(&digest(&r)).unwrap());
}

#[test]
fn the_cli_writes_json_and_a_self_contained_page() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("mlp.json");
    ok(&[
        "explore",
        "--model",
        "linreg",
        "--out",
        &path_str(&json_path),
        "--format",
        "json",
        "--profile-steps",
        "1",
    ]);
    let v: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    for key in [
        "model",
        "signature",
        "forward",
        "train",
        "optimized",
        "kernels",
        "passes",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    assert!(v["profile"]["kernels"]
        .as_array()
        .is_some_and(|k| !k.is_empty()));
    let html = dir.path().join("linreg.html");
    ok(&[
        "explore",
        "--model",
        "linreg",
        "--out",
        &path_str(&html),
        "--profile-steps",
        "0",
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"));
    for external in ["http://", "https://", "<script src", "<link"] {
        assert!(!page.contains(external), "the page refers to {external}");
    }
}

#[test]
fn emit_provenance_prints_the_links_as_text() {
    let out = ok(&["compile", "--model", "mnist-mlp", "--emit", "provenance"]);
    let updates: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.contains(" map: ") && l.ends_with("<- optimizer [dense] update of dense.kernel")
        })
        .collect();
    assert_eq!(updates.len(), 1, "{out}");
    assert!(
        out.contains("%grad.dense.kernel <- backward [dense]"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("  %loss = fused in k") && l.contains("from train %")),
        "{out}"
    );
}

#[test]
fn explore_refuses_bad_arguments_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let out = path_str(&dir.path().join("x.html"));
    rejected(
        &["explore", "--model", "no-such-model", "--out", &out],
        &["no-such-model"],
    );
    rejected(
        &[
            "explore",
            "--model",
            "linreg",
            "--out",
            &out,
            "--threads",
            "0",
        ],
        &["--threads"],
    );
    rejected(
        &[
            "explore",
            "--model",
            "linreg",
            "--out",
            "/no/such/dir/x.html",
        ],
        &["/no/such/dir"],
    );
}
