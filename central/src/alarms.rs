//! Alarms: raised in the same transaction that stores the event that raised them (so a crash
//! between the two cannot lose one, and a replayed event raises nothing new), told to each
//! recipient by e-mail and webhook, retried, and every try recorded in `deliveries`.
//!
//! A device that goes silent is found by the console's own sweep (every 30 s).

use std::sync::Arc;
use std::time::Duration;

use sqlx::{AnyConnection, Row};
use tokio::sync::{Notify, watch};
use tracing::{info, warn};

use crate::Clock;
use crate::db::{Db, DbError};
use crate::rules::{self, Rule};
use crate::settings::{Alarms, Recipient, SmtpTls};
use crate::words::{Lang, tr};

/// A rule's title, in English (through [`tr`] for the others).
pub fn title(rule: Rule) -> &'static str {
    match rule {
        Rule::ForcedOpen => "Door forced open",
        Rule::HeldOpen => "Door held open",
        Rule::Tamper => "Tampering",
        Rule::Silent => "Device silent",
        Rule::ListRefused => "Offline list refused",
        Rule::PinGuessing => "Card locked after wrong PINs",
        Rule::PaperOut => "Printer out of paper",
        Rule::QueueConflict => "Offline loan conflict",
        Rule::ReaderLost => "Card reader lost",
    }
}

/// The device an alarm is about.
#[derive(Debug, Clone)]
pub struct About<'a> {
    /// Its id (certificate CN).
    pub device_id: &'a str,
    /// Its branch (OU).
    pub branch: &'a str,
}

/// Raises `rule` for a device, caused by `cause` (an event id, or what else makes the alarm
/// one of its own), inside the caller's transaction; queues a delivery to each recipient told of
/// it. `detail`, what the device said of it, is kept only for the rules that tell it
/// ([`rules::tells_detail`]). Whether an alarm was raised (not when a lasting one is open
/// already, or the cause was seen before).
#[allow(clippy::too_many_arguments)]
pub async fn raise(
    conn: &mut AnyConnection,
    cfg: &Alarms,
    about: &About<'_>,
    rule: Rule,
    cause: &str,
    detail: Option<&str>,
    at_ms: i64,
    now_ms: i64,
) -> Result<bool, sqlx::Error> {
    if rule.lasting() {
        // A condition the console sees end (silence, paper) stays one alarm until it ends. A
        // door's forced or held alarm stops suppressing new ones once a person acknowledged it:
        // if its end never arrived (a restart, a replaced box), the next break-in is told.
        let sql = if rule.urgent() {
            "SELECT alarm_id FROM alarms WHERE device_id = $1 AND rule = $2 AND cleared_at IS NULL AND acked_at IS NULL"
        } else {
            "SELECT alarm_id FROM alarms WHERE device_id = $1 AND rule = $2 AND cleared_at IS NULL"
        };
        let open = sqlx::query(sql)
            .bind(about.device_id)
            .bind(rule.code())
            .fetch_optional(&mut *conn)
            .await?;
        if open.is_some() {
            return Ok(false);
        }
    }
    let alarm_id = rules::alarm_id(about.device_id, rule, cause);
    let inserted = sqlx::query(
        "INSERT INTO alarms (alarm_id, device_id, rule, raised_at, summary, detail) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (alarm_id) DO NOTHING",
    )
    .bind(&alarm_id)
    .bind(about.device_id)
    .bind(rule.code())
    .bind(at_ms)
    .bind(title(rule))
    .bind(
        detail
            .filter(|d| rules::tells_detail(rule) && !d.is_empty())
            .map(|d| truncate(d, 200)),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    for r in told(cfg, about.branch, rule) {
        let next_at = match (&r.quiet_hours, rule.urgent()) {
            (Some(q), false) => q.release_at(now_ms, &cfg.time_zone),
            _ => now_ms,
        };
        let targets = r
            .email
            .iter()
            .map(|e| ("email", e.as_str()))
            .chain(r.webhook.iter().map(|w| ("webhook", w.as_str())));
        for (channel, target) in targets {
            sqlx::query(
                "INSERT INTO deliveries (delivery_id, alarm_id, recipient, channel, target, state, attempts, next_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6)",
            )
            .bind(random_id())
            .bind(&alarm_id)
            .bind(&r.name)
            .bind(channel)
            .bind(target)
            .bind(next_at)
            .execute(&mut *conn)
            .await?;
        }
    }
    info!(device = about.device_id, rule = rule.code(), alarm = %alarm_id, "alarm raised");
    Ok(true)
}

/// Ends a device's open alarm of a lasting rule.
pub async fn clear(
    conn: &mut AnyConnection,
    device_id: &str,
    rule: Rule,
    at_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE alarms SET cleared_at = $1 WHERE device_id = $2 AND rule = $3 AND cleared_at IS NULL",
    )
    .bind(at_ms)
    .bind(device_id)
    .bind(rule.code())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The recipients told of `rule` at `branch`.
fn told<'a>(cfg: &'a Alarms, branch: &'a str, rule: Rule) -> impl Iterator<Item = &'a Recipient> {
    cfg.notify.iter().filter(move |r| {
        r.rules.contains(&rule) && (r.branches.is_empty() || r.branches.iter().any(|b| b == branch))
    })
}

/// 16 random bytes as hex.
pub fn random_id() -> String {
    let mut b = [0u8; 16];
    // getrandom fails only where the OS has no randomness at all; a time-based id then is
    // still unique enough for a row's key.
    if getrandom::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = t.to_be_bytes();
    }
    crate::hex(&b)
}

