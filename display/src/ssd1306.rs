//! The SSD1306 OLED controller (128 × 64 or 128 × 32 dots) as its datasheet reads the bytes
//! written to it over I2C: each write starts with a control byte (Co bit 7, D/C bit 6), then
//! commands with their arguments or display data into the graphic RAM, placed by the addressing
//! mode (horizontal, vertical or page) and the column and page windows. [`Oled`] keeps the RAM
//! and the commands that change what shows (on/off, inverse, all-on); a driver's bytes are
//! judged by what a patron would then see ([`Oled::pixel`]), not by how they were written.

/// How data bytes advance through the RAM (command 0x20).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// Column first, then the next page, within the windows.
    Horizontal,
    /// Page first, then the next column, within the windows.
    Vertical,
    /// Along one page only (the power-on mode).
    Page,
}

/// The controller's state: RAM, addressing and what the panel shows.
#[derive(Debug, Clone)]
pub struct Oled {
    width: usize,
    height: usize,
    /// 128 columns × 8 pages of 8 vertical dots, bit 0 at the top.
    ram: Vec<u8>,
    addressing: Addressing,
    columns: (usize, usize),
    pages: (usize, usize),
    column: usize,
    page: usize,
    /// Display on (0xAF) or asleep (0xAE, the power-on state).
    pub on: bool,
    inverse: bool,
    all_on: bool,
    /// Command bytes still to come as arguments of the last command, and which.
    pending: Vec<u8>,
    expecting: usize,
    /// Bytes that no command of the datasheet explains.
    pub faults: usize,
}

/// Arguments each command takes (the datasheet's command table).
fn arguments(command: u8) -> usize {
    match command {
        0x81 | 0x8D | 0xA8 | 0xD3 | 0xD5 | 0xD9 | 0xDA | 0xDB | 0x20 | 0xAD => 1,
        0x21 | 0x22 | 0xA3 => 2,
        0x29 | 0x2A => 5,
        0x26 | 0x27 => 6,
        _ => 0,
    }
}

/// Commands with no arguments the datasheet lists (everything else of none is a fault).
fn known_without_arguments(c: u8) -> bool {
    matches!(c,
        0x00..=0x1F | 0x2E | 0x2F | 0x40..=0x7F | 0xA0 | 0xA1 | 0xA4..=0xA7 | 0xAE | 0xAF
        | 0xB0..=0xB7 | 0xC0 | 0xC8 | 0xE3)
}

