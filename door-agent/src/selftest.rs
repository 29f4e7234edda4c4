//! `door-agent selftest`: every configured device and the network path, tried once with the
//! technician at the door, as a table read at a glance. The door must be stopped (the pins and
//! readers are its own).
//!
//! The lock relay is checked through the door contact: the lock is released, the technician opens
//! the door and lets it close, and the contact must follow. The LEDs and the buzzer are switched
//! on one at a time for the technician to see and hear. A card must be read and a key pressed.
//! No card number or key is ever printed.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use daemon::selftest::{Check, check};
use drivers::card::CardEvent;
use drivers::gpio::{DoorIo, Engage, Signal};

use crate::devices;
use crate::settings::{DoorSettings, ReaderSettings};

/// How long the selftest waits for the technician, and what it says to them.
pub struct Technician<'a> {
    /// Bound on each thing the technician does (open the door, present a card, press a key).
    pub wait: Duration,
    /// How long each LED or the buzzer stays on.
    pub show: Duration,
    /// Tells the technician what to do now.
    pub say: &'a (dyn Fn(&str) + Sync),
}

impl std::fmt::Debug for Technician<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Technician")
            .field("wait", &self.wait)
            .field("show", &self.show)
            .finish_non_exhaustive()
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

async fn poll_until(
    door: &mut dyn DoorIo,
    open: bool,
    within: Duration,
) -> Result<Option<Duration>, String> {
    let start = Instant::now();
    loop {
        match door.inputs() {
            Ok(i) if i.open == open => return Ok(Some(start.elapsed())),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
        if start.elapsed() >= within {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The door's pins: contact, exit, tamper at rest; LEDs and buzzer; the relay through the
/// contact. The lock is claimed first, on its own, and from then on a panic engages it (the
/// relay check releases it on purpose); what engages it is left in `lock` for the way out.
async fn door_checks(
    s: &DoorSettings,
    tech: &Technician<'_>,
    out: &mut Vec<Check>,
    lock: &OnceLock<Arc<dyn Engage>>,
) {
    let claimed = devices::engage_lock(&s.lock()).inspect(|claimed| {
        let engager = claimed.engager();
        devices::engage_on_panic(engager.clone());
        let _ = lock.set(engager);
    });
    let mut door = match claimed.and_then(|claimed| devices::open_door_with(s, claimed)) {
        Ok(d) => {
            out.push(check(
                "door pins",
                true,
                format!(
                    "lock {} and contact {} claimed; lock engaged",
                    s.pins.lock.number, s.pins.contact.number
                ),
            ));
            d
        }
        Err(e) => {
            out.push(check("door pins", false, format!("{e:#}")));
            return;
        }
    };
    let rest = match door.inputs() {
        Ok(i) => i,
        Err(e) => {
            out.push(check("door contact", false, e.to_string()));
            return;
        }
    };
    out.push(if rest.open {
        check(
            "door contact",
            false,
            format!(
                "reads OPEN with the lock engaged: close the door; if it is closed, check the wiring to pin {} and `contact_open_high`",
                s.pins.contact.number
            ),
        )
    } else {
        check("door contact", true, "reads closed")
    });
    if let Some(p) = s.pins.exit {
        out.push(if rest.exit {
            check(
                "exit button",
                false,
                format!(
                    "reads PRESSED while nobody presses it: check the wiring to pin {} and `exit_pressed_high`",
                    p.number
                ),
            )
        } else {
            check("exit button", true, "reads released")
        });
    }
    if let Some(p) = s.pins.tamper {
        out.push(if rest.tamper {
            check(
                "tamper switch",
                false,
                format!(
                    "reads TRIPPED: is the reader's cover on? Else check pin {} and `tamper_active_high`",
                    p.number
                ),
            )
        } else {
            check("tamper switch", true, "reads closed")
        });
    }

    let signals = [
        (Signal::Green, "green LED", s.pins.green),
        (Signal::Red, "red LED", s.pins.red),
        (Signal::Buzzer, "buzzer", s.pins.buzzer),
    ];
    let mut shown = Vec::new();
    let mut failed = Vec::new();
    for (signal, name, pin) in signals {
        let Some(pin) = pin else { continue };
        (tech.say)(&format!(
            "The {name} (pin {}) is on for {}.",
            pin.number,
            secs(tech.show)
        ));
        match door.signal(signal, true) {
            Ok(()) => {
                tokio::time::sleep(tech.show).await;
                match door.signal(signal, false) {
                    Ok(()) => shown.push(name),
                    Err(e) => failed.push(format!("{name}: {e}")),
                }
            }
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    if !(shown.is_empty() && failed.is_empty()) {
        out.push(if failed.is_empty() {
            check(
                "LEDs and buzzer",
                true,
                format!(
                    "{} switched on and off: did you see and hear each?",
                    shown.join(", ")
                ),
            )
        } else {
            check("LEDs and buzzer", false, failed.join("; "))
        });
    }

    if rest.open {
        out.push(check(
            "lock relay",
            false,
            "not tried: the contact already reads open",
        ));
        return;
    }
    if let Err(e) = door.set_locked(false) {
        out.push(check("lock relay", false, format!("releasing: {e}")));
        let _ = door.set_locked(true);
        return;
    }
    panic_for_tests();
    (tech.say)(&format!(
        "The lock is released now: open the door within {}, then let it close.",
        secs(tech.wait)
    ));
    let opened = poll_until(door.as_mut(), true, tech.wait).await;
    // Engaged again as soon as the door opens (it is open: the lock need not hold it) or when
    // the wait is over.
    let engaged = door.set_locked(true);
    let line = match (opened, engaged) {
        (_, Err(e)) => check("lock relay", false, format!("engaging again: {e}")),
        (Err(e), _) => check("lock relay", false, e),
        (Ok(None), _) => check(
            "lock relay",
            false,
            format!(
                "released for {} but the contact never read open: is the relay wired to the lock (pin {}), and the contact to pin {}? (or nobody opened the door)",
                secs(tech.wait),
                s.pins.lock.number,
                s.pins.contact.number
            ),
        ),
        (Ok(Some(after)), Ok(())) => {
            (tech.say)("The lock is engaged again: let the door close.");
            match poll_until(door.as_mut(), false, tech.wait).await {
                Ok(Some(closed)) => check(
                    "lock relay",
                    true,
                    format!(
                        "released; the contact read open after {} and closed {} later; engaged",
                        secs(after),
                        secs(closed)
                    ),
                ),
                Ok(None) => check(
                    "lock relay",
                    false,
                    format!(
                        "the door opened but the contact did not read closed again within {}: does the door close by itself?",
                        secs(tech.wait)
                    ),
                ),
                Err(e) => check("lock relay", false, e),
            }
        }
    };
    out.push(line);
}

/// How long an OSDP reader has to say who it is.
const OSDP_ANSWER: Duration = Duration::from_secs(5);

/// The readers are there, a card is read from one of them, and the keypad gives a key.
async fn input_checks(s: &DoorSettings, tech: &Technician<'_>, out: &mut Vec<Check>) {
    // Per reader: found (Some(true)), missing (Some(false)), or not to be known before a card
    // is read (Wiegand's two pins).
    let mut found = Vec::new();
    for r in &s.readers {
        let line = match r {
            #[cfg(feature = "pcsc")]
            ReaderSettings::Pcsc { reader, .. } => {
                let filter = reader.clone();
                match tokio::task::spawn_blocking(move || drivers::pcsc::readers(&filter)).await {
                    Ok(Ok(names)) if names.is_empty() => check(
                        "PC/SC reader",
                        false,
                        if reader.is_empty() {
                            "pcscd has no reader: is it plugged in?".to_owned()
                        } else {
                            format!("pcscd has no reader named like `{reader}`: is it plugged in?")
                        },
                    ),
                    Ok(Ok(names)) => check("PC/SC reader", true, names.join(", ")),
                    Ok(Err(e)) => check("PC/SC reader", false, format!("{e} (is pcscd running?)")),
                    Err(e) => check("PC/SC reader", false, e.to_string()),
                }
            }
            #[cfg(not(feature = "pcsc"))]
            ReaderSettings::Pcsc { .. } => check(
                "PC/SC reader",
                false,
                "this build has no PC/SC (feature `pcsc`)",
            ),
            ReaderSettings::Serial { path, .. } => match std::fs::metadata(path) {
                Ok(_) => check("serial reader", true, format!("{path} present")),
                Err(e) => check("serial reader", false, format!("{path}: {e} (plugged in?)")),
            },
            ReaderSettings::Osdp { path, key, .. } => {
                let key_ok = key.as_deref().map(drivers::osdp::key::read_key);
                match (std::fs::metadata(path), key_ok) {
                    (Err(e), _) => {
                        check("OSDP reader", false, format!("{path}: {e} (plugged in?)"))
                    }
                    (Ok(_), Some(Err(e))) => check("OSDP reader key", false, e.to_string()),
                    (Ok(_), Some(Ok(_))) => check(
                        "OSDP reader",
                        true,
                        format!("{path} present, its key readable"),
                    ),
                    (Ok(_), None) => check(
                        "OSDP reader",
                        true,
                        format!("{path} present, no secure channel (key = \"none\")"),
                    ),
                }
            }
            ReaderSettings::Keyboard { keyboard, .. } => {
                let path = &keyboard.path;
                match std::fs::metadata(path) {
                    Ok(_) => check("keyboard scanner", true, format!("{path} present")),
                    Err(e) => check(
                        "keyboard scanner",
                        false,
                        format!("{path}: {e} (plugged in?)"),
                    ),
                }
            }
            // Two pins: only a card read shows them working.
            ReaderSettings::Wiegand { .. } => {
                found.push(None);
                continue;
            }
        };
        found.push(Some(line.ok));
        out.push(line);
    }
    let devices::Inputs {
        mut cards,
        mut keys,
        osdp,
        ..
    } = match devices::open_inputs(s) {
        Ok(x) => x,
        Err(e) => {
            out.push(check("readers and keypad", false, format!("{e:#}")));
            return;
        }
    };
    // Who each OSDP reader is: it answered, through its secure channel when it has a key.
    for mut line in osdp {
        let name = line.name().to_owned();
        out.push(
            match tokio::time::timeout(OSDP_ANSWER, line.identified()).await {
                Ok(Some(id)) => check("OSDP reader", true, format!("{name}: {id}")),
                _ => check(
                    "OSDP reader",
                    false,
                    format!(
                        "{name}: no answer in {} (wired? its address and key? see the log)",
                        secs(OSDP_ANSWER)
                    ),
                ),
            },
        );
    }
    if !s.readers.is_empty() {
        out.push(card_read(&found, &mut cards, tech).await);
    }
    if s.has_keypad() {
        (tech.say)(&format!(
            "Press any key on the keypad within {}.",
            secs(tech.wait)
        ));
        out.push(match tokio::time::timeout(tech.wait, keys.recv()).await {
            Ok(Some(_)) => check("keypad", true, "a key press arrived"),
            Ok(None) => check("keypad", false, "the keypad stopped (see the log)"),
            Err(_) => check(
                "keypad",
                false,
                format!(
                    "no key in {} (plugged in? the right device?)",
                    secs(tech.wait)
                ),
            ),
        });
    } else {
        out.push(check("keypad", true, "none configured (card-only door)"));
    }
}

/// A card read by each of the readers (`found`: each one's check above, `None` where it cannot
/// be known), within the technician's wait: a reader found missing is not waited for, and when
/// every reader was found missing no card can come: the wait is skipped, and the line says so.
async fn card_read(
    found: &[Option<bool>],
    cards: &mut tokio::sync::mpsc::Receiver<CardEvent>,
    tech: &Technician<'_>,
) -> Check {
    if !found.is_empty() && found.iter().all(|f| *f == Some(false)) {
        (tech.say)("No card reader was found: the card read is skipped.");
        return check(
            "card read",
            false,
            "skipped: no reader was found (see above)",
        );
    }
    // The readers a card can come from: each present, or not to be known before a card.
    let expected = found.iter().filter(|f| **f != Some(false)).count().max(1);
    (tech.say)(&if expected == 1 {
        format!(
            "Present a library card to the reader within {}.",
            secs(tech.wait)
        )
    } else {
        format!(
            "Present a library card to each of the {expected} readers in turn within {}.",
            secs(tech.wait)
        )
    });
    let deadline = tokio::time::Instant::now() + tech.wait;
    let mut trouble = None;
    let mut read: Vec<String> = Vec::new();
    loop {
        match tokio::time::timeout_at(deadline, cards.recv()).await {
            Ok(Some(CardEvent::Card { reader, .. })) => {
                if !read.contains(&reader) {
                    read.push(reader);
                }
                if read.len() >= expected {
                    break check(
                        "card read",
                        true,
                        format!("a card was read by {}", read.join(", ")),
                    );
                }
                (tech.say)(&format!(
                    "Read by {}; now the next reader.",
                    read.last().map_or("", String::as_str)
                ));
            }
            Ok(Some(CardEvent::Unreadable { reader, why })) => {
                trouble = Some(format!("{reader}: unreadable: {why}"));
            }
            Ok(Some(CardEvent::ReaderLost { reader, why })) => {
                trouble = Some(format!("{reader}: {why}"));
            }
            Ok(Some(CardEvent::Tampered { reader })) => {
                trouble = Some(format!("{reader}: its tamper switch is tripped"));
            }
            Ok(Some(_)) => {}
            Ok(None) => break check("card read", false, "every reader stopped"),
            Err(_) if !read.is_empty() => {
                break check(
                    "card read",
                    false,
                    format!(
                        "a card was read by {}, but none by the other {} reader(s) in {}{}",
                        read.join(", "),
                        expected - read.len(),
                        secs(tech.wait),
                        trouble.map(|t| format!(" (last: {t})")).unwrap_or_default()
                    ),
                );
            }
            Err(_) => {
                break check(
                    "card read",
                    false,
                    format!(
                        "no card read in {}{}",
                        secs(tech.wait),
                        trouble.map(|t| format!(" (last: {t})")).unwrap_or_default()
                    ),
                );
            }
        }
    }
}

/// Runs every check `s` calls for, in the order a technician at the door does them; `now` is
/// Unix seconds (the list's freshness). The lock, once claimed, is left engageable in `lock`
/// for the caller's way out.
pub async fn run(
    s: &DoorSettings,
    tech: &Technician<'_>,
    now: i64,
    lock: &OnceLock<Arc<dyn Engage>>,
) -> Vec<Check> {
    let mut out = Vec::new();
    // A running door drives the same pins: releasing the lock under it would be logged as a
    // forced door. Its control socket answers while it runs.
    if std::os::unix::net::UnixStream::connect(s.state_dir.join("control.sock")).is_ok() {
        out.push(check(
            "door-agent stopped",
            false,
            "the door-agent is running: stop it first (systemctl stop door-agent)",
        ));
        return out;
    }
    door_checks(s, tech, &mut out, lock).await;
    input_checks(s, tech, &mut out).await;
    out.push(offline::selftest::library_system(s.registry.as_ref(), Duration::from_secs(5)).await);
    out.push(offline::selftest::offline_list(&s.allowlist, now, "door-agent").await);
    out
}

/// What the running door knows for a selftest the console asked for (no person at the door).
#[derive(Debug, Clone)]
pub struct Seen {
    /// The door's inputs (contact, exit button) were read just now.
    pub inputs_read: bool,
    /// Card readers that were lost and have not come back.
    pub readers_lost: Vec<String>,
    /// The offline list held: version and expiry (Unix seconds).
    pub list: Option<(u64, i64)>,
    /// The console's policy bundle: `None` when the door takes none; else its version and
    /// expiry, if one is held.
    pub policy: Option<Option<(u64, i64)>>,
}

/// The selftest of a running door, of what needs no person: its inputs, readers, state
/// directory, offline list, library system (asked through `library`, bounded by `bound`) and
/// policy bundle, at `now` (Unix seconds). The lock is not touched: the door is in service.
pub async fn unattended<F>(
    seen: Seen,
    state_dir: &std::path::Path,
    library: Option<F>,
    bound: Duration,
    now: i64,
) -> Vec<Check>
where
    F: Future<Output = Result<(), String>>,
{
    let mut out = vec![check(
        "door inputs",
        seen.inputs_read,
        if seen.inputs_read {
            "contact and exit button read"
        } else {
            "cannot be read: the door is held locked"
        },
    )];
    out.push(if seen.readers_lost.is_empty() {
        check("card readers", true, "none lost")
    } else {
        check(
            "card readers",
            false,
            format!("lost: {}", seen.readers_lost.join(", ")),
        )
    });
    out.push(daemon::selftest::state_directory(state_dir));
    out.push(offline::selftest::freshness(
        seen.list,
        now,
        "none applied yet: offline, no card is let in",
    ));
    out.push(offline::selftest::answers(library, bound).await);
    out.push(match seen.policy {
        None => check("policy bundle", true, "not taken: the hours are the file's"),
        Some(None) => check(
            "policy bundle",
            true,
            "none from the console yet: the hours are the file's",
        ),
        Some(Some((version, expires_at))) if expires_at <= now => check(
            "policy bundle",
            false,
            format!("version {version} expired: its calendar is kept"),
        ),
        Some(Some((version, expires_at))) => check(
            "policy bundle",
            true,
            format!(
                "version {version}, expires in {} h",
                (expires_at - now) / 3600
            ),
        ),
    });
    out
}

/// For the fail-locked tests, in debug builds only: with `DOOR_AGENT_TEST_PANIC=selftest` the
/// selftest panics right after releasing the lock. Release builds have no such trigger.
#[cfg(debug_assertions)]
#[allow(clippy::panic)]
fn panic_for_tests() {
    if std::env::var_os("DOOR_AGENT_TEST_PANIC").is_some_and(|v| v == "selftest") {
        panic!("DOOR_AGENT_TEST_PANIC: the selftest panics with the lock released");
    }
}

#[cfg(not(debug_assertions))]
fn panic_for_tests() {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lines(checks: &[Check]) -> Vec<(bool, String)> {
        checks
            .iter()
            .map(|c| (c.ok, format!("{}: {}", c.what, c.detail)))
            .collect()
    }

    /// The card read against readers `found`, with nobody presenting a card (the channel stays
    /// open and silent); the line, what the technician was told, and how long it took.
    async fn card_read_with(found: &[Option<bool>]) -> (Check, Vec<String>, Duration) {
        let told = std::sync::Mutex::new(Vec::new());
        let say = |text: &str| told.lock().unwrap().push(text.to_owned());
        let tech = Technician {
            wait: Duration::from_secs(20),
            show: Duration::from_secs(1),
            say: &say,
        };
        let (_tx, mut cards) = tokio::sync::mpsc::channel(1);
        let started = tokio::time::Instant::now();
        let line = card_read(found, &mut cards, &tech).await;
        let took = started.elapsed();
        (line, told.into_inner().unwrap(), took)
    }

    #[tokio::test(start_paused = true)]
    async fn no_card_is_waited_for_when_every_reader_was_found_missing() {
        let (line, told, took) = card_read_with(&[Some(false), Some(false)]).await;
        assert_eq!(took, Duration::ZERO);
        assert!(!line.ok);
        assert_eq!(line.detail, "skipped: no reader was found (see above)");
        assert_eq!(
            told,
            ["No card reader was found: the card read is skipped."]
        );

        // One reader there, or one that cannot be known before a card (Wiegand): the wait.
        for found in [&[Some(false), Some(true)][..], &[Some(false), None][..]] {
            let (line, told, took) = card_read_with(found).await;
            assert_eq!(took, Duration::from_secs(20), "{found:?}");
            assert_eq!(line.detail, "no card read in 20.0 s", "{found:?}");
            assert!(told[0].starts_with("Present a library card"), "{told:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_card_is_asked_for_on_each_reader_there() {
        let card = |reader: &str| CardEvent::Card {
            number: redact::CardNumber::new("24680000000011"),
            reader: reader.into(),
        };
        let run = |events: Vec<CardEvent>| async move {
            let told = std::sync::Mutex::new(Vec::new());
            let say = |text: &str| told.lock().unwrap().push(text.to_owned());
            let tech = Technician {
                wait: Duration::from_secs(20),
                show: Duration::from_secs(1),
                say: &say,
            };
            let (tx, mut cards) = tokio::sync::mpsc::channel(8);
            for e in events {
                tx.send(e).await.unwrap();
            }
            let line = card_read(&[Some(true), Some(false), None], &mut cards, &tech).await;
            drop(tx);
            (line, told.into_inner().unwrap())
        };
        // Two readers can answer (one was found missing): a card on each, the same one twice
        // counting once.
        let (line, told) = run(vec![
            card("osdp:/dev/ttyUSB0#1"),
            card("osdp:/dev/ttyUSB0#1"),
            card("wiegand"),
        ])
        .await;
        assert!(line.ok, "{}", line.detail);
        assert_eq!(
            line.detail,
            "a card was read by osdp:/dev/ttyUSB0#1, wiegand"
        );
        assert!(told[0].contains("each of the 2 readers"), "{told:?}");
        // Only one of them reads: the line says which, and how many did not.
        let (line, _) = run(vec![card("wiegand")]).await;
        assert!(!line.ok);
        assert_eq!(
            line.detail,
            "a card was read by wiegand, but none by the other 1 reader(s) in 20.0 s"
        );
    }

    #[tokio::test]
    async fn a_sound_door_passes_and_each_fault_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000;
        let good = Seen {
            inputs_read: true,
            readers_lost: vec![],
            list: Some((7, now + 7200)),
            policy: Some(Some((9, now + 86_400))),
        };
        let answers = Some(async { Ok(()) });
        let checks = unattended(
            good.clone(),
            dir.path(),
            answers,
            Duration::from_secs(1),
            now,
        )
        .await;
        assert!(checks.iter().all(|c| c.ok), "{:?}", lines(&checks));
        assert!(!dir.path().join(".writable-probe").exists());

        // Everything wrong at once: each line says what.
        let bad = Seen {
            inputs_read: false,
            readers_lost: vec!["front".into()],
            list: Some((7, now - 1)),
            policy: Some(Some((9, now - 1))),
        };
        let silent = Some(std::future::pending::<Result<(), String>>());
        let checks = unattended(
            bad,
            &dir.path().join("gone"),
            silent,
            Duration::from_millis(50),
            now,
        )
        .await;
        let got = lines(&checks);
        assert!(got.iter().all(|(ok, _)| !ok), "{got:?}");
        for (i, says) in [
            "door inputs: cannot be read",
            "card readers: lost: front",
            "state directory: ",
            "offline list: version 7 expired",
            "library system: no answer in 0.1 s: decisions come from the offline list",
            "policy bundle: version 9 expired",
        ]
        .iter()
        .enumerate()
        {
            assert!(got[i].1.starts_with(says), "{:?} vs {says:?}", got[i].1);
        }

        // No list at all, and the library system's error in its words.
        let refusing = Some(async { Err("SIP2 login refused".to_owned()) });
        let none = Seen { list: None, ..good };
        let got = lines(&unattended(none, dir.path(), refusing, Duration::from_secs(1), now).await);
        assert_eq!(
            got[3],
            (
                false,
                "offline list: none applied yet: offline, no card is let in".into()
            )
        );
        assert_eq!(got[4], (false, "library system: SIP2 login refused".into()));
    }
}
