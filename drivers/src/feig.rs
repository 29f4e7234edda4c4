//! The FEIG ISC host protocol (standard frame), pure: the frames our RFID pad driver sends to an
//! ID ISC.MR101/MR102/LR2500-class HF reader and the replies it reads, and the same in reverse
//! for the reader twin.
//!
//! A frame is `LEN ADR CMD [STATUS] DATA CRC_LSB CRC_MSB`: LEN counts every byte, replies carry
//! a status after the command, the CRC is CRC-16/MCRF4XX (reflected 0x8408, preset 0xFFFF)
//! over everything before it. Block data travels with each block's bytes reversed (the
//! reader's "MSB first"); [`FeigPad`](crate::rfid::FeigPad) turns it back into tag order.

/// Host commands.
pub mod cmd {
    /// ISO 15693 host command (sub-command follows).
    pub const ISO_HOST: u8 = 0xB0;
    /// ISO 15693 custom and proprietary command (manufacturer code, sub-command follow).
    pub const ISO_CUSTOM: u8 = 0xB1;
    /// Get Software Version (used as a hello).
    pub const SOFTWARE_VERSION: u8 = 0x65;
    /// Inventory.
    pub const INVENTORY: u8 = 0x01;
    /// Read Multiple Blocks.
    pub const READ_BLOCKS: u8 = 0x23;
    /// Write Multiple Blocks.
    pub const WRITE_BLOCKS: u8 = 0x24;
    /// Write AFI.
    pub const WRITE_AFI: u8 = 0x27;
    /// Get System Information (DSFID, AFI, memory size).
    pub const SYSTEM_INFO: u8 = 0x2B;
    /// NXP: set the EAS bit.
    pub const NXP_SET_EAS: u8 = 0xA2;
    /// NXP: reset the EAS bit.
    pub const NXP_RESET_EAS: u8 = 0xA3;
    /// NXP: EAS alarm. A tag answers it (with its EAS sequence) only while its EAS bit is set.
    pub const NXP_EAS_ALARM: u8 = 0xA5;
    /// NXP manufacturer code.
    pub const MFR_NXP: u8 = 0x04;
}

/// Status bytes of replies.
pub mod status {
    /// OK.
    pub const OK: u8 = 0x00;
    /// No transponder in the field.
    pub const NO_TAG: u8 = 0x01;
    /// Tag data false (CRC error on the air).
    pub const DATA_FALSE: u8 = 0x02;
    /// Write error.
    pub const WRITE_ERROR: u8 = 0x03;
    /// Unknown command.
    pub const UNKNOWN_COMMAND: u8 = 0x80;
    /// RF communication error.
    pub const RF_ERROR: u8 = 0x83;
    /// More data: repeat the inventory with MODE bit 7.
    pub const MORE_DATA: u8 = 0x94;
    /// ISO 15693 error; one byte of ISO error code follows.
    pub const ISO_ERROR: u8 = 0x95;
}

/// The address every reader answers.
pub const BROADCAST: u8 = 0xFF;
/// Mode byte: addressed (the UID follows).
pub const ADDRESSED: u8 = 0x01;

/// CRC-16/MCRF4XX over `bytes`.
pub fn crc(bytes: &[u8]) -> u16 {
    let mut c: u16 = 0xFFFF;
    for &b in bytes {
        c ^= u16::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x8408
            } else {
                c >> 1
            };
        }
    }
    c
}

/// A host request frame: `LEN ADR CMD DATA CRC`.
pub fn request(address: u8, command: u8, data: &[u8]) -> Vec<u8> {
    frame(&[address, command], data)
}

/// A reader reply frame: `LEN ADR CMD STATUS DATA CRC`.
pub fn reply(address: u8, command: u8, status: u8, data: &[u8]) -> Vec<u8> {
    frame(&[address, command, status], data)
}

fn frame(head: &[u8], data: &[u8]) -> Vec<u8> {
    let len = 1 + head.len() + data.len() + 2;
    let mut f = Vec::with_capacity(len);
    f.push(u8::try_from(len).unwrap_or(u8::MAX));
    f.extend_from_slice(head);
    f.extend_from_slice(data);
    let c = crc(&f);
    f.extend(c.to_le_bytes());
    f
}

