//! The report of both daemons' `selftest`: one line per thing tried, and the table a technician
//! reads at a glance. What each daemon tries is its own; the library system and offline list
//! probes they share are in `offline::selftest`.

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
