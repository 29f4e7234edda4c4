//! A branch's policy as the console signs it into a bundle (`allowlist::envelope`, purpose
//! policy) and a device applies it: the branch's time zone, its week, the dated exceptions the
//! console computed from its holidays and its own closed days for the days the bundle covers,
//! and the last-entry margin. The device's own file keeps what is the device's (pins, readers,
//! addresses, keys): nothing here can name those.
//!
//! Hours are written as the configuration file writes them (`"07:00-22:00"`), dates as ISO
//! dates; the device parses them with the same code as its own `[hours]`.

use serde::{Deserialize, Serialize};

/// The body of a policy bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The branch it is for (the device's `[rules] branch`, its certificate's OU).
    pub branch: String,
    /// The branch's wall clock (`Europe/Helsinki`).
    pub time_zone: String,
    /// Monday first: seven days.
    pub week: Vec<DaySpans>,
    /// Dated exceptions in force between `first_day` and `last_day`; a later one wins where two
    /// cover a day.
    pub exceptions: Vec<DatedHours>,
    /// No new self-service entries this many minutes before self-service ends.
    pub last_entry_minutes: u16,
    /// The first day the exceptions were computed for (ISO date).
    pub first_day: String,
    /// The last (ISO date): past it, only the week applies.
    pub last_day: String,
}

/// A day's spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DaySpans {
    /// When patrons may let themselves in (`HH:MM-HH:MM`).
    #[serde(default)]
    pub self_service: Vec<String>,
    /// When staff are in.
    #[serde(default)]
    pub staffed: Vec<String>,
}

/// A day or run of days with their own hours; none when closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatedHours {
    /// First day (ISO date).
    pub first: String,
    /// Last day (ISO date).
    pub last: String,
    /// What it is, for staff and for the patron told the door is shut.
    pub name: String,
    /// Its hours.
    #[serde(flatten)]
    pub hours: DaySpans,
}

impl Policy {
    /// Reads a bundle's body.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let p: Self =
            serde_json::from_slice(body).map_err(|e| format!("not a policy bundle: {e}"))?;
        if p.week.len() != 7 {
            return Err(format!("a week of {} days; expected 7", p.week.len()));
        }
        Ok(p)
    }
}
