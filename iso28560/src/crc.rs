//! CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, not reflected, no final XOR.

/// The CRC of `data`.
pub fn crc16(data: impl IntoIterator<Item = u8>) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values_match_the_standard_and_the_danish_model() {
        assert_eq!(crc16(*b"123456789"), 0x29B1);
        assert_eq!(crc16(*b"RFID tag data model"), 0x1AEE);
    }
}
