//! The kiosk's flows: login with card and PIN (the library system, else the offline list),
//! borrow and return by RFID pad or barcode with the security bit switched and read back,
//! renew, loans and reservations, the receipt, idle logout. One task owns the state; touches,
//! scans and the pad's tags come in as [`Input`]s and every change goes out as a [`View`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use access::door::Source;
use chrono::NaiveDateTime;
use drivers::printer::ReceiptPrinter;
use drivers::rfid::RfidPad;
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
    /// Who a card and PIN belong to: the library system, else the list, with the one wrong-PIN
    /// lockout.
    verifier: Verifier<R>,
    /// Pseudonyms for log lines, under a key made at start.
    redactor: Redactor,
}

impl<R, P, Pr> std::fmt::Debug for Kiosk<R, P, Pr> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kiosk")
            .field("screen", &self.view.screen)
            .finish_non_exhaustive()
    }
}

/// Whole minutes, rounded up, at least one: what the patron is told to wait.
fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

/// The time left from `now` until `until` (Unix seconds).
fn left_until(until: i64, now: i64) -> Duration {
    Duration::from_secs(u64::try_from(until.saturating_sub(now)).unwrap_or(0))
}

fn date(t: NaiveDateTime) -> String {
    t.format("%-d.%-m.%Y").to_string()
}

fn hex(uid: &[u8; 8]) -> String {
    uid.iter().map(|b| format!("{b:02X}")).collect()
}

/// The row of an item that failed, with nothing more to say.
fn failed(item: &str, outcome: Outcome) -> Row {
    Row {
        item: item.to_owned(),
        state: RowState::Failed,
        outcome,
        ..Row::default()
    }
}

/// What the patron is told of an item the offline rules would not lend.
fn not_lent_offline(why: &Offline) -> Outcome {
    match why {
        Offline::NotForLoan => Outcome::NotForLoan,
        _ => Outcome::OfflineNotAllowed,
    }
}

/// How a return the library system took is shown, by where the item goes next.
fn returned(route: &ReturnRoute) -> (RowState, Outcome) {
    match route {
        ReturnRoute::Shelf => (RowState::Ok, Outcome::Returned),
        ReturnRoute::Hold => (RowState::Notice, Outcome::ReturnedForHold),
        ReturnRoute::Transfer { .. } | ReturnRoute::Staff => {
            (RowState::Notice, Outcome::ReturnedForTransfer)
        }
    }
}

/// Items whose row says they failed.
fn failed_items(rows: &[Row]) -> HashSet<String> {
    rows.iter()
        .filter(|r| r.state == RowState::Failed)
        .map(|r| r.item.clone())
        .collect()
}

/// Whether a row still says something true of the pad's `items`: a set's "parts missing" while
/// the set is still incomplete, an unreadable tag's while it is on the pad; results stay.
fn row_still_meant(row: &Row, items: &[PadItem]) -> bool {
    match row.outcome {
        Outcome::PartsMissing => items
            .iter()
            .any(|g| matches!(g, PadItem::Incomplete { item, .. } if *item == row.item)),
        Outcome::UnreadableTag => items
            .iter()
            .any(|g| matches!(g, PadItem::Unreadable { uid, .. } if hex(uid) == row.item)),
        _ => true,
    }
}