/// Raises `silent` for every device not heard from in `silent_ms`, and clears it for those
/// heard from since. How many were raised.
pub async fn sweep_silent(db: &Db, cfg: &Alarms, now_ms: i64) -> Result<usize, DbError> {
    let quiet_since = now_ms - cfg.silent_ms;
    let rows = sqlx::query("SELECT device_id, branch, last_seen FROM devices WHERE last_seen < $1")
        .bind(quiet_since)
        .fetch_all(db.pool())
        .await?;
    let mut raised = 0;
    for row in rows {
        let device_id: String = row.try_get("device_id")?;
        let branch: String = row.try_get("branch")?;
        // One device's failure (a busy database) leaves the others to be swept.
        match sweep_one(db, cfg, &device_id, &branch, quiet_since, now_ms).await {
            Ok(true) => raised += 1,
            Ok(false) => {}
            Err(e) => warn!(device = %device_id, "silent device: {e}"),
        }
    }
    Ok(raised)
}

/// Raises `silent` for one device if, inside the transaction, it is still silent (it may have
/// reported since the sweep's list was read).
async fn sweep_one(
    db: &Db,
    cfg: &Alarms,
    device_id: &str,
    branch: &str,
    quiet_since: i64,
    now_ms: i64,
) -> Result<bool, DbError> {
    let mut tx = db.begin_write().await?;
    let still =
        sqlx::query("SELECT last_seen FROM devices WHERE device_id = $1 AND last_seen < $2")
            .bind(device_id)
            .bind(quiet_since)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(row) = still else {
        return Ok(false);
    };
    let last_seen: i64 = row.try_get("last_seen")?;
    let about = About { device_id, branch };
    let up = raise(
        &mut tx,
        cfg,
        &about,
        Rule::Silent,
        &format!("silent-since-{last_seen}"),
        None,
        now_ms,
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(up)
}

/// A delivery due now, with what its message says.
#[derive(Debug, Clone)]
struct Due {
    delivery_id: String,
    recipient: String,
    channel: String,
    target: String,
    attempts: i64,
    rule: String,
    raised_at: i64,
    /// Its cause ended, or a person acknowledged it.
    over: bool,
    device_id: String,
    device_name: Option<String>,
    branch: String,
    last_seen: i64,
    detail: Option<String>,
}

/// Sends what is due, until stopped; woken early by `wake` (a new alarm).
pub async fn deliver_forever(
    db: Db,
    cfg: Arc<Alarms>,
    clock: Clock,
    wake: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
) {
    // A console that was down saw nobody meanwhile: devices are judged silent only once it has
    // been up as long as the setting (each has had its chance to report), not at its start.
    // Measured on the monotonic clock: how long the console has been up does not change when
    // its wall clock is stepped (or, in the demo, set to follow the devices' own).
    let started = tokio::time::Instant::now();
    let up_long_enough = Duration::from_millis(u64::try_from(cfg.silent_ms).unwrap_or(0));
    let mut sweep = tokio::time::interval(Duration::from_secs(30));
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mailer = match cfg.smtp.as_ref().map(mailer).transpose() {
        Ok(m) => m,
        Err(e) => {
            warn!("alarm e-mail cannot be sent: {e}");
            None
        }
    };
    let http = webhook_client();
    loop {
        match deliver_due(&db, &cfg, &clock, mailer.as_ref(), http.as_ref()).await {
            Ok(n) if n > 0 => info!(deliveries = n, "alarm deliveries tried"),
            Ok(_) => {}
            Err(e) => warn!("alarm deliveries: {e}"),
        }
        tokio::select! {
            _ = stopped.changed() => break,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = sweep.tick(), if started.elapsed() >= up_long_enough => {
                match sweep_silent(&db, &cfg, clock()).await {
                    Ok(0) => {}
                    Ok(n) => info!(devices = n, "silent devices raised"),
                    Err(e) => warn!("silent devices: {e}"),
                }
            }
        }
    }
}

type Mailer = lettre::AsyncSmtpTransport<lettre::Tokio1Executor>;

fn mailer(s: &crate::settings::Smtp) -> anyhow::Result<Mailer> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let mut params = TlsParameters::builder(s.server.clone());
    if let Some(ca) = &s.ca {
        let pem = std::fs::read(ca).map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?;
        params = params.add_root_certificate(
            Certificate::from_pem(&pem).map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?,
        );
    }
    let params: TlsParameters = params.build_rustls()?;
    let tls = match s.tls {
        SmtpTls::Starttls => Tls::Required(params),
        SmtpTls::Tls => Tls::Wrapper(params),
        SmtpTls::LoopbackPlain => Tls::None,
    };
    let mut b = Mailer::builder_dangerous(&s.server)
        .port(s.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(30)));
    if let Some((user, password)) = &s.login {
        b = b.credentials(lettre::transport::smtp::authentication::Credentials::new(
            user.clone(),
            password.clone(),
        ));
    }
    Ok(b.build())
}

