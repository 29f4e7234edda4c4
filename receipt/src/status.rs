//! The printer's real-time status (`DLE EOT n`): asked before a receipt and answered with one
//! byte per request, even while the printer is offline.
//!
//! Every reply byte has bit 1 and bit 4 set and bits 0 and 7 clear; anything else is not a
//! status reply (a printer that does not understand the request, or line noise).

use crate::escpos::{DLE, EOT};

/// `DLE EOT 1`: printer status (online/offline).
pub const PRINTER: u8 = 1;
/// `DLE EOT 2`: offline cause (cover open, paper end stop, error).
pub const OFFLINE_CAUSE: u8 = 2;
/// `DLE EOT 4`: roll paper sensor (near end, end).
pub const PAPER: u8 = 4;

/// The request bytes for status `n`.
pub fn request(n: u8) -> [u8; 3] {
    [DLE, EOT, n]
}

/// The refusal of a printer out of paper ([`PrinterStatus::refusal`]).
pub const OUT_OF_PAPER: &str = "out of paper";

/// What the printer said about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrinterStatus {
    /// The printer is offline (cover open, paper out, error, or the feed button held).
    pub offline: bool,
    /// The cover is open.
    pub cover_open: bool,
    /// No paper: nothing can be printed.
    pub paper_out: bool,
    /// The roll is nearly used up: printing works, staff should change it.
    pub paper_near_end: bool,
    /// The printer reports an error (cutter jam, head overheated).
    pub error: bool,
}

/// A reply byte that is not a status reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{byte:#04X} is not a status reply to DLE EOT {request}")]
pub struct NotAStatus {
    /// The request it answered.
    pub request: u8,
    /// The byte.
    pub byte: u8,
}

fn check(request: u8, byte: u8) -> Result<u8, NotAStatus> {
    if byte & 0x93 == 0x12 {
        Ok(byte)
    } else {
        Err(NotAStatus { request, byte })
    }
}

impl PrinterStatus {
    /// Folds the reply to request `n` into what is known.
    pub fn read(&mut self, n: u8, byte: u8) -> Result<(), NotAStatus> {
        let b = check(n, byte)?;
        match n {
            PRINTER => self.offline = b & 0x08 != 0,
            OFFLINE_CAUSE => {
                self.cover_open = b & 0x04 != 0;
                self.paper_out |= b & 0x20 != 0;
                self.error = b & 0x40 != 0;
            }
            3 => self.error |= b & 0x68 != 0,
            PAPER => {
                self.paper_near_end = b & 0x0C != 0;
                self.paper_out |= b & 0x60 != 0;
            }
            _ => return Err(NotAStatus { request: n, byte }),
        }
        Ok(())
    }

    /// The byte a printer in this state answers to request `n` (for the printer simulator).
    pub fn reply(&self, n: u8) -> u8 {
        let mut b = 0x12;
        match n {
            PRINTER if self.offline || self.cover_open || self.paper_out || self.error => b |= 0x08,
            OFFLINE_CAUSE => {
                if self.cover_open {
                    b |= 0x04;
                }
                if self.paper_out {
                    b |= 0x20;
                }
                if self.error {
                    b |= 0x40;
                }
            }
            3 if self.error => b |= 0x40,
            PAPER => {
                if self.paper_near_end {
                    b |= 0x0C;
                }
                if self.paper_out {
                    b |= 0x60;
                }
            }
            _ => {}
        }
        b
    }

    /// Why nothing can be printed now, in words for a log line; `None` when it can.
    pub fn refusal(&self) -> Option<&'static str> {
        if self.paper_out {
            Some(OUT_OF_PAPER)
        } else if self.cover_open {
            Some("cover open")
        } else if self.error {
            Some("printer error (cutter or head)")
        } else if self.offline {
            Some("offline")
        } else {
            None
        }
    }

    /// A receipt can be printed now.
    pub fn can_print(&self) -> bool {
        self.refusal().is_none()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn documented_reply_bytes_are_understood() {
        let mut s = PrinterStatus::default();
        s.read(PRINTER, 0x12).unwrap();
        s.read(PAPER, 0x12).unwrap();
        assert!(s.can_print());
        s.read(PAPER, 0x1E).unwrap();
        assert!(s.paper_near_end && s.can_print());
        s.read(PAPER, 0x7E).unwrap();
        assert!(s.paper_out && !s.can_print());
        let mut c = PrinterStatus::default();
        c.read(PRINTER, 0x1A).unwrap();
        c.read(OFFLINE_CAUSE, 0x16).unwrap();
        assert!(c.offline && c.cover_open && !c.paper_out);
    }

    #[test]
    fn bytes_without_the_fixed_bits_are_not_status_replies() {
        let mut s = PrinterStatus::default();
        assert!(s.read(PAPER, 0x00).is_err());
        assert!(s.read(PAPER, 0xFF).is_err());
        assert!(s.read(PAPER, b'A').is_err());
        assert!(s.read(9, 0x12).is_err());
    }

    #[test]
    fn every_state_survives_its_own_replies() {
        for bits in 0u8..32 {
            let s = PrinterStatus {
                offline: bits & 1 != 0,
                cover_open: bits & 2 != 0,
                paper_out: bits & 4 != 0,
                paper_near_end: bits & 8 != 0,
                error: bits & 16 != 0,
            };
            let mut read = PrinterStatus::default();
            for n in [PRINTER, OFFLINE_CAUSE, PAPER] {
                read.read(n, s.reply(n)).unwrap();
            }
            assert_eq!(read.can_print(), s.can_print(), "{s:?}");
            assert_eq!(read.paper_out, s.paper_out);
            assert_eq!(read.paper_near_end, s.paper_near_end);
            assert_eq!(read.cover_open, s.cover_open);
        }
    }
}
