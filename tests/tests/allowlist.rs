//! The offline allow-list end to end: the simulator publishes signed lists over HTTPS, a device
//! syncs them into a real sled store and checks cards and PINs; damaged, replayed, revoked,
//! misbased and expired lists are refused with the old list still in force; a full disk and
//! SIGKILL during apply leave one whole list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use allowlist::{Argon2Params, Refusal};
use e2e::settings;
use library_sim::fixtures::Fixtures;
use library_sim::publishing::{self, PublisherFiles};
use offline::{Applied, ApplyError, Fetcher, OfflineAnswer, OfflineList, Synced};
use redact::{CardNumber, Pin};
use sha2::Digest;

/// Cheap verifiers keep the tests fast; the format carries the parameters, so nothing else changes.
const CHEAP: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    lanes: 1,
};
const AINO: &str = "24680000000011";

fn fixtures() -> Fixtures {
    // Resolved for today by the system clock, as the simulator these tests start resolves them.
    Fixtures::parse(
        Path::new("heili.toml"),
        library_sim::DEFAULT_FIXTURES,
        library_sim::clock::Clock::system().today(),
    )
    .unwrap()
}

fn now() -> i64 {
    e2e::daemons_now().timestamp()
}

/// Publishes from the fixtures with fines from `fines`, at `at`.
fn publish(
    files: &PublisherFiles,
    fines: &dyn Fn(&str) -> u64,
    at: i64,
    hours: i64,
) -> publisher::Publication {
    publishing::publish(&fixtures(), Some(fines), files, at, hours, CHEAP).unwrap()
}

fn no_fines(_: &str) -> u64 {
    0
}

