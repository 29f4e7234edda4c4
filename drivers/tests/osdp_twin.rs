//! The door's OSDP control panel (`drivers::osdp`, the real driver) against the reader twin at
//! the other end of a real pseudo-terminal pair: the secure channel, pairing, cards and keys,
//! LEDs, buzzer and words, a swapped reader, a silent one, garbage. (LibOSDP's reader judges the
//! same driver in `tests/tests/osdp.rs`; this is the twin the demo stands on.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use access::door::Feedback;
use access::pin::Key;
use access::wiegand::NumberFormat;
use drivers::card::{CardEvent, CardReader, UidFormat};
use drivers::display::TextDisplay;
use drivers::keypad::PinPad;
use drivers::osdp::convert::CardFormat;
use drivers::osdp::{self, Osdp, OsdpSettings};
use drivers::osdp_twin::{OsdpTwin, TwinFault, TwinSettings};
use osdp_cp::osdp::command::LedColor;
use osdp_cp::{Identity, LocalStatus, Scbk, Security, Told};

const KEY: Scbk = Scbk([
    0x5c, 0x21, 0x9e, 0x04, 0x7b, 0xd3, 0x18, 0x66, 0xa0, 0x3f, 0xc2, 0x91, 0x0d, 0x77, 0xe4, 0x2b,
]);
const WHO: Identity = Identity {
    vendor: [0x0A, 0x1B, 0x2C],
    model: 7,
    version: 2,
    serial: 0x0012_3456,
    firmware: [1, 4, 2],
};

fn paired() -> OsdpTwin {
    OsdpTwin::on_pty(TwinSettings {
        key: Some(KEY),
        ..TwinSettings::fresh(1, WHO)
    })
    .unwrap()
}

fn settings(twin: &OsdpTwin) -> OsdpSettings {
    OsdpSettings {
        port: twin.port(),
        address: 1,
        key_file: None,
        format: CardFormat {
            wiegand: NumberFormat::FacilityCard,
            uid: UidFormat::Decimal,
        },
        text: (16, 2),
    }
}

/// The next card event within `secs`.
async fn next(o: &mut Osdp, secs: u64) -> CardEvent {
    tokio::time::timeout(Duration::from_secs(secs), o.reader.next())
        .await
        .expect("a card event in time")
        .expect("the reader's events")
}

async fn found(o: &mut Osdp) {
    loop {
        match next(o, 5).await {
            CardEvent::ReaderFound { .. } => return,
            CardEvent::ReaderLost { .. } => continue,
            other => panic!("{other:?}"),
        }
    }
}

async fn lost(o: &mut Osdp) -> String {
    match next(o, 5).await {
        CardEvent::ReaderLost { why, .. } => why,
        other => panic!("{other:?}"),
    }
}

