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
//! - [`keypad`]: the [`PinPad`](keypad::PinPad) trait and a USB keypad read from Linux input events
//!   (grabbed); the `input_event` record every input reader here shares.
//! - [`keymap`]: key codes to text by a scanner's keyboard layout (US, Finnish), pure.
//! - [`keyboard`]: a keyboard-wedge USB barcode scanner, grabbed, as a card reader (and the
//!   kiosk's scanner).
//! - [`gpio`]: the [`DoorIo`](gpio::DoorIo) trait: lock relay, door contact, exit button, LEDs,
//!   buzzer, switched outputs, over any embedded-hal pins from a [`PinBackend`](gpio::PinBackend);
//!   a file-backed backend for simulation.
//! - `rppal_pins` (feature `rppal`): the Raspberry Pi backend and Wiegand edges from its pins.
//! - [`wiegand`]: a Wiegand reader's edges to cards and keypad keys (the timing is
//!   `access::wiegand`'s), whichever pins or twin they come from.
//! - [`feig`]: the FEIG ISC host protocol's frames (pure), for the RFID pad and its twin.
//! - [`rfid`]: the [`RfidPad`](rfid::RfidPad) trait for ISO 15693 tags and its FEIG reader
//!   driver over any byte stream (a serial port in the kiosk).
//! - [`feig_twin`]: a FEIG reader in software holding a stack of tags, at the other end of a pty
//!   or an in-process pipe.
//! - [`printer`]: the [`ReceiptPrinter`](printer::ReceiptPrinter) trait and ESC/POS printers on
//!   TCP port 9100, a serial port, or a USB printer device; a TCP printer twin.
//! - [`scan`]: the [`ScanRule`](scan::ScanRule) mapping a scan (a printed card, a phone card's QR
//!   payload, AIM identifiers, a library's prefix) to a card number, and its configuration.
//! - [`osdp`]: an OSDP v2 reader on an RS-485 line, the control panel's side (secure channel,
//!   supervision, pairing): cards, keys, and its LEDs, buzzer and text.
//! - [`osdp_twin`]: an OSDP reader in software at the other end of a pty (secure channel,
//!   install mode and KEYSET): cards presented, keys typed, what it was told to show, faults.
//! - [`sim`]: twins driven from channels: cards presented on cue, keys typed, Wiegand frames.
#![deny(missing_docs)]

pub mod card;
pub mod display;
pub mod feig;
pub mod feig_twin;
pub mod gpio;
pub mod keyboard;
pub mod keymap;
pub mod keypad;
pub mod osdp;
pub mod osdp_twin;
#[cfg(feature = "pcsc")]
pub mod pcsc;
pub mod printer;
pub mod rfid;
#[cfg(feature = "rppal")]
pub mod rppal_pins;
pub mod scan;
pub mod serial;
pub mod sim;
pub mod vpcd;
pub mod wiegand;

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
    /// The device answered, but the thing it talks to did not (an RFID tag moved off the pad,
    /// a tag that refused a write).
    #[error("{device}: {cause}")]
    Refused {
        /// Which device.
        device: String,
        /// What was refused, and why.
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
