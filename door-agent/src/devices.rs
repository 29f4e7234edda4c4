//! Opens the configured devices and wires each to the daemon's channels: every card reader's
//! events into one channel, the keypad's keys into another, the door's pins into a [`DoorIo`].
//! The lock relay is claimed first and on its own ([`engage_lock`]), and engaged again on every
//! way out, a panic included ([`engage_on_panic`]).

use std::sync::Arc;
use std::time::Duration;

use access::door::Feedback;
use access::pin::Key;
use access::wiegand::KeyBursts;
use drivers::card::{CardEvent, CardReader};
use drivers::gpio::{DoorIo, Engage, FileBackend, FilePin, GpioDoor, LockRelay};
use drivers::keyboard::KeyboardScanner;
use drivers::keypad::{EvdevKeypad, PinPad};
use drivers::serial::{PortSettings, SerialKeypad, SerialScanner};
use drivers::wiegand::{WiegandCards, WiegandKeys};
use tokio::sync::mpsc;

use crate::settings::{DoorSettings, GpioBackend, KeypadSettings, LockSettings, ReaderSettings};

/// How long a way out waits for a lock pin another thread is driving.
pub const ENGAGE_WAIT: Duration = Duration::from_millis(500);

/// The exit status after a panic (Rust's own for a panicked program); the unit restarts on it.
pub const PANIC_EXIT: i32 = 101;

/// The lock relay, claimed and engaged before the rest of the door is opened.
#[allow(missing_debug_implementations)]
pub struct ClaimedLock {
    settings: LockSettings,
    relay: Relay,
}

enum Relay {
    Files(FileBackend, LockRelay<FilePin>),
    #[cfg(feature = "rppal")]
    Rppal(
        drivers::rppal_pins::RppalBackend,
        LockRelay<<drivers::rppal_pins::RppalBackend as drivers::gpio::PinBackend>::Output>,
    ),
}

impl ClaimedLock {
    /// What engages this lock from anywhere, for good (see [`Engage`]).
    pub fn engager(&self) -> Arc<dyn Engage> {
        match &self.relay {
            Relay::Files(_, r) => Arc::new(r.clone()),
            #[cfg(feature = "rppal")]
            Relay::Rppal(_, r) => Arc::new(r.clone()),
        }
    }

    /// The lock's settings.
    pub fn settings(&self) -> &LockSettings {
        &self.settings
    }
}

/// Claims the lock pin alone and engages it: the first thing `run` does, and all `lock` does.
pub fn engage_lock(lock: &LockSettings) -> anyhow::Result<ClaimedLock> {
    let relay = match &lock.gpio {
        GpioBackend::Files(dir) => {
            let mut b = FileBackend::new(dir)?;
            let r = LockRelay::claim(&mut b, lock.lock)?;
            Relay::Files(b, r)
        }
        #[cfg(feature = "rppal")]
        GpioBackend::Rppal => {
            let mut b = drivers::rppal_pins::RppalBackend::new()?;
            let r = LockRelay::claim(&mut b, lock.lock)?;
            Relay::Rppal(b, r)
        }
        #[cfg(not(feature = "rppal"))]
        GpioBackend::Rppal => {
            anyhow::bail!("this build has no Raspberry Pi GPIO (feature `rppal`)")
        }
    };
    Ok(ClaimedLock {
        settings: lock.clone(),
        relay,
    })
}

/// From now on a panic anywhere in the process (a tokio task's too, which tokio would otherwise
/// catch and the daemon run on without it) engages the lock for good and ends the process with
/// [`PANIC_EXIT`], for systemd to restart it. Only the panic's location and a literal message are
/// written: a formatted one could carry a card number.
pub fn engage_on_panic(lock: Arc<dyn Engage>) {
    std::panic::set_hook(Box::new(move |info| {
        let engaged = lock.engage_for_good(ENGAGE_WAIT);
        let message = info.payload().downcast_ref::<&str>().copied();
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "door-agent: panicked at {place}: {}",
            message.unwrap_or("(message withheld)")
        );
        match engaged {
            Ok(()) => eprintln!("door-agent: the lock is engaged; exiting"),
            Err(e) => eprintln!("door-agent: the lock could not be engaged ({e}); exiting"),
        }
        std::process::exit(PANIC_EXIT);
    }));
}

