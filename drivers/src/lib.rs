//! The devices of a door or kiosk, one small trait per device class, each with the real driver and
//! a simulated twin implementing the same trait, so the daemons cannot tell them apart. Pure
//! decoding (Wiegand frames, PIN entry) lives in the `access` crate; this crate does the I/O.
//!
//! Layout:
//! - [`card`]: the [`CardReader`](card::CardReader) trait, card events, UID formats, scan checks.
//! - `pcsc` (feature `pcsc`): a PC/SC contactless reader through pcscd: present/removed, UID by GET DATA,
//!   readers unplugged and plugged back without a restart.
//! - [`vpcd`]: a virtual card for vsmartcard's vpcd reader, answering GET DATA with its UID.
//! - [`serial`]: a barcode card scanner and a numeric keypad on serial ports (tokio-serial).
//! - [`keypad`]: the [`PinPad`](keypad::PinPad) trait and a USB keypad read from Linux input events.
//! - [`gpio`]: the [`DoorIo`](gpio::DoorIo) trait: lock relay, door contact, exit button, LEDs,
//!   buzzer, switched outputs, over any embedded-hal pins from a [`PinBackend`](gpio::PinBackend);
//!   a file-backed backend for simulation.
//! - `rppal_pins` (feature `rppal`): the Raspberry Pi backend and Wiegand edge input.
//! - [`sim`]: twins driven from channels: cards presented on cue, keys typed, Wiegand frames.
#![deny(missing_docs)]

pub mod card;
pub mod gpio;
pub mod keypad;
#[cfg(feature = "pcsc")]
pub mod pcsc;
#[cfg(feature = "rppal")]
pub mod rppal_pins;
pub mod serial;
pub mod sim;
pub mod vpcd;

/// A device failed.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The device could not be opened (wrong path, no permission, not plugged in).
    #[error("{device}: cannot open: {cause}")]
    Open {
        /// Which device (path, reader name or pin).
        device: String,
        /// Why.
        cause: String,
    },
    /// Reading or writing failed.
    #[error("{device}: {cause}")]
    Io {
        /// Which device.
        device: String,
        /// Why.
        cause: String,
    },
    /// A configured GPIO pin could not be used.
    #[error("GPIO {pin}: {cause}")]
    Gpio {
        /// The pin (BCM number).
        pin: u8,
        /// Why, and what to check.
        cause: String,
    },
}
