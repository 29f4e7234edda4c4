//! SIP2 requests built, and replies read into the [`crate::model`] types. Pure: the time and the
//! dialect's mapping come in as arguments.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use config::registry::{FlagEffect, PatronMapping};
use redact::{CardNumber, Personal, Pin};
use sip2::*;

use crate::model::*;

/// A SIP2 date of a local time.
pub fn sip_date(t: NaiveDateTime) -> SipDate {
    SipDate::local(
        u16::try_from(t.year()).unwrap_or(0),
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
    )
    .unwrap_or(SipDate {
        year: 0,
        month: 1,
        day: 1,
        zone: date::LOCAL,
        hour: 0,
        minute: 0,
        second: 0,
    })
}

/// A date as systems write it in extension fields: `YYYYMMDD`, `YYYY-MM-DD`, or a SIP2 date.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(d);
    }
    let digits = t.get(..8)?;
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// A due date (AH) as systems write it: a SIP2 date, `YYYY-MM-DD[ HH:MM[:SS]]`, `YYYYMMDD`, or
/// `DD.MM.YYYY`. End of day when no time is given.
pub fn parse_due(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(d) = SipDate::parse_lenient(t) {
        return NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))?
            .and_hms_opt(
                u32::from(d.hour),
                u32::from(d.minute),
                u32::from(d.second.min(59)),
            );
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(v) = NaiveDateTime::parse_from_str(t, f) {
            return Some(v);
        }
    }
    for f in ["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, f) {
            return d.and_hms_opt(23, 59, 59);
        }
    }
    None
}

fn yes_no(text: &str) -> Option<bool> {
    match text.trim().to_ascii_uppercase().as_str() {
        "Y" | "YES" | "1" | "TRUE" => Some(true),
        "N" | "NO" | "0" | "FALSE" => Some(false),
        _ => None,
    }
}

fn language(l: Language) -> Option<String> {
    Some(
        match l {
            Language::FINNISH => "fi",
            Language::SWEDISH => "sv",
            Language::ENGLISH => "en",
            _ => return None,
        }
        .to_owned(),
    )
}

fn message(lines: &[String]) -> Option<String> {
    let m = lines
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!m.is_empty()).then_some(m)
}

