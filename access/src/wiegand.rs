//! Wiegand frames from a reader's D0/D1 lines: bits arrive as timed pulses (D0 a zero, D1 a one),
//! a frame ends after a silence, and 26-, 34- and 37-bit frames (HID's H10301, the common 34-bit
//! one, H10304) carry even parity over their first half and odd parity over their second (in 37
//! bits the halves share their middle bit). A reader with a keypad sends each key on the same
//! lines as a short burst: 4 bits (the key's value), or 8 (HID's format: the value's complement,
//! then the value), `*` being 10 and `#` 11. Time is an argument: the GPIO driver passes each
//! edge's timestamp.

use std::time::Duration;

use crate::pin::Key;

/// Silence that ends a frame (readers send bits about 2 ms apart).
pub const FRAME_GAP: Duration = Duration::from_millis(25);

/// A decoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// 26, 34 or 37.
    pub bits: u8,
    /// Facility code (8 bits in 26-bit frames, 16 in 34- and 37-bit).
    pub facility: u32,
    /// Card number field (16 bits; 19 in 37-bit frames).
    pub card: u32,
    /// The payload without parity bits (24, 32 or 35 bits).
    pub payload: u64,
}

/// Where a frame's parity ranges end and begin, and how wide its card field is.
struct Layout {
    /// The even parity covers bits `0..first_end` (the parity bit itself included).
    first_end: u8,
    /// The odd parity covers bits `second_start..` to the last.
    second_start: u8,
    card_bits: u8,
}

fn layout(count: u8) -> Option<Layout> {
    let (first_end, second_start, card_bits) = match count {
        26 => (13, 13, 16),
        34 => (17, 17, 16),
        37 => (19, 18, 19),
        _ => return None,
    };
    Some(Layout {
        first_end,
        second_start,
        card_bits,
    })
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

/// Why a frame was refused. No variant carries what was read: a key burst is a PIN digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WiegandError {
    /// Not 26, 34 or 37 bits, nor a key burst the reader is set to send (noise, a half-read
    /// card, an unsupported format, a keypad in another mode than configured).
    #[error(
        "{0}-bit Wiegand burst; cards are 26, 34 or 37 bits, and keys 4 or 8 as the reader's keypad is set"
    )]
    Length(u8),
    /// A parity bit is wrong.
    #[error("Wiegand parity error")]
    Parity,
    /// An 8-bit key burst whose halves are not each other's complement (a bit lost or flipped).
    #[error("8-bit Wiegand key burst failed its check (halves not complementary)")]
    KeyCheck,
    /// A key burst carrying 12 to 15, which no key sends.
    #[error("Wiegand key burst carrying no key (a value above 11)")]
    NoKey,
}

/// How a reader's keypad sends its keys (set on the reader, told to us by configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyBursts {
    /// No keypad: short bursts are noise.
    #[default]
    None,
    /// 4 bits per key: the key's value.
    Four,
    /// 8 bits per key: the value's complement, then the value (HID's 8-bit keypad format).
    Eight,
}

/// What a burst of bits was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Burst {
    /// A card.
    Card(Frame),
    /// A key of the reader's keypad.
    Key(Key),
}

/// The value a key is sent as: digits as themselves, `*` 10, `#` 11.
fn key_value(key: Key) -> Option<u8> {
    match key {
        Key::Digit(d @ 0..=9) => Some(d),
        Key::Digit(_) => None,
        Key::Clear => Some(10),
        Key::Submit => Some(11),
    }
}

/// Decodes a key burst of `count` bits (4 or 8), first bit received highest.
pub fn decode_key(bits: u64, count: u8) -> Result<Key, WiegandError> {
    let value = match count {
        4 => bits & 0xf,
        8 => {
            let (check, value) = ((bits >> 4) & 0xf, bits & 0xf);
            if check != !value & 0xf {
                return Err(WiegandError::KeyCheck);
            }
            value
        }
        n => return Err(WiegandError::Length(n)),
    };
    match value {
        0..=9 => Ok(Key::Digit(u8::try_from(value).unwrap_or(0))),
        10 => Ok(Key::Clear),
        11 => Ok(Key::Submit),
        _ => Err(WiegandError::NoKey),
    }
}

