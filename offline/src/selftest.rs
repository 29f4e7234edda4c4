//! What both daemons' `selftest` share: a line of the pass/fail table, the table itself, and
//! the network half: the library system (TLS handshake, the device's login, one round trip)
//! and the offline list's freshness.

use std::time::Duration;

use config::allowlist::AllowlistSettings;
use config::registry::RegistrySettings;
use registry::{AnyRegistry, Registry};

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was tried.
    pub what: String,
    /// It worked.
    pub ok: bool,
    /// What was seen, or what to do.
    pub detail: String,
}

/// A line of the table.
pub fn check(what: &str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        what: what.into(),
        ok,
        detail: detail.into(),
    }
}

/// The table a technician reads at a glance: `ok` or `FAIL`, what, and what was seen.
pub fn table(checks: &[Check]) -> String {
    let width = checks
        .iter()
        .map(|c| c.what.chars().count())
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    for c in checks {
        s.push_str(&format!(
            "{:<4}  {:<width$}  {}\n",
            if c.ok { "ok" } else { "FAIL" },
            c.what,
            c.detail
        ));
    }
    s
}

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

/// The offline list in the device's store: applied, and not expired at `now` (Unix seconds).
/// The store is the daemon's: it must be stopped.
pub fn offline_list(settings: &AllowlistSettings, now: i64, daemon: &str) -> Check {
    match crate::OfflineList::open(settings.clone()) {
        Err(e) => check(
            "offline list",
            false,
            format!("{e} (is the {daemon} running? stop it first)"),
        ),
        Ok(list) => match list.store().current() {
            None => check(
                "offline list",
                false,
                format!("none applied yet (start the {daemon} with the network up)"),
            ),
            Some(c) => {
                let h = &c.header.header;
                if h.expires_at <= now {
                    check(
                        "offline list",
                        false,
                        format!("version {} expired", h.version),
                    )
                } else {
                    check(
                        "offline list",
                        true,
                        format!(
                            "version {}, expires in {} h",
                            h.version,
                            (h.expires_at - now) / 3600
                        ),
                    )
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_up_and_says_fail_plainly() {
        let t = table(&[
            check("lock relay", true, "clicked"),
            check("library system", false, "connection refused"),
        ]);
        assert_eq!(
            t,
            "ok    lock relay      clicked\nFAIL  library system  connection refused\n"
        );
    }
}
