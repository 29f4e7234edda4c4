//! Health as numbers: gauges set by the daemon, served over HTTP on a loopback address in the
//! Prometheus text exposition format (`# HELP`, `# TYPE`, `name value`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A gauge both daemons set: its name and help text.
pub type Gauge = (&'static str, &'static str);

/// Whether the library system answers.
pub const ONLINE: Gauge = (
    "omatoimi_online",
    "1 when the library system answered last (a request, or a door's minute probe), 0 when it did not",
);

/// The offline list's last successful check with its server.
pub const LIST_LAST_SYNC: Gauge = (
    "omatoimi_allowlist_last_sync_timestamp_seconds",
    "when the offline list was last checked with its server (Unix time)",
);

/// The daemon's gauges; cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<BTreeMap<&'static str, (&'static str, f64)>>>);

impl Metrics {
    /// No gauges yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets gauge `name` (with its help text) to `value`.
    pub fn set(&self, name: &'static str, help: &'static str, value: f64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, (help, value));
    }

    /// A gauge's value.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map(|(_, v)| *v)
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, (help, value)) in self.0.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        out
    }

    /// Serves `GET /metrics` on `addr` until the task is dropped. Only loopback addresses are
    /// accepted: the numbers are for the box's own monitoring agent.
    pub async fn serve(self, addr: SocketAddr) -> std::io::Result<()> {
        if !addr.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{addr}: the metrics endpoint listens on loopback only"),
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        loop {
            let (mut sock, _) = listener.accept().await?;
            let me = self.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let n = match tokio::time::timeout(
                    std::time::Duration::from_secs(2),
                    sock.read(&mut buf),
                )
                .await
                {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
                let request = String::from_utf8_lossy(&buf[..n]);
                let reply = if request.starts_with("GET /metrics ") {
                    let body = me.render();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_owned()
                };
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    }
}

/// Asks a running daemon's endpoint at `addr` for its gauges: (name without the `omatoimi_`
/// prefix, value), for `status` commands.
pub async fn read(addr: SocketAddr) -> std::io::Result<Vec<(String, String)>> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await?;
    let mut text = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        s.read_to_string(&mut text),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer"))??;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, v)| (n.trim_start_matches("omatoimi_").to_owned(), v.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn gauges_render_in_the_text_format() {
        let m = Metrics::new();
        m.set("omatoimi_online", "1 when the library system answers", 1.0);
        m.set("omatoimi_queue_waiting", "records waiting", 3.0);
        assert_eq!(
            m.render(),
            "# HELP omatoimi_online 1 when the library system answers\n# TYPE omatoimi_online gauge\nomatoimi_online 1\n\
             # HELP omatoimi_queue_waiting records waiting\n# TYPE omatoimi_queue_waiting gauge\nomatoimi_queue_waiting 3\n"
        );
    }

    #[tokio::test]
    async fn a_served_gauge_reads_back() {
        let m = Metrics::new();
        m.set("omatoimi_online", "h", 0.0);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let task = tokio::spawn(m.clone().serve(addr));
        let mut got = vec![];
        for _ in 0..50 {
            if let Ok(g) = read(addr).await {
                got = g;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(got, vec![("online".to_owned(), "0".to_owned())]);
        task.abort();
    }

    #[tokio::test]
    async fn only_loopback_is_served() {
        let m = Metrics::new();
        let e = m.serve("0.0.0.0:0".parse().unwrap()).await.unwrap_err();
        assert!(e.to_string().contains("loopback"));
    }
}
