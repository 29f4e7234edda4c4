//! Received bytes cut into frames: whatever comes before a start-of-message byte is noise, a
//! frame whose length is impossible or whose CRC fails is dropped one byte at a time (the next
//! SOM may be the real one), and only replies from this reader's address are handed on. Our own
//! commands echoed back (a two-wire RS-485 adapter hears itself) are skipped without a word.
//! The reader's side ([`Deframer::for_peripheral`]) is the mirror: commands to its address are
//! handed on, its own replies echoed back are skipped.

use osdp::packet::ParsedPacket;

/// The start-of-message byte.
pub const SOM: u8 = osdp::SOM;

/// The longest frame a reader may send (LibOSDP's and the `osdp` crate's bus limit).
pub const MAX_FRAME: usize = osdp::MAX_BUS_PACKET;

/// Shortest frame: SOM, address, length (2), control, code, checksum.
const MIN_FRAME: usize = 7;

/// What was dropped, and why; never the bytes themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Bytes outside any frame.
    Noise(usize),
    /// Something that began like a frame and was not one of ours.
    Frame(String),
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Noise(n) => write!(f, "{n} bytes outside any frame dropped"),
            Self::Frame(why) => write!(f, "a frame dropped: {why}"),
        }
    }
}

/// Bytes received and not yet a frame.
#[derive(Debug)]
pub struct Deframer {
    address: u8,
    /// The address byte of the frames handed on, and that of our own echoed back.
    wanted: u8,
    echo: u8,
    buf: Vec<u8>,
}

impl Deframer {
    /// Frames from the reader at `address` (0 to 126).
    pub fn new(address: u8) -> Self {
        Self {
            address,
            wanted: address | osdp::REPLY_FLAG,
            echo: address,
            buf: Vec::new(),
        }
    }

    /// The reader's side: commands to the reader at `address` (0 to 126).
    pub fn for_peripheral(address: u8) -> Self {
        Self {
            address,
            wanted: address,
            echo: address | osdp::REPLY_FLAG,
            buf: Vec::new(),
        }
    }

    /// Bytes from the line.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Drops what is held (a retry starts afresh); how many bytes that was.
    pub fn clear(&mut self) -> usize {
        let n = self.buf.len();
        self.buf.clear();
        n
    }

    /// The next complete reply frame from our reader, a rejection, or `None` when more bytes
    /// are needed.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, Rejected>> {
        loop {
            match self.buf.iter().position(|b| *b == SOM) {
                None => {
                    let n = self.clear();
                    return (n > 0).then_some(Err(Rejected::Noise(n)));
                }
                Some(0) => {}
                Some(i) => {
                    self.buf.drain(..i);
                    return Some(Err(Rejected::Noise(i)));
                }
            }
            if self.buf.len() < 5 {
                return None;
            }
            let len = usize::from(u16::from_le_bytes([self.buf[2], self.buf[3]]));
            if !(MIN_FRAME..=MAX_FRAME).contains(&len) {
                self.buf.remove(0);
                return Some(Err(Rejected::Frame(format!(
                    "a length of {len} bytes (7 to {MAX_FRAME} expected)"
                ))));
            }
            if self.buf.len() < len {
                return None;
            }
            if let Err(e) = ParsedPacket::parse(&self.buf[..len]) {
                self.buf.remove(0);
                return Some(Err(Rejected::Frame(describe(&e))));
            }
            let frame: Vec<u8> = self.buf.drain(..len).collect();
            let addr = frame[1];
            if addr == self.echo {
                // Our own frame, echoed.
                continue;
            }
            if addr != self.wanted {
                return Some(Err(Rejected::Frame(format!(
                    "a frame for or from address {} (this reader is {})",
                    addr & 0x7f,
                    self.address
                ))));
            }
            return Some(Ok(frame));
        }
    }
}

