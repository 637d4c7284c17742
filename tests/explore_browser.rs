//! The page of `triceratops explore` in a real browser: headless Chromium
//! opens it with two injected scripts (`tests/explore/capture.js` first in
//! `<head>`, recording errors; `tests/explore/check.js` before `</body>`,
//! clicking a kernel and checking the DOM contract), and its verdict is read
//! back from `--dump-dom`. A screenshot of the selection is kept in
//! `<target>/explore-artifacts/<model>.png`.
//!
//! Without Chromium the tests print `skipped` and pass, unless
//! `TRICERATOPS_REQUIRE_BROWSER` is set (CI sets it); `CHROMIUM` names the
//! browser binary.
//!
//! The harness tests itself on `tests/explore/stub.html`, a hand-written
//! page that follows the contract: it must pass, and fail once its
//! selection is broken, so a vacuous check.js cannot go unnoticed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A hung browser (a page that never settles) fails the test, not CI's job.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// seed-cnn's page must be loaded in this time. A generous page-open budget
/// that catches a page gone quadratic, not a benchmark.
const SEED_CNN_LOAD_BUDGET_MS: f64 = 2000.0;

/// Screenshots smaller than this are blank or an error page.
const MIN_SCREENSHOT_BYTES: u64 = 10 * 1024;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `<target>/explore-artifacts`: where CI can pick up the screenshots.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root().join(target)
    };
    let dir = target.join("explore-artifacts");
    fs::create_dir_all(&dir).expect("create the artifacts folder");
    dir
}

/// The browser: `CHROMIUM`, else the first of the usual names on the PATH.
fn find_chromium() -> Option<PathBuf> {
    // Set but empty counts as unset (`CHROMIUM= cargo test`).
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let candidates = [
        "/usr/bin/chromium",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ];
    candidates.iter().find_map(|name| {
        let path = Path::new(name);
        if path.is_absolute() {
            return path.is_file().then(|| path.to_path_buf());
        }
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// The browser, or `None` (after saying so loudly) when there is none and
/// none is required: a developer machine without Chromium can still run
/// `cargo test`.
fn chromium_or_skip() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        if std::env::var_os("TRICERATOPS_REQUIRE_BROWSER").is_some() {
            panic!(
                "TRICERATOPS_REQUIRE_BROWSER is set but no Chromium was found \
                 (set CHROMIUM, or apt-get install chromium)"
            );
        }
        eprintln!("\n*** explore_browser skipped: no chromium (apt-get install chromium) ***\n");
    }
    found
}

/// The page of `triceratops explore` for `model` with extra options `opts`.
///
/// The page `triceratops explore` writes for `model` (2 profiled steps).
fn page(model: &str, opts: &[&str]) -> PathBuf {
    // Kept next to the screenshot so a failure can be reproduced by opening it.
    let out = artifacts_dir().join(format!("{model}.html"));
    let _ = fs::remove_file(&out);
    let out_str = out.to_str().expect("UTF-8 artifacts path");
    let mut args = vec![
        "explore",
        "--model",
        model,
        "--out",
        out_str,
        "--profile-steps",
        "2",
    ];
    args.extend_from_slice(opts);
    let output = assert_cmd::Command::cargo_bin("triceratops")
        .expect("the triceratops binary is built")
        .current_dir(root())
        .args(&args)
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`triceratops {}` failed:\nstdout:\n{}\nstderr:\n{stderr}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
    );
    assert!(
        out.is_file(),
        "`triceratops {}` wrote no page",
        args.join(" ")
    );
    out
}

/// `file://` URL of an absolute path, with the characters a URL would
/// misread escaped.
fn file_url(path: &Path) -> String {
    let path = path.to_str().expect("UTF-8 temp path");
    let mut url = String::from("file://");
    for c in path.chars() {
        match c {
            '%' | ' ' | '#' | '?' => url.push_str(&format!("%{:02X}", c as u32)),
            c => url.push(c),
        }
    }
    url
}

