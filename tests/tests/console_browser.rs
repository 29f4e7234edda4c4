//! The console's staff pages in a real browser: Debian's chromium, driven over WebDriver by
//! chromium-driver (the W3C protocol, spoken here with plain HTTP). A staff member signs in,
//! reads the fleet, a device and the alarms, acknowledges an alarm with a note, and an admin
//! reads the audit log; every page is saved as a screenshot in Finnish, Swedish and English, on
//! a desktop and on a phone-sized window (target/screenshots/console/), and on the phone no page
//! is wider than the screen.
//!
//! Needs `chromium` and `chromedriver` (scripts/test installs them); OMATOIMI_SKIP_BROWSER=1
//! skips the test where they cannot be had.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use central::rules::PAPER_OUT_GAUGE;
use central::settings::Alarms;
use central::staff::Role as StaffRole;
use report::Role;
use serde_json::{Value, json};
use sqlx::Row;

mod console_common;
use console_common::*;

struct Driver {
    child: Child,
    http: reqwest::Client,
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver and the chromium it started are one process group: all of it goes, also
        // when the test failed half-way.
        let _ = e2e::signal_group(self.child.id(), rustix::process::Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Driver {
    /// `trusted_spki`: base64 SHA-256 of the console's public key, which chromium then takes as
    /// a valid certificate (its `--ignore-certificate-errors-spki-list`, made for tests): a
    /// secure page, cookies and all, without touching the system's trust store.
    async fn start(profile: &Path, trusted_spki: &str) -> Option<Self> {
        if std::env::var_os("OMATOIMI_SKIP_BROWSER").is_some() {
            eprintln!("skipped: OMATOIMI_SKIP_BROWSER is set");
            return None;
        }
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            panic!(
                "chromium and chromium-driver are needed (scripts/test installs them), or set OMATOIMI_SKIP_BROWSER=1"
            );
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // WebDriver is plain HTTP on loopback; reqwest still wants a TLS provider named.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let t = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // Nothing but the console on loopback: chromium's own calls home (its component
                // updater, sign-in and safe-browsing hosts: a thousand DNS queries for Google's
                // hosts in one run, strace showed) are switched off, and every host name it would
                // still look up answers "not found" without a query leaving the machine. A closed
                // network such as CI's may end a job that keeps knocking on it.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--hide-scrollbars", "--font-render-hinting=none",
                         "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--disable-quic",
                         "--disable-domain-reliability", "--no-pings", "--disable-breakpad",
                         "--disable-client-side-phishing-detection", "--disable-default-apps",
                         "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
                         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                         format!("--ignore-certificate-errors-spki-list={trusted_spki}"),
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        Some(Self {
            child,
            http,
            base,
            session,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        if r["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", r["value"]);
        }
        r["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        match v[ELEMENT].as_str() {
            Some(e) => e.to_owned(),
            None => panic!("no element {css}: {v}"),
        }
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn clear(&self, css: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/clear"),
            Some(json!({})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn script(&self, js: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": []})),
        )
        .await
    }

    async fn size(&self, w: u32, h: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": w, "height": h})),
        )
        .await;
    }

    async fn screenshot(&self, to: &Path) {
        use base64::Engine;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
            "{}",
            to.display()
        );
        std::fs::write(to, png).unwrap();
    }

    async fn text(&self) -> String {
        self.script("return document.body.innerText")
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The page's text once it holds `needle` (a click's navigation may still be under way
    /// when the click returns), within 10 s; else the text it had.
    async fn text_with(&self, needle: &str) -> String {
        let t = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(needle) || t.elapsed() > Duration::from_secs(10) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/console");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_use_the_console_in_a_real_browser_in_three_languages_on_desktop_and_phone() {
    let mut r = console(Alarms::default(), false).await;
    // The console signs bundles and commands, and carries out a patron's rights.
    let _ = r
        .console
        .policy
        .set(std::sync::Arc::new(central::policy::Publisher::new(
            allowlist::SigningKey::from_seed([4; 32]).unwrap(),
            7,
            400,
        )));
    r.console
        .serve_patron_rights(central::patrons::PatronRights {
            key: allowlist::CardKey::new([6; 32]),
            names: None,
        });
    let spki = {
        use base64::Engine;
        use sha2::Digest;
        let key = std::fs::read_to_string(r.pki.dir.join("console-key.pem")).unwrap();
        let der = rcgen::KeyPair::from_pem(&key).unwrap().public_key_der();
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(der))
    };
    let profile = tempfile::tempdir().unwrap();
    let Some(browser) = Driver::start(profile.path(), &spki).await else {
        return;
    };
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
    // A fleet: a forced door at Lemi, a kiosk out of paper with a queue conflict, a quiet door at
    // Kivi that has not reported for an hour, and a healthy door.
    report(
        &r,
        "lemi-door-1",
        "LEMI",
        Role::Door,
        "Lemi main door",
        vec![
            ev(
                1,
                T0 - 600_000,
                "entry",
                Some("ok"),
                Some("00112233445566778899aabbccddeeff"),
            ),
            ev(
                2,
                T0 - 300_000,
                "denied",
                Some("wrong-pin"),
                Some("ffeeddccbbaa99887766554433221100"),
            ),
            ev(3, T0 - 60_000, "alarm", Some("forced-open"), None),
            ev(4, T0 - 50_000, "alarm-cleared", Some("forced-open"), None),
            gauges(
                5,
                T0,
                &[
                    ("omatoimi_up", 1.0),
                    ("omatoimi_online", 1.0),
                    ("omatoimi_allowlist_version", 42.0),
                ],
            ),
        ],
    )
    .await;
    report(
        &r,
        "lemi-kiosk-1",
        "LEMI",
        Role::Kiosk,
        "Lemi kiosk",
        vec![
            ev(1, T0 - 120_000, "queue-conflict", None, None),
            gauges(
                2,
                T0,
                &[
                    ("omatoimi_up", 1.0),
                    (PAPER_OUT_GAUGE, 1.0),
                    ("omatoimi_queue_conflicts", 1.0),
                ],
            ),
        ],
    )
    .await;
    r.clock.store(T0 - 3_600_000, Ordering::SeqCst);
    report(
        &r,
        "kivi-door-1",
        "KIVI",
        Role::Door,
        "Kivijärvi door",
        vec![gauges(1, T0 - 3_600_000, &[("omatoimi_up", 1.0)])],
    )
    .await;
    r.clock.store(T0, Ordering::SeqCst);
    report(
        &r,
        "sava-door-1",
        "SAVA",
        Role::Door,
        "Savitaipale door",
        vec![gauges(
            1,
            T0,
            &[("omatoimi_up", 1.0), ("omatoimi_online", 1.0)],
        )],
    )
    .await;
    assert_eq!(
        central::alarms::sweep_silent(&db, &r.console.alarms, T0)
            .await
            .unwrap(),
        1
    );

    let base = format!("https://127.0.0.1:{}", r.console.staff_addr.unwrap().port());
    let shots = screenshots();
    // Signing in.
    browser.size(1280, 900).await;
    browser.go(&format!("{base}/login?lang=fi")).await;
    browser.screenshot(&shots.join("login-fi.png")).await;
    browser.type_into("#u", "aino").await;
    browser.type_into("#p", "aino-pass-word-1").await;
    browser.click("form.login button").await;
    let text = browser.text_with("aino").await;
    assert!(text.contains("Laitteet") && text.contains("aino"), "{text}");
    // Problems first: the silent and alarmed devices before the healthy one.
    let order = browser
        .script("return [...document.querySelectorAll('.card .name')].map(e => e.textContent)")
        .await;
    let order: Vec<&str> = order
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(order.last(), Some(&"Savitaipale door"), "{order:?}");

    // Acknowledge the forced door with a note, in the browser.
    browser.go(&format!("{base}/alarms?lang=en")).await;
    let forced: String = sqlx::query("SELECT alarm_id FROM alarms WHERE rule = 'forced-open'")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get(0);
    browser
        .type_into(&format!("#n-{forced}"), "Wind; checked on camera")
        .await;
    browser.click(&format!("#a-{forced} form button")).await;
    // The click starts the form's POST; the database has it once the answer came.
    let t = Instant::now();
    let row = loop {
        let row = sqlx::query("SELECT acked_by, note FROM alarms WHERE alarm_id = $1")
            .bind(&forced)
            .fetch_one(db.pool())
            .await
            .unwrap();
        if row.get::<Option<String>, _>(0).is_some() || t.elapsed() > Duration::from_secs(10) {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(row.get::<Option<String>, _>(0).as_deref(), Some("aino"));
    assert_eq!(
        row.get::<Option<String>, _>(1).as_deref(),
        Some("Wind; checked on camera")
    );
    assert!(browser.text().await.contains("Acknowledged"));

    // The branch's calendar, changed as a librarian would: Mondays shorter, Christmas Eve open
    // short hours, saved with the page's button.
    browser.go(&format!("{base}/calendars/LEMI?lang=en")).await;
    browser.clear("input[name=ss0]").await;
    browser.type_into("input[name=ss0]", "08:00-20:00").await;
    browser
        .click("select[name=h-christmas-eve] option[value=short]")
        .await;
    browser
        .type_into("input[name=hh-christmas-eve]", "7.00-12.00")
        .await;
    browser
        .click("form[action='/calendars/LEMI'] p button")
        .await;
    let t = Instant::now();
    let cal = loop {
        if let Some(c) = central::policy::calendar(&db, "LEMI").await.unwrap() {
            break c;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the calendar was never saved"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(cal.week[0].self_service, vec!["08:00-20:00"]);
    assert_eq!(cal.week[1].self_service, vec!["07:00-22:00"]);
    assert_eq!(
        cal.holidays.get("christmas-eve"),
        Some(&central::policy::HolidayChoice::Hours(
            report::policy::DaySpans {
                self_service: vec!["07:00-12:00".into()],
                staffed: vec![],
            }
        ))
    );
    assert_eq!(cal.updated.map(|u| u.1).as_deref(), Some("aino"));

    // Who may come in: the library decides for the branch, adults of 18 and over.
    browser
        .go(&format!("{base}/calendars/LEMI?lang=en#rules"))
        .await;
    browser.click("input[name=library]").await;
    browser.clear("input[name=min_age]").await;
    browser.type_into("input[name=min_age]", "18").await;
    browser.click("input[name=consent_admits_minors]").await;
    browser
        .click("form[action='/calendars/LEMI/rules'] button")
        .await;
    let t = Instant::now();
    let entry = loop {
        let c = central::policy::calendar(&db, "LEMI").await.unwrap();
        if let Some(e) = c.and_then(|c| c.entry) {
            break e;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the rules were never saved"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(entry.min_age, 18);
    assert!(!entry.consent_admits_minors && entry.refuse_fines);

    // A patron's erasure: the card typed once (as printed, with spaces), the box left unticked
    // first and the page says so; then asked of every device.
    browser.go(&format!("{base}/patrons?lang=en")).await;
    browser
        .type_into("input[name=card]", "2468 0000 0000 11")
        .await;
    browser.click("input[name=kind][value=erase]").await;
    browser
        .type_into("input[name=reason]", "the patron's letter of 3 Dec")
        .await;
    browser.click("form[action='/patrons'] button").await;
    let text = browser.text_with("Tick the box").await;
    assert!(text.contains("Tick the box"), "{text}");
    browser
        .type_into("input[name=card]", "2468 0000 0000 11")
        .await;
    browser.click("input[name=kind][value=erase]").await;
    browser.click("input[name=sure]").await;
    browser
        .type_into("input[name=reason]", "the patron's letter of 3 Dec")
        .await;
    browser.click("form[action='/patrons'] button").await;
    let text = browser.text_with("Devices confirmed").await;
    assert!(text.contains("0 / 4"), "{text}");
    assert!(text.contains("waiting for the device"), "{text}");
    let request: String =
        sqlx::query("SELECT request_id FROM patron_requests WHERE kind = 'erase'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get(0);

    // Every page in every language, on a desktop and on a phone.
    let pages = [
        ("fleet", "/".to_owned()),
        ("device", "/devices/lemi-door-1".to_owned()),
        ("alarms", "/alarms".to_owned()),
        ("audit", "/audit".to_owned()),
        ("calendar", "/calendars/LEMI".to_owned()),
        ("stats", "/stats".to_owned()),
        ("security", "/security".to_owned()),
        ("presence", "/presence".to_owned()),
        ("patrons", "/patrons".to_owned()),
        ("patron-request", format!("/patrons/{request}")),
    ];
    let mut saved = 0;
    for (form, (w, h)) in [("desktop", (1280, 900)), ("phone", (390, 844))] {
        browser.size(w, h).await;
        for lang in ["fi", "sv", "en"] {
            for (name, path) in &pages {
                browser.go(&format!("{base}{path}?lang={lang}")).await;
                let html_lang = browser.script("return document.documentElement.lang").await;
                assert_eq!(html_lang, lang);
                browser
                    .screenshot(&shots.join(format!("{name}-{lang}-{form}.png")))
                    .await;
                if form == "phone" {
                    let widths = browser
                        .script("return [document.documentElement.scrollWidth, window.innerWidth, [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className).slice(0, 5)]")
                        .await;
                    assert!(
                        widths[0].as_f64() <= widths[1].as_f64(),
                        "{name} in {lang} is wider than a phone: {widths}"
                    );
                }
                saved += 1;
            }
        }
    }
    assert_eq!(saved, 60);
    // The audit log has the acknowledgement made in the browser.
    browser.size(1280, 900).await;
    browser.go(&format!("{base}/audit?lang=en")).await;
    assert!(browser.text().await.contains("Wind; checked on camera"));
    // Signing out from the page's own button.
    browser.click("form.who button").await;
    let text = browser.text_with("Sign in").await;
    assert!(text.contains("Sign in"), "{text}");
    browser.go(&format!("{base}/alarms")).await;
    assert!(browser.text().await.contains("Password"));
    // The login page in the other languages too.
    for lang in ["sv", "en"] {
        browser.go(&format!("{base}/login?lang={lang}")).await;
        browser
            .screenshot(&shots.join(format!("login-{lang}.png")))
            .await;
    }
    let _ = browser.call(reqwest::Method::DELETE, "", None).await;
    eprintln!("screenshots in {}", shots.display());
    r.console.stop().await;
}
