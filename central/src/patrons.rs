//! A patron's rights carried out from one place: an admin asks once for the export or the
//! erasure of what is held about one library card, and the console sends it to every device it
//! knows as a signed command (`patron-export`, `patron-erase`), each answered with the device's
//! confirmation; the console's own rows about the card are erased (or gathered) as well.
//!
//! The console never keeps the card number: it keys it with the library's card key (`[patrons]
//! card_key`, the consortium's key the publisher holds) into the hashes a device may know it by
//! — under the consortium's key, under the key derived for the device's branch, and under the
//! key derived for the device itself (`allowlist::CardKey::for_scope`) — and forgets the number.
//! Each device matches its own; its records carry the first half of that hash as the card's
//! pseudonym, and so do the console's events. A device's hashes are kept only until it has
//! answered "done" (to ask it again after a failure), and at most 60 days.
//!
//! A device that is away gets the command when it is back, for 30 days
//! ([`crate::commands::PATRON_SECS`]); one that failed or never answered can be asked again.

use allowlist::CardKey;
use redact::CardNumber;
use report::command::{MAX_PATRON_CARDS, Order, pseudonym};
use sqlx::Row;

use crate::db::{Backend, Db, DbError};
use crate::policy::Publisher;

/// What the console needs for a patron's rights: the library's card key, and for names in
/// "who was in" the library system's Koha REST API (`[patrons] library_system`).
#[derive(Debug, Clone)]
pub struct PatronRights {
    /// The library's (consortium's) card key.
    pub key: CardKey,
    /// Where names are fetched from, at the moment they are shown.
    pub names: Option<registry::koha::KohaRegistry>,
}

/// An export's or an erasure's answers are kept this long (the export holds personal data).
pub const KEPT_DAYS: i64 = 30;

/// A device's hashes of the card are kept at most this long, to ask it again.
pub const HASHES_DAYS: i64 = 60;

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The right of access.
    Export,
    /// The right to erasure.
    Erase,
}

impl Kind {
    /// As stored.
    pub fn code(self) -> &'static str {
        match self {
            Self::Export => "export",
            Self::Erase => "erase",
        }
    }

    fn order(self, cards: Vec<String>) -> Order {
        match self {
            Self::Export => Order::PatronExport { cards },
            Self::Erase => Order::PatronErase { cards },
        }
    }
}

/// The card's keyed hashes a device of `branch` named `device_id` (reporting as `name`) may know
/// it by: under the consortium's key, its branch's and its own; the same once.
pub fn hashes_for(
    key: &CardKey,
    card: &CardNumber,
    branch: &str,
    device_id: &str,
    name: Option<&str>,
) -> Vec<String> {
    let mut keys = vec![key.clone(), key.for_scope(branch), key.for_scope(device_id)];
    if let Some(n) = name.filter(|n| *n != device_id) {
        keys.push(key.for_scope(n));
    }
    let mut out: Vec<String> = vec![];
    for k in keys {
        let h = allowlist::hex(&k.hash(card).0);
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out.truncate(MAX_PATRON_CARDS);
    out
}

/// The card's tag on an export while it is kept: its keyed hash under a key derived for this
/// use alone, so that a later erasure finds the export (and no device's pseudonym is kept).
fn card_tag(key: &CardKey, card: &CardNumber) -> String {
    allowlist::hex(
        &key.for_scope("omatoimi console: a patron's exports")
            .hash(card)
            .0,
    )
}

/// A request as made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// Its id.
    pub request_id: String,
    /// The devices it was sent to.
    pub devices: Vec<String>,
    /// The console's own rows about the card: erased, or gathered for the export.
    pub console_rows: u64,
}

/// Who asks what, why, and when.
#[derive(Debug, Clone, Copy)]
pub struct Asking<'a> {
    /// Export or erasure.
    pub kind: Kind,
    /// The staff member.
    pub by: &'a str,
    /// Why, for the record.
    pub reason: &'a str,
    /// Now (Unix ms).
    pub now_ms: i64,
}