/// A frame read off the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Bus address.
    pub address: u8,
    /// Command.
    pub command: u8,
    /// Everything between the command and the CRC (a reply's status first).
    pub body: Vec<u8>,
}

/// What [`parse`] found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A whole frame of this many bytes.
    Frame(Frame, usize),
    /// Not enough bytes yet.
    Incomplete,
    /// The bytes are not a frame (bad length or CRC): drop this many and resynchronise.
    Garbage(usize),
}

/// Reads one standard frame from the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let Some(&len) = buf.first() else {
        return Parsed::Incomplete;
    };
    let len = usize::from(len);
    if len < 5 {
        return Parsed::Garbage(1);
    }
    if buf.len() < len {
        return Parsed::Incomplete;
    }
    let (body, tail) = buf[..len].split_at(len - 2);
    if crc(body).to_le_bytes() != tail {
        return Parsed::Garbage(1);
    }
    Parsed::Frame(
        Frame {
            address: body[1],
            command: body[2],
            body: body[3..].to_vec(),
        },
        len,
    )
}

/// Reverses each `size`-byte block of `data` (the reader sends and takes block bytes MSB first).
pub fn flip_blocks(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = data.to_vec();
    if size > 0 {
        for b in out.chunks_mut(size) {
            b.reverse();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    }

    #[test]
    fn frames_match_published_ones() {
        assert_eq!(crc(b"123456789"), 0x6F91);
        assert_eq!(request(0xFF, 0x65, &[]), hex("05 FF 65 E5 CB"));
        assert_eq!(
            request(0xFF, 0xB0, &[0x01, 0x00]),
            hex("07 FF B0 01 00 1C 56")
        );
        let uid = hex("E0 04 01 00 12 34 56 78");
        let mut write_afi = vec![0x27, 0x01];
        write_afi.extend(&uid);
        write_afi.push(0x07);
        assert_eq!(
            request(0xFF, 0xB0, &write_afi),
            hex("10 FF B0 27 01 E0 04 01 00 12 34 56 78 07 D8 DE")
        );
        let mut eas = vec![0x04, 0xA2, 0x01];
        eas.extend(&uid);
        assert_eq!(
            request(0xFF, 0xB1, &eas),
            hex("10 FF B1 04 A2 01 E0 04 01 00 12 34 56 78 FC BB")
        );
        assert_eq!(reply(0x00, 0xB0, 0x01, &[]), hex("06 00 B0 01 5C 63"));
    }

    #[test]
    fn replies_parse_and_noise_is_skipped() {
        let one = hex("11 00 B0 00 01 03 00 E0 04 01 00 12 34 56 78 D8 35");
        let mut buf = vec![0x02, 0x00];
        buf.extend(&one);
        assert_eq!(parse(&buf), Parsed::Garbage(1));
        assert_eq!(parse(&buf[1..]), Parsed::Garbage(1));
        match parse(&buf[2..]) {
            Parsed::Frame(f, n) => {
                assert_eq!(
                    (f.command, f.body[0], f.body[1], n),
                    (0xB0, 0x00, 0x01, one.len())
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse(&one[..5]), Parsed::Incomplete);
        let mut bad = one.clone();
        bad[6] ^= 1;
        assert_eq!(parse(&bad), Parsed::Garbage(1));
    }

    #[test]
    fn read_blocks_reply_carries_reversed_blocks() {
        let r = hex(
            "1C 00 B0 00 04 04 00 31 01 01 11 00 35 34 33 32 00 00 00 00 00 00 00 00 00 00 C7 E2",
        );
        let Parsed::Frame(f, _) = parse(&r) else {
            panic!()
        };
        assert_eq!(&f.body[..3], &[0x00, 0x04, 0x04]);
        let blocks: Vec<u8> = f.body[3..]
            .chunks(5)
            .flat_map(|c| flip_blocks(&c[1..], 4))
            .collect();
        assert_eq!(&blocks[..8], &hex("11 01 01 31 32 33 34 35"));
    }
}
