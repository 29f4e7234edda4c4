//! The door, event by event, with time as an input: every path of the decision, the watch, the
//! library's state and the lights, then properties over arbitrary sequences.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{NaiveDateTime, TimeZone};
use proptest::prelude::*;

use super::*;
use crate::hours::tests::lemi;
use crate::policy::Age;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Helsinki wall time as UTC (winter: UTC+2).
fn helsinki(text: &str) -> DateTime<Utc> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    Utc.from_utc_datetime(&(local - chrono::Duration::hours(2)))
}

fn config() -> DoorConfig {
    DoorConfig {
        language: "en".into(),
        pin: PinRules::default(),
        watch: WatchRules::default(),
        free_when_staffed: true,
        max_attempts_per_minute: 5,
        rules: Rules {
            branch: "LEMI".into(),
            ..Rules::default()
        },
        schedule: lemi(),
        outputs: vec![OutputRule {
            name: "lights".into(),
            when: vec![LibraryState::SelfService, LibraryState::Staffed],
            lead_minutes: 0,
            lag_minutes: 0,
        }],
        announcements: vec![Announcement {
            file: "closing.wav".into(),
            before_minutes: 15,
            every_minutes: 5,
        }],
        verdict_timeout: s(30),
    }
}

/// A door and its clocks: `start` is the wall time at mono zero.
struct Rig {
    door: Door,
    start: DateTime<Utc>,
    mono: Duration,
    /// Every command so far, in order.
    log: Vec<Command>,
}

impl Rig {
    fn at(local: &str) -> Self {
        Self::with(config(), local, DoorInputs::default())
    }

    fn with(config: DoorConfig, local: &str, first: DoorInputs) -> Self {
        let start = helsinki(local);
        let door = Door::new(
            config,
            first,
            Now {
                mono: Duration::ZERO,
                wall: start,
            },
        );
        let mut rig = Self {
            door,
            start,
            mono: Duration::ZERO,
            log: vec![],
        };
        rig.drain();
        rig
    }

    fn now(&self) -> Now {
        Now {
            mono: self.mono,
            wall: self.start + chrono::Duration::from_std(self.mono).unwrap(),
        }
    }

    /// The commands since the last call.
    fn drain(&mut self) -> Vec<Command> {
        let mut out = vec![];
        while let Some(c) = self.door.poll_command() {
            out.push(c);
        }
        self.log.extend(out.iter().cloned());
        out
    }

    fn feed(&mut self, input: Input) -> Vec<Command> {
        let now = self.now();
        self.door.handle(input, now);
        self.drain()
    }

    /// Lets `d` pass, waking the door at every deadline it asks for on the way.
    fn pass(&mut self, d: Duration) -> Vec<Command> {
        let end = self.mono + d;
        let mut out = vec![];
        loop {
            let next = self.door.poll_timeout().unwrap_or(end).min(end);
            self.mono = next.max(self.mono);
            let now = self.now();
            self.door.handle_timeout(now);
            out.extend(self.drain());
            if self.mono >= end {
                return out;
            }
        }
    }

    fn card(&mut self, number: &str) -> Vec<Command> {
        self.feed(Input::Card {
            card: CardNumber::new(number),
            pseudonym: format!("p-{number}"),
            before_pin: BeforePin::Ask,
        })
    }

    fn keys(&mut self, text: &str) -> Vec<Command> {
        let mut out = vec![];
        for c in text.chars() {
            out.extend(self.feed(Input::Key(Key::from_char(c).unwrap())));
        }
        out
    }

    /// Reads the inputs twice (the door debounces).
    fn inputs(&mut self, open: bool, exit: bool, tamper: bool) -> Vec<Command> {
        let i = DoorInputs { open, exit, tamper };
        let mut out = self.feed(Input::Inputs(i));
        self.mono += ms(20);
        out.extend(self.feed(Input::Inputs(i)));
        out
    }

    /// Card, PIN, and the ticket of the verdict asked for.
    fn ask(&mut self, number: &str) -> u64 {
        self.card(number);
        let out = self.keys("1234#");
        ticket(&out).expect("a verdict asked for")
    }

    fn answer(
        &mut self,
        ticket: u64,
        patron: Result<Patron, Reason>,
        source: Source,
    ) -> Vec<Command> {
        self.feed(Input::Verdict {
            ticket,
            verdict: Verdict {
                patron,
                source,
                detail: Detail::default(),
            },
        })
    }

    fn answer_with(
        &mut self,
        ticket: u64,
        patron: Result<Patron, Reason>,
        detail: Detail,
    ) -> Vec<Command> {
        self.feed(Input::Verdict {
            ticket,
            verdict: Verdict {
                patron,
                source: Source::Online,
                detail,
            },
        })
    }
}

/// The buzzer's on/off steps among `cmds`.
fn buzzer(cmds: &[Command]) -> Vec<bool> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Signal(Signal::Buzzer, on) => Some(*on),
            _ => None,
        })
        .collect()
}

