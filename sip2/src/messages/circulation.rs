//! Circulation messages: checkout (11/12), checkin (09/10), renew (29/30), renew all (65/66).

use redact::{CardNumber, Personal, Pin};

use crate::wire::{Reader, Writer};
use crate::{DecodeError, EncodeError, Field, FieldCode as C, SipDate};

fn pin_str(pin: &Option<Pin>) -> Option<&str> {
    pin.as_ref().map(Pin::expose)
}

/// 11 Checkout: lend an item to a patron.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// SC renewal policy: the unit may renew an item the patron already has.
    pub sc_renewal_policy: bool,
    /// No block: the unit already lent the item offline; the library system must accept it.
    pub no_block: bool,
    /// Transaction date: for a no-block checkout, when the loan really happened.
    pub transaction_date: SipDate,
    /// Due date the unit gave offline, for a no-block checkout. `None` reads 18 blanks and
    /// writes the transaction date, as deployed clients do; a receiver takes a date not after
    /// the transaction date as no due date given.
    pub nb_due_date: Option<SipDate>,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AB item identifier.
    pub item_identifier: String,
    /// AC terminal password (required, may be empty).
    pub terminal_password: Pin,
    /// CH item properties.
    pub item_properties: Option<String>,
    /// AD patron password.
    pub patron_password: Option<Pin>,
    /// BO fee acknowledged.
    pub fee_acknowledged: Option<bool>,
    /// BI cancel: undo a checkout that the unit could not complete (e.g. security bit not set).
    pub cancel: Option<bool>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl CheckoutRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let sc_renewal_policy = r.yes_no("SC renewal policy")?;
        let no_block = r.yes_no("no block")?;
        let transaction_date = r.date("transaction date")?;
        let nb_due_date = r.optional_date("nb due date")?;
        let mut f = r.fields()?;
        Ok(Self {
            sc_renewal_policy,
            no_block,
            transaction_date,
            nb_due_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            item_identifier: f.required(C::ITEM_IDENTIFIER)?,
            terminal_password: Pin::new(f.required(C::TERMINAL_PASSWORD)?),
            item_properties: f.take(C::ITEM_PROPERTIES),
            patron_password: f.take(C::PATRON_PASSWORD).map(Pin::new),
            fee_acknowledged: f.yes_no(C::FEE_ACKNOWLEDGED),
            cancel: f.yes_no(C::CANCEL),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.yes_no(self.sc_renewal_policy);
        w.yes_no(self.no_block);
        w.date(&self.transaction_date, "transaction date")?;
        w.date_or_transaction(
            self.nb_due_date.as_ref(),
            &self.transaction_date,
            "nb due date",
        )?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.field(C::ITEM_IDENTIFIER, &self.item_identifier)?;
        w.field(C::TERMINAL_PASSWORD, self.terminal_password.expose())?;
        w.optional(C::ITEM_PROPERTIES, self.item_properties.as_deref())?;
        w.optional(C::PATRON_PASSWORD, pin_str(&self.patron_password))?;
        w.optional_yes_no(C::FEE_ACKNOWLEDGED, self.fee_acknowledged)?;
        w.optional_yes_no(C::CANCEL, self.cancel)?;
        w.extra(&self.extra)
    }
}

