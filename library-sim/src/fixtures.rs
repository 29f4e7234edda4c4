//! The fixture catalogue: the library, its branches, the devices' SIP2 accounts, patrons, items
//! and loan rules, read from a human-editable TOML file (see `fixtures/heili.toml`).
//!
//! The file's dates are written as of one day (`as_of`) and resolved against the simulator's
//! clock when it loads them, so each patron's story holds on any day: a valid card stays valid
//! as long ahead, a block ends as many days ahead, a child stays the same age. See
//! [`Fixtures::resolve`].

use std::collections::HashSet;
use std::path::Path;

use chrono::NaiveDate;
use config::ConfigError;
use serde::{Deserialize, Serialize};

/// The whole fixture file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixtures {
    /// The day the file's dates are written as of; without it, dates are taken as written.
    #[serde(default, deserialize_with = "optional_date")]
    pub as_of: Option<NaiveDate>,
    /// The library (consortium) as a whole.
    pub library: LibraryInfo,
    /// Its branches.
    #[serde(rename = "branch")]
    pub branches: Vec<Branch>,
    /// SIP2 accounts of self-check units and doors.
    #[serde(rename = "device")]
    pub devices: Vec<Device>,
    /// Staff accounts of the staff interface (Koha's offline circulation service logs in
    /// with one).
    #[serde(default, rename = "staff")]
    pub staff: Vec<Staff>,
    /// Loan periods and renewal limits per media type.
    #[serde(rename = "loan_rule")]
    pub loan_rules: Vec<LoanRule>,
    /// Patrons.
    #[serde(rename = "patron")]
    pub patrons: Vec<Patron>,
    /// Items.
    #[serde(rename = "item")]
    pub items: Vec<Item>,
    /// Which SIP2 extension fields carry which patron facts.
    #[serde(default)]
    pub extensions: Extensions,
}

/// The library as a whole.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryInfo {
    /// Name shown in the ACS status (AM).
    pub name: String,
    /// SIP2 institution id (AO).
    pub institution_id: String,
    /// Currency of fines (BH), three letters.
    pub currency: String,
    /// Fines at or above this block loans, in cents.
    pub fine_limit_cents: u32,
    /// Overdue fine per day, in cents.
    pub overdue_fine_per_day_cents: u32,
    /// Cap on the overdue fine of one loan, in cents.
    pub overdue_fine_cap_cents: u32,
    /// Most loans a patron may have at once.
    pub max_loans: usize,
}

/// A branch library.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    /// Code used in locations (`LEMI`).
    pub code: String,
    /// Name (`Lemin kirjasto`).
    pub name: String,
}

/// A device's SIP2 account.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Login user id (CN).
    pub login: String,
    /// Login password (CO).
    pub password: String,
    /// Branch code where the device stands.
    pub branch: String,
}

/// A staff account (Koha's `borrowers.userid` and password of a staff user).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    /// User id.
    pub userid: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for Staff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staff")
            .field("userid", &self.userid)
            .finish_non_exhaustive()
    }
}

/// Loan period and renewals of a media type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoanRule {
    /// Media type name used by items (`book`, `dvd`, …).
    pub media: String,
    /// SIP2 media type code (CK), three digits.
    pub sip_media_type: String,
    /// Loan period in days.
    pub loan_days: u32,
    /// How many times a loan may be renewed.
    pub max_renewals: u32,
}

/// A patron.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Patron {
    /// Card number.
    pub card: String,
    /// PIN.
    pub pin: String,
    /// Name, "Surname, Given".
    pub name: String,
    /// Birth date.
    #[serde(deserialize_with = "date")]
    pub birth_date: NaiveDate,
    /// Category (`ADULT`, `CHILD`, `STAFF`, …).
    pub category: String,
    /// Home branch code.
    pub home_branch: String,
    /// Card expiry date.
    #[serde(deserialize_with = "date")]
    pub card_expires: NaiveDate,
    /// Self-service permission (terms accepted, not revoked).
    #[serde(default)]
    pub self_service: bool,
    /// Guardian's consent to self-service, for patrons under 15.
    #[serde(default)]
    pub guardian_consent: bool,
    /// Blocks (lending bans and branch-specific self-service blocks).
    #[serde(default)]
    pub blocks: Vec<Block>,
    /// Fines owed at the start, in cents.
    #[serde(default)]
    pub fines_cents: u32,
    /// The card has been reported lost.
    #[serde(default)]
    pub card_lost: bool,
    /// Preferred language: `fi`, `sv` or `en`.
    #[serde(default = "default_language")]
    pub language: String,
    /// Whether the register can hand over a hash of the PIN for the offline list (bcrypt, as
    /// Koha keeps it). `false` for a PIN it cannot (set before the register hashed with
    /// bcrypt): the list then carries no verifier, and a door checks this patron's PIN offline
    /// only after it has seen it accepted online.
    #[serde(default = "exported")]
    pub export_pin: bool,
}

