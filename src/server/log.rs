//! Logging for `serve`: `tracing` events formatted as text or JSON lines into a shared buffer
//! that one writer thread empties to stdout every few milliseconds. A request appends its line
//! under an uncontended lock and never waits on stdout, and no thread is woken per line (waking
//! a writer for each line cost more than the review itself under load).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are formatted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Bytes waiting for the writer thread at most; past this, new lines are dropped and counted
/// rather than slowing requests down or growing without bound.
const MAX_PENDING: usize = 1024 * 1024;
/// How often the writer thread empties the buffer.
const INTERVAL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Shared {
    pending: Mutex<Vec<u8>>,
    dropped: AtomicU64,
}

/// Collects formatted lines for the writer thread.
#[derive(Clone, Default)]
pub struct Queue {
    shared: Arc<Shared>,
}

impl Queue {
    /// Writes every line queued so far to stdout.
    pub fn flush(&self) {
        self.drain();
    }

    fn take(&self) -> Vec<u8> {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *pending)
    }

    fn drain(&self) {
        // Taken under the stdout lock, so that two drains cannot reorder lines.
        let mut out = std::io::stdout().lock();
        let lines = self.take();
        let lost = self.shared.dropped.swap(0, Relaxed);
        let _ = out.write_all(&lines);
        if lost > 0 {
            let _ = writeln!(
                out,
                "rollout-guard: {lost} log line(s) dropped: stdout could not keep up"
            );
        }
        let _ = out.flush();
    }

    fn run(self) {
        loop {
            std::thread::sleep(INTERVAL);
            self.drain();
        }
    }
}

impl Write for Queue {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if pending.len() + buf.len() <= MAX_PENDING {
            pending.extend_from_slice(buf);
        } else {
            self.shared.dropped.fetch_add(1, Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Queue {
    type Writer = Queue;

    fn make_writer(&'a self) -> Queue {
        self.clone()
    }
}

/// Installs the global subscriber (level `info`) writing to stdout through the writer thread. Returns the queue so that the caller can flush it before exit.
/// A second call (tests running servers in one process) keeps the first subscriber.
pub fn init(format: LogFormat) -> Queue {
    let queue = Queue::default();
    let builder = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(queue.clone())
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if installed.is_ok() {
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn({
                let queue = queue.clone();
                move || queue.run()
            })
            .expect("a thread can be spawned at start-up");
    }
    queue
}
