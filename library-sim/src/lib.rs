//! A library-system simulator for developing and demonstrating self-service devices: it speaks
//! SIP2 over TLS (and plain TCP when asked) and Koha's REST API over HTTPS, lends and takes back items by real circulation rules
//! from a fixture catalogue, keeps its state on disk across restarts, and misbehaves on request.
//! It is not a library system: no cataloguing, no staff client, no patron self-registration.
//!
//! Layout:
//! - [`clock`]: the simulator's clock, the system's or one its caller sets.
//! - [`fixtures`]: the catalogue file: library, branches, device and staff accounts, patrons,
//!   items, rules; its dates resolved against the clock.
//! - [`circulation`]: lending, returns, renewals, fines, holds; pure, time as an argument.
//! - [`replies`]: SIP2 replies built from the circulation rules.
//! - [`store`]: state on disk, replaced atomically.
//! - [`tls`]: the simulator's own CA and server certificate.
//! - [`faults`]: fault injection and its control commands.
//! - [`server`]: listeners, connections, login, dispatch.
//! - [`rest`]: Koha's REST API over HTTPS on the same library, and the staff interface's offline
//!   circulation service.
//! - [`publishing`]: the catalogue as a patron export, and signed offline lists made from it.
//! - [`client`]: a scripted SIP2 client for the demo and tests.
//! - [`requests`]: the requests a self-check unit sends, filled in, for the demo and tests.
//!
//! The door and the kiosk run against it on simulated devices in the `rig` crate, which also
//! holds the README's demo: the simulator depends on none of the daemons it serves.
#![deny(missing_docs)]

pub mod circulation;
pub mod client;
pub mod clock;
pub mod faults;
pub mod fixtures;
pub mod publishing;
pub mod replies;
pub mod requests;
pub mod rest;
pub mod server;
pub mod store;
pub mod tls;

/// The demo fixture catalogue shipped with the simulator.
pub const DEFAULT_FIXTURES: &str = include_str!("../fixtures/heili.toml");

/// The fixture catalogue to serve: `given` if there is one, else `state/fixtures.toml`, written
/// from [`DEFAULT_FIXTURES`] on first use (and the state directory made) so it can be edited.
pub fn fixtures_or_default(
    state: &std::path::Path,
    given: Option<std::path::PathBuf>,
) -> anyhow::Result<std::path::PathBuf> {
    use anyhow::Context;
    if let Some(f) = given {
        return Ok(f);
    }
    std::fs::create_dir_all(state).with_context(|| format!("cannot create {}", state.display()))?;
    let path = state.join("fixtures.toml");
    if !path.exists() {
        std::fs::write(&path, DEFAULT_FIXTURES)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(path)
}
