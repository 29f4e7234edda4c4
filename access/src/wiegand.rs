//! Wiegand frames from a reader's D0/D1 lines: bits arrive as timed pulses (D0 a zero, D1 a one),
//! a frame ends after a silence, and 26- and 34-bit frames carry even parity over their first
//! half and odd parity over their second. Time is an argument: the GPIO driver passes each edge's
//! timestamp.

use std::time::Duration;

/// Silence that ends a frame (readers send bits about 2 ms apart).
pub const FRAME_GAP: Duration = Duration::from_millis(25);

/// A decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// 26 or 34.
    pub bits: u8,
    /// Facility code (8 bits in 26-bit frames, 16 in 34-bit).
    pub facility: u32,
    /// Card number field (16 bits).
    pub card: u32,
    /// The payload without parity bits (24 or 32 bits).
    pub payload: u32,
}

/// How the card number a patron's card carries is read from a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberFormat {
    /// The whole payload as one decimal number (what most library card registrations hold).
    Payload,
    /// Only the card field, decimal.
    CardField,
    /// Facility and card field, decimal, facility first, card zero-padded to 5 digits.
    FacilityCard,
}

impl Frame {
    /// The card number the library registered.
    pub fn number(&self, format: NumberFormat) -> String {
        match format {
            NumberFormat::Payload => self.payload.to_string(),
            NumberFormat::CardField => self.card.to_string(),
            NumberFormat::FacilityCard => format!("{}{:05}", self.facility, self.card),
        }
    }
}

/// Why a frame was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WiegandError {
    /// Not 26 or 34 bits (noise, a half-read card, an unsupported format).
    #[error("{0}-bit Wiegand frame; only 26 and 34 bits are read")]
    Length(u8),
    /// A parity bit is wrong.
    #[error("Wiegand parity error")]
    Parity,
}

/// Decodes a frame of `count` bits, the first received in the highest position of `bits`.
pub fn decode(bits: u64, count: u8) -> Result<Frame, WiegandError> {
    let half = match count {
        26 => 13,
        34 => 17,
        n => return Err(WiegandError::Length(n)),
    };
    let bit = |i: u8| (bits >> (count - 1 - i)) & 1 == 1;
    let ones = |from: u8, to: u8| (from..to).filter(|i| bit(*i)).count();
    // Even parity over the first half (bit 0 included), odd over the second (last bit included).
    if ones(0, half) % 2 != 0 || ones(half, count) % 2 != 1 {
        return Err(WiegandError::Parity);
    }
    // 24 or 32 payload bits: the mask makes the value fit.
    let payload = u32::try_from((bits >> 1) & ((1u64 << (count - 2)) - 1)).unwrap_or(0);
    Ok(Frame {
        bits: count,
        facility: payload >> 16,
        card: payload & 0xffff,
        payload,
    })
}

/// Collects bits into frames.
#[derive(Debug, Default)]
pub struct Decoder {
    bits: u64,
    count: u8,
    last: Option<Duration>,
    overflow: bool,
}

impl Decoder {
    /// A decoder with no bits.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bit at `at`. A bit after a silence first finishes the frame before it.
    pub fn bit(&mut self, one: bool, at: Duration) -> Option<Result<Frame, WiegandError>> {
        let finished = self.poll(at);
        if self.count == 64 {
            self.overflow = true;
        } else {
            self.bits = (self.bits << 1) | u64::from(one);
            self.count += 1;
        }
        self.last = Some(at);
        finished
    }

    /// The passing of time: a frame once its silence has lasted [`FRAME_GAP`].
    pub fn poll(&mut self, now: Duration) -> Option<Result<Frame, WiegandError>> {
        let last = self.last?;
        if now < last + FRAME_GAP {
            return None;
        }
        let result = if self.overflow {
            Err(WiegandError::Length(u8::MAX))
        } else {
            decode(self.bits, self.count)
        };
        *self = Self::default();
        Some(result)
    }

    /// When the frame being received ends, if one is.
    pub fn deadline(&self) -> Option<Duration> {
        self.last.map(|t| t + FRAME_GAP)
    }
}

/// Encodes a frame (for simulated readers and tests): the payload with parity bits.
pub fn encode(payload: u32, count: u8) -> Option<u64> {
    let half = match count {
        26 => 13,
        34 => 17,
        _ => return None,
    };
    if count == 26 && payload >> 24 != 0 {
        return None;
    }
    let mut bits = u64::from(payload) << 1;
    let bit = |b: u64, i: u8| (b >> (count - 1 - i)) & 1 == 1;
    let first = (1..half).filter(|i| bit(bits, *i)).count();
    let second = (half..count - 1).filter(|i| bit(bits, *i)).count();
    if first % 2 == 1 {
        bits |= 1 << (count - 1);
    }
    if second % 2 == 0 {
        bits |= 1;
    }
    Some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_known_26_bit_frame() {
        // Facility 1, card 12345: a frame from a common HID card.
        let bits = encode((1 << 16) | 12345, 26).unwrap();
        let f = decode(bits, 26).unwrap();
        assert_eq!((f.facility, f.card), (1, 12345));
        assert_eq!(f.number(NumberFormat::FacilityCard), "112345");
        assert_eq!(f.number(NumberFormat::CardField), "12345");
        assert_eq!(f.number(NumberFormat::Payload), "77881");
        // Every single flipped bit is caught by one parity or the other.
        for i in 0..26 {
            assert_eq!(
                decode(bits ^ (1 << i), 26),
                Err(WiegandError::Parity),
                "bit {i}"
            );
        }
    }

    #[test]
    fn frames_end_after_a_silence() {
        let bits = encode(0x00ab_cdef, 26).unwrap();
        let mut d = Decoder::new();
        for i in 0..26u64 {
            assert_eq!(d.bit((bits >> (25 - i)) & 1 == 1, ms(100 + 2 * i)), None);
        }
        assert_eq!(d.poll(ms(160)), None);
        assert_eq!(d.deadline(), Some(ms(175)));
        let f = d.poll(ms(175)).unwrap().unwrap();
        assert_eq!(f.payload, 0x00ab_cdef);
        assert_eq!(d.poll(ms(500)), None);
    }

    #[test]
    fn noise_and_other_lengths_are_refused() {
        let mut d = Decoder::new();
        d.bit(true, ms(0));
        d.bit(false, ms(2));
        assert_eq!(d.poll(ms(100)), Some(Err(WiegandError::Length(2))));
        for i in 0..70 {
            d.bit(true, ms(200 + i));
        }
        assert_eq!(d.poll(ms(400)), Some(Err(WiegandError::Length(255))));
        // A new frame starting right after a silence finishes the old one.
        d.bit(true, ms(1000));
        assert_eq!(d.bit(true, ms(1100)), Some(Err(WiegandError::Length(1))));
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(payload in 0u32..(1 << 24), wide in any::<u32>()) {
            let f = decode(encode(payload, 26).unwrap(), 26).unwrap();
            prop_assert_eq!(f.payload, payload);
            let f = decode(encode(wide, 34).unwrap(), 34).unwrap();
            prop_assert_eq!(f.payload, wide);
            prop_assert_eq!(f.facility, wide >> 16);
            prop_assert_eq!(f.card, wide & 0xffff);
        }
    }
}
