//! A command from the console to one device (the body of an `allowlist::envelope` with purpose
//! command, scoped to the device's certificate, expiring in seconds), and the device's answer.

use serde::{Deserialize, Serialize};

/// The longest unlock staff may order (a long evening event).
pub const MAX_UNLOCK_MINUTES: u32 = 240;

/// What staff ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "order")]
pub enum Order {
    /// Stand the door unlocked for this many minutes (1 to [`MAX_UNLOCK_MINUTES`]).
    Unlock {
        /// How long.
        minutes: u32,
    },
    /// Lock the branch down: no self-service entry; the exit always works.
    Lockdown,
    /// End a lock-down.
    LockdownEnd,
    /// End self-service now, with the closing announcement.
    EndSelfService,
    /// Check what needs no person (door inputs, state directory, offline list, library
    /// system, policy bundle) and answer with the table.
    Selftest,
    /// A patron's right of access: everything the device holds about one card, as JSON.
    PatronExport {
        /// The card's keyed hashes (64 hex digits), one under each card key the device may
        /// hold (the consortium's, its branch's, its own): the device matches its own, and
        /// never sees the number.
        cards: Vec<String>,
    },
    /// A patron's right to erasure: remove everything the device holds about one card
    /// (what the library system has not yet been told is delivered first, or the erasure
    /// fails and says why).
    PatronErase {
        /// As for [`Order::PatronExport`].
        cards: Vec<String>,
    },
}

/// The most keyed hashes one patron order carries.
pub const MAX_PATRON_CARDS: usize = 4;

/// The pseudonym the device's records carry for a card of keyed hash `hash` (its first 32 hex
/// digits).
pub fn pseudonym(hash: &str) -> &str {
    hash.get(..32).unwrap_or(hash)
}

impl Order {
    /// Its code, for records and pages.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unlock { .. } => "unlock",
            Self::Lockdown => "lockdown",
            Self::LockdownEnd => "lockdown-end",
            Self::EndSelfService => "end-self-service",
            Self::Selftest => "selftest",
            Self::PatronExport { .. } => "patron-export",
            Self::PatronErase { .. } => "patron-erase",
        }
    }

    /// The card hashes of a patron order (none for the others).
    pub fn cards(&self) -> &[String] {
        match self {
            Self::PatronExport { cards } | Self::PatronErase { cards } => cards,
            _ => &[],
        }
    }
}

/// The signed body (its fields are not checked for strangers: serde cannot with a flattened
/// order; the body is signed, and an order it does not know is refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceCommand {
    /// Its id (32 hex digits), which the answer names.
    pub id: String,
    /// What to do.
    #[serde(flatten)]
    pub order: Order,
}

/// The device's answer (`POST /v1/commands/outcome`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// The command's id.
    pub id: String,
    /// `done`, or `refused` (it did not verify: a security event on the device).
    pub outcome: String,
    /// Words for staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl DeviceCommand {
    /// Reads a body; an unlock of 0 or more than [`MAX_UNLOCK_MINUTES`] is refused.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let c: Self = serde_json::from_slice(body).map_err(|e| format!("not a command: {e}"))?;
        if let Order::Unlock { minutes } = c.order {
            if !(1..=MAX_UNLOCK_MINUTES).contains(&minutes) {
                return Err(format!(
                    "unlock for {minutes} minutes: 1 to {MAX_UNLOCK_MINUTES}"
                ));
            }
        }
        if let Order::PatronExport { cards } | Order::PatronErase { cards } = &c.order {
            let hash = |h: &String| {
                h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            };
            if cards.is_empty() || cards.len() > MAX_PATRON_CARDS || !cards.iter().all(hash) {
                return Err(format!(
                    "a patron order names 1 to {MAX_PATRON_CARDS} card hashes of 64 lowercase hex digits"
                ));
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn commands_read_back_and_an_absurd_unlock_is_refused() {
        let c = DeviceCommand {
            id: "ab".repeat(16),
            order: Order::Unlock { minutes: 30 },
        };
        let json = serde_json::to_vec(&c).unwrap();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            format!(
                "{{\"id\":\"{}\",\"order\":\"unlock\",\"minutes\":30}}",
                "ab".repeat(16)
            )
        );
        assert_eq!(DeviceCommand::parse(&json).unwrap(), c);
        assert!(DeviceCommand::parse(br#"{"id":"x","order":"unlock","minutes":0}"#).is_err());
        assert!(DeviceCommand::parse(br#"{"id":"x","order":"unlock","minutes":100000}"#).is_err());
        assert!(DeviceCommand::parse(br#"{"id":"x","order":"self-destruct"}"#).is_err());
        assert_eq!(
            DeviceCommand::parse(br#"{"id":"x","order":"selftest"}"#)
                .unwrap()
                .order,
            Order::Selftest
        );
        let erase = format!(
            r#"{{"id":"x","order":"patron-erase","cards":["{}"]}}"#,
            "0a".repeat(32)
        );
        assert_eq!(
            DeviceCommand::parse(erase.as_bytes())
                .unwrap()
                .order
                .cards(),
            ["0a".repeat(32)]
        );
        assert_eq!(pseudonym(&"0a".repeat(32)), "0a".repeat(16));
        for bad in [
            r#"{"id":"x","order":"patron-erase","cards":[]}"#.to_owned(),
            r#"{"id":"x","order":"patron-export","cards":["12"]}"#.to_owned(),
            format!(
                r#"{{"id":"x","order":"patron-erase","cards":["{}"]}}"#,
                "0A".repeat(32)
            ),
            format!(
                r#"{{"id":"x","order":"patron-erase","cards":{:?}}}"#,
                vec!["0a".repeat(32); 5]
            ),
            r#"{"id":"x","order":"patron-erase"}"#.to_owned(),
        ] {
            assert!(DeviceCommand::parse(bad.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(
            DeviceCommand::parse(br#"{"id":"x","order":"lockdown"}"#)
                .unwrap()
                .order,
            Order::Lockdown
        );
    }
}