/// The words of the refusal among `cmds`, and their language.
fn refusal_words(cmds: &[Command]) -> Option<(String, String)> {
    cmds.iter().find_map(|c| match c {
        Command::Show(Feedback::Denied {
            message, language, ..
        }) => Some((message.clone(), language.clone())),
        _ => None,
    })
}

fn ticket(cmds: &[Command]) -> Option<u64> {
    cmds.iter().find_map(|c| match c {
        Command::Verify { ticket, .. } => Some(*ticket),
        _ => None,
    })
}

fn records(cmds: &[Command]) -> Vec<&Event> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Record(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn denied(cmds: &[Command]) -> Option<Reason> {
    cmds.iter().find_map(|c| match c {
        Command::Show(Feedback::Denied { reason, .. }) => Some(*reason),
        _ => None,
    })
}

fn shows(cmds: &[Command]) -> Vec<&Feedback> {
    cmds.iter()
        .filter_map(|c| match c {
            Command::Show(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn has(cmds: &[Command], want: &Command) -> bool {
    cmds.contains(want)
}

// --- Start ---

#[test]
fn the_lock_is_engaged_first_and_the_state_taken_at_once() {
    let mut door = Door::new(
        config(),
        DoorInputs::default(),
        Now {
            mono: Duration::ZERO,
            wall: helsinki("2026-11-23 20:00"),
        },
    );
    assert_eq!(door.poll_command(), Some(Command::EngageLock));
    let rest: Vec<_> = std::iter::from_fn(|| door.poll_command()).collect();
    let r = records(&rest);
    assert_eq!(r[0].kind, Kind::State);
    assert_eq!(r[0].code.as_deref(), Some("self-service"));
    assert!(has(
        &rest,
        &Command::Output {
            name: "lights".into(),
            on: true
        }
    ));
    assert_eq!(door.state(), Some(LibraryState::SelfService));
    assert!(!door.unlocked());
    assert_eq!(door.poll_timeout(), Some(s(1)));
}

// --- The decision ---

#[test]
fn card_pin_and_a_verified_patron_open_the_door_for_a_pulse() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let out = rig.card("24680000000011");
    assert_eq!(shows(&out), vec![&Feedback::EnterPin]);
    let out = rig.keys("12");
    assert_eq!(
        shows(&out),
        vec![&Feedback::Digits(1), &Feedback::Digits(2)]
    );
    let out = rig.keys("34#");
    assert!(shows(&out).contains(&&Feedback::Checking));
    let t = ticket(&out).unwrap();
    match out.iter().find(|c| matches!(c, Command::Verify { .. })) {
        Some(Command::Verify { card, pin, .. }) => {
            assert_eq!(card.expose(), "24680000000011");
            assert_eq!(pin.expose(), "1234");
        }
        other => panic!("{other:?}"),
    }
    assert!(rig.door.checking());
    let out = rig.answer(t, Ok(Patron::default()), Source::Online);
    assert_eq!(out[0], Command::ReleaseLock);
    assert!(has(&out, &Command::Signal(Signal::Green, true)));
    assert!(has(&out, &Command::Signal(Signal::Buzzer, true)));
    let r = records(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].kind, Kind::Entry);
    assert_eq!(r[0].card.as_deref(), Some("p-24680000000011"));
    assert_eq!(r[0].source.as_deref(), Some("online"));
    assert!(shows(&out).contains(&&Feedback::Welcome {
        source: "online".into(),
        language: "en".into(),
    }));
    assert!(rig.door.unlocked());
    // "Yes" is two short chirps, then the pulse ends: green off and the lock engaged.
    let out = rig.pass(ms(300));
    assert_eq!(buzzer(&out), vec![false, true, false]);
    let out = rig.pass(s(5) - ms(300));
    assert!(has(&out, &Command::EngageLock));
    assert!(has(&out, &Command::Signal(Signal::Green, false)));
    assert!(!rig.door.unlocked());
}

#[test]
fn every_refusal_from_the_verdict_is_said_with_its_source() {
    for reason in [
        Reason::UnknownCard,
        Reason::WrongPin,
        Reason::PinLockedOut,
        Reason::Unreachable,
        Reason::ListExpired,
    ] {
        let mut rig = Rig::at("2026-11-23 20:00");
        let t = rig.ask("1");
        let source = Source::Offline {
            version: 7,
            past_expiry: false,
        };
        let out = rig.answer(t, Err(reason), source);
        assert_eq!(denied(&out), Some(reason));
        let r = records(&out);
        assert_eq!(r[0].kind, Kind::Denied);
        assert_eq!(r[0].code.as_deref(), Some(reason.code()));
        assert_eq!(r[0].source.as_deref(), Some("offline:7"));
        assert!(!has(&out, &Command::ReleaseLock));
        assert!(!rig.door.checking());
    }
}

#[test]
fn the_policy_judges_a_verified_patron() {
    let cases = [
        (
            Patron {
                card_lost: true,
                ..Patron::default()
            },
            Reason::CardLost,
        ),
        (
            Patron {
                lending_ban: true,
                ..Patron::default()
            },
            Reason::LendingBan,
        ),
        (
            Patron {
                fines_over_limit: true,
                ..Patron::default()
            },
            Reason::Fines,
        ),
        (
            Patron {
                age: Age::FifteenOn(Some(chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap())),
                guardian_consent: Some(false),
                ..Patron::default()
            },
            Reason::Underage,
        ),
    ];
    for (patron, reason) in cases {
        let mut rig = Rig::at("2026-11-23 20:00");
        let t = rig.ask("1");
        let out = rig.answer(
            t,
            Ok(patron),
            Source::Offline {
                version: 3,
                past_expiry: true,
            },
        );
        assert_eq!(denied(&out), Some(reason), "{reason:?}");
        assert_eq!(records(&out)[0].source.as_deref(), Some("offline-grace:3"));
    }
}

#[test]
fn a_closed_library_refuses_the_card_before_the_pin() {
    let mut rig = Rig::at("2026-11-23 23:00");
    let out = rig.card("1");
    assert_eq!(denied(&out), Some(Reason::Closed));
    assert!(!shows(&out).contains(&&Feedback::EnterPin));
    // Keys then go nowhere.
    assert!(rig.keys("1234#").is_empty());
    // Past the last entry (15 min before 22:00) too.
    let mut rig = Rig::at("2026-11-23 21:50");
    assert_eq!(denied(&rig.card("1")), Some(Reason::Closed));
    // Independence Day is an exception: closed all day.
    let mut rig = Rig::at("2026-12-06 12:00");
    assert_eq!(denied(&rig.card("1")), Some(Reason::Closed));
}

#[test]
fn a_staff_door_ignores_the_hours() {
    let mut c = config();
    c.rules.enforce_hours = false;
    let mut rig = Rig::with(c, "2026-11-23 23:00", DoorInputs::default());
    assert_eq!(shows(&rig.card("1")), vec![&Feedback::EnterPin]);
}

#[test]
fn a_locked_card_is_told_so_and_for_how_long_before_its_pin_is_asked_for() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let until = rig.now().wall + chrono::Duration::seconds(14 * 60 + 5);
    let out = rig.feed(Input::Card {
        card: CardNumber::new("1"),
        pseudonym: "p-1".into(),
        before_pin: BeforePin::LockedUntil(until),
    });
    assert_eq!(denied(&out), Some(Reason::PinLockedOut));
    assert!(!shows(&out).contains(&&Feedback::EnterPin));
    assert_eq!(
        refusal_words(&out).unwrap().0,
        "Too many wrong PINs. The card is locked for 15 min."
    );
    let e = records(&out)[0].clone();
    assert!(e.is_security());
    assert!(rig.keys("1234#").is_empty());
    // Hours, in Finnish, for a long lockout.
    let mut c = config();
    c.language = "fi".into();
    let mut rig = Rig::with(c, "2026-11-23 20:00", DoorInputs::default());
    let until = rig.now().wall + chrono::Duration::hours(24);
    let out = rig.feed(Input::Card {
        card: CardNumber::new("1"),
        pseudonym: "p-1".into(),
        before_pin: BeforePin::LockedUntil(until),
    });
    assert_eq!(
        refusal_words(&out).unwrap().0,
        "Liian monta väärää PIN-koodia. Kortti on lukittu 24 tunniksi."
    );
}

#[test]
fn a_card_refused_whatever_the_pin_is_not_asked_for_one() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let out = rig.feed(Input::Card {
        card: CardNumber::new("1"),
        pseudonym: "p-1".into(),
        before_pin: BeforePin::Refuse(Reason::CardLost),
    });
    assert_eq!(denied(&out), Some(Reason::CardLost));
    assert!(!shows(&out).contains(&&Feedback::EnterPin));
    assert_eq!(records(&out)[0].card.as_deref(), Some("p-1"));
    assert!(rig.keys("1234#").is_empty());
    // The next card is asked for its PIN as usual.
    assert_eq!(shows(&rig.card("2")), vec![&Feedback::EnterPin]);
}

#[test]
fn the_patron_reads_the_refusal_in_their_own_language_and_how_many_tries_are_left() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let t = rig.ask("1");
    let detail = Detail {
        tries_left: Some(2),
        language: Some("sv".into()),
        ..Detail::default()
    };
    let out = rig.answer_with(t, Err(Reason::WrongPin), detail);
    assert_eq!(
        refusal_words(&out).unwrap(),
        ("Fel PIN-kod. Försök kvar: 2.".into(), "sv".into())
    );
    // A language the door does not speak: the door's own.
    let t = rig.ask("1");
    let detail = Detail {
        language: Some("de".into()),
        ..Detail::default()
    };
    let out = rig.answer_with(t, Err(Reason::CardInvalid), detail);
    assert_eq!(
        refusal_words(&out).unwrap(),
        (
            "Card not valid. Renew it at the library.".into(),
            "en".into()
        )
    );
    // Welcome in the patron's language too.
    let t = rig.ask("1");
    let detail = Detail {
        language: Some("fi".into()),
        ..Detail::default()
    };
    let out = rig.answer_with(t, Ok(Patron::default()), detail);
    assert!(shows(&out).contains(&&Feedback::Welcome {
        source: "online".into(),
        language: "fi".into(),
    }));
}

