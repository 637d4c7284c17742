//! Plots and output paths: plots draw with the embedded font (no system
//! fonts), are written atomically, and fail with sentences naming the file;
//! `check_writable` refuses, before any work, paths that cannot be written.

use std::path::Path;

use plotters::style::{FontDesc, FontFamily, FontStyle};
use tempfile::TempDir;
use triceratops::output::check_writable;
use triceratops::plot::{draw, register_font, Series};
use triceratops::Error;

use crate::cli_support::path_str;

fn panels() -> Vec<(&'static str, &'static str, Series)> {
    vec![(
        "loss",
        "loss",
        vec![("loss".to_string(), vec![1.0, 0.5, 0.25])],
    )]
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The message of an `Error::Data` naming `path`.
#[track_caller]
fn data_message(result: triceratops::Result<()>, path: &Path) -> String {
    match result {
        Err(Error::Data { path: p, message }) => {
            assert_eq!(p, path);
            assert!(
                !message.contains("Os {") && !message.contains("Error("),
                "a Debug dump, not a sentence: {message}"
            );
            message
        }
        other => panic!("expected Error::Data, got {other:?}"),
    }
}

#[test]
fn text_is_laid_out_with_the_embedded_font() {
    register_font().unwrap();
    // The only font plotters can use is the registered one: without it, the
    // ab_glyph build has no `sans-serif` at all.
    let font = FontDesc::new(FontFamily::SansSerif, 20.0, FontStyle::Normal);
    let (w, h) = font.box_size("epoch").unwrap();
    assert!(w > 20 && h > 5, "{w}x{h}");
    assert!(
        triceratops::plot::FONT.starts_with(&[0, 1, 0, 0]),
        "a TrueType font"
    );
}

#[test]
fn plots_replace_old_ones_and_leave_no_temporary_files() {
    let tmp = TempDir::new().unwrap();
    for name in ["curves.svg", "curves.png"] {
        let path = tmp.path().join(name);
        std::fs::write(&path, "old").unwrap();
        draw(&path, &panels()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 1000, "{name}: a plot");
        if name.ends_with(".png") {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        } else {
            let text = String::from_utf8(bytes).unwrap();
            assert!(text.contains("<svg") && text.contains("epoch"));
        }
    }
    assert_eq!(files_in(tmp.path()), ["curves.png", "curves.svg"]);
}

#[test]
fn plot_errors_are_sentences_naming_the_file() {
    let tmp = TempDir::new().unwrap();
    let missing = tmp.path().join("no-such-folder/cnn.png");
    assert_eq!(
        data_message(draw(&missing, &panels()), &missing),
        "cannot write plot: no such file or directory (os error 2)"
    );
    let folder = tmp.path().join("curves.svg");
    std::fs::create_dir(&folder).unwrap();
    assert_eq!(
        data_message(draw(&folder, &panels()), &folder),
        "cannot write plot: it is a folder"
    );
    let proc_path = Path::new("/proc/self/cnn.png");
    let message = data_message(draw(proc_path, &panels()), proc_path);
    assert!(message.starts_with("cannot write plot: "), "{message}");
    assert_eq!(files_in(tmp.path()), ["curves.svg"]);
}

#[test]
fn check_writable_refuses_what_would_fail_after_training() {
    let tmp = TempDir::new().unwrap();
    let ok = tmp.path().join("cnn.png");
    check_writable(&ok).unwrap();
    assert!(files_in(tmp.path()).is_empty(), "no file is left behind");
    std::fs::write(&ok, "old plot").unwrap();
    check_writable(&ok).unwrap();
    assert_eq!(std::fs::read(&ok).unwrap(), b"old plot");
    check_writable(Path::new("relative-name.svg")).unwrap();

    let cases = [
        (
            tmp.path().to_path_buf(),
            "cannot write a file here: it is a folder".to_string(),
        ),
        (
            tmp.path().join("missing/cnn.png"),
            format!(
                "cannot write a file here: the folder does not exist ({})",
                tmp.path().join("missing").display()
            ),
        ),
        (
            ok.join("below-a-file.png"),
            format!("cannot write a file here: {} is not a folder", ok.display()),
        ),
        (
            "/dev/null".into(),
            "cannot write a file here: it exists and is not a regular file".to_string(),
        ),
    ];
    for (path, expected) in cases {
        assert_eq!(data_message(check_writable(&path), &path), expected);
    }
    // /proc refuses new files (even to root, which ignores permissions).
    let proc_path = Path::new("/proc/self/cnn.png");
    let message = data_message(check_writable(proc_path), proc_path);
    assert!(
        message.starts_with(
            "cannot write a file here: cannot create a file in the folder /proc/self: "
        ),
        "{message}"
    );
}

#[test]
fn the_binary_plots_without_any_system_font() {
    let tmp = TempDir::new().unwrap();
    // A fontconfig setup that knows no font folder: a build that looked up
    // system fonts would find none.
    let conf = tmp.path().join("fonts.conf");
    std::fs::write(
        &conf,
        "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig></fontconfig>\n",
    )
    .unwrap();
    let plot = tmp.path().join("curves.png");
    // Run directly (not with cli_support's runner) to set the environment.
    let out = {
        let mut cmd = assert_cmd::Command::cargo_bin("triceratops").unwrap();
        cmd.current_dir(tmp.path())
            .env("FONTCONFIG_FILE", &conf)
            .env("FONTCONFIG_PATH", tmp.path())
            .env("XDG_DATA_HOME", tmp.path())
            .env("HOME", tmp.path())
            .args(["train", "--model", "linreg", "--epochs", "1", "--plot"])
            .arg(path_str(&plot));
        cmd.output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(std::fs::read(&plot).unwrap().len() > 1000);
}
