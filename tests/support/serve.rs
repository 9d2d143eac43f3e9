//! `rollout-guard serve` as a process, the one way the tests start it: listening on ports the
//! system picks (`127.0.0.1:0`, so no two tests race for one), ready once it logs where it
//! listens, its output kept for the test, killed when dropped. And the TLS client side: a CA
//! and serving certificate for localhost, a client configuration trusting only given CAs, and
//! keep-alive HTTPS connections through hyper.

use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcp};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A running `rollout-guard serve`; killed on drop.
pub struct Serve {
    pub child: Child,
    /// The webhook's HTTPS address.
    pub addr: SocketAddr,
    /// The plain HTTP address of metrics and probes.
    pub metrics_addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// `serve --addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 --log-format json ARGS`.
    pub fn start(args: &[&str]) -> Serve {
        Serve::start_with(args, |_| {})
    }

    /// As [`Serve::start`], `configure` setting up the command (its environment) first.
    pub fn start_with(args: &[&str], configure: impl FnOnce(&mut Command)) -> Serve {
        let mut cmd = crate::support::bin();
        cmd.args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--metrics-addr",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .args(args);
        configure(&mut cmd);
        Serve::spawn(cmd)
    }

    /// As [`Serve::start`], serving the certificate `dir/tls.crt` with its key `dir/tls.key`
    /// (see [`Pki::write`]).
    pub fn start_tls(dir: &Path, args: &[&str]) -> Serve {
        let files = tls_file_args(dir);
        let mut all: Vec<&str> = files.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        Serve::start(&all)
    }

    /// Spawns `cmd`, a `rollout-guard serve` with `--log-format json` whatever its other
    /// arguments, and waits (30 s at most) for the log line saying where it listens.
    /// mimalloc commits its arenas lazily, as the chart and the image run it.
    pub fn spawn(mut cmd: Command) -> Serve {
        let mut child = cmd
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        let l = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    let _ = tx.send(line.clone());
                }
                l.lock().unwrap().push(line);
            }
        });
        let mut err = child.stderr.take().unwrap();
        let e = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                e.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not start listening:\n{}{}",
                    logs.lock().unwrap().join("\n"),
                    stderr.lock().unwrap()
                );
            }
        };
        let v: Value = serde_json::from_str(&line).unwrap();
        let addr = v["addr"].as_str().unwrap().parse().unwrap();
        let metrics_addr = v["metrics_addr"].as_str().unwrap().parse().unwrap();
        Serve {
            child,
            addr,
            metrics_addr,
            logs,
            stderr,
        }
    }

    /// `https://ADDR`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// Waits for the process to exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> std::process::ExitStatus {
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "server did not exit in {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The lines of standard output so far (the JSON log).
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// Standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Standard output and standard error so far, for failure messages.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.logs().join("\n"), self.stderr())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--tls-cert DIR/tls.crt --tls-key DIR/tls.key`.
pub fn tls_file_args(dir: &Path) -> Vec<String> {
    vec![
        "--tls-cert".into(),
        dir.join("tls.crt").display().to_string(),
        "--tls-key".into(),
        dir.join("tls.key").display().to_string(),
    ]
}

/// A CA and serving certificate for localhost and 127.0.0.1.
pub struct Pki {
    pub bundle: rollout_guard::certs::Bundle,
}

impl Pki {
    pub fn new() -> Pki {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        Pki {
            bundle: rollout_guard::certs::generate(&names, 1).unwrap(),
        }
    }

    /// Writes `ca.pem`, `tls.crt` and `tls.key` into `dir`.
    pub fn write(&self, dir: &Path) {
        std::fs::write(dir.join("ca.pem"), &self.bundle.ca_cert_pem).unwrap();
        std::fs::write(dir.join("tls.crt"), &self.bundle.cert_pem).unwrap();
        std::fs::write(dir.join("tls.key"), &self.bundle.key_pem).unwrap();
    }

    pub fn cert_der(&self) -> CertificateDer<'static> {
        pem_certs(&self.bundle.cert_pem).remove(0)
    }

    /// A client configuration trusting only this CA, over TLS 1.2 and 1.3.
    pub fn client(&self) -> Arc<rustls::ClientConfig> {
        client_config(&[&self.bundle.ca_cert_pem], default_versions(), None)
    }
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A client TLS configuration trusting only `cas`, optionally presenting a client certificate.
pub fn client_config(
    cas: &[&str],
    versions: &[&'static rustls::SupportedProtocolVersion],
    identity: Option<(&str, &str)>,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for c in pem_certs(ca) {
            roots.add(c).unwrap();
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
            builder.with_client_auth_cert(pem_certs(cert), key).unwrap()
        }
    };
    Arc::new(config)
}

/// TLS 1.2 and 1.3.
pub fn default_versions() -> &'static [&'static rustls::SupportedProtocolVersion] {
    rustls::ALL_VERSIONS
}

/// One keep-alive HTTPS connection.
pub struct Conn {
    send: SendRequest<http_body_util::Full<Bytes>>,
    pub peer_cert: CertificateDer<'static>,
}

/// Connects over TLS to `addr` as `localhost`.
pub async fn connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> std::io::Result<Conn> {
    let tcp = TcpStream::connect(addr).await?;
    let tls = TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let peer_cert = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    Ok(Conn { send, peer_cert })
}

/// A TLS stream to `addr` as `localhost`, for writing raw HTTP.
pub async fn tls_raw(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

/// A response: status, `Connection: close` or not, body.
pub struct Reply {
    pub status: u16,
    pub close: bool,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

impl Conn {
    pub async fn request(&mut self, method: &str, path: &str, body: Bytes) -> hyper::Result<Reply> {
        use http_body_util::BodyExt;
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(body))
            .unwrap();
        self.send.ready().await?;
        let resp = self.send.send_request(req).await?;
        let status = resp.status().as_u16();
        let close = resp
            .headers()
            .get("connection")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            close,
            body,
        })
    }

    pub async fn post(&mut self, path: &str, body: impl Into<Bytes>) -> Reply {
        self.request("POST", path, body.into()).await.unwrap()
    }

    pub async fn get(&mut self, path: &str) -> Reply {
        self.request("GET", path, Bytes::new()).await.unwrap()
    }
}

/// Plain HTTP GET (the metrics port): status and body.
pub fn plain_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = StdTcp::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}