#[test]
fn a_flood_of_cards_is_bounded_per_minute() {
    let mut rig = Rig::at("2026-11-23 20:00");
    for _ in 0..5 {
        assert_eq!(shows(&rig.card("1")), vec![&Feedback::EnterPin]);
    }
    let out = rig.card("2");
    assert_eq!(denied(&out), Some(Reason::TooManyAttempts));
    assert!(records(&out)[0].is_security());
    rig.pass(s(60));
    assert_eq!(shows(&rig.card("3")), vec![&Feedback::EnterPin]);
}

#[test]
fn an_unreadable_card_is_refused_without_a_pseudonym() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let out = rig.feed(Input::Unreadable);
    assert_eq!(denied(&out), Some(Reason::UnreadableCard));
    assert_eq!(records(&out)[0].card, None);
}

#[test]
fn pin_entry_times_out_on_no_key_and_on_a_long_pause() {
    let mut rig = Rig::at("2026-11-23 20:00");
    rig.card("1");
    assert_eq!(rig.door.poll_timeout(), Some(s(1)));
    let out = rig.pass(s(19));
    assert_eq!(denied(&out), None);
    let out = rig.pass(s(1));
    assert_eq!(denied(&out), Some(Reason::PinTimeout));
    assert_eq!(records(&out)[0].card.as_deref(), Some("p-1"));
    // A pause of ten seconds between keys.
    rig.pass(s(10));
    rig.card("2");
    rig.keys("12");
    let out = rig.pass(s(10));
    assert_eq!(denied(&out), Some(Reason::PinTimeout));
}

