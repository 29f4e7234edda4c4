//! An OSDP v2 card reader on an RS-485 line (a USB adapter's tty, in tests one end of a socat
//! pty pair): the control panel's side. The protocol, supervision and the secure channel are the
//! pure [`osdp_cp::Session`] (read its docs for why the `osdp` crate does the framing and the
//! cryptography); this module owns the port, the timer and the channels the door reads.
//!
//! [`open`] starts a reader and gives its parts: the card events ([`OsdpReader`], a
//! [`CardReader`]: cards, and the reader lost and found), the keys typed on it ([`OsdpKeypad`],
//! a [`PinPad`]), and its LEDs, buzzer and text ([`OsdpOutputs`], a
//! [`TextDisplay`](crate::display::TextDisplay) and a sink for the door's
//! [`Feedback`](access::door::Feedback)). [`pair`] gives a reader in install mode a key of its
//! own; [`rekey`] gives a paired reader a new one.
//!
//! Card data reaches the door only from a reader that is up, and with a key configured only
//! through the secure channel, every reply's MAC checked: a reader with another key (a swapped
//! one), or one whose replies do not verify, is reported lost and no card of it is read.

pub mod convert;
pub mod key;
mod outputs;

pub use outputs::OsdpOutputs;

use std::future::Future;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use access::pin::Key;
use osdp_cp::{Config, Event, Fault, Identity, Output, Scbk, Security, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_serial::SerialPortBuilderExt;

use crate::DeviceError;
use crate::card::{CardEvent, CardReader};
use crate::keypad::PinPad;
use crate::serial::PortSettings;
use convert::CardFormat;

/// One reader as configured.
#[derive(Debug, Clone)]
pub struct OsdpSettings {
    /// The line.
    pub port: PortSettings,
    /// The reader's address on it (0 to 126).
    pub address: u8,
    /// The file of the reader's key; `None` for a reader without a secure channel.
    pub key_file: Option<PathBuf>,
    /// How its card data becomes a card number.
    pub format: CardFormat,
    /// Characters per line and lines of its display (for the door's words).
    pub text: (usize, usize),
}

/// A reader's card events.
#[derive(Debug)]
pub struct OsdpReader {
    rx: mpsc::Receiver<CardEvent>,
}

impl CardReader for OsdpReader {
    async fn next(&mut self) -> Option<CardEvent> {
        self.rx.recv().await
    }
}

/// The keys typed on a reader.
#[derive(Debug)]
pub struct OsdpKeypad {
    rx: mpsc::Receiver<Key>,
}

impl PinPad for OsdpKeypad {
    async fn next_key(&mut self) -> Result<Option<Key>, DeviceError> {
        Ok(self.rx.recv().await)
    }
}

/// What is known of a reader's line.
#[derive(Debug, Clone)]
pub struct OsdpLine {
    name: String,
    identity: watch::Receiver<Option<Identity>>,
    garbled: Arc<AtomicU64>,
}

impl OsdpLine {
    /// The reader's name (its port and address).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Who the reader said it is (PDID), once it did.
    pub fn identity(&self) -> Option<Identity> {
        *self.identity.borrow()
    }

    /// Waits until the reader has said who it is.
    pub async fn identified(&mut self) -> Option<Identity> {
        self.identity
            .wait_for(Option::is_some)
            .await
            .ok()
            .and_then(|i| *i)
    }

    /// How many times bytes or frames that were no reply of ours were dropped.
    pub fn garbled(&self) -> u64 {
        self.garbled.load(Ordering::Relaxed)
    }
}

/// A started reader's parts.
#[derive(Debug)]
pub struct Osdp {
    /// Its card events.
    pub reader: OsdpReader,
    /// Its keys.
    pub keypad: OsdpKeypad,
    /// Its LEDs, buzzer and text.
    pub outputs: OsdpOutputs,
    /// Its identity and line.
    pub line: OsdpLine,
}

/// Starts the reader: its key read now (a missing, open or install key is an error here, at
/// start), then polled for as long as its card events are read. Must be called inside a tokio
/// runtime.
pub fn open(settings: &OsdpSettings) -> Result<Osdp, DeviceError> {
    let security = match &settings.key_file {
        None => Security::Plain,
        Some(path) => Security::Key(key::read_key(path).map_err(|e| DeviceError::Open {
            device: name(&settings.port, settings.address),
            cause: e.to_string(),
        })?),
    };
    Ok(start(settings, security))
}

/// Starts the reader with `security` as given (tests; [`open`] reads it from the key file).
pub fn start(settings: &OsdpSettings, security: Security) -> Osdp {
    let name = name(&settings.port, settings.address);
    let (card_tx, card_rx) = mpsc::channel(32);
    let (key_tx, key_rx) = mpsc::channel(64);
    let (out_tx, mut out_rx) = mpsc::channel(32);
    let (id_tx, id_rx) = watch::channel(None);
    let garbled = Arc::new(AtomicU64::new(0));
    let line = OsdpLine {
        name: name.clone(),
        identity: id_rx,
        garbled: garbled.clone(),
    };
    let session = Session::new(Config::new(settings.address, security), random());
    let (port, format) = (settings.port.clone(), settings.format);
    let watch_tx = card_tx.clone();
    tokio::spawn(async move {
        let mut sink = Sink {
            name,
            cards: card_tx,
            keys: key_tx,
            identity: id_tx,
            format,
            power_failure: false,
            tampered: false,
            up: false,
        };
        let mut session = session;
        // Stops when the door lets go of the card events.
        let stop = async move { watch_tx.closed().await };
        drive(&mut session, &port, &mut out_rx, &garbled, stop, |ev| {
            sink.take(ev)
        })
        .await;
    });
    Osdp {
        reader: OsdpReader { rx: card_rx },
        keypad: OsdpKeypad { rx: key_rx },
        outputs: OsdpOutputs {
            tx: out_tx,
            size: settings.text,
        },
        line,
    }
}

/// How long pairing may take.
pub const PAIR_TIMEOUT: Duration = Duration::from_secs(10);

/// Pairs the reader at `address` on `port`, which must be in install mode (holding SCBK-D): a
/// secure channel under SCBK-D, KEYSET with `new_key`, then a secure channel under `new_key`.
/// Gives who the reader is. The caller keeps `new_key` ([`key::write_key`]) for the door.
pub async fn pair(
    port: &PortSettings,
    address: u8,
    new_key: &Scbk,
) -> Result<Identity, DeviceError> {
    if new_key.is_default() {
        return Err(DeviceError::Refused {
            device: name(port, address),
            cause: "the new key is the install key SCBK-D".into(),
        });
    }
    let security = Security::Pair {
        new: new_key.clone(),
    };
    give_key(port, address, security).await
}

/// Gives the reader at `address` on `port`, paired before and holding `current`, a `new_key`:
/// a secure channel under `current`, KEYSET, then a channel under `new_key`. The caller keeps
/// `new_key` for the door (the reader no longer takes `current`).
pub async fn rekey(
    port: &PortSettings,
    address: u8,
    current: &Scbk,
    new_key: &Scbk,
) -> Result<Identity, DeviceError> {
    if new_key.is_default() || new_key == current {
        return Err(DeviceError::Refused {
            device: name(port, address),
            cause: "the new key is the install key SCBK-D or the key it holds".into(),
        });
    }
    let security = Security::Rekey {
        current: current.clone(),
        new: new_key.clone(),
    };
    give_key(port, address, security).await
}

/// KEYSET inside a secure channel as `security` (a pairing or a new key) says, then the channel
/// under the new key; who the reader is.
async fn give_key(
    port: &PortSettings,
    address: u8,
    security: Security,
) -> Result<Identity, DeviceError> {
    let device = name(port, address);
    let mut session = Session::new(Config::new(address, security), random());
    let (_no_outputs, mut outputs) = mpsc::channel(1);
    let garbled = Arc::new(AtomicU64::new(0));
    let mut paired = false;
    let mut outcome: Result<Identity, String> = Err("the reader did not answer".into());
    let drove = tokio::time::timeout(
        PAIR_TIMEOUT,
        drive(
            &mut session,
            port,
            &mut outputs,
            &garbled,
            std::future::pending(),
            |ev| match ev {
                Event::Paired => {
                    paired = true;
                    ControlFlow::Continue(())
                }
                Event::Up { identity, .. } if paired => {
                    outcome = Ok(identity.unwrap_or_default());
                    ControlFlow::Break(())
                }
                Event::Down(f) => {
                    outcome = Err(if paired {
                        format!("the reader took the new key, then: {f}")
                    } else {
                        f.to_string()
                    });
                    // A reader not yet answering may still come; a refusal is final.
                    match f {
                        Fault::Silent(_) => ControlFlow::Continue(()),
                        _ => ControlFlow::Break(()),
                    }
                }
                _ => ControlFlow::Continue(()),
            },
        ),
    )
    .await;
    let cause = match (drove, outcome) {
        (Ok(()), Ok(identity)) => return Ok(identity),
        (Ok(()), Err(why)) => why,
        (Err(_), Err(why)) => format!("not paired in {} s: {why}", PAIR_TIMEOUT.as_secs()),
        (Err(_), Ok(_)) => "not paired in time".into(),
    };
    Err(DeviceError::Refused { device, cause })
}

fn name(port: &PortSettings, address: u8) -> String {
    format!("{}#{address}", port.path)
}

/// RND.A from the system's CSPRNG. Should it ever fail, the challenge is the clock's nanoseconds:
/// a weak challenge only weakens replay protection of this one session, and the door keeps its
/// reader rather than stopping.
fn random() -> osdp_cp::Random {
    Box::new(|| {
        let mut r = [0u8; 8];
        if getrandom::getrandom(&mut r).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            r = (t as u64).to_le_bytes();
        }
        r
    })
}