/// Encodes a key as a burst of `count` bits (4 or 8), for simulated readers and tests.
pub fn encode_key(key: Key, count: u8) -> Option<u64> {
    let v = u64::from(key_value(key)?);
    match count {
        4 => Some(v),
        8 => Some(((!v & 0xf) << 4) | v),
        _ => None,
    }
}

/// Decodes a burst of `count` bits: a card frame, or a key when the reader sends keys that way.
pub fn decode_burst(bits: u64, count: u8, keys: KeyBursts) -> Result<Burst, WiegandError> {
    match (count, keys) {
        (4, KeyBursts::Four) | (8, KeyBursts::Eight) => decode_key(bits, count).map(Burst::Key),
        _ => decode(bits, count).map(Burst::Card),
    }
}

/// Decodes a frame of `count` bits, the first received in the highest position of `bits`.
pub fn decode(bits: u64, count: u8) -> Result<Frame, WiegandError> {
    let Some(l) = layout(count) else {
        return Err(WiegandError::Length(count));
    };
    let bit = |i: u8| (bits >> (count - 1 - i)) & 1 == 1;
    let ones = |from: u8, to: u8| (from..to).filter(|i| bit(*i)).count();
    // Even parity over the first half (bit 0 included), odd over the second (last bit included).
    if ones(0, l.first_end) % 2 != 0 || ones(l.second_start, count) % 2 != 1 {
        return Err(WiegandError::Parity);
    }
    let payload = (bits >> 1) & ((1u64 << (count - 2)) - 1);
    let card_mask = (1u64 << l.card_bits) - 1;
    // The masks make both fields fit: at most 16 and 19 bits.
    Ok(Frame {
        bits: count,
        facility: u32::try_from(payload >> l.card_bits).unwrap_or(0),
        card: u32::try_from(payload & card_mask).unwrap_or(0),
        payload,
    })
}

/// Collects bits into frames and key bursts.
#[derive(Debug, Default)]
pub struct Decoder {
    bits: u64,
    count: u8,
    last: Option<Duration>,
    overflow: bool,
    keys: KeyBursts,
}

impl Decoder {
    /// A decoder of a reader without a keypad.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder of a reader whose keypad sends `keys`.
    pub fn with_keys(keys: KeyBursts) -> Self {
        Self {
            keys,
            ..Self::default()
        }
    }

