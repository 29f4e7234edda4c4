//! A library-system simulator for developing and demonstrating self-service devices: it speaks
//! SIP2 over TLS (and plain TCP when asked) and Koha's REST API over HTTPS, lends and takes back items by real circulation rules
//! from a fixture catalogue, keeps its state on disk across restarts, and misbehaves on request.
//! It is not a library system: no cataloguing, no staff client, no patron self-registration.
//!
//! Layout:
//! - [`clock`]: the simulator's clock, the system's or one its caller sets.
//! - [`fixtures`]: the catalogue file: library, branches, device accounts, patrons, items, rules;
//!   its dates resolved against the clock.
//! - [`circulation`]: lending, returns, renewals, fines, holds; pure, time as an argument.
//! - [`replies`]: SIP2 replies built from the circulation rules.
//! - [`store`]: state on disk, replaced atomically.
//! - [`tls`]: the simulator's own CA and server certificate.
//! - [`faults`]: fault injection and its control commands.
//! - [`server`]: listeners, connections, login, dispatch.
//! - [`rest`]: Koha's REST API over HTTPS on the same library.
//! - [`client`]: a scripted SIP2 client for the demo and tests.
//! - [`requests`]: the requests a self-check unit sends, filled in, for the demo and tests.
//! - [`demo`]: the README's demo session.
#![deny(missing_docs)]

pub mod circulation;
pub mod client;
pub mod clock;
pub mod demo;
pub mod door;
pub mod faults;
pub mod fixtures;
pub mod kiosk;
pub mod publishing;
pub mod replies;
pub mod requests;
pub mod rest;
pub mod server;
pub mod store;
pub mod tls;

/// The demo fixture catalogue shipped with the simulator.
pub const DEFAULT_FIXTURES: &str = include_str!("../fixtures/heili.toml");
