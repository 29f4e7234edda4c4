//! The Raspberry Pi's GPIO through rppal: the only file that names it, so another GPIO library
//! (gpio-cdev, linux-embedded-hal) is a change here alone. Also Wiegand D0/D1 edges, timed by
//! the kernel, fed to the pure decoder.

use std::time::Duration;

use access::wiegand::{Decoder, NumberFormat};
use redact::CardNumber;
use rppal::gpio::{Gpio, InputPin, OutputPin, Trigger};
use tokio::sync::mpsc;

use crate::DeviceError;
use crate::card::{CardEvent, CardReader};
use crate::gpio::PinBackend;

/// The Pi's GPIO.
#[derive(Debug)]
pub struct RppalBackend {
    gpio: Gpio,
}

impl RppalBackend {
    /// Opens `/dev/gpiomem`. Fails off a Pi (`UnknownModel`) or without the `gpio` group.
    pub fn new() -> Result<Self, DeviceError> {
        Gpio::new()
            .map(|gpio| Self { gpio })
            .map_err(|e| DeviceError::Open {
                device: "GPIO".into(),
                cause: format!(
                    "{e} (is this a Raspberry Pi, and is the service user in the gpio group?)"
                ),
            })
    }

    fn pin(&self, number: u8) -> Result<rppal::gpio::Pin, DeviceError> {
        self.gpio.get(number).map_err(|e| DeviceError::Gpio {
            pin: number,
            cause: format!("{e} (is another program using it?)"),
        })
    }
}

impl PinBackend for RppalBackend {
    type Output = OutputPin;
    type Input = InputPin;

    fn output(&mut self, number: u8, high: bool) -> Result<OutputPin, DeviceError> {
        let pin = self.pin(number)?;
        let mut out = if high {
            pin.into_output_high()
        } else {
            pin.into_output_low()
        };
        // The level we last set stays after exit; the daemon sets "locked" before it stops.
        out.set_reset_on_drop(false);
        Ok(out)
    }

    fn input(&mut self, number: u8, pull_up: bool) -> Result<InputPin, DeviceError> {
        let pin = self.pin(number)?;
        Ok(if pull_up {
            pin.into_input_pullup()
        } else {
            pin.into_input_pulldown()
        })
    }
}

/// A Wiegand reader on two GPIO pins (D0 and D1, each pulsed low for a bit).
#[derive(Debug)]
pub struct WiegandReader {
    rx: mpsc::Receiver<CardEvent>,
    _pins: (InputPin, InputPin),
}

impl WiegandReader {
    /// Listens on `d0` and `d1`; frames become card numbers in `format`.
    pub fn open(
        backend: &RppalBackend,
        d0: u8,
        d1: u8,
        format: NumberFormat,
    ) -> Result<Self, DeviceError> {
        let (bits_tx, mut bits_rx) = mpsc::unbounded_channel::<(bool, Duration)>();
        let mut pins = Vec::new();
        for (number, one) in [(d0, false), (d1, true)] {
            let mut pin = backend.pin(number)?.into_input_pullup();
            let tx = bits_tx.clone();
            pin.set_async_interrupt(Trigger::FallingEdge, None, move |ev| {
                let _ = tx.send((one, ev.timestamp));
            })
            .map_err(|e| DeviceError::Gpio {
                pin: number,
                cause: e.to_string(),
            })?;
            pins.push(pin);
        }
        let (tx, rx) = mpsc::channel(16);
        let reader = format!("wiegand:{d0}/{d1}");
        tokio::spawn(async move {
            let mut decoder = Decoder::new();
            loop {
                let wait = match decoder.deadline() {
                    Some(_) => access::wiegand::FRAME_GAP,
                    None => Duration::from_secs(3600),
                };
                let frame = match tokio::time::timeout(wait, bits_rx.recv()).await {
                    Ok(Some((one, at))) => decoder.bit(one, at),
                    Ok(None) => return,
                    // Edge timestamps are since boot; a silence is judged by the last one plus the gap.
                    Err(_) => decoder.deadline().and_then(|d| decoder.poll(d)),
                };
                let ev = match frame {
                    None => continue,
                    Some(Ok(f)) => CardEvent::Card {
                        number: CardNumber::new(f.number(format)),
                        reader: reader.clone(),
                    },
                    Some(Err(e)) => CardEvent::Unreadable {
                        reader: reader.clone(),
                        why: e.to_string(),
                    },
                };
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        });
        let mut pins = pins.into_iter();
        match (pins.next(), pins.next()) {
            (Some(a), Some(b)) => Ok(Self { rx, _pins: (a, b) }),
            _ => Err(DeviceError::Gpio {
                pin: d0,
                cause: "Wiegand pins not claimed".into(),
            }),
        }
    }
}

impl CardReader for WiegandReader {
    async fn next(&mut self) -> Option<CardEvent> {
        self.rx.recv().await
    }
}
