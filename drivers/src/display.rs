//! A door's text display: a character LCD (HD44780 behind a PCF8574 I2C backpack) driven
//! through embedded-hal's I2C and delay traits, so the same code runs on the Raspberry Pi's bus
//! (`rppal`) and against [`LcdTwin`], which reads the bytes as the controller would
//! ([`display::hd44780::Decoder`]) and tells what a patron would read.

use std::sync::{Arc, Mutex};

use display::hd44780::{Decoder, Lcd, Step};
use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::{Error as _, ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation};

/// A display the door writes lines to.
pub trait TextDisplay: Send {
    /// Characters per line, and lines.
    fn size(&self) -> (usize, usize);
    /// Shows these lines (cut to the display; missing ones blank).
    fn show(&mut self, lines: &[String]) -> Result<(), DisplayError>;
}

/// A display that did not take what was written.
#[derive(Debug, thiserror::Error)]
#[error("display: {0}")]
pub struct DisplayError(pub String);

/// The character LCD on an I2C bus.
#[derive(Debug)]
pub struct Hd44780<I, D> {
    i2c: I,
    delay: D,
    address: u8,
    lcd: Lcd,
}

impl<I: I2c, D: DelayNs> Hd44780<I, D> {
    /// Starts the display at `address` (0x27 or 0x3F on the usual backpacks): the datasheet's
    /// initialisation, the Nordic letters drawn, cleared and lit.
    pub fn start(i2c: I, delay: D, address: u8, lcd: Lcd) -> Result<Self, DisplayError> {
        let mut d = Self {
            i2c,
            delay,
            address,
            lcd,
        };
        let init = lcd.init();
        d.run(&init)?;
        Ok(d)
    }

    /// Writes the steps, one I2C transaction for each run of bytes: the bus's own pace (four
    /// expander bytes, at least 90 µs, per character) covers the controller's 37 µs per
    /// instruction, so only the longer waits (start, clear) are waited for.
    fn run(&mut self, steps: &[Step]) -> Result<(), DisplayError> {
        let mut bytes = vec![];
        for s in steps {
            match s {
                Step::Write(b) => bytes.push(*b),
                Step::Wait(us) if *us <= 100 => {}
                Step::Wait(us) => {
                    self.write(&bytes)?;
                    bytes.clear();
                    self.delay.delay_us(*us);
                }
            }
        }
        self.write(&bytes)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), DisplayError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.i2c.write(self.address, bytes).map_err(|e| {
            DisplayError(format!(
                "I2C address {:#04x}: {:?} (is the display connected, and at this address?)",
                self.address,
                e.kind()
            ))
        })
    }
}

impl<I: I2c + Send, D: DelayNs + Send> TextDisplay for Hd44780<I, D> {
    fn size(&self) -> (usize, usize) {
        (usize::from(self.lcd.cols), usize::from(self.lcd.rows))
    }

    fn show(&mut self, lines: &[String]) -> Result<(), DisplayError> {
        let steps = self.lcd.show(lines);
        self.run(&steps)
    }
}

/// No waiting (for the twin: it needs none).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDelay;

impl DelayNs for NoDelay {
    fn delay_ns(&mut self, _ns: u32) {}
}

/// A PCF8574-backed HD44780 as an I2C device: every byte written to its address goes to the
/// controller's decoder; another address is not acknowledged, as on a real bus.
#[derive(Debug, Clone)]
pub struct LcdTwin {
    address: u8,
    decoder: Arc<Mutex<Decoder>>,
    shown: Arc<Mutex<Vec<Vec<String>>>>,
}

impl LcdTwin {
    /// A display of `lcd`'s size answering at `address`, just powered on.
    pub fn new(address: u8, lcd: Lcd) -> Self {
        Self {
            address,
            decoder: Arc::new(Mutex::new(Decoder::new(lcd))),
            shown: Arc::default(),
        }
    }

    /// What it shows now, line by line.
    pub fn lines(&self) -> Vec<String> {
        self.decoder.lock().map(|d| d.lines()).unwrap_or_default()
    }

    /// Everything it has shown, in order (each screen once, as it was complete).
    pub fn history(&self) -> Vec<Vec<String>> {
        self.shown.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Bytes that broke the protocol.
    pub fn faults(&self) -> usize {
        self.decoder.lock().map(|d| d.faults).unwrap_or(0)
    }
}

/// The twin's bus error: nobody answered at that address.
#[derive(Debug, Clone, Copy)]
pub struct TwinBusError;

impl embedded_hal::i2c::Error for TwinBusError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
    }
}

impl ErrorType for LcdTwin {
    type Error = TwinBusError;
}

impl I2c for LcdTwin {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        if address != self.address {
            return Err(TwinBusError);
        }
        let mut d = self.decoder.lock().map_err(|_| TwinBusError)?;
        for op in operations {
            match op {
                Operation::Write(bytes) => {
                    for b in bytes.iter() {
                        d.write(*b);
                    }
                }
                // The expander's pins read back as written; nothing here reads.
                Operation::Read(buf) => buf.fill(0),
            }
        }
        let now = d.lines();
        drop(d);
        if let Ok(mut shown) = self.shown.lock()
            && shown.last() != Some(&now)
            && now.iter().any(|l| !l.is_empty())
        {
            shown.push(now);
        }
        Ok(())
    }
}

/// The character LCD on the Raspberry Pi's I2C bus `bus` (1 on the 40-pin header).
#[cfg(feature = "rppal")]
pub fn open_hd44780(bus: u8, address: u8, lcd: Lcd) -> Result<Box<dyn TextDisplay>, DisplayError> {
    let i2c = rppal::i2c::I2c::with_bus(bus).map_err(|e| {
        DisplayError(format!(
            "I2C bus {bus}: {e} (is I2C on: dtparam=i2c_arm=on?)"
        ))
    })?;
    Ok(Box::new(Hd44780::start(
        i2c,
        rppal::hal::Delay::new(),
        address,
        lcd,
    )?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_driver_drives_the_twin_through_embedded_hal_and_a_wrong_address_is_named() {
        let lcd = Lcd { cols: 16, rows: 2 };
        let twin = LcdTwin::new(0x27, lcd);
        let mut d = Hd44780::start(twin.clone(), NoDelay, 0x27, lcd).unwrap();
        d.show(&["Kortti ei ole".into(), "voimassa.".into()])
            .unwrap();
        assert_eq!(twin.lines(), vec!["Kortti ei ole", "voimassa."]);
        assert_eq!(twin.faults(), 0);
        assert_eq!(twin.history(), vec![vec!["Kortti ei ole", "voimassa."]]);
        let e = Hd44780::start(twin, NoDelay, 0x3F, lcd)
            .unwrap_err()
            .to_string();
        assert!(e.contains("0x3f") && e.contains("NoAcknowledge"), "{e}");
    }
}
