//! The control panel's session against the reader's side, in memory: every byte through both
//! state machines, time an argument.

use super::*;
use crate::{Config, Event, Fault, Output, Security, Session};
use osdp::command::led::{LedPermanent, LedRecord, LedTemporary};
use osdp::command::{BuzzerTone, LedColor, TextCommand};
use std::time::Duration;

const ADDR: u8 = 1;
const KEY: Scbk = Scbk([
    0x5c, 0x21, 0x9e, 0x04, 0x7b, 0xd3, 0x18, 0x66, 0xa0, 0x3f, 0xc2, 0x91, 0x0d, 0x77, 0xe4, 0x2b,
]);
const OTHER: Scbk = Scbk([
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
]);
const WHO: Identity = Identity {
    vendor: [0x0A, 0x1B, 0x2C],
    model: 7,
    version: 2,
    serial: 0x0012_3456,
    firmware: [1, 4, 2],
};

fn random(seed: u8) -> Random {
    let mut n = seed;
    Box::new(move || {
        n = n.wrapping_add(1);
        [n, seed, 3, 4, 5, 6, 7, 8]
    })
}

fn card() -> CardData {
    // 24680000000011 as 48 bits, a card's number in whole bytes.
    CardData::Bits {
        format: 0,
        count: 48,
        bytes: vec![0x16, 0x72, 0x42, 0xa2, 0x10, 0x0b],
    }
}

/// A control panel and a reader on one line that may lose frames.
struct Line {
    cp: Session,
    pd: Peripheral,
    now: Duration,
    events: Vec<Event>,
    told: Vec<Told>,
    frames: u64,
    lose: Box<dyn FnMut(u64) -> bool>,
}

impl Line {
    fn new(security: Security, pd: PeripheralConfig) -> Self {
        Self {
            cp: Session::new(Config::new(ADDR, security), random(0x40)),
            pd: Peripheral::new(pd, random(0x80)),
            now: Duration::ZERO,
            events: vec![],
            told: vec![],
            frames: 0,
            lose: Box::new(|_| false),
        }
    }

    /// A new control panel on the same reader (a door restarted, or another one).
    fn new_cp(&mut self, security: Security) {
        self.cp = Session::new(Config::new(ADDR, security), random(0x41));
        self.events.clear();
    }

    fn lost(&mut self) -> bool {
        self.frames += 1;
        (self.lose)(self.frames)
    }

    /// Moves bytes both ways until both are quiet.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(b) = self.cp.poll_transmit() {
                moved = true;
                if !self.lost() {
                    self.pd.handle_input(&b);
                }
            }
            while let Some(b) = self.pd.poll_transmit() {
                moved = true;
                if !self.lost() {
                    self.cp.handle_input(&b, self.now);
                }
            }
            if !moved {
                break;
            }
        }
        while let Some(e) = self.cp.poll_event() {
            self.events.push(e);
        }
        while let Some(t) = self.pd.poll_told() {
            self.told.push(t);
        }
    }

    /// Runs for up to `limit` of line time until `done`; whether it came.
    fn until(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.cp.handle_timeout(self.now);
            self.pump();
            if done(self) {
                return true;
            }
            let next = self.cp.poll_timeout().unwrap_or(end);
            self.now = next.max(self.now + Duration::from_millis(1));
            if self.now > end {
                return false;
            }
        }
    }

    fn up(&mut self) -> bool {
        self.until(Duration::from_secs(5), |l| {
            l.events.iter().any(|e| matches!(e, Event::Up { .. }))
        })
    }

    fn cards(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::Card(_)))
            .count()
    }
}

fn green() -> LedControl {
    let black = LedColor::Black;
    LedControl::new(vec![LedRecord {
        reader: 0,
        led: 0,
        temporary: LedTemporary {
            control: 2,
            on_time: 1,
            off_time: 0,
            on_color: LedColor::Green,
            off_color: black,
            timer: 30,
        },
        permanent: LedPermanent {
            control: 0,
            on_time: 0,
            off_time: 0,
            on_color: black,
            off_color: black,
        },
    }])
}

#[test]
fn a_paired_reader_opens_the_secure_channel_and_sends_cards_keys_and_tamper() {
    let mut l = Line::new(Security::Key(KEY), PeripheralConfig::paired(ADDR, WHO, KEY));
    assert!(l.up());
    assert!(l.events.contains(&Event::Up {
        identity: Some(WHO),
        secure: true
    }));
    assert_eq!(l.told, [Told::SecureChannel { install_key: false }]);
    l.pd.present(&card());
    l.pd.type_keys(b"1234#");
    assert!(l.until(Duration::from_secs(2), |l| l.cards() == 1
        && l.events.iter().any(|e| matches!(e, Event::Keys(_)))));
    assert!(l.events.contains(&Event::Card(card())));
    assert!(
        l.events
            .contains(&Event::Keys(crate::KeyBytes(b"1234#".to_vec())))
    );
    l.pd.set_status(LocalStatus {
        tamper: true,
        power_failure: false,
    });
    assert!(l.until(Duration::from_secs(2), |l| {
        l.events
            .iter()
            .any(|e| matches!(e, Event::Status(LocalStatus { tamper: true, .. })))
    }));
    // Still the same channel: no second handshake.
    assert_eq!(l.told.len(), 1);
}

