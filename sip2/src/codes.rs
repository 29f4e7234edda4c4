//! The coded values of fixed-length fields: open newtypes with named constants, so a value the
//! specification does not name is kept as it came.

use std::fmt;

macro_rules! open_code {
    ($(#[$doc:meta])* $name:ident($inner:ty) { $($(#[$cdoc:meta])* $const:ident = $value:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $inner);

        impl $name {
            $($(#[$cdoc])* pub const $const: $name = $name($value);)*

            /// The specification's name of this value, if it has one.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($const)),)*
                    _ => None,
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}({}={})", stringify!($name), self.0, n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }
    };
}

/// Language of a patron: three characters, digits in the specification (`007` Finnish), though
/// some systems send other text (Koha's tests send `eng`); kept as it came.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Language(pub [u8; 3]);

impl Language {
    /// 000 unknown.
    pub const UNKNOWN: Language = Language(*b"000");
    /// 001 English.
    pub const ENGLISH: Language = Language(*b"001");
    /// 006 Swedish.
    pub const SWEDISH: Language = Language(*b"006");
    /// 007 Finnish.
    pub const FINNISH: Language = Language(*b"007");

    /// The three characters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl fmt::Debug for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Language({})", self.as_str())
    }
}

open_code! {
    /// Circulation status of an item (two digits, message 18).
    CirculationStatus(u8) {
        /// 01
        OTHER = 1,
        /// 02
        ON_ORDER = 2,
        /// 03
        AVAILABLE = 3,
        /// 04
        CHARGED = 4,
        /// 05
        CHARGED_NOT_TO_BE_RECALLED = 5,
        /// 06
        IN_PROCESS = 6,
        /// 07
        RECALLED = 7,
        /// 08
        WAITING_ON_HOLD_SHELF = 8,
        /// 09
        WAITING_TO_BE_RESHELVED = 9,
        /// 10
        IN_TRANSIT = 10,
        /// 11
        CLAIMED_RETURNED = 11,
        /// 12
        LOST = 12,
        /// 13
        MISSING = 13,
    }
}

open_code! {
    /// Security marker of an item (two digits, message 18).
    SecurityMarker(u8) {
        /// 00
        OTHER = 0,
        /// 01
        NONE = 1,
        /// 02
        TATTLE_TAPE = 2,
        /// 03
        WHISPER_TAPE = 3,
    }
}

open_code! {
    /// Fee type (two digits).
    FeeType(u8) {
        /// 01
        OTHER = 1,
        /// 02
        ADMINISTRATIVE = 2,
        /// 03
        DAMAGE = 3,
        /// 04
        OVERDUE = 4,
        /// 05
        PROCESSING = 5,
        /// 06
        RENTAL = 6,
        /// 07
        REPLACEMENT = 7,
        /// 08
        COMPUTER_ACCESS = 8,
        /// 09
        HOLD_FEE = 9,
    }
}

open_code! {
    /// Payment type (two digits, message 37).
    PaymentType(u8) {
        /// 00
        CASH = 0,
        /// 01
        VISA = 1,
        /// 02
        CREDIT_CARD = 2,
    }
}

open_code! {
    /// Status of the self-check unit (one digit, message 99).
    ScStatusCode(u8) {
        /// 0
        OK = 0,
        /// 1
        OUT_OF_PAPER = 1,
        /// 2
        SHUTTING_DOWN = 2,
    }
}

/// The fourteen patron-status flags of messages 24 and 64, in the specification's order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PatronStatusFlags(pub [bool; 14]);

impl PatronStatusFlags {
    /// Position 0.
    pub const CHARGE_PRIVILEGES_DENIED: usize = 0;
    /// Position 1.
    pub const RENEWAL_PRIVILEGES_DENIED: usize = 1;
    /// Position 2.
    pub const RECALL_PRIVILEGES_DENIED: usize = 2;
    /// Position 3.
    pub const HOLD_PRIVILEGES_DENIED: usize = 3;
    /// Position 4.
    pub const CARD_REPORTED_LOST: usize = 4;
    /// Position 5.
    pub const TOO_MANY_ITEMS_CHARGED: usize = 5;
    /// Position 6.
    pub const TOO_MANY_ITEMS_OVERDUE: usize = 6;
    /// Position 7.
    pub const TOO_MANY_RENEWALS: usize = 7;
    /// Position 8.
    pub const TOO_MANY_CLAIMS_OF_ITEMS_RETURNED: usize = 8;
    /// Position 9.
    pub const TOO_MANY_ITEMS_LOST: usize = 9;
    /// Position 10.
    pub const EXCESSIVE_OUTSTANDING_FINES: usize = 10;
    /// Position 11.
    pub const EXCESSIVE_OUTSTANDING_FEES: usize = 11;
    /// Position 12.
    pub const RECALL_OVERDUE: usize = 12;
    /// Position 13.
    pub const TOO_MANY_ITEMS_BILLED: usize = 13;

    /// The specification's names, by position.
    pub const NAMES: [&'static str; 14] = [
        "charge privileges denied",
        "renewal privileges denied",
        "recall privileges denied",
        "hold privileges denied",
        "card reported lost",
        "too many items charged",
        "too many items overdue",
        "too many renewals",
        "too many claims of items returned",
        "too many items lost",
        "excessive outstanding fines",
        "excessive outstanding fees",
        "recall overdue",
        "too many items billed",
    ];

    /// Whether the flag at `position` is set.
    pub fn get(&self, position: usize) -> bool {
        self.0.get(position).copied().unwrap_or(false)
    }

    /// Sets the flag at `position` (positions past 13 are ignored).
    pub fn set(&mut self, position: usize, value: bool) {
        if let Some(slot) = self.0.get_mut(position) {
            *slot = value;
        }
    }

    /// The names of the flags that are set.
    pub fn set_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0
            .iter()
            .zip(Self::NAMES)
            .filter_map(|(&on, name)| on.then_some(name))
    }
}

impl fmt::Debug for PatronStatusFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.set_names()).finish()
    }
}

/// Which item list a Patron Information request (63) asks for: one `Y` among ten positions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Summary(pub [bool; 10]);

impl Summary {
    /// Position 0: hold items (AS).
    pub const HOLD_ITEMS: usize = 0;
    /// Position 1: overdue items (AT).
    pub const OVERDUE_ITEMS: usize = 1;
    /// Position 2: charged items (AU).
    pub const CHARGED_ITEMS: usize = 2;
    /// Position 3: fine items (AV).
    pub const FINE_ITEMS: usize = 3;
    /// Position 4: recall items (BU).
    pub const RECALL_ITEMS: usize = 4;
    /// Position 5: unavailable hold items (CD).
    pub const UNAVAILABLE_HOLDS: usize = 5;

    /// A summary asking for the list at `position`.
    pub fn asking_for(position: usize) -> Self {
        let mut s = Self::default();
        if let Some(slot) = s.0.get_mut(position) {
            *slot = true;
        }
        s
    }

    /// The first list asked for.
    pub fn requested(&self) -> Option<usize> {
        self.0.iter().position(|&b| b)
    }
}

impl fmt::Debug for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Summary({:?})", self.requested())
    }
}

/// The sixteen positions of the supported-messages field (BX) of message 98.
pub const SUPPORTED_MESSAGE_NAMES: [&str; 16] = [
    "patron status request",
    "checkout",
    "checkin",
    "block patron",
    "SC/ACS status",
    "request SC/ACS resend",
    "login",
    "patron information",
    "end patron session",
    "fee paid",
    "item information",
    "item status update",
    "patron enable",
    "hold",
    "renew",
    "renew all",
];
