//! Replacing a file's content without ever leaving it half-written or clobbering someone
//! else's change: the new text goes to a temporary file in the same directory, with the same
//! permissions, and is renamed over the original only if the original still holds exactly the
//! bytes the fix was computed from.
//!
//! A check before a rename always leaves a window: an edit that lands between the last look
//! and the rename would be lost with the old file. So the swap is made first and checked after:
//! the new file and the old one trade places in one atomic `renameat2(RENAME_EXCHANGE)`, and the
//! old file, now under the temporary name, is read once more. If it no longer holds what the fix
//! was computed from, someone wrote to it in the meantime and the two trade places back: their
//! edit stays, the fix is refused as changed. Where the filesystem cannot exchange, a plain
//! rename is used with the same check after it, through a handle kept on the old file; an edit
//! found there is written back the same way.
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
    #[error("is open in another program; not overwritten, so that no edit made there is lost (run again when it is closed)")]
    OpenElsewhere,
    #[error("was edited while it was being fixed, and the edit could not be put back ({source}): the edited file is kept at {}; move it back", kept.display())]
    EditKept {
        kept: std::path::PathBuf,
        source: std::io::Error,
    },
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
    if let Err(e) = write_temp(&tmp, new, &meta) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let result = File::open(path)
        .map_err(io("open the file"))
        .and_then(|old| swap_checked(path, &tmp, &old, expected, &meta));
    // The temporary name holds nothing to keep (the old file after a swap, the unused new one
    // after a refusal, or nothing after a plain rename), unless it holds an edit that could not
    // be put back.
    if !matches!(result, Err(WriteError::EditKept { .. })) {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    // Make the rename durable; a failure here leaves a correct file, so it is not an error.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Puts `tmp` in place of `path` if `path` (open as `old`) still holds `expected` at the moment
/// of the swap. A write lease, where the kernel grants one, makes that moment exact: it is only
/// granted while no one else has the file open, and while it is held any other open of the file
/// waits and shows as a break of the lease.
fn swap_checked(
    path: &Path,
    tmp: &Path,
    old: &File,
    expected: &[u8],
    meta: &fs::Metadata,
) -> Result<(), WriteError> {
    let lease = Lease::take(old)?;
    if !holds_open(old, expected)? {
        return Err(WriteError::Changed);
    }
    let edited = |lease: &Option<Lease>| -> Result<bool, WriteError> {
        Ok(lease.as_ref().is_some_and(Lease::broken) || !holds_open(old, expected)?)
    };
    match exchange(tmp, path) {
        Ok(()) => {
            // `tmp` now names the old file. Edited, or about to be opened, since the last look:
            // trade back, so that the edit is what stays.
            if edited(&lease)? {
                exchange(tmp, path).map_err(|source| WriteError::EditKept {
                    kept: tmp.to_path_buf(),
                    source,
                })?;
                return Err(WriteError::Changed);
            }
            Ok(())
        }
        Err(e) if exchange_unsupported(&e) => {
            fs::rename(tmp, path).map_err(io("replace the file"))?;
            if edited(&lease)? {
                restore(path, old, meta)?;
                return Err(WriteError::Changed);
            }
            Ok(())
        }
        Err(e) => Err(io("replace the file")(e)),
    }
}

/// A write lease on an open file, released on drop.
struct Lease<'a>(&'a File);

impl<'a> Lease<'a> {
    /// The lease, or `None` where leases are not to be had (not the file's owner, a network
    /// filesystem); an error when the file is open in another program for longer than a short
    /// wait, because an edit made through that handle could then be lost.
    fn take(file: &'a File) -> Result<Option<Lease<'a>>, WriteError> {
        use std::os::fd::AsRawFd;
        static IGNORE_SIGIO: std::sync::Once = std::sync::Once::new();
        // A lease break is signalled with SIGIO, whose default action ends the process; the
        // break is read with F_GETLEASE instead.
        // SAFETY: setting a signal's disposition to ignore has no preconditions.
        IGNORE_SIGIO.call_once(|| unsafe {
            libc::signal(libc::SIGIO, libc::SIG_IGN);
        });
        for _ in 0..40 {
            // SAFETY: a valid open descriptor; F_SETLEASE takes an int argument.
            if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLEASE, libc::F_WRLCK) } == 0 {
                return Ok(Some(Lease(file)));
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN | libc::EBUSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                _ => return Ok(None),
            }
        }
        Err(WriteError::OpenElsewhere)
    }

    /// True when another open of the file has started since the lease was taken.
    fn broken(&self) -> bool {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor.
        unsafe { libc::fcntl(self.0.as_raw_fd(), libc::F_GETLEASE) != libc::F_WRLCK }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor.
        unsafe {
            libc::fcntl(self.0.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK);
        }
    }
}