/// 12 Checkout Response and 30 Renew Response, which share one layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanResponse {
    /// Whether the loan (or renewal) was made.
    pub ok: bool,
    /// Renewal ok: the item was already on loan to this patron and was renewed.
    pub renewal_ok: bool,
    /// Magnetic media: `None` for unknown.
    pub magnetic_media: Option<bool>,
    /// Desensitize: the unit should switch off the item's security; `None` for unknown.
    pub desensitize: Option<bool>,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AB item identifier.
    pub item_identifier: String,
    /// AJ title identifier.
    pub title_identifier: String,
    /// AH due date, as the library system writes it (empty when the loan was refused).
    pub due_date: String,
    /// BT fee type.
    pub fee_type: Option<String>,
    /// CI security inhibit.
    pub security_inhibit: Option<bool>,
    /// BH currency type.
    pub currency_type: Option<String>,
    /// BV fee amount.
    pub fee_amount: Option<String>,
    /// CK media type.
    pub media_type: Option<String>,
    /// CH item properties.
    pub item_properties: Option<String>,
    /// BK transaction id.
    pub transaction_id: Option<String>,
    /// AF screen messages: why a loan was refused, in the library system's words.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl LoanResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let ok = r.one_zero("ok")?;
        let renewal_ok = r.yes_no("renewal ok")?;
        let magnetic_media = r.yes_no_unknown("magnetic media")?;
        let desensitize = r.yes_no_unknown("desensitize")?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            ok,
            renewal_ok,
            magnetic_media,
            desensitize,
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            item_identifier: f.required(C::ITEM_IDENTIFIER)?,
            title_identifier: f.required(C::TITLE_IDENTIFIER)?,
            due_date: f.required(C::DUE_DATE)?,
            fee_type: f.take(C::FEE_TYPE),
            security_inhibit: f.yes_no(C::SECURITY_INHIBIT),
            currency_type: f.take(C::CURRENCY_TYPE),
            fee_amount: f.take(C::FEE_AMOUNT),
            media_type: f.take(C::MEDIA_TYPE),
            item_properties: f.take(C::ITEM_PROPERTIES),
            transaction_id: f.take(C::TRANSACTION_ID),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.one_zero(self.ok);
        w.yes_no(self.renewal_ok);
        w.yes_no_unknown(self.magnetic_media);
        w.yes_no_unknown(self.desensitize);
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.field(C::ITEM_IDENTIFIER, &self.item_identifier)?;
        w.field(C::TITLE_IDENTIFIER, &self.title_identifier)?;
        w.field(C::DUE_DATE, &self.due_date)?;
        w.optional(C::FEE_TYPE, self.fee_type.as_deref())?;
        w.optional_yes_no(C::SECURITY_INHIBIT, self.security_inhibit)?;
        w.optional(C::CURRENCY_TYPE, self.currency_type.as_deref())?;
        w.optional(C::FEE_AMOUNT, self.fee_amount.as_deref())?;
        w.optional(C::MEDIA_TYPE, self.media_type.as_deref())?;
        w.optional(C::ITEM_PROPERTIES, self.item_properties.as_deref())?;
        w.optional(C::TRANSACTION_ID, self.transaction_id.as_deref())?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}

/// 09 Checkin: an item is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinRequest {
    /// No block: the unit already took the item back offline.
    pub no_block: bool,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// Return date: when the item was really returned. `None` reads 18 blanks and writes the
    /// transaction date (a return is made when it is sent).
    pub return_date: Option<SipDate>,
    /// AP current location (required, may be empty).
    pub current_location: String,
    /// AO institution id.
    pub institution_id: String,
    /// AB item identifier.
    pub item_identifier: String,
    /// AC terminal password (required, may be empty).
    pub terminal_password: Pin,
    /// CH item properties.
    pub item_properties: Option<String>,
    /// BI cancel.
    pub cancel: Option<bool>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl CheckinRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let no_block = r.yes_no("no block")?;
        let transaction_date = r.date("transaction date")?;
        let return_date = r.optional_date("return date")?;
        let mut f = r.fields()?;
        Ok(Self {
            no_block,
            transaction_date,
            return_date,
            current_location: f.required(C::CURRENT_LOCATION)?,
            institution_id: f.required(C::INSTITUTION_ID)?,
            item_identifier: f.required(C::ITEM_IDENTIFIER)?,
            terminal_password: Pin::new(f.required(C::TERMINAL_PASSWORD)?),
            item_properties: f.take(C::ITEM_PROPERTIES),
            cancel: f.yes_no(C::CANCEL),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.yes_no(self.no_block);
        w.date(&self.transaction_date, "transaction date")?;
        w.date_or_transaction(
            self.return_date.as_ref(),
            &self.transaction_date,
            "return date",
        )?;
        w.field(C::CURRENT_LOCATION, &self.current_location)?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::ITEM_IDENTIFIER, &self.item_identifier)?;
        w.field(C::TERMINAL_PASSWORD, self.terminal_password.expose())?;
        w.optional(C::ITEM_PROPERTIES, self.item_properties.as_deref())?;
        w.optional_yes_no(C::CANCEL, self.cancel)?;
        w.extra(&self.extra)
    }
}

