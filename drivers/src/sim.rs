//! Simulated twins of the door's readers and keypad, driven from handles: a card presented on cue,
//! keys typed, and a Wiegand reader whose card and key bursts are sent edge by edge through the
//! same edge task and decoder the GPIO reader uses ([`crate::wiegand`]).

use std::time::Duration;

use access::pin::Key;
use access::wiegand::{KeyBursts, NumberFormat};
use redact::CardNumber;
use tokio::sync::mpsc;

use crate::DeviceError;
use crate::card::{CardEvent, CardReader};
use crate::keypad::PinPad;
use crate::wiegand::{Edge, WiegandCards, WiegandKeys};

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

/// A simulated Wiegand reader's wires: bursts sent as the D0/D1 edges a reader makes, bits 2 ms
/// apart and bursts 100 ms apart on the edges' own clock (so no real time passes between them).
#[derive(Debug, Clone)]
pub struct SimWiegand {
    tx: mpsc::UnboundedSender<Edge>,
    keys: KeyBursts,
    clock: std::sync::Arc<std::sync::Mutex<Duration>>,
}

/// A Wiegand reader twin: its cards, its keypad's keys (sent as `keys` says), and the handle
/// that sends bursts. Must be called inside a tokio runtime.
pub fn wiegand(
    name: &str,
    format: NumberFormat,
    keys: KeyBursts,
) -> (WiegandCards, WiegandKeys, SimWiegand) {
    let (tx, rx) = mpsc::unbounded_channel();
    let (cards, pad) = crate::wiegand::spawn(name.to_owned(), rx, format, keys);
    let clock = std::sync::Arc::new(std::sync::Mutex::new(Duration::from_secs(1)));
    (cards, pad, SimWiegand { tx, keys, clock })
}

impl SimWiegand {
    /// The `count` bits of `bits` (first sent highest) as one burst.
    pub fn burst(&self, bits: u64, count: u8) {
        let Ok(mut t) = self.clock.lock() else {
            return;
        };
        for i in (0..count).rev() {
            let _ = self.tx.send(((bits >> i) & 1 == 1, *t));
            *t += Duration::from_millis(2);
        }
        *t += Duration::from_millis(100);
    }

    /// A card of `bits` bits (26, 34 or 37) carrying `payload`.
    pub fn card(&self, payload: u64, bits: u8) {
        if let Some(frame) = access::wiegand::encode(payload, bits) {
            self.burst(frame, bits);
        }
    }

    /// Types `0`–`9`, `*` and `#` on the reader's keypad, a burst per key; other characters are
    /// skipped, and nothing is sent by a reader without a keypad.
    pub fn type_text(&self, text: &str) {
        let count = match self.keys {
            KeyBursts::None => return,
            KeyBursts::Four => 4,
            KeyBursts::Eight => 8,
        };
        for k in text.chars().filter_map(Key::from_char) {
            if let Some(bits) = access::wiegand::encode_key(k, count) {
                self.burst(bits, count);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[tokio::test]
    async fn a_wiegand_twin_reads_a_card_then_its_keypad() {
        let (mut cards, mut pad, wires) = wiegand("w", NumberFormat::Payload, KeyBursts::Eight);
        wires.card(77881, 26);
        wires.type_text("12*3#");
        let Some(CardEvent::Card { number, .. }) = cards.next().await else {
            panic!("no card");
        };
        assert_eq!(number.expose(), "77881");
        let mut typed = vec![];
        for _ in 0..5 {
            typed.push(pad.next_key().await.unwrap().unwrap());
        }
        assert_eq!(
            typed,
            [
                Key::Digit(1),
                Key::Digit(2),
                Key::Clear,
                Key::Digit(3),
                Key::Submit
            ]
        );
        // A burst broken on the wire (a bit lost) is refused, and the reader goes on.
        wires.burst(0b1110_0011, 8);
        wires.burst(0b0110_1001, 8);
        wires.card(12345, 34);
        assert_eq!(pad.next_key().await.unwrap(), Some(Key::Digit(9)));
        let Some(CardEvent::Card { number, .. }) = cards.next().await else {
            panic!("no card");
        };
        assert_eq!(number.expose(), "12345");
        // A 4-bit keypad on a reader set to 8 bits: the card reader hears of it.
        wires.burst(0b0001, 4);
        assert!(matches!(
            cards.next().await,
            Some(CardEvent::Unreadable { .. })
        ));
    }
}
