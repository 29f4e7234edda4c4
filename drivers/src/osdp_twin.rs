//! An OSDP reader in software: the twin the door's tests and demo put at the other end of a
//! pseudo-terminal, so that the real control panel ([`crate::osdp`]) does every byte of its work,
//! secure channel included, on a machine with no reader and no LibOSDP.
//!
//! The protocol is [`osdp_cp::Peripheral`] (pure; read its docs for why the same `osdp` crate on
//! both sides is acceptable for a twin: the control panel's judge stays LibOSDP's reader in the
//! interoperability tests). This module owns the line and what a person or a test does at the
//! reader: a card presented, keys typed, the tamper switch, and what the reader was told to
//! show (its LED, buzzer, display), readable at any time or awaited. A key given by KEYSET is
//! kept in memory and, when the twin has a key file, written there as provisioning writes the
//! door's.
//!
//! Faults a reader on a real line shows can be staged: it stops answering, another reader with
//! another key takes its place, or the line carries garbage instead of its replies.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use osdp_cp::osdp::command::LedColor;
use osdp_cp::{CardData, Identity, LocalStatus, Peripheral, PeripheralConfig, Scbk, Told};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use crate::DeviceError;
use crate::serial::PortSettings;

/// The twin's settings.
#[derive(Debug, Clone)]
pub struct TwinSettings {
    /// Its address on the line (0 to 126).
    pub address: u8,
    /// Who it says it is (vendor, model, version, serial, firmware).
    pub identity: Identity,
    /// Its own key, once paired; `None` fresh from its box (install mode, SCBK-D only).
    pub key: Option<Scbk>,
    /// Where a key given by KEYSET is written (mode 0600), and read from at start when it is
    /// there; `None` keeps it in memory only.
    pub key_file: Option<PathBuf>,
}

impl TwinSettings {
    /// A reader fresh from its box at `address`.
    pub fn fresh(address: u8, identity: Identity) -> Self {
        Self {
            address,
            identity,
            key: None,
            key_file: None,
        }
    }
}

/// A fault the twin shows until it is cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwinFault {
    /// It reads commands and answers none (a cut cable, a dead reader).
    Silent,
    /// Another reader of the same model in its place, holding another key (a swapped reader).
    WrongKey,
    /// Noise and broken frames on the line instead of its replies.
    Garbage,
}

/// What the reader shows, from what it was told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shown {
    /// The LED's colour as last set (`None` before any LED command).
    pub led: Option<LedColor>,
    /// Set for a while (the temporary setting), not for good.
    pub led_temporary: bool,
    /// Flashing.
    pub led_blinking: bool,
    /// Beeps sounded so far.
    pub beeps: u32,
    /// The display's lines, from the top.
    pub lines: Vec<String>,
    /// Whether its secure channel is open.
    pub secure: bool,
    /// Whether it holds a key of its own (paired).
    pub paired: bool,
    /// Commands it refused (NAK) so far.
    pub refused: u32,
    /// Everything it was told so far, counted.
    pub told: u64,
}

struct Inner {
    pd: Peripheral,
    fault: Option<TwinFault>,
    /// The real key while [`TwinFault::WrongKey`] holds another.
    real_key: Option<Option<Scbk>>,
    told: Vec<Told>,
}

/// A running twin. Clones share it; it stops when the last one is dropped.
#[derive(Debug, Clone)]
pub struct OsdpTwin {
    inner: Arc<Mutex<Inner>>,
    shown: watch::Receiver<Shown>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("pd", &self.pd)
            .field("fault", &self.fault)
            .finish_non_exhaustive()
    }
}

impl OsdpTwin {
    /// A twin at the other end of a new pseudo-terminal; the door opens [`OsdpTwin::path`].
    /// Must be called inside a tokio runtime.
    pub fn on_pty(settings: TwinSettings) -> Result<Self, DeviceError> {
        use tokio_serial::SerialPort;
        let open = |cause: String| DeviceError::Open {
            device: "a pseudo-terminal for the OSDP reader twin".into(),
            cause,
        };
        let (ours, theirs) = tokio_serial::SerialStream::pair().map_err(|e| open(e.to_string()))?;
        let path = theirs
            .name()
            .ok_or_else(|| open("the pseudo-terminal has no name".into()))?;
        // The twin holds the door's end open too, so that the door may close and open it again
        // without the line going away under the twin.
        let mut twin = Self::serve(settings, ours, Some(theirs));
        twin.path = Some(PathBuf::from(path));
        Ok(twin)
    }

