//! What the tools write reads well wherever it goes: a pipe or a file gets no colour escape
//! codes, and when standard error is the journal's stream (`JOURNAL_STREAM` names its device
//! and inode, as systemd sets it) each line starts with its syslog priority for journald; `-c`
//! is taken after the subcommand as well as before. Judged on the real `registry` binary talking
//! to the simulator over SIP2/TLS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_have_no_colour_codes_in_a_pipe_and_priorities_in_the_journal() {
    let Some(bin) = e2e::workspace_binary("registry") else {
        println!(
            "SKIPPED: the registry binary is not built (run through `cargo test --workspace`)"
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let sim = e2e::start(&tmp.path().join("sim")).await;
    e2e::DeviceSetup::sip2().settings(tmp.path(), &sim).unwrap();
    let config = tmp.path().join("registry.toml");
    let item = |stderr: Stdio, journal: Option<String>| {
        let mut c = Command::new(&bin);
        // -c and -v after the subcommand, as a technician types them.
        c.args(["item", "HE0000003", "-c"])
            .arg(&config)
            .arg("-v")
            .env_remove("RUST_LOG")
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::piped())
            .stderr(stderr);
        if let Some(j) = journal {
            c.env("JOURNAL_STREAM", j);
        }
        c
    };

    // Into a pipe: plain lines, no escape codes.
    let out = tokio::task::spawn_blocking({
        let mut c = item(Stdio::piped(), None);
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("HE0000003"));
    assert!(stderr.contains("INFO"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");

    // Into the journal's stream: a file standing in for journald's socket, named by device and
    // inode as systemd names it.
    let file = tmp.path().join("journal");
    let f = std::fs::File::create(&file).unwrap();
    let meta = f.metadata().unwrap();
    let journal = format!("{}:{}", meta.dev(), meta.ino());
    let out = tokio::task::spawn_blocking({
        let mut c = item(Stdio::from(f), Some(journal));
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.is_empty());
    for line in text.lines() {
        assert!(
            line.starts_with("<6>")
                || line.starts_with("<4>")
                || line.starts_with("<3>")
                || line.starts_with("<7>"),
            "{line}"
        );
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
    assert!(text.lines().any(|l| l.starts_with("<6>")), "{text}");

    // The same variable inherited by a process whose stderr went elsewhere is not the journal.
    let out = tokio::task::spawn_blocking({
        let mut c = item(
            Stdio::piped(),
            Some(format!("{}:{}", meta.dev(), meta.ino())),
        );
        move || c.output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.starts_with('<'), "{stderr}");
    sim.stop();
}
