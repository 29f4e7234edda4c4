//! The staff's pages: server-rendered HTML over HTTPS, in Finnish, Swedish and English, made
//! to read on a phone.
//!
//! - `/` the fleet, problems first (silent, open alarm, old list, out of paper, queue conflicts,
//!   selftest failing, reader missing);
//! - `/devices/ID` a device: its state, open alarms, recent events, status history;
//! - `/alarms` alarms, to acknowledge with a note, and who was told;
//! - `/audit` every staff action and refused sign-in (admins only);
//! - `/stats` visits per branch, day and hour, refusals, kiosk loans and returns, with a CSV;
//! - `/calendars` each branch's week, holidays and closed days, sent to its devices as signed
//!   policy bundles.
//!
//! Every page but `/login` needs a session. Every form carries the session's CSRF token (and the
//! sign-in form a token of its own, in a cookie beside it); a POST whose `Origin` is another site
//! is refused before that. Responses carry a strict Content-Security-Policy (no script at all),
//! `no-store`, and HSTS. Nothing shown names a patron: events carry reason codes, and the door's
//! keyed card pseudonyms only for admins.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use sqlx::Row;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::Clock;
use crate::alarms::{self, AlarmRow};
use crate::db::{Db, DbError, DeviceRow};
use crate::rules::Rule;
use crate::settings::{Alarms, StaffListener};
use crate::staff::{self, Role, Session, SignInError};
use crate::words::{Lang, tr};

mod calendar;
mod orders;
mod patrons;
mod presence;
mod security;
mod stats;

const SESSION_COOKIE: &str = "__Host-omatoimi";
const LOGIN_COOKIE: &str = "__Host-omatoimi-login";
const LANG_COOKIE: &str = "omatoimi-lang";
const MAX_FORM: usize = 16 * 1024;

/// What every request needs.
struct App {
    db: Db,
    clock: Clock,
    alarms: Arc<Alarms>,
    policy: Arc<std::sync::OnceLock<Arc<crate::policy::Publisher>>>,
    commands: Arc<crate::commands::Waiting>,
    patrons: Arc<std::sync::OnceLock<crate::patrons::PatronRights>>,
    idle_ms: i64,
    max_ms: i64,
}

/// What the pages share with the rest of the console, set once it is (the policy key and a
/// patron's rights can come after the pages start).
#[derive(Debug, Clone)]
pub struct Shared {
    /// Its alarm rules and recipients.
    pub alarms: Arc<Alarms>,
    /// The signer of bundles and commands.
    pub policy: Arc<std::sync::OnceLock<Arc<crate::policy::Publisher>>>,
    /// The devices' held requests for commands.
    pub commands: Arc<crate::commands::Waiting>,
    /// What a patron's rights need.
    pub patrons: Arc<std::sync::OnceLock<crate::patrons::PatronRights>>,
}

