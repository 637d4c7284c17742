//! TEMPORARY placeholder until the page lands.
use super::report::Report;
pub fn render_html(report: &Report) -> String {
    format!(
        "<!doctype html><pre>{}</pre>",
        serde_json::to_string(report).unwrap_or_default()
    )
}