#[test]
fn too_short_a_pin_is_not_submitted_and_star_clears() {
    let mut rig = Rig::at("2026-11-23 20:00");
    rig.card("1");
    let out = rig.keys("12#");
    assert_eq!(ticket(&out), None);
    assert_eq!(shows(&out).last(), Some(&&Feedback::Digits(2)));
    let out = rig.keys("*");
    assert_eq!(shows(&out), vec![&Feedback::Digits(0)]);
    assert!(ticket(&rig.keys("4321#")).is_some());
}

#[test]
fn a_new_card_ends_the_pin_entry_in_progress() {
    let mut rig = Rig::at("2026-11-23 20:00");
    rig.card("1");
    rig.keys("12");
    rig.card("2");
    let out = rig.keys("3456#");
    match out.iter().find(|c| matches!(c, Command::Verify { .. })) {
        Some(Command::Verify { card, pin, .. }) => {
            assert_eq!(card.expose(), "2");
            assert_eq!(pin.expose(), "3456");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_without_a_card_do_nothing() {
    let mut rig = Rig::at("2026-11-23 20:00");
    assert!(rig.keys("1234#").is_empty());
}

#[test]
fn cards_and_keys_during_a_check_wait_for_its_verdict() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let t = rig.ask("1");
    // A fast second patron: card and PIN while the first is checked.
    assert!(rig.card("2").is_empty());
    assert!(rig.keys("5555#").is_empty());
    let out = rig.answer(t, Ok(Patron::default()), Source::Online);
    assert!(has(&out, &Command::ReleaseLock));
    // Then the second patron's card and PIN, in order.
    let t2 = ticket(&out).expect("the held card and keys made a second check");
    assert_ne!(t, t2);
    assert!(shows(&out).contains(&&Feedback::EnterPin));
    let out = rig.answer(t2, Err(Reason::WrongPin), Source::Online);
    assert_eq!(denied(&out), Some(Reason::WrongPin));
    assert_eq!(records(&out)[0].card.as_deref(), Some("p-2"));
}

#[test]
fn a_lost_verdict_is_taken_as_nobody_answering_and_a_late_one_is_ignored() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let t = rig.ask("1");
    let out = rig.pass(s(29));
    assert_eq!(denied(&out), None);
    let out = rig.pass(s(1));
    assert_eq!(denied(&out), Some(Reason::Unreachable));
    assert_eq!(records(&out)[0].source.as_deref(), Some("none"));
    let out = rig.answer(t, Ok(Patron::default()), Source::Online);
    assert!(out.is_empty(), "{out:?}");
    assert!(!rig.door.unlocked());
    // A verdict for a ticket never asked is ignored too.
    assert!(
        rig.answer(999, Ok(Patron::default()), Source::Online)
            .is_empty()
    );
}

#[test]
fn a_refusal_shows_red_with_one_long_tone_and_the_reason_in_words() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let t = rig.ask("1");
    let out = rig.answer(t, Err(Reason::WrongPin), Source::Online);
    assert!(has(&out, &Command::Signal(Signal::Red, true)));
    assert!(has(&out, &Command::Signal(Signal::Buzzer, true)));
    // One long tone, the same for every reason: the words say why.
    let later = rig.pass(ms(850));
    assert!(buzzer(&later).is_empty());
    let later = rig.pass(s(4));
    assert_eq!(buzzer(&later), vec![false]);
    assert_eq!(
        later
            .iter()
            .filter(|c| **c == Command::Signal(Signal::Red, false))
            .count(),
        1
    );
    let reason_words = shows(&out)
        .into_iter()
        .find_map(|f| match f {
            Feedback::Denied { message, .. } => Some(message.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(reason_words, Reason::WrongPin.message("en"));
}

// --- The watch ---

#[test]
fn the_exit_button_releases_the_lock_after_two_equal_readings() {
    let mut rig = Rig::at("2026-11-23 23:30");
    // One reading is a bounce.
    let out = rig.feed(Input::Inputs(DoorInputs {
        exit: true,
        ..DoorInputs::default()
    }));
    assert!(!has(&out, &Command::ReleaseLock));
    let out = rig.feed(Input::Inputs(DoorInputs::default()));
    assert!(out.is_empty());
    // Two are a press; exits are free even when the library is closed.
    let out = rig.inputs(false, true, false);
    assert_eq!(out[0], Command::ReleaseLock);
    assert_eq!(records(&out)[0].kind, Kind::Exit);
    // Walking out: the door opens (relock on open), closes; no alarm.
    let out = rig.inputs(true, false, false);
    assert!(has(&out, &Command::EngageLock));
    let out = rig.inputs(false, false, false);
    assert!(records(&out).is_empty());
    assert!(rig.door.alarms().is_empty());
}

#[test]
fn a_door_opened_without_grant_or_exit_raises_forced_open_until_it_closes() {
    let mut rig = Rig::at("2026-11-23 23:30");
    let out = rig.inputs(true, false, false);
    let r = records(&out);
    assert_eq!(
        (r[0].kind, r[0].code.as_deref()),
        (Kind::Alarm, Some("forced-open"))
    );
    assert!(r[0].is_security());
    assert!(shows(&out).contains(&&Feedback::Alarm(Alarm::ForcedOpen)));
    assert!(has(&out, &Command::Signal(Signal::Red, true)));
    // Held open too after 30 s.
    let out = rig.pass(s(30));
    assert_eq!(records(&out)[0].code.as_deref(), Some("held-open"));
    assert_eq!(rig.door.alarms().len(), 2);
    let out = rig.inputs(false, false, false);
    let cleared: Vec<_> = records(&out)
        .into_iter()
        .filter(|e| e.kind == Kind::AlarmCleared)
        .collect();
    assert_eq!(cleared.len(), 2);
    assert!(has(&out, &Command::Signal(Signal::Red, false)));
    assert!(has(&out, &Command::Signal(Signal::Buzzer, false)));
}

#[test]
fn an_alarm_keeps_red_and_the_buzzer_on_through_a_refusals_pattern() {
    let mut rig = Rig::at("2026-11-23 20:00");
    rig.inputs(true, false, false);
    let t = rig.ask("1");
    rig.answer(t, Err(Reason::UnknownCard), Source::Online);
    let out = rig.pass(s(4));
    assert!(!has(&out, &Command::Signal(Signal::Red, false)));
    assert!(!has(&out, &Command::Signal(Signal::Buzzer, false)));
}

#[test]
fn an_entry_held_open_raises_held_open_and_a_normal_one_nothing() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let t = rig.ask("1");
    rig.answer(t, Ok(Patron::default()), Source::Online);
    rig.pass(s(1));
    let out = rig.inputs(true, false, false);
    assert!(has(&out, &Command::EngageLock));
    assert!(records(&out).is_empty());
    let out = rig.pass(s(30));
    assert_eq!(records(&out)[0].code.as_deref(), Some("held-open"));
}

#[test]
fn the_tamper_switch_is_recorded_as_security() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let out = rig.inputs(false, false, true);
    let r = records(&out);
    assert_eq!(
        (r[0].kind, r[0].code.as_deref()),
        (Kind::Tamper, Some("tamper"))
    );
    assert!(r[0].is_security());
    // Held, it is recorded once.
    assert!(records(&rig.inputs(false, false, true)).is_empty());
}

#[test]
fn a_door_open_at_start_is_watched_from_then() {
    let mut rig = Rig::with(
        config(),
        "2026-11-23 20:00",
        DoorInputs {
            open: true,
            ..DoorInputs::default()
        },
    );
    let out = rig.pass(s(30));
    assert_eq!(records(&out)[0].code.as_deref(), Some("held-open"));
}

// --- The library's state ---

#[test]
fn staffed_hours_stand_the_door_free_and_lock_it_after() {
    // Tuesday: staffed 12-19.
    let mut rig = Rig::at("2026-11-24 11:59");
    assert!(!rig.door.unlocked());
    let out = rig.pass(s(60));
    assert!(has(&out, &Command::ReleaseLock));
    assert_eq!(rig.door.state(), Some(LibraryState::Staffed));
    assert!(shows(&out).contains(&&Feedback::State(LibraryState::Staffed)));
    // An open door in staffed hours is no alarm.
    rig.inputs(true, false, false);
    assert!(
        rig.pass(s(120))
            .iter()
            .all(|c| !matches!(c, Command::Record(e) if e.kind == Kind::Alarm))
    );
    rig.inputs(false, false, false);
    let out = rig.pass(s(7 * 3600));
    assert!(has(&out, &Command::EngageLock));
    assert_eq!(rig.door.state(), Some(LibraryState::SelfService));
    assert!(!rig.door.unlocked());
}

#[test]
fn without_free_when_staffed_staffed_hours_keep_the_lock() {
    let mut c = config();
    c.free_when_staffed = false;
    let mut rig = Rig::with(c, "2026-11-24 11:59", DoorInputs::default());
    let out = rig.pass(s(60));
    assert!(!has(&out, &Command::ReleaseLock));
}

#[test]
fn outputs_follow_the_state_and_announcements_fall_due_before_closing() {
    let mut rig = Rig::at("2026-11-23 21:40");
    let out = rig.pass(s(25 * 60));
    let announced = out.iter().filter(|c| **c == Command::Announce(0)).count();
    // 21:45, 21:50, 21:55 (every 5 min from 15 min before 22:00).
    assert_eq!(announced, 3);
    assert!(shows(&out).contains(&&Feedback::Announcement("closing.wav".into())));
    assert!(has(
        &out,
        &Command::Output {
            name: "lights".into(),
            on: false
        }
    ));
    assert_eq!(rig.door.state(), Some(LibraryState::Closed));
    let states: Vec<_> = records(&out)
        .into_iter()
        .filter(|e| e.kind == Kind::State)
        .filter_map(|e| e.code.clone())
        .collect();
    assert_eq!(states, vec!["closed".to_string()]);
}

#[test]
fn shutdown_engages_the_lock_and_switches_everything_off() {
    let mut rig = Rig::at("2026-11-24 12:30");
    assert!(rig.door.unlocked());
    rig.door.shutdown();
    let out = rig.drain();
    assert_eq!(out[0], Command::EngageLock);
    for s in [Signal::Green, Signal::Red, Signal::Buzzer] {
        assert!(has(&out, &Command::Signal(s, false)));
    }
}

#[test]
fn reader_changes_are_recorded() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let out = rig.feed(Input::ReaderLost {
        reader: "pcsc".into(),
        why: "unplugged".into(),
    });
    let r = records(&out);
    assert_eq!(r[0].code.as_deref(), Some("reader-lost"));
    assert_eq!(r[0].detail.as_deref(), Some("pcsc: unplugged"));
    let out = rig.feed(Input::ReaderFound {
        reader: "pcsc".into(),
    });
    assert_eq!(records(&out)[0].code.as_deref(), Some("reader-found"));
}

