//! Koha's REST API (`/api/v1`) over HTTPS, on the same library as the SIP2 side: OAuth2 client
//! credentials (the device accounts are the API clients), password validation, patrons with the
//! `account_balance` embed, items, checkouts with availability and renewal, holds, a return by
//! `DELETE /checkouts/{id}`, and the Koha-Suomi self-service plugin's `ssstatus`. Beside the
//! API, the staff interface's offline circulation service (`/cgi-bin/koha/offline_circ/service.pl`)
//! as Koha's offline client uses it: staff accounts from the fixtures, Koha's `text/plain` replies.
//! The bodies follow Koha's swagger definitions; ids are positions in the fixture file.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{Local, NaiveDateTime, TimeZone};
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use crate::circulation::{Checkout, Library, Refusal};
use crate::fixtures::{Item, Patron};
use crate::server::Simulator;

/// Issued OAuth2 tokens.
#[derive(Debug, Default)]
pub struct Tokens {
    live: std::sync::Mutex<HashMap<String, Instant>>,
    /// How many tokens were issued since start.
    pub issued: AtomicU64,
    /// How many requests were refused for a missing or expired token.
    pub refused: AtomicU64,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, message: &str) -> Reply {
    reply(status, json!({ "error": message }))
}

/// Percent-decoded `key=value` pairs of a query string or form body.
fn pairs(text: &str) -> HashMap<String, String> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn rfc3339(t: NaiveDateTime) -> String {
    match Local.from_local_datetime(&t).earliest() {
        Some(z) => z.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => t.format("%Y-%m-%dT%H:%M:%S").to_string(),
    }
}

/// Ids are positions in the fixture file, from 1.
fn id_of<T>(list: &[T], is: impl Fn(&T) -> bool) -> Option<usize> {
    list.iter().position(is).map(|i| i + 1)
}

fn by_id<T: Clone>(list: &[T], id: &str) -> Option<T> {
    let i: usize = id.parse().ok()?;
    list.get(i.checked_sub(1)?).cloned()
}

fn patron_id(lib: &Library, card: &str) -> Option<usize> {
    id_of(&lib.fixtures.patrons, |p| p.card == card)
}

fn patron_by_id(lib: &Library, id: &str) -> Option<Patron> {
    by_id(&lib.fixtures.patrons, id)
}

fn item_id(lib: &Library, barcode: &str) -> Option<usize> {
    id_of(&lib.fixtures.items, |i| i.barcode == barcode)
}

fn item_by_id(lib: &Library, id: &str) -> Option<Item> {
    by_id(&lib.fixtures.items, id)
}

fn lang(p: &Patron) -> &'static str {
    match p.language.as_str() {
        "sv" => "sv-SE",
        "en" => "en",
        _ => "fi-FI",
    }
}

fn patron_json(lib: &Library, p: &Patron, balance: bool, now: NaiveDateTime) -> Value {
    let standing = lib.standing(p, now);
    // Fixture names are "Surname, Firstname".
    let (last, first) = p.name.split_once(", ").unwrap_or((&p.name, ""));
    let mut v = json!({
        "patron_id": patron_id(lib, &p.card),
        "cardnumber": p.card,
        "firstname": first,
        "surname": last,
        "date_of_birth": p.birth_date.format("%Y-%m-%d").to_string(),
        "category_id": p.category,
        "library_id": p.home_branch,
        "expiry_date": p.card_expires.format("%Y-%m-%d").to_string(),
        "patron_card_lost": standing.card_lost,
        "restricted": standing.lending_ban,
        "incorrect_address": false,
        "lang": lang(p),
    });
    if balance {
        v["account_balance"] = json!(f64::from(standing.fines_cents) / 100.0);
    }
    v
}

fn item_json(lib: &Library, item: &Item, biblio: bool) -> Value {
    let id = item_id(lib, &item.barcode);
    let loan = lib.state.loans.get(&item.barcode);
    let mut v = json!({
        "item_id": id,
        "biblio_id": id,
        "external_id": item.barcode,
        "home_library_id": item.branch,
        "holding_library_id": item.branch,
        "callnumber": item.call_number,
        "not_for_loan_status": i32::from(item.non_circulating),
        "lost_status": 0,
        "checked_out_date": loan.map(|l| rfc3339(l.lent_at)),
    });
    if biblio {
        v["biblio"] = json!({ "biblio_id": id, "title": item.title, "author": item.author });
    }
    v
}

