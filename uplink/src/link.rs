//! A device's running link to the console: its outbox, the task that delivers it, a wake-up for
//! what must go at once, and a status snapshot every `status_every`. The door and the kiosk each
//! start one when `[console]` is set; a device without it works as before.

use std::sync::Arc;
use std::time::Duration;

use report::{Body, Role};

use crate::{Outbox, Sender};

/// The running link.
#[derive(Debug)]
pub struct Link {
    /// The outbox: push records here.
    pub outbox: Arc<Outbox>,
    /// Notified for what must reach a person at once (alarms, security events).
    pub wake: Arc<tokio::sync::Notify>,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Link {
    /// Opens the outbox and starts delivering it; `snapshot` gives the gauges reported every
    /// `status_every` (non-finite values left out); `policy`, when given, takes the branch's
    /// policy bundles the console's answers name. Errors are for the log: the device works on
    /// without the console.
    pub fn start(
        c: &config::console::ConsoleSettings,
        role: Role,
        name: Option<String>,
        now_ms: impl Fn() -> i64 + Clone + Send + Sync + 'static,
        snapshot: impl Fn() -> Vec<(String, f64)> + Send + Sync + 'static,
        policy: Option<crate::sender::PolicyHook>,
        commands: Option<crate::CommandHook>,
    ) -> Result<Self, String> {
        let outbox =
            Arc::new(Outbox::open(&c.outbox, c.outbox_max_bytes).map_err(|e| e.to_string())?);
        let sender = Sender::new(&c.url, &c.tls, role, name).map_err(|e| e.to_string())?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = vec![];
        if let Some(hook) = commands {
            tasks.push(tokio::spawn(crate::commands::commands_forever(
                sender.clone(),
                hook,
                outbox.clone(),
                stopped.clone(),
            )));
        }
        let mut until_stopped = stopped.clone();
        let deliver = tokio::spawn(sender.run(
            outbox.clone(),
            now_ms.clone(),
            wake.clone(),
            c.status_every,
            policy,
            async move {
                let _ = until_stopped.changed().await;
            },
        ));
        let (o, every) = (outbox.clone(), c.status_every);
        let mut until_stopped = stopped;
        let status = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = until_stopped.changed() => break,
                    _ = tick.tick() => {
                        let gauges = snapshot().into_iter().filter(|(_, v)| v.is_finite()).collect();
                        if let Err(e) = o.push(now_ms(), Body::Status { gauges }) {
                            tracing::error!("{e}");
                        }
                    }
                }
            }
        });
        tracing::info!(console = %c.url, outbox = %c.outbox.display(), "reporting to the library's console");
        Ok(Self {
            outbox,
            wake,
            stop,
            tasks: {
                tasks.extend([deliver, status]);
                tasks
            },
        })
    }

    /// Records an event for the console (`urgent` wakes the sender at once). A full disk is
    /// logged: the device's own work goes on.
    pub fn event(&self, at_ms: i64, event: report::Event, urgent: bool) {
        if let Err(e) = self.outbox.push(at_ms, Body::Event { event }) {
            tracing::error!("{e}");
        }
        if urgent {
            self.wake.notify_one();
        }
    }

    /// Stops delivering (what is left stays in the outbox for the next start).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
