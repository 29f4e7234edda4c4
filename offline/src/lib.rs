//! The offline allow-list on a door or kiosk: fetched over HTTPS, checked against the device's
//! pinned keys, applied into a sled store so that a crash or power cut leaves the old list or
//! the new one and never a mix, and asked "is this card + PIN a patron, and what are the facts?"
//! when the library system does not answer.
//!
//! It is not the access policy: it answers with the facts, and the door's policy (or the kiosk's
//! lending rules) decides.
//!
//! Layout:
//! - [`store`]: the sled store behind a narrow interface: generations, the ratchet.
//! - [`verify`]: card + PIN for both daemons: the library system within a timeout, else the list,
//!   with one wrong-PIN lockout over both.
//! - [`facts`]: the library system's answer and the list's entry as the access policy reads them.
//! - [`failures`]: the device's own PIN-failure records, apart from the list, in a file
//!   rewritten whole so that a removed record (erasure, expiry) leaves no bytes.
//! - [`learned`]: PIN verifiers the device learned after online checks, so a patron seen online
//!   once comes in offline even when the library system exports no PINs.
//! - [`apply`]: verifying a list or delta file and applying it to the store.
//! - [`lookup`]: card + PIN against the list in force, with lockout and the expired-list policy.
//! - [`sync`]: fetching head, delta or full list over HTTPS with conditional requests.
//! - [`selftest`]: the network half of both daemons' `selftest` (the table is `daemon::selftest`).
//! - [`status`]: the list in the words of the door's and the kiosk's `status`.
#![deny(missing_docs)]

pub mod apply;
pub mod facts;
pub mod failures;
pub mod learned;
pub mod lookup;
pub mod selftest;
pub mod status;
pub mod store;
pub mod sync;
pub mod verify;

pub use apply::{Applied, ApplyError, apply_file};
pub use lookup::{OfflineAnswer, OfflineError, OfflineList};
pub use store::{Store, StoreError};
pub use sync::{Fetcher, Progress, SyncError, Synced, sync_forever};
pub use verify::{Identity, Refusal, Verdict, Verifier};

/// Logs a refused list as a security event (target `security`).
pub fn log_refusal(source: &str, refusal: &allowlist::Refusal) {
    tracing::warn!(target: "security", event = "allowlist_refused", source, reason = %refusal, "allow-list refused: {refusal}");
}
