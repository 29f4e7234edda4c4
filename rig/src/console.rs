//! The demo's console: `omatoimi-central` in this process with an SQLite file, the door and the
//! kiosk reporting to it over mutual TLS with certificates made as provisioning makes them,
//! signed by a CA standing in for the library's, and alarms told by e-mail to the demo's SMTP
//! sink over STARTTLS.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use central::rules::Rule;
use central::settings::{
    Alarms, DeviceListener, Recipient, Settings, Smtp, SmtpTls, StaffListener,
};

use crate::smtp_sink;

/// The console, its mail sink, and where a device's settings point.
#[derive(Debug)]
pub struct DemoConsole {
    /// The running console.
    pub console: central::Console,
    /// The mail it sent.
    pub sink: smtp_sink::Sink,
    /// The console's clock: the system's until [`DemoConsole::follow`] sets the devices' own.
    pub clock: ClockCell,
    /// The key devices pin for the console's policy bundles.
    pub policy_key: allowlist::PublicKey,
    /// The CA's directory (it signs device certificates).
    tls_dir: std::path::PathBuf,
    dir: std::path::PathBuf,
}

/// A clock that can be switched to follow another (the demo's devices run at 21:00 on the day
/// the demo runs; their console must agree with them, or a bundle signed "now" would be from
/// their future).
#[derive(Clone)]
pub struct ClockCell(std::sync::Arc<std::sync::RwLock<central::Clock>>);

impl std::fmt::Debug for ClockCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockCell")
    }
}

impl ClockCell {
    fn new() -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(
            central::system_clock(),
        )))
    }

    /// Now, in Unix ms.
    pub fn now_ms(&self) -> i64 {
        match self.0.read() {
            Ok(c) => c(),
            Err(p) => (p.into_inner())(),
        }
    }

    fn as_clock(&self) -> central::Clock {
        let me = self.clone();
        std::sync::Arc::new(move || me.now_ms())
    }
}

/// Who the demo's alarms go to.
pub const NIGHT_DUTY: &str = "night.duty@heili.example";