fn webhook_client() -> Option<reqwest::Client> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("omatoimi-central/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| warn!("webhook client: {e}"))
        .ok()
}

async fn deliver_due(
    db: &Db,
    cfg: &Alarms,
    clock: &Clock,
    mailer: Option<&Mailer>,
    http: Option<&reqwest::Client>,
) -> Result<usize, DbError> {
    let now = clock();
    let rows = sqlx::query(
        "SELECT d.delivery_id, d.recipient, d.channel, d.target, d.attempts, a.rule, a.raised_at, a.cleared_at, a.acked_at, a.device_id, v.name, v.branch, v.last_seen, a.detail \
         FROM deliveries d JOIN alarms a ON a.alarm_id = d.alarm_id JOIN devices v ON v.device_id = a.device_id \
         WHERE d.state = 'pending' AND d.next_at <= $1 \
         ORDER BY CASE WHEN a.rule IN ('forced-open', 'held-open', 'tamper') THEN 0 ELSE 1 END, d.next_at LIMIT 50",
    )
    .bind(now)
    .fetch_all(db.pool())
    .await?;
    let mut due = vec![];
    for r in rows {
        due.push(Due {
            delivery_id: r.try_get("delivery_id")?,
            recipient: r.try_get("recipient")?,
            channel: r.try_get("channel")?,
            target: r.try_get("target")?,
            attempts: r.try_get("attempts")?,
            rule: r.try_get("rule")?,
            raised_at: r.try_get("raised_at")?,
            over: r.try_get::<Option<i64>, _>("cleared_at")?.is_some()
                || r.try_get::<Option<i64>, _>("acked_at")?.is_some(),
            device_id: r.try_get("device_id")?,
            device_name: r.try_get("name")?,
            branch: r.try_get("branch")?,
            last_seen: r.try_get("last_seen")?,
            detail: r.try_get("detail")?,
        });
    }
    let n = due.len();
    for d in due {
        let recipient = cfg.notify.iter().find(|r| r.name == d.recipient);
        let lang = recipient.map_or(Lang::Fi, |r| r.lang);
        let urgent = Rule::from_code(&d.rule).is_some_and(Rule::urgent);
        if d.over && !urgent {
            // Held for quiet hours or a retry, and over before its time: nobody is woken for a
            // printer that has paper again or a device that is back.
            if let Err(e) =
                sqlx::query("UPDATE deliveries SET state = 'skipped' WHERE delivery_id = $1")
                    .bind(&d.delivery_id)
                    .execute(db.pool())
                    .await
            {
                warn!(delivery = %d.delivery_id, "{e}");
            }
            continue;
        }
        let message = Message::new(cfg, &d, lang);
        let outcome = match d.channel.as_str() {
            "email" => match (mailer, &cfg.smtp) {
                (Some(m), Some(s)) => send_mail(m, s, &d.target, &message).await,
                _ => Err("no mail server is configured ([alarms.smtp])".to_owned()),
            },
            "webhook" => match http {
                Some(c) => send_webhook(c, &d, &message).await,
                None => Err("the webhook client could not be made".to_owned()),
            },
            other => Err(format!("unknown channel {other}")),
        };
        let attempts = d.attempts + 1;
        let done = clock();
        match outcome {
            Ok(()) => {
                info!(delivery = %d.delivery_id, channel = %d.channel, recipient = %d.recipient, "alarm told");
                let r = sqlx::query(
                    "UPDATE deliveries SET state = 'sent', attempts = $1, sent_at = $2, last_error = NULL WHERE delivery_id = $3",
                )
                .bind(attempts)
                .bind(done)
                .bind(&d.delivery_id)
                .execute(db.pool())
                .await;
                if let Err(e) = r {
                    warn!(delivery = %d.delivery_id, "sent, but not recorded (it may be sent again): {e}");
                }
            }
            Err(why) => {
                let next = rules::retry_after_ms(u32::try_from(attempts).unwrap_or(u32::MAX));
                warn!(delivery = %d.delivery_id, channel = %d.channel, recipient = %d.recipient, attempts, error = %why, gave_up = next.is_none(), "alarm not told");
                // A retry of a non-urgent alarm waits through the recipient's quiet hours too.
                let mut next_at = done + next.unwrap_or(0);
                if let (Some(q), false) = (recipient.and_then(|r| r.quiet_hours), urgent) {
                    next_at = q.release_at(next_at, &cfg.time_zone);
                }
                let r = sqlx::query(
                    "UPDATE deliveries SET state = $1, attempts = $2, next_at = $3, last_error = $4 WHERE delivery_id = $5",
                )
                .bind(if next.is_some() { "pending" } else { "failed" })
                .bind(attempts)
                .bind(next_at)
                .bind(truncate(&why, 500))
                .bind(&d.delivery_id)
                .execute(db.pool())
                .await;
                if let Err(e) = r {
                    warn!(delivery = %d.delivery_id, "failure not recorded: {e}");
                }
            }
        }
    }
    Ok(n)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// An alarm's message: a subject line and a few lines of text, in the recipient's language.
/// It names the device, its branch, the rule and the local time; never a card or a patron.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Message {
    /// One line.
    pub subject: String,
    /// The rest.
    pub text: String,
    /// The rule's code.
    pub rule: String,
    /// The device.
    pub device: String,
    /// Its branch.
    pub branch: String,
    /// When it was raised (Unix ms).
    pub raised_at: i64,
}

