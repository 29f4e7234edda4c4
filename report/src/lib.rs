//! What doors and kiosks report to the library's console, and what it answers.
//!
//! Devices sit behind municipal firewalls, so they connect out: a device `POST`s a [`Batch`] of
//! [`Record`]s from its durable outbox to the console's `/v1/report` over HTTPS with its device
//! certificate, and deletes from the outbox what the [`Ack`] names (acknowledged or rejected) —
//! at least once from the device; the console keys each record by the device (from its
//! certificate, never from the body) and the record's id, so it is stored exactly once.
//!
//! A record is a status snapshot (the gauges the health endpoint has) or an event (entries and
//! denials with reason codes, alarms, security events, loans, queue conflicts). Cards appear only
//! as the door's keyed pseudonym (32 hex digits); nothing here can carry a card number, a PIN, a
//! name or an item.
//!
//! Pure: no I/O and no clock; times are Unix milliseconds chosen by the caller.
//!
//! ```json
//! {"v":1,"role":"door","name":"Lemi door","software":"0.1.0","sent_at":1764687600000,
//!  "records":[{"id":"9f0c…","seq":1041,"at":1764687590123,"class":"event",
//!              "event":{"kind":"alarm","code":"forced-open"}},
//!             {"id":"77a1…","seq":1042,"at":1764687600000,"class":"status",
//!              "gauges":{"omatoimi_up":1,"omatoimi_online":1}}]}
//! ```

pub mod command;
pub mod policy;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The wire format's version.
pub const VERSION: u32 = 1;
/// Records in one batch, at most.
pub const MAX_RECORDS: usize = 500;
/// A batch's JSON body, at most (bytes).
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Gauges in one status snapshot, at most.
pub const MAX_GAUGES: usize = 64;
/// A text field (code, source, detail, name), at most (characters).
pub const MAX_TEXT: usize = 512;

/// What kind of device reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A door (`door-agent`).
    Door,
    /// A self-service kiosk.
    Kiosk,
}

impl Role {
    /// Its name on the wire and in the console's database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Door => "door",
            Self::Kiosk => "kiosk",
        }
    }
}

/// One `POST /v1/report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    /// [`VERSION`].
    pub v: u32,
    /// The device's kind.
    pub role: Role,
    /// The device's own name for itself (`[door] name`), for staff; the console identifies the
    /// device by its certificate, not by this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The software's version.
    pub software: String,
    /// When the device sent it (Unix ms, the device's clock): the console compares it with its
    /// own to show a device whose clock is off.
    pub sent_at: i64,
    /// Oldest first.
    pub records: Vec<Record>,
}

/// One record of the outbox. (Its fields beside the body's are not checked for strangers:
/// serde cannot with a flattened body.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Made at random by the device when the record was queued (32 hex digits): with the device,
    /// the key that makes a replayed record count once.
    pub id: String,
    /// The outbox's sequence number, which the answer names.
    pub seq: u64,
    /// When it happened (Unix ms, the device's clock).
    pub at: i64,
    /// What.
    #[serde(flatten)]
    pub body: Body,
}

/// A record's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "lowercase")]
pub enum Body {
    /// The device's gauges (Prometheus names, finite values).
    Status {
        /// By name.
        gauges: BTreeMap<String, f64>,
    },
    /// Something that happened.
    Event {
        /// What.
        event: Event,
    },
}

/// An event as the door's event log keeps it (`access::door::Event` less its time), or the
/// kiosk's (`loan`, `return`, `queue-conflict`); kinds are open so that a newer device can
/// report one an older console does not know, which keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    /// `entry`, `denied`, `exit`, `alarm`, `alarm-cleared`, `state`, `device`, `tamper`, `daemon`,
    /// `security`, `loan`, `return`, `queue-conflict`, …
    pub kind: String,
    /// A stable code: a reason, an alarm, a state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The card's keyed pseudonym (32 hex digits), never a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<String>,
    /// Who answered (`online`, `offline:7`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Words for staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How much a record matters when the outbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// A status snapshot: the next one says the same; dropped first.
    Status,
    /// Exits, starts and stops, devices coming and going, state changes: dropped next.
    Routine,
    /// Entries, denials, alarms, tampering, security events, loans, returns, queue conflicts:
    /// never dropped.
    Critical,
}

impl Body {
    /// How much it matters when the outbox is full.
    pub fn priority(&self) -> Priority {
        match self {
            Self::Status { .. } => Priority::Status,
            Self::Event { event } => match event.kind.as_str() {
                "exit" | "daemon" | "device" | "state" => Priority::Routine,
                _ => Priority::Critical,
            },
        }
    }
}

/// The console's answer to a batch, sent only once what it names is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Ack {
    /// [`VERSION`].
    pub v: u32,
    /// The records stored (now or before): the device deletes them.
    pub acked: Vec<u64>,
    /// How many of them had been stored before (a replay).
    pub duplicates: u32,
    /// Records refused for good (malformed): the device logs and deletes them, so that one bad
    /// record cannot hold the queue.
    pub rejected: Vec<Rejected>,
    /// The version of the newest policy bundle for the device's branch, when the console has
    /// one: a device holding an older one fetches it (`GET /v1/policy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<u64>,
}

