//! Koha's offline circulation service: the staff interface's
//! `POST /cgi-bin/koha/offline_circ/service.pl`, which Koha's own offline client (KOCT) uses to
//! deliver loans and returns made while Koha was out of reach, each with its original time.
//! Koha's REST API cannot: `POST /checkouts` dates every loan now.
//!
//! What Koha does with it (`C4::Circulation::ProcessOfflineIssue` / `ProcessOfflineReturn`):
//! no circulation rule is checked (as SIP2's no-block); an item on loan to someone else is first
//! returned as of the timestamp; the loan is dated the timestamp and its due date computed from
//! it; an item already on loan to the same patron is **renewed** — so a loan must never be sent
//! twice (the kiosk's queue asks the item's status before sending a record left in doubt). A
//! return is dated the timestamp, without recalculating fines or trapping a hold.
//!
//! This file is the pure part: the form, the timestamp, the reply's meaning.

use chrono::{Local, NaiveDateTime, TimeZone, Utc};
use config::registry::OfflineTimestamps;

/// What is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A loan.
    Issue,
    /// A return.
    Return,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Issue => "issue",
            Self::Return => "return",
        }
    }
}

/// The `timestamp` field, `YYYY-MM-DD HH:MM:SS`, for `at` (the device's local time): in UTC for
/// a Koha that converts it to its own time zone, as it is for one that reads it as local time.
/// A local time a clock change skipped or repeated is taken at its earliest reading.
pub fn timestamp(at: NaiveDateTime, zone: OfflineTimestamps) -> String {
    let t = match zone {
        OfflineTimestamps::Local => at,
        OfflineTimestamps::Utc => match Local.from_local_datetime(&at).earliest() {
            Some(t) => t.with_timezone(&Utc).naive_utc(),
            // In a gap (clocks put forward): an hour later is the same moment's reading.
            None => Local
                .from_local_datetime(&(at + chrono::Duration::hours(1)))
                .earliest()
                .map_or(at, |t| t.with_timezone(&Utc).naive_utc()),
        },
    };
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The staff account and the library, as the form carries them.
pub struct Form<'a> {
    /// The staff user id.
    pub userid: &'a str,
    /// Its password.
    pub password: &'a str,
    /// The device's library (branch) code: the login branch the loan is recorded at.
    pub branch: &'a str,
    /// Queue for staff review.
    pub pending: bool,
}

// The password stays out of a debug print.
impl std::fmt::Debug for Form<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Form")
            .field("userid", &self.userid)
            .field("branch", &self.branch)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Form<'_> {
    /// The fields of one operation; `card` only for a loan.
    pub fn fields(
        &self,
        action: Action,
        card: Option<&str>,
        barcode: &str,
        timestamp: String,
    ) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("userid", self.userid.to_owned()),
            ("password", self.password.to_owned()),
            ("branch", self.branch.to_owned()),
            ("branchcode", self.branch.to_owned()),
            ("action", action.name().to_owned()),
            ("barcode", barcode.to_owned()),
            ("timestamp", timestamp),
        ];
        if let Some(card) = card {
            f.push(("cardnumber", card.to_owned()));
        }
        if self.pending {
            f.push(("pending", "true".to_owned()));
        }
        f
    }
}

/// What Koha's reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `Success.`: processed.
    Done,
    /// `Added.`: queued for staff review.
    Queued,
    /// Not done, in Koha's words (`Borrower not found.`, `Barcode not found.`, `Item not
    /// found.`, `Item not issued.`): for staff to look at.
    Refused(&'static str),
    /// `Authentication failed.`: the staff account was refused.
    AuthenticationFailed,
    /// Anything else (a login page, an error page): not Koha's offline service as we know it.
    Unknown,
}

/// Koha's `text/plain` answer. Never quoted back: an unknown page may hold anything.
pub fn reply(body: &[u8]) -> Reply {
    const REFUSALS: [&str; 4] = [
        "Borrower not found.",
        "Barcode not found.",
        "Item not found.",
        "Item not issued.",
    ];
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text {
        "Success." => Reply::Done,
        "Added." => Reply::Queued,
        "Authentication failed." => Reply::AuthenticationFailed,
        t => REFUSALS
            .into_iter()
            .find(|r| *r == t)
            .map_or(Reply::Unknown, Reply::Refused),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn every_reply_koha_writes_is_read_and_nothing_else_is() {
        assert_eq!(reply(b"Success."), Reply::Done);
        assert_eq!(reply(b"Added.\n"), Reply::Queued);
        assert_eq!(
            reply(b"Authentication failed."),
            Reply::AuthenticationFailed
        );
        for r in [
            "Borrower not found.",
            "Barcode not found.",
            "Item not found.",
            "Item not issued.",
        ] {
            assert_eq!(reply(r.as_bytes()), Reply::Refused(r));
        }
        for other in [
            &b""[..],
            b"success",
            b"Success. Not really",
            b"<html><body>Log in to Koha</body></html>",
            b"\xff\xfe",
        ] {
            assert_eq!(reply(other), Reply::Unknown, "{other:?}");
        }
    }

    #[test]
    fn the_form_carries_the_branch_twice_and_the_card_only_for_a_loan() {
        let form = Form {
            userid: "kiosk-off",
            password: "pw",
            branch: "LPR",
            pending: false,
        };
        let f = form.fields(
            Action::Issue,
            Some("24680000000011"),
            "HE1",
            "2026-11-24 18:00:00".into(),
        );
        let get =
            |f: &[(&str, String)], k: &str| f.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(get(&f, "action").as_deref(), Some("issue"));
        assert_eq!(get(&f, "branch").as_deref(), Some("LPR"));
        assert_eq!(get(&f, "branchcode").as_deref(), Some("LPR"));
        assert_eq!(get(&f, "cardnumber").as_deref(), Some("24680000000011"));
        assert_eq!(get(&f, "pending"), None);
        let f = Form {
            pending: true,
            ..form
        }
        .fields(Action::Return, None, "HE1", "x".into());
        assert_eq!(get(&f, "action").as_deref(), Some("return"));
        assert_eq!(get(&f, "cardnumber"), None);
        assert_eq!(get(&f, "pending").as_deref(), Some("true"));
    }

    #[test]
    fn timestamps_are_local_as_given_or_the_same_moment_in_utc() {
        let at = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(18, 5, 9)
            .unwrap();
        assert_eq!(
            timestamp(at, OfflineTimestamps::Local),
            "2026-11-24 18:05:09"
        );
        let utc = timestamp(at, OfflineTimestamps::Utc);
        let back = NaiveDateTime::parse_from_str(&utc, "%Y-%m-%d %H:%M:%S").unwrap();
        let local = Utc
            .from_utc_datetime(&back)
            .with_timezone(&Local)
            .naive_local();
        assert_eq!(local, at, "{utc}");
    }
}
