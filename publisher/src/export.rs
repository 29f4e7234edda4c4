//! The patron export: what the library system hands the publisher, as JSON Lines (UTF-8, one
//! JSON object per line).
//!
//! The first line is the header:
//! `{"format":"omatoimi-patron-export","version":1,"library":"HEILI","exported_at":"2026-11-24T18:00:00Z","fine_limit_cents":1000}`
//! Each further line is one patron:
//! `{"card":"24680001","pin":"1234","category":"ADULT","home_branch":"LEMI","card_expires":"2028-01-31",
//!   "birth_date":"1985-03-14","self_service":true,"guardian_consent":false,"card_lost":false,
//!   "fines_cents":0,"blocks":[{"kind":"self_service","branch":"LEMI","until":"2026-12-31"}]}`
//! `birth_date`, `guardian_consent`, `card_lost`, `fines_cents` and `blocks` may be left out;
//! `kind` is `lending` or `self_service`, `branch` and `until` may be null.
//!
//! The PIN comes in one of three ways, whichever the library system has:
//! - `"pin":"1234"`, in clear: the publisher makes an argon2id verifier of it;
//! - `"pin_hash":"$2a$08$…"`, the library system's own hash in the modular crypt format, whose
//!   prefix names the scheme: bcrypt (`$2a$`, `$2b$`, `$2y$`, as Koha keeps `borrowers.password`)
//!   is carried into the list as it is and checked on the device; a hash in a scheme a door
//!   cannot check (or over the publisher's bcrypt cost ceiling) lists the patron without one;
//! - neither: the patron is listed without a verifier, and a door admits them offline only with
//!   a verifier it learned after an online check of their card and PIN.
//!
//! Both `pin` and `pin_hash` on one line is an error. The export is as secret as the register and
//! lives only on the publisher.

use std::io::BufRead;
use std::path::Path;

use chrono::NaiveDate;
use redact::{CardNumber, Pin};
use serde::Deserialize;

use crate::{PublishError, io};

/// The export's first line.
#[derive(Debug, Clone, Deserialize)]
pub struct ExportHeader {
    /// Always `omatoimi-patron-export`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// The library (consortium) that exported it.
    pub library: String,
    /// When it was exported (RFC 3339).
    pub exported_at: String,
    /// The library's fine limit for self-service, in cents, if it has one.
    #[serde(default)]
    pub fine_limit_cents: Option<u64>,
}

/// A block in the export.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportBlock {
    /// `lending` or `self_service`.
    pub kind: String,
    /// Only at this branch.
    #[serde(default)]
    pub branch: Option<String>,
    /// Last day.
    #[serde(default)]
    pub until: Option<NaiveDate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPatron {
    card: String,
    #[serde(default)]
    pin: Option<String>,
    #[serde(default)]
    pin_hash: Option<String>,
    category: String,
    home_branch: String,
    card_expires: NaiveDate,
    #[serde(default)]
    birth_date: Option<NaiveDate>,
    self_service: bool,
    #[serde(default)]
    guardian_consent: bool,
    #[serde(default)]
    card_lost: bool,
    #[serde(default)]
    fines_cents: u64,
    #[serde(default)]
    blocks: Vec<ExportBlock>,
}

/// What the library system gave for a patron's PIN.
#[derive(Debug, Clone)]
pub enum PinSource {
    /// The PIN in clear: the publisher makes an argon2id verifier.
    Clear(Pin),
    /// The library system's bcrypt hash, carried into the list as it is.
    Bcrypt(allowlist::BcryptHash),
    /// A hash in a scheme no door checks (its name, e.g. `$6$` or `{SSHA}`): listed without one.
    Unsupported(String),
    /// Nothing: listed without a verifier.
    Nothing,
}

impl PinSource {
    /// Reads a `pin_hash` value: bcrypt by its `$2a$`/`$2b$`/`$2y$` prefix, anything else as an
    /// unsupported scheme (named by its prefix, never with the hash). A string that claims to be
    /// bcrypt but is malformed is an error.
    pub fn from_hash(text: &str) -> Result<Self, String> {
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
            return allowlist::BcryptHash::parse(text)
                .map(Self::Bcrypt)
                .map_err(|e| format!("pin_hash: {e}"));
        }
        if text.is_empty() {
            return Ok(Self::Nothing);
        }
        Ok(Self::Unsupported(scheme_name(text)))
    }
}

