//! A USB barcode scanner as it comes out of the box: a keyboard (HID keyboard wedge). Its input
//! device (`/dev/input/by-id/…-event-kbd`) is grabbed, so what it types reaches no console or
//! window, and its key events are typed back into text by the layout it is set to
//! ([`crate::keymap`]); a scan ends at its terminator key or after a silence. Each scan becomes
//! a card number by the reader's [`ScanRule`] (the kiosk reads items too, with
//! [`ScanRule::text`]). Unplugged, it is reopened when it comes back.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use crate::card::{CardEvent, CardReader};
use crate::keymap::{Keyboard, Layout, Terminator, Typed};
use crate::keypad::{EVENT_SIZE, key_event, open_input};
use crate::scan::{MAX_SCAN, RuleProblem, ScanRule};

/// A keyboard-wedge scanner's device and how it types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyboardSettings {
    /// The input device (`/dev/input/by-id/usb-…-event-kbd`).
    pub path: String,
    /// The layout the scanner is set to.
    pub layout: Layout,
    /// The key that ends a scan.
    pub terminator: Terminator,
    /// A scan without its terminator is taken as whole after this silence.
    pub idle: Duration,
}

impl KeyboardSettings {
    /// A scanner at `path` as it comes from the factory: US layout, Enter after each scan.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            layout: Layout::Us,
            terminator: Terminator::Enter,
            idle: Duration::from_millis(300),
        }
    }
}

/// A keyboard scanner as configured: its device, and the names of its layout and terminator
/// and its silence in milliseconds as written (`us`/`fi`, `enter`/`tab`, 20 to 5000); the
/// first problem names its key.
pub fn configured(
    path: &str,
    layout: Option<&str>,
    end: Option<&str>,
    idle_ms: Option<u64>,
) -> Result<KeyboardSettings, RuleProblem> {
    let bad = |key, problem: String| RuleProblem { key, problem };
    let d = KeyboardSettings::new(path);
    let layout = match layout {
        None => d.layout,
        Some(l) => Layout::parse(l).ok_or_else(|| {
            bad(
                "layout",
                format!("`{l}`: expected us or fi (the layout the scanner is set to)"),
            )
        })?,
    };
    let terminator = match end {
        None => d.terminator,
        Some(e) => Terminator::parse(e)
            .ok_or_else(|| bad("end", format!("`{e}`: expected enter or tab")))?,
    };
    let idle = match idle_ms {
        None => d.idle,
        Some(ms @ 20..=5000) => Duration::from_millis(ms),
        Some(ms) => return Err(bad("idle_ms", format!("{ms}: expected 20 to 5000"))),
    };
    Ok(KeyboardSettings {
        layout,
        terminator,
        idle,
        ..d
    })
}

#[derive(Debug)]
enum DeviceEvent {
    Up,
    Down(String),
    Key(u16, i32),
    Idle,
}

/// Reads the device forever, reopening it when it fails; key events (or a silence) go to the
/// receiver. Stops when the receiver is dropped.
fn spawn_device(path: String, idle: Duration) -> mpsc::Receiver<DeviceEvent> {
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        let mut reported = false;
        loop {
            let mut input = match open_input(&path).await {
                Ok(i) => {
                    if tx.send(DeviceEvent::Up).await.is_err() {
                        return;
                    }
                    i
                }
                Err(e) => {
                    if !reported {
                        reported = true;
                        if tx.send(DeviceEvent::Down(e.to_string())).await.is_err() {
                            return;
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; EVENT_SIZE * 16];
            loop {
                match tokio::time::timeout(idle, input.file.read(&mut chunk)).await {
                    Err(_) => {
                        if tx.send(DeviceEvent::Idle).await.is_err() {
                            return;
                        }
                    }
                    // The end of a recording (a FIFO whose writer is done): wait for more.
                    Ok(Ok(0)) => tokio::time::sleep(Duration::from_millis(20)).await,
                    Ok(Ok(n)) => {
                        buf.extend_from_slice(&chunk[..n]);
                        let whole = buf.len() - buf.len() % EVENT_SIZE;
                        for event in buf.drain(..whole).collect::<Vec<_>>().chunks(EVENT_SIZE) {
                            if let Some((code, value)) = key_event(event)
                                && tx.send(DeviceEvent::Key(code, value)).await.is_err()
                            {
                                return;
                            }
                        }
                    }
                    Ok(Err(e)) => {
                        let _ = tx.send(DeviceEvent::Down(e.to_string())).await;
                        reported = true;
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    rx
}

/// A keyboard-wedge barcode scanner reading cards (or, with [`ScanRule::text`], any scan).
#[derive(Debug)]
pub struct KeyboardScanner {
    name: String,
    rx: mpsc::Receiver<DeviceEvent>,
    rule: ScanRule,
    keyboard: Keyboard,
    line: String,
    overlong: bool,
    pending: VecDeque<CardEvent>,
}

impl KeyboardScanner {
    /// Opens (and keeps reopening) the device; scans become card numbers by `rule`. Must be
    /// called inside a tokio runtime.
    pub fn open(settings: KeyboardSettings, rule: ScanRule) -> Self {
        Self {
            name: settings.path.clone(),
            rx: spawn_device(settings.path, settings.idle),
            rule,
            keyboard: Keyboard::new(settings.layout, settings.terminator),
            line: String::new(),
            overlong: false,
            pending: VecDeque::new(),
        }
    }

    fn finish_line(&mut self) {
        if self.line.is_empty() && !self.overlong {
            return;
        }
        let reader = self.name.clone();
        let ev = if self.overlong {
            CardEvent::Unreadable {
                reader,
                why: format!("a scan longer than {MAX_SCAN} characters"),
            }
        } else {
            match self.rule.card(&self.line) {
                Ok(number) => CardEvent::Card { number, reader },
                Err(why) => CardEvent::Unreadable {
                    reader,
                    why: why.to_string(),
                },
            }
        };
        self.line.clear();
        self.overlong = false;
        self.pending.push_back(ev);
    }
}

impl CardReader for KeyboardScanner {
    async fn next(&mut self) -> Option<CardEvent> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(ev);
            }
            match self.rx.recv().await? {
                DeviceEvent::Up => {
                    return Some(CardEvent::ReaderFound {
                        reader: self.name.clone(),
                    });
                }
                DeviceEvent::Down(why) => {
                    self.line.clear();
                    self.overlong = false;
                    self.keyboard.release_all();
                    return Some(CardEvent::ReaderLost {
                        reader: self.name.clone(),
                        why,
                    });
                }
                DeviceEvent::Idle => self.finish_line(),
                DeviceEvent::Key(code, value) => match self.keyboard.key(code, value) {
                    Typed::Char(c) if self.line.chars().count() < MAX_SCAN => self.line.push(c),
                    Typed::Char(_) => self.overlong = true,
                    Typed::End => self.finish_line(),
                    Typed::Nothing => {}
                },
            }
        }
    }
}
