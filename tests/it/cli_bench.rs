//! `triceratops bench`: the train step timed on the interpreter and on the
//! JIT in one run, side by side.

use crate::cli_support::{ok, rejected};

// Runs linreg's train step on the JIT.
#[test]
fn bench_prints_both_backends_side_by_side() {
    let out = ok(&[
        "bench",
        "--model",
        "linreg",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--threads",
        "2",
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
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(columns, ["interp", "jit x1", "jit x2"], "{out}");
    for row in [
        "compile (ms)",
        "  graph",
        "  passes",
        "  plan",
        "  codegen",
        "  link",
        "step median (ms)",
        "step min (ms)",
        "step max (ms)",
        "samples/s",
        "peak memory",
        "allocations/step",
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
            3,
            "three values in `{line}`"
        );
    }
    // Every configuration counted its own allocations.
    assert!(!out.contains("not measured"), "{out}");
    for config in ["jit x1", "jit x2"] {
        let prefix = format!("speed-up of {config} over interp: ");
        let speedup = out
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no `{prefix}` line:\n{out}"));
        let x: f64 = speedup
            .strip_suffix('x')
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("`{prefix}{speedup}`"));
        assert!(x > 0.0, "{out}");
    }
}

// The kernel profile lists every kernel of the plan once per JIT
// configuration, and the shares of one configuration sum to about 100%.
#[test]
fn bench_profile_breaks_the_step_down_per_kernel() {
    let out = ok(&[
        "bench",
        "--model",
        "linreg",
        "--steps",
        "3",
        "--warmup",
        "1",
        "--threads",
        "2",
        "--profile",
    ]);
    let (_, profile) = out
        .split_once("kernel profile:")
        .unwrap_or_else(|| panic!("no kernel profile:\n{out}"));
    let plan = ok(&["compile", "--model", "linreg", "--emit", "kernels"]);
    let kernels = plan
        .lines()
        .filter(|l| l.trim_start().starts_with('k') && l.contains(": "))
        .count();
    let rows: Vec<&str> = profile
        .lines()
        .filter(|l| l.starts_with('k') && l[1..].starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), kernels, "one row per kernel:\n{out}");
    for row in &rows {
        let cells: Vec<&str> = row
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        // label, then ms, rate and share for jit x1 and jit x2.
        assert_eq!(cells.len(), 7, "`{row}`");
        assert!(
            cells[2].ends_with("GB/s") || cells[2].ends_with("GFLOP/s") || cells[2] == "-",
            "`{row}`"
        );
    }
    let share_sum: f64 = rows
        .iter()
        .map(|r| {
            let cells: Vec<&str> = r
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            cells[3].trim_end_matches('%').parse::<f64>().unwrap()
        })
        .sum();
    assert!(
        (share_sum - 100.0).abs() < 2.0,
        "shares sum to {share_sum}:\n{out}"
    );
}

#[test]
fn threads_must_be_positive() {
    rejected(
        &["bench", "--model", "linreg", "--threads", "0"],
        &["--threads must be at least 1"],
    );
    rejected(
        &["train", "--model", "linreg", "--threads", "0"],
        &["--threads must be at least 1"],
    );
    rejected(
        &["train", "--model", "linreg", "--threads", "100000"],
        &["--threads 100000 is more than 256"],
    );
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