impl Oled {
    /// A panel of `width` × `height` dots (128 × 64 or 128 × 32), just powered on: asleep,
    /// page addressing, RAM as it comes (blank here).
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width: width.min(128),
            height: height.min(64),
            ram: vec![0; 128 * 8],
            addressing: Addressing::Page,
            columns: (0, 127),
            pages: (0, 7),
            column: 0,
            page: 0,
            on: false,
            inverse: false,
            all_on: false,
            pending: vec![],
            expecting: 0,
            faults: 0,
        }
    }

    /// Dots across and down.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// One I2C write to the controller's address, as it reads it.
    pub fn write(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some((&control, after)) = rest.split_first() {
            let continuation = control & 0x80 != 0;
            let data = control & 0x40 != 0;
            if control & 0x3F != 0 {
                // The low six bits of a control byte are zero.
                self.faults += 1;
            }
            if continuation {
                // One byte, then another control byte.
                let Some((&b, after)) = after.split_first() else {
                    self.faults += 1;
                    return;
                };
                self.byte(b, data);
                rest = after;
            } else {
                for &b in after {
                    self.byte(b, data);
                }
                return;
            }
        }
    }

    fn byte(&mut self, b: u8, data: bool) {
        if data {
            self.data(b);
        } else {
            self.command_byte(b);
        }
    }

    fn command_byte(&mut self, b: u8) {
        if self.expecting > 0 {
            self.pending.push(b);
            self.expecting -= 1;
            if self.expecting == 0 {
                let bytes = std::mem::take(&mut self.pending);
                self.command(&bytes);
            }
            return;
        }
        let n = arguments(b);
        if n > 0 {
            self.pending = vec![b];
            self.expecting = n;
        } else if known_without_arguments(b) {
            self.command(&[b]);
        } else {
            self.faults += 1;
        }
    }

    fn command(&mut self, c: &[u8]) {
        let arg = |i: usize| usize::from(c.get(i).copied().unwrap_or(0));
        match c.first().copied().unwrap_or(0xE3) {
            0xAE => self.on = false,
            0xAF => self.on = true,
            0xA6 => self.inverse = false,
            0xA7 => self.inverse = true,
            0xA4 => self.all_on = false,
            0xA5 => self.all_on = true,
            0x20 => {
                self.addressing = match arg(1) & 3 {
                    0 => Addressing::Horizontal,
                    1 => Addressing::Vertical,
                    2 => Addressing::Page,
                    _ => {
                        self.faults += 1;
                        self.addressing
                    }
                }
            }
            0x21 => {
                self.columns = (arg(1) & 0x7F, arg(2) & 0x7F);
                self.column = self.columns.0;
            }
            0x22 => {
                self.pages = (arg(1) & 7, arg(2) & 7);
                self.page = self.pages.0;
            }
            b @ 0xB0..=0xB7 => self.page = usize::from(b & 7),
            b @ 0x00..=0x0F => self.column = (self.column & 0xF0) | usize::from(b),
            b @ 0x10..=0x1F => self.column = (self.column & 0x0F) | (usize::from(b & 0x0F) << 4),
            // Contrast, timing, multiplex, charge pump, remaps, scrolling: nothing a test of
            // the words reads.
            _ => {}
        }
    }

    fn data(&mut self, b: u8) {
        if let Some(cell) = self.ram.get_mut(self.page * 128 + (self.column & 0x7F)) {
            *cell = b;
        }
        match self.addressing {
            Addressing::Page => self.column = (self.column + 1) & 0x7F,
            Addressing::Horizontal => {
                if self.column >= self.columns.1 {
                    self.column = self.columns.0;
                    self.page = if self.page >= self.pages.1 {
                        self.pages.0
                    } else {
                        self.page + 1
                    };
                } else {
                    self.column += 1;
                }
            }
            Addressing::Vertical => {
                if self.page >= self.pages.1 {
                    self.page = self.pages.0;
                    self.column = if self.column >= self.columns.1 {
                        self.columns.0
                    } else {
                        self.column + 1
                    };
                } else {
                    self.page += 1;
                }
            }
        }
    }

    /// Whether the dot at `x`, `y` is lit, as a patron sees it (asleep: none).
    pub fn pixel(&self, x: usize, y: usize) -> bool {
        if !self.on || x >= self.width || y >= self.height {
            return false;
        }
        if self.all_on {
            return true;
        }
        let lit = self
            .ram
            .get((y / 8) * 128 + x)
            .is_some_and(|b| b >> (y % 8) & 1 == 1);
        lit != self.inverse
    }

    /// The panel as text art, `#` for a lit dot: for a test's failure message.
    pub fn art(&self) -> String {
        let mut s = String::new();
        for y in 0..self.height {
            for x in 0..self.width {
                s.push(if self.pixel(x, y) { '#' } else { '.' });
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_lands_where_the_windows_and_the_addressing_mode_put_it() {
        let mut o = Oled::new(128, 64);
        assert!(!o.pixel(0, 0), "asleep at power-on");
        // On, horizontal addressing, columns 2..=3, pages 1..=2; four bytes fill the window.
        o.write(&[0x00, 0xAF, 0x20, 0x00, 0x21, 2, 3, 0x22, 1, 2]);
        o.write(&[0x40, 0x01, 0x80, 0x01, 0xFF]);
        assert_eq!(o.faults, 0);
        assert!(o.pixel(2, 8) && o.pixel(3, 15) && o.pixel(2, 16) && o.pixel(3, 23));
        assert!(!o.pixel(2, 9) && !o.pixel(4, 8) && !o.pixel(1, 8));
        // Page addressing: page 0 from column 0x12.
        o.write(&[0x00, 0x20, 0x02, 0xB0, 0x02, 0x11, 0x40]);
        o.write(&[0x40, 0x80]);
        assert!(o.pixel(0x12, 7));
        // Inverse, then off.
        o.write(&[0x80, 0xA7]);
        assert!(o.pixel(0, 0) && !o.pixel(0x12, 7));
        o.write(&[0x00, 0xAE]);
        assert!(!o.pixel(0, 0));
        assert_eq!(o.faults, 0);
        // A command the datasheet does not have, and a control byte with low bits set.
        o.write(&[0x00, 0xF0]);
        o.write(&[0x01]);
        assert_eq!(o.faults, 2);
    }

    #[test]
    fn a_128_by_32_panel_shows_only_its_half() {
        let mut o = Oled::new(128, 32);
        o.write(&[0x00, 0xAF, 0x20, 0x00, 0x21, 0, 0, 0x22, 0, 7]);
        o.write(&[0x40, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert!(o.pixel(0, 24) && !o.pixel(0, 32));
        assert_eq!(o.size(), (128, 32));
        assert_eq!(o.art().lines().count(), 32);
    }
}
