//! `--backend jit|interp` on train, eval and predict (the JIT by default),
//! and `compile --emit kernels|clif`, the JIT's plans and code as text.
//!
//! The tests that run a graph on the JIT need its runtime (matmul, conv,
//! pool) and vector math (exp, log, ...): linreg's train step has a matmul.

use crate::cli_support::{ok, ok_in, path_str};
use tempfile::TempDir;

/// The help text of the `--backend` option of `command`.
fn backend_help(command: &str) -> String {
    let help = ok(&[command, "--help"]);
    let start = help
        .find("--backend <BACKEND>")
        .unwrap_or_else(|| panic!("`{command} --help` has no --backend:\n{help}"));
    let rest = &help[start..];
    let end = rest[2..].find("\n      --").map_or(rest.len(), |i| i + 2);
    rest[..end].to_string()
}

#[test]
fn help_shows_the_jit_as_the_default_backend() {
    for command in ["train", "eval", "predict"] {
        let help = backend_help(command);
        assert!(help.contains("[default: jit]"), "{command}:\n{help}");
        assert!(
            help.contains("interp") && help.contains("Cranelift"),
            "{command}:\n{help}"
        );
        assert!(!help.contains("not built yet"), "{command}:\n{help}");
    }
}

/// `train linreg` for one epoch on 64 samples, with `extra` arguments.
fn train_linreg(dir: &TempDir, extra: &[&str]) -> String {
    let mut args = vec![
        "train", "--model", "linreg", "--epochs", "1", "--limit", "64",
    ];
    args.extend(extra);
    ok_in(Some(dir.path()), &args)
}

#[test]
fn train_eval_and_predict_still_run_on_the_interpreter() {
    let dir = TempDir::new().unwrap();
    let out = train_linreg(&dir, &["--backend", "interp", "--save", "lin.safetensors"]);
    assert!(out.contains(", backend interp\n"), "{out}");
    assert!(
        out.contains("saved checkpoint lin.safetensors (epoch 1)"),
        "{out}"
    );
    let checkpoint = path_str(&dir.path().join("lin.safetensors"));

    let out = ok(&["eval", "--checkpoint", &checkpoint, "--backend", "interp"]);
    assert!(out.starts_with("13 validation samples - loss: "), "{out}");

    let out = ok(&[
        "predict",
        "--checkpoint",
        &checkpoint,
        "--count",
        "3",
        "--backend",
        "interp",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines.iter().all(|l| l.starts_with("sample ")), "{out}");
}

// Runs linreg's train step on the JIT.
#[test]
fn the_default_backend_is_the_jit() {
    let dir = TempDir::new().unwrap();
    let out = train_linreg(&dir, &[]);
    assert!(out.contains(", backend jit\n"), "{out}");
    assert!(out.contains("1/1 - ") || out.contains("2/2 - "), "{out}");
}

// Runs linreg's eval and predict graphs on the JIT.
#[test]
fn eval_and_predict_on_the_jit_match_the_interpreter() {
    let dir = TempDir::new().unwrap();
    train_linreg(&dir, &["--backend", "interp", "--save", "lin.safetensors"]);
    let checkpoint = path_str(&dir.path().join("lin.safetensors"));
    for command in [
        vec!["eval", "--checkpoint", &checkpoint, "--split", "all"],
        vec!["predict", "--checkpoint", &checkpoint, "--count", "5"],
    ] {
        let mut interp = command.clone();
        interp.extend(["--backend", "interp"]);
        let jit = ok(&command);
        assert_eq!(jit, ok(&interp), "`{}` on the JIT", command.join(" "));
    }
}

#[test]
fn emit_kernels_prints_linreg_s_kernel_and_memory_plans() {
    let out = ok(&["compile", "--model", "linreg", "--emit", "kernels"]);
    insta::assert_snapshot!("linreg_kernels", out);
}

#[test]
fn emit_kernels_plans_every_built_in_model() {
    for (model, name) in [("mnist-mlp", "mnist_mlp"), ("seed-cnn", "seed_cnn")] {
        let out = ok(&["compile", "--model", model, "--emit", "kernels"]);
        assert!(
            out.starts_with(&format!("kernels of {name}.train_step (")),
            "{model}:\n{out}"
        );
        for needle in [
            "-- commit: the rest runs only if %finite == 1 --",
            "\narena: ",
        ] {
            assert!(out.contains(needle), "{model}: no `{needle}`:\n{out}");
        }
    }
    // The plan is of the optimized graph: without the passes nothing is fused.
    let fused = ok(&["compile", "--model", "mnist-mlp", "--emit", "kernels"]);
    let plain = ok(&[
        "compile",
        "--model",
        "mnist-mlp",
        "--emit",
        "kernels",
        "--passes",
        "none",
    ]);
    let kernels = |text: &str| text.lines().filter(|l| l.starts_with("  k")).count();
    assert!(kernels(&fused) < kernels(&plain), "{fused}\n{plain}");
}

// Generates code that calls the runtime (matmul) and vector math (exp, log).
#[test]
fn emit_clif_prints_mnist_mlp_s_vector_code() {
    let out = ok(&["compile", "--model", "mnist-mlp", "--emit", "clif"]);
    assert!(out.starts_with(";; "), "{out}");
    assert!(out.contains("function "), "{out}");
    // Maps and reductions run four lanes at a time.
    assert!(out.contains("f32x4"), "{out}");
}

// Generates code that calls the runtime (matmul).
#[test]
fn emit_clif_fuses_no_multiply_add() {
    // An fma rounds once where the graph's mul and add round twice, so the
    // JIT's code must never use one to stay bit-identical to the interpreter.
    let out = ok(&["compile", "--model", "linreg", "--emit", "clif"]);
    assert!(out.contains("function "), "{out}");
    // (`fmax` is not an `fma`.)
    assert!(!out.contains(" fma "), "{out}");
}