impl Message {
    fn new(cfg: &Alarms, d: &Due, lang: Lang) -> Self {
        let rule = Rule::from_code(&d.rule);
        let what = rule.map_or(d.rule.as_str(), |r| tr(lang, title(r)));
        let local = |ms: i64| {
            jiff::Timestamp::from_millisecond(ms).map_or_else(
                |_| ms.to_string(),
                |t| {
                    t.to_zoned_datetime(cfg.time_zone.clone())
                        .strftime("%-d.%-m.%Y %H:%M")
                        .to_string()
                },
            )
        };
        let device = d.device_name.clone().unwrap_or_else(|| d.device_id.clone());
        let subject = format!(
            "[omatoimi] {what}: {device} ({}) {} {}",
            d.branch,
            tr(lang, "at"),
            local(d.raised_at)
        );
        let mut text = format!(
            "{what}\n\n{}: {device} ({})\n{}: {}\n{}: {}\n",
            tr(lang, "Device"),
            d.device_id,
            tr(lang, "Branch"),
            d.branch,
            tr(lang, "Time"),
            local(d.raised_at),
        );
        if let Some(detail) = &d.detail {
            text.push_str(&format!("{}: {detail}\n", tr(lang, "Detail")));
        }
        if rule == Some(Rule::Silent) {
            text.push_str(&format!(
                "{} {}\n",
                tr(lang, "has not reported since"),
                local(d.last_seen)
            ));
        }
        if let Some(url) = &cfg.console_url {
            text.push_str(&format!(
                "\n{}: {}/devices/{}\n",
                tr(lang, "Open the console"),
                url.trim_end_matches('/'),
                d.device_id
            ));
        }
        Self {
            subject,
            text,
            rule: d.rule.clone(),
            device: d.device_id.clone(),
            branch: d.branch.clone(),
            raised_at: d.raised_at,
        }
    }
}

