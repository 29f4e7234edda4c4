//! The door's gauges on its loopback health endpoint (`/metrics`, see [`daemon::Metrics`]):
//! up, whether the door polled its inputs lately, the offline list's version and expiry, alarms
//! in the last day and the events held. Set only when the endpoint or a console is configured.

use std::sync::Arc;
use std::time::Duration;

use offline::OfflineList;
use tokio::time::Instant;

use crate::Clock;
use crate::events::EventLog;
use crate::settings::DoorSettings;

/// The gauges and what they read.
#[allow(missing_debug_implementations)]
pub struct Health {
    metrics: daemon::Metrics,
    endpoint: Option<std::net::SocketAddr>,
    /// The door reports to the library's console, which takes these gauges too.
    console: bool,
    list: OfflineList,
    events: EventLog,
    clock: Clock,
    state_dir: std::path::PathBuf,
    /// When the daemon started (Unix seconds), for its uptime.
    started: i64,
}

impl Health {
    /// Gauges for the door of `settings`.
    pub fn new(
        settings: &Arc<DoorSettings>,
        list: OfflineList,
        events: EventLog,
        clock: Clock,
    ) -> Self {
        Self {
            metrics: daemon::Metrics::new(),
            endpoint: settings.metrics,
            console: settings.console.is_some(),
            list,
            events,
            started: clock().timestamp(),
            clock,
            state_dir: settings.state_dir.clone(),
        }
    }

    /// The gauges themselves (for the other tasks that set some).
    pub fn metrics(&self) -> &daemon::Metrics {
        &self.metrics
    }

    /// Serves the endpoint, when one is configured, until the task is aborted.
    pub fn serve(&self) -> Option<tokio::task::JoinHandle<()>> {
        let addr = self.endpoint?;
        let m = self.metrics.clone();
        Some(tokio::spawn(async move {
            if let Err(e) = m.serve(addr).await {
                tracing::error!("health endpoint {addr}: {e}");
            }
        }))
    }

    /// The door's own state: the lock, the library's state (0 closed, 1 self-service, 2
    /// staffed), alarms raised.
    pub fn door(&self, unlocked: bool, state: Option<access::hours::LibraryState>, alarms: usize) {
        if self.endpoint.is_none() && !self.console {
            return;
        }
        let metrics = &self.metrics;
        metrics.set(
            "omatoimi_lock_released",
            "1 while the lock is released",
            if unlocked { 1.0 } else { 0.0 },
        );
        if let Some(state) = state {
            metrics.set(
                "omatoimi_library_state",
                "the library's state: 0 closed, 1 self-service, 2 staffed",
                match state {
                    access::hours::LibraryState::Closed => 0.0,
                    access::hours::LibraryState::SelfService => 1.0,
                    access::hours::LibraryState::Staffed => 2.0,
                },
            );
        }
        metrics.set(
            "omatoimi_alarms_raised",
            "alarms raised now (forced or held open)",
            alarms as f64,
        );
    }

    /// Sets the gauges; the ones that scan the event log only when `full` (every 15 s).
    /// `last_poll` is when the door last read its inputs.
    pub fn gauges(&self, full: bool, last_poll: Instant) {
        if self.endpoint.is_none() && !self.console {
            return;
        }
        let metrics = &self.metrics;
        metrics.set("omatoimi_up", "1 while the door-agent runs", 1.0);
        metrics.set(
            "omatoimi_start_timestamp_seconds",
            "when the door-agent started (Unix time)",
            self.started as f64,
        );
        daemon::selftest::gauges(&self.state_dir, metrics);
        metrics.set(
            "omatoimi_door_task_alive",
            "1 when the door (relay, contact, alarms) polled its inputs in the last 2 s",
            if last_poll.elapsed() < Duration::from_secs(2) {
                1.0
            } else {
                0.0
            },
        );
        if let Some(c) = self.list.store().current() {
            let h = &c.header.header;
            metrics.set(
                "omatoimi_allowlist_version",
                "version of the offline list applied",
                h.version as f64,
            );
            metrics.set(
                "omatoimi_allowlist_expires_timestamp_seconds",
                "when the applied offline list expires (Unix time)",
                h.expires_at as f64,
            );
        }
        if !full {
            return;
        }
        let now = (self.clock)().timestamp_millis();
        if let Ok(recent) = self.events.between(now - 86_400_000, now + 1) {
            metrics.set(
                "omatoimi_alarms_24h",
                "alarms and tamper events in the last 24 hours",
                recent.iter().filter(|e| e.kind.is_alarm()).count() as f64,
            );
            let last = |kind| recent.iter().rev().find(|e| e.kind == kind).map(|e| e.at);
            for (kind, name, help) in [
                (
                    crate::events::Kind::Entry,
                    "omatoimi_last_entry_timestamp_seconds",
                    "the last patron let in within 24 hours (Unix time)",
                ),
                (
                    crate::events::Kind::Denied,
                    "omatoimi_last_denial_timestamp_seconds",
                    "the last patron refused within 24 hours (Unix time)",
                ),
            ] {
                if let Some(at) = last(kind) {
                    metrics.set(name, help, (at / 1000) as f64);
                }
            }
        }
        eventlog::gauges(&self.events, metrics, now);
    }
}
