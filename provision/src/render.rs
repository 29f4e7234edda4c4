//! The config file a provisioned box starts with, written from the answers. Paths of the files
//! provisioning installs are relative to the config file, so `/etc/omatoimi` holds one
//! self-contained set.

use std::fmt::Write;

use crate::{Answers, Role};

/// A TOML basic string.
pub fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The name of the registry credentials file for `role`.
pub fn secret_name(role: Role) -> &'static str {
    match role {
        Role::Door => "door-sip2.secret",
        Role::Kiosk => "kiosk-sip2.secret",
    }
}

/// The shared `[registry]` and `[allowlist]` tables.
fn library_system(a: &Answers, with_cert: bool, with_list_ca: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "[registry]");
    let _ = writeln!(s, "backend = \"sip2\"");
    let _ = writeln!(s, "credentials = {}", q(secret_name(a.role)));
    let _ = writeln!(s, "timeout_ms = 3000");
    let _ = writeln!(s, "[registry.sip2]");
    let _ = writeln!(s, "address = {}", q(&a.sip2));
    if let Some(n) = &a.server_name {
        let _ = writeln!(s, "server_name = {}", q(n));
    }
    let _ = writeln!(s, "ca = \"ca.pem\"");
    if with_cert {
        let _ = writeln!(s, "client_cert = \"device.pem\"");
        let _ = writeln!(s, "client_key = \"device-key.pem\"");
    }
    let _ = writeln!(s, "institution = {}", q(&a.institution));
    let _ = writeln!(s, "location = {}", q(&a.branch));
    let _ = writeln!(s, "[registry.sip2.protocol]");
    let _ = writeln!(s, "dialect = {}", q(&a.dialect));
    let _ = writeln!(s);
    let _ = writeln!(s, "[allowlist]");
    let _ = writeln!(s, "url = {}", q(&a.list_url));
    let _ = writeln!(
        s,
        "ca = {}",
        q(if with_list_ca {
            "list-ca.pem"
        } else {
            "ca.pem"
        })
    );
    if with_cert {
        let _ = writeln!(s, "client_cert = \"device.pem\"");
        let _ = writeln!(s, "client_key = \"device-key.pem\"");
    }
    let _ = writeln!(
        s,
        "store = {}",
        q(&a.state.join("allowlist").to_string_lossy())
    );
    match &a.tpm {
        Some(tcti) => {
            let _ = writeln!(s, "card_key = \"card-key.sealed\"");
            let _ = writeln!(s, "card_key_tpm = {}", q(tcti));
        }
        None => {
            let _ = writeln!(s, "card_key = \"card-key.secret\"");
        }
    }
    let scopes = vec![a.institution.clone(), a.branch.clone(), a.device_id.clone()];
    let _ = writeln!(s, "scopes = {}", list(&scopes));
    let _ = writeln!(s, "keys = {}", list(&a.list_keys));
    let _ = writeln!(s, "when_expired = \"deny\"");
    s
}

/// The whole file for `a.role`.
pub fn config(a: &Answers, with_cert: bool, with_list_ca: bool) -> String {
    let mut s = match a.role {
        Role::Door => door(a),
        Role::Kiosk => kiosk(a),
    };
    s.push_str(&library_system(a, with_cert, with_list_ca));
    s
}

