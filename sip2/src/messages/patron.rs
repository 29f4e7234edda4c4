//! Patron messages: status (23/24), information (63/64), block (01), end session (35/36), fee
//! paid (37/38).

use redact::{CardNumber, Personal, Pin};

use crate::codes::{FeeType, Language, PatronStatusFlags, PaymentType, Summary};
use crate::wire::{Reader, Writer};
use crate::{DecodeError, EncodeError, Field, FieldCode as C, SipDate};

fn pin_str(pin: &Option<Pin>) -> Option<&str> {
    pin.as_ref().map(Pin::expose)
}

/// 23 Patron Status Request: is this card (and PIN) a patron in good standing?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronStatusRequest {
    /// Language.
    pub language: Language,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AC terminal password (required, may be empty).
    pub terminal_password: Pin,
    /// AD patron password (required, may be empty).
    pub patron_password: Pin,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl PatronStatusRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let language = r.language()?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            language,
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            terminal_password: Pin::new(f.required(C::TERMINAL_PASSWORD)?),
            patron_password: Pin::new(f.required(C::PATRON_PASSWORD)?),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.language(self.language);
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.field(C::TERMINAL_PASSWORD, self.terminal_password.expose())?;
        w.field(C::PATRON_PASSWORD, self.patron_password.expose())?;
        w.extra(&self.extra)
    }
}

/// 24 Patron Status Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronStatusResponse {
    /// The fourteen patron-status flags.
    pub patron_status: PatronStatusFlags,
    /// Language.
    pub language: Language,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AE personal name.
    pub personal_name: Personal<String>,
    /// BL valid patron.
    pub valid_patron: Option<bool>,
    /// CQ valid patron password.
    pub valid_patron_password: Option<bool>,
    /// BH currency type.
    pub currency_type: Option<String>,
    /// BV fee amount.
    pub fee_amount: Option<String>,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Extension and unknown fields (PB, PC, PA, …), kept in order.
    pub extra: Vec<Field>,
}

impl PatronStatusResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let patron_status = PatronStatusFlags(r.flags::<14>("patron status")?);
        let language = r.language()?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            patron_status,
            language,
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            personal_name: Personal::new(f.required(C::PERSONAL_NAME)?),
            valid_patron: f.yes_no(C::VALID_PATRON),
            valid_patron_password: f.yes_no(C::VALID_PATRON_PASSWORD),
            currency_type: f.take(C::CURRENCY_TYPE),
            fee_amount: f.take(C::FEE_AMOUNT),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.flags(&self.patron_status.0);
        w.language(self.language);
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.field(C::PERSONAL_NAME, self.personal_name.expose())?;
        w.optional_yes_no(C::VALID_PATRON, self.valid_patron)?;
        w.optional_yes_no(C::VALID_PATRON_PASSWORD, self.valid_patron_password)?;
        w.optional(C::CURRENCY_TYPE, self.currency_type.as_deref())?;
        w.optional(C::FEE_AMOUNT, self.fee_amount.as_deref())?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}

/// 63 Patron Information: the patron's standing and one list of items (loans, holds, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronInformationRequest {
    /// Language.
    pub language: Language,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// Which item list to return.
    pub summary: Summary,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AC terminal password.
    pub terminal_password: Option<Pin>,
    /// AD patron password.
    pub patron_password: Option<Pin>,
    /// BP start item (1-based).
    pub start_item: Option<String>,
    /// BQ end item.
    pub end_item: Option<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl PatronInformationRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let language = r.language()?;
        let transaction_date = r.date("transaction date")?;
        let summary = Summary(r.flags::<10>("summary")?);
        let mut f = r.fields()?;
        Ok(Self {
            language,
            transaction_date,
            summary,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            terminal_password: f.take(C::TERMINAL_PASSWORD).map(Pin::new),
            patron_password: f.take(C::PATRON_PASSWORD).map(Pin::new),
            start_item: f.take(C::START_ITEM),
            end_item: f.take(C::END_ITEM),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.language(self.language);
        w.date(&self.transaction_date, "transaction date")?;
        w.flags(&self.summary.0);
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.optional(C::TERMINAL_PASSWORD, pin_str(&self.terminal_password))?;
        w.optional(C::PATRON_PASSWORD, pin_str(&self.patron_password))?;
        w.optional(C::START_ITEM, self.start_item.as_deref())?;
        w.optional(C::END_ITEM, self.end_item.as_deref())?;
        w.extra(&self.extra)
    }
}

