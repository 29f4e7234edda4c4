//! A door's text display, driven through embedded-hal's I2C (and delay) traits, so the same
//! code runs on the Raspberry Pi's bus (`rppal`) and against a twin that reads the bytes as the
//! controller would and tells what a patron would read:
//!
//! - a character LCD (HD44780 behind a PCF8574 I2C backpack): [`Hd44780`], [`LcdTwin`]
//!   ([`display::hd44780::Decoder`]);
//! - a small OLED (SSD1306, 128 × 64 or 128 × 32 dots): [`Ssd1306Text`], drawn with the
//!   `ssd1306` and `embedded-graphics` crates in a 6 × 10 Latin-1 font (Finnish and Swedish
//!   letters included), and [`OledTwin`] ([`display::ssd1306::Oled`]), which reads the dots
//!   back into letters by the same font.

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

/// Adds `screen` to a twin's history: a screen with words, when it differs from the last.
fn remember(shown: &mut Vec<Vec<String>>, screen: Vec<String>) {
    if shown.last() != Some(&screen) && screen.iter().any(|l| !l.is_empty()) {
        shown.push(screen);
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
        if let Ok(mut shown) = self.shown.lock() {
            remember(&mut shown, now);
        }
        Ok(())
    }
}

/// The OLED's font: 6 × 10 dots, ISO 8859-1 (å, ä, ö, é, ü … as well as ASCII).
const OLED_FONT: &embedded_graphics::mono_font::MonoFont<'static> =
    &embedded_graphics::mono_font::iso_8859_1::FONT_6X10;

/// Characters across and lines down on an OLED `width` × `height` dots in [`OLED_FONT`].
pub fn oled_text_size(width: u32, height: u32) -> (usize, usize) {
    let cols = width / OLED_FONT.character_size.width;
    let rows = height / OLED_FONT.character_size.height;
    (cols as usize, rows as usize)
}

/// `line` in the OLED's font's letters: `…` as three dots, anything else outside Latin-1 as
/// `?` (the font draws no more).
fn latin1(line: &str) -> String {
    line.replace('…', "...")
        .chars()
        .map(|c| if u32::from(c) < 0x100 { c } else { '?' })
        .collect()
}

/// An SSD1306 OLED showing lines of text, through the `ssd1306` crate's buffered graphics
/// mode (only what changed is sent).
pub struct Ssd1306Text<I, S: ssd1306::size::DisplaySize> {
    panel: ssd1306::Ssd1306<
        ssd1306::prelude::I2CInterface<I>,
        S,
        ssd1306::mode::BufferedGraphicsMode<S>,
    >,
    address: u8,
    cols: usize,
    rows: usize,
}

impl<I, S: ssd1306::size::DisplaySize> std::fmt::Debug for Ssd1306Text<I, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ssd1306Text")
            .field("address", &self.address)
            .field("cols", &self.cols)
            .field("rows", &self.rows)
            .finish()
    }
}

impl<I: I2c, S: ssd1306::size::DisplaySize> Ssd1306Text<I, S> {
    /// Starts the panel of `size` at `address` (0x3C, or 0x3D): initialised, cleared, on.
    pub fn start(i2c: I, address: u8, size: S) -> Result<Self, DisplayError> {
        use ssd1306::mode::DisplayConfig as _;
        let interface = ssd1306::I2CDisplayInterface::new_custom_address(i2c, address);
        let mut panel =
            ssd1306::Ssd1306::new(interface, size, ssd1306::prelude::DisplayRotation::Rotate0)
                .into_buffered_graphics_mode();
        let (cols, rows) = oled_text_size(u32::from(S::WIDTH), u32::from(S::HEIGHT));
        let failed = |e| {
            DisplayError(format!(
                "SSD1306 at I2C address {address:#04x}: {e:?} (is the display connected, and at \
                 this address?)"
            ))
        };
        panel.init().map_err(failed)?;
        panel.flush().map_err(failed)?;
        Ok(Self {
            panel,
            address,
            cols,
            rows,
        })
    }
}

