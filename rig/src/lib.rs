//! Rigs: a door and a kiosk on simulated devices, set up as a technician would set up real ones,
//! against the library-system simulator (`library-sim`). The README's demo, the interactive
//! `rig door` and `rig kiosk` commands, the end-to-end tests and the benchmarks stand on them.
//!
//! It is not part of any device: nothing here runs in production or is shipped in the Debian
//! package. It sits above both the simulator and the daemons it runs (`door-agent`, `kiosk`),
//! so the simulator never depends on the daemons it serves.
//!
//! Layout:
//! - [`door`]: the Lemi door on its twins (reader, keypad, GPIO pins as files), the simulator
//!   started with a published offline list, the door's part of the demo and `rig door`.
//! - [`kiosk`]: the Lappeenranta kiosk on its twins (FEIG RFID pad with ISO 28560 tags, receipt
//!   printer), its part of the demo and `rig kiosk`.
//! - [`demo`]: the README's demo from start to end.
#![deny(missing_docs)]

pub mod console;
pub mod demo;
pub mod door;
pub mod kiosk;
pub mod smtp_sink;