async fn send_mail(
    mailer: &Mailer,
    s: &crate::settings::Smtp,
    to: &str,
    m: &Message,
) -> Result<(), String> {
    use lettre::AsyncTransport;
    let email = lettre::Message::builder()
        .from(s.from.parse().map_err(|e| format!("sender: {e}"))?)
        .to(to.parse().map_err(|e| format!("recipient: {e}"))?)
        .subject(&m.subject)
        .header(lettre::message::header::ContentType::TEXT_PLAIN)
        .body(m.text.clone())
        .map_err(|e| format!("message: {e}"))?;
    mailer
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| format!("{}:{}: {e}", s.server, s.port))
}

async fn send_webhook(http: &reqwest::Client, d: &Due, m: &Message) -> Result<(), String> {
    // `text` is what chat rooms' incoming webhooks show; the rest is for a gateway's rules.
    let body = serde_json::json!({
        "text": format!("{}\n{}", m.subject, m.text),
        "alarm": m,
    });
    let r = http
        .post(&d.target)
        .json(&body)
        .send()
        .await
        .map_err(|e| format!("webhook: {e}"))?;
    if r.status().is_success() {
        Ok(())
    } else {
        Err(format!("webhook answered {}", r.status()))
    }
}

/// An alarm as the pages show it.
#[derive(Debug, Clone)]
pub struct AlarmRow {
    /// Its id.
    pub alarm_id: String,
    /// The device.
    pub device_id: String,
    /// Its branch.
    pub branch: String,
    /// The rule's code.
    pub rule: String,
    /// When.
    pub raised_at: i64,
    /// When its cause ended.
    pub cleared_at: Option<i64>,
    /// When a person acknowledged it.
    pub acked_at: Option<i64>,
    /// Who.
    pub acked_by: Option<String>,
    /// What they wrote.
    pub note: Option<String>,
    /// What the device said of it (a tampered or lost reader's name and why).
    pub detail: Option<String>,
    /// Deliveries: (recipient, channel, state, attempts).
    pub told: Vec<(String, String, String, i64)>,
}

