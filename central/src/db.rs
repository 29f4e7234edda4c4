//! The console's database: SQLite or PostgreSQL behind one `Any` pool, migrated at open.
//!
//! One schema for both (`migrations/`): BIGINT and TEXT only, times in Unix milliseconds, every
//! write `INSERT … ON CONFLICT`, placeholders `$1…` in order. SQLite runs in WAL mode with
//! `synchronous=FULL`: the console's answer promises the records are stored.

use report::{Ack, Batch, Body, Rejected};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

use crate::alarms::About;
use crate::identity::DeviceCert;
use crate::rules::{self, Rule};
use crate::settings::Alarms;

/// The migrations, embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A file.
    Sqlite,
    /// A server.
    Postgres,
}

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no database this console speaks.
    #[error("database {0:?}: not sqlite:PATH or postgres://USER@HOST/DATABASE")]
    Url(String),
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Something to store is not valid (a calendar with a bad span), in words.
    #[error("{0}")]
    Invalid(String),
    /// The device's certificate was revoked.
    #[error("certificate of {device} revoked")]
    Revoked {
        /// The device it named.
        device: String,
    },
}

/// The console's database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

const SQLITE_PRAGMAS: [&str; 5] = [
    "PRAGMA journal_mode = WAL",
    // A deleted row's bytes are overwritten, not left in a free page: a patron's erasure and
    // the retention remove what they remove from the file itself.
    "PRAGMA secure_delete = ON",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 5000",
];