impl<I: I2c + Send, S: ssd1306::size::DisplaySize + Send> TextDisplay for Ssd1306Text<I, S>
where
    S::Buffer: Send,
{
    fn size(&self) -> (usize, usize) {
        (self.cols, self.rows)
    }

    fn show(&mut self, lines: &[String]) -> Result<(), DisplayError> {
        use embedded_graphics::Drawable as _;
        use embedded_graphics::mono_font::MonoTextStyle;
        use embedded_graphics::pixelcolor::BinaryColor;
        use embedded_graphics::prelude::Point;
        use embedded_graphics::text::{Baseline, Text};
        self.panel.clear_buffer();
        let style = MonoTextStyle::new(OLED_FONT, BinaryColor::On);
        let height = OLED_FONT.character_size.height;
        for (row, line) in lines.iter().take(self.rows).enumerate() {
            let text: String = latin1(line).chars().take(self.cols).collect();
            let y = i32::try_from(row as u32 * height).unwrap_or(0);
            // Drawing into the buffer cannot fail.
            let _ = Text::with_baseline(&text, Point::new(0, y), style, Baseline::Top)
                .draw(&mut self.panel);
        }
        let address = self.address;
        self.panel
            .flush()
            .map_err(|e| DisplayError(format!("SSD1306 at I2C address {address:#04x}: {e:?}")))
    }
}

/// An SSD1306 OLED as an I2C device: every write to its address goes to the controller's
/// decoder, another address is not acknowledged; what it shows is read back into letters by
/// the font the driver draws with.
#[derive(Debug, Clone)]
pub struct OledTwin {
    address: u8,
    oled: Arc<Mutex<display::ssd1306::Oled>>,
    shown: Arc<Mutex<Vec<Vec<String>>>>,
}

impl OledTwin {
    /// A panel of `width` × `height` dots answering at `address`, just powered on.
    pub fn new(address: u8, width: usize, height: usize) -> Self {
        Self {
            address,
            oled: Arc::new(Mutex::new(display::ssd1306::Oled::new(width, height))),
            shown: Arc::default(),
        }
    }

    /// What it shows now, line by line (trailing blanks trimmed; `?` for dots that are no
    /// letter of the font).
    pub fn lines(&self) -> Vec<String> {
        self.oled.lock().map(|o| read_text(&o)).unwrap_or_default()
    }

    /// Everything it has shown, in order: each screen as it stood when the driver began the
    /// next (a screen is sent in many writes; commands start the next), and the one now.
    pub fn history(&self) -> Vec<Vec<String>> {
        let mut all = self.shown.lock().map(|s| s.clone()).unwrap_or_default();
        remember(&mut all, self.lines());
        all
    }

    /// Bytes that broke the protocol.
    pub fn faults(&self) -> usize {
        self.oled.lock().map(|o| o.faults).unwrap_or(0)
    }

    /// The dots, as text art.
    pub fn art(&self) -> String {
        self.oled.lock().map(|o| o.art()).unwrap_or_default()
    }
}

/// Each printable Latin-1 letter's dots in the OLED's font, as one number per cell.
fn glyphs() -> &'static std::collections::HashMap<u64, char> {
    static GLYPHS: std::sync::OnceLock<std::collections::HashMap<u64, char>> =
        std::sync::OnceLock::new();
    GLYPHS.get_or_init(|| {
        use embedded_graphics::Drawable as _;
        use embedded_graphics::mono_font::MonoTextStyle;
        use embedded_graphics::pixelcolor::BinaryColor;
        use embedded_graphics::prelude::*;
        use embedded_graphics::text::{Baseline, Text};

        /// One cell of dots.
        struct Cell(u64);
        impl OriginDimensions for Cell {
            fn size(&self) -> Size {
                OLED_FONT.character_size
            }
        }
        impl DrawTarget for Cell {
            type Color = BinaryColor;
            type Error = std::convert::Infallible;
            fn draw_iter<P: IntoIterator<Item = Pixel<BinaryColor>>>(
                &mut self,
                pixels: P,
            ) -> Result<(), Self::Error> {
                let Size { width, height } = OLED_FONT.character_size;
                for Pixel(p, c) in pixels {
                    if let (Ok(x), Ok(y)) = (u32::try_from(p.x), u32::try_from(p.y))
                        && x < width
                        && y < height
                        && c.is_on()
                    {
                        self.0 |= 1 << (y * width + x);
                    }
                }
                Ok(())
            }
        }
        let style = MonoTextStyle::new(OLED_FONT, BinaryColor::On);
        let mut map = std::collections::HashMap::new();
        // Where two letters have the same dots at this size (Å and Â do), the Nordic one is
        // meant: those first.
        let nordic = "åäöÅÄÖ".chars();
        for c in nordic.chain((0x20u8..0x7F).chain(0xA1..=0xFF).map(char::from)) {
            let mut cell = Cell(0);
            let _ = Text::with_baseline(&c.to_string(), Point::zero(), style, Baseline::Top)
                .draw(&mut cell);
            map.entry(cell.0).or_insert(c);
        }
        map
    })
}

