//! The kiosk's screens.

#[allow(
    unsafe_code,
    unused_qualifications,
    missing_docs,
    missing_debug_implementations,
    clippy::all
)]
mod generated {
    slint::include_modules!();
}
pub use generated::*;
