//! One struct per message layout. Requests carry personal data in [`redact`] types.

pub mod circulation;
pub mod item;
pub mod patron;
pub mod session;
