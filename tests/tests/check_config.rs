//! `check-config` of both daemons on the demo's files: valid, and the risky settings a
//! technician must see are warned about (plain TCP to the library system, card-only kiosk
//! logins, long event-log retention).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn run(bin: &Path, config: &Path) -> String {
    let out = Command::new(bin)
        .args(["-c", &config.to_string_lossy(), "check-config"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_validates_and_warns_about_risky_settings() {
    let (Some(door_bin), Some(kiosk_bin)) = (
        e2e::workspace_binary("door-agent"),
        e2e::workspace_binary("kiosk"),
    ) else {
        println!("SKIPPED: the daemons are not built (run through `cargo test --workspace`)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let door = library_sim::door::rig(
        &tmp.path().join("d"),
        &fixtures,
        "retention_days = 400",
        library_sim::door::nine_pm_today(),
        72,
    )
    .await
    .unwrap();
    let out = run(&door_bin, &door.config);
    assert!(out.contains("valid"), "{out}");
    assert!(
        out.contains("warning: door.retention_days: 400 days"),
        "{out}"
    );
    assert!(!out.contains("plain TCP"), "{out}");

    let kiosk = library_sim::kiosk::rig(
        &tmp.path().join("k"),
        &fixtures,
        chrono::Utc::now(),
        "pin_required = false",
    )
    .await
    .unwrap();
    let text = std::fs::read_to_string(&kiosk.config).unwrap();
    let ca_line = text
        .lines()
        .find(|l| l.starts_with("ca = ") && l.contains("ca.pem"))
        .unwrap()
        .to_owned();
    std::fs::write(
        &kiosk.config,
        text.replacen(
            &format!("{ca_line}\ninstitution"),
            "insecure_plain_tcp = true\ninstitution",
            1,
        ),
    )
    .unwrap();
    let out = run(&kiosk_bin, &kiosk.config);
    assert!(out.contains("valid (LPR kiosk 1)"), "{out}");
    assert!(out.contains("warning: registry.sip2: plain TCP"), "{out}");
    assert!(out.contains("warning: kiosk.pin_required = false"), "{out}");
}
