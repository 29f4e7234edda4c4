//! A patron's export and erasure asked once in the library's console and carried out on this
//! door while it runs: the console sends the card's keyed hashes (never its number), one under
//! each card key the door may hold; the door matches its own. The console's outbox is the link's
//! to erase (`uplink::commands`); the event log and the offline list's records of the card are
//! this module's. `door-agent export` and `erase` do the same by hand on a stopped door.

use allowlist::CardHash;
use offline::OfflineList;

use crate::events::EventLog;

/// The most bytes an export answer takes (the console takes an answer of up to
/// `report::MAX_BODY_BYTES`); the newest events are kept when more are held, and the answer
/// says how many were left out.
pub const MAX_EXPORT_BYTES: usize = 200 * 1024;

fn hashes(cards: &[String]) -> Vec<CardHash> {
    cards.iter().filter_map(|c| CardHash::from_hex(c)).collect()
}

fn pseudonyms(cards: &[String]) -> Vec<&str> {
    cards
        .iter()
        .map(|c| report::command::pseudonym(c))
        .collect()
}

/// Everything this door holds about the card, as JSON: its events (both logs), its wrong-PIN
/// record at offline checks, and when a PIN verifier learned for it was last confirmed.
pub fn export(
    device: &str,
    events: &EventLog,
    list: &OfflineList,
    cards: &[String],
    now_s: i64,
) -> Result<String, String> {
    let mut held = vec![];
    for p in pseudonyms(cards) {
        held.extend(events.for_card(p).map_err(|e| e.to_string())?);
    }
    held.sort_by_key(|e| e.at);
    let mut wrong_pins = None;
    let mut learned = None;
    for h in hashes(cards) {
        let (f, l) = list.held_about(&h);
        wrong_pins = wrong_pins.or(f.map(|f| {
            serde_json::json!({
                "wrong_pins": f.count,
                "since": f.since,
                "locked_until": (f.locked_until > 0).then_some(f.locked_until),
            })
        }));
        learned = learned.or(l);
    }
    let mut left_out = 0usize;
    loop {
        let doc = serde_json::json!({
            "device": device,
            "what": "what this door holds about one library card: its entries, exits and refusals (the card appears only as its keyed pseudonym), its wrong PINs at offline checks, and whether a PIN verifier was learned for it (the verifier itself is not given)",
            "exported_at": now_s,
            "events": held,
            "events_left_out": left_out,
            "offline_wrong_pins": wrong_pins,
            "learned_pin_confirmed_at": learned,
        });
        let text = serde_json::to_string(&doc).map_err(|e| e.to_string())?;
        if text.len() <= MAX_EXPORT_BYTES || held.is_empty() {
            return Ok(text);
        }
        // The oldest tenth out, said in the answer: `door-agent export` on the box gives all.
        let n = held.len().div_ceil(10);
        held.drain(..n);
        left_out += n;
    }
}

/// Removes everything this door holds about the card: its events from both logs (rewritten,
/// so no bytes of them stay), and its wrong-PIN record and learned verifier. Words for staff.
pub fn erase(events: &EventLog, list: &OfflineList, cards: &[String]) -> Result<String, String> {
    let removed = events
        .erase_cards(&pseudonyms(cards))
        .map_err(|e| format!("the event log: {e}"))?;
    let mut pin_record = false;
    for h in hashes(cards) {
        pin_record |= list
            .erase_hash(&h)
            .map_err(|e| format!("{removed} event(s) removed; the PIN records: {e}"))?;
    }
    Ok(format!(
        "{removed} event(s) removed from the event log; {}",
        if pin_record {
            "the card's PIN record removed"
        } else {
            "no PIN record held"
        }
    ))
}
