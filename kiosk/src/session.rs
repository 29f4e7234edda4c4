//! The kiosk's flows: login with card and PIN (the library system, else the offline list),
//! borrow and return by RFID pad or barcode with the security bit switched and read back,
//! renew, loans and reservations, the receipt, idle logout. One task owns the state; touches,
//! scans and the pad's tags come in as [`Input`]s and every change goes out as a [`View`].
//!
//! This module is the shell: the state, the screens and the dispatch of inputs. What it calls:
//! - `login`: a card and PIN to the one verifier, then the lending rules of whoever answered.
//! - `items`: items on the pad or scanned, borrowed or returned online or through the queue.
//! - `account`: loans, holds and renewals.
//! - `finish`: the printer and the receipt at the end of a visit.
//! - `health`: the gauges of the health endpoint.
//!
//! The rules they apply are pure and tested apart: [`crate::pad`] (tags on the pad),
//! [`access::lending`] (offline lending), [`crate::queue`] (exactly-once delivery, loans in
//! doubt and their undo).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use access::door::Source;
use chrono::NaiveDateTime;
use drivers::printer::ReceiptPrinter;
use drivers::rfid::RfidPad;
use drivers::scan::ScanRule;
use iso28560::ItemTag;
use offline::{Identity, OfflineList, Refusal, Verifier};
use receipt::{Receipt, ReceiptKind, ReceiptLine};
use redact::{CardNumber, Pin, Redactor};
use registry::{PatronFacts, PatronLogin, Registry, ReturnRoute};
use tokio::sync::mpsc;
use tokio::time::Instant;
use ui::{Action, Hold, Loan, Message, Mode, Outcome, Row, RowState, Screen, View};

use crate::offline_rules::{self, Offline};
use crate::pad::Pad;
use crate::queue::Queue;
use crate::settings::KioskSettings;
use crate::stack::PadItem;

mod account;
mod finish;
mod health;
mod items;
mod login;

use items::date;

/// The kiosk's local time now.
pub type Clock = Arc<dyn Fn() -> chrono::DateTime<chrono::Local> + Send + Sync>;

/// Where views go (the window, a test).
pub type Publish = Box<dyn Fn(View) + Send + Sync>;

/// Something that happened at the kiosk.
#[derive(Clone)]
pub enum Input {
    /// A touch on the screen.
    Ui(Action),
    /// A card read by a card reader.
    Card(CardNumber),
    /// A barcode scanned: a card at the welcome screen, an item after.
    Scan(String),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ui(a) => write!(f, "Ui({a:?})"),
            Self::Card(c) => write!(f, "Card({c:?})"),
            // A scan may be a card number.
            Self::Scan(t) => write!(f, "Scan({} characters)", t.chars().count()),
        }
    }
}

/// Fewest digits of a card number or PIN the kiosk submits.
const MIN_ENTRY: usize = 4;
/// How long a tag lies on the pad before it is read: items are acted on as soon as they are
/// put down.
const SETTLE: Duration = Duration::ZERO;
/// How long the thank-you screen stays.
const GOODBYE: Duration = Duration::from_secs(4);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Card,
    Pin,
}

/// Not `Debug`: `entry` holds the digits being typed, a PIN among them.
struct Session {
    mode: Mode,
    stage: Stage,
    card: Option<CardNumber>,
    entry: String,
    login: Option<PatronLogin>,
    online: bool,
    lines: Vec<ReceiptLine>,
    any_offline: bool,
}

/// The kiosk.
pub struct Kiosk<R, P, Pr> {
    settings: Arc<KioskSettings>,
    registry: Option<R>,
    list: Option<OfflineList>,
    queue: Queue,
    pad: Option<P>,
    printer: Option<Pr>,
    clock: Clock,
    publish: Publish,
    view: View,
    session: Option<Session>,
    /// The pad's tags, and the items acted on this session.
    tags: Pad,
    last_activity: Instant,
    goodbye_at: Option<Instant>,
    after_message: Screen,
    pad_error: Option<String>,
    /// The patron picked a language at this visit: the library system's idea of it does not
    /// override theirs.
    language_chosen: bool,
    metrics: daemon::Metrics,
    started: Instant,
    next_metrics: Instant,
    /// When the gauges read from the event log are read again.
    next_log_gauges: Instant,
    /// The library's console, when the kiosk reports to one.
    uplink: Option<Arc<uplink::Link>>,
    /// The kiosk's event log and security log (refusals at login, PIN guessing, tags whose
    /// security would not switch, refused lists, commands and offline loans).
    events: Option<eventlog::EventLog>,
    /// Whether the receipt printer was out of paper at its last print (unknown before one).
    paper_out: Option<bool>,
    /// Who a card and PIN belong to: the library system, else the list, with the one wrong-PIN
    /// lockout.
    verifier: Verifier<R>,
    /// Logins tried in the last minute, all cards together: many cards guessed at one kiosk
    /// are slowed down as at a door (times since `started`).
    attempts: access::limits::Flood,
    /// Pseudonyms for log lines, under a key made at start.
    redactor: Redactor,
    /// Titles seen online, for items handled offline.
    titles: Option<crate::titles::Titles>,
    /// The cues a patron hears.
    sounds: Option<crate::sounds::Player>,
}

