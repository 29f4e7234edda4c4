//! The fleet's gauges for a monitoring stack the library already runs: `GET /metrics` on a
//! loopback address (a Prometheus on the same host, or behind the library's own proxy), every
//! device's latest gauges labelled with its institution, branch, device and role, so one scrape
//! sees them all; and the console's own: devices known, and seconds since each last reported.
//!
//! Numbers only: no label can carry a patron (the labels come from device certificates).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;

use daemon::metrics::{escape_help, escape_label, float, valid_name};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Clock;
use crate::db::{Db, DeviceRow};

/// The text exposition of the fleet at `now_ms` (pure).
pub fn exposition(devices: &[DeviceRow], now_ms: i64) -> String {
    // A family's samples must stand together: gathered by name first.
    let mut families: BTreeMap<String, Vec<(String, f64)>> = BTreeMap::new();
    let mut seen: Vec<(String, f64)> = vec![];
    for d in devices {
        let labels = format!(
            "institution=\"{}\",branch=\"{}\",device=\"{}\",role=\"{}\"",
            escape_label(&d.institution),
            escape_label(&d.branch),
            escape_label(&d.device_id),
            escape_label(&d.role)
        );
        seen.push((labels.clone(), (now_ms - d.last_seen) as f64 / 1000.0));
        let gauges: BTreeMap<String, f64> = d
            .gauges
            .as_deref()
            .and_then(|g| serde_json::from_str(g).ok())
            .unwrap_or_default();
        for (name, value) in gauges {
            if valid_name(&name) && report::is_gauge_name(&name) {
                families
                    .entry(name)
                    .or_default()
                    .push((labels.clone(), value));
            }
        }
    }
    let mut out = String::new();
    let mut family = |name: &str, help: &str, samples: &[(String, f64)]| {
        out.push_str(&format!(
            "# HELP {name} {}\n# TYPE {name} gauge\n",
            escape_help(help)
        ));
        for (labels, value) in samples {
            if labels.is_empty() {
                out.push_str(&format!("{name} {}\n", float(*value)));
            } else {
                out.push_str(&format!("{name}{{{labels}}} {}\n", float(*value)));
            }
        }
    };
    family(
        "omatoimi_console_devices",
        "devices that have reported to the console",
        &[(String::new(), devices.len() as f64)],
    );
    family(
        "omatoimi_console_device_last_report_age_seconds",
        "seconds since the device last reported",
        &seen,
    );
    for (name, samples) in &families {
        family(name, "the device's gauge as it last reported it", samples);
    }
    out
}

/// Serves `/metrics` on `addr` (loopback) until `stopped` changes.
pub async fn start(
    addr: SocketAddr,
    db: Db,
    clock: Clock,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    if !addr.ip().is_loopback() {
        anyhow::bail!("{addr}: the console's /metrics listens on loopback only");
    }
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("metrics listener {addr}: {e}"))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, "the fleet's gauges at /metrics");
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let Ok((tcp, _)) = accepted else { continue };
                    let (db, clock) = (db.clone(), clock.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            answer(req, db.clone(), clock.clone())
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                            .await;
                    });
                }
            }
        }
    });
    Ok((local, task))
}

async fn answer(
    req: Request<Incoming>,
    db: Db,
    clock: Clock,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, kind, body) = if (req.method(), req.uri().path()) != (&Method::GET, "/metrics") {
        (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            String::new(),
        )
    } else {
        match db.devices().await {
            Ok(rows) => (
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                exposition(&rows, clock()),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "fleet gauges not read");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    format!("{e}\n"),
                )
            }
        }
    };
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(id: &str, branch: &str, gauges: &str, last_seen: i64) -> DeviceRow {
        DeviceRow {
            device_id: id.into(),
            institution: "heili".into(),
            branch: branch.into(),
            role: "door".into(),
            name: None,
            software: None,
            last_seen,
            clock_skew_ms: None,
            last_status_at: None,
            gauges: Some(gauges.into()),
        }
    }

    #[test]
    fn each_gauge_is_one_family_with_a_sample_per_device() {
        let text = exposition(
            &[
                row(
                    "lemi-door-1",
                    "LEMI",
                    r#"{"omatoimi_up":1,"omatoimi_alarms_24h":2}"#,
                    1_000,
                ),
                row(
                    "kivi-door-1",
                    "KI\"VI",
                    r#"{"omatoimi_up":0,"nonsense":5}"#,
                    61_000,
                ),
            ],
            121_000,
        );
        assert!(text.contains("omatoimi_console_devices 2\n"), "{text}");
        assert!(text.contains("omatoimi_up{institution=\"heili\",branch=\"LEMI\",device=\"lemi-door-1\",role=\"door\"} 1\n"), "{text}");
        assert!(text.contains("branch=\"KI\\\"VI\""), "{text}");
        assert!(
            text.contains("device=\"lemi-door-1\",role=\"door\"} 120\n"),
            "{text}"
        );
        assert!(!text.contains("nonsense"), "{text}");
        assert_eq!(text.matches("# TYPE omatoimi_up gauge").count(), 1);
    }
}
