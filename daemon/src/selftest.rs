//! The report of both daemons' `selftest`: one line per thing tried, and the table a technician
//! reads at a glance. What each daemon tries is its own; the library system and offline list
//! probes they share are in `offline::selftest`.

use std::path::Path;

/// The last selftest's outcome, in the daemon's state directory: the daemon reports it as
/// gauges (`omatoimi_selftest_ok`, `omatoimi_selftest_timestamp_seconds`), which the library's
/// console shows as "selftest failing".
pub const LAST_FILE: &str = "selftest-last";

/// Keeps the outcome of `checks` at `now` (Unix seconds) for the daemon (written whole, 0600).
pub fn record(state_dir: &Path, checks: &[Check], now: i64) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let ok = checks.iter().all(|c| c.ok);
    let tmp = state_dir.join(format!("{LAST_FILE}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    writeln!(f, "{} {now}", if ok { "ok" } else { "fail" })?;
    f.sync_all()?;
    std::fs::rename(&tmp, state_dir.join(LAST_FILE))
}

/// The last selftest's outcome: (passed, when), if one was kept and is readable.
pub fn last(state_dir: &Path) -> Option<(bool, i64)> {
    let text = std::fs::read_to_string(state_dir.join(LAST_FILE)).ok()?;
    let (word, at) = text.trim().split_once(' ')?;
    let ok = match word {
        "ok" => true,
        "fail" => false,
        _ => return None,
    };
    Some((ok, at.parse().ok()?))
}

/// Sets the selftest gauges from the kept outcome, when there is one.
pub fn gauges(state_dir: &Path, metrics: &crate::Metrics) {
    if let Some((ok, at)) = last(state_dir) {
        metrics.set(
            "omatoimi_selftest_ok",
            "1 when the last selftest passed, 0 when a check failed",
            if ok { 1.0 } else { 0.0 },
        );
        metrics.set(
            "omatoimi_selftest_timestamp_seconds",
            "when the last selftest ran (Unix time)",
            at as f64,
        );
    }
}

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

/// Below this, a state directory is reported short of room: the event log, the offline list's
/// swap (a second copy while a new list is applied) and the reports waiting for the console
/// all need it.
pub const LOW_SPACE: u64 = 64 * 1024 * 1024;

/// The state directory: it takes a new file durably, and has room.
pub fn state_directory(dir: &Path) -> Check {
    let shown = dir.display();
    match (crate::fs::writable(dir), crate::fs::free_bytes(dir)) {
        (Err(e), _) => check(
            "state directory",
            false,
            format!("{shown}: cannot write: {e}"),
        ),
        (Ok(()), Err(e)) => check("state directory", false, format!("{shown}: {e}")),
        (Ok(()), Ok(free)) => check(
            "state directory",
            free >= LOW_SPACE,
            format!(
                "writable, {} MB free{}",
                free / (1024 * 1024),
                if free < LOW_SPACE {
                    ": too little for the logs and the next list"
                } else {
                    ""
                }
            ),
        ),
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_last_outcome_is_kept_and_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(last(tmp.path()), None);
        record(
            tmp.path(),
            &[check("a", true, ""), check("b", false, "")],
            1_800_000_000,
        )
        .unwrap();
        assert_eq!(last(tmp.path()), Some((false, 1_800_000_000)));
        record(tmp.path(), &[check("a", true, "")], 1_800_000_060).unwrap();
        assert_eq!(last(tmp.path()), Some((true, 1_800_000_060)));
        std::fs::write(tmp.path().join(LAST_FILE), "garbage").unwrap();
        assert_eq!(last(tmp.path()), None);
    }

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
