//! Staff questions to a running door over a local Unix socket (mode 0600, in the state
//! directory): one JSON request line, JSON-lines events back. The daemon holds the event log's
//! lock, so the `events` command asks it here; with the daemon stopped it opens the log itself.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::{Event, EventLog};

/// A question: events in `[from, to)` (Unix ms), only alarms when `alarms`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Query {
    /// From (inclusive).
    pub from: i64,
    /// To (exclusive).
    pub to: i64,
    /// Only alarms and tampering.
    #[serde(default)]
    pub alarms: bool,
    /// The security log instead (kept apart, longer).
    #[serde(default)]
    pub security: bool,
}

/// Answers a query from the log.
pub fn answer(log: &EventLog, q: &Query) -> Result<Vec<Event>, crate::EventLogError> {
    if q.security {
        return log.security_between(q.from, q.to);
    }
    Ok(log
        .between(q.from, q.to)?
        .into_iter()
        .filter(|e| !q.alarms || e.kind.is_alarm())
        .collect())
}

/// Serves queries at `path` until aborted.
pub fn serve(path: &Path, log: EventLog) -> tokio::task::JoinHandle<()> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path);
    if listener.is_ok() {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    let shown = path.display().to_string();
    tokio::spawn(async move {
        let listener = match listener {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("control socket {shown}: {e}");
                return;
            }
        };
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let log = log.clone();
            tokio::spawn(async move {
                if let Err(e) = one(stream, &log).await {
                    tracing::debug!("control: {e}");
                }
            });
        }
    })
}

async fn one(stream: UnixStream, log: &EventLog) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    BufReader::new(r).take(4096).read_line(&mut line).await?;
    let reply = match serde_json::from_str::<Query>(&line) {
        Ok(q) => match answer(log, &q) {
            Ok(events) => events
                .iter()
                .filter_map(|e| serde_json::to_string(e).ok())
                .map(|s| s + "\n")
                .collect::<String>(),
            Err(e) => format!("{{\"error\":{:?}}}\n", e.to_string()),
        },
        Err(e) => format!("{{\"error\":{:?}}}\n", format!("bad query: {e}")),
    };
    w.write_all(reply.as_bytes()).await?;
    w.shutdown().await
}

/// Asks a running daemon.
pub async fn ask(path: &Path, q: &Query) -> std::io::Result<Vec<Event>> {
    let stream = UnixStream::connect(path).await?;
    let (r, mut w) = stream.into_split();
    let mut line = serde_json::to_string(q).map_err(std::io::Error::other)?;
    line.push('\n');
    w.write_all(line.as_bytes()).await?;
    let mut lines = BufReader::new(r).lines();
    let mut out = vec![];
    while let Some(l) = lines.next_line().await? {
        match serde_json::from_str::<Event>(&l) {
            Ok(e) => out.push(e),
            Err(_) => return Err(std::io::Error::other(l)),
        }
    }
    Ok(out)
}
