//! The kiosk's touch screens, written in slint, in Finnish, Swedish and English.
//!
//! This crate draws what the kiosk decides; it decides nothing. The kiosk hands it a [`View`]
//! (plain Rust data: which screen, which rows, which codes) and gets [`Action`]s back from
//! touches. The words are in the `.slint` file under `@tr()`, translated in
//! `lang/{fi,sv}/LC_MESSAGES/ui.po` and bundled into the binary at build time, so the language
//! switches at any moment and every word on the screen follows.
//!
//! Without the `screens` feature only [`view`] is built: the kiosk's logic needs no slint.
//!
//! Layout:
//! - [`view`]: the screen as data ([`View`]) and the patron's touches ([`Action`]).
//! - [`bind`]: a [`View`] onto the slint window, and the window's callbacks into [`Action`]s.
//! - [`headless`]: slint's software renderer without a display, for tests, screenshots and
//!   benchmarks: render to PNG, tap at a point.

#![deny(missing_docs)]

#[cfg(feature = "screens")]
#[allow(
    unsafe_code,
    unused_qualifications,
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod generated {
    slint::include_modules!();
}

#[cfg(feature = "screens")]
pub mod bind;
#[cfg(feature = "screens")]
pub mod headless;
pub mod samples;
pub mod view;

#[cfg(feature = "screens")]
pub use generated::{Fit, KioskWindow, Palette};
pub use view::{
    Action, Help, Hold, Loan, Message, Mode, Outcome, Renewal, Row, RowState, Screen, View,
};

/// Something the screen could not do.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// slint could not start (no display for a window, a platform already set).
    #[error("the screen could not start: {0}")]
    Platform(String),
    /// A screenshot could not be written.
    #[error("screenshot {path}: {message}")]
    Screenshot {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}
