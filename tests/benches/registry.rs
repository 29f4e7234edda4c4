//! Figures for the registry clients against the simulator over loopback TLS: verify latency
//! (p50/p99/max) on a warm connection, requests per second through one connection, and the time
//! from a restarted server listening again to the first verified patron.
//!
//! `cargo bench -p e2e --bench registry` (release build). The latencies include the simulator's
//! own work on the same machine, so they bound our client's share from above.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::time::{Duration, Instant};

use e2e::*;
use library_sim::server;
use registry::{AnyRegistry, PatronLogin, Registry};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn latency(name: &str, r: &AnyRegistry, n: usize) {
    let aino = PatronLogin::new(AINO, AINO_PIN);
    for _ in 0..n / 10 {
        r.verify(&aino).await.unwrap();
    }
    let mut times = Vec::with_capacity(n);
    let all = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let v = r.verify(&aino).await.unwrap();
        times.push(t.elapsed());
        assert!(v.facts().is_some());
    }
    let total = all.elapsed();
    times.sort();
    println!(
        "{name:<16} verify x{n}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {:.0} verifies/s through one connection",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.99)),
        ms(times[times.len() - 1]),
        n as f64 / total.as_secs_f64()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let state = tempfile::tempdir().unwrap();
        let sim = start(state.path()).await;
        let dir = tempfile::tempdir().unwrap();
        let sip2 = DeviceSetup::sip2().start(dir.path(), &sim);
        let koha = DeviceSetup::koha().start(dir.path(), &sim);
        latency("SIP2/TLS", &sip2, 5000).await;
        latency("Koha REST/HTTPS", &koha, 2000).await;

        // Restart: stop the server, start it again on the same port, and time from its
        // listening again to the first verified patron (the client retries with backoff).
        let aino = PatronLogin::new(AINO, AINO_PIN);
        let addr = sim.sip2_tls.unwrap();
        sim.stop();
        let mut reconnects = vec![];
        let mut restarted = vec![];
        for _ in 0..10 {
            // Let the client notice the outage first, as a door would between patrons.
            assert!(sip2.verify(&aino).await.is_err());
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut settings = settings(state.path());
            settings.sip2_tls = Some(addr);
            settings.https = None;
            let again = server::start(settings).await.unwrap();
            let listening = Instant::now();
            loop {
                if sip2.verify(&aino).await.is_ok() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            reconnects.push(listening.elapsed());
            again.stop();
            restarted.push(again);
        }
        reconnects.sort();
        println!(
            "SIP2/TLS         reconnect after a server restart x10: median {:.1} ms, max {:.1} ms",
            ms(percentile(&reconnects, 0.5)),
            ms(reconnects[reconnects.len() - 1])
        );
    });
}
