//! The 18-character SIP2 date: `YYYYMMDDZZZZHHMMSS`.

use std::fmt;

/// A SIP2 date and time. The zone is four characters: four spaces for the local time of the
/// library, `   Z` for UTC, or whatever else a system sent, kept as it was.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SipDate {
    /// Year, 0-9999.
    pub year: u16,
    /// Month, 1-12.
    pub month: u8,
    /// Day of the month, 1-31.
    pub day: u8,
    /// Zone, four ASCII characters.
    pub zone: [u8; 4],
    /// Hour, 0-23.
    pub hour: u8,
    /// Minute, 0-59.
    pub minute: u8,
    /// Second, 0-60 (a leap second is allowed).
    pub second: u8,
}

/// The zone of local time: four spaces.
pub const LOCAL: [u8; 4] = *b"    ";
/// The zone of UTC.
pub const UTC: [u8; 4] = *b"   Z";

impl SipDate {
    /// A local-time date. Returns `None` for an impossible calendar value.
    pub fn local(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<Self> {
        let date = Self {
            year,
            month,
            day,
            zone: LOCAL,
            hour,
            minute,
            second,
        };
        date.is_valid().then_some(date)
    }

    /// The same moment marked as UTC.
    pub fn with_zone(mut self, zone: [u8; 4]) -> Self {
        self.zone = zone;
        self
    }

    /// Whether the zone is local time (four spaces).
    pub fn is_local(&self) -> bool {
        self.zone == LOCAL
    }

    /// Whether this is a real calendar date and time with a printable zone: what strict peers
    /// check, and what the encoder insists on.
    pub fn is_valid(&self) -> bool {
        self.year <= 9999
            && (1..=12).contains(&self.month)
            && (1..=days_in_month(self.year, self.month)).contains(&self.day)
            && self.hour <= 23
            && self.minute <= 59
            && self.second <= 60
            && self.zone.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
    }

    /// Parses exactly 18 bytes; `None` if they are not a valid date.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 18 {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<u16> {
            let part = bytes.get(range)?;
            let mut v: u16 = 0;
            for &b in part {
                if !b.is_ascii_digit() {
                    return None;
                }
                v = v * 10 + u16::from(b - b'0');
            }
            Some(v)
        };
        let two = |range| num(range).and_then(|v| u8::try_from(v).ok());
        let date = Self {
            year: num(0..4)?,
            month: two(4..6)?,
            day: two(6..8)?,
            zone: [bytes[8], bytes[9], bytes[10], bytes[11]],
            hour: two(12..14)?,
            minute: two(14..16)?,
            second: two(16..18)?,
        };
        date.is_valid().then_some(date)
    }

    /// Parses a date as systems write it in variable fields (due dates): the 18-character form,
    /// `YYYYMMDD`, `YYYY-MM-DD`, or `YYYY-MM-DD HH:MM[:SS]`. `None` if it is none of these.
    pub fn parse_lenient(text: &str) -> Option<Self> {
        let t = text.trim_end();
        if let Some(d) = Self::parse(t.as_bytes()) {
            return Some(d);
        }
        let digits: String = t.chars().filter(char::is_ascii_digit).collect();
        let plain = t.len() == 8 || (t.len() >= 10 && t.as_bytes().get(4) == Some(&b'-'));
        if !plain || !t.chars().all(|c| c.is_ascii_digit() || "-: T".contains(c)) {
            return None;
        }
        let field = |r: std::ops::Range<usize>| digits.get(r)?.parse::<u16>().ok();
        let (hour, minute, second) = match digits.len() {
            8 => (23, 59, 59),
            12 => (field(8..10)?, field(10..12)?, 0),
            14 => (field(8..10)?, field(10..12)?, field(12..14)?),
            _ => return None,
        };
        Self::local(
            field(0..4)?,
            u8::try_from(field(4..6)?).ok()?,
            u8::try_from(field(6..8)?).ok()?,
            u8::try_from(hour).ok()?,
            u8::try_from(minute).ok()?,
            u8::try_from(second).ok()?,
        )
    }

    /// Writes the 18 characters.
    pub fn write(&self, out: &mut Vec<u8>) {
        push_digits(out, u32::from(self.year), 4);
        push_digits(out, u32::from(self.month), 2);
        push_digits(out, u32::from(self.day), 2);
        out.extend_from_slice(&self.zone);
        push_digits(out, u32::from(self.hour), 2);
        push_digits(out, u32::from(self.minute), 2);
        push_digits(out, u32::from(self.second), 2);
    }
}

pub(crate) fn push_digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut v = value;
    for slot in buf.iter_mut().take(width).rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl fmt::Display for SipDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::with_capacity(18);
        self.write(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

impl fmt::Debug for SipDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SipDate({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example_date_parses_as_local_time() {
        let d = SipDate::parse(b"19980821    085721").unwrap();
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (1998, 8, 21, 8, 57, 21)
        );
        assert!(d.is_local());
        assert_eq!(d.to_string(), "19980821    085721");
    }

    #[test]
    fn utc_zone_is_kept() {
        let d = SipDate::parse(b"20261124   Z210000").unwrap();
        assert_eq!(d.zone, UTC);
        assert_eq!(d.to_string(), "20261124   Z210000");
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            &b"20260230    120000"[..],
            b"20261301    120000",
            b"20261124    240000",
            b"20261124    126000",
            b"2026112     120000",
            b"20261124    12000",
            b"                  ",
            b"2026-11-24  120000",
        ] {
            assert_eq!(
                SipDate::parse(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(SipDate::parse(b"20240229    120000").is_some());
        assert!(SipDate::parse(b"21000229    120000").is_none());
    }

    #[test]
    fn lenient_parse_reads_the_forms_systems_send() {
        let want = SipDate::local(2026, 12, 22, 23, 59, 59).unwrap();
        assert_eq!(SipDate::parse_lenient("20261222    235959"), Some(want));
        assert_eq!(SipDate::parse_lenient("20261222"), Some(want));
        assert_eq!(SipDate::parse_lenient("2026-12-22"), Some(want));
        assert_eq!(
            SipDate::parse_lenient("2026-12-22 16:30"),
            SipDate::local(2026, 12, 22, 16, 30, 0)
        );
        assert_eq!(SipDate::parse_lenient("next Tuesday"), None);
        assert_eq!(SipDate::parse_lenient("2026-13-22"), None);
    }
}
