//! One SIP2 message of any kind: recognise the whole frame, then act on it.

use std::fmt;

use crate::messages::circulation::*;
use crate::messages::item::*;
use crate::messages::patron::*;
use crate::messages::session::*;
use crate::wire::{FieldList, Reader, Writer};
use crate::{DecodeError, Dialect, EncodeError, FieldCode};

macro_rules! messages {
    ($($(#[$doc:meta])* $variant:ident($ty:ty) = $id:literal, $name:literal;)*) => {
        /// A SIP2 message, request or response.
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Message {
            $($(#[$doc])* $variant($ty),)*
        }

        impl Message {
            /// The two-digit identifier.
            pub fn id(&self) -> [u8; 2] {
                match self {
                    $(Self::$variant(_) => *$id,)*
                }
            }

            /// The specification's name of the message.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                }
            }

            fn read_body(id: [u8; 2], frame: &[u8], dialect: &Dialect) -> Result<(Self, Option<u8>, bool), DecodeError> {
                match &id {
                    $($id => {
                        let mut list = FieldList::new();
                        let mut r = Reader::new(frame, $name, dialect, &mut list);
                        let body = <$ty>::read(&mut r)?;
                        Ok((Self::$variant(body), r.sequence, r.checksum))
                    })*
                    _ => Err(DecodeError::UnknownMessage { found: String::from_utf8_lossy(&id).into_owned() }),
                }
            }

            /// Checks the body as `read_body` does, without building the message; splits the
            /// fields into `list`. The message's name, where its fields start, AY, and whether
            /// it had a checksum.
            fn check_body<'a>(id: [u8; 2], frame: &'a [u8], dialect: &Dialect, list: &mut FieldList<'a>) -> Result<(&'static str, usize, Option<u8>, bool), DecodeError> {
                match &id {
                    $($id => {
                        let mut r = Reader::check_only(frame, $name, dialect, list);
                        <$ty>::read(&mut r)?;
                        let (sequence, checksum) = (r.sequence, r.checksum);
                        Ok(($name, r.finish_check(), sequence, checksum))
                    })*
                    _ => Err(DecodeError::UnknownMessage { found: String::from_utf8_lossy(&id).into_owned() }),
                }
            }

            fn write_body(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
                match self {
                    $(Self::$variant(m) => m.write(w),)*
                }
            }
        }
    };
}

messages! {
    /// 01 Block Patron.
    BlockPatron(BlockPatron) = b"01", "Block Patron";
    /// 09 Checkin.
    Checkin(CheckinRequest) = b"09", "Checkin";
    /// 10 Checkin Response.
    CheckinResponse(CheckinResponse) = b"10", "Checkin Response";
    /// 11 Checkout.
    Checkout(CheckoutRequest) = b"11", "Checkout";
    /// 12 Checkout Response.
    CheckoutResponse(LoanResponse) = b"12", "Checkout Response";
    /// 17 Item Information.
    ItemInformation(ItemInformationRequest) = b"17", "Item Information";
    /// 18 Item Information Response.
    ItemInformationResponse(ItemInformationResponse) = b"18", "Item Information Response";
    /// 19 Item Status Update.
    ItemStatusUpdate(ItemStatusUpdateRequest) = b"19", "Item Status Update";
    /// 20 Item Status Update Response.
    ItemStatusUpdateResponse(ItemStatusUpdateResponse) = b"20", "Item Status Update Response";
    /// 23 Patron Status Request.
    PatronStatus(PatronStatusRequest) = b"23", "Patron Status Request";
    /// 24 Patron Status Response.
    PatronStatusResponse(PatronStatusResponse) = b"24", "Patron Status Response";
    /// 29 Renew.
    Renew(RenewRequest) = b"29", "Renew";
    /// 30 Renew Response.
    RenewResponse(LoanResponse) = b"30", "Renew Response";
    /// 35 End Patron Session.
    EndPatronSession(EndPatronSessionRequest) = b"35", "End Patron Session";
    /// 36 End Session Response.
    EndSessionResponse(EndSessionResponse) = b"36", "End Session Response";
    /// 37 Fee Paid.
    FeePaid(FeePaidRequest) = b"37", "Fee Paid";
    /// 38 Fee Paid Response.
    FeePaidResponse(FeePaidResponse) = b"38", "Fee Paid Response";
    /// 63 Patron Information.
    PatronInformation(PatronInformationRequest) = b"63", "Patron Information";
    /// 64 Patron Information Response.
    PatronInformationResponse(PatronInformationResponse) = b"64", "Patron Information Response";
    /// 65 Renew All.
    RenewAll(RenewAllRequest) = b"65", "Renew All";
    /// 66 Renew All Response.
    RenewAllResponse(RenewAllResponse) = b"66", "Renew All Response";
    /// 93 Login.
    Login(LoginRequest) = b"93", "Login";
    /// 94 Login Response.
    LoginResponse(LoginResponse) = b"94", "Login Response";
    /// 96 Request SC Resend (from the library system).
    RequestScResend(Resend) = b"96", "Request SC Resend";
    /// 97 Request ACS Resend (from the self-check unit).
    RequestAcsResend(Resend) = b"97", "Request ACS Resend";
    /// 98 ACS Status.
    AcsStatus(AcsStatus) = b"98", "ACS Status";
    /// 99 SC Status.
    ScStatus(ScStatus) = b"99", "SC Status";
}

/// Where each 18-character date of a message's fixed part starts, counted from the first digit
/// of the identifier (3M SIP2 2.00: fixed fields in order). For checks that every date sent is a
/// valid one; empty for messages without dates.
pub fn fixed_date_offsets(id: &[u8; 2]) -> &'static [usize] {
    match id {
        b"11" | b"29" => &[4, 22],
        b"09" => &[3, 21],
        b"17" | b"19" | b"35" | b"37" | b"65" => &[2],
        b"23" | b"63" => &[5],
        b"01" | b"20" | b"36" | b"38" => &[3],
        b"10" | b"12" | b"30" => &[6],
        b"18" => &[8],
        b"24" | b"64" => &[19],
        b"66" => &[11],
        b"98" => &[14],
        _ => &[],
    }
}

/// Whether `frame` holds a control character (below 0x20, or DEL). Looks at every byte without
/// stopping at the first hit, in blocks, so the compiler can test many bytes per instruction; the
/// caller finds where the first one is only when there is one.
fn has_control_character(frame: &[u8]) -> bool {
    let control = |b: u8| (b < 0x20) | (b == 0x7F);
    let blocks = frame.chunks_exact(32);
    let tail = blocks.remainder();
    blocks
        .map(|block| block.iter().fold(false, |hit, &b| hit | control(b)))
        .chain(tail.iter().map(|&b| control(b)))
        .fold(false, |hit, block| hit | block)
}

/// The frame without its terminator, and its identifier, once the checks every message shares
/// pass: not empty, within the dialect's bound, no control character.
fn frame_and_id<'f>(
    frame: &'f [u8],
    dialect: &Dialect,
) -> Result<(&'f [u8], [u8; 2]), DecodeError> {
    let mut end = frame.len();
    while end > 0 && matches!(frame[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    let frame = &frame[..end];
    if frame.is_empty() {
        return Err(DecodeError::Empty);
    }
    if frame.len() > dialect.max_message_len {
        return Err(DecodeError::TooLong {
            len: frame.len(),
            max: dialect.max_message_len,
        });
    }
    if has_control_character(frame) {
        if let Some(offset) = frame.iter().position(|&b| b < 0x20 || b == 0x7F) {
            return Err(DecodeError::ControlCharacter {
                offset,
                byte: frame[offset],
            });
        }
    }
    match frame {
        [a, b, ..] => Ok((frame, [*a, *b])),
        _ => Err(DecodeError::UnknownMessage {
            found: String::from_utf8_lossy(frame).into_owned(),
        }),
    }
}

/// One frame checked as [`Message::decode`] checks it — identifier, every fixed field, field
/// identifiers, the character set of every value, the sequence number and the checksum, and the
/// required fields of a strict dialect — with its variable-length fields left in the frame:
/// a value is borrowed wherever its bytes are already the text (ASCII in any character set, all
/// of UTF-8 in a UTF-8 dialect) and copied only where ISO-8859-1 or CP850 bytes above 0x7F must
/// be converted. Up to sixteen fields are held without an allocation.
///
/// For reading a few fields of many messages (a door asking whether a card is valid) without
/// building every string of the typed [`Message`]. `Debug` hides the values of personal fields.
pub struct MessageRef<'a> {
    id: [u8; 2],
    name: &'static str,
    fixed: &'a [u8],
    fields: FieldList<'a>,
    sequence: Option<u8>,
    checksummed: bool,
}

impl<'a> MessageRef<'a> {
    /// Checks one frame and splits it, borrowing from it. The terminator (CR, LF or CRLF) may be
    /// present or already removed. Fails exactly when [`Message::decode`] fails, with the same
    /// error; never panics.
    pub fn decode(frame: &'a [u8], dialect: &Dialect) -> Result<Self, DecodeError> {
        let (frame, id) = frame_and_id(frame, dialect)?;
        // Built first and filled in place: the field list is the bulk of it.
        let mut out = Self {
            id,
            name: "",
            fixed: &[],
            fields: FieldList::new(),
            sequence: None,
            checksummed: false,
        };
        let (name, fields_at, sequence, checksummed) =
            Message::check_body(id, frame, dialect, &mut out.fields)?;
        out.name = name;
        out.fixed = frame.get(2..fields_at).unwrap_or_default();
        out.sequence = sequence;
        out.checksummed = checksummed;
        Ok(out)
    }

    /// The two-digit identifier.
    pub fn id(&self) -> [u8; 2] {
        self.id
    }

    /// The specification's name of the message.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The fixed-length part after the identifier, as it came (every field of it checked).
    pub fn fixed(&self) -> &'a [u8] {
        self.fixed
    }

    /// The variable-length fields in frame order, AY and AZ excepted, as decoded from the
    /// dialect's character set.
    pub fn fields(&self) -> impl Iterator<Item = (FieldCode, &str)> + '_ {
        self.fields.iter()
    }

    /// The value of the first field with this identifier.
    pub fn field(&self, code: FieldCode) -> Option<&str> {
        self.fields().find(|(c, _)| *c == code).map(|(_, v)| v)
    }

    /// The values of every field with this identifier, in frame order (AF screen messages, AU
    /// charged items, …).
    pub fn all(&self, code: FieldCode) -> impl Iterator<Item = &str> + '_ {
        self.fields()
            .filter(move |(c, _)| *c == code)
            .map(|(_, v)| v)
    }

    /// How many variable-length fields the frame has, AY and AZ excepted.
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// The AY sequence number, if the frame had one; a reply echoes it.
    pub fn sequence(&self) -> Option<u8> {
        self.sequence
    }

    /// Whether the frame carried a checksum (which then verified).
    pub fn checksummed(&self) -> bool {
        self.checksummed
    }
}