/// Asks every device the console knows for `kind` about `card`, and erases (or gathers) the
/// console's own rows about it. The card number is not kept.
pub async fn ask(
    db: &Db,
    publisher: &Publisher,
    key: &CardKey,
    card: &CardNumber,
    asking: Asking<'_>,
) -> Result<Asked, DbError> {
    let Asking {
        kind,
        by,
        reason,
        now_ms,
    } = asking;
    let devices = sqlx::query("SELECT device_id, branch, name FROM devices ORDER BY device_id")
        .fetch_all(db.pool())
        .await?;
    let mut raw = [0u8; 16];
    getrandom::getrandom(&mut raw).map_err(|e| DbError::Invalid(format!("randomness: {e}")))?;
    let request_id = crate::hex(&raw);
    let tag = card_tag(key, card);
    if kind == Kind::Erase {
        forget_exports(db, &tag).await?;
    }
    sqlx::query(
        "INSERT INTO patron_requests (request_id, kind, created_at, created_by, reason, card_tag) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&request_id)
    .bind(kind.code())
    .bind(now_ms)
    .bind(by)
    .bind(reason)
    .bind((kind == Kind::Export).then_some(&tag))
    .execute(db.pool())
    .await?;
    let mut all_pseudonyms: Vec<String> = vec![];
    let mut sent = vec![];
    for d in &devices {
        let device_id: String = d.try_get("device_id")?;
        let branch: String = d.try_get("branch")?;
        let name: Option<String> = d.try_get("name")?;
        let cards = hashes_for(key, card, &branch, &device_id, name.as_deref());
        for c in &cards {
            let p = pseudonym(c).to_owned();
            if !all_pseudonyms.contains(&p) {
                all_pseudonyms.push(p);
            }
        }
        let joined = cards.join(",");
        let Some(command_id) =
            crate::commands::issue(db, publisher, &device_id, kind.order(cards), by, now_ms)
                .await?
        else {
            continue;
        };
        sqlx::query(
            "INSERT INTO patron_request_devices (request_id, device_id, command_id, cards) VALUES ($1, $2, $3, $4)",
        )
        .bind(&request_id)
        .bind(&device_id)
        .bind(&command_id)
        .bind(joined)
        .execute(db.pool())
        .await?;
        sent.push(device_id);
    }
    // Every device's pseudonyms also for the console's rows, in case a device was keyed
    // differently before (a branch that moved to its own key).
    let (console_rows, export) = match kind {
        Kind::Erase => (erase_rows(db, &all_pseudonyms).await?, None),
        Kind::Export => {
            let rows = gather_rows(db, &all_pseudonyms).await?;
            (rows.len() as u64, Some(serde_json::Value::Array(rows)))
        }
    };
    sqlx::query(
        "UPDATE patron_requests SET console_rows = $1, console_export = $2 WHERE request_id = $3",
    )
    .bind(console_rows as i64)
    .bind(export.map(|e| e.to_string()))
    .bind(&request_id)
    .execute(db.pool())
    .await?;
    if kind == Kind::Erase {
        settle(db).await?;
    }
    Ok(Asked {
        request_id,
        devices: sent,
        console_rows,
    })
}

/// Earlier exports of the card (the console's rows and the devices' answers they hold) deleted:
/// an erasure leaves no copy behind in them either. They are marked `erased`, so that an
/// answer that comes later is not kept.
async fn forget_exports(db: &Db, tag: &str) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE commands SET detail = NULL WHERE order_code = 'patron-export' AND command_id IN \
         (SELECT p.command_id FROM patron_request_devices p JOIN patron_requests r ON r.request_id = p.request_id WHERE r.card_tag = $1)",
    )
    .bind(tag)
    .execute(db.pool())
    .await?;
    sqlx::query(
        "UPDATE patron_requests SET console_export = NULL, card_tag = 'erased' WHERE card_tag = $1",
    )
    .bind(tag)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The console's events about the cards of these pseudonyms, deleted; how many. On SQLite the
/// deleted bytes are overwritten (`secure_delete`, set on every connection); [`settle`] then
/// empties the write-ahead log into the file.
async fn erase_rows(db: &Db, pseudonyms: &[String]) -> Result<u64, DbError> {
    let mut n = 0;
    for p in pseudonyms {
        n += sqlx::query("DELETE FROM events WHERE card = $1")
            .bind(p)
            .execute(db.pool())
            .await?
            .rows_affected();
    }
    Ok(n)
}

