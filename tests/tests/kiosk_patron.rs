//! The kiosk tried as a patron would, end to end on the simulator rig (SIP2/TLS, the signed
//! offline list over HTTPS, the FEIG reader twin with ISO 28560 tags through the real driver,
//! the ESC/POS printer twin): offline lending that honours what an item is, "My loans" offline,
//! and the kiosk's own limit on wrong PINs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{Local, NaiveDate, TimeZone, Utc};
use drivers::feig_twin::AirTime;
use e2e::{LogCapture, leaks};
use iso28560::Usage;
use kiosk::Input;
use kiosk::queue::Queue;
use kiosk::sounds::Cue;
use kiosk::speech::Wav;
use receipt::render::Paper;
use rig::kiosk::{self as sim, SimKiosk};
use ui::{Action, Message, Outcome, RowState, Screen, View};

const AINO: &str = "24680000000011";
const AINO_PIN: &str = "1234";
const WAIT: Duration = Duration::from_secs(10);

/// Every log line of this test binary, at every level (one subscriber per process).
fn logs() -> &'static LogCapture {
    static LOGS: OnceLock<LogCapture> = OnceLock::new();
    LOGS.get_or_init(LogCapture::install)
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml")
}

/// Noon today, local time: the kiosk's clock starts there, so due dates are known exactly
/// whatever the hour the test runs at.
fn noon() -> (NaiveDate, chrono::DateTime<Utc>) {
    let today = e2e::daemons_today();
    let at = Local
        .from_local_datetime(&today.and_hms_opt(12, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    (today, at)
}

async fn started(at: chrono::DateTime<Utc>) -> (tempfile::TempDir, sim::Rig, SimKiosk) {
    logs();
    let tmp = tempfile::tempdir().unwrap();
    let rig = sim::rig(tmp.path(), &fixtures(), at - chrono::Duration::hours(1), "")
        .await
        .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let k = sim::start_kiosk(settings, AirTime::default(), sim::clock_from(at)).unwrap();
    let store = rig.dir.join("state/allowlist");
    for _ in 0..100 {
        if store.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    (tmp, rig, k)
}

async fn log_in(k: &mut SimKiosk, card: &str, pin: &str) -> View {
    k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
        .await
        .expect("the welcome screen");
    k.send(Input::Scan(card.into())).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Pin)
        .await
        .expect("the PIN screen");
    k.type_digits(pin).await;
    k.wait_for(WAIT, |v| v.screen != Screen::Pin && !v.busy)
        .await
        .expect("past the PIN")
}

async fn settled(k: &mut SimKiosk, item: &str) -> ui::Row {
    let v = k
        .wait_for(WAIT, |v| {
            v.items
                .iter()
                .any(|r| r.item == item && r.state != RowState::Working)
        })
        .await
        .unwrap_or_else(|| panic!("{item} never settled: {:?}", k.view().items));
    v.items.into_iter().find(|r| r.item == item).unwrap()
}

/// The kiosk's cues once `n` have been played (their player runs in the background).
async fn wait_for_cues(rig: &sim::Rig, n: usize) -> Vec<Vec<u8>> {
    for _ in 0..100 {
        let heard = rig.cues_heard();
        // A file is complete once it holds as many bytes as its RIFF header says.
        let whole = |w: &Vec<u8>| {
            w.len() >= 8
                && u32::from_le_bytes([w[4], w[5], w[6], w[7]]) as usize + 8 == w.len()
                && Wav::parse(w).is_ok()
        };
        if heard.len() >= n && heard.iter().all(whole) {
            return heard;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rig.cues_heard()
}

fn date(d: NaiveDate) -> String {
    d.format("%-d.%-m.%Y").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_a_reference_copy_stays_a_dvd_gets_a_week_and_my_loans_shows_them() {
    let (today, at) = noon();
    let (_tmp, rig, mut k) = started(at).await;
    // The library system goes away before Aino comes; she is on the offline list.
    rig.running.stop();
    let v = log_in(&mut k, AINO, AINO_PIN).await;
    assert_eq!((v.screen, v.offline), (Screen::Items, true));

    // The reference copy (tagged "not for circulation" by the library), a DVD, a book, as the
    // library tagged them.
    let reference = sim::tag_as("HE0000005", 1, 1, Usage::NOT_FOR_CIRCULATION, Some("BA"));
    let reference_uid = reference.uid;
    k.pad.place(reference);
    k.pad.place(sim::tag_as(
        "HE0000002",
        1,
        1,
        Usage::CIRCULATING,
        Some("VI"),
    ));
    k.pad.place(sim::tag_as(
        "HE0000003",
        1,
        1,
        Usage::CIRCULATING,
        Some("BA"),
    ));

    let r = settled(&mut k, "HE0000005").await;
    assert_eq!(
        (r.state, r.outcome),
        (RowState::Failed, Outcome::NotForLoan),
        "a reference copy lent offline"
    );
    assert_eq!(
        k.pad.tag(reference_uid).unwrap().afi,
        iso28560::afi::SECURED,
        "the reference copy's tag was unsecured"
    );
    let dvd = settled(&mut k, "HE0000002").await;
    assert_eq!(dvd.outcome, Outcome::LentOffline);
    let week = date(today + chrono::Days::new(7));
    assert_eq!(dvd.due, week, "a DVD gets Heili's 7 days");
    let book = settled(&mut k, "HE0000003").await;
    assert_eq!(book.due, date(today + chrono::Days::new(28)));

    // My loans, offline: the two loans made here, said to be partial (no "something went
    // wrong"), and no renewing.
    k.tap(Action::ShowLoans).await;
    let v = k
        .wait_for(WAIT, |v| v.screen != Screen::Items && !v.busy)
        .await
        .unwrap();
    assert_eq!(
        (v.screen, v.message, v.loans_partial),
        (Screen::Loans, None, true)
    );
    let loans: Vec<(&str, &str)> = v
        .loans
        .iter()
        .map(|l| (l.item.as_str(), l.due.as_str()))
        .collect();
    assert_eq!(
        loans,
        [
            ("HE0000002", week.as_str()),
            ("HE0000003", date(today + chrono::Days::new(28)).as_str())
        ]
    );
    k.tap(Action::BackToItems).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Items)
        .await
        .unwrap();

    // The receipt says the same dates.
    k.tap(Action::Finish).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Receipt)
        .await
        .unwrap();
    k.tap(Action::Receipt(true)).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Goodbye)
        .await
        .expect("goodbye");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let receipts = rig.printer.receipts();
    assert_eq!(receipts.len(), 1, "errors: {:?}", rig.printer.errors());
    let text = Paper::text(&receipts[0]);
    assert!(
        text.contains(&week) && text.contains("HE0000002"),
        "the receipt lacks the DVD's due date {week}:\n{text}"
    );
    assert!(!text.contains("HE0000005"), "{text}");

    // The queue holds the two loans with those due dates, and not the reference copy.
    let queue_dir = rig.dir.join("state/queue");
    k.shut_down().await.unwrap();
    let q = Queue::open(&queue_dir).unwrap();
    let queued: Vec<(String, Option<NaiveDate>)> = q
        .list()
        .into_iter()
        .map(|d| (d.item, d.due.map(|d| d.date())))
        .collect();
    assert_eq!(
        queued,
        [
            ("HE0000002".to_owned(), Some(today + chrono::Days::new(7))),
            ("HE0000003".to_owned(), Some(today + chrono::Days::new(28)))
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_pins_lock_the_card_at_the_kiosk_and_say_for_how_long() {
    let (_today, at) = noon();
    let (_tmp, rig, mut k) = started(at).await;
    for n in 1..=4 {
        let v = log_in(&mut k, AINO, "9999").await;
        assert_eq!(
            (v.message, v.offline),
            (Some(Message::WrongPin), false),
            "wrong PIN {n}"
        );
        k.tap(Action::Cancel).await;
    }
    let v = log_in(&mut k, AINO, "9999").await;
    assert_eq!(
        (v.screen, v.message, v.message_note.as_str()),
        (Screen::Message, Some(Message::LockedOut), "15"),
        "the fifth wrong PIN"
    );
    k.tap(Action::Dismiss).await;
    // Locked: said as soon as the card is shown, before a PIN is asked for...
    k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
        .await
        .unwrap();
    k.send(Input::Scan(AINO.into())).await;
    let v = k
        .wait_for(WAIT, |v| v.screen != Screen::Welcome)
        .await
        .unwrap();
    assert_eq!(
        (v.screen, v.message, v.message_note.as_str()),
        (Screen::Message, Some(Message::LockedOut), "15")
    );
    k.tap(Action::Dismiss).await;
    // ...and typed on the screen's pad the right PIN does not log in either.
    k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
        .await
        .unwrap();
    k.tap(Action::Start(ui::Mode::Borrow)).await;
    k.wait_for(WAIT, |v| v.card_entry.is_some()).await.unwrap();
    k.type_digits(AINO).await;
    let v = k
        .wait_for(WAIT, |v| v.screen == Screen::Message)
        .await
        .unwrap();
    assert_eq!(v.message, Some(Message::LockedOut));
    k.tap(Action::Dismiss).await;
    // Another card is not locked.
    let v = log_in(&mut k, "24680000000029", "2468").await;
    assert_eq!(v.screen, Screen::Items);
    k.shut_down().await.unwrap();

    // Logged on the security target, with a pseudonym; no card number, no PIN.
    let text = logs().text();
    let line = text
        .lines()
        .find(|l| l.contains("the card is locked at this kiosk"))
        .unwrap_or_else(|| panic!("no lockout in the logs:\n{text}"));
    assert!(
        line.contains("security") && line.contains("card=card:") && line.contains("minutes=15"),
        "{line}"
    );
    for secret in [AINO, "24680000000029", "9999", AINO_PIN, "Virtanen"] {
        assert!(!leaks(&text, secret), "{secret:?} is in the logs:\n{text}");
    }

    // In the kiosk's security log (which the console and a breach report read): the lockout,
    // and the locked card shown twice more, under the card's pseudonym; the four wrong PINs
    // before it only in the ordinary log.
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let key = settings.allowlist.as_ref().unwrap().card_key.clone();
    let aino = eventlog::pseudonym(&key, &redact::CardNumber::new(AINO));
    let log = eventlog::EventLog::open(&settings.state_dir.join("events")).unwrap();
    let security: Vec<(String, Option<String>)> = log
        .security_between(0, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|e| (e.code.unwrap_or_default(), e.card))
        .collect();
    assert_eq!(
        security,
        vec![("pin-locked-out".to_owned(), Some(aino.clone())); 3],
        "the security log"
    );
    let wrong = log
        .between(0, i64::MAX)
        .unwrap()
        .into_iter()
        .filter(|e| e.code.as_deref() == Some("wrong-pin"))
        .count();
    assert_eq!(wrong, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_loans_renews_one_loan_says_why_another_is_not_and_shows_a_hold_ready() {
    let (_today, at) = noon();
    let (_tmp, rig, mut k) = started(at).await;
    // Erik borrows a book and a DVD, and renews both twice with "Renew all": a DVD may be
    // renewed twice (Heili's rule), a book five times. His own hold (Sinuhe) waits on the shelf.
    let v = log_in(&mut k, "24680000000029", "2468").await;
    assert_eq!((v.screen, v.offline), (Screen::Items, false));
    for item in ["HE0000001", "HE0000002"] {
        k.send(Input::Scan(item.into())).await;
        let r = settled(&mut k, item).await;
        assert_eq!(r.outcome, Outcome::Lent, "{item}: {r:?}");
    }
    // Each loan was heard: the "done" cue, byte for byte as the player was handed it.
    let heard = wait_for_cues(&rig, 2).await;
    assert_eq!(heard, [Cue::Done.wav(), Cue::Done.wav()]);
    for _ in 0..2 {
        k.tap(Action::ShowLoans).await;
        k.wait_for(WAIT, |v| v.screen == Screen::Loans && !v.busy)
            .await
            .unwrap();
        k.tap(Action::RenewAll).await;
        k.wait_for(WAIT, |v| v.screen == Screen::Items && !v.busy)
            .await
            .unwrap();
    }
    k.tap(Action::ShowLoans).await;
    let v = k
        .wait_for(WAIT, |v| v.screen == Screen::Loans && !v.busy)
        .await
        .unwrap();
    assert_eq!(v.loans.len(), 2, "{:?}", v.loans);
    let hold = v
        .holds
        .iter()
        .find(|h| h.title.contains("HE0000004") || h.title.contains("Sinuhe"))
        .unwrap_or_else(|| panic!("{:?}", v.holds));
    assert!(hold.ready, "Sinuhe waits on the shelf: {hold:?}");
    let before = v
        .loans
        .iter()
        .find(|l| l.item == "HE0000001")
        .unwrap()
        .due
        .clone();

    k.tap(Action::Renew("HE0000001".into())).await;
    let v = k
        .wait_for(WAIT, |v| {
            v.loans
                .iter()
                .any(|l| l.item == "HE0000001" && l.renewal != ui::Renewal::NotTried)
        })
        .await
        .unwrap();
    let renewed = v.loans.iter().find(|l| l.item == "HE0000001").unwrap();
    assert_eq!(renewed.renewal, ui::Renewal::Renewed, "{renewed:?}");
    assert!(!renewed.due.is_empty());
    // The other loan is untouched: one loan renewed, not all.
    let other = v.loans.iter().find(|l| l.item == "HE0000002").unwrap();
    assert_eq!(other.renewal, ui::Renewal::NotTried);
    println!("renewed HE0000001: due {before} -> {}", renewed.due);

    k.tap(Action::Renew("HE0000002".into())).await;
    let v = k
        .wait_for(WAIT, |v| {
            v.loans
                .iter()
                .any(|l| l.item == "HE0000002" && l.renewal != ui::Renewal::NotTried)
        })
        .await
        .unwrap();
    let refused = v.loans.iter().find(|l| l.item == "HE0000002").unwrap();
    assert_eq!(refused.renewal, ui::Renewal::Refused, "{refused:?}");
    assert!(
        !refused.note.is_empty(),
        "the library system's reason: {refused:?}"
    );
    println!("HE0000002 not renewed: {}", refused.note);
    assert_eq!(v.screen, Screen::Loans, "still on My loans");

    // The library system goes away, and Erik returns the book: the row names it by the title
    // the kiosk saw online, not by its barcode.
    k.tap(Action::Cancel).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
        .await
        .unwrap();
    rig.running.stop();
    k.tap(Action::Start(ui::Mode::Checkin)).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Items)
        .await
        .unwrap();
    k.send(Input::Scan("HE0000001".into())).await;
    let back = settled(&mut k, "HE0000001").await;
    assert_eq!(back.outcome, Outcome::ReturnedOffline, "{back:?}");
    // A return offline is a notice (saved, sent later), and sounds like one.
    let heard = wait_for_cues(&rig, 3).await;
    assert_eq!(heard.last(), Some(&Cue::Notice.wav()));
    assert!(back.title.starts_with("Tuntematon sotilas"), "{back:?}");
}

/// Many cards tried in turn at one kiosk (a found wallet, a list of numbers) are slowed as at a
/// door: past `max_attempts_per_minute`, a login is refused before anyone is asked, whoever's it
/// is, and the security log says so under the card's pseudonym.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_past_the_kiosks_minute_limit_are_refused_unchecked() {
    let (_today, at) = noon();
    logs();
    let tmp = tempfile::tempdir().unwrap();
    let rig = sim::rig(
        tmp.path(),
        &fixtures(),
        at - chrono::Duration::hours(1),
        "max_attempts_per_minute = 4",
    )
    .await
    .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    assert_eq!(settings.max_attempts_per_minute, 4);
    let mut k = sim::start_kiosk(settings, AirTime::default(), sim::clock_from(at)).unwrap();
    let strangers = [
        "24689990000001",
        "24689990000002",
        "24689990000003",
        "24689990000004",
    ];
    for card in strangers {
        let v = log_in(&mut k, card, "1111").await;
        assert_eq!(v.message, Some(Message::UnknownCard), "{card}");
        k.tap(Action::Dismiss).await;
    }
    // The fifth within the minute, though it is Aino with her right PIN: not logged in.
    let v = log_in(&mut k, AINO, AINO_PIN).await;
    assert_eq!(
        (v.screen, v.message),
        (Screen::Message, Some(Message::TooManyAttempts))
    );
    k.shut_down().await.unwrap();

    let settings = kiosk::settings::load(&rig.config).unwrap();
    let key = settings.allowlist.as_ref().unwrap().card_key.clone();
    let aino = eventlog::pseudonym(&key, &redact::CardNumber::new(AINO));
    let log = eventlog::EventLog::open(&settings.state_dir.join("events")).unwrap();
    let security: Vec<(Option<String>, Option<String>)> = log
        .security_between(0, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|e| (e.code, e.card))
        .collect();
    assert_eq!(
        security,
        [(Some("too-many-attempts".to_owned()), Some(aino))],
        "{security:?}"
    );
    let text = logs().text();
    assert!(
        text.lines()
            .any(|l| l.contains("security") && l.contains("too many login attempts")),
        "{text}"
    );
}
