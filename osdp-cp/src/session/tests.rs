//! The session against a reader made here from the `osdp` crate's peripheral-side pieces
//! (the interoperability tests in `drivers` put LibOSDP at the other end).

use super::*;
use crate::config::Scbk;
use osdp::secure::session::Disconnected;

const ADDR: u8 = 1;
const KEY: [u8; 16] = [
    0xA1, 0x52, 0x33, 0x04, 0x95, 0x16, 0x77, 0x08, 0x19, 0x2A, 0x3B, 0x4C, 0x5D, 0x6E, 0x7F, 0x80,
];

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn random() -> Random {
    let mut n = 0u8;
    Box::new(move || {
        n = n.wrapping_add(1);
        [n, 2, 3, 4, 5, 6, 7, 8]
    })
}

/// A reader: answers each command as the test says, with a key of its own when it has one.
struct Reader {
    key: Option<[u8; 16]>,
    channel: Option<osdp::secure::Session<Secure>>,
    pending_ccrypt: Option<([u8; 8], [u8; 8])>,
    /// Commands received: code, sequence number, plain data.
    seen: Vec<(u8, u8, Vec<u8>)>,
    /// Key-type bytes of the CHLNGs received.
    key_types: Vec<u8>,
}

impl Reader {
    fn new(key: Option<[u8; 16]>) -> Self {
        Self {
            key,
            channel: None,
            pending_ccrypt: None,
            seen: vec![],
            key_types: vec![],
        }
    }

    /// Reads one command; answers `answer` (code, data) to it, or the handshake's own replies.
    fn answer(&mut self, command: &[u8], answer: Option<(u8, Vec<u8>)>) -> Option<Vec<u8>> {
        let (parsed, _) = ParsedPacket::parse(command).unwrap();
        let sqn = parsed.ctrl.sqn;
        let addr = Address::from_raw(ADDR | 0x80);
        let scs = parsed.scb.map(|s| s.ty);
        let data = match (&mut self.channel, scs) {
            (Some(s), Some(ScsType::Scs15 | ScsType::Scs17)) => {
                osdp::secure::unseal(s, &parsed, command).unwrap()
            }
            _ => parsed.data.to_vec(),
        };
        self.seen.push((parsed.code, sqn.value(), data.clone()));
        match parsed.code {
            code::CHLNG => {
                let key = self.key?;
                self.key_types.push(parsed.scb.unwrap().data[0]);
                let rnd_a: [u8; 8] = data.try_into().unwrap();
                let rnd_b = [9u8; 8];
                self.pending_ccrypt = Some((rnd_a, rnd_b));
                let keys = osdp::secure::crypto::SessionKeys::derive(&key, &rnd_a);
                let cc = osdp::secure::crypto::client_cryptogram(&keys.s_enc, &rnd_a, &rnd_b);
                let mut body = vec![7u8; 8];
                body.extend(rnd_b);
                body.extend(cc);
                let kt = *self.key_types.last().unwrap();
                return Some(handshake(sqn, ScsType::Scs12, kt, reply::CCRYPT, body));
            }
            code::SCRYPT => {
                let key = self.key?;
                let (rnd_a, rnd_b) = self.pending_ccrypt.take().unwrap();
                let keys = osdp::secure::crypto::SessionKeys::derive(&key, &rnd_a);
                let cc = osdp::secure::crypto::client_cryptogram(&keys.s_enc, &rnd_a, &rnd_b);
                let s = osdp::secure::Session::<Disconnected>::new(key)
                    .challenge(rnd_a)
                    .receive_ccrypt(&CCrypt {
                        cuid: [7; 8],
                        rnd_b,
                        client_cryptogram: cc,
                    })
                    .unwrap();
                let rmac = s.initial_rmac();
                self.channel = Some(s.confirm_rmac_i(&rmac).unwrap());
                let kt = *self.key_types.last().unwrap();
                return Some(handshake(
                    sqn,
                    ScsType::Scs14,
                    kt,
                    reply::RMAC_I,
                    rmac.to_vec(),
                ));
            }
            _ => {}
        }
        let (code, data) = answer?;
        Some(match &mut self.channel {
            Some(s) => osdp::secure::seal(
                s,
                addr,
                sqn,
                Direction::PdToAcu,
                !data.is_empty(),
                code,
                &data,
            )
            .unwrap(),
            None => plain(sqn, code, data),
        })
    }
}

