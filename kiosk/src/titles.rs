//! Titles the kiosk has seen from the library system, by item barcode: while the library system
//! is down, an item lent or returned offline, and "My loans" offline, show the book's title
//! instead of a bare barcode. Filled from every online answer that names one (a loan, a return,
//! the patron's loans), kept in sled beside the queue (`titles/` in the state directory).
//!
//! A title is the library's catalogue, not anyone's data: the cache holds no card, no patron and
//! no time of a loan, only the day each title was last seen, so that titles of items the kiosk
//! has not seen for a year are dropped at start and the cache stays the size of what passes
//! through one kiosk.

use std::path::Path;

use chrono::{Datelike as _, NaiveDate};

/// A title not seen for this many days is dropped at start.
pub const KEPT_DAYS: i64 = 400;

/// The longest title kept (longer ones are cut, on a character boundary).
const MAX_TITLE_BYTES: usize = 512;

/// The cache.
#[derive(Debug, Clone)]
pub struct Titles {
    tree: sled::Tree,
    _db: sled::Db,
}

fn day_number(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

impl Titles {
    /// Opens (or creates) the cache in `dir` and drops what was not seen for [`KEPT_DAYS`]
    /// before `today`.
    pub fn open(dir: &Path, today: NaiveDate) -> Result<Self, sled::Error> {
        let db = daemon::fs::open_sled(&sled::Config::new().path(dir).cache_capacity(1 << 20))?;
        let tree = db.open_tree("titles")?;
        let oldest = day_number(today) - KEPT_DAYS as i32;
        let stale: Vec<sled::IVec> = tree
            .iter()
            .filter_map(Result::ok)
            .filter(|(_, v)| seen(v).is_none_or(|d| d < oldest))
            .map(|(k, _)| k)
            .collect();
        for k in stale {
            tree.remove(k)?;
        }
        Ok(Self { tree, _db: db })
    }

    /// Remembers `title` for `item`, seen `today`. A failure is logged, never the patron's
    /// problem.
    pub fn remember(&self, item: &str, title: &str, today: NaiveDate) {
        let title = title.trim();
        if item.is_empty() || title.is_empty() {
            return;
        }
        let mut end = title.len().min(MAX_TITLE_BYTES);
        while !title.is_char_boundary(end) {
            end -= 1;
        }
        let mut value = day_number(today).to_be_bytes().to_vec();
        value.extend_from_slice(&title.as_bytes()[..end]);
        if let Err(e) = self.tree.insert(item.as_bytes(), value) {
            tracing::warn!("title cache: {e}");
        }
    }

    /// The title last seen for `item`.
    pub fn title(&self, item: &str) -> Option<String> {
        let v = self.tree.get(item.as_bytes()).ok()??;
        let text = v.get(4..)?;
        std::str::from_utf8(text).ok().map(str::to_owned)
    }

    /// How many titles are kept.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}

/// The day a value was last seen.
fn seen(v: &[u8]) -> Option<i32> {
    let b: [u8; 4] = v.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn titles_come_back_after_a_restart_and_old_ones_are_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("titles");
        {
            let t = Titles::open(&dir, day("2026-01-01")).unwrap();
            t.remember("HE0000001", " Tuntematon sotilas ", day("2026-01-01"));
            t.remember("HE0000002", "Mies vailla menneisyyttä", day("2027-01-10"));
            t.remember("HE0000003", "", day("2027-01-10"));
            t.remember("HE0000004", &"ä".repeat(600), day("2027-01-10"));
            assert_eq!(t.title("HE0000001").as_deref(), Some("Tuntematon sotilas"));
            assert_eq!(t.title("HE0000003"), None);
            assert_eq!(t.title("HE0000004").unwrap().len(), 512);
            assert_eq!(t.len(), 3);
        }
        // 2027-03-01: the first was last seen over 400 days before.
        let t = Titles::open(&dir, day("2027-03-01")).unwrap();
        assert_eq!(t.title("HE0000001"), None);
        assert_eq!(
            t.title("HE0000002").as_deref(),
            Some("Mies vailla menneisyyttä")
        );
        assert_eq!(t.len(), 2);
    }
}