/// Swaps the directory entries `a` and `b` in one step.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths, resolved against the working directory.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// True when the error says the filesystem or kernel cannot exchange (as opposed to a real
/// failure such as a permission).
fn exchange_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP)
    )
}

/// After a plain rename that turned out to race an edit: the old file's content (through
/// `old`, still open) is put back over the fix.
fn restore(path: &Path, old: &File, meta: &fs::Metadata) -> Result<(), WriteError> {
    use std::io::{Seek, SeekFrom};
    let mut edited = Vec::new();
    let mut old = old;
    old.seek(SeekFrom::Start(0))
        .and_then(|_| old.read_to_end(&mut edited))
        .map_err(io("read the edited file"))?;
    let tmp = temp_path(path);
    let result = write_temp(&tmp, &edited, meta)
        .and_then(|()| fs::rename(&tmp, path).map_err(io("put the edited file back")));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// True when the open file holds exactly `expected`, read from its start.
fn holds_open(file: &File, expected: &[u8]) -> Result<bool, WriteError> {
    use std::io::{Seek, SeekFrom};
    let mut file = file;
    file.seek(SeekFrom::Start(0))
        .map_err(io("read the file again"))?;
    let mut now = Vec::with_capacity(expected.len());
    file.take(expected.len() as u64 + 1)
        .read_to_end(&mut now)
        .map_err(io("read the file again"))?;
    file.seek(SeekFrom::Start(0))
        .map_err(io("read the file again"))?;
    Ok(now == expected)
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
/// A path, not tempfile's `NamedTempFile`: the same name is exchanged with the file and back,
/// [`write_temp`] gives it the original's owner and mode, and one removal covers every outcome.
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

    /// An appender racing the fix at random moments: every append survives, whether it landed
    /// before the fix (the fix is refused) or after (it is in the fixed file).
    #[test]
    fn no_edit_is_lost_to_a_concurrent_append() {
        use std::time::{Duration, Instant};
        let dir = scratch("race");
        let f = dir.join("a.yaml");
        let (mut fixed, mut refused) = (0, 0);
        for i in 0..700u64 {
            fs::write(&f, "old\n").unwrap();
            let path = f.clone();
            // Spread over the time a replace takes (its fsyncs included).
            let delay = Duration::from_micros((i * 7919) % 3000);
            let appender = std::thread::spawn(move || {
                let start = Instant::now();
                while start.elapsed() < delay {
                    std::hint::spin_loop();
                }
                let mut file = OpenOptions::new().append(true).open(&path).unwrap();
                file.write_all(b"appended\n").unwrap();
            });
            match replace_file(&f, b"old\n", b"new\n") {
                Ok(()) => fixed += 1,
                Err(WriteError::Changed) => refused += 1,
                Err(e) => panic!("{e}"),
            }
            appender.join().unwrap();
            let now = fs::read_to_string(&f).unwrap();
            assert!(
                now.ends_with("appended\n"),
                "attempt {i}: the append was lost: {now:?}"
            );
            assert!(
                now == "old\nappended\n" || now == "new\nappended\n",
                "{now:?}"
            );
        }
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp file left");
        eprintln!("{fixed} fixed, {refused} refused as changed");
    }

    #[test]
    fn a_file_open_elsewhere_is_not_replaced() {
        let dir = scratch("open");
        let f = dir.join("a.yaml");
        fs::write(&f, "old\n").unwrap();
        let held = OpenOptions::new().append(true).open(&f).unwrap();
        let err = replace_file(&f, b"old\n", b"new\n").unwrap_err();
        assert!(matches!(err, WriteError::OpenElsewhere), "{err}");
        (&held).write_all(b"still mine\n").unwrap();
        drop(held);
        assert_eq!(fs::read(&f).unwrap(), b"old\nstill mine\n");
        replace_file(&f, b"old\nstill mine\n", b"new\n").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"new\n");
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
