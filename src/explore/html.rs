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
mod tests {
    use super::*;
    use crate::compile::{CompileSpec, Passes};
    use crate::explore::{explore, ExploreOptions};
    use crate::models::builtin;

    /// linreg's real report, without a profile.
    fn report() -> Report {
        let b = builtin("linreg").unwrap().unwrap();
        let spec = CompileSpec::new(&b.model, b.optimizer, b.loss, &b.metrics, Passes::On);
        let options = ExploreOptions {
            profile_steps: 0,
            threads: 1,
        };
        explore(&b.model, &spec, b.batch_size, &options).unwrap()
    }

    fn embedded_json(html: &str) -> &str {
        let open = "<script type=\"application/json\" id=\"report-data\">";
        let start = html.find(open).expect("data script") + open.len();
        let len = html[start..].find("</script>").expect("data script closes");
        &html[start..start + len]
    }

    #[test]
    fn page_is_self_contained() {
        let html = render_html(&report());
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
        let report = report();
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
        let mut report = report();
        // A comment opener followed by a script tag would also change how
        // the browser ends the data element.
        report.model.summary = "<!-- <script> </SCRIPT".into();
        report.layers[0].name = "</script><b>x".into();
        let html = render_html(&report);
        let json = embedded_json(&html);
        assert!(!json.contains('<'));
        let parsed: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(parsed["layers"][0]["name"], "</script><b>x");
        assert_eq!(parsed["model"]["summary"], "<!-- <script> </SCRIPT");
        // The data script is followed directly by the page's script.
        let after = &html[html.find(json).unwrap() + json.len()..];
        assert!(after.starts_with("</script>\n<script>\n'use strict';"));
    }
}