/// A device directory with a config trusting `keys`, revoking `revoked`.
fn device(
    dir: &Path,
    files: &PublisherFiles,
    url: Option<String>,
    ca: Option<&Path>,
    keys: &[String],
    revoked: &[String],
    extra: &str,
) -> OfflineList {
    std::fs::create_dir_all(dir).unwrap();
    let key = dir.join("card-key.secret");
    std::fs::copy(&files.card_key, &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut toml = String::from(
        "[allowlist]\nstore = \"store\"\ncard_key = \"card-key.secret\"\nscopes = [\"heili\", \"LEMI\"]\n",
    );
    if let Some(u) = url {
        toml += &format!("url = \"{u}\"\n");
    }
    if let Some(ca) = ca {
        toml += &format!("ca = \"{}\"\n", ca.display());
    }
    toml += &format!("keys = {keys:?}\nrevoked = {revoked:?}\n{extra}");
    std::fs::write(dir.join("door.toml"), toml).unwrap();
    OfflineList::open(config::allowlist::load(&dir.join("door.toml")).unwrap()).unwrap()
}

fn apply(list: &OfflineList, path: &Path, at: i64) -> Result<Applied, ApplyError> {
    let s = list.settings();
    offline::apply_file(list.store(), &s.anchors, path, at, s.max_list_bytes)
}

fn check(list: &OfflineList, card: &str, pin: &str, at: i64) -> OfflineAnswer {
    list.check(&CardNumber::new(card), &Pin::new(pin), at)
        .unwrap()
}

/// The store holds one whole list: its entries hash to the signed list hash and count.
fn whole(list: &OfflineList) -> (u64, u64) {
    let c = list.store().current().expect("a list is in force");
    let mut h = sha2::Sha256::new();
    let mut n = 0;
    for e in list.store().entries() {
        h.update(e.unwrap());
        n += 1;
    }
    let hash: [u8; 32] = h.finalize().into();
    assert_eq!(hash, c.header.header.list_hash, "the store holds a mix");
    assert_eq!(n, c.header.header.entry_count);
    (c.header.header.version, n)
}

fn publisher(dir: &Path) -> PublisherFiles {
    publishing::ensure_publisher(dir).unwrap()
}

#[tokio::test]
async fn a_door_syncs_over_https_and_answers_with_the_library_system_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let files = publisher(dir.path());
    publish(&files, &no_fines, now(), 72);
    let mut s = settings(dir.path());
    s.allowlist = Some(files.out.clone());
    let sim = library_sim::server::start(s).await.unwrap();
    let url = format!("https://localhost:{}/allowlist/", sim.https.unwrap().port());
    // The list is served to enrolled devices only: the door presents its certificate.
    let identity = format!(
        "client_cert = \"{}\"\nclient_key = \"{}\"\n",
        sim.device_cert.display(),
        sim.device_key.display()
    );
    let list = device(
        &dir.path().join("door"),
        &files,
        Some(url),
        Some(&sim.ca_cert),
        std::slice::from_ref(&files.public_key),
        &[],
        &identity,
    );
    let steps = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = steps.clone();
    let fetcher = Fetcher::new(&list)
        .unwrap()
        .with_progress(move |p| seen.lock().unwrap().push(p));

    let first = fetcher.sync(&list, now()).await.unwrap();
    assert!(
        matches!(first, Synced::Applied(Applied::Full { entries: 10, .. })),
        "{first:?}"
    );
    assert_eq!(
        first.words().split(':').next(),
        Some(&*format!("version {} applied", whole(&list).0))
    );
    assert!(
        first.words().ends_with("a full list of 10 patron(s)"),
        "{}",
        first.words()
    );
    // The technician saw each step: the head asked, the full list downloaded to its last byte,
    // then applied.
    {
        let steps = steps.lock().unwrap();
        assert!(
            matches!(&steps[0], offline::Progress::Asking { url } if url.ends_with("head.oal"))
        );
        let last_download = steps
            .iter()
            .rev()
            .find_map(|p| match p {
                offline::Progress::Downloading { name, bytes, total } => {
                    Some((name.clone(), *bytes, *total))
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(last_download.0, "full.oal");
        assert_eq!(Some(last_download.1), last_download.2);
        assert!(last_download.1 > 0);
        assert!(
            matches!(steps.last(), Some(offline::Progress::Applying { name }) if name == "full.oal")
        );
    }
    assert!(matches!(
        fetcher.sync(&list, now()).await.unwrap(),
        Synced::Unchanged { .. }
    ));
    assert!(matches!(
        check(&list, AINO, "1234", now()),
        OfflineAnswer::Verified { .. }
    ));

    // Aino's fines go over the limit: the next version reaches the door as a delta.
    let v1 = whole(&list).0;
    publish(
        &files,
        &|c: &str| if c == AINO { 5000 } else { 0 },
        now() + 1,
        72,
    );
    let second = fetcher.sync(&list, now() + 1).await.unwrap();
    assert!(
        matches!(second, Synced::Applied(Applied::Delta { from, .. }) if from == v1),
        "{second:?}"
    );
    match check(&list, AINO, "1234", now() + 1) {
        OfflineAnswer::Verified { facts, .. } => assert!(facts.fines_over_limit),
        other => panic!("{other:?}"),
    }

    sim.stop();
    sim.abort();
    // A fresh client, as after a restart: the old one's pooled connection outlives the stop.
    let fetcher = Fetcher::new(&list).unwrap();
    let err = fetcher.sync(&list, now() + 2).await.unwrap_err();
    assert!(
        matches!(err, offline::SyncError::Unreachable { .. }),
        "{err}"
    );
    assert!(matches!(
        check(&list, AINO, "1234", now() + 2),
        OfflineAnswer::Verified { .. }
    ));
    assert!(matches!(
        check(&list, AINO, "0000", now() + 2),
        OfflineAnswer::WrongPin { tries_left: 4 }
    ));
    assert_eq!(
        check(&list, "99990000", "1234", now() + 2),
        OfflineAnswer::UnknownCard
    );
    // A card that is on the register without self-service permission is not on the list.
    assert_eq!(
        check(&list, "24680000000094", "1234", now() + 2),
        OfflineAnswer::UnknownCard
    );
}

#[test]
fn wrong_pins_lock_a_card_out_and_the_lockout_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let files = publisher(dir.path());
    let t = now();
    publish(&files, &no_fines, t, 72);
    let door = dir.path().join("door");
    let list = device(
        &door,
        &files,
        None,
        None,
        std::slice::from_ref(&files.public_key),
        &[],
        "",
    );
    apply(&list, &files.out.join("full.oal"), t).unwrap();
    for left in (1..5).rev() {
        assert_eq!(
            check(&list, AINO, "0000", t),
            OfflineAnswer::WrongPin { tries_left: left }
        );
    }
    assert!(matches!(
        check(&list, AINO, "0000", t),
        OfflineAnswer::LockedOut { .. }
    ));
    drop(list);
    let list =
        OfflineList::open(config::allowlist::load(&door.join("door.toml")).unwrap()).unwrap();
    assert!(
        matches!(
            check(&list, AINO, "1234", t + 60),
            OfflineAnswer::LockedOut { .. }
        ),
        "the right PIN is not even tried"
    );
    assert!(matches!(
        check(&list, AINO, "1234", t + 15 * 60 + 1),
        OfflineAnswer::Verified { .. }
    ));
}

#[test]
fn damaged_files_are_refused_and_the_old_list_stays_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let files = publisher(dir.path());
    let t = now();
    publish(&files, &no_fines, t, 72);
    let list = device(
        &dir.path().join("door"),
        &files,
        None,
        None,
        std::slice::from_ref(&files.public_key),
        &[],
        "",
    );
    apply(&list, &files.out.join("full.oal"), t).unwrap();
    let held = whole(&list);
    publish(&files, &|_| 5000, t + 1, 72);
    let good = std::fs::read(files.out.join("full.oal")).unwrap();
    let bad = dir.path().join("bad.oal");
    // Every byte flipped, one at a time.
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x40;
        std::fs::write(&bad, &b).unwrap();
        let r = apply(&list, &bad, t + 1);
        assert!(matches!(r, Err(ApplyError::Refused(_))), "byte {i}: {r:?}");
    }
    // Every truncation, and bytes added.
    for n in (0..good.len()).step_by(7) {
        std::fs::write(&bad, &good[..n]).unwrap();
        assert!(
            matches!(apply(&list, &bad, t + 1), Err(ApplyError::Refused(_))),
            "cut at {n}"
        );
    }
    let mut long = good.clone();
    long.extend_from_slice(b"\n");
    std::fs::write(&bad, &long).unwrap();
    assert!(matches!(
        apply(&list, &bad, t + 1),
        Err(ApplyError::Refused(Refusal::BodyLength { .. }))
    ));
    assert_eq!(whole(&list), held);
    assert!(
        matches!(check(&list, AINO, "1234", t + 1), OfflineAnswer::Verified { facts, .. } if !facts.fines_over_limit)
    );
    // The good file still applies.
    std::fs::write(&bad, &good).unwrap();
    assert!(matches!(
        apply(&list, &bad, t + 1),
        Ok(Applied::Full { .. })
    ));
}

