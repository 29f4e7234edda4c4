//! Commands from the library's console to a kiosk, when `[console] policy_keys` names the
//! console's keys: a selftest of what needs no person (the state directory, the offline list,
//! the library system, the offline loans waiting), and a patron's export or erasure (the
//! card's offline loans and PIN records). A kiosk has no door: a door's order is answered as
//! failed. A command that does not verify is refused and reported as a security
//! event, as a door does.

use std::time::Duration;

use daemon::selftest::{Check, check};
use offline::OfflineList;
use registry::{AnyRegistry, Registry};
use report::command::Order;

use crate::queue::{Deferred, Kind, Queue, State};
use crate::session::Clock;

/// What the selftest reads.
#[derive(Clone)]
#[allow(missing_debug_implementations)]
pub struct Parts {
    /// The kiosk's name (`[kiosk] name`).
    pub name: String,
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
    /// The kiosk's event log and security log.
    pub events: eventlog::EventLog,
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
        .filter(|d| matches!(d.state, State::Conflict(_)))
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

fn hashes(cards: &[String]) -> Vec<allowlist::CardHash> {
    cards
        .iter()
        .filter_map(|c| allowlist::CardHash::from_hex(c))
        .collect()
}

/// The card's offline loans, matched by its keyed hashes with the kiosk's card key; an error
/// when loans wait and the kiosk has no key to match them with.
fn loans_of(p: &Parts, hashes: &[allowlist::CardHash]) -> Result<Vec<Deferred>, String> {
    match &p.list {
        Some(list) => Ok(p.queue.of_card_hash(&list.settings().card_key, hashes)),
        None if p.queue.list().iter().any(|d| matches!(d.kind, Kind::Checkout { .. })) => Err(
            "this kiosk has no card key ([allowlist]) to match its offline loans with the card: run `kiosk erase` or `kiosk export` on it".into(),
        ),
        None => Ok(vec![]),
    }
}

/// The pseudonyms the kiosk's event log would carry for these keyed hashes.
fn pseudonyms(cards: &[String]) -> Vec<&str> {
    cards
        .iter()
        .map(|c| report::command::pseudonym(c))
        .collect()
}

/// Everything this kiosk holds about the card, as JSON: its offline loans not yet delivered,
/// its refusals and security events, and its PIN records of offline checks.
pub fn export(p: &Parts, cards: &[String]) -> Result<String, String> {
    let hashes = hashes(cards);
    let mut events = vec![];
    for pseudonym in pseudonyms(cards) {
        events.extend(p.events.for_card(pseudonym).map_err(|e| e.to_string())?);
    }
    events.sort_by_key(|e| e.at);
    let loans: Vec<serde_json::Value> = loans_of(p, &hashes)?
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "loan_of_item": d.item,
                "at": d.at.to_string(),
                "due": d.due.map(|t| t.to_string()),
                "state": match &d.state {
                    State::Conflict(w) => format!("refused by the library system: {w}"),
                    _ => "waiting for the library system".to_owned(),
                },
            })
        })
        .collect();
    let (mut wrong_pins, mut learned) = (None, None);
    if let Some(list) = &p.list {
        for h in &hashes {
            let (f, l) = list.held_about(h);
            wrong_pins = wrong_pins.or(f.map(|f| {
                serde_json::json!({
                    "wrong_pins": f.count,
                    "since": f.since,
                    "locked_until": (f.locked_until > 0).then_some(f.locked_until),
                })
            }));
            learned = learned.or(l);
        }
    }
    serde_json::to_string(&serde_json::json!({
        "device": p.name,
        "what": "what this kiosk holds about one library card: offline loans until the library system has them, its refusals at login and security events (PIN guessing, a tag whose security would not switch, a refused offline loan; the card appears only as its keyed pseudonym), its wrong PINs at offline checks, and whether a PIN verifier was learned for it (the verifier itself is not given); loans and returns made online are the library system's",
        "exported_at": (p.clock)().timestamp(),
        "offline_loans": loans,
        "events": events,
        "offline_wrong_pins": wrong_pins,
        "learned_pin_confirmed_at": learned,
    }))
    .map_err(|e| e.to_string())
}

