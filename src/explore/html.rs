//! The explore page: one self-contained HTML document (styles, data and
//! script inline, nothing fetched) so it opens from `file://` anywhere.

use super::report::Report;

const CSS: &str = include_str!("page/explore.css");
const JS: &str = include_str!("page/explore.js");

/// The page for `report`; `page/explore.js` builds the DOM from the
/// embedded JSON.
pub fn render_html(report: &Report) -> String {
    let json = serde_json::to_string(report).expect("a Report always serializes");
    let title = escape_text(&report.model.name);
    let mut out = String::with_capacity(json.len() + CSS.len() + JS.len() + 4096);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{title} — triceratops explore</title>\n"));
    out.push_str("<style>\n");
    out.push_str(CSS);
    out.push_str("</style>\n</head>\n<body>\n");
    out.push_str(SKELETON);
    out.push_str("<script type=\"application/json\" id=\"report-data\">");
    out.push_str(&escape_script_json(&json));
    out.push_str("</script>\n<script>\n");
    out.push_str(JS);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

/// The page's containers; the script fills them.
const SKELETON: &str = r#"<header id="top">
<h1 id="title"></h1>
<div id="facts"></div>
<div id="legend"></div>
<div class="searchbar"><input id="search" type="search" placeholder="search values (Enter: next)" autocomplete="off"><span id="search-count"></span></div>
<div class="overview">
<details open><summary>model summary</summary><pre id="summary"></pre></details>
<details open><summary>train step signature</summary><table id="signature"></table></details>
</div>
</header>
<nav id="layers"></nav>
<div id="details"><span class="muted">click a line, a kernel or a node to see where it came from and went</span></div>
<main id="stages"></main>
<section class="panel"><h2>passes</h2><table id="passes"></table></section>
<section class="panel"><h2>profile</h2><div id="profile"></div></section>
<section class="panel"><h2>dataflow of the optimized step</h2><div class="zoom"><button id="zoom-in" type="button">+</button><button id="zoom-out" type="button">−</button></div><div id="dataflow"></div></section>
"#;

/// `<` written as `\u003c`, which is the same JSON but cannot close the
/// script element (`</script>`) or open a comment (`<!--`) inside it.
fn escape_script_json(json: &str) -> String {
    json.replace('<', "\\u003c")
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::explore::layout::{lay_out, LayoutInput};
    use crate::explore::report::*;

    fn v(
        name: &str,
        line: usize,
        op: &str,
        origin: Origin,
        layers: &[&str],
        from: &[&str],
    ) -> ValueInfo {
        ValueInfo {
            name: name.into(),
            line,
            op: op.into(),
            origins: vec![origin],
            layers: layers.iter().map(|s| s.to_string()).collect(),
            params: Vec::new(),
            from: from.iter().map(|s| s.to_string()).collect(),
            kernel: None,
        }
    }

    /// Values from a graph text: every `%name` definition line becomes a
    /// value; `meta` gives (origin, layers) by name prefix rules.
    fn stage(
        text: &str,
        meta: &dyn Fn(&str) -> (Origin, Vec<&'static str>),
        from: &dyn Fn(&str) -> Vec<String>,
    ) -> GraphStage {
        let mut values = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let Some(p) = line.find('%') else { continue };
            if line.trim_start().starts_with("output") || line.trim_start().starts_with("update") {
                continue;
            }
            let name: String = line[p + 1..].chars().take_while(|c| *c != ':').collect();
            let head = line[..p].trim();
            let op = if !head.is_empty() {
                head.to_string()
            } else {
                line.split(" = ")
                    .nth(1)
                    .and_then(|r| r.split_whitespace().next())
                    .unwrap_or("?")
                    .to_string()
            };
            let (origin, layers) = meta(&name);
            let mut val = v(&name, i, &op, origin, &layers, &[]);
            val.from = from(&name);
            values.push(val);
        }
        GraphStage {
            text: text.to_string(),
            values,
        }
    }

    fn meta(name: &str) -> (Origin, Vec<&'static str>) {
        match name {
            "x" | "y" | "lr" => (Origin::Input, vec![]),
            "dense.kernel" | "dense.bias" => (Origin::Input, vec!["dense"]),
            "dense_1.kernel" | "dense_1.bias" => (Origin::Input, vec!["dense_1"]),
            "3" | "4" | "5" | "6" => (Origin::Forward, vec!["dense"]),
            "7" | "8" | "9" => (Origin::Forward, vec!["dense_1"]),
            "loss" | "10" | "11" => (Origin::Loss, vec![]),
            "acc" => (Origin::Metric, vec![]),
            "grad.dense_1.kernel" | "grad.dense_1.bias" | "12" => {
                (Origin::Backward, vec!["dense_1"])
            }
            "grad.dense.kernel" | "grad.dense.bias" | "13" | "14" => {
                (Origin::Backward, vec!["dense"])
            }
            "finite" | "15" => (Origin::Guard, vec![]),
            "u1" | "u2" => (Origin::Optimizer, vec!["dense"]),
            "u3" | "u4" => (Origin::Optimizer, vec!["dense_1"]),
            _ => (Origin::Optimizer, vec![]),
        }
    }

    const FORWARD: &str = "graph mlp.forward {
  input %x: f32[32,784]
  input %y: f32[32,10]
  param %dense.kernel: f32[784,64]
  param %dense.bias: f32[64]
  %3: f32[32,64] = matmul %x, %dense.kernel
  %4: f32[32,64] = broadcast %dense.bias, shape=[32,64], dims=[1]
  %5: f32[32,64] = add %3, %4
  %6: f32[32,64] = relu %5
  param %dense_1.kernel: f32[64,10]
  param %dense_1.bias: f32[10]
  %7: f32[32,10] = matmul %6, %dense_1.kernel
  %8: f32[32,10] = broadcast %dense_1.bias, shape=[32,10], dims=[1]
  %9: f32[32,10] = add %7, %8
  %10: f32[32,10] = softmax_cross_entropy %9, %y
  %11: f32[] = reduce_sum %10, axes=[0,1], keepdims=false
  %loss: f32[] = mul %11, 0.03125
  %acc: f32[] = accuracy %9, %y
  output %loss, %acc
}";

    fn train_text() -> String {
        let mut t: Vec<&str> = FORWARD.lines().collect();
        t[0] = "graph mlp.train_step {";
        t.pop();
        t.pop();
        let mut t = t.join("\n");
        t.push_str(
            "
  input %lr: f32[]
  state %step: f32[]
  %12: f32[32,10] = softmax_grad %9, %y
  %grad.dense_1.kernel: f32[64,10] = matmul %6, %12
  %grad.dense_1.bias: f32[10] = reduce_sum %12, axes=[0], keepdims=false
  %13: f32[32,64] = matmul %12, %dense_1.kernel
  %14: f32[32,64] = relu_grad %5, %13
  %grad.dense.kernel: f32[784,64] = matmul %x, %14
  %grad.dense.bias: f32[64] = reduce_sum %14, axes=[0], keepdims=false
  %15: f32[] = reduce_max %grad.dense.kernel, axes=[0,1], keepdims=false
  %finite: f32[] = gt inf, %15
  %u1: f32[784,64] = sub %dense.kernel, %grad.dense.kernel
  %u2: f32[64] = sub %dense.bias, %grad.dense.bias
  %u3: f32[64,10] = sub %dense_1.kernel, %grad.dense_1.kernel
  %u4: f32[10] = sub %dense_1.bias, %grad.dense_1.bias
  %u5: f32[] = add %step, 1.0
  output %loss, %acc, %finite
  update %dense.kernel <- %u1, %step <- %u5
}",
        );
        t
    }

    const OPTIMIZED: &str = "graph mlp.train_step {
  input %x: f32[32,784]
  input %y: f32[32,10]
  param %dense.kernel: f32[784,64]
  param %dense.bias: f32[64]
  %3: f32[32,64] = matmul %x, %dense.kernel
  %6: f32[32,64] = fused map (%3, %dense.bias) { %0 = in 0; %1 = in 1; %2 = add %0, %1; %3 = relu %2 }
  param %dense_1.kernel: f32[64,10]
  param %dense_1.bias: f32[10]
  %7: f32[32,10] = matmul %6, %dense_1.kernel
  %loss: f32[] = fused rows (%7, %dense_1.bias, %y) { %0 = in 0; %1 = const 0.03125 }
  %12: f32[32,10] = fused map (%7, %y) { %0 = in 0; %1 = in 1; %2 = sub %0, %1 }
  %grad.dense_1.kernel: f32[64,10] = matmul %6, %12
  %14: f32[32,64] = matmul %12, %dense_1.kernel
  %grad.dense.kernel: f32[784,64] = matmul %x, %14
  %finite: f32[] = fused rows (%grad.dense.kernel) { %0 = in 0; %1 = abs %0 }
  input %lr: f32[]
  %u1: f32[784,64] = fused map (%dense.kernel, %grad.dense.kernel, %lr) { %0 = in 0; %1 = in 1; %2 = in 2; %3 = mul %1, %2; %4 = sub %0, %3 }
  %u3: f32[64,10] = fused map (%dense_1.kernel, %grad.dense_1.kernel, %lr) { %0 = in 0 }
  output %loss, %finite
  update %dense.kernel <- %u1
}";

    const KERNELS: &str = "kernels of mlp.train_step (4):
  k0: matmul %x@batch0 x %dense.kernel@state+0 -> %3@arena+0 (batch 1, m 32, k 784, n 64)
      epilogue map (%3, %dense.bias) -> (%6) { %0 = in 0; %1 = in 1; %2 = add %0, %1; %3 = relu %2 } results=[3]
  k1: rows [32, 10]
      map (%7@arena+0[0, 1], %dense_1.bias@state+4[0, 0]) -> (%loss[0, 1]) { %0 = in 0; %1 = const 0.03125 } results=[1]
      reduce_sum %9[0, 1] -> %loss@arena+128
  k2: matmul %12@arena+0 x %dense_1.kernel@state+8 -> %14@arena+64 (batch 1, m 32, k 10, n 64)
  -- commit: the rest runs only if %finite == 1 --
  k3: map [50176] (%dense.kernel@state+0[0], %grad.dense.kernel@arena+9[0], %lr@batch2[0]) -> (%u1@state+0[0]) { %0 = in 0; %1 = in 1; %2 = in 2; %3 = mul %1, %2; %4 = sub %0, %3 } results=[4]
