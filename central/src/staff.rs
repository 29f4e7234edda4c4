//! Staff accounts, their sessions and the audit log.
//!
//! Passwords are kept as argon2id PHC strings (OWASP's parameters: 19 MiB, 2 passes), checked
//! off the async threads. Five wrong passwords in a row lock an account for 15 minutes (a right
//! one is refused meanwhile); an unknown user name costs the same time as a known one, and the
//! audit log records it as "(unknown)", not what was typed (often a password in the wrong
//! field). A session is a random 256-bit token in a `Secure; HttpOnly; SameSite=Strict` cookie;
//! the database keeps its SHA-256 only, with a CSRF token of its own that every form carries.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::db::{Db, DbError};

/// Wrong passwords in a row that lock an account.
pub const MAX_FAILED: i64 = 5;
/// How long a locked account refuses (ms).
pub const LOCK_MS: i64 = 15 * 60_000;
/// A session's use is recorded at most this often (ms); the idle timeout is that much coarser.
const SEEN_EVERY_MS: i64 = 60_000;
/// The shortest password `staff add` takes.
pub const MIN_PASSWORD: usize = 10;

/// What a staff member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, the audit log included.
    Admin,
    /// The library's staff: the fleet, devices, alarms.
    Staff,
    /// Installs and mends devices: the fleet, devices (their gauges), alarms.
    Technician,
}

impl Role {
    /// Its name.
    pub fn code(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Staff => "staff",
            Self::Technician => "technician",
        }
    }

    /// The role of this name.
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::Admin, Self::Staff, Self::Technician]
            .into_iter()
            .find(|r| r.code() == code)
    }

    /// May read the audit log.
    pub fn reads_audit(self) -> bool {
        self == Self::Admin
    }

    /// May see the door's keyed card pseudonyms (to match events of one card in an incident).
    pub fn sees_card_pseudonyms(self) -> bool {
        self == Self::Admin
    }

    /// May see a device's raw gauges.
    pub fn sees_gauges(self) -> bool {
        matches!(self, Self::Admin | Self::Technician)
    }
}

/// A signed-in staff member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User name.
    pub username: String,
    /// Role.
    pub role: Role,
}

/// A session as the browser holds it.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// For the cookie.
    pub token: String,
    /// Who.
    pub account: Account,
}

/// A session found from its cookie.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub account: Account,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The cookie's token's hash (to end it).
    pub token_sha256: String,
}

/// Why a sign-in failed.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong user name or password (which, not said).
    #[error("wrong user name or password")]
    Wrong,
    /// Too many wrong passwords.
    #[error("account locked after wrong passwords")]
    Locked,
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Why an account could not be made.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Too short.
    #[error("a password is at least {MIN_PASSWORD} characters")]
    ShortPassword,
    /// A user name of letters, digits, '.', '-', '_' and '@' only, 1–64 characters.
    #[error("a user name is 1–64 letters, digits, '.', '-', '_' or '@'")]
    BadName,
    /// Hashing.
    #[error("argon2: {0}")]
    Hash(String),
    /// The database.
    #[error(transparent)]
    Db(#[from] DbError),
}

fn argon2() -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(19 * 1024, 2, 1, Some(32)).unwrap_or_default(),
    )
}

