//! The kiosk end to end: the simulator as library system over SIP2/TLS, the signed offline list
//! over HTTPS, the FEIG reader twin holding ISO 28560 tags (driven through the real driver),
//! the ESC/POS printer twin on a TCP port; a patron's whole visit, the faults a stack of books
//! and a network bring, and the offline queue delivered exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Timelike;

use drivers::feig_twin::{AirTime, SimTag};
use kiosk::Input;
use kiosk::queue::{Queue, State};
use receipt::render::Paper;
use registry::Registry;
use rig::kiosk::{self as sim, SimKiosk};
use ui::{Action, Message, Mode, Outcome, RowState, Screen, View};

const AINO: &str = "24680000000011";
const AINO_PIN: &str = "1234";
const WAIT: Duration = Duration::from_secs(10);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml")
}

async fn started(extra: &str) -> (tempfile::TempDir, sim::Rig, SimKiosk) {
    let tmp = tempfile::tempdir().unwrap();
    let rig = sim::rig(tmp.path(), &fixtures(), e2e::daemons_now(), extra)
        .await
        .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let k = sim::start_kiosk(settings, AirTime::default(), kiosk::system_clock()).unwrap();
    // The kiosk syncs its offline list at start.
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

/// What the library system says of `item`'s status now.
async fn item_status(rig: &sim::Rig, item: &str) -> registry::ItemStatus {
    registry::AnyRegistry::start(
        kiosk::settings::load(&rig.config)
            .unwrap()
            .registry
            .as_ref()
            .unwrap(),
    )
    .unwrap()
    .item(item)
    .await
    .unwrap()
    .status
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

fn row<'a>(v: &'a View, item: &str) -> Option<&'a ui::Row> {
    v.items.iter().find(|r| r.item == item)
}