/// On SQLite, the write-ahead log written into the database file and emptied, so that the
/// pages as they were before an erasure are in neither (a reader holding an old snapshot can
/// keep the log from emptying: it is tried a few times, then left to the next).
async fn settle(db: &Db) -> Result<(), DbError> {
    if db.backend() != Backend::Sqlite {
        return Ok(());
    }
    for _ in 0..20 {
        let busy: i64 = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(db.pool())
            .await?
            .try_get(0)?;
        if busy == 0 {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tracing::warn!(
        "the database's write-ahead log could not be emptied after an erasure; the next checkpoint does it"
    );
    Ok(())
}

/// The console's events about the cards of these pseudonyms, oldest first.
async fn gather_rows(db: &Db, pseudonyms: &[String]) -> Result<Vec<serde_json::Value>, DbError> {
    let mut out = vec![];
    for p in pseudonyms {
        let rows = sqlx::query(
            "SELECT e.device_id, d.branch, e.at, e.kind, e.code, e.card, e.source, e.detail FROM events e JOIN devices d ON d.device_id = e.device_id WHERE e.card = $1 ORDER BY e.at",
        )
        .bind(p)
        .fetch_all(db.pool())
        .await?;
        for r in rows {
            out.push(serde_json::json!({
                "device": r.try_get::<String, _>("device_id")?,
                "branch": r.try_get::<String, _>("branch")?,
                "at": r.try_get::<i64, _>("at")?,
                "kind": r.try_get::<String, _>("kind")?,
                "code": r.try_get::<Option<String>, _>("code")?,
                "card_pseudonym": r.try_get::<Option<String>, _>("card")?,
                "source": r.try_get::<Option<String>, _>("source")?,
                "detail": r.try_get::<Option<String>, _>("detail")?,
            }));
        }
    }
    out.sort_by_key(|v| v["at"].as_i64().unwrap_or_default());
    Ok(out)
}

/// A device answered a command: when it was a patron's and "done", its hashes of the card are
/// dropped (an erasure's also erase what reached the console meanwhile). Whether it was one.
pub async fn answered(
    db: &Db,
    device_id: &str,
    command_id: &str,
    outcome: &str,
) -> Result<bool, DbError> {
    let Some(row) = sqlx::query(
        "SELECT r.kind, p.cards FROM patron_request_devices p JOIN patron_requests r ON r.request_id = p.request_id \
         WHERE p.command_id = $1 AND p.device_id = $2",
    )
    .bind(command_id)
    .bind(device_id)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(false);
    };
    // The signed command held the hashes: it is used or refused now, and goes.
    sqlx::query("UPDATE commands SET envelope = '' WHERE command_id = $1")
        .bind(command_id)
        .execute(db.pool())
        .await?;
    if outcome != "done" {
        settle(db).await?;
        return Ok(true);
    }
    // An export the card's erasure overtook is not kept.
    sqlx::query(
        "UPDATE commands SET detail = NULL WHERE command_id = $1 AND order_code = 'patron-export' AND EXISTS \
         (SELECT 1 FROM patron_request_devices p JOIN patron_requests r ON r.request_id = p.request_id WHERE p.command_id = $1 AND r.card_tag = 'erased')",
    )
    .bind(command_id)
    .execute(db.pool())
    .await?;
    let kind: String = row.try_get("kind")?;
    let cards: Option<String> = row.try_get("cards")?;
    if kind == Kind::Erase.code()
        && let Some(cards) = &cards
    {
        let pseudonyms: Vec<String> = cards.split(',').map(|c| pseudonym(c).to_owned()).collect();
        let n = erase_rows(db, &pseudonyms).await?;
        sqlx::query(
            "UPDATE patron_requests SET console_rows = console_rows + $1 WHERE request_id = (SELECT request_id FROM patron_request_devices WHERE command_id = $2)",
        )
        .bind(n as i64)
        .bind(command_id)
        .execute(db.pool())
        .await?;
    }
    sqlx::query("UPDATE patron_request_devices SET cards = NULL WHERE command_id = $1")
        .bind(command_id)
        .execute(db.pool())
        .await?;
    settle(db).await?;
    Ok(true)
}

/// Sends a request again to one device (it failed, refused, or never answered); the new
/// command's id, or `None` when there is nothing to send (answered "done", or its hashes are
/// gone after [`HASHES_DAYS`]).
pub async fn again(
    db: &Db,
    publisher: &Publisher,
    request_id: &str,
    device_id: &str,
    by: &str,
    now_ms: i64,
) -> Result<Option<String>, DbError> {
    let Some(row) = sqlx::query(
        "SELECT r.kind, p.cards FROM patron_request_devices p JOIN patron_requests r ON r.request_id = p.request_id \
         WHERE p.request_id = $1 AND p.device_id = $2",
    )
    .bind(request_id)
    .bind(device_id)
    .fetch_optional(db.pool())
    .await?
    else {
        return Ok(None);
    };
    let kind: String = row.try_get("kind")?;
    let Some(cards) = row.try_get::<Option<String>, _>("cards")? else {
        return Ok(None);
    };
    let kind = if kind == Kind::Erase.code() {
        Kind::Erase
    } else {
        Kind::Export
    };
    let cards: Vec<String> = cards.split(',').map(str::to_owned).collect();
    let Some(command_id) =
        crate::commands::issue(db, publisher, device_id, kind.order(cards), by, now_ms).await?
    else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE patron_request_devices SET command_id = $1 WHERE request_id = $2 AND device_id = $3",
    )
    .bind(&command_id)
    .bind(request_id)
    .bind(device_id)
    .execute(db.pool())
    .await?;
    Ok(Some(command_id))
}