fn exported() -> bool {
    true
}

/// A date written as a TOML date (`1985-03-14`) or a string (`"1985-03-14"`).
fn date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let text = match Raw::deserialize(d)? {
        Raw::Toml(dt) => dt.to_string(),
        Raw::Text(s) => s,
    };
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        serde::de::Error::custom(format!("{text:?} is not a date; expected YYYY-MM-DD"))
    })
}

fn optional_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    date(d).map(Some)
}

fn default_language() -> String {
    "fi".into()
}

// Debug prints of fixtures must not carry card numbers, PINs, names, birth dates or passwords.
impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("login", &self.login)
            .field("password", &redact::REDACTED)
            .field("branch", &self.branch)
            .finish()
    }
}

impl std::fmt::Debug for Patron {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patron")
            .field("category", &self.category)
            .field("home_branch", &self.home_branch)
            .finish_non_exhaustive()
    }
}

/// A block on a patron.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// What kind: `lending` (a lending ban: no loans anywhere) or `self_service` (no
    /// self-service, at `branch` or everywhere).
    pub kind: BlockKind,
    /// The reason shown to the patron.
    pub reason: String,
    /// Only at this branch; everywhere if absent.
    pub branch: Option<String>,
    /// Last day the block applies; for ever if absent.
    #[serde(default, deserialize_with = "optional_date")]
    pub until: Option<NaiveDate>,
}

/// Kinds of block.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// No loans, renewals or holds.
    Lending,
    /// No self-service (door, kiosk), at one branch or everywhere.
    SelfService,
}

/// An item.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Barcode.
    pub barcode: String,
    /// Title.
    pub title: String,
    /// Author.
    pub author: String,
    /// Owning branch code.
    pub branch: String,
    /// Media type, one of the loan rules.
    pub media: String,
    /// Reference copy: not for loan.
    #[serde(default)]
    pub non_circulating: bool,
    /// Card numbers of patrons with a hold on this item, first in the queue first.
    #[serde(default)]
    pub holds: Vec<String>,
    /// Call number.
    #[serde(default)]
    pub call_number: String,
}

/// Which extension fields the simulator sends with patron facts (in 24 and 64). Library systems
/// disagree (Koha's PA is self-service blocks, Evergreen's is the expiry date), so this is data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Extensions {
    /// Birth date, `YYYYMMDD`.
    pub birth_date: String,
    /// Patron category.
    pub category: String,
    /// Self-service access blocks: `;`-separated `reason` or `BRANCH:reason:until`.
    pub self_service_blocks: String,
    /// Card expiry, `YYYYMMDD`.
    pub card_expiry: String,
    /// Self-service permission, `Y`/`N`.
    pub self_service: String,
    /// Guardian's consent, `Y`/`N`.
    pub guardian_consent: String,
    /// Home branch code.
    pub home_branch: String,
}

impl Extensions {
    /// The field code of a configured name, if it is one (checked when fixtures load).
    pub fn field_code(code: &str) -> Option<sip2::FieldCode> {
        match code.as_bytes() {
            [a, b]
                if [a, b]
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) =>
            {
                Some(sip2::FieldCode([*a, *b]))
            }
            _ => None,
        }
    }
}

impl Default for Extensions {
    fn default() -> Self {
        Self {
            birth_date: "PB".into(),
            category: "PC".into(),
            self_service_blocks: "PA".into(),
            card_expiry: "PX".into(),
            self_service: "PS".into(),
            guardian_consent: "PG".into(),
            home_branch: "AQ".into(),
        }
    }
}

