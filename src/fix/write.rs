//! Replacing a file's content without ever leaving it half-written or clobbering someone
//! else's change: the new text goes to a temporary file in the same directory, with the same
//! permissions, and is renamed over the original only if the original still holds exactly the
//! bytes the fix was computed from.
//!
//! Symlinks are refused rather than written through: replacing the link would silently turn
//! it into a regular file, and writing the target edits a file outside the paths given. Hard
//! links are refused for the same reason (the rename would split them), and so is a file whose
//! owner cannot be kept.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Why a file was not written. The file is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("is a symlink (to {target}); fix the file it points to instead")]
    Symlink { target: String },
    #[error("is not a regular file")]
    NotAFile,
    #[error("has {0} hard links; replacing it would split them")]
    HardLinked(u64),
    #[error("is owned by {uid}:{gid}, which a rewritten file cannot keep here")]
    Owner { uid: u32, gid: u32 },
    #[error("is read-only")]
    ReadOnly,
    #[error("changed on disk since it was read; not overwritten (run again)")]
    Changed,
    #[error("cannot {action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> WriteError {
    let action = action.into();
    move |source| WriteError::Io { action, source }
}

/// Replaces the content of `path` with `new`, provided it still holds `expected`.
pub fn replace_file(path: &Path, expected: &[u8], new: &[u8]) -> Result<(), WriteError> {
    let meta = fs::symlink_metadata(path).map_err(io("read the file's metadata"))?;
    if meta.file_type().is_symlink() {
        let target = fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(WriteError::Symlink { target });
    }
    if !meta.is_file() {
        return Err(WriteError::NotAFile);
    }
    if meta.nlink() > 1 {
        return Err(WriteError::HardLinked(meta.nlink()));
    }
    // The rename would succeed on a read-only file in a writable directory; the file's own
    // permission is what the user set, so it is honoured (root included).
    if meta.permissions().readonly() {
        return Err(WriteError::ReadOnly);
    }
    match OpenOptions::new().write(true).open(path) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => return Err(WriteError::ReadOnly),
        Err(e) => return Err(io("open the file")(e)),
        Ok(_) => {}
    }
    if !holds(path, expected)? {
        return Err(WriteError::Changed);
    }
    let tmp = temp_path(path);
    let result = write_temp(&tmp, new, &meta).and_then(|()| {
        // Last look before the swap: a change made while the fix was computed or written wins.
        if !holds(path, expected)? {
            return Err(WriteError::Changed);
        }
        fs::rename(&tmp, path).map_err(io("replace the file"))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename durable; a failure here leaves a correct file, so it is not an error.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

fn holds(path: &Path, expected: &[u8]) -> Result<bool, WriteError> {
    let mut now = Vec::with_capacity(expected.len());
    File::open(path)
        .and_then(|f| f.take(expected.len() as u64 + 1).read_to_end(&mut now))
        .map_err(io("read the file again"))?;
    Ok(now == expected)
}

fn write_temp(tmp: &Path, bytes: &[u8], meta: &fs::Metadata) -> Result<(), WriteError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(io(format!("create {}", tmp.display())))?;
    // Owner first: a change of owner may clear set-id bits, which the mode then restores.
    let made = file
        .metadata()
        .map_err(io("read the new file's metadata"))?;
    if (made.uid(), made.gid()) != (meta.uid(), meta.gid())
        && std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid())).is_err()
    {
        return Err(WriteError::Owner {
            uid: meta.uid(),
            gid: meta.gid(),
        });
    }
    file.set_permissions(meta.permissions())
        .map_err(io("set the permissions"))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io(format!("write {}", tmp.display())))
}

/// `.NAME.rollout-guard-PID-N.tmp` beside the file: same directory, so the rename is atomic.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.rollout-guard-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rollout-guard-write-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_and_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("perm");
        let f = dir.join("a.yaml");
        fs::write(&f, "old\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        replace_file(&f, b"old\n", b"new\n").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"new\n");
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp file left");
    }

    #[test]
    fn a_changed_file_is_not_overwritten() {
        let dir = scratch("changed");
        let f = dir.join("a.yaml");
        fs::write(&f, "edited by someone else\n").unwrap();
        let err = replace_file(&f, b"what we read\n", b"fixed\n").unwrap_err();
        assert!(matches!(err, WriteError::Changed), "{err}");
        assert_eq!(fs::read(&f).unwrap(), b"edited by someone else\n");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn hard_links_are_refused_and_owners_kept() {
        let dir = scratch("links");
        let f = dir.join("a.yaml");
        fs::write(&f, "x\n").unwrap();
        let other = dir.join("b.yaml");
        fs::hard_link(&f, &other).unwrap();
        let err = replace_file(&f, b"x\n", b"y\n").unwrap_err();
        assert!(matches!(err, WriteError::HardLinked(2)), "{err}");
        assert_eq!(fs::read(&other).unwrap(), b"x\n");
        fs::remove_file(&other).unwrap();
        // As root, a file owned by someone else keeps its owner.
        if fs::metadata(&f).unwrap().uid() == 0 {
            std::os::unix::fs::chown(&f, Some(4242), Some(4343)).unwrap();
            replace_file(&f, b"x\n", b"y\n").unwrap();
            let m = fs::metadata(&f).unwrap();
            assert_eq!((m.uid(), m.gid()), (4242, 4343));
            assert_eq!(fs::read(&f).unwrap(), b"y\n");
        }
    }

    #[test]
    fn read_only_and_symlinks_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("ro");
        let f = dir.join("a.yaml");
        fs::write(&f, "x\n").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o444)).unwrap();
        assert!(matches!(
            replace_file(&f, b"x\n", b"y\n"),
            Err(WriteError::ReadOnly)
        ));
        let link = dir.join("link.yaml");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        let err = replace_file(&link, b"x\n", b"y\n").unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        assert_eq!(fs::read(&f).unwrap(), b"x\n");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}