async fn settled(k: &mut SimKiosk, item: &str) -> ui::Row {
    let v = k
        .wait_for(WAIT, |v| {
            row(v, item)
                .is_some_and(|r| r.state != RowState::Working && r.outcome != Outcome::PartsMissing)
        })
        .await
        .unwrap_or_else(|| panic!("{item} never settled: {:?}", k.view().items));
    row(&v, item).unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patron_borrows_a_stack_returns_one_and_takes_a_receipt() {
    let (_tmp, rig, mut k) = started("").await;
    // Swedish picked at the welcome screen stays through the login.
    k.tap(Action::Language("sv".into())).await;
    k.wait_for(WAIT, |v| v.language == "sv").await.unwrap();
    let v = log_in(&mut k, AINO, AINO_PIN).await;
    assert_eq!(
        (v.screen, v.mode, v.offline),
        (Screen::Items, Mode::Borrow, false)
    );
    assert_eq!(v.language, "sv");
    // A patron's RFID library card left on the pad is no item...
    let card = iso28560::ItemTag {
        usage: Some(iso28560::Usage::PATRON_CARD),
        ..iso28560::ItemTag::new(iso28560::DataModel::Part3, AINO, Some(sim::ISIL))
    };
    k.pad.place(SimTag::new(
        SimTag::uid_from(0xCA4D),
        0x3E,
        card.encode(32).unwrap(),
    ));
    // ...nor is the card scanned again at the items screen.
    k.send(Input::Scan(AINO.into())).await;

    // A stack: two books, two of a three-disc audiobook, a reference book, a book reserved for
    // someone else, a blank tag and a tag that needs a few tries to read.
    for t in [
        sim::tag("HE0000001", 1, 1),
        sim::tag("HE0000003", 1, 1),
        sim::tag("HE0000008", 1, 3),
        sim::tag("HE0000008", 2, 3),
        sim::tag("HE0000005", 1, 1),
        sim::tag("HE0000004", 1, 1),
        SimTag::new(SimTag::uid_from(0xBAD), 0x00, vec![0; 32]),
    ] {
        k.pad.place(t);
    }
    let mut flaky = sim::tag("HE0000010", 1, 1);
    flaky.failing_reads = 2;
    let flaky_uid = flaky.uid;
    k.pad.place(flaky);

    let lent = settled(&mut k, "HE0000001").await;
    assert_eq!(
        (lent.state, lent.outcome, lent.title.as_str()),
        (RowState::Ok, Outcome::Lent, "Tuntematon sotilas")
    );
    assert!(!lent.due.is_empty());
    assert_eq!(settled(&mut k, "HE0000003").await.outcome, Outcome::Lent);
    assert_eq!(
        settled(&mut k, "HE0000010").await.outcome,
        Outcome::Lent,
        "read on a later try"
    );
    let refused = settled(&mut k, "HE0000005").await;
    assert_eq!(
        (refused.state, refused.outcome),
        (RowState::Failed, Outcome::LibrarySaid)
    );
    assert!(!refused.note.is_empty(), "the library's words are shown");
    assert_eq!(settled(&mut k, "HE0000004").await.state, RowState::Failed);
    let v = k
        .wait_for(WAIT, |v| {
            v.items.iter().any(|r| r.outcome == Outcome::UnreadableTag)
        })
        .await
        .expect("the blank tag is reported");
    assert!(
        v.items.iter().all(|r| r.item != AINO),
        "the library card became a row"
    );
    let parts = row(&v, "HE0000008").unwrap();
    assert_eq!(
        (parts.outcome, parts.note.as_str()),
        (Outcome::PartsMissing, "2/3")
    );

    // Security: lent items unsecured, refused ones still secured.
    let pad = k.pad.clone();
    let afi = move |item: &str, part: u8, parts: u8| {
        pad.tag(sim::tag(item, part, parts).uid).unwrap().afi
    };
    assert_eq!(afi("HE0000001", 1, 1), 0xC2);
    assert_eq!(k.pad.tag(flaky_uid).unwrap().afi, 0xC2);
    assert_eq!(afi("HE0000005", 1, 1), 0x07);
    assert_eq!(
        afi("HE0000008", 1, 3),
        0x07,
        "not lent while a part is missing"
    );

    // The third disc arrives: the set is lent, every part unsecured.
    k.pad.place(sim::tag("HE0000008", 3, 3));
    assert_eq!(settled(&mut k, "HE0000008").await.outcome, Outcome::Lent);
    for p in 1..=3 {
        assert_eq!(afi("HE0000008", p, 3), 0xC2);
    }

    // A barcode that is no item, scanned.
    k.send(Input::Scan("XYZ-NOT-AN-ITEM".into())).await;
    assert_eq!(
        settled(&mut k, "XYZ-NOT-AN-ITEM").await.state,
        RowState::Failed
    );

    // The language switches mid-session; the rows stay.
    k.tap(Action::Language("en".into())).await;
    k.wait_for(WAIT, |v| v.language == "en").await.unwrap();
    k.tap(Action::Language("sv".into())).await;
    let v = k.wait_for(WAIT, |v| v.language == "sv").await.unwrap();
    assert!(v.items.len() >= 8);
    assert!(
        rig.running.received().iter().all(|r| r.item != AINO),
        "the card was sent as an item"
    );

    // Receipt.
    k.tap(Action::Finish).await;
    let v = k
        .wait_for(WAIT, |v| v.screen == Screen::Receipt)
        .await
        .unwrap();
    assert!(v.printer_ready);
    k.tap(Action::Receipt(true)).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Goodbye)
        .await
        .expect("goodbye");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let receipts = rig.printer.receipts();
    assert_eq!(receipts.len(), 1, "errors: {:?}", rig.printer.errors());
    let text = Paper::text(&receipts[0]);
    for want in [
        "Lappeenrannan kaupunginkirjasto",
        "Pääkirjasto",
        "Lån",
        "Tuntematon sotilas",
        "HE0000001",
        "Förfallodag",
        "Kalevala",
        "Exemplar: 4",
        "heili.finna.fi",
    ] {
        assert!(text.contains(want), "receipt lacks {want:?}:\n{text}");
    }
    for secret in [AINO, "Aino", "Virtanen", AINO_PIN] {
        assert!(
            !text.contains(secret),
            "the receipt names the patron ({secret}):\n{text}"
        );
    }
    assert!(rig.printer.errors().is_empty());

    // Returning one book (no login): it is secured again.
    k.pad.clear();
    k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
        .await
        .expect("back to welcome");
    k.tap(Action::Start(Mode::Checkin)).await;
    k.wait_for(WAIT, |v| {
        v.screen == Screen::Items && v.mode == Mode::Checkin
    })
    .await
    .unwrap();
    let mut back = sim::tag("HE0000001", 1, 1);
    back.afi = 0xC2;
    k.pad.place(back);
    let r = settled(&mut k, "HE0000001").await;
    assert_eq!((r.state, r.outcome), (RowState::Ok, Outcome::Returned));
    assert_eq!(afi("HE0000001", 1, 1), 0x07);
    k.shut_down().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_strangers_bans_a_stubborn_tag_and_an_empty_printer() {
    let (_tmp, rig, mut k) = started("").await;
    let v = log_in(&mut k, AINO, "9999").await;
    assert_eq!(
        (v.screen, v.message),
        (Screen::Message, Some(Message::WrongPin))
    );
    k.tap(Action::Dismiss).await;
    let v = k.wait_for(WAIT, |v| v.screen == Screen::Pin).await.unwrap();
    assert_eq!(v.pin_length, 0);
    k.tap(Action::Cancel).await;

    let v = log_in(&mut k, "99999999999999", "1234").await;
    assert_eq!(v.message, Some(Message::UnknownCard));
    k.tap(Action::Dismiss).await;
    // A code that is no card at all (a stranger's QR link): the patron reads so, not silence.
    k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
        .await
        .unwrap();
    k.send(Input::Scan("https://example.org/menu?table=7".into()))
        .await;
    let v = k
        .wait_for(WAIT, |v| v.screen == Screen::Message)
        .await
        .expect("a refused scan is answered");
    assert_eq!(v.message, Some(Message::UnknownCard));
    k.tap(Action::Dismiss).await;
    let v = log_in(&mut k, "24680000000037", "1111").await;
    assert_eq!(v.message, Some(Message::PatronBlocked), "a lending ban");
    k.tap(Action::Dismiss).await;

    // Typed on the screen's pad instead of scanned.
    k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
        .await
        .unwrap();
    k.tap(Action::Start(Mode::Borrow)).await;
    let v = k.wait_for(WAIT, |v| v.card_entry.is_some()).await.unwrap();
    assert_eq!(v.screen, Screen::Pin);
    k.type_digits(AINO).await;
    k.wait_for(WAIT, |v| v.card_entry.is_none() && v.screen == Screen::Pin)
        .await
        .unwrap();
    k.type_digits(AINO_PIN).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Items)
        .await
        .expect("logged in by touch");

    // A tag whose AFI write is acknowledged but does not stick: read back, the loan is undone.
    let mut stubborn = sim::tag("HE0000002", 1, 1);
    stubborn.ignores_afi = true;
    k.pad.place(stubborn);
    let r = settled(&mut k, "HE0000002").await;
    assert_eq!(
        (r.state, r.outcome),
        (RowState::Failed, Outcome::SecurityFailed)
    );
    assert_eq!(
        item_status(&rig, "HE0000002").await,
        registry::ItemStatus::Available,
        "the loan was undone"
    );

    // The same for a tag whose EAS bit does not stick (the rig secures with AFI and EAS):
    // read back with NXP's EAS alarm, the loan is undone and the tag keeps sounding the gate.
    let mut stubborn = sim::tag("HE0000009", 1, 1);
    stubborn.ignores_eas = true;
    let uid = stubborn.uid;
    k.pad.place(stubborn);
    let r = settled(&mut k, "HE0000009").await;
    assert_eq!(
        (r.state, r.outcome),
        (RowState::Failed, Outcome::SecurityFailed)
    );
    let tag = k.pad.tag(uid).unwrap();
    assert!(tag.eas, "the gate still sounds for it");
    assert_eq!(tag.afi, 0x07, "its AFI was put back to secured");
    assert_eq!(
        item_status(&rig, "HE0000009").await,
        registry::ItemStatus::Available,
        "the loan was undone"
    );
    // A good tag is lent with both bits switched, each read back.
    k.pad.place(sim::tag("HE0000003", 1, 1));
    assert_eq!(settled(&mut k, "HE0000003").await.outcome, Outcome::Lent);
    let good = k.pad.tag(sim::tag("HE0000003", 1, 1).uid).unwrap();
    assert_eq!((good.afi, good.eas), (0xC2, false), "lent: both bits off");

    // Out of paper: offered no receipt, the session still ends.
    k.pad.place(sim::tag("HE0000006", 1, 1));
    assert_eq!(settled(&mut k, "HE0000006").await.outcome, Outcome::Lent);
    rig.printer.set_status(receipt::PrinterStatus {
        paper_out: true,
        ..Default::default()
    });
    k.tap(Action::Finish).await;
    let v = k
        .wait_for(WAIT, |v| v.screen == Screen::Receipt)
        .await
        .unwrap();
    assert!(!v.printer_ready);
    k.tap(Action::Receipt(false)).await;
    k.wait_for(WAIT, |v| v.screen == Screen::Goodbye)
        .await
        .unwrap();
    assert!(rig.printer.receipts().is_empty());
    k.shut_down().await.unwrap();

    // The kiosk's own log: the refusals at login, and in its security log the two tags whose
    // security would not switch, each with the patron's pseudonym (never her card number).
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let key = settings.allowlist.as_ref().unwrap().card_key.clone();
    let aino = eventlog::pseudonym(&key, &redact::CardNumber::new(AINO));
    let log = eventlog::EventLog::open(&settings.state_dir.join("events")).unwrap();
    let all = log.between(0, i64::MAX).unwrap();
    let codes: Vec<(&str, Option<&str>)> = all
        .iter()
        .filter(|e| e.kind == eventlog::Kind::Denied)
        .map(|e| (e.code.as_deref().unwrap_or(""), e.card.as_deref()))
        .collect();
    assert_eq!(
        codes.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        ["wrong-pin", "unknown-card", "lending-ban"],
        "{all:#?}"
    );
    assert_eq!(codes[0].1, Some(aino.as_str()));
    let security = log.security_between(0, i64::MAX).unwrap();
    let tags: Vec<&str> = security
        .iter()
        .filter(|e| e.code.as_deref() == Some("tag-security-failed"))
        .filter(|e| e.card.as_deref() == Some(aino.as_str()))
        .filter_map(|e| e.item.as_deref())
        .collect();
    assert_eq!(tags, ["HE0000002", "HE0000009"], "{security:#?}");
    // What the console is sent of them names no item (its records never do).
    let sent = format!("{:?}", eventlog::report_event(&security[0]));
    assert!(!sent.contains("HE0000002"), "{sent}");
    let raw = format!("{all:?}");
    assert!(
        !raw.contains(AINO) && !raw.contains("24680000000037"),
        "{raw}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_loans_are_queued_survive_a_crash_and_reach_the_library_once() {
    let day = || {
        e2e::daemons_now()
            .with_timezone(&chrono::Local)
            .format("%Y%m%d")
            .to_string()
    };
    let first_day = day();
    let (tmp, mut rig, mut k) = started("").await;
    log_in(&mut k, AINO, AINO_PIN).await;
    k.pad.place(sim::tag("HE0000001", 1, 1));
    assert_eq!(settled(&mut k, "HE0000001").await.outcome, Outcome::Lent);

    // The library system slows past the kiosk's patience: the loan is made offline, but the
    // request may have reached the library system, so the record is in doubt.
    e2e::control(&rig.running, "latency 3000").await;
    k.pad.place(sim::tag("HE0000003", 1, 1));
    let r = settled(&mut k, "HE0000003").await;
    assert_eq!(
        (r.state, r.outcome),
        (RowState::Notice, Outcome::LentOffline)
    );
    // Then it is gone altogether: refused connections (queued in doubt all the same, and
    // checked before sending: the kiosk does not tell a refusal from a reply cut off).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sip_addr = rig.running.sip2_tls.unwrap();
    let https_addr = rig.running.https.unwrap();
    rig.running.stop();
    for n in ["HE0000006", "HE0000007"] {
        k.pad.place(sim::tag(n, 1, 1));
        let r = settled(&mut k, n).await;
        assert_eq!(
            (r.state, r.outcome),
            (RowState::Notice, Outcome::LentOffline),
            "{n}"
        );
        assert_eq!(k.pad.tag(sim::tag(n, 1, 1).uid).unwrap().afi, 0xC2);
    }
    assert!(k.view().offline);
    k.pad.place(sim::tag("HE0000009", 1, 1));
    assert_eq!(
        settled(&mut k, "HE0000009").await.outcome,
        Outcome::OfflineLimit,
        "3 offline loans at most"
    );

    // The kiosk dies without a goodbye; its queue is on disk.
    let queue_dir = rig.dir.join("state/queue");
    k.crash().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let q = Queue::open(&queue_dir).unwrap();
    let queued: Vec<(String, State)> = q.list().into_iter().map(|d| (d.item, d.state)).collect();
    // Every online failure after the request left is in doubt: checked before it is sent.
    assert_eq!(
        queued,
        [
            ("HE0000003".to_owned(), State::InFlight),
            ("HE0000006".to_owned(), State::InFlight),
            ("HE0000007".to_owned(), State::InFlight)
        ]
    );
    assert_eq!(q.loans_of(&redact::CardNumber::new(AINO)), 3);

    // The library system comes back where it was, with its state.
    let before = rig.running.received();
    rig.running = library_sim::server::start(library_sim::server::Settings {
        sip2_tls: Some(sip_addr),
        https: Some(https_addr),
        allowlist: Some(tmp.path().join("allowlist").join("published")),
        dialect: sip2::Dialect {
            charset: sip2::Charset::Utf8,
            ..sip2::Dialect::standard()
        },
        ..library_sim::server::Settings::loopback(fixtures(), tmp.path().to_owned())
    })
    .await
    .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let registry = registry::AnyRegistry::start(settings.registry.as_ref().unwrap()).unwrap();
    let first = q.deliver(&registry).await.unwrap();
    assert_eq!(
        (first.delivered, first.conflicts, first.waiting),
        (3, 0, 0),
        "{first:?}"
    );
    let again = q.deliver(&registry).await.unwrap();
    assert_eq!(again.delivered, 0);
    assert!(q.list().is_empty());

    // Each item lent exactly once, whichever way it went.
    let mut all = before;
    all.extend(rig.running.received());
    for n in ["HE0000003", "HE0000006", "HE0000007"] {
        let lent: Vec<_> = all
            .iter()
            .filter(|r| r.kind == "checkout" && r.item == n && r.ok)
            .collect();
        assert_eq!(lent.len(), 1, "{n}: {lent:?}");
        let f = registry.item(n).await.unwrap();
        assert_eq!(f.status, registry::ItemStatus::OnLoan, "{n}");
    }
    let resent: Vec<_> = rig
        .running
        .received()
        .into_iter()
        .filter(|r| r.item == "HE0000003" && r.kind == "checkout")
        .collect();
    if first.confirmed_in_doubt == 1 {
        assert!(
            resent.is_empty(),
            "an in-doubt loan the library already had was sent again"
        );
    }
    let no_block: Vec<_> = rig
        .running
        .received()
        .into_iter()
        .filter(|r| r.no_block)
        .collect();
    // The loans were made today (or yesterday, if the test ran across midnight).
    let last_day = day();
    assert!(
        no_block
            .iter()
            .all(|r| r.transaction_date.starts_with(&first_day)
                || r.transaction_date.starts_with(&last_day)),
        "original dates: {no_block:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_koha_kiosk_lends_offline_and_koha_gets_the_loan_once_with_its_original_time() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rig = sim::rig(tmp.path(), &fixtures(), e2e::daemons_now(), "")
        .await
        .unwrap();
    rig.use_koha("").unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let lending_warned = |s: &kiosk::KioskSettings| {
        s.warnings()
            .iter()
            .any(|w| w.starts_with("offline.lending"))
    };
    assert!(!lending_warned(&settings), "{:?}", settings.warnings());
    // The kiosk's clock runs three hours ahead of the library's: the loan's time is the kiosk's,
    // not the delivery's.
    let clock = sim::clock_from(e2e::daemons_now() + chrono::Duration::hours(3));
    let mut k = sim::start_kiosk(settings, AirTime::default(), clock).unwrap();
    let store = rig.dir.join("state/allowlist");
    for _ in 0..100 {
        if store.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let https_addr = rig.running.https.unwrap();
    rig.running.stop();
    log_in(&mut k, AINO, AINO_PIN).await;
    k.pad.place(sim::tag("HE0000001", 1, 1));
    let r = settled(&mut k, "HE0000001").await;
    assert_eq!(
        (r.state, r.outcome),
        (RowState::Notice, Outcome::LentOffline)
    );
    let queue_dir = rig.dir.join("state/queue");
    k.shut_down().await.unwrap();
    let q = Queue::open(&queue_dir).unwrap();
    let at = q.list()[0].at;

    // Koha comes back where it was.
    rig.running = library_sim::server::start(library_sim::server::Settings {
        https: Some(https_addr),
        allowlist: Some(tmp.path().join("allowlist").join("published")),
        ..library_sim::server::Settings::loopback(fixtures(), tmp.path().to_owned())
    })
    .await
    .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let registry = registry::AnyRegistry::start(settings.registry.as_ref().unwrap()).unwrap();
    assert_eq!(registry.kind(), "koha-rest");
    let first = q.deliver(&registry).await.unwrap();
    assert_eq!((first.delivered, first.conflicts), (1, 0), "{first:?}");
    assert_eq!(q.deliver(&registry).await.unwrap().delivered, 0);
    assert!(q.list().is_empty());
    let koha = rig.running.state().await;
    let loan = &koha.loans["HE0000001"];
    assert_eq!(loan.card, AINO);
    assert_eq!(
        loan.lent_at,
        at.with_nanosecond(0).unwrap(),
        "the kiosk's time"
    );
    assert_eq!(loan.renewals, 0);
    let sent: Vec<_> = rig
        .running
        .received()
        .into_iter()
        .filter(|r| r.item == "HE0000001" && r.kind == "checkout")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].no_block && sent[0].ok, "{sent:?}");

    // Without the offline service, check-config warns that offline loans would wait for staff.
    let text = std::fs::read_to_string(&rig.config).unwrap();
    let text: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("offline_service"))
        .collect();
    std::fs::write(&rig.config, text.join("\n")).unwrap();
    std::fs::write(
        rig.dir.join("registry.secret"),
        "client_id = \"kiosk-lpr-1\"\nclient_secret = \"kiosk-secret-1\"\n",
    )
    .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    assert!(lending_warned(&settings), "{:?}", settings.warnings());
}
