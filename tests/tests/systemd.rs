//! The unit files, checked offline with the machine's own systemd: `systemd-analyze security`
//! must score each at an exposure of 2.0 or less, and `systemd-analyze verify` must accept it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn units() -> Vec<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../systemd");
    [
        "door-agent.service",
        "kiosk.service",
        "omatoimi-central.service",
    ]
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
                } else if l.starts_with("ExecStopPost=") {
                    "ExecStopPost=/bin/true"
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

/// `key`'s values in `[section]` of a unit file, in order.
fn values(unit: &str, section: &str, key: &str) -> Vec<String> {
    let mut current = "";
    let mut found = vec![];
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            current = line;
        } else if current == format!("[{section}]") {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    found.push(v.trim().to_owned());
                }
            }
        }
    }
    found
}

/// systemd's time span ("2s", "500ms", "1min", "3") in seconds.
fn seconds(span: &str) -> f64 {
    let digits = span.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: f64 = digits.trim().parse().unwrap();
    match &span[digits.len()..] {
        "" | "s" | "sec" => n,
        "ms" | "msec" => n / 1000.0,
        "m" | "min" => n * 60.0,
        other => panic!("unexpected unit {other:?} in {span:?}"),
    }
}

#[test]
fn the_units_restart_for_ever_and_the_door_is_locked_after_every_stop() {
    for unit in units() {
        let text = std::fs::read_to_string(&unit).unwrap();
        let name = unit.file_name().unwrap().to_string_lossy().into_owned();
        // systemd gives up on a unit that fails 5 times in 10 s unless the limit is off; the
        // key belongs to [Unit] (in [Service] it is ignored with a warning).
        assert_eq!(
            values(&text, "Unit", "StartLimitIntervalSec"),
            ["0"],
            "{name}: start rate limit"
        );
        assert!(
            values(&text, "Service", "StartLimitIntervalSec").is_empty()
                && values(&text, "Service", "StartLimitBurst").is_empty(),
            "{name}"
        );
        assert_eq!(values(&text, "Service", "Restart"), ["always"], "{name}");
        let delay = values(&text, "Service", "RestartSec");
        assert_eq!(delay.len(), 1, "{name}: RestartSec");
        let delay = seconds(&delay[0]);
        assert!(
            (0.5..=10.0).contains(&delay),
            "{name}: RestartSec {delay} s"
        );
    }
    let door = std::fs::read_to_string(&units()[0]).unwrap();
    let start = values(&door, "Service", "ExecStart");
    let stop_post = values(&door, "Service", "ExecStopPost");
    assert_eq!(
        start,
        ["/usr/bin/door-agent -c /etc/omatoimi/door.toml run"]
    );
    // The same binary and configuration as ExecStart, and nothing that would let a failure of
    // the command be ignored ("-") or run it outside the sandbox ("+", "!").
    assert_eq!(
        stop_post,
        ["/usr/bin/door-agent -c /etc/omatoimi/door.toml lock"]
    );
    // `lock` and `run` open the Raspberry Pi's GPIO under DevicePolicy=closed: every device node
    // rppal maps must be allowed, or the lock cannot be engaged (a Pi 5's RP1 is /dev/gpiomem0).
    let allowed = values(&door, "Service", "DeviceAllow");
    // A card key sealed by a TPM is unsealed through /dev/tpmrm0 at start (both daemons).
    for node in [
        "/dev/gpiomem",
        "/dev/gpiomem0",
        "/dev/gpiochip0",
        "/dev/tpmrm0",
    ] {
        assert!(
            allowed.iter().any(|a| a == &format!("{node} rw")),
            "door-agent.service: DeviceAllow={node} rw missing"
        );
    }
}

/// The Debian package's metadata (in `provision/Cargo.toml`, built by `scripts/package`): every
/// file it ships exists, the units it ships are these, the binaries are the workspace's, and the
/// maintainer scripts are valid shell that enable nothing.
#[test]
fn the_package_ships_the_units_the_user_and_the_three_binaries() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest: toml::Table = std::fs::read_to_string(root.join("provision/Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    assert_eq!(deb["name"].as_str(), Some("omatoimi"));
    let assets = deb["assets"].as_array().unwrap();
    let mut binaries = Vec::new();
    let mut shipped = Vec::new();
    for a in assets {
        let a = a.as_array().unwrap();
        let (from, to) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        shipped.push(to.to_owned());
        if let Some(bin) = from.strip_prefix("target/release/") {
            binaries.push(bin.to_owned());
        } else if from.starts_with("../target/man/") {
            // Made by scripts/package from each packaged binary (`--man DIR`), as the binaries
            // are built there: the script must make one for each.
            let script = std::fs::read_to_string(root.join("scripts/package")).unwrap();
            for package in [
                "-p door-agent --",
                "-p kiosk --",
                "--bin omatoimi-provision --",
            ] {
                assert!(
                    script.contains(&format!("{package} --man")),
                    "scripts/package makes no man page with {package}"
                );
            }
        } else {
            assert!(
                root.join("provision").join(from).exists(),
                "{from} is missing"
            );
        }
    }
    binaries.sort();
    assert_eq!(binaries, ["door-agent", "kiosk", "omatoimi-provision"]);
    for to in [
        "usr/lib/systemd/system/",
        "usr/lib/sysusers.d/omatoimi.conf",
        "usr/lib/tmpfiles.d/omatoimi.conf",
    ] {
        assert!(shipped.iter().any(|s| s == to), "{to} not shipped");
    }
    for script in ["postinst", "prerm", "postrm"] {
        let path = root.join("debian").join(script);
        let ok = Command::new("sh").arg("-n").arg(&path).status().unwrap();
        assert!(ok.success(), "{script} is not valid shell");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("systemctl enable"),
            "{script} enables a unit before provisioning"
        );
    }
}