/// The scheme part of a hash string, without any of its salt or hash: `$6$`, `$argon2id$`,
/// `{SSHA}`, or `unknown`.
fn scheme_name(text: &str) -> String {
    let name = if let Some(rest) = text.strip_prefix('$') {
        rest.split('$').next().map(|s| format!("${s}$"))
    } else if let Some(rest) = text.strip_prefix('{') {
        rest.split('}').next().map(|s| format!("{{{s}}}"))
    } else {
        None
    };
    name.filter(|n| n.len() <= 16 && n.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| "unknown".into())
}

/// One patron of the export.
#[derive(Debug, Clone)]
pub struct ExportPatron {
    /// The card number.
    pub card: CardNumber,
    /// The PIN or what the library system keeps of it.
    pub pin: PinSource,
    /// Category.
    pub category: String,
    /// Home branch.
    pub home_branch: String,
    /// Card expiry.
    pub card_expires: NaiveDate,
    /// Birth date, if the register has one.
    pub birth_date: Option<redact::Personal<NaiveDate>>,
    /// Self-service permission.
    pub self_service: bool,
    /// Guardian's consent for a patron under 15.
    pub guardian_consent: bool,
    /// Card reported lost.
    pub card_lost: bool,
    /// Fines owed, in cents.
    pub fines_cents: u64,
    /// Blocks.
    pub blocks: Vec<ExportBlock>,
}

/// A line the publisher could not use, by line number; the text never quotes the line (it holds
/// a card number and a PIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

/// A whole export.
#[derive(Debug)]
pub struct Export {
    /// The header.
    pub header: ExportHeader,
    /// The usable patrons (every patron, with or without self-service permission).
    pub patrons: Vec<ExportPatron>,
    /// Lines skipped and why.
    pub problems: Vec<Problem>,
}

/// What is wrong with a line, without its values: serde_json's messages quote the offending
/// value (`invalid type: integer `1234`` for a PIN written as a number), so only the field-name
/// messages are kept as they are.
fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax => format!("not valid JSON (column {})", e.column()),
        Category::Eof => "the line ends too early".into(),
        Category::Io => "read error".into(),
        Category::Data => {
            let text = e.to_string();
            let field = ["missing field `", "unknown field `"]
                .iter()
                .find(|p| text.starts_with(**p))
                .and_then(|p| text[p.len()..].split('`').next().map(|f| (p, f)));
            match field {
                Some((p, f)) => format!("{p}{f}`"),
                None => format!("a value has the wrong type or form (column {})", e.column()),
            }
        }
    }
}

/// Reads an export file.
pub fn read(path: &Path) -> Result<Export, PublishError> {
    let file = std::fs::File::open(path).map_err(io(path))?;
    let bad = |problem: String| PublishError::Export {
        path: path.to_owned(),
        problem,
    };
    let mut lines = std::io::BufReader::with_capacity(1 << 20, file).lines();
    let first = lines
        .next()
        .ok_or_else(|| bad("empty file; expected a header line".into()))?
        .map_err(io(path))?;
    let header: ExportHeader = serde_json::from_str(&first)
        .map_err(|e| bad(format!("line 1 is not the export header: {}", describe(&e))))?;
    if header.format != "omatoimi-patron-export" || header.version != 1 {
        return Err(bad(format!(
            "line 1 names format {:?} version {}; expected \"omatoimi-patron-export\" version 1",
            header.format, header.version
        )));
    }
    let mut patrons = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let line = line.map_err(|e| bad(format!("line {n}: {e}")))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<RawPatron>(&line) {
            Ok(p) => match check(p) {
                Ok(p) => patrons.push(p),
                Err(problem) => problems.push(Problem { line: n, problem }),
            },
            Err(e) => problems.push(Problem {
                line: n,
                problem: describe(&e),
            }),
        }
    }
    Ok(Export {
        header,
        patrons,
        problems,
    })
}

