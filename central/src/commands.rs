//! Commands from staff to one device: unlock a door for N minutes, lock a branch's door down or
//! end it, end self-service now. Each is signed with the console's policy key into an envelope
//! (`allowlist::envelope`, purpose command) whose scope is the device's certificate (SHA-256),
//! fresh for [`FRESH_SECS`] seconds, with a version that only grows. The device holds a request
//! open to the console (`GET /v1/commands`) and gets it at once; it answers with the outcome
//! (`POST /v1/commands/outcome`). Every command is audited with the staff member who sent it.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use allowlist::envelope::{self, Purpose};
use report::command::{DeviceCommand, Order, Outcome};
use sqlx::Row;
use tokio::sync::Notify;

use crate::db::{Db, DbError};
use crate::policy::Publisher;

/// The devices' held requests for commands, each woken only by a command for its own device
/// (one `Notify` for the fleet would have every held request look in the database at each
/// staff click).
#[derive(Debug, Default)]
pub struct Waiting {
    devices: std::sync::Mutex<HashMap<String, Weak<Notify>>>,
}

impl Waiting {
    /// What a request from `device_id` waits on (shared by its requests, gone with the last).
    pub fn register(&self, device_id: &str) -> Arc<Notify> {
        let mut m = self
            .devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get(device_id).and_then(Weak::upgrade) {
            return n;
        }
        m.retain(|_, w| w.strong_count() > 0);
        let n = Arc::new(Notify::new());
        m.insert(device_id.to_owned(), Arc::downgrade(&n));
        n
    }

    /// A command for `device_id` was queued.
    pub fn wake(&self, device_id: &str) {
        let n = self
            .devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(device_id)
            .and_then(Weak::upgrade);
        if let Some(n) = n {
            n.notify_waiters();
        }
    }

    /// How many devices hold a request now.
    pub fn held(&self) -> usize {
        self.devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }
}

/// How long a command may wait to be carried out before the device must refuse it.
pub const FRESH_SECS: i64 = 30;

/// How long a patron's export or erasure waits for a device that is away (switched off for the
/// summer, its network down): it is carried out whenever the device is back within this.
pub const PATRON_SECS: i64 = 30 * 86_400;

/// How long `order` stays valid.
pub fn lifetime(order: &Order) -> i64 {
    if order.cards().is_empty() {
        FRESH_SECS
    } else {
        PATRON_SECS
    }
}

/// A command as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRow {
    /// Its id.
    pub id: String,
    /// What was ordered (`unlock`, `lockdown`, …).
    pub order: String,
    /// For an unlock.
    pub minutes: Option<i64>,
    /// When and by whom.
    pub created_at: i64,
    /// Who sent it.
    pub created_by: String,
    /// When the device took it.
    pub delivered_at: Option<i64>,
    /// `done`, `refused`; none yet.
    pub outcome: Option<String>,
    /// The device's words.
    pub detail: Option<String>,
    /// When it stops being valid.
    pub expires_at: i64,
}