/// A record refused for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Its sequence number.
    pub seq: u64,
    /// Why, in words.
    pub why: String,
}

/// A batch refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Not JSON of this shape.
    #[error("not a report batch: {0}")]
    Malformed(String),
    /// Another version of the format.
    #[error("report format version {0}; this console reads version {VERSION}")]
    Version(u32),
    /// Too many records or bytes.
    #[error("{0}")]
    TooLarge(String),
    /// A field of the batch itself is wrong.
    #[error("{0}")]
    Invalid(String),
}

impl Batch {
    /// Reads and checks a batch's body; records that are wrong on their own are not refused here
    /// but by [`Record::check`], one by one.
    pub fn parse(body: &[u8]) -> Result<Self, BatchError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(BatchError::TooLarge(format!(
                "a batch of {} bytes; at most {MAX_BODY_BYTES}",
                body.len()
            )));
        }
        // The version first, so that a newer format is named as such rather than as malformed.
        if let Ok(v) = serde_json::from_slice::<VersionOnly>(body) {
            if v.v != VERSION {
                return Err(BatchError::Version(v.v));
            }
        }
        let batch: Self =
            serde_json::from_slice(body).map_err(|e| BatchError::Malformed(malformed(&e)))?;
        if batch.records.len() > MAX_RECORDS {
            return Err(BatchError::TooLarge(format!(
                "{} records; at most {MAX_RECORDS}",
                batch.records.len()
            )));
        }
        text("name", batch.name.as_deref()).map_err(BatchError::Invalid)?;
        text("software", Some(&batch.software)).map_err(BatchError::Invalid)?;
        Ok(batch)
    }
}

/// What is wrong with a body, without serde's words: they quote the offending value, which from a
/// confused device could be a card number, and this reaches the console's log.
fn malformed(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of another shape",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// A text field within [`MAX_TEXT`] characters and without control characters.
fn text(field: &str, value: Option<&str>) -> Result<(), String> {
    let Some(v) = value else { return Ok(()) };
    if v.chars().count() > MAX_TEXT {
        return Err(format!("{field} is over {MAX_TEXT} characters"));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("{field} holds a control character"));
    }
    Ok(())
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A gauge's name as Prometheus takes it, ours only.
pub fn is_gauge_name(name: &str) -> bool {
    name.strip_prefix("omatoimi_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
    })
}

