//! What an online loan costs the kiosk's disk since it is staged before its request: the record
//! written and fdatasynced, then removed and the queue's files rewritten so that no card number
//! is left in them. Against a floor measured in the same run: the least a durable stage and
//! remove can cost, a 200-byte record written to a file and fdatasynced, then the file emptied
//! and fdatasynced. Also the bytes each sends to the storage layer (`/proc/self/io`
//! `write_bytes`: what wears an SD card), with 0 and 20 offline records already waiting.
//!
//! `QUEUE_BENCH_ROUNDS` rounds (default 200); `QUEUE_BENCH_DIR` a directory on the disk to
//! measure (default: a temporary one, usually the same disk as the build).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use chrono::NaiveDate;
use kiosk::queue::Queue;
use redact::CardNumber;

fn write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes: "))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

struct Figures {
    p50_ms: f64,
    p99_ms: f64,
    bytes: f64,
}

fn run(rounds: usize, mut one: impl FnMut(usize)) -> Figures {
    let mut ms = Vec::with_capacity(rounds);
    let before = write_bytes();
    for n in 0..rounds {
        let t = Instant::now();
        one(n);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let bytes = (write_bytes() - before) as f64 / rounds as f64;
    Figures {
        p50_ms: pct(&mut ms, 0.5),
        p99_ms: pct(&mut ms, 0.99),
        bytes,
    }
}

fn floor(dir: &Path, rounds: usize) -> Figures {
    let path = dir.join("floor");
    let record = [b'x'; 200];
    run(rounds, |_| {
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&record).unwrap();
        f.sync_data().unwrap();
        f.set_len(0).unwrap();
        f.sync_data().unwrap();
    })
}

fn online_loans(dir: &Path, rounds: usize, waiting: usize) -> Figures {
    let q = Queue::open(&dir.join(format!("queue-{waiting}"))).unwrap();
    let at = NaiveDate::from_ymd_opt(2026, 12, 3)
        .unwrap()
        .and_hms_opt(20, 0, 0)
        .unwrap();
    for n in 0..waiting {
        let card = CardNumber::new(format!("2468000010{n:04}"));
        let id = q
            .checkout(&card, &format!("HE1{n:06}"), at, at, false)
            .unwrap();
        q.commit(id).unwrap();
    }
    let card = CardNumber::new("24680000000011");
    run(rounds, |n| {
        let staged = q
            .stage_online_loan(
                &card,
                &format!("HE0{n:06}"),
                at,
                &[[0xE0, 4, 1, 0, 0, 0, 0, 1]],
            )
            .unwrap();
        // (The library system answers and the tag switches here.)
        staged.done().unwrap();
    })
}

fn main() {
    let rounds: usize = std::env::var("QUEUE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = match std::env::var_os("QUEUE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let f = floor(dir.path(), rounds);
    println!(
        "{:<52} p50 {:>7.2} ms  p99 {:>7.2} ms  {:>9.0} bytes written",
        "floor: 200 bytes written+fdatasync, emptied+fdatasync", f.p50_ms, f.p99_ms, f.bytes
    );
    for waiting in [0, 20] {
        let o = online_loans(dir.path(), rounds, waiting);
        println!(
            "{:<52} p50 {:>7.2} ms  p99 {:>7.2} ms  {:>9.0} bytes written   {:.1}x the floor's time, {:.1}x its bytes",
            format!("online loan staged and removed, {waiting} waiting"),
            o.p50_ms,
            o.p99_ms,
            o.bytes,
            o.p50_ms / f.p50_ms,
            o.bytes / f.bytes.max(1.0)
        );
    }
    println!("rounds: {rounds}, directory: {}", dir.path().display());
}
