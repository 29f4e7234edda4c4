//! Logging in: a locked card told so at once, card and PIN to the verifier (the library system
//! within the timeout, else the offline list, with the one wrong-PIN lockout), then the lending
//! rules of whoever answered.

use super::*;
use access::policy::Reason;

/// Whole minutes, rounded up, at least one: what the patron is told to wait.
pub(super) fn minutes(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

/// The time left from `now` until `until` (Unix seconds).
pub(super) fn left_until(until: i64, now: i64) -> Duration {
    Duration::from_secs(u64::try_from(until.saturating_sub(now)).unwrap_or(0))
}

pub(super) fn online_refusal(f: &PatronFacts) -> bool {
    !f.card_valid || f.denies_loans() || f.self_service == Some(false)
}

/// The message for a patron the library system refuses, with its note: a card no longer valid,
/// fines at or over the library's limit (the amount, worded for `language`), or another block.
pub(super) fn refusal_message(f: &PatronFacts, language: &str) -> (Message, String) {
    if !f.card_valid {
        return (Message::CardExpired, String::new());
    }
    match (f.fines, f.fine_limit) {
        (Some(owed), Some(limit)) if owed.0 > 0 && owed.0 >= limit.0 => {
            (Message::FinesOwed, money(owed, language))
        }
        _ => (Message::PatronBlocked, String::new()),
    }
}

/// An amount of euros as a patron reads it: `12,50 €` in Finnish and Swedish, `€12.50` in
/// English.
pub(super) fn money(c: registry::Cents, language: &str) -> String {
    let plain = c.to_string();
    match language {
        "en" => format!("€{plain}"),
        _ => format!("{} €", plain.replace('.', ",")),
    }
}

impl<R: Registry + Clone, P: RfidPad, Pr: ReceiptPrinter> Kiosk<R, P, Pr> {
    /// A locked card is told so before its PIN is asked for (and again if one is typed).
    pub(super) fn still_locked(&mut self, card: &CardNumber) -> bool {
        let now = (self.clock)().timestamp();
        let Some(until) = self.verifier.locked(card, now) else {
            return false;
        };
        tracing::info!(card = %self.redactor.card(card), "refused: the card is locked here after wrong PINs");
        self.denied(Reason::PinLockedOut, card, "kiosk");
        self.locked_out(left_until(until, now));
        true
    }

    /// Card and PIN to the verifier (the library system within the timeout, else the offline
    /// list, with the one wrong-PIN lockout), then the lending rules of whoever answered.
    pub(super) async fn login(&mut self, card: CardNumber, pin: Pin) {
        if self.still_locked(&card) {
            return;
        }
        if self.attempts.attempt(self.started.elapsed()).is_err() {
            tracing::warn!(target: "security", card = %self.redactor.card(&card), "too many login attempts at this kiosk: refused unchecked");
            self.denied(Reason::TooManyAttempts, &card, "kiosk");
            self.message(Message::TooManyAttempts, Screen::Welcome);
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
        let source = if online { "online" } else { "offline" };
        if online {
            self.view.offline = false;
        }
        if let Some(why) = &verdict.online_failure {
            tracing::warn!("library system not answering at login: {why}; trying the offline list");
            self.view.offline = true;
        }
        match verdict.outcome {
            Ok(Identity::Online(facts)) => {
                if let Some(l) = facts
                    .language
                    .as_deref()
                    .filter(|l| ["fi", "sv", "en"].contains(l) && !self.language_chosen)
                {
                    self.view.language = l.to_owned();
                }
                if online_refusal(&facts) {
                    tracing::info!(card = ?card, "login refused: the account does not allow loans");
                    let reason = if facts.card_valid {
                        Reason::LendingBan
                    } else {
                        Reason::CardInvalid
                    };
                    self.denied(reason, &card, source);
                    let (m, note) = refusal_message(&facts, &self.view.language);
                    self.message_with(m, note, Screen::Welcome);
                    return;
                }
                self.logged_in(login, true);
            }
            Ok(Identity::Offline(facts)) => {
                let branch = self.settings.branch.clone().unwrap_or_default();
                if let Some(why) = offline_rules::refusal(&facts, at.date_naive(), &branch) {
                    tracing::info!(card = ?card, "offline login refused: {why}");
                    self.denied(Reason::LendingBan, &card, source);
                    self.message(Message::PatronBlocked, Screen::Welcome);
                } else {
                    self.logged_in(login, false);
                }
            }
            Err(Refusal::UnknownCard) if online => {
                tracing::info!("login refused: unknown card");
                self.denied(Reason::UnknownCard, &card, source);
                self.message(Message::UnknownCard, Screen::Welcome);
            }
            Err(Refusal::WrongPin { .. }) => {
                if online {
                    tracing::info!(card = ?card, "login refused: wrong PIN");
                }
                self.denied(Reason::WrongPin, &card, source);
                self.wrong_pin();
            }
            Err(Refusal::LockedOut { until }) => {
                let left = left_until(until, at.timestamp());
                self.denied(Reason::PinLockedOut, &card, source);
                let (card, minutes) = (self.redactor.card(&card), minutes(left));
                tracing::warn!(target: "security", %card, minutes, "wrong PINs: the card is locked at this kiosk");
                self.locked_out(left);
            }
            Err(
                Refusal::UnknownCard
                | Refusal::Unreachable
                | Refusal::ListExpired
                | Refusal::NoOfflineVerifier,
            ) => self.message(Message::OfflineUnknown, Screen::Welcome),
        }
    }

    /// A wrong PIN, with tries left: type it again.
    pub(super) fn wrong_pin(&mut self) {
        if let Some(s) = self.session.as_mut() {
            s.stage = Stage::Pin;
            s.entry.clear();
        }
        self.view.pin_length = 0;
        self.message(Message::WrongPin, Screen::Pin);
    }

    /// "Too many wrong PINs: try again in N minutes", and back to the welcome screen.
    pub(super) fn locked_out(&mut self, left: Duration) {
        self.message_with(
            Message::LockedOut,
            minutes(left).to_string(),
            Screen::Welcome,
        );
    }

    pub(super) fn logged_in(&mut self, login: PatronLogin, online: bool) {
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_refused_patron_is_told_why_and_how_much_is_owed() {
        let ok = PatronFacts {
            card_valid: true,
            ..PatronFacts::default()
        };
        let expired = PatronFacts {
            card_valid: false,
            ..ok.clone()
        };
        assert_eq!(refusal_message(&expired, "fi").0, Message::CardExpired);
        let owing = PatronFacts {
            fines: Some(registry::Cents(1250)),
            fine_limit: Some(registry::Cents(1000)),
            ..ok.clone()
        };
        assert_eq!(
            refusal_message(&owing, "fi"),
            (Message::FinesOwed, "12,50 €".into())
        );
        assert_eq!(refusal_message(&owing, "en").1, "€12.50");
        // Under the limit: the refusal is for something else.
        let under = PatronFacts {
            fines: Some(registry::Cents(500)),
            ..owing
        };
        assert_eq!(refusal_message(&under, "sv").0, Message::PatronBlocked);
        assert_eq!(money(registry::Cents(5), "sv"), "0,05 €");
    }
}