/// A name in a comment line: no line breaks or other control characters.
fn comment(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

/// Sets `path` in `doc` to `value` (or removes it), making tables on the way; an error when a
/// step of the path is not a table.
fn set(
    doc: &mut toml_edit::DocumentMut,
    path: &[&str],
    value: Option<toml_edit::Item>,
) -> Result<(), String> {
    let Some((last, tables)) = path.split_last() else {
        return Ok(());
    };
    let mut table: &mut dyn toml_edit::TableLike = doc.as_table_mut();
    for (i, name) in tables.iter().enumerate() {
        if table.get(name).is_none() {
            if value.is_none() {
                return Ok(());
            }
            table.insert(name, toml_edit::Item::Table(toml_edit::Table::new()));
        }
        table = table
            .get_mut(name)
            .and_then(toml_edit::Item::as_table_like_mut)
            .ok_or_else(|| format!("`{}` is not a table", tables[..=i].join(".")))?;
    }
    match value {
        Some(v) => {
            table.insert(last, v);
        }
        None => {
            table.remove(last);
        }
    }
    Ok(())
}

/// The config already in place with the keys provisioning owns set from `a`: the device's name,
/// branch, state, language and health endpoint, and how it reaches the library system and the
/// list. Everything else (hardware, hours, rules, comments, hand edits) is kept as it is.
pub fn update(
    existing: &str,
    a: &Answers,
    with_cert: bool,
    with_list_ca: bool,
) -> Result<String, String> {
    use toml_edit::value;
    let mut doc: toml_edit::DocumentMut = existing
        .parse()
        .map_err(|e| format!("not TOML, so it cannot be updated (fix or move it away): {e}"))?;
    let section = a.role.name();
    let metrics = match a.role {
        Role::Door => &a.door.metrics,
        Role::Kiosk => &a.kiosk.metrics,
    };
    let state = a.state.to_string_lossy().into_owned();
    let store = a.state.join("allowlist").to_string_lossy().into_owned();
    let cert = |p: &str| with_cert.then(|| value(p));
    let keys: toml_edit::Array = a.list_keys.iter().collect();
    let changes: Vec<(Vec<&str>, Option<toml_edit::Item>)> = vec![
        (vec![section, "name"], Some(value(&a.name))),
        (vec![section, "branch"], Some(value(&a.branch))),
        (vec![section, "state_dir"], Some(value(&state))),
        (vec![section, "language"], Some(value(&a.language))),
        (vec![section, "metrics"], Some(value(metrics))),
        (vec!["registry", "backend"], Some(value("sip2"))),
        (
            vec!["registry", "credentials"],
            Some(value(secret_name(a.role))),
        ),
        (vec!["registry", "sip2", "address"], Some(value(&a.sip2))),
        (
            vec!["registry", "sip2", "server_name"],
            a.server_name.as_deref().map(value),
        ),
        (vec!["registry", "sip2", "ca"], Some(value("ca.pem"))),
        (vec!["registry", "sip2", "client_cert"], cert("device.pem")),
        (
            vec!["registry", "sip2", "client_key"],
            cert("device-key.pem"),
        ),
        (
            vec!["registry", "sip2", "institution"],
            Some(value(&a.institution)),
        ),
        (vec!["registry", "sip2", "location"], Some(value(&a.branch))),
        (
            vec!["registry", "sip2", "protocol", "dialect"],
            Some(value(&a.dialect)),
        ),
        (vec!["allowlist", "url"], Some(value(&a.list_url))),
        (
            vec!["allowlist", "ca"],
            Some(value(if with_list_ca {
                "list-ca.pem"
            } else {
                "ca.pem"
            })),
        ),
        (vec!["allowlist", "client_cert"], cert("device.pem")),
        (vec!["allowlist", "client_key"], cert("device-key.pem")),
        (vec!["allowlist", "store"], Some(value(&store))),
        (
            vec!["allowlist", "card_key"],
            Some(value(if a.tpm.is_some() {
                "card-key.sealed"
            } else {
                "card-key.secret"
            })),
        ),
        (
            vec!["allowlist", "card_key_tpm"],
            a.tpm.as_deref().map(value),
        ),
        (vec!["allowlist", "keys"], Some(value(keys))),
    ];
    for (path, v) in changes {
        set(&mut doc, &path, v)?;
    }
    // Hardware named on this run: its tables as a new config would have them (a table the
    // answers no longer have, such as [keypad] for a card-only door, goes).
    if !a.hardware.is_empty() {
        let fresh: toml_edit::DocumentMut = config(a, with_cert, with_list_ca)
            .parse()
            .map_err(|e| format!("the new hardware tables are not TOML: {e}"))?;
        for table in &a.hardware {
            match fresh.get(table) {
                Some(item) => {
                    doc.insert(table, item.clone());
                }
                None => {
                    doc.remove(table);
                }
            }
        }
    }
    Ok(doc.to_string())
}

fn door(a: &Answers) -> String {
    let d = &a.door;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {} ({}), written by omatoimi-provision. Check it with\n# `door-agent -c THIS_FILE check-config`; the README's \"door-agent\" section names every key.",
        comment(&a.name),
        a.device_id
    );
    let _ = writeln!(s, "[door]");
    let _ = writeln!(s, "name = {}", q(&a.name));
    let _ = writeln!(s, "branch = {}", q(&a.branch));
    let _ = writeln!(s, "state_dir = {}", q(&a.state.to_string_lossy()));
    let _ = writeln!(s, "language = {}", q(&a.language));
    let _ = writeln!(s, "metrics = {}", q(&d.metrics));
    let _ = writeln!(s);
    let _ = writeln!(s, "[rules]");
    let _ = writeln!(s, "min_age = 15");
    let _ = writeln!(s);
    let _ = writeln!(s, "[hours]");
    let _ = writeln!(s, "timezone = {}", q(&d.timezone));
    let _ = writeln!(s, "last_entry_minutes = 15");
    let _ = writeln!(s, "[hours.self_service]");
    let _ = writeln!(s, "daily = {}", list(&d.self_service));
    let _ = writeln!(
        s,
        "# Staffed hours, holidays and exceptions: [hours.staffed] mon = [\"10:00-18:00\"], [[hours.exceptions]]."
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "[gpio]");
    match d.gpio.strip_prefix("files:") {
        Some(dir) => {
            let _ = writeln!(s, "backend = \"files\"");
            let _ = writeln!(s, "dir = {}", q(dir));
        }
        None => {
            let _ = writeln!(s, "backend = \"rppal\"");
        }
    }
    let _ = writeln!(s, "lock = {}", d.lock);
    let _ = writeln!(s, "contact = {}", d.contact);
    for (key, pin) in [
        ("exit", d.exit),
        ("green", d.green),
        ("red", d.red),
        ("buzzer", d.buzzer),
        ("tamper", d.tamper),
    ] {
        if let Some(p) = pin {
            let _ = writeln!(s, "{key} = {p}");
        }
    }
    for r in &d.readers {
        let _ = writeln!(s);
        let _ = writeln!(s, "[[readers]]");
        match r {
            Reader::Pcsc(name) => {
                let _ = writeln!(s, "kind = \"pcsc\"");
                if let Some(n) = name {
                    let _ = writeln!(s, "reader = {}", q(n));
                }
            }
            Reader::Serial(path) => {
                let _ = writeln!(s, "kind = \"serial\"");
                let _ = writeln!(s, "path = {}", q(path));
            }
            Reader::Keyboard(path) => {
                let _ = writeln!(s, "kind = \"keyboard\"");
                let _ = writeln!(s, "path = {}", q(path));
                let _ = writeln!(
                    s,
                    "layout = \"us\"                        # or \"fi\": as the scanner is set"
                );
            }
            Reader::Wiegand(d0, d1) => {
                let _ = writeln!(s, "kind = \"wiegand\"");
                let _ = writeln!(s, "d0 = {d0}");
                let _ = writeln!(s, "d1 = {d1}");
            }
            Reader::Osdp { path, address } => {
                let _ = writeln!(s, "kind = \"osdp\"");
                let _ = writeln!(s, "path = {}", q(path));
                let _ = writeln!(s, "address = {address}");
                let _ = writeln!(s, "key = {}", q(&osdp_key_name(path, *address)));
            }
        }
    }
    if let Some(k) = &d.keypad {
        let _ = writeln!(s);
        let _ = writeln!(s, "[keypad]");
        match k {
            Keypad::Evdev(path) => {
                let _ = writeln!(s, "kind = \"evdev\"");
                let _ = writeln!(s, "path = {}", q(path));
            }
            Keypad::Serial(path) => {
                let _ = writeln!(s, "kind = \"serial\"");
                let _ = writeln!(s, "path = {}", q(path));
            }
        }
    }
    let _ = writeln!(s);
    s
}