fn plain(sqn: Sqn, code: u8, data: Vec<u8>) -> Vec<u8> {
    PacketBuilder::plain(
        Address::from_raw(ADDR | 0x80),
        ControlByte::new(sqn, CtrlFlags::USE_CRC),
        code,
        data,
    )
    .encode()
    .unwrap()
}

fn handshake(sqn: Sqn, ty: ScsType, key_type: u8, code: u8, data: Vec<u8>) -> Vec<u8> {
    PacketBuilder {
        addr: Address::from_raw(ADDR | 0x80),
        ctrl: ControlByte::new(sqn, CtrlFlags::USE_CRC | CtrlFlags::HAS_SCB),
        scb: Some(Scb::new(ty, [key_type])),
        code,
        data,
    }
    .encode()
    .unwrap()
}

const PDID: [u8; 12] = [0x0A, 0x0B, 0x0C, 3, 4, 0x78, 0x56, 0x34, 0x12, 1, 2, 3];

/// The usual answer to each command the bring-up and polling send.
fn usual(code: u8) -> Option<(u8, Vec<u8>)> {
    Some(match code {
        code::ID => (reply::PDID, PDID.to_vec()),
        code::CAP => (reply::PDCAP, vec![4, 1, 1]),
        code::LSTAT => (reply::LSTATR, vec![0, 0]),
        _ => (reply::ACK, vec![]),
    })
}

/// Runs the exchange until `until` (10 ms steps): every command answered by `answer`.
fn run(
    s: &mut Session,
    r: &mut Reader,
    from: u64,
    until: u64,
    answer: &mut dyn FnMut(u8) -> Option<(u8, Vec<u8>)>,
) -> Vec<Event> {
    let mut events = vec![];
    let mut t = from;
    while t <= until {
        s.handle_timeout(ms(t));
        while let Some(cmd) = s.poll_transmit() {
            let code = ParsedPacket::parse(&cmd).unwrap().0.code;
            if let Some(reply) = r.answer(&cmd, answer(code)) {
                s.handle_input(&reply, ms(t));
            }
        }
        events.extend(std::iter::from_fn(|| s.poll_event()));
        t += 10;
    }
    events
}

fn cards(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Card(_)))
        .count()
}

#[test]
fn a_plain_reader_is_identified_polled_and_its_cards_and_keys_come_out() {
    let mut s = Session::new(Config::new(ADDR, Security::Plain), random());
    let mut r = Reader::new(None);
    let events = run(&mut s, &mut r, 0, 100, &mut usual);
    assert_eq!(
        events,
        vec![
            Event::Status(LocalStatus::default()),
            Event::Up {
                identity: Some(Identity {
                    vendor: [0x0A, 0x0B, 0x0C],
                    model: 3,
                    version: 4,
                    serial: 0x1234_5678,
                    firmware: [1, 2, 3],
                }),
                secure: false,
            }
        ]
    );
    assert_eq!(
        s.identity().unwrap().to_string(),
        "vendor 0A0B0C model 3 version 4 serial 12345678 firmware 1.2.3"
    );
    // ID with sequence number 0, then 1, 2, 3, 1, … never 0 again.
    let seqs: Vec<u8> = r.seen.iter().map(|c| c.1).collect();
    assert_eq!(&seqs[..6], &[0, 1, 2, 3, 1, 2]);
    assert_eq!(r.seen[0].0, code::ID);
    assert!(r.seen[3..].iter().all(|c| c.0 == code::POLL));

    let mut once = Some((reply::RAW, vec![0, 1, 26, 0, 0x81, 0x30, 0x72, 0x40]));
    let events = run(&mut s, &mut r, 110, 200, &mut |c| {
        if c == code::POLL {
            once.take().or(usual(c))
        } else {
            usual(c)
        }
    });
    assert_eq!(
        events,
        vec![Event::Card(CardData::Bits {
            format: 1,
            count: 26,
            bytes: vec![0x81, 0x30, 0x72, 0x40]
        })]
    );
    assert_eq!(
        format!("{events:?}"),
        "[Card(CardData::Bits(format 1, 26 bits))]"
    );
    let mut once = Some((reply::KEYPAD, vec![0, 3, b'1', 0x7F, 0x0D]));
    let events = run(&mut s, &mut r, 210, 300, &mut |c| {
        if c == code::POLL {
            once.take().or(usual(c))
        } else {
            usual(c)
        }
    });
    assert_eq!(events, vec![Event::Keys(KeyBytes(vec![b'1', 0x7F, 0x0D]))]);
    assert!(!format!("{events:?}").contains("49"));
}

