//! The unit files, checked offline with the machine's own systemd: `systemd-analyze security`
//! must score each at an exposure of 2.0 or less, and `systemd-analyze verify` must accept it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn units() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd");
    ["door-agent.service", "kiosk.service"]
        .iter()
        .map(|u| dir.join(u))
        .collect()
}

fn analyze() -> Option<()> {
    Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| ())
}

#[test]
fn each_unit_scores_an_exposure_of_at_most_two() {
    if analyze().is_none() {
        println!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    for unit in units() {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(&unit)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.contains("Overall exposure level"))
            .unwrap_or_else(|| panic!("no score for {}: {text}", unit.display()));
        let score: f64 = line
            .split(':')
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unreadable score line {line:?}"));
        println!("{}: exposure {score}", unit.display());
        assert!(
            score <= 2.0,
            "{}: exposure {score} > 2.0\n{text}",
            unit.display()
        );
    }
}

#[test]
fn systemd_accepts_the_units() {
    if analyze().is_none() {
        println!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for unit in units() {
        // The daemons are not installed here: the same unit with a binary that exists.
        let text = std::fs::read_to_string(&unit).unwrap();
        assert!(text.contains("ExecStart=/usr/bin/"), "{}", unit.display());
        let copy = tmp.path().join(unit.file_name().unwrap());
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("ExecStart=") {
                    "ExecStart=/bin/true"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&copy, text).unwrap();
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&copy)
            .output()
            .unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{}: {}",
            unit.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