/// 64 Patron Information Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatronInformationResponse {
    /// The fourteen patron-status flags.
    pub patron_status: PatronStatusFlags,
    /// Language.
    pub language: Language,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// Hold items count.
    pub hold_items_count: u16,
    /// Overdue items count.
    pub overdue_items_count: u16,
    /// Charged items count.
    pub charged_items_count: u16,
    /// Fine items count.
    pub fine_items_count: u16,
    /// Recall items count.
    pub recall_items_count: u16,
    /// Unavailable holds count.
    pub unavailable_holds_count: u16,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AE personal name.
    pub personal_name: Personal<String>,
    /// BZ hold items limit.
    pub hold_items_limit: Option<String>,
    /// CA overdue items limit.
    pub overdue_items_limit: Option<String>,
    /// CB charged items limit.
    pub charged_items_limit: Option<String>,
    /// BL valid patron.
    pub valid_patron: Option<bool>,
    /// CQ valid patron password.
    pub valid_patron_password: Option<bool>,
    /// BH currency type.
    pub currency_type: Option<String>,
    /// BV fee amount.
    pub fee_amount: Option<String>,
    /// CC fee limit.
    pub fee_limit: Option<String>,
    /// AS hold items.
    pub hold_items: Vec<String>,
    /// AT overdue items.
    pub overdue_items: Vec<String>,
    /// AU charged items.
    pub charged_items: Vec<String>,
    /// AV fine items.
    pub fine_items: Vec<String>,
    /// BU recall items.
    pub recall_items: Vec<String>,
    /// CD unavailable hold items.
    pub unavailable_hold_items: Vec<String>,
    /// BD home address.
    pub home_address: Option<Personal<String>>,
    /// BE e-mail address.
    pub email_address: Option<Personal<String>>,
    /// BF home phone number.
    pub home_phone_number: Option<Personal<String>>,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Extension and unknown fields (PB, PC, PA, …), kept in order.
    pub extra: Vec<Field>,
}

impl PatronInformationResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let patron_status = PatronStatusFlags(r.flags::<14>("patron status")?);
        let language = r.language()?;
        let transaction_date = r.date("transaction date")?;
        let hold_items_count = r.number(4, "hold items count")?;
        let overdue_items_count = r.number(4, "overdue items count")?;
        let charged_items_count = r.number(4, "charged items count")?;
        let fine_items_count = r.number(4, "fine items count")?;
        let recall_items_count = r.number(4, "recall items count")?;
        let unavailable_holds_count = r.number(4, "unavailable holds count")?;
        let mut f = r.fields()?;
        Ok(Self {
            patron_status,
            language,
            transaction_date,
            hold_items_count,
            overdue_items_count,
            charged_items_count,
            fine_items_count,
            recall_items_count,
            unavailable_holds_count,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            personal_name: Personal::new(f.required(C::PERSONAL_NAME)?),
            hold_items_limit: f.take(C::HOLD_ITEMS_LIMIT),
            overdue_items_limit: f.take(C::OVERDUE_ITEMS_LIMIT),
            charged_items_limit: f.take(C::CHARGED_ITEMS_LIMIT),
            valid_patron: f.yes_no(C::VALID_PATRON),
            valid_patron_password: f.yes_no(C::VALID_PATRON_PASSWORD),
            currency_type: f.take(C::CURRENCY_TYPE),
            fee_amount: f.take(C::FEE_AMOUNT),
            fee_limit: f.take(C::FEE_LIMIT),
            hold_items: f.all(C::HOLD_ITEMS),
            overdue_items: f.all(C::OVERDUE_ITEMS),
            charged_items: f.all(C::CHARGED_ITEMS),
            fine_items: f.all(C::FINE_ITEMS),
            recall_items: f.all(C::RECALL_ITEMS),
            unavailable_hold_items: f.all(C::UNAVAILABLE_HOLD_ITEMS),
            home_address: f.take(C::HOME_ADDRESS).map(Personal::new),
            email_address: f.take(C::EMAIL_ADDRESS).map(Personal::new),
            home_phone_number: f.take(C::HOME_PHONE_NUMBER).map(Personal::new),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.flags(&self.patron_status.0);
        w.language(self.language);
        w.date(&self.transaction_date, "transaction date")?;
        w.number(self.hold_items_count, 4, "hold items count")?;
        w.number(self.overdue_items_count, 4, "overdue items count")?;
        w.number(self.charged_items_count, 4, "charged items count")?;
        w.number(self.fine_items_count, 4, "fine items count")?;
        w.number(self.recall_items_count, 4, "recall items count")?;
        w.number(self.unavailable_holds_count, 4, "unavailable holds count")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.field(C::PERSONAL_NAME, self.personal_name.expose())?;
        w.optional(C::HOLD_ITEMS_LIMIT, self.hold_items_limit.as_deref())?;
        w.optional(C::OVERDUE_ITEMS_LIMIT, self.overdue_items_limit.as_deref())?;
        w.optional(C::CHARGED_ITEMS_LIMIT, self.charged_items_limit.as_deref())?;
        w.optional_yes_no(C::VALID_PATRON, self.valid_patron)?;
        w.optional_yes_no(C::VALID_PATRON_PASSWORD, self.valid_patron_password)?;
        w.optional(C::CURRENCY_TYPE, self.currency_type.as_deref())?;
        w.optional(C::FEE_AMOUNT, self.fee_amount.as_deref())?;
        w.optional(C::FEE_LIMIT, self.fee_limit.as_deref())?;
        w.repeated(C::HOLD_ITEMS, &self.hold_items)?;
        w.repeated(C::OVERDUE_ITEMS, &self.overdue_items)?;
        w.repeated(C::CHARGED_ITEMS, &self.charged_items)?;
        w.repeated(C::FINE_ITEMS, &self.fine_items)?;
        w.repeated(C::RECALL_ITEMS, &self.recall_items)?;
        w.repeated(C::UNAVAILABLE_HOLD_ITEMS, &self.unavailable_hold_items)?;
        w.optional(
            C::HOME_ADDRESS,
            self.home_address.as_ref().map(|v| v.expose().as_str()),
        )?;
        w.optional(
            C::EMAIL_ADDRESS,
            self.email_address.as_ref().map(|v| v.expose().as_str()),
        )?;
        w.optional(
            C::HOME_PHONE_NUMBER,
            self.home_phone_number.as_ref().map(|v| v.expose().as_str()),
        )?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}

/// 01 Block Patron: the self-check unit tells the library system to block a card (e.g. one it
/// retained). The library system does not answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPatron {
    /// Card retained.
    pub card_retained: bool,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AL blocked card message.
    pub blocked_card_message: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AC terminal password.
    pub terminal_password: Pin,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl BlockPatron {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let card_retained = r.yes_no("card retained")?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            card_retained,
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            blocked_card_message: f.required(C::BLOCKED_CARD_MESSAGE)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            terminal_password: Pin::new(f.required(C::TERMINAL_PASSWORD)?),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.yes_no(self.card_retained);
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::BLOCKED_CARD_MESSAGE, &self.blocked_card_message)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.field(C::TERMINAL_PASSWORD, self.terminal_password.expose())?;
        w.extra(&self.extra)
    }
}

