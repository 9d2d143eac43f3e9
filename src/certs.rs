//! Certificates for the webhook: a private CA and a serving certificate signed by it, made with
//! rcgen. Used by `rollout-guard certs`, by `serve` when it runs with no TLS flags, and by tests.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A CA and a serving certificate, all PEM.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub ca_cert_pem: String,
    pub ca_key_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// A certificate that could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot generate certificates: {0}")]
pub struct CertError(#[from] rcgen::Error);

/// The DNS names a Service is reached by from the kube-apiserver.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        service.to_string(),
        format!("{service}.{namespace}"),
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

/// Makes a new CA and a serving certificate for `names` (DNS names or IP addresses), valid
/// for `days` days.
pub fn generate(names: &[String], days: u32) -> Result<Bundle, CertError> {
    let not_before = time_now();
    let not_after = not_before + std::time::Duration::from_secs(u64::from(days) * 86_400);

    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rollout-guard CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = not_before.into();
    ca_params.not_after = not_after.into();
    let ca_key = KeyPair::generate()?;
    let ca_key_pem = ca_key.serialize_pem();
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key)?;

    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().map(String::as_str).unwrap_or("rollout-guard"),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.not_before = not_before.into();
    params.not_after = not_after.into();
    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &ca)?;
    Ok(Bundle {
        ca_cert_pem: ca.pem(),
        ca_key_pem,
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn time_now() -> std::time::SystemTime {
    // Back-date by an hour so that a clock a little behind ours still accepts the certificate.
    std::time::SystemTime::now() - std::time::Duration::from_secs(3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_is_pem() {
        let b = generate(&service_names("rg", "ns"), 1).unwrap();
        assert!(b.ca_cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(b.key_pem.contains("PRIVATE KEY"));
        assert_ne!(b.ca_cert_pem, b.cert_pem);
    }
}