#[test]
fn a_silent_reader_is_down_once_and_found_again() {
    let mut s = Session::new(Config::new(ADDR, Security::Plain), random());
    let mut r = Reader::new(None);
    run(&mut s, &mut r, 0, 100, &mut usual);
    let before = r.seen.len();
    let events = run(&mut s, &mut r, 110, 3000, &mut |_| None);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(&events[0], Event::Down(Fault::Silent(w)) if w.contains("3 tries")));
    // The first POLL, then the same bytes twice more, 200 ms apart; then a retry each second.
    let polls: Vec<_> = r.seen[before..].iter().take(3).collect();
    assert!(polls.iter().all(|p| p.0 == code::POLL && p.1 == polls[0].1));
    let events = run(&mut s, &mut r, 3010, 4500, &mut usual);
    assert!(
        events.iter().any(|e| matches!(e, Event::Up { .. })),
        "{events:?}"
    );
}

#[test]
fn a_secure_reader_sends_cards_through_the_channel_and_a_bad_mac_restarts_it() {
    let mut s = Session::new(Config::new(ADDR, Security::Key(Scbk(KEY))), random());
    let mut r = Reader::new(Some(KEY));
    let events = run(&mut s, &mut r, 0, 100, &mut usual);
    assert!(
        events.contains(&Event::Up {
            identity: Some(Identity {
                vendor: [0x0A, 0x0B, 0x0C],
                model: 3,
                version: 4,
                serial: 0x1234_5678,
                firmware: [1, 2, 3],
            }),
            secure: true,
        }),
        "{events:?}"
    );
    assert_eq!(r.key_types, vec![1]);
    assert_eq!(r.seen[0].0, code::CHLNG);
    assert_eq!(r.seen[1].0, code::SCRYPT);
    let mut once = Some((reply::RAW, vec![0, 1, 26, 0, 0x81, 0x30, 0x72, 0x40]));
    let events = run(&mut s, &mut r, 110, 200, &mut |c| {
        if c == code::POLL {
            once.take().or(usual(c))
        } else {
            usual(c)
        }
    });
    assert_eq!(cards(&events), 1);

    // A card reply whose MAC was changed on the line.
    s.handle_timeout(ms(300));
    let poll = s.poll_transmit().unwrap();
    let mut forged = r
        .answer(&poll, Some((reply::RAW, vec![0, 1, 26, 0, 1, 2, 3, 0x40])))
        .unwrap();
    let n = forged.len();
    forged[n - 3] ^= 1;
    let crc = osdp::packet::crc16(&forged[..n - 2]);
    forged[n - 2..].copy_from_slice(&crc.to_le_bytes());
    s.handle_input(&forged, ms(300));
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(
        events,
        vec![Event::Down(Fault::Untrusted(
            "a reply whose MAC does not verify".into()
        ))]
    );
    // At once a new channel: CHLNG with sequence number 0.
    let chlng = s.poll_transmit().unwrap();
    let (p, _) = ParsedPacket::parse(&chlng).unwrap();
    assert_eq!((p.code, p.ctrl.sqn.value()), (code::CHLNG, 0));
    r.channel = None;
    let reply = r.answer(&chlng, None).unwrap();
    s.handle_input(&reply, ms(310));
    let events = run(&mut s, &mut r, 320, 400, &mut usual);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Up { secure: true, .. }))
    );
}