/// 10 Checkin Response, with the 3M checkin extensions (sorting, holds, transfers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinResponse {
    /// Whether the item was checked in.
    pub ok: bool,
    /// Resensitize: the unit should switch the item's security back on.
    pub resensitize: bool,
    /// Magnetic media: `None` for unknown.
    pub magnetic_media: Option<bool>,
    /// Alert: the item needs attention (a hold, a transfer); read `Y`/`N` or `1`/`0`.
    pub alert: bool,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AB item identifier.
    pub item_identifier: String,
    /// AQ permanent location.
    pub permanent_location: String,
    /// AJ title identifier.
    pub title_identifier: Option<String>,
    /// CL sort bin.
    pub sort_bin: Option<String>,
    /// AA patron identifier (who had it).
    pub patron_identifier: Option<CardNumber>,
    /// CK media type.
    pub media_type: Option<String>,
    /// CH item properties.
    pub item_properties: Option<String>,
    /// CR collection code (3M extension).
    pub collection_code: Option<String>,
    /// CS call number (3M extension).
    pub call_number: Option<String>,
    /// CT destination location (3M extension).
    pub destination_location: Option<String>,
    /// CV alert type (3M extension): `01` hold here, `02` hold elsewhere, `04` transfer, `99` other.
    pub alert_type: Option<String>,
    /// CY hold patron id (3M extension): the card number of the patron the hold is for.
    pub hold_patron_id: Option<CardNumber>,
    /// DA hold patron name (3M extension).
    pub hold_patron_name: Option<Personal<String>>,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl CheckinResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let ok = r.one_zero("ok")?;
        let resensitize = r.yes_no("resensitize")?;
        let magnetic_media = r.yes_no_unknown("magnetic media")?;
        let alert = r.yes_no_or_digit("alert")?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            ok,
            resensitize,
            magnetic_media,
            alert,
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            item_identifier: f.required(C::ITEM_IDENTIFIER)?,
            permanent_location: f.required(C::PERMANENT_LOCATION)?,
            title_identifier: f.take(C::TITLE_IDENTIFIER),
            sort_bin: f.take(C::SORT_BIN),
            patron_identifier: f.take(C::PATRON_IDENTIFIER).map(CardNumber::new),
            media_type: f.take(C::MEDIA_TYPE),
            item_properties: f.take(C::ITEM_PROPERTIES),
            collection_code: f.take(C::COLLECTION_CODE),
            call_number: f.take(C::CALL_NUMBER),
            destination_location: f.take(C::DESTINATION_LOCATION),
            alert_type: f.take(C::ALERT_TYPE),
            hold_patron_id: f.take(C::HOLD_PATRON_ID).map(CardNumber::new),
            hold_patron_name: f.take(C::HOLD_PATRON_NAME).map(Personal::new),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.one_zero(self.ok);
        w.yes_no(self.resensitize);
        w.yes_no_unknown(self.magnetic_media);
        w.yes_no(self.alert);
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::ITEM_IDENTIFIER, &self.item_identifier)?;
        w.field(C::PERMANENT_LOCATION, &self.permanent_location)?;
        w.optional(C::TITLE_IDENTIFIER, self.title_identifier.as_deref())?;
        w.optional(C::SORT_BIN, self.sort_bin.as_deref())?;
        w.optional(
            C::PATRON_IDENTIFIER,
            self.patron_identifier.as_ref().map(CardNumber::expose),
        )?;
        w.optional(C::MEDIA_TYPE, self.media_type.as_deref())?;
        w.optional(C::ITEM_PROPERTIES, self.item_properties.as_deref())?;
        w.optional(C::COLLECTION_CODE, self.collection_code.as_deref())?;
        w.optional(C::CALL_NUMBER, self.call_number.as_deref())?;
        w.optional(
            C::DESTINATION_LOCATION,
            self.destination_location.as_deref(),
        )?;
        w.optional(C::ALERT_TYPE, self.alert_type.as_deref())?;
        w.optional(
            C::HOLD_PATRON_ID,
            self.hold_patron_id.as_ref().map(CardNumber::expose),
        )?;
        w.optional(
            C::HOLD_PATRON_NAME,
            self.hold_patron_name.as_ref().map(|n| n.expose().as_str()),
        )?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}

