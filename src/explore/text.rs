//! `compile --emit provenance`: the report's links as text, one line per
//! kernel and per optimized value, for terminals and diffs.

use std::fmt::Write;

use super::report::{Origin, Report};

/// Each kernel with what it computes and where that came from, then each
/// optimized value with the train values it stands for.
pub fn provenance_text(r: &Report) -> String {
    let mut out = String::new();
    let names = |v: &[String]| {
        v.iter()
            .map(|n| format!("%{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let origin = |o: &[Origin], layers: &[String], params: &[String]| {
        let mut s = o
            .iter()
            .map(|o| format!("{o:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join("+");
        if !layers.is_empty() {
            let _ = write!(s, " [{}]", layers.join(", "));
        }
        if !params.is_empty() {
            let _ = write!(s, " update of {}", params.join(", "));
        }
        s
    };
    let _ = writeln!(
        out,
        "kernels of {} ({}):",
        r.model.name,
        r.kernels.kernels.len()
    );
    for k in &r.kernels.kernels {
        let _ = writeln!(
            out,
            "  k{} {}: {} <- {}",
            k.index,
            k.kind,
            names(&k.values),
            origin(&k.origins, &k.layers, &k.params)
        );
    }
    let _ = writeln!(out, "optimized values ({}):", r.optimized.values.len());
    for v in &r.optimized.values {
        let kernel = v.kernel.map_or("-".to_string(), |k| format!("k{k}"));
        let _ = writeln!(
            out,
            "  %{} = {} in {kernel} <- {} from train {}",
            v.name,
            v.op,
            origin(&v.origins, &v.layers, &v.params),
            names(&v.from)
        );
    }
    out
}
