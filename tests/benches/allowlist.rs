//! Allow-list figures for a library of N patrons (default 1,000,000; `ALLOWLIST_BENCH_N`):
//! argon2id cost, first-build rate, rebuild after a 1 % change, sign time, file and delta sizes,
//! verify + apply into sled (time and memory peak, in a child process), and lookup latency.
//!
//! `cargo bench -p e2e --bench allowlist`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use allowlist::Argon2Params;
use library_sim::publishing;
use redact::{CardNumber, Pin};

/// Verifiers for the 1,000,000-patron lists: cheap, so the non-argon2 work is measured at full
/// size; argon2id at OWASP's parameters is measured apart and added where a build makes new ones.
const FAST: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    lanes: 1,
};

fn options(
    files: &publishing::PublisherFiles,
    export: PathBuf,
    state: &str,
    argon2: Argon2Params,
    now: i64,
) -> publisher::Options {
    publisher::Options {
        source: publisher::Source::Export(export),
        state: files.dir.join(state),
        out: files.dir.join(format!("out-{state}")),
        keys: vec![files.signing_key.clone()],
        card_key: files.card_key.clone(),
        scope: vec!["heili".into()],
        valid_for: 72 * 3600,
        fine_limit_cents: None,
        keep: 3,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        argon2,
        now,
        progress: false,
        max_problem_share: 0.0,
        max_bcrypt_cost: publisher::build::MAX_BCRYPT_COST,
        branch_lists: vec![],
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |d| {
        d.filter_map(|e| e.ok())
            .map(|e| {
                let m = e.metadata().unwrap();
                if m.is_dir() {
                    dir_size(&e.path())
                } else {
                    m.len()
                }
            })
            .sum()
    })
}

