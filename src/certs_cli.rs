//! `rollout-guard certs`: writes a CA and a serving certificate for the webhook's Service to a
//! directory, and returns the base64 `caBundle` a webhook configuration needs.
//!
//! The files are named as in a Kubernetes TLS Secret (`tls.crt`, `tls.key`, `ca.crt`) so that
//! `kubectl create secret generic --from-file=DIR` and `serve --tls-cert DIR/tls.crt` both work.

use crate::certs;
use base64::Engine as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The flags of `rollout-guard certs`.
#[derive(Clone, Debug, clap::Args)]
pub struct CertsArgs {
    /// The webhook's Service name: the certificate is for NAME, NAME.NS, NAME.NS.svc and
    /// NAME.NS.svc.cluster.local.
    #[arg(long, value_name = "NAME")]
    pub service: String,
    /// The namespace the Service lives in.
    #[arg(long, value_name = "NS")]
    pub namespace: String,
    /// Directory to write ca.crt, ca.key, tls.crt and tls.key to (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How many days the CA and the certificate are valid.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36500))]
    pub days: u32,
    /// Replace files that already exist.
    #[arg(long)]
    pub force: bool,
}

/// The files written, in order: (name, is a private key).
pub const FILES: [(&str, bool); 4] = [
    ("ca.crt", false),
    ("ca.key", true),
    ("tls.crt", false),
    ("tls.key", true),
];

/// Why `rollout-guard certs` could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum CertsCliError {
    #[error("--{flag} {value:?} is not a valid DNS label: {why}")]
    BadName {
        flag: &'static str,
        value: String,
        why: &'static str,
    },
    #[error("refusing to replace {} in {}: pass --force to overwrite", .files.join(", "), .dir.display())]
    Exists { dir: PathBuf, files: Vec<String> },
    #[error("cannot write {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Generate(#[from] certs::CertError),
}

/// What was written: the paths and the base64 caBundle.
#[derive(Debug)]
pub struct Written {
    pub files: Vec<PathBuf>,
    pub ca_bundle: String,
}

/// Generates the certificates and writes them to `args.out`. Refuses to replace any existing
/// file unless `args.force`; private keys get mode 0600 on Unix.
pub fn run(args: &CertsArgs) -> Result<Written, CertsCliError> {
    check_label("service", &args.service)?;
    check_label("namespace", &args.namespace)?;
    let dir = &args.out;
    if !args.force {
        let existing: Vec<String> = FILES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| dir.join(name).symlink_metadata().is_ok())
            .map(str::to_string)
            .collect();
        if !existing.is_empty() {
            return Err(CertsCliError::Exists {
                dir: dir.clone(),
                files: existing,
            });
        }
    }
    let bundle = certs::generate(
        &certs::service_names(&args.service, &args.namespace),
        args.days,
    )?;
    fs::create_dir_all(dir).map_err(|source| CertsCliError::Io {
        path: dir.clone(),
        source,
    })?;
    let contents = [
        &bundle.ca_cert_pem,
        &bundle.ca_key_pem,
        &bundle.cert_pem,
        &bundle.key_pem,
    ];
    let mut files = Vec::new();
    for ((name, private), text) in FILES.iter().zip(contents) {
        let path = dir.join(name);
        write_file(&path, text.as_bytes(), *private)?;
        files.push(path);
    }
    Ok(Written {
        files,
        ca_bundle: base64::engine::general_purpose::STANDARD.encode(&bundle.ca_cert_pem),
    })
}

/// Writes through a temporary file in the same directory and renames it into place, so that a
/// key is never readable by others, not even for an instant, and a failed write leaves the old
/// file whole (the temporary file is removed when it is dropped unpersisted).
fn write_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), CertsCliError> {
    let io = |source| CertsCliError::Io {
        path: path.to_path_buf(),
        source,
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let prefix = format!(".{name}.tmp-");
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    // Created with this mode (less the umask), never widened later.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if private { 0o600 } else { 0o644 };
        builder.permissions(fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut tmp = builder.tempfile_in(dir).map_err(io)?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

/// A Service name and a namespace are both RFC 1123 labels.
fn check_label(flag: &'static str, value: &str) -> Result<(), CertsCliError> {
    let why = if value.is_empty() {
        Some("it is empty")
    } else if value.len() > 63 {
        Some("it is longer than 63 characters")
    } else if !value
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("only lowercase letters, digits and '-' are allowed")
    } else if value.starts_with('-') || value.ends_with('-') {
        Some("it must start and end with a letter or digit")
    } else {
        None
    };
    match why {
        Some(why) => Err(CertsCliError::BadName {
            flag,
            value: value.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert!(check_label("service", "rollout-guard").is_ok());
        assert!(check_label("service", "rg1").is_ok());
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64)] {
            let e = check_label("namespace", bad).unwrap_err().to_string();
            assert!(e.contains("--namespace"), "{e}");
        }
    }
}
