//! `kiosk.toml`: the `[kiosk]`, `[offline]`, `[rfid]`, `[scanner]` and `[printer]` tables and the
//! shared `[registry]` and `[allowlist]`, read raw and then validated; every error names the
//! file and the key.

use std::path::{Path, PathBuf};
use std::time::Duration;

use config::ConfigError;
use config::allowlist::{AllowlistSettings, RawAllowlist};
use config::registry::{RawRegistry, RegistrySettings};
use drivers::printer::PrinterLink;
use receipt::CodePage;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    kiosk: RawKiosk,
    #[serde(default)]
    offline: RawOffline,
    rfid: Option<RawRfid>,
    scanner: Option<RawScanner>,
    printer: Option<RawPrinter>,
    registry: Option<RawRegistry>,
    allowlist: Option<RawAllowlist>,
    console: Option<config::console::RawConsole>,
    help: Option<RawHelp>,
    sound: Option<RawSound>,
}

/// `[sound]`: the kiosk's cues.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSound {
    enabled: Option<bool>,
    player: Option<Vec<String>>,
}

/// `[help]`: what the kiosk tells a patron who needs a person.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHelp {
    /// Words for every language, or a table of them by language (`fi`, `sv`, `en`).
    text: Option<HelpText>,
    phone: Option<String>,
    payment_link: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HelpText {
    One(String),
    ByLanguage(std::collections::BTreeMap<String, String>),
}

/// The library's help on the kiosk's screens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelpSettings {
    /// Words by language (`fi`, `sv`, `en`); `*` for every language.
    pub text: std::collections::BTreeMap<String, String>,
    /// A phone number a patron can call.
    pub phone: String,
    /// The library's page for paying fines online.
    pub payment_link: String,
}

