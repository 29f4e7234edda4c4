//! `config/examples/central.toml` is what a technician starts from: it must stay a file the
//! console accepts.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[test]
fn the_example_console_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/central.toml");
    let config = dir.path().join("central.toml");
    std::fs::copy(&example, &config).unwrap();
    std::fs::write(dir.path().join("console-key.pem"), "x").unwrap();
    std::fs::set_permissions(
        dir.path().join("console-key.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let s = central::Settings::load(&config).unwrap();
    assert_eq!(s.database, "sqlite:/var/lib/omatoimi-central/central.db");
    assert_eq!(s.devices.listen.port(), 8443);
    assert_eq!(s.devices.device_ca, dir.path().join("device-ca.pem"));
    assert_eq!(s.metrics.map(|m| m.port()), Some(9464));
    assert_eq!(s.staff.as_ref().map(|st| st.listen.port()), Some(8444));
    assert_eq!(s.retention.status_days, 90);
    assert_eq!(s.alarms.notify.len(), 2);
    assert_eq!(s.alarms.silent_ms, 15 * 60_000);
    assert!(s.alarms.notify[1].quiet_hours.is_some());
    assert_eq!(s.alarms.smtp.as_ref().map(|m| m.port), Some(587));
}
