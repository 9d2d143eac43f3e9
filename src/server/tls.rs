//! TLS for the webhook: the rustls configuration (ring, TLS 1.2 and 1.3 only, optional client
//! certificate verification) and a serving certificate and client CA that follow their files.
//!
//! The certificate sits behind a [`ResolvesServerCert`] holding an `Arc` that a poller swaps
//! when the files' contents change. Polling the contents, not watching inodes, catches every way
//! a file can change, including the Kubernetes Secret volume's atomic swap of the `..data`
//! symlink; a half-written pair (new certificate, old key) fails to load and is retried on the
//! next poll while the old pair keeps serving. A changed client CA needs a new client
//! verifier, hence a new rustls configuration: the poller swaps it in [`ConfigStore`], from which
//! each new connection takes its acceptor; open connections keep the one they started with.

use super::metrics::Metrics;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_rustls::TlsAcceptor;

/// A TLS set-up problem, naming the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Pem { path: String, message: String },
    #[error("the certificate and key do not form a usable pair: {0}")]
    Pair(rustls::Error),
    #[error("invalid TLS configuration: {0}")]
    Config(String),
}

/// The crypto provider: ring, the only one compiled in, passed explicitly everywhere.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Where the serving certificate comes from.
#[derive(Clone, Debug)]
pub enum CertSource {
    /// PEM files, reloaded when they change.
    Files { cert: PathBuf, key: PathBuf },
    /// PEM text held in memory (the ephemeral certificate).
    Pem { cert: String, key: String },
}

/// The serving certificate in force; new handshakes read it, the poller replaces it.
#[derive(Debug)]
pub struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertStore {
    fn get(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = key;
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn certs_from_pem(pem: &[u8], name: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem {
            path: name.to_string(),
            message: format!("not a PEM certificate: {}", pem_error(e)),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: name.to_string(),
            message: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        });
    }
    Ok(certs)
}

fn key_from_pem(pem: &[u8], name: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| TlsError::Pem {
        path: name.to_string(),
        message: match e {
            pem::Error::NoItemsFound => "holds no PEM private key (PKCS#8, PKCS#1 or SEC1)".into(),
            e => format!("not a PEM private key: {}", pem_error(e)),
        },
    })
}

/// A PEM syntax error in the words the messages have always used.
fn pem_error(e: pem::Error) -> String {
    match e {
        pem::Error::MissingSectionEnd { end_marker } => {
            format!(
                "section end {:?} missing",
                String::from_utf8_lossy(&end_marker)
            )
        }
        pem::Error::IllegalSectionStart { line } => {
            format!(
                "illegal section start: {:?}",
                String::from_utf8_lossy(&line)
            )
        }
        pem::Error::Base64Decode(e) => e,
        e => e.to_string(),
    }
}

/// Builds a certificate and key pair from PEM bytes, checking that the key matches.
pub fn certified_key(
    cert_pem: &[u8],
    cert_name: &str,
    key_pem: &[u8],
    key_name: &str,
) -> Result<CertifiedKey, TlsError> {
    let certs = certs_from_pem(cert_pem, cert_name)?;
    let key = key_from_pem(key_pem, key_name)?;
    CertifiedKey::from_der(certs, key, &provider()).map_err(TlsError::Pair)
}

/// The certificate and key files' bytes as last read, to notice changes.
type PemPair = (Vec<u8>, Vec<u8>);

/// What the source holds now: the bytes and the pair.
fn load(source: &CertSource) -> Result<(PemPair, CertifiedKey), TlsError> {
    let (cert, key, cert_name, key_name) = match source {
        CertSource::Files { cert, key } => (
            read(cert)?,
            read(key)?,
            cert.display().to_string(),
            key.display().to_string(),
        ),
        CertSource::Pem { cert, key } => (
            cert.clone().into_bytes(),
            key.clone().into_bytes(),
            "certificate".into(),
            "key".into(),
        ),
    };
    let pair = certified_key(&cert, &cert_name, &key, &key_name)?;
    Ok(((cert, key), pair))
}

/// The rustls configuration new connections are accepted with.
#[derive(Debug)]
pub struct ConfigStore {
    current: RwLock<Arc<ServerConfig>>,
}

impl ConfigStore {
    /// An acceptor with the configuration in force.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }

    fn set(&self, config: ServerConfig) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
    }
}

/// The client CA file and its bytes as last read.
struct ClientCa {
    path: PathBuf,
    loaded: Vec<u8>,
}

/// The loaded TLS set-up: the rustls configuration and the stores behind it.
pub struct Tls {
    pub config: Arc<ConfigStore>,
    pub store: Arc<CertStore>,
    source: CertSource,
    loaded: PemPair,
    client_ca: Option<ClientCa>,
}

/// Loads the certificate and, with `client_ca`, the CA that client certificates must chain to.
pub fn setup(source: CertSource, client_ca: Option<&Path>) -> Result<Tls, TlsError> {
    let (loaded, pair) = load(&source)?;
    let store = Arc::new(CertStore {
        current: RwLock::new(Arc::new(pair)),
    });
    let client_ca = match client_ca {
        None => None,
        Some(path) => Some(ClientCa {
            path: path.to_path_buf(),
            loaded: read(path)?,
        }),
    };
    let config = server_config(&store, client_ca.as_ref())?;
    Ok(Tls {
        config: Arc::new(ConfigStore {
            current: RwLock::new(Arc::new(config)),
        }),
        store,
        source,
        loaded,
        client_ca,
    })
}

/// A rustls configuration serving the certificate in `store`, requiring client certificates
/// signed by `client_ca` when there is one.
fn server_config(
    store: &Arc<CertStore>,
    client_ca: Option<&ClientCa>,
) -> Result<ServerConfig, TlsError> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let name = ca.path.display().to_string();
            let mut roots = RootCertStore::empty();
            for cert in certs_from_pem(&ca.loaded, &name)? {
                roots.add(cert).map_err(|e| TlsError::Pem {
                    path: name.clone(),
                    message: format!("not a usable CA certificate: {e}"),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(|e| TlsError::Config(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(store.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

impl Tls {
    /// Polls the certificate files and the client CA every `interval` and swaps in what
    /// changed; runs until the task is dropped. Does nothing for an in-memory certificate
    /// without a client CA.
    pub async fn watch(mut self, interval: Duration, metrics: Arc<Metrics>) {
        if !matches!(self.source, CertSource::Files { .. }) && self.client_ca.is_none() {
            return;
        }
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.poll_certificate(&metrics);
            self.poll_client_ca(&metrics);
        }
    }

    fn poll_client_ca(&mut self, metrics: &Metrics) {
        let Some(ca) = &mut self.client_ca else {
            return;
        };
        let Ok(bytes) = std::fs::read(&ca.path) else {
            return;
        };
        if bytes == ca.loaded {
            return;
        }
        // Remembered even when it does not load: a file caught mid-write differs again once
        // it is whole.
        ca.loaded = bytes;
        match server_config(&self.store, Some(&*ca)) {
            Ok(config) => {
                self.config.set(config);
                metrics.record_tls_reload(true);
                tracing::info!(client_ca = %ca.path.display(), "client CA reloaded");
            }
            Err(e) => {
                metrics.record_tls_reload(false);
                tracing::warn!(error = %e, "changed client CA not loaded; the previous one stays in use");
            }
        }
    }

    fn poll_certificate(&mut self, metrics: &Metrics) {
        let CertSource::Files { cert, key } = &self.source else {
            return;
        };
        // Cheap check first: the bytes, which also see through a swapped `..data` symlink.
        let (Ok(c), Ok(k)) = (std::fs::read(cert), std::fs::read(key)) else {
            return;
        };
        if (c.as_slice(), k.as_slice()) == (self.loaded.0.as_slice(), self.loaded.1.as_slice()) {
            return;
        }
        match certified_key(
            &c,
            &cert.display().to_string(),
            &k,
            &key.display().to_string(),
        ) {
            Ok(pair) => {
                self.store.set(Arc::new(pair));
                self.loaded = (c, k);
                metrics.record_tls_reload(true);
                tracing::info!(cert = %cert.display(), key = %key.display(), "serving certificate reloaded");
            }
            Err(e) => {
                // A pair caught mid-update is the common case; the next poll sees it whole.
                metrics.record_tls_reload(false);
                tracing::warn!(error = %e, "changed certificate files not loaded; the previous certificate stays in use");
                self.loaded = (c, k);
            }
        }
    }
}