impl<R, P, Pr> std::fmt::Debug for Kiosk<R, P, Pr> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kiosk")
            .field("screen", &self.view.screen)
            .finish_non_exhaustive()
    }
}

impl<R: Registry + Clone, P: RfidPad, Pr: ReceiptPrinter> Kiosk<R, P, Pr> {
    /// A kiosk at its welcome screen.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: Arc<KioskSettings>,
        registry: Option<R>,
        list: Option<OfflineList>,
        queue: Queue,
        pad: Option<P>,
        printer: Option<Pr>,
        clock: Clock,
        publish: Publish,
    ) -> Self {
        // A configured pad that did not open is a fault the health endpoint reports.
        let pad_error = (settings.pad.is_some() && pad.is_none())
            .then(|| "the RFID pad did not open".to_owned());
        // The log's pseudonyms: a key that lives only in memory.
        let mut key = [0u8; 32];
        if let Err(e) = getrandom::getrandom(&mut key) {
            tracing::error!("no random key for the log's pseudonyms: {e}");
        }
        let redactor = Redactor::new(&key);
        let mut verifier = Verifier::new(
            registry.clone(),
            list.clone(),
            settings.pin_lockout,
            settings.online_timeout,
        );
        if !settings.offline.lending {
            verifier = verifier.without_offline_answers();
        }
        let settings_sound = settings.sound_player.clone();
        let attempts =
            access::limits::Flood::new(settings.max_attempts_per_minute, Duration::from_secs(60));
        let view = View {
            language: settings.language.clone(),
            library: match &settings.branch {
                Some(b) => format!("{} – {b}", settings.library),
                None => settings.library.clone(),
            },
            printer_ready: printer.is_some(),
            help: settings.help.for_language(&settings.language),
            ..View::default()
        };
        Self {
            settings,
            registry,
            list,
            queue,
            pad,
            printer,
            clock,
            publish,
            view,
            session: None,
            tags: Pad::new(SETTLE),
            last_activity: Instant::now(),
            goodbye_at: None,
            after_message: Screen::Welcome,
            pad_error,
            language_chosen: false,
            metrics: daemon::Metrics::new(),
            started: Instant::now(),
            next_metrics: Instant::now(),
            next_log_gauges: Instant::now(),
            uplink: None,
            events: None,
            paper_out: None,
            attempts,
            verifier,
            redactor,
            titles: None,
            sounds: crate::sounds::Player::new(settings_sound),
        }
    }

    /// Plays `cue`, when the kiosk has sound.
    fn cue(&self, cue: crate::sounds::Cue) {
        if let Some(p) = &self.sounds {
            p.play(cue);
        }
    }

    /// Remembers the titles the library system names, and shows them for items handled
    /// offline.
    pub fn with_titles(mut self, titles: crate::titles::Titles) -> Self {
        self.titles = Some(titles);
        self
    }

    /// Remembers `title` for `item` (an online answer named it).
    fn remember_title(&self, item: &str, title: Option<&str>) {
        if let (Some(t), Some(title)) = (&self.titles, title) {
            t.remember(item, title, (self.clock)().date_naive());
        }
    }

    /// The title last seen online for `item`.
    fn known_title(&self, item: &str) -> Option<String> {
        self.titles.as_ref().and_then(|t| t.title(item))
    }

    /// Publishes health gauges into `metrics` (served by the daemon on loopback).
    pub fn with_metrics(mut self, metrics: daemon::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Records refusals and security events in `events` (which reports them to the console,
    /// when it was told to).
    pub fn with_events(mut self, events: eventlog::EventLog) -> Self {
        self.events = Some(events);
        self
    }

    /// The card's pseudonym in the event log, under the offline list's card key (the key the
    /// console's patron orders are hashed with); none without a list, so nothing of the card
    /// is kept that its patron's export or erasure could not find.
    fn pseudonym(&self, card: &CardNumber) -> Option<String> {
        self.list
            .as_ref()
            .map(|l| eventlog::pseudonym(&l.settings().card_key, card))
    }

    /// A login refused (`reason`'s code): in the event log, and in the security log too when it
    /// is a sign of guessing (a card locked after wrong PINs).
    fn denied(&self, reason: access::policy::Reason, card: &CardNumber, source: &str) {
        if let Some(log) = &self.events {
            let mut e =
                eventlog::Event::new(eventlog::Kind::Denied, (self.clock)().timestamp_millis());
            e.code = Some(reason.code().into());
            e.card = self.pseudonym(card);
            e.source = Some(source.into());
            log.keep(e);
        }
    }

    /// A security event (`code`), about the patron at the kiosk when there is one, and `item`;
    /// `detail` holds neither (it goes to the console, the card's pseudonym with it, the item
    /// not).
    fn security_event(&self, code: &str, item: Option<&str>, detail: String) {
        let card = self
            .session
            .as_ref()
            .and_then(|s| s.login.as_ref())
            .and_then(|l| self.pseudonym(&l.card));
        match &self.events {
            Some(log) => eventlog::security_event(
                log,
                (self.clock)().timestamp_millis(),
                code,
                card,
                item.map(str::to_owned),
                detail,
            ),
            None => tracing::warn!(target: "security", code, "{detail}"),
        }
    }

    /// Reports loans and returns to the library's console as well.
    pub fn with_uplink(mut self, uplink: Arc<uplink::Link>) -> Self {
        self.uplink = Some(uplink);
        self
    }

    /// An event for the console (a loan or a return, `online` or `offline`): no card, no item.
    fn report(&self, kind: &str, how: &str) {
        if let Some(u) = &self.uplink {
            u.event(
                (self.clock)().timestamp_millis(),
                report::Event {
                    kind: kind.into(),
                    code: Some(how.into()),
                    card: None,
                    source: Some(self.settings.name.clone()),
                    detail: None,
                },
                false,
            );
        }
    }

    /// The view shown now.
    pub fn view(&self) -> &View {
        &self.view
    }

    fn show(&mut self) {
        self.view.clock = (self.clock)().format("%H:%M").to_string();
        self.view.help = self.settings.help.for_language(&self.view.language);
        (self.publish)(self.view.clone());
    }

    /// Runs until `inputs` closes or `shutdown` resolves.
    pub async fn run(
        mut self,
        mut inputs: mpsc::Receiver<Input>,
        shutdown: impl Future<Output = ()>,
    ) {
        self.show();
        let poll = self.settings.poll;
        let mut shutdown = std::pin::pin!(shutdown);
        daemon::notify("READY=1");
        // Pinged only from this loop: a kiosk stuck anywhere stops pinging and is restarted.
        let watchdog = daemon::watchdog_interval();
        let mut next_ping = Instant::now();
        loop {
            if let Some(every) = watchdog
                && Instant::now() >= next_ping
            {
                daemon::notify("WATCHDOG=1");
                next_ping = Instant::now() + every;
            }
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(i) => {
                        self.last_activity = Instant::now();
                        self.handle(i).await;
                    }
                    None => break,
                },
                () = tokio::time::sleep(poll) => self.tick().await,
                () = &mut shutdown => break,
            }
        }
        daemon::notify("STOPPING=1");
        self.end_session().await;
    }

    async fn tick(&mut self) {
        self.update_metrics();
        let now = Instant::now();
        if let Some(at) = self.goodbye_at {
            if now >= at {
                self.goodbye_at = None;
                self.welcome();
            }
            return;
        }
        if self.view.screen != Screen::Welcome
            && now.duration_since(self.last_activity) >= self.settings.idle_logout
        {
            tracing::info!(
                "idle logout after {} s",
                self.settings.idle_logout.as_secs()
            );
            self.end_session().await;
            self.welcome();
            return;
        }
        if self.view.screen == Screen::Items && self.pad.is_some() {
            self.poll_pad().await;
        }
        let clock = (self.clock)().format("%H:%M").to_string();
        if clock != self.view.clock {
            self.show();
        }
    }

    /// Handles one input (also used directly by tests and benchmarks).
    pub async fn handle(&mut self, input: Input) {
        match input {
            Input::Ui(a) => self.action(a).await,
            Input::Card(card) => self.card(card).await,
            Input::Scan(text) => {
                let text = text.trim().to_owned();
                if text.is_empty() {
                    return;
                }
                // A phone card's link or a library's prefixed code is a card by the card rule;
                // the error says what was wrong, never what was scanned.
                let card = self.settings.card_rule.card(&text);
                match self.view.screen {
                    _ if self.takes_cards() => match card {
                        Ok(card) => self.card(card).await,
                        Err(why) => {
                            // Not silent: the patron reads that this is no card of the library's.
                            tracing::warn!("scan at the welcome screen: {why}");
                            self.message(Message::UnknownCard, Screen::Welcome);
                        }
                    },
                    // The patron's own card scanned again is not an item (it would go to the
                    // library system, the log and the receipt as one).
                    Screen::Items
                        if card
                            .as_ref()
                            .is_ok_and(|c| self.is_patrons_card(c.expose())) => {}
                    // Items are read as plain codes, as the scanner always read them.
                    Screen::Items => match ScanRule::default().card(&text) {
                        Ok(item) => self.item(item.expose().to_owned(), vec![]).await,
                        Err(why) => tracing::warn!("scan of an item: {why}"),
                    },
                    _ => {}
                }
            }
        }
    }

    fn is_patrons_card(&self, text: &str) -> bool {
        self.session.as_ref().is_some_and(|s| {
            s.card.as_ref().is_some_and(|c| c.expose() == text)
                || s.login.as_ref().is_some_and(|l| l.card.expose() == text)
        })
    }

    /// A card now starts a session: at the welcome, PIN and goodbye screens, and on a message
    /// on its way back to the welcome screen (a refused card, say: the patron's next try).
    fn takes_cards(&self) -> bool {
        match self.view.screen {
            Screen::Welcome | Screen::Pin | Screen::Goodbye => true,
            Screen::Message => self.after_message == Screen::Welcome,
            _ => false,
        }
    }

    async fn card(&mut self, card: CardNumber) {
        if !self.takes_cards() {
            return;
        }
        self.goodbye_at = None;
        self.end_session().await;
        self.session = Some(Session {
            mode: Mode::Borrow,
            stage: Stage::Pin,
            card: Some(card.clone()),
            entry: String::new(),
            login: None,
            online: false,
            lines: vec![],
            any_offline: false,
        });
        if !self.settings.pin_required {
            self.login(card, Pin::new("")).await;
        } else if !self.still_locked(&card) {
            // (A locked card was told so by `still_locked`, once.)
            self.view.screen = Screen::Pin;
            self.view.card_entry = None;
            self.view.pin_length = 0;
            self.show();
        }
    }

    async fn action(&mut self, a: Action) {
        match a {
            Action::Touched => {}
            Action::Help => {
                if self.view.screen == Screen::Message && self.view.message == Some(Message::Help) {
                    // The help button again: back to where the patron was.
                    self.view.screen = self.after_message;
                    self.view.message = None;
                    self.show();
                } else {
                    let back = if self.view.screen == Screen::Message {
                        self.after_message
                    } else {
                        self.view.screen
                    };
                    self.message(Message::Help, back);
                }
            }
            Action::ToggleEasy => {
                self.view.easy = !self.view.easy;
                self.show();
            }
            Action::ToggleSpeech => {
                self.view.speech = !self.view.speech;
                self.show();
            }
            Action::Language(l) => {
                if ["fi", "sv", "en"].contains(&l.as_str()) {
                    self.view.language = l;
                    self.language_chosen = true;
                    self.show();
                }
            }
            Action::Start(Mode::Checkin) => {
                self.end_session().await;
                self.session = Some(Session {
                    mode: Mode::Checkin,
                    stage: Stage::Card,
                    card: None,
                    entry: String::new(),
                    login: None,
                    online: true,
                    lines: vec![],
                    any_offline: false,
                });
                self.view.mode = Mode::Checkin;
                self.view.screen = Screen::Items;
                self.show();
            }
            Action::Start(_) => {
                self.end_session().await;
                self.session = Some(Session {
                    mode: Mode::Borrow,
                    stage: Stage::Card,
                    card: None,
                    entry: String::new(),
                    login: None,
                    online: false,
                    lines: vec![],
                    any_offline: false,
                });
                self.view.screen = Screen::Pin;
                self.view.card_entry = Some(String::new());
                self.view.pin_length = 0;
                self.show();
            }
            Action::Digit(d) => {
                let Some(s) = self.session.as_mut() else {
                    return;
                };
                let max = if s.stage == Stage::Card { 20 } else { 12 };
                if self.view.screen == Screen::Pin && s.entry.len() < max && d <= 9 {
                    s.entry.push(char::from(b'0' + d));
                    self.sync_entry();
                }
            }
            Action::EraseDigit => {
                if let Some(s) = self.session.as_mut() {
                    s.entry.pop();
                    self.sync_entry();
                }
            }
            Action::SubmitPin => self.submit().await,
            Action::Cancel => {
                self.end_session().await;
                self.view.screen = Screen::Welcome;
                self.show();
            }
            Action::Finish => self.finish().await,
            Action::ShowLoans => self.loans().await,
            Action::BackToItems => {
                self.view.screen = Screen::Items;
                self.show();
            }
            Action::RenewAll => self.renew_all().await,
            Action::Renew(item) => self.renew_one(item).await,
            Action::Receipt(yes) => {
                if yes {
                    self.print().await;
                } else {
                    self.goodbye().await;
                }
            }
            Action::Dismiss => {
                if self.after_message == Screen::Goodbye {
                    self.goodbye().await;
                } else {
                    if self.session.is_none() && self.after_message != Screen::Welcome {
                        self.after_message = Screen::Welcome;
                    }
                    if self.after_message == Screen::Welcome {
                        self.end_session().await;
                    }
                    self.view.screen = self.after_message;
                    self.view.message = None;
                    self.show();
                }
            }
        }
    }

    fn sync_entry(&mut self) {
        if let Some(s) = &self.session {
            match s.stage {
                Stage::Card => self.view.card_entry = Some(s.entry.clone()),
                Stage::Pin => {
                    self.view.card_entry = None;
                    self.view.pin_length = s.entry.len();
                }
            }
            self.show();
        }
    }

    async fn submit(&mut self) {
        let Some(s) = self.session.as_mut() else {
            return;
        };
        // The OK key is disabled below this length; a fast second tap must not get past it
        // (an empty PIN would be a card-only login).
        if s.entry.len() < MIN_ENTRY {
            return;
        }
        match s.stage {
            Stage::Card => {
                let card = CardNumber::new(std::mem::take(&mut s.entry));
                if self.settings.pin_required {
                    s.card = Some(card.clone());
                    s.stage = Stage::Pin;
                    if !self.still_locked(&card) {
                        self.sync_entry();
                    }
                } else {
                    self.login(card, Pin::new("")).await;
                }
            }
            Stage::Pin => {
                let Some(card) = s.card.clone() else { return };
                let pin = Pin::new(std::mem::take(&mut s.entry));
                self.login(card, pin).await;
            }
        }
    }

    fn message(&mut self, m: Message, then: Screen) {
        self.message_with(m, String::new(), then);
    }

    fn message_with(&mut self, m: Message, note: String, then: Screen) {
        self.view.message = Some(m);
        self.view.message_note = note;
        self.view.screen = Screen::Message;
        self.view.busy = false;
        self.after_message = then;
        self.show();
    }

    fn today_time(&self) -> NaiveDateTime {
        (self.clock)().naive_local()
    }

    async fn goodbye(&mut self) {
        // Done, and something is still on the pad: a book forgotten, or a return not shelved.
        if self.pad.is_some() && !self.tags.items().is_empty() {
            self.cue(crate::sounds::Cue::LeftOnPad);
        }
        self.end_session().await;
        self.view.screen = Screen::Goodbye;
        self.goodbye_at = Some(Instant::now() + GOODBYE);
        self.show();
    }

    async fn end_session(&mut self) {
        if let Some(s) = self.session.take()
            && let (Some(login), true, Some(r)) = (s.login, s.online, &self.registry)
            && let Ok(Err(e)) =
                tokio::time::timeout(Duration::from_secs(2), r.end_session(&login)).await
        {
            tracing::debug!("end session: {e}");
        }
        self.tags.forget_handled();
        self.view.items.clear();
        self.view.loans.clear();
        self.view.loans_partial = false;
        self.view.holds.clear();
        self.view.pin_length = 0;
        self.view.card_entry = None;
        self.view.message = None;
        self.view.busy = false;
        self.view.mode = Mode::Borrow;
    }

    /// Back to the welcome screen for the next patron, in the kiosk's own language.
    fn welcome(&mut self) {
        self.view.screen = Screen::Welcome;
        self.view.language = self.settings.language.clone();
        self.language_chosen = false;
        // The next patron starts from the usual screen and silence.
        self.view.easy = false;
        self.view.speech = false;
        self.show();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::items::*;
    use super::login::*;
    use super::*;

    fn row(item: &str, state: RowState, outcome: Outcome) -> Row {
        Row {
            item: item.into(),
            state,
            outcome,
            ..Row::default()
        }
    }

    #[test]
    fn dates_are_finnish_without_leading_zeros() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 3, 4)
            .unwrap()
            .and_hms_opt(23, 59, 59)
            .unwrap();
        assert_eq!(date(t), "4.3.2026");
    }

    #[test]
    fn a_uid_is_shown_as_upper_case_hex() {
        assert_eq!(
            hex(&[0xE0, 0x04, 0x01, 0x50, 0x0a, 0xb1, 0xc2, 0x03]),
            "E00401500AB1C203"
        );
    }

    #[test]
    fn a_failed_row_says_only_its_outcome() {
        assert_eq!(
            failed("HE0000001", Outcome::OfflineLimit),
            row("HE0000001", RowState::Failed, Outcome::OfflineLimit)
        );
    }

    #[test]
    fn only_failed_rows_make_failed_items() {
        let rows = [
            row("A", RowState::Failed, Outcome::SecurityFailed),
            row("B", RowState::Ok, Outcome::Lent),
            row("C", RowState::Notice, Outcome::LentOffline),
        ];
        assert_eq!(failed_items(&rows), HashSet::from(["A".to_owned()]));
    }

    #[test]
    fn parts_missing_and_unreadable_rows_go_when_the_pad_no_longer_shows_them() {
        let uid = [0xAB; 8];
        let pad = [
            PadItem::Incomplete {
                item: "KIT".into(),
                seen: 1,
                parts: 2,
            },
            PadItem::Unreadable {
                uid,
                why: "blank".into(),
            },
        ];
        let missing = |item| row(item, RowState::Failed, Outcome::PartsMissing);
        assert!(row_still_meant(&missing("KIT"), &pad));
        assert!(!row_still_meant(&missing("OTHER"), &pad));
        let unreadable = |item: String| row(&item, RowState::Failed, Outcome::UnreadableTag);
        assert!(row_still_meant(&unreadable(hex(&uid)), &pad));
        assert!(!row_still_meant(&unreadable(hex(&[1; 8])), &pad));
        // Results stay, on the pad or not.
        assert!(row_still_meant(
            &row("KIT", RowState::Ok, Outcome::Lent),
            &[]
        ));
    }

    #[test]
    fn the_library_systems_answer_refuses_an_invalid_card_or_a_revoked_permission() {
        let good = PatronFacts {
            card_valid: true,
            ..PatronFacts::default()
        };
        assert!(!online_refusal(&good));
        assert!(online_refusal(&PatronFacts::default()));
        assert!(online_refusal(&PatronFacts {
            self_service: Some(false),
            ..good.clone()
        }));
        assert!(!online_refusal(&PatronFacts {
            self_service: Some(true),
            ..good
        }));
    }

    #[test]
    fn an_item_refused_offline_says_why() {
        assert_eq!(not_lent_offline(&Offline::NotForLoan), Outcome::NotForLoan);
        assert_eq!(
            not_lent_offline(&Offline::Unknown),
            Outcome::OfflineNotAllowed
        );
    }

    #[test]
    fn a_return_is_shown_by_where_the_item_goes() {
        assert_eq!(
            returned(&ReturnRoute::Shelf),
            (RowState::Ok, Outcome::Returned)
        );
        assert_eq!(
            returned(&ReturnRoute::Hold),
            (RowState::Notice, Outcome::ReturnedForHold)
        );
        for route in [ReturnRoute::Transfer { to: None }, ReturnRoute::Staff] {
            assert_eq!(
                returned(&route),
                (RowState::Notice, Outcome::ReturnedForTransfer)
            );
        }
    }
}