/// The letters on the panel, cell by cell in the OLED's font.
fn read_text(o: &display::ssd1306::Oled) -> Vec<String> {
    let (width, height) = o.size();
    let (cw, ch) = (
        OLED_FONT.character_size.width as usize,
        OLED_FONT.character_size.height as usize,
    );
    let glyphs = glyphs();
    (0..height / ch)
        .map(|row| {
            let line: String = (0..width / cw)
                .map(|col| {
                    let mut bits = 0u64;
                    for y in 0..ch {
                        for x in 0..cw {
                            if o.pixel(col * cw + x, row * ch + y) {
                                bits |= 1 << (y * cw + x);
                            }
                        }
                    }
                    glyphs.get(&bits).copied().unwrap_or('?')
                })
                .collect();
            line.trim_end().to_owned()
        })
        .collect()
}

impl ErrorType for OledTwin {
    type Error = TwinBusError;
}

impl I2c for OledTwin {
    fn transaction(
        &mut self,
        address: u8,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        if address != self.address {
            return Err(TwinBusError);
        }
        let mut o = self.oled.lock().map_err(|_| TwinBusError)?;
        for op in operations {
            match op {
                Operation::Write(bytes) => {
                    // Commands begin the next screen: the one before is complete.
                    if bytes.first().is_some_and(|c| c & 0x40 == 0) {
                        if let Ok(mut shown) = self.shown.lock() {
                            remember(&mut shown, read_text(&o));
                        }
                    }
                    o.write(bytes);
                }
                // Over I2C the controller's status is not read.
                Operation::Read(buf) => buf.fill(0),
            }
        }
        Ok(())
    }
}

/// The SSD1306 OLED on the Raspberry Pi's I2C bus `bus`, `height` dots high (64 or 32).
#[cfg(feature = "rppal")]
pub fn open_ssd1306(
    bus: u8,
    address: u8,
    height: u32,
) -> Result<Box<dyn TextDisplay>, DisplayError> {
    let i2c = rppal::i2c::I2c::with_bus(bus).map_err(|e| {
        DisplayError(format!(
            "I2C bus {bus}: {e} (is I2C on: dtparam=i2c_arm=on?)"
        ))
    })?;
    Ok(if height == 32 {
        Box::new(Ssd1306Text::start(
            i2c,
            address,
            ssd1306::prelude::DisplaySize128x32,
        )?)
    } else {
        Box::new(Ssd1306Text::start(
            i2c,
            address,
            ssd1306::prelude::DisplaySize128x64,
        )?)
    })
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

    #[test]
    fn the_oled_shows_nordic_letters_that_read_back_from_its_dots() {
        let twin = OledTwin::new(0x3C, 128, 64);
        let mut d =
            Ssd1306Text::start(twin.clone(), 0x3C, ssd1306::prelude::DisplaySize128x64).unwrap();
        assert_eq!(d.size(), (21, 6));
        let lines: Vec<String> = display::wrap(
            "Lånespärren hindrar meröppet. Kontakta biblioteket. Tarkistetaan…",
            21,
            6,
        );
        d.show(&lines).unwrap();
        assert_eq!(
            twin.lines(),
            vec![
                "Lånespärren hindrar",
                "meröppet. Kontakta",
                "biblioteket.",
                "Tarkistetaan...",
                "",
                ""
            ],
            "{}",
            twin.art()
        );
        assert_eq!(twin.faults(), 0);
        // Only what changed is sent, and the panel then shows just the new text.
        d.show(&["Väärä PIN-koodi.".into()]).unwrap();
        assert_eq!(twin.lines()[..2], ["Väärä PIN-koodi.", ""]);
        assert_eq!(twin.history().len(), 2);
        // A 128 × 32 panel: three lines.
        let small = OledTwin::new(0x3D, 128, 32);
        let mut d =
            Ssd1306Text::start(small.clone(), 0x3D, ssd1306::prelude::DisplaySize128x32).unwrap();
        assert_eq!(d.size(), (21, 3));
        d.show(&["Ä".into(), "ö".into(), "Å".into(), "hidden".into()])
            .unwrap();
        assert_eq!(small.lines(), vec!["Ä", "ö", "Å"]);
        // Nobody at the address.
        let e = Ssd1306Text::start(small, 0x3C, ssd1306::prelude::DisplaySize128x32)
            .unwrap_err()
            .to_string();
        assert!(e.contains("0x3c"), "{e}");
    }
}
