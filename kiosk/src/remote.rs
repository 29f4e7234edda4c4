//! Commands from the library's console to a kiosk, when `[console] policy_keys` names the
//! console's keys: only a selftest of what needs no person (the state directory, the offline
//! list, the library system, the offline loans waiting). A kiosk has no door: any other order is
//! answered as refused. A command that does not verify is refused and reported as a security
//! event, as a door does.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use daemon::selftest::{Check, check};
use offline::OfflineList;
use registry::{AnyRegistry, Registry};
use report::command::Order;

use crate::queue::Queue;
use crate::session::Clock;

/// What the selftest reads.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Parts {
    /// The state directory.
    pub state_dir: std::path::PathBuf,
    /// The offline list, when configured.
    pub list: Option<OfflineList>,
    /// The library system, when configured.
    pub registry: Option<AnyRegistry>,
    /// How long the library system may take.
    pub bound: Duration,
    /// The offline loans.
    pub queue: Queue,
    /// The wall clock.
    pub clock: Clock,
}

/// The kiosk's selftest of what needs no person, while it runs.
pub async fn unattended(p: &Parts) -> Vec<Check> {
    let now = (p.clock)().timestamp();
    let mut out = vec![daemon::selftest::state_directory(&p.state_dir)];
    out.push(match &p.list {
        Some(list) => offline::selftest::freshness(
            list.store()
                .current()
                .map(|c| (c.header.header.version, c.header.header.expires_at)),
            now,
            "none applied yet: offline, no card is served",
        ),
        None => check("offline list", true, "not configured: no loans offline"),
    });
    let ask = p.registry.clone().map(|r| async move {
        r.item("SELFTEST-0")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    out.push(offline::selftest::answers(ask, p.bound).await);
    let held = p.queue.list();
    let conflicts = held
        .iter()
        .filter(|d| matches!(d.state, crate::queue::State::Conflict(_)))
        .count();
    out.push(check(
        "offline loans",
        conflicts == 0,
        format!(
            "{} waiting for the library system, {conflicts} refused by it{}",
            held.len() - conflicts,
            if conflicts > 0 {
                " (staff: kiosk queue list)"
            } else {
                ""
            }
        ),
    ));
    out
}

/// The hook for the console's link; `link` is set once the link runs (a refused command is
/// reported through it). Weak: the link owns this hook, and must stop when the kiosk drops it.
pub fn command_hook(
    c: &config::console::ConsoleSettings,
    parts: Parts,
    link: Arc<OnceLock<Weak<uplink::Link>>>,
) -> Option<uplink::CommandHook> {
    let trust = uplink::commands::trust(c)?;
    let now = parts.clock.clone();
    let refused_clock = parts.clock.clone();
    Some(uplink::CommandHook {
        trust,
        dir: parts.state_dir.join("commands"),
        now_s: Box::new(move || now().timestamp()),
        carry_out: Box::new(move |command| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if command.order == Order::Selftest {
                let parts = parts.clone();
                tokio::spawn(async move {
                    let checks = unattended(&parts).await;
                    let table = daemon::selftest::table(&checks);
                    let _ = tx.send(if checks.iter().all(|c| c.ok) {
                        Ok(Some(table))
                    } else {
                        Err(table)
                    });
                });
            } else {
                let _ = tx.send(Err(format!(
                    "a kiosk has no door: it takes only the selftest, not {}",
                    command.order.code()
                )));
            }
            rx
        }),
        refused: Box::new(move |why| {
            if let Some(l) = link.get().and_then(Weak::upgrade) {
                l.event(
                    refused_clock().timestamp_millis(),
                    report::Event {
                        kind: "security".into(),
                        code: Some("command-refused".into()),
                        card: None,
                        source: None,
                        detail: Some(why),
                    },
                    true,
                );
            }
        }),
    })
}
