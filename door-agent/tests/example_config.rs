//! `config/examples/door.toml` is what the README points a technician at: it must stay a file
//! `door-agent check-config` accepts, without warnings.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;

/// The example and the files it names, in a directory as `/etc/omatoimi` would hold them.
fn installed(dir: &Path) -> anyhow::Result<std::path::PathBuf> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/door.toml");
    let config = dir.join("door.toml");
    std::fs::copy(&example, &config).with_context(|| example.display().to_string())?;
    std::fs::write(dir.join("ca.pem"), "-----BEGIN CERTIFICATE-----\n")?;
    std::fs::write(dir.join("console-ca.pem"), "-----BEGIN CERTIFICATE-----\n")?;
    std::fs::write(dir.join("device.pem"), "-----BEGIN CERTIFICATE-----\n")?;
    std::fs::write(dir.join("device-key.pem"), "-----BEGIN PRIVATE KEY-----\n")?;
    for (name, text) in [
        (
            "door-sip2.secret",
            "login = \"door-lemi\"\npassword = \"door-secret-2\"\n".to_owned(),
        ),
        ("card-key.secret", "ab".repeat(32)),
    ] {
        std::fs::write(dir.join(name), text)?;
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(config)
}

#[test]
fn the_example_door_config_is_valid_and_warns_of_nothing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let s = door_agent::settings::load(&installed(dir.path())?)?;
    assert_eq!(s.warnings(), Vec::<String>::new());
    assert_eq!(s.rules.branch, "LEMI");
    assert_eq!(s.pins.lock.number, 17);
    assert!(s.registry.is_some() && s.keypad.is_some());
    let console = s
        .console
        .as_ref()
        .expect("the example reports to a console");
    assert_eq!(console.status_every, std::time::Duration::from_secs(15));
    assert_eq!(
        (s.readers.len(), s.outputs.len(), s.announcements.len()),
        (1, 1, 1)
    );
    assert_eq!(s.schedule.exceptions.len(), 2);
    Ok(())
}

#[test]
fn any_zone_of_the_systems_database_is_accepted_and_an_unknown_one_named() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = installed(dir.path())?;
    let example = std::fs::read_to_string(&config)?;
    let helsinki = "timezone = \"Europe/Helsinki\"";
    assert!(example.contains(helsinki));
    std::fs::write(
        &config,
        example.replace(helsinki, "timezone = \"America/New_York\""),
    )?;
    let s = door_agent::settings::load(&config)?;
    assert_eq!(s.schedule.zone.name(), "America/New_York");
    std::fs::write(
        &config,
        example.replace(helsinki, "timezone = \"Helsinki\""),
    )?;
    let Err(e) = door_agent::settings::load(&config) else {
        anyhow::bail!("`Helsinki` was accepted as a time zone");
    };
    let e = format!("{e:#}");
    assert!(
        e.contains("hours.timezone") && e.contains("did you mean Europe/Helsinki?"),
        "{e}"
    );
    Ok(())
}

#[test]
fn standing_unlocked_in_staffed_hours_is_warned_of_only_where_there_are_staffed_hours()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = installed(dir.path())?;
    let example = std::fs::read_to_string(&config)?;
    let off = example
        .lines()
        .find(|l| l.starts_with("free_when_staffed"))
        .context("the example says free_when_staffed")?
        .to_owned();
    let free = example.replace(&off, "free_when_staffed = true");
    std::fs::write(&config, &free)?;
    let w = door_agent::settings::load(&config)?.warnings().join("\n");
    assert!(w.contains("free_when_staffed"), "{w}");
    // A branch with no staffed hours at all: nothing to stand unlocked in, nothing to warn of.
    let unstaffed = free
        .replace("[hours.staffed]\n", "")
        .replace("tue = [\"12:00-19:00\"]\n", "")
        .replace("thu = [\"12:00-19:00\"]\n", "");
    std::fs::write(&config, &unstaffed)?;
    let s = door_agent::settings::load(&config)?;
    assert!(s.schedule.week.iter().all(|d| d.staffed.is_empty()));
    assert_eq!(s.warnings(), Vec::<String>::new());
    Ok(())
}