#[test]
fn replayed_revoked_misbased_expired_and_foreign_lists_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let files = publisher(dir.path());
    let t = now();
    let v1 = publish(&files, &no_fines, t, 72).version;
    let v1_file = files.out.join("versions").join(format!("{v1}.oal"));
    let v2 = publish(
        &files,
        &|c: &str| if c == AINO { 5000 } else { 0 },
        t + 1,
        72,
    )
    .version;
    let delta_1_2 = dir.path().join("delta-1-2.oal");
    std::fs::copy(files.out.join(format!("delta-from-{v1}.oal")), &delta_1_2).unwrap();
    let v3 = publish(&files, &no_fines, t + 2, 72).version;
    let list = device(
        &dir.path().join("door"),
        &files,
        None,
        None,
        std::slice::from_ref(&files.public_key),
        &[],
        "",
    );

    // A delta needs its base.
    assert!(matches!(
        apply(&list, &delta_1_2, t + 3),
        Err(ApplyError::Refused(Refusal::WrongBase { .. }))
    ));
    assert!(list.store().current().is_none());
    apply(&list, &files.out.join(format!("versions/{v2}.oal")), t + 3).unwrap();
    // Replays of older lists and deltas.
    assert!(matches!(
        apply(&list, &v1_file, t + 3),
        Err(ApplyError::Refused(Refusal::Rollback { .. }))
    ));
    // The delta that made the list held is the same list again.
    assert!(matches!(
        apply(&list, &delta_1_2, t + 3),
        Ok(Applied::Unchanged { .. })
    ));
    assert!(matches!(
        apply(&list, &files.out.join(format!("versions/{v2}.oal")), t + 3),
        Ok(Applied::Unchanged { .. })
    ));
    // Expired, and a clock behind the issue time.
    assert!(matches!(
        apply(&list, &files.out.join("full.oal"), t + 2 + 72 * 3600),
        Err(ApplyError::Refused(Refusal::Expired { .. }))
    ));
    assert!(matches!(
        apply(&list, &files.out.join("full.oal"), t - 3600),
        Err(ApplyError::Refused(Refusal::ClockBehind { .. }))
    ));
    assert_eq!(whole(&list).0, v2);
    apply(&list, &files.out.join(format!("versions/{v3}.oal")), t + 3).unwrap();
    assert!(matches!(
        apply(&list, &delta_1_2, t + 3),
        Err(ApplyError::Refused(Refusal::Rollback { .. }))
    ));

    // Another device of another consortium, and one with another card key.
    let foreign = dir.path().join("foreign");
    let other = device(
        &foreign,
        &files,
        None,
        None,
        std::slice::from_ref(&files.public_key),
        &[],
        "",
    );
    drop(other);
    std::fs::write(
        foreign.join("door.toml"),
        std::fs::read_to_string(foreign.join("door.toml"))
            .unwrap()
            .replace("[\"heili\", \"LEMI\"]", "[\"vaski\"]"),
    )
    .unwrap();
    let other =
        OfflineList::open(config::allowlist::load(&foreign.join("door.toml")).unwrap()).unwrap();
    assert!(matches!(
        apply(&other, &files.out.join("full.oal"), t + 3),
        Err(ApplyError::Refused(Refusal::OtherScope { .. }))
    ));

    // A new key; the old one revoked on the device: lists signed by the old key alone are refused,
    // and the list held (signed by it) is no longer in force.
    let (new_key, new_private, _) =
        publisher::secrets::new_signing_key(&dir.path().join("keys2")).unwrap();
    let door2 = dir.path().join("door2");
    let old_id = files.public_key.clone();
    let old_kid = allowlist::PublicKey::from_text(&old_id)
        .unwrap()
        .id()
        .to_string();
    let rotated = device(
        &door2,
        &files,
        None,
        None,
        &[old_id.clone(), new_key.public().to_string()],
        &[],
        "",
    );
    apply(&rotated, &files.out.join("full.oal"), t + 3).unwrap();
    drop(rotated);
    std::fs::write(
        door2.join("door.toml"),
        std::fs::read_to_string(door2.join("door.toml"))
            .unwrap()
            .replace("revoked = []", &format!("revoked = [\"{old_kid}\"]")),
    )
    .unwrap();
    let rotated =
        OfflineList::open(config::allowlist::load(&door2.join("door.toml")).unwrap()).unwrap();
    assert!(matches!(
        rotated.check(&CardNumber::new(AINO), &Pin::new("1234"), t + 3),
        Err(offline::OfflineError::NotInForce(Refusal::RevokedKey(_)))
    ));
    let mut files2 = files.clone();
    files2.signing_key = new_private;
    let v4 = publishing::publish(&fixtures(), Some(&no_fines), &files2, t + 4, 72, CHEAP)
        .unwrap()
        .version;
    assert!(matches!(
        apply(
            &rotated,
            &files.out.join(format!("versions/{v3}.oal")),
            t + 4
        ),
        Err(ApplyError::Refused(_))
    ));
    assert!(
        matches!(apply(&rotated, &files.out.join("full.oal"), t + 4), Ok(Applied::Full { version, .. }) if version == v4)
    );
    assert!(matches!(
        check(&rotated, AINO, "1234", t + 4),
        OfflineAnswer::Verified { .. }
    ));
}