/// A new kiosk's `[offline]` section. Offline, an item is lent for the period given here for the
/// ONIX media format on its tag; provisioning cannot know the library's periods, so it writes
/// commented defaults for the library to set (a re-run keeps what the library wrote: the rules
/// are not provisioning's).
const OFFLINE: &str = "\
[offline]
lending = true
max_loans = 5
# Days for an item whose tag names no format below (ISO 28560-3 tags carry none).
loan_days = 28
# Offline loan periods by the ONIX media format on the items' RFID tags (ISO 28560-2): a code
# (VI: DVD video) or its first letter (V: all video). Written as defaults by provisioning, not
# from the library's rules: set them to the loan periods the library system gives.
[offline.loan_days_by_media]
B = 28   # books (BA; BB hardback, BC paperback)
A = 28   # audio: audiobooks and music on CD (AC)
V = 14   # video: DVD (VI), Blu-ray (VO)
";

fn kiosk(a: &Answers) -> String {
    let k = &a.kiosk;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {} ({}), written by omatoimi-provision. Check it with\n# `kiosk -c THIS_FILE check-config`; the README's \"kiosk\" section names every key.",
        comment(&a.name),
        a.device_id
    );
    let _ = writeln!(s, "[kiosk]");
    let _ = writeln!(s, "name = {}", q(&a.name));
    let _ = writeln!(s, "library = {}", q(&k.library));
    let _ = writeln!(s, "branch = {}", q(&a.branch));
    let _ = writeln!(s, "state_dir = {}", q(&a.state.to_string_lossy()));
    let _ = writeln!(s, "language = {}", q(&a.language));
    let _ = writeln!(s, "metrics = {}", q(&k.metrics));
    let _ = writeln!(s);
    s.push_str(OFFLINE);
    if let Some(p) = &k.pad {
        let _ = writeln!(s);
        let _ = writeln!(s, "[rfid]");
        if p == "simulated" {
            let _ = writeln!(s, "driver = \"simulated\"");
        } else {
            let _ = writeln!(s, "driver = \"feig\"");
            let _ = writeln!(s, "path = {}", q(p.strip_prefix("feig:").unwrap_or(p)));
        }
    }
    if let Some(p) = &k.scanner {
        let _ = writeln!(s);
        let _ = writeln!(s, "[scanner]");
        if let Some(device) = p.strip_prefix("keyboard:") {
            let _ = writeln!(s, "kind = \"keyboard\"");
            let _ = writeln!(s, "path = {}", q(device));
            let _ = writeln!(
                s,
                "layout = \"us\"                        # or \"fi\": as the scanner is set"
            );
        } else {
            let _ = writeln!(s, "path = {}", q(p));
        }
    }
    if let Some(p) = &k.printer {
        let _ = writeln!(s);
        let _ = writeln!(s, "[printer]");
        let _ = writeln!(s, "link = {}", q(p));
    }
    let _ = writeln!(s);
    s
}

