//! Koha REST API bodies as Koha sends them (`api/v1/swagger/definitions/*.yaml`), read leniently:
//! every field we do not need may be missing. Their values are personal data, so these types
//! have no `Debug`.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /oauth/token`.
#[derive(Deserialize)]
pub(crate) struct TokenReply {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// `POST /auth/password/validation` request.
#[derive(Serialize)]
pub(crate) struct PasswordValidation<'a> {
    pub identifier: &'a str,
    pub password: &'a str,
}

/// Its 201 reply (Koha 23.05 and later; older ones answer 204 with no body).
#[derive(Deserialize, Default)]
pub(crate) struct Validated {
    #[serde(default)]
    pub patron_id: Option<i64>,
    #[serde(default)]
    pub cardnumber: Option<String>,
}

/// A patron (`definitions/patron.yaml`), with the `account_balance` embed.
#[derive(Deserialize)]
pub(crate) struct Patron {
    pub patron_id: i64,
    #[serde(default)]
    pub cardnumber: Option<String>,
    #[serde(default)]
    pub firstname: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(default)]
    pub category_id: Option<String>,
    #[serde(default)]
    pub library_id: Option<String>,
    #[serde(default)]
    pub expiry_date: Option<NaiveDate>,
    #[serde(default)]
    pub patron_card_lost: Option<bool>,
    #[serde(default)]
    pub restricted: Option<bool>,
    #[serde(default)]
    pub incorrect_address: Option<bool>,
    #[serde(default)]
    pub account_balance: Option<f64>,
    #[serde(default)]
    pub lang: Option<String>,
}

/// A checkout (`definitions/checkout.yaml`).
#[derive(Deserialize)]
pub(crate) struct Checkout {
    pub checkout_id: i64,
    #[serde(default)]
    pub item_id: Option<i64>,
    #[serde(default)]
    pub patron_id: Option<i64>,
    #[serde(default)]
    pub due_date: Option<String>,
}

/// `POST /checkouts` request.
#[derive(Serialize)]
pub(crate) struct NewCheckout {
    pub item_id: i64,
    pub patron_id: i64,
}

/// `GET /checkouts/availability`.
#[derive(Deserialize, Default)]
pub(crate) struct Availability {
    #[serde(default)]
    pub blockers: BTreeMap<String, Value>,
    #[serde(default)]
    pub confirms: BTreeMap<String, Value>,
}

/// An item (`definitions/item.yaml`) with the `biblio` embed.
#[derive(Deserialize)]
pub(crate) struct Item {
    pub item_id: i64,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub home_library_id: Option<String>,
    #[serde(default)]
    pub checked_out_date: Option<String>,
    #[serde(default)]
    pub lost_status: Option<Value>,
    #[serde(default)]
    pub not_for_loan_status: Option<Value>,
    #[serde(default)]
    pub biblio: Option<Biblio>,
}

/// The `biblio` embed.
#[derive(Deserialize)]
pub(crate) struct Biblio {
    #[serde(default)]
    pub title: Option<String>,
}

/// A hold (`definitions/hold.yaml`).
#[derive(Deserialize)]
pub(crate) struct Hold {
    #[serde(default)]
    pub biblio_id: Option<i64>,
    #[serde(default)]
    pub item_id: Option<i64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub pickup_library_id: Option<String>,
    /// With `x-koha-embed: pickup_library`.
    #[serde(default)]
    pub pickup_library: Option<Library>,
}

/// A library (branch) as Koha embeds it.
#[derive(Deserialize)]
pub(crate) struct Library {
    #[serde(default)]
    pub name: Option<String>,
}

/// Koha-Suomi's `GET /contrib/kohasuomi/borrowers/ssstatus`.
#[derive(Deserialize)]
pub(crate) struct SelfServiceStatus {
    pub permission: bool,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default, rename = "startTime")]
    pub start_time: Option<String>,
    #[serde(default, rename = "endTime")]
    pub end_time: Option<String>,
    #[serde(default)]
    pub expirationdate: Option<String>,
}

/// Koha's error body.
#[derive(Deserialize, Default)]
pub(crate) struct KohaError {
    #[serde(default)]
    pub error: Option<String>,
}

/// A Koha date-time (RFC 3339, as the API writes it) in the library's local time.
pub(crate) fn date_time(text: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.naive_local());
    }
    crate::sip2::mapping::parse_due(text)
}

/// A Koha number-or-string status field that is set (lost, not for loan): anything but 0 or "".
pub(crate) fn is_set(v: &Option<Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Number(n)) => n.as_i64() != Some(0),
        Some(Value::String(s)) => !s.is_empty() && s != "0",
        Some(Value::Bool(b)) => *b,
        Some(_) => true,
    }
}