#[test]
fn an_expired_list_answers_only_under_the_grace_policy() {
    let dir = tempfile::tempdir().unwrap();
    let files = publisher(dir.path());
    let t = now();
    publish(&files, &no_fines, t, 1);
    let deny = device(
        &dir.path().join("deny"),
        &files,
        None,
        None,
        std::slice::from_ref(&files.public_key),
        &[],
        "",
    );
    let grace = device(
        &dir.path().join("grace"),
        &files,
        None,
        None,
        std::slice::from_ref(&files.public_key),
        &[],
        "when_expired = \"grace\"\ngrace_hours = 2\n",
    );
    for l in [&deny, &grace] {
        apply(l, &files.out.join("full.oal"), t).unwrap();
    }
    let late = t + 3600 + 60;
    assert!(matches!(
        deny.check(&CardNumber::new(AINO), &Pin::new("1234"), late),
        Err(offline::OfflineError::Expired { .. })
    ));
    assert!(matches!(
        check(&grace, AINO, "1234", late),
        OfflineAnswer::Verified {
            past_expiry: true,
            ..
        }
    ));
    assert!(
        grace
            .check(&CardNumber::new(AINO), &Pin::new("1234"), t + 3 * 3600 + 1)
            .is_err()
    );
    // A clock turned back before the issue time does not revive a list.
    assert!(matches!(
        deny.check(&CardNumber::new(AINO), &Pin::new("1234"), t - 3600),
        Err(offline::OfflineError::NotInForce(
            Refusal::ClockBehind { .. }
        ))
    ));
}