arena: 5956 bytes
  %3: 8192 bytes at +0, live k0..k1";

    const CLIF: &str = "function u0:0(i64, i64) system_v {
    ss0 = explicit_slot 16
    sig0 = (i64) -> f32 system_v
block0(v0: i64, v1: i64):
    v2 = load.f32x4 notrap aligned v0+16  ; the first operand
    v3 = fadd v2, v2
    v4 = iconst.i64 1024
    brif v4, block1, block2
block1:
    store notrap aligned v3, v1
    jump block2
block2:
    return
}";

    /// A small but complete report: two dense layers, four kernels, a
    /// profile and a laid-out dataflow.
    pub(crate) fn sample_report() -> Report {
        let forward = stage(FORWARD, &meta, &|_| Vec::new());
        let train = stage(&train_text(), &meta, &|n| {
            if forward.values.iter().any(|v| v.name == n) {
                vec![n.to_string()]
            } else {
                Vec::new()
            }
        });
        let fused_from = |n: &str| -> Vec<String> {
            let names: &[&str] = match n {
                "6" => &["4", "5", "6"],
                "loss" => &["8", "9", "10", "11", "loss", "acc"],
                "12" => &["12"],
                "finite" => &["15", "finite"],
                _ => &[],
            };
            if names.is_empty() {
                vec![n.to_string()]
            } else {
                names.iter().map(|s| s.to_string()).collect()
            }
        };
        let mut optimized = stage(OPTIMIZED, &meta, &fused_from);
        let kernel_of = |n: &str| match n {
            "3" | "6" => Some(0),
            "7" | "loss" | "12" | "finite" => Some(1),
            "grad.dense_1.kernel" | "14" | "grad.dense.kernel" => Some(2),
            "u1" | "u3" => Some(3),
            _ => None,
        };
        for val in &mut optimized.values {
            val.kernel = kernel_of(&val.name);
            if val.name == "u1" {
                val.params = vec!["dense.kernel".into()];
            }
        }
        let kinfo =
            |index: usize, kind: &str, lines: (usize, usize), origins: Vec<Origin>| KernelInfo {
                index,
                name: format!("k{index}"),
                kind: kind.into(),
                lines,
                values: optimized
                    .values
                    .iter()
                    .filter(|v| v.kernel == Some(index))
                    .map(|v| v.name.clone())
                    .collect(),
                origins,
                layers: vec!["dense".into()],
                params: Vec::new(),
                clif: CLIF.replace("u0:0", &format!("u0:{index}")),
            };
        let kernels = vec![
            kinfo(0, "matmul", (1, 2), vec![Origin::Forward]),
            kinfo(1, "rows", (3, 5), vec![Origin::Loss, Origin::Backward]),
            kinfo(2, "matmul", (6, 6), vec![Origin::Backward]),
            kinfo(3, "map", (8, 8), vec![Origin::Optimizer]),
        ];
        let name_idx: std::collections::HashMap<&str, usize> = optimized
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        let lines: Vec<&str> = OPTIMIZED.lines().collect();
        let inputs: Vec<LayoutInput> = optimized
            .values
            .iter()
            .map(|v| {
                let line = lines[v.line];
                let def_end = line.find(" = ").map(|p| p + 3).unwrap_or(line.len());
                let operands = line[def_end..]
                    .split('%')
                    .skip(1)
                    .filter_map(|s| {
                        let n: String = s
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '_')
                            .collect();
                        name_idx.get(n.as_str()).copied()
                    })
                    .collect();
                let label = if v.kernel.is_some() {
                    v.op.clone()
                } else {
                    v.name.clone()
                };
                LayoutInput {
                    name: v.name.clone(),
                    label,
                    origin: v.origins[0],
                    operands,
                }
            })
            .collect();
        let dataflow = lay_out(&inputs);
        Report {
            model: ModelInfo {
                name: "mlp".into(),
                summary: "Model: \"mlp\"\n Layer (type)    Output Shape   Param #\n dense (Dense)   (None, 64)     50240\n dense_1 (Dense) (None, 10)     650\nTotal params: 50890".into(),
                optimizer: "sgd (keras), lr 0.01".into(),
                loss: "categorical_crossentropy".into(),
                batch: 32,
                passes: "default".into(),
            },
            signature: SignatureInfo {
                args: vec![
                    ArgInfo { name: "x".into(), role: "x".into(), ty: "f32[32,784]".into() },
                    ArgInfo { name: "y".into(), role: "y".into(), ty: "f32[32,10]".into() },
                    ArgInfo { name: "lr".into(), role: "step scalar lr".into(), ty: "f32[]".into() },
                    ArgInfo { name: "dense.kernel".into(), role: "param".into(), ty: "f32[784,64]".into() },
                ],
                outputs: vec![
                    OutputInfo { name: "loss".into(), role: "loss".into(), ty: "f32[]".into() },
                    OutputInfo { name: "finite".into(), role: "finite".into(), ty: "f32[]".into() },
                ],
                updated: vec!["dense.kernel".into(), "step".into()],
            },
            layers: vec![
                LayerInfo { name: "dense".into(), class: "Dense".into(), params: vec!["dense.kernel".into(), "dense.bias".into()] },
                LayerInfo { name: "dense_1".into(), class: "Dense".into(), params: vec!["dense_1.kernel".into(), "dense_1.bias".into()] },
                LayerInfo { name: "</script><b>x".into(), class: "Evil".into(), params: vec![] },
            ],
            forward,
            train,
            optimized,
            kernels: KernelStage { text: KERNELS.into(), kernels, arena_bytes: 5956 },
            passes: vec![
                PassRow {
                    rule_set: "algebra".into(),
                    iterations: 4,
                    nodes: 120,
                    classes: 80,
                    stop: "saturated".into(),
                    time_ms: 1.5,
                    cost_before: "1.2e6".into(),
                    cost_after: "9.8e5".into(),
                    kernels_before: 9,
                    kernels_after: 7,
                    fired: vec![("add-zero".into(), 3), ("mul-one".into(), 1)],
                },
                PassRow {
                    rule_set: "fusion".into(),
                    iterations: 2,
                    nodes: 90,
                    classes: 60,
                    stop: "iteration limit".into(),
                    time_ms: 0.7,
                    cost_before: "9.8e5".into(),
                    cost_after: "7.0e5".into(),
                    kernels_before: 7,
                    kernels_after: 4,
                    fired: vec![],
                },
            ],
            profile: Some(ProfileInfo {
                steps: 20,
                threads: 2,
                jit_step_ms: 1.0,
                interp_step_ms: 12.0,
                kernels: vec![
                    KernelTime { kernel: 0, jit_ms: 0.5, jit_share: 0.5, interp_ms: 6.0, interp_share: 0.5 },
                    KernelTime { kernel: 1, jit_ms: 0.1, jit_share: 0.1, interp_ms: 1.0, interp_share: 0.083 },
                    KernelTime { kernel: 2, jit_ms: 0.15, jit_share: 0.15, interp_ms: 2.0, interp_share: 0.167 },
                    KernelTime { kernel: 3, jit_ms: 0.25, jit_share: 0.25, interp_ms: 2.5, interp_share: 0.208 },
                ],
                interp_unattributed_ms: 0.5,
            }),
            dataflow,
        }
    }

    fn embedded_json(html: &str) -> &str {
        let open = "<script type=\"application/json\" id=\"report-data\">";
        let start = html.find(open).expect("data script") + open.len();
        let len = html[start..].find("</script>").expect("data script closes");
        &html[start..start + len]
    }

    #[test]
    fn page_is_self_contained() {
        let html = render_html(&sample_report());
        for bad in [
            "http://",
            "https://",
            "//cdn",
            "<link",
            "<script src",
            "@import",
            "url(",
            "@font-face",
        ] {
            assert!(!html.contains(bad), "page contains {bad}");
        }
        assert!(html.starts_with("<!DOCTYPE html>"));
    }

    #[test]
    fn json_round_trips() {
        let report = sample_report();
        let html = render_html(&report);
        let parsed: serde_json::Value =
            serde_json::from_str(embedded_json(&html)).expect("embedded JSON parses");
        // Parsed by the same parser on both sides (its float parsing may
        // round the last bit).
        let direct: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
        assert_eq!(parsed, direct);
    }

    #[test]
    fn script_end_tag_in_data_cannot_break_out() {
        let mut report = sample_report();
        // A comment opener followed by a script tag would also change how
        // the browser ends the data element.
        report.model.summary = "<!-- <script> </SCRIPT".into();
        let html = render_html(&report);
        let json = embedded_json(&html);
        assert!(!json.contains('<'));
        let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(parsed["layers"][2]["name"], "</script><b>x");
        assert_eq!(parsed["model"]["summary"], "<!-- <script> </SCRIPT");
        // The data script is followed directly by the page's script.
        let after = &html[html.find(json).unwrap() + json.len()..];
        assert!(after.starts_with("</script>\n<script>\n'use strict';"));
    }

    /// Writes the sample page to `/tmp/explore-dev.html` for a browser.
    #[test]
    fn write_dev_page() {
        let html = render_html(&sample_report());
        std::fs::write(std::env::temp_dir().join("explore-dev.html"), html).unwrap();
    }

    /// A report the size of a real CNN's (`n` values per stage, a CLIF
    /// listing of a few hundred lines per kernel).
    fn big_report(n: usize) -> Report {
        let mut r = sample_report();
        let origins = [
            Origin::Input,
            Origin::Forward,
            Origin::Loss,
            Origin::Backward,
            Origin::Guard,
            Origin::Optimizer,
        ];
        let mut text = String::from("graph big.train_step {\n");
        let mut values = Vec::new();
        let mut inputs = Vec::new();
        for i in 0..n {
            let a = i.saturating_sub(1 + i % 7);
            let b = i / 2;
            if i < 3 {
                text.push_str(&format!("  param %v{i}: f32[128,10]\n"));
            } else {
                text.push_str(&format!("  %v{i}: f32[128,10] = add %v{a}, %v{b}\n"));
            }
            let layer = format!("layer_{}", i * 8 / n);
            let mut val = v(
                &format!("v{i}"),
                i + 1,
                "add",
                origins[i % origins.len()],
                &[layer.as_str()],
                &[],
            );
            val.from = vec![format!("v{i}")];
            val.kernel = Some(i / 4);
            values.push(val);
            let operands = if i < 3 { vec![] } else { vec![a, b] };
            inputs.push(LayoutInput {
                name: format!("v{i}"),
                label: "add".into(),
                origin: origins[i % 6],
                operands,
            });
        }
        text.push('}');
        let stage = GraphStage {
            text: text.clone(),
            values,
        };
        let clif: String = (0..300)
            .map(|i| format!("    v{i} = fadd.f32x4 v{}, v{}  ; lane op\n", i / 2, i / 3))
            .collect();
        let kernels: Vec<KernelInfo> = (0..n / 4)
            .map(|k| KernelInfo {
                index: k,
                name: format!("k{k}"),
                kind: "map".into(),
                lines: (k + 1, k + 1),
                values: (4 * k..4 * k + 4).map(|i| format!("v{i}")).collect(),
                origins: vec![Origin::Forward],
                layers: vec![],
                params: vec![],
                clif: format!("function u0:{k}() system_v {{\nblock0:\n{clif}    return\n}}"),
            })
            .collect();
        let ktext = std::iter::once(format!("kernels of big.train_step ({}):", n / 4))
            .chain((0..n / 4).map(|k| {
                format!(
                    "  k{k}: map [1280] (%v{}) -> (%v{}) {{ %0 = in 0 }}",
                    4 * k,
                    4 * k + 3
                )
            }))
            .collect::<Vec<_>>()
            .join("\n");
        r.forward = GraphStage {
            text: text.clone(),
            values: stage
                .values
                .iter()
                .map(|v| ValueInfo {
                    from: vec![],
                    kernel: None,
                    ..v.clone()
                })
                .collect(),
        };
        r.train = GraphStage {
            values: stage
                .values
                .iter()
                .map(|v| ValueInfo {
                    kernel: None,
                    ..v.clone()
                })
                .collect(),
            ..stage.clone()
        };
        r.optimized = stage;
        r.kernels = KernelStage {
            text: ktext,
            kernels,
            arena_bytes: 1 << 20,
        };
        r.layers = (0..8)
            .map(|l| LayerInfo {
                name: format!("layer_{l}"),
                class: "Dense".into(),
                params: vec![],
            })
            .collect();
        r.profile = None;
        r.passes = Vec::new();
        r.dataflow = lay_out(&inputs);
        r
    }

    /// Writes a CNN-sized page to `/tmp/explore-big.html` (load-time check
    /// in a browser); ignored as it writes megabytes.
    #[test]
    #[ignore]
    fn write_big_dev_page() {
        let html = render_html(&big_report(800));
        std::fs::write(std::env::temp_dir().join("explore-big.html"), html).unwrap();
    }

    /// Operands of each value of a graph text (`%refs` after ` = `, fused
    /// bodies' local names skipped), for laying out real graphs.
    fn layout_inputs(stage: &GraphStage) -> Vec<LayoutInput> {
        let lines: Vec<&str> = stage.text.lines().collect();
        let idx: std::collections::HashMap<&str, usize> = stage
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.as_str(), i))
            .collect();
        stage
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let line = lines[v.line];
                let rhs = line.find(" = ").map(|p| &line[p + 3..]).unwrap_or("");
                let rhs = rhs.split("body={").next().unwrap_or("");
                let operands = rhs
                    .split('%')
                    .skip(1)
                    .filter_map(|s| {
                        let n: String = s
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '_')
                            .collect();
                        idx.get(n.as_str()).copied().filter(|&o| o < i)
                    })
                    .collect();
                let label = if rhs.is_empty() {
                    v.name.clone()
                } else {
                    v.op.clone()
                };
                LayoutInput {
                    name: v.name.clone(),
                    label,
                    origin: v.origins[0],
                    operands,
                }
            })
            .collect()
    }

    /// Writes the real optimized seed CNN step (from its snapshot) as every
    /// graph stage to `/tmp/explore-cnn.html`, to judge the layout on a real
    /// graph; ignored as it only writes a file.
    #[test]
    #[ignore]
    fn write_cnn_dev_page() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/snapshots/it__passes_train_steps__optimized_seed_cnn_rmsprop_train_step.snap"
        );
        let snap = std::fs::read_to_string(path).unwrap();
        let text = snap
            .splitn(3, "---\n")
            .nth(2)
            .unwrap()
            .trim_end()
            .to_string();
        let origin_of = |n: &str| -> (Origin, Vec<&'static str>) {
            match n {
                _ if n.starts_with("grad.") => (Origin::Backward, vec![]),
                "x" | "y" | "lr" | "step" => (Origin::Input, vec![]),
                "loss" => (Origin::Loss, vec![]),
                "finite" => (Origin::Guard, vec![]),
                _ if n.contains('.') => (Origin::Input, vec![]),
                _ => (Origin::Forward, vec![]),
            }
        };
        let mut optimized = stage(&text, &origin_of, &|n| vec![n.to_string()]);
        for (i, v) in optimized.values.iter_mut().enumerate() {
            v.kernel = Some(i / 3);
        }
        let mut r = sample_report();
        r.dataflow = lay_out(&layout_inputs(&optimized));
        r.forward = GraphStage {
            text: text.clone(),
            values: optimized
                .values
                .iter()
                .map(|v| ValueInfo {
                    from: vec![],
                    kernel: None,
                    ..v.clone()
                })
                .collect(),
        };
        r.train = GraphStage {
            text: text.clone(),
            values: optimized
                .values
                .iter()
                .map(|v| ValueInfo {
                    kernel: None,
                    ..v.clone()
                })
                .collect(),
        };
        r.optimized = optimized;
        let html = render_html(&r);
        std::fs::write(std::env::temp_dir().join("explore-cnn.html"), html).unwrap();
    }
}