/// A request, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRow {
    /// Its id.
    pub id: String,
    /// `export` or `erase`.
    pub kind: String,
    /// When.
    pub created_at: i64,
    /// Who asked.
    pub created_by: String,
    /// Why.
    pub reason: String,
    /// The console's own rows erased or gathered.
    pub console_rows: i64,
    /// Devices asked.
    pub devices: i64,
    /// Devices that answered "done".
    pub done: i64,
}

/// The newest requests.
pub async fn list(db: &Db, limit: i64) -> Result<Vec<RequestRow>, DbError> {
    let rows = sqlx::query(
        "SELECT r.request_id, r.kind, r.created_at, r.created_by, r.reason, r.console_rows, \
         (SELECT COUNT(*) FROM patron_request_devices p WHERE p.request_id = r.request_id) AS devices, \
         (SELECT COUNT(*) FROM patron_request_devices p JOIN commands c ON c.command_id = p.command_id WHERE p.request_id = r.request_id AND c.outcome = 'done') AS done \
         FROM patron_requests r ORDER BY r.created_at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RequestRow {
                id: r.try_get("request_id")?,
                kind: r.try_get("kind")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                reason: r.try_get("reason")?,
                console_rows: r.try_get("console_rows")?,
                devices: r.try_get("devices")?,
                done: r.try_get("done")?,
            })
        })
        .collect()
}

/// One request.
pub async fn get(db: &Db, request_id: &str) -> Result<Option<RequestRow>, DbError> {
    Ok(list(db, i64::MAX)
        .await?
        .into_iter()
        .find(|r| r.id == request_id))
}

/// One device's part of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePart {
    /// The device.
    pub device_id: String,
    /// Its branch.
    pub branch: String,
    /// `door` or `kiosk`.
    pub role: String,
    /// The command sent last.
    pub command_id: String,
    /// When the device took it.
    pub delivered_at: Option<i64>,
    /// `done`, `failed`, `refused`; none yet.
    pub outcome: Option<String>,
    /// Its words (an export's: what it holds, as JSON).
    pub detail: Option<String>,
    /// When the command stops being valid.
    pub expires_at: i64,
    /// It can be asked again.
    pub can_ask_again: bool,
}

