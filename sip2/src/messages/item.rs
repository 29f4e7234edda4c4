//! Item messages: information (17/18) and status update (19/20).

use redact::Pin;

use crate::codes::{CirculationStatus, FeeType, SecurityMarker};
use crate::wire::{Reader, Writer};
use crate::{DecodeError, EncodeError, Field, FieldCode as C, SipDate};

/// 17 Item Information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInformationRequest {
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AB item identifier.
    pub item_identifier: String,
    /// AC terminal password.
    pub terminal_password: Option<Pin>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl ItemInformationRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            item_identifier: f.required(C::ITEM_IDENTIFIER)?,
            terminal_password: f.take(C::TERMINAL_PASSWORD).map(Pin::new),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::ITEM_IDENTIFIER, &self.item_identifier)?;
        w.optional(
            C::TERMINAL_PASSWORD,
            self.terminal_password.as_ref().map(Pin::expose),
        )?;
        w.extra(&self.extra)
    }
}

/// 18 Item Information Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInformationResponse {
    /// Circulation status.
    pub circulation_status: CirculationStatus,
    /// Security marker.
    pub security_marker: SecurityMarker,
    /// Fee type.
    pub fee_type: FeeType,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// CF hold queue length.
    pub hold_queue_length: Option<String>,
    /// AH due date.
    pub due_date: Option<String>,
    /// CJ recall date.
    pub recall_date: Option<String>,
    /// CM hold pickup date.
    pub hold_pickup_date: Option<String>,
    /// AB item identifier.
    pub item_identifier: String,
    /// AJ title identifier.
    pub title_identifier: String,
    /// BG owner.
    pub owner: Option<String>,
    /// BH currency type.
    pub currency_type: Option<String>,
    /// BV fee amount.
    pub fee_amount: Option<String>,
    /// CK media type.
    pub media_type: Option<String>,
    /// AQ permanent location.
    pub permanent_location: Option<String>,
    /// AP current location.
    pub current_location: Option<String>,
    /// CH item properties.
    pub item_properties: Option<String>,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Extension and unknown fields (CS call number, WS owner ISIL, …).
    pub extra: Vec<Field>,
}

impl ItemInformationResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let circulation_status = CirculationStatus(r.code(2, "circulation status")?);
        let security_marker = SecurityMarker(r.code(2, "security marker")?);
        let fee_type = FeeType(r.code(2, "fee type")?);
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            circulation_status,
            security_marker,
            fee_type,
            transaction_date,
            hold_queue_length: f.take(C::HOLD_QUEUE_LENGTH),
            due_date: f.take(C::DUE_DATE),
            recall_date: f.take(C::RECALL_DATE),
            hold_pickup_date: f.take(C::HOLD_PICKUP_DATE),
            item_identifier: f.required(C::ITEM_IDENTIFIER)?,
            title_identifier: f.required(C::TITLE_IDENTIFIER)?,
            owner: f.take(C::OWNER),
            currency_type: f.take(C::CURRENCY_TYPE),
            fee_amount: f.take(C::FEE_AMOUNT),
            media_type: f.take(C::MEDIA_TYPE),
            permanent_location: f.take(C::PERMANENT_LOCATION),
            current_location: f.take(C::CURRENT_LOCATION),
            item_properties: f.take(C::ITEM_PROPERTIES),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.number(
            u16::from(self.circulation_status.0),
            2,
            "circulation status",
        )?;
        w.number(u16::from(self.security_marker.0), 2, "security marker")?;
        w.number(u16::from(self.fee_type.0), 2, "fee type")?;
        w.date(&self.transaction_date, "transaction date")?;
        w.optional(C::HOLD_QUEUE_LENGTH, self.hold_queue_length.as_deref())?;
        w.optional(C::DUE_DATE, self.due_date.as_deref())?;
        w.optional(C::RECALL_DATE, self.recall_date.as_deref())?;
        w.optional(C::HOLD_PICKUP_DATE, self.hold_pickup_date.as_deref())?;
        w.field(C::ITEM_IDENTIFIER, &self.item_identifier)?;
        w.field(C::TITLE_IDENTIFIER, &self.title_identifier)?;
        w.optional(C::OWNER, self.owner.as_deref())?;
        w.optional(C::CURRENCY_TYPE, self.currency_type.as_deref())?;
        w.optional(C::FEE_AMOUNT, self.fee_amount.as_deref())?;
        w.optional(C::MEDIA_TYPE, self.media_type.as_deref())?;
        w.optional(C::PERMANENT_LOCATION, self.permanent_location.as_deref())?;
        w.optional(C::CURRENT_LOCATION, self.current_location.as_deref())?;
        w.optional(C::ITEM_PROPERTIES, self.item_properties.as_deref())?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}

/// 19 Item Status Update: change an item's properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStatusUpdateRequest {
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AO institution id.
    pub institution_id: String,
    /// AB item identifier.
    pub item_identifier: String,
    /// AC terminal password.
    pub terminal_password: Option<Pin>,
    /// CH item properties.
    pub item_properties: String,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl ItemStatusUpdateRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            transaction_date,
            institution_id: f.required(C::INSTITUTION_ID)?,
            item_identifier: f.required(C::ITEM_IDENTIFIER)?,
            terminal_password: f.take(C::TERMINAL_PASSWORD).map(Pin::new),
            item_properties: f.required(C::ITEM_PROPERTIES)?,
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.field(C::ITEM_IDENTIFIER, &self.item_identifier)?;
        w.optional(
            C::TERMINAL_PASSWORD,
            self.terminal_password.as_ref().map(Pin::expose),
        )?;
        w.field(C::ITEM_PROPERTIES, &self.item_properties)?;
        w.extra(&self.extra)
    }
}

/// 20 Item Status Update Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemStatusUpdateResponse {
    /// Item properties ok.
    pub item_properties_ok: bool,
    /// Transaction date.
    pub transaction_date: SipDate,
    /// AB item identifier.
    pub item_identifier: String,
    /// AJ title identifier.
    pub title_identifier: Option<String>,
    /// CH item properties.
    pub item_properties: Option<String>,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl ItemStatusUpdateResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let item_properties_ok = r.one_zero("item properties ok")?;
        let transaction_date = r.date("transaction date")?;
        let mut f = r.fields()?;
        Ok(Self {
            item_properties_ok,
            transaction_date,
            item_identifier: f.required(C::ITEM_IDENTIFIER)?,
            title_identifier: f.take(C::TITLE_IDENTIFIER),
            item_properties: f.take(C::ITEM_PROPERTIES),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.one_zero(self.item_properties_ok);
        w.date(&self.transaction_date, "transaction date")?;
        w.field(C::ITEM_IDENTIFIER, &self.item_identifier)?;
        w.optional(C::TITLE_IDENTIFIER, self.title_identifier.as_deref())?;
        w.optional(C::ITEM_PROPERTIES, self.item_properties.as_deref())?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}