impl DemoConsole {
    /// Starts the console in `dir`, with a CA of its own (made there) standing in for the
    /// library's: it signs the console's certificate and the devices'.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let tls_dir = &dir.join("pki");
        std::fs::create_dir_all(tls_dir)?;
        library_sim::tls::ensure_identity(tls_dir, &[])?;
        let server_tls = library_sim::tls::server_config(
            &library_sim::tls::TlsFiles::in_dir(tls_dir),
            false,
            &[],
        )?;
        let sink = smtp_sink::start(server_tls).await?;
        // The console's policy key, as `omatoimi-central policy-key` makes it.
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
        let key = allowlist::SigningKey::from_seed(seed)
            .ok_or_else(|| anyhow::anyhow!("could not make a policy key"))?;
        let policy_key = key.public();
        let clock = ClockCell::new();
        let settings = Settings {
            database: format!("sqlite:{}", dir.join("central.db").display()),
            devices: DeviceListener {
                listen: "127.0.0.1:0".parse()?,
                certificate: tls_dir.join("server.pem"),
                key: tls_dir.join("server-key.pem"),
                device_ca: tls_dir.join("ca.pem"),
            },
            metrics: None,
            staff: Some(StaffListener {
                listen: "127.0.0.1:0".parse()?,
                certificate: tls_dir.join("server.pem"),
                key: tls_dir.join("server-key.pem"),
                idle_ms: 30 * 60_000,
                max_ms: 12 * 3_600_000,
            }),
            alarms: Alarms {
                smtp: Some(Smtp {
                    server: "localhost".into(),
                    port: sink.addr.port(),
                    tls: SmtpTls::Starttls,
                    from: "Omatoimi <omatoimi@heili.example>".into(),
                    login: None,
                    ca: Some(tls_dir.join("ca.pem")),
                }),
                notify: vec![Recipient {
                    name: "Night duty".into(),
                    email: vec![NIGHT_DUTY.into()],
                    webhook: None,
                    rules: vec![Rule::ForcedOpen, Rule::HeldOpen, Rule::Tamper],
                    quiet_hours: None,
                    branches: vec![],
                    lang: central::words::Lang::En,
                }],
                ..Alarms::default()
            },
            retention: Default::default(),
            patrons: None,
            policy: Some(std::sync::Arc::new(central::policy::Publisher::new(
                key, 7, 400,
            ))),
        };
        let console = central::run(&settings, clock.as_clock()).await?;
        Ok(Self {
            console,
            sink,
            clock,
            policy_key,
            tls_dir: tls_dir.to_owned(),
            dir: dir.to_owned(),
        })
    }

    /// A device's `[console]` settings: a certificate for `device_id` at `branch` (as
    /// `omatoimi-provision` requests it, signed by the library's CA), its outbox in `state_dir`.
    pub fn device(
        &self,
        device_id: &str,
        branch: &str,
        state_dir: &Path,
    ) -> anyhow::Result<config::console::ConsoleSettings> {
        let key = provision::identity::new_key()?;
        let csr = provision::identity::request(&key, device_id, "heili", branch)?;
        let cert = provision::identity::sign(
            &csr,
            &std::fs::read_to_string(self.tls_dir.join("ca.pem"))?,
            &std::fs::read_to_string(self.tls_dir.join("ca-key.pem"))?,
            365,
            SystemTime::now(),
        )?;
        let (cert_file, key_file) = (
            self.dir.join(format!("{device_id}.pem")),
            self.dir.join(format!("{device_id}-key.pem")),
        );
        std::fs::write(&cert_file, cert)?;
        std::fs::write(&key_file, key.serialize_pem())?;
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600))?;
        Ok(config::console::ConsoleSettings {
            url: format!("https://localhost:{}/", self.console.devices_addr.port()),
            tls: config::registry::TlsSettings {
                ca: Some(self.tls_dir.join("ca.pem")),
                client_identity: Some((cert_file, key_file)),
            },
            outbox: state_dir.join("outbox"),
            status_every: Duration::from_secs(5),
            outbox_max_bytes: 64 << 20,
            policy_keys: vec![self.policy_key],
            policy_revoked: vec![],
        })
    }

    /// From now on the console's clock is `clock` (the devices').
    pub fn follow(
        &self,
        clock: std::sync::Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>,
    ) {
        if let Ok(mut c) = self.clock.0.write() {
            *c = std::sync::Arc::new(move || clock().timestamp_millis());
        }
    }

    /// A staff member signed in to the console's pages over HTTPS, as a browser would be (an
    /// account `user` with role `role` is made first).
    pub async fn staff(
        &self,
        user: &str,
        role: central::staff::Role,
    ) -> anyhow::Result<StaffClient> {
        let password = central::staff::make_password()?;
        central::staff::set_account(
            &self.console.db,
            user,
            role,
            &password,
            "(demo)",
            self.clock.now_ms(),
        )
        .await?;
        let addr = self
            .console
            .staff_addr
            .ok_or_else(|| anyhow::anyhow!("the console serves no staff pages"))?;
        let tls = registry::tls::client_config(
            &config::registry::TlsSettings {
                ca: Some(self.tls_dir.join("ca.pem")),
                client_identity: None,
            },
            &[b"http/1.1"],
        )?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let mut c = StaffClient {
            http,
            base: format!("https://localhost:{}", addr.port()),
            cookies: String::new(),
        };
        let login = c.get("/login").await?;
        let csrf =
            hidden(&login, "login_csrf").ok_or_else(|| anyhow::anyhow!("no sign-in token"))?;
        c.post(
            "/login",
            &[
                ("username", user),
                ("password", &password),
                ("login_csrf", &csrf),
            ],
        )
        .await?;
        if !c.cookies.contains("__Host-omatoimi=") {
            anyhow::bail!("the console did not sign {user} in");
        }
        Ok(c)
    }

    /// The first mail to `to`, waiting up to `within`.
    pub async fn mail_to(&self, to: &str, within: Duration) -> Option<smtp_sink::Mail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let found = self
                .sink
                .mails
                .lock()
                .ok()
                .and_then(|m| m.iter().find(|m| m.to.iter().any(|t| t == to)).cloned());
            if found.is_some() || tokio::time::Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Prints what the console's alarms page and fleet page show.
    pub async fn show(&self) -> anyhow::Result<()> {
        let db = &self.console.db;
        // The console's own clock (the devices' in the demo), as its pages use.
        let now = self.clock.now_ms();
        let open = central::alarms::open_by_device(db).await?;
        println!(
            "\nThe console (staff pages at https://localhost:{}/, devices report to :{}):",
            self.console.staff_addr.map_or(0, |a| a.port()),
            self.console.devices_addr.port()
        );
        for d in db.devices().await? {
            let problems: Vec<&str> = central::web::problems(
                &d,
                open.get(&d.device_id).copied().unwrap_or(0),
                now,
                self.console.alarms.silent_ms,
            )
            .into_iter()
            .map(|p| p.1)
            .collect();
            let kinds: Vec<String> = sqlx::query(
                "SELECT kind, CAST(COUNT(*) AS BIGINT) AS n FROM events WHERE device_id = $1 GROUP BY kind ORDER BY kind",
            )
            .bind(&d.device_id)
            .fetch_all(db.pool())
            .await?
            .iter()
            .map(|r| {
                use sqlx::Row;
                format!(
                    "{} {}",
                    r.try_get::<String, _>("kind").unwrap_or_default(),
                    r.try_get::<i64, _>("n").unwrap_or_default()
                )
            })
            .collect();
            println!(
                "  {:<14} {:<5} {:<16} {} events ({}); {}",
                d.device_id,
                d.branch,
                d.name.as_deref().unwrap_or(""),
                db.event_count(&d.device_id).await?,
                kinds.join(", "),
                if problems.is_empty() {
                    "all in order".to_owned()
                } else {
                    problems.join(", ")
                }
            );
        }
        // The day's statistics, as staff download them for the library's yearly figures.
        let day = jiff::Timestamp::from_millisecond(self.clock.now_ms())?
            .to_zoned_datetime(self.console.alarms.time_zone.clone())
            .date();
        let mut staff = self.staff("tilastot", central::staff::Role::Staff).await?;
        let csv = staff
            .get(&format!("/stats.csv?from={day}&to={day}"))
            .await?;
        println!("  statistics for {day} (/stats, and its CSV):");
        for l in csv.lines() {
            println!("    {l}");
        }
        for a in central::alarms::list(db, None, 10).await? {
            let told: Vec<String> = a
                .told
                .iter()
                .map(|(who, ch, state, n)| format!("{who} by {ch}: {state} after {n} try"))
                .collect();
            println!(
                "  alarm: {} at {} ({}); {}",
                a.rule,
                a.device_id,
                if a.acked_at.is_some() {
                    "acknowledged"
                } else {
                    "open"
                },
                told.join("; ")
            );
        }
        Ok(())
    }
}

