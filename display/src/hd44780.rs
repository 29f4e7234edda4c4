//! A character LCD: the HD44780 controller (and its clones: KS0066, SPLC780) in 4-bit mode
//! behind a PCF8574 I2C port expander, wired as the common backpacks are (P0 RS, P1 R/W, P2 E,
//! P3 backlight, P4–P7 D4–D7). Each I2C write is one byte: the expander's eight pins.
//!
//! The character ROM is the usual A00 (ASCII, Japanese kana): it has `ä`, `ö` and `ü`, but no
//! `å`, `Å`, `Ä`, `Ö`, `é`, `€` or `…`, which Finnish and Swedish words need. Those are drawn into
//! the controller's eight user-defined characters at start ([`GLYPHS`]); anything else shows as
//! `?`. [`Decoder`] reads the byte stream back as the controller would (edge of E, 8-bit start,
//! the switch to 4 bits, instructions, RAM writes), so a test judges the bytes, not our intent.

/// Register select: data, not an instruction.
pub const RS: u8 = 0x01;
/// Read/write (always write here).
pub const RW: u8 = 0x02;
/// Enable: the controller latches on its falling edge.
pub const E: u8 = 0x04;
/// The backlight.
pub const BACKLIGHT: u8 = 0x08;

/// The usual I2C addresses of a PCF8574 (0x27) and a PCF8574A (0x3F) backpack.
pub const ADDRESSES: [u8; 2] = [0x27, 0x3F];

/// One step: a byte to the expander, or a pause (µs) the controller needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write this byte to the expander.
    Write(u8),
    /// Wait this many microseconds.
    Wait(u32),
}

/// The letters drawn into the user-defined characters, in slot order, with their 5×8 bitmaps.
pub const GLYPHS: [(char, [u8; 8]); 7] = [
    ('Å', [0x04, 0x0A, 0x04, 0x0E, 0x11, 0x1F, 0x11, 0x00]),
    ('å', [0x04, 0x0A, 0x04, 0x0E, 0x01, 0x0F, 0x11, 0x0F]),
    ('Ä', [0x0A, 0x00, 0x0E, 0x11, 0x11, 0x1F, 0x11, 0x00]),
    ('Ö', [0x0A, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E, 0x00]),
    ('é', [0x02, 0x04, 0x0E, 0x11, 0x1F, 0x10, 0x0E, 0x00]),
    ('€', [0x06, 0x09, 0x1C, 0x08, 0x1C, 0x09, 0x06, 0x00]),
    ('…', [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x15, 0x00]),
];

/// The A00 ROM's code for `c`, or a user-defined character's slot; `?` for what neither has.
pub fn code(c: char) -> u8 {
    if let Some(slot) = GLYPHS.iter().position(|(g, _)| *g == c) {
        return slot as u8;
    }
    match c {
        'ä' => 0xE1,
        'ö' => 0xEF,
        'ü' => 0xF5,
        // A00 has ¥ at 0x5C and arrows at 0x7E and 0x7F.
        '\\' => b'/',
        '~' => b'-',
        ' '..='}' => c as u8,
        _ => b'?',
    }
}

/// The character a code shows in the A00 ROM (user-defined slots are read by the caller).
fn rom(code: u8) -> char {
    match code {
        0xE1 => 'ä',
        0xEF => 'ö',
        0xF5 => 'ü',
        0x5C => '¥',
        0x20..=0x7D => code as char,
        _ => '■',
    }
}

/// A display of `cols` × `rows` characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lcd {
    /// Characters per line (16 or 20).
    pub cols: u8,
    /// Lines (2 or 4).
    pub rows: u8,
}

/// Where each line starts in the display RAM.
fn row_start(cols: u8, row: u8) -> u8 {
    match row {
        0 => 0x00,
        1 => 0x40,
        2 => cols,
        _ => 0x40 + cols,
    }
}

fn nibble(out: &mut Vec<Step>, value: u8, rs: u8) {
    let b = ((value & 0x0F) << 4) | rs | BACKLIGHT;
    out.push(Step::Write(b | E));
    out.push(Step::Write(b));
}

