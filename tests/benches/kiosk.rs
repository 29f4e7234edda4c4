//! The kiosk's figures, on the real kiosk code against the simulator over SIP2/TLS, with the
//! FEIG reader twin answering through the real driver and taking a typical HF reader's air time
//! per operation (inventory 15 ms + 3 ms per tag, 8 ms per addressed command):
//! - an item placed on the pad (or scanned) -> its result in the published view, online and
//!   offline (the library system stopped);
//! - a stack of 10 tags placed at once -> every row final ("settled").
//!
//! `KIOSK_BENCH_ROUNDS` rounds (default 10).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::{Duration, Instant};

use drivers::feig_twin::AirTime;
use kiosk::Input;
use rig::kiosk::{self as sim, SimKiosk};
use ui::{Action, Mode, RowState, Screen, View};

const WAIT: Duration = Duration::from_secs(20);
const LENDABLE: [&str; 6] = [
    "HE0000001",
    "HE0000002",
    "HE0000003",
    "HE0000006",
    "HE0000007",
    "HE0000010",
];

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn report(what: &str, v: &mut [f64]) {
    println!(
        "{what:<58} n={:<4} p50 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
        v.len(),
        pct(v, 0.5),
        pct(v, 0.99),
        pct(v, 1.0)
    );
}

fn final_row(v: &View, item: &str) -> bool {
    v.items
        .iter()
        .any(|r| r.item == item && r.state != RowState::Working)
}

async fn log_in(k: &mut SimKiosk) {
    k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
        .await
        .unwrap();
    k.send(Input::Scan("24680000000011".into())).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Pin).await.unwrap();
    k.type_digits("1234").await;
    k.wait_for(WAIT, |v| v.screen == Screen::Items)
        .await
        .unwrap();
}

async fn finish(k: &mut SimKiosk) {
    k.tap(Action::Finish).await;
    k.wait_for(WAIT, |v| {
        matches!(v.screen, Screen::Receipt | Screen::Goodbye)
    })
    .await
    .unwrap();
    if k.view().screen == Screen::Receipt {
        k.tap(Action::Receipt(false)).await;
    }
    k.wait_for(WAIT, |v| v.screen == Screen::Goodbye)
        .await
        .unwrap();
    k.pad.clear();
    k.wait_for(Duration::from_secs(10), |v| v.screen == Screen::Welcome)
        .await
        .unwrap();
}

/// Returns every lendable item and the set (tags unsecured), through the kiosk.
async fn return_all(k: &mut SimKiosk) {
    k.tap(Action::Start(Mode::Checkin)).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Items)
        .await
        .unwrap();
    for item in LENDABLE {
        k.send(Input::Scan(item.into())).await;
    }
    k.send(Input::Scan("HE0000008".into())).await;
    k.wait_for(WAIT, |v| {
        v.items.len() == 7 && v.items.iter().all(|r| r.state != RowState::Working)
    })
    .await
    .unwrap();
    finish(k).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("KIOSK_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = sim::rig(tmp.path(), &fixtures, e2e::daemons_now(), "")
        .await
        .unwrap();
    let text = std::fs::read_to_string(&rig.config)
        .unwrap()
        .replace("max_loans = 3", "max_loans = 100000");
    std::fs::write(&rig.config, text).unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let mut k = sim::start_kiosk(settings, AirTime::TYPICAL, kiosk::system_clock()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let (mut placed, mut scanned, mut stack) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        log_in(&mut k).await;
        // One at a time: half placed on the pad, half scanned.
        for (i, item) in LENDABLE.iter().enumerate() {
            let t = Instant::now();
            if i % 2 == 0 {
                k.pad.place(sim::tag(item, 1, 1));
            } else {
                k.send(Input::Scan((*item).into())).await;
            }
            k.wait_for(WAIT, |v| final_row(v, item)).await.unwrap();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if i % 2 == 0 {
                placed.push(ms)
            } else {
                scanned.push(ms)
            }
        }
        finish(&mut k).await;
        return_all(&mut k).await;
        // A stack of 10 tags at once: six books, a three-disc set, a reference book.
        log_in(&mut k).await;
        let t = Instant::now();
        for item in LENDABLE {
            k.pad.place(sim::tag(item, 1, 1));
        }
        for p in 1..=3 {
            k.pad.place(sim::tag("HE0000008", p, 3));
        }
        k.pad.place(sim::tag("HE0000005", 1, 1));
        k.wait_for(WAIT, |v| {
            v.items.len() == 8 && v.items.iter().all(|r| r.state != RowState::Working)
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "round {round}: the stack never settled: {:?}",
                k.view().items
            )
        });
        stack.push(t.elapsed().as_secs_f64() * 1000.0);
        finish(&mut k).await;
        return_all(&mut k).await;
    }
    println!(
        "kiosk figures ({rounds} rounds; FEIG twin with typical air time; simulator over SIP2/TLS on loopback)"
    );
    report(
        "online: tag placed on the pad -> result on screen",
        &mut placed,
    );
    report("online: barcode scanned -> result on screen", &mut scanned);
    report(
        "online: stack of 10 tags placed -> every row final",
        &mut stack,
    );

    // Offline: the library system is stopped (refused connections); the list answers the login.
    log_in(&mut k).await;
    rig.running.stop();
    let mut offline = Vec::new();
    for item in LENDABLE {
        let t = Instant::now();
        k.pad.place(sim::tag(item, 1, 1));
        k.wait_for(WAIT, |v| final_row(v, item)).await.unwrap();
        offline.push(t.elapsed().as_secs_f64() * 1000.0);
        let v = k.view();
        assert!(
            v.items
                .iter()
                .any(|r| r.item == item && r.outcome == ui::Outcome::LentOffline),
            "{:?}",
            v.items
        );
    }
    report(
        "offline: tag placed -> result on screen (queued)",
        &mut offline,
    );
    k.shut_down().await.unwrap();
}
