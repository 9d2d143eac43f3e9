//! Where a reported file is, for formats that other tools resolve: a path relative to the
//! directory the linter ran in when the file is inside it, else an absolute path.

use std::path::{Component, Path, PathBuf};

/// The name the linter gives standard input (`lint -`).
pub const STDIN: &str = "<stdin>";

/// A reported file, placed for another tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// Inside the base directory: a relative path without `.` or `..`.
    Relative(PathBuf),
    /// Outside it (or no base is known): an absolute path, or the name as given when it is
    /// relative and cannot be resolved.
    Absolute(PathBuf),
    /// Standard input.
    Stdin,
}

/// Places the file `name` (as the linter shows it) relative to `base`, the absolute directory
/// the linter ran in. Paths are first resolved lexically, so `./a/../b.yaml` is `b.yaml`; a
/// file reached through a symbolic link to the base is placed by its canonical path.
pub fn place(name: &str, base: Option<&Path>) -> Place {
    if name == STDIN {
        return Place::Stdin;
    }
    let path = Path::new(name);
    let Some(base) = base else {
        let clean = normalize(path);
        return if path.is_absolute() || clean.starts_with("..") {
            Place::Absolute(clean)
        } else {
            Place::Relative(clean)
        };
    };
    let absolute = normalize(&base.join(path));
    if let Ok(rel) = absolute.strip_prefix(base) {
        return Place::Relative(rel.to_path_buf());
    }
    // `/tmp` may be a link to `/private/tmp`: compare the real paths before giving up.
    if let (Ok(real), Ok(real_base)) = (absolute.canonicalize(), base.canonicalize()) {
        if let Ok(rel) = real.strip_prefix(&real_base) {
            return Place::Relative(rel.to_path_buf());
        }
    }
    Place::Absolute(absolute)
}

/// Resolves `.` and `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                // `..` above the root stays at the root; above a relative start it is kept.
                if matches!(out.components().next_back(), Some(Component::Normal(_))) {
                    out.pop();
                } else if !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The path's components joined with `/`, whatever the platform's separator.
pub fn slash_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.components() {
        match c {
            Component::RootDir => out.push('/'),
            Component::Prefix(p) => out.push_str(&p.as_os_str().to_string_lossy()),
            other => {
                if !out.is_empty() && !out.ends_with('/') {
                    out.push('/');
                }
                out.push_str(&other.as_os_str().to_string_lossy());
            }
        }
    }
    out
}

/// A relative URI reference for a relative path: each segment percent-encoded (RFC 3986),
/// segments joined with `/`.
pub fn relative_uri(path: &Path) -> String {
    path.components()
        .map(|c| encode_segment(c.as_os_str()))
        .collect::<Vec<_>>()
        .join("/")
}

/// A `file:` URI for an absolute path (a relative one is a [`relative_uri`]).
pub fn file_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for c in path.components() {
        match c {
            Component::RootDir => {}
            // A Windows drive (`C:`) stays as written, as in `file:///C:/dir`.
            Component::Prefix(p) => {
                out.push('/');
                out.push_str(&p.as_os_str().to_string_lossy());
            }
            other => {
                out.push('/');
                out.push_str(&encode_segment(other.as_os_str()));
            }
        }
    }
    if out.len() == "file://".len() {
        out.push('/');
    }
    out
}

/// Percent-encodes every byte but RFC 3986's unreserved characters. Stricter than needed (a
/// segment may hold `@` or `+` as they are), but every consumer decodes it the same way.
fn encode_segment(segment: &std::ffi::OsStr) -> String {
    let bytes = os_bytes(segment);
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes.iter() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(unix)]
fn os_bytes(s: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(s.as_bytes())
}

#[cfg(not(unix))]
fn os_bytes(s: &std::ffi::OsStr) -> std::borrow::Cow<'_, [u8]> {
    match s.to_string_lossy() {
        std::borrow::Cow::Borrowed(t) => std::borrow::Cow::Borrowed(t.as_bytes()),
        std::borrow::Cow::Owned(t) => std::borrow::Cow::Owned(t.into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(s: &str) -> Place {
        Place::Relative(PathBuf::from(s))
    }

    #[test]
    fn places_relative_to_the_base() {
        let base = Some(Path::new("/work/repo"));
        assert_eq!(place("k8s/a.yaml", base), rel("k8s/a.yaml"));
        assert_eq!(place("./k8s/../b.yaml", base), rel("b.yaml"));
        assert_eq!(place("/work/repo/c/d.yml", base), rel("c/d.yml"));
        assert_eq!(
            place("../shared/x.yaml", base),
            Place::Absolute(PathBuf::from("/work/shared/x.yaml"))
        );
        assert_eq!(
            place("/etc/../tmp/x.yaml", base),
            Place::Absolute(PathBuf::from("/tmp/x.yaml"))
        );
        assert_eq!(place("<stdin>", base), Place::Stdin);
        assert_eq!(place("./a.yaml", None), rel("a.yaml"));
        assert_eq!(
            place("../a.yaml", None),
            Place::Absolute(PathBuf::from("../a.yaml"))
        );
    }

    #[test]
    fn uris_are_percent_encoded_with_forward_slashes() {
        assert_eq!(
            relative_uri(Path::new("k8s/my app/100%:x#y?.yaml")),
            "k8s/my%20app/100%25%3Ax%23y%3F.yaml"
        );
        assert_eq!(relative_uri(Path::new("é.yaml")), "%C3%A9.yaml");
        assert_eq!(
            file_uri(Path::new("/tmp/a b/c.yaml")),
            "file:///tmp/a%20b/c.yaml"
        );
        assert_eq!(file_uri(Path::new("/")), "file:///");
        assert_eq!(slash_path(Path::new("/tmp/a/b.yaml")), "/tmp/a/b.yaml");
        assert_eq!(slash_path(Path::new("a/b.yaml")), "a/b.yaml");
    }
}
