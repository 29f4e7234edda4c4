//! Simulated twins of the door's readers and keypad, driven from handles: a card presented on cue,
//! keys typed, a Wiegand frame sent bit by bit through the same decoder the GPIO reader uses.

use std::time::Duration;

use access::pin::Key;
use access::wiegand::{Decoder, NumberFormat};
use redact::CardNumber;
use tokio::sync::mpsc;

use crate::DeviceError;
use crate::card::{CardEvent, CardReader};
use crate::keypad::PinPad;

/// A simulated card reader.
#[derive(Debug)]
pub struct SimCardReader {
    rx: mpsc::Receiver<CardEvent>,
}

/// Presents cards to a [`SimCardReader`].
#[derive(Debug, Clone)]
pub struct SimCards {
    tx: mpsc::Sender<CardEvent>,
    name: String,
}

/// A simulated reader and its handle.
pub fn card_reader(name: &str) -> (SimCardReader, SimCards) {
    let (tx, rx) = mpsc::channel(16);
    (
        SimCardReader { rx },
        SimCards {
            tx,
            name: name.to_owned(),
        },
    )
}

impl SimCards {
    /// A card is shown.
    pub async fn present(&self, number: &str) {
        let _ = self
            .tx
            .send(CardEvent::Card {
                number: CardNumber::new(number),
                reader: self.name.clone(),
            })
            .await;
    }

    /// Any event.
    pub async fn send(&self, event: CardEvent) {
        let _ = self.tx.send(event).await;
    }

    /// A Wiegand frame of `bits` bits carrying `payload`, decoded as the GPIO reader decodes.
    pub async fn wiegand(&self, payload: u32, bits: u8, format: NumberFormat) {
        let Some(frame) = access::wiegand::encode(payload, bits) else {
            return;
        };
        let mut d = Decoder::new();
        let mut t = Duration::ZERO;
        for i in 0..bits {
            let _ = d.bit((frame >> (bits - 1 - i)) & 1 == 1, t);
            t += Duration::from_millis(2);
        }
        let ev = match d.poll(t + access::wiegand::FRAME_GAP) {
            Some(Ok(f)) => CardEvent::Card {
                number: CardNumber::new(f.number(format)),
                reader: self.name.clone(),
            },
            Some(Err(e)) => CardEvent::Unreadable {
                reader: self.name.clone(),
                why: e.to_string(),
            },
            None => return,
        };
        let _ = self.tx.send(ev).await;
    }
}

impl CardReader for SimCardReader {
    async fn next(&mut self) -> Option<CardEvent> {
        self.rx.recv().await
    }
}

/// A simulated keypad.
#[derive(Debug)]
pub struct SimKeypad {
    rx: mpsc::Receiver<Key>,
}

/// Types on a [`SimKeypad`].
#[derive(Debug, Clone)]
pub struct SimKeys {
    tx: mpsc::Sender<Key>,
}

/// A simulated keypad and its handle.
pub fn keypad() -> (SimKeypad, SimKeys) {
    let (tx, rx) = mpsc::channel(64);
    (SimKeypad { rx }, SimKeys { tx })
}

impl SimKeys {
    /// Types `0`–`9`, `*` and `#`; other characters are skipped.
    pub async fn type_text(&self, text: &str) {
        for k in text.chars().filter_map(Key::from_char) {
            let _ = self.tx.send(k).await;
        }
    }
}

impl PinPad for SimKeypad {
    async fn next_key(&mut self) -> Result<Option<Key>, DeviceError> {
        Ok(self.rx.recv().await)
    }
}
