//! The console's staff side over real HTTPS on real sockets: signing in (argon2 passwords,
//! lockout after wrong ones, sessions that end), CSRF and cross-site refusals, roles (the audit
//! log for admins, card pseudonyms for admins only), acknowledging an alarm, the audit log; and
//! alarms told to a real SMTP server over STARTTLS (aiosmtpd, the Python project's server) and
//! to a webhook that fails once, retried, every try recorded, quiet hours kept.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use central::rules::{QuietHours, Rule};
use central::settings::{Alarms, Recipient, Smtp, SmtpTls};
use central::staff::Role as StaffRole;
use central::words::Lang;
use report::Role;
use sqlx::Row;

mod console_common;
use console_common::*;

const CARD: &str = "00112233445566778899aabbccddeeff";

/// A browser's part: cookies kept by hand, no redirects followed, Origin sent on POSTs.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: HashMap<String, String>,
    lang: &'static str,
}

impl Browser {
    fn new(r: &Running) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile_certs(&r.pki.console_ca_pem) {
            roots.add(c).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        Self {
            http: reqwest::Client::builder()
                .tls_backend_preconfigured(config)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: format!("https://127.0.0.1:{}", r.console.staff_addr.unwrap().port()),
            cookies: HashMap::new(),
            lang: "en",
        }
    }

    fn keep(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), val.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.lang)
            .send()
            .await
            .unwrap();
        self.keep(&resp);
        let (s, h) = (resp.status().as_u16(), resp.headers().clone());
        (s, resp.text().await.unwrap(), h)
    }

    async fn post(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> (u16, String, Option<String>) {
        let origin = origin.map_or_else(|| self.base.clone(), str::to_owned);
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header("accept-language", self.lang)
            .header("origin", origin)
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep(&resp);
        let s = resp.status().as_u16();
        let loc = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (s, resp.text().await.unwrap(), loc)
    }

    async fn sign_in(&mut self, user: &str, password: &str) -> (u16, String, Option<String>) {
        let (_, html, _) = self.get("/login").await;
        let token = hidden(&html, "login_csrf");
        self.post(
            "/login",
            &[
                ("login_csrf", &token),
                ("username", user),
                ("password", password),
            ],
            None,
        )
        .await
    }

    async fn csrf(&mut self) -> String {
        let (_, html, _) = self.get("/alarms").await;
        hidden(&html, "csrf")
    }
}

fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