impl Fixtures {
    /// Reads and validates a fixture file, its dates resolved for `today` (the library's local
    /// date by the simulator's clock).
    pub fn load(path: &Path, today: NaiveDate) -> Result<Self, ConfigError> {
        let mut f: Self = config::load(path)?;
        f.validate(path)?;
        f.resolve(today);
        Ok(f)
    }

    /// Parses and validates fixture text (for tests), its dates resolved for `today`.
    pub fn parse(path: &Path, text: &str, today: NaiveDate) -> Result<Self, ConfigError> {
        let mut f: Self = config::parse(path, text)?;
        f.validate(path)?;
        f.resolve(today);
        Ok(f)
    }

    /// Moves the dates written as of `as_of` to `today`, so that what each says about a patron
    /// holds: a date on or after `as_of` (a card's expiry, a block's end) moves by as many days
    /// as `today` is from `as_of`, staying as far ahead; a date before it (an expired card) stays
    /// in the past, moving only back when `today` is earlier than `as_of`; a minor's birth date
    /// (under 18 on `as_of`) moves with the days, so a child stays the same age; an adult's stays
    /// as written (an adult stays one, and a 29 February birthday stays one). Without `as_of`,
    /// nothing moves.
    pub fn resolve(&mut self, today: NaiveDate) {
        let Some(as_of) = self.as_of else { return };
        let shift = today.signed_duration_since(as_of);
        let by =
            |date: NaiveDate, days: chrono::Duration| date.checked_add_signed(days).unwrap_or(date);
        let moved = |date: NaiveDate| {
            if date >= as_of {
                by(date, shift)
            } else {
                by(date, shift.min(chrono::Duration::zero()))
            }
        };
        for p in &mut self.patrons {
            p.card_expires = moved(p.card_expires);
            for b in &mut p.blocks {
                b.until = b.until.map(moved);
            }
            if crate::circulation::Library::age(p, as_of) < 18 {
                p.birth_date = by(p.birth_date, shift);
            }
        }
        self.as_of = Some(today);
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: String, problem: String| Err(ConfigError::invalid(path, key, problem));
        let branches: HashSet<&str> = self.branches.iter().map(|b| b.code.as_str()).collect();
        if branches.len() != self.branches.len() {
            return bad("branch.code".into(), "two branches share a code".into());
        }
        if self.library.currency.len() != 3 || !self.library.currency.is_ascii() {
            return bad(
                "library.currency".into(),
                "expected three letters such as \"EUR\"".into(),
            );
        }
        for (i, d) in self.devices.iter().enumerate() {
            if !branches.contains(d.branch.as_str()) {
                return bad(
                    format!("device[{i}].branch"),
                    format!("unknown branch {:?}", d.branch),
                );
            }
        }
        for (i, st) in self.staff.iter().enumerate() {
            if st.userid.is_empty() || st.password.is_empty() {
                return bad(
                    format!("staff[{i}]"),
                    "expected a userid and a password, neither empty".into(),
                );
            }
        }
        let media: HashSet<&str> = self.loan_rules.iter().map(|r| r.media.as_str()).collect();
        for (i, r) in self.loan_rules.iter().enumerate() {
            if r.sip_media_type.len() != 3 || !r.sip_media_type.bytes().all(|b| b.is_ascii_digit())
            {
                return bad(
                    format!("loan_rule[{i}].sip_media_type"),
                    "expected three digits such as \"001\"".into(),
                );
            }
        }
        let mut cards = HashSet::new();
        for (i, p) in self.patrons.iter().enumerate() {
            if p.card.trim().is_empty() || !cards.insert(p.card.as_str()) {
                return bad(
                    format!("patron[{i}].card"),
                    "empty or used by another patron".into(),
                );
            }
            if !branches.contains(p.home_branch.as_str()) {
                return bad(
                    format!("patron[{i}].home_branch"),
                    format!("unknown branch {:?}", p.home_branch),
                );
            }
            if !["fi", "sv", "en"].contains(&p.language.as_str()) {
                return bad(
                    format!("patron[{i}].language"),
                    "expected \"fi\", \"sv\" or \"en\"".into(),
                );
            }
            for (j, b) in p.blocks.iter().enumerate() {
                if let Some(branch) = &b.branch {
                    if !branches.contains(branch.as_str()) {
                        return bad(
                            format!("patron[{i}].blocks[{j}].branch"),
                            format!("unknown branch {branch:?}"),
                        );
                    }
                }
            }
        }
        let mut barcodes = HashSet::new();
        for (i, it) in self.items.iter().enumerate() {
            if it.barcode.trim().is_empty() || !barcodes.insert(it.barcode.as_str()) {
                return bad(
                    format!("item[{i}].barcode"),
                    "empty or used by another item".into(),
                );
            }
            if !branches.contains(it.branch.as_str()) {
                return bad(
                    format!("item[{i}].branch"),
                    format!("unknown branch {:?}", it.branch),
                );
            }
            if !media.contains(it.media.as_str()) {
                return bad(
                    format!("item[{i}].media"),
                    format!("no loan_rule for media {:?}", it.media),
                );
            }
            for card in &it.holds {
                if !cards.contains(card.as_str()) {
                    return bad(
                        format!("item[{i}].holds"),
                        "a hold names a card no patron has".into(),
                    );
                }
            }
        }
        let x = &self.extensions;
        for (key, code) in [
            ("birth_date", &x.birth_date),
            ("category", &x.category),
            ("self_service_blocks", &x.self_service_blocks),
            ("card_expiry", &x.card_expiry),
            ("self_service", &x.self_service),
            ("guardian_consent", &x.guardian_consent),
            ("home_branch", &x.home_branch),
        ] {
            if Extensions::field_code(code).is_none() {
                return bad(
                    format!("extensions.{key}"),
                    format!(
                        "{code:?} is not a SIP2 field code; expected two upper-case letters or digits such as \"PB\""
                    ),
                );
            }
        }
        // Values go into SIP2 fields verbatim: the field delimiter would corrupt a frame.
        let texts = self
            .patrons
            .iter()
            .flat_map(|p| [&p.card, &p.pin, &p.name, &p.category])
            .chain(
                self.items
                    .iter()
                    .flat_map(|i| [&i.barcode, &i.title, &i.author, &i.call_number]),
            )
            .chain(self.branches.iter().flat_map(|b| [&b.code, &b.name]))
            .chain(self.devices.iter().flat_map(|d| [&d.login, &d.password]))
            .chain(
                self.patrons
                    .iter()
                    .flat_map(|p| p.blocks.iter().map(|b| &b.reason)),
            )
            .chain([&self.library.name, &self.library.institution_id]);
        for t in texts {
            if t.contains('|') || t.chars().any(char::is_control) {
                return bad(
                    "(any)".into(),
                    "a value contains '|' or a control character".into(),
                );
            }
        }
        Ok(())
    }