/// `html` with capture.js first in `<head>` and check.js before `</body>`.
fn inject(html: &str) -> String {
    let script = |name: &str| {
        let js = fs::read_to_string(root().join("tests/explore").join(name)).expect("read script");
        // Would end the inline script early.
        assert!(!js.contains("</script"), "{name} contains </script");
        format!("<script>\n{js}</script>\n")
    };
    let head = html.find("<head").expect("the page has a <head>");
    let head_end = head + html[head..].find('>').expect("<head> is closed") + 1;
    let body_end = html.rfind("</body>").expect("the page has a </body>");
    assert!(head_end <= body_end, "<head> after </body>");
    format!(
        "{}{}{}{}{}",
        &html[..head_end],
        script("capture.js"),
        &html[head_end..body_end],
        script("check.js"),
        &html[body_end..]
    )
}

struct Run {
    stdout: String,
    stderr: String,
}

/// Runs Chromium headless on `url` with `extra` flags and a fresh profile;
/// kills it after `CHROMIUM_TIMEOUT`. Panics, with its stderr, when it fails.
fn chromium(browser: &Path, url: &str, extra: &[String]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = dir.path().join("profile");
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=10000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(extra)
    .arg(url)
    .stdin(Stdio::null())
    // Files, not pipes: nothing to drain while we wait.
    .stdout(fs::File::create(&out_path).expect("stdout file"))
    .stderr(fs::File::create(&err_path).expect("stderr file"));
    // Its own process group, so a timeout kills the renderer and GPU
    // processes too (and the shell wrapper Debian's `chromium` is).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break Some(status);
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            #[cfg(unix)]
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        stdout: fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
    };
    match status {
        None => panic!(
            "chromium on {url} still running after {CHROMIUM_TIMEOUT:?}; stderr:\n{}",
            run.stderr
        ),
        Some(s) if !s.success() => {
            panic!("chromium on {url} failed ({s}); stderr:\n{}", run.stderr)
        }
        Some(_) => run,
    }
}

/// The text of `<pre id="check-result">` in the dumped DOM, unescaped.
fn check_result(dom: &str) -> Option<String> {
    // The last one: the scripts' text, dumped verbatim, comes before it.
    let start = dom.rfind("<pre id=\"check-result\"")?;
    let text_start = start + dom[start..].find('>')? + 1;
    let text_end = text_start + dom[text_start..].find("</pre>")?;
    let text = &dom[text_start..text_end];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&"),
    )
}

/// What the browser made of a page: check.js's verdict, and the error lines
/// Chromium logged from it.
struct Verdict {
    json: Value,
    console_errors: Vec<String>,
    /// The injected page (a screenshot opens it again).
    injected: PathBuf,
    _dir: tempfile::TempDir,
}

impl Verdict {
    fn failures(&self) -> Vec<String> {
        let mut all: Vec<String> = self.json["failures"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| f.as_str().unwrap_or("?").to_string())
                    .collect()
            })
            .unwrap_or_default();
        if self.json["ok"] != Value::Bool(true) && all.is_empty() {
            all.push(format!("verdict not ok: {}", self.json));
        }
        all.extend(self.console_errors.iter().map(|l| format!("stderr: {l}")));
        all
    }
}

/// Opens `html` (a page's text) with the check injected.
fn check_html(browser: &Path, html: &str) -> Verdict {
    let dir = tempfile::tempdir().expect("temp dir");
    let injected = dir.path().join("page.html");
    fs::write(&injected, inject(html)).expect("write the injected page");
    let url = file_url(&injected);
    let flags = ["--enable-logging=stderr", "--v=0", "--dump-dom"].map(String::from);
    let run = chromium(browser, &url, &flags);
    let text = check_result(&run.stdout).unwrap_or_else(|| {
        panic!(
            "no <pre id=\"check-result\"> in the dumped DOM (check.js never finished); stderr:\n{}",
            run.stderr
        )
    });
    let json: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("check-result is not JSON ({e}): {text}"));
    // Chromium logs every console level as INFO: capture.js marks errors.
    let console_errors = run
        .stderr
        .lines()
        .filter(|l| {
            l.contains("Uncaught") || (l.contains("CONSOLE") && l.contains("[console.error]"))
        })
        .map(String::from)
        .collect();
    Verdict {
        json,
        console_errors,
        injected,
        _dir: dir,
    }
}