/// A parse error in words that carry no payload bytes.
pub fn describe(e: &osdp::Error) -> String {
    use osdp::Error as E;
    match e {
        E::BadCrc { .. } => "its CRC does not match".into(),
        E::BadChecksum { .. } => "its checksum does not match".into(),
        E::BadControlByte(b) => format!("control byte {b:#04x} has reserved bits set"),
        E::BadLength { declared, actual } => {
            format!("its length says {declared} bytes, {actual} make no frame")
        }
        E::BadSecurityBlock(t) => format!("unknown security block type {t:#04x}"),
        E::UnknownReply(c) => format!("unknown reply code {c:#04x}"),
        E::Truncated { have, need } => format!("{have} bytes where {need} were needed"),
        other => format!("malformed ({})", kind(other)),
    }
}

/// The error's variant name only (its Display could quote bytes).
fn kind(e: &osdp::Error) -> String {
    let d = format!("{e:?}");
    d.split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use osdp::packet::{Address, ControlByte, CtrlFlags, PacketBuilder, Sqn};

    fn reply(addr: u8, code: u8, data: &[u8]) -> Vec<u8> {
        PacketBuilder::plain(
            Address::from_raw(addr),
            ControlByte::new(Sqn::new(1).unwrap(), CtrlFlags::USE_CRC),
            code,
            data.to_vec(),
        )
        .encode()
        .unwrap()
    }

    #[test]
    fn a_frame_split_anywhere_comes_out_whole() {
        let ack = reply(0x81, 0x40, &[]);
        for cut in 0..ack.len() {
            let mut d = Deframer::new(1);
            d.push(&ack[..cut]);
            assert_eq!(d.next_frame(), None, "cut at {cut}");
            d.push(&ack[cut..]);
            assert_eq!(d.next_frame(), Some(Ok(ack.clone())));
            assert_eq!(d.next_frame(), None);
        }
    }

    #[test]
    fn noise_bad_crcs_echoes_and_strangers_are_dropped_and_said() {
        let ack = reply(0x81, 0x40, &[]);
        let mut bad = ack.clone();
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        let mut d = Deframer::new(1);
        d.push(&[0x00, 0xff, 0x12]);
        d.push(&bad);
        d.push(&reply(0x01, 0x60, &[]));
        d.push(&reply(0x85, 0x40, &[]));
        d.push(&ack);
        assert_eq!(d.next_frame(), Some(Err(Rejected::Noise(3))));
        let Some(Err(Rejected::Frame(why))) = d.next_frame() else {
            panic!("the bad CRC")
        };
        assert!(why.contains("CRC"), "{why}");
        // The rest of the bad frame is noise up to the next SOM; the echo is skipped silently.
        assert!(matches!(d.next_frame(), Some(Err(Rejected::Noise(_)))));
        let Some(Err(Rejected::Frame(why))) = d.next_frame() else {
            panic!("the stranger")
        };
        assert!(why.contains("address 5"), "{why}");
        assert_eq!(d.next_frame(), Some(Ok(ack)));
        assert_eq!(d.next_frame(), None);
    }

    #[test]
    fn impossible_lengths_do_not_stall_the_line() {
        let mut d = Deframer::new(0);
        d.push(&[SOM, 0x80, 0xff, 0xff, 0x04]);
        assert!(matches!(d.next_frame(), Some(Err(Rejected::Frame(_)))));
        d.push(&reply(0x80, 0x40, &[]));
        assert!(matches!(d.next_frame(), Some(Err(Rejected::Noise(4)))));
        assert!(matches!(d.next_frame(), Some(Ok(_))));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_taken_without_a_panic(chunks in proptest::collection::vec(
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), 0..16)) {
            let mut d = Deframer::new(1);
            for c in chunks {
                d.push(&c);
                while let Some(f) = d.next_frame() {
                    if let Ok(f) = f {
                        proptest::prop_assert_eq!(f[1], 0x81);
                    }
                }
            }
        }
    }
}
