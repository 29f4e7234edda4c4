//! The Raspberry Pi's GPIO through rppal: the only file that names it, so another GPIO library
//! (gpio-cdev, linux-embedded-hal) is a change here alone. Also Wiegand D0/D1 edges, timed by
//! the kernel, fed to [`crate::wiegand`].

use access::wiegand::{KeyBursts, NumberFormat};
use rppal::gpio::{Gpio, InputPin, OutputPin, Trigger};
use tokio::sync::mpsc;

use crate::DeviceError;
use crate::gpio::PinBackend;
use crate::wiegand::{WiegandCards, WiegandKeys};

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

/// A Wiegand reader on two GPIO pins (D0 and D1, each pulsed low for a bit), its keypad's keys
/// too when it has one: the pins' falling edges, timed by the kernel, go to
/// [`crate::wiegand::spawn`]. Only the interrupts are the Pi's; the rest runs (and is tested)
/// anywhere.
pub fn open_wiegand(
    backend: &RppalBackend,
    d0: u8,
    d1: u8,
    format: NumberFormat,
    keys: KeyBursts,
) -> Result<(WiegandCards, WiegandKeys), DeviceError> {
    let (edges_tx, edges_rx) = mpsc::unbounded_channel();
    let mut pins = Vec::new();
    for (number, one) in [(d0, false), (d1, true)] {
        let mut pin = backend.pin(number)?.into_input_pullup();
        let tx = edges_tx.clone();
        pin.set_async_interrupt(Trigger::FallingEdge, None, move |ev| {
            let _ = tx.send((one, ev.timestamp));
        })
        .map_err(|e| DeviceError::Gpio {
            pin: number,
            cause: e.to_string(),
        })?;
        pins.push(pin);
    }
    let (cards, keys) = crate::wiegand::spawn(format!("wiegand:{d0}/{d1}"), edges_rx, format, keys);
    Ok((cards.holding(pins), keys))
}
