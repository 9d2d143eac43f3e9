//! The I/O edge of `analyze`: GET requests to the Prometheus HTTP API (`/api/v1/query`,
//! `/api/v1/query_range`) with the metric's timeout, headers and basic authentication, over
//! HTTP or HTTPS (rustls, the system's roots; `insecure: true` skips verification as Argo's
//! `InsecureSkipVerify` does). Answers are capped in size; every failure is an error naming the
//! URL, never a panic.

use super::plan::Prometheus;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// The largest answer read: a backtest's range answer of a few series is well under a MiB.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A Prometheus answer that arrived: its status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

/// A request that got no usable answer: the server is down, slow, or not Prometheus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A blocking client; one per `analyze` run, connections kept alive between requests.
pub struct Client {
    runtime: tokio::runtime::Runtime,
    verified: HyperClient<Https, Empty<Bytes>>,
    insecure: HyperClient<Https, Empty<Bytes>>,
}

impl Client {
    /// A client with the system's root certificates (none found: HTTPS fails with a
    /// certificate error, HTTP still works).
    pub fn new() -> std::io::Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = || {
            rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(std::io::Error::other)
        };
        let verified_tls = {
            use hyper_rustls::ConfigBuilderExt as _;
            match builder()?.with_native_roots() {
                Ok(b) => b.with_no_client_auth(),
                Err(_) => builder()?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth(),
            }
        };
        let insecure_tls = builder()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider.clone())))
            .with_no_client_auth();
        let _guard = runtime.enter();
        let make = |tls: rustls::ClientConfig| {
            let connector = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .build();
            HyperClient::builder(TokioExecutor::new()).build(connector)
        };
        Ok(Client {
            verified: make(verified_tls),
            insecure: make(insecure_tls),
            runtime,
        })
    }

    /// GET `path` (`/api/v1/query`) of the metric's server with `params`.
    pub fn get(
        &self,
        p: &Prometheus,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<Answer, Unreachable> {
        let url = url(&p.address, path, params);
        let fail = |what: String| Unreachable(format!("{}: {what}", p.address));
        let mut request = http::Request::get(&url).header(
            http::header::USER_AGENT,
            concat!("rollout-guard/", env!("CARGO_PKG_VERSION")),
        );
        for (k, v) in &p.headers {
            // Basic authentication sets the Authorization header (as Go's `SetBasicAuth`
            // does, replacing one): a server gets one, never two.
            if p.basic_auth.is_some() && k.eq_ignore_ascii_case("authorization") {
                continue;
            }
            request = request.header(k.as_str(), v.as_str());
        }
        if let Some((user, password)) = &p.basic_auth {
            use base64::Engine as _;
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header(http::header::AUTHORIZATION, format!("Basic {token}"));
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| fail(format!("cannot build the request: {e}")))?;
        let client = if p.insecure {
            &self.insecure
        } else {
            &self.verified
        };
        let timeout = Duration::from_secs(p.timeout_seconds.max(1));
        self.runtime.block_on(async {
            let exchange = async {
                let response = client.request(request).await.map_err(|e| fail(chain(&e)))?;
                let status = response.status().as_u16();
                let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                    .collect()
                    .await
                    .map_err(|e| {
                        if e.is::<http_body_util::LengthLimitError>() {
                            fail(format!(
                                "the answer is larger than {} MiB",
                                MAX_ANSWER_BYTES >> 20
                            ))
                        } else {
                            fail(format!("reading the answer: {}", chain(e.as_ref())))
                        }
                    })?
                    .to_bytes();
                Ok(Answer { status, body })
            };
            match tokio::time::timeout(timeout, exchange).await {
                Ok(r) => r,
                Err(_) => Err(fail(format!(
                    "no answer within the metric's timeout of {} s",
                    timeout.as_secs()
                ))),
            }
        })
    }
}

/// An error and its causes on one line (`client error (Connect): tcp connect error: Connection
/// refused (os error 111)`).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// `address` + `path` + the query string, as client_golang joins an address with a path prefix.
pub fn url(address: &str, path: &str, params: &[(&str, String)]) -> String {
    let mut out = format!("{}{path}", address.trim_end_matches('/'));
    for (i, (k, v)) in params.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(&encode(k));
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

/// Percent-encoding of a query-string component: everything but RFC 3986's unreserved bytes.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `insecure: true`: any certificate is accepted, signatures are still checked.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_joins_a_path_prefix_and_encodes() {
        assert_eq!(
            url(
                "http://p:9090/prom/",
                "/api/v1/query",
                &[("query", "sum(x{a=\"b c\"})".into()), ("time", "60".into())]
            ),
            "http://p:9090/prom/api/v1/query?query=sum%28x%7Ba%3D%22b%20c%22%7D%29&time=60"
        );
    }

    #[test]
    fn a_refused_connection_is_an_error_naming_the_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let p = Prometheus {
            address: format!("http://{addr}"),
            query: "1".into(),
            timeout_seconds: 2,
            headers: vec![],
            basic_auth: None,
            insecure: false,
        };
        let e = Client::new()
            .unwrap()
            .get(&p, "/api/v1/query", &[])
            .unwrap_err();
        assert!(e.0.starts_with(&format!("http://{addr}: ")), "{e}");
        assert!(e.0.to_lowercase().contains("refused"), "{e}");
    }
}
