//! Health as numbers: gauges set by the daemon, served over HTTP on a loopback address in the
//! Prometheus text exposition format, version 0.0.4 (`# HELP`, `# TYPE`, `name value`).
//!
//! Hand-written rather than `prometheus-client`, the official Rust client, because what we expose
//! is a handful of gauges with no labels (by design: nothing that could carry a card), and for
//! that the format is three lines a gauge with two rules: the help text escapes `\` and line
//! breaks, and values are Go-style floats (`+Inf`, `-Inf`, `NaN`). The client would bring a
//! registry of typed metric handles made up front (we set gauges by name where the daemon learns
//! them), a derive macro and its dependencies, and it writes OpenMetrics text (`# EOF`, its own
//! content type) rather than this format. That our few lines are exactly right is checked by an
//! outside judge: the official Python client's parser (`prometheus-client` from PyPI, in
//! `target/interop-venv`) reads what [`Metrics::render`] writes, escapes and infinities included,
//! and must find each gauge's name, type, help text and value as they were set (tests below).

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

/// The console's policy bundle the device runs.
pub const POLICY_VERSION: Gauge = (
    "omatoimi_policy_version",
    "the version of the console's policy bundle in force (0: the configuration file's hours)",
);

/// When that bundle expires.
pub const POLICY_EXPIRES: Gauge = (
    "omatoimi_policy_expires_timestamp_seconds",
    "when the policy bundle in force expires (Unix time); past it the device keeps it until the console is reached",
);

/// The daemon's gauges; cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<BTreeMap<&'static str, (&'static str, f64)>>>);

impl Metrics {
    /// No gauges yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets gauge `name` (with its help text) to `value`. A name the format does not allow
    /// (`[a-zA-Z_:][a-zA-Z0-9_:]*`) is logged and not kept.
    pub fn set(&self, name: &'static str, help: &'static str, value: f64) {
        if !valid_name(name) {
            tracing::warn!("metrics: `{name}` is not a Prometheus metric name; not exported");
            return;
        }
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

    /// Every gauge's name and value, in the order of their names (for a status report).
    pub fn snapshot(&self) -> Vec<(&'static str, f64)> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, (_, v))| (*name, *v))
            .collect()
    }

    /// The text exposition format: per gauge, in the order of their names, its `# HELP` line
    /// (escaped), its `# TYPE` line and its sample.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, (help, value)) in self.0.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let help = escape_help(help);
            let value = float(*value);
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
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

/// A label's value as the format has it: a backslash doubled, a quote and a line break escaped.
pub fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Is `name` a metric name of the text format (`[a-zA-Z_:][a-zA-Z0-9_:]*`)?
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Help text as the format has it: a backslash doubled, a line break as `\n`.
pub fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A value as the format has it: Go's float syntax, with `+Inf`, `-Inf` and `NaN` (Rust writes
/// `inf` and `NaN`); finite values as Rust writes them (no exponent, as many digits as needed to
/// read back the same number).
pub fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        v.to_string()
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

    /// A metric family as the judge read it: name, type, help text, and each sample's name,
    /// label count and value.
    type Family = (String, String, String, Vec<(String, usize, f64)>);

    /// What the Prometheus project's Python client makes of `text`.
    fn judged(text: &str) -> Vec<Family> {
        use std::io::Write;
        let python = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/interop-venv/bin/python"
        );
        let judge = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    print("F", f.name, f.type, f.documentation.encode().hex(), sep="\t")
    for s in f.samples:
        print("S", s.name, len(s.labels), repr(s.value), sep="\t")
"#;
        let mut child = std::process::Command::new(python)
            .args(["-c", judge])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{python}: {e}: the judge is the Python client's parser: \
                     `target/interop-venv/bin/pip install prometheus-client==0.26.0`"
                )
            });
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "the parser refused the text (or is not installed: \
             `target/interop-venv/bin/pip install prometheus-client==0.26.0`):\n{stderr}\n{text}"
        );
        let mut families = vec![];
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f[..] {
                ["F", name, kind, help] => {
                    let bytes = (0..help.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&help[i..i + 2], 16).unwrap())
                        .collect();
                    families.push((
                        name.to_owned(),
                        kind.to_owned(),
                        String::from_utf8(bytes).unwrap(),
                        vec![],
                    ));
                }
                ["S", name, labels, value] => families.last_mut().unwrap().3.push((
                    name.to_owned(),
                    labels.parse().unwrap(),
                    value.parse().unwrap(),
                )),
                _ => panic!("{line}"),
            }
        }
        families
    }

    #[test]
    fn the_prometheus_parser_reads_back_every_name_help_and_value() {
        let gauges: &[(&'static str, &'static str, f64)] = &[
            ("omatoimi_online", "1 when the library system answers", 1.0),
            (
                "omatoimi_escapes",
                "a backslash \\ a line break \n, \\n that is no break, \"quotes\" and åäö €",
                -1.5,
            ),
            ("omatoimi_trailing_backslash", "ends in \\", 0.1),
            ("omatoimi_up", "", 0.0),
            ("omatoimi:ratio", "a colon is allowed", -0.0),
            ("omatoimi_small", "small", 1e-7),
            ("omatoimi_tiny", "smallest normal", f64::MIN_POSITIVE),
            ("omatoimi_huge", "largest", f64::MAX),
            (
                "omatoimi_last_sync_timestamp_seconds",
                "Unix time",
                1_790_000_000.0,
            ),
            ("omatoimi_plus_inf", "+Inf", f64::INFINITY),
            ("omatoimi_minus_inf", "-Inf", f64::NEG_INFINITY),
            ("omatoimi_nan", "NaN", f64::NAN),
        ];
        let m = Metrics::new();
        for (name, help, value) in gauges {
            // Set twice: still one family.
            m.set(name, "first", 42.0);
            m.set(name, help, *value);
        }
        // Not a metric name: not exported.
        m.set("omatoimi door", "a space", 1.0);
        m.set("9lives", "a digit first", 1.0);
        m.set("", "empty", 1.0);
        let text = m.render();
        let families = judged(&text);
        assert_eq!(families.len(), gauges.len(), "{text}");
        for (name, help, value) in gauges {
            let found: Vec<_> = families.iter().filter(|f| f.0 == *name).collect();
            assert_eq!(found.len(), 1, "one family named {name}:\n{text}");
            let (_, kind, doc, samples) = found[0];
            assert_eq!(kind, "gauge", "{name}");
            assert_eq!(doc, help, "{name}");
            assert_eq!(samples.len(), 1, "{name}");
            let (sample, labels, got) = &samples[0];
            assert_eq!((sample.as_str(), *labels), (*name, 0));
            if value.is_nan() {
                assert!(got.is_nan(), "{name}: {got}");
            } else {
                // Exactly the number (the parser reads `-0` as an integer: 0 == -0).
                assert_eq!(got, value, "{name}");
            }
        }
        assert!(text.contains("\nomatoimi_plus_inf +Inf\n"), "{text}");
        assert!(text.contains("\nomatoimi_minus_inf -Inf\n"), "{text}");
    }

    #[test]
    fn only_metric_names_are_kept() {
        for ok in ["a", "_a", ":a", "omatoimi_up", "a:b_9"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a b", "ä", "a{x=\"1\"}"] {
            assert!(!valid_name(bad), "{bad}");
        }
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