/// Runs `session` on the port until `take` breaks or `stop` completes: the port opened (again
/// and again if it fails), bytes both ways, timeouts, outputs queued.
async fn drive(
    session: &mut Session,
    port: &PortSettings,
    outputs: &mut mpsc::Receiver<Output>,
    garbled: &AtomicU64,
    stop: impl Future<Output = ()>,
    mut take: impl FnMut(Event) -> ControlFlow<()>,
) {
    tokio::pin!(stop);
    let start = Instant::now();
    let mut outputs_open = true;
    let mut port_failed = false;
    let mut last_garble_log: Option<Instant> = None;
    let mut quiet_garbles = 0u64;
    loop {
        let mut line = match tokio_serial::new(&port.path, port.baud).open_native_async() {
            Ok(l) => l,
            Err(e) => {
                if !port_failed {
                    port_failed = true;
                    let fault = Fault::Silent(format!("{}: cannot open: {e}", port.path));
                    if take(Event::Down(fault)).is_break() {
                        return;
                    }
                }
                tokio::select! {
                    () = &mut stop => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        port_failed = false;
        // Bytes that came before the port was ours (a reader's reply to the last poll of
        // whoever had it before) answer nothing of ours.
        let _ = tokio_serial::SerialPort::clear(&line, tokio_serial::ClearBuffer::Input);
        let mut buf = [0u8; 512];
        loop {
            let mut failed = None;
            while let Some(bytes) = session.poll_transmit() {
                if let Err(e) = line.write_all(&bytes).await {
                    failed = Some(e.to_string());
                    break;
                }
            }
            while let Some(ev) = session.poll_event() {
                if let Event::Garbled(why) = &ev {
                    garbled.fetch_add(1, Ordering::Relaxed);
                    // One line now, then a count at most every ten seconds: a noisy line must
                    // not flood the journal.
                    if last_garble_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                        let more = std::mem::take(&mut quiet_garbles);
                        tracing::warn!(port = %port.path, "OSDP: {why} ({more} more since the last line)");
                        last_garble_log = Some(Instant::now());
                    } else {
                        quiet_garbles += 1;
                    }
                    continue;
                }
                if take(ev).is_break() {
                    return;
                }
            }
            if let Some(why) = failed {
                let fault = Fault::Silent(format!("{}: {why}", port.path));
                if take(Event::Down(fault)).is_break() {
                    return;
                }
                break;
            }
            let wake = session.poll_timeout().map(|d| start + d);
            tokio::select! {
                () = &mut stop => return,
                r = line.read(&mut buf) => match r {
                    // A pty whose other end is closed: wait for it to come back.
                    Ok(0) => tokio::time::sleep(Duration::from_millis(50)).await,
                    Ok(n) => session.handle_input(&buf[..n], start.elapsed()),
                    Err(e) => {
                        let fault = Fault::Silent(format!("{}: {e}", port.path));
                        if take(Event::Down(fault)).is_break() {
                            return;
                        }
                        break;
                    }
                },
                () = sleep_until(wake) => session.handle_timeout(start.elapsed()),
                o = outputs.recv(), if outputs_open => match o {
                    Some(o) => session.queue(o, start.elapsed()),
                    None => outputs_open = false,
                },
            }
        }
        drop(line);
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Where a running reader's events go.
struct Sink {
    name: String,
    cards: mpsc::Sender<CardEvent>,
    keys: mpsc::Sender<Key>,
    identity: watch::Sender<Option<Identity>>,
    format: CardFormat,
    /// The reader reports a power failure: out of service until it is over.
    power_failure: bool,
    /// Its tamper switch is tripped (told once, as it trips).
    tampered: bool,
    up: bool,
}

impl Sink {
    fn take(&mut self, ev: Event) -> ControlFlow<()> {
        let reader = self.name.clone();
        let mut tampered = None;
        let card = match ev {
            Event::Up { identity, secure } => {
                self.up = true;
                self.identity.send_replace(identity);
                tracing::info!(
                    %reader,
                    identity = %identity.map_or_else(|| "unknown".to_owned(), |i| i.to_string()),
                    secure,
                    "OSDP reader in service"
                );
                (!self.power_failure).then_some(CardEvent::ReaderFound { reader })
            }
            Event::Down(fault) => {
                self.up = false;
                if matches!(fault, Fault::KeyRefused(_) | Fault::Untrusted(_)) {
                    tracing::warn!(target: "security", %reader, "OSDP reader: {fault}");
                }
                Some(CardEvent::ReaderLost {
                    reader,
                    why: fault.to_string(),
                })
            }
            Event::Card(data) => Some(match convert::card_number(&data, self.format) {
                Ok(number) => CardEvent::Card { number, reader },
                Err(why) => CardEvent::Unreadable { reader, why },
            }),
            Event::Keys(bytes) => {
                for k in convert::keys(&bytes.0) {
                    // Nobody reading the keys (a door with another keypad) drops them.
                    let _ = self.keys.try_send(k);
                }
                None
            }
            Event::Status(s) => {
                // Tampering is its own alarm (urgent at the console, in the security log), and
                // the reader keeps reading: its cards still come through the secure channel.
                if s.tamper && !self.tampered {
                    tracing::warn!(target: "security", %reader, "OSDP reader: its tamper switch is tripped");
                    tampered = Some(CardEvent::Tampered {
                        reader: reader.clone(),
                    });
                } else if !s.tamper && self.tampered {
                    tracing::info!(%reader, "OSDP reader: its tamper switch is back");
                }
                self.tampered = s.tamper;
                let before = std::mem::replace(&mut self.power_failure, s.power_failure);
                match (before, s.power_failure) {
                    (false, true) => {
                        tracing::warn!(%reader, "OSDP reader: it reports a power failure");
                        Some(CardEvent::ReaderLost {
                            reader,
                            why: "the reader reports a power failure".into(),
                        })
                    }
                    (true, false) if self.up => Some(CardEvent::ReaderFound { reader }),
                    _ => None,
                }
            }
            Event::Paired => {
                tracing::info!(%reader, "OSDP reader took its new key");
                None
            }
            Event::Refused { what, nak } => {
                tracing::warn!(%reader, "OSDP reader refused a {what} command (NAK {nak})");
                None
            }
            Event::Garbled(_) => None,
        };
        for c in tampered.into_iter().chain(card) {
            if let Err(mpsc::error::TrySendError::Closed(_)) = self.cards.try_send(c) {
                return ControlFlow::Break(());
            }
        }
        if self.cards.is_closed() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}