/// 29 Renew: extend one loan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewRequest {
    /// Third party allowed: an item on loan to another patron may be renewed.
    pub third_party_allowed: bool,
    /// No block: the unit already renewed offline.
    pub no_block: bool,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// Due date given offline, for a no-block renewal; `None` is written as the transaction
    /// date, as for a checkout.
    pub nb_due_date: Option<SipDate>,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AD patron password.
    pub patron_password: Option<Pin>,
    /// AB item identifier.
    pub item_identifier: Option<String>,
    /// AJ title identifier.
    pub title_identifier: Option<String>,
    /// AC terminal password.
    pub terminal_password: Option<Pin>,
    /// CH item properties.
    pub item_properties: Option<String>,
    /// BO fee acknowledged.
    pub fee_acknowledged: Option<bool>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl RenewRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let third_party_allowed = r.yes_no("third party allowed")?;
        let no_block = r.yes_no("no block")?;
        let transaction_date = r.date("transaction date")?;
        let nb_due_date = r.optional_date("nb due date")?;
        let mut f = r.fields()?;
        Ok(Self {
            third_party_allowed,
            no_block,
            transaction_date,
            nb_due_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            patron_password: f.take(C::PATRON_PASSWORD).map(Pin::new),
            item_identifier: f.take(C::ITEM_IDENTIFIER),
            title_identifier: f.take(C::TITLE_IDENTIFIER),
            terminal_password: f.take(C::TERMINAL_PASSWORD).map(Pin::new),
            item_properties: f.take(C::ITEM_PROPERTIES),
            fee_acknowledged: f.yes_no(C::FEE_ACKNOWLEDGED),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.yes_no(self.third_party_allowed);
        w.yes_no(self.no_block);
        w.date(&self.transaction_date, "transaction date")?;
        w.date_or_transaction(
            self.nb_due_date.as_ref(),
            &self.transaction_date,
            "nb due date",
        )?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.optional(C::PATRON_PASSWORD, pin_str(&self.patron_password))?;
        w.optional(C::ITEM_IDENTIFIER, self.item_identifier.as_deref())?;
        w.optional(C::TITLE_IDENTIFIER, self.title_identifier.as_deref())?;
        w.optional(C::TERMINAL_PASSWORD, pin_str(&self.terminal_password))?;
        w.optional(C::ITEM_PROPERTIES, self.item_properties.as_deref())?;
        w.optional_yes_no(C::FEE_ACKNOWLEDGED, self.fee_acknowledged)?;
        w.extra(&self.extra)
    }
}

/// 65 Renew All: extend every loan of a patron.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewAllRequest {
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AD patron password.
    pub patron_password: Option<Pin>,
    /// AC terminal password.
    pub terminal_password: Option<Pin>,
    /// BO fee acknowledged.
    pub fee_acknowledged: Option<bool>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl RenewAllRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            patron_password: f.take(C::PATRON_PASSWORD).map(Pin::new),
            terminal_password: f.take(C::TERMINAL_PASSWORD).map(Pin::new),
            fee_acknowledged: f.yes_no(C::FEE_ACKNOWLEDGED),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.optional(C::PATRON_PASSWORD, pin_str(&self.patron_password))?;
        w.optional(C::TERMINAL_PASSWORD, pin_str(&self.terminal_password))?;
        w.optional_yes_no(C::FEE_ACKNOWLEDGED, self.fee_acknowledged)?;
        w.extra(&self.extra)
    }
}

/// 66 Renew All Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewAllResponse {
    /// Whether the request was processed.
    pub ok: bool,
    /// Renewed count.
    pub renewed_count: u16,
    /// Unrenewed count.
    pub unrenewed_count: u16,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// BM renewed items.
    pub renewed_items: Vec<String>,
    /// BN unrenewed items.
    pub unrenewed_items: Vec<String>,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl RenewAllResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let ok = r.one_zero("ok")?;
        let renewed_count = r.number(4, "renewed count")?;
        let unrenewed_count = r.number(4, "unrenewed count")?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            ok,
            renewed_count,
            unrenewed_count,
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            renewed_items: f.all(C::RENEWED_ITEMS),
            unrenewed_items: f.all(C::UNRENEWED_ITEMS),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.one_zero(self.ok);
        w.number(self.renewed_count, 4, "renewed count")?;
        w.number(self.unrenewed_count, 4, "unrenewed count")?;
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.repeated(C::RENEWED_ITEMS, &self.renewed_items)?;
        w.repeated(C::UNRENEWED_ITEMS, &self.unrenewed_items)?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}