fn check(p: RawPatron) -> Result<ExportPatron, String> {
    if allowlist::card::normalise(&p.card).is_empty() {
        return Err("empty card number".into());
    }
    if p.category.len() > 32 || p.home_branch.len() > 32 {
        return Err("category or home branch longer than 32 bytes".into());
    }
    for b in &p.blocks {
        if b.kind != "lending" && b.kind != "self_service" {
            return Err("a block's kind is neither lending nor self_service".into());
        }
        if b.branch.as_ref().is_some_and(|x| x.len() > 32) {
            return Err("a block's branch is longer than 32 bytes".into());
        }
    }
    let pin = match (p.pin, p.pin_hash) {
        (Some(_), Some(_)) => return Err("both pin and pin_hash: give one".into()),
        (Some(pin), None) if pin.is_empty() => PinSource::Nothing,
        (Some(pin), None) => PinSource::Clear(Pin::new(pin)),
        (None, Some(hash)) => PinSource::from_hash(&hash)?,
        (None, None) => PinSource::Nothing,
    };
    Ok(ExportPatron {
        card: CardNumber::new(p.card),
        pin,
        category: p.category,
        home_branch: p.home_branch,
        card_expires: p.card_expires,
        birth_date: p.birth_date.map(redact::Personal::new),
        self_service: p.self_service,
        guardian_consent: p.guardian_consent,
        card_lost: p.card_lost,
        fines_cents: p.fines_cents,
        blocks: p.blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_reported_by_number_without_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"format":"omatoimi-patron-export","version":1,"library":"HEILI","exported_at":"2026-11-24T18:00:00Z"}"#,
                "\n",
                r#"{"card":"11112222","pin":"9876","category":"ADULT","home_branch":"LEMI","card_expires":"2028-01-31","self_service":true}"#,
                "\n",
                r#"{"card":"33334444","pin":"5555","category":"ADULT","home_branch":"LEMI","card_expires":"31.1.2028","self_service":true}"#,
                "\n",
                r#"{"card":"55556666","pin":"4321","category":"ADULT","#,
                "\n",
                r#"{"card":"77778888","pin":2468,"category":"ADULT","home_branch":"LEMI","card_expires":"2028-01-31","self_service":true}"#,
                "\n",
                r#"{"card":"77778889","pin":"1","pin_hash":"$2a$08$x","category":"ADULT","home_branch":"LEMI","card_expires":"2028-01-31","self_service":true}"#,
                "\n",
                r#"{"card":"77778890","pin_hash":"$2a$08$VIQCE.U8iDsD/b5tPvisy.TXlNMiXQILKuCrEGsvLmtrYVv8uiP7","category":"ADULT","home_branch":"LEMI","card_expires":"2028-01-31","self_service":true}"#,
                "\n",
                "\n",
            ),
        )
        .unwrap();
        let e = read(&path).unwrap();
        assert_eq!(e.patrons.len(), 1);
        assert_eq!(
            e.problems.iter().map(|p| p.line).collect::<Vec<_>>(),
            vec![3, 4, 5, 6, 7]
        );
        assert_eq!(e.problems[3].problem, "both pin and pin_hash: give one");
        assert_eq!(
            e.problems[4].problem,
            "pin_hash: salt and hash are 52 characters; bcrypt has 53 (22 of salt, 31 of hash)"
        );
        let text = format!("{:?}", e.problems);
        for secret in [
            "33334444",
            "5555",
            "55556666",
            "4321",
            "31.1.2028",
            "77778888",
            "2468",
            "VIQCE",
        ] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(!format!("{:?}", e.patrons).contains("11112222"));
    }

    #[test]
    fn a_pin_comes_in_clear_as_the_library_systems_hash_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        let line = |card: &str, pin: &str| {
            format!(
                r#"{{"card":"{card}",{pin}"category":"ADULT","home_branch":"LEMI","card_expires":"2028-01-31","self_service":true}}"#
            )
        };
        let text = [
            r#"{"format":"omatoimi-patron-export","version":1,"library":"HEILI","exported_at":"2026-11-24T18:00:00Z"}"#.to_string(),
            line("1", r#""pin":"1234","#),
            line("2", r#""pin_hash":"$2a$08$VIQCE.U8iDsD/b5tPvisy.TXlNMiXQILKuCrEGsvLmtrYVv8uiP72","#),
            line("3", r#""pin_hash":"$6$rounds=5000$saltsalt$hashhash","#),
            line("4", r#""pin_hash":"{SSHA}abcdefgh","#),
            line("5", ""),
            line("6", r#""pin":"","#),
        ]
        .join("\n");
        std::fs::write(&path, text).unwrap();
        let e = read(&path).unwrap();
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        let kinds: Vec<String> = e
            .patrons
            .iter()
            .map(|p| match &p.pin {
                PinSource::Clear(_) => "clear".into(),
                PinSource::Bcrypt(h) => format!("bcrypt {}", h.cost()),
                PinSource::Unsupported(s) => format!("unsupported {s}"),
                PinSource::Nothing => "nothing".into(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "clear",
                "bcrypt 8",
                "unsupported $6$",
                "unsupported {SSHA}",
                "nothing",
                "nothing"
            ]
        );
        let shown = format!("{:?}", e.patrons);
        for secret in ["1234", "VIQCE", "saltsalt", "abcdefgh"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn a_file_that_is_not_an_export_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.jsonl");
        std::fs::write(&path, "card;pin\n1;2\n").unwrap();
        assert!(matches!(read(&path), Err(PublishError::Export { .. })));
    }
}