    /// A bit at `at`. A bit after a silence first finishes the burst before it.
    pub fn bit(&mut self, one: bool, at: Duration) -> Option<Result<Burst, WiegandError>> {
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

    /// The passing of time: a burst once its silence has lasted [`FRAME_GAP`].
    pub fn poll(&mut self, now: Duration) -> Option<Result<Burst, WiegandError>> {
        let last = self.last?;
        if now < last + FRAME_GAP {
            return None;
        }
        let result = if self.overflow {
            Err(WiegandError::Length(u8::MAX))
        } else {
            decode_burst(self.bits, self.count, self.keys)
        };
        *self = Self::with_keys(self.keys);
        Some(result)
    }

    /// When the frame being received ends, if one is.
    pub fn deadline(&self) -> Option<Duration> {
        self.last.map(|t| t + FRAME_GAP)
    }
}

/// Encodes a frame (for simulated readers and tests): the payload with parity bits.
pub fn encode(payload: u64, count: u8) -> Option<u64> {
    let l = layout(count)?;
    if payload >> (count - 2) != 0 {
        return None;
    }
    let mut bits = payload << 1;
    let bit = |b: u64, i: u8| (b >> (count - 1 - i)) & 1 == 1;
    let first = (1..l.first_end).filter(|i| bit(bits, *i)).count();
    let second = (l.second_start..count - 1)
        .filter(|i| bit(bits, *i))
        .count();
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
        let Some(Ok(Burst::Card(f))) = d.poll(ms(175)) else {
            panic!("no card");
        };
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

    /// Sends `count` bits of `bits` from `at`, 2 ms apart; what the decoder finished meanwhile.
    fn send(
        d: &mut Decoder,
        bits: u64,
        count: u8,
        at: Duration,
    ) -> Vec<Result<Burst, WiegandError>> {
        (0..count)
            .filter_map(|i| {
                d.bit(
                    (bits >> (count - 1 - i)) & 1 == 1,
                    at + ms(2 * u64::from(i)),
                )
            })
            .collect()
    }

    const KEYS: [Key; 12] = [
        Key::Digit(0),
        Key::Digit(1),
        Key::Digit(2),
        Key::Digit(3),
        Key::Digit(4),
        Key::Digit(5),
        Key::Digit(6),
        Key::Digit(7),
        Key::Digit(8),
        Key::Digit(9),
        Key::Clear,
        Key::Submit,
    ];

    #[test]
    fn known_key_bursts() {
        // HID's 8-bit keypad format: "1" is 1110 0001, "#" 0100 1011.
        assert_eq!(encode_key(Key::Digit(1), 8), Some(0b1110_0001));
        assert_eq!(encode_key(Key::Submit, 8), Some(0b0100_1011));
        assert_eq!(encode_key(Key::Clear, 4), Some(0b1010));
        assert_eq!(decode_key(0b0111, 4), Ok(Key::Digit(7)));
        assert_eq!(decode_key(0b1100, 4), Err(WiegandError::NoKey));
        assert_eq!(decode_key(0b0011_1100, 8), Err(WiegandError::NoKey));
        assert_eq!(decode_key(0b1110_0011, 8), Err(WiegandError::KeyCheck));
        assert_eq!(encode_key(Key::Digit(10), 4), None);
        assert_eq!(encode_key(Key::Digit(1), 6), None);
        // Every value of both widths: the twelve keys' bursts decode, and nothing else does.
        for count in [4u8, 8] {
            let valid: Vec<u64> = KEYS
                .iter()
                .map(|k| encode_key(*k, count).unwrap())
                .collect();
            for b in 0..1u64 << count {
                match decode_key(b, count) {
                    Ok(k) => assert_eq!(encode_key(k, count), Some(b), "{count}-bit {b:#b}"),
                    Err(_) => assert!(!valid.contains(&b), "{count}-bit {b:#b}"),
                }
            }
        }
    }

    #[test]
    fn a_reader_without_a_keypad_refuses_key_bursts() {
        let mut d = Decoder::new();
        send(&mut d, 0b1110_0001, 8, ms(0));
        assert_eq!(d.poll(ms(100)), Some(Err(WiegandError::Length(8))));
        let mut d = Decoder::with_keys(KeyBursts::Four);
        send(&mut d, 0b1110_0001, 8, ms(0));
        assert_eq!(d.poll(ms(100)), Some(Err(WiegandError::Length(8))));
        let mut d = Decoder::with_keys(KeyBursts::Eight);
        send(&mut d, 0b0001, 4, ms(0));
        assert_eq!(d.poll(ms(100)), Some(Err(WiegandError::Length(4))));
    }

    #[test]
    fn a_card_then_a_pin_from_one_reader() {
        let mut d = Decoder::with_keys(KeyBursts::Eight);
        let card = encode((1 << 16) | 12345, 26).unwrap();
        let mut out = send(&mut d, card, 26, ms(0));
        let mut t = ms(200);
        for k in [
            Key::Digit(1),
            Key::Digit(2),
            Key::Clear,
            Key::Digit(3),
            Key::Submit,
        ] {
            out.extend(send(&mut d, encode_key(k, 8).unwrap(), 8, t));
            t += ms(150);
        }
        out.extend(d.poll(t));
        assert_eq!(
            out,
            vec![
                Ok(Burst::Card(decode(card, 26).unwrap())),
                Ok(Burst::Key(Key::Digit(1))),
                Ok(Burst::Key(Key::Digit(2))),
                Ok(Burst::Key(Key::Clear)),
                Ok(Burst::Key(Key::Digit(3))),
                Ok(Burst::Key(Key::Submit)),
            ]
        );
    }

    #[test]
    fn a_known_37_bit_frame() {
        // H10304: facility 1234, card 300000 (a card field wider than 16 bits).
        let payload = (1234u64 << 19) | 300_000;
        let bits = encode(payload, 37).unwrap();
        // Even parity over bits 0..=18, odd over 18..=36: bit 18 counts in both.
        let ones = |from: u8, to: u8| (from..to).filter(|i| (bits >> (36 - i)) & 1 == 1).count();
        assert_eq!((ones(0, 19) % 2, ones(18, 37) % 2), (0, 1));
        let f = decode(bits, 37).unwrap();
        assert_eq!((f.facility, f.card, f.payload), (1234, 300_000, payload));
        assert_eq!(f.number(NumberFormat::FacilityCard), "1234300000");
        for i in 0..37 {
            assert_eq!(
                decode(bits ^ (1 << i), 37),
                Err(WiegandError::Parity),
                "bit {i}"
            );
        }
        assert_eq!(encode(1 << 35, 37), None);
        assert_eq!(encode(1 << 24, 26), None);
    }

    fn keys_mode() -> impl Strategy<Value = KeyBursts> {
        prop_oneof![
            Just(KeyBursts::None),
            Just(KeyBursts::Four),
            Just(KeyBursts::Eight)
        ]
    }

    proptest! {
        #[test]
        fn every_key_burst_decodes_to_its_key(i in 0usize..12, eight in any::<bool>(), at in 0u64..1_000_000) {
            let (count, mode) = if eight { (8, KeyBursts::Eight) } else { (4, KeyBursts::Four) };
            let key = KEYS[i];
            let bits = encode_key(key, count).unwrap();
            prop_assert_eq!(decode_burst(bits, count, mode), Ok(Burst::Key(key)));
            let mut d = Decoder::with_keys(mode);
            prop_assert!(send(&mut d, bits, count, ms(at)).is_empty());
            prop_assert_eq!(d.poll(ms(at + 100)), Some(Ok(Burst::Key(key))));
        }

        #[test]
        fn every_corrupted_8_bit_burst_is_refused(i in 0usize..12, flips in 1u64..256) {
            // Any change to a valid burst but the same flips in both halves (which turn one
            // key into another: the format cannot see those) is refused: one bit lost, a stray
            // pulse, a run of noise.
            prop_assume!(flips >> 4 != flips & 0xf);
            let bits = encode_key(KEYS[i], 8).unwrap() ^ flips;
            prop_assert!(decode_burst(bits, 8, KeyBursts::Eight).is_err());
        }

        #[test]
        fn card_frames_are_unchanged_by_a_keypad(payload in 0u64..(1 << 24), wide in 0u64..(1 << 32), h10304 in 0u64..(1 << 35), flip in 0u8..37, mode in keys_mode()) {
            for (bits, count) in [(encode(payload, 26).unwrap(), 26u8), (encode(wide, 34).unwrap(), 34), (encode(h10304, 37).unwrap(), 37)] {
                prop_assert_eq!(decode_burst(bits, count, mode), decode(bits, count).map(Burst::Card));
                let bad = bits ^ (1 << (flip % count));
                prop_assert_eq!(decode_burst(bad, count, mode), Err(WiegandError::Parity));
            }
        }

        #[test]
        fn encode_then_decode_round_trips(payload in 0u64..(1 << 24), wide in 0u64..(1 << 32), h10304 in 0u64..(1 << 35)) {
            let f = decode(encode(payload, 26).unwrap(), 26).unwrap();
            prop_assert_eq!(f.payload, payload);
            let f = decode(encode(wide, 34).unwrap(), 34).unwrap();
            prop_assert_eq!(f.payload, wide);
            prop_assert_eq!(u64::from(f.facility), wide >> 16);
            prop_assert_eq!(u64::from(f.card), wide & 0xffff);
            let f = decode(encode(h10304, 37).unwrap(), 37).unwrap();
            prop_assert_eq!(f.payload, h10304);
            prop_assert_eq!(u64::from(f.facility), h10304 >> 19);
            prop_assert_eq!(u64::from(f.card), h10304 & 0x7_ffff);
        }
    }
}
