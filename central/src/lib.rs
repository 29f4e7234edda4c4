//! The library's console: every door and kiosk of a library in one place.
//!
//! This first part takes what devices report. Devices sit behind municipal firewalls, so they
//! connect out to the console: `POST /v1/report` over HTTPS with mutual TLS, with the device
//! certificate provisioning made. The console trusts the library's device CA only, knows each
//! device by its certificate (CN the device, O the institution, OU the branch; a body cannot
//! speak for another device), refuses a revoked certificate, and stores each record once (keyed
//! by device and the record's random id), in one transaction, before it answers: a device deletes
//! from its outbox only what the answer names, so nothing is lost and nothing counted twice.
//!
//! The database is SQLite (a file; the default, nothing to install) or PostgreSQL (a library's
//! production), one schema and one set of migrations for both, run at start.
//!
//! The fleet's gauges are served for Prometheus on a loopback address ([`metrics`]).
//!
//! Staff sign in to pages of their own ([`web`]): the fleet with problems first, each device,
//! alarms to acknowledge, the audit log. Alarms ([`alarms`], [`rules`]) are raised as records
//! are stored and told by e-mail and webhook, retried, each try recorded.
//!
//! Each branch's calendar is kept here and sent down to its devices as signed policy bundles
//! ([`policy`]): opening hours, Finnish public holidays computed, the branch's own closed days.

pub mod alarms;
pub mod commands;
pub mod db;
pub mod identity;
pub mod incidents;
pub mod ingest;
pub mod metrics;
pub mod patrons;
pub mod policy;
pub mod rules;
pub mod settings;
pub mod staff;
pub mod stats;
pub mod web;
pub mod words;

use std::sync::Arc;

pub use db::{Db, DbError};
pub use ingest::Console;
pub use settings::Settings;

/// Bytes as lowercase hex (ids, hashes).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The console's clock: Unix milliseconds. The service reads the system's; tests choose their own.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system's clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    })
}

/// Opens the database (migrating it), and starts the device listener.
pub async fn run(settings: &Settings, clock: Clock) -> anyhow::Result<Console> {
    let db = Db::open(&settings.database).await?;
    let alarms = Arc::new(settings.alarms.clone());
    let mut console = ingest::start(&settings.devices, db, clock.clone(), alarms).await?;
    if let Some(addr) = settings.metrics {
        console.serve_metrics(addr, clock.clone()).await?;
    }
    if let Some(staff) = &settings.staff {
        console.serve_staff(staff, clock.clone()).await?;
    }
    if let Some(p) = &settings.policy {
        console.publish_policies(p.clone(), clock.clone());
    }
    if let Some(k) = &settings.patrons {
        console.serve_patron_rights(k.clone());
    }
    console.prune_hourly(settings.retention, clock.clone());
    console.deliver_alarms(clock);
    Ok(console)
}