/// Every device's part of a request.
pub async fn parts(db: &Db, request_id: &str) -> Result<Vec<DevicePart>, DbError> {
    let rows = sqlx::query(
        "SELECT p.device_id, d.branch, d.role, p.command_id, p.cards, c.delivered_at, c.outcome, c.detail, c.expires_at \
         FROM patron_request_devices p JOIN devices d ON d.device_id = p.device_id JOIN commands c ON c.command_id = p.command_id \
         WHERE p.request_id = $1 ORDER BY d.branch, p.device_id",
    )
    .bind(request_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let outcome: Option<String> = r.try_get("outcome")?;
            Ok(DevicePart {
                device_id: r.try_get("device_id")?,
                branch: r.try_get("branch")?,
                role: r.try_get("role")?,
                command_id: r.try_get("command_id")?,
                delivered_at: r.try_get("delivered_at")?,
                can_ask_again: r.try_get::<Option<String>, _>("cards")?.is_some()
                    && outcome.as_deref() != Some("done"),
                outcome,
                detail: r.try_get("detail")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}

/// An export's document: the request, the console's own rows, and each device's answer.
pub async fn export_document(
    db: &Db,
    request_id: &str,
) -> Result<Option<serde_json::Value>, DbError> {
    let Some(r) = get(db, request_id).await? else {
        return Ok(None);
    };
    if r.kind != Kind::Export.code() {
        return Ok(None);
    }
    let console: Option<String> =
        sqlx::query("SELECT console_export FROM patron_requests WHERE request_id = $1")
            .bind(request_id)
            .fetch_one(db.pool())
            .await?
            .try_get("console_export")?;
    let devices: Vec<serde_json::Value> = parts(db, request_id)
        .await?
        .into_iter()
        .map(|p| {
            let held = match (p.outcome.as_deref(), &p.detail) {
                (Some("done"), Some(d)) => {
                    serde_json::from_str(d).unwrap_or(serde_json::Value::String(d.clone()))
                }
                _ => serde_json::Value::Null,
            };
            let done = p.outcome.as_deref() == Some("done");
            serde_json::json!({
                "device": p.device_id,
                "branch": p.branch,
                "role": p.role,
                "outcome": p.outcome.unwrap_or_else(|| "no answer yet".into()),
                "held": held,
                "why_not": if done { None } else { p.detail },
            })
        })
        .collect();
    Ok(Some(serde_json::json!({
        "what": "what the library's self-service devices and their console hold about one library card; the card appears only as keyed pseudonyms, and no name is kept by them",
        "request": r.id,
        "asked_at": r.created_at,
        "asked_by": r.created_by,
        "console": console
            .and_then(|c| serde_json::from_str::<serde_json::Value>(&c).ok())
            .unwrap_or(serde_json::Value::Null),
        "devices": devices,
    })))
}

impl Db {
    /// Forgets what a patron's requests hold past their time: exports' answers after
    /// [`KEPT_DAYS`], each device's hashes of the card after [`HASHES_DAYS`], and the signed
    /// commands that carried them once used or expired. Rows changed.
    pub async fn prune_patron_requests(&self, now_ms: i64) -> Result<u64, DbError> {
        let day = 86_400_000i64;
        let mut n = 0;
        n += sqlx::query(
            "UPDATE commands SET detail = NULL WHERE order_code = 'patron-export' AND detail IS NOT NULL AND created_at < $1",
        )
        .bind(now_ms - KEPT_DAYS * day)
        .execute(self.pool())
        .await?
        .rows_affected();
        n += sqlx::query(
            "UPDATE patron_requests SET console_export = NULL, card_tag = NULL WHERE (console_export IS NOT NULL OR card_tag IS NOT NULL) AND created_at < $1",
        )
        .bind(now_ms - KEPT_DAYS * day)
        .execute(self.pool())
        .await?
        .rows_affected();
        n += sqlx::query(
            "UPDATE patron_request_devices SET cards = NULL WHERE cards IS NOT NULL AND request_id IN (SELECT request_id FROM patron_requests WHERE created_at < $1)",
        )
        .bind(now_ms - HASHES_DAYS * day)
        .execute(self.pool())
        .await?
        .rows_affected();
        n += sqlx::query(
            "UPDATE commands SET envelope = '' WHERE order_code IN ('patron-export', 'patron-erase') AND envelope <> '' AND (outcome IS NOT NULL OR expires_at < $1)",
        )
        .bind(now_ms)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_device_is_sent_the_hashes_its_key_may_give_and_each_once() {
        let key = CardKey::new([5; 32]);
        let card = CardNumber::new("24680000000011");
        let h = hashes_for(&key, &card, "LEMI", "door-1", Some("door-1"));
        assert_eq!(h.len(), 3);
        assert_eq!(h[0], allowlist::hex(&key.hash(&card).0));
        assert_eq!(h[1], allowlist::hex(&key.for_scope("LEMI").hash(&card).0));
        assert_eq!(h[2], allowlist::hex(&key.for_scope("door-1").hash(&card).0));
        let named = hashes_for(&key, &card, "LEMI", "door-1", Some("Front door"));
        assert_eq!(named.len(), 4);
        assert!(named.len() <= MAX_PATRON_CARDS);
        // The card written another way is the same card.
        assert_eq!(
            hashes_for(
                &key,
                &CardNumber::new("2468 0000 0000 11"),
                "LEMI",
                "door-1",
                None
            ),
            h
        );
        // The number is in none of them.
        assert!(named.iter().all(|x| !x.contains("24680000000011")));
    }
}