/// The child: apply files in order to the device in `config`, print times and the memory peak.
fn child(config: &str, files: &[String], now: i64) {
    let list =
        offline::OfflineList::open(config::allowlist::load(Path::new(config)).unwrap()).unwrap();
    for f in files {
        let t = Instant::now();
        let s = list.settings();
        let a = offline::apply_file(
            list.store(),
            &s.anchors,
            Path::new(f),
            now,
            s.max_list_bytes,
        )
        .unwrap();
        println!("applied {a:?} in {:.2} s", t.elapsed().as_secs_f64());
    }
    println!(
        "peak RSS {:.0} MiB; store on disk {:.0} MB",
        peak_rss_mib(),
        dir_size(list.store().path()) as f64 / 1e6
    );
    // Lookups without argon2: the store read and the entry decode.
    let key = list.settings().card_key.clone();
    let mut times = Vec::new();
    let n: u64 = std::env::var("ALLOWLIST_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut seed = 12345u64;
    for _ in 0..20_000 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let card = CardNumber::new(format!("9000{:010}", (seed >> 33) % n));
        let t = Instant::now();
        let hash = key.hash(&card);
        if let Some(b) = list.store().lookup(&hash).unwrap() {
            std::hint::black_box(allowlist::Entry::decode(&b).unwrap());
        }
        times.push(t.elapsed().as_nanos() as u64);
    }
    times.sort_unstable();
    println!(
        "lookup without argon2 (HMAC + sled get + decode), 20,000 random cards: p50 {:.1} µs, p99 {:.1} µs",
        times[times.len() / 2] as f64 / 1e3,
        times[times.len() * 99 / 100] as f64 / 1e3
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        let now = args[i + 2].parse().unwrap();
        child(&args[i + 1], &args[i + 3..], now);
        return;
    }
    let n: u64 = std::env::var("ALLOWLIST_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tmp = tempfile::tempdir().unwrap();
    let files = publishing::ensure_publisher(tmp.path()).unwrap();
    let now = e2e::daemons_now().timestamp();
    let owasp = Argon2Params::OWASP_MINIMUM;

    // argon2id at OWASP's minimum: one verification, as the door pays it.
    let salt = [7u8; 16];
    let v = owasp.verifier(&Pin::new("1234"), &salt).unwrap();
    let mut t: Vec<f64> = (0..20)
        .map(|_| {
            let s = Instant::now();
            assert!(owasp.verify(&Pin::new("1234"), &salt, &v));
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    let argon_ms = t[10];
    println!(
        "argon2id {} verify: median {argon_ms:.1} ms (20 runs)",
        owasp.phc_prefix()
    );
    println!(
        "  brute force of a 4-digit PIN for one card, one core: {:.0} s on average, {:.0} s at most",
        5_000.0 * argon_ms / 1e3,
        10_000.0 * argon_ms / 1e3
    );

    // First build at OWASP parameters on every core: the rate.
    let small = tmp.path().join("small.jsonl");
    publishing::synthetic_export(&small, 4_000, 0, 0.0).unwrap();
    let p = publisher::publish(&options(&files, small, "owasp", owasp, now)).unwrap();
    let rate = p.made as f64 / p.verifier_time.as_secs_f64();
    println!(
        "first build at OWASP parameters: {} verifiers in {:.1} s on {cores} cores = {:.0}/s ({:.0}/s per core)",
        p.made,
        p.verifier_time.as_secs_f64(),
        rate,
        rate / cores as f64
    );
    println!(
        "  so a first build of {n} patrons (90 % with permission) takes about {:.1} h on {cores} cores",
        n as f64 * 0.9 / rate / 3600.0
    );

    // The full-size list, built with cheap verifiers, then a 1 % change.
    let export = tmp.path().join("export.jsonl");
    publishing::synthetic_export(&export, n, 0, 0.0).unwrap();
    let first = publisher::publish(&options(&files, export.clone(), "big", FAST, now)).unwrap();
    println!(
        "{n} patrons: {} listed; first build (cheap verifiers) {:.1} s in all, sign (encode + SHA-256 + Ed25519) {:.2} s; full list {:.1} MB",
        first.entries,
        first.total_time.as_secs_f64(),
        first.sign_time.as_secs_f64(),
        first.full.1 as f64 / 1e6
    );
    let full_v1 = tmp.path().join("v1.oal");
    std::fs::copy(&first.full.0, &full_v1).unwrap();
    let changed = n / 100;
    publishing::synthetic_export(&export, n, changed, 0.2).unwrap();
    let second =
        publisher::publish(&options(&files, export.clone(), "big", FAST, now + 1)).unwrap();
    let (_, delta_path, delta_size) = second
        .deltas
        .iter()
        .find(|(v, _, _)| *v == first.version)
        .cloned()
        .unwrap();
    let projected = second.total_time.as_secs_f64() - second.verifier_time.as_secs_f64()
        + second.made as f64 / rate;
    println!(
        "rebuild after a 1 % change ({changed} patrons: {} new PINs, the rest fines): {:.1} s measured with cheap verifiers; {:.1} s with OWASP verifiers ({} × {:.1} ms / {cores} cores added)",
        second.made,
        second.total_time.as_secs_f64(),
        projected,
        second.made,
        1e3 / rate * cores as f64
    );
    println!(
        "  if every one of the {changed} changes were a new PIN: {:.0} s",
        projected + (changed as f64 - second.made as f64) / rate
    );
    println!(
        "1 % delta: {:.2} MB; deltas written in {:.1} s",
        delta_size as f64 / 1e6,
        second.delta_time.as_secs_f64()
    );

    // Verify + apply on a device, in a child process for an honest memory peak.
    let dev = tmp.path().join("device");
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::copy(&files.card_key, dev.join("card.secret")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dev.join("card.secret"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    std::fs::write(
        dev.join("door.toml"),
        format!("[allowlist]\nstore = \"store\"\ncard_key = \"card.secret\"\nscopes = [\"heili\"]\nkeys = [\"{}\"]\n", files.public_key),
    )
    .unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg("--child")
        .arg(dev.join("door.toml"))
        .arg((now + 2).to_string())
        .arg(&full_v1)
        .arg(&delta_path)
        .env("ALLOWLIST_BENCH_N", n.to_string())
        .output()
        .unwrap();
    print!(
        "device: {}",
        String::from_utf8_lossy(&out.stdout).replace('\n', "\n  ")
    );
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
    println!();
}