impl HelpSettings {
    /// The help as the screen shows it in `language`: that language's words, else the words
    /// for every language, else the first given.
    pub fn for_language(&self, language: &str) -> ui::Help {
        let text = self
            .text
            .get(language)
            .or_else(|| self.text.get("*"))
            .or_else(|| self.text.values().next())
            .cloned()
            .unwrap_or_default();
        ui::Help {
            text,
            phone: self.phone.clone(),
            payment_link: self.payment_link.clone(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKiosk {
    name: String,
    library: String,
    branch: Option<String>,
    state_dir: PathBuf,
    language: Option<String>,
    idle_logout_secs: Option<u64>,
    pin_required: Option<bool>,
    online_timeout_ms: Option<u64>,
    sync_minutes: Option<u64>,
    metrics: Option<String>,
    max_pin_failures: Option<u32>,
    lockout_minutes: Option<u32>,
    retention_days: Option<u32>,
    security_retention_days: Option<u32>,
    max_attempts_per_minute: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffline {
    lending: Option<bool>,
    max_loans: Option<u32>,
    loan_days: Option<u32>,
    loan_days_by_media: Option<std::collections::BTreeMap<String, u32>>,
    untagged: Option<bool>,
    returns: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRfid {
    driver: String,
    path: Option<String>,
    baud: Option<u32>,
    security: Option<String>,
    poll_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScanner {
    /// `serial` (the default) or `keyboard` (a USB scanner as a keyboard).
    kind: Option<String>,
    path: String,
    baud: Option<u32>,
    layout: Option<String>,
    end: Option<String>,
    idle_ms: Option<u64>,
    /// How a scan at the welcome screen becomes a card number.
    card: Option<drivers::scan::RawScanRule>,
}

/// Where the kiosk's barcode scanner is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerSettings {
    /// On a serial port (or a USB one in a serial mode).
    Serial(drivers::serial::PortSettings),
    /// A USB scanner typing as a keyboard (its factory setting).
    Keyboard(drivers::keyboard::KeyboardSettings),
}

impl ScannerSettings {
    /// The device's path.
    pub fn path(&self) -> &str {
        match self {
            Self::Serial(p) => &p.path,
            Self::Keyboard(k) => &k.path,
        }
    }
}

impl RawScanner {
    /// `[scanner]`: where it is, and the card rule.
    fn validate(
        &self,
        file: &Path,
    ) -> Result<(ScannerSettings, drivers::scan::ScanRule), ConfigError> {
        let bad = |key: &str, problem: String| {
            ConfigError::invalid(file, format!("scanner.{key}"), problem)
        };
        let kind = self.kind.as_deref().unwrap_or("serial");
        let source = match kind {
            "serial" => {
                for (key, given) in [
                    ("layout", self.layout.is_some()),
                    ("end", self.end.is_some()),
                    ("idle_ms", self.idle_ms.is_some()),
                ] {
                    if given {
                        return Err(bad(
                            key,
                            "only a keyboard scanner (kind = \"keyboard\") has it".into(),
                        ));
                    }
                }
                ScannerSettings::Serial(drivers::serial::PortSettings {
                    path: self.path.clone(),
                    baud: self.baud.unwrap_or(9600),
                })
            }
            "keyboard" => {
                if self.baud.is_some() {
                    return Err(bad("baud", "a keyboard scanner has no baud rate".into()));
                }
                ScannerSettings::Keyboard(
                    drivers::keyboard::configured(
                        &self.path,
                        self.layout.as_deref(),
                        self.end.as_deref(),
                        self.idle_ms,
                    )
                    .map_err(|p| bad(p.key, p.problem))?,
                )
            }
            other => {
                return Err(bad(
                    "kind",
                    format!("`{other}`: expected serial or keyboard"),
                ));
            }
        };
        let rule = match &self.card {
            None => drivers::scan::ScanRule::default(),
            Some(raw) => raw
                .validate()
                .map_err(|p| bad(&format!("card.{}", p.key), p.problem))?,
        };
        Ok((source, rule))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrinter {
    link: String,
    code_page: Option<String>,
    columns: Option<usize>,
    timeout_ms: Option<u64>,
    footer: Option<String>,
}

/// How the gate's security is switched on a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// The AFI byte (checked by reading it back).
    Afi,
    /// NXP's EAS bit.
    Eas,
    /// Both.
    Both,
}

/// The RFID pad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PadSettings {
    /// A FEIG ISC reader on a serial port.
    Feig {
        /// Device path.
        path: String,
        /// Baud rate (38400 by default).
        baud: u32,
    },
    /// The twin reader in this process (demo and tests).
    Simulated,
}

/// Offline lending policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflinePolicy {
    /// Patrons on the offline list may borrow while the library system is down.
    pub lending: bool,
    /// At most this many undelivered offline loans per patron.
    pub max_loans: usize,
    /// Offline loans are due this many days later (end of that day), by the media format on
    /// the item's tag where the library names it.
    pub loan_days: crate::offline_rules::LoanDays,
    /// Items known only by a scanned barcode (no tag read, so not known to be for loan) are
    /// lent offline too.
    pub untagged: bool,
    /// Returns are taken while offline.
    pub returns: bool,
}

/// The printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterSettings {
    /// Where.
    pub link: PrinterLink,
    /// Code page.
    pub code_page: CodePage,
    /// Characters per line.
    pub columns: usize,
    /// Bound on each exchange.
    pub timeout: Duration,
    /// A closing line.
    pub footer: Option<String>,
}

/// A validated kiosk configuration.
#[derive(Debug, Clone)]
pub struct KioskSettings {
    /// The kiosk's name in logs.
    pub name: String,
    /// The library's name on screen and receipt.
    pub library: String,
    /// The branch on the receipt.
    pub branch: Option<String>,
    /// State directory (queue, list store).
    pub state_dir: PathBuf,
    /// Screen language at start and after each patron.
    pub language: String,
    /// A patron who does nothing this long is logged out.
    pub idle_logout: Duration,
    /// A PIN is asked after the card.
    pub pin_required: bool,
    /// Bound on waiting for the library system before going offline.
    pub online_timeout: Duration,
    /// How often the offline list is synced and the queue delivered.
    pub sync_every: Duration,
    /// The loopback address of the health endpoint (`/metrics`), if any.
    pub metrics: Option<std::net::SocketAddr>,
    /// How long the event log keeps an event (refusals at login; `[kiosk] retention_days`, 30).
    pub retention: Duration,
    /// How long the security log keeps one (PIN guessing, tags whose security would not switch,
    /// refused lists, commands and offline loans; `security_retention_days`, 365).
    pub security_retention: Duration,
    /// The wrong-PIN lockout (over the library system's answers and the list's alike).
    pub pin_lockout: allowlist::guard::GuardPolicy,
    /// Logins tried at this kiosk in any minute, all cards together (`[kiosk]
    /// max_attempts_per_minute`, 20, as a door's): one more is refused before it is checked.
    pub max_attempts_per_minute: u32,
    /// Keys of `[kiosk]` read as the lockout that belongs in `[allowlist]`, for a warning.
    pub moved_keys: Vec<String>,
    /// Offline policy.
    pub offline: OfflinePolicy,
    /// RFID pad, if any.
    pub pad: Option<PadSettings>,
    /// Tag security.
    pub security: Security,
    /// How often the pad is asked for tags.
    pub poll: Duration,
    /// Barcode scanner (items, and cards at the welcome screen).
    pub scanner: Option<ScannerSettings>,
    /// How a scan at the welcome screen becomes a card number (`[scanner] card`; plain cards
    /// by default).
    pub card_rule: drivers::scan::ScanRule,
    /// Receipt printer, if any.
    pub printer: Option<PrinterSettings>,
    /// The library system.
    pub registry: Option<RegistrySettings>,
    /// The offline list.
    pub allowlist: Option<AllowlistSettings>,
    /// The library's console, if the kiosk reports to one.
    pub console: Option<config::console::ConsoleSettings>,
    /// The library's help for patrons (`[help]`).
    pub help: HelpSettings,
    /// The command that plays the kiosk's cues (a WAV on its standard input), or `None` for
    /// silence (`[sound]`).
    pub sound_player: Option<Vec<String>>,
}

impl KioskSettings {
    /// Valid but risky settings, for `check-config`.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        match &self.registry {
            Some(r) => {
                w.extend(config::warnings::registry(r));
                if matches!(&r.backend, config::registry::Backend::KohaRest(k) if k.offline.is_none())
                    && self.offline.lending
                {
                    w.push("offline.lending: Koha's REST API cannot take offline loans, and registry.koha.offline_service is not set; they would wait as conflicts for staff (set offline_service and a staff account, set lending = false, or use SIP2)".into());
                }
            }
            None => w.push(
                "registry: not set: every loan goes into the offline queue with nowhere to go"
                    .into(),
            ),
        }
        w.extend(config::warnings::retention(
            "kiosk.retention_days",
            self.retention,
            90,
        ));
        match &self.allowlist {
            Some(a) => {
                w.extend(config::warnings::allowlist(a));
                for key in &self.moved_keys {
                    w.push(format!(
                        "{key}: read as the kiosk's one wrong-PIN lockout; it belongs in [allowlist]"
                    ));
                }
            }
            None if self.offline.lending => w.push(
                "allowlist: not set: nobody can borrow while the library system is down".into(),
            ),
            None => {}
        }
        if !self.pin_required {
            w.push("kiosk.pin_required = false: anyone holding a card can borrow on it".into());
        }
        let o = &self.offline;
        if o.lending && o.loan_days.by_media.is_empty() {
            w.push(format!("offline.loan_days_by_media: not set: every offline loan is due in {} days whatever the item is (set the library's periods by the media format on its tags, e.g. V = 7 for video)", o.loan_days.default));
        }
        if o.lending && o.untagged {
            w.push("offline.untagged = true: items whose tag was not read are lent offline without knowing whether they are for loan".into());
        }
        if self.printer.is_none() {
            w.push("printer: not set: patrons get no receipts".into());
        }
        w
    }
}

/// Reads and validates `path`.
pub fn load(path: &Path) -> Result<KioskSettings, ConfigError> {
    let raw: RawFile = config::load(path)?;
    validate(&raw, path)
}

fn validate(raw: &RawFile, file: &Path) -> Result<KioskSettings, ConfigError> {
    let k = &raw.kiosk;
    let base = file.parent().unwrap_or(Path::new("."));
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_owned()
        } else {
            base.join(p)
        }
    };
    // Every table is checked, and every problem named at once.
    let mut problems = config::Problems::new(file);
    let language = k.language.clone().unwrap_or_else(|| "fi".into());
    if !["fi", "sv", "en"].contains(&language.as_str()) {
        problems.add(ConfigError::invalid(
            file,
            "kiosk.language",
            "expected \"fi\", \"sv\" or \"en\"",
        ));
    }
    if k.library.trim().is_empty() {
        problems.add(ConfigError::invalid(
            file,
            "kiosk.library",
            "the library's name is printed on every receipt; it cannot be empty",
        ));
    }
    let idle = k.idle_logout_secs.unwrap_or(60);
    if !(10..=3600).contains(&idle) {
        problems.add(ConfigError::invalid(
            file,
            "kiosk.idle_logout_secs",
            "expected 10 to 3600 seconds",
        ));
    }
    let retention_days = k.retention_days.unwrap_or(30);
    if !(1..=3650).contains(&retention_days) {
        problems.add(ConfigError::invalid(
            file,
            "kiosk.retention_days",
            "expected 1 to 3650 days",
        ));
    }
    let security_retention_days = k.security_retention_days.unwrap_or(365);
    if !(7..=3650).contains(&security_retention_days) {
        problems.add(ConfigError::invalid(
            file,
            "kiosk.security_retention_days",
            "expected 7 to 3650 days",
        ));
    }
    let max_attempts_per_minute = k.max_attempts_per_minute.unwrap_or(20);
    if !(1..=600).contains(&max_attempts_per_minute) {
        problems.add(ConfigError::invalid(
            file,
            "kiosk.max_attempts_per_minute",
            "expected 1 to 600 logins a minute",
        ));
    }
    let online_ms = k.online_timeout_ms.unwrap_or(3000);
    if !(100..=30_000).contains(&online_ms) {
        problems.add(ConfigError::invalid(
            file,
            "kiosk.online_timeout_ms",
            "expected 100 to 30000 ms",
        ));
    }
    let metrics = problems.check(
        k.metrics
            .as_deref()
            .map(|a| config::loopback_address(file, "kiosk.metrics", a))
            .transpose(),
    );
    // The wrong-PIN lockout is one setting for the device: in [allowlist] when the kiosk has
    // one, else here (see `config::allowlist::one_lockout`).
    let lockout = problems.check(config::allowlist::one_lockout(
        file,
        raw.allowlist.as_ref(),
        "kiosk",
        k.max_pin_failures,
        k.lockout_minutes,
    ));
    let o = &raw.offline;
    let days = |key: &str, d: u32| {
        if (1..=120).contains(&d) {
            Ok(d)
        } else {
            Err(ConfigError::invalid(file, key, "expected 1 to 120 days"))
        }
    };
    let offline = problems.check((|| {
        let mut by_media = std::collections::BTreeMap::new();
        for (code, d) in o.loan_days_by_media.iter().flatten() {
            let key = format!("offline.loan_days_by_media.{code}");
            if !(1..=2).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ConfigError::invalid(
                    file,
                    &key,
                    "expected an ONIX media format code (VI, BA) or its first letter (V)",
                ));
            }
            by_media.insert(code.to_ascii_uppercase(), days(&key, *d)?);
        }
        let offline = OfflinePolicy {
            lending: o.lending.unwrap_or(true),
            max_loans: usize::try_from(o.max_loans.unwrap_or(5)).unwrap_or(5),
            loan_days: crate::offline_rules::LoanDays {
                default: days("offline.loan_days", o.loan_days.unwrap_or(14))?,
                by_media,
            },
            untagged: o.untagged.unwrap_or(false),
            returns: o.returns.unwrap_or(true),
        };
        Ok(offline)
    })());
    let rfid = problems.check((|| -> Result<_, ConfigError> {
        Ok(match &raw.rfid {
            None => (None, Security::Afi, Duration::from_millis(250)),
            Some(r) => {
                let pad = match r.driver.as_str() {
                    "feig" => PadSettings::Feig {
                        path: r.path.clone().ok_or_else(|| {
                            ConfigError::invalid(
                                file,
                                "rfid.path",
                                "the FEIG driver needs the reader's serial device",
                            )
                        })?,
                        baud: r.baud.unwrap_or(38400),
                    },
                    "simulated" => PadSettings::Simulated,
                    _ => {
                        return Err(ConfigError::invalid(
                            file,
                            "rfid.driver",
                            "expected \"feig\" or \"simulated\"",
                        ));
                    }
                };
                let security = match r.security.as_deref().unwrap_or("afi") {
                    "afi" => Security::Afi,
                    "eas" => Security::Eas,
                    "both" => Security::Both,
                    _ => {
                        return Err(ConfigError::invalid(
                            file,
                            "rfid.security",
                            "expected \"afi\", \"eas\" or \"both\"",
                        ));
                    }
                };
                let poll = r.poll_ms.unwrap_or(250);
                if !(50..=5000).contains(&poll) {
                    return Err(ConfigError::invalid(
                        file,
                        "rfid.poll_ms",
                        "expected 50 to 5000 ms",
                    ));
                }
                (Some(pad), security, Duration::from_millis(poll))
            }
        })
    })());
    let printer = problems.check((|| -> Result<_, ConfigError> {
        Ok(match &raw.printer {
            None => None,
            Some(p) => {
                let link = if let Some(a) = p.link.strip_prefix("tcp:") {
                    PrinterLink::Tcp(a.to_owned())
                } else if let Some(rest) = p.link.strip_prefix("serial:") {
                    let (path, baud) = match rest.rsplit_once(':') {
                        Some((path, b)) => (
                            path,
                            b.parse().map_err(|_| {
                                ConfigError::invalid(
                                    file,
                                    "printer.link",
                                    "serial:PATH:BAUD needs a number for BAUD",
                                )
                            })?,
                        ),
                        None => (rest, 19200),
                    };
                    PrinterLink::Serial {
                        path: path.into(),
                        baud,
                    }
                } else if let Some(path) = p.link.strip_prefix("device:") {
                    PrinterLink::Device(path.into())
                } else {
                    return Err(ConfigError::invalid(
                        file,
                        "printer.link",
                        "expected tcp:HOST:PORT, serial:PATH[:BAUD] or device:PATH",
                    ));
                };
                let code_page = match &p.code_page {
                    None => CodePage::Pc858,
                    Some(c) => CodePage::parse(c).ok_or_else(|| {
                        ConfigError::invalid(
                            file,
                            "printer.code_page",
                            "expected pc437, pc850, pc858 or pc865",
                        )
                    })?,
                };
                let columns = p.columns.unwrap_or(42);
                if !(24..=64).contains(&columns) {
                    return Err(ConfigError::invalid(
                        file,
                        "printer.columns",
                        "expected 24 to 64 characters",
                    ));
                }
                Some(PrinterSettings {
                    link,
                    code_page,
                    columns,
                    timeout: Duration::from_millis(p.timeout_ms.unwrap_or(2000).clamp(100, 30_000)),
                    footer: p.footer.clone(),
                })
            }
        })
    })());
    let console = problems.check(
        raw.console
            .as_ref()
            .map(|c| c.validate(file, &resolve(&k.state_dir)))
            .transpose(),
    );
    let help = problems.check((|| -> Result<_, ConfigError> {
        Ok(match &raw.help {
            None => HelpSettings::default(),
            Some(h) => {
                let text = match &h.text {
                    None => Default::default(),
                    Some(HelpText::One(t)) => [("*".to_owned(), t.trim().to_owned())].into(),
                    Some(HelpText::ByLanguage(m)) => {
                        if let Some(bad) =
                            m.keys().find(|k| !["fi", "sv", "en"].contains(&k.as_str()))
                        {
                            return Err(ConfigError::invalid(
                                file,
                                "help.text",
                                format!("{bad:?}: the languages are fi, sv and en"),
                            ));
                        }
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.trim().to_owned()))
                            .collect()
                    }
                };
                let payment_link = h.payment_link.clone().unwrap_or_default();
                if !payment_link.is_empty() && payment_link.chars().count() > 60 {
                    return Err(ConfigError::invalid(
                        file,
                        "help.payment_link",
                        "at most 60 characters: a patron reads it off the screen (a short address)",
                    ));
                }
                HelpSettings {
                    text,
                    phone: h.phone.clone().unwrap_or_default().trim().to_owned(),
                    payment_link,
                }
            }
        })
    })());
    let sound_player = problems.check((|| -> Result<_, ConfigError> {
        Ok(match &raw.sound {
            Some(RawSound {
                enabled: Some(false),
                ..
            }) => None,
            Some(RawSound {
                player: Some(p), ..
            }) => {
                if p.first().is_none_or(|c| c.trim().is_empty()) {
                    return Err(ConfigError::invalid(
                        file,
                        "sound.player",
                        "a program and its arguments, such as [\"aplay\", \"-q\"]",
                    ));
                }
                Some(p.clone())
            }
            _ => Some(vec!["aplay".into(), "-q".into()]),
        })
    })());
    let registry = problems.check(raw.registry.as_ref().map(|r| r.validate(file)).transpose());
    let allowlist = problems.check(raw.allowlist.as_ref().map(|a| a.validate(file)).transpose());
    let scanner = problems.check(raw.scanner.as_ref().map(|s| s.validate(file)).transpose());
    problems.finish()?;
    let (
        Some(metrics),
        Some((pin_lockout, moved_keys)),
        Some(offline),
        Some((pad, security, poll)),
        Some(printer),
        Some(console),
        Some(help),
        Some(sound_player),
        Some(registry),
        Some(allowlist),
        Some(scanner),
    ) = (
        metrics,
        lockout,
        offline,
        rfid,
        printer,
        console,
        help,
        sound_player,
        registry,
        allowlist,
        scanner,
    )
    else {
        // Every `None` above left its problem behind.
        return Err(ConfigError::invalid(
            file,
            "kiosk",
            "a problem was found but not named (a bug)",
        ));
    };
    Ok(KioskSettings {
        sound_player,
        help,
        console,
        name: k.name.clone(),
        library: k.library.clone(),
        branch: k.branch.clone(),
        state_dir: resolve(&k.state_dir),
        language,
        idle_logout: Duration::from_secs(idle),
        pin_required: k.pin_required.unwrap_or(true),
        online_timeout: Duration::from_millis(online_ms),
        sync_every: Duration::from_secs(k.sync_minutes.unwrap_or(5).clamp(1, 24 * 60) * 60),
        metrics,
        retention: Duration::from_secs(u64::from(retention_days) * 86_400),
        security_retention: Duration::from_secs(u64::from(security_retention_days) * 86_400),
        pin_lockout,
        max_attempts_per_minute,
        moved_keys,
        offline,
        pad,
        security,
        poll,
        card_rule: scanner
            .as_ref()
            .map(|(_, rule)| rule.clone())
            .unwrap_or_default(),
        scanner: scanner.map(|(source, _)| source),
        printer,
        registry,
        allowlist: allowlist.map(|mut a| {
            a.guard = pin_lockout;
            a
        }),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn check(text: &str) -> Result<KioskSettings, ConfigError> {
        let raw: RawFile = config::parse(Path::new("/etc/kiosk.toml"), text)?;
        validate(&raw, Path::new("/etc/kiosk.toml"))
    }

    const MINIMAL: &str = "[kiosk]\nname = \"k\"\nlibrary = \"Lemi\"\nstate_dir = \"state\"\n";

    #[test]
    fn help_is_one_text_or_one_per_language_with_a_phone_and_a_payment_page() {
        assert_eq!(check(MINIMAL).unwrap().help, HelpSettings::default());
        let s = check(&format!(
            "{MINIMAL}[help]\ntext = \"Soita meille.\"\nphone = \" 040 123 4567 \"\n"
        ))
        .unwrap();
        assert_eq!(s.help.for_language("sv").text, "Soita meille.");
        assert_eq!(s.help.for_language("sv").phone, "040 123 4567");
        let s = check(&format!(
            "{MINIMAL}[help]\ntext = {{ fi = \"Soita.\", sv = \"Ring.\" }}\npayment_link = \"heili.fi/maksa\"\n"
        ))
        .unwrap();
        assert_eq!(s.help.for_language("sv").text, "Ring.");
        assert_eq!(s.help.for_language("fi").text, "Soita.");
        // No English: the first given rather than nothing.
        assert_eq!(s.help.for_language("en").text, "Soita.");
        assert_eq!(s.help.for_language("en").payment_link, "heili.fi/maksa");
        let e = check(&format!("{MINIMAL}[help]\ntext = {{ de = \"Hilfe\" }}\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("help.text") && e.contains("fi, sv and en"),
            "{e}"
        );
        let e = check(&format!(
            "{MINIMAL}[help]\npayment_link = \"{}\"\n",
            "x".repeat(61)
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("help.payment_link"), "{e}");
    }

    #[test]
    fn every_problem_in_a_kiosk_config_is_named_at_once() {
        let text = MINIMAL.replace("\"k\"", "\"k\"\nlanguage = \"de\"\nidle_logout_secs = 5")
            + "[rfid]\ndriver = \"feig\"\n[printer]\nlink = \"usb\"\n[sound]\nplayer = []\n";
        let e = check(&text).unwrap_err().to_string();
        assert!(e.contains("5 problems"), "{e}");
        for key in [
            "kiosk.language",
            "kiosk.idle_logout_secs",
            "rfid.path",
            "printer.link",
            "sound.player",
        ] {
            assert!(e.contains(&format!("key `{key}`")), "{key}:\n{e}");
        }
        // One problem reads as before.
        let e = check(&MINIMAL.replace("\"k\"", "\"k\"\nlanguage = \"de\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/etc/kiosk.toml: key `kiosk.language`"),
            "{e}"
        );
    }

    #[test]
    fn a_minimal_file_gets_the_defaults() {
        let s = check(MINIMAL).unwrap();
        assert_eq!(s.language, "fi");
        assert_eq!(s.idle_logout, Duration::from_secs(60));
        assert!(s.pin_required && s.offline.lending && s.offline.max_loans == 5);
        assert!(
            !s.offline.untagged,
            "an item the kiosk cannot check is not lent offline"
        );
        assert_eq!(s.offline.loan_days.of(Some("VI")), 14);
        assert_eq!(
            (s.pin_lockout.max_failures, s.pin_lockout.lockout),
            (5, 900)
        );
        assert_eq!(s.state_dir, PathBuf::from("/etc/state"));
    }

    #[test]
    fn the_scanner_is_serial_by_default_or_a_keyboard_with_its_card_rule() {
        let s = check(&format!("{MINIMAL}[scanner]\npath = \"/dev/ttyACM0\"\n")).unwrap();
        assert_eq!(
            s.scanner,
            Some(ScannerSettings::Serial(drivers::serial::PortSettings {
                path: "/dev/ttyACM0".into(),
                baud: 9600
            }))
        );
        assert_eq!(s.card_rule, drivers::scan::ScanRule::default());
        let s = check(&format!(
            "{MINIMAL}[scanner]\nkind = \"keyboard\"\npath = \"/dev/input/by-id/usb-scanner-event-kbd\"\nlayout = \"fi\"\ncard = {{ query = \"number\", strip_prefix = [\"LIBRARYCARD:\"] }}\n"
        ))
        .unwrap();
        let Some(ScannerSettings::Keyboard(k)) = &s.scanner else {
            panic!("{:?}", s.scanner);
        };
        assert_eq!(k.layout, drivers::keymap::Layout::Fi);
        assert_eq!(
            s.card_rule
                .card("LIBRARYCARD:24680000000011")
                .unwrap()
                .expose(),
            "24680000000011"
        );
        for (table, key) in [
            ("kind = \"hid\"\npath = \"p\"", "scanner.kind"),
            ("path = \"p\"\nlayout = \"fi\"", "scanner.layout"),
            (
                "kind = \"keyboard\"\npath = \"p\"\nbaud = 9600",
                "scanner.baud",
            ),
            (
                "kind = \"keyboard\"\npath = \"p\"\nlayout = \"sv\"",
                "scanner.layout",
            ),
            (
                "path = \"p\"\ncard = { characters = \"hex\" }",
                "scanner.card.characters",
            ),
        ] {
            let e = check(&format!("{MINIMAL}[scanner]\n{table}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{table}: {e}");
        }
    }

    #[test]
    fn risky_settings_are_warned_about() {
        let s = check(&MINIMAL.replace("\"k\"", "\"k\"\npin_required = false")).unwrap();
        let w = s.warnings().join("\n");
        assert!(
            w.contains("pin_required")
                && w.contains("registry: not set")
                && w.contains("no receipts")
                && w.contains("due in 14 days whatever the item is"),
            "{w}"
        );
    }

    #[test]
    fn mistakes_name_their_key() {
        for (extra, key) in [
            ("[printer]\nlink = \"lpt1\"\n", "printer.link"),
            (
                "[printer]\nlink = \"tcp:p:9100\"\ncode_page = \"utf8\"\n",
                "printer.code_page",
            ),
            ("[rfid]\ndriver = \"feig\"\n", "rfid.path"),
            ("[rfid]\ndriver = \"acme\"\n", "rfid.driver"),
            ("[offline]\nloan_days = 0\n", "offline.loan_days"),
            (
                "[offline.loan_days_by_media]\nVI = 200\n",
                "offline.loan_days_by_media.VI",
            ),
            (
                "[offline.loan_days_by_media]\nDVD = 7\n",
                "offline.loan_days_by_media.DVD",
            ),
        ] {
            let e = check(&format!("{MINIMAL}{extra}")).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("/etc/kiosk.toml"), "{e}");
        }
        let e = check(&MINIMAL.replace("\"k\"", "\"k\"\nmax_pin_failures = 0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kiosk.max_pin_failures"), "{e}");
        let s = check(&format!(
            "{MINIMAL}[offline]\nloan_days = 21\n[offline.loan_days_by_media]\nv = 7\nVO = 3\n"
        ))
        .unwrap();
        let d = &s.offline.loan_days;
        assert_eq!(
            (d.of(Some("VI")), d.of(Some("VO")), d.of(Some("BA"))),
            (7, 3, 21)
        );
        let e = check(&MINIMAL.replace("\"k\"", "\"k\"\nlanguage = \"de\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("kiosk.language"), "{e}");
        let e = check(&format!("{MINIMAL}colour = 1\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("colour"), "{e}");
    }
}
