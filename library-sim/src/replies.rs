//! What the library system answers to each request: SIP2 messages built from the circulation
//! rules. Pure: the time and the device come in as arguments.

pub use chrono::NaiveDateTime;
use redact::{CardNumber, Personal, Pin};
use sip2::*;

use crate::circulation::{Checkout, Library, Refusal, Standing};
use crate::fixtures::{Device, Patron};

/// The library's local time now.
pub fn local_now() -> NaiveDateTime {
    chrono::Local::now().naive_local()
}

/// A SIP2 date of a local time (the registry client's, so both sides write dates alike).
pub use registry::sip2::mapping::sip_date;

/// A local time of a SIP2 date (the zone is taken as local, as the library's own clock).
pub fn naive(d: &SipDate) -> Option<NaiveDateTime> {
    chrono::NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))?
        .and_hms_opt(
            u32::from(d.hour),
            u32::from(d.minute),
            u32::from(d.second.min(59)),
        )
}

/// A PIN the device sent: an empty AD (which dialects send when the PIN was checked before, in 23
/// or 63) is no PIN.
fn given(pin: &Option<Pin>) -> Option<&Pin> {
    pin.as_ref().filter(|p| !p.is_empty())
}

fn euros(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Parses a fee amount as systems write it: `12.50`, `12,50`, `12`.
pub fn cents(amount: &str) -> Option<u32> {
    let a = amount.trim().replace(',', ".");
    let (whole, frac) = a.split_once('.').unwrap_or((&a, "0"));
    let frac = format!("{frac:0<2}");
    if frac.len() != 2 || whole.is_empty() {
        return None;
    }
    Some(whole.parse::<u32>().ok()?.checked_mul(100)? + frac.parse::<u32>().ok()?)
}

fn language_code(patron: Option<&Patron>) -> Language {
    match patron.map(|p| p.language.as_str()) {
        Some("sv") => Language::SWEDISH,
        Some("en") => Language::ENGLISH,
        Some(_) => Language::FINNISH,
        None => Language::UNKNOWN,
    }
}

fn language(patron: Option<&Patron>) -> &str {
    patron.map_or("fi", |p| p.language.as_str())
}

/// The patron-status flags of a standing.
fn flags(s: &Standing) -> PatronStatusFlags {
    let mut f = PatronStatusFlags::default();
    let denied = s.refusal.is_some() && !matches!(s.refusal, Some(Refusal::TooManyLoans));
    f.set(
        PatronStatusFlags::CHARGE_PRIVILEGES_DENIED,
        s.refusal.is_some(),
    );
    f.set(PatronStatusFlags::RENEWAL_PRIVILEGES_DENIED, denied);
    f.set(PatronStatusFlags::RECALL_PRIVILEGES_DENIED, denied);
    f.set(
        PatronStatusFlags::HOLD_PRIVILEGES_DENIED,
        s.lending_ban || s.card_lost,
    );
    f.set(PatronStatusFlags::CARD_REPORTED_LOST, s.card_lost);
    f.set(PatronStatusFlags::TOO_MANY_ITEMS_CHARGED, s.too_many_loans);
    f.set(PatronStatusFlags::TOO_MANY_ITEMS_OVERDUE, s.overdue > 0);
    f.set(
        PatronStatusFlags::EXCESSIVE_OUTSTANDING_FINES,
        s.fines_over_limit,
    );
    f
}

/// The parts of a patron reply (24, 64) common to both.
#[derive(Debug)]
pub struct PatronReply {
    /// Flags.
    pub flags: PatronStatusFlags,
    /// Language.
    pub language: Language,
    /// AE, empty unless the PIN was right.
    pub name: String,
    /// BL.
    pub valid_patron: bool,
    /// CQ.
    pub valid_pin: bool,
    /// BV.
    pub fee_amount: Option<String>,
    /// AF.
    pub screen_message: String,
    /// Extension fields.
    pub extra: Vec<Field>,
}

/// The answer about a patron. Personal facts (name, birth date, …) are given only with the right
/// PIN: the register's privacy notice lets self-service use card and PIN to check patronship, no more.
pub fn patron_reply(lib: &Library, card: &str, pin: &Pin, now: NaiveDateTime) -> PatronReply {
    let Some(patron) = lib.patron(card) else {
        let mut f = PatronStatusFlags::default();
        for i in 0..4 {
            f.set(i, true);
        }
        return PatronReply {
            flags: f,
            language: Language::UNKNOWN,
            name: String::new(),
            valid_patron: false,
            valid_pin: false,
            fee_amount: None,
            screen_message: Refusal::UnknownPatron.message("fi"),
            extra: vec![],
        };
    };
    let standing = lib.standing(patron, now);
    let valid_pin = pin.matches(&patron.pin);
    let lang = language(Some(patron));
    if !valid_pin {
        return PatronReply {
            flags: flags(&standing),
            language: language_code(Some(patron)),
            name: String::new(),
            valid_patron: true,
            valid_pin: false,
            fee_amount: None,
            screen_message: Refusal::WrongPin.message(lang),
            extra: vec![],
        };
    }
    let ext = &lib.fixtures.extensions;
    // Codes are checked when the fixtures load, so the fallback is never sent.
    let code = |c: &str| crate::fixtures::Extensions::field_code(c).unwrap_or(FieldCode(*b"XX"));
    let blocks = standing
        .self_service_blocks
        .iter()
        .map(|(branch, reason, until)| match (branch, until) {
            (Some(b), Some(u)) => format!("{b}:{reason}:{}", u.format("%Y%m%d")),
            (Some(b), None) => format!("{b}:{reason}:"),
            (None, _) => reason.clone(),
        })
        .collect::<Vec<_>>()
        .join(";");
    let yn = |b: bool| if b { "Y" } else { "N" };
    let mut extra = vec![
        Field::new(
            code(&ext.birth_date),
            patron.birth_date.format("%Y%m%d").to_string(),
        ),
        Field::new(code(&ext.category), patron.category.clone()),
        Field::new(
            code(&ext.card_expiry),
            patron.card_expires.format("%Y%m%d").to_string(),
        ),
        Field::new(code(&ext.self_service), yn(patron.self_service)),
        Field::new(code(&ext.guardian_consent), yn(patron.guardian_consent)),
        Field::new(code(&ext.home_branch), patron.home_branch.clone()),
    ];
    if !blocks.is_empty() {
        extra.push(Field::new(code(&ext.self_service_blocks), blocks));
    }
    let screen_message = match &standing.refusal {
        Some(r) => r.message(lang),
        None => match lang {
            "sv" => "Välkommen!".into(),
            "en" => "Welcome!".into(),
            _ => "Tervetuloa!".into(),
        },
    };
    PatronReply {
        flags: flags(&standing),
        language: language_code(Some(patron)),
        name: patron.name.clone(),
        valid_patron: true,
        valid_pin: true,
        fee_amount: Some(euros(standing.fines_cents)),
        screen_message,
        extra,
    }
}

/// 24 for a patron status request (or a block patron message).
pub fn patron_status(
    lib: &Library,
    institution: &str,
    card: &CardNumber,
    pin: &Pin,
    now: NaiveDateTime,
) -> PatronStatusResponse {
    let r = patron_reply(lib, card.expose(), pin, now);
    PatronStatusResponse {
        patron_status: r.flags,
        language: r.language,
        transaction_date: sip_date(now),
        institution_id: institution.into(),
        patron_identifier: card.clone(),
        personal_name: Personal::new(r.name),
        valid_patron: Some(r.valid_patron),
        valid_patron_password: Some(r.valid_pin),
        currency_type: Some(lib.fixtures.library.currency.clone()),
        fee_amount: r.fee_amount,
        screen_messages: vec![r.screen_message],
        print_lines: vec![],
        extra: r.extra,
    }
}

fn window(list: Vec<String>, start: Option<&str>, end: Option<&str>) -> Vec<String> {
    let parse = |s: Option<&str>| s.and_then(|v| v.trim().parse::<usize>().ok());
    let start = parse(start).unwrap_or(1).max(1);
    let end = parse(end).unwrap_or(list.len()).max(start);
    list.into_iter()
        .skip(start - 1)
        .take(end - start + 1)
        .collect()
}

/// 64 for a patron information request.
pub fn patron_information(
    lib: &Library,
    req: &PatronInformationRequest,
    now: NaiveDateTime,
) -> PatronInformationResponse {
    let card = req.patron_identifier.expose();
    let pin = req.patron_password.clone().unwrap_or_default();
    let r = patron_reply(lib, card, &pin, now);
    let (loans, overdue, holds): (Vec<String>, Vec<String>, Vec<String>) = if r.valid_pin {
        (
            lib.loans_of(card).map(|(b, _)| b.clone()).collect(),
            lib.loans_of(card)
                .filter(|(_, l)| l.due < now)
                .map(|(b, _)| b.clone())
                .collect(),
            lib.holds_of(card).cloned().collect(),
        )
    } else {
        Default::default()
    };
    // A hold whose item is on the shelf waits for the patron (SIP2's hold items); one whose
    // item is still out on loan is an unavailable hold.
    let (holds, unavailable): (Vec<String>, Vec<String>) = holds
        .into_iter()
        .partition(|b| !lib.state.loans.contains_key(b));
    let count = |v: &Vec<String>| u16::try_from(v.len()).unwrap_or(9999).min(9999);
    let asked = req.summary.requested();
    let list = |pos: usize, v: &Vec<String>| {
        if asked == Some(pos) {
            window(
                v.clone(),
                req.start_item.as_deref(),
                req.end_item.as_deref(),
            )
        } else {
            vec![]
        }
    };
    PatronInformationResponse {
        patron_status: r.flags,
        language: r.language,
        transaction_date: sip_date(now),
        hold_items_count: count(&holds),
        overdue_items_count: count(&overdue),
        charged_items_count: count(&loans),
        fine_items_count: 0,
        recall_items_count: 0,
        unavailable_holds_count: count(&unavailable),
        institution_id: req.institution_id.clone(),
        patron_identifier: req.patron_identifier.clone(),
        personal_name: Personal::new(r.name),
        hold_items_limit: None,
        overdue_items_limit: None,
        charged_items_limit: Some(format!("{:04}", lib.fixtures.library.max_loans.min(9999))),
        valid_patron: Some(r.valid_patron),
        valid_patron_password: Some(r.valid_pin),
        currency_type: Some(lib.fixtures.library.currency.clone()),
        fee_amount: r.fee_amount,
        fee_limit: Some(euros(lib.fixtures.library.fine_limit_cents)),
        hold_items: list(Summary::HOLD_ITEMS, &holds),
        overdue_items: list(Summary::OVERDUE_ITEMS, &overdue),
        charged_items: list(Summary::CHARGED_ITEMS, &loans),
        fine_items: vec![],
        recall_items: vec![],
        unavailable_hold_items: list(Summary::UNAVAILABLE_HOLDS, &unavailable),
        home_address: None,
        email_address: None,
        home_phone_number: None,
        screen_messages: vec![r.screen_message],
        print_lines: vec![],
        extra: r.extra,
    }
}

fn loan_response(
    lib: &Library,
    institution: &str,
    card: &CardNumber,
    barcode: &str,
    now: NaiveDateTime,
) -> LoanResponse {
    let item = lib.item(barcode);
    LoanResponse {
        ok: false,
        renewal_ok: false,
        magnetic_media: Some(false),
        desensitize: Some(false),
        transaction_date: sip_date(now),
        institution_id: institution.into(),
        patron_identifier: card.clone(),
        item_identifier: barcode.into(),
        title_identifier: item.map(|i| i.title.clone()).unwrap_or_default(),
        due_date: String::new(),
        fee_type: None,
        security_inhibit: None,
        currency_type: None,
        fee_amount: None,
        media_type: item
            .and_then(|i| lib.fixtures.rule(&i.media))
            .map(|r| r.sip_media_type.clone()),
        item_properties: None,
        transaction_id: None,
        screen_messages: vec![],
        print_lines: vec![],
        extra: vec![],
    }
}

fn due_message(lang: &str, due: NaiveDateTime) -> String {
    let d = due.format("%-d.%-m.%Y");
    match lang {
        "sv" => format!("Förfallodag {d}"),
        "en" => format!("Due {}", due.format("%Y-%m-%d")),
        _ => format!("Eräpäivä {d}"),
    }
}

/// 11 → 12. Mutates the library when the loan is made.
pub fn checkout(lib: &mut Library, req: &CheckoutRequest, now: NaiveDateTime) -> LoanResponse {
    let card = req.patron_identifier.expose();
    let mut resp = loan_response(
        lib,
        &req.institution_id,
        &req.patron_identifier,
        &req.item_identifier,
        now,
    );
    let lang = language(lib.patron(card)).to_owned();
    if let (Some(pin), false) = (given(&req.patron_password), req.no_block) {
        if lib.pin_ok(card, pin) == Some(false) {
            resp.screen_messages.push(Refusal::WrongPin.message(&lang));
            return resp;
        }
    }
    let lent_at = if req.no_block {
        naive(&req.transaction_date).unwrap_or(now)
    } else {
        now
    };
    // A due date not after the loan is what deployed clients send when they have none to give
    // (the transaction date, never 18 blanks): the loan rule decides then.
    let nb_due = req
        .nb_due_date
        .as_ref()
        .and_then(naive)
        .filter(|due| *due > lent_at);
    let order = Checkout {
        card,
        barcode: &req.item_identifier,
        lent_at,
        no_block: req.no_block,
        nb_due,
        renewal_allowed: req.sc_renewal_policy,
    };
    match lib.checkout(&order, now) {
        Ok(made) => {
            resp.ok = true;
            resp.renewal_ok = made.renewed;
            resp.desensitize = Some(true);
            resp.due_date = sip_date(made.due).to_string();
            resp.screen_messages.push(due_message(&lang, made.due));
        }
        Err(r) => resp.screen_messages.push(r.message(&lang)),
    }
    resp
}

/// 29 → 30.
pub fn renew(lib: &mut Library, req: &RenewRequest, now: NaiveDateTime) -> LoanResponse {
    let card = req.patron_identifier.expose();
    let barcode = req.item_identifier.clone().unwrap_or_default();
    let mut resp = loan_response(
        lib,
        &req.institution_id,
        &req.patron_identifier,
        &barcode,
        now,
    );
    let lang = language(lib.patron(card)).to_owned();
    if let Some(pin) = given(&req.patron_password) {
        if lib.pin_ok(card, pin) == Some(false) {
            resp.screen_messages.push(Refusal::WrongPin.message(&lang));
            return resp;
        }
    }
    match lib.renew(card, &barcode, now) {
        Ok(made) => {
            resp.ok = true;
            resp.renewal_ok = true;
            resp.desensitize = Some(true);
            resp.due_date = sip_date(made.due).to_string();
            resp.screen_messages.push(due_message(&lang, made.due));
        }
        Err(r) => resp.screen_messages.push(r.message(&lang)),
    }
    resp
}

/// 65 → 66.
pub fn renew_all(lib: &mut Library, req: &RenewAllRequest, now: NaiveDateTime) -> RenewAllResponse {
    let card = req.patron_identifier.expose().to_owned();
    let mut resp = RenewAllResponse {
        ok: false,
        renewed_count: 0,
        unrenewed_count: 0,
        transaction_date: sip_date(now),
        institution_id: req.institution_id.clone(),
        renewed_items: vec![],
        unrenewed_items: vec![],
        screen_messages: vec![],
        print_lines: vec![],
        extra: vec![],
    };
    let lang = language(lib.patron(&card)).to_owned();
    let pin_ok = match given(&req.patron_password) {
        Some(pin) => lib.pin_ok(&card, pin),
        None => lib.patron(&card).map(|_| true),
    };
    match pin_ok {
        None => resp
            .screen_messages
            .push(Refusal::UnknownPatron.message(&lang)),
        Some(false) => resp.screen_messages.push(Refusal::WrongPin.message(&lang)),
        Some(true) => {
            resp.ok = true;
            let barcodes: Vec<String> = lib.loans_of(&card).map(|(b, _)| b.clone()).collect();
            for b in barcodes {
                match lib.renew(&card, &b, now) {
                    Ok(_) => resp.renewed_items.push(b),
                    Err(_) => resp.unrenewed_items.push(b),
                }
            }
        }
    }
    resp.renewed_count = u16::try_from(resp.renewed_items.len()).unwrap_or(9999);
    resp.unrenewed_count = u16::try_from(resp.unrenewed_items.len()).unwrap_or(9999);
    resp
}

/// 09 → 10.
pub fn checkin(
    lib: &mut Library,
    req: &CheckinRequest,
    device: &Device,
    now: NaiveDateTime,
) -> CheckinResponse {
    let at = if req.current_location.trim().is_empty() {
        device.branch.clone()
    } else {
        req.current_location.clone()
    };
    let returned_at = req.return_date.as_ref().and_then(naive).unwrap_or(now);
    let item = lib.item(&req.item_identifier).cloned();
    let mut resp = CheckinResponse {
        ok: false,
        resensitize: false,
        magnetic_media: Some(false),
        alert: false,
        transaction_date: sip_date(now),
        institution_id: req.institution_id.clone(),
        item_identifier: req.item_identifier.clone(),
        permanent_location: item.as_ref().map(|i| i.branch.clone()).unwrap_or_default(),
        title_identifier: item.as_ref().map(|i| i.title.clone()),
        sort_bin: None,
        patron_identifier: None,
        media_type: item
            .as_ref()
            .and_then(|i| lib.fixtures.rule(&i.media))
            .map(|r| r.sip_media_type.clone()),
        item_properties: None,
        collection_code: None,
        call_number: item
            .as_ref()
            .map(|i| i.call_number.clone())
            .filter(|c| !c.is_empty()),
        destination_location: None,
        alert_type: None,
        hold_patron_id: None,
        hold_patron_name: None,
        screen_messages: vec![],
        print_lines: vec![],
        extra: vec![],
    };
    match lib.checkin(&req.item_identifier, returned_at, &at) {
        Err(r) => resp.screen_messages.push(r.message("fi")),
        Ok(ret) => {
            resp.ok = true;
            resp.resensitize = true;
            if ret.hold_waiting {
                resp.alert = true;
                resp.alert_type = Some(
                    if ret.transfer_to.is_none() {
                        "01"
                    } else {
                        "02"
                    }
                    .into(),
                );
                resp.sort_bin = Some("HOLD".into());
                resp.screen_messages
                    .push("Varattu: vie nide varaushyllyyn.".into());
            } else if let Some(dest) = &ret.transfer_to {
                resp.alert = true;
                resp.alert_type = Some("04".into());
                resp.destination_location = Some(dest.clone());
                resp.sort_bin = Some(dest.clone());
                resp.screen_messages.push(format!("Siirto: {dest}"));
            } else {
                resp.sort_bin = Some("SHELF".into());
                resp.screen_messages.push("Palautettu.".into());
            }
            if ret.fine_cents > 0 {
                resp.screen_messages.push(format!(
                    "Myöhästymismaksu {},{:02} €",
                    ret.fine_cents / 100,
                    ret.fine_cents % 100
                ));
            }
        }
    }
    resp
}

/// 17 → 18.
pub fn item_information(
    lib: &Library,
    req: &ItemInformationRequest,
    now: NaiveDateTime,
) -> ItemInformationResponse {
    let item = lib.item(&req.item_identifier);
    let loan = lib.state.loans.get(req.item_identifier.trim());
    let queue = lib
        .state
        .holds
        .get(req.item_identifier.trim())
        .map_or(0, Vec::len);
    let status = match (item, loan) {
        (None, _) => CirculationStatus::OTHER,
        (Some(_), Some(_)) => CirculationStatus::CHARGED,
        (Some(_), None) if queue > 0 => CirculationStatus::WAITING_ON_HOLD_SHELF,
        (Some(_), None) => CirculationStatus::AVAILABLE,
    };
    let mut extra = vec![];
    if let Some(i) = item.filter(|i| !i.call_number.is_empty()) {
        extra.push(Field::new(FieldCode::CALL_NUMBER, i.call_number.clone()));
    }
    ItemInformationResponse {
        circulation_status: status,
        security_marker: SecurityMarker::OTHER,
        fee_type: FeeType::OTHER,
        transaction_date: sip_date(now),
        hold_queue_length: item.map(|_| queue.to_string()),
        due_date: loan.map(|l| sip_date(l.due).to_string()),
        recall_date: None,
        hold_pickup_date: None,
        item_identifier: req.item_identifier.clone(),
        title_identifier: item
            .map(|i| format!("{} / {}", i.title, i.author))
            .unwrap_or_default(),
        owner: item.map(|i| i.branch.clone()),
        currency_type: None,
        fee_amount: None,
        media_type: item
            .and_then(|i| lib.fixtures.rule(&i.media))
            .map(|r| r.sip_media_type.clone()),
        permanent_location: item.map(|i| i.branch.clone()),
        current_location: item.map(|i| i.branch.clone()),
        item_properties: lib
            .state
            .item_properties
            .get(req.item_identifier.trim())
            .cloned(),
        screen_messages: if item.is_none() {
            vec![Refusal::UnknownItem.message("fi")]
        } else {
            vec![]
        },
        print_lines: vec![],
        extra,
    }
}

/// 19 → 20.
pub fn item_status_update(
    lib: &mut Library,
    req: &ItemStatusUpdateRequest,
    now: NaiveDateTime,
) -> ItemStatusUpdateResponse {
    let known = lib.item(&req.item_identifier).map(|i| i.title.clone());
    if known.is_some() {
        lib.state.item_properties.insert(
            req.item_identifier.trim().to_owned(),
            req.item_properties.clone(),
        );
    }
    ItemStatusUpdateResponse {
        item_properties_ok: known.is_some(),
        transaction_date: sip_date(now),
        item_identifier: req.item_identifier.clone(),
        title_identifier: known,
        item_properties: Some(req.item_properties.clone()),
        screen_messages: vec![],
        print_lines: vec![],
        extra: vec![],
    }
}

/// 37 → 38.
pub fn fee_paid(lib: &mut Library, req: &FeePaidRequest, now: NaiveDateTime) -> FeePaidResponse {
    let card = req.patron_identifier.expose();
    let pin_ok = given(&req.patron_password).is_none_or(|p| lib.pin_ok(card, p) == Some(true));
    let accepted = pin_ok
        && req
            .currency_type
            .eq_ignore_ascii_case(&lib.fixtures.library.currency)
        && cents(&req.fee_amount).is_some_and(|c| lib.pay(card, c));
    FeePaidResponse {
        payment_accepted: accepted,
        transaction_date: sip_date(now),
        institution_id: req.institution_id.clone(),
        patron_identifier: req.patron_identifier.clone(),
        transaction_id: req.transaction_id.clone(),
        screen_messages: vec![
            if accepted {
                "Maksu vastaanotettu."
            } else {
                "Maksua ei voitu ottaa vastaan."
            }
            .into(),
        ],
        print_lines: vec![],
        extra: vec![],
    }
}

/// 98: what this library system can do, as seen by a device that is (or is not yet) logged in.
pub fn acs_status(lib: &Library, logged_in: bool, now: NaiveDateTime) -> AcsStatus {
    AcsStatus {
        online: logged_in,
        checkin_ok: logged_in,
        checkout_ok: logged_in,
        renewal_policy: logged_in,
        status_update_ok: logged_in,
        offline_ok: true,
        timeout_period: 30,
        retries_allowed: 3,
        date_time_sync: sip_date(now),
        protocol_version: "2.00".into(),
        institution_id: lib.fixtures.library.institution_id.clone(),
        library_name: Some(lib.fixtures.library.name.clone()),
        // Patron status, checkout, checkin, block patron, status, resend, login, patron
        // information, end session, fee paid, item information, item status update; no patron
        // enable or hold; renew, renew all.
        supported_messages: "YYYYYYYYYYYYNNYY".into(),
        terminal_location: None,
        screen_messages: if logged_in {
            vec![]
        } else {
            vec!["Login required.".into()]
        },
        print_lines: vec![],
        extra: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_amounts_parse_as_systems_write_them() {
        assert_eq!(cents("12.50"), Some(1250));
        assert_eq!(cents("12,5"), Some(1250));
        assert_eq!(cents("3"), Some(300));
        assert_eq!(cents(" 0.20 "), Some(20));
        assert_eq!(cents("1.234"), None);
        assert_eq!(cents("abc"), None);
        assert_eq!(cents(""), None);
    }

    #[test]
    fn windows_of_item_lists_are_one_based_and_inclusive() {
        let l: Vec<String> = (1..=5).map(|i| i.to_string()).collect();
        assert_eq!(window(l.clone(), Some("2"), Some("3")), ["2", "3"]);
        assert_eq!(window(l.clone(), None, None).len(), 5);
        assert_eq!(window(l, Some("9"), None), Vec::<String>::new());
    }
}
