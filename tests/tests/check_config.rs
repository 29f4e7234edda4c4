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
    let door = rig::door::rig(
        &tmp.path().join("d"),
        &fixtures,
        "retention_days = 400",
        rig::door::nine_pm_on(e2e::daemons_now()),
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

    let kiosk = rig::kiosk::rig(
        &tmp.path().join("k"),
        &fixtures,
        e2e::daemons_now(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selftest_passes_on_a_good_kiosk_and_names_what_is_missing() {
    let Some(kiosk_bin) = e2e::workspace_binary("kiosk") else {
        println!("SKIPPED: the kiosk binary is not built (run through `cargo test --workspace`)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = rig::kiosk::rig(tmp.path(), &fixtures, e2e::daemons_now(), "")
        .await
        .unwrap();
    let selftest = || {
        let out = Command::new(&kiosk_bin)
            .args(["-c", &rig.config.to_string_lossy(), "selftest"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // A new box: no offline list yet, so the selftest fetches the first one from the list
    // server (the same path the kiosk takes), and passes.
    let (ok, table) = selftest();
    assert!(ok, "{table}");
    assert!(
        table.contains("ok    offline list") && table.contains("fetched now: version"),
        "{table}"
    );
    // After a first run with the network up too, everything passes.
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let k = rig::kiosk::start_kiosk(
        settings,
        drivers::feig_twin::AirTime::default(),
        kiosk::system_clock(),
    )
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    k.shut_down().await.unwrap();
    let (ok, table) = selftest();
    assert!(ok, "{table}");
    for row in [
        "ok    RFID pad",
        "ok    receipt printer",
        "ok    library system",
        "ok    offline list",
    ] {
        assert!(table.contains(row), "{row:?} missing:\n{table}");
    }
    // A test page, read back from the printer twin: the code page's letters and a ruler.
    let out = Command::new(&kiosk_bin)
        .args([
            "-c",
            &rig.config.to_string_lossy(),
            "selftest",
            "--test-page",
        ])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && table.contains("test page printed"),
        "{table}"
    );
    let printed: Vec<String> = rig
        .printer
        .receipts()
        .concat()
        .into_iter()
        .map(|l| l.text)
        .collect();
    assert!(
        printed.iter().any(|l| l.contains("omatoimi test page"))
            && printed.iter().any(|l| l.contains("ÅÄÖ åäö")),
        "{printed:?}"
    );
    // The printer switched off and out of paper: named, and the exit code says so.
    rig.printer.set_status(receipt::PrinterStatus {
        paper_out: true,
        ..Default::default()
    });
    let (ok, table) = selftest();
    assert!(
        !ok && table.contains("FAIL  receipt printer") && table.contains("out of paper"),
        "{table}"
    );
    rig.running.stop();
    let (ok, table) = selftest();
    assert!(!ok && table.contains("FAIL  library system"), "{table}");
}