impl Db {
    /// Connects (creating an SQLite file when missing) and migrates the schema.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            let sep = if path.contains('?') { '&' } else { '?' };
            let mode = if path.contains("mode=") {
                String::new()
            } else {
                format!("{sep}mode=rwc")
            };
            (Backend::Sqlite, format!("sqlite://{path}{mode}"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(DbError::Url(redact_url(url)));
        };
        let sqlite = backend == Backend::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 8 })
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, backend })
    }

    /// Which database it is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for the console's other parts.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that writes, holding the console's one writer lock from its first
    /// statement. Every transaction that reads before it writes (the newest version, then
    /// the next) must begin here.
    ///
    /// SQLite's plain `BEGIN` reads under a shared lock and upgrades at the first write; when
    /// another connection wrote meanwhile the upgrade fails at once with "database is locked"
    /// (the busy timeout does not wait for it), and a librarian's click got a 503. `BEGIN
    /// IMMEDIATE` takes the write lock first, waiting up to the busy timeout. PostgreSQL
    /// takes a transaction-scoped advisory lock, so two versions read at the same moment are
    /// never both made the next one.
    pub async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, DbError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock(7391001)")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// Refuses a certificate from now on (by its SHA-256); whether it was not refused before.
    pub async fn revoke(
        &self,
        cert_sha256: &str,
        device_id: &str,
        reason: &str,
        now_ms: i64,
    ) -> Result<bool, DbError> {
        let r = sqlx::query(
            "INSERT INTO revoked_certs (cert_sha256, device_id, revoked_at, reason) VALUES ($1, $2, $3, $4) ON CONFLICT (cert_sha256) DO NOTHING",
        )
        .bind(cert_sha256)
        .bind(device_id)
        .bind(now_ms)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Stores a device's batch in one transaction and says what it stored: every record it
    /// holds now (a replayed one again, counted as a duplicate), and the records refused for
    /// good. The alarms its new records raise or clear are in the same transaction. A revoked
    /// certificate stores nothing.
    pub async fn store_batch(
        &self,
        device: &DeviceCert,
        batch: &Batch,
        now_ms: i64,
        alarms: &Alarms,
    ) -> Result<Stored, DbError> {
        if self.is_revoked(&device.sha256).await? {
            return Err(DbError::Revoked {
                device: device.device_id.clone(),
            });
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO devices (device_id, institution, branch, role, name, software, cert_sha256, cert_not_after, first_seen, last_seen, clock_skew_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (device_id) DO UPDATE SET institution = excluded.institution, branch = excluded.branch, role = excluded.role, name = excluded.name, software = excluded.software, cert_sha256 = excluded.cert_sha256, cert_not_after = excluded.cert_not_after, last_seen = excluded.last_seen, clock_skew_ms = excluded.clock_skew_ms",
        )
        .bind(&device.device_id)
        .bind(&device.institution)
        .bind(&device.branch)
        .bind(batch.role.as_str())
        .bind(batch.name.as_deref())
        .bind(&batch.software)
        .bind(&device.sha256)
        .bind(device.not_after_ms)
        .bind(now_ms)
        .bind(now_ms)
        .bind(now_ms.saturating_sub(batch.sent_at))
        .execute(&mut *tx)
        .await?;
        let mut ack = Ack {
            v: report::VERSION,
            ..Ack::default()
        };
        let mut raised = 0;
        let about = About {
            device_id: &device.device_id,
            branch: &device.branch,
        };
        // Heard from: a silence is over.
        crate::alarms::clear(&mut tx, &device.device_id, Rule::Silent, now_ms).await?;
        for r in &batch.records {
            if let Err(why) = r.check() {
                ack.rejected.push(Rejected { seq: r.seq, why });
                continue;
            }
            let stored = match &r.body {
                Body::Event { event } => sqlx::query(
                    "INSERT INTO events (device_id, event_id, seq, at, received_at, kind, code, card, source, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (device_id, event_id) DO NOTHING",
                )
                .bind(&device.device_id)
                .bind(&r.id)
                .bind(r.seq as i64)
                .bind(r.at)
                .bind(now_ms)
                .bind(&event.kind)
                .bind(event.code.as_deref())
                .bind(event.card.as_deref())
                .bind(event.source.as_deref())
                .bind(event.detail.as_deref())
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                Body::Status { gauges } => {
                    let json = serde_json::to_string(gauges).unwrap_or_else(|_| "{}".into());
                    // History keeps a snapshot every HISTORY_EVERY_MS, and every one whose
                    // problems differ from the device's latest: a device reporting every 15 s
                    // would otherwise add two million rows a year. The latest is always kept.
                    let before = sqlx::query(
                        "SELECT gauges, last_status_at, (SELECT MAX(at) FROM status_history WHERE device_id = $1) AS kept_at FROM devices WHERE device_id = $2",
                    )
                    .bind(&device.device_id)
                    .bind(&device.device_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let (latest, latest_at, kept_at): (Option<String>, Option<i64>, Option<i64>) =
                        match &before {
                            Some(row) => (
                                row.try_get("gauges")?,
                                row.try_get("last_status_at")?,
                                row.try_get("kept_at")?,
                            ),
                            None => (None, None, None),
                        };
                    // A snapshot older than the latest (a replay, or one overtaken) adds nothing.
                    let keep = match (kept_at, latest_at) {
                        (None, _) => true,
                        (Some(_), Some(l)) if r.at <= l => false,
                        (Some(k), _) => {
                            r.at - k >= HISTORY_EVERY_MS
                                || problem_gauges_differ(latest.as_deref(), gauges)
                        }
                    };
                    let n = if keep {
                        sqlx::query(
                            "INSERT INTO status_history (device_id, record_id, at, received_at, gauges) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id, record_id) DO NOTHING",
                        )
                        .bind(&device.device_id)
                        .bind(&r.id)
                        .bind(r.at)
                        .bind(now_ms)
                        .bind(&json)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected()
                    } else {
                        // Not kept in history: acknowledged all the same; a duplicate only when
                        // this very record was kept before.
                        let seen = sqlx::query(
                            "SELECT record_id FROM status_history WHERE device_id = $1 AND record_id = $2",
                        )
                        .bind(&device.device_id)
                        .bind(&r.id)
                        .fetch_optional(&mut *tx)
                        .await?;
                        u64::from(seen.is_none())
                    };
                    // Only a snapshot newer than the latest speaks for the device's state now:
                    // an old or replayed one neither raises nor clears.
                    let newest = latest_at.is_none_or(|l| r.at > l);
                    if n == 1 && newest {
                        match rules::paper_out(gauges) {
                            Some(true) => {
                                let up = crate::alarms::raise(
                                    &mut tx, alarms, &about, Rule::PaperOut, &r.id, None, r.at, now_ms,
                                )
                                .await?;
                                raised += usize::from(up);
                            }
                            Some(false) => {
                                crate::alarms::clear(&mut tx, &device.device_id, Rule::PaperOut, r.at)
                                    .await?;
                            }
                            None => {}
                        }
                        // The latest snapshot, whatever order snapshots arrive in.
                        sqlx::query(
                            "UPDATE devices SET gauges = $1, last_status_at = $2 \
                             WHERE device_id = $3 AND (last_status_at IS NULL OR last_status_at <= $4)",
                        )
                        .bind(&json)
                        .bind(r.at)
                        .bind(&device.device_id)
                        .bind(r.at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    n
                }
            };
            if stored == 0 {
                ack.duplicates += 1;
            } else if let Body::Event { event } = &r.body {
                // Only a newly stored event raises: a replayed one raised its alarm before.
                let code = event.code.as_deref();
                if let Some(rule) = rules::raised_by(&event.kind, code) {
                    let detail = event.detail.as_deref();
                    if crate::alarms::raise(
                        &mut tx, alarms, &about, rule, &r.id, detail, r.at, now_ms,
                    )
                    .await?
                    {
                        raised += 1;
                    }
                }
                for rule in rules::cleared_by(&event.kind, code) {
                    crate::alarms::clear(&mut tx, &device.device_id, *rule, r.at).await?;
                }
            }
            ack.acked.push(r.seq);
        }
        tx.commit().await?;
        Ok(Stored { ack, raised })
    }

    /// Whether a certificate is revoked.
    pub async fn is_revoked(&self, cert_sha256: &str) -> Result<bool, DbError> {
        Ok(
            sqlx::query("SELECT device_id FROM revoked_certs WHERE cert_sha256 = $1")
                .bind(cert_sha256)
                .fetch_optional(&self.pool)
                .await?
                .is_some(),
        )
    }

    /// How many events a device has stored.
    pub async fn event_count(&self, device_id: &str) -> Result<i64, DbError> {
        let row =
            sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events WHERE device_id = $1")
                .bind(device_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get("n")?)
    }

    /// Every device the console knows, by id.
    pub async fn devices(&self) -> Result<Vec<DeviceRow>, DbError> {
        let rows = sqlx::query(
            "SELECT device_id, institution, branch, role, name, software, last_seen, clock_skew_ms, last_status_at, gauges FROM devices ORDER BY device_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device_row).collect()
    }

    /// A device as the console knows it.
    pub async fn device(&self, device_id: &str) -> Result<Option<DeviceRow>, DbError> {
        let row = sqlx::query(
            "SELECT device_id, institution, branch, role, name, software, last_seen, clock_skew_ms, last_status_at, gauges FROM devices WHERE device_id = $1",
        )
        .bind(device_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(device_row).transpose()
    }
}

fn device_row(r: &sqlx::any::AnyRow) -> Result<DeviceRow, DbError> {
    Ok(DeviceRow {
        device_id: r.try_get("device_id")?,
        institution: r.try_get("institution")?,
        branch: r.try_get("branch")?,
        role: r.try_get("role")?,
        name: r.try_get("name")?,
        software: r.try_get("software")?,
        last_seen: r.try_get("last_seen")?,
        clock_skew_ms: r.try_get("clock_skew_ms")?,
        last_status_at: r.try_get("last_status_at")?,
        gauges: r.try_get("gauges")?,
    })
}

/// A status snapshot is kept in history at most this often (ms), unless its problems changed.
pub const HISTORY_EVERY_MS: i64 = 5 * 60_000;

/// The gauges whose change is kept in history at once (what the fleet page calls a problem).
const PROBLEM_GAUGES: [&str; 7] = [
    "omatoimi_up",
    "omatoimi_online",
    "omatoimi_printer_paper_out",
    "omatoimi_queue_conflicts",
    "omatoimi_selftest_ok",
    "omatoimi_rfid_pad_ok",
    "omatoimi_door_task_alive",
];

fn problem_gauges_differ(
    latest: Option<&str>,
    now: &std::collections::BTreeMap<String, f64>,
) -> bool {
    let Some(latest) = latest
        .and_then(|l| serde_json::from_str::<std::collections::BTreeMap<String, f64>>(l).ok())
    else {
        return true;
    };
    PROBLEM_GAUGES.iter().any(|g| latest.get(*g) != now.get(*g))
}

impl Db {
    /// Deletes what is older than the retention allows: status history after `status_days`,
    /// events and acknowledged alarms (with their deliveries) after `events_days`, ended
    /// sessions, audit lines after two years. Rows deleted.
    pub async fn prune(
        &self,
        now_ms: i64,
        status_days: u32,
        events_days: u32,
    ) -> Result<u64, DbError> {
        let day = 86_400_000i64;
        let status_before = now_ms - i64::from(status_days) * day;
        let events_before = now_ms - i64::from(events_days) * day;
        let mut n = 0;
        n += sqlx::query("DELETE FROM status_history WHERE at < $1")
            .bind(status_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM events WHERE at < $1")
            .bind(events_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        n += sqlx::query(
            "DELETE FROM deliveries WHERE alarm_id IN (SELECT alarm_id FROM alarms WHERE raised_at < $1 AND acked_at IS NOT NULL)",
        )
        .bind(events_before)
        .execute(&self.pool)
        .await?
        .rows_affected();
        n += sqlx::query("DELETE FROM alarms WHERE raised_at < $1 AND acked_at IS NOT NULL")
            .bind(events_before)
            .execute(&self.pool)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM sessions WHERE last_seen < $1")
            .bind(now_ms - day)
            .execute(&self.pool)
            .await?
            .rows_affected();
        n += sqlx::query("DELETE FROM audit WHERE at < $1")
            .bind(now_ms - 730 * day)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n)
    }
}

/// What a batch stored.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The answer to the device.
    pub ack: Ack,
    /// Alarms its records raised.
    pub raised: usize,
}

/// A device's row.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRow {
    /// From its certificate's CN.
    pub device_id: String,
    /// O.
    pub institution: String,
    /// OU.
    pub branch: String,
    /// `door` or `kiosk`.
    pub role: String,
    /// Its own name for itself.
    pub name: Option<String>,
    /// Its software's version.
    pub software: Option<String>,
    /// When it last reported (the console's clock, Unix ms).
    pub last_seen: i64,
    /// The console's clock minus the device's.
    pub clock_skew_ms: Option<i64>,
    /// When its latest status was taken.
    pub last_status_at: Option<i64>,
    /// Its latest gauges (JSON).
    pub gauges: Option<String>,
}

impl DeviceRow {
    /// Its latest gauges by name (none when it has reported none, or they do not read).
    pub fn gauge_map(&self) -> std::collections::BTreeMap<String, f64> {
        self.gauges
            .as_deref()
            .and_then(|g| serde_json::from_str(g).ok())
            .unwrap_or_default()
    }
}

/// A URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:…{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
