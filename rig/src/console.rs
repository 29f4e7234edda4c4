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
    /// The CA's directory (it signs device certificates).
    tls_dir: std::path::PathBuf,
    dir: std::path::PathBuf,
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
        };
        let console = central::run(&settings, central::system_clock()).await?;
        Ok(Self {
            console,
            sink,
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
        })
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
        let now = central::system_clock()();
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
