//! A receipt as printer operations, and their ESC/POS bytes.

use crate::CodePage;

/// ESC.
pub const ESC: u8 = 0x1B;
/// GS.
pub const GS: u8 = 0x1D;
/// DLE.
pub const DLE: u8 = 0x10;
/// EOT.
pub const EOT: u8 = 0x04;
/// LF: print the line and feed one.
pub const LF: u8 = 0x0A;

/// Horizontal alignment (`ESC a n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// Left.
    #[default]
    Left,
    /// Centred.
    Center,
    /// Right.
    Right,
}

impl Align {
    fn n(self) -> u8 {
        match self {
            Self::Left => 0,
            Self::Center => 1,
            Self::Right => 2,
        }
    }

    /// The alignment `ESC a n` selects (`0`/`48` left, `1`/`49` centre, `2`/`50` right).
    pub fn from_n(n: u8) -> Option<Self> {
        match n {
            0 | 48 => Some(Self::Left),
            1 | 49 => Some(Self::Center),
            2 | 50 => Some(Self::Right),
            _ => None,
        }
    }
}

/// One printer operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `ESC @`: reset the printer's modes (not its paper).
    Initialize,
    /// `ESC t n`: the code page for what follows.
    CodePage(CodePage),
    /// `ESC a n`.
    Align(Align),
    /// `ESC E n`: bold on or off.
    Bold(bool),
    /// `GS ! n`: double width and height on or off.
    Large(bool),
    /// One line of text, encoded in the current code page, then LF.
    Line(String),
    /// `ESC d n`: feed `n` lines.
    Feed(u8),
    /// `GS V 66 n`: feed to the cutter and cut (partial cut, leaving a hinge).
    Cut,
}

/// Encodes `ops` into ESC/POS bytes. Text is encoded in the code page of the last
/// [`Op::CodePage`] before it (PC437, the printers' power-on page, until then).
pub fn encode(ops: &[Op]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ops.len() * 24);
    let mut page = CodePage::Pc437;
    for op in ops {
        match op {
            Op::Initialize => {
                out.extend([ESC, b'@']);
                page = CodePage::Pc437;
            }
            Op::CodePage(p) => {
                out.extend([ESC, b't', p.escpos_number()]);
                page = *p;
            }
            Op::Align(a) => out.extend([ESC, b'a', a.n()]),
            Op::Bold(on) => out.extend([ESC, b'E', u8::from(*on)]),
            Op::Large(on) => out.extend([GS, b'!', if *on { 0x11 } else { 0x00 }]),
            Op::Line(text) => {
                out.extend(page.encode(text));
                out.push(LF);
            }
            Op::Feed(n) => out.extend([ESC, b'd', *n]),
            Op::Cut => out.extend([GS, b'V', 66, 0]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn operations_encode_to_the_documented_bytes() {
        let bytes = encode(&[
            Op::Initialize,
            Op::CodePage(CodePage::Pc865),
            Op::Align(Align::Center),
            Op::Bold(true),
            Op::Large(true),
            Op::Line("Lähde".into()),
            Op::Feed(3),
            Op::Cut,
        ]);
        assert_eq!(
            bytes,
            [
                0x1B, b'@', 0x1B, b't', 5, 0x1B, b'a', 1, 0x1B, b'E', 1, 0x1D, b'!', 0x11, b'L',
                0x84, b'h', b'd', b'e', 0x0A, 0x1B, b'd', 3, 0x1D, b'V', 66, 0
            ]
        );
    }

    #[test]
    fn text_after_a_reset_is_in_the_power_on_page() {
        let bytes = encode(&[
            Op::CodePage(CodePage::Pc858),
            Op::Initialize,
            Op::Line("€".into()),
        ]);
        assert_eq!(&bytes[bytes.len() - 4..], b"EUR\n");
    }
}