fn checkout_json(lib: &Library, barcode: &str) -> Option<Value> {
    let loan = lib.state.loans.get(barcode)?;
    let id = item_id(lib, barcode)?;
    Some(json!({
        "checkout_id": id,
        "patron_id": patron_id(lib, &loan.card),
        "item_id": id,
        "due_date": rfc3339(loan.due),
        "checkout_date": rfc3339(loan.lent_at),
        "renewals_count": loan.renewals,
        "library_id": lib.item(barcode).map(|i| i.branch.clone()),
        "onsite_checkout": false,
    }))
}

/// Koha's `CanBookBeIssued` / `CanBookBeRenewed` code for a refusal.
fn code(r: &Refusal) -> &'static str {
    match r {
        Refusal::UnknownPatron => "PATRON_NOT_FOUND",
        Refusal::WrongPin => "WRONG_PIN",
        Refusal::CardLost => "CARD_LOST",
        Refusal::CardExpired => "EXPIRED",
        Refusal::LendingBan(_) => "DEBARRED",
        Refusal::FinesOverLimit { .. } => "DEBT",
        Refusal::TooManyLoans => "TOO_MANY",
        Refusal::UnknownItem => "UNKNOWN_BARCODE",
        Refusal::NotForLoan => "NOT_FOR_LOAN",
        Refusal::OnHoldForAnother => "RESERVED",
        Refusal::OnLoanToAnother => "ISSUED_TO_ANOTHER",
        Refusal::AlreadyOnLoanToYou => "RENEW_ISSUE",
        Refusal::NotOnLoanToYou => "no_checkout",
        Refusal::RenewalLimit => "too_many",
    }
}

impl Tokens {
    fn issue(&self, lifetime: Duration) -> String {
        let mut raw = [0u8; 24];
        let _ = getrandom::getrandom(&mut raw);
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        if let Ok(mut live) = self.live.lock() {
            let now = Instant::now();
            live.retain(|_, exp| *exp > now);
            live.insert(token.clone(), now + lifetime);
        }
        self.issued.fetch_add(1, Ordering::Relaxed);
        token
    }

    fn valid(&self, token: &str) -> bool {
        let ok = self
            .live
            .lock()
            .map(|l| l.get(token).is_some_and(|exp| *exp > Instant::now()))
            .unwrap_or(false);
        if !ok {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

/// Answers one HTTP request from `peer`; `device` says whether it presented a certificate from
/// the simulator's CA (verified in the TLS handshake): the offline list is served only then.
pub async fn handle(
    sim: Arc<Simulator>,
    req: Request<hyper::body::Incoming>,
    peer: std::net::SocketAddr,
    device: bool,
) -> Result<Reply, std::convert::Infallible> {
    let latency = sim.faults.get().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let list_path = path == "/allowlist" || path.starts_with("/allowlist/");
    if list_path && !device {
        warn!(target: "security", %peer, path = %path.chars().take(200).collect::<String>(),
              "offline list refused: no device certificate (mutual TLS); answered 403");
        return Ok(error(
            StatusCode::FORBIDDEN,
            "The offline list is served only to enrolled devices (a certificate from the library's CA)",
        ));
    }
    if let Some(name) = path.strip_prefix("/allowlist/") {
        let tag = req
            .headers()
            .get(hyper::header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        return Ok(published(&sim, name, tag.as_deref()).await);
    }
    let query = pairs(req.uri().query().unwrap_or(""));
    let bearer = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    // Koha takes a JSON query in the `x-koha-query` header as well as in `q`.
    let mut query = query;
    if let Some(q) = req
        .headers()
        .get("x-koha-query")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<serde_json::Map<String, Value>>(v).ok())
    {
        for (k, v) in q {
            if let Some(s) = v.as_str() {
                query.insert(k, s.to_owned());
            } else {
                query.insert(k, v.to_string());
            }
        }
        query.insert("_match".into(), "exact".into());
    }
    let embed = req
        .headers()
        .get("x-koha-embed")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = match Limited::new(req.into_body(), 64 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
            ));
        }
    };
    let started = Instant::now();
    if path == OFFLINE_SERVICE {
        let mut params = query;
        // Form fields and query parameters alike, as Perl's CGI reads them.
        if method == Method::POST {
            params.extend(pairs(&String::from_utf8_lossy(&body)));
        }
        let r = offline_circulation(&sim, &params).await;
        debug!(%method, %path, status = r.status().as_u16(), us = started.elapsed().as_micros() as u64, "staff interface");
        return Ok(r);
    }
    let r = route(
        &sim,
        &method,
        &path,
        &query,
        bearer.as_deref(),
        &embed,
        &body,
    )
    .await;
    debug!(%method, %path, status = r.status().as_u16(), us = started.elapsed().as_micros() as u64, "REST");
    Ok(r)
}