#[test]
fn a_readers_tamper_switch_is_tampering_in_the_security_log_and_nothing_else() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let out = rig.feed(Input::ReaderTampered {
        reader: "osdp:/dev/ttyUSB0#1".into(),
    });
    let r = records(&out);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].kind, Kind::Tamper);
    assert_eq!(r[0].code.as_deref(), Some("tamper"));
    assert_eq!(r[0].detail.as_deref(), Some("osdp:/dev/ttyUSB0#1"));
    assert!(r[0].kind.is_alarm() && r[0].is_security());
    // Nothing else changes at the door: no lock, no alarm sound, no reader taken out.
    assert!(!out.iter().any(|c| matches!(
        c,
        Command::ReleaseLock | Command::EngageLock | Command::Signal(..)
    )));
}

#[test]
fn events_serialise_as_the_log_has_always_stored_them() {
    let mut e = Event::new(Kind::AlarmCleared, 1_000);
    e.code = Some("held-open".into());
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(
        json,
        r#"{"at":1000,"kind":"alarm-cleared","code":"held-open"}"#
    );
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
}

// --- Properties over arbitrary sequences ---

#[derive(Debug, Clone)]
enum Step {
    /// A card, and what the shell knows of it before the PIN (see [`before_pin`]).
    Card(u8, u8),
    Unreadable,
    Key(Key),
    /// Answer the pending verdict (if any): open, or refuse.
    Answer(bool),
    Inputs(bool, bool, bool),
    Pass(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..4, 0u8..4).prop_map(|(c, k)| Step::Card(c, k)),
        Just(Step::Unreadable),
        (0u8..10).prop_map(|d| Step::Key(Key::Digit(d))),
        Just(Step::Key(Key::Submit)),
        Just(Step::Key(Key::Clear)),
        any::<bool>().prop_map(Step::Answer),
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(o, e, t)| Step::Inputs(o, e, t)),
        (0u64..40_000).prop_map(Step::Pass),
    ]
}