impl Record {
    /// Whether the record can be stored: its id 32 hex digits; a status with at most
    /// [`MAX_GAUGES`] gauges of our names and finite values; an event with a kind of lowercase
    /// words, short texts, and a card that is a pseudonym (32 hex digits) and nothing else.
    pub fn check(&self) -> Result<(), String> {
        if !is_hex(&self.id, 32) {
            return Err("the record id is not 32 lowercase hex digits".into());
        }
        match &self.body {
            Body::Status { gauges } => {
                if gauges.len() > MAX_GAUGES {
                    return Err(format!("{} gauges; at most {MAX_GAUGES}", gauges.len()));
                }
                if let Some(name) = gauges.keys().find(|n| !is_gauge_name(n)) {
                    return Err(format!(
                        "a gauge name of {} characters is not omatoimi_[a-z0-9_]+",
                        name.chars().count()
                    ));
                }
                if let Some((name, _)) = gauges.iter().find(|(_, v)| !v.is_finite()) {
                    return Err(format!("gauge {name} is not a finite number"));
                }
            }
            Body::Event { event } => {
                let kind_ok = !event.kind.is_empty()
                    && event.kind.len() <= 32
                    && event.kind.bytes().all(|b| matches!(b, b'a'..=b'z' | b'-'));
                if !kind_ok {
                    return Err("the event kind is not lowercase words (a-z, -), at most 32".into());
                }
                if let Some(card) = &event.card {
                    if !is_hex(card, 32) {
                        return Err(
                            "the card is not a pseudonym (32 lowercase hex digits); a card number is never reported"
                                .into(),
                        );
                    }
                }
                text("code", event.code.as_deref())?;
                text("source", event.source.as_deref())?;
                text("detail", event.detail.as_deref())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn event(kind: &str) -> Record {
        Record {
            id: "0123456789abcdef0123456789abcdef".into(),
            seq: 7,
            at: 1_764_687_590_123,
            body: Body::Event {
                event: Event {
                    kind: kind.into(),
                    code: Some("forced-open".into()),
                    card: None,
                    source: None,
                    detail: None,
                },
            },
        }
    }

    fn batch(records: Vec<Record>) -> Batch {
        Batch {
            v: VERSION,
            role: Role::Door,
            name: Some("Lemi door".into()),
            software: "0.1.0".into(),
            sent_at: 1_764_687_600_000,
            records,
        }
    }

    #[test]
    fn a_batch_reads_back_as_written_and_looks_as_documented() {
        let mut gauges = BTreeMap::new();
        gauges.insert("omatoimi_up".to_owned(), 1.0);
        let status = Record {
            id: "77a1".repeat(8),
            seq: 8,
            at: 1_764_687_600_000,
            body: Body::Status { gauges },
        };
        let b = batch(vec![event("alarm"), status]);
        let json = serde_json::to_string(&b).unwrap();
        assert!(
            json.contains(r#""class":"event","event":{"kind":"alarm","code":"forced-open"}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""class":"status","gauges":{"omatoimi_up":1.0}"#),
            "{json}"
        );
        assert_eq!(Batch::parse(json.as_bytes()).unwrap(), b);
        assert!(b.records.iter().all(|r| r.check().is_ok()));
    }

    #[test]
    fn a_batch_of_another_version_too_large_or_malformed_is_refused_whole() {
        let mut b = batch(vec![event("entry")]);
        b.v = 2;
        let json = serde_json::to_vec(&b).unwrap();
        assert_eq!(Batch::parse(&json), Err(BatchError::Version(2)));
        let many = batch(
            (0..=MAX_RECORDS as u64)
                .map(|s| Record {
                    seq: s,
                    ..event("entry")
                })
                .collect(),
        );
        assert!(matches!(
            Batch::parse(&serde_json::to_vec(&many).unwrap()),
            Err(BatchError::TooLarge(_))
        ));
        assert!(matches!(
            Batch::parse(&vec![b' '; MAX_BODY_BYTES + 1]),
            Err(BatchError::TooLarge(_))
        ));
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"v":1}"#,
            br#"{"v":1,"role":"door","software":"x","sent_at":1,"records":[],"extra":1}"#,
        ] {
            assert!(
                matches!(Batch::parse(bad), Err(BatchError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut b = batch(vec![]);
        b.name = Some("x\u{7}".into());
        assert!(matches!(
            Batch::parse(&serde_json::to_vec(&b).unwrap()),
            Err(BatchError::Invalid(_))
        ));
    }

    #[test]
    fn no_refusal_quotes_what_it_refuses() {
        let card = "24680000000011";
        let e = Batch::parse(
            format!(r#"{{"v":1,"role":"{card}","software":"x","sent_at":1,"records":[]}}"#)
                .as_bytes(),
        )
        .unwrap_err()
        .to_string();
        assert!(!e.contains(card), "{e}");
        assert!(!event(card).check().unwrap_err().contains(card));
        let r = Record {
            body: Body::Status {
                gauges: [(format!("x{card}"), 1.0)].into_iter().collect(),
            },
            ..event("entry")
        };
        assert!(!r.check().unwrap_err().contains(card));
    }

    #[test]
    fn a_record_with_a_card_number_a_bad_id_or_odd_gauges_is_refused_alone() {
        let mut r = event("denied");
        if let Body::Event { event } = &mut r.body {
            event.card = Some("24680000000011".into());
        }
        assert!(r.check().unwrap_err().contains("never reported"));
        if let Body::Event { event } = &mut r.body {
            event.card = Some("00112233445566778899aabbccddeeff".into());
        }
        assert!(r.check().is_ok());
        assert!(
            Record {
                id: "XYZ".into(),
                ..event("entry")
            }
            .check()
            .is_err()
        );
        assert!(event("Entry; DROP").check().is_err());
        let gauges = |pairs: &[(&str, f64)]| Record {
            body: Body::Status {
                gauges: pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            },
            ..event("entry")
        };
        assert!(gauges(&[("omatoimi_up", 1.0)]).check().is_ok());
        assert!(gauges(&[("up", 1.0)]).check().is_err());
        assert!(gauges(&[("omatoimi_Up", 1.0)]).check().is_err());
        assert!(gauges(&[("omatoimi_up", f64::NAN)]).check().is_err());
        let many: Vec<(String, f64)> = (0..=MAX_GAUGES)
            .map(|i| (format!("omatoimi_g{i}"), 0.0))
            .collect();
        let r = Record {
            body: Body::Status {
                gauges: many.into_iter().collect(),
            },
            ..event("entry")
        };
        assert!(r.check().is_err());
    }

    #[test]
    fn status_goes_first_and_what_staff_must_see_never() {
        let status = Record {
            body: Body::Status {
                gauges: BTreeMap::new(),
            },
            ..event("entry")
        };
        assert_eq!(status.body.priority(), Priority::Status);
        assert_eq!(event("exit").body.priority(), Priority::Routine);
        for k in [
            "entry",
            "denied",
            "alarm",
            "alarm-cleared",
            "tamper",
            "security",
            "loan",
            "queue-conflict",
            "something-new",
        ] {
            assert_eq!(event(k).body.priority(), Priority::Critical, "{k}");
        }
        assert!(Priority::Status < Priority::Routine && Priority::Routine < Priority::Critical);
    }
}