async fn scalar(db: &central::Db, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_sign_in_with_lockout_sessions_csrf_roles_and_an_audit_log() {
    let r = console(Alarms::default(), false).await;
    let db = r.console.db.clone();
    central::staff::set_account(
        &db,
        "aino",
        StaffRole::Admin,
        "aino-pass-word-1",
        "(test)",
        T0,
    )
    .await
    .unwrap();
    central::staff::set_account(
        &db,
        "erik",
        StaffRole::Staff,
        "erik-pass-word-1",
        "(test)",
        T0,
    )
    .await
    .unwrap();
    assert!(matches!(
        central::staff::set_account(&db, "x", StaffRole::Staff, "short", "(test)", T0).await,
        Err(central::staff::AccountError::ShortPassword)
    ));
    // A door reports: an entry (with its card pseudonym), a forced door; its name has markup.
    report(
        &r,
        "lemi-door-1",
        "LEMI",
        Role::Door,
        "Lemi <b>door</b>",
        vec![
            ev(1, T0 - 5_000, "entry", Some("ok"), Some(CARD)),
            ev(2, T0 - 1_000, "alarm", Some("forced-open"), None),
            gauges(3, T0, &[("omatoimi_up", 1.0)]),
        ],
    )
    .await;

    let mut b = Browser::new(&r);
    // Nothing without a session.
    for path in ["/", "/alarms", "/audit", "/devices/lemi-door-1"] {
        let (s, _, h) = b.get(path).await;
        assert_eq!(
            (s, h["location"].to_str().unwrap()),
            (303, "/login"),
            "{path}"
        );
    }
    // Every answer carries the strict headers.
    let (_, _, h) = b.get("/login").await;
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert_eq!(h["cache-control"], "no-store");
    assert!(h.get_all("set-cookie").iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("__Host-omatoimi-login=") && c.contains("Secure") && c.contains("HttpOnly")
    }));

    // A sign-in form without its cookie is refused (login CSRF).
    let mut stranger = Browser::new(&r);
    let (s, html, _) = stranger
        .post(
            "/login",
            &[
                ("login_csrf", "0123"),
                ("username", "aino"),
                ("password", "aino-pass-word-1"),
            ],
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(html.contains("The form was too old"), "{html}");

    // Four wrong passwords are answered; the fifth locks the account, and then even the right
    // one is refused until 15 minutes have passed.
    for _ in 0..4 {
        let (s, html, _) = b.sign_in("erik", "wrong-guess-00").await;
        assert_eq!(s, 200);
        assert!(html.contains("Wrong user name or password."), "{html}");
    }
    let (_, html, _) = b.sign_in("erik", "wrong-guess-00").await;
    assert!(html.contains("Too many wrong passwords"), "{html}");
    let (_, html, _) = b.sign_in("erik", "erik-pass-word-1").await;
    assert!(html.contains("Too many wrong passwords"), "{html}");
    // An unknown user is told the same as a wrong password, and is "locked" after as many
    // tries as an account: the answers do not tell which names exist.
    let (_, html, _) = b.sign_in("nobody", "erik-pass-word-1").await;
    assert!(html.contains("Wrong user name or password."), "{html}");
    for _ in 0..4 {
        b.sign_in("nobody", "erik-pass-word-1").await;
    }
    let (_, html, _) = b.sign_in("nobody", "erik-pass-word-1").await;
    assert!(html.contains("Too many wrong passwords"), "{html}");
    // Guesses sent at once are each counted: twelve in parallel lock the account.
    central::staff::set_account(
        &db,
        "ville",
        StaffRole::Staff,
        "ville-pass-word-1",
        "(test)",
        T0,
    )
    .await
    .unwrap();
    let mut guesses = vec![];
    for i in 0..12 {
        let mut g = Browser::new(&r);
        guesses.push(tokio::spawn(async move {
            g.sign_in("ville", &format!("guess-number-{i}")).await
        }));
    }
    for g in guesses {
        g.await.unwrap();
    }
    let (_, html, _) = b.sign_in("ville", "ville-pass-word-1").await;
    assert!(html.contains("Too many wrong passwords"), "{html}");

    r.clock.fetch_add(16 * 60_000, Ordering::SeqCst);
    let (s, _, loc) = b.sign_in("erik", "erik-pass-word-1").await;
    assert_eq!((s, loc.as_deref()), (303, Some("/")));
    let session = b.cookies["__Host-omatoimi"].clone();
    assert_eq!(session.len(), 64);
    // The database holds the token's hash, never the token.
    let stored: String = sqlx::query("SELECT token_sha256 FROM sessions")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert_ne!(stored, session);

    // The fleet, problems first; the device's name escaped.
    let (s, html, _) = b.get("/").await;
    assert_eq!(s, 200);
    // A path that only looks like an acknowledgement is not one (and does not panic).
    let (s, _, _) = b.post("/alarms/ack", &[("csrf", "x")], None).await;
    assert_eq!(s, 404);
    assert!(html.contains("Lemi &lt;b&gt;door&lt;/b&gt;"), "{html}");
    assert!(!html.contains("<b>door</b>"));
    assert!(html.contains("Open alarm"), "{html}");
    // Staff see events without card pseudonyms; the audit log is not theirs.
    let (_, html, _) = b.get("/devices/lemi-door-1").await;
    assert!(html.contains("Door forced open"), "{html}");
    assert!(html.contains("entry"));
    assert!(
        !html.contains(&CARD[..12]),
        "a card pseudonym shown to staff"
    );
    let (s, _, _) = b.get("/audit").await;
    assert_eq!(s, 403);
    // In Swedish, asked for once, kept in a cookie.
    let (_, html, _) = b.get("/alarms?lang=sv").await;
    assert!(html.contains("Larm") && html.contains("Kvittera"), "{html}");
    let (_, html, _) = b.get("/").await;
    assert!(html.contains("Enheter"), "{html}");
    b.cookies.insert("omatoimi-lang".into(), "en".into());

    // Acknowledging: refused without the session's token, and from another site.
    let alarm_id: String = sqlx::query("SELECT alarm_id FROM alarms")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    let path = format!("/alarms/{alarm_id}/ack");
    let (s, _, _) = b
        .post(&path, &[("csrf", "wrong"), ("note", "x")], None)
        .await;
    assert_eq!(s, 403);
    let csrf = b.csrf().await;
    let (s, _, _) = b
        .post(
            &path,
            &[("csrf", &csrf), ("note", "x")],
            Some("https://evil.example"),
        )
        .await;
    assert_eq!(s, 403);
    assert_eq!(
        scalar(
            &db,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM alarms WHERE acked_at IS NULL"
        )
        .await,
        1
    );
    let (s, _, loc) = b
        .post(
            &path,
            &[("csrf", &csrf), ("note", "Checked on camera: wind <3")],
            None,
        )
        .await;
    assert_eq!((s, loc.as_deref()), (303, Some("/alarms")));
    let (_, html, _) = b.get("/alarms").await;
    assert!(
        html.contains("Acknowledged") && html.contains("by erik"),
        "{html}"
    );
    assert!(html.contains("wind &lt;3"), "{html}");

    // An admin sees the card pseudonym and the audit log: every sign-in refused (an unknown
    // user as "(unknown)", not what was typed), the lockout, the acknowledgement with its note.
    let mut admin = Browser::new(&r);
    let (s, _, _) = admin.sign_in("aino", "aino-pass-word-1").await;
    assert_eq!(s, 303);
    let (_, html, _) = admin.get("/devices/lemi-door-1").await;
    assert!(html.contains(&CARD[..12]));
    let (s, html, _) = admin.get("/audit").await;
    assert_eq!(s, 200);
    for needle in [
        "acknowledged an alarm",
        "Checked on camera",
        "account locked for 15 minutes",
        "(unknown)",
        "sign-in refused",
    ] {
        assert!(html.contains(needle), "{needle} missing from the audit log");
    }
    assert!(
        !html.contains("nobody"),
        "a typed user name in the audit log"
    );

    // Signing out needs the token too, and ends the session for good.
    let csrf = b.csrf().await;
    let (s, _, _) = b.post("/logout", &[("csrf", "nope")], None).await;
    assert_eq!(s, 403);
    let (s, _, loc) = b.post("/logout", &[("csrf", &csrf)], None).await;
    assert_eq!((s, loc.as_deref()), (303, Some("/login")));
    b.cookies.insert("__Host-omatoimi".into(), session);
    let (s, _, _) = b.get("/").await;
    assert_eq!(s, 303);

    // A session unused for 30 minutes ends.
    r.clock.fetch_add(31 * 60_000, Ordering::SeqCst);
    let (s, _, h) = admin.get("/").await;
    assert_eq!((s, h["location"].to_str().unwrap()), (303, "/login"));
    r.console.stop().await;
}