#[test]
fn every_problem_in_a_door_config_is_named_at_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = installed(dir.path())?;
    let example = std::fs::read_to_string(&config)?;
    let line = |start: &str| -> anyhow::Result<String> {
        Ok(example
            .lines()
            .find(|l| l.starts_with(start))
            .with_context(|| format!("the example has {start}"))?
            .to_owned())
    };
    // Three mistakes in three tables.
    let broken = example
        .replace(&line("language = ")?, "language = \"de\"")
        .replace(&line("lock = ")?, "lock = 40")
        .replace(&line("timezone = ")?, "timezone = \"Europe/Lemi\"");
    std::fs::write(&config, broken)?;
    let e = door_agent::settings::load(&config)
        .err()
        .context("a broken file loaded")?
        .to_string();
    assert!(e.contains("3 problems"), "{e}");
    for key in ["door.language", "gpio.lock", "hours.timezone"] {
        assert!(e.contains(&format!("key `{key}`")), "{key} not named:\n{e}");
    }
    assert_eq!(e.lines().count(), 4, "one line a problem:\n{e}");
    Ok(())
}

#[test]
fn osdp_readers_share_no_line_and_one_without_a_key_is_warned_of() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = installed(dir.path())?;
    let example = std::fs::read_to_string(&config)?;
    let osdp =
        |path: &str| format!("\n[[readers]]\nkind = \"osdp\"\npath = \"{path}\"\nkey = \"none\"\n");
    // [[readers]] tables go before the next table of the file: after the example's one reader.
    let at = example.find("[keypad]").context("the example's [keypad]")?;
    let with = |readers: &str| format!("{}{readers}\n{}", &example[..at], &example[at..]);
    std::fs::write(&config, with(&osdp("/dev/ttyUSB1")))?;
    let s = door_agent::settings::load(&config)?;
    let w = s.warnings();
    assert!(
        w.iter()
            .any(|w| w.starts_with("readers[1].key") && w.contains("no secure channel")),
        "{w:?}"
    );
    std::fs::write(
        &config,
        with(&format!("{}{}", osdp("/dev/ttyUSB1"), osdp("/dev/ttyUSB1"))),
    )?;
    let e = door_agent::settings::load(&config)
        .err()
        .context("two readers on one line")?
        .to_string();
    assert!(
        e.contains("readers[2].path") && e.contains("one OSDP reader per line"),
        "{e}"
    );
    Ok(())
}

#[test]
fn the_examples_commented_readers_are_valid_too() -> anyhow::Result<()> {
    use door_agent::settings::ReaderSettings;
    let dir = tempfile::tempdir()?;
    let config = installed(dir.path())?;
    let text = std::fs::read_to_string(&config)?;
    // Every commented-out line of the readers' part that is a table or a key, as a technician
    // uncommenting them would.
    let (head, rest) = text.split_once("[[readers]]").context("no readers")?;
    let (readers, tail) = rest.split_once("[keypad]").context("no keypad")?;
    let uncommented: String = readers
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(c)
                if c.starts_with("[[readers]]")
                    || c.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')) =>
            {
                c
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(
        &config,
        format!("{head}[[readers]]{uncommented}[keypad]{tail}"),
    )?;
    let s = door_agent::settings::load(&config)?;
    let kinds: Vec<&str> = s
        .readers
        .iter()
        .map(|r| match r {
            ReaderSettings::Pcsc { .. } => "pcsc",
            ReaderSettings::Serial { rule, .. } => {
                assert!(rule.query.is_some());
                "serial"
            }
            ReaderSettings::Keyboard { keyboard, .. } => {
                assert_eq!(keyboard.layout, drivers::keymap::Layout::Fi);
                "keyboard"
            }
            ReaderSettings::Wiegand { keys, .. } => {
                assert_eq!(*keys, access::wiegand::KeyBursts::Eight);
                "wiegand"
            }
            ReaderSettings::Osdp { key, address, .. } => {
                assert!(key.as_ref().is_some_and(|k| k.ends_with("osdp-reader.key")));
                assert_eq!(*address, 0);
                "osdp"
            }
        })
        .collect();
    assert_eq!(kinds, ["pcsc", "serial", "keyboard", "wiegand", "osdp"]);
    assert!(s.has_keypad());
    Ok(())
}
