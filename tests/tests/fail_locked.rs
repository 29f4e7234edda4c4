//! The door fails locked, whatever happens, judged on the real `door-agent` binary with its pins
//! as files. Each case starts with the lock pin released, as a crash mid-pulse leaves it, then:
//! a start that fails (a configuration that does not validate, a secret readable by others, a
//! state directory of another user, a registry client that cannot start), a library system that
//! does not answer, SIGKILL with the lock released followed by the unit's `lock` command (run as
//! the service user, without capabilities), and a panic in the door loop. The lock pin ends
//! engaged every time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use drivers::gpio::FileBackend;
use e2e::Kill;
use rig::door::{self, EXIT, LOCK};

/// The lock pin's level when released (the rig's lock is active high).
const RELEASED: bool = true;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml")
}

fn binary() -> Option<PathBuf> {
    let bin = e2e::workspace_binary("door-agent");
    if bin.is_none() {
        println!(
            "SKIPPED: the door-agent binary is not built (run through `cargo test --workspace`)"
        );
    }
    bin
}

/// The Lemi door's files; the door stands free in no hours (its lock then moves only for the
/// exit button), so no outcome depends on the day or hour the test runs.
async fn rig(tmp: &Path) -> door::Rig {
    let rig = door::rig(
        tmp,
        &fixtures(),
        "free_when_staffed = false",
        e2e::daemons_now(),
        72,
    )
    .await
    .unwrap();
    edit(&rig.config, "pulse_ms = 3000", "pulse_ms = 60000");
    rig
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

fn lock_level(rig: &door::Rig) -> Option<bool> {
    FileBackend::level(&rig.gpio, LOCK)
}

/// A crash left the relay released.
fn released_by_a_crash(rig: &door::Rig) {
    std::fs::create_dir_all(&rig.gpio).unwrap();
    FileBackend::set_level(&rig.gpio, LOCK, RELEASED).unwrap();
    assert_eq!(lock_level(rig), Some(RELEASED));
}

fn spawn(bin: &Path, rig: &door::Rig, command: &str, env: &[(&str, &str)], log: &Path) -> Kill {
    Kill(
        Command::new(bin)
            .arg("-c")
            .arg(&rig.config)
            .arg(command)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
            .spawn()
            .unwrap(),
    )
}

async fn until(what: &str, within: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn exit_of(agent: &mut Kill, within: Duration) -> ExitStatus {
    let mut status = None;
    until("the door-agent to exit", within, || {
        status = agent.0.try_wait().unwrap();
        status.is_some()
    })
    .await;
    status.unwrap()
}

/// `door-agent run` that must fail to start: exits with `code` (sysexits(3)), says why, and
/// leaves the lock engaged although a crash had left it released.
async fn start_fails_locked(
    bin: &Path,
    rig: &door::Rig,
    tmp: &Path,
    why: &str,
    code: i32,
) -> String {
    released_by_a_crash(rig);
    let log = tmp.join("agent.log");
    let mut agent = spawn(bin, rig, "run", &[], &log);
    let status = exit_of(&mut agent, Duration::from_secs(30)).await;
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(why), "expected {why:?} in: {stderr}");
    assert_eq!(lock_level(rig), Some(!RELEASED), "lock engaged: {stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_that_fails_leaves_the_lock_engaged() {
    let Some(bin) = binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(tmp.path()).await;
    let good = std::fs::read_to_string(&rig.config).unwrap();

    // A configuration that does not validate.
    edit(&rig.config, "[rules]", "frobnicate = true\n\n[rules]");
    // EX_CONFIG
    start_fails_locked(&bin, &rig, tmp.path(), "frobnicate", 78).await;
    std::fs::write(&rig.config, &good).unwrap();

    // A secret file others may read.
    let secret = rig.dir.join("registry.secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
    start_fails_locked(&bin, &rig, tmp.path(), "mode 0644", 78).await;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();

    // A registry client that cannot start: its pinned CA is not a certificate.
    let ca = rig.running.ca_cert.display().to_string();
    let bad_ca = rig.dir.join("bad-ca.pem");
    std::fs::write(&bad_ca, "not a certificate\n").unwrap();
    let text = good.replacen(
        &format!("ca = \"{ca}\"\ninstitution"),
        &format!("ca = \"{}\"\ninstitution", bad_ca.display()),
        1,
    );
    assert_ne!(text, good, "the rig's [registry.sip2] has no ca");
    std::fs::write(&rig.config, text).unwrap();
    start_fails_locked(&bin, &rig, tmp.path(), "no certificate in it", 78).await;
    std::fs::write(&rig.config, &good).unwrap();

    // A state directory of another user (as root running an export would leave it).
    if is_root() {
        let state = rig.dir.join("state");
        std::fs::create_dir_all(&state).unwrap();
        std::os::unix::fs::chown(&state, Some(65534), Some(65534)).unwrap();
        // EX_NOPERM
        start_fails_locked(&bin, &rig, tmp.path(), "belongs to the user", 77).await;
        std::os::unix::fs::chown(&state, Some(0), Some(0)).unwrap();
    } else {
        println!("SKIPPED the state directory of another user: not root");
    }

    // Not even the lock's pin can be read: said so, nothing else attempted.
    std::fs::write(&rig.config, good.replacen("lock = 17", "lock = 99", 1)).unwrap();
    let log = tmp.path().join("agent.log");
    let mut agent = spawn(&bin, &rig, "run", &[], &log);
    let status = exit_of(&mut agent, Duration::from_secs(30)).await;
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("cannot engage the lock") && stderr.contains("gpio.lock"),
        "{stderr}"
    );
    assert!(!rig.dir.join("state/events").exists(), "{stderr}");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|euid| euid == "0"))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_library_system_still_starts_a_locked_door() {
    let Some(bin) = binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(tmp.path()).await;
    rig.running.stop();
    released_by_a_crash(&rig);
    let log = tmp.path().join("agent.log");
    let mut agent = spawn(&bin, &rig, "run", &[], &log);
    let sock = rig.dir.join("state/control.sock");
    until("the door to run", Duration::from_secs(30), || {
        sock.exists() || agent.0.try_wait().unwrap().is_some()
    })
    .await;
    let stderr = || std::fs::read_to_string(&log).unwrap();
    assert!(agent.0.try_wait().unwrap().is_none(), "{}", stderr());
    assert_eq!(lock_level(&rig), Some(!RELEASED), "{}", stderr());
    signal(&agent, rustix::process::Signal::TERM);
    let status = exit_of(&mut agent, Duration::from_secs(15)).await;
    assert!(status.success(), "{status}: {}", stderr());
    assert_eq!(lock_level(&rig), Some(!RELEASED));
}

fn signal(agent: &Kill, signal: rustix::process::Signal) {
    e2e::signal(agent.0.id(), signal).unwrap();
}

/// The door running (its control socket answers), the exit button let go.
async fn running(bin: &Path, rig: &door::Rig, env: &[(&str, &str)], log: &Path) -> Kill {
    std::fs::create_dir_all(&rig.gpio).unwrap();
    FileBackend::set_level(&rig.gpio, EXIT, true).unwrap();
    let mut agent = spawn(bin, rig, "run", env, log);
    let sock = rig.dir.join("state/control.sock");
    until("the door to run", Duration::from_secs(30), || {
        sock.exists() || agent.0.try_wait().unwrap().is_some()
    })
    .await;
    assert_eq!(lock_level(rig), Some(!RELEASED));
    agent
}

/// Presses the exit button (active low) until `done`: pressed and let go again when the door
/// task had not yet read its inputs for the first time (a button held then is not an edge).
async fn press_exit_until(rig: &door::Rig, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        FileBackend::set_level(&rig.gpio, EXIT, false).unwrap();
        let press = Instant::now() + Duration::from_secs(1);
        while Instant::now() < press {
            if done() {
                FileBackend::set_level(&rig.gpio, EXIT, true).unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        FileBackend::set_level(&rig.gpio, EXIT, true).unwrap();
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        // Let go for longer than the door's debounce (two polls of 20 ms).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_the_lock_released_then_the_units_lock_command_engages_it() {
    let Some(bin) = binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(tmp.path()).await;
    let log = tmp.path().join("agent.log");
    let mut agent = running(&bin, &rig, &[], &log).await;
    press_exit_until(&rig, "the exit button to release the lock", || {
        lock_level(&rig) == Some(RELEASED)
    })
    .await;
    agent.0.kill().unwrap();
    agent.0.wait().unwrap();
    assert_eq!(
        lock_level(&rig),
        Some(RELEASED),
        "a killed process leaves the pin as it was"
    );

    // ExecStopPost, as the unit runs it: the service user, no capabilities, no new privileges.
    // It reads the configuration and drives the pin, and nothing else: the secrets (root's,
    // 0600) are out of its reach.
    if !is_root() || Command::new("setpriv").arg("--version").output().is_err() {
        println!("SKIPPED the service user: needs root and setpriv; running as this user");
        let out = lock_command(&bin, &rig, &[]);
        assert!(out.status.success(), "{out:?}");
    } else {
        for d in [tmp.path(), rig.dir.as_path()] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(&rig.config, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::chown(&rig.gpio, Some(65534), Some(65534)).unwrap();
        assert_eq!(
            std::fs::metadata(rig.dir.join("registry.secret"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        let out = lock_command(
            &bin,
            &rig,
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--no-new-privs",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ],
        );
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("GPIO 17: the lock is engaged"),
            "{out:?}"
        );
    }
    assert_eq!(lock_level(&rig), Some(!RELEASED));
}

fn lock_command(bin: &Path, rig: &door::Rig, wrapper: &[&str]) -> std::process::Output {
    let mut argv: Vec<std::ffi::OsString> = wrapper.iter().map(Into::into).collect();
    argv.push(bin.into());
    argv.extend(["-c".into(), rig.config.clone().into(), "lock".into()]);
    Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_command_works_when_the_configuration_does_not() {
    let Some(bin) = binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(tmp.path()).await;
    let good = std::fs::read_to_string(&rig.config).unwrap();
    let broken = [
        // Not TOML at all, in another table.
        good.replacen("[rules]", "[rules\nmin_age = = 15", 1),
        // Valid TOML that does not validate: an unknown key in [gpio], a missing table.
        good.replacen("[gpio]", "[gpio]\nbuzer = 13", 1),
        good.replacen("[hours]", "[no-hours]", 1),
    ];
    for text in broken {
        std::fs::write(&rig.config, &text).unwrap();
        let check = Command::new(&bin)
            .arg("-c")
            .arg(&rig.config)
            .arg("check-config")
            .output()
            .unwrap();
        assert!(!check.status.success(), "the configuration is broken");
        released_by_a_crash(&rig);
        let out = lock_command(&bin, &rig, &[]);
        assert!(out.status.success(), "{out:?}");
        assert_eq!(lock_level(&rig), Some(!RELEASED));
    }
    // Without a usable lock pin it says why, and fails.
    std::fs::write(
        &rig.config,
        good.replacen("backend = \"files\"", "backend = \"sysfs\"", 1),
    )
    .unwrap();
    let out = lock_command(&bin, &rig, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(
        stderr.contains("cannot engage the lock") && stderr.contains("gpio.backend"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_door_task_with_the_lock_released_ends_the_process_locked() {
    let Some(bin) = binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(tmp.path()).await;
    let log = tmp.path().join("agent.log");
    // Debug builds only: the daemon panics right after it released the lock.
    let mut agent = running(&bin, &rig, &[("DOOR_AGENT_TEST_PANIC", "released")], &log).await;
    press_exit_until(&rig, "the door-agent to exit", || {
        agent.0.try_wait().unwrap().is_some()
    })
    .await;
    let status = exit_of(&mut agent, Duration::from_secs(15)).await;
    let stderr = std::fs::read_to_string(&log).unwrap();
    // Exits (tokio caught nothing and ran on), with a status systemd restarts on.
    assert_eq!(status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains("panicked at door-agent/src/door.rs")
            && stderr.contains("the lock is engaged; exiting"),
        "{stderr}"
    );
    assert_eq!(lock_level(&rig), Some(!RELEASED), "{stderr}");
}

/// `door-agent selftest` with the technician nowhere (the door is never opened), its standard
/// error to `log`.
fn selftest(bin: &Path, rig: &door::Rig, env: &[(&str, &str)], log: &Path) -> Kill {
    std::fs::create_dir_all(&rig.gpio).unwrap();
    FileBackend::set_level(&rig.gpio, EXIT, true).unwrap();
    Kill(
        Command::new(bin)
            .arg("-c")
            .arg(&rig.config)
            .args(["selftest", "--wait", "30"])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()))
            .spawn()
            .unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_selftest_with_the_lock_released_ends_the_process_locked() {
    let Some(bin) = binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(tmp.path()).await;
    let log = tmp.path().join("selftest.log");
    // Debug builds only: the selftest panics right after it released the lock for the relay
    // check (the lock's sense, the LEDs and the buzzer are tried first, a second each).
    let mut agent = selftest(&bin, &rig, &[("DOOR_AGENT_TEST_PANIC", "selftest")], &log);
    let status = exit_of(&mut agent, Duration::from_secs(30)).await;
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains("panicked at door-agent/src/selftest.rs")
            && stderr.contains("the lock is engaged; exiting"),
        "{stderr}"
    );
    assert_eq!(lock_level(&rig), Some(!RELEASED), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selftest_whose_terminal_hangs_up_with_the_lock_released_ends_locked() {
    let Some(bin) = binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(tmp.path()).await;
    let log = tmp.path().join("selftest.log");
    let mut agent = selftest(&bin, &rig, &[], &log);
    let stderr = || std::fs::read_to_string(&log).unwrap();
    until(
        "the selftest to release the lock",
        Duration::from_secs(30),
        || lock_level(&rig) == Some(RELEASED) || agent.0.try_wait().unwrap().is_some(),
    )
    .await;
    assert_eq!(lock_level(&rig), Some(RELEASED), "{}", stderr());
    // The technician's SSH session drops.
    signal(&agent, rustix::process::Signal::HUP);
    let status = exit_of(&mut agent, Duration::from_secs(15)).await;
    assert!(!status.success(), "{}", stderr());
    assert!(stderr().contains("selftest interrupted"), "{}", stderr());
    assert_eq!(lock_level(&rig), Some(!RELEASED), "{}", stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_door_whose_usb_keypad_is_waiting_for_a_key() {
    let Some(bin) = binary() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let rig = rig(tmp.path()).await;
    // An event device that gives nothing (nobody at the door): a FIFO without a writer, whose
    // open (and read) waits in one of tokio's blocking threads, as a real keypad's read does.
    let keypad = tmp.path().join("keypad");
    let made = Command::new("mkfifo").arg(&keypad).status().unwrap();
    assert!(made.success());
    let mut text = std::fs::read_to_string(&rig.config).unwrap();
    text.push_str(&format!(
        "\n[keypad]\nkind = \"evdev\"\npath = \"{}\"\n",
        keypad.display()
    ));
    std::fs::write(&rig.config, text).unwrap();
    let log = tmp.path().join("agent.log");
    let mut agent = running(&bin, &rig, &[], &log).await;
    let stderr = || std::fs::read_to_string(&log).unwrap();
    assert!(agent.0.try_wait().unwrap().is_none(), "{}", stderr());
    signal(&agent, rustix::process::Signal::TERM);
    // Well within the unit's TimeoutStopSec (10 s), after which systemd would SIGKILL it.
    let status = exit_of(&mut agent, Duration::from_secs(5)).await;
    assert!(status.success(), "{status}: {}", stderr());
    assert_eq!(lock_level(&rig), Some(!RELEASED), "{}", stderr());
}