/// aiosmtpd on a loopback port, STARTTLS required, with the console's certificate (for
/// `localhost`), delivering into a Maildir.
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: std::path::PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interop_python() -> Option<std::path::PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop-venv/bin/python");
    let ok = Command::new(&p)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(p)
}

fn smtp_sink(pki: &Pki, python: &Path) -> SmtpSink {
    smtp_sink_with(pki, python, true)
}

/// `tls`: STARTTLS offered (and required), or a server that speaks only in clear.
fn smtp_sink_with(pki: &Pki, python: &Path, tls: bool) -> SmtpSink {
    let maildir = pki.dir.join("Maildir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(python);
    cmd.args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"));
    if tls {
        cmd.arg("--tlscert")
            .arg(pki.dir.join("console.pem"))
            .arg("--tlskey")
            .arg(pki.dir.join("console-key.pem"));
    }
    let child = cmd
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "aiosmtpd did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    SmtpSink {
        child,
        port,
        maildir,
    }
}

fn mails(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir.join("new")) else {
        return vec![];
    };
    rd.map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect()
}

/// A webhook receiver on loopback that answers 500 to its first request, then 200.
async fn webhook() -> (u16, Arc<Mutex<Vec<serde_json::Value>>>, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(vec![]));
    let tries = Arc::new(AtomicUsize::new(0));
    let (g, t) = (got.clone(), tries.clone());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (g, t) = (g.clone(), t.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (g, t) = (g.clone(), t.clone());
                        async move {
                            use http_body_util::BodyExt;
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let n = t.fetch_add(1, Ordering::SeqCst);
                            let mut resp = hyper::Response::new(http_body_util::Full::new(
                                hyper::body::Bytes::new(),
                            ));
                            if n == 0 {
                                *resp.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
                            } else {
                                g.lock()
                                    .unwrap()
                                    .push(serde_json::from_slice(&body).unwrap());
                            }
                            Ok::<_, Infallible>(resp)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    (port, got, tries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_reach_a_real_smtp_server_over_starttls_and_a_webhook_retried_with_quiet_hours_kept()
{
    let Some(python) = interop_python() else {
        if std::env::var_os("OMATOIMI_SKIP_SMTP").is_some() {
            eprintln!("skipped: aiosmtpd is not in target/interop-venv (run scripts/test)");
            return;
        }
        panic!(
            "aiosmtpd is not in target/interop-venv: run scripts/test, or set OMATOIMI_SKIP_SMTP=1"
        );
    };
    let tmp = tempfile::tempdir().unwrap();
    let sink_pki = pki(tmp.path());
    let sink = smtp_sink(&sink_pki, &python);
    let (hook_port, hooked, tries) = webhook().await;
    let alarms = Alarms {
        smtp: Some(Smtp {
            server: "localhost".into(),
            port: sink.port,
            tls: SmtpTls::Starttls,
            from: "Omatoimi <omatoimi@heili.example>".into(),
            login: None,
            ca: Some({
                let p = tmp.path().join("mail-ca.pem");
                std::fs::write(&p, &sink_pki.console_ca_pem).unwrap();
                p
            }),
        }),
        console_url: Some("https://console.heili.example".into()),
        notify: vec![
            Recipient {
                name: "Night duty".into(),
                email: vec!["duty@heili.example".into()],
                webhook: Some(format!("http://127.0.0.1:{hook_port}/hook")),
                rules: vec![Rule::ForcedOpen, Rule::Tamper],
                quiet_hours: None,
                branches: vec![],
                lang: Lang::En,
            },
            Recipient {
                name: "Lemi staff".into(),
                email: vec!["lemi@heili.example".into()],
                webhook: None,
                rules: vec![Rule::PaperOut, Rule::ForcedOpen],
                // 02:00 in Helsinki is inside: the paper waits for 07:00, the door does not.
                quiet_hours: Some(QuietHours::parse("22:00-07:00").unwrap()),
                branches: vec!["LEMI".into()],
                lang: Lang::Fi,
            },
        ],
        ..Default::default()
    };
    let r = console(alarms, true).await;
    let db = r.console.db.clone();

    let sent = Instant::now();
    report(
        &r,
        "lemi-door-1",
        "LEMI",
        Role::Door,
        "Lemi door",
        vec![ev(1, T0, "alarm", Some("forced-open"), Some(CARD))],
    )
    .await;
    // Both mails arrive through STARTTLS: the duty's in English, Lemi's in Finnish at 02:00
    // (a forced door is urgent, quiet hours or not).
    let t = Instant::now();
    while mails(&sink.maildir).len() < 2 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the mails did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let to_sink = sent.elapsed();
    let all = mails(&sink.maildir);
    let duty = all
        .iter()
        .find(|m| m.contains("duty@heili.example"))
        .unwrap();
    assert!(
        duty.contains("Subject: [omatoimi] Door forced open: Lemi door (LEMI) at 1.1.2026 02:00"),
        "{duty}"
    );
    assert!(
        duty.contains("https://console.heili.example/devices/lemi-door-1"),
        "{duty}"
    );
    let lemi = all
        .iter()
        .find(|m| m.contains("lemi@heili.example"))
        .unwrap();
    assert!(
        lemi.contains("Ovi avattu v") || lemi.contains("=?utf-8?"),
        "{lemi}"
    );
    for m in &all {
        assert!(!m.contains(&CARD[..8]), "a card pseudonym in a mail");
    }
    eprintln!("forced door to the SMTP server: {to_sink:?}");

    // The webhook failed once (500), was tried again after 10 s of the console's clock, and then
    // took it; every try is in the deliveries.
    let t = Instant::now();
    while tries.load(Ordering::SeqCst) < 1 {
        assert!(t.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pending: (String, i64) = {
        let row = sqlx::query("SELECT state, attempts FROM deliveries WHERE channel = 'webhook'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(pending, ("pending".to_owned(), 1));
    r.clock.fetch_add(11_000, Ordering::SeqCst);
    let t = Instant::now();
    while hooked.lock().unwrap().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the webhook was not retried"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body = hooked.lock().unwrap()[0].clone();
    assert_eq!(body["alarm"]["rule"], "forced-open");
    assert_eq!(body["alarm"]["device"], "lemi-door-1");
    assert!(body["text"].as_str().unwrap().contains("Door forced open"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rows = sqlx::query("SELECT recipient, channel, state, attempts, last_error FROM deliveries ORDER BY recipient, channel")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let rows: Vec<(String, String, String, i64, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        rows.iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3))
            .collect::<Vec<_>>(),
        [
            ("Lemi staff", "email", "sent", 1),
            ("Night duty", "email", "sent", 1),
            ("Night duty", "webhook", "sent", 2),
        ]
    );

    // Paper out at a kiosk at 02:00: Lemi's staff are told at 07:00, not now; a second snapshot
    // still out of paper raises nothing new; paper back clears it.
    let now = r.clock.load(Ordering::SeqCst);
    report(
        &r,
        "lemi-kiosk-1",
        "LEMI",
        Role::Kiosk,
        "Lemi kiosk",
        vec![gauges(1, now, &[(central::rules::PAPER_OUT_GAUGE, 1.0)])],
    )
    .await;
    report(
        &r,
        "lemi-kiosk-1",
        "LEMI",
        Role::Kiosk,
        "Lemi kiosk",
        vec![gauges(
            2,
            now + 15_000,
            &[(central::rules::PAPER_OUT_GAUGE, 1.0)],
        )],
    )
    .await;
    let row = sqlx::query("SELECT d.state, d.next_at FROM deliveries d JOIN alarms a ON a.alarm_id = d.alarm_id WHERE a.rule = 'paper-out'")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(row.len(), 1, "one alarm for a lasting condition");
    let (state, next_at): (String, i64) = (row[0].get(0), row[0].get(1));
    assert_eq!(state, "pending");
    assert_eq!(next_at, T0 + 5 * 3_600_000, "07:00 in Helsinki");
    report(
        &r,
        "lemi-kiosk-1",
        "LEMI",
        Role::Kiosk,
        "Lemi kiosk",
        vec![gauges(
            3,
            now + 30_000,
            &[(central::rules::PAPER_OUT_GAUGE, 0.0)],
        )],
    )
    .await;
    assert_eq!(
        scalar(&db, "SELECT CAST(COUNT(*) AS BIGINT) FROM alarms WHERE rule = 'paper-out' AND cleared_at IS NOT NULL").await,
        1
    );
    // An old snapshot (sent late) neither raises nor clears: the device's latest word stands.
    report(
        &r,
        "lemi-kiosk-1",
        "LEMI",
        Role::Kiosk,
        "Lemi kiosk",
        vec![gauges(
            4,
            now + 1_000,
            &[(central::rules::PAPER_OUT_GAUGE, 1.0)],
        )],
    )
    .await;
    assert_eq!(
        scalar(
            &db,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM alarms WHERE rule = 'paper-out'"
        )
        .await,
        1
    );
    // At 07:00 the paper is long back: Lemi's staff are not told of it.
    r.clock.store(T0 + 5 * 3_600_000, Ordering::SeqCst);
    let t = Instant::now();
    loop {
        let state: String = sqlx::query("SELECT d.state FROM deliveries d JOIN alarms a ON a.alarm_id = d.alarm_id WHERE a.rule = 'paper-out'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get(0);
        if state == "skipped" {
            break;
        }
        assert_eq!(state, "pending");
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the held delivery was not skipped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !mails(&sink.maildir).iter().any(|m| m.contains("paperi")),
        "told of paper that is back"
    );
    // A forced door acknowledged whose end never came (a restart, a replaced box): the next
    // break-in is an alarm of its own, told again.
    let first: String = sqlx::query("SELECT alarm_id FROM alarms WHERE rule = 'forced-open'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    assert!(
        central::alarms::acknowledge(&db, &first, "aino", "wind", T0)
            .await
            .unwrap()
    );
    let now = r.clock.load(Ordering::SeqCst);
    report(
        &r,
        "lemi-door-1",
        "LEMI",
        Role::Door,
        "Lemi door",
        vec![ev(7, now, "alarm", Some("forced-open"), None)],
    )
    .await;
    assert_eq!(
        scalar(
            &db,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM alarms WHERE rule = 'forced-open'"
        )
        .await,
        2
    );
    let t = Instant::now();
    while mails(&sink.maildir).len() < 4 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the second break-in was not told"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A device silent for longer than the setting raises `silent` once; reporting clears it.
    r.clock.fetch_add(20 * 60_000, Ordering::SeqCst);
    let cfg = r.console.alarms.clone();
    let now = r.clock.load(Ordering::SeqCst);
    // (The console's own sweep, every 30 s, may get there first: counted in the database.)
    let silent = || {
        scalar(
            &db,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM alarms WHERE rule = 'silent' AND cleared_at IS NULL",
        )
    };
    central::alarms::sweep_silent(&db, &cfg, now).await.unwrap();
    assert_eq!(silent().await, 2);
    assert_eq!(
        central::alarms::sweep_silent(&db, &cfg, now + 60_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(silent().await, 2);
    report(
        &r,
        "lemi-door-1",
        "LEMI",
        Role::Door,
        "Lemi door",
        vec![gauges(2, now, &[("omatoimi_up", 1.0)])],
    )
    .await;
    assert_eq!(
        scalar(&db, "SELECT CAST(COUNT(*) AS BIGINT) FROM alarms WHERE rule = 'silent' AND cleared_at IS NULL").await,
        1
    );
    r.console.stop().await;
    drop(sink);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_mail_is_never_sent_in_clear_to_a_server_without_starttls() {
    let Some(python) = interop_python() else {
        if std::env::var_os("OMATOIMI_SKIP_SMTP").is_some() {
            return;
        }
        panic!(
            "aiosmtpd is not in target/interop-venv: run scripts/test, or set OMATOIMI_SKIP_SMTP=1"
        );
    };
    let tmp = tempfile::tempdir().unwrap();
    let sink_pki = pki(tmp.path());
    // A real mail server that offers no STARTTLS (a misconfigured relay, or someone in between
    // who strips it).
    let sink = smtp_sink_with(&sink_pki, &python, false);
    let alarms = Alarms {
        smtp: Some(Smtp {
            server: "localhost".into(),
            port: sink.port,
            tls: SmtpTls::Starttls,
            from: "Omatoimi <omatoimi@heili.example>".into(),
            login: None,
            ca: None,
        }),
        notify: vec![Recipient {
            name: "Night duty".into(),
            email: vec!["duty@heili.example".into()],
            webhook: None,
            rules: vec![Rule::ForcedOpen],
            quiet_hours: None,
            branches: vec![],
            lang: Lang::En,
        }],
        ..Default::default()
    };
    let r = console(alarms, true).await;
    let db = r.console.db.clone();
    report(
        &r,
        "lemi-door-1",
        "LEMI",
        Role::Door,
        "Lemi door",
        vec![ev(1, T0, "alarm", Some("forced-open"), None)],
    )
    .await;
    let t = Instant::now();
    let (state, attempts, error) = loop {
        let row = sqlx::query("SELECT state, attempts, last_error FROM deliveries")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let attempts: i64 = row.get(1);
        if attempts > 0 {
            break (
                row.get::<String, _>(0),
                attempts,
                row.get::<Option<String>, _>(2),
            );
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no delivery was tried"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Refused, to be tried again (the server may be mended), and nothing reached the server.
    assert_eq!((state.as_str(), attempts), ("pending", 1));
    let error = error.unwrap_or_default();
    assert!(
        error.contains(&format!("localhost:{}", sink.port)),
        "{error}"
    );
    eprintln!("a server without STARTTLS: {error}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mails(&sink.maildir).is_empty(), "a mail was sent in clear");
    r.console.stop().await;
}