fn byte(out: &mut Vec<Step>, value: u8, rs: u8) {
    nibble(out, value >> 4, rs);
    nibble(out, value, rs);
    // Clear and home take 1.52 ms; everything else 37 µs.
    out.push(Step::Wait(if rs == 0 && value < 4 { 2000 } else { 50 }));
}

impl Lcd {
    /// From power-on to a clear, lit display in 4-bit mode with the user-defined letters loaded
    /// (the datasheet's initialisation by instruction, figure 24).
    pub fn init(&self) -> Vec<Step> {
        let mut out = vec![Step::Wait(50_000)];
        for wait in [4500, 150, 150] {
            nibble(&mut out, 0x3, 0);
            out.push(Step::Wait(wait));
        }
        nibble(&mut out, 0x2, 0);
        out.push(Step::Wait(150));
        // 4 bits, 2 lines (4-line displays are two lines folded), 5×8 dots.
        byte(&mut out, 0x28, 0);
        byte(&mut out, 0x08, 0);
        byte(&mut out, 0x01, 0);
        byte(&mut out, 0x06, 0);
        byte(&mut out, 0x40, 0);
        for (_, bitmap) in GLYPHS {
            for row in bitmap {
                byte(&mut out, row, RS);
            }
        }
        byte(&mut out, 0x0C, 0);
        out
    }

    /// Shows `lines` (more than the display has are left out; each padded or cut to the width).
    pub fn show(&self, lines: &[String]) -> Vec<Step> {
        let mut out = vec![];
        for row in 0..self.rows {
            byte(&mut out, 0x80 | row_start(self.cols, row), 0);
            let text = lines.get(usize::from(row)).map_or("", String::as_str);
            let mut chars = text.chars();
            for _ in 0..self.cols {
                byte(&mut out, code(chars.next().unwrap_or(' ')), RS);
            }
        }
        out
    }
}

/// The controller as the datasheet describes it, fed the expander's bytes.
#[derive(Debug, Clone)]
pub struct Decoder {
    lcd: Lcd,
    eight_bits: bool,
    half: Option<(u8, bool)>,
    last: u8,
    ddram: [u8; 128],
    cgram: [u8; 64],
    to_cgram: bool,
    address: u8,
    /// The display is on.
    pub on: bool,
    /// The backlight is on (the last byte written).
    pub backlight: bool,
    /// Bytes that broke the protocol (R/W high: this wiring only writes).
    pub faults: usize,
}

impl Decoder {
    /// A controller just powered on.
    pub fn new(lcd: Lcd) -> Self {
        Self {
            lcd,
            eight_bits: true,
            half: None,
            last: 0,
            ddram: [b' '; 128],
            cgram: [0; 64],
            to_cgram: false,
            address: 0,
            on: false,
            backlight: false,
            faults: 0,
        }
    }

    /// One byte written to the expander.
    pub fn write(&mut self, b: u8) {
        self.backlight = b & BACKLIGHT != 0;
        if b & RW != 0 {
            self.faults += 1;
        }
        let falling = self.last & E != 0 && b & E == 0;
        self.last = b;
        if !falling {
            return;
        }
        let (value, rs) = (b >> 4, b & RS != 0);
        if self.eight_bits {
            // D3–D0 are not wired: read as 0.
            self.execute(value << 4, rs);
            return;
        }
        match self.half.take() {
            None => self.half = Some((value, rs)),
            Some((high, rs_high)) => {
                if rs_high != rs {
                    self.faults += 1;
                }
                self.execute((high << 4) | value, rs);
            }
        }
    }