#[test]
fn leds_beeps_and_words_reach_the_reader_sealed() {
    let mut l = Line::new(Security::Key(KEY), PeripheralConfig::paired(ADDR, WHO, KEY));
    assert!(l.up());
    let now = l.now;
    l.cp.queue(Output::led(&green()).unwrap(), now);
    let beep = BuzzerControl {
        reader: 0,
        tone: BuzzerTone::Default,
        on_time: 2,
        off_time: 2,
        count: 1,
    };
    l.cp.queue(Output::buzzer(&beep).unwrap(), now);
    let text = Text {
        reader: 0,
        command: TextCommand::PermanentNoWrap,
        temp_time_s: 0,
        row: 1,
        column: 1,
        text: b"Welcome!".to_vec(),
    };
    l.cp.queue(Output::text(&text).unwrap(), now);
    assert!(l.until(Duration::from_secs(1), |l| l.told.len() == 4));
    assert_eq!(
        l.told[1..],
        [Told::Led(green()), Told::Buzzer(beep), Told::Text(text)]
    );
}

#[test]
fn pairing_replaces_the_install_key_which_is_refused_from_then_on() {
    let mut l = Line::new(
        Security::Pair { new: KEY },
        PeripheralConfig::fresh(ADDR, WHO),
    );
    assert!(l.up());
    assert!(l.events.contains(&Event::Paired));
    assert_eq!(
        l.told,
        [
            Told::SecureChannel { install_key: true },
            Told::NewKey(KEY),
            Told::SecureChannel { install_key: false },
        ]
    );
    assert_eq!(l.pd.key(), Some(&KEY));
    assert!(!l.pd.install_mode());
    assert_eq!(l.cp.security(), &Security::Key(KEY));

    // Another door trying to pair it again with the install key is refused.
    l.new_cp(Security::Pair { new: OTHER });
    assert!(l.until(Duration::from_secs(3), |l| !l.events.is_empty()));
    let Some(Event::Down(Fault::KeyRefused(why))) = l.events.first() else {
        panic!("{:?}", l.events)
    };
    assert!(why.contains("install key"), "{why}");
    assert_eq!(l.pd.key(), Some(&KEY));

    // The door with the new key gets in.
    l.new_cp(Security::Key(KEY));
    assert!(l.up());
}

#[test]
fn a_paired_reader_takes_a_new_key_under_the_one_it_holds() {
    let mut l = Line::new(
        Security::Rekey {
            current: KEY,
            new: OTHER,
        },
        PeripheralConfig::paired(ADDR, WHO, KEY),
    );
    assert!(l.up());
    assert!(l.events.contains(&Event::Paired));
    assert_eq!(
        l.told,
        [
            Told::SecureChannel { install_key: false },
            Told::NewKey(OTHER),
            Told::SecureChannel { install_key: false },
        ]
    );
    assert_eq!(l.pd.key(), Some(&OTHER));
    // The old key opens nothing now.
    l.new_cp(Security::Key(KEY));
    assert!(l.until(Duration::from_secs(2), |l| !l.events.is_empty()));
    assert!(matches!(l.events[0], Event::Down(Fault::KeyRefused(_))));
}

#[test]
fn a_reader_with_another_key_is_refused_and_none_of_its_cards_read() {
    let mut l = Line::new(
        Security::Key(KEY),
        PeripheralConfig::paired(ADDR, WHO, OTHER),
    );
    l.pd.present(&card());
    assert!(!l.until(Duration::from_secs(5), |l| {
        l.events
            .iter()
            .any(|e| matches!(e, Event::Up { .. } | Event::Card(_)))
    }));
    let Some(Event::Down(Fault::KeyRefused(why))) = l.events.first() else {
        panic!("{:?}", l.events)
    };
    assert!(why.contains("cryptogram"), "{why}");
    // A fresh reader in a paired one's place says it holds the install key.
    l.pd.replace_key(None);
    l.new_cp(Security::Key(KEY));
    assert!(l.until(Duration::from_secs(2), |l| !l.events.is_empty()));
    let Some(Event::Down(Fault::KeyRefused(why))) = l.events.first() else {
        panic!("{:?}", l.events)
    };
    assert!(why.contains("install key"), "{why}");
}

#[test]
fn a_reader_swapped_while_up_is_dropped_and_then_refused() {
    let mut l = Line::new(Security::Key(KEY), PeripheralConfig::paired(ADDR, WHO, KEY));
    assert!(l.up());
    l.pd.replace_key(Some(OTHER));
    l.pd.present(&card());
    assert!(l.until(Duration::from_secs(3), |l| {
        l.events
            .iter()
            .any(|e| matches!(e, Event::Down(Fault::KeyRefused(_))))
    }));
    let downs: Vec<_> = l
        .events
        .iter()
        .filter(|e| matches!(e, Event::Down(_)))
        .collect();
    assert!(
        matches!(downs[0], Event::Down(Fault::Protocol(w)) if w.contains("left the secure channel")),
        "{downs:?}"
    );
    assert_eq!(l.cards(), 0);
}