/// A file of the published allow-list directory, with an ETag; 304 when it matches.
async fn published(sim: &Simulator, name: &str, if_none_match: Option<&str>) -> Reply {
    let Some(dir) = &sim.allowlist else {
        return error(StatusCode::NOT_FOUND, "No allow-list is published here");
    };
    if !crate::publishing::servable(name) {
        return error(StatusCode::NOT_FOUND, "Not found");
    }
    let Ok(bytes) = tokio::fs::read(dir.join(name)).await else {
        return error(StatusCode::NOT_FOUND, "Not found");
    };
    let tag = crate::publishing::etag(&bytes);
    let mut r = if if_none_match == Some(tag.as_str()) {
        Response::new(Full::new(Bytes::new()))
    } else {
        Response::new(Full::new(Bytes::from(bytes)))
    };
    if if_none_match == Some(tag.as_str()) {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
    }
    if let Ok(v) = hyper::header::HeaderValue::from_str(&tag) {
        r.headers_mut().insert(hyper::header::ETAG, v);
    }
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/octet-stream"),
    );
    debug!(file = name, status = r.status().as_u16(), "allow-list file");
    r
}

/// Koha's offline circulation service on the staff interface.
pub const OFFLINE_SERVICE: &str = "/cgi-bin/koha/offline_circ/service.pl";

fn text(status: StatusCode, body: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// `offline_circ/service.pl` as newer Koha runs it: `check_api_auth` with the staff account in
/// `userid` and `password`, then `AddOfflineOperation` when `pending` is `true`, else
/// `ProcessOfflineOperation` (`ProcessOfflineIssue` / `ProcessOfflineReturn`, in
/// [`Library::offline_issue`] and [`Library::offline_return`]). The `timestamp` is read as UTC
/// and converted to the library's time. The reply is Koha's words in `text/plain`, with 200
/// whatever happened; an unknown action gets an empty reply, as Koha's undefined result prints.
async fn offline_circulation(sim: &Simulator, params: &HashMap<String, String>) -> Reply {
    let get = |k: &str| params.get(k).map(|v| v.trim()).unwrap_or("");
    let mut lib = sim.library.lock().await;
    let (userid, password) = (
        get("userid"),
        params.get("password").cloned().unwrap_or_default(),
    );
    let staff = lib
        .fixtures
        .staff
        .iter()
        .any(|s| s.userid == userid && redact::Pin::new(password.clone()).matches(&s.password));
    if !staff {
        info!(target: "security", userid = %userid.chars().take(64).collect::<String>(), "offline circulation: authentication failed");
        return text(StatusCode::OK, "Authentication failed.");
    }
    let (action, barcode, card, stamp) = (
        get("action"),
        get("barcode"),
        get("cardnumber"),
        get("timestamp"),
    );
    let Ok(utc) = NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S") else {
        // Koha dies in dt_from_string: the web server's error page.
        return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    let at = chrono::Utc
        .from_utc_datetime(&utc)
        .with_timezone(&Local)
        .naive_local();
    if get("pending") == "true" {
        lib.state
            .pending_offline
            .push(crate::circulation::PendingOffline {
                action: action.to_owned(),
                card: card.to_owned(),
                barcode: barcode.to_owned(),
                at,
                branch: get("branchcode").to_owned(),
            });
        if let Err(e) = sim.store.save(&lib.state) {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("state not saved: {e}"),
            );
        }
        info!(action = %action.chars().take(16).collect::<String>(), item = %barcode.chars().take(64).collect::<String>(), %at, "offline circulation: queued for staff");
        return text(StatusCode::OK, "Added.");
    }
    let (kind, words) = match action {
        "issue" => (
            "checkout",
            match lib.offline_issue(card, barcode, at) {
                Ok(_) => "Success.",
                Err(Refusal::UnknownPatron) => "Borrower not found.",
                Err(_) => "Barcode not found.",
            },
        ),
        "return" => (
            "checkin",
            match lib.offline_return(barcode, at) {
                Ok(true) => "Success.",
                Ok(false) => "Item not issued.",
                Err(_) => "Item not found.",
            },
        ),
        _ => return text(StatusCode::OK, ""),
    };
    let ok = words == "Success.";
    if ok {
        if let Err(e) = sim.store.save(&lib.state) {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("state not saved: {e}"),
            );
        }
    }
    drop(lib);
    sim.record(crate::server::Received {
        kind,
        item: barcode.to_owned(),
        no_block: true,
        transaction_date: stamp.to_owned(),
        ok,
    });
    info!(action = kind, item = %barcode.chars().take(64).collect::<String>(), %at, reply = words, "offline circulation");
    text(StatusCode::OK, words)
}