/// What the shell knows of a card before its PIN: mostly nothing, sometimes a lockout (until
/// far past any test's end) or a refusal.
fn before_pin(k: u8) -> BeforePin {
    match k {
        2 => BeforePin::LockedUntil(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()),
        3 => BeforePin::Refuse(Reason::CardLost),
        _ => BeforePin::Ask,
    }
}

/// Where the day starts: self-service, staffed (Tuesday noon), closed.
fn start() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("2026-11-23 20:00"),
        Just("2026-11-24 11:59"),
        Just("2026-11-23 23:00"),
        Just("2026-11-24 18:59"),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The lock is released only in a step that granted an entry, saw the exit button pressed
    /// or stood the door free for staffed hours; the door's idea of the lock is what its
    /// commands said; and every release ends engaged once the door is left alone.
    #[test]
    fn the_lock_is_released_only_by_a_grant_an_exit_or_staffed_hours(
        start in start(),
        free in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut c = config();
        c.free_when_staffed = free;
        let mut rig = Rig::with(c, start, DoorInputs::default());
        let mut pending: Option<u64> = None;
        // The lock as the start's commands left it (engaged first, released if staffed and free).
        let mut locked = true;
        for c in &rig.log {
            match c {
                Command::ReleaseLock => locked = false,
                Command::EngageLock => locked = true,
                _ => {}
            }
        }
        prop_assert_eq!(rig.log.first(), Some(&Command::EngageLock));
        for st in steps {
            let out = match st {
                Step::Card(n, l) => rig.feed(Input::Card {
                    card: CardNumber::new(format!("{n}")),
                    pseudonym: format!("p{n}"),
                    before_pin: before_pin(l),
                }),
                Step::Unreadable => rig.feed(Input::Unreadable),
                Step::Key(k) => rig.feed(Input::Key(k)),
                Step::Answer(open) => match pending.take() {
                    Some(t) => rig.answer(
                        t,
                        if open { Ok(Patron::default()) } else { Err(Reason::WrongPin) },
                        Source::Online,
                    ),
                    None => vec![],
                },
                Step::Inputs(o, e, t) => rig.inputs(o, e, t),
                Step::Pass(ms_) => rig.pass(ms(ms_)),
            };
            if let Some(t) = ticket(&out) {
                pending = Some(t);
            }
            let granted = records(&out).iter().any(|e| matches!(e.kind, Kind::Entry | Kind::Exit));
            let staffed_free = free && rig.door.state() == Some(LibraryState::Staffed);
            for c in &out {
                match c {
                    Command::ReleaseLock => {
                        prop_assert!(granted || staffed_free, "released without cause: {out:?}");
                        locked = false;
                    }
                    Command::EngageLock => locked = true,
                    _ => {}
                }
            }
            prop_assert_eq!(locked, !rig.door.unlocked());
            // An entry is never granted outside open hours unless the door stands free.
            if records(&out).iter().any(|e| e.kind == Kind::Entry) {
                prop_assert!(rig.door.state().is_some_and(|s| s.is_open()));
            }
        }
        // Left alone (door closed, no button) past any pulse: engaged unless staffed and free.
        rig.inputs(false, false, false);
        rig.pass(s(6));
        let staffed_free = free && rig.door.state() == Some(LibraryState::Staffed);
        prop_assert_eq!(rig.door.unlocked(), staffed_free);
        rig.door.shutdown();
        let out = rig.drain();
        prop_assert_eq!(out.first(), Some(&Command::EngageLock));
    }

    /// Whatever happens, the door asks to be woken no later than a second from now, and a
    /// verdict awaited is always answered or timed out.
    #[test]
    fn the_door_always_knows_when_to_wake_and_never_waits_forever(
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let mut rig = Rig::at("2026-11-23 20:00");
        for st in steps {
            match st {
                Step::Card(n, l) => { rig.feed(Input::Card { card: CardNumber::new(format!("{n}")), pseudonym: format!("p{n}"), before_pin: before_pin(l) }); }
                Step::Key(k) => { rig.feed(Input::Key(k)); }
                Step::Pass(ms_) => { rig.pass(ms(ms_)); }
                _ => {}
            }
            let next = rig.door.poll_timeout();
            prop_assert!(next.is_some_and(|t| t <= rig.mono + s(1)));
        }
        rig.pass(s(31));
        prop_assert!(!rig.door.checking());
    }
}

