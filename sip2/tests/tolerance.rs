//! What deployed servers write that the specification does not quite allow, read as Koha reads
//! it (`C4/SIP/Sip/MsgType.pm` `handle`, `C4/SIP/Sip/Checksum.pm` `verify_cksum`,
//! `C4/SIP/Sip.pm` `read_SIP_packet`), without giving up error detection.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sip2::*;

fn dialect() -> Dialect {
    Dialect {
        charset: Charset::Utf8,
        ..Dialect::standard()
    }
}

/// A 64 reply of `pad` screen-message characters, with AY and the text after it up to AZ.
fn patron_info(pad: usize, before_ay: &str) -> String {
    format!(
        "64{}00020261124    210000{}AOheili|AA24680000000011|AEAino|BLY|CQY|AF{}{before_ay}AY4AZ",
        " ".repeat(14),
        "0".repeat(24),
        "z".repeat(pad)
    )
}

/// A frame whose checksum is below `limit`, written with `%X` (no zero padding).
fn unpadded(limit: u16, before_ay: &str) -> (String, u16) {
    for pad in 0..2000 {
        let prefix = patron_info(pad, before_ay);
        let sum = checksum(prefix.as_bytes());
        if sum < limit {
            return (format!("{prefix}{sum:X}"), sum);
        }
    }
    panic!("no padding gives a checksum below {limit:#X}");
}

#[test]
fn a_three_digit_checksum_is_checked_by_value() {
    let (frame, sum) = unpadded(0x1000, "|");
    assert!(sum >= 0x100, "three digits: {sum:X}");
    let d = Message::decode(frame.as_bytes(), &dialect()).unwrap();
    assert!(d.checksummed);
    assert_eq!(d.sequence, Some(4));
    let Message::PatronInformationResponse(p) = d.message else {
        panic!()
    };
    assert_eq!(p.valid_patron_password, Some(true));
    assert!(p.screen_messages[0].starts_with("zzz"));
}

#[test]
fn one_and_two_digit_checksums_are_checked_by_value_too() {
    let (frame, sum) = unpadded(0x100, "|");
    assert!(frame.ends_with(&format!("AZ{sum:X}")));
    assert!(
        Message::decode(frame.as_bytes(), &dialect())
            .unwrap()
            .checksummed
    );
}

#[test]
fn a_short_checksum_that_does_not_add_up_is_a_transmission_error() {
    let (frame, sum) = unpadded(0x1000, "|");
    let digits = format!("{sum:X}").len();
    let wrong = format!("{}{:X}", &frame[..frame.len() - digits], sum ^ 1);
    let e = Message::decode(wrong.as_bytes(), &dialect()).unwrap_err();
    assert!(matches!(e, DecodeError::ChecksumMismatch { .. }), "{e}");
    assert!(e.is_transmission_error());
}

#[test]
fn lower_case_checksum_digits_are_read() {
    let frame = "941AY3AZfdfa";
    let d = Message::decode(frame.as_bytes(), &dialect()).unwrap();
    assert_eq!(d.sequence, Some(3));
    assert!(d.checksummed);
}

#[test]
fn ay_without_the_delimiter_before_it_is_found_by_position() {
    // Koha takes AY at nine characters from the end whatever precedes it.
    let prefix = patron_info(3, "");
    let frame = format!("{prefix}{:04X}", checksum(prefix.as_bytes()));
    let d = Message::decode(frame.as_bytes(), &dialect()).unwrap();
    assert!(d.checksummed);
    assert_eq!(d.sequence, Some(4));
    let Message::PatronInformationResponse(p) = d.message else {
        panic!()
    };
    assert_eq!(
        p.screen_messages,
        vec!["zzz".to_owned()],
        "AY not read into AF"
    );
}

#[test]
fn az_without_the_delimiter_before_it_is_found_by_position() {
    let prefix = "1720261124    210000AOheili|ABHE1AZ";
    let frame = format!("{prefix}{:04X}", checksum(prefix.as_bytes()));
    let d = Message::decode(frame.as_bytes(), &dialect()).unwrap();
    assert!(d.checksummed);
    let Message::ItemInformation(i) = d.message else {
        panic!()
    };
    assert_eq!(i.item_identifier, "HE1");
}

#[test]
fn both_deviations_at_once_are_read() {
    let (frame, _) = unpadded(0x1000, "");
    let d = Message::decode(frame.as_bytes(), &dialect()).unwrap();
    assert!(d.checksummed);
    assert_eq!(d.sequence, Some(4));
}

#[test]
fn a_value_ending_like_a_checksum_stays_a_value() {
    // No delimiter before it and the sum does not verify: it is the item's barcode.
    let plain = Dialect {
        error_detection: false,
        ..dialect()
    };
    let d = Message::decode(b"1720261124    210000AOheili|ABHE1AZ12", &plain).unwrap();
    assert!(!d.checksummed);
    let Message::ItemInformation(i) = d.message else {
        panic!()
    };
    assert_eq!(i.item_identifier, "HE1AZ12");
    // With error detection on, the same frame is one without a checksum: ask again.
    let e = Message::decode(b"1720261124    210000AOheili|ABHE1AZ12", &dialect()).unwrap_err();
    assert_eq!(e, DecodeError::MissingChecksum);
}

#[test]
fn delimiters_after_the_checksum_are_ignored() {
    let d = Message::decode(b"941AY3AZFDFA|", &dialect()).unwrap();
    assert!(d.checksummed);
}

#[test]
fn a_damaged_message_with_a_short_checksum_is_still_caught() {
    let (frame, _) = unpadded(0x1000, "");
    let az = frame.rfind("AZ").unwrap();
    for i in 0..az {
        let mut damaged = frame.clone().into_bytes();
        damaged[i] = if damaged[i] == b'5' { b'6' } else { b'5' };
        assert!(
            Message::decode(&damaged, &dialect()).is_err(),
            "damage at {i} went unnoticed"
        );
    }
}

#[test]
fn we_still_write_four_upper_case_digits() {
    let (frame, sum) = unpadded(0x1000, "|");
    let d = Message::decode(frame.as_bytes(), &dialect()).unwrap();
    let again = d.message.encode(&dialect(), d.sequence).unwrap();
    let text = String::from_utf8(again).unwrap();
    assert!(text.ends_with(&format!("AY4AZ{sum:04X}\r")), "{text}");
    assert!(text.contains("AZ0"));
}
