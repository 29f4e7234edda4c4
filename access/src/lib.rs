//! The door's decisions, as pure functions of their inputs and an instant given by the caller: no
//! I/O, no clock, no async. The door-agent wires them to devices and timers; tests drive them
//! minute by minute and edge by edge.
//!
//! Layout:
//! - [`door`]: the door, whole: card, PIN, verdict, policy, lock, alarms, lights and the
//!   library's state in one state machine fed events and instants (start reading here).
//! - [`zone`]: wall-clock time in a named zone, its rules from the system's tz database.
//! - [`hours`]: a branch's week, exceptions and last-entry margin; the library's state.
//! - [`holidays`]: Finnish public holidays for any year, and a branch's calendar of them.
//! - [`state`]: outputs switched by the library's state, with offsets, and closing announcements.
//! - [`policy`]: may this patron come in now? Open, or a denial with a reason code.
//! - [`lending`]: offline, may this patron borrow (the policy's account rules), may this item be
//!   lent (from its tags) and for how long.
//! - [`pin`]: PIN entry from a keypad: digits, `*` to clear, `#` to submit, timeouts.
//! - [`watch`]: the door contact and exit button: relock, held-open and forced-open alarms.
//! - [`limits`]: wrong-PIN lockouts per card and a bound on attempts overall.
//! - [`wiegand`]: Wiegand 26/34/37-bit frames from timed bits, with parity, and 4/8-bit key bursts.
#![deny(missing_docs)]

pub mod door;
pub mod holidays;
pub mod hours;
pub mod lending;
pub mod limits;
pub mod pin;
pub mod policy;
pub mod state;
pub mod watch;
pub mod wiegand;
pub mod zone;