#[test]
fn a_reader_with_another_key_never_comes_up_and_its_cards_are_never_read() {
    let mut s = Session::new(Config::new(ADDR, Security::Key(Scbk(KEY))), random());
    let mut other = KEY;
    other[0] ^= 0xff;
    let mut r = Reader::new(Some(other));
    let events = run(&mut s, &mut r, 0, 3000, &mut |_| {
        Some((reply::RAW, vec![0, 1, 26, 0, 1, 2, 3, 0x40]))
    });
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        matches!(&events[0], Event::Down(Fault::KeyRefused(w)) if w.contains("does not match this door's key"))
    );
    // Only CHLNGs, once a second, each under this door's key; never SCBK-D.
    assert!(r.seen.iter().all(|c| c.0 == code::CHLNG));
    assert_eq!(r.key_types, vec![1, 1, 1, 1]);
    assert!(!s.is_up());
}

#[test]
fn pairing_sets_the_new_key_under_scbk_d_then_opens_the_channel_under_it() {
    let mut s = Session::new(
        Config::new(ADDR, Security::Pair { new: Scbk(KEY) }),
        random(),
    );
    let mut r = Reader::new(Some(SCBK_D));
    let mut events = vec![];
    let mut t = 0;
    while t <= 300 {
        s.handle_timeout(ms(t));
        while let Some(cmd) = s.poll_transmit() {
            let code = ParsedPacket::parse(&cmd).unwrap().0.code;
            let reply = r.answer(&cmd, usual(code));
            if code == code::KEYSET {
                // The reader takes its new key, and starts its channel again.
                let data = &r.seen.last().unwrap().2;
                assert_eq!(data[..2], [1, 16]);
                r.key = Some(data[2..].try_into().unwrap());
                r.channel = None;
            }
            if let Some(reply) = reply {
                s.handle_input(&reply, ms(t));
            }
        }
        events.extend(std::iter::from_fn(|| s.poll_event()));
        t += 10;
    }
    assert_eq!(r.key, Some(KEY));
    assert_eq!(r.key_types, vec![0, 1]);
    let codes: Vec<u8> = r.seen.iter().take(6).map(|c| c.0).collect();
    assert_eq!(
        codes,
        [
            code::CHLNG,
            code::SCRYPT,
            code::KEYSET,
            code::CHLNG,
            code::SCRYPT,
            code::ID
        ]
    );
    assert_eq!(events[0], Event::Paired);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Up { secure: true, .. }))
    );
    assert_eq!(s.security(), &Security::Key(Scbk(KEY)));
}

#[test]
fn a_new_key_is_given_under_the_key_the_reader_holds() {
    let mut s = Session::new(
        Config::new(
            ADDR,
            Security::Rekey {
                current: Scbk(OLD),
                new: Scbk(KEY),
            },
        ),
        random(),
    );
    const OLD: [u8; 16] = [0x42; 16];
    let mut r = Reader::new(Some(OLD));
    let mut events = vec![];
    let mut t = 0;
    while t <= 300 {
        s.handle_timeout(ms(t));
        while let Some(cmd) = s.poll_transmit() {
            let code = ParsedPacket::parse(&cmd).unwrap().0.code;
            let reply = r.answer(&cmd, usual(code));
            if code == code::KEYSET {
                // The reader takes its new key, and starts its channel again.
                let data = &r.seen.last().unwrap().2;
                assert_eq!(data[..2], [1, 16]);
                r.key = Some(data[2..].try_into().unwrap());
                r.channel = None;
            }
            if let Some(reply) = reply {
                s.handle_input(&reply, ms(t));
            }
        }
        events.extend(std::iter::from_fn(|| s.poll_event()));
        t += 10;
    }
    assert_eq!(r.key, Some(KEY));
    assert_eq!(r.key_types, vec![1, 1], "never SCBK-D");
    let codes: Vec<u8> = r.seen.iter().take(6).map(|c| c.0).collect();
    assert_eq!(
        codes,
        [
            code::CHLNG,
            code::SCRYPT,
            code::KEYSET,
            code::CHLNG,
            code::SCRYPT,
            code::ID
        ]
    );
    assert_eq!(events[0], Event::Paired);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Up { secure: true, .. }))
    );
    assert_eq!(s.security(), &Security::Key(Scbk(KEY)));
}

