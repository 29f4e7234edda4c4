//! The network half of both daemons' `selftest`: the library system (TLS handshake, the
//! device's login, one round trip) and the offline list's freshness, as lines of the table in
//! `daemon::selftest`.

use std::time::Duration;

use config::allowlist::AllowlistSettings;
use config::registry::RegistrySettings;
use daemon::selftest::{Check, check};
use registry::{AnyRegistry, Registry};

/// The library system: any answer about an item proves TLS (with the device's certificate when
/// one is configured), the device's login and a round trip; bounded by `bound`.
pub async fn library_system(settings: Option<&RegistrySettings>, bound: Duration) -> Check {
    let Some(r) = settings else {
        return check("library system", false, "no [registry] configured");
    };
    let reg = match AnyRegistry::start(r) {
        Ok(reg) => reg,
        Err(e) => return check("library system", false, e.to_string()),
    };
    let started = std::time::Instant::now();
    match tokio::time::timeout(bound, reg.item("SELFTEST-0")).await {
        Ok(Ok(_)) => check(
            "library system",
            true,
            format!(
                "{} answers in {} ms",
                reg.kind(),
                started.elapsed().as_millis()
            ),
        ),
        Ok(Err(e)) => check("library system", false, e.to_string()),
        Err(_) => check(
            "library system",
            false,
            format!("no answer in {} s", bound.as_secs()),
        ),
    }
}

/// The library system of a running daemon, asked through `ask` (its own connection: a round
/// trip about a dummy item), bounded by `bound`; `None` when none is configured.
pub async fn answers<F>(ask: Option<F>, bound: Duration) -> Check
where
    F: Future<Output = Result<(), String>>,
{
    let Some(ask) = ask else {
        return check("library system", false, "no [registry] configured");
    };
    let started = std::time::Instant::now();
    match tokio::time::timeout(bound, ask).await {
        Ok(Ok(())) => check(
            "library system",
            true,
            format!("answers in {} ms", started.elapsed().as_millis()),
        ),
        Ok(Err(e)) => check("library system", false, e),
        Err(_) => check(
            "library system",
            false,
            format!(
                "no answer in {:.1} s: decisions come from the offline list",
                bound.as_secs_f64()
            ),
        ),
    }
}

/// The offline list held (its version and expiry), checked at `now` (Unix seconds); `none` says
/// what to do when there is none.
pub fn freshness(held: Option<(u64, i64)>, now: i64, none: &str) -> Check {
    match held {
        None => check("offline list", false, none),
        Some((version, expires_at)) if expires_at <= now => {
            check("offline list", false, format!("version {version} expired"))
        }
        Some((version, expires_at)) => check(
            "offline list",
            true,
            format!(
                "version {version}, expires in {} h",
                (expires_at - now) / 3600
            ),
        ),
    }
}

/// The offline list: fetched from the list server now (the network path a door and a kiosk use:
/// TLS, the device's certificate, the signatures), then the list in force, applied and not
/// expired at `now` (Unix seconds). On a new box this is its first list. The store is the
/// daemon's: it must be stopped.
pub async fn offline_list(settings: &AllowlistSettings, now: i64, daemon: &str) -> Check {
    let list = match crate::OfflineList::open(settings.clone()) {
        Ok(list) => list,
        Err(e) => {
            return check(
                "offline list",
                false,
                format!("{e} (is the {daemon} running? stop it first)"),
            );
        }
    };
    // No list server: lists come by hand (`offline apply`).
    let fetched = match crate::Fetcher::new(&list) {
        Err(crate::SyncError::NoUrl) => None,
        Err(e) => Some(Err(e.to_string())),
        Ok(f) => Some(
            f.sync(&list, now)
                .await
                .map(|s| s.words())
                .map_err(|e| e.to_string()),
        ),
    };
    let held = list
        .store()
        .current()
        .map(|c| (c.header.header.version, c.header.header.expires_at));
    let none = match &fetched {
        Some(Err(why)) => format!("none applied yet, and the list server: {why}"),
        _ => format!("none applied yet (start the {daemon} with the network up)"),
    };
    let mut c = freshness(held, now, &none);
    match fetched {
        // The list in force is fine, but the server could not be reached: said, and failed
        // (the next one will not come either).
        Some(Err(why)) if c.ok => {
            c.ok = false;
            c.detail = format!("{}; the list server: {why}", c.detail);
        }
        Some(Ok(words)) if c.ok => c.detail = format!("{} (fetched now: {words})", c.detail),
        _ => {}
    }
    c
}