/// How long from `since` (for the demo's output).
pub fn ms_since(since: std::time::Instant) -> u128 {
    since.elapsed().as_millis()
}

/// A staff member's HTTPS session with the console's pages: cookies kept as a browser keeps
/// them, forms posted with their CSRF token.
#[derive(Debug)]
pub struct StaffClient {
    http: reqwest::Client,
    base: String,
    cookies: String,
}

impl StaffClient {
    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
            let Some(pair) = v.to_str().ok().and_then(|v| v.split(';').next()) else {
                continue;
            };
            let Some((name, _)) = pair.split_once('=') else {
                continue;
            };
            let mut kept: Vec<&str> = self
                .cookies
                .split("; ")
                .filter(|c| !c.is_empty() && !c.starts_with(&format!("{name}=")))
                .collect();
            kept.push(pair);
            self.cookies = kept.join("; ");
        }
    }

    /// A page's HTML.
    pub async fn get(&mut self, path: &str) -> anyhow::Result<String> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookies)
            .send()
            .await?;
        self.keep_cookies(&r);
        Ok(r.text().await?)
    }

    /// Posts a form; the answer's status and body.
    pub async fn post(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(u16, String)> {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, &self.cookies)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await?;
        self.keep_cookies(&r);
        let status = r.status().as_u16();
        Ok((status, r.text().await?))
    }

    /// Fills in the form on `page` whose action is `action`, as a person would: its hidden CSRF
    /// token, then `fields`.
    pub async fn submit(
        &mut self,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> anyhow::Result<(u16, String)> {
        let html = self.get(page).await?;
        let at = html
            .find(&format!("action=\"{action}\""))
            .ok_or_else(|| anyhow::anyhow!("{page} has no form for {action}"))?;
        let form = &html[at..at + html[at..].find("</form>").unwrap_or(html.len() - at)];
        let hidden = hidden_inputs(form);
        if !hidden.iter().any(|(n, _)| n == "csrf") {
            anyhow::bail!("{page}: the form for {action} has no token");
        }
        let mut all: Vec<(&str, &str)> = hidden
            .iter()
            .filter(|(n, _)| !fields.iter().any(|(f, _)| f == n))
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }
}

/// Every hidden input of a form's HTML: (name, value), entities undone.
fn hidden_inputs(form: &str) -> Vec<(String, String)> {
    form.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.strip_prefix(" value=\"")?.split('"').next()?;
            let value = value
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            Some((name.to_owned(), value))
        })
        .collect()
}

/// The value of the first hidden input named `name` in `html`.
fn hidden(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}