async fn route(
    sim: &Simulator,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    bearer: Option<&str>,
    embed: &str,
    body: &[u8],
) -> Reply {
    let Some(path) = path.strip_prefix("/api/v1") else {
        return error(StatusCode::NOT_FOUND, "Not found");
    };
    if (method, path) == (&Method::POST, "/oauth/token") {
        let form = pairs(&String::from_utf8_lossy(body));
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return error(StatusCode::BAD_REQUEST, "Unimplemented grant type");
        }
        let lib = sim.library.lock().await;
        let client = form.get("client_id").cloned().unwrap_or_default();
        let secret = form.get("client_secret").cloned().unwrap_or_default();
        let known =
            lib.fixtures.devices.iter().any(|d| {
                d.login == client && redact::Pin::new(secret.clone()).matches(&d.password)
            });
        if !known || sim.faults.get().refuse_login {
            info!(client = %client, "OAuth2 client refused");
            return error(StatusCode::FORBIDDEN, "unauthorized_client");
        }
        let token = sim.tokens.issue(sim.token_lifetime);
        info!(client = %client, lifetime_s = sim.token_lifetime.as_secs(), "OAuth2 token issued");
        return reply(
            StatusCode::OK,
            json!({ "access_token": token, "token_type": "Bearer", "expires_in": sim.token_lifetime.as_secs() }),
        );
    }
    if !bearer.is_some_and(|t| sim.tokens.valid(t)) {
        return error(StatusCode::UNAUTHORIZED, "Authentication failure.");
    }
    let now = sim.clock.local_now();
    let mut lib = sim.library.lock().await;
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let exact = query.get("_match").map(String::as_str) == Some("exact");
    match (method.clone(), segments.as_slice()) {
        (Method::POST, ["auth", "password", "validation"]) => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return error(StatusCode::BAD_REQUEST, "Malformed JSON");
            };
            let id = v.get("identifier").or_else(|| v.get("userid"));
            let (Some(id), Some(pw)) = (
                id.and_then(Value::as_str),
                v.get("password").and_then(Value::as_str),
            ) else {
                return error(StatusCode::BAD_REQUEST, "Validation failed");
            };
            match lib.patron(id).cloned() {
                Some(p) if redact::Pin::new(pw).matches(&p.pin) => reply(
                    StatusCode::CREATED,
                    json!({ "cardnumber": p.card, "patron_id": patron_id(&lib, &p.card), "userid": p.card }),
                ),
                _ => error(StatusCode::BAD_REQUEST, "Validation failed"),
            }
        }
        (Method::GET, ["patrons"]) => {
            let balance = embed.split(',').any(|e| e.trim() == "account_balance");
            let list: Vec<Value> = lib
                .fixtures
                .patrons
                .iter()
                .filter(|p| {
                    let by = |key: &str, value: &str| match query.get(key) {
                        None => true,
                        Some(q) if exact => q == value,
                        Some(q) => value.contains(q.as_str()),
                    };
                    let id = patron_id(&lib, &p.card).unwrap_or(0).to_string();
                    by("cardnumber", &p.card) && by("patron_id", &id)
                })
                .map(|p| patron_json(&lib, p, balance, now))
                .collect();
            // Koha's paging: `_page` from 1, `_per_page` (20 when not given, -1 for all).
            let per_page: i64 = query
                .get("_per_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(20);
            let page: usize = query
                .get("_page")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1)
                .max(1);
            let list = if per_page <= 0 {
                list
            } else {
                let per_page = per_page as usize;
                list.into_iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .collect()
            };
            reply(StatusCode::OK, Value::Array(list))
        }
        (Method::GET, ["items"]) => {
            let biblio = embed.split(',').any(|e| e.trim() == "biblio");
            let list: Vec<Value> = lib
                .fixtures
                .items
                .iter()
                .filter(|i| {
                    let id = item_id(&lib, &i.barcode).unwrap_or(0).to_string();
                    let by = |key: &str, value: &str| match query.get(key) {
                        None => true,
                        Some(q) if exact || key == "item_id" => q == value,
                        Some(q) => value.contains(q.as_str()),
                    };
                    by("external_id", &i.barcode) && by("item_id", &id)
                })
                .map(|i| item_json(&lib, i, biblio))
                .collect();
            reply(StatusCode::OK, Value::Array(list))
        }
        (Method::GET, ["checkouts"]) => {
            let card = query
                .get("patron_id")
                .and_then(|id| patron_by_id(&lib, id))
                .map(|p| p.card);
            let barcode = query
                .get("item_id")
                .and_then(|id| item_by_id(&lib, id))
                .map(|i| i.barcode);
            if (query.contains_key("patron_id") && card.is_none())
                || (query.contains_key("item_id") && barcode.is_none())
            {
                return reply(StatusCode::OK, json!([]));
            }
            let list: Vec<Value> = lib
                .state
                .loans
                .iter()
                .filter(|(b, l)| {
                    card.as_ref().is_none_or(|c| *c == l.card)
                        && barcode.as_ref().is_none_or(|x| x == *b)
                })
                .filter_map(|(b, _)| checkout_json(&lib, b))
                .collect();
            reply(StatusCode::OK, Value::Array(list))
        }
        (Method::GET, ["checkouts", "availability"]) => {
            let patron = query.get("patron_id").and_then(|id| patron_by_id(&lib, id));
            let item = query.get("item_id").and_then(|id| item_by_id(&lib, id));
            let (Some(p), Some(i)) = (patron, item) else {
                return error(StatusCode::NOT_FOUND, "Patron or item not found");
            };
            // A dry run on a copy says what a checkout would meet.
            let mut trial = lib.clone();
            let (blockers, confirms) =
                match trial.checkout(&Checkout::now(&p.card, &i.barcode, now), now) {
                    Ok(_) => (json!({}), json!({})),
                    Err(
                        r @ (Refusal::OnLoanToAnother
                        | Refusal::AlreadyOnLoanToYou
                        | Refusal::OnHoldForAnother),
                    ) => (json!({}), json!({ code(&r): true })),
                    Err(r) => (json!({ code(&r): true }), json!({})),
                };
            reply(
                StatusCode::OK,
                json!({ "blockers": blockers, "confirms": confirms, "warnings": {}, "confirmation_token": null }),
            )
        }
        (Method::POST, ["checkouts"]) => {
            let Ok(v) = serde_json::from_slice::<Value>(body) else {
                return error(StatusCode::BAD_REQUEST, "Malformed JSON");
            };
            let id = |k: &str| v.get(k).and_then(Value::as_i64).map(|n| n.to_string());
            let Some(p) = id("patron_id").and_then(|i| patron_by_id(&lib, &i)) else {
                return reply(
                    StatusCode::CONFLICT,
                    json!({"error": "Patron not found", "error_code": "PATRON_NOT_FOUND"}),
                );
            };
            let Some(i) = id("item_id").and_then(|i| item_by_id(&lib, &i)) else {
                return reply(
                    StatusCode::CONFLICT,
                    json!({"error": "Item not found", "error_code": "ITEM_NOT_FOUND"}),
                );
            };
            match lib.checkout(&Checkout::now(&p.card, &i.barcode, now), now) {
                Ok(_) => {
                    if let Err(e) = sim.store.save(&lib.state) {
                        return error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            &format!("state not saved: {e}"),
                        );
                    }
                    match checkout_json(&lib, &i.barcode) {
                        Some(c) => reply(StatusCode::CREATED, c),
                        None => error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Unknown error during checkout",
                        ),
                    }
                }
                Err(r) => error(
                    StatusCode::FORBIDDEN,
                    &format!("Checkout not authorized ({})", code(&r)),
                ),
            }
        }
        (Method::POST, ["checkouts", id, "renewal" | "renewals"]) => {
            let Some(i) = item_by_id(&lib, id) else {
                return error(StatusCode::NOT_FOUND, "Checkout not found");
            };
            let Some(card) = lib.state.loans.get(&i.barcode).map(|l| l.card.clone()) else {
                return error(StatusCode::NOT_FOUND, "Checkout not found");
            };
            match lib.renew(&card, &i.barcode, now) {
                Ok(_) => {
                    if let Err(e) = sim.store.save(&lib.state) {
                        return error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            &format!("state not saved: {e}"),
                        );
                    }
                    match checkout_json(&lib, &i.barcode) {
                        Some(c) => reply(StatusCode::CREATED, c),
                        None => error(StatusCode::INTERNAL_SERVER_ERROR, "Unknown error"),
                    }
                }
                Err(r) => error(
                    StatusCode::FORBIDDEN,
                    &format!("Renewal not authorized ({})", code(&r)),
                ),
            }
        }
        (Method::DELETE, ["checkouts", id]) => {
            let Some(i) = item_by_id(&lib, id) else {
                return error(StatusCode::NOT_FOUND, "Checkout not found");
            };
            if !lib.state.loans.contains_key(&i.barcode) {
                return error(StatusCode::NOT_FOUND, "Checkout not found");
            }
            let branch = query.get("library_id").cloned().unwrap_or_default();
            match lib.checkin(&i.barcode, now, &branch) {
                Ok(_) => {
                    if let Err(e) = sim.store.save(&lib.state) {
                        return error(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            &format!("state not saved: {e}"),
                        );
                    }
                    let mut r = Response::new(Full::new(Bytes::new()));
                    *r.status_mut() = StatusCode::NO_CONTENT;
                    r
                }
                Err(r) => error(
                    StatusCode::CONFLICT,
                    &format!("Checkin not possible ({})", code(&r)),
                ),
            }
        }
        (Method::GET, ["holds"]) => {
            let Some(p) = query.get("patron_id").and_then(|id| patron_by_id(&lib, id)) else {
                return reply(StatusCode::OK, json!([]));
            };
            let pid = patron_id(&lib, &p.card);
            // Picked up at the patron's home library.
            let pickup = p.home_branch.clone();
            let pickup_name = lib
                .fixtures
                .branches
                .iter()
                .find(|b| b.code == pickup)
                .map(|b| b.name.clone());
            let list: Vec<Value> = lib
                .holds_of(&p.card)
                .filter_map(|barcode| {
                    let id = item_id(&lib, barcode)?;
                    let waiting = !lib.state.loans.contains_key(barcode);
                    let mut hold = json!({
                        "hold_id": id,
                        "patron_id": pid,
                        "biblio_id": id,
                        "item_id": id,
                        "pickup_library_id": pickup,
                        "status": if waiting { Value::from("W") } else { Value::Null },
                    });
                    if embed.split(',').any(|e| e.trim() == "pickup_library") {
                        hold["pickup_library"] =
                            json!({ "library_id": pickup, "name": pickup_name });
                    }
                    Some(hold)
                })
                .collect();
            reply(StatusCode::OK, Value::Array(list))
        }
        (Method::GET, ["contrib", "kohasuomi", "borrowers", "ssstatus"]) => {
            let form = pairs(&String::from_utf8_lossy(body));
            let Some(card) = form.get("cardnumber").or_else(|| query.get("cardnumber")) else {
                return error(StatusCode::BAD_REQUEST, "cardnumber is required");
            };
            let Some(p) = lib.patron(card).cloned() else {
                return error(
                    StatusCode::NOT_FOUND,
                    "No Patron with the given cardnumber found.",
                );
            };
            let branch = form.get("branchcode").cloned().unwrap_or_default();
            reply(StatusCode::OK, self_service_status(&lib, &p, &branch, now))
        }
        _ => error(StatusCode::NOT_FOUND, "Not found"),
    }
}

/// The Koha-Suomi plugin's verdict for `p` at `branch`: the exception class it would throw.
fn self_service_status(lib: &Library, p: &Patron, branch: &str, now: NaiveDateTime) -> Value {
    const EX: &str = "Koha::Plugin::Fi::KohaSuomi::SelfService::Exception";
    let s = lib.standing(p, now);
    if !p.self_service {
        return json!({ "permission": false, "error": format!("{EX}::PermissionRevoked") });
    }
    for (b, _, until) in &s.self_service_blocks {
        if b.as_deref().is_none_or(|b| b == branch) {
            return json!({
                "permission": false,
                "error": format!("{EX}::PermissionRevoked"),
                "expirationdate": until.map(|u| u.format("%Y-%m-%d").to_string()),
            });
        }
    }
    if Library::age(p, now.date()) < 15 && !p.guardian_consent {
        return json!({ "permission": false, "error": format!("{EX}::Underage") });
    }
    if s.card_lost || s.lending_ban || s.fines_over_limit || p.card_expires < now.date() {
        return json!({ "permission": false, "error": EX });
    }
    json!({ "permission": true })
}