impl fmt::Debug for MessageRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Values<'m, 'a>(&'m MessageRef<'a>);
        impl fmt::Debug for Values<'_, '_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list()
                    .entries(self.0.fields().map(|(code, value)| {
                        crate::Field::new(code, if code.is_personal() { "" } else { value })
                    }))
                    .finish()
            }
        }
        f.debug_struct("MessageRef")
            .field("id", &String::from_utf8_lossy(&self.id))
            .field("name", &self.name)
            .field("fields", &Values(self))
            .field("sequence", &self.sequence)
            .field("checksummed", &self.checksummed)
            .finish_non_exhaustive()
    }
}

/// A decoded message with its error-detection trailer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The message.
    pub message: Message,
    /// The AY sequence number, if the frame had one; a reply echoes it.
    pub sequence: Option<u8>,
    /// Whether the frame carried a checksum (which then verified).
    pub checksummed: bool,
}

impl Message {
    /// Whether this is a request a self-check unit sends (as opposed to a library system's reply).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Self::BlockPatron(_)
                | Self::Checkin(_)
                | Self::Checkout(_)
                | Self::ItemInformation(_)
                | Self::ItemStatusUpdate(_)
                | Self::PatronStatus(_)
                | Self::Renew(_)
                | Self::EndPatronSession(_)
                | Self::FeePaid(_)
                | Self::PatronInformation(_)
                | Self::RenewAll(_)
                | Self::Login(_)
                | Self::RequestAcsResend(_)
                | Self::ScStatus(_)
        )
    }

    /// Decodes one frame. The terminator (CR, LF or CRLF) may be present or already removed.
    /// Never panics; every malformed frame is a [`DecodeError`] that says where and why.
    ///
    /// [`MessageRef::decode`] makes the same checks without copying the field values out.
    pub fn decode(frame: &[u8], dialect: &Dialect) -> Result<Decoded, DecodeError> {
        let (frame, id) = frame_and_id(frame, dialect)?;
        let (message, sequence, checksummed) = Self::read_body(id, frame, dialect)?;
        Ok(Decoded {
            message,
            sequence,
            checksummed,
        })
    }

    /// Encodes the message with its terminator. With error detection on (in the dialect), appends
    /// the sequence number (if given) and the checksum. Resend requests (96/97) never carry a
    /// sequence number.
    pub fn encode(&self, dialect: &Dialect, sequence: Option<u8>) -> Result<Vec<u8>, EncodeError> {
        let id = self.id();
        let mut w = Writer::new(&id, dialect);
        self.write_body(&mut w)?;
        let resend = matches!(self, Self::RequestAcsResend(_) | Self::RequestScResend(_));
        w.finish(if resend { None } else { sequence })
    }
}