/// Binds the staff's listener (HTTPS with the console's certificate) and serves it until
/// `stopped` changes.
pub async fn start(
    l: &StaffListener,
    db: Db,
    clock: Clock,
    shared: Shared,
    mut stopped: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let Shared {
        alarms,
        policy,
        commands,
        patrons,
    } = shared;
    let tls = server_config(l)?;
    let listener = TcpListener::bind(l.listen)
        .await
        .map_err(|e| anyhow::anyhow!("staff listener {}: {e}", l.listen))?;
    let local = listener.local_addr()?;
    info!(%local, "the staff's pages (HTTPS)");
    let app = Arc::new(App {
        db,
        clock,
        alarms,
        policy,
        commands,
        patrons,
        idle_ms: l.idle_ms,
        max_ms: l.max_ms,
    });
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let Ok((tcp, peer)) = accepted else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let (acceptor, app) = (acceptor.clone(), app.clone());
                    connections.spawn(async move {
                        let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                            Ok(Ok(t)) => t,
                            Ok(Err(e)) => {
                                debug!(%peer, error = %e, "staff TLS handshake refused");
                                return;
                            }
                            Err(_) => return,
                        };
                        let service = hyper::service::service_fn(move |req| {
                            let app = app.clone();
                            async move { Ok::<_, Infallible>(handle(&app, req, peer).await) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(Duration::from_secs(30))
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.abort_all();
    });
    Ok((local, task))
}

fn server_config(l: &StaffListener) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (certs, key) = crate::ingest::identity(&l.certificate, &l.key)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

type Answer = Response<Full<Bytes>>;

/// A request's facts the pages use.
struct Ctx {
    lang: Lang,
    set_lang: bool,
    session: Option<Session>,
    cookies: HashMap<String, String>,
    peer: String,
}

async fn handle(app: &App, req: Request<Incoming>, peer: SocketAddr) -> Answer {
    let cookies = cookies(req.headers());
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let (lang, set_lang) = match query.get("lang").and_then(|l| Lang::from_code(l)) {
        Some(l) => (l, true),
        None => (
            cookies
                .get(LANG_COOKIE)
                .and_then(|l| Lang::from_code(l))
                .unwrap_or_else(|| {
                    Lang::from_accept(
                        req.headers()
                            .get(header::ACCEPT_LANGUAGE)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or(""),
                    )
                }),
            false,
        ),
    };
    let path = req.uri().path().to_owned();
    let query_text = req.uri().query().unwrap_or("").to_owned();
    // The style sheet and the browser's own icon request need no session (no database work).
    if req.method() == Method::GET && (path == "/style.css" || path == "/favicon.ico") {
        return secure(css_or_icon(&path).unwrap_or_else(|| plain(StatusCode::NOT_FOUND, "")));
    }
    let now = (app.clock)();
    let session = match cookies.get(SESSION_COOKIE) {
        Some(token) => staff::session(&app.db, token, now, app.idle_ms, app.max_ms)
            .await
            .unwrap_or_else(|e| {
                warn!("session: {e}");
                None
            }),
        None => None,
    };
    let mut ctx = Ctx {
        lang,
        set_lang,
        session,
        cookies,
        peer: peer.ip().to_string(),
    };
    let method = req.method().clone();
    if method == Method::POST && !same_origin(&req) {
        return finish(
            &ctx,
            plain(StatusCode::FORBIDDEN, "cross-site request refused\n"),
        );
    }
    let answer = match (method.clone(), path.as_str()) {
        (Method::GET, "/login") => login_page(&ctx, None),
        (Method::POST, "/login") => login(app, &mut ctx, req).await,
        _ if ctx.session.is_none() => Ok(redirect("/login")),
        (Method::POST, "/logout") => logout(app, &ctx, req).await,
        (Method::GET, "/") => fleet(app, &ctx).await,
        (Method::GET, "/alarms") => alarms_page(app, &ctx).await,
        (Method::GET, "/audit") => audit_page(app, &ctx).await,
        (Method::GET, p) if p.starts_with("/devices/") => {
            device_page(app, &ctx, &p["/devices/".len()..]).await
        }
        (Method::POST, p)
            if p.strip_prefix("/devices/")
                .and_then(|r| r.strip_suffix("/commands"))
                .is_some_and(|id| !id.is_empty()) =>
        {
            let id = percent_decode(&p["/devices/".len()..p.len() - "/commands".len()]);
            orders::send(app, &ctx, req, &id).await
        }
        (Method::GET, "/calendars") => calendar::list(app, &ctx).await,
        (Method::GET, "/stats") => stats::show(app, &ctx, &query_text).await,
        (Method::GET, "/security") => security::show(app, &ctx, None).await,
        (Method::GET, "/presence") => presence::show(app, &ctx).await,
        (Method::POST, "/presence") => presence::look_up(app, &ctx, req).await,
        (Method::POST, "/security/assess") => security::assess(app, &ctx, req).await,
        (Method::GET, "/patrons") => patrons::show(app, &ctx).await,
        (Method::POST, "/patrons") => patrons::ask(app, &ctx, req).await,
        (method, p) if p.starts_with("/patrons/") => {
            let rest: Vec<String> = p["/patrons/".len()..]
                .split('/')
                .map(percent_decode)
                .collect();
            match (method, rest.as_slice()) {
                (Method::GET, [id]) => patrons::one(app, &ctx, id).await,
                (Method::GET, [id, f]) if f == "export.json" => {
                    patrons::download(app, &ctx, id).await
                }
                (Method::POST, [id, a]) if a == "again" => patrons::again(app, &ctx, req, id).await,
                _ => Ok(plain(StatusCode::NOT_FOUND, "not found\n")),
            }
        }
        (Method::GET, "/stats.csv") => stats::csv(app, &query_text).await,
        (method, p) if p.starts_with("/calendars/") => {
            let rest: Vec<String> = p["/calendars/".len()..]
                .split('/')
                .map(percent_decode)
                .collect();
            match (method, rest.as_slice()) {
                (Method::GET, [b]) => calendar::show(app, &ctx, b, None).await,
                (Method::POST, [b]) => calendar::save(app, &ctx, req, b).await,
                (Method::POST, [b, e]) if e == "exceptions" => {
                    calendar::add_exception(app, &ctx, req, b).await
                }
                (Method::POST, [b, r]) if r == "rules" => {
                    calendar::save_rules(app, &ctx, req, b).await
                }
                (Method::POST, [b, e, i, d]) if e == "exceptions" && d == "delete" => {
                    match i.parse() {
                        Ok(i) => calendar::remove_exception(app, &ctx, req, b, i).await,
                        Err(_) => Ok(plain(StatusCode::NOT_FOUND, "no such day\n")),
                    }
                }
                _ => Ok(plain(StatusCode::NOT_FOUND, "not found\n")),
            }
        }
        (Method::POST, p)
            if p.strip_prefix("/alarms/")
                .and_then(|r| r.strip_suffix("/ack"))
                .is_some_and(|id| !id.is_empty()) =>
        {
            let id = p["/alarms/".len()..p.len() - "/ack".len()].to_owned();
            acknowledge(app, &ctx, req, &id).await
        }
        _ => Ok(page(
            &ctx,
            StatusCode::NOT_FOUND,
            tr(ctx.lang, "Not found."),
            "",
            String::new(),
        )),
    };
    let answer = answer.unwrap_or_else(|e| {
        warn!(%path, "staff page: {e}");
        plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the console's database did not answer; try again\n",
        )
    });
    finish(&ctx, answer)
}

/// Headers every answer carries, and the language cookie when one was chosen.
fn finish(ctx: &Ctx, r: Answer) -> Answer {
    let mut r = secure(r);
    if ctx.set_lang {
        set_cookie(
            &mut r,
            &format!(
                "{LANG_COOKIE}={}; Path=/; Secure; SameSite=Lax; Max-Age=31536000",
                ctx.lang.code()
            ),
        );
    }
    r
}

/// Headers every answer carries.
fn secure(mut r: Answer) -> Answer {
    let h = r.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        // (`no-referrer` would make browsers send `Origin: null` on the forms' POSTs.)
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
        ("strict-transport-security", "max-age=31536000"),
        ("x-frame-options", "DENY"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

fn set_cookie(r: &mut Answer, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn cookies(h: &hyper::HeaderMap) -> HashMap<String, String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// A POST from a page of this console: its `Origin` (or, without one, its `Referer`) names this
/// host. Browsers send one of them on every POST.
fn same_origin(req: &Request<Incoming>) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let from = req
        .headers()
        .get(header::ORIGIN)
        .or_else(|| req.headers().get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        Some(o) => {
            let rest = o.strip_prefix("https://").unwrap_or("");
            let authority = rest.split('/').next().unwrap_or("");
            !host.is_empty() && authority == host
        }
        // No browser: a script with the session's cookie and CSRF token may go on.
        None => true,
    }
}

async fn form(req: Request<Incoming>) -> Option<HashMap<String, String>> {
    let body = Limited::new(req.into_body(), MAX_FORM)
        .collect()
        .await
        .ok()?;
    Some(
        form_urlencoded::parse(&body.to_bytes())
            .into_owned()
            .collect(),
    )
}

fn plain(status: StatusCode, text: &str) -> Answer {
    let mut r = Response::new(Full::new(Bytes::from(text.to_owned())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn redirect(to: &str) -> Answer {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// HTML-escaped.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment, percent-encoded.
fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn page(ctx: &Ctx, status: StatusCode, title: &str, active: &str, body: String) -> Answer {
    let lang = ctx.lang;
    let mut html = format!(
        "<!doctype html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} – {}</title><link rel=\"stylesheet\" href=\"/style.css\"></head><body>",
        lang.code(),
        esc(title),
        esc(tr(lang, "Library console"))
    );
    html.push_str("<header><nav>");
    if let Some(s) = &ctx.session {
        for (href, label, key) in [
            ("/", tr(lang, "Devices"), "fleet"),
            ("/alarms", tr(lang, "Alarms"), "alarms"),
            ("/calendars", tr(lang, "Calendars"), "calendars"),
            ("/stats", tr(lang, "Statistics"), "stats"),
            ("/security", tr(lang, "Security"), "security"),
        ] {
            let cur = if key == active {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(html, "<a href=\"{href}\"{cur}>{}</a>", esc(label));
        }
        if s.account.role == Role::Admin {
            let cur = if active == "presence" {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(
                html,
                "<a href=\"/presence\"{cur}>{}</a>",
                esc(tr(lang, "Who was in"))
            );
            let cur = if active == "patrons" {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(
                html,
                "<a href=\"/patrons\"{cur}>{}</a>",
                esc(tr(lang, "Patron requests"))
            );
        }
        if s.account.role.reads_audit() {
            let cur = if active == "audit" {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(
                html,
                "<a href=\"/audit\"{cur}>{}</a>",
                esc(tr(lang, "Audit log"))
            );
        }
    }
    html.push_str("<span class=\"langs\">");
    for l in Lang::ALL {
        if l == lang {
            let _ = write!(html, "<b>{}</b>", l.code().to_uppercase());
        } else {
            let _ = write!(
                html,
                "<a href=\"?lang={}\" lang=\"{}\" title=\"{}\">{}</a>",
                l.code(),
                l.code(),
                l.name(),
                l.code().to_uppercase()
            );
        }
    }
    html.push_str("</span></nav>");
    if let Some(s) = &ctx.session {
        let _ = write!(
            html,
            "<form class=\"who\" method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><span>{} <b>{}</b> ({})</span> <button>{}</button></form>",
            esc(&s.csrf),
            esc(tr(lang, "Signed in as")),
            esc(&s.account.username),
            s.account.role.code(),
            esc(tr(lang, "Sign out"))
        );
    }
    let _ = writeln!(
        html,
        "</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    let mut r = Response::new(Full::new(Bytes::from(html)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// The style sheet; `None` for the browser's own `/favicon.ico` (there is none, and a redirect
/// to /login would mint a new sign-in token under the form the person is filling in).
fn css_or_icon(path: &str) -> Option<Answer> {
    (path == "/style.css").then(|| {
        let mut r = Response::new(Full::new(Bytes::from_static(STYLE.as_bytes())));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        );
        r
    })
}

const STYLE: &str = r#":root{--bad:#a4000f;--warn:#7a4a00;--ok:#1e5e2b;--ink:#111;--muted:#555;--line:#ccc}
*{box-sizing:border-box}
pre.selftest{margin:.4rem 0 0;font-size:.85em;white-space:pre-wrap}
body{margin:0;font:17px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#fafafa}
header{background:#12355b;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;justify-content:space-between}
header nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600;padding:.35rem 0}
header a[aria-current]{text-decoration:underline;text-underline-offset:.3em}
header .langs a,header .langs b{margin:0 .35rem 0 0;font-weight:400}
header form.who{margin:0;display:flex;gap:.5rem;align-items:center;font-size:.9rem}
main{padding:1rem;max-width:70rem;margin:auto}
h1{font-size:1.5rem;margin:.2rem 0 1rem}h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr));gap:.75rem}
.card{background:#fff;border:1px solid var(--line);border-left:.4rem solid var(--ok);border-radius:.3rem;padding:.6rem .8rem;color:inherit;text-decoration:none;display:block}
.card.bad{border-left-color:var(--bad)}.card.warn{border-left-color:var(--warn)}
.card .name{font-weight:700}.card .meta{color:var(--muted);font-size:.9rem}
.problem{display:inline-block;margin:.2rem .3rem 0 0;padding:0 .4rem;border-radius:.2rem;background:#fde8ea;color:var(--bad);font-size:.9rem;font-weight:600}
.problem.warn{background:#fff1d6;color:var(--warn)}
.fine{color:var(--ok);font-weight:600}td.bad{color:var(--bad);font-weight:600}td.warn{color:var(--warn);font-weight:600}
fieldset{border:0;padding:0;margin:0;font-size:.9rem}fieldset legend{padding:0}
form.grid label.check{flex-direction:row;align-items:center;gap:.4rem}input[type=radio],input[type=checkbox]{width:1.2rem;height:1.2rem;margin:0}
.scroll{overflow-x:auto}
.chart{width:100%;height:auto;max-height:14rem;background:#fff;border:1px solid var(--line)}
form.grid{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.5rem 0}form.grid label{display:flex;flex-direction:column;font-size:.9rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.95rem}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef1f5}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:var(--muted)}dd{margin:0}
.alarm{background:#fff;border:1px solid var(--line);border-left:.4rem solid var(--bad);border-radius:.3rem;padding:.6rem .8rem;margin-bottom:.75rem}
.alarm.done{border-left-color:var(--line)}
.alarm form{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.5rem}
input,textarea,button,select{font:inherit}
select{padding:.4rem;max-width:100%}
input[type=text],input[type=password],textarea{padding:.5rem;border:1px solid #888;border-radius:.25rem;width:100%;max-width:22rem}
button{padding:.5rem 1rem;border:0;border-radius:.25rem;background:#12355b;color:#fff;cursor:pointer;min-height:2.75rem}
header button{background:#fff;color:#12355b;min-height:2.2rem;padding:.2rem .7rem}
.login{max-width:24rem;background:#fff;border:1px solid var(--line);border-radius:.3rem;padding:1rem}
.login label{display:block;margin:.6rem 0 .2rem;font-weight:600}
.error{background:#fde8ea;color:var(--bad);padding:.5rem;border-radius:.25rem;font-weight:600}
.muted{color:var(--muted)}
@media (max-width:40rem){body{font-size:16px}main{padding:.6rem}th,td{padding:.3rem}}
"#;

// ---------------------------------------------------------------------------------------------
// Sign-in and sign-out.

fn login_page(ctx: &Ctx, error: Option<&str>) -> Result<Answer, DbError> {
    if ctx.session.is_some() {
        return Ok(redirect("/"));
    }
    let lang = ctx.lang;
    // One token per browser while it signs in: a second tab or a reload keeps the first form good.
    let token = ctx
        .cookies
        .get(LOGIN_COOKIE)
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .cloned()
        .unwrap_or_else(alarms::random_id);
    let mut body = String::from("<form class=\"login\" method=\"post\" action=\"/login\">");
    if let Some(e) = error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    let _ = write!(
        body,
        "<input type=\"hidden\" name=\"login_csrf\" value=\"{token}\"><label for=\"u\">{}</label><input type=\"text\" id=\"u\" name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" required><label for=\"p\">{}</label><input type=\"password\" id=\"p\" name=\"password\" autocomplete=\"current-password\" required><p><button>{}</button></p></form>",
        esc(tr(lang, "User name")),
        esc(tr(lang, "Password")),
        esc(tr(lang, "Sign in"))
    );
    let mut r = page(ctx, StatusCode::OK, tr(lang, "Sign in"), "", body);
    set_cookie(
        &mut r,
        &format!("{LOGIN_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=3600"),
    );
    Ok(r)
}

async fn login(app: &App, ctx: &mut Ctx, req: Request<Incoming>) -> Result<Answer, DbError> {
    let Some(f) = form(req).await else {
        return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n"));
    };
    let lang = ctx.lang;
    let expected = ctx.cookies.get(LOGIN_COOKIE).cloned().unwrap_or_default();
    let given = f.get("login_csrf").cloned().unwrap_or_default();
    if expected.is_empty() || !staff::same(&expected, &given) {
        return login_page(
            ctx,
            Some(tr(lang, "The form was too old; please try again.")),
        );
    }
    let username = f.get("username").map(|u| u.trim()).unwrap_or("");
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let now = (app.clock)();
    match staff::sign_in(&app.db, username, password, now, &ctx.peer).await {
        Ok(s) => {
            info!(user = %s.account.username, "staff signed in");
            let mut r = redirect("/");
            set_cookie(
                &mut r,
                &format!(
                    "{SESSION_COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Strict",
                    s.token
                ),
            );
            set_cookie(
                &mut r,
                &format!("{LOGIN_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
            );
            Ok(r)
        }
        Err(SignInError::Wrong) => login_page(ctx, Some(tr(lang, "Wrong user name or password."))),
        Err(SignInError::Locked) => login_page(
            ctx,
            Some(tr(
                lang,
                "Too many wrong passwords: try again in 15 minutes.",
            )),
        ),
        Err(SignInError::Db(e)) => Err(e),
    }
}

/// The form's CSRF token matches the session's.
/// The signed-in staff member is an admin.
fn is_admin(ctx: &Ctx) -> bool {
    ctx.session
        .as_ref()
        .is_some_and(|s| s.account.role == Role::Admin)
}

/// The page saying the role may not.
fn forbidden(ctx: &Ctx) -> Answer {
    page(
        ctx,
        StatusCode::FORBIDDEN,
        tr(ctx.lang, "Not allowed for your role."),
        "",
        String::new(),
    )
}

/// The session's form token (empty without a session).
fn csrf(ctx: &Ctx) -> String {
    ctx.session
        .as_ref()
        .map(|s| s.csrf.clone())
        .unwrap_or_default()
}

fn csrf_ok(ctx: &Ctx, f: &HashMap<String, String>) -> bool {
    match (&ctx.session, f.get("csrf")) {
        (Some(s), Some(given)) => staff::same(&s.csrf, given),
        _ => false,
    }
}

async fn logout(app: &App, ctx: &Ctx, req: Request<Incoming>) -> Result<Answer, DbError> {
    let f = form(req).await.unwrap_or_default();
    if !csrf_ok(ctx, &f) {
        return Ok(plain(StatusCode::FORBIDDEN, "the form's token is wrong\n"));
    }
    if let Some(s) = &ctx.session {
        staff::sign_out(&app.db, s, (app.clock)(), &ctx.peer).await?;
    }
    let mut r = redirect("/login");
    set_cookie(
        &mut r,
        &format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// The fleet.

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Someone should look now.
    Bad,
    /// Someone should look today.
    Warn,
}

/// A device's problems (English phrases, through [`tr`]), worst first (pure).
pub fn problems(
    d: &DeviceRow,
    open_alarms: i64,
    now_ms: i64,
    silent_ms: i64,
) -> Vec<(Severity, &'static str)> {
    let g = d.gauge_map();
    let gauge = |name: &str| g.get(name).copied();
    let mut out = vec![];
    if now_ms - d.last_seen > silent_ms {
        out.push((Severity::Bad, "Offline"));
    }
    if open_alarms > 0 {
        out.push((Severity::Bad, "Open alarm"));
    }
    let now_s = now_ms as f64 / 1000.0;
    let list_old = gauge("omatoimi_allowlist_expires_timestamp_seconds")
        .is_some_and(|t| t > 0.0 && t < now_s + 12.0 * 3600.0)
        || gauge("omatoimi_allowlist_last_sync_timestamp_seconds")
            .is_some_and(|t| t > 0.0 && now_s - t > 24.0 * 3600.0);
    if list_old {
        out.push((Severity::Warn, "Offline list old"));
    }
    if gauge(crate::rules::PAPER_OUT_GAUGE).is_some_and(|v| v >= 1.0) {
        out.push((Severity::Warn, "Printer out of paper"));
    }
    if gauge("omatoimi_queue_conflicts").is_some_and(|v| v > 0.0) {
        out.push((Severity::Warn, "Queue conflicts"));
    }
    if gauge("omatoimi_selftest_ok").is_some_and(|v| v < 1.0) {
        out.push((Severity::Warn, "Selftest failing"));
    }
    if gauge("omatoimi_rfid_pad_ok").is_some_and(|v| v < 1.0) {
        out.push((Severity::Bad, "Reader missing"));
    }
    out.sort_by_key(|p| p.0);
    out
}

fn local(app: &App, ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| "?".into(),
        |t| {
            t.to_zoned_datetime(app.alarms.time_zone.clone())
                .strftime("%-d.%-m.%Y %H:%M:%S")
                .to_string()
        },
    )
}

fn age(lang: Lang, ms: i64) -> String {
    let s = (ms / 1000).max(0);
    let n = if s < 120 {
        format!("{s} s")
    } else if s < 7200 {
        format!("{} min", s / 60)
    } else if s < 172_800 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d", s / 86_400)
    };
    match lang {
        // "5 min sitten", "för 5 min sedan", "5 min ago"
        Lang::Sv => format!("för {n} {}", tr(lang, "ago")),
        _ => format!("{n} {}", tr(lang, "ago")),
    }
}

fn role_name(lang: Lang, role: &str) -> &'static str {
    match role {
        "door" => tr(lang, "Door"),
        "kiosk" => tr(lang, "Kiosk"),
        _ => "?",
    }
}

async fn fleet(app: &App, ctx: &Ctx) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let now = (app.clock)();
    let devices = app.db.devices().await?;
    let open = alarms::open_by_device(&app.db).await?;
    let mut rows: Vec<_> = devices
        .iter()
        .map(|d| {
            let p = problems(
                d,
                open.get(&d.device_id).copied().unwrap_or(0),
                now,
                app.alarms.silent_ms,
            );
            (d, p)
        })
        .collect();
    // Problems first: the worst, then the most, then by branch and name.
    rows.sort_by(|(a, pa), (b, pb)| {
        let key =
            |p: &Vec<(Severity, &str)>| (p.first().map_or(2, |x| x.0 as u8), usize::MAX - p.len());
        key(pa)
            .cmp(&key(pb))
            .then_with(|| (&a.branch, &a.device_id).cmp(&(&b.branch, &b.device_id)))
    });
    let with = rows.iter().filter(|r| !r.1.is_empty()).count();
    let mut body = format!(
        "<p>{}: {} · {}: {}</p><div class=\"cards\">",
        esc(tr(lang, "Devices")),
        devices.len(),
        esc(tr(lang, "With problems")),
        with,
    );
    for (d, p) in &rows {
        let class = match p.first() {
            Some((Severity::Bad, _)) => " bad",
            Some((Severity::Warn, _)) => " warn",
            None => "",
        };
        let _ = write!(
            body,
            "<a class=\"card{class}\" href=\"/devices/{}\"><div class=\"name\">{}</div><div class=\"meta\">{} · {} · {}</div><div class=\"meta\">{}: {}</div><div>",
            seg(&d.device_id),
            esc(d.name.as_deref().unwrap_or(&d.device_id)),
            esc(&d.branch),
            esc(role_name(lang, &d.role)),
            esc(&d.device_id),
            esc(tr(lang, "Last report")),
            esc(&age(lang, now - d.last_seen)),
        );
        if p.is_empty() {
            let _ = write!(
                body,
                "<span class=\"fine\">{}</span>",
                esc(tr(lang, "All in order"))
            );
        }
        for (sev, what) in p {
            let c = if *sev == Severity::Warn { " warn" } else { "" };
            let _ = write!(
                body,
                "<span class=\"problem{c}\">{}</span>",
                esc(tr(lang, what))
            );
        }
        body.push_str("</div></a>");
    }
    body.push_str("</div>");
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Devices"),
        "fleet",
        body,
    ))
}

// ---------------------------------------------------------------------------------------------
// A device.

fn event_kind(lang: Lang, kind: &str) -> String {
    let known = [
        "entry",
        "denied",
        "exit",
        "alarm",
        "alarm-cleared",
        "tamper",
        "security",
        "daemon",
        "device",
        "loan",
        "return",
        "queue-conflict",
    ];
    match known.iter().find(|k| **k == kind) {
        Some(k) => tr(lang, k).to_owned(),
        None => kind.to_owned(),
    }
}

async fn device_page(app: &App, ctx: &Ctx, id: &str) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let id = percent_decode(id);
    let Some(d) = app.db.device(&id).await? else {
        return Ok(page(
            ctx,
            StatusCode::NOT_FOUND,
            tr(lang, "Not found."),
            "",
            String::new(),
        ));
    };
    let Some(s) = &ctx.session else {
        return Ok(redirect("/login"));
    };
    let role = s.account.role;
    let now = (app.clock)();
    let alarms = alarms::list(&app.db, Some(&d.device_id), 10).await?;
    let open = alarms.iter().filter(|a| a.acked_at.is_none()).count() as i64;
    let p = problems(&d, open, now, app.alarms.silent_ms);
    let mut body = String::from("<dl>");
    let _ = write!(
        body,
        "<dt>{}</dt><dd>{} · {}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{} ({})</dd><dt>{}</dt><dd>{}</dd>",
        esc(tr(lang, "Device")),
        esc(&d.device_id),
        esc(role_name(lang, &d.role)),
        esc(tr(lang, "Branch")),
        esc(&d.branch),
        esc(tr(lang, "Last report")),
        esc(&age(lang, now - d.last_seen)),
        esc(&local(app, d.last_seen)),
        esc(tr(lang, "Software")),
        esc(d.software.as_deref().unwrap_or("?")),
    );
    if let Some(skew) = d
        .clock_skew_ms
        .filter(|s| s.checked_abs().is_none_or(|a| a > 30_000))
    {
        let _ = write!(
            body,
            "<dt>{}</dt><dd class=\"problem warn\">{:+} s</dd>",
            esc(tr(lang, "Clock off by")),
            (skew / 1000).saturating_neg()
        );
    }
    let _ = write!(body, "<dt>{}</dt><dd>", esc(tr(lang, "State")));
    if p.is_empty() {
        let _ = write!(
            body,
            "<span class=\"fine\">{}</span>",
            esc(tr(lang, "All in order"))
        );
    }
    for (sev, what) in &p {
        let c = if *sev == Severity::Warn { " warn" } else { "" };
        let _ = write!(
            body,
            "<span class=\"problem{c}\">{}</span>",
            esc(tr(lang, what))
        );
    }
    body.push_str("</dd></dl>");
    if d.role == "door" || d.role == "kiosk" {
        body.push_str(&orders::section(app, ctx, &d).await?);
    }
    if !alarms.is_empty() {
        let _ = write!(body, "<h2>{}</h2>", esc(tr(lang, "Alarms")));
        for a in &alarms {
            alarm_card(app, ctx, &mut body, a);
        }
    }
    // Recent events.
    let _ = write!(body, "<h2>{}</h2>", esc(tr(lang, "Recent events")));
    let events = app.db.recent_events(&d.device_id, 50).await?;
    if events.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\">{}</p>",
            esc(tr(lang, "No events."))
        );
    } else {
        let card_col = role.sees_card_pseudonyms();
        let _ = write!(
            body,
            "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>{}</tr></thead><tbody>",
            esc(tr(lang, "Time")),
            esc(tr(lang, "Event")),
            esc(tr(lang, "Reason")),
            esc(tr(lang, "Source")),
            if card_col {
                format!("<th>{}</th>", esc(tr(lang, "Card")))
            } else {
                String::new()
            }
        );
        for e in &events {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                esc(&local(app, e.at)),
                esc(&event_kind(lang, &e.kind)),
                esc(e.code.as_deref().unwrap_or("")),
                esc(e.source.as_deref().unwrap_or("")),
            );
            if card_col {
                let _ = write!(
                    body,
                    "<td><code>{}</code></td>",
                    esc(e.card.as_deref().map_or("", |c| &c[..c.len().min(12)]))
                );
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table></div>");
    }
    // Status: the latest gauges for those who mend devices, and the history.
    let history = app.db.status_history(&d.device_id, 20).await?;
    if role.sees_gauges() && d.gauges.is_some() {
        let g = d.gauge_map();
        let _ = write!(
            body,
            "<h2>{}</h2><div class=\"scroll\"><table><tbody>",
            esc(tr(lang, "Gauges"))
        );
        for (k, v) in g {
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{v}</td></tr>",
                esc(&k)
            );
        }
        body.push_str("</tbody></table></div>");
    }
    if !history.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2><div class=\"scroll\"><table><thead><tr><th>{}</th><th>up</th><th>online</th><th>{}</th></tr></thead><tbody>",
            esc(tr(lang, "Status history")),
            esc(tr(lang, "Time")),
            esc(tr(lang, "Problems"))
        );
        for (at, gauges) in &history {
            let g: BTreeMap<String, f64> = serde_json::from_str(gauges).unwrap_or_default();
            let row = DeviceRow {
                gauges: Some(gauges.clone()),
                last_seen: *at,
                ..d.clone()
            };
            let ps: Vec<_> = problems(&row, 0, *at, app.alarms.silent_ms)
                .into_iter()
                .map(|(_, w)| tr(lang, w))
                .collect();
            let show = |k: &str| g.get(k).map_or("–".to_owned(), |v| v.to_string());
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&local(app, *at)),
                show("omatoimi_up"),
                show("omatoimi_online"),
                esc(&ps.join(", "))
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let title = d.name.clone().unwrap_or_else(|| d.device_id.clone());
    Ok(page(ctx, StatusCode::OK, &title, "fleet", body))
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Alarms.

fn alarm_card(app: &App, ctx: &Ctx, body: &mut String, a: &AlarmRow) {
    let lang = ctx.lang;
    let what = Rule::from_code(&a.rule).map_or(a.rule.as_str(), |r| tr(lang, alarms::title(r)));
    let done = if a.acked_at.is_some() { " done" } else { "" };
    let _ = write!(
        body,
        "<div class=\"alarm{done}\" id=\"a-{}\"><b>{}</b> · <a href=\"/devices/{}\">{}</a> ({}) · {}",
        esc(&a.alarm_id),
        esc(what),
        seg(&a.device_id),
        esc(&a.device_id),
        esc(&a.branch),
        esc(&local(app, a.raised_at)),
    );
    if let Some(d) = &a.detail {
        let _ = write!(body, "<div>{}: {}</div>", esc(tr(lang, "Detail")), esc(d));
    }
    if let Some(c) = a.cleared_at {
        let _ = write!(
            body,
            "<div class=\"muted\">{} {}</div>",
            esc(tr(lang, "Cleared")),
            esc(&local(app, c))
        );
    }
    if !a.told.is_empty() {
        let told: Vec<String> = a
            .told
            .iter()
            .map(|(who, ch, state, n)| {
                let st = match state.as_str() {
                    "sent" => tr(lang, "sent"),
                    "failed" => tr(lang, "failed"),
                    "skipped" => tr(lang, "not sent: over before its time"),
                    _ => tr(lang, "waiting"),
                };
                format!("{} ({ch}: {st}, {n}×)", esc(who))
            })
            .collect();
        let _ = write!(
            body,
            "<div class=\"muted\">{}: {}</div>",
            esc(tr(lang, "Told")),
            told.join("; ")
        );
    }
    match (a.acked_at, &ctx.session) {
        (Some(at), _) => {
            let _ = write!(
                body,
                "<div>{} {} {} {}{}</div>",
                esc(tr(lang, "Acknowledged")),
                esc(&local(app, at)),
                esc(tr(lang, "by")),
                esc(a.acked_by.as_deref().unwrap_or("?")),
                a.note
                    .as_deref()
                    .filter(|n| !n.is_empty())
                    .map(|n| format!(": “{}”", esc(n)))
                    .unwrap_or_default()
            );
        }
        (None, Some(s)) => {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"/alarms/{}/ack\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><label class=\"muted\" for=\"n-{}\">{}</label><input type=\"text\" id=\"n-{}\" name=\"note\" maxlength=\"500\"><button>{}</button></form>",
                esc(&a.alarm_id),
                esc(&s.csrf),
                esc(&a.alarm_id),
                esc(tr(lang, "Note")),
                esc(&a.alarm_id),
                esc(tr(lang, "Acknowledge"))
            );
        }
        (None, None) => {}
    }
    body.push_str("</div>");
}

async fn alarms_page(app: &App, ctx: &Ctx) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let list = alarms::list(&app.db, None, 50).await?;
    let mut body = String::new();
    if list.is_empty() {
        let _ = write!(
            body,
            "<p class=\"muted\">{}</p>",
            esc(tr(lang, "No alarms."))
        );
    }
    let open = list.iter().filter(|a| a.acked_at.is_none()).count();
    if open > 0 {
        let _ = write!(body, "<h2>{} ({open})</h2>", esc(tr(lang, "Open")));
    }
    for (i, a) in list.iter().enumerate() {
        if i == open && open < list.len() {
            let _ = write!(body, "<h2>{}</h2>", esc(tr(lang, "Acknowledged")));
        }
        alarm_card(app, ctx, &mut body, a);
    }
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Alarms"),
        "alarms",
        body,
    ))
}

async fn acknowledge(
    app: &App,
    ctx: &Ctx,
    req: Request<Incoming>,
    id: &str,
) -> Result<Answer, DbError> {
    let Some(f) = form(req).await else {
        return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n"));
    };
    if !csrf_ok(ctx, &f) {
        return Ok(plain(StatusCode::FORBIDDEN, "the form's token is wrong\n"));
    }
    let Some(s) = &ctx.session else {
        return Ok(redirect("/login"));
    };
    let note: String = f
        .get("note")
        .map(|n| n.trim().chars().take(500).collect())
        .unwrap_or_default();
    let now = (app.clock)();
    if alarms::acknowledge(&app.db, id, &s.account.username, &note, now).await? {
        staff::audit(
            &app.db,
            now,
            &s.account.username,
            "alarm-acknowledged",
            Some(id),
            Some(&note),
            Some(&ctx.peer),
        )
        .await?;
    }
    Ok(redirect("/alarms"))
}

// ---------------------------------------------------------------------------------------------
// The audit log.

async fn audit_page(app: &App, ctx: &Ctx) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let Some(s) = &ctx.session else {
        return Ok(redirect("/login"));
    };
    if s.account.role != Role::Admin {
        return Ok(page(
            ctx,
            StatusCode::FORBIDDEN,
            tr(lang, "Not allowed for your role."),
            "",
            String::new(),
        ));
    }
    let rows = staff::audit_log(&app.db, 200).await?;
    let mut body = format!(
        "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>IP</th></tr></thead><tbody>",
        esc(tr(lang, "Time")),
        esc(tr(lang, "Who")),
        esc(tr(lang, "Action")),
        esc(tr(lang, "Target")),
        esc(tr(lang, "Note")),
    );
    for r in rows {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&local(app, r.at)),
            esc(&r.username),
            esc(&audit_action(lang, &r.action)),
            esc(r.target.as_deref().unwrap_or("")),
            esc(r.detail.as_deref().unwrap_or("")),
            esc(r.peer.as_deref().unwrap_or("")),
        );
    }
    body.push_str("</tbody></table></div>");
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Audit log"),
        "audit",
        body,
    ))
}

/// An audit line's action in words (an unknown one as it is).
fn audit_action(lang: Lang, action: &str) -> String {
    match action {
        "sign-in" => tr(lang, "signed in").to_owned(),
        "sign-in-refused" => tr(lang, "sign-in refused").to_owned(),
        "sign-out" => tr(lang, "signed out").to_owned(),
        "alarm-acknowledged" => tr(lang, "acknowledged an alarm").to_owned(),
        "account-set" => tr(lang, "account set").to_owned(),
        "calendar-saved" => tr(lang, "changed the calendar").to_owned(),
        "calendar-rules-saved" => tr(lang, "changed who may let themselves in").to_owned(),
        "command-sent" => tr(lang, "sent a command").to_owned(),
        "calendar-day-added" => tr(lang, "added a closed day or special hours").to_owned(),
        "calendar-day-removed" => tr(lang, "removed a closed day or special hours").to_owned(),
        "incident-assessed" => tr(lang, "decided about a security incident").to_owned(),
        "presence-looked-up" => tr(lang, "looked up who was in").to_owned(),
        "patron-export-asked" => tr(lang, "asked every device for a patron's export").to_owned(),
        "patron-erase-asked" => tr(lang, "asked every device to erase a patron's card").to_owned(),
        "patron-asked-again" => tr(lang, "asked a device again for a patron's request").to_owned(),
        "patron-export-downloaded" => tr(lang, "downloaded a patron's export").to_owned(),
        other => other.to_owned(),
    }
}

/// Rows the device page reads.
impl Db {
    /// A device's newest `limit` events.
    pub async fn recent_events(
        &self,
        device_id: &str,
        limit: i64,
    ) -> Result<Vec<EventRow>, DbError> {
        let rows = sqlx::query(
            "SELECT at, kind, code, card, source FROM events WHERE device_id = $1 ORDER BY at DESC LIMIT $2",
        )
        .bind(device_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    at: r.try_get("at")?,
                    kind: r.try_get("kind")?,
                    code: r.try_get("code")?,
                    card: r.try_get("card")?,
                    source: r.try_get("source")?,
                })
            })
            .collect()
    }

    /// A device's newest `limit` status snapshots: (when, gauges as JSON).
    pub async fn status_history(
        &self,
        device_id: &str,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, DbError> {
        let rows = sqlx::query(
            "SELECT at, gauges FROM status_history WHERE device_id = $1 ORDER BY at DESC LIMIT $2",
        )
        .bind(device_id)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("at")?, r.try_get("gauges")?)))
            .collect()
    }
}

