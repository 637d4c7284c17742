//! Atomic file replacement: a temp file in the target's folder, fsync,
//! rename, fsync of the folder. The target is always either the old
//! complete file or the new complete file, and the rename survives a crash.
//! Temp files a killed process left behind are removed by the next save of
//! the same target.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The prefix of every temp file for `name`: `.<name>.tmp-<pid>-<n>`.
fn temp_prefix(name: &str) -> String {
    format!(".{name}.tmp-")
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SAVES: AtomicU64 = AtomicU64::new(0);
    let dir = folder(path);
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("not a file path"))?
        .to_string_lossy()
        .into_owned();
    remove_stale_temps(dir, &name);
    let unique = format!(
        "{}-{}",
        std::process::id(),
        SAVES.fetch_add(1, Ordering::Relaxed)
    );
    let tmp: PathBuf = dir.join(format!("{}{unique}", temp_prefix(&name)));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Persist the directory entry too (not possible on every platform).
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The folder `path` is in (`.` for a bare file name).
pub fn folder(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Removes temp files of `name` in `dir` whose writing process is gone (a
/// save killed between create and rename). A temp file of a live process —
/// another run saving to the same place right now — is left alone. Where
/// liveness cannot be told (no `/proc`), nothing is removed.
fn remove_stale_temps(dir: &Path, name: &str) {
    let proc_fs = Path::new("/proc/self");
    if !proc_fs.exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = temp_prefix(name);
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists();
        if !alive {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