fn field(extra: &[Field], code: Option<FieldCode>) -> Option<&str> {
    let code = code?;
    extra
        .iter()
        .find(|f| f.code == code)
        .map(|f| f.value.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// The self-service blocks field: `branch:reason:YYYYMMDD` entries joined by `;`; branch and
/// date may be empty, and an entry without colons is a reason for every branch. Blocks whose
/// last day is before `today` are over and left out.
pub fn self_service_blocks(text: &str, today: NaiveDate) -> Vec<Block> {
    text.split(';')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .filter_map(|entry| {
            let mut parts = entry.splitn(3, ':');
            let (branch, reason, until) = match (parts.next(), parts.next(), parts.next()) {
                (Some(b), Some(r), u) => (
                    Some(b.trim()).filter(|b| !b.is_empty()),
                    r.trim(),
                    u.and_then(parse_date),
                ),
                (Some(r), None, _) => (None, r.trim(), None),
                _ => return None,
            };
            if until.is_some_and(|u| u < today) {
                return None;
            }
            Some(Block {
                kind: BlockKind::SelfServiceBlock,
                effect: FlagEffect::DenyAll,
                reason: Some(reason.to_owned()).filter(|r| !r.is_empty()),
                branch: branch.map(str::to_owned),
                until,
            })
        })
        .collect()
}

/// The parts of a 24 or 64 reply that verification reads.
#[derive(Debug)]
pub struct PatronReply<'a> {
    /// Flags.
    pub flags: &'a PatronStatusFlags,
    /// Language.
    pub language: Language,
    /// AE.
    pub name: &'a Personal<String>,
    /// BL.
    pub valid_patron: Option<bool>,
    /// CQ.
    pub valid_pin: Option<bool>,
    /// BV.
    pub fee_amount: Option<&'a str>,
    /// CC.
    pub fee_limit: Option<&'a str>,
    /// AF.
    pub screen_messages: &'a [String],
    /// Extension fields.
    pub extra: &'a [Field],
}

impl<'a> PatronReply<'a> {
    /// Of a 24.
    pub fn of_status(r: &'a PatronStatusResponse) -> Self {
        Self {
            flags: &r.patron_status,
            language: r.language,
            name: &r.personal_name,
            valid_patron: r.valid_patron,
            valid_pin: r.valid_patron_password,
            fee_amount: r.fee_amount.as_deref(),
            fee_limit: None,
            screen_messages: &r.screen_messages,
            extra: &r.extra,
        }
    }

    /// Of a 64.
    pub fn of_information(r: &'a PatronInformationResponse) -> Self {
        Self {
            flags: &r.patron_status,
            language: r.language,
            name: &r.personal_name,
            valid_patron: r.valid_patron,
            valid_pin: r.valid_patron_password,
            fee_amount: r.fee_amount.as_deref(),
            fee_limit: r.fee_limit.as_deref(),
            screen_messages: &r.screen_messages,
            extra: &r.extra,
        }
    }
}

/// Whether a Patron Information reply asked for the card alone (the PIN empty) with its charged
/// items says `item` is among them. Listed: yes. Not listed: no only when the list is evidently
/// whole: as long as its count, and given at all; a server that judged the empty PIN wrong (CQ N)
/// may keep the list back, counts and all (Koha's SIP server lists the items even then; others,
/// and the simulator, do not), so an empty list after CQ N does not say (`None`), nor does a page
/// shorter than the count.
pub fn lent_to(r: &PatronInformationResponse, item: &str) -> Option<bool> {
    if r.valid_patron == Some(false) {
        return Some(false);
    }
    if r.charged_items.iter().any(|i| i == item) {
        return Some(true);
    }
    let whole = usize::from(r.charged_items_count) <= r.charged_items.len();
    let given = r.valid_patron_password != Some(false) || !r.charged_items.is_empty();
    (whole && given).then_some(false)
}

/// The PIN to send: none at all for a card-only login (a kiosk configured without PINs), so the
/// library system checks no password instead of refusing an empty one.
pub fn pin_of(login: &PatronLogin) -> Option<Pin> {
    (!login.pin.is_empty()).then(|| login.pin.clone())
}

/// Reads a patron reply into a verification. With a PIN sent, a missing BL counts as valid (it
/// is optional and some systems leave it out) and a missing CQ as a wrong PIN: a system that
/// does not confirm the PIN has not checked it. `pin_given`: the request carried a PIN, which
/// must then be confirmed; a card-only login needs only a valid patron.
pub fn verification(
    r: &PatronReply<'_>,
    map: &PatronMapping,
    today: NaiveDate,
    pin_given: bool,
) -> Verification {
    let msg = message(r.screen_messages);
    if r.valid_patron == Some(false) {
        return Verification::UnknownCard { message: msg };
    }
    if !pin_given && r.valid_patron != Some(true) {
        return Verification::UnknownCard { message: msg };
    }
    if pin_given && r.valid_pin != Some(true) {
        return Verification::WrongPin { message: msg };
    }
    let f = &map.fields;
    let mut blocks: Vec<Block> = (0..14)
        .filter(|&i| r.flags.get(i) && map.flags[i] != FlagEffect::Ignore)
        .map(|i| Block {
            kind: BlockKind::FLAGS[i],
            effect: map.flags[i],
            reason: None,
            branch: None,
            until: None,
        })
        .collect();
    let card_expires = field(r.extra, f.card_expiry).and_then(parse_date);
    let mut card_valid = true;
    if card_expires.is_some_and(|e| e < today) {
        card_valid = false;
        blocks.push(Block {
            kind: BlockKind::CardExpired,
            effect: FlagEffect::DenyAll,
            reason: None,
            branch: None,
            until: None,
        });
    }
    let self_service = field(r.extra, f.self_service).and_then(yes_no);
    if self_service == Some(false) {
        blocks.push(Block {
            kind: BlockKind::SelfServiceDenied,
            effect: FlagEffect::DenyAll,
            reason: None,
            branch: None,
            until: None,
        });
    }
    if let Some(b) = field(r.extra, f.self_service_blocks) {
        blocks.extend(self_service_blocks(b, today));
    }
    // The library's words explain a lending ban better than the flag's name.
    if let Some(m) = &msg {
        for b in blocks
            .iter_mut()
            .filter(|b| b.kind == BlockKind::LendingBan)
        {
            b.reason = Some(m.clone());
        }
    }
    let name = Some(r.name.expose().trim())
        .filter(|n| !n.is_empty())
        .map(|n| Personal::new(n.to_owned()));
    Verification::Verified(Box::new(PatronFacts {
        card_valid,
        card_expires,
        birth_date: field(r.extra, f.birth_date)
            .and_then(parse_date)
            .map(Personal::new),
        category: field(r.extra, f.category).map(|v| v.trim().to_owned()),
        home_branch: field(r.extra, f.home_branch).map(|v| v.trim().to_owned()),
        self_service,
        guardian_consent: field(r.extra, f.guardian_consent).and_then(yes_no),
        blocks,
        fines: r.fee_amount.and_then(Cents::parse),
        fine_limit: r.fee_limit.and_then(Cents::parse),
        language: language(r.language),
        name,
        screen_message: msg,
    }))
}

/// A 12 or 30 reply as a loan outcome.
pub fn loan_outcome(r: &LoanResponse) -> LoanOutcome {
    let title = Some(r.title_identifier.trim().to_owned()).filter(|t| !t.is_empty());
    LoanOutcome {
        item: r.item_identifier.clone(),
        title,
        ok: r.ok,
        renewed: r.ok && r.renewal_ok,
        due: if r.ok { parse_due(&r.due_date) } else { None },
        message: message(&r.screen_messages),
        desensitize: r.desensitize,
    }
}

/// A 10 reply as a return outcome. CV alert types (3M): 01 hold here, 02 hold elsewhere, 04
/// transfer; 99 or an alert without a type is for the staff.
pub fn return_outcome(r: &CheckinResponse) -> ReturnOutcome {
    let destination = r
        .destination_location
        .clone()
        .filter(|d| !d.trim().is_empty());
    let route = if !r.alert {
        ReturnRoute::Shelf
    } else {
        match r.alert_type.as_deref().map(str::trim) {
            Some("01") | Some("02") => ReturnRoute::Hold,
            Some("04") => ReturnRoute::Transfer { to: destination },
            _ if destination.is_some() => ReturnRoute::Transfer { to: destination },
            _ => ReturnRoute::Staff,
        }
    };
    ReturnOutcome {
        item: r.item_identifier.clone(),
        title: r.title_identifier.clone().filter(|t| !t.trim().is_empty()),
        ok: r.ok,
        route,
        resensitize: Some(r.resensitize),
        message: message(&r.screen_messages),
    }
}

/// An 18 reply as item facts.
pub fn item_facts(r: &ItemInformationResponse) -> ItemFacts {
    let s = r.circulation_status;
    let status = match s {
        CirculationStatus::AVAILABLE | CirculationStatus::WAITING_TO_BE_RESHELVED => {
            ItemStatus::Available
        }
        CirculationStatus::CHARGED
        | CirculationStatus::CHARGED_NOT_TO_BE_RECALLED
        | CirculationStatus::RECALLED => ItemStatus::OnLoan,
        CirculationStatus::WAITING_ON_HOLD_SHELF | CirculationStatus::IN_TRANSIT => {
            ItemStatus::OnHoldOrInTransit
        }
        CirculationStatus::CLAIMED_RETURNED
        | CirculationStatus::LOST
        | CirculationStatus::MISSING => ItemStatus::Missing,
        _ => ItemStatus::Other,
    };
    let title = Some(r.title_identifier.trim().to_owned()).filter(|t| !t.is_empty());
    ItemFacts {
        item: r.item_identifier.clone(),
        // Systems answer an unknown barcode with an empty title and status "other" or "missing".
        known: title.is_some() || !matches!(status, ItemStatus::Other | ItemStatus::Missing),
        title,
        status,
        due: r.due_date.as_deref().and_then(parse_due),
        location: r
            .permanent_location
            .clone()
            .or_else(|| r.current_location.clone())
            .filter(|l| !l.trim().is_empty()),
        message: message(&r.screen_messages),
    }
}

/// A 66 reply as a renew-all outcome.
pub fn renew_all_outcome(r: &RenewAllResponse) -> RenewAllOutcome {
    RenewAllOutcome {
        renewed: r.renewed_items.clone(),
        not_renewed: r.unrenewed_items.clone(),
        message: message(&r.screen_messages),
    }
}

/// The requests, dated `now` (the library's local time).
#[derive(Debug, Clone)]
pub struct Requests {
    /// AO.
    pub institution: String,
    /// CP for returns.
    pub location: Option<String>,
}

impl Requests {
    /// 93.
    pub fn login(&self, user: &str, password: &Pin) -> Message {
        Message::Login(LoginRequest {
            uid_algorithm: b'0',
            pwd_algorithm: b'0',
            login_user_id: user.into(),
            login_password: password.clone(),
            location_code: self.location.clone(),
            extra: vec![],
        })
    }

    /// 99.
    pub fn sc_status() -> Message {
        Message::ScStatus(ScStatus {
            status: ScStatusCode::OK,
            max_print_width: 40,
            protocol_version: "2.00".into(),
            extra: vec![],
        })
    }

    /// 63, asking for the list at `summary` (or none).
    pub fn patron_information(
        &self,
        login: &PatronLogin,
        summary: Option<usize>,
        now: NaiveDateTime,
    ) -> Message {
        Message::PatronInformation(PatronInformationRequest {
            language: Language::UNKNOWN,
            transaction_date: sip_date(now),
            summary: summary.map(Summary::asking_for).unwrap_or_default(),
            institution_id: self.institution.clone(),
            patron_identifier: login.card.clone(),
            terminal_password: None,
            patron_password: pin_of(login),
            start_item: None,
            end_item: None,
            extra: vec![],
        })
    }

    /// 11.
    pub fn checkout(&self, login: &PatronLogin, item: &str, now: NaiveDateTime) -> Message {
        Message::Checkout(CheckoutRequest {
            sc_renewal_policy: false,
            no_block: false,
            transaction_date: sip_date(now),
            nb_due_date: None,
            institution_id: self.institution.clone(),
            patron_identifier: login.card.clone(),
            item_identifier: item.into(),
            terminal_password: Pin::default(),
            item_properties: None,
            patron_password: pin_of(login),
            fee_acknowledged: None,
            cancel: None,
            extra: vec![],
        })
    }

    /// 11 with the no-block flag: a loan made offline at `at`, due `due`, sent without the PIN.
    pub fn checkout_deferred(
        &self,
        card: &CardNumber,
        item: &str,
        at: NaiveDateTime,
        due: Option<NaiveDateTime>,
    ) -> Message {
        Message::Checkout(CheckoutRequest {
            sc_renewal_policy: false,
            no_block: true,
            transaction_date: sip_date(at),
            nb_due_date: due.map(sip_date),
            institution_id: self.institution.clone(),
            patron_identifier: card.clone(),
            item_identifier: item.into(),
            terminal_password: Pin::default(),
            item_properties: None,
            patron_password: None,
            fee_acknowledged: None,
            cancel: None,
            extra: vec![],
        })
    }

    /// 09 with the no-block flag: a return made offline at `at`.
    pub fn checkin_deferred(&self, item: &str, at: NaiveDateTime) -> Message {
        Message::Checkin(CheckinRequest {
            no_block: true,
            transaction_date: sip_date(at),
            return_date: Some(sip_date(at)),
            current_location: self.location.clone().unwrap_or_default(),
            institution_id: self.institution.clone(),
            item_identifier: item.into(),
            terminal_password: Pin::default(),
            item_properties: None,
            cancel: None,
            extra: vec![],
        })
    }

    /// 09, at this device's location.
    pub fn checkin(&self, item: &str, now: NaiveDateTime) -> Message {
        Message::Checkin(CheckinRequest {
            no_block: false,
            transaction_date: sip_date(now),
            // Returned when sent: strict servers refuse the 18 blanks a "no return date" was.
            return_date: Some(sip_date(now)),
            current_location: self.location.clone().unwrap_or_default(),
            institution_id: self.institution.clone(),
            item_identifier: item.into(),
            terminal_password: Pin::default(),
            item_properties: None,
            cancel: None,
            extra: vec![],
        })
    }

    /// 29.
    pub fn renew(&self, login: &PatronLogin, item: &str, now: NaiveDateTime) -> Message {
        Message::Renew(RenewRequest {
            third_party_allowed: false,
            no_block: false,
            transaction_date: sip_date(now),
            nb_due_date: None,
            institution_id: self.institution.clone(),
            patron_identifier: login.card.clone(),
            patron_password: pin_of(login),
            item_identifier: Some(item.into()),
            title_identifier: None,
            terminal_password: None,
            item_properties: None,
            fee_acknowledged: None,
            extra: vec![],
        })
    }

    /// 65.
    pub fn renew_all(&self, login: &PatronLogin, now: NaiveDateTime) -> Message {
        Message::RenewAll(RenewAllRequest {
            transaction_date: sip_date(now),
            institution_id: self.institution.clone(),
            patron_identifier: login.card.clone(),
            patron_password: pin_of(login),
            terminal_password: None,
            fee_acknowledged: None,
            extra: vec![],
        })
    }

    /// 17.
    pub fn item_information(&self, item: &str, now: NaiveDateTime) -> Message {
        Message::ItemInformation(ItemInformationRequest {
            transaction_date: sip_date(now),
            institution_id: self.institution.clone(),
            item_identifier: item.into(),
            terminal_password: None,
            extra: vec![],
        })
    }

    /// 35.
    pub fn end_session(&self, card: &CardNumber, now: NaiveDateTime) -> Message {
        Message::EndPatronSession(EndPatronSessionRequest {
            transaction_date: sip_date(now),
            institution_id: self.institution.clone(),
            patron_identifier: card.clone(),
            terminal_password: None,
            patron_password: None,
            extra: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64 reply as a server sends it: `charged` items counted, `fields` after AO, AA and AE.
    fn information(charged: u16, fields: &str) -> PatronInformationResponse {
        let frame = format!(
            "64              00020261203    20000000000000{charged:04}000000000000AOheili|AA24680000000011|AEAino|{fields}"
        );
        let plain = Dialect {
            error_detection: false,
            ..Dialect::standard()
        };
        match Message::decode(frame.as_bytes(), &plain).unwrap().message {
            Message::PatronInformationResponse(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn whose_loan_an_item_is_is_said_only_when_the_reply_can_say_it() {
        // Koha answers a card alone with the list, and no CQ (no PIN was given to judge).
        let listed = information(2, "BLY|AUHE0000001|AUHE0000002|");
        assert_eq!(lent_to(&listed, "HE0000002"), Some(true));
        assert_eq!(lent_to(&listed, "HE0000003"), Some(false));
        // No loans at all.
        assert_eq!(lent_to(&information(0, "BLY|"), "HE0000003"), Some(false));
        // Not a patron: not theirs.
        assert_eq!(lent_to(&information(0, "BLN|"), "HE0000003"), Some(false));
        // The empty PIN judged wrong: an empty list may have been kept back, counts and all...
        assert_eq!(lent_to(&information(2, "BLY|CQN|"), "HE0000003"), None);
        assert_eq!(lent_to(&information(0, "BLY|CQN|"), "HE0000003"), None);
        // ...but a list given in full all the same (Koha's way) says.
        let koha = information(2, "BLY|CQN|AUHE0000001|AUHE0000002|");
        assert_eq!(lent_to(&koha, "HE0000002"), Some(true));
        assert_eq!(lent_to(&koha, "HE0000003"), Some(false));
        // A list shorter than its count (a page): the item may be on the next one.
        assert_eq!(
            lent_to(&information(3, "BLY|AUHE0000001|"), "HE0000003"),
            None
        );
        assert_eq!(
            lent_to(&information(3, "BLY|AUHE0000001|"), "HE0000001"),
            Some(true)
        );
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn reply_with(
        flags: PatronStatusFlags,
        extra: Vec<Field>,
        pin_ok: Option<bool>,
    ) -> (PatronStatusResponse, PatronMapping) {
        let r = PatronStatusResponse {
            patron_status: flags,
            language: Language::SWEDISH,
            transaction_date: sip_date(day(2026, 1, 15).and_hms_opt(21, 0, 0).unwrap()),
            institution_id: "heili".into(),
            patron_identifier: CardNumber::new("24680000000011"),
            personal_name: Personal::new("Aino Virtanen".into()),
            valid_patron: Some(true),
            valid_patron_password: pin_ok,
            currency_type: Some("EUR".into()),
            fee_amount: Some("2,50".into()),
            screen_messages: vec!["Lainauskielto: palauttamattomia".into()],
            print_lines: vec![],
            extra,
        };
        (r, PatronMapping::preset("aurora"))
    }

    #[test]
    fn facts_come_from_flags_and_extension_fields() {
        let mut flags = PatronStatusFlags::default();
        flags.set(PatronStatusFlags::CHARGE_PRIVILEGES_DENIED, true);
        flags.set(PatronStatusFlags::HOLD_PRIVILEGES_DENIED, true);
        flags.set(PatronStatusFlags::TOO_MANY_ITEMS_OVERDUE, true);
        let extra = vec![
            Field::new(FieldCode(*b"PB"), "20100301"),
            Field::new(FieldCode(*b"PC"), "LAPSI"),
            Field::new(FieldCode(*b"AQ"), "LPR"),
            Field::new(FieldCode(*b"PX"), "20251231"),
            Field::new(FieldCode(*b"PS"), "Y"),
            Field::new(FieldCode(*b"PG"), "N"),
            Field::new(
                FieldCode(*b"PA"),
                "IMA:Ilkivalta:20260301;LPR:vanha:20250101",
            ),
        ];
        let (r, map) = reply_with(flags, extra, Some(true));
        let today = day(2026, 1, 15);
        let v = verification(&PatronReply::of_status(&r), &map, today, true);
        let f = v.facts().unwrap();
        assert_eq!(f.age_on(today), Some(15));
        assert_eq!(f.category.as_deref(), Some("LAPSI"));
        assert_eq!(f.home_branch.as_deref(), Some("LPR"));
        assert_eq!(f.card_expires, Some(day(2025, 12, 31)));
        assert!(!f.card_valid);
        assert_eq!(f.self_service, Some(true));
        assert_eq!(f.guardian_consent, Some(false));
        assert_eq!(f.fines, Some(Cents(250)));
        assert_eq!(f.language.as_deref(), Some("sv"));
        let kinds: Vec<_> = f.blocks.iter().map(|b| (b.kind, b.effect)).collect();
        assert_eq!(
            kinds,
            vec![
                (BlockKind::LendingBan, FlagEffect::DenyAll),
                (BlockKind::TooManyOverdue, FlagEffect::Note),
                (BlockKind::CardExpired, FlagEffect::DenyAll),
                (BlockKind::SelfServiceBlock, FlagEffect::DenyAll),
            ],
            "hold privileges denied is ignored; the block that ended in 2025 is left out"
        );
        assert_eq!(
            f.blocks[0].reason.as_deref(),
            Some("Lainauskielto: palauttamattomia")
        );
        assert_eq!(f.blocks[3].branch.as_deref(), Some("IMA"));
        assert_eq!(f.blocks[3].until, Some(day(2026, 3, 1)));
        assert!(f.denies_entry() && f.denies_loans());
    }

    #[test]
    fn a_flag_override_changes_what_it_stops() {
        let mut flags = PatronStatusFlags::default();
        flags.set(PatronStatusFlags::HOLD_PRIVILEGES_DENIED, true);
        let (r, mut map) = reply_with(flags, vec![], Some(true));
        map.flags[PatronStatusFlags::HOLD_PRIVILEGES_DENIED] = FlagEffect::DenyLoans;
        let v = verification(&PatronReply::of_status(&r), &map, day(2026, 1, 1), true);
        let f = v.facts().unwrap();
        assert!(f.denies_loans());
        assert!(!f.denies_entry());
    }

    #[test]
    fn wrong_or_unconfirmed_pin_is_a_no() {
        let (r, map) = reply_with(PatronStatusFlags::default(), vec![], Some(false));
        assert!(matches!(
            verification(&PatronReply::of_status(&r), &map, day(2026, 1, 1), true),
            Verification::WrongPin { .. }
        ));
        let (r, map) = reply_with(PatronStatusFlags::default(), vec![], None);
        assert!(matches!(
            verification(&PatronReply::of_status(&r), &map, day(2026, 1, 1), true),
            Verification::WrongPin { .. }
        ));
        let (mut r, map) = reply_with(PatronStatusFlags::default(), vec![], Some(true));
        r.valid_patron = Some(false);
        assert!(matches!(
            verification(&PatronReply::of_status(&r), &map, day(2026, 1, 1), true),
            Verification::UnknownCard { .. }
        ));
    }

    #[test]
    fn a_card_only_login_needs_a_valid_patron_not_a_pin() {
        let (mut r, map) = reply_with(PatronStatusFlags::default(), vec![], None);
        r.valid_patron = Some(true);
        let v = verification(&PatronReply::of_status(&r), &map, day(2026, 1, 1), false);
        assert!(v.facts().is_some());
        r.valid_patron = None;
        assert!(matches!(
            verification(&PatronReply::of_status(&r), &map, day(2026, 1, 1), false),
            Verification::UnknownCard { .. }
        ));
    }

    #[test]
    fn due_dates_in_the_forms_systems_send() {
        let at = |y, m, d, h, mi, s| day(y, m, d).and_hms_opt(h, mi, s).unwrap();
        assert_eq!(
            parse_due("20260212    235959"),
            Some(at(2026, 2, 12, 23, 59, 59))
        );
        assert_eq!(
            parse_due("2026-02-12 23:59"),
            Some(at(2026, 2, 12, 23, 59, 0))
        );
        assert_eq!(parse_due("2026-02-12"), Some(at(2026, 2, 12, 23, 59, 59)));
        assert_eq!(parse_due("12.02.2026"), Some(at(2026, 2, 12, 23, 59, 59)));
        assert_eq!(parse_due(""), None);
        assert_eq!(parse_due("soon"), None);
    }

    /// Every request the client sends, in every dialect, checked as a server that validates the
    /// date format reads it (chrono, not our parser): each 18-character date a real date, zone
    /// blank, and the checksum four upper-case hex digits.
    #[test]
    fn every_request_the_client_sends_carries_valid_dates_and_checksums() {
        let r = Requests {
            institution: "heili".into(),
            location: Some("LPR".into()),
        };
        let login = PatronLogin {
            card: CardNumber::new("24680000000011"),
            pin: Pin::new("1234"),
        };
        let card_only = PatronLogin {
            card: CardNumber::new("24680000000011"),
            pin: Pin::default(),
        };
        // Leap day, last second of the day: the edges a formatter gets wrong.
        let now = day(2028, 2, 29).and_hms_opt(23, 59, 59).unwrap();
        let requests = vec![
            r.login("kiosk1", &Pin::new("secret")),
            Requests::sc_status(),
            r.patron_information(&login, None, now),
            r.patron_information(&card_only, Some(Summary::CHARGED_ITEMS), now),
            r.checkout(&login, "HE0000001", now),
            r.checkout_deferred(&login.card, "HE0000001", now, None),
            r.checkout_deferred(&login.card, "HE0000001", now, Some(now)),
            r.checkin("HE0000001", now),
            r.checkin_deferred("HE0000001", now),
            r.renew(&login, "HE0000001", now),
            r.renew_all(&login, now),
            r.item_information("HE0000001", now),
            r.end_session(&login.card, now),
            Message::RequestAcsResend(Resend::default()),
        ];
        let ids: Vec<_> = requests.iter().map(Message::id).collect();
        for id in [b"11", b"09", b"29", b"63", b"65", b"17", b"35"] {
            assert!(ids.contains(id), "{}", String::from_utf8_lossy(id));
        }
        for preset in Dialect::PRESETS {
            let mut dialect = Dialect::preset(preset).unwrap();
            dialect.error_detection = true;
            for (i, m) in requests.iter().enumerate() {
                let bytes = m.encode(&dialect, Some(7)).unwrap();
                let frame = String::from_utf8_lossy(&bytes).trim_end().to_owned();
                for &at in fixed_date_offsets(&m.id()) {
                    let slot = &frame[at..at + 18];
                    assert_eq!(&slot[8..12], "    ", "{preset} {}: {slot:?}", m.name());
                    let read = NaiveDateTime::parse_from_str(
                        &format!("{}{}", &slot[..8], &slot[12..]),
                        "%Y%m%d%H%M%S",
                    );
                    assert_eq!(read, Ok(now), "{preset} {}: {slot:?}", m.name());
                }
                let sum = &frame[frame.len() - 4..];
                assert_eq!(&frame[frame.len() - 6..frame.len() - 4], "AZ", "{i}");
                assert!(
                    sum.bytes()
                        .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
                    "{preset} {}: {sum:?}",
                    m.name()
                );
            }
        }
        // The checkin's return date is the transaction time.
        let Message::Checkin(c) = r.checkin("HE0000001", now) else {
            panic!()
        };
        assert_eq!(c.return_date, Some(c.transaction_date));
    }

    #[test]
    fn amounts_in_the_forms_systems_send() {
        assert_eq!(Cents::parse("12.50"), Some(Cents(1250)));
        assert_eq!(Cents::parse("12,5"), Some(Cents(1250)));
        assert_eq!(Cents::parse("3"), Some(Cents(300)));
        assert_eq!(Cents::parse("-0.40"), Some(Cents(-40)));
        assert_eq!(Cents::parse(".75"), Some(Cents(75)));
        assert_eq!(Cents::parse("EUR"), None);
        assert_eq!(Cents::parse(""), None);
        assert_eq!(Cents(-40).to_string(), "-0.40");
    }

    #[test]
    fn return_routes_follow_the_alert_type() {
        let r = |alert: bool, t: Option<&str>, dest: Option<&str>| CheckinResponse {
            ok: true,
            resensitize: true,
            magnetic_media: None,
            alert,
            transaction_date: sip_date(day(2026, 1, 1).and_hms_opt(0, 0, 0).unwrap()),
            institution_id: "heili".into(),
            item_identifier: "HE1".into(),
            permanent_location: "LPR".into(),
            title_identifier: None,
            sort_bin: None,
            patron_identifier: None,
            media_type: None,
            item_properties: None,
            collection_code: None,
            call_number: None,
            destination_location: dest.map(Into::into),
            alert_type: t.map(Into::into),
            hold_patron_id: None,
            hold_patron_name: None,
            screen_messages: vec![],
            print_lines: vec![],
            extra: vec![],
        };
        assert_eq!(
            return_outcome(&r(false, None, None)).route,
            ReturnRoute::Shelf
        );
        assert_eq!(
            return_outcome(&r(true, Some("01"), None)).route,
            ReturnRoute::Hold
        );
        assert_eq!(
            return_outcome(&r(true, Some("04"), Some("IMA"))).route,
            ReturnRoute::Transfer {
                to: Some("IMA".into())
            }
        );
        assert_eq!(
            return_outcome(&r(true, None, None)).route,
            ReturnRoute::Staff
        );
    }
}
