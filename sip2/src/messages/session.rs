//! Session messages: login (93/94), status (99/98), resend (97/96).

use redact::Pin;

use crate::codes::ScStatusCode;
use crate::wire::{Reader, Writer};
use crate::{DecodeError, EncodeError, Field, FieldCode as C, SipDate};

/// 93 Login: the self-check unit signs in to the library system with its own account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRequest {
    /// UID algorithm, `0` for none.
    pub uid_algorithm: u8,
    /// PWD algorithm, `0` for none.
    pub pwd_algorithm: u8,
    /// CN login user id.
    pub login_user_id: String,
    /// CO login password.
    pub login_password: Pin,
    /// CP location code.
    pub location_code: Option<String>,
    /// Fields this codec has no name for, kept in order.
    pub extra: Vec<Field>,
}

impl LoginRequest {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let uid_algorithm = r.byte("UID algorithm")?;
        let pwd_algorithm = r.byte("PWD algorithm")?;
        let mut f = r.fields()?;
        Ok(Self {
            uid_algorithm,
            pwd_algorithm,
            login_user_id: f.required(C::LOGIN_USER_ID)?,
            login_password: Pin::new(f.required(C::LOGIN_PASSWORD)?),
            location_code: f.take(C::LOCATION_CODE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.buf.push(self.uid_algorithm);
        w.buf.push(self.pwd_algorithm);
        w.field(C::LOGIN_USER_ID, &self.login_user_id)?;
        w.field(C::LOGIN_PASSWORD, self.login_password.expose())?;
        w.optional(C::LOCATION_CODE, self.location_code.as_deref())?;
        w.extra(&self.extra)
    }
}

/// 94 Login Response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginResponse {
    /// Whether the login was accepted.
    pub ok: bool,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl LoginResponse {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let ok = r.one_zero("ok")?;
        let f = r.fields()?;
        Ok(Self {
            ok,
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.one_zero(self.ok);
        w.extra(&self.extra)
    }
}

/// 99 SC Status: the self-check unit reports its state and asks for the library system's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScStatus {
    /// Status code: 0 ok, 1 out of paper, 2 shutting down.
    pub status: ScStatusCode,
    /// Max print width, three digits.
    pub max_print_width: u16,
    /// Protocol version, `2.00`.
    pub protocol_version: String,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl ScStatus {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let status = r.code(1, "status code")?;
        let max_print_width = r.number(3, "max print width")?;
        let protocol_version = r.text(4, "protocol version")?;
        let f = r.fields()?;
        Ok(Self {
            status: ScStatusCode(status),
            max_print_width,
            protocol_version,
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.number(u16::from(self.status.0), 1, "status code")?;
        w.number(self.max_print_width, 3, "max print width")?;
        w.text(&self.protocol_version, 4, "protocol version")?;
        w.extra(&self.extra)
    }
}

/// 98 ACS Status: what the library system can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsStatus {
    /// On-line status.
    pub online: bool,
    /// Checkin allowed.
    pub checkin_ok: bool,
    /// Checkout allowed.
    pub checkout_ok: bool,
    /// ACS renewal policy: renewals allowed from the self-check unit.
    pub renewal_policy: bool,
    /// Item status updates allowed.
    pub status_update_ok: bool,
    /// Offline operation allowed.
    pub offline_ok: bool,
    /// Timeout period in tenths of a second, three digits (`000` means "no timeout").
    pub timeout_period: u16,
    /// Retries allowed, three digits (`999` means "unknown").
    pub retries_allowed: u16,
    /// The library system's clock.
    pub date_time_sync: SipDate,
    /// Protocol version, `2.00`.
    pub protocol_version: String,
    /// AO institution id.
    pub institution_id: String,
    /// AM library name.
    pub library_name: Option<String>,
    /// BX supported messages: sixteen `Y`/`N`, see [`crate::SUPPORTED_MESSAGE_NAMES`].
    pub supported_messages: String,
    /// AN terminal location.
    pub terminal_location: Option<String>,
    /// AF screen messages.
    pub screen_messages: Vec<String>,
    /// AG print lines.
    pub print_lines: Vec<String>,
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl AcsStatus {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let online = r.yes_no("on-line status")?;
        let checkin_ok = r.yes_no("checkin ok")?;
        let checkout_ok = r.yes_no("checkout ok")?;
        let renewal_policy = r.yes_no("ACS renewal policy")?;
        let status_update_ok = r.yes_no("status update ok")?;
        let offline_ok = r.yes_no("off-line ok")?;
        let timeout_period = r.number(3, "timeout period")?;
        let retries_allowed = r.number(3, "retries allowed")?;
        let date_time_sync = r.date("date / time sync")?;
        let protocol_version = r.text(4, "protocol version")?;
        let mut f = r.fields()?;
        Ok(Self {
            online,
            checkin_ok,
            checkout_ok,
            renewal_policy,
            status_update_ok,
            offline_ok,
            timeout_period,
            retries_allowed,
            date_time_sync,
            protocol_version,
            institution_id: f.required(C::INSTITUTION_ID)?,
            library_name: f.take(C::LIBRARY_NAME),
            supported_messages: f.required(C::SUPPORTED_MESSAGES)?,
            terminal_location: f.take(C::TERMINAL_LOCATION),
            screen_messages: f.all(C::SCREEN_MESSAGE),
            print_lines: f.all(C::PRINT_LINE),
            extra: f.rest(),
        })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.yes_no(self.online);
        w.yes_no(self.checkin_ok);
        w.yes_no(self.checkout_ok);
        w.yes_no(self.renewal_policy);
        w.yes_no(self.status_update_ok);
        w.yes_no(self.offline_ok);
        w.number(self.timeout_period, 3, "timeout period")?;
        w.number(self.retries_allowed, 3, "retries allowed")?;
        w.date(&self.date_time_sync, "date / time sync")?;
        w.text(&self.protocol_version, 4, "protocol version")?;
        w.field(C::INSTITUTION_ID, &self.institution_id)?;
        w.optional(C::LIBRARY_NAME, self.library_name.as_deref())?;
        w.field(C::SUPPORTED_MESSAGES, &self.supported_messages)?;
        w.optional(C::TERMINAL_LOCATION, self.terminal_location.as_deref())?;
        w.repeated(C::SCREEN_MESSAGE, &self.screen_messages)?;
        w.repeated(C::PRINT_LINE, &self.print_lines)?;
        w.extra(&self.extra)
    }
}

/// 97 Request ACS Resend (from the self-check unit) or 96 Request SC Resend (from the library
/// system): "your last message arrived damaged, send it again". Carries no sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resend {
    /// Fields this codec has no name for.
    pub extra: Vec<Field>,
}

impl Resend {
    pub(crate) fn read(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let f = r.fields()?;
        Ok(Self { extra: f.rest() })
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.extra(&self.extra)
    }
}