/// Runs `apply` of a file in a child process: this test binary itself, running only
/// [`child_apply`], so that the parent can SIGKILL a real process mid-apply.
fn spawn_apply(config: &Path, file: &Path, at: i64) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_apply", "--exact", "--test-threads=1", "--nocapture"])
        .env("ALLOWLIST_CHILD_CONFIG", config)
        .env("ALLOWLIST_CHILD_FILE", file)
        .env("ALLOWLIST_CHILD_NOW", at.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// The child's side of [`spawn_apply`]; does nothing in a normal test run.
#[test]
fn child_apply() {
    let (Ok(config), Ok(file), Ok(at)) = (
        std::env::var("ALLOWLIST_CHILD_CONFIG"),
        std::env::var("ALLOWLIST_CHILD_FILE"),
        std::env::var("ALLOWLIST_CHILD_NOW"),
    ) else {
        return;
    };
    let list = OfflineList::open(config::allowlist::load(Path::new(&config)).unwrap()).unwrap();
    apply(&list, Path::new(&file), at.parse().unwrap()).unwrap();
}

/// A synthetic list of `n` patrons published at `at`: its full file.
fn synthetic(files: &PublisherFiles, dir: &Path, n: u64, changed: u64, at: i64) -> PathBuf {
    let export = dir.join("export.jsonl");
    publishing::synthetic_export(&export, n, changed, 0.5).unwrap();
    let p = publisher::publish(&publisher::Options {
        source: publisher::Source::Export(export),
        state: files.dir.join("synthetic-state"),
        out: files.out.clone(),
        keys: vec![files.signing_key.clone()],
        card_key: files.card_key.clone(),
        scope: vec!["heili".into()],
        valid_for: 72 * 3600,
        fine_limit_cents: None,
        keep: 1,
        jobs: 2,
        argon2: CHEAP,
        now: at,
        progress: false,
        max_problem_share: 0.0,
        max_bcrypt_cost: publisher::build::MAX_BCRYPT_COST,
        branch_lists: vec![],
    })
    .unwrap();
    let path = dir.join(format!("list-{}.oal", p.version));
    std::fs::copy(files.out.join("full.oal"), &path).unwrap();
    path
}

#[test]
fn a_full_disk_during_apply_is_refused_and_the_old_list_stays() {
    let dir = tempfile::tempdir().unwrap();
    let files = publisher(dir.path());
    let t = now();
    let small = synthetic(&files, dir.path(), 200, 0, t);
    let big = synthetic(&files, dir.path(), 30_000, 0, t + 1);
    let mnt = dir.path().join("small-disk");
    std::fs::create_dir_all(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!(
            "SKIPPED: cannot mount a small tmpfs here (needs root); the full-disk case is not checked"
        );
        return;
    }
    let result = std::panic::catch_unwind(|| {
        let door = mnt.join("door");
        let list = device(
            &door,
            &files,
            None,
            None,
            std::slice::from_ref(&files.public_key),
            &[],
            "",
        );
        apply(&list, &small, t + 1).unwrap();
        let err = apply(&list, &big, t + 1).unwrap_err();
        assert!(matches!(err, ApplyError::DiskFull { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("not enough disk space for the new list"),
            "{err}"
        );
        drop(list);
        // sled lets go of its file lock when its last I/O thread does, which on a loaded
        // machine can be a moment after the drop (a daemon reopens in a new process, where the
        // kernel has released it): wait for it, with a deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let list = loop {
            match OfflineList::open(config::allowlist::load(&door.join("door.toml")).unwrap()) {
                Ok(list) => break list,
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(
            whole(&list).1,
            180,
            "the old list (200 patrons, 180 with permission) is in force"
        );
    });
    let _ = std::process::Command::new("umount").arg(&mnt).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

#[test]
fn sigkill_during_apply_leaves_one_whole_list() {
    // CI runs a few dozen trials; ALLOWLIST_KILL_TRIALS=200 (or more) for the long run.
    let trials: usize = std::env::var("ALLOWLIST_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let dir = tempfile::tempdir().unwrap();
    let files = publisher(dir.path());
    let t = now();
    // Two contents, alternating, each published as a new version, with the delta from the one
    // before (a third of the entries changed: most blocks are rewritten).
    let mut lists: Vec<(PathBuf, Option<PathBuf>)> = vec![];
    for i in 0..trials as i64 + 2 {
        let full = synthetic(
            &files,
            dir.path(),
            12_000,
            if i % 2 == 0 { 0 } else { 4_000 },
            t + i,
        );
        let delta = lists.last().map(|(prev, _): &(PathBuf, _)| {
            let from = version_of(prev);
            let d = dir
                .path()
                .join(format!("delta-{from}-{}.oal", version_of(&full)));
            std::fs::copy(files.out.join(format!("delta-from-{from}.oal")), &d).unwrap();
            d
        });
        lists.push((full, delta));
    }
    let door = dir.path().join("door");
    let list = device(
        &door,
        &files,
        None,
        None,
        std::slice::from_ref(&files.public_key),
        &[],
        "",
    );
    apply(&list, &lists[0].0, t + 1_000).unwrap();
    drop(list);
    // The kill times spread over a whole apply, measured here (process start included), so
    // that some land on the commit.
    let started = std::time::Instant::now();
    let status = spawn_apply(&door.join("door.toml"), &lists[1].0, t + 1_000)
        .wait()
        .unwrap();
    assert!(status.success());
    let span = started.elapsed().as_micros() as u64 * 12 / 10;
    let mut applied = 0;
    let mut killed = 0;
    let mut deltas = 0;
    let mut seed = t as u64;
    for (i, (full, delta)) in lists[2..].iter().enumerate() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = std::time::Duration::from_micros((seed >> 33) % span.max(1));
        let mut before = {
            let l = OfflineList::open(config::allowlist::load(&door.join("door.toml")).unwrap())
                .unwrap();
            whole(&l).0
        };
        let next_version = version_of(full);
        // Every other trial a delta: its base applied first (unkilled) when a kill left the
        // store at the list before it.
        let file = match delta {
            Some(d) if i % 2 == 0 => {
                if delta_base(d) != before {
                    let base = &lists[i + 1].0;
                    assert_eq!(version_of(base), delta_base(d));
                    let st = spawn_apply(&door.join("door.toml"), base, t + 1_000)
                        .wait()
                        .unwrap();
                    assert!(st.success());
                    before = delta_base(d);
                }
                deltas += 1;
                d
            }
            _ => full,
        };
        let mut child = spawn_apply(&door.join("door.toml"), file, t + 1_000);
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.success() {
            applied += 1;
        } else {
            killed += 1;
        }
        let l =
            OfflineList::open(config::allowlist::load(&door.join("door.toml")).unwrap()).unwrap();
        let (version, _) = whole(&l);
        assert!(
            version == before || version == next_version,
            "version {version} is neither {before} nor {next_version}"
        );
        if status.success() {
            assert_eq!(version, next_version);
        }
        assert!(l.store().ratchet().unwrap().floor(&l.settings().anchors) >= version);
    }
    eprintln!(
        "{trials} trials ({deltas} deltas; kills spread over {span} µs): {killed} killed mid-apply, {applied} finished; the store held one whole list every time"
    );
    assert!(
        killed > 0,
        "no trial was killed mid-apply: the test proved nothing"
    );
}

fn version_of(file: &Path) -> u64 {
    allowlist::SignedHeader::parse(&std::fs::read(file).unwrap())
        .unwrap()
        .header
        .version
}

fn delta_base(file: &Path) -> u64 {
    allowlist::SignedHeader::parse(&std::fs::read(file).unwrap())
        .unwrap()
        .header
        .base
        .unwrap()
        .0
}