/// Forwards a reader's events until it or the daemon stops.
pub fn forward_cards(mut reader: impl CardReader + 'static, tx: mpsc::Sender<CardEvent>) {
    tokio::spawn(async move {
        while let Some(ev) = reader.next().await {
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
}

/// Forwards a Wiegand reader's cards, and its keypad's keys when it has one (`keys`): one reader
/// is then the door's card reader and its PIN pad, beside any `[keypad]`.
pub fn forward_wiegand(
    cards: WiegandCards,
    pad: WiegandKeys,
    keys: KeyBursts,
    card_tx: mpsc::Sender<CardEvent>,
    key_tx: mpsc::Sender<Key>,
) {
    forward_cards(cards, card_tx);
    if keys != KeyBursts::None {
        forward_keys(pad, key_tx);
    }
}

/// Forwards a keypad's keys; a failing keypad is reported once and retried every second.
pub fn forward_keys(mut pad: impl PinPad + 'static, tx: mpsc::Sender<Key>) {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            match pad.next_key().await {
                Ok(Some(k)) => {
                    failing = false;
                    if tx.send(k).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    if !failing {
                        tracing::error!("keypad: {e}");
                    }
                    failing = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// The door's pins as configured. The lock is engaged as the pins are claimed.
pub fn open_door(settings: &DoorSettings) -> anyhow::Result<Box<dyn DoorIo>> {
    open_door_with(settings, engage_lock(&settings.lock())?)
}

/// The door's pins around a lock claimed earlier ([`engage_lock`]).
pub fn open_door_with(
    settings: &DoorSettings,
    lock: ClaimedLock,
) -> anyhow::Result<Box<dyn DoorIo>> {
    anyhow::ensure!(
        lock.settings == settings.lock(),
        "the lock was claimed as {:?} and is now configured as {:?}: was the configuration changed while the door started?",
        lock.settings,
        settings.lock()
    );
    Ok(match lock.relay {
        Relay::Files(mut b, r) => Box::new(GpioDoor::with_lock(&mut b, r, &settings.pins)?),
        #[cfg(feature = "rppal")]
        Relay::Rppal(mut b, r) => Box::new(GpioDoor::with_lock(&mut b, r, &settings.pins)?),
    })
}

/// The display at the door, when `[display]` names one: started now (a display that does not
/// answer is an error: the technician named it, so it should be there).
pub fn open_display(
    settings: &DoorSettings,
) -> anyhow::Result<Option<Box<dyn drivers::display::TextDisplay>>> {
    let Some(d) = settings.display else {
        return Ok(None);
    };
    #[cfg(feature = "rppal")]
    {
        use crate::settings::DisplayKind;
        Ok(Some(match d.kind {
            DisplayKind::Hd44780(lcd) => drivers::display::open_hd44780(d.bus, d.address, lcd)?,
            DisplayKind::Ssd1306 { height } => {
                drivers::display::open_ssd1306(d.bus, d.address, u32::from(height))?
            }
        }))
    }
    #[cfg(not(feature = "rppal"))]
    {
        let _ = d;
        anyhow::bail!(
            "[display]: this door-agent was built without the Raspberry Pi's I2C (feature rppal)"
        )
    }
}

/// The door's inputs, opened: every reader's card events on one channel, the keys on another,
/// and what the OSDP readers add (LEDs, buzzer and words; who they are).
#[allow(missing_debug_implementations)]
pub struct Inputs {
    /// Every card reader's events.
    pub cards: mpsc::Receiver<CardEvent>,
    /// The keypad's keys, and those typed on OSDP readers.
    pub keys: mpsc::Receiver<Key>,
    /// The door's feedback to the OSDP readers' LEDs and buzzers, if there are any.
    pub feedback: Option<mpsc::Sender<Feedback>>,
    /// The first OSDP reader's display, for the door's words when no `[display]` is named.
    pub display: Option<Box<dyn drivers::display::TextDisplay>>,
    /// The OSDP readers' lines (who each reader is, for the selftest).
    pub osdp: Vec<drivers::osdp::OsdpLine>,
}

/// Opens the configured readers and keypad onto new channels.
pub fn open_inputs(settings: &DoorSettings) -> anyhow::Result<Inputs> {
    let (card_tx, cards) = mpsc::channel(32);
    let (key_tx, keys) = mpsc::channel(64);
    let mut feedback = vec![];
    let mut display: Option<Box<dyn drivers::display::TextDisplay>> = None;
    let mut osdp = vec![];
    for r in &settings.readers {
        match r {
            #[cfg(feature = "pcsc")]
            ReaderSettings::Pcsc { reader, uid } => forward_cards(
                drivers::pcsc::PcscReader::start(drivers::pcsc::PcscSettings {
                    reader: reader.clone(),
                    uid: *uid,
                    ..drivers::pcsc::PcscSettings::default()
                }),
                card_tx.clone(),
            ),
            #[cfg(not(feature = "pcsc"))]
            ReaderSettings::Pcsc { .. } => {
                anyhow::bail!("this build has no PC/SC readers (feature `pcsc`)")
            }
            ReaderSettings::Serial { path, baud, rule } => forward_cards(
                SerialScanner::open(
                    PortSettings {
                        path: path.clone(),
                        baud: *baud,
                    },
                    rule.clone(),
                ),
                card_tx.clone(),
            ),
            ReaderSettings::Keyboard { keyboard, rule } => forward_cards(
                KeyboardScanner::open(keyboard.clone(), rule.clone()),
                card_tx.clone(),
            ),
            #[cfg(feature = "rppal")]
            ReaderSettings::Wiegand {
                d0,
                d1,
                format,
                keys,
            } => {
                let backend = drivers::rppal_pins::RppalBackend::new()?;
                let (cards, pad) =
                    drivers::rppal_pins::open_wiegand(&backend, *d0, *d1, *format, *keys)?;
                forward_wiegand(cards, pad, *keys, card_tx.clone(), key_tx.clone());
            }
            #[cfg(not(feature = "rppal"))]
            ReaderSettings::Wiegand { .. } => {
                anyhow::bail!("this build has no Raspberry Pi GPIO for Wiegand")
            }
            ReaderSettings::Osdp {
                path,
                baud,
                address,
                key,
                format,
                uid,
            } => {
                let o = drivers::osdp::open(&drivers::osdp::OsdpSettings {
                    port: PortSettings {
                        path: path.clone(),
                        baud: *baud,
                    },
                    address: *address,
                    key_file: key.clone(),
                    format: drivers::osdp::convert::CardFormat {
                        wiegand: *format,
                        uid: *uid,
                    },
                    text: OSDP_TEXT,
                })?;
                if key.is_none() {
                    tracing::warn!(
                        target: "security",
                        "OSDP reader {path}#{address}: no secure channel (key = \"none\"): its card data travels in clear"
                    );
                }
                forward_cards(o.reader, card_tx.clone());
                forward_keys(o.keypad, key_tx.clone());
                feedback.push(o.outputs.feedback());
                if display.is_none() {
                    display = Some(Box::new(o.outputs.clone()));
                }
                osdp.push(o.line);
            }
        }
    }
    match &settings.keypad {
        Some(KeypadSettings::Evdev(path)) => forward_keys(EvdevKeypad::new(path.clone()), key_tx),
        Some(KeypadSettings::Serial { path, baud }) => forward_keys(
            SerialKeypad::open(PortSettings {
                path: path.clone(),
                baud: *baud,
            }),
            key_tx,
        ),
        None => drop(key_tx),
    }
    Ok(Inputs {
        cards,
        keys,
        feedback: fan_out(feedback),
        display,
        osdp,
    })
}

/// The characters and lines of an OSDP reader's display the door writes (a common size; longer
/// lines are cut by the reader).
pub const OSDP_TEXT: (usize, usize) = (16, 2);

/// One sender for several sinks of feedback (none: `None`).
fn fan_out(mut sinks: Vec<mpsc::Sender<Feedback>>) -> Option<mpsc::Sender<Feedback>> {
    if sinks.len() < 2 {
        return sinks.pop();
    }
    let (tx, mut rx) = mpsc::channel::<Feedback>(16);
    tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            for s in &sinks {
                let _ = s.try_send(f.clone());
            }
        }
    });
    Some(tx)
}