/// A door's card reader, from `pcsc`, `pcsc:NAME`, `serial:PATH`, `keyboard:PATH`,
/// `wiegand:D0,D1` or `osdp:PATH[,ADDRESS]` (or `,address=ADDRESS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reader {
    /// PC/SC, optionally one reader by name.
    Pcsc(Option<String>),
    /// A serial barcode or RFID reader.
    Serial(String),
    /// A USB barcode scanner typing as a keyboard (its input device).
    Keyboard(String),
    /// Wiegand on two pins.
    Wiegand(u8, u8),
    /// An OSDP reader on an RS-485 line, paired by provisioning.
    Osdp {
        /// The line's port.
        path: String,
        /// The reader's address (0 unless given).
        address: u8,
    },
}

/// The file of an OSDP reader's key, beside the config: one per port and address.
pub fn osdp_key_name(path: &str, address: u8) -> String {
    let port = path.rsplit('/').next().unwrap_or(path);
    let port: String = port
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("osdp-{port}-{address}.key")
}

impl Reader {
    /// Parses a `--reader` value.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "expected pcsc, pcsc:READER-NAME, serial:/dev/ttyACM0, keyboard:/dev/input/by-id/…-event-kbd, wiegand:D0,D1 or osdp:/dev/ttyUSB0[,ADDRESS]";
        if text == "pcsc" {
            return Ok(Self::Pcsc(None));
        }
        if let Some(name) = text.strip_prefix("pcsc:") {
            return Ok(Self::Pcsc(Some(name.to_owned())));
        }
        if let Some(path) = text.strip_prefix("serial:")
            && path.starts_with('/')
        {
            return Ok(Self::Serial(path.to_owned()));
        }
        if let Some(spec) = text.strip_prefix("osdp:")
            && spec.starts_with('/')
        {
            let (path, address) = match spec.rsplit_once(',') {
                // `,3` or `,address=3`.
                Some((p, a)) => match a.trim().trim_start_matches("address=").parse::<u8>() {
                    Ok(a) if a <= 126 => (p, a),
                    _ => return Err(format!("`{text}`: the OSDP address is 0 to 126")),
                },
                None => (spec, 0),
            };
            return Ok(Self::Osdp {
                path: path.to_owned(),
                address,
            });
        }
        if let Some(path) = text.strip_prefix("keyboard:")
            && path.starts_with('/')
        {
            return Ok(Self::Keyboard(path.to_owned()));
        }
        if let Some(pins) = text.strip_prefix("wiegand:")
            && let Some((a, b)) = pins.split_once(',')
            && let (Ok(a), Ok(b)) = (a.trim().parse(), b.trim().parse())
        {
            return Ok(Self::Wiegand(a, b));
        }
        Err(format!("`{text}`: {expected}"))
    }
}

