//! The door's configuration file: `[door]`, `[rules]`, `[hours]`, `[gpio]`, `[[readers]]`,
//! `[keypad]`, `[[outputs]]`, `[[announcements]]`, and the shared `[registry]` and `[allowlist]`
//! tables. Read raw by serde (unknown keys refused), then validated with errors naming the file,
//! the key and what was expected.

use std::path::{Path, PathBuf};
use std::time::Duration;

use access::hours::{DayHours, Exception, LibraryState, Schedule, Span};
use access::pin::PinRules;
use access::policy::Rules;
use access::state::{Announcement, OutputRule};
use access::watch::WatchRules;
use access::wiegand::{KeyBursts, NumberFormat};
use access::zone::Zone;
use chrono::NaiveDate;
use config::ConfigError;
use config::allowlist::{AllowlistSettings, RawAllowlist};
use config::registry::{RawRegistry, RegistrySettings};
use drivers::card::UidFormat;
use drivers::gpio::{DoorPins, PinSpec};
use drivers::keyboard::KeyboardSettings;
use drivers::scan::ScanRule;
use serde::Deserialize;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDoorFile {
    door: RawDoor,
    #[serde(default)]
    rules: RawRules,
    hours: RawHours,
    gpio: RawGpio,
    #[serde(default)]
    readers: Vec<RawReader>,
    keypad: Option<RawKeypad>,
    display: Option<RawDisplay>,
    #[serde(default)]
    outputs: Vec<RawOutput>,
    #[serde(default)]
    announcements: Vec<RawAnnouncement>,
    registry: Option<RawRegistry>,
    allowlist: RawAllowlist,
    console: Option<config::console::RawConsole>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDoor {
    name: String,
    branch: String,
    state_dir: PathBuf,
    language: Option<String>,
    online_timeout_ms: Option<u64>,
    pulse_ms: Option<u64>,
    held_open_secs: Option<u64>,
    relock_on_open: Option<bool>,
    free_when_staffed: Option<bool>,
    retention_days: Option<u32>,
    security_retention_days: Option<u32>,
    max_pin_failures: Option<u32>,
    lockout_minutes: Option<u32>,
    max_attempts_per_minute: Option<u32>,
    sync_minutes: Option<u32>,
    metrics: Option<String>,
    pin_min: Option<usize>,
    pin_max: Option<usize>,
    pin_first_key_secs: Option<u64>,
    pin_between_keys_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRules {
    require_terms: Option<bool>,
    require_permission: Option<bool>,
    permission_must_be_stated: Option<bool>,
    require_valid_card: Option<bool>,
    refuse_lost_card: Option<bool>,
    refuse_lending_ban: Option<bool>,
    refuse_fines: Option<bool>,
    /// 0 switches the age rule off.
    min_age: Option<u8>,
    consent_admits_minors: Option<bool>,
    admit_unknown_age: Option<bool>,
    categories: Option<Vec<String>>,
    honour_blocks: Option<bool>,
    enforce_hours: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeek {
    mon: Option<Vec<String>>,
    tue: Option<Vec<String>>,
    wed: Option<Vec<String>>,
    thu: Option<Vec<String>>,
    fri: Option<Vec<String>>,
    sat: Option<Vec<String>>,
    sun: Option<Vec<String>>,
    /// Every day not named.
    daily: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHours {
    timezone: Option<String>,
    last_entry_minutes: Option<u16>,
    #[serde(default)]
    self_service: RawWeek,
    #[serde(default)]
    staffed: RawWeek,
    #[serde(default)]
    exceptions: Vec<RawException>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    date: Option<String>,
    from: Option<String>,
    to: Option<String>,
    name: String,
    #[serde(default)]
    self_service: Vec<String>,
    #[serde(default)]
    staffed: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGpio {
    /// `rppal` (a Raspberry Pi) or `files` (pins as files under `dir`: simulation).
    backend: String,
    dir: Option<PathBuf>,
    lock: u8,
    lock_active_high: Option<bool>,
    contact: u8,
    contact_open_high: Option<bool>,
    exit: Option<u8>,
    exit_pressed_high: Option<bool>,
    tamper: Option<u8>,
    tamper_active_high: Option<bool>,
    green: Option<u8>,
    red: Option<u8>,
    buzzer: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReader {
    kind: String,
    reader: Option<String>,
    uid: Option<String>,
    path: Option<String>,
    baud: Option<u32>,
    d0: Option<u8>,
    d1: Option<u8>,
    format: Option<String>,
    /// A Wiegand reader's keypad: `4-bit` or `8-bit` key bursts.
    keypad: Option<String>,
    /// A keyboard scanner's layout (`us`, `fi`), terminator (`enter`, `tab`), silence.
    layout: Option<String>,
    end: Option<String>,
    idle_ms: Option<u64>,
    /// How a barcode reader's scans become card numbers.
    card: Option<drivers::scan::RawScanRule>,
    /// An OSDP reader's address on its line.
    address: Option<u8>,
    /// An OSDP reader's key file, or `none`.
    key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeypad {
    kind: String,
    path: Option<String>,
    baud: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisplay {
    kind: String,
    bus: Option<u8>,
    address: Option<u8>,
    columns: Option<u8>,
    rows: Option<u8>,
    height: Option<u8>,
}

/// Which display, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayKind {
    /// A character LCD: an HD44780 behind a PCF8574 I2C backpack.
    Hd44780(display::hd44780::Lcd),
    /// A small OLED: an SSD1306, 128 dots wide and this many high (64 or 32).
    Ssd1306 {
        /// Dots down.
        height: u8,
    },
}

/// The display at the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplaySettings {
    /// The I2C bus (1 on a Raspberry Pi's header).
    pub bus: u8,
    /// Its address (0x27 or 0x3F for an LCD's backpack, 0x3C or 0x3D for an OLED).
    pub address: u8,
    /// Which, and its size.
    pub kind: DisplayKind,
}

impl RawDisplay {
    fn validate(&self, file: &Path) -> Result<DisplaySettings, ConfigError> {
        let (kind, default_address, usual) = match self.kind.as_str() {
            "hd44780" => {
                if self.height.is_some() {
                    return Err(ConfigError::invalid(
                        file,
                        "display.height",
                        "an LCD's size is columns and rows (height is an OLED's, in dots)",
                    ));
                }
                let cols = self.columns.unwrap_or(16);
                let rows = self.rows.unwrap_or(2);
                if !matches!(cols, 8..=40) || !matches!(rows, 1..=4) {
                    return Err(ConfigError::invalid(
                        file,
                        "display",
                        "columns 8 to 40 (16 or 20 usually), rows 1 to 4",
                    ));
                }
                (
                    DisplayKind::Hd44780(display::hd44780::Lcd { cols, rows }),
                    0x27,
                    "0x27 or 0x3F",
                )
            }
            "ssd1306" => {
                if self.columns.is_some() || self.rows.is_some() {
                    return Err(ConfigError::invalid(
                        file,
                        "display",
                        "an OLED's lines follow from its height in dots (64: 6 lines of 21 \
                         characters, 32: 3): give height, not columns or rows",
                    ));
                }
                let height = self.height.unwrap_or(64);
                if !matches!(height, 32 | 64) {
                    return Err(ConfigError::invalid(
                        file,
                        "display.height",
                        format!("{height}: an SSD1306 panel is 64 or 32 dots high"),
                    ));
                }
                (DisplayKind::Ssd1306 { height }, 0x3C, "0x3C or 0x3D")
            }
            other => {
                return Err(ConfigError::invalid(
                    file,
                    "display.kind",
                    format!(
                        "{other:?}: \"hd44780\" (a character LCD behind a PCF8574 I2C backpack) \
                         or \"ssd1306\" (a 128 × 64 or 128 × 32 OLED)"
                    ),
                ));
            }
        };
        let address = self.address.unwrap_or(default_address);
        if !(0x08..=0x77).contains(&address) {
            return Err(ConfigError::invalid(
                file,
                "display.address",
                format!("{address:#04x}: an I2C address is 0x08 to 0x77 ({usual} usually)"),
            ));
        }
        Ok(DisplaySettings {
            bus: self.bus.unwrap_or(1),
            address,
            kind,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    name: String,
    pin: u8,
    active_high: Option<bool>,
    when: Vec<String>,
    lead_minutes: Option<u16>,
    lag_minutes: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnnouncement {
    file: String,
    before_minutes: u16,
    every_minutes: Option<u16>,
    player: Option<Vec<String>>,
}

/// The `[gpio]` keys the lock needs, read on their own: unknown keys, and other tables, are
/// ignored, so that a door whose configuration is otherwise broken can still be locked.
#[derive(Debug, Deserialize)]
struct RawLockFile {
    gpio: RawLockGpio,
}

#[derive(Debug, Deserialize)]
struct RawLockGpio {
    backend: String,
    dir: Option<PathBuf>,
    lock: u8,
    lock_active_high: Option<bool>,
}

/// The lock relay as configured: all `door-agent lock` needs, and what `run` reads, and engages,
/// before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSettings {
    /// Pin backend.
    pub gpio: GpioBackend,
    /// The lock relay's pin; active = released.
    pub lock: PinSpec,
}

/// Reads only the lock's pin, its sense and the GPIO backend from a door's configuration. A
/// syntax error in another table does not stop it: then the `[gpio]` table is read alone.
pub fn load_lock(path: &Path) -> Result<LockSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        file: path.to_owned(),
        cause,
    })?;
    let raw: RawLockFile = match config::parse(path, &text) {
        Ok(raw) => raw,
        Err(whole) => match gpio_table(&text) {
            Some(table) => config::parse(path, &table)?,
            None => return Err(whole),
        },
    };
    let g = &raw.gpio;
    lock_settings(
        path,
        &g.backend,
        g.dir.as_deref(),
        g.lock,
        g.lock_active_high,
    )
}

/// The lines of the `[gpio]` table that name the lock (backend, dir, lock, lock_active_high),
/// found in a file that does not parse as a whole. Table headers are recognised as TOML writes
/// them (`[gpio]`, `[ gpio ]`, `[[outputs]]`, a trailing comment); the table's other keys are
/// left out, so a multi-line value there (an array) cannot cut it short.
fn gpio_table(text: &str) -> Option<String> {
    const KEYS: [&str; 4] = ["backend", "dir", "lock", "lock_active_high"];
    let (mut seen, mut in_gpio) = (false, false);
    let mut kept = vec![];
    for line in text.lines() {
        if let Some(name) = table_header(line) {
            in_gpio = name == "gpio";
            seen |= in_gpio;
            continue;
        }
        let named = line
            .split_once('=')
            .is_some_and(|(key, _)| KEYS.contains(&key.trim()));
        if in_gpio && named {
            kept.push(line);
        }
    }
    seen.then(|| format!("[gpio]\n{}\n", kept.join("\n")))
}

/// The table a header line names (`[name]`, `[ name ]` or `[[name]]`, with an optional
/// comment), or `None` for any other line.
fn table_header(line: &str) -> Option<&str> {
    let t = line.split('#').next().unwrap_or_default().trim();
    let inner = t
        .strip_prefix("[[")
        .and_then(|r| r.strip_suffix("]]"))
        .or_else(|| t.strip_prefix('[').and_then(|r| r.strip_suffix(']')))?
        .trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || "_-.\" ".contains(c);
    (!inner.is_empty() && inner.chars().all(bare)).then_some(inner)
}

/// The backend and the lock's pin, validated: shared by the whole file's validation and
/// [`load_lock`].
fn lock_settings(
    file: &Path,
    backend: &str,
    dir: Option<&Path>,
    lock: u8,
    lock_active_high: Option<bool>,
) -> Result<LockSettings, ConfigError> {
    let bad = |key: &str, problem: String| ConfigError::invalid(file, key, problem);
    let gpio = match backend {
        "rppal" => GpioBackend::Rppal,
        "files" => GpioBackend::Files(resolve(
            file.parent().unwrap_or(Path::new(".")),
            dir.ok_or_else(|| bad("gpio.dir", "the `files` backend needs a directory".into()))?,
        )),
        other => {
            return Err(bad(
                "gpio.backend",
                format!("`{other}`: expected rppal or files"),
            ));
        }
    };
    if lock > 27 {
        return Err(bad(
            "gpio.lock",
            format!("{lock}: expected a BCM GPIO number 0 to 27"),
        ));
    }
    Ok(LockSettings {
        gpio,
        lock: PinSpec {
            number: lock,
            active_high: lock_active_high.unwrap_or(true),
        },
    })
}

/// Where the pins are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpioBackend {
    /// A Raspberry Pi.
    Rppal,
    /// Files in a directory (simulation).
    Files(PathBuf),
}

/// A configured card reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderSettings {
    /// PC/SC through pcscd.
    Pcsc {
        /// Reader name filter.
        reader: String,
        /// UID format.
        uid: UidFormat,
    },
    /// A barcode scanner on a serial port.
    Serial {
        /// Port.
        path: String,
        /// Speed.
        baud: u32,
        /// How its scans become card numbers.
        rule: ScanRule,
    },
    /// A barcode scanner that is a USB keyboard (HID keyboard wedge).
    Keyboard {
        /// Its input device and layout.
        keyboard: KeyboardSettings,
        /// How its scans become card numbers.
        rule: ScanRule,
    },
    /// Wiegand on two GPIO pins.
    Wiegand {
        /// D0 pin.
        d0: u8,
        /// D1 pin.
        d1: u8,
        /// Card number format.
        format: NumberFormat,
        /// How its keypad sends keys, if it has one: then it is the door's PIN pad too.
        keys: KeyBursts,
    },
    /// An OSDP v2 reader on an RS-485 line; also the door's keypad, LEDs and words when it has
    /// them.
    Osdp {
        /// Port.
        path: String,
        /// Speed.
        baud: u32,
        /// The reader's address on the line.
        address: u8,
        /// The file of its secure channel key (written when it was paired); `None` for a reader
        /// without a secure channel (`key = "none"`).
        key: Option<PathBuf>,
        /// Card number format of 26-, 34- and 37-bit Wiegand card data.
        format: NumberFormat,
        /// Card number format of card data in whole bytes (a UID).
        uid: UidFormat,
    },
}

/// A configured keypad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeypadSettings {
    /// A USB keypad's input device.
    Evdev(String),
    /// A serial keypad.
    Serial {
        /// Port.
        path: String,
        /// Speed.
        baud: u32,
    },
}

/// A closing announcement and how to play it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnouncementSettings {
    /// When.
    pub announcement: Announcement,
    /// The player command; the file is its last argument. Empty: only logged.
    pub player: Vec<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct DoorSettings {
    /// The door's name, for staff.
    pub name: String,
    /// Where the event log lives.
    pub state_dir: PathBuf,
    /// The patron-facing language when unknown.
    pub language: String,
    /// Bound on the online check.
    pub online_timeout: Duration,
    /// The lock and alarms.
    pub watch: WatchRules,
    /// The door stands free in staffed hours.
    pub free_when_staffed: bool,
    /// Events older than this are purged.
    pub retention: Duration,
    /// How long the security log (alarms, tampering, PIN guessing, refused lists, clock jumps)
    /// is kept: long enough to notice a breach and report it.
    pub security_retention: Duration,
    /// Keys of `[door]` read as the one wrong-PIN lockout of `[allowlist]` (an older
    /// configuration's place for it), for a warning.
    pub moved_keys: Vec<String>,
    /// Attempts per minute at this door.
    pub max_attempts_per_minute: u32,
    /// How often the offline list is synced.
    pub sync_every: Duration,
    /// PIN entry.
    pub pin: PinRules,
    /// The branch's rules.
    pub rules: Rules,
    /// The branch's hours.
    pub schedule: Schedule,
    /// Pin backend.
    pub gpio: GpioBackend,
    /// Pins.
    pub pins: DoorPins,
    /// Card readers.
    pub readers: Vec<ReaderSettings>,
    /// Keypad.
    pub keypad: Option<KeypadSettings>,
    /// The display the patron reads, if any.
    pub display: Option<DisplaySettings>,
    /// Outputs switched by the library's state.
    pub outputs: Vec<OutputRule>,
    /// Closing announcements.
    pub announcements: Vec<AnnouncementSettings>,
    /// The library system; `None` for an offline-only door.
    pub registry: Option<RegistrySettings>,
    /// The loopback address of the health endpoint (`/metrics`), if any.
    pub metrics: Option<std::net::SocketAddr>,
    /// The offline list.
    pub allowlist: AllowlistSettings,
    /// The library's console, if the door reports to one.
    pub console: Option<config::console::ConsoleSettings>,
}

impl DoorSettings {
    /// What the pure door ([`access::door::Door`]) needs of the settings. A verdict not back
    /// within the online timeout and half a minute more (the offline list's argon2 check, a
    /// busy box) is taken as nobody answering.
    pub fn door_config(&self) -> access::door::DoorConfig {
        access::door::DoorConfig {
            language: self.language.clone(),
            pin: self.pin,
            watch: self.watch,
            free_when_staffed: self.free_when_staffed,
            max_attempts_per_minute: self.max_attempts_per_minute,
            rules: self.rules.clone(),
            schedule: self.schedule.clone(),
            outputs: self.outputs.clone(),
            announcements: self
                .announcements
                .iter()
                .map(|a| a.announcement.clone())
                .collect(),
            verdict_timeout: self.online_timeout + Duration::from_secs(30),
        }
    }

    /// Keys are typed at this door: on `[keypad]`, on a Wiegand reader's own keypad, or on an
    /// OSDP reader's (the only keypad an OSDP door without `[keypad]` can have).
    pub fn has_keypad(&self) -> bool {
        self.keypad.is_some()
            || self.readers.iter().any(|r| {
                matches!(r, ReaderSettings::Wiegand { keys, .. } if *keys != KeyBursts::None)
                    || matches!(r, ReaderSettings::Osdp { .. })
            })
    }

    /// The lock relay's part of the settings.
    pub fn lock(&self) -> LockSettings {
        LockSettings {
            gpio: self.gpio.clone(),
            lock: self.pins.lock,
        }
    }

    /// Valid but risky settings, for `check-config`.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = match &self.registry {
            Some(r) => config::warnings::registry(r),
            None => vec![
                "registry: not set: every patron is checked against the offline list alone".into(),
            ],
        };
        w.extend(config::warnings::allowlist(&self.allowlist));
        for key in &self.moved_keys {
            w.push(format!(
                "{key}: read as the device's one wrong-PIN lockout; it belongs in [allowlist]"
            ));
        }
        w.extend(config::warnings::retention(
            "door.retention_days",
            self.retention,
            90,
        ));
        // Said only where there are staffed hours for it to stand unlocked in.
        let staffed_ever = self
            .schedule
            .week
            .iter()
            .chain(self.schedule.exceptions.iter().map(|e| &e.hours))
            .any(|d| !d.staffed.is_empty());
        if self.free_when_staffed && staffed_ever {
            w.push("door.free_when_staffed: the door stands unlocked through staffed hours".into());
        }
        for (i, r) in self.readers.iter().enumerate() {
            if let ReaderSettings::Osdp { key: None, .. } = r {
                w.push(format!(
                    "readers[{i}].key: \"none\": the OSDP reader has no secure channel; its card data and PINs travel in clear and a swapped reader goes unnoticed"
                ));
            }
        }
        w
    }
}

/// Reads and validates a door's configuration.
pub fn load(path: &Path) -> Result<DoorSettings, ConfigError> {
    let raw: RawDoorFile = config::load(path)?;
    raw.validate(path)
}

impl RawDoorFile {
    /// Validates the raw file read from `file`.
    pub fn validate(&self, file: &Path) -> Result<DoorSettings, ConfigError> {
        let bad = |key: &str, problem: String| ConfigError::invalid(file, key, problem);
        let base = file.parent().unwrap_or(Path::new("."));
        let d = &self.door;
        // Every table is checked, and every problem named at once.
        let mut p = config::Problems::new(file);
        if d.branch.trim().is_empty() {
            p.add(bad("door.branch", "the branch code, e.g. \"LEMI\"".into()));
        }
        let language = d.language.clone().unwrap_or_else(|| "fi".into());
        if !["fi", "sv", "en"].contains(&language.as_str()) {
            p.add(bad(
                "door.language",
                format!("`{language}`: expected fi, sv or en"),
            ));
        }
        let ms =
            |key: &str, v: Option<u64>, default: u64, range| within(file, key, v, default, range);
        let online_timeout = p.check(ms(
            "door.online_timeout_ms",
            d.online_timeout_ms,
            1500,
            100..=10_000,
        ));
        let pulse = p.check(ms("door.pulse_ms", d.pulse_ms, 5000, 200..=60_000));
        let held = p.check(ms("door.held_open_secs", d.held_open_secs, 30, 5..=3600));
        let retention_days = d.retention_days.unwrap_or(30);
        if !(1..=3650).contains(&retention_days) {
            p.add(bad(
                "door.retention_days",
                format!("{retention_days}: expected 1 to 3650"),
            ));
        }
        let pin = p.check(d.pin_rules(file));
        let rules = p.check(self.rules.validate(file, d.branch.trim()));
        let schedule = p.check(self.hours.validate(file));
        let gpio = p.check(self.gpio.validate(file, &self.outputs));
        let readers: Vec<_> = self
            .readers
            .iter()
            .enumerate()
            .filter_map(|(i, r)| p.check(r.validate(file, &format!("readers[{i}]"))))
            .collect();
        // The driver opens its port exclusively: one OSDP reader per line.
        let mut lines: Vec<(usize, &str)> = vec![];
        for (i, r) in self.readers.iter().enumerate() {
            if let ("osdp", Some(path)) = (r.kind.as_str(), r.path.as_deref()) {
                if let Some((j, _)) = lines.iter().find(|(_, p)| *p == path) {
                    p.add(bad(
                        &format!("readers[{i}].path"),
                        format!(
                            "`{path}` is readers[{j}]'s line already: one OSDP reader per line"
                        ),
                    ));
                }
                lines.push((i, path));
            }
        }
        let keypad = p.check(self.keypad.as_ref().map(|k| k.validate(file)).transpose());
        let display = p.check(self.display.as_ref().map(|x| x.validate(file)).transpose());
        let metrics = p.check(
            d.metrics
                .as_deref()
                .map(|a| config::loopback_address(file, "door.metrics", a))
                .transpose(),
        );
        let registry = p.check(self.registry.as_ref().map(|r| r.validate(file)).transpose());
        let console = p.check(
            self.console
                .as_ref()
                .map(|c| c.validate(file, &resolve(base, &d.state_dir)))
                .transpose(),
        );
        let announcements = self
            .announcements
            .iter()
            .map(|a| AnnouncementSettings {
                announcement: Announcement {
                    file: a.file.clone(),
                    before_minutes: a.before_minutes,
                    every_minutes: a.every_minutes.unwrap_or(0),
                },
                player: a
                    .player
                    .clone()
                    .unwrap_or_else(|| vec!["aplay".into(), "-q".into()]),
            })
            .collect();
        // The wrong-PIN lockout is one setting for the device, in [allowlist] (see
        // `config::allowlist::one_lockout`).
        let allowlist = p.check(self.allowlist.validate(file));
        let lockout = p.check(config::allowlist::one_lockout(
            file,
            Some(&self.allowlist),
            "door",
            d.max_pin_failures,
            d.lockout_minutes,
        ));
        p.finish()?;
        let (
            Some(online_timeout),
            Some(pulse),
            Some(held),
            Some(pin),
            Some(rules),
            Some(schedule),
            Some((gpio, pins, outputs)),
            Some(keypad),
            Some(display),
            Some(metrics),
            Some(registry),
            Some(console),
            Some(mut allowlist),
            Some((guard, moved_keys)),
        ) = (
            online_timeout,
            pulse,
            held,
            pin,
            rules,
            schedule,
            gpio,
            keypad,
            display,
            metrics,
            registry,
            console,
            allowlist,
            lockout,
        )
        else {
            // Every `None` above left its problem in `p`.
            return Err(bad(
                "door",
                "a problem was found but not named (a bug)".into(),
            ));
        };
        allowlist.guard = guard;
        Ok(DoorSettings {
            name: d.name.clone(),
            state_dir: resolve(base, &d.state_dir),
            language,
            online_timeout: Duration::from_millis(online_timeout),
            watch: WatchRules {
                pulse: Duration::from_millis(pulse),
                held_open: Duration::from_secs(held),
                relock_on_open: d.relock_on_open.unwrap_or(true),
            },
            free_when_staffed: d.free_when_staffed.unwrap_or(true),
            retention: Duration::from_secs(u64::from(retention_days) * 86_400),
            security_retention: Duration::from_secs(
                u64::from(d.security_retention_days.unwrap_or(365).clamp(7, 3650)) * 86_400,
            ),
            moved_keys,
            max_attempts_per_minute: d.max_attempts_per_minute.unwrap_or(20).clamp(1, 600),
            sync_every: Duration::from_secs(
                u64::from(d.sync_minutes.unwrap_or(15).clamp(1, 24 * 60)) * 60,
            ),
            pin,
            rules,
            schedule,
            gpio,
            pins,
            readers,
            keypad,
            display,
            outputs,
            announcements,
            metrics,
            registry,
            allowlist,
            console,
        })
    }
}

/// `v` (or `default`) when within `range`, else an error naming `key`.
fn within(
    file: &Path,
    key: &str,
    v: Option<u64>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ConfigError> {
    let v = v.unwrap_or(default);
    if range.contains(&v) {
        Ok(v)
    } else {
        Err(ConfigError::invalid(
            file,
            key,
            format!("{v}: expected {} to {}", range.start(), range.end()),
        ))
    }
}

impl RawDoor {
    /// `door.pin_*`: PIN entry's lengths and times.
    fn pin_rules(&self, file: &Path) -> Result<PinRules, ConfigError> {
        let bad = |key: &str, problem: String| ConfigError::invalid(file, key, problem);
        let d = self;
        let pin = PinRules {
            min_len: d.pin_min.unwrap_or(4),
            max_len: d.pin_max.unwrap_or(8),
            first_key: Duration::from_secs(within(
                file,
                "door.pin_first_key_secs",
                d.pin_first_key_secs,
                20,
                3..=120,
            )?),
            between_keys: Duration::from_secs(within(
                file,
                "door.pin_between_keys_secs",
                d.pin_between_keys_secs,
                10,
                2..=60,
            )?),
        };
        if pin.min_len == 0 || pin.min_len > pin.max_len || pin.max_len > 16 {
            return Err(bad(
                "door.pin_min",
                "expected 1 <= pin_min <= pin_max <= 16".into(),
            ));
        }
        Ok(pin)
    }
}

impl RawRules {
    /// `[rules]`: the branch's access policy, each rule switchable.
    fn validate(&self, file: &Path, branch: &str) -> Result<Rules, ConfigError> {
        let bad = |key: &str, problem: String| ConfigError::invalid(file, key, problem);
        let r = self;
        let defaults = Rules::default();
        let rules = Rules {
            branch: branch.to_owned(),
            require_terms: r.require_terms.unwrap_or(defaults.require_terms),
            require_permission: r.require_permission.unwrap_or(defaults.require_permission),
            permission_must_be_stated: r
                .permission_must_be_stated
                .unwrap_or(defaults.permission_must_be_stated),
            require_valid_card: r.require_valid_card.unwrap_or(defaults.require_valid_card),
            refuse_lost_card: r.refuse_lost_card.unwrap_or(defaults.refuse_lost_card),
            refuse_lending_ban: r.refuse_lending_ban.unwrap_or(defaults.refuse_lending_ban),
            refuse_fines: r.refuse_fines.unwrap_or(defaults.refuse_fines),
            min_age: match r.min_age {
                Some(0) => None,
                Some(a) if a > 18 => {
                    return Err(bad(
                        "rules.min_age",
                        format!("{a}: expected 0 (no rule) to 18"),
                    ));
                }
                Some(a) => Some(a),
                None => defaults.min_age,
            },
            consent_admits_minors: r
                .consent_admits_minors
                .unwrap_or(defaults.consent_admits_minors),
            admit_unknown_age: r.admit_unknown_age.unwrap_or(defaults.admit_unknown_age),
            categories: r.categories.clone().unwrap_or_default(),
            honour_blocks: r.honour_blocks.unwrap_or(defaults.honour_blocks),
            enforce_hours: r.enforce_hours.unwrap_or(defaults.enforce_hours),
        };
        Ok(rules)
    }
}

impl RawGpio {
    /// `[gpio]` and `[[outputs]]`: the backend, every pin (each a BCM number used once), and
    /// the outputs' rules.
    fn validate(
        &self,
        file: &Path,
        raw_outputs: &[RawOutput],
    ) -> Result<(GpioBackend, DoorPins, Vec<OutputRule>), ConfigError> {
        let bad = |key: &str, problem: String| ConfigError::invalid(file, key, problem);
        let g = self;
        let LockSettings { gpio, lock } = lock_settings(
            file,
            &g.backend,
            g.dir.as_deref(),
            g.lock,
            g.lock_active_high,
        )?;
        let spec = |n: u8, high: bool| PinSpec {
            number: n,
            active_high: high,
        };
        let mut pins = DoorPins {
            lock,
            contact: spec(g.contact, g.contact_open_high.unwrap_or(true)),
            exit: g
                .exit
                .map(|n| spec(n, g.exit_pressed_high.unwrap_or(false))),
            tamper: g
                .tamper
                .map(|n| spec(n, g.tamper_active_high.unwrap_or(true))),
            green: g.green.map(|n| spec(n, true)),
            red: g.red.map(|n| spec(n, true)),
            buzzer: g.buzzer.map(|n| spec(n, true)),
            outputs: vec![],
        };
        let mut outputs = vec![];
        for (i, o) in raw_outputs.iter().enumerate() {
            let key = format!("outputs[{i}]");
            let when = o
                .when
                .iter()
                .map(|w| {
                    LibraryState::parse(w).ok_or_else(|| {
                        bad(
                            &format!("{key}.when"),
                            format!("`{w}`: expected staffed, self-service or closed"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let lead = o.lead_minutes.unwrap_or(0);
            let lag = o.lag_minutes.unwrap_or(0);
            if lead > 240 || lag > 240 {
                return Err(bad(
                    &key,
                    "lead_minutes and lag_minutes: at most 240".into(),
                ));
            }
            pins.outputs
                .push((o.name.clone(), spec(o.pin, o.active_high.unwrap_or(true))));
            outputs.push(OutputRule {
                name: o.name.clone(),
                when,
                lead_minutes: lead,
                lag_minutes: lag,
            });
        }
        let mut used = std::collections::HashMap::new();
        let all_pins = [
            Some(("gpio.lock", pins.lock.number)),
            Some(("gpio.contact", pins.contact.number)),
            pins.exit.map(|p| ("gpio.exit", p.number)),
            pins.tamper.map(|p| ("gpio.tamper", p.number)),
            pins.green.map(|p| ("gpio.green", p.number)),
            pins.red.map(|p| ("gpio.red", p.number)),
            pins.buzzer.map(|p| ("gpio.buzzer", p.number)),
        ];
        let output_keys: Vec<(String, u8)> = raw_outputs
            .iter()
            .enumerate()
            .map(|(i, o)| (format!("outputs[{i}].pin"), o.pin))
            .collect();
        for (key, n) in all_pins
            .into_iter()
            .flatten()
            .map(|(k, n)| (k.to_owned(), n))
            .chain(output_keys)
        {
            if n > 27 {
                return Err(bad(
                    &key,
                    format!("{n}: expected a BCM GPIO number 0 to 27"),
                ));
            }
            if let Some(other) = used.insert(n, key.clone()) {
                return Err(bad(&key, format!("GPIO {n} is already `{other}`")));
            }
        }
        Ok((gpio, pins, outputs))
    }
}

impl RawReader {
    /// One `[[readers]]` entry, named `key` in errors.
    fn validate(&self, file: &Path, key: &str) -> Result<ReaderSettings, ConfigError> {
        let bad = |sub: &str, problem: String| {
            ConfigError::invalid(file, format!("{key}.{sub}"), problem)
        };
        let r = self;
        let scanner = matches!(r.kind.as_str(), "serial" | "keyboard");
        if r.card.is_some() && !scanner {
            return Err(bad(
                "card",
                "only barcode scanners (kind serial or keyboard) read scans by a card rule".into(),
            ));
        }
        if r.keypad.is_some() && r.kind != "wiegand" {
            return Err(bad(
                "keypad",
                "only a Wiegand reader has its keypad on the same wires (a USB or serial keypad is [keypad])".into(),
            ));
        }
        if r.kind != "keyboard" {
            for (name, given) in [
                ("layout", r.layout.is_some()),
                ("end", r.end.is_some()),
                ("idle_ms", r.idle_ms.is_some()),
            ] {
                if given {
                    return Err(bad(
                        name,
                        "only a keyboard scanner (kind = \"keyboard\") has it".into(),
                    ));
                }
            }
        }
        let rule = || match &r.card {
            None => Ok(ScanRule::default()),
            Some(raw) => raw
                .validate()
                .map_err(|p| bad(&format!("card.{}", p.key), p.problem)),
        };
        Ok(match r.kind.as_str() {
            "pcsc" => ReaderSettings::Pcsc {
                reader: r.reader.clone().unwrap_or_default(),
                uid: match &r.uid {
                    None => UidFormat::Hex,
                    Some(u) => UidFormat::parse(u).ok_or_else(|| {
                        bad(
                            "uid",
                            format!(
                                "`{u}`: expected hex, hex-reversed, decimal or decimal-reversed"
                            ),
                        )
                    })?,
                },
            },
            "serial" => ReaderSettings::Serial {
                path: r
                    .path
                    .clone()
                    .ok_or_else(|| bad("path", "the serial port, e.g. /dev/ttyACM0".into()))?,
                baud: r.baud.unwrap_or(9600),
                rule: rule()?,
            },
            "keyboard" => {
                let path = r.path.clone().ok_or_else(|| {
                    bad(
                        "path",
                        "the scanner's input device, e.g. /dev/input/by-id/usb-…-event-kbd".into(),
                    )
                })?;
                let keyboard = drivers::keyboard::configured(
                    &path,
                    r.layout.as_deref(),
                    r.end.as_deref(),
                    r.idle_ms,
                )
                .map_err(|p| bad(p.key, p.problem))?;
                ReaderSettings::Keyboard {
                    keyboard,
                    rule: rule()?,
                }
            }
            "wiegand" => ReaderSettings::Wiegand {
                d0: r.d0.ok_or_else(|| bad("d0", "the D0 GPIO pin".into()))?,
                d1: r.d1.ok_or_else(|| bad("d1", "the D1 GPIO pin".into()))?,
                format: match r.format.as_deref().unwrap_or("payload") {
                    "payload" => NumberFormat::Payload,
                    "card" => NumberFormat::CardField,
                    "facility-card" => NumberFormat::FacilityCard,
                    other => {
                        return Err(bad(
                            "format",
                            format!("`{other}`: expected payload, card or facility-card"),
                        ));
                    }
                },
                keys: match r.keypad.as_deref() {
                    None => KeyBursts::None,
                    Some("4-bit") => KeyBursts::Four,
                    Some("8-bit") => KeyBursts::Eight,
                    Some(other) => {
                        return Err(bad(
                            "keypad",
                            format!(
                                "`{other}`: expected 4-bit or 8-bit (how the reader's keypad is set to send keys)"
                            ),
                        ));
                    }
                },
            },
            "osdp" => {
                let path = r.path.clone().ok_or_else(|| {
                    bad(
                        "path",
                        "the RS-485 adapter's port, e.g. /dev/serial/by-id/…".into(),
                    )
                })?;
                let baud = r.baud.unwrap_or(9600);
                if ![9600, 19200, 38400, 57600, 115_200, 230_400].contains(&baud) {
                    return Err(bad(
                        "baud",
                        format!(
                            "{baud}: expected an OSDP speed: 9600, 19200, 38400, 57600, 115200 or 230400"
                        ),
                    ));
                }
                let address = r.address.unwrap_or(0);
                if address > 126 {
                    return Err(bad(
                        "address",
                        format!("{address}: expected 0 to 126 (127 is the broadcast address)"),
                    ));
                }
                let reader_key = match r.key.as_deref() {
                    None => {
                        return Err(bad(
                            "key",
                            "the reader's key file (written when it was paired), or \"none\" for a reader without a secure channel".into(),
                        ));
                    }
                    Some("none") => None,
                    Some("") => {
                        return Err(bad(
                            "key",
                            "empty: the reader's key file, or \"none\"".into(),
                        ));
                    }
                    Some(k) => Some(resolve(
                        file.parent().unwrap_or(Path::new(".")),
                        Path::new(k),
                    )),
                };
                ReaderSettings::Osdp {
                    path,
                    baud,
                    address,
                    key: reader_key,
                    format: match r.format.as_deref().unwrap_or("payload") {
                        "payload" => NumberFormat::Payload,
                        "card" => NumberFormat::CardField,
                        "facility-card" => NumberFormat::FacilityCard,
                        other => {
                            return Err(bad(
                                "format",
                                format!("`{other}`: expected payload, card or facility-card"),
                            ));
                        }
                    },
                    uid: match &r.uid {
                        None => UidFormat::Hex,
                        Some(u) => UidFormat::parse(u).ok_or_else(|| {
                            bad(
                                "uid",
                                format!(
                                    "`{u}`: expected hex, hex-reversed, decimal or decimal-reversed"
                                ),
                            )
                        })?,
                    },
                }
            }
            other => {
                return Err(bad(
                    "kind",
                    format!("`{other}`: expected pcsc, serial, keyboard, wiegand or osdp"),
                ));
            }
        })
    }
}

impl RawKeypad {
    /// `[keypad]`.
    fn validate(&self, file: &Path) -> Result<KeypadSettings, ConfigError> {
        let bad = |key: &str, problem: String| ConfigError::invalid(file, key, problem);
        let path = self
            .path
            .clone()
            .ok_or_else(|| bad("keypad.path", "the device path".into()))?;
        match self.kind.as_str() {
            "evdev" => Ok(KeypadSettings::Evdev(path)),
            "serial" => Ok(KeypadSettings::Serial {
                path,
                baud: self.baud.unwrap_or(9600),
            }),
            other => Err(bad(
                "keypad.kind",
                format!("`{other}`: expected evdev or serial"),
            )),
        }
    }
}

fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

impl RawHours {
    fn validate(&self, file: &Path) -> Result<Schedule, ConfigError> {
        let bad = |key: &str, problem: String| ConfigError::invalid(file, key, problem);
        let tz = self.timezone.as_deref().unwrap_or("Europe/Helsinki");
        // The zone's rules are read from the system's time-zone database here, once.
        let zone = Zone::parse(tz).map_err(|e| bad("hours.timezone", e.to_string()))?;
        let spans = |key: &str, list: &[String]| -> Result<Vec<Span>, ConfigError> {
            list.iter()
                .map(|s| Span::parse(s).map_err(|p| bad(key, p)))
                .collect()
        };
        let mut week: [DayHours; 7] = Default::default();
        for (table, raw) in [
            ("self_service", &self.self_service),
            ("staffed", &self.staffed),
        ] {
            let days = [
                &raw.mon, &raw.tue, &raw.wed, &raw.thu, &raw.fri, &raw.sat, &raw.sun,
            ];
            for (i, (name, day)) in ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .zip(days)
                .enumerate()
            {
                let key = format!("hours.{table}.{name}");
                let list = match (day, &raw.daily) {
                    (Some(l), _) => spans(&key, l)?,
                    (None, Some(l)) => spans(&format!("hours.{table}.daily"), l)?,
                    (None, None) => vec![],
                };
                if table == "staffed" {
                    week[i].staffed = list
                } else {
                    week[i].self_service = list
                }
            }
        }
        let date = |key: &str, s: &str| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| bad(key, format!("`{s}`: expected YYYY-MM-DD")))
        };
        let mut exceptions = vec![];
        for (i, e) in self.exceptions.iter().enumerate() {
            let key = format!("hours.exceptions[{i}]");
            let (first, last) = match (&e.date, &e.from, &e.to) {
                (Some(d), None, None) => {
                    let d = date(&format!("{key}.date"), d)?;
                    (d, d)
                }
                (None, Some(f), Some(t)) => (
                    date(&format!("{key}.from"), f)?,
                    date(&format!("{key}.to"), t)?,
                ),
                _ => return Err(bad(&key, "either `date`, or `from` and `to`".into())),
            };
            if last < first {
                return Err(bad(&format!("{key}.to"), "before `from`".into()));
            }
            exceptions.push(Exception {
                first,
                last,
                name: e.name.clone(),
                hours: DayHours {
                    self_service: spans(&format!("{key}.self_service"), &e.self_service)?,
                    staffed: spans(&format!("{key}.staffed"), &e.staffed)?,
                },
            });
        }
        let last_entry_minutes = self.last_entry_minutes.unwrap_or(15);
        if last_entry_minutes > 120 {
            return Err(bad(
                "hours.last_entry_minutes",
                format!("{last_entry_minutes}: expected 0 to 120"),
            ));
        }
        Ok(Schedule {
            zone,
            week,
            exceptions,
            last_entry_minutes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drivers::keymap::{Layout, Terminator};

    const GPIO: &str = "[gpio]\nbackend = \"files\"  # the twin\ndir = \"pins\"\nlock = 17\nlock_active_high = false\nbuzer = 13\n";

    fn lock_of(text: &str) -> Result<LockSettings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("door.toml");
        std::fs::write(&file, text).unwrap();
        load_lock(&file).map(|mut l| {
            // Relative to the file, which is gone with the directory.
            if let GpioBackend::Files(d) = &mut l.gpio {
                *d = d.strip_prefix(dir.path()).unwrap().to_owned();
            }
            l
        })
    }

    #[test]
    fn the_lock_is_read_from_a_configuration_that_does_not_validate() {
        let want = LockSettings {
            gpio: GpioBackend::Files("pins".into()),
            lock: PinSpec {
                number: 17,
                active_high: false,
            },
        };
        // Only the [gpio] table, with a misspelt key the full validation refuses.
        assert_eq!(lock_of(GPIO).unwrap(), want);
        // A syntax error in another table, before and after it.
        let broken =
            format!("[door]\nname = \"Lemi\nbranch = LEMI\n\n{GPIO}\n[hours]\ndaily = [\n");
        assert_eq!(lock_of(&broken).unwrap(), want);
        // A header written with spaces, a multi-line array in the table, a table after it.
        let spaced = format!(
            "[door\n[ gpio ]  # pins\noutputs = [\n  [5, 6],\n]\n{}\n[[outputs]]\nlock = 3\n",
            GPIO.trim_start_matches("[gpio]\n")
        );
        assert_eq!(lock_of(&spaced).unwrap(), want);
    }

    #[test]
    fn a_configuration_without_a_usable_lock_pin_says_which_key() {
        let err = lock_of("[door]\nname = \"x\"\n").unwrap_err().to_string();
        assert!(err.contains("gpio"), "{err}");
        let err = lock_of(&GPIO.replace("lock = 17", "lock = 40"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("gpio.lock") && err.contains("0 to 27"),
            "{err}"
        );
        let err = lock_of(&GPIO.replace("\"files\"", "\"sysfs\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("gpio.backend"), "{err}");
        let err = lock_of("[gpio]\nbackend = \"rppal\"\nlock = \"seventeen\"\n[door\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lock"), "{err}");
        let err = load_lock(Path::new("/nonexistent/door.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }

    fn reader_of(text: &str) -> Result<ReaderSettings, ConfigError> {
        let raw: RawReader = config::parse(Path::new("door.toml"), text).unwrap();
        raw.validate(Path::new("door.toml"), "readers[0]")
    }

    #[test]
    fn barcode_readers_take_a_card_rule_and_keyboard_scanners_a_layout() {
        // Plain cards as before when no rule is given.
        assert_eq!(
            reader_of("kind = \"serial\"\npath = \"/dev/ttyACM0\"").unwrap(),
            ReaderSettings::Serial {
                path: "/dev/ttyACM0".into(),
                baud: 9600,
                rule: ScanRule::default(),
            }
        );
        let ReaderSettings::Keyboard { keyboard, rule } = reader_of(
            "kind = \"keyboard\"\npath = \"/dev/input/by-id/usb-scanner-event-kbd\"\nlayout = \"fi\"\nend = \"tab\"\nidle_ms = 150\ncard = { query = \"number\", strip_prefix = [\"LIBRARYCARD:\"], characters = \"digits\", min_length = 14, max_length = 14 }",
        )
        .unwrap() else {
            panic!("not a keyboard scanner");
        };
        assert_eq!(
            (keyboard.layout, keyboard.terminator, keyboard.idle),
            (Layout::Fi, Terminator::Tab, Duration::from_millis(150))
        );
        assert_eq!(
            rule.card("https://x.example/c?number=24680000000011")
                .unwrap()
                .expose(),
            "24680000000011"
        );
        assert_eq!(
            reader_of("kind = \"wiegand\"\nd0 = 5\nd1 = 6\nkeypad = \"8-bit\"").unwrap(),
            ReaderSettings::Wiegand {
                d0: 5,
                d1: 6,
                format: NumberFormat::Payload,
                keys: KeyBursts::Eight,
            }
        );
        for (text, key, words) in [
            ("kind = \"keyboard\"", "readers[0].path", "event-kbd"),
            (
                "kind = \"keyboard\"\npath = \"k\"\nlayout = \"de\"",
                "readers[0].layout",
                "us or fi",
            ),
            (
                "kind = \"keyboard\"\npath = \"k\"\nend = \"space\"",
                "readers[0].end",
                "enter or tab",
            ),
            (
                "kind = \"keyboard\"\npath = \"k\"\nidle_ms = 5",
                "readers[0].idle_ms",
                "20 to 5000",
            ),
            (
                "kind = \"serial\"\npath = \"p\"\nlayout = \"fi\"",
                "readers[0].layout",
                "keyboard",
            ),
            (
                "kind = \"serial\"\npath = \"p\"\ncard = { query = \"a b\" }",
                "readers[0].card.query",
                "parameter",
            ),
            (
                "kind = \"serial\"\npath = \"p\"\ncard = { min_length = 9, max_length = 8 }",
                "readers[0].card.min_length",
                "max_length",
            ),
            (
                "kind = \"pcsc\"\ncard = { query = \"number\" }",
                "readers[0].card",
                "barcode",
            ),
            (
                "kind = \"wiegand\"\nd0 = 5\nd1 = 6\nkeypad = \"6-bit\"",
                "readers[0].keypad",
                "4-bit or 8-bit",
            ),
            (
                "kind = \"serial\"\npath = \"p\"\nkeypad = \"4-bit\"",
                "readers[0].keypad",
                "[keypad]",
            ),
            ("kind = \"hid\"", "readers[0].kind", "keyboard"),
        ] {
            let e = reader_of(text).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(words), "{text}: {e}");
        }
        let e = config::parse::<RawReader>(
            Path::new("door.toml"),
            "kind = \"serial\"\npath = \"p\"\ncard = { prefix = \"x\" }",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("prefix"), "{e}");
    }

    fn osdp_reader_of(text: &str) -> Result<ReaderSettings, ConfigError> {
        let raw: RawReader = config::parse(Path::new("/etc/omatoimi/door.toml"), text).unwrap();
        raw.validate(Path::new("/etc/omatoimi/door.toml"), "readers[0]")
    }

    #[test]
    fn an_osdp_reader_has_a_port_a_key_or_none_and_the_usual_defaults() {
        assert_eq!(
            osdp_reader_of("kind = \"osdp\"\npath = \"/dev/ttyUSB0\"\nkey = \"osdp/door.key\"")
                .unwrap(),
            ReaderSettings::Osdp {
                path: "/dev/ttyUSB0".into(),
                baud: 9600,
                address: 0,
                key: Some("/etc/omatoimi/osdp/door.key".into()),
                format: NumberFormat::Payload,
                uid: UidFormat::Hex,
            }
        );
        let plain = osdp_reader_of(
            "kind = \"osdp\"\npath = \"/dev/ttyUSB0\"\nkey = \"none\"\naddress = 1\nbaud = 115200\nformat = \"facility-card\"",
        )
        .unwrap();
        assert!(matches!(
            plain,
            ReaderSettings::Osdp {
                key: None,
                address: 1,
                baud: 115_200,
                format: NumberFormat::FacilityCard,
                ..
            }
        ));
        for (text, says) in [
            ("kind = \"osdp\"\nkey = \"none\"", "readers[0].path"),
            (
                "kind = \"osdp\"\npath = \"/dev/ttyUSB0\"",
                "\"none\" for a reader without",
            ),
            (
                "kind = \"osdp\"\npath = \"p\"\nkey = \"none\"\naddress = 127",
                "0 to 126",
            ),
            (
                "kind = \"osdp\"\npath = \"p\"\nkey = \"none\"\nbaud = 4800",
                "OSDP speed",
            ),
            (
                "kind = \"osdp\"\npath = \"p\"\nkey = \"none\"\nformat = \"hex\"",
                "readers[0].format",
            ),
            ("kind = \"osdb\"", "wiegand or osdp"),
        ] {
            let e = osdp_reader_of(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    fn display_of(text: &str) -> Result<DisplaySettings, ConfigError> {
        let raw: RawDisplay = config::parse(Path::new("door.toml"), text).unwrap();
        raw.validate(Path::new("door.toml"))
    }

    #[test]
    fn a_display_is_an_lcd_or_an_oled_with_the_usual_address_and_a_size_it_can_have() {
        assert_eq!(
            display_of("kind = \"hd44780\"").unwrap(),
            DisplaySettings {
                bus: 1,
                address: 0x27,
                kind: DisplayKind::Hd44780(display::hd44780::Lcd { cols: 16, rows: 2 }),
            }
        );
        assert_eq!(
            display_of("kind = \"ssd1306\"").unwrap(),
            DisplaySettings {
                bus: 1,
                address: 0x3C,
                kind: DisplayKind::Ssd1306 { height: 64 },
            }
        );
        assert_eq!(
            display_of("kind = \"ssd1306\"\nheight = 32\naddress = 0x3D")
                .unwrap()
                .kind,
            DisplayKind::Ssd1306 { height: 32 }
        );
        for (text, says) in [
            ("kind = \"ssd1306\"\nheight = 48", "64 or 32"),
            ("kind = \"ssd1306\"\ncolumns = 21", "not columns or rows"),
            ("kind = \"hd44780\"\nheight = 64", "columns and rows"),
            ("kind = \"st7735\"", "\"ssd1306\""),
            ("kind = \"ssd1306\"\naddress = 0x7C", "0x3C or 0x3D"),
        ] {
            let e = display_of(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