/// Signs `order` for `device_id` (its certificate as the console last saw it) and queues it;
/// its id. `None` when the console does not know the device.
pub async fn issue(
    db: &Db,
    publisher: &Publisher,
    device_id: &str,
    order: Order,
    by: &str,
    now_ms: i64,
) -> Result<Option<String>, DbError> {
    let mut tx = db.begin_write().await?;
    let Some(row) = sqlx::query("SELECT cert_sha256 FROM devices WHERE device_id = $1")
        .bind(device_id)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let cert: String = row.try_get("cert_sha256")?;
    let newest: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM commands")
        .fetch_one(&mut *tx)
        .await?
        .try_get("v")?;
    let version = newest.map_or(now_ms, |v| v.saturating_add(1).max(now_ms));
    let mut raw = [0u8; 16];
    getrandom::getrandom(&mut raw).map_err(|e| DbError::Invalid(format!("randomness: {e}")))?;
    let id = crate::hex(&raw);
    let (code, life) = (order.code(), lifetime(&order));
    let minutes = match order {
        Order::Unlock { minutes } => Some(i64::from(minutes)),
        _ => None,
    };
    let body = serde_json::to_vec(&DeviceCommand {
        id: id.clone(),
        order,
    })
    .map_err(|e| DbError::Invalid(e.to_string()))?;
    let issued = now_ms / 1000;
    let bytes = publisher.seal(
        Purpose::Command,
        version as u64,
        issued,
        issued + life,
        vec![cert],
        &body,
    );
    sqlx::query(
        "INSERT INTO commands (command_id, device_id, version, order_code, minutes, created_at, expires_at, created_by, envelope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(device_id)
    .bind(version)
    .bind(code)
    .bind(minutes)
    .bind(now_ms)
    .bind((issued + life) * 1000)
    .bind(by)
    .bind(crate::hex(&bytes))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// The oldest command for `device_id` not yet taken and still fresh, marked taken: its envelope.
pub async fn take_next(db: &Db, device_id: &str, now_ms: i64) -> Result<Option<Vec<u8>>, DbError> {
    let row = sqlx::query(
        "SELECT command_id, envelope FROM commands WHERE device_id = $1 AND delivered_at IS NULL AND expires_at > $2 ORDER BY version LIMIT 1",
    )
    .bind(device_id)
    .bind(now_ms)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get("command_id")?;
    let taken = sqlx::query(
        "UPDATE commands SET delivered_at = $1 WHERE command_id = $2 AND delivered_at IS NULL",
    )
    .bind(now_ms)
    .bind(&id)
    .execute(db.pool())
    .await?
    .rows_affected();
    if taken == 0 {
        // Another of the device's requests took it meanwhile.
        return Ok(None);
    }
    let hex: String = row.try_get("envelope")?;
    allowlist::unhex(&hex)
        .map(Some)
        .ok_or_else(|| DbError::Invalid("a stored command is not hex".into()))
}

/// Records the device's answer (only its own commands, only once).
pub async fn record_outcome(
    db: &Db,
    device_id: &str,
    o: &Outcome,
    now_ms: i64,
) -> Result<bool, DbError> {
    let outcome: String = o.outcome.chars().take(40).collect();
    // Words for staff, except a patron's export: what the device holds about the card.
    Ok(sqlx::query(
        "UPDATE commands SET outcome = $1, outcome_at = $2, \
         detail = CASE WHEN order_code = 'patron-export' THEN $3 ELSE substr($3, 1, 2000) END \
         WHERE command_id = $4 AND device_id = $5 AND outcome IS NULL",
    )
    .bind(outcome)
    .bind(now_ms)
    .bind(o.detail.as_deref())
    .bind(&o.id)
    .bind(device_id)
    .execute(db.pool())
    .await?
    .rows_affected()
        == 1)
}

/// A device's newest commands.
pub async fn recent(db: &Db, device_id: &str, limit: i64) -> Result<Vec<CommandRow>, DbError> {
    let rows = sqlx::query(
        "SELECT command_id, order_code, minutes, created_at, created_by, delivered_at, outcome, detail, expires_at FROM commands WHERE device_id = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(device_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CommandRow {
                id: r.try_get("command_id")?,
                order: r.try_get("order_code")?,
                minutes: r.try_get("minutes")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                delivered_at: r.try_get("delivered_at")?,
                outcome: r.try_get("outcome")?,
                detail: r.try_get("detail")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}

impl Publisher {
    /// Seals `body` for `purpose` with the console's key.
    pub fn seal(
        &self,
        purpose: Purpose,
        version: u64,
        issued_at: i64,
        expires_at: i64,
        scope: Vec<String>,
        body: &[u8],
    ) -> Vec<u8> {
        envelope::seal(
            purpose,
            version,
            issued_at,
            expires_at,
            scope,
            body,
            &[self.key()],
        )
    }
}

#[cfg(test)]
mod waiting_tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_command_wakes_only_its_own_devices_held_requests() {
        let w = Waiting::default();
        let (a, a2, b) = (w.register("a"), w.register("a"), w.register("b"));
        assert!(Arc::ptr_eq(&a, &a2));
        assert_eq!(w.held(), 2);
        {
            let (fa, fb) = (a.notified(), b.notified());
            tokio::pin!(fa, fb);
            fa.as_mut().enable();
            fb.as_mut().enable();
            w.wake("a");
            w.wake("nobody");
            tokio::time::timeout(Duration::from_secs(1), fa)
                .await
                .unwrap();
            assert!(
                tokio::time::timeout(Duration::from_millis(50), fb)
                    .await
                    .is_err(),
                "b was woken by a's command"
            );
        }
        // Gone with the last request.
        drop((a, a2));
        assert_eq!(w.held(), 1);
        let _c = w.register("c");
        assert_eq!(w.devices.lock().unwrap().len(), 2);
    }
}