/// A door's PIN keypad, from `evdev:PATH` or `serial:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keypad {
    /// A USB keypad (Linux input events).
    Evdev(String),
    /// A serial keypad.
    Serial(String),
}

impl Keypad {
    /// Parses a `--keypad` value.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            Some(("evdev", p)) if p.starts_with('/') => Ok(Self::Evdev(p.to_owned())),
            Some(("serial", p)) if p.starts_with('/') => Ok(Self::Serial(p.to_owned())),
            _ => Err(format!(
                "`{text}`: expected evdev:/dev/input/by-id/…-event-kbd or serial:/dev/ttyUSB0"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_for_toml() {
        assert_eq!(q("Lemi"), "\"Lemi\"");
        assert_eq!(q("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
        assert_eq!(
            q("Lappeenrannan pääkirjasto"),
            "\"Lappeenrannan pääkirjasto\""
        );
    }

    #[test]
    fn reader_and_keypad_specs() {
        assert_eq!(Reader::parse("pcsc"), Ok(Reader::Pcsc(None)));
        assert_eq!(
            Reader::parse("pcsc:ACS ACR122U"),
            Ok(Reader::Pcsc(Some("ACS ACR122U".into())))
        );
        assert_eq!(
            Reader::parse("serial:/dev/ttyACM0"),
            Ok(Reader::Serial("/dev/ttyACM0".into()))
        );
        assert_eq!(Reader::parse("wiegand:20,21"), Ok(Reader::Wiegand(20, 21)));
        assert_eq!(
            Reader::parse("keyboard:/dev/input/by-id/usb-scanner-event-kbd"),
            Ok(Reader::Keyboard(
                "/dev/input/by-id/usb-scanner-event-kbd".into()
            ))
        );
        assert_eq!(
            Reader::parse("osdp:/dev/ttyUSB0,3"),
            Ok(Reader::Osdp {
                path: "/dev/ttyUSB0".into(),
                address: 3
            })
        );
        assert_eq!(
            Reader::parse("osdp:/dev/ttyUSB0,address=1"),
            Ok(Reader::Osdp {
                path: "/dev/ttyUSB0".into(),
                address: 1
            })
        );
        assert_eq!(
            Reader::parse("osdp:/dev/serial/by-id/usb-FTDI-if00"),
            Ok(Reader::Osdp {
                path: "/dev/serial/by-id/usb-FTDI-if00".into(),
                address: 0
            })
        );
        assert_eq!(
            osdp_key_name("/dev/serial/by-id/usb-FTDI:x-if00", 3),
            "osdp-usb-FTDI_x-if00-3.key"
        );
        for bad in [
            "",
            "usb",
            "serial:ttyACM0",
            "keyboard:event3",
            "wiegand:20",
            "wiegand:a,b",
            "osdp:ttyUSB0",
            "osdp:/dev/ttyUSB0,127",
        ] {
            assert!(Reader::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Keypad::parse("serial:/dev/ttyUSB0"),
            Ok(Keypad::Serial("/dev/ttyUSB0".into()))
        );
        assert!(Keypad::parse("evdev:event3").is_err());
    }
}