/// An event as the device page shows it.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// When (the device's clock).
    pub at: i64,
    /// What.
    pub kind: String,
    /// Why.
    pub code: Option<String>,
    /// The door's keyed card pseudonym.
    pub card: Option<String>,
    /// Which reader or input.
    pub source: Option<String>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(gauges: &str, last_seen: i64) -> DeviceRow {
        DeviceRow {
            device_id: "lemi-kiosk-1".into(),
            institution: "heili".into(),
            branch: "LEMI".into(),
            role: "kiosk".into(),
            name: None,
            software: None,
            last_seen,
            clock_skew_ms: None,
            last_status_at: None,
            gauges: Some(gauges.into()),
        }
    }

    #[test]
    fn problems_come_worst_first_and_a_healthy_device_has_none() {
        let now = 1_800_000_000_000;
        assert!(problems(&row(r#"{"omatoimi_up":1}"#, now - 1000), 0, now, 900_000).is_empty());
        let p = problems(
            &row(
                r#"{"omatoimi_printer_paper_out":1,"omatoimi_queue_conflicts":2,"omatoimi_rfid_pad_ok":0,"omatoimi_allowlist_last_sync_timestamp_seconds":1799900000}"#,
                now - 3_600_000,
            ),
            1,
            now,
            900_000,
        );
        let names: Vec<_> = p.iter().map(|x| x.1).collect();
        assert_eq!(
            names,
            [
                "Offline",
                "Open alarm",
                "Reader missing",
                "Offline list old",
                "Printer out of paper",
                "Queue conflicts"
            ]
        );
    }

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            esc(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(seg("a b/c"), "a+b%2Fc");
        assert_eq!(percent_decode("a+b%2Fc"), "a b/c");
    }
}
