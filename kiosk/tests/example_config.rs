//! `config/examples/kiosk.toml` is what the README points a technician at: it must stay a file
//! `kiosk check-config` accepts, without warnings.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;

/// The example and the files it names, in a directory as `/etc/omatoimi` would hold them.
fn installed(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/kiosk.toml");
    let config = dir.join("kiosk.toml");
    std::fs::copy(&example, &config).with_context(|| example.display().to_string())?;
    std::fs::write(dir.join("ca.pem"), "-----BEGIN CERTIFICATE-----\n")?;
    std::fs::write(dir.join("device.pem"), "-----BEGIN CERTIFICATE-----\n")?;
    std::fs::write(dir.join("device-key.pem"), "-----BEGIN PRIVATE KEY-----\n")?;
    for (name, text) in [
        (
            "kiosk-sip2.secret",
            "login = \"kiosk-lpr-1\"\npassword = \"kiosk-secret-1\"\n".to_owned(),
        ),
        ("card-key.secret", "ab".repeat(32)),
    ] {
        std::fs::write(dir.join(name), text)?;
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(config)
}

#[test]
fn the_example_kiosk_config_is_valid_and_warns_of_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let s = kiosk::settings::load(&installed(dir.path())?)?;
    assert_eq!(s.warnings(), Vec::<String>::new());
    assert_eq!(s.library, "Lappeenrannan kaupunginkirjasto");
    assert_eq!(s.offline.loan_days.of(Some("VI")), 7);
    assert!(matches!(
        s.pad,
        Some(kiosk::settings::PadSettings::Feig { baud: 38400, .. })
    ));
    assert!(s.scanner.is_some() && s.printer.is_some());
    assert!(s.registry.is_some() && s.allowlist.is_some());
    Ok(())
}