    fn execute(&mut self, v: u8, data: bool) {
        if data {
            if self.to_cgram {
                self.cgram[usize::from(self.address & 0x3F)] = v & 0x1F;
                self.address = (self.address + 1) & 0x3F;
            } else {
                self.ddram[usize::from(self.address & 0x7F)] = v;
                self.address = (self.address + 1) & 0x7F;
            }
            return;
        }
        match v {
            0x01 => {
                self.ddram = [b' '; 128];
                self.address = 0;
                self.to_cgram = false;
            }
            0x02 | 0x03 => {
                self.address = 0;
                self.to_cgram = false;
            }
            0x08..=0x0F => self.on = v & 0x04 != 0,
            0x20..=0x3F => {
                self.eight_bits = v & 0x10 != 0;
                self.half = None;
            }
            0x40..=0x7F => {
                self.to_cgram = true;
                self.address = v & 0x3F;
            }
            0x80..=0xFF => {
                self.to_cgram = false;
                self.address = v & 0x7F;
            }
            _ => {}
        }
    }

    /// The character a code shows: the ROM's, or a user-defined one read from its bitmap.
    fn shown(&self, code: u8) -> char {
        if code < 8 {
            let slot = usize::from(code);
            let bitmap = &self.cgram[slot * 8..slot * 8 + 8];
            return GLYPHS
                .iter()
                .find(|(_, g)| g[..] == *bitmap)
                .map_or('□', |(c, _)| *c);
        }
        rom(code)
    }

    /// What the display shows, line by line (blank when it is off), trailing spaces dropped.
    pub fn lines(&self) -> Vec<String> {
        (0..self.lcd.rows)
            .map(|row| {
                if !self.on {
                    return String::new();
                }
                let start = usize::from(row_start(self.lcd.cols, row));
                self.ddram[start..start + usize::from(self.lcd.cols)]
                    .iter()
                    .map(|c| self.shown(*c))
                    .collect::<String>()
                    .trim_end()
                    .to_owned()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(d: &mut Decoder, steps: &[Step]) {
        for s in steps {
            if let Step::Write(b) = s {
                d.write(*b);
            }
        }
    }

    #[test]
    fn finnish_and_swedish_words_come_out_of_the_controller_as_written() {
        for lcd in [Lcd { cols: 16, rows: 2 }, Lcd { cols: 20, rows: 4 }] {
            let mut d = Decoder::new(lcd);
            run(&mut d, &lcd.init());
            assert!(d.on && d.backlight && d.faults == 0);
            assert!(d.lines().iter().all(String::is_empty));
            let text = vec!["Väärä PIN-koodi.".to_owned(), "Åbo Öja é 5€ …".to_owned()];
            run(&mut d, &lcd.show(&text));
            assert_eq!(d.lines()[..2], text[..], "{lcd:?}");
            // A later, shorter message leaves nothing of the longer one.
            run(&mut d, &lcd.show(&["Tervetuloa!".to_owned()]));
            assert_eq!(d.lines()[0], "Tervetuloa!");
            assert!(d.lines()[1..].iter().all(String::is_empty));
        }
    }

    #[test]
    fn what_the_rom_lacks_shows_as_a_question_mark_and_long_lines_are_cut() {
        let lcd = Lcd { cols: 16, rows: 2 };
        let mut d = Decoder::new(lcd);
        run(&mut d, &lcd.init());
        run(
            &mut d,
            &lcd.show(&[
                "Ωmega ☺".to_owned(),
                "Kirjastojärjestelmä ei vastaa".to_owned(),
                "a third line".to_owned(),
            ]),
        );
        assert_eq!(d.lines(), vec!["?mega ?", "Kirjastojärjeste"]);
    }

    #[test]
    fn the_decoder_needs_the_datasheets_start_and_the_right_nibble_order() {
        let lcd = Lcd { cols: 16, rows: 2 };
        // Without the start the controller is still in 8-bit mode: the text comes out wrong.
        let mut d = Decoder::new(lcd);
        run(&mut d, &lcd.show(&["Hei".to_owned()]));
        assert_ne!(d.lines()[0], "Hei");
        // Every byte of ours keeps R/W low and the backlight on.
        assert!(
            lcd.init()
                .iter()
                .chain(lcd.show(&["x".to_owned()]).iter())
                .all(|s| match s {
                    Step::Write(b) => b & RW == 0 && b & BACKLIGHT != 0,
                    Step::Wait(us) => *us > 0,
                })
        );
    }
}