/// 35 End Patron Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndPatronSessionRequest {
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AC terminal password.
    pub terminal_password: Option<Pin>,
    /// AD patron password.
    pub patron_password: Option<Pin>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl EndPatronSessionRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            terminal_password: f.take(C::TERMINAL_PASSWORD).map(Pin::new),
            patron_password: f.take(C::PATRON_PASSWORD).map(Pin::new),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.optional(C::TERMINAL_PASSWORD, pin_str(&self.terminal_password))?;
        w.optional(C::PATRON_PASSWORD, pin_str(&self.patron_password))?;
        w.extra(&self.extra)
    }
}

/// 36 End Session Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndSessionResponse {
    /// Whether the session ended.
    pub end_session: bool,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl EndSessionResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let end_session = r.yes_no("end session")?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            end_session,
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.yes_no(self.end_session);
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}

/// 37 Fee Paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeePaidRequest {
    /// Transaction date.
    pub transaction_date: SipDate,
    /// Fee type.
    pub fee_type: FeeType,
    /// Payment type.
    pub payment_type: PaymentType,
    /// Currency type, three letters (`EUR`).
    pub currency_type: String,
    /// BV fee amount.
    pub fee_amount: String,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// AC terminal password.
    pub terminal_password: Option<Pin>,
    /// AD patron password.
    pub patron_password: Option<Pin>,
    /// CG fee identifier.
    pub fee_identifier: Option<String>,
    /// BK transaction id.
    pub transaction_id: Option<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl FeePaidRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let transaction_date = r.date("transaction date")?;
        let fee_type = FeeType(r.code(2, "fee type")?);
        let payment_type = PaymentType(r.code(2, "payment type")?);
        let currency_type = r.text(3, "currency type")?;
        let mut f = r.fields()?;
        Ok(Self {
            transaction_date,
            fee_type,
            payment_type,
            currency_type,
            fee_amount: f.required(C::FEE_AMOUNT)?,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            terminal_password: f.take(C::TERMINAL_PASSWORD).map(Pin::new),
            patron_password: f.take(C::PATRON_PASSWORD).map(Pin::new),
            fee_identifier: f.take(C::FEE_IDENTIFIER),
            transaction_id: f.take(C::TRANSACTION_ID),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.date(&self.transaction_date, "transaction date")?;
        w.number(u16::from(self.fee_type.0), 2, "fee type")?;
        w.number(u16::from(self.payment_type.0), 2, "payment type")?;
        w.text(&self.currency_type, 3, "currency type")?;
        w.field(C::FEE_AMOUNT, &self.fee_amount)?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.optional(C::TERMINAL_PASSWORD, pin_str(&self.terminal_password))?;
        w.optional(C::PATRON_PASSWORD, pin_str(&self.patron_password))?;
        w.optional(C::FEE_IDENTIFIER, self.fee_identifier.as_deref())?;
        w.optional(C::TRANSACTION_ID, self.transaction_id.as_deref())?;
        w.extra(&self.extra)
    }
}

/// 38 Fee Paid Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeePaidResponse {
    /// Payment accepted.
    pub payment_accepted: bool,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AA patron identifier.
    pub patron_identifier: CardNumber,
    /// BK transaction id.
    pub transaction_id: Option<String>,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl FeePaidResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let payment_accepted = r.yes_no("payment accepted")?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            payment_accepted,
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            patron_identifier: CardNumber::new(f.required(C::PATRON_IDENTIFIER)?),
            transaction_id: f.take(C::TRANSACTION_ID),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.yes_no(self.payment_accepted);
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::PATRON_IDENTIFIER, self.patron_identifier.expose())?;
        w.optional(C::TRANSACTION_ID, self.transaction_id.as_deref())?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}
