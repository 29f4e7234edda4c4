//! The library system over Koha's REST API (`/api/v1`), with an OAuth2 client-credentials token
//! that is fetched on first use, refreshed before it expires, and fetched again after a 401.
//!
//! A patron is verified with `POST /auth/password/validation` (Koha 23.05+; the 204 of older
//! Koha works too), their facts read from `GET /patrons` with the `account_balance` embed, and,
//! where the Koha-Suomi self-service plugin runs, its verdict from
//! `GET /contrib/kohasuomi/borrowers/ssstatus`, which already applies the library's rules.
//! Every operation that acts for a patron checks the PIN again: the device keeps no session.
//!
//! Returns: stock Koha's REST API has no check-in route that we could find in its published
//! specification; this backend returns an item with `DELETE /checkouts/{checkout_id}` as Koha's
//! checkouts RFC proposes, and reports a clear error where a Koha lacks it (use SIP2 there).
//!
//! Offline loans and returns, which the REST API cannot date, go through Koha's offline
//! circulation service on the staff interface when `offline_service` is configured
//! ([`offline`]).

pub mod offline;
mod token;
pub(crate) mod wire;
pub mod words;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use config::registry::{
    Credentials, FlagEffect, KohaOffline, KohaSettings, RegistrySettings, StaffAccount,
};
use redact::Personal;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::Registry;
use crate::model::*;
use token::TokenCache;

/// Patrons read at once by [`KohaRegistry::patron_names`].
pub const NAMES_PAGE: usize = 500;

/// The most pages [`KohaRegistry::patron_names`] reads (5 million patrons).
const MAX_NAMES_PAGES: usize = 10_000;

/// [`Registry`] over Koha's REST API.
#[derive(Debug, Clone)]
pub struct KohaRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    api: String,
    server_name: String,
    library_id: String,
    plugin: bool,
    tokens: TokenCache,
    timeout: Duration,
    offline: Option<(KohaOffline, StaffAccount)>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KohaRegistry")
            .field("api", &self.api)
            .field("library_id", &self.library_id)
            .finish()
    }
}

/// A patron the API knows, by Koha's id.
struct Known {
    patron_id: i64,
}

fn now() -> NaiveDateTime {
    chrono::Local::now().naive_local()
}

