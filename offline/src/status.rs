//! The offline list in the words of a technician's `status` (the door's and the kiosk's): its
//! version, when it was last checked with its server and when it expires, on a wall clock.
//! Pure: the gauges' values, the zone and `now` come in.

use access::zone::{Zone, ago, duration};
use chrono::{DateTime, Utc};

/// "version 42, checked 22:00 today (1 h ago), expires 2026-03-10 04:00 (in 6 days 5 h)", or
/// "… EXPIRED 21:00 today (2 h ago)"; `checked` and `expires` are Unix seconds when known.
pub fn list_words(
    version: i64,
    checked: Option<i64>,
    expires: Option<i64>,
    zone: &Zone,
    now: DateTime<Utc>,
) -> String {
    let mut text = format!("version {version}");
    if let Some(t) = checked {
        text.push_str(&format!(
            ", checked {} ({})",
            zone.when(t, now),
            ago(now.timestamp() - t)
        ));
    }
    if let Some(t) = expires {
        let left = t - now.timestamp();
        if left > 0 {
            text.push_str(&format!(
                ", expires {} (in {})",
                zone.when(t, now),
                duration(left)
            ));
        } else {
            text.push_str(&format!(", EXPIRED {} ({})", zone.when(t, now), ago(-left)));
        }
    }
    text
}
