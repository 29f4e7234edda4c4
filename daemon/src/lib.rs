//! What the door-agent and the kiosk share with the system around them: systemd's notification
//! protocol, and a health endpoint on localhost in Prometheus' text format.
//!
//! Layout:
//! - [`notify`]: `READY=1`, `WATCHDOG=1`, `STOPPING=1` to `$NOTIFY_SOCKET`, and the watchdog
//!   interval systemd asked for.
//! - [`gdpr`]: the card number from standard input and private export files, for `export` and
//!   `erase`.
//! - [`metrics`]: gauges a daemon sets as it runs, served at `/metrics` (no personal data:
//!   numbers only, no labels that could carry a card).
#![deny(missing_docs)]

pub mod gdpr;
pub mod metrics;
pub mod notify;

pub use metrics::Metrics;
pub use notify::{notify, watchdog_interval};