/// The argon2id PHC string of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A new random password: 16 characters of an alphabet without look-alikes (about 90 bits).
pub fn make_password() -> Result<String, getrandom::Error> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";
    let mut out = String::new();
    while out.len() < 16 {
        let mut b = [0u8; 32];
        getrandom::getrandom(&mut b)?;
        // Rejection sampling: no letter is likelier than another.
        let limit = 256 - 256 % ALPHABET.len();
        for x in b {
            if (x as usize) < limit && out.len() < 16 {
                out.push(ALPHABET[x as usize % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// Makes an account, or sets a new password and role for one; the audit log records it.
pub async fn set_account(
    db: &Db,
    username: &str,
    role: Role,
    password: &str,
    by: &str,
    now_ms: i64,
) -> Result<(), AccountError> {
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
    {
        return Err(AccountError::BadName);
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccountError::ShortPassword);
    }
    let pw = password.to_owned();
    let phc = tokio::task::spawn_blocking(move || hash_password(&pw))
        .await
        .map_err(|e| AccountError::Hash(e.to_string()))?
        .map_err(AccountError::Hash)?;
    // The account, the end of its sessions and the audit line together, or none of them.
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO staff (username, role, password_hash, created_at, failed_logins, locked_until, disabled) VALUES ($1, $2, $3, $4, 0, NULL, 0) \
         ON CONFLICT (username) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash, failed_logins = 0, locked_until = NULL, disabled = 0",
    )
    .bind(username)
    .bind(role.code())
    .bind(&phc)
    .bind(now_ms)
    .execute(&mut *tx)
    .await
    .map_err(DbError::from)?;
    // A new password ends every session of the account.
    sqlx::query("DELETE FROM sessions WHERE username = $1")
        .bind(username)
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?;
    sqlx::query(
        "INSERT INTO audit (audit_id, at, username, action, target, detail, peer) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
    )
    .bind(crate::alarms::random_id())
    .bind(now_ms)
    .bind(by)
    .bind("account-set")
    .bind(username)
    .bind(role.code())
    .execute(&mut *tx)
    .await
    .map_err(DbError::from)?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(())
}

/// At most this many argon2 checks at once (19 MiB each): sign-ins beyond wait their turn.
const CHECKS_AT_ONCE: usize = 4;

/// Checks `password` against `phc` off the async threads, a few at a time.
async fn check_password(password: &str, phc: &str) -> bool {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let turns = TURNS.get_or_init(|| tokio::sync::Semaphore::new(CHECKS_AT_ONCE));
    let Ok(_turn) = turns.acquire().await else {
        return false;
    };
    let (pw, phc) = (password.to_owned(), phc.to_owned());
    tokio::task::spawn_blocking(move || verify_password(&pw, &phc))
        .await
        .unwrap_or(false)
}

/// Counts a wrong try at a name no account has (in memory, by the name's hash); whether the
/// name is now locked, as an account would be.
fn unknown_name_failed(username: &str, now_ms: i64) -> bool {
    type Tries = std::collections::HashMap<String, (i64, i64)>;
    static TRIES: std::sync::Mutex<Option<Tries>> = std::sync::Mutex::new(None);
    let Ok(mut guard) = TRIES.lock() else {
        return false;
    };
    let tries = guard.get_or_insert_with(Default::default);
    if tries.len() > 10_000 {
        tries.retain(|_, (_, until)| *until > now_ms);
        if tries.len() > 10_000 {
            tries.clear();
        }
    }
    let entry = tries.entry(sha256_hex(username)).or_insert((0, 0));
    if entry.1 > now_ms {
        return true;
    }
    entry.0 += 1;
    if entry.0 >= MAX_FAILED {
        *entry = (0, now_ms + LOCK_MS);
        return true;
    }
    false
}

/// A PHC string no password matches, checked for unknown users so they cost the same time.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$4mTf3q8pZ0pO3hYxRkVZSKVhL4ZgZrQ1o8kUYkq2YbE";

/// Checks a user name and password; a session when right.
pub async fn sign_in(
    db: &Db,
    username: &str,
    password: &str,
    now_ms: i64,
    peer: &str,
) -> Result<NewSession, SignInError> {
    let row = sqlx::query(
        "SELECT role, password_hash, locked_until, disabled FROM staff WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(db.pool())
    .await
    .map_err(DbError::from)?;
    let Some(row) = row else {
        // An unknown name costs the same argon2 run, and is locked after as many tries as a
        // real one (in memory), so neither the words nor the time tell which names exist.
        let _ = check_password(password, DUMMY).await;
        let locked = unknown_name_failed(username, now_ms);
        audit(
            db,
            now_ms,
            "(unknown)",
            "sign-in-refused",
            None,
            Some("unknown user"),
            Some(peer),
        )
        .await?;
        return Err(if locked {
            SignInError::Locked
        } else {
            SignInError::Wrong
        });
    };
    let phc: String = row.try_get("password_hash").map_err(DbError::from)?;
    let role: String = row.try_get("role").map_err(DbError::from)?;
    let disabled: i64 = row.try_get("disabled").map_err(DbError::from)?;
    let locked = |until: Option<i64>| until.is_some_and(|t| t > now_ms);
    if locked(row.try_get("locked_until").map_err(DbError::from)?) {
        audit(
            db,
            now_ms,
            username,
            "sign-in-refused",
            None,
            Some("locked"),
            Some(peer),
        )
        .await?;
        return Err(SignInError::Locked);
    }
    let right = check_password(password, &phc).await;
    let role = Role::from_code(&role).filter(|_| disabled == 0);
    let (true, Some(role)) = (right, role) else {
        // Counted in one statement each, so guesses sent at once are each counted.
        let failed: i64 = sqlx::query(
            "UPDATE staff SET failed_logins = failed_logins + 1 WHERE username = $1 RETURNING failed_logins",
        )
        .bind(username)
        .fetch_one(db.pool())
        .await
        .map_err(DbError::from)?
        .try_get(0)
        .map_err(DbError::from)?;
        let lock = failed >= MAX_FAILED;
        if lock {
            sqlx::query(
                "UPDATE staff SET failed_logins = 0, locked_until = $1 WHERE username = $2 AND failed_logins >= $3",
            )
            .bind(now_ms + LOCK_MS)
            .bind(username)
            .bind(MAX_FAILED)
            .execute(db.pool())
            .await
            .map_err(DbError::from)?;
        }
        let detail = if lock {
            "wrong password; account locked for 15 minutes"
        } else {
            "wrong password"
        };
        audit(
            db,
            now_ms,
            username,
            "sign-in-refused",
            None,
            Some(detail),
            Some(peer),
        )
        .await?;
        return Err(if lock {
            SignInError::Locked
        } else {
            SignInError::Wrong
        });
    };
    // Right, but the account may have been locked by guesses checked meanwhile.
    let until: Option<i64> = sqlx::query("SELECT locked_until FROM staff WHERE username = $1")
        .bind(username)
        .fetch_one(db.pool())
        .await
        .map_err(DbError::from)?
        .try_get(0)
        .map_err(DbError::from)?;
    if locked(until) {
        audit(
            db,
            now_ms,
            username,
            "sign-in-refused",
            None,
            Some("locked"),
            Some(peer),
        )
        .await?;
        return Err(SignInError::Locked);
    }
    sqlx::query("UPDATE staff SET failed_logins = 0, locked_until = NULL WHERE username = $1")
        .bind(username)
        .execute(db.pool())
        .await
        .map_err(DbError::from)?;
    let token = crate::alarms::random_id() + &crate::alarms::random_id();
    let csrf = crate::alarms::random_id() + &crate::alarms::random_id();
    sqlx::query(
        "INSERT INTO sessions (token_sha256, username, csrf, created_at, last_seen) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(&token))
    .bind(username)
    .bind(&csrf)
    .bind(now_ms)
    .bind(now_ms)
    .execute(db.pool())
    .await
    .map_err(DbError::from)?;
    audit(db, now_ms, username, "sign-in", None, None, Some(peer)).await?;
    Ok(NewSession {
        token,
        account: Account {
            username: username.to_owned(),
            role,
        },
    })
}

/// The session of a cookie's token, when it is live (not idle past `idle_ms`, not older than
/// `max_ms`, its account not disabled; a lockout stops new sign-ins, not a session already
/// signed in, so guessing cannot sign a staff member out); marks it used.
pub async fn session(
    db: &Db,
    token: &str,
    now_ms: i64,
    idle_ms: i64,
    max_ms: i64,
) -> Result<Option<Session>, DbError> {
    let hash = sha256_hex(token);
    let row = sqlx::query(
        "SELECT s.username, s.csrf, s.created_at, s.last_seen, t.role, t.disabled FROM sessions s JOIN staff t ON t.username = s.username WHERE s.token_sha256 = $1",
    )
    .bind(&hash)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let created: i64 = row.try_get("created_at")?;
    let last: i64 = row.try_get("last_seen")?;
    let disabled: i64 = row.try_get("disabled")?;
    let role = Role::from_code(&row.try_get::<String, _>("role")?);
    let (Some(role), 0) = (role, disabled) else {
        return Ok(None);
    };
    if now_ms - last > idle_ms || now_ms - created > max_ms {
        sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
            .bind(&hash)
            .execute(db.pool())
            .await?;
        return Ok(None);
    }
    // Marked used at most once a minute: not a database write for every page.
    if now_ms - last >= SEEN_EVERY_MS {
        sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_sha256 = $2")
            .bind(now_ms)
            .bind(&hash)
            .execute(db.pool())
            .await?;
    }
    Ok(Some(Session {
        account: Account {
            username: row.try_get("username")?,
            role,
        },
        csrf: row.try_get("csrf")?,
        token_sha256: hash,
    }))
}

/// Ends a session.
pub async fn sign_out(db: &Db, s: &Session, now_ms: i64, peer: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
        .bind(&s.token_sha256)
        .execute(db.pool())
        .await?;
    audit(
        db,
        now_ms,
        &s.account.username,
        "sign-out",
        None,
        None,
        Some(peer),
    )
    .await
}

/// Records a staff action.
pub async fn audit(
    db: &Db,
    now_ms: i64,
    username: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
    peer: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO audit (audit_id, at, username, action, target, detail, peer) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(crate::alarms::random_id())
    .bind(now_ms)
    .bind(username)
    .bind(action)
    .bind(target)
    .bind(detail)
    .bind(peer)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// One line of the audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// When.
    pub at: i64,
    /// Who.
    pub username: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: Option<String>,
    /// More.
    pub detail: Option<String>,
    /// From where.
    pub peer: Option<String>,
}

/// The newest `limit` lines.
pub async fn audit_log(db: &Db, limit: i64) -> Result<Vec<AuditRow>, DbError> {
    let rows = sqlx::query(
        "SELECT at, username, action, target, detail, peer FROM audit ORDER BY at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                at: r.try_get("at")?,
                username: r.try_get("username")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                detail: r.try_get("detail")?,
                peer: r.try_get("peer")?,
            })
        })
        .collect()
}

/// SHA-256 as lowercase hex.
pub fn sha256_hex(s: &str) -> String {
    crate::hex(&Sha256::digest(s.as_bytes()))
}

/// Equal in time whatever the inputs' contents (for tokens).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_password_hash_checks_its_password_only() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batter", &h));
        assert!(!verify_password("anything", DUMMY));
        assert!(PasswordHash::new(DUMMY).is_ok());
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
