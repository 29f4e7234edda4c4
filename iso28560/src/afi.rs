//! The tag's Application Family Identifier, which library security gates read: an item in the
//! library is *secured* (the gate alarms), an item on loan is not. Libraries also use the EAS
//! bit of NXP tags for the same purpose; the driver sets whichever the library configures.

/// AFI of an item in the library: the gate alarms (ISO 28560-1).
pub const SECURED: u8 = 0x07;
/// AFI of an item on loan: the gate lets it pass (ISO 28560-1).
pub const ON_LOAN: u8 = 0xC2;

/// The AFI for an item that is (`true`) or is not on loan.
pub fn for_loan(on_loan: bool) -> u8 {
    if on_loan { ON_LOAN } else { SECURED }
}