fn online_refusal(f: &PatronFacts) -> bool {
    !f.card_valid || f.denies_loans() || f.self_service == Some(false)
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
        let view = View {
            language: settings.language.clone(),
            library: match &settings.branch {
                Some(b) => format!("{} – {b}", settings.library),
                None => settings.library.clone(),
            },
            printer_ready: printer.is_some(),
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
            verifier,
            redactor,
        }
    }

    /// Publishes health gauges into `metrics` (served by the daemon on loopback).
    pub fn with_metrics(mut self, metrics: daemon::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Health as numbers: no personal data, no labels.
    fn update_metrics(&mut self) {
        let now = Instant::now();
        if now < self.next_metrics {
            return;
        }
        self.next_metrics = now + Duration::from_secs(2);
        let m = &self.metrics;
        m.set("omatoimi_up", "1 while the kiosk's flows run", 1.0);
        m.set(
            "omatoimi_uptime_seconds",
            "seconds since the kiosk started",
            now.duration_since(self.started).as_secs_f64().round(),
        );
        let (name, help) = daemon::metrics::ONLINE;
        m.set(name, help, if self.view.offline { 0.0 } else { 1.0 });
        let all = self.queue.list();
        let conflicts = all
            .iter()
            .filter(|d| matches!(d.state, crate::queue::State::Conflict(_)))
            .count();
        m.set(
            "omatoimi_queue_waiting",
            "offline transactions waiting for the library system",
            (all.len() - conflicts) as f64,
        );
        m.set(
            "omatoimi_queue_conflicts",
            "offline transactions the library system refused, kept for staff",
            conflicts as f64,
        );
        if let Some(c) = self.list.as_ref().and_then(|l| l.store().current()) {
            let h = &c.header.header;
            m.set(
                "omatoimi_allowlist_version",
                "version of the offline list applied",
                h.version as f64,
            );
            m.set(
                "omatoimi_allowlist_expires_timestamp_seconds",
                "when the applied offline list expires (Unix time)",
                h.expires_at as f64,
            );
        }
        m.set(
            "omatoimi_rfid_pad_ok",
            "1 when the RFID pad answers (or none is configured)",
            if self.pad_error.is_some() { 0.0 } else { 1.0 },
        );
        m.set(
            "omatoimi_in_session",
            "1 while a patron is using the kiosk",
            if self.view.screen == Screen::Welcome {
                0.0
            } else {
                1.0
            },
        );
    }

    /// The view shown now.
    pub fn view(&self) -> &View {
        &self.view
    }

    fn show(&mut self) {
        self.view.clock = (self.clock)().format("%H:%M").to_string();
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
                match self.view.screen {
                    Screen::Welcome | Screen::Pin | Screen::Goodbye => {
                        self.card(CardNumber::new(text)).await
                    }
                    // The patron's own card scanned again is not an item (it would go to the
                    // library system, the log and the receipt as one).
                    Screen::Items if self.is_patrons_card(&text) => {}
                    Screen::Items => self.item(text, vec![]).await,
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

    async fn card(&mut self, card: CardNumber) {
        if !matches!(
            self.view.screen,
            Screen::Welcome | Screen::Pin | Screen::Goodbye
        ) {
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
        if self.settings.pin_required && !self.still_locked(&card) {
            self.view.screen = Screen::Pin;
            self.view.card_entry = None;
            self.view.pin_length = 0;
            self.show();
        } else {
            self.login(card, Pin::new("")).await;
        }
    }

    async fn action(&mut self, a: Action) {
        match a {
            Action::Touched => {}
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

    /// A locked card is told so before its PIN is asked for (and again if one is typed).
    fn still_locked(&mut self, card: &CardNumber) -> bool {
        let now = (self.clock)().timestamp();
        let Some(until) = self.verifier.locked(card, now) else {
            return false;
        };
        tracing::info!(card = %self.redactor.card(card), "refused: the card is locked here after wrong PINs");
        self.locked_out(left_until(until, now));
        true
    }

    /// Card and PIN to the verifier (the library system within the timeout, else the offline
    /// list, with the one wrong-PIN lockout), then the lending rules of whoever answered.
    async fn login(&mut self, card: CardNumber, pin: Pin) {
        if self.still_locked(&card) {
            return;
        }
        self.view.busy = true;
        self.show();
        let login = PatronLogin {
            card: card.clone(),
            pin: pin.clone(),
        };
        let at = (self.clock)();
        let verdict = self
            .verifier
            .verify(&card, pin, at.with_timezone(&chrono::Utc))
            .await;
        let online = verdict.source == Source::Online;
        if online {
            self.view.offline = false;
        }
        if let Some(why) = &verdict.online_failure {
            tracing::warn!("library system not answering at login: {why}; trying the offline list");
            self.view.offline = true;
        }
        match verdict.outcome {
            Ok(Identity::Online(facts)) => {
                if online_refusal(&facts) {
                    tracing::info!(card = ?card, "login refused: the account does not allow loans");
                    self.message(Message::PatronBlocked, Screen::Welcome);
                    return;
                }
                if let Some(l) = facts
                    .language
                    .as_deref()
                    .filter(|l| ["fi", "sv", "en"].contains(l) && !self.language_chosen)
                {
                    self.view.language = l.to_owned();
                }
                self.logged_in(login, true);
            }
            Ok(Identity::Offline(facts)) => {
                let branch = self.settings.branch.clone().unwrap_or_default();
                if let Some(why) = offline_rules::refusal(&facts, at.date_naive(), &branch) {
                    tracing::info!(card = ?card, "offline login refused: {why}");
                    self.message(Message::PatronBlocked, Screen::Welcome);
                } else {
                    self.logged_in(login, false);
                }
            }
            Err(Refusal::UnknownCard) if online => {
                tracing::info!("login refused: unknown card");
                self.message(Message::UnknownCard, Screen::Welcome);
            }
            Err(Refusal::WrongPin { .. }) => {
                if online {
                    tracing::info!(card = ?card, "login refused: wrong PIN");
                }
                self.wrong_pin();
            }
            Err(Refusal::LockedOut { until }) => {
                let left = left_until(until, at.timestamp());
                let (card, minutes) = (self.redactor.card(&card), minutes(left));
                tracing::warn!(target: "security", %card, minutes, "wrong PINs: the card is locked at this kiosk");
                self.locked_out(left);
            }
            Err(Refusal::UnknownCard | Refusal::Unreachable | Refusal::ListExpired) => {
                self.message(Message::OfflineUnknown, Screen::Welcome)
            }
        }
    }

    /// A wrong PIN, with tries left: type it again.
    fn wrong_pin(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.stage = Stage::Pin;
            s.entry.clear();
        }
        self.view.pin_length = 0;
        self.message(Message::WrongPin, Screen::Pin);
    }

    /// "Too many wrong PINs: try again in N minutes", and back to the welcome screen.
    fn locked_out(&mut self, left: Duration) {
        self.message_with(
            Message::LockedOut,
            minutes(left).to_string(),
            Screen::Welcome,
        );
    }

    fn logged_in(&mut self, login: PatronLogin, online: bool) {
        tracing::info!(card = ?login.card, online, "patron logged in");
        if let Some(s) = self.session.as_mut() {
            s.login = Some(login);
            s.online = online;
        }
        self.view.busy = false;
        self.view.mode = Mode::Borrow;
        self.view.screen = Screen::Items;
        self.view.items.clear();
        self.show();
    }

    fn upsert(&mut self, row: Row) {
        match self.view.items.iter_mut().find(|r| r.item == row.item) {
            Some(r) => *r = row,
            None => self.view.items.push(row),
        }
        self.show();
    }

    async fn poll_pad(&mut self) {
        let Some(pad) = self.pad.as_mut() else { return };
        let inventory = match pad.inventory().await {
            Ok(t) => {
                if self.pad_error.take().is_some() {
                    tracing::info!("RFID pad answering again");
                }
                t
            }
            Err(e) => {
                if self.pad_error.is_none() {
                    tracing::error!("RFID pad: {e}");
                    self.pad_error = Some(e.to_string());
                }
                return;
            }
        };
        let now = Instant::now();
        let uids: Vec<[u8; 8]> = inventory.iter().map(|t| t.uid).collect();
        if !self
            .tags
            .inventory(now.into_std(), &uids)
            .arrived
            .is_empty()
        {
            // Things moving on the pad are a patron at work.
            self.last_activity = now;
        }
        // An item that failed can be tried again by lifting it off the pad and back.
        let failed = failed_items(&self.view.items);
        self.tags.retry_lifted(|item| failed.contains(item));
        for uid in self.tags.to_read() {
            let read = crate::tags::read(pad, uid).await;
            if let Err(e) = &read {
                // No UID in the log: a patron card's UID can be its number.
                tracing::debug!("a tag not read: {e}");
            }
            self.tags.read(uid, read);
        }
        let items = self.tags.items();
        self.view.items.retain(|r| row_still_meant(r, &items));
        for g in items {
            match g {
                PadItem::Complete { item, uids } => {
                    if self.tags.claim(&item, uids.clone()) {
                        self.item(item, uids).await;
                    }
                }
                PadItem::Incomplete { item, seen, parts } => {
                    if !self.tags.handled(&item) {
                        self.upsert(Row {
                            item,
                            state: RowState::Failed,
                            outcome: Outcome::PartsMissing,
                            note: format!("{seen}/{parts}"),
                            ..Row::default()
                        });
                    }
                }
                PadItem::Unreadable { uid, why } => {
                    let key = hex(&uid);
                    if !self.view.items.iter().any(|r| r.item == key) {
                        tracing::info!("an unreadable tag on the pad: {why}");
                        self.upsert(Row {
                            item: key,
                            state: RowState::Failed,
                            outcome: Outcome::UnreadableTag,
                            ..Row::default()
                        });
                    }
                }
            }
        }
    }

    /// Handles one item (from the pad with its tags, or scanned with none).
    async fn item(&mut self, item: String, uids: Vec<[u8; 8]>) {
        let mode = self.session.as_ref().map_or(Mode::Borrow, |s| s.mode);
        let mut uids = uids;
        if uids.is_empty() {
            // Scanned: done once, unless it failed; its tags, if it has any on the pad, are
            // switched too (or the gate would alarm).
            let failed = self
                .view
                .items
                .iter()
                .any(|r| r.item == item && r.state == RowState::Failed);
            if self.tags.handled(&item) && !failed {
                return;
            }
            uids = self.tags.uids_of(&item);
            self.tags.reclaim(&item, uids.clone());
        }
        self.upsert(Row {
            item: item.clone(),
            state: RowState::Working,
            outcome: Outcome::Working,
            ..Row::default()
        });
        let row = match mode {
            Mode::Checkin => self.give_back(&item, &uids).await,
            _ => self.borrow(&item, &uids).await,
        };
        self.upsert(row);
    }

    async fn secure(&mut self, uids: &[[u8; 8]], on_loan: bool) -> Result<(), String> {
        match self.pad.as_mut() {
            Some(pad) => crate::tags::secure(pad, self.settings.security, uids, on_loan).await,
            None => Ok(()),
        }
    }

    async fn borrow(&mut self, item: &str, uids: &[[u8; 8]]) -> Row {
        let row = |state, outcome, due: String, note: String, title: Option<String>| Row {
            title: title.unwrap_or_default(),
            item: item.to_owned(),
            state,
            outcome,
            due,
            note,
        };
        let Some(login) = self.session.as_ref().and_then(|s| s.login.clone()) else {
            return failed(item, Outcome::PatronBlocked);
        };
        // Whether the library system may have made the loan even though we got no answer.
        let mut in_doubt = false;
        // A loan of an item with transactions still queued queues behind them, in order.
        let queued_before = self.queue.has_waiting(item);
        if let (Some(registry), false) = (&self.registry, queued_before) {
            match tokio::time::timeout(
                self.settings.online_timeout,
                registry.checkout(&login, item),
            )
            .await
            {
                Ok(Ok(o)) if o.ok => {
                    self.view.offline = false;
                    if let Err(e) = self.secure(uids, true).await {
                        // The item cannot leave unnoticed by the gate, so it is not lent.
                        tracing::warn!(item, "loan undone: {e}");
                        if let Some(r) = &self.registry
                            && let Err(e) = r.checkin(item).await
                        {
                            tracing::error!(
                                item,
                                "undoing the loan failed; staff must check the item in: {e}"
                            );
                        }
                        return row(
                            RowState::Failed,
                            Outcome::SecurityFailed,
                            String::new(),
                            String::new(),
                            o.title,
                        );
                    }
                    let due = o.due.map(date).unwrap_or_default();
                    if let Some(s) = self.session.as_mut() {
                        s.lines.push(ReceiptLine {
                            title: o.title.clone(),
                            item: item.to_owned(),
                            due: o.due,
                            failed: false,
                        });
                    }
                    let outcome = if o.renewed {
                        Outcome::Renewed
                    } else {
                        Outcome::Lent
                    };
                    return row(RowState::Ok, outcome, due, String::new(), o.title);
                }
                Ok(Ok(o)) => {
                    self.view.offline = false;
                    return row(
                        RowState::Failed,
                        Outcome::LibrarySaid,
                        String::new(),
                        o.message.unwrap_or_default(),
                        o.title,
                    );
                }
                Ok(Err(e)) if !e.is_offline() => {
                    tracing::error!(item, "checkout: {e}");
                    return failed(item, Outcome::NoAnswer);
                }
                Ok(Err(e)) => {
                    // Refused or cut off, the request may still have been taken in.
                    in_doubt = true;
                    tracing::warn!(item, "library system offline at checkout: {e}");
                }
                Err(_) => {
                    in_doubt = true;
                    tracing::warn!(item, "library system did not answer the checkout in time");
                }
            }
        }
        if !queued_before {
            self.view.offline = true;
        }
        if !self.settings.offline.lending {
            return failed(item, Outcome::OfflineNotAllowed);
        }
        // What the item is, from its tags on the pad: a reference copy stays, a DVD gets the
        // DVD's period (see `offline_rules`).
        let tags: Vec<&ItemTag> = uids.iter().filter_map(|u| self.tags.tag(u)).collect();
        let o = &self.settings.offline;
        let days = match offline_rules::decide(&tags, &o.loan_days, o.untagged) {
            Offline::Lend { days, .. } => days,
            not => {
                tracing::info!(item, "not lent offline: {not:?} (from its tags)");
                return failed(item, not_lent_offline(&not));
            }
        };
        if self.queue.loans_of(&login.card) >= self.settings.offline.max_loans {
            return failed(item, Outcome::OfflineLimit);
        }
        let due = offline_rules::due(self.today_time().date(), days);
        let staged =
            match self
                .queue
                .stage_loan(&login.card, item, self.today_time(), due, in_doubt)
            {
                Ok(staged) => staged,
                Err(e) => {
                    tracing::error!(item, "offline loan not recorded, so not made: {e}");
                    return failed(item, Outcome::NoAnswer);
                }
            };
        let id = staged.id();
        if self.secure(uids, true).await.is_err() {
            if let Err(e) = staged.undo(self.today_time()) {
                tracing::error!("offline queue: cannot take back record {id}: {e}");
            }
            return failed(item, Outcome::SecurityFailed);
        }
        if let Err(e) = staged.commit() {
            tracing::error!(item, "offline queue: record {id} not committed: {e}");
        }
        tracing::info!(item, id, "lent offline; queued for the library system");
        if let Some(s) = self.session.as_mut() {
            s.any_offline = true;
            s.lines.push(ReceiptLine {
                title: None,
                item: item.to_owned(),
                due: Some(due),
                failed: false,
            });
        }
        row(
            RowState::Notice,
            Outcome::LentOffline,
            date(due),
            String::new(),
            None,
        )
    }

    async fn give_back(&mut self, item: &str, uids: &[[u8; 8]]) -> Row {
        let row = |state, outcome, note: String, title: Option<String>| Row {
            title: title.unwrap_or_default(),
            item: item.to_owned(),
            state,
            outcome,
            due: String::new(),
            note,
        };
        let mut in_doubt = false;
        let queued_before = self.queue.has_waiting(item);
        if let (Some(registry), false) = (&self.registry, queued_before) {
            match tokio::time::timeout(self.settings.online_timeout, registry.checkin(item)).await {
                Ok(Ok(o)) if o.ok => {
                    self.view.offline = false;
                    let secured = self.secure(uids, false).await;
                    if let Some(s) = self.session.as_mut() {
                        s.lines.push(ReceiptLine {
                            title: o.title.clone(),
                            item: item.to_owned(),
                            due: None,
                            failed: false,
                        });
                    }
                    if secured.is_err() {
                        return row(
                            RowState::Notice,
                            Outcome::SecurityFailed,
                            String::new(),
                            o.title,
                        );
                    }
                    let (state, outcome) = returned(&o.route);
                    return row(state, outcome, String::new(), o.title);
                }
                Ok(Ok(o)) => {
                    self.view.offline = false;
                    let words = o.message.unwrap_or_default();
                    return row(RowState::Failed, Outcome::NotReturned, words, o.title);
                }
                Ok(Err(e)) if !e.is_offline() => {
                    tracing::error!(item, "checkin: {e}");
                    return failed(item, Outcome::NoAnswer);
                }
                Ok(Err(e)) => {
                    in_doubt = true;
                    tracing::warn!(item, "library system offline at checkin: {e}");
                }
                Err(_) => {
                    in_doubt = true;
                    tracing::warn!(item, "library system did not answer the checkin in time");
                }
            }
        }
        if !queued_before {
            self.view.offline = true;
        }
        if !self.settings.offline.returns {
            return failed(item, Outcome::NoAnswer);
        }
        let staged = match self.queue.stage_return(item, self.today_time(), in_doubt) {
            Ok(staged) => staged,
            Err(e) => {
                tracing::error!(item, "offline return not recorded: {e}");
                return failed(item, Outcome::NoAnswer);
            }
        };
        // A return stands whether or not the tag could be secured again.
        let secured = self.secure(uids, false).await;
        let id = staged.id();
        if let Err(e) = staged.commit() {
            tracing::error!(item, "offline queue: record {id} not committed: {e}");
        }
        if secured.is_err() {
            return row(
                RowState::Notice,
                Outcome::SecurityFailed,
                String::new(),
                None,
            );
        }
        if let Some(s) = self.session.as_mut() {
            s.any_offline = true;
            s.lines.push(ReceiptLine {
                title: None,
                item: item.to_owned(),
                due: None,
                failed: false,
            });
        }
        row(
            RowState::Notice,
            Outcome::ReturnedOffline,
            String::new(),
            None,
        )
    }

    /// Fetches the patron's loans and reservations into the view; false when the library
    /// system does not answer.
    async fn fetch_loans(&mut self) -> bool {
        let (Some(login), Some(registry)) = (
            self.session.as_ref().and_then(|s| s.login.clone()),
            self.registry.as_ref(),
        ) else {
            return false;
        };
        let Ok(Ok(acc)) =
            tokio::time::timeout(self.settings.online_timeout * 3, registry.account(&login)).await
        else {
            return false;
        };
        let now = self.today_time();
        self.view.loans = acc
            .loans
            .iter()
            .map(|l| Loan {
                title: l.title.clone().unwrap_or_default(),
                item: l.item.clone(),
                due: l.due.map(date).unwrap_or_default(),
                overdue: l.overdue || l.due.is_some_and(|d| d < now),
            })
            .collect();
        self.view.holds = acc
            .holds
            .iter()
            .map(|h| Hold {
                title: h.title.clone().unwrap_or_else(|| h.item.clone()),
                ready: false,
            })
            .collect();
        true
    }

    async fn loans(&mut self) {
        let Some(card) = self.session.as_ref().and_then(|s| s.login.as_ref()) else {
            return;
        };
        let card = card.card.clone();
        self.view.busy = true;
        self.show();
        let online = self.fetch_loans().await;
        self.view.busy = false;
        self.view.loans_partial = !online;
        if !online {
            // The library system's list is out of reach: the loans made here offline are known.
            self.view.offline = true;
            let now = self.today_time();
            self.view.loans = crate::offline_loans::shown(&self.queue.list(), &card, now);
            self.view.holds.clear();
        }
        self.view.screen = Screen::Loans;
        self.show();
    }

    async fn renew_all(&mut self) {
        let Some(login) = self.session.as_ref().and_then(|s| s.login.clone()) else {
            return;
        };
        if self.registry.is_none() {
            return;
        }
        self.view.busy = true;
        self.show();
        let Some(registry) = &self.registry else {
            return;
        };
        let result =
            tokio::time::timeout(self.settings.online_timeout * 3, registry.renew_all(&login))
                .await;
        let Ok(Ok(o)) = result else {
            self.view.busy = false;
            self.message(Message::Failed, Screen::Loans);
            return;
        };
        tracing::info!(
            renewed = o.renewed.len(),
            refused = o.not_renewed.len(),
            "renew all"
        );
        // Fresh due dates (the renewal answer has none per item); without them the rows say
        // "renewed" and the loans list keeps its old dates.
        self.fetch_loans().await;
        let loans = self.view.loans.clone();
        let title = |item: &str| {
            loans
                .iter()
                .find(|l| l.item == item)
                .map(|l| l.title.clone())
                .unwrap_or_default()
        };
        let due = |item: &str| {
            loans
                .iter()
                .find(|l| l.item == item)
                .map(|l| l.due.clone())
                .unwrap_or_default()
        };
        let mut rows: Vec<Row> = o
            .renewed
            .iter()
            .map(|item| Row {
                title: title(item),
                item: item.clone(),
                state: RowState::Ok,
                outcome: Outcome::Renewed,
                due: due(item),
                ..Row::default()
            })
            .collect();
        rows.extend(o.not_renewed.iter().map(|item| Row {
            title: title(item),
            item: item.clone(),
            state: RowState::Failed,
            outcome: Outcome::NotRenewed,
            note: o.message.clone().unwrap_or_default(),
            ..Row::default()
        }));
        for r in rows {
            match self.view.items.iter_mut().find(|x| x.item == r.item) {
                Some(x) => *x = r,
                None => self.view.items.push(r),
            }
        }
        self.view.busy = false;
        self.view.screen = Screen::Items;
        self.show();
    }

    async fn finish(&mut self) {
        let any = self.session.as_ref().is_some_and(|s| !s.lines.is_empty());
        if !any || self.printer.is_none() {
            self.goodbye().await;
            return;
        }
        self.view.printer_ready = match &self.printer {
            Some(p) => match tokio::time::timeout(Duration::from_secs(3), p.status()).await {
                Ok(Ok(s)) => s.can_print(),
                Ok(Err(e)) => {
                    tracing::warn!("receipt printer: {e}");
                    false
                }
                Err(_) => false,
            },
            None => false,
        };
        self.view.screen = Screen::Receipt;
        self.show();
    }

    async fn print(&mut self) {
        let (Some(printer), Some(s), Some(p)) = (
            &self.printer,
            self.session.as_ref(),
            self.settings.printer.as_ref(),
        ) else {
            self.goodbye().await;
            return;
        };
        let receipt = Receipt {
            library: self.settings.library.clone(),
            branch: self.settings.branch.clone(),
            printed_at: self.today_time(),
            kind: if s.mode == Mode::Checkin {
                ReceiptKind::Returns
            } else {
                ReceiptKind::Loans
            },
            lines: s.lines.clone(),
            offline: s.any_offline,
            footer: p.footer.clone(),
            language: self.view.language.clone(),
        };
        let bytes = receipt.encode(p.code_page, p.columns);
        match tokio::time::timeout(p.timeout * 3, printer.print(&bytes)).await {
            Ok(Ok(after)) => {
                if after.paper_near_end {
                    tracing::warn!("receipt printer: paper near its end");
                }
                self.goodbye().await;
            }
            Ok(Err(e)) => {
                tracing::error!("receipt not printed: {e}");
                self.message(Message::PrinterFailed, Screen::Goodbye);
            }
            Err(_) => {
                tracing::error!("receipt not printed: the printer did not finish in time");
                self.message(Message::PrinterFailed, Screen::Goodbye);
            }
        }
    }

    async fn goodbye(&mut self) {
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
        self.show();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
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
