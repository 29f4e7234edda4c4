//! Opens the configured devices and wires each to the daemon's channels: every card reader's
//! events into one channel, the keypad's keys into another, the door's pins into a [`DoorIo`].

use std::time::Duration;

use access::pin::Key;
use drivers::card::{CardEvent, CardReader};
use drivers::gpio::{DoorIo, FileBackend, GpioDoor};
use drivers::keypad::{EvdevKeypad, PinPad};
use drivers::serial::{PortSettings, SerialKeypad, SerialScanner};
use tokio::sync::mpsc;

use crate::settings::{DoorSettings, GpioBackend, KeypadSettings, ReaderSettings};

/// Forwards a reader's events until it or the daemon stops.
pub fn forward_cards(mut reader: impl CardReader + 'static, tx: mpsc::Sender<CardEvent>) {
    tokio::spawn(async move {
        while let Some(ev) = reader.next().await {
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    });
}

/// Forwards a keypad's keys; a failing keypad is reported once and retried every second.
pub fn forward_keys(mut pad: impl PinPad + 'static, tx: mpsc::Sender<Key>) {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            match pad.next_key().await {
                Ok(Some(k)) => {
                    failing = false;
                    if tx.send(k).await.is_err() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    if !failing {
                        tracing::error!("keypad: {e}");
                    }
                    failing = true;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// The door's pins as configured. The lock is engaged as the pins are claimed.
pub fn open_door(settings: &DoorSettings) -> anyhow::Result<Box<dyn DoorIo>> {
    Ok(match &settings.gpio {
        GpioBackend::Files(dir) => {
            Box::new(GpioDoor::new(&mut FileBackend::new(dir)?, &settings.pins)?)
        }
        #[cfg(feature = "rppal")]
        GpioBackend::Rppal => Box::new(GpioDoor::new(
            &mut drivers::rppal_pins::RppalBackend::new()?,
            &settings.pins,
        )?),
        #[cfg(not(feature = "rppal"))]
        GpioBackend::Rppal => {
            anyhow::bail!("this build has no Raspberry Pi GPIO (feature `rppal`)")
        }
    })
}

/// Opens the configured readers and keypad onto new channels.
pub fn open_inputs(
    settings: &DoorSettings,
) -> anyhow::Result<(mpsc::Receiver<CardEvent>, mpsc::Receiver<Key>)> {
    let (card_tx, cards) = mpsc::channel(32);
    let (key_tx, keys) = mpsc::channel(64);
    for r in &settings.readers {
        match r {
            #[cfg(feature = "pcsc")]
            ReaderSettings::Pcsc { reader, uid } => forward_cards(
                drivers::pcsc::PcscReader::start(drivers::pcsc::PcscSettings {
                    reader: reader.clone(),
                    uid: *uid,
                    ..drivers::pcsc::PcscSettings::default()
                }),
                card_tx.clone(),
            ),
            #[cfg(not(feature = "pcsc"))]
            ReaderSettings::Pcsc { .. } => {
                anyhow::bail!("this build has no PC/SC readers (feature `pcsc`)")
            }
            ReaderSettings::Serial { path, baud } => forward_cards(
                SerialScanner::open(PortSettings {
                    path: path.clone(),
                    baud: *baud,
                }),
                card_tx.clone(),
            ),
            #[cfg(feature = "rppal")]
            ReaderSettings::Wiegand { d0, d1, format } => {
                let backend = drivers::rppal_pins::RppalBackend::new()?;
                forward_cards(
                    drivers::rppal_pins::WiegandReader::open(&backend, *d0, *d1, *format)?,
                    card_tx.clone(),
                )
            }
            #[cfg(not(feature = "rppal"))]
            ReaderSettings::Wiegand { .. } => {
                anyhow::bail!("this build has no Raspberry Pi GPIO for Wiegand")
            }
        }
    }
    match &settings.keypad {
        Some(KeypadSettings::Evdev(path)) => forward_keys(EvdevKeypad::new(path.clone()), key_tx),
        Some(KeypadSettings::Serial { path, baud }) => forward_keys(
            SerialKeypad::open(PortSettings {
                path: path.clone(),
                baud: *baud,
            }),
            key_tx,
        ),
        None => drop(key_tx),
    }
    Ok((cards, keys))
}