async fn card(o: &mut Osdp) -> String {
    match next(o, 3).await {
        CardEvent::Card { number, .. } => number.expose().to_owned(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_door_reads_cards_and_keys_through_the_secure_channel_and_sees_tamper() {
    let twin = paired();
    let mut o = osdp::start(&settings(&twin), Security::Key(KEY));
    found(&mut o).await;
    assert_eq!(o.line.identity(), Some(WHO));
    assert!(twin.shown().secure);
    assert!(twin.present_wiegand((1 << 16) | 12345, 26));
    assert_eq!(card(&mut o).await, "112345");
    // 24680000000011 as 48 bits of card data, read as a decimal number.
    twin.present_bytes(&[0x16, 0x72, 0x42, 0xa2, 0x10, 0x0b]);
    assert_eq!(card(&mut o).await, "24680000000011");
    twin.type_keys("12#");
    let mut keys = vec![];
    for _ in 0..3 {
        let k = tokio::time::timeout(Duration::from_secs(3), o.keypad.next_key())
            .await
            .unwrap()
            .unwrap();
        keys.push(k.unwrap());
    }
    assert_eq!(keys, [Key::Digit(1), Key::Digit(2), Key::Submit]);

    // Its tamper switch is told once, and the reader goes on reading.
    twin.set_status(LocalStatus {
        tamper: true,
        power_failure: false,
    });
    assert!(matches!(next(&mut o, 5).await, CardEvent::Tampered { .. }));
    assert!(twin.present_wiegand((1 << 16) | 777, 26));
    assert_eq!(card(&mut o).await, "100777");
    twin.set_status(LocalStatus::default());
    // A power failure is a reader out of service until it is over.
    twin.set_status(LocalStatus {
        tamper: false,
        power_failure: true,
    });
    assert!(lost(&mut o).await.contains("power"));
    twin.set_status(LocalStatus::default());
    found(&mut o).await;
    // One secure channel all along.
    let channels = twin
        .told()
        .iter()
        .filter(|t| matches!(t, Told::SecureChannel { .. }))
        .count();
    assert_eq!(channels, 1);
}

#[tokio::test]
async fn pairing_gives_the_twin_the_doors_key_and_the_install_key_is_refused_after() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("reader.key");
    let twin = OsdpTwin::on_pty(TwinSettings {
        key_file: Some(key_file.clone()),
        ..TwinSettings::fresh(1, WHO)
    })
    .unwrap();
    assert!(!twin.shown().paired);
    let who = osdp::pair(&twin.port(), 1, &KEY).await.unwrap();
    assert_eq!(who, WHO);
    assert_eq!(twin.key(), Some(KEY));
    assert_eq!(osdp::key::read_key(&key_file).unwrap(), KEY);
    assert!(twin.told().contains(&Told::NewKey(KEY)));

    // A second pairing, with the install key, is refused at once.
    let other = Scbk([7; 16]);
    let e = osdp::pair(&twin.port(), 1, &other)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("install key"), "{e}");
    assert_eq!(twin.key(), Some(KEY));

    // The door with the new key gets in; a twin started again from the key file too.
    let mut o = osdp::start(&settings(&twin), Security::Key(KEY));
    found(&mut o).await;
    drop(o);
    // A new key under the one it holds (a key rotated), kept in its file.
    let rotated = Scbk([9; 16]);
    osdp::rekey(&twin.port(), 1, &KEY, &rotated).await.unwrap();
    assert_eq!(twin.key(), Some(rotated.clone()));
    assert_eq!(osdp::key::read_key(&key_file).unwrap(), rotated);
    osdp::rekey(&twin.port(), 1, &rotated, &KEY).await.unwrap();
    let again = OsdpTwin::on_pty(TwinSettings {
        key_file: Some(key_file),
        ..TwinSettings::fresh(1, WHO)
    })
    .unwrap();
    assert!(again.shown().paired);
    let mut o = osdp::start(&settings(&again), Security::Key(KEY));
    found(&mut o).await;
}

#[tokio::test]
async fn the_doors_leds_beeps_and_words_reach_the_twin() {
    let twin = paired();
    let mut o = osdp::start(&settings(&twin), Security::Key(KEY));
    found(&mut o).await;
    let feedback = o.outputs.feedback();
    feedback.send(Feedback::EnterPin).await.unwrap();
    let s = twin
        .until(Duration::from_secs(3), |s| s.led == Some(LedColor::Amber))
        .await
        .expect("amber for the PIN");
    assert!(s.led_temporary && !s.led_blinking);
    o.outputs
        .led(LedColor::Green, Some(Duration::from_secs(3)), false);
    o.outputs.beep(2, Duration::from_millis(100));
    let mut display = o.outputs.clone();
    display
        .show(&["Tervetuloa!".into(), "Ovi on auki".into()])
        .unwrap();
    let s = twin
        .until(Duration::from_secs(3), |s| {
            s.lines.len() == 2 && s.led == Some(LedColor::Green)
        })
        .await
        .expect("green and the words");
    assert_eq!(s.lines, ["Tervetuloa!", "Ovi on auki"]);
    assert_eq!(s.beeps, 2);
    assert!(s.secure);
}

#[tokio::test]
async fn a_swapped_reader_is_refused_and_none_of_its_cards_read() {
    let twin = paired();
    let mut o = osdp::start(&settings(&twin), Security::Key(KEY));
    found(&mut o).await;
    twin.set_fault(Some(TwinFault::WrongKey));
    twin.present_bytes(&[0x16, 0x72, 0x42, 0xa2, 0x10, 0x0b]);
    let why = lost(&mut o).await;
    assert!(why.contains("left the secure channel"), "{why}");
    let why = lost(&mut o).await;
    assert!(why.contains("cryptogram"), "{why}");
    // Nothing more within two seconds of retries: no card from the stranger.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), o.reader.next())
            .await
            .is_err()
    );
    // The right reader back: found again, and the card waiting in it is read.
    twin.set_fault(None);
    found(&mut o).await;
    assert_eq!(card(&mut o).await, "24680000000011");
}

#[tokio::test]
async fn a_silent_twin_is_lost_and_found_again() {
    let twin = paired();
    let mut o = osdp::start(&settings(&twin), Security::Key(KEY));
    found(&mut o).await;
    twin.set_fault(Some(TwinFault::Silent));
    let why = lost(&mut o).await;
    assert!(why.contains("does not answer"), "{why}");
    twin.set_fault(None);
    found(&mut o).await;
    assert!(twin.present_wiegand(77, 26));
    assert_eq!(card(&mut o).await, "000077");
}

#[tokio::test]
async fn garbage_from_the_twin_is_counted_and_the_reader_lost_until_it_answers_again() {
    let twin = paired();
    let mut o = osdp::start(&settings(&twin), Security::Key(KEY));
    found(&mut o).await;
    twin.set_fault(Some(TwinFault::Garbage));
    let why = lost(&mut o).await;
    assert!(why.contains("does not answer"), "{why}");
    assert!(o.line.garbled() > 0);
    twin.set_fault(None);
    found(&mut o).await;
}