impl KohaRegistry {
    /// A client for the Koha at `koha.base_url`.
    pub fn new(koha: &KohaSettings, all: &RegistrySettings) -> Result<Self, RegistryError> {
        let Credentials::OAuth2 {
            client_id,
            client_secret,
            offline: staff,
        } = &all.credentials
        else {
            return Err(RegistryError::Setup(
                "the Koha REST backend needs client_id and client_secret in the credentials file"
                    .into(),
            ));
        };
        let tls = crate::tls::client_config(&koha.tls, &[b"http/1.1"])?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(all.connect_timeout)
            .timeout(all.timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(concat!("omatoimi-registry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::Setup(format!("HTTP client: {e}")))?;
        let server_name = koha
            .base_url
            .trim_start_matches("https://")
            .split(['/', ':'])
            .next()
            .unwrap_or_default()
            .to_owned();
        let api = format!("{}/api/v1", koha.base_url);
        Ok(Self {
            inner: Arc::new(Inner {
                tokens: TokenCache::new(
                    format!("{api}/oauth/token"),
                    client_id.clone(),
                    client_secret.clone(),
                ),
                http,
                api,
                server_name,
                library_id: koha.library_id.clone(),
                plugin: koha.self_service_plugin,
                timeout: all.timeout,
                offline: koha.offline.clone().zip(staff.clone()),
            }),
        })
    }

    /// The names of the patrons `pick` wants, each with what `pick` made of the card: every
    /// patron is read, a page of [`NAMES_PAGE`] at a time (`_page`, `_per_page`), and each card
    /// number is offered to `pick` and forgotten. For the library's console, which knows its
    /// devices' cards only as keyed hashes: `pick` hashes the card and answers when the hash is
    /// one it looks for. Names are "Firstname Surname".
    pub async fn patron_names<T>(
        &self,
        mut pick: impl FnMut(&redact::CardNumber) -> Option<T>,
    ) -> Result<Vec<(T, String)>, RegistryError> {
        let mut out = vec![];
        let mut first_of_previous: Option<i64> = None;
        for page in 1..=MAX_NAMES_PAGES {
            let (status, bytes) = self
                .bounded(self.inner.send(
                    Method::GET,
                    "/patrons",
                    &[
                        ("_page", page.to_string()),
                        ("_per_page", NAMES_PAGE.to_string()),
                    ],
                    None,
                    None,
                    None,
                ))
                .await?;
            if !status.is_success() {
                return Err(RegistryError::Server(format!(
                    "patron list, page {page}: HTTP {status}"
                )));
            }
            let list: Vec<wire::Patron> = parse("/patrons", &bytes)?;
            // A server that ignores paging gives its first page again: stop there.
            let first = list.first().map(|p| p.patron_id);
            if first.is_some() && first == first_of_previous {
                break;
            }
            first_of_previous = first;
            for p in &list {
                let Some(card) = &p.cardnumber else { continue };
                if let Some(t) = pick(&redact::CardNumber::new(card.clone())) {
                    let name = [p.firstname.as_deref(), p.surname.as_deref()]
                        .into_iter()
                        .flatten()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(" ");
                    out.push((t, name));
                }
            }
            if list.len() < NAMES_PAGE {
                return Ok(out);
            }
        }
        Ok(out)
    }

    /// Runs `op` within the request timeout.
    async fn bounded<T>(
        &self,
        op: impl Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        match tokio::time::timeout(self.inner.timeout, op).await {
            Ok(r) => r,
            Err(_) => Err(RegistryError::Timeout(self.inner.timeout)),
        }
    }
}

impl Inner {
    fn transport(&self, e: reqwest::Error) -> RegistryError {
        // Not the URL: a query string may hold an id.
        let e = &e.without_url();
        if e.is_timeout() {
            return RegistryError::Timeout(self.timeout);
        }
        if let Some(t) = crate::tls::explain(e, &self.server_name) {
            return RegistryError::Tls(t);
        }
        let mut text = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            text.push_str(": ");
            text.push_str(&s.to_string());
            src = s.source();
        }
        RegistryError::Unreachable(text)
    }

    /// Sends a request with the bearer token; on 401 fetches a new token and tries once more.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        embed: Option<&str>,
        body: Option<Body<'_>>,
        koha_query: Option<&str>,
    ) -> Result<(StatusCode, bytes::Bytes), RegistryError> {
        let mut retried = false;
        loop {
            let token = self.tokens.get(&self.http).await.map_err(|e| match e {
                token::TokenError::Transport(e) => self.transport(e),
                token::TokenError::Refused(m) => RegistryError::DeviceRefused(m),
                token::TokenError::Garbled(m) => RegistryError::Protocol(m),
            })?;
            let mut req = self
                .http
                .request(method.clone(), format!("{}{path}", self.api))
                .bearer_auth(token.expose())
                .header("accept", "application/json");
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(e) = embed {
                req = req.header("x-koha-embed", e);
            }
            if let Some(q) = koha_query {
                let mut v = reqwest::header::HeaderValue::from_str(q).map_err(|_| {
                    RegistryError::Setup("a query that is not a header value".into())
                })?;
                v.set_sensitive(true);
                req = req.header("x-koha-query", v);
            }
            req = match &body {
                Some(Body::Json(v)) => req.json(v),
                Some(Body::Form(f)) => req.form(f),
                None => req,
            };
            let resp = req.send().await.map_err(|e| self.transport(e))?;
            let status = resp.status();
            let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
            if status == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                self.tokens.invalidate().await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED
                || status == StatusCode::FORBIDDEN && error_text(&bytes).contains("permission")
            {
                return Err(RegistryError::DeviceRefused(format!(
                    "{path}: HTTP {status}: {}",
                    error_text(&bytes)
                )));
            }
            if status.is_server_error() {
                return Err(RegistryError::Server(format!(
                    "{path}: HTTP {status}: {}",
                    error_text(&bytes)
                )));
            }
            return Ok((status, bytes));
        }
    }

    async fn post_json(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<(StatusCode, bytes::Bytes), RegistryError> {
        let body = serde_json::to_value(body).map_err(|e| RegistryError::Setup(e.to_string()))?;
        self.send(Method::POST, path, &[], None, Some(Body::Json(body)), None)
            .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        embed: Option<&str>,
    ) -> Result<(StatusCode, Option<T>), RegistryError> {
        let (status, bytes) = self
            .send(Method::GET, path, query, embed, None, None)
            .await?;
        if !status.is_success() {
            return Ok((status, None));
        }
        Ok((status, Some(parse(path, &bytes)?)))
    }

    /// Checks card and PIN; `Err(verification)` is the patron's "no".
    async fn validate(
        &self,
        login: &PatronLogin,
    ) -> Result<Result<Known, Verification>, RegistryError> {
        let body = wire::PasswordValidation {
            identifier: login.card.expose(),
            password: login.pin.expose(),
        };
        let (status, bytes) = self.post_json("/auth/password/validation", &body).await?;
        match status.as_u16() {
            201 | 200 => {
                let v: wire::Validated = parse("/auth/password/validation", &bytes)?;
                // `identifier` matches a user id before a card number: make sure it was the card.
                if v.cardnumber
                    .as_deref()
                    .is_some_and(|c| c != login.card.expose())
                {
                    return Ok(Err(Verification::UnknownCard { message: None }));
                }
                match v.patron_id {
                    Some(patron_id) => Ok(Ok(Known { patron_id })),
                    None => self.by_card(&login.card).await,
                }
            }
            // Koha before 23.05 answers 204 without a body.
            204 => self.by_card(&login.card).await,
            400 => match self.by_card(&login.card).await? {
                Ok(_) => Ok(Err(Verification::WrongPin { message: None })),
                Err(no) => Ok(Err(no)),
            },
            _ => Err(RegistryError::Server(format!(
                "password validation: HTTP {status}: {}",
                error_text(&bytes)
            ))),
        }
    }

    /// The patron with this card, by an exact match. The card goes in Koha's `x-koha-query`
    /// header, not the URL, so that it stays out of web-server access logs.
    async fn by_card(
        &self,
        card: &redact::CardNumber,
    ) -> Result<Result<Known, Verification>, RegistryError> {
        let query = serde_json::json!({ "cardnumber": card.expose() }).to_string();
        let (status, bytes) = self
            .send(Method::GET, "/patrons", &[], None, None, Some(&query))
            .await?;
        if !status.is_success() {
            return Err(RegistryError::Server(format!(
                "patron search: HTTP {status}"
            )));
        }
        let list: Vec<wire::Patron> = parse("/patrons", &bytes)?;
        Ok(
            match list
                .into_iter()
                .find(|p| p.cardnumber.as_deref() == Some(card.expose()))
            {
                Some(p) => Ok(Known {
                    patron_id: p.patron_id,
                }),
                None => Err(Verification::UnknownCard { message: None }),
            },
        )
    }

    async fn patron(&self, id: i64) -> Result<wire::Patron, RegistryError> {
        let (status, list) = self
            .get::<Vec<wire::Patron>>(
                "/patrons",
                &[("patron_id", id.to_string()), ("_match", "exact".into())],
                Some("account_balance"),
            )
            .await?;
        list.and_then(|l| l.into_iter().next())
            .ok_or_else(|| RegistryError::Server(format!("patron {id}: HTTP {status}")))
    }

    async fn self_service(&self, login: &PatronLogin) -> Result<Option<Block>, RegistryError> {
        let path = "/contrib/kohasuomi/borrowers/ssstatus";
        let form = vec![
            ("cardnumber", login.card.expose().to_owned()),
            ("branchcode", self.library_id.clone()),
        ];
        let (status, bytes) = self
            .send(Method::GET, path, &[], None, Some(Body::Form(form)), None)
            .await?;
        if !status.is_success() {
            return Err(RegistryError::Server(format!(
                "self-service status: HTTP {status}: {}",
                error_text(&bytes)
            )));
        }
        let s: wire::SelfServiceStatus = parse(path, &bytes)?;
        Ok(self_service_block(&s))
    }

    /// For a loan or renewal: the patron (PIN checked again), their language, the item and its
    /// title; or the patron's "no".
    async fn loan_parties(
        &self,
        login: &PatronLogin,
        barcode: &str,
    ) -> Result<Result<(Known, &'static str, wire::Item, Option<String>), LoanOutcome>, RegistryError>
    {
        let known = match self.validate(login).await? {
            Ok(k) => k,
            Err(Verification::WrongPin { .. }) => {
                return Ok(Err(refused(
                    barcode,
                    None,
                    words::reason("WRONG_PIN", "fi"),
                )));
            }
            Err(_) => {
                return Ok(Err(refused(
                    barcode,
                    None,
                    words::reason("PATRON_NOT_FOUND", "fi"),
                )));
            }
        };
        let lang = words::language(self.patron(known.patron_id).await?.lang.as_deref());
        let Some(item) = self.item_by_barcode(barcode).await? else {
            return Ok(Err(refused(
                barcode,
                None,
                words::reason("UNKNOWN_BARCODE", lang),
            )));
        };
        let title = item.biblio.as_ref().and_then(|b| b.title.clone());
        Ok(Ok((known, lang, item, title)))
    }

    async fn item_by_barcode(&self, barcode: &str) -> Result<Option<wire::Item>, RegistryError> {
        let (_, list) = self
            .get::<Vec<wire::Item>>(
                "/items",
                &[
                    ("external_id", barcode.to_owned()),
                    ("_match", "exact".into()),
                ],
                Some("biblio"),
            )
            .await?;
        Ok(list.and_then(|l| {
            l.into_iter()
                .find(|i| i.external_id.as_deref() == Some(barcode))
        }))
    }

    async fn item_by_id(&self, id: i64) -> Result<Option<wire::Item>, RegistryError> {
        let (_, list) = self
            .get::<Vec<wire::Item>>(
                "/items",
                &[("item_id", id.to_string()), ("_match", "exact".into())],
                Some("biblio"),
            )
            .await?;
        Ok(list.and_then(|l| l.into_iter().next()))
    }

    async fn checkouts(&self, key: &str, id: i64) -> Result<Vec<wire::Checkout>, RegistryError> {
        let (status, list) = self
            .get::<Vec<wire::Checkout>>("/checkouts", &[(key, id.to_string())], None)
            .await?;
        list.ok_or_else(|| RegistryError::Server(format!("checkouts: HTTP {status}")))
    }

    /// Delivers one offline loan or return through Koha's offline circulation service:
    /// `Ok(Ok(()))` done (or queued for staff), `Ok(Err(words))` refused in Koha's words.
    async fn offline(
        &self,
        action: offline::Action,
        card: Option<&redact::CardNumber>,
        barcode: &str,
        at: NaiveDateTime,
    ) -> Result<Result<(), String>, RegistryError> {
        let what = match action {
            offline::Action::Issue => "loan",
            offline::Action::Return => "return",
        };
        let Some((service, staff)) = &self.offline else {
            return Err(RegistryError::Setup(format!(
                "Koha's REST API cannot take an offline {what} with its original time; to deliver it through Koha's offline circulation, set registry.koha.offline_service (the staff interface) and offline_userid and offline_password (a staff account) in the credentials file, or deliver the kiosk's queue over SIP2"
            )));
        };
        let form = offline::Form {
            userid: &staff.userid,
            password: staff.password.expose(),
            branch: &self.library_id,
            pending: service.pending,
        };
        let fields = form.fields(
            action,
            card.map(|c| c.expose()),
            barcode,
            offline::timestamp(at, service.timestamps),
        );
        let resp = self
            .http
            .post(&service.service)
            .form(&fields)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        let reply = offline::reply(&bytes);
        tracing::debug!(action = what, item = barcode, status = status.as_u16(), reply = ?reply, "Koha offline circulation");
        match reply {
            _ if !status.is_success() => Err(RegistryError::Server(format!(
                "offline circulation service: HTTP {status} ({} bytes)",
                bytes.len()
            ))),
            offline::Reply::Done | offline::Reply::Queued => Ok(Ok(())),
            offline::Reply::Refused(words) => Ok(Err(format!("Koha: {words}"))),
            offline::Reply::AuthenticationFailed => Err(RegistryError::DeviceRefused(format!(
                "Koha's offline circulation service refused the staff account {:?} (Authentication failed.); check offline_userid and offline_password",
                staff.userid
            ))),
            offline::Reply::Unknown => Err(RegistryError::Protocol(format!(
                "offline circulation service: the reply ({} bytes) is none of Koha's (Success., Added., …); is {} Koha's offline_circ/service.pl?",
                bytes.len(),
                service.service
            ))),
        }
    }
}

/// A request body.
enum Body<'a> {
    Json(serde_json::Value),
    Form(Vec<(&'a str, String)>),
}

fn parse<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, RegistryError> {
    // serde's message would quote the offending value, which may be personal data.
    serde_json::from_slice(bytes).map_err(|e| {
        RegistryError::Protocol(format!(
            "{path}: the reply is not the JSON Koha sends (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// Koha's error message for a log line or an error, with quoted values cut out: Koha quotes
/// what it was given ("No Patron with the given cardnumber '2468…' found.").
fn error_text(bytes: &[u8]) -> String {
    let text = serde_json::from_slice::<wire::KohaError>(bytes)
        .ok()
        .and_then(|e| e.error)
        .unwrap_or_else(|| format!("{} bytes", bytes.len()));
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None if c == '\'' || c == '"' => {
                out.push(c);
                quote = Some(c);
            }
            None => out.push(c),
        }
    }
    if quote.is_some() {
        out.push('…');
    }
    out
}

/// A checkout (201 from `POST /checkouts` or a renewal) or why not, in the patron's words.
fn loan_reply(
    path: &str,
    status: StatusCode,
    bytes: &[u8],
    barcode: &str,
    title: Option<String>,
    lang: &str,
    renewal: bool,
) -> Result<LoanOutcome, RegistryError> {
    if status.is_success() {
        let c: wire::Checkout = parse(path, bytes)?;
        return Ok(LoanOutcome {
            item: barcode.to_owned(),
            title,
            ok: true,
            renewed: renewal,
            due: c.due_date.as_deref().and_then(wire::date_time),
            message: None,
            // A renewed item is already in the patron's hands.
            desensitize: (!renewal).then_some(true),
        });
    }
    let err = error_text(bytes);
    let code = words::codes(&err).into_iter().next().unwrap_or(err);
    Ok(refused(barcode, title, words::reason(&code, lang)))
}

/// The Koha-Suomi plugin's verdict as a block. Exception class names come in two generations
/// (`Koha::Exception::SelfService::X` and `Koha::Plugin::Fi::KohaSuomi::SelfService::Exception::X`),
/// so the last segment decides.
fn self_service_block(s: &wire::SelfServiceStatus) -> Option<Block> {
    if s.permission {
        return None;
    }
    let class = s.error.as_deref().unwrap_or("");
    let last = class.rsplit("::").next().unwrap_or(class);
    let (kind, reason) = match last {
        "TACNotAccepted" => (
            BlockKind::TermsNotAccepted,
            "self-service terms not accepted".to_owned(),
        ),
        "PermissionRevoked" => (
            BlockKind::SelfServiceBlock,
            "self-service permission revoked".to_owned(),
        ),
        "Underage" => (BlockKind::Underage, "under the minimum age".to_owned()),
        "BlockedBorrowerCategory" => (
            BlockKind::CategoryNotAllowed,
            "patron category not allowed".to_owned(),
        ),
        "OpeningHours" => (
            BlockKind::OutsideOpeningHours,
            match (&s.start_time, &s.end_time) {
                (Some(a), Some(b)) => format!("self-service hours {a}–{b}"),
                _ => "outside self-service hours".to_owned(),
            },
        ),
        _ => (
            BlockKind::SelfServiceDenied,
            "self-service not permitted (card, ban or fines)".to_owned(),
        ),
    };
    Some(Block {
        kind,
        effect: FlagEffect::DenyAll,
        reason: Some(reason),
        branch: None,
        until: s
            .expirationdate
            .as_deref()
            .and_then(crate::sip2::mapping::parse_date),
    })
}

fn patron_facts(p: &wire::Patron, today: chrono::NaiveDate) -> PatronFacts {
    let block = |kind, effect, reason: Option<&str>| Block {
        kind,
        effect,
        reason: reason.map(str::to_owned),
        branch: None,
        until: None,
    };
    let mut blocks = vec![];
    if p.restricted == Some(true) {
        blocks.push(block(BlockKind::LendingBan, FlagEffect::DenyAll, None));
    }
    if p.patron_card_lost == Some(true) {
        blocks.push(block(BlockKind::CardLost, FlagEffect::DenyAll, None));
    }
    let expired = p.expiry_date.is_some_and(|d| d < today);
    if expired {
        blocks.push(block(BlockKind::CardExpired, FlagEffect::DenyAll, None));
    }
    if p.incorrect_address == Some(true) {
        blocks.push(block(
            BlockKind::Other,
            FlagEffect::Note,
            Some("address unknown"),
        ));
    }
    let lang = words::language(p.lang.as_deref());
    PatronFacts {
        card_valid: !expired && p.patron_card_lost != Some(true),
        card_expires: p.expiry_date,
        birth_date: p.date_of_birth.map(Personal::new),
        category: p.category_id.clone(),
        home_branch: p.library_id.clone(),
        self_service: None,
        guardian_consent: None,
        blocks,
        fines: p.account_balance.map(|b| Cents((b * 100.0).round() as i64)),
        fine_limit: None,
        language: Some(lang.to_owned()),
        name: p.firstname.clone().map(Personal::new),
        screen_message: None,
    }
}

fn refused(item: &str, title: Option<String>, message: String) -> LoanOutcome {
    LoanOutcome {
        item: item.to_owned(),
        title,
        ok: false,
        renewed: false,
        due: None,
        message: Some(message),
        desensitize: Some(false),
    }
}

impl Registry for KohaRegistry {
    async fn verify(&self, login: &PatronLogin) -> Result<Verification, RegistryError> {
        self.bounded(async {
            let i = &self.inner;
            let known = match i.validate(login).await? {
                Ok(k) => k,
                Err(no) => return Ok(no),
            };
            let p = i.patron(known.patron_id).await?;
            let mut facts = patron_facts(&p, now().date());
            if i.plugin {
                let block = i.self_service(login).await?;
                facts.self_service = Some(block.is_none());
                facts.blocks.extend(block);
            }
            Ok(Verification::Verified(Box::new(facts)))
        })
        .await
    }

    async fn account(&self, login: &PatronLogin) -> Result<Account, RegistryError> {
        self.bounded(async {
            let i = &self.inner;
            let known = match i.validate(login).await? {
                Ok(k) => k,
                Err(_) => {
                    return Err(RegistryError::Server(
                        "the library system did not accept the PIN for the account".into(),
                    ));
                }
            };
            let mut account = Account::default();
            for c in i.checkouts("patron_id", known.patron_id).await? {
                let item = match c.item_id {
                    Some(id) => i.item_by_id(id).await?,
                    None => None,
                };
                let due = c.due_date.as_deref().and_then(wire::date_time);
                account.loans.push(LoanEntry {
                    item: item
                        .as_ref()
                        .and_then(|it| it.external_id.clone())
                        .unwrap_or_else(|| format!("checkout {}", c.checkout_id)),
                    title: item.and_then(|it| it.biblio).and_then(|b| b.title),
                    overdue: due.is_some_and(|d| d < now()),
                    due,
                });
            }
            let (_, holds) = i
                .get::<Vec<wire::Hold>>(
                    "/holds",
                    &[("patron_id", known.patron_id.to_string())],
                    Some("pickup_library"),
                )
                .await?;
            for h in holds.unwrap_or_default() {
                let item = match h.item_id {
                    Some(id) => i.item_by_id(id).await?,
                    None => None,
                };
                let pickup = h
                    .pickup_library
                    .and_then(|l| l.name)
                    .or(h.pickup_library_id);
                account.holds.push(HoldEntry {
                    item: item
                        .as_ref()
                        .and_then(|it| it.external_id.clone())
                        .unwrap_or_else(|| format!("biblio {}", h.biblio_id.unwrap_or_default())),
                    title: item.and_then(|it| it.biblio).and_then(|b| b.title),
                    // Koha's `W`: waiting for the patron at the pickup library.
                    ready: h.status.as_deref() == Some("W"),
                    pickup,
                });
            }
            Ok(account)
        })
        .await
    }

    async fn checkout(
        &self,
        login: &PatronLogin,
        barcode: &str,
    ) -> Result<LoanOutcome, RegistryError> {
        self.bounded(async {
            let i = &self.inner;
            let (known, lang, item, title) = match i.loan_parties(login, barcode).await? {
                Ok(p) => p,
                Err(no) => return Ok(no),
            };
            let (_, avail) = i
                .get::<wire::Availability>(
                    "/checkouts/availability",
                    &[
                        ("patron_id", known.patron_id.to_string()),
                        ("item_id", item.item_id.to_string()),
                    ],
                    None,
                )
                .await?;
            let avail = avail.unwrap_or_default();
            // Blockers stop a loan; confirmations are for staff to give, not a patron at a kiosk.
            if let Some(code) = avail.blockers.keys().chain(avail.confirms.keys()).next() {
                return Ok(refused(barcode, title, words::reason(code, lang)));
            }
            let body = wire::NewCheckout {
                item_id: item.item_id,
                patron_id: known.patron_id,
            };
            let (status, bytes) = i.post_json("/checkouts", &body).await?;
            loan_reply("/checkouts", status, &bytes, barcode, title, lang, false)
        })
        .await
    }

    async fn checkout_deferred(
        &self,
        card: &redact::CardNumber,
        item: &str,
        at: NaiveDateTime,
        _due: Option<NaiveDateTime>,
    ) -> Result<LoanOutcome, RegistryError> {
        // Koha computes the due date from the original time by its own rules.
        let done = self
            .bounded(
                self.inner
                    .offline(offline::Action::Issue, Some(card), item, at),
            )
            .await?;
        Ok(LoanOutcome {
            item: item.to_owned(),
            title: None,
            ok: done.is_ok(),
            renewed: false,
            due: None,
            message: done.err(),
            desensitize: None,
        })
    }

    /// The item's open checkout (`GET /checkouts?item_id=`) against the patron found by card
    /// number, with the API client's own rights.
    async fn lent_to(
        &self,
        card: &redact::CardNumber,
        item: &str,
    ) -> Result<Option<bool>, RegistryError> {
        self.bounded(async {
            let i = &self.inner;
            let Ok(known) = i.by_card(card).await? else {
                return Ok(Some(false));
            };
            let Some(found) = i.item_by_barcode(item).await? else {
                return Ok(Some(false));
            };
            let checkouts = i.checkouts("item_id", found.item_id).await?;
            if checkouts.iter().any(|c| c.patron_id.is_none()) {
                // A Koha that leaves the patron out of a checkout does not say.
                return Ok(None);
            }
            Ok(Some(
                checkouts
                    .iter()
                    .any(|c| c.patron_id == Some(known.patron_id)),
            ))
        })
        .await
    }

    async fn checkin_deferred(
        &self,
        item: &str,
        at: NaiveDateTime,
    ) -> Result<ReturnOutcome, RegistryError> {
        let done = self
            .bounded(self.inner.offline(offline::Action::Return, None, item, at))
            .await?;
        Ok(ReturnOutcome {
            item: item.to_owned(),
            title: None,
            ok: done.is_ok(),
            // Koha's offline return traps no hold: staff look at where it goes.
            route: ReturnRoute::Staff,
            resensitize: None,
            message: done.err(),
        })
    }

    async fn checkin(&self, barcode: &str) -> Result<ReturnOutcome, RegistryError> {
        self.bounded(async {
            let i = &self.inner;
            let Some(item) = i.item_by_barcode(barcode).await? else {
                return Ok(ReturnOutcome {
                    item: barcode.to_owned(),
                    title: None,
                    ok: false,
                    route: ReturnRoute::Staff,
                    resensitize: None,
                    message: Some(words::reason("UNKNOWN_BARCODE", "fi")),
                });
            };
            let title = item.biblio.as_ref().and_then(|b| b.title.clone());
            for c in i.checkouts("item_id", item.item_id).await? {
                let path = format!("/checkouts/{}", c.checkout_id);
                let (status, bytes) = i
                    .send(
                        Method::DELETE,
                        &path,
                        &[("library_id", i.library_id.clone())],
                        None,
                        None,
                        None,
                    )
                    .await?;
                if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
                    return Err(RegistryError::Server(format!(
                        "this Koha has no return route (DELETE {path}: HTTP {status}); take returns over SIP2"
                    )));
                }
                if !status.is_success() {
                    return Err(RegistryError::Server(format!(
                        "return: HTTP {status}: {}",
                        error_text(&bytes)
                    )));
                }
            }
            let route = match &item.home_library_id {
                Some(home) if *home != i.library_id => ReturnRoute::Transfer {
                    to: Some(home.clone()),
                },
                _ => ReturnRoute::Shelf,
            };
            Ok(ReturnOutcome {
                item: barcode.to_owned(),
                title,
                ok: true,
                route,
                resensitize: Some(true),
                message: None,
            })
        })
        .await
    }

    async fn renew(
        &self,
        login: &PatronLogin,
        barcode: &str,
    ) -> Result<LoanOutcome, RegistryError> {
        self.bounded(async {
            let i = &self.inner;
            let (known, lang, item, title) = match i.loan_parties(login, barcode).await? {
                Ok(p) => p,
                Err(no) => return Ok(no),
            };
            let mine = i
                .checkouts("patron_id", known.patron_id)
                .await?
                .into_iter()
                .find(|c| c.item_id == Some(item.item_id));
            let Some(c) = mine else {
                return Ok(refused(
                    barcode,
                    title,
                    words::reason("NOT_CHECKED_OUT", lang),
                ));
            };
            let path = format!("/checkouts/{}/renewal", c.checkout_id);
            let (status, bytes) = i.send(Method::POST, &path, &[], None, None, None).await?;
            loan_reply(&path, status, &bytes, barcode, title, lang, true)
        })
        .await
    }

    async fn renew_all(&self, login: &PatronLogin) -> Result<RenewAllOutcome, RegistryError> {
        let account = self.account(login).await?;
        let mut out = RenewAllOutcome::default();
        for loan in account.loans {
            let r = self.renew(login, &loan.item).await?;
            if r.ok {
                out.renewed.push(loan.item);
            } else {
                out.not_renewed.push(loan.item);
            }
        }
        Ok(out)
    }

    async fn item(&self, barcode: &str) -> Result<ItemFacts, RegistryError> {
        self.bounded(async {
            let i = &self.inner;
            let Some(item) = i.item_by_barcode(barcode).await? else {
                return Ok(ItemFacts {
                    item: barcode.to_owned(),
                    known: false,
                    title: None,
                    status: ItemStatus::Other,
                    due: None,
                    location: None,
                    message: Some(words::reason("UNKNOWN_BARCODE", "fi")),
                });
            };
            let mut due = None;
            let status = if wire::is_set(&item.lost_status) {
                ItemStatus::Missing
            } else if item.checked_out_date.is_some() {
                due = i
                    .checkouts("item_id", item.item_id)
                    .await?
                    .first()
                    .and_then(|c| c.due_date.as_deref().and_then(wire::date_time));
                ItemStatus::OnLoan
            } else if wire::is_set(&item.not_for_loan_status) {
                ItemStatus::Other
            } else {
                ItemStatus::Available
            };
            Ok(ItemFacts {
                item: barcode.to_owned(),
                known: true,
                title: item.biblio.and_then(|b| b.title),
                status,
                due,
                location: item.home_library_id,
                message: None,
            })
        })
        .await
    }

    async fn end_session(&self, _login: &PatronLogin) -> Result<(), RegistryError> {
        // The REST API keeps no patron session.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(permission: bool, error: &str) -> wire::SelfServiceStatus {
        wire::SelfServiceStatus {
            permission,
            error: Some(error.into()),
            start_time: Some("07:00".into()),
            end_time: Some("21:00".into()),
            expirationdate: Some("2026-03-01".into()),
        }
    }

    #[test]
    fn quoted_values_are_cut_out_of_koha_errors() {
        let body = br#"{"error":"No Patron with the given cardnumber '24680000000011' found."}"#;
        assert_eq!(
            error_text(body),
            "No Patron with the given cardnumber '…' found."
        );
        assert_eq!(
            error_text(br#"{"error":"Checkout not authorized (DEBT)"}"#),
            "Checkout not authorized (DEBT)"
        );
    }

    #[test]
    fn plugin_verdicts_of_both_generations_are_read() {
        assert!(self_service_block(&status(true, "")).is_none());
        let b = self_service_block(&status(
            false,
            "Koha::Exception::SelfService::TACNotAccepted",
        ))
        .unwrap();
        assert_eq!(b.kind, BlockKind::TermsNotAccepted);
        let b = self_service_block(&status(
            false,
            "Koha::Plugin::Fi::KohaSuomi::SelfService::Exception::PermissionRevoked",
        ))
        .unwrap();
        assert_eq!(b.kind, BlockKind::SelfServiceBlock);
        assert_eq!(b.until, chrono::NaiveDate::from_ymd_opt(2026, 3, 1));
        let b = self_service_block(&status(false, "Koha::Exception::SelfService::OpeningHours"))
            .unwrap();
        assert_eq!(b.reason.as_deref(), Some("self-service hours 07:00–21:00"));
        let b = self_service_block(&status(false, "Koha::Exception::SelfService")).unwrap();
        assert_eq!(b.kind, BlockKind::SelfServiceDenied);
        assert_eq!(b.effect, FlagEffect::DenyAll);
    }
}
