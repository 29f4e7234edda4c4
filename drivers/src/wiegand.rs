//! A Wiegand reader's edges become cards and keys. What a burst is and when it ends is the pure
//! decoder's ([`access::wiegand::Decoder`], given each edge's time); this task only waits out the
//! silence after the last edge and splits what was decoded: cards to a [`CardReader`], keys to
//! a [`PinPad`], so one reader with a keypad is both the door's card reader and its PIN pad.
//! Its edges come from the Pi's GPIO interrupts (`rppal_pins`) or a twin ([`crate::sim::wiegand`]).

use std::time::Duration;

use access::pin::Key;
use access::wiegand::{Burst, Decoder, FRAME_GAP, KeyBursts, NumberFormat, WiegandError};
use redact::CardNumber;
use tokio::sync::mpsc;

use crate::DeviceError;
use crate::card::{CardEvent, CardReader};
use crate::keypad::PinPad;

/// One falling edge: `true` on D1 (a one), `false` on D0, and when, on any monotonic clock
/// (the kernel's edge timestamps on a Pi).
pub type Edge = (bool, Duration);

/// The cards a Wiegand reader reads.
pub struct WiegandCards {
    rx: mpsc::Receiver<CardEvent>,
    // What must live as long as the reader (the Pi's pins, whose interrupts feed it).
    _hold: Option<Box<dyn Send>>,
}

impl std::fmt::Debug for WiegandCards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WiegandCards").finish_non_exhaustive()
    }
}

impl WiegandCards {
    /// Keeps `thing` (the pins whose edges feed this reader) for as long as the reader lives.
    pub fn holding(mut self, thing: impl Send + 'static) -> Self {
        self._hold = Some(Box::new(thing));
        self
    }
}

impl CardReader for WiegandCards {
    async fn next(&mut self) -> Option<CardEvent> {
        self.rx.recv().await
    }
}

/// The keys of a Wiegand reader's keypad.
#[derive(Debug)]
pub struct WiegandKeys {
    rx: mpsc::Receiver<Key>,
}

impl PinPad for WiegandKeys {
    async fn next_key(&mut self) -> Result<Option<Key>, DeviceError> {
        Ok(self.rx.recv().await)
    }
}

/// Decodes `edges` of the reader `name` until they end or the cards are no longer read; card
/// numbers in `format`, keys as `keys` says the keypad sends them. Must be called inside a
/// tokio runtime.
pub fn spawn(
    name: String,
    mut edges: mpsc::UnboundedReceiver<Edge>,
    format: NumberFormat,
    keys: KeyBursts,
) -> (WiegandCards, WiegandKeys) {
    let (card_tx, card_rx) = mpsc::channel(16);
    let (key_tx, key_rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut decoder = Decoder::with_keys(keys);
        loop {
            let burst = match decoder.deadline() {
                None => match edges.recv().await {
                    Some((one, at)) => decoder.bit(one, at),
                    None => return,
                },
                Some(deadline) => match tokio::time::timeout(FRAME_GAP, edges.recv()).await {
                    Ok(Some((one, at))) => decoder.bit(one, at),
                    // The edges ended: what was received is all there is.
                    Ok(None) => {
                        let last = decoder.poll(deadline);
                        deliver(last, &name, format, &card_tx, &key_tx).await;
                        return;
                    }
                    // Edge times are on the edges' clock: a silence is judged by the last one plus
                    // the gap.
                    Err(_) => decoder.poll(deadline),
                },
            };
            if !deliver(burst, &name, format, &card_tx, &key_tx).await {
                return;
            }
        }
    });
    (
        WiegandCards {
            rx: card_rx,
            _hold: None,
        },
        WiegandKeys { rx: key_rx },
    )
}

/// Hands a decoded burst on; `false` once nobody reads the cards.
async fn deliver(
    burst: Option<Result<Burst, WiegandError>>,
    reader: &str,
    format: NumberFormat,
    cards: &mpsc::Sender<CardEvent>,
    keys: &mpsc::Sender<Key>,
) -> bool {
    let ev = match burst {
        None => return true,
        Some(Ok(Burst::Card(f))) => CardEvent::Card {
            number: CardNumber::new(f.number(format)),
            reader: reader.to_owned(),
        },
        Some(Ok(Burst::Key(k))) => {
            // A reader whose keys nobody reads (no PIN pad wired to it) drops them.
            let _ = keys.send(k).await;
            return true;
        }
        // A key lost on the wire: the patron sees no digit appear and types it again; it is no
        // card read, so the door is not told of one.
        Some(Err(e @ (WiegandError::KeyCheck | WiegandError::NoKey))) => {
            tracing::warn!("{reader}: {e}");
            return true;
        }
        Some(Err(e)) => CardEvent::Unreadable {
            reader: reader.to_owned(),
            why: e.to_string(),
        },
    };
    cards.send(ev).await.is_ok()
}
