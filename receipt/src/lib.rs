//! Receipts for the kiosk's ESC/POS printer, with no I/O and no clock.
//!
//! This crate lays out a receipt (library, date, items and due dates; never the patron's name or
//! card), encodes it in the ESC/POS command language in a code page that has the Finnish and
//! Swedish letters, reads printer bytes back into text (for tests and the printer simulator),
//! and decodes the printer's real-time status replies. Sending the bytes is the driver's job
//! (`drivers::printer`).
//!
//! Layout:
//! - [`codepage`]: the code pages a receipt printer offers (PC437, PC850, PC858, PC865), with
//!   their `ESC t` numbers; characters outside a page are written as a close ASCII spelling.
//! - [`escpos`]: a receipt as a list of [`escpos::Op`]s and their encoding into bytes.
//! - [`render`]: printer bytes back into lines of text, as the paper would show them.
//! - [`status`]: `DLE EOT` status requests and the meaning of their replies (paper out, offline).
//! - [`layout`]: the kiosk's receipt in Finnish, Swedish or English.

#![deny(missing_docs)]

pub mod codepage;
pub mod escpos;
pub mod layout;
pub mod render;
pub mod status;

pub use codepage::CodePage;
pub use escpos::{Align, Op};
pub use layout::{Receipt, ReceiptKind, ReceiptLine, test_page};
pub use render::{Paper, RenderError};
pub use status::PrinterStatus;
