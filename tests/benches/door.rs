//! Time from the PIN's submit key (`#`, right after the last digit) to the relay command, online
//! (the simulator over SIP2/TLS on loopback) and offline (the signed list, argon2id included), on
//! the real daemon code with a simulated keypad and reader. `DOOR_BENCH_N` tries each (default 100).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use door_agent::Devices;
use drivers::DeviceError;
use drivers::gpio::{DoorInputs, DoorIo, Signal};
use rig::door::{self, TestClock};
use tokio::sync::mpsc;

/// The real pins, with the instant of each release noted.
struct Timed {
    inner: Box<dyn DoorIo>,
    released: Arc<Mutex<Option<Instant>>>,
}

impl DoorIo for Timed {
    fn set_locked(&mut self, locked: bool) -> Result<(), DeviceError> {
        if !locked {
            *self.released.lock().unwrap() = Some(Instant::now());
        }
        self.inner.set_locked(locked)
    }
    fn inputs(&mut self) -> Result<DoorInputs, DeviceError> {
        self.inner.inputs()
    }
    fn signal(&mut self, s: Signal, on: bool) -> Result<(), DeviceError> {
        self.inner.signal(s, on)
    }
    fn set_output(&mut self, n: &str, on: bool) -> Result<(), DeviceError> {
        self.inner.set_output(n, on)
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("DOOR_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = door::rig(
        tmp.path(),
        &fixtures,
        "max_attempts_per_minute = 600",
        door::nine_pm_on(e2e::daemons_now()),
        72,
    )
    .await
    .unwrap();
    let mut settings = door_agent::settings::load(&rig.config).unwrap();
    settings.watch.pulse = Duration::from_millis(100);
    let registry = settings
        .registry
        .as_ref()
        .map(registry::AnyRegistry::start)
        .transpose()
        .unwrap();
    let released = Arc::new(Mutex::new(None));
    let door = Box::new(Timed {
        inner: door_agent::devices::open_door(&settings).unwrap(),
        released: released.clone(),
    });
    let (card_tx, cards) = mpsc::channel(16);
    let (key_tx, keys) = mpsc::channel(64);
    let (fb_tx, mut feedback) = mpsc::channel(256);
    let clock = TestClock::starting(door::nine_pm_on(e2e::daemons_now()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(door_agent::run(
        settings,
        registry,
        Devices {
            cards,
            keys,
            door,
            feedback: Some(fb_tx),
            display: None,
            clock: clock.clock(),
        },
        async move {
            let _ = stopped.await;
        },
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut measure = async |label: &str| {
        let mut ms = vec![];
        for _ in 0..n {
            card_tx
                .send(drivers::card::CardEvent::Card {
                    number: redact::CardNumber::new("24680000000011"),
                    reader: "bench".into(),
                })
                .await
                .unwrap();
            while !matches!(feedback.recv().await, Some(door_agent::Feedback::EnterPin)) {}
            for d in [1, 2, 3, 4] {
                key_tx.send(access::pin::Key::Digit(d)).await.unwrap();
            }
            *released.lock().unwrap() = None;
            let t = Instant::now();
            key_tx.send(access::pin::Key::Submit).await.unwrap();
            loop {
                match feedback.recv().await {
                    Some(door_agent::Feedback::Welcome { .. }) => break,
                    Some(door_agent::Feedback::Denied { reason, .. }) => panic!("{reason:?}"),
                    _ => {}
                }
            }
            let mut at = None;
            for _ in 0..100 {
                at = *released.lock().unwrap();
                if at.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            ms.push(at.unwrap().duration_since(t).as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        println!(
            "{label}: n={n} p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            pct(&mut ms, 0.5),
            pct(&mut ms, 0.99),
            pct(&mut ms, 1.0)
        );
    };
    measure("last key -> relay, online (SIP2/TLS on loopback)").await;
    rig.running.stop();
    measure("last key -> relay, offline (signed list, argon2id m=19 MiB t=2)").await;
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
