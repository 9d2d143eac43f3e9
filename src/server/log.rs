//! Logging for `serve`: `tracing` events formatted as text or JSON lines and handed to one writer
//! thread, so a request never waits on stdout. The thread writes through a buffer and flushes
//! whenever it has caught up.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use tracing_subscriber::fmt::MakeWriter;

/// How log lines are formatted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Lines waiting for the writer thread; past this many, new lines are dropped and counted rather
/// than slowing requests down.
const QUEUE: usize = 16 * 1024;

enum Msg {
    Line(Vec<u8>),
    Flush(SyncSender<()>),
}

/// Hands formatted lines to the writer thread.
#[derive(Clone)]
pub struct Queue {
    tx: SyncSender<Msg>,
    dropped: Arc<AtomicU64>,
}

impl Queue {
    /// Waits until every line queued so far is written.
    pub fn flush(&self) {
        let (tx, rx) = sync_channel(1);
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.recv_timeout(std::time::Duration::from_secs(2));
        }
    }
}

impl Write for Queue {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.tx.try_send(Msg::Line(buf.to_vec())) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Relaxed);
            }
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

fn write_lines(rx: Receiver<Msg>, dropped: Arc<AtomicU64>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
    let mut reported = 0;
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(msg) = next {
            match msg {
                Msg::Line(line) => {
                    let _ = out.write_all(&line);
                }
                Msg::Flush(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                }
            }
            next = rx.try_recv().ok();
        }
        let lost = dropped.load(Relaxed);
        if lost > reported {
            let _ = writeln!(
                out,
                "rollout-guard: {} log line(s) dropped: stdout could not keep up",
                lost - reported
            );
            reported = lost;
        }
        let _ = out.flush();
    }
}

/// Installs the global subscriber (level from `RUST_LOG`-style `info` default) writing to stdout
/// through the writer thread. Returns the queue so that the caller can flush it before exit.
/// A second call (tests running servers in one process) keeps the first subscriber.
pub fn init(format: LogFormat) -> Queue {
    let (tx, rx) = sync_channel(QUEUE);
    let dropped = Arc::new(AtomicU64::new(0));
    let queue = Queue {
        tx,
        dropped: dropped.clone(),
    };
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
            .spawn(move || write_lines(rx, dropped))
            .expect("a thread can be spawned at start-up");
    }
    queue
}
