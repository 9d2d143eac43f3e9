//! A real Prometheus on loopback for the `analyze` tests: Debian's `prometheus` and `promtool`
//! (`.ci/test` installs them), a TSDB filled from an OpenMetrics text with
//! `promtool tsdb create-blocks-from openmetrics`, a free port, `/-/ready` waited for, and the
//! server killed when the guard is dropped. The tests that start one `require!(PROMETHEUS)`
//! first (`support::PROMETHEUS`).

#![allow(dead_code)]

use crate::support::TempDir;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prometheus; killed, and then its directory removed, on drop.
pub struct Prometheus {
    child: Child,
    dir: TempDir,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    /// Starts Prometheus over the samples of `openmetrics` (OpenMetrics text ending in `# EOF`,
    /// timestamps in seconds, all in the past so that nothing is appended to the head).
    pub fn start(openmetrics: &str) -> Prometheus {
        let prometheus = crate::support::PROMETHEUS.path();
        // PROMETHEUS is found only when promtool is on PATH too.
        let promtool = crate::support::on_path("promtool").unwrap();
        let dir = TempDir::new("prom");
        let data = dir.join("data");
        let input = dir.join("series.om");
        std::fs::write(&input, openmetrics).unwrap();
        let out = Command::new(&promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&data)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool create-blocks-from failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global: {}\n").unwrap();
        // A port can be taken between the probe and the bind: try a few.
        for _ in 0..5 {
            let port = crate::support::free_port();
            let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
            let mut child = Command::new(&prometheus)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                // The blocks are old: without a long retention they are deleted at start.
                .arg("--storage.tsdb.retention.time=100y")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            if wait_ready(&mut child, port) {
                return Prometheus {
                    child,
                    dir,
                    url: format!("http://127.0.0.1:{port}"),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
        panic!("prometheus did not become ready:\n{log}");
    }

    /// The directory of the server's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Polls `/-/ready` until it answers 200 or the process exits (30 s at most).
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if get_status(port, "/-/ready") == Some(200) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The status of a plain HTTP GET on loopback.
fn get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A free loopback URL nothing listens on (for the "Prometheus is down" cases).
pub fn nothing_listening() -> String {
    format!("http://127.0.0.1:{}", crate::support::free_port())
}

/// OpenMetrics text for gauges: `(series, values)` with one value every `every` seconds from
/// `start`, in order; `# EOF` at the end.
pub fn openmetrics(
    start: i64,
    every: i64,
    series: &[(&str, &dyn Fn(i64) -> f64)],
    samples: i64,
) -> String {
    let mut out = String::new();
    let mut families: Vec<&str> = Vec::new();
    for (s, _) in series {
        let family = s.split('{').next().unwrap();
        if !families.contains(&family) {
            families.push(family);
        }
    }
    for family in families {
        out.push_str(&format!("# TYPE {family} gauge\n"));
        for (s, value) in series
            .iter()
            .filter(|(s, _)| s.split('{').next() == Some(family))
        {
            for i in 0..samples {
                let t = start + i * every;
                let v = value(t);
                let text = if v.is_nan() {
                    "NaN".to_string()
                } else {
                    format!("{v}")
                };
                out.push_str(&format!("{s} {text} {t}\n"));
            }
        }
    }
    out.push_str("# EOF\n");
    out
}
