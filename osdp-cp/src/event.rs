//! What a session tells: the reader up or down and why, who it is, its cards, keys and status.
//! Card data and keys are personal data: their debug forms show only their shape.

/// What the reader's ID reply says (PDID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Identity {
    /// The vendor's IEEE OUI.
    pub vendor: [u8; 3],
    /// Model number.
    pub model: u8,
    /// Model version.
    pub version: u8,
    /// Serial number.
    pub serial: u32,
    /// Firmware: major, minor, build.
    pub firmware: [u8; 3],
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c] = self.vendor;
        let [ma, mi, bu] = self.firmware;
        write!(
            f,
            "vendor {a:02X}{b:02X}{c:02X} model {} version {} serial {:08X} firmware {ma}.{mi}.{bu}",
            self.model, self.version, self.serial
        )
    }
}

/// Tamper and power as the reader reports them (LSTATR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LocalStatus {
    /// The reader's tamper switch is tripped.
    pub tamper: bool,
    /// The reader reports a power failure.
    pub power_failure: bool,
}

/// Card data as the reader sent it. Personal data: its debug form shows only its shape.
#[derive(Clone, PartialEq, Eq)]
pub enum CardData {
    /// Raw bits (osdp_RAW): `format` 1 is Wiegand, 0 unspecified; the bits first-received
    /// highest in `bytes`.
    Bits {
        /// The reader's format code.
        format: u8,
        /// How many bits.
        count: u16,
        /// `ceil(count / 8)` bytes.
        bytes: Vec<u8>,
    },
    /// Characters (osdp_FMT, deprecated by the spec but still sent by some readers).
    Chars(Vec<u8>),
}

impl std::fmt::Debug for CardData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bits { format, count, .. } => {
                write!(f, "CardData::Bits(format {format}, {count} bits)")
            }
            Self::Chars(c) => write!(f, "CardData::Chars({} characters)", c.len()),
        }
    }
}

/// Keys typed on the reader's keypad (osdp_KEYPAD: ASCII digits, `*`/0x7F, `#`/0x0D). Redacted in
/// its debug form: they are a PIN.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(pub Vec<u8>);

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyBytes({} keys)", self.0.len())
    }
}

/// Why the link is down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The reader does not answer.
    Silent(String),
    /// The secure channel could not be opened with the key we hold: another reader, a reader
    /// reset to its install key, or one that refuses the key offered.
    KeyRefused(String),
    /// A reply inside the secure channel failed its MAC, or came without one: not trusted.
    Untrusted(String),
    /// The reader answered something that makes no sense at this point.
    Protocol(String),
}

impl Fault {
    pub(crate) fn same_kind(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Silent(w) => write!(f, "the reader does not answer: {w}"),
            Self::KeyRefused(w) => write!(f, "no secure channel: {w}"),
            Self::Untrusted(w) => write!(f, "the reader is not trusted: {w}"),
            Self::Protocol(w) => write!(f, "protocol error: {w}"),
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The reader is in service (again).
    Up {
        /// Who it says it is (`None` when it did not answer ID).
        identity: Option<Identity>,
        /// Whether the secure channel is open.
        secure: bool,
    },
    /// The reader is out of service. Said once per cause, not at every retry.
    Down(Fault),
    /// A card was read.
    Card(CardData),
    /// Keys were typed.
    Keys(KeyBytes),
    /// The local status, when it is first read and whenever it changes.
    Status(LocalStatus),
    /// Pairing: the reader acknowledged its new key.
    Paired,
    /// The reader refused an LED, buzzer or text command (a NAK with this code).
    Refused {
        /// Which command.
        what: &'static str,
        /// The NAK's error code.
        nak: u8,
    },
    /// Bytes or frames that were not a reply to us were dropped.
    Garbled(String),
}
