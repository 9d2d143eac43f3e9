//! `rollout-guard certs` as a process: the files it writes, checked with openssl.

mod support;

use rollout_guard::certs::service_names;
use std::fs;
use std::path::Path;
use support::{b64, bin, dns_sans, public_keys, verifies_for_host, TempDir};

fn certs(out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .args([
            "certs",
            "--service",
            "rg-webhook",
            "--namespace",
            "guard",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn writes_a_ca_and_a_serving_certificate_for_the_four_service_names() {
    require!(support::OPENSSL);
    let tmp = TempDir::new("certs-ok");
    let dir = tmp.join("nested/out");
    let out = certs(&dir, &[]);
    assert!(out.status.success(), "{out:?}");

    // stdout is exactly the caBundle: base64 of the CA certificate PEM.
    let ca_pem = fs::read(dir.join("ca.crt")).unwrap();
    assert_eq!(b64(&String::from_utf8(out.stdout).unwrap()), ca_pem);
    assert!(String::from_utf8_lossy(&ca_pem).starts_with("-----BEGIN CERTIFICATE-----"));

    let mut expected = service_names("rg-webhook", "guard");
    expected.sort();
    assert_eq!(
        expected,
        [
            "rg-webhook",
            "rg-webhook.guard",
            "rg-webhook.guard.svc",
            "rg-webhook.guard.svc.cluster.local"
        ]
    );
    assert_eq!(dns_sans(&dir.join("tls.crt")), expected);
    for host in &expected {
        verifies_for_host(&dir.join("ca.crt"), &dir.join("tls.crt"), host).unwrap();
    }
    // Another name is not covered; the check can fail.
    assert!(
        verifies_for_host(&dir.join("ca.crt"), &dir.join("tls.crt"), "evil.guard.svc").is_err()
    );

    let (cert_pub, key_pub) = public_keys(&dir.join("tls.crt"), &dir.join("tls.key"));
    assert_eq!(cert_pub, key_pub, "tls.key is the key of tls.crt");
    let (ca_pub, ca_key_pub) = public_keys(&dir.join("ca.crt"), &dir.join("ca.key"));
    assert_eq!(ca_pub, ca_key_pub, "ca.key is the key of ca.crt");

    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.join("tls.key")), 0o600);
        assert_eq!(mode(&dir.join("ca.key")), 0o600);
        assert_eq!(mode(&dir.join("tls.crt")), 0o644);
    }
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["ca.crt", "ca.key", "tls.crt", "tls.key"],
        "no temporary file left"
    );
}

#[test]
fn days_sets_the_validity() {
    require!(support::OPENSSL);
    let dir = TempDir::new("certs-days");
    assert!(certs(&dir, &["--days", "2"]).status.success());
    let cert = dir.join("tls.crt");
    let cert = cert.to_str().unwrap();
    // Still valid in one day, expired in three.
    support::openssl(&["x509", "-noout", "-checkend", "86400", "-in", cert]).unwrap();
    assert!(support::openssl(&["x509", "-noout", "-checkend", "259200", "-in", cert]).is_err());
    let out = certs(&TempDir::new("certs-days0"), &["--days", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--days"));
}

#[test]
fn refuses_to_overwrite_without_force() {
    require!(support::OPENSSL);
    let dir = TempDir::new("certs-force");
    assert!(certs(&dir, &[]).status.success());
    let before: Vec<Vec<u8>> = ["ca.crt", "ca.key", "tls.crt", "tls.key"]
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();

    let out = certs(&dir, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--force") && err.contains("tls.key"), "{err}");
    assert!(out.stdout.is_empty());
    for (f, old) in ["ca.crt", "ca.key", "tls.crt", "tls.key"]
        .iter()
        .zip(&before)
    {
        assert_eq!(&fs::read(dir.join(f)).unwrap(), old, "{f} was changed");
    }

    // One existing file is enough to refuse.
    let dir2 = TempDir::new("certs-force-one");
    fs::write(dir2.join("tls.key"), "mine").unwrap();
    assert_eq!(certs(&dir2, &[]).status.code(), Some(2));
    assert_eq!(fs::read_to_string(dir2.join("tls.key")).unwrap(), "mine");
    assert!(!dir2.join("ca.crt").exists());

    // --force replaces them all, and a key made world-readable meanwhile is 0600 again.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.join("tls.key"), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let out = certs(&dir, &["--force"]);
    assert!(out.status.success(), "{out:?}");
    for (f, old) in ["ca.crt", "ca.key", "tls.crt", "tls.key"]
        .iter()
        .zip(&before)
    {
        assert_ne!(&fs::read(dir.join(f)).unwrap(), old, "{f} was not replaced");
    }
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("tls.key")), 0o600);
    verifies_for_host(
        &dir.join("ca.crt"),
        &dir.join("tls.crt"),
        "rg-webhook.guard.svc",
    )
    .unwrap();
}

/// `certs` with `flag` set to `bad`: exit 2, an error naming the flag, nothing written.
fn a_bad_name_is_an_error_that_names_the_flag(flag: &str, bad: &str) {
    let dir = TempDir::new("certs-bad");
    let mut args = vec!["certs", "--service", "ok", "--namespace", "ok"];
    let at = args.iter().position(|a| *a == flag).unwrap();
    args[at + 1] = bad;
    let out = bin().args(&args).arg("--out").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{flag} {bad:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(flag), "{err}");
    assert!(
        fs::read_dir(&dir).unwrap().next().is_none(),
        "nothing written"
    );
}

cases! {
    a_bad_name_is_an_error_that_names_the_flag:
    a_service_name_with_an_underscore_and_capitals => ("--service", "Web_Hook"),
    a_namespace_starting_with_a_dash => ("--namespace", "-ns"),
    an_empty_namespace => ("--namespace", ""),
}

#[test]
fn a_missing_namespace_is_an_error_naming_it() {
    let out = bin().args(["certs", "--service", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--namespace"));
}

#[test]
fn an_unwritable_directory_is_an_error_naming_it() {
    let dir = TempDir::new("certs-unwritable");
    let file = dir.join("not-a-dir");
    fs::write(&file, "x").unwrap();
    let out = certs(&file.join("sub"), &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not-a-dir"), "{err}");
}