#[test]
fn outputs_go_out_between_polls_and_a_refusal_is_said() {
    let mut s = Session::new(Config::new(ADDR, Security::Key(Scbk(KEY))), random());
    let mut r = Reader::new(Some(KEY));
    run(&mut s, &mut r, 0, 100, &mut usual);
    let buzz = BuzzerControl {
        reader: 0,
        tone: osdp::command::BuzzerTone::Default,
        on_time: 2,
        off_time: 0,
        count: 1,
    };
    s.queue(Output::buzzer(&buzz).unwrap(), ms(105));
    let events = run(&mut s, &mut r, 110, 200, &mut |c| {
        if c == code::BUZ {
            Some((reply::NAK, vec![3]))
        } else {
            usual(c)
        }
    });
    assert_eq!(
        events,
        vec![Event::Refused {
            what: "buzzer",
            nak: 3
        }]
    );
    let sent = r.seen.iter().find(|c| c.0 == code::BUZ).unwrap();
    assert_eq!(sent.2, vec![0, 2, 2, 0, 1]);
}

proptest::proptest! {
    #[test]
    fn any_bytes_from_the_line_are_taken_without_a_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80), 0..12)
    ) {
        let mut s = Session::new(Config::new(ADDR, Security::Key(Scbk(KEY))), random());
        let mut t = 0;
        for c in chunks {
            s.handle_timeout(ms(t));
            while s.poll_transmit().is_some() {}
            s.handle_input(&c, ms(t));
            while let Some(e) = s.poll_event() {
                let trusted = matches!(e, Event::Card(_) | Event::Keys(_) | Event::Up { .. });
                proptest::prop_assert!(!trusted, "{:?}", e);
            }
            t += 70;
        }
    }
}

#[test]
fn a_reply_in_clear_inside_the_channel_is_not_trusted_and_a_clear_nak_restarts_it() {
    let mut s = Session::new(Config::new(ADDR, Security::Key(Scbk(KEY))), random());
    let mut r = Reader::new(Some(KEY));
    run(&mut s, &mut r, 0, 100, &mut usual);
    assert!(s.is_up() && s.is_secure());
    // Card data in clear, as a reader without the key (or a forger on the line) would send it.
    s.handle_timeout(ms(200));
    let poll = s.poll_transmit().unwrap();
    let sqn = ParsedPacket::parse(&poll).unwrap().0.ctrl.sqn;
    s.handle_input(
        &plain(sqn, reply::RAW, vec![0, 1, 26, 0, 1, 2, 3, 0x40]),
        ms(200),
    );
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert_eq!(
        events,
        vec![Event::Down(Fault::Untrusted(
            "a reply without a MAC inside the secure channel".into()
        ))]
    );
    r.channel = None;
    run(&mut s, &mut r, 210, 300, &mut usual);
    assert!(s.is_up());
    // A reader that restarted answers a NAK in clear: the channel is opened again.
    s.handle_timeout(ms(400));
    let poll = s.poll_transmit().unwrap();
    let sqn = ParsedPacket::parse(&poll).unwrap().0.ctrl.sqn;
    s.handle_input(&plain(sqn, reply::NAK, vec![4]), ms(400));
    let events: Vec<_> = std::iter::from_fn(|| s.poll_event()).collect();
    assert!(
        matches!(&events[..], [Event::Down(Fault::Protocol(w))] if w.contains("left the secure channel (NAK 4)")),
        "{events:?}"
    );
    let chlng = s.poll_transmit().unwrap();
    assert_eq!(ParsedPacket::parse(&chlng).unwrap().0.code, code::CHLNG);
}
