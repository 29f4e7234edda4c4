//! Erasure and retention remove bytes, not just keys: after `door-agent erase`, after the door's
//! retention purge, and after the kiosk delivered an offline loan, no file under the state
//! directory holds the card — its number, or its keyed hash in any form the code writes (the
//! event log's 32 hex digits; raw bytes; base64). And every file and directory the daemons make
//! is their user's only, whatever the umask they were started with. Judged on the raw bytes of
//! every file, with the real binaries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use chrono::{Duration as Days, Utc};
use drivers::feig_twin::AirTime;
use e2e::Kill;
use kiosk::Input;
use redact::CardNumber;
use rig::door::{self, TestClock};
use rig::kiosk as sim;
use ui::{Outcome, Screen};

const AINO: &str = "24680000000011";
const ERIK: &str = "24680000000029";
/// John's PIN is on the list (as the register's bcrypt hash); Erik's is not, so offline a wrong
/// PIN of his is never checked and leaves no failure record.
const JOHN: &str = "24680000000110";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml")
}

/// `bin -c config args…` under `umask 022`, as a technician's shell would start it, with `card`
/// on standard input.
fn run(bin: &Path, config: &Path, args: &[&str], card: &str) -> Output {
    let mut child = umask_022(bin, config, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{card}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn umask_022(bin: &Path, config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", "umask 022 && exec \"$0\" \"$@\""])
        .arg(bin)
        .args(["-c", &config.to_string_lossy()])
        .args(args);
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Every file under `dir`, with its bytes (a running daemon's rewrite may remove some while
/// they are read: those are left out).
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = vec![];
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            out.extend(files(&p));
        } else if meta.is_file()
            && let Ok(bytes) = std::fs::read(&p)
        {
            out.push((p.clone(), bytes));
        }
    }
    out
}

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// The forms a card takes in the code's files: its number, and its keyed hash as the event
/// log writes it (32 hex digits), in upper case, as raw bytes and in base64 (whole and the
/// 16 bytes the log and the list's keys use). `raw` says which are raw bytes: the offline
/// list's store holds every patron's hash by design and is searched for the printable forms
/// only; the device's own PIN-failure records (`pin-failures`, beside it) for all of them.
fn traces(card: &str, key: &allowlist::CardKey) -> Vec<(String, Vec<u8>, bool)> {
    const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let hash = key.hash(&CardNumber::new(card)).0;
    let hex = door_agent::pseudonym(key, &CardNumber::new(card));
    let mut t = vec![
        (
            "the card number".to_owned(),
            card.as_bytes().to_vec(),
            false,
        ),
        (
            "the pseudonym in hex".to_owned(),
            hex.clone().into_bytes(),
            false,
        ),
        (
            "the pseudonym in upper-case hex".to_owned(),
            hex.to_uppercase().into_bytes(),
            false,
        ),
        (
            "the hash's 16 raw bytes".to_owned(),
            hash[..16].to_vec(),
            true,
        ),
    ];
    for (name, alphabet) in [("base64", STD), ("base64url", URL)] {
        for bytes in [&hash[..16], &hash[..]] {
            // Without the padding's last character, which depends on what follows.
            let mut b = base64(bytes, alphabet);
            b.truncate(b.len() - 1);
            t.push((
                format!("{} bytes in {name}", bytes.len()),
                b.into_bytes(),
                false,
            ));
        }
    }
    t
}

/// The traces of `card` found in files under `state`, by file and form.
fn found(state: &Path, card: &str, key: &allowlist::CardKey) -> Vec<String> {
    let store = state.join("allowlist");
    let mut out = vec![];
    for (path, bytes) in files(state) {
        for (form, needle, raw) in traces(card, key) {
            if raw && path.starts_with(&store) {
                continue;
            }
            if bytes.windows(needle.len()).any(|w| w == needle) {
                out.push(format!("{form} in {}", path.display()));
            }
        }
    }
    out
}

fn card_key(config: &Path) -> allowlist::CardKey {
    door_agent::settings::load(config)
        .unwrap()
        .allowlist
        .card_key
}

