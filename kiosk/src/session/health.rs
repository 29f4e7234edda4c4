//! The kiosk's gauges for the health endpoint.

use super::*;

impl<R: Registry + Clone, P: RfidPad, Pr: ReceiptPrinter> Kiosk<R, P, Pr> {
    /// Health as numbers: no personal data, no labels.
    pub(super) fn update_metrics(&mut self) {
        let now = Instant::now();
        if now < self.next_metrics {
            return;
        }
        self.next_metrics = now + Duration::from_secs(2);
        let m = &self.metrics;
        m.set("omatoimi_up", "1 while the kiosk's flows run", 1.0);
        daemon::selftest::gauges(&self.settings.state_dir, m);
        m.set(
            "omatoimi_uptime_seconds",
            "seconds since the kiosk started",
            now.duration_since(self.started).as_secs_f64().round(),
        );
        let (name, help) = daemon::metrics::ONLINE;
        m.set(name, help, if self.view.offline { 0.0 } else { 1.0 });
        let all = self.queue.list();
        let conflicts = all
            .iter()
            .filter(|d| matches!(d.state, crate::queue::State::Conflict(_)))
            .count();
        m.set(
            "omatoimi_queue_waiting",
            "offline transactions waiting for the library system",
            (all.len() - conflicts) as f64,
        );
        m.set(
            "omatoimi_queue_conflicts",
            "offline transactions the library system refused, kept for staff",
            conflicts as f64,
        );
        if let Some(c) = self.list.as_ref().and_then(|l| l.store().current()) {
            let h = &c.header.header;
            m.set(
                "omatoimi_allowlist_version",
                "version of the offline list applied",
                h.version as f64,
            );
            m.set(
                "omatoimi_allowlist_expires_timestamp_seconds",
                "when the applied offline list expires (Unix time)",
                h.expires_at as f64,
            );
        }
        m.set(
            "omatoimi_rfid_pad_ok",
            "1 when the RFID pad answers (or none is configured)",
            if self.pad_error.is_some() { 0.0 } else { 1.0 },
        );
        if let Some(out) = self.paper_out {
            m.set(
                "omatoimi_printer_paper_out",
                "1 when the receipt printer was out of paper at its last print",
                if out { 1.0 } else { 0.0 },
            );
        }
        // The security log's count of the last day, every 15 s (it is read from disk).
        if now >= self.next_log_gauges {
            self.next_log_gauges = now + Duration::from_secs(15);
            if let Some(log) = &self.events {
                eventlog::gauges(log, m, (self.clock)().timestamp_millis());
            }
        }
        m.set(
            "omatoimi_in_session",
            "1 while a patron is using the kiosk",
            if self.view.screen == Screen::Welcome {
                0.0
            } else {
                1.0
            },
        );
    }
}
