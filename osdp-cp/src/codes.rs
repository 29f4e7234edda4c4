//! The command and reply codes of OSDP v2.2 (the specification's Tables 4 and 5) that the
//! control panel sends and reads and the peripheral reads and sends: one table for both sides.

/// Command codes.
#[allow(missing_docs)]
pub mod command {
    pub const POLL: u8 = 0x60;
    pub const ID: u8 = 0x61;
    pub const CAP: u8 = 0x62;
    pub const LSTAT: u8 = 0x64;
    pub const LED: u8 = 0x69;
    pub const BUZ: u8 = 0x6A;
    pub const TEXT: u8 = 0x6B;
    pub const KEYSET: u8 = 0x75;
    pub const CHLNG: u8 = 0x76;
    pub const SCRYPT: u8 = 0x77;
}

/// Reply codes.
#[allow(missing_docs)]
pub mod reply {
    pub const ACK: u8 = 0x40;
    pub const NAK: u8 = 0x41;
    pub const PDID: u8 = 0x45;
    pub const PDCAP: u8 = 0x46;
    pub const LSTATR: u8 = 0x48;
    pub const RAW: u8 = 0x50;
    pub const FMT: u8 = 0x51;
    pub const KEYPAD: u8 = 0x53;
    pub const CCRYPT: u8 = 0x76;
    pub const RMAC_I: u8 = 0x78;
    pub const BUSY: u8 = 0x79;
}
