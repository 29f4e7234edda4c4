//! A device's side of the library's console.
//!
//! The [`Outbox`] keeps what the device reports (status snapshots and events, as
//! [`report::Record`]s) on disk until the console acknowledges it: at least once from the device;
//! the console stores each record once. It is bounded: past its size, the oldest status snapshots
//! go first, then the oldest routine events (exits, starts, devices, states); entries, denials,
//! alarms, tampering, security events, loans and queue conflicts are never dropped
//! ([`report::Priority`]).
//!
//! The [`Sender`] delivers it: `POST /v1/report` over HTTPS with the device certificate, the
//! console's CA pinned; what the answer names (stored or refused for good) leaves the outbox.

pub mod commands;
pub mod link;
pub mod outbox;
pub mod policy;
pub mod sender;

pub use commands::{CommandHook, certificate_sha256};
pub use link::Link;
pub use outbox::{Outbox, OutboxError};
pub use policy::{Bundle, PolicyError, PolicyStore};
pub use sender::{PolicyHook, SendError, Sender, Sent};
