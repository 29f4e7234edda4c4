//! What the daemons write reads well wherever it goes: a pipe or a file gets no colour escape
//! codes, and when standard error is the journal's stream (`JOURNAL_STREAM` names its device
//! and inode, as systemd sets it for a service) each line starts with its syslog priority for
//! journald; `-c` is taken after the subcommand as well as before. Judged on the real
//! `door-agent` binary running the rig's door (GPIO as files), as systemd would start it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::Kill;

/// Runs `door-agent run -c CONFIG` with its stderr into `log` (and `JOURNAL_STREAM` when
/// given) until it says it is ready; the log's text.
fn run_until_ready(bin: &Path, config: &Path, log: &Path, journal: Option<String>) -> String {
    let file = std::fs::File::create(log).unwrap();
    let mut c = Command::new(bin);
    // -c after the subcommand, as a technician types it.
    c.args(["run", "-c"])
        .arg(config)
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::null())
        .stderr(Stdio::from(file));
    if let Some(j) = journal {
        c.env("JOURNAL_STREAM", j);
    }
    let agent = Kill(c.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains("door-agent ready") {
            drop(agent);
            return text;
        }
        assert!(Instant::now() < deadline, "never ready:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_have_no_colour_codes_in_a_file_and_priorities_in_the_journal() {
    let Some(bin) = e2e::workspace_binary("door-agent") else {
        println!(
            "SKIPPED: the door-agent binary is not built (run through `cargo test --workspace`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = rig::door::rig(
        tmp.path(),
        &fixtures,
        "",
        rig::door::nine_pm_on(e2e::daemons_now()),
        72,
    )
    .await
    .unwrap();

    // Into a file (as into a pipe): plain lines, no escape codes, the start line in words.
    let log = tmp.path().join("plain.log");
    let text = tokio::task::spawn_blocking({
        let (bin, config, log) = (bin.clone(), rig.config.clone(), log.clone());
        move || run_until_ready(&bin, &config, &log, None)
    })
    .await
    .unwrap();
    assert!(!text.contains('\u{1b}'), "{text:?}");
    let ready = text
        .lines()
        .find(|l| l.contains("door-agent ready"))
        .unwrap();
    assert!(
        ready.contains(" INFO ")
            && ready.contains("Lemi main door at LEMI, version ")
            && ready.contains("; offline list "),
        "{ready}"
    );

    // Into the journal's stream: a file standing in for journald's socket, named by device and
    // inode as systemd names it.
    let log = tmp.path().join("journal.log");
    std::fs::File::create(&log).unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let journal = format!("{}:{}", meta.dev(), meta.ino());
    let text = tokio::task::spawn_blocking({
        let (bin, config, log, journal) = (
            bin.clone(),
            rig.config.clone(),
            log.clone(),
            journal.clone(),
        );
        move || run_until_ready(&bin, &config, &log, Some(journal))
    })
    .await
    .unwrap();
    for line in text.lines() {
        assert!(
            ["<3>", "<4>", "<6>", "<7>"]
                .iter()
                .any(|p| line.starts_with(p)),
            "{line}"
        );
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("<6>") && l.contains("door-agent ready")),
        "{text}"
    );

    // The same variable inherited by a process whose stderr went elsewhere is not the journal.
    let log = tmp.path().join("elsewhere.log");
    let text = tokio::task::spawn_blocking({
        let (bin, config, log) = (bin.clone(), rig.config.clone(), log.clone());
        move || run_until_ready(&bin, &config, &log, Some(journal))
    })
    .await
    .unwrap();
    assert!(!text.starts_with('<'), "{text}");
    rig.running.stop();
}

/// The technician's binaries, built now (fresh: `cargo test -p e2e` builds no package's
/// binaries but this one's), in this test's target directory.
fn fresh_binaries(names: &[(&str, &str)]) -> Vec<PathBuf> {
    // Every binary of the workspace, as scripts/test-dates builds them: one build, shared, with
    // the features a workspace build has (a build of a few packages would make its own copy of
    // every library they use).
    let mut c = Command::new(env!("CARGO"));
    c.args(["build", "--locked", "--workspace", "--bins"])
        .arg("--manifest-path")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"));
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    names
        .iter()
        .map(|(_, bin)| e2e::workspace_binary(bin).unwrap())
        .collect()
}

/// Runs `bin args`; its exit code and what it wrote.
fn exit_of(bin: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(bin)
        .args(args)
        .env_remove("DOOR_AGENT_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn every_tool_exits_64_on_a_bad_flag_and_78_on_a_bad_configuration_file() {
    let bins = fresh_binaries(&[
        ("door-agent", "door-agent"),
        ("registry", "registry"),
        ("offline", "offline"),
        ("kiosk", "kiosk"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "[registry\nkind = \n").unwrap();
    let bad = bad.to_str().unwrap();
    let missing = tmp.path().join("missing.toml");
    let missing = missing.to_str().unwrap();
    // Each tool's command that reads its configuration (registry's before it asks for a PIN).
    let commands: [&[&str]; 4] = [
        &["check-config"],
        &["verify", "24680000000011"],
        &["status"],
        &["check-config"],
    ];
    for (bin, command) in bins.iter().zip(commands) {
        let name = bin.file_name().unwrap().to_string_lossy();
        let (code, text) = exit_of(bin, &[&[command[0], "--frobnicate"][..]].concat());
        assert_eq!(code, Some(64), "{name} --frobnicate: {text}");
        assert!(text.contains("--frobnicate"), "{name}: {text}");

        for config in [bad, missing] {
            let args = [&["-c", config][..], command].concat();
            let (code, text) = exit_of(bin, &args);
            assert_eq!(code, Some(78), "{name} {args:?}: {text}");
            assert!(text.contains(config), "{name} names the file: {text}");
        }

        // --help is no mistake, and says what the codes mean.
        let (code, text) = exit_of(bin, &["--help"]);
        assert_eq!(code, Some(0), "{name}: {text}");
        assert!(
            text.contains("64 bad command line") && text.contains("78 bad configuration file"),
            "{name}: {text}"
        );
    }
}

/// A PIN the tool cannot read (standard input empty, as from /dev/null) is no input (66), not a
/// bad configuration, and is not taken for an empty PIN; the library system is not asked.
#[test]
fn a_pin_that_cannot_be_read_exits_66() {
    use std::os::unix::fs::PermissionsExt;
    let bins = fresh_binaries(&[("registry", "registry")]);
    let tmp = tempfile::tempdir().unwrap();
    let secret = tmp.path().join("registry.secret");
    std::fs::write(&secret, "login = \"door-lemi\"\npassword = \"x\"\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // A port nobody listens on: asking the library system would fail otherwise (69).
    let config = tmp.path().join("registry.toml");
    std::fs::write(
        &config,
        "[registry]\nbackend = \"sip2\"\ncredentials = \"registry.secret\"\n\
         [registry.sip2]\naddress = \"127.0.0.1:9\"\ninstitution = \"heili\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    for command in ["verify", "loans"] {
        let (code, text) = exit_of(&bins[0], &["-c", config, command, "24680000000011"]);
        assert_eq!(code, Some(66), "registry {command}: {text}");
        assert!(text.contains("cannot read the PIN"), "{text}");
        assert!(!text.contains("24680000000011"), "{text}");
    }
}

#[test]
fn the_packaged_binaries_make_man_pages_in_valid_roff_naming_each_subcommand() {
    let bins = fresh_binaries(&[
        ("door-agent", "door-agent"),
        ("provision", "omatoimi-provision"),
        ("kiosk", "kiosk"),
    ]);
    let expected: [(&str, &[&str]); 3] = [
        (
            "door-agent",
            &[
                "run",
                "lock",
                "check-config",
                "selftest",
                "status",
                "events",
                "export",
                "erase",
            ],
        ),
        ("omatoimi-provision", &["door", "kiosk", "sign"]),
        (
            "kiosk",
            &[
                "run",
                "check-config",
                "status",
                "selftest",
                "queue",
                "export",
                "erase",
            ],
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let groff = Command::new("groff").arg("--version").output().is_ok();
    for (bin, (name, subcommands)) in bins.iter().zip(expected) {
        let (code, text) = exit_of(bin, &["--man", tmp.path().to_str().unwrap()]);
        assert_eq!(code, Some(0), "{name} --man: {text}");
        let page = |file: &str| {
            std::fs::read_to_string(tmp.path().join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}; wrote {text}"))
        };
        let top = page(&format!("{name}.8"));
        assert!(top.contains(&format!(".TH {name} 8 ")), "{top}");
        assert!(top.contains(".SH \"EXIT STATUS\""), "{top}");
        for sub in subcommands {
            let roff_name = format!("{name}-{sub}(8)").replace('-', "\\-");
            assert!(
                top.contains(&roff_name),
                "{name}.8 lacks {roff_name}:\n{top}"
            );
            let sub_page = page(&format!("{name}-{sub}.8"));
            assert!(sub_page.contains(".SH SYNOPSIS"), "{sub_page}");
        }
        if !groff {
            println!("SKIPPED the roff check: no groff (Debian package groff-base)");
            continue;
        }
        for entry in std::fs::read_dir(tmp.path()).unwrap() {
            let file = entry.unwrap().path();
            // -k: UTF-8 through preconv, as man-db reads a page; -ww: every warning.
            let out = Command::new("groff")
                .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
                .arg(&file)
                .output()
                .unwrap();
            let warnings = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && warnings.is_empty(),
                "{}: {warnings}",
                file.display()
            );
        }
    }
    // And the package installs them.
    let manifest = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../provision/Cargo.toml"),
    )
    .unwrap();
    assert!(manifest.contains("usr/share/man/man8/"), "{manifest}");
}
