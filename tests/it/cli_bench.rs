//! `triceratops bench`: the train step timed on the interpreter and on the
//! JIT in one run, side by side.

use crate::cli_support::{ok, rejected};

// Runs linreg's train step on the JIT.
#[test]
fn bench_prints_both_backends_side_by_side() {
    let out = ok(&[
        "bench", "--model", "linreg", "--steps", "2", "--warmup", "1",
    ]);
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("bench linreg: batch 32, sgd (Keras convention, lr 0.1), passes on"),
        "{out}"
    );
    assert!(header.ends_with("1 warm-up + 2 timed steps"), "{out}");
    let columns: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(columns, ["interp", "jit"], "{out}");
    for row in [
        "compile (ms)",
        "step median (ms)",
        "step min (ms)",
        "step max (ms)",
        "samples/s",
        "peak memory",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no `{row}` row:\n{out}"));
        assert_eq!(
            line[row.len()..]
                .split("  ")
                .filter(|c| !c.trim().is_empty())
                .count(),
            2,
            "two values in `{line}`"
        );
    }
    // Both backends counted their own allocations.
    assert!(!out.contains("not measured"), "{out}");
    let speedup = out
        .lines()
        .find_map(|l| l.strip_prefix("speed-up: "))
        .unwrap_or_else(|| panic!("no speed-up line:\n{out}"));
    let x: f64 = speedup
        .strip_suffix('x')
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("`speed-up: {speedup}`"));
    assert!(x > 0.0, "{out}");
}

#[test]
fn bench_refuses_zero_steps_and_zero_warm_up() {
    rejected(
        &["bench", "--model", "linreg", "--steps", "0"],
        &["--steps must be positive"],
    );
    rejected(
        &["bench", "--model", "linreg", "--warmup", "0"],
        &["--warmup must be at least 1"],
    );
    rejected(&["bench", "--model", "nope"], &["unknown model `nope`"]);
    rejected(
        &["bench", "--model", "linreg", "--batch-size", "0"],
        &["--batch-size must be positive"],
    );
}
