//! Variable-length fields: two-character identifiers, values, and which of them are personal data.

use std::fmt;

/// A variable-length field identifier, such as `AA` (patron identifier). Open: identifiers this
/// codec has no name for are kept, so a message re-emits every field it was given.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldCode(pub [u8; 2]);

macro_rules! field_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal;)*) => {
        impl FieldCode {
            $($(#[$doc])* pub const $name: FieldCode = FieldCode(*$code);)*
        }
    };
}

field_codes! {
    /// AA patron identifier (the card number).
    PATRON_IDENTIFIER = b"AA";
    /// AB item identifier (the item's barcode).
    ITEM_IDENTIFIER = b"AB";
    /// AC terminal password.
    TERMINAL_PASSWORD = b"AC";
    /// AD patron password (the PIN).
    PATRON_PASSWORD = b"AD";
    /// AE personal name.
    PERSONAL_NAME = b"AE";
    /// AF screen message, shown to the patron.
    SCREEN_MESSAGE = b"AF";
    /// AG print line, for a receipt.
    PRINT_LINE = b"AG";
    /// AH due date.
    DUE_DATE = b"AH";
    /// AJ title identifier.
    TITLE_IDENTIFIER = b"AJ";
    /// AL blocked card message.
    BLOCKED_CARD_MESSAGE = b"AL";
    /// AM library name.
    LIBRARY_NAME = b"AM";
    /// AN terminal location.
    TERMINAL_LOCATION = b"AN";
    /// AO institution identifier.
    INSTITUTION_ID = b"AO";
    /// AP current location.
    CURRENT_LOCATION = b"AP";
    /// AQ permanent location.
    PERMANENT_LOCATION = b"AQ";
    /// AS hold items (repeated).
    HOLD_ITEMS = b"AS";
    /// AT overdue items (repeated).
    OVERDUE_ITEMS = b"AT";
    /// AU charged items (repeated).
    CHARGED_ITEMS = b"AU";
    /// AV fine items (repeated).
    FINE_ITEMS = b"AV";
    /// AY sequence number.
    SEQUENCE_NUMBER = b"AY";
    /// AZ checksum.
    CHECKSUM = b"AZ";
    /// BD home address.
    HOME_ADDRESS = b"BD";
    /// BE e-mail address.
    EMAIL_ADDRESS = b"BE";
    /// BF home phone number.
    HOME_PHONE_NUMBER = b"BF";
    /// BG owner.
    OWNER = b"BG";
    /// BH currency type.
    CURRENCY_TYPE = b"BH";
    /// BI cancel.
    CANCEL = b"BI";
    /// BK transaction identifier.
    TRANSACTION_ID = b"BK";
    /// BL valid patron.
    VALID_PATRON = b"BL";
    /// BM renewed items (repeated).
    RENEWED_ITEMS = b"BM";
    /// BN unrenewed items (repeated).
    UNRENEWED_ITEMS = b"BN";
    /// BO fee acknowledged.
    FEE_ACKNOWLEDGED = b"BO";
    /// BP start item.
    START_ITEM = b"BP";
    /// BQ end item.
    END_ITEM = b"BQ";
    /// BR queue position.
    QUEUE_POSITION = b"BR";
    /// BS pickup location.
    PICKUP_LOCATION = b"BS";
    /// BT fee type.
    FEE_TYPE = b"BT";
    /// BU recall items (repeated).
    RECALL_ITEMS = b"BU";
    /// BV fee amount.
    FEE_AMOUNT = b"BV";
    /// BW expiration date.
    EXPIRATION_DATE = b"BW";
    /// BX supported messages.
    SUPPORTED_MESSAGES = b"BX";
    /// BY hold type.
    HOLD_TYPE = b"BY";
    /// BZ hold items limit.
    HOLD_ITEMS_LIMIT = b"BZ";
    /// CA overdue items limit.
    OVERDUE_ITEMS_LIMIT = b"CA";
    /// CB charged items limit.
    CHARGED_ITEMS_LIMIT = b"CB";
    /// CC fee limit.
    FEE_LIMIT = b"CC";
    /// CD unavailable hold items (repeated).
    UNAVAILABLE_HOLD_ITEMS = b"CD";
    /// CF hold queue length.
    HOLD_QUEUE_LENGTH = b"CF";
    /// CG fee identifier.
    FEE_IDENTIFIER = b"CG";
    /// CH item properties.
    ITEM_PROPERTIES = b"CH";
    /// CI security inhibit.
    SECURITY_INHIBIT = b"CI";
    /// CJ recall date.
    RECALL_DATE = b"CJ";
    /// CK media type (three digits).
    MEDIA_TYPE = b"CK";
    /// CL sort bin (3M checkin extension).
    SORT_BIN = b"CL";
    /// CM hold pickup date.
    HOLD_PICKUP_DATE = b"CM";
    /// CN login user id.
    LOGIN_USER_ID = b"CN";
    /// CO login password.
    LOGIN_PASSWORD = b"CO";
    /// CP location code.
    LOCATION_CODE = b"CP";
    /// CQ valid patron password.
    VALID_PATRON_PASSWORD = b"CQ";
    /// CR collection code (3M extension).
    COLLECTION_CODE = b"CR";
    /// CS call number (3M extension).
    CALL_NUMBER = b"CS";
    /// CT destination location (3M checkin extension).
    DESTINATION_LOCATION = b"CT";
    /// CV alert type (3M checkin extension).
    ALERT_TYPE = b"CV";
    /// CY hold patron id (3M checkin extension): another patron's card number.
    HOLD_PATRON_ID = b"CY";
    /// DA hold patron name (3M checkin extension).
    HOLD_PATRON_NAME = b"DA";
    /// PA: Koha's "self-service branch-specific access blocks"; the patron's expiry date in
    /// Evergreen and SirsiDynix Symphony. Which it is belongs to the dialect's field mapping.
    PATRON_EXTENSION_PA = b"PA";
    /// PB patron birth date (Envisionware extension), usually `YYYYMMDD`.
    PATRON_BIRTH_DATE = b"PB";
    /// PC patron class / category (Envisionware extension).
    PATRON_CLASS = b"PC";
    /// PI patron internet profile (Envisionware extension).
    PATRON_INTERNET_PROFILE = b"PI";
    /// WS owner library ISIL (used by Nordic RFID and self-check vendors).
    OWNER_ISIL = b"WS";
}

impl FieldCode {
    /// Whether values of this field are personal data or secrets that must never be logged.
    pub fn is_personal(self) -> bool {
        matches!(
            self,
            Self::PATRON_IDENTIFIER
                | Self::TERMINAL_PASSWORD
                | Self::PATRON_PASSWORD
                | Self::PERSONAL_NAME
                | Self::HOME_ADDRESS
                | Self::EMAIL_ADDRESS
                | Self::HOME_PHONE_NUMBER
                | Self::LOGIN_PASSWORD
                | Self::HOLD_PATRON_ID
                | Self::HOLD_PATRON_NAME
                | Self::PATRON_BIRTH_DATE
        )
    }

    /// Whether a value must reach the peer exactly as given: identifiers and secrets, which the
    /// peer matches (an altered card number or PIN names someone else). Other text a character
    /// set lacks a character for is transliterated; these are refused instead.
    pub fn must_be_exact(self) -> bool {
        matches!(
            self,
            Self::PATRON_IDENTIFIER
                | Self::ITEM_IDENTIFIER
                | Self::TERMINAL_PASSWORD
                | Self::PATRON_PASSWORD
                | Self::INSTITUTION_ID
                | Self::LOGIN_USER_ID
                | Self::LOGIN_PASSWORD
                | Self::HOLD_PATRON_ID
        )
    }

    /// The identifier as text.
    pub fn as_str(&self) -> &str {
        // Only built from ASCII upper-case letters and digits.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    pub(crate) fn is_valid(bytes: [u8; 2]) -> bool {
        bytes
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b.is_ascii_lowercase())
    }
}

impl fmt::Display for FieldCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for FieldCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A variable-length field: its identifier and decoded value.
#[derive(Clone, PartialEq, Eq)]
pub struct Field {
    /// The identifier.
    pub code: FieldCode,
    /// The value, decoded from the wire character set.
    pub value: String,
}

impl Field {
    /// A field.
    pub fn new(code: FieldCode, value: impl Into<String>) -> Self {
        Self {
            code,
            value: value.into(),
        }
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_personal() {
            write!(f, "{}={}", self.code, redact::REDACTED)
        } else {
            write!(f, "{}={:?}", self.code, self.value)
        }
    }
}