#[test]
fn a_new_schedule_takes_hold_at_once_a_closed_day_refuses_and_its_state_is_recorded() {
    // Wednesday 2 December 2026, 20:00: self-service at Lemi.
    let mut rig = Rig::at("2026-12-02 20:00");
    assert_eq!(rig.door.state(), Some(LibraryState::SelfService));
    let mut closed = lemi();
    closed.exceptions.push(crate::hours::Exception {
        first: chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        last: chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        name: "Inventaario".into(),
        hours: Default::default(),
    });
    let cmds = rig.feed(Input::Schedule(Box::new(closed)));
    assert_eq!(rig.door.state(), Some(LibraryState::Closed));
    assert!(
        records(&cmds)
            .iter()
            .any(|e| e.kind == Kind::State && e.code.as_deref() == Some("closed")),
        "{cmds:?}"
    );
    // The lights go off with the state.
    assert!(cmds.contains(&Command::Output {
        name: "lights".into(),
        on: false
    }));
    let cmds = rig.card("1234");
    assert_eq!(denied(&cmds), Some(Reason::Closed));
    // And back: the week's hours again, the door asks for a PIN.
    rig.feed(Input::Schedule(Box::new(lemi())));
    assert_eq!(rig.door.state(), Some(LibraryState::SelfService));
    let cmds = rig.card("1234");
    assert!(shows(&cmds).contains(&&Feedback::EnterPin), "{cmds:?}");
}