    /// A twin serving `io` (any byte stream); `keep` is held as long as it runs. Must be called
    /// inside a tokio runtime.
    pub fn serve<S, K>(settings: TwinSettings, io: S, keep: Option<K>) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        K: Send + 'static,
    {
        let key = settings.key.clone().or_else(|| {
            settings
                .key_file
                .as_deref()
                .filter(|p| p.exists())
                .and_then(|p| crate::osdp::key::read_key(p).ok())
        });
        let config = PeripheralConfig {
            address: settings.address,
            identity: settings.identity,
            install_mode: key.is_none(),
            key,
        };
        let pd = Peripheral::new(config, random());
        let (tx, shown) = watch::channel(Shown {
            paired: pd.key().is_some(),
            ..Shown::default()
        });
        let inner = Arc::new(Mutex::new(Inner {
            pd,
            fault: None,
            real_key: None,
            told: vec![],
        }));
        tokio::spawn(run(inner.clone(), tx, settings.key_file, io, keep));
        Self {
            inner,
            shown,
            path: None,
        }
    }

    /// The door's end of the line (its pseudo-terminal), when the twin made one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The door's end of the line as the OSDP driver opens it.
    pub fn port(&self) -> PortSettings {
        PortSettings {
            path: self
                .path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            baud: 9600,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A card presented: its data goes to the door in the reply to the next poll.
    pub fn present(&self, card: &CardData) {
        self.with(|i| i.pd.present(card));
    }

    /// A card whose number is `bytes` (a UID, or a number in whole bytes), as raw bits.
    pub fn present_bytes(&self, bytes: &[u8]) {
        let count = u16::try_from(bytes.len() * 8).unwrap_or(u16::MAX);
        self.present(&CardData::Bits {
            format: 0,
            count,
            bytes: bytes.to_vec(),
        });
    }

    /// A Wiegand card of `bits` (26, 34 or 37) carrying `payload`, parity bits and all, as a
    /// Wiegand reader sends it in raw format 1; `false` when `payload` does not fit.
    pub fn present_wiegand(&self, payload: u64, bits: u8) -> bool {
        let Some(frame) = access::wiegand::encode(payload, bits) else {
            return false;
        };
        let n = usize::from(bits).div_ceil(8);
        let padded = frame << (n * 8 - usize::from(bits));
        self.present(&CardData::Bits {
            format: 1,
            count: u16::from(bits),
            bytes: padded.to_be_bytes()[8 - n..].to_vec(),
        });
        true
    }

    /// Keys typed on its keypad: digits, `*` to clear, `#` to submit.
    pub fn type_keys(&self, keys: &str) {
        self.with(|i| i.pd.type_keys(keys.as_bytes()));
    }

    /// Its tamper switch and power as they now are.
    pub fn set_status(&self, status: LocalStatus) {
        self.with(|i| i.pd.set_status(status));
    }

    /// Shows `fault` from now on, or none.
    pub fn set_fault(&self, fault: Option<TwinFault>) {
        self.with(|i| {
            if fault == Some(TwinFault::WrongKey) && i.real_key.is_none() {
                let other = Scbk(i.pd.key().map_or([0xA5; 16], |k| k.0.map(|b| b ^ 0x5A)));
                i.real_key = Some(i.pd.replace_key(Some(other)));
            } else if fault != Some(TwinFault::WrongKey)
                && let Some(real) = i.real_key.take()
            {
                i.pd.replace_key(real);
            }
            i.fault = fault;
        });
    }

    /// Its own key, once it has one.
    pub fn key(&self) -> Option<Scbk> {
        self.with(|i| i.pd.key().cloned())
    }

    /// What it shows now.
    pub fn shown(&self) -> Shown {
        self.shown.borrow().clone()
    }

    /// Everything it was told so far, in order.
    pub fn told(&self) -> Vec<Told> {
        self.with(|i| i.told.clone())
    }

    /// Waits up to `within` until what it shows satisfies `f`; what it shows then, or `None`.
    pub async fn until(&self, within: Duration, f: impl FnMut(&Shown) -> bool) -> Option<Shown> {
        let mut rx = self.shown.clone();
        match tokio::time::timeout(within, rx.wait_for(f)).await {
            Ok(Ok(s)) => Some(s.clone()),
            _ => None,
        }
    }
}

/// Serves the line until every handle is dropped.
async fn run<S, K>(
    inner: Arc<Mutex<Inner>>,
    shown: watch::Sender<Shown>,
    key_file: Option<PathBuf>,
    mut io: S,
    keep: Option<K>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _keep = keep;
    let mut buf = [0u8; 512];
    let mut noise = 0x9E37_79B9_u32;
    loop {
        let n = tokio::select! {
            () = shown.closed() => return,
            r = io.read(&mut buf) => match r {
                Ok(n) if n > 0 => n,
                // Nobody at the door's end for now: it comes back.
                _ => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let (out, told, fault) = {
            let mut i = inner.lock().unwrap_or_else(PoisonError::into_inner);
            if i.fault == Some(TwinFault::Silent) {
                continue;
            }
            i.pd.handle_input(&buf[..n]);
            let out: Vec<Vec<u8>> = std::iter::from_fn(|| i.pd.poll_transmit()).collect();
            let told: Vec<Told> = std::iter::from_fn(|| i.pd.poll_told()).collect();
            i.told.extend(told.iter().cloned());
            let (secure, paired) = (i.pd.is_secure(), i.pd.key().is_some());
            shown.send_if_modified(|s| {
                let before = s.clone();
                s.secure = secure;
                s.paired = paired;
                for t in &told {
                    show(s, t);
                }
                *s != before
            });
            (out, told, i.fault)
        };
        for t in &told {
            if let (Told::NewKey(k), Some(path)) = (t, &key_file)
                && let Err(e) = crate::osdp::key::write_key(path, k)
            {
                tracing::error!("OSDP reader twin: its new key was not kept: {e}");
            }
        }
        for reply in out {
            let bytes = if fault == Some(TwinFault::Garbage) {
                garbage(&mut noise, reply.len())
            } else {
                reply
            };
            if io.write_all(&bytes).await.is_err() || io.flush().await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

fn show(s: &mut Shown, told: &Told) {
    s.told += 1;
    match told {
        Told::Led(c) => {
            if let Some(r) = c.records.first() {
                if r.temporary.control == 2 {
                    s.led = Some(r.temporary.on_color);
                    s.led_temporary = true;
                    s.led_blinking = r.temporary.off_time > 0;
                } else if r.permanent.control == 1 {
                    s.led = Some(r.permanent.on_color);
                    s.led_temporary = false;
                    s.led_blinking = r.permanent.off_time > 0;
                }
            }
        }
        Told::Buzzer(b) => s.beeps += u32::from(b.count.max(1)),
        Told::Text(t) => {
            let row = usize::from(t.row.max(1)) - 1;
            if s.lines.len() <= row {
                s.lines.resize(row + 1, String::new());
            }
            s.lines[row] = String::from_utf8_lossy(&t.text).trim_end().to_owned();
        }
        Told::Refused { .. } => s.refused += 1,
        Told::SecureChannel { .. } | Told::NewKey(_) => {}
    }
}

/// Noise with a broken frame in it: a start byte, this reader's reply address, a length that
/// does not hold.
fn garbage(seed: &mut u32, len: usize) -> Vec<u8> {
    let mut out: Vec<u8> = (0..len.max(8))
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 17;
            *seed ^= *seed << 5;
            *seed as u8
        })
        .collect();
    out.extend([0x53, 0x81, 0xff, 0x7f, 0x04]);
    out
}

/// RND.B from the system's CSPRNG (a clock's nanoseconds should it fail: a twin's challenge
/// guards nothing of value).
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
