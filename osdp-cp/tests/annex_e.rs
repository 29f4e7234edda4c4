//! The worked examples of the OSDP specification's Annex E (as LibOSDP's unit tests carry them):
//! CRC and checksum of two frames, and a secure channel opened under SCBK-D with known randoms:
//! the session keys, both cryptograms and the initial R-MAC. The primitives are the `osdp`
//! crate's; the last test runs the session's own handshake on the same numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use osdp_cp::osdp::packet::{ParsedPacket, checksum8, crc16};
use osdp_cp::osdp::secure::SCBK_D;
use osdp_cp::osdp::secure::crypto::{
    SessionKeys, client_cryptogram, initial_rmac, server_cryptogram,
};
use osdp_cp::{Config, Scbk, Security, Session};

/// RND.A, the control panel's random.
const RND_A: [u8; 8] = [0xB0, 0xB1, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7];
/// RND.B, the reader's random.
const RND_B: [u8; 8] = [0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7];
const S_MAC1: [u8; 16] = [
    0x5E, 0x86, 0xC6, 0x76, 0x60, 0x3B, 0xDE, 0xE2, 0xD8, 0xBE, 0xAF, 0xE1, 0x78, 0x63, 0x73, 0x32,
];
const S_MAC2: [u8; 16] = [
    0x6F, 0xDA, 0x86, 0xE8, 0x57, 0x77, 0x7E, 0x81, 0x13, 0x20, 0x35, 0x75, 0x82, 0x39, 0x17, 0x2E,
];
const S_ENC: [u8; 16] = [
    0xBF, 0x8D, 0xC2, 0xA8, 0x32, 0x9A, 0xCB, 0x8C, 0x67, 0xC6, 0xD0, 0xCD, 0x9A, 0x45, 0x16, 0x82,
];
/// The spec's "host" (server) cryptogram, sent in SCRYPT.
const SERVER: [u8; 16] = [
    0x26, 0xD3, 0x35, 0x6E, 0x07, 0x76, 0x2D, 0x26, 0x28, 0x01, 0xFC, 0x8E, 0x66, 0x65, 0xA8, 0x91,
];
/// The spec's "client" cryptogram, the reader's, in CCRYPT.
const CLIENT: [u8; 16] = [
    0xFD, 0xE5, 0xD2, 0xF4, 0x28, 0xEC, 0x16, 0x31, 0x24, 0x71, 0xEA, 0x3C, 0x02, 0xBD, 0x77, 0x96,
];
const RMAC_I: [u8; 16] = [
    0xB2, 0xA3, 0x00, 0x57, 0xEB, 0x98, 0xBA, 0x22, 0x29, 0xEC, 0x1F, 0x87, 0x56, 0x62, 0xB5, 0x24,
];

#[test]
fn crc_and_checksum_examples() {
    let msg1 = [
        0x53, 0x7F, 0x0D, 0x00, 0x04, 0x6E, 0x00, 0x80, 0x25, 0x00, 0x00,
    ];
    assert_eq!(crc16(&msg1).to_le_bytes(), [0x6E, 0x38]);
    let msg2 = [0x53, 0x00, 0x09, 0x00, 0x04, 0x61, 0x00];
    assert_eq!(crc16(&msg2).to_le_bytes(), [0xC0, 0x66]);
    let mut frame = msg2.to_vec();
    frame.extend([0xC0, 0x66]);
    assert!(ParsedPacket::parse(&frame).is_ok());
    let sum1 = [
        0x53, 0x7F, 0x0C, 0x00, 0x00, 0x6E, 0x00, 0x80, 0x25, 0x00, 0x00,
    ];
    assert_eq!(checksum8(&sum1), 0x0F);
    let sum2 = [0x53, 0x00, 0x08, 0x00, 0x00, 0x61, 0x00];
    assert_eq!(checksum8(&sum2), 0x44);
}

#[test]
fn session_keys_cryptograms_and_initial_rmac_under_scbk_d() {
    let keys = SessionKeys::derive(&SCBK_D, &RND_A);
    assert_eq!(keys.s_mac1, S_MAC1);
    assert_eq!(keys.s_mac2, S_MAC2);
    assert_eq!(keys.s_enc, S_ENC);
    assert_eq!(client_cryptogram(&keys.s_enc, &RND_A, &RND_B), CLIENT);
    assert_eq!(server_cryptogram(&keys.s_enc, &RND_A, &RND_B), SERVER);
    assert_eq!(initial_rmac(&S_MAC1, &S_MAC2, &SERVER), RMAC_I);
}

/// A reply frame from address 0 with a security block of `scb` (type, key-type byte).
fn reply(sqn: u8, scb: [u8; 2], code: u8, data: &[u8]) -> Vec<u8> {
    let len = 5 + 3 + 1 + data.len() + 2;
    let mut f = vec![
        0x53,
        0x80,
        len as u8,
        0x00,
        0x0C | sqn,
        3,
        scb[0],
        scb[1],
        code,
    ];
    f.extend(data);
    let crc = crc16(&f);
    f.extend(crc.to_le_bytes());
    f
}

#[test]
fn the_sessions_handshake_sends_the_examples_server_cryptogram() {
    let config = Config::new(0, Security::Pair { new: Scbk([7; 16]) });
    let mut s = Session::new(config, Box::new(|| RND_A));
    s.handle_timeout(Duration::ZERO);
    let chlng = s.poll_transmit().unwrap();
    // CHLNG under SCBK-D (key type 0) with RND.A.
    assert_eq!(&chlng[5..9], &[3, 0x11, 0x00, 0x76]);
    assert_eq!(&chlng[9..17], &RND_A);
    let mut ccrypt = vec![0u8; 8];
    ccrypt.extend(RND_B);
    ccrypt.extend(CLIENT);
    s.handle_input(
        &reply(0, [0x12, 0x00], 0x76, &ccrypt),
        Duration::from_millis(5),
    );
    let scrypt = s.poll_transmit().unwrap();
    assert_eq!(&scrypt[5..9], &[3, 0x13, 0x00, 0x77]);
    assert_eq!(&scrypt[9..25], &SERVER);
    // The reader's initial R-MAC is the example's: the channel is open and KEYSET goes out in it.
    s.handle_input(
        &reply(1, [0x14, 0x01], 0x78, &RMAC_I),
        Duration::from_millis(10),
    );
    assert!(s.is_secure());
    let keyset = s.poll_transmit().unwrap();
    assert_eq!(&keyset[5..7], &[2, 0x17], "an encrypted command with a MAC");
    assert_eq!(keyset[7], 0x75);
}