#[test]
fn staff_unlock_for_minutes_then_the_door_locks_again_by_itself() {
    // Wednesday 21:00, self-service.
    let mut rig = Rig::at("2026-12-02 21:00");
    let cmds = rig.feed(Input::Order(Order::UnlockFor(s(600))));
    assert!(cmds.contains(&Command::ReleaseLock), "{cmds:?}");
    assert!(rig.door.unlocked());
    assert!(
        records(&cmds)
            .iter()
            .any(|e| e.code.as_deref() == Some("unlocked-by-staff"))
    );
    // Opening and closing the door meanwhile is no alarm.
    rig.inputs(true, false, false);
    rig.pass(s(5));
    assert!(rig.door.alarms().is_empty());
    rig.inputs(false, false, false);
    let cmds = rig.pass(s(600));
    assert!(cmds.contains(&Command::EngageLock), "{cmds:?}");
    assert!(!rig.door.unlocked());
    assert!(
        records(&cmds)
            .iter()
            .any(|e| e.code.as_deref() == Some("unlock-ended"))
    );
}

#[test]
fn a_lockdown_refuses_every_card_ends_a_staff_unlock_and_the_exit_still_works() {
    let mut rig = Rig::at("2026-12-02 21:00");
    rig.feed(Input::Order(Order::UnlockFor(s(600))));
    let cmds = rig.feed(Input::Order(Order::LockDown(true)));
    assert!(cmds.contains(&Command::EngageLock), "{cmds:?}");
    let cmds = rig.card("1234");
    assert_eq!(denied(&cmds), Some(Reason::LockedDown));
    // The exit button releases the lock all the same.
    let cmds = rig.inputs(false, true, false);
    let cmds = [cmds, rig.pass(ms(100))].concat();
    assert!(cmds.contains(&Command::ReleaseLock), "{cmds:?}");
    rig.inputs(false, false, false);
    rig.pass(s(10));
    // A staff unlock during a lock-down does not open the door.
    rig.feed(Input::Order(Order::UnlockFor(s(60))));
    assert!(!rig.door.unlocked());
    // Ended: cards are asked for a PIN again.
    rig.feed(Input::Order(Order::LockDown(false)));
    let cmds = rig.card("1234");
    assert!(shows(&cmds).contains(&&Feedback::EnterPin), "{cmds:?}");
}

#[test]
fn ending_self_service_closes_until_the_hours_move_on_with_the_announcement() {
    let mut rig = Rig::at("2026-12-02 21:00");
    let cmds = rig.feed(Input::Order(Order::EndSelfService));
    assert!(cmds.contains(&Command::Announce(0)), "{cmds:?}");
    assert_eq!(rig.door.state(), Some(LibraryState::Closed));
    assert_eq!(denied(&rig.card("1234")), Some(Reason::Closed));
    // The night passes (closed at 22:00); the next morning's self-service opens as usual.
    rig.pass(s(11 * 3600));
    assert_eq!(rig.door.state(), Some(LibraryState::SelfService));
    let cmds = rig.card("1234");
    assert!(shows(&cmds).contains(&&Feedback::EnterPin), "{cmds:?}");
}

#[test]
fn the_librarys_rules_from_a_bundle_judge_the_next_patron() {
    let mut rig = Rig::at("2026-11-23 20:00");
    let child = Patron {
        category: Some("CHILD".into()),
        ..Patron::default()
    };
    let t = rig.ask("1");
    let out = rig.answer(t, Ok(child.clone()), Source::Online);
    assert_eq!(
        denied(&out),
        None,
        "the door's own rules admit every category"
    );
    rig.pass(s(10));
    // The library allows adults only at this branch from now on.
    let rules = Rules {
        categories: vec!["ADULT".into()],
        ..rig.door.config().rules.clone()
    };
    rig.feed(Input::Rules(Box::new(rules)));
    let t = rig.ask("1");
    let out = rig.answer(t, Ok(child), Source::Online);
    assert_eq!(denied(&out), Some(Reason::Category));
}
