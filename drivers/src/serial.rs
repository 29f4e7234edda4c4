//! Devices on serial ports (USB CDC-ACM, RS-232, and in tests pseudo-terminals from `socat`): a
//! barcode card scanner that sends one code per line, and a numeric keypad that sends one
//! character per key. A port that fails is reopened until it comes back.

use std::time::Duration;

use access::pin::Key;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_serial::SerialPortBuilderExt;

use crate::DeviceError;
use crate::card::{CardEvent, CardReader};
use crate::keypad::PinPad;
use crate::scan::ScanRule;

/// A port and its speed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSettings {
    /// Device path (`/dev/ttyACM0`, `/dev/serial/by-id/…`).
    pub path: String,
    /// Baud rate.
    pub baud: u32,
}

/// Bytes of a scan with no line end are taken as a whole code after this silence.
const SCAN_IDLE: Duration = Duration::from_millis(300);
/// Longest line kept; longer input is noise.
const MAX_LINE: usize = 256;

/// Reads a port forever, reopening it when it fails, and hands bytes (or a silence marker) on;
/// gives the port's name and the receiving end. Stops when the receiver is dropped.
fn spawn_port(settings: PortSettings) -> (String, mpsc::Receiver<PortEvent>) {
    let (tx, rx) = mpsc::channel(64);
    let name = settings.path.clone();
    tokio::spawn(async move {
        let mut reported = false;
        loop {
            let opened = tokio_serial::new(&settings.path, settings.baud).open_native_async();
            let mut port = match opened {
                Ok(p) => {
                    if tx.send(PortEvent::Up).await.is_err() {
                        return;
                    }
                    p
                }
                Err(e) => {
                    if !reported {
                        reported = true;
                        if tx.send(PortEvent::Down(e.to_string())).await.is_err() {
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut buf = [0u8; 256];
            loop {
                match tokio::time::timeout(SCAN_IDLE, port.read(&mut buf)).await {
                    Err(_) => {
                        if tx.send(PortEvent::Idle).await.is_err() {
                            return;
                        }
                    }
                    Ok(Ok(0)) => {
                        // A pty whose other end closed reads 0 until it reopens.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Ok(Ok(n)) => {
                        if tx.send(PortEvent::Bytes(buf[..n].to_vec())).await.is_err() {
                            return;
                        }
                    }
                    Ok(Err(e)) => {
                        let _ = tx.send(PortEvent::Down(e.to_string())).await;
                        reported = true;
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    (name, rx)
}

#[derive(Debug)]
enum PortEvent {
    Up,
    Down(String),
    Bytes(Vec<u8>),
    Idle,
}

/// A barcode scanner reading patrons' cards (and the kiosk's items, with [`ScanRule::text`]).
#[derive(Debug)]
pub struct SerialScanner {
    name: String,
    rx: mpsc::Receiver<PortEvent>,
    rule: ScanRule,
    line: Vec<u8>,
    overlong: bool,
    pending: std::collections::VecDeque<CardEvent>,
}

impl SerialScanner {
    /// Opens (and keeps reopening) the port; scans become card numbers by `rule`. Must be
    /// called inside a tokio runtime.
    pub fn open(settings: PortSettings, rule: ScanRule) -> Self {
        let (name, rx) = spawn_port(settings);
        Self {
            name,
            rx,
            rule,
            line: Vec::new(),
            overlong: false,
            pending: Default::default(),
        }
    }

    fn finish_line(&mut self) {
        if self.line.is_empty() && !self.overlong {
            return;
        }
        let ev = if self.overlong {
            CardEvent::Unreadable {
                reader: self.name.clone(),
                why: format!("a scan longer than {MAX_LINE} bytes"),
            }
        } else {
            match std::str::from_utf8(&self.line) {
                Ok(text) => match self.rule.card(text) {
                    Ok(number) => CardEvent::Card {
                        number,
                        reader: self.name.clone(),
                    },
                    Err(why) => CardEvent::Unreadable {
                        reader: self.name.clone(),
                        why: why.to_string(),
                    },
                },
                Err(_) => CardEvent::Unreadable {
                    reader: self.name.clone(),
                    why: format!("a scan of {} bytes that is not text", self.line.len()),
                },
            }
        };
        self.line.clear();
        self.overlong = false;
        self.pending.push_back(ev);
    }
}

impl CardReader for SerialScanner {
    async fn next(&mut self) -> Option<CardEvent> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(ev);
            }
            match self.rx.recv().await? {
                PortEvent::Up => {
                    return Some(CardEvent::ReaderFound {
                        reader: self.name.clone(),
                    });
                }
                PortEvent::Down(why) => {
                    self.line.clear();
                    return Some(CardEvent::ReaderLost {
                        reader: self.name.clone(),
                        why,
                    });
                }
                PortEvent::Idle => self.finish_line(),
                PortEvent::Bytes(bytes) => {
                    for b in bytes {
                        if b == b'\r' || b == b'\n' {
                            self.finish_line();
                        } else if self.line.len() >= MAX_LINE {
                            self.overlong = true;
                        } else {
                            self.line.push(b);
                        }
                    }
                }
            }
        }
    }
}

/// A numeric keypad sending one character per key (`0`–`9`, `*`, `#`).
#[derive(Debug)]
pub struct SerialKeypad {
    name: String,
    rx: mpsc::Receiver<PortEvent>,
    keys: std::collections::VecDeque<Key>,
}

impl SerialKeypad {
    /// Opens (and keeps reopening) the port. Must be called inside a tokio runtime.
    pub fn open(settings: PortSettings) -> Self {
        let (name, rx) = spawn_port(settings);
        Self {
            name,
            rx,
            keys: Default::default(),
        }
    }
}

impl PinPad for SerialKeypad {
    async fn next_key(&mut self) -> Result<Option<Key>, DeviceError> {
        loop {
            if let Some(k) = self.keys.pop_front() {
                return Ok(Some(k));
            }
            match self.rx.recv().await {
                None => return Ok(None),
                Some(PortEvent::Down(cause)) => {
                    return Err(DeviceError::Io {
                        device: self.name.clone(),
                        cause,
                    });
                }
                Some(PortEvent::Up | PortEvent::Idle) => {}
                Some(PortEvent::Bytes(bytes)) => {
                    // Line ends after a key are how some keypads frame it: only `#` submits.
                    self.keys.extend(
                        bytes
                            .iter()
                            .filter(|b| **b != b'\r' && **b != b'\n')
                            .filter_map(|b| Key::from_char(char::from(*b))),
                    );
                }
            }
        }
    }
}