/// Removes everything this kiosk holds about the card: its offline loans are delivered to the
/// library system first (a loan is never lost: while one waits or was refused, nothing is
/// erased and the answer says why), then the queue is rewritten and the PIN records go.
pub async fn erase(p: &Parts, cards: &[String]) -> Result<String, String> {
    let hashes = hashes(cards);
    let held = loans_of(p, &hashes)?;
    if held.iter().any(|d| !matches!(d.state, State::Conflict(_)))
        && let Some(r) = &p.registry
    {
        let d = p.queue.deliver(r).await.map_err(|e| e.to_string())?;
        tracing::info!(
            delivered = d.delivered,
            "offline queue delivered for an erasure"
        );
    }
    let left = loans_of(p, &hashes)?;
    let waiting = left
        .iter()
        .filter(|d| !matches!(d.state, State::Conflict(_)))
        .count();
    if waiting > 0 {
        return Err(format!(
            "{waiting} offline loan(s) of this card wait for the library system (is it reachable?): nothing was erased; ask again when it answers"
        ));
    }
    let conflicts: Vec<u64> = left.iter().map(|d| d.id).collect();
    if !conflicts.is_empty() {
        return Err(format!(
            "the library system refused offline loan(s) {conflicts:?} of this card: staff must settle them on the kiosk (kiosk queue list, then queue dismiss ID); nothing was erased"
        ));
    }
    // Delivered records are gone from the files after each delivery; this also takes any a
    // version before that left behind.
    p.queue.compact().map_err(|e| e.to_string())?;
    let events = p
        .events
        .erase_cards(&pseudonyms(cards))
        .map_err(|e| format!("the event log: {e}"))?;
    let mut pin_record = false;
    if let Some(list) = &p.list {
        for h in &hashes {
            pin_record |= list
                .erase_hash(h)
                .map_err(|e| format!("the PIN records: {e}"))?;
        }
    }
    Ok(format!(
        "nothing about this card is held on this kiosk any more: {} offline loan(s) delivered and removed; {events} event(s) removed from the event log; {}",
        held.len(),
        if pin_record {
            "the card's PIN record removed"
        } else {
            "no PIN record held"
        }
    ))
}

/// The hook for the console's link; a refused command is a security event (reported to the
/// console with the kiosk's other events).
pub fn command_hook(
    c: &config::console::ConsoleSettings,
    parts: Parts,
) -> Option<uplink::CommandHook> {
    let trust = uplink::commands::trust(c)?;
    let now = parts.clock.clone();
    let (refused_clock, events) = (parts.clock.clone(), parts.events.clone());
    Some(uplink::CommandHook {
        trust,
        dir: parts.state_dir.join("commands"),
        now_s: Box::new(move || now().timestamp()),
        carry_out: Box::new(move |command| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if let Order::PatronExport { cards } | Order::PatronErase { cards } = &command.order {
                let (parts, cards) = (parts.clone(), cards.clone());
                let erasing = matches!(command.order, Order::PatronErase { .. });
                tokio::spawn(async move {
                    let answer = if erasing {
                        erase(&parts, &cards).await
                    } else {
                        let p = parts.clone();
                        tokio::task::spawn_blocking(move || export(&p, &cards))
                            .await
                            .unwrap_or_else(|e| Err(e.to_string()))
                    };
                    let _ = tx.send(answer.map(Some));
                });
            } else if command.order == Order::Selftest {
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
                    "a kiosk has no door: it takes the selftest and a patron's export or erasure, not {}",
                    command.order.code()
                )));
            }
            rx
        }),
        refused: Box::new(move |why| {
            eventlog::security_event(
                &events,
                refused_clock().timestamp_millis(),
                "command-refused",
                None,
                None,
                why,
            );
        }),
    })
}
