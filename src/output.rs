//! Writing output files (plots, checkpoints) so that a failure never
//! leaves a broken file behind: [`check_writable`] before the work that
//! produces the file, [`write_atomically`] after it. Temp files a killed
//! process left behind are removed by the next write of the same target.
//!
//! Errors are [`Error::Data`] naming the output path, with a sentence such
//! as `cannot write plot: permission denied (os error 13)`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

fn fail(path: &Path, message: String) -> Error {
    Error::Data {
        path: path.to_path_buf(),
        message,
    }
}

/// An I/O error as the end of a sentence: `permission denied (os error 13)`.
pub fn describe(e: &io::Error) -> String {
    let text = e.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// The folder `path` is in (`.` for a bare file name).
fn folder(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A fresh, unused file name next to `path` (same folder and extension),
/// created empty. The caller removes or renames it.
fn temp_beside(path: &Path) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let temp = folder(path).join(format!(".{name}.{}-{n}.tmp", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Checks, before the work that produces it, that a file can be written at
/// `path`: `path` is not a folder (nor another non-file such as a device),
/// its folder exists, and a temporary file can be created and removed in
/// that folder (which a read-only folder or a `/proc` path refuses). The
/// file itself is not created or changed.
pub fn check_writable(path: &Path) -> Result<()> {
    let cannot = |why: String| fail(path, format!("cannot write a file here: {why}"));
    if path.as_os_str().is_empty() || path.file_name().is_none() {
        return Err(cannot("the path names no file".into()));
    }
    if let Ok(meta) = fs::metadata(path) {
        if meta.is_dir() {
            return Err(cannot("it is a folder".into()));
        }
        if !meta.is_file() {
            return Err(cannot("it exists and is not a regular file".into()));
        }
    }
    let dir = folder(path);
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(cannot(format!("{} is not a folder", dir.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(cannot(format!(
                "the folder does not exist ({})",
                dir.display()
            )))
        }
        Err(e) => {
            return Err(cannot(format!(
                "cannot use the folder {}: {}",
                dir.display(),
                describe(&e)
            )))
        }
    }
    let (temp, file) = temp_beside(path).map_err(|e| {
        cannot(format!(
            "cannot create a file in the folder {}: {}",
            dir.display(),
            describe(&e)
        ))
    })?;
    drop(file);
    fs::remove_file(&temp).map_err(|e| {
        cannot(format!(
            "cannot remove the test file {}: {}",
            temp.display(),
            describe(&e)
        ))
    })
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same
/// folder, flushed to disk, then renamed over `path`. On any failure the
/// temporary file is removed and `path` is left as it was (a good earlier
/// file is never replaced by a partial one). `what` names the file in the
/// error: `cannot write {what}: ...`.
pub fn write_atomically(path: &Path, what: &str, bytes: &[u8]) -> Result<()> {
    write_atomically_with(path, what, |file| file.write_all(bytes))
}

/// [`write_atomically`] with the contents written by `write` into the
/// temporary file (for writers that stream).
pub fn write_atomically_with(
    path: &Path,
    what: &str,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<()> {
    let cannot = |e: io::Error| fail(path, format!("cannot write {what}: {}", describe(&e)));
    if path.is_dir() {
        return Err(fail(path, format!("cannot write {what}: it is a folder")));
    }
    remove_stale_temps(path);
    let (temp, mut file) = temp_beside(path).map_err(cannot)?;
    let written = write(&mut file).and_then(|()| file.sync_all());
    drop(file);
    written
        .and_then(|()| fs::rename(&temp, path))
        .map_err(|e| {
            let _ = fs::remove_file(&temp);
            cannot(e)
        })?;
    // Persist the rename itself (not possible on every platform).
    if let Ok(d) = File::open(folder(path)) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the temp files of `path` whose writing process is gone — a
/// write killed between create and rename: named by [`temp_beside`]
/// (`.<name>.<pid>-<n>.tmp`) or by format-2 checkpoint saves
/// (`.<name>.tmp-<pid>-<n>`), of a process that no longer exists, and not
/// touched for [`STALE_AFTER`] (a writer in another PID namespace — another
/// container on a shared folder — is not visible in `/proc`, but its
/// file is fresh). Where liveness cannot be told (no `/proc`), nothing is
/// removed.
fn remove_stale_temps(path: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(entries) = fs::read_dir(folder(path)) else {
        return;
    };
    let prefix = format!(".{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        // `<pid>-<n>.tmp` or `tmp-<pid>-<n>`
        let Some(pid_n) = rest
            .strip_suffix(".tmp")
            .or_else(|| rest.strip_prefix("tmp-"))
        else {
            continue;
        };
        let Some(pid) = pid_n
            .split_once('-')
            .and_then(|(pid, n)| n.parse::<usize>().ok().and(pid.parse::<u32>().ok()))
        else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists();
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= STALE_AFTER);
        if !alive && stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// How long a dead process's temp file must be untouched to be removed.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("triceratops-output-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temp_file() {
        let dir = temp_dir("atomic");
        let path = dir.join("plot.png");
        write_atomically(&path, "plot", b"good").unwrap();
        let err = write_atomically_with(&path, "plot", |f| {
            f.write_all(b"half")?;
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device",
            ))
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: cannot write plot: no space left on device",
                path.display()
            )
        );
        assert_eq!(fs::read(&path).unwrap(), b"good");
        assert_eq!(files_in(&dir), ["plot.png"]);
        write_atomically(&path, "plot", b"better").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"better");
        assert_eq!(files_in(&dir), ["plot.png"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn describe_reads_as_the_end_of_a_sentence() {
        let e = io::Error::from_raw_os_error(13);
        assert_eq!(describe(&e), "permission denied (os error 13)");
    }
}