    /// The loan rule of a media type.
    pub fn rule(&self, media: &str) -> Option<&LoanRule> {
        self.loan_rules.iter().find(|r| r.media == media)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../fixtures/heili.toml");

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// The day the shipped file is written as of.
    fn as_of() -> NaiveDate {
        day(2026, 11, 24)
    }

    fn check(from: &str, to: &str) -> String {
        assert!(SHIPPED.contains(from), "{from}");
        let text = SHIPPED.replacen(from, to, 1);
        Fixtures::parse(Path::new("fixtures.toml"), &text, as_of())
            .unwrap_err()
            .to_string()
    }

    fn patron<'a>(f: &'a Fixtures, card: &str) -> &'a Patron {
        f.patrons.iter().find(|p| p.card == card).unwrap()
    }

    #[test]
    fn on_the_day_they_are_written_as_of_the_dates_are_as_written() {
        let f = Fixtures::parse(Path::new("heili.toml"), SHIPPED, as_of()).unwrap();
        assert_eq!(f.as_of, Some(as_of()));
        let ville = patron(&f, "24680000000102");
        assert_eq!(ville.blocks[0].until, Some(day(2026, 12, 31)));
        assert_eq!(patron(&f, "24680000000011").card_expires, day(2029, 12, 31));
        assert_eq!(patron(&f, "24680000000060").birth_date, day(2014, 5, 10));
    }

    #[test]
    fn every_patron_s_story_holds_on_any_day() {
        let written = Fixtures::parse(Path::new("heili.toml"), SHIPPED, as_of()).unwrap();
        // New Year, a leap day, Independence Day, the DST nights, decades ahead, and a day
        // before the file's own.
        for today in [
            day(2027, 1, 1),
            day(2027, 3, 28),
            day(2027, 10, 31),
            day(2027, 12, 6),
            day(2028, 2, 29),
            day(2030, 6, 30),
            day(2049, 12, 31),
            day(2026, 1, 1),
        ] {
            let f = Fixtures::parse(Path::new("heili.toml"), SHIPPED, today).unwrap();
            let age = |card| crate::circulation::Library::age(patron(&f, card), today);
            let aino = patron(&f, "24680000000011");
            assert!(
                aino.card_expires > today + chrono::Duration::days(365 * 3 - 30),
                "{today}"
            );
            assert_eq!(
                aino.birth_date,
                day(1985, 3, 14),
                "an adult's birth date as written"
            );
            let john = patron(&f, "24680000000110");
            assert_eq!(
                john.birth_date,
                day(2000, 2, 29),
                "still a leap-day birthday"
            );
            assert!(john.card_expires > today, "{today}");
            assert!(
                patron(&f, "24680000000086").card_expires < today,
                "Matti's has expired"
            );
            assert_eq!(age("24680000000060"), 12, "Ella on {today}");
            assert_eq!(age("24680000000078"), 13, "Onni on {today}");
            assert!(age("24680000000011") >= 18, "{today}");
            let until = patron(&f, "24680000000102").blocks[0].until.unwrap();
            assert_eq!((until - today).num_days(), 37, "Ville's block on {today}");
            // Nothing but dates moves.
            assert_eq!(f.patrons.len(), written.patrons.len());
            for (a, b) in f.patrons.iter().zip(&written.patrons) {
                assert_eq!((&a.card, &a.pin, &a.name), (&b.card, &b.pin, &b.name));
            }
        }
    }

    #[test]
    fn a_file_without_as_of_keeps_its_dates() {
        let text = SHIPPED.replacen("as_of = 2026-11-24", "", 1);
        let f = Fixtures::parse(Path::new("f.toml"), &text, day(2040, 1, 1)).unwrap();
        assert_eq!(f.as_of, None);
        assert_eq!(patron(&f, "24680000000011").card_expires, day(2029, 12, 31));
    }

    #[test]
    fn the_shipped_catalogue_is_valid_and_has_every_heili_branch() {
        let f = Fixtures::parse(Path::new("heili.toml"), SHIPPED, as_of()).unwrap();
        let names: Vec<&str> = f.branches.iter().map(|b| b.name.as_str()).collect();
        for town in [
            "Imatra",
            "Lappeenran",
            "Lemi",
            "Luumä",
            "Parikkala",
            "Rautjärv",
            "Ruokolahd",
            "Savitaipale",
            "Taipalsaar",
        ] {
            assert!(names.iter().any(|n| n.contains(town)), "{town}");
        }
    }

    #[test]
    fn mistakes_name_the_key() {
        let e = check("home_branch = \"LPR\"", "home_branch = \"LPP\"");
        assert_eq!(
            e,
            "fixtures.toml: key `patron[0].home_branch`: unknown branch \"LPP\""
        );
        let e = check("card = \"24680000000029\"", "card = \"24680000000011\"");
        assert!(e.contains("patron[1].card"), "{e}");
        let e = check(
            "media = \"dvd\"\ncall_number",
            "media = \"vhs\"\ncall_number",
        );
        assert!(e.contains("item[1].media") && e.contains("vhs"), "{e}");
        let e = check("title = \"Kalevala\"", "title = \"Kale|vala\"");
        assert!(e.contains("'|'"), "{e}");
        let e = check("birth_date = 1985-03-14", "birth_date = \"14.3.1985\"");
        assert!(e.contains("line") && e.contains("YYYY-MM-DD"), "{e}");
        let e = check("category = \"PC\"", "category = \"class\"");
        assert!(e.contains("extensions.category"), "{e}");
        let e = check("reason = \"Ovi jätetty auki\"", "reason = \"Ovi|auki\"");
        assert!(e.contains("'|'"), "{e}");
        let e = check("language = \"sv\"", "language = \"de\"");
        assert!(e.contains("patron[1].language"), "{e}");
        let e = check("as_of = 2026-11-24", "as_of = \"yesterday\"");
        assert!(e.contains("as_of") && e.contains("YYYY-MM-DD"), "{e}");
    }
}
