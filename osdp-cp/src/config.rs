//! What a session is set up with: the reader's address and key, and its timings.

use std::time::Duration;

use osdp::secure::SCBK_D;

/// A secure channel base key. Its debug form is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Scbk(pub [u8; 16]);

impl Scbk {
    /// The install-time default key, SCBK-D (0x30 to 0x3F): a reader fresh from its box holds it.
    pub const DEFAULT: Self = Self(SCBK_D);

    /// Whether this is SCBK-D.
    pub fn is_default(&self) -> bool {
        self.0 == SCBK_D
    }
}

impl std::fmt::Debug for Scbk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scbk(redacted)")
    }
}

/// How the link is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Security {
    /// No secure channel: commands and replies in clear (a reader without one, as Wiegand is).
    Plain,
    /// A secure channel under the reader's own key; SCBK-D is never used.
    Key(Scbk),
    /// Install mode, for pairing only: a secure channel under SCBK-D, KEYSET with `new`, then the
    /// channel again under `new` (from then on as [`Security::Key`]).
    Pair {
        /// The key the reader is given.
        new: Scbk,
    },
    /// A new key for a reader already paired: a secure channel under its `current` key,
    /// KEYSET with `new`, then the channel again under `new`.
    Rekey {
        /// The key the reader holds.
        current: Scbk,
        /// The key it is given.
        new: Scbk,
    },
}

/// The session's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The reader's address (0 to 126).
    pub address: u8,
    /// Plain, a key, or pairing.
    pub security: Security,
    /// How long a reply may take (the spec's 200 ms).
    pub reply_timeout: Duration,
    /// Tries of one command before the reader is taken as gone.
    pub attempts: u8,
    /// The pause between polls.
    pub poll_every: Duration,
    /// How often a reader that is down is tried again.
    pub retry_every: Duration,
    /// How often the local status (tamper, power) is asked while up.
    pub status_every: Duration,
}

impl Config {
    /// The usual timings for a reader at `address`.
    pub fn new(address: u8, security: Security) -> Self {
        Self {
            address,
            security,
            reply_timeout: Duration::from_millis(200),
            attempts: 3,
            poll_every: Duration::from_millis(50),
            retry_every: Duration::from_secs(1),
            status_every: Duration::from_secs(10),
        }
    }
}

/// Where RND.A, the control panel's challenge, comes from (the caller's CSPRNG).
pub type Random = Box<dyn FnMut() -> [u8; 8] + Send>;