/// Alarms, newest first: the open (unacknowledged) ones, then the last `recent` of the rest;
/// only `device_id`'s when given.
pub async fn list(db: &Db, device_id: Option<&str>, recent: i64) -> Result<Vec<AlarmRow>, DbError> {
    let base = "SELECT a.alarm_id, a.device_id, v.branch, a.rule, a.raised_at, a.cleared_at, a.acked_at, a.acked_by, a.note, a.detail FROM alarms a JOIN devices v ON v.device_id = a.device_id";
    let filter = if device_id.is_some() {
        " AND a.device_id = $2"
    } else {
        " AND $2 = $2"
    };
    let open =
        format!("{base} WHERE a.acked_at IS NULL AND $1 = $1{filter} ORDER BY a.raised_at DESC");
    let done =
        format!("{base} WHERE a.acked_at IS NOT NULL{filter} ORDER BY a.raised_at DESC LIMIT $1");
    let dev = device_id.unwrap_or("");
    let mut out = vec![];
    for sql in [open, done] {
        let rows = sqlx::query(&sql)
            .bind(recent)
            .bind(dev)
            .fetch_all(db.pool())
            .await?;
        for r in rows {
            out.push(AlarmRow {
                alarm_id: r.try_get("alarm_id")?,
                device_id: r.try_get("device_id")?,
                branch: r.try_get("branch")?,
                rule: r.try_get("rule")?,
                raised_at: r.try_get("raised_at")?,
                cleared_at: r.try_get("cleared_at")?,
                acked_at: r.try_get("acked_at")?,
                acked_by: r.try_get("acked_by")?,
                note: r.try_get("note")?,
                detail: r.try_get("detail")?,
                told: vec![],
            });
        }
    }
    for a in &mut out {
        let rows = sqlx::query(
            "SELECT recipient, channel, state, attempts FROM deliveries WHERE alarm_id = $1 ORDER BY recipient, channel",
        )
        .bind(&a.alarm_id)
        .fetch_all(db.pool())
        .await?;
        for r in rows {
            a.told.push((
                r.try_get("recipient")?,
                r.try_get("channel")?,
                r.try_get("state")?,
                r.try_get("attempts")?,
            ));
        }
    }
    Ok(out)
}

/// Acknowledges an alarm with a note; whether it was open.
pub async fn acknowledge(
    db: &Db,
    alarm_id: &str,
    username: &str,
    note: &str,
    now_ms: i64,
) -> Result<bool, DbError> {
    let n = sqlx::query(
        "UPDATE alarms SET acked_at = $1, acked_by = $2, note = $3 WHERE alarm_id = $4 AND acked_at IS NULL",
    )
    .bind(now_ms)
    .bind(username)
    .bind(note)
    .bind(alarm_id)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Open (unacknowledged) alarms per device.
pub async fn open_by_device(db: &Db) -> Result<std::collections::HashMap<String, i64>, DbError> {
    let rows = sqlx::query(
        "SELECT device_id, CAST(COUNT(*) AS BIGINT) AS n FROM alarms WHERE acked_at IS NULL GROUP BY device_id",
    )
    .fetch_all(db.pool())
    .await?;
    let mut out = std::collections::HashMap::new();
    for r in rows {
        out.insert(r.try_get("device_id")?, r.try_get("n")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(rule: Rule, detail: Option<&str>) -> Due {
        Due {
            delivery_id: "d".into(),
            recipient: "Night duty".into(),
            channel: "email".into(),
            target: "duty@heili.example".into(),
            attempts: 0,
            rule: rule.code().into(),
            // 2026-01-01 02:00 in Helsinki.
            raised_at: 1_767_225_600_000,
            over: false,
            device_id: "lemi-door-1".into(),
            device_name: Some("Lemi door".into()),
            branch: "LEMI".into(),
            last_seen: 1_767_225_600_000,
            detail: detail.map(str::to_owned),
        }
    }

    #[test]
    fn a_tampered_readers_message_names_the_reader_in_each_language() {
        let cfg = Alarms::default();
        let d = due(Rule::Tamper, Some("osdp:/dev/ttyUSB0#1"));
        let en = Message::new(&cfg, &d, Lang::En);
        assert_eq!(
            en.subject,
            "[omatoimi] Tampering: Lemi door (LEMI) at 1.1.2026 02:00"
        );
        assert!(
            en.text.contains("\nDetail: osdp:/dev/ttyUSB0#1\n"),
            "{}",
            en.text
        );
        let fi = Message::new(&cfg, &d, Lang::Fi);
        assert!(
            fi.text.contains("\nTarkemmin: osdp:/dev/ttyUSB0#1\n"),
            "{}",
            fi.text
        );
        let sv = Message::new(&cfg, &d, Lang::Sv);
        assert!(
            sv.text.contains("\nNärmare: osdp:/dev/ttyUSB0#1\n"),
            "{}",
            sv.text
        );
        // The box's own switch says no more than before.
        let plain = Message::new(&cfg, &due(Rule::Tamper, None), Lang::En);
        assert!(!plain.text.contains("Detail"), "{}", plain.text);
    }
}