/// Checks `page` in the browser, asserts it passed, screenshots the
/// selection to `<artifacts>/<name>.png`; returns the verdict.
fn check_page(browser: &Path, page: &Path, name: &str) -> Value {
    let html = fs::read_to_string(page).expect("read the page");
    let verdict = check_html(browser, &html);
    eprintln!("{name}: {}", verdict.json);
    let failures = verdict.failures();
    assert!(
        failures.is_empty(),
        "{name} ({}) fails in the browser:\n  {}",
        page.display(),
        failures.join("\n  ")
    );

    // check.js selects the kernel on load, so the screenshot shows it.
    let png = artifacts_dir().join(format!("{name}.png"));
    let _ = fs::remove_file(&png);
    let url = file_url(&verdict.injected);
    let flags = [
        format!("--screenshot={}", png.display()),
        "--window-size=1600,1000".to_string(),
    ];
    let run = chromium(browser, &url, &flags);
    let size = fs::metadata(&png)
        .unwrap_or_else(|_| panic!("no screenshot {}; stderr:\n{}", png.display(), run.stderr))
        .len();
    assert!(
        size > MIN_SCREENSHOT_BYTES,
        "screenshot {} is only {size} bytes (blank page?)",
        png.display()
    );
    eprintln!("{name}: screenshot {} ({size} bytes)", png.display());
    verdict.json
}

fn load_ms(verdict: &Value) -> f64 {
    verdict["load_ms"]
        .as_f64()
        .expect("check.js recorded load_ms")
}

#[test]
fn mnist_mlp_adam_in_the_browser() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let page = page("mnist-mlp", &["--optimizer", "adam"]);
    let verdict = check_page(&browser, &page, "mnist-mlp");
    eprintln!("mnist-mlp: page loaded in {:.0} ms", load_ms(&verdict));
}

#[test]
fn seed_cnn_in_the_browser() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let page = page("seed-cnn", &[]);
    let verdict = check_page(&browser, &page, "seed-cnn");
    let ms = load_ms(&verdict);
    eprintln!("seed-cnn: page loaded in {ms:.0} ms");
    assert!(
        ms < SEED_CNN_LOAD_BUDGET_MS,
        "seed-cnn's page took {ms:.0} ms to load (budget {SEED_CNN_LOAD_BUDGET_MS} ms)"
    );
}

fn stub() -> String {
    fs::read_to_string(root().join("tests/explore/stub.html")).expect("read the stub")
}

/// The harness on a page known to follow the contract.
#[test]
fn harness_passes_the_stub() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let verdict = check_page(&browser, &root().join("tests/explore/stub.html"), "stub");
    assert_eq!(verdict["kernel"], 2, "the stub's Adam kernel is k2");
}

/// The harness must notice a page whose selection does nothing, and one
/// that reports an error.
#[test]
fn harness_fails_broken_stubs() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let stub = stub();

    let no_clicks = stub.replace("addEventListener('click'", "addEventListener('no-click'");
    assert_ne!(no_clicks, stub, "the stub's click handler moved");
    let failures = check_html(&browser, &no_clicks).failures();
    assert!(
        failures.iter().any(|f| f.contains("no class \"sel\"")),
        "a page without selection passed: {failures:?}"
    );

    let throws = stub.replace(
        "'use strict';",
        "'use strict'; console.error('stub error');",
    );
    let failures = check_html(&browser, &throws).failures();
    assert!(
        failures
            .iter()
            .any(|f| f.contains("console.error: stub error")),
        "capture.js missed console.error: {failures:?}"
    );
    assert!(
        failures.iter().any(|f| f.starts_with("stderr:")),
        "the stderr scan missed console.error: {failures:?}"
    );

    let uncaught = stub.replace(
        "'use strict';",
        "'use strict'; setTimeout(function () { null.x; });",
    );
    let failures = check_html(&browser, &uncaught).failures();
    assert!(
        failures.iter().any(|f| f.starts_with("onerror:")),
        "capture.js missed an uncaught error: {failures:?}"
    );
    assert!(
        failures
            .iter()
            .any(|f| f.starts_with("stderr:") && f.contains("Uncaught")),
        "the stderr scan missed an uncaught error: {failures:?}"
    );
}
