//! The requests a self-check unit sends, filled in as a kiosk fills them (dated now, local time),
//! for the demo and the tests.

use redact::{CardNumber, Pin};
use sip2::*;

use crate::replies::{local_now, sip_date};

fn now() -> SipDate {
    sip_date(local_now())
}

/// 93 Login with the device's account.
pub fn login(user: &str, password: &str, location: Option<&str>) -> Message {
    Message::Login(LoginRequest {
        uid_algorithm: b'0',
        pwd_algorithm: b'0',
        login_user_id: user.into(),
        login_password: Pin::new(password),
        location_code: location.map(Into::into),
        extra: vec![],
    })
}

/// 99 SC Status: all well, 40-column printer.
pub fn sc_status() -> Message {
    Message::ScStatus(ScStatus {
        status: ScStatusCode::OK,
        max_print_width: 40,
        protocol_version: "2.00".into(),
        extra: vec![],
    })
}

/// 23 Patron Status with card and PIN.
pub fn patron_status(institution: &str, card: &str, pin: &str) -> Message {
    Message::PatronStatus(PatronStatusRequest {
        language: Language::FINNISH,
        transaction_date: now(),
        institution_id: institution.into(),
        patron_identifier: CardNumber::new(card),
        terminal_password: Pin::default(),
        patron_password: Pin::new(pin),
        extra: vec![],
    })
}

/// 63 Patron Information asking for the list at `summary` (a [`Summary`] position).
pub fn patron_information(institution: &str, card: &str, pin: &str, summary: usize) -> Message {
    Message::PatronInformation(PatronInformationRequest {
        language: Language::FINNISH,
        transaction_date: now(),
        summary: Summary::asking_for(summary),
        institution_id: institution.into(),
        patron_identifier: CardNumber::new(card),
        terminal_password: None,
        patron_password: Some(Pin::new(pin)),
        start_item: None,
        end_item: None,
        extra: vec![],
    })
}

/// 11 Checkout, online; change fields for a no-block one.
pub fn checkout(institution: &str, card: &str, pin: Option<&str>, item: &str) -> CheckoutRequest {
    CheckoutRequest {
        sc_renewal_policy: false,
        no_block: false,
        transaction_date: now(),
        nb_due_date: None,
        institution_id: institution.into(),
        patron_identifier: CardNumber::new(card),
        item_identifier: item.into(),
        terminal_password: Pin::default(),
        item_properties: None,
        patron_password: pin.map(Pin::new),
        fee_acknowledged: None,
        cancel: None,
        extra: vec![],
    }
}

/// 29 Renew one item.
pub fn renew(institution: &str, card: &str, pin: &str, item: &str) -> Message {
    Message::Renew(RenewRequest {
        third_party_allowed: false,
        no_block: false,
        transaction_date: now(),
        nb_due_date: None,
        institution_id: institution.into(),
        patron_identifier: CardNumber::new(card),
        patron_password: Some(Pin::new(pin)),
        item_identifier: Some(item.into()),
        title_identifier: None,
        terminal_password: None,
        item_properties: None,
        fee_acknowledged: None,
        extra: vec![],
    })
}

/// 09 Checkin at the branch `location`.
pub fn checkin(institution: &str, location: &str, item: &str) -> Message {
    Message::Checkin(CheckinRequest {
        no_block: false,
        transaction_date: now(),
        return_date: None,
        current_location: location.into(),
        institution_id: institution.into(),
        item_identifier: item.into(),
        terminal_password: Pin::default(),
        item_properties: None,
        cancel: None,
        extra: vec![],
    })
}

/// 17 Item Information.
pub fn item_information(institution: &str, item: &str) -> Message {
    Message::ItemInformation(ItemInformationRequest {
        transaction_date: now(),
        institution_id: institution.into(),
        item_identifier: item.into(),
        terminal_password: None,
        extra: vec![],
    })
}

/// 35 End Patron Session.
pub fn end_session(institution: &str, card: &str) -> Message {
    Message::EndPatronSession(EndPatronSessionRequest {
        transaction_date: now(),
        institution_id: institution.into(),
        patron_identifier: CardNumber::new(card),
        terminal_password: None,
        patron_password: None,
        extra: vec![],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the demo and the tests send is held to what a strict server checks: every
    /// 18-character date a real date (read by chrono, not by our codec), never blanks.
    #[test]
    fn every_request_carries_valid_dates() {
        let checkout = Message::Checkout(checkout("heili", "24680000000011", Some("1234"), "HE1"));
        let requests = [
            login("kiosk1", "secret", Some("LPR")),
            sc_status(),
            patron_status("heili", "24680000000011", "1234"),
            patron_information("heili", "24680000000011", "1234", Summary::CHARGED_ITEMS),
            checkout,
            renew("heili", "24680000000011", "1234", "HE1"),
            checkin("heili", "LPR", "HE1"),
            item_information("heili", "HE1"),
            end_session("heili", "24680000000011"),
        ];
        for m in &requests {
            let bytes = m.encode(&Dialect::standard(), Some(1)).unwrap();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            for &at in fixed_date_offsets(&m.id()) {
                let slot = &text[at..at + 18];
                let read = chrono::NaiveDateTime::parse_from_str(
                    &format!("{}{}", &slot[..8], &slot[12..]),
                    "%Y%m%d%H%M%S",
                );
                assert!(read.is_ok(), "{}: {slot:?}", m.name());
            }
        }
    }
}