/// A door whose log holds Aino's and Erik's events from the door's clock at `at`, stopped.
async fn door_with_events(tmp: &Path, at: chrono::DateTime<Utc>) -> door::Rig {
    let rig = door::rig(
        tmp,
        &fixtures(),
        "",
        door::nine_pm_on(e2e::daemons_now()),
        72,
    )
    .await
    .unwrap();
    let settings = door_agent::settings::load(&rig.config).unwrap();
    let mut d = door::start_door(settings, TestClock::starting(at).clock()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    d.try_card(AINO, "1234#").await.unwrap();
    d.try_card(AINO, "9999#").await.unwrap();
    d.try_card(ERIK, "2468#").await.unwrap();
    d.shut_down().await.unwrap();
    rig
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_cards_events_leave_no_bytes_under_the_doors_state_directory() {
    let Some(bin) = e2e::workspace_binary("door-agent") else {
        println!(
            "SKIPPED: the door-agent binary is not built (run through `cargo test --workspace`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let rig = door_with_events(tmp.path(), door::nine_pm_on(e2e::daemons_now())).await;
    let state = rig.dir.join("state");
    let key = card_key(&rig.config);
    assert!(
        !found(&state, AINO, &key).is_empty(),
        "the log holds Aino's pseudonym before erasure"
    );

    let o = run(&bin, &rig.config, &["erase"], AINO);
    assert!(
        o.status.success() && text(&o).contains("2 event(s)"),
        "{}",
        text(&o)
    );
    let left = found(&state, AINO, &key);
    assert!(left.is_empty(), "after erasure: {left:#?}");
    // Erik's event is still there.
    assert!(!found(&state, ERIK, &key).is_empty());
    let erik = tmp.path().join("erik.json");
    let o = run(
        &bin,
        &rig.config,
        &["export", "--out", &erik.to_string_lossy()],
        ERIK,
    );
    assert!(text(&o).contains("1 event(s)"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_cards_wrong_pins_at_offline_checks_leave_no_bytes_outside_the_list() {
    let Some(bin) = e2e::workspace_binary("door-agent") else {
        println!(
            "SKIPPED: the door-agent binary is not built (run through `cargo test --workspace`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let rig = door::rig(
        tmp.path(),
        &fixtures(),
        "",
        door::nine_pm_on(e2e::daemons_now()),
        72,
    )
    .await
    .unwrap();
    let settings = door_agent::settings::load(&rig.config).unwrap();
    let mut d = door::start_door(settings, rig.clock.clock()).unwrap();
    // The door syncs its list at start.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The library system goes away: the list answers, and the door counts wrong PINs itself.
    rig.running.stop();
    for (card, pin) in [(AINO, "9999#"), (AINO, "9998#"), (JOHN, "1111#")] {
        let f = d.try_card(card, pin).await;
        assert!(
            matches!(&f, Some(door_agent::Feedback::Denied { .. })),
            "{card}: {f:?}"
        );
    }
    d.shut_down().await.unwrap();
    let state = rig.dir.join("state");
    let key = card_key(&rig.config);
    let raw = |card| {
        found(&state, card, &key)
            .into_iter()
            .filter(|f| f.starts_with("the hash's 16 raw bytes"))
            .collect::<Vec<_>>()
    };
    // The failure records are apart from the list, where the grep sees all of them.
    assert!(
        !raw(AINO).is_empty() && !raw(JOHN).is_empty(),
        "the wrong-PIN records are outside the list's store: {:#?}",
        files(&state)
            .into_iter()
            .map(|(p, _)| p)
            .collect::<Vec<_>>()
    );

    let o = run(&bin, &rig.config, &["erase"], AINO);
    assert!(
        o.status.success() && text(&o).contains("wrong-PIN record removed"),
        "{}",
        text(&o)
    );
    let left = found(&state, AINO, &key);
    assert!(left.is_empty(), "after erasure: {left:#?}");
    assert!(!raw(JOHN).is_empty(), "John's record stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erase_after_a_crash_between_the_swaps_renames_finishes_the_swap_and_erases() {
    let Some(bin) = e2e::workspace_binary("door-agent") else {
        println!(
            "SKIPPED: the door-agent binary is not built (run through `cargo test --workspace`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let rig = door_with_events(tmp.path(), door::nine_pm_on(e2e::daemons_now())).await;
    let state = rig.dir.join("state");
    let key = card_key(&rig.config);
    // A rewrite (the hourly purge) died between its two renames: the log is `events.old`, its
    // replacement `events.new`, and there is no `events`.
    let (log, new, old) = (
        state.join("events"),
        state.join("events.new"),
        state.join("events.old"),
    );
    let copied = Command::new("cp")
        .arg("-a")
        .arg(&log)
        .arg(&old)
        .status()
        .unwrap();
    assert!(copied.success());
    std::fs::rename(&log, &new).unwrap();

    let o = run(&bin, &rig.config, &["erase"], AINO);
    assert!(
        o.status.success() && text(&o).contains("2 event(s)"),
        "{}",
        text(&o)
    );
    assert!(log.is_dir() && !new.exists() && !old.exists());
    let left = found(&state, AINO, &key);
    assert!(left.is_empty(), "after erasure: {left:#?}");
    assert!(!found(&state, ERIK, &key).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doors_retention_purge_leaves_no_bytes_of_the_purged_events() {
    let Some(bin) = e2e::workspace_binary("door-agent") else {
        println!(
            "SKIPPED: the door-agent binary is not built (run through `cargo test --workspace`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // 40 days ago at nine: past the 30 days' retention when the real door starts now.
    let then = door::nine_pm_on(e2e::daemons_now()) - Days::days(40);
    let rig = door_with_events(tmp.path(), then).await;
    let state = rig.dir.join("state");
    let key = card_key(&rig.config);
    assert!(!found(&state, AINO, &key).is_empty());
    assert!(!found(&state, ERIK, &key).is_empty());

    // The door-agent purges at start (and hourly): its own clock now, its own binary.
    let mut daemon = Kill(
        umask_022(&bin, &rig.config, &["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_secs(20) && !found(&state, ERIK, &key).is_empty() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    e2e::signal(daemon.0.id(), rustix::process::Signal::TERM).unwrap();
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_secs(10) && daemon.0.try_wait().unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for card in [AINO, ERIK] {
        let left = found(&state, card, &key);
        assert!(left.is_empty(), "after the purge: {left:#?}");
    }
    // The log itself goes on: the door's start and stop were recorded.
    let o = run(
        &bin,
        &rig.config,
        &[
            "events",
            "--json",
            "--from",
            &(e2e::daemons_now() - Days::days(1))
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            "--to",
            &(e2e::daemons_now() + Days::days(1))
                .format("%Y-%m-%d %H:%M")
                .to_string(),
        ],
        "",
    );
    assert!(text(&o).contains("\"started\""), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_offline_loan_leaves_no_card_number_in_the_kiosks_files() {
    let Some(bin) = e2e::workspace_binary("kiosk") else {
        println!("SKIPPED: the kiosk binary is not built (run through `cargo test --workspace`)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut rig = sim::rig(tmp.path(), &fixtures(), e2e::daemons_now(), "")
        .await
        .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let state = settings.state_dir.clone();
    let key = settings.allowlist.clone().unwrap().card_key;
    let mut k = sim::start_kiosk(settings, AirTime::default(), kiosk::system_clock()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let wait = Duration::from_secs(10);
    k.send(Input::Scan(AINO.into())).await;
    k.wait_for(wait, |v| v.screen == Screen::Pin).await.unwrap();
    k.type_digits("1234").await;
    k.wait_for(wait, |v| v.screen == Screen::Items)
        .await
        .unwrap();
    let sip = rig.running.sip2_tls.unwrap();
    rig.running.stop();
    k.pad.place(sim::tag("HE0000003", 1, 1));
    k.wait_for(wait, |v| {
        v.items.iter().any(|r| r.outcome == Outcome::LentOffline)
    })
    .await
    .unwrap();
    k.shut_down().await.unwrap();
    assert!(
        found(&state, AINO, &key)
            .iter()
            .any(|f| f.starts_with("the card number")),
        "the queue holds the card number until delivery"
    );

    rig.running = library_sim::server::start(library_sim::server::Settings {
        sip2_tls: Some(sip),
        https: None,
        dialect: sip2::Dialect {
            charset: sip2::Charset::Utf8,
            ..sip2::Dialect::standard()
        },
        ..library_sim::server::Settings::loopback(fixtures(), tmp.path().to_owned())
    })
    .await
    .unwrap();
    let o = run(&bin, &rig.config, &["queue", "send"], "");
    assert!(text(&o).contains("delivered 1"), "{}", text(&o));
    assert!(
        rig.running
            .received()
            .iter()
            .any(|r| r.item == "HE0000003" && r.no_block && r.ok)
    );
    // What stays is the PIN verifier the kiosk learned at Aino's online login, keyed by her card
    // hash on purpose (offline, it checks her PIN even if the list could not); it goes after
    // learned_pin_days without an online login, or when she asks to be forgotten.
    let (learned, left): (Vec<String>, Vec<String>) = found(&state, AINO, &key)
        .into_iter()
        .partition(|f| f.contains("/learned-pins/"));
    assert!(left.is_empty(), "after delivery: {left:#?}");
    assert_eq!(learned.len(), 1, "{learned:#?}");
}

/// Modes under `dir` that are not the owner's only.
fn open_modes(dir: &Path) -> Vec<String> {
    let mut out = vec![];
    let mode = std::fs::symlink_metadata(dir).unwrap().permissions().mode() & 0o777;
    if mode != 0o700 {
        out.push(format!("{:o} {}", mode, dir.display()));
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            out.extend(open_modes(&p));
        } else if meta.permissions().mode() & 0o077 != 0 {
            out.push(format!(
                "{:o} {}",
                meta.permissions().mode() & 0o777,
                p.display()
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemons_files_are_their_users_only_under_umask_022() {
    let (Some(door_bin), Some(kiosk_bin), Some(list_bin)) = (
        e2e::workspace_binary("door-agent"),
        e2e::workspace_binary("kiosk"),
        e2e::workspace_binary("offline"),
    ) else {
        println!("SKIPPED: the binaries are not built (run through `cargo test --workspace`)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let rig = door::rig(tmp.path(), &fixtures(), "", e2e::daemons_now(), 72)
        .await
        .unwrap();
    let state = rig.dir.join("state");
    // The offline list by hand first, then the door, then staff commands on its log.
    let o = run(&list_bin, &rig.config, &["sync"], "");
    assert!(o.status.success(), "{}", text(&o));
    let mut daemon = Kill(
        umask_022(&door_bin, &rig.config, &["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_secs(20) && !state.join("control.sock").exists() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(state.join("control.sock").exists(), "the door started");
    e2e::signal(daemon.0.id(), rustix::process::Signal::TERM).unwrap();
    let t = std::time::Instant::now();
    while t.elapsed() < Duration::from_secs(10) && daemon.0.try_wait().unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let o = run(&door_bin, &rig.config, &["erase"], AINO);
    assert!(o.status.success(), "{}", text(&o));

    let kiosk_rig = sim::rig(tmp.path(), &fixtures(), e2e::daemons_now(), "")
        .await
        .unwrap();
    let kiosk_state = kiosk::settings::load(&kiosk_rig.config).unwrap().state_dir;
    let o = run(&kiosk_bin, &kiosk_rig.config, &["queue", "list"], "");
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&list_bin, &kiosk_rig.config, &["sync"], "");
    assert!(o.status.success(), "{}", text(&o));

    for dir in [&state, &kiosk_state] {
        let open = open_modes(dir);
        assert!(open.is_empty(), "not private: {open:#?}");
    }
    assert!(kiosk_state.join("queue").is_dir() && state.join("events").is_dir());
}

/// The console's rows about a card: its events by pseudonym.
async fn console_events_of(db: &central::Db, pseudonym: &str) -> i64 {
    use sqlx::Row as _;
    sqlx::query("SELECT COUNT(*) AS n FROM events WHERE card = $1")
        .bind(pseudonym)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get("n")
        .unwrap()
}

/// Every device's part of the newest patron request, once each has answered (or `None` after
/// 30 s): (device, outcome, detail).
async fn answers(db: &central::Db, devices: usize) -> Option<Vec<(String, String, String)>> {
    use sqlx::Row as _;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let rows = sqlx::query(
            "SELECT p.device_id, c.outcome, c.detail FROM patron_request_devices p JOIN commands c ON c.command_id = p.command_id \
             WHERE p.request_id = (SELECT request_id FROM patron_requests ORDER BY created_at DESC LIMIT 1) ORDER BY p.device_id",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        let got: Vec<(String, Option<String>, Option<String>)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get("device_id").unwrap(),
                    r.try_get("outcome").unwrap(),
                    r.try_get("detail").unwrap(),
                )
            })
            .collect();
        if got.len() == devices && got.iter().all(|(_, o, _)| o.is_some()) {
            return Some(
                got.into_iter()
                    .map(|(d, o, t)| (d, o.unwrap_or_default(), t.unwrap_or_default()))
                    .collect(),
            );
        }
        if tokio::time::Instant::now() >= deadline {
            println!("not all answered: {got:?}");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn newest_request(db: &central::Db) -> String {
    use sqlx::Row as _;
    sqlx::query("SELECT request_id FROM patron_requests ORDER BY created_at DESC LIMIT 1")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get("request_id")
        .unwrap()
}

/// A patron asks for her data and then to be forgotten: an admin types her card number once
/// in the console. The running door and the running kiosk each confirm; the kiosk's offline
/// loan of hers is delivered to the library system first (while it cannot be, the kiosk
/// erases nothing and says why, and is asked again). Afterwards no file of the door, the kiosk
/// or the console (SQLite and its write-ahead log) holds her card in any form the code writes,
/// while another patron's records stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erasure_asked_once_in_the_console_is_confirmed_by_every_device_and_leaves_no_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    let db = console.console.db.clone();
    let nine_pm = door::nine_pm_on(e2e::daemons_now());
    let door_rig = door::rig(&tmp.path().join("door"), &fixtures(), "", nine_pm, 72)
        .await
        .unwrap();
    // The library's card key: the publisher's, which the door, the kiosk and the console share.
    let key_file = tmp.path().join("door/allowlist/card-key.secret");
    let key = allowlist::CardKey::from_text(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
    std::fs::create_dir_all(tmp.path().join("k/allowlist")).unwrap();
    std::fs::copy(&key_file, tmp.path().join("k/allowlist/card-key.secret")).unwrap();
    console
        .console
        .serve_patron_rights(central::patrons::PatronRights {
            key: key.clone(),
            names: None,
        });
    console.follow(door_rig.clock.clock());

    let mut settings = door_agent::settings::load(&door_rig.config).unwrap();
    let door_state = door_rig.dir.join("state");
    settings.console = Some(console.device("lemi-door-1", "LEMI", &door_state).unwrap());
    let mut d = door::start_door(settings, door_rig.clock.clock()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(matches!(
        d.try_card(AINO, "1234#").await,
        Some(door_agent::Feedback::Welcome { .. })
    ));
    d.try_card(AINO, "9999#").await.unwrap();
    assert!(matches!(
        d.try_card(ERIK, "2468#").await,
        Some(door_agent::Feedback::Welcome { .. })
    ));
    let (aino, erik) = (
        door_agent::pseudonym(&key, &CardNumber::new(AINO)),
        door_agent::pseudonym(&key, &CardNumber::new(ERIK)),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while console_events_of(&db, &aino).await < 2 || console_events_of(&db, &erik).await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the door's events never reached the console"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The kiosk, on the door's clock: Aino logs in online (it learns her PIN), then borrows
    // while the library system is away.
    // Its library system and list are made at the door's 21:00 too: a list made at the real time
    // would not yet be in force on that clock after 21:05 (beyond the 5 minutes' skew), and the
    // kiosk would learn no PIN.
    let mut kiosk_rig = sim::rig(&tmp.path().join("k"), &fixtures(), nine_pm, "")
        .await
        .unwrap();
    let mut settings = kiosk::settings::load(&kiosk_rig.config).unwrap();
    let kiosk_state = settings.state_dir.clone();
    settings.console = Some(console.device("lpr-kiosk-1", "LPR", &kiosk_state).unwrap());
    let shared = door_rig.clock.clone();
    let mut k = sim::start_kiosk(
        settings,
        AirTime::default(),
        std::sync::Arc::new(move || shared.now().with_timezone(&chrono::Local)),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let wait = Duration::from_secs(10);
    k.send(Input::Scan(AINO.into())).await;
    k.wait_for(wait, |v| v.screen == Screen::Pin).await.unwrap();
    // A wrong PIN first: the kiosk's event log keeps the refusal under her pseudonym, which
    // her export shows and her erasure removes.
    k.type_digits("9999").await;
    k.wait_for(wait, |v| v.message == Some(ui::Message::WrongPin))
        .await
        .unwrap();
    k.tap(ui::Action::Dismiss).await;
    k.wait_for(wait, |v| v.screen == Screen::Pin).await.unwrap();
    k.type_digits("1234").await;
    k.wait_for(wait, |v| v.screen == Screen::Items)
        .await
        .unwrap();
    let sip = kiosk_rig.running.sip2_tls.unwrap();
    kiosk_rig.running.stop();
    k.pad.place(sim::tag("HE0000003", 1, 1));
    k.wait_for(wait, |v| {
        v.items.iter().any(|r| r.outcome == Outcome::LentOffline)
    })
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while db.device("lpr-kiosk-1").await.unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the kiosk never reported"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Her export first: the door's events, the kiosk's offline loan, the console's rows.
    let mut admin = console
        .staff("aila", central::staff::Role::Admin)
        .await
        .unwrap();
    let mut staff = console
        .staff("kirsi", central::staff::Role::Staff)
        .await
        .unwrap();
    assert!(
        staff
            .get("/patrons?lang=en")
            .await
            .unwrap()
            .contains("Not allowed")
    );
    let (status, _) = admin
        .submit(
            "/patrons?lang=en",
            "/patrons",
            &[
                ("card", AINO),
                ("kind", "export"),
                ("reason", "her request of 3 Dec"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let export = newest_request(&db).await;
    let got = answers(&db, 2)
        .await
        .expect("both devices answer the export");
    assert!(got.iter().all(|(_, o, _)| o == "done"), "{got:?}");
    let doc = admin
        .get(&format!("/patrons/{export}/export.json"))
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let devices = doc["devices"].as_array().unwrap();
    let door_part = devices
        .iter()
        .find(|p| p["device"] == "lemi-door-1")
        .unwrap();
    let kinds: Vec<&str> = door_part["held"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"entry") && kinds.contains(&"denied"),
        "{door_part}"
    );
    let kiosk_part = devices
        .iter()
        .find(|p| p["device"] == "lpr-kiosk-1")
        .unwrap();
    assert_eq!(
        kiosk_part["held"]["offline_loans"][0]["loan_of_item"], "HE0000003",
        "{kiosk_part}"
    );
    assert!(
        kiosk_part["held"]["learned_pin_confirmed_at"].is_i64(),
        "{kiosk_part}"
    );
    assert_eq!(
        kiosk_part["held"]["events"][0]["code"], "wrong-pin",
        "the kiosk's refusal of her wrong PIN: {kiosk_part}"
    );
    assert!(doc["console"].as_array().unwrap().len() >= 2, "{doc}");
    assert!(
        !doc.to_string().contains(AINO),
        "the export names no card number"
    );
    assert!(
        !doc.to_string().contains(&erik),
        "the export holds nobody else's records"
    );

    // The erasure needs the box ticked.
    let (status, page) = admin
        .submit(
            "/patrons?lang=en",
            "/patrons",
            &[
                ("card", AINO),
                ("kind", "erase"),
                ("reason", "her request of 3 Dec"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("Tick the box"), "{page}");
    let (status, _) = admin
        .submit(
            "/patrons?lang=en",
            "/patrons",
            &[
                ("card", AINO),
                ("kind", "erase"),
                ("sure", "yes"),
                ("reason", "her request of 3 Dec"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    let erase = newest_request(&db).await;
    assert_ne!(erase, export);
    let got = answers(&db, 2)
        .await
        .expect("both devices answer the erasure");
    let (_, door_outcome, door_words) = &got[0];
    assert_eq!(door_outcome, "done", "{got:?}");
    assert!(
        door_words.contains("event(s) removed from the event log"),
        "{door_words}"
    );
    // The kiosk cannot deliver her loan yet: it erases nothing, and says why.
    let (_, kiosk_outcome, kiosk_words) = &got[1];
    assert_eq!(kiosk_outcome, "failed", "{got:?}");
    assert!(kiosk_words.contains("nothing was erased"), "{kiosk_words}");
    assert!(
        found(&kiosk_state, AINO, &key)
            .iter()
            .any(|f| f.starts_with("the card number")),
        "the loan waits, with her card number"
    );

    // The library system is back; the admin asks the kiosk again from the request's page.
    kiosk_rig.running = library_sim::server::start(library_sim::server::Settings {
        sip2_tls: Some(sip),
        https: None,
        dialect: sip2::Dialect {
            charset: sip2::Charset::Utf8,
            ..sip2::Dialect::standard()
        },
        ..library_sim::server::Settings::loopback(fixtures(), tmp.path().join("k"))
    })
    .await
    .unwrap();
    let page = format!("/patrons/{erase}?lang=en");
    let (status, _) = admin
        .submit(&page, &format!("/patrons/{erase}/again"), &[])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let got = answers(&db, 2).await.expect("the kiosk answers again");
    assert!(got.iter().all(|(_, o, _)| o == "done"), "{got:?}");
    assert!(
        got[1].2.contains("1 offline loan(s) delivered and removed"),
        "{got:?}"
    );
    assert!(
        kiosk_rig
            .running
            .received()
            .iter()
            .any(|r| r.item == "HE0000003" && r.ok),
        "her loan reached the library system before the erasure"
    );
    let shown = admin.get(&page).await.unwrap();
    assert!(shown.contains("2 / 2"), "{shown}");
    // Her earlier export went with the erasure.
    let doc = admin
        .get(&format!("/patrons/{export}/export.json"))
        .await
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert!(doc["console"].is_null(), "{doc}");
    assert!(
        doc["devices"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["held"].is_null()),
        "{doc}"
    );

    // Nothing of hers in any file: the door's and the kiosk's state (the lists' stores hold
    // every patron's hash by design, and are searched for the printable forms only), and the
    // console's database with its write-ahead log: the pseudonyms, and each device's hashes as
    // the signed commands carried them.
    d.shut_down().await.unwrap();
    k.shut_down().await.unwrap();
    let door_left = found(&door_state, AINO, &key);
    assert!(door_left.is_empty(), "the door: {door_left:#?}");
    assert!(
        !found(&door_state, ERIK, &key).is_empty(),
        "Erik's records stay"
    );
    let kiosk_left = found(&kiosk_state, AINO, &key);
    assert!(kiosk_left.is_empty(), "the kiosk: {kiosk_left:#?}");
    let mut needles: Vec<(String, Vec<u8>)> = traces(AINO, &key)
        .into_iter()
        .filter(|(_, _, raw)| !raw)
        .map(|(f, b, _)| (f, b))
        .collect();
    for (device, branch, name) in [
        ("lemi-door-1", "LEMI", "Lemi main door"),
        ("lpr-kiosk-1", "LPR", "LPR kiosk 1"),
    ] {
        for h in
            central::patrons::hashes_for(&key, &CardNumber::new(AINO), branch, device, Some(name))
        {
            needles.push((format!("{device}'s pseudonym"), h.as_bytes()[..32].to_vec()));
            needles.push((format!("{device}'s hash"), h.as_bytes().to_vec()));
            needles.push((
                format!("{device}'s hash in a command's hex"),
                central::hex(h.as_bytes()).into_bytes(),
            ));
        }
    }
    let console_dir = tmp.path().join("console");
    let console_files: Vec<(PathBuf, Vec<u8>)> = files(&console_dir)
        .into_iter()
        .filter(|(p, _)| !p.starts_with(console_dir.join("pki")))
        .collect();
    assert!(
        console_files
            .iter()
            .any(|(p, _)| p.to_string_lossy().ends_with("central.db")),
        "{:?}",
        console_files.iter().map(|(p, _)| p).collect::<Vec<_>>()
    );
    let mut left = vec![];
    for (path, bytes) in &console_files {
        for (form, needle) in &needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                left.push(format!("{form} in {}", path.display()));
            }
        }
    }
    assert!(left.is_empty(), "the console: {left:#?}");
    assert!(
        console_files
            .iter()
            .any(|(_, b)| b.windows(erik.len()).any(|w| w == erik.as_bytes())),
        "Erik's events stay in the console"
    );
    assert_eq!(console_events_of(&db, &erik).await, 1);
    kiosk_rig.running.stop();
    door_rig.running.stop();
    console.console.stop().await;
}