#[test]
fn a_plain_control_panel_gets_nothing_from_a_paired_reader() {
    let mut l = Line::new(Security::Plain, PeripheralConfig::paired(ADDR, WHO, KEY));
    l.pd.present(&card());
    l.until(Duration::from_secs(5), |_| false);
    assert_eq!(l.cards(), 0);
    assert!(l.told.iter().all(|t| matches!(
        t,
        Told::Refused {
            nak: nak::SECURE_CHANNEL,
            ..
        }
    )));
    // A fresh reader answers in clear.
    let mut l = Line::new(Security::Plain, PeripheralConfig::fresh(ADDR, WHO));
    l.pd.present(&card());
    assert!(l.until(Duration::from_secs(2), |l| l.cards() == 1));
    assert!(l.events.contains(&Event::Up {
        identity: Some(WHO),
        secure: false
    }));
}

#[test]
fn a_reply_lost_is_sent_again_and_the_card_in_it_arrives_once() {
    let mut l = Line::new(Security::Key(KEY), PeripheralConfig::paired(ADDR, WHO, KEY));
    assert!(l.up());
    l.pd.present(&card());
    // The next reply (the card's) is lost; the control panel asks again with the same
    // sequence number and the reader sends the same sealed reply.
    let from = l.frames + 2;
    l.lose = Box::new(move |n| n == from);
    assert!(l.until(Duration::from_secs(2), |l| l.cards() == 1));
    assert!(!l.until(Duration::from_secs(2), |l| l.cards() > 1));
    assert!(!l.events.iter().any(|e| matches!(e, Event::Down(_))));
}

#[test]
fn a_command_whose_mac_does_not_verify_is_refused_and_the_channel_opened_again() {
    let mut l = Line::new(Security::Key(KEY), PeripheralConfig::paired(ADDR, WHO, KEY));
    assert!(l.up());
    // The next command, corrupted in its MAC (and its CRC made good again).
    let now = l.now + Duration::from_secs(1);
    l.now = now;
    l.cp.handle_timeout(now);
    let mut cmd = l.cp.poll_transmit().unwrap();
    let n = cmd.len();
    cmd[n - 3] ^= 0x01;
    let crc = osdp::packet::crc16(&cmd[..n - 2]);
    cmd[n - 2..].copy_from_slice(&crc.to_le_bytes());
    l.pd.handle_input(&cmd);
    assert!(!l.pd.is_secure());
    assert!(matches!(
        l.pd.poll_told(),
        Some(Told::Refused {
            nak: nak::SECURE_CHANNEL,
            why
        }) if why.contains("MAC")
    ));
    let nak = l.pd.poll_transmit().unwrap();
    l.cp.handle_input(&nak, now);
    l.pump();
    // The reader refused in clear: a channel lost (as a restarted reader's), opened again.
    assert!(l.events.iter().any(
        |e| matches!(e, Event::Down(Fault::Protocol(w)) if w.contains("left the secure channel"))
    ));
    l.pd.present(&card());
    assert!(l.until(Duration::from_secs(2), |l| l.cards() == 1));
}

proptest::proptest! {
    #[test]
    fn any_bytes_are_taken_without_a_panic_or_a_sealed_reply(
        chunks in proptest::collection::vec(
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80), 0..16),
    ) {
        let mut pd = Peripheral::new(PeripheralConfig::paired(ADDR, WHO, KEY), random(1));
        for c in chunks {
            pd.handle_input(&c);
            while let Some(r) = pd.poll_transmit() {
                let (p, _) = ParsedPacket::parse(&r).unwrap();
                proptest::prop_assert!(p.scb.is_none_or(|s| !s.ty.has_mac()));
            }
        }
    }

    #[test]
    fn frames_lost_at_random_never_give_a_card_twice_and_the_link_recovers(
        lost in proptest::collection::btree_set(1u64..150, 0..40),
    ) {
        let mut l = Line::new(
            Security::Key(KEY),
            PeripheralConfig::paired(ADDR, WHO, KEY),
        );
        l.lose = Box::new(move |n| lost.contains(&n));
        l.pd.present(&card());
        // Losses end after 150 frames; by 20 s the line is clean again.
        l.until(Duration::from_secs(20), |_| false);
        proptest::prop_assert!(l.cards() <= 1);
        proptest::prop_assert!(l.cp.is_up() && l.cp.is_secure());
        let before = l.cards();
        l.pd.present(&card());
        proptest::prop_assert!(l.until(Duration::from_secs(2), |l| l.cards() == before + 1));
        proptest::prop_assert!(!l.until(Duration::from_secs(1), |l| l.cards() > before + 1));
    }
}
