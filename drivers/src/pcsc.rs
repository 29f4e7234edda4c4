//! A contactless card reader through the PC/SC service (pcscd): card present and removed events,
//! the card's UID by the PC/SC part 3 GET DATA command (`FF CA 00 00 00`), and readers that are
//! unplugged, plugged back, or lose their service, all without a restart. The blocking PC/SC calls
//! run on a thread of their own, which stops when the reader is dropped.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use pcsc::{Context, Protocols, ReaderState, Scope, ShareMode, State};
use redact::CardNumber;
use tokio::sync::mpsc;

use crate::card::{CardEvent, CardReader, UidFormat};

/// GET DATA, UID (PC/SC part 3, 3.2.2.1.3).
pub const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

/// How the reader is set up.
#[derive(Debug, Clone)]
pub struct PcscSettings {
    /// Use readers whose name contains this; every reader when empty.
    pub reader: String,
    /// How a UID becomes a card number.
    pub uid: UidFormat,
    /// How long to wait for the service before trying again.
    pub retry: Duration,
}

impl Default for PcscSettings {
    fn default() -> Self {
        Self {
            reader: String::new(),
            uid: UidFormat::Hex,
            retry: Duration::from_secs(1),
        }
    }
}

/// The readers pcscd has now whose name contains `filter` (every reader when empty): for a
/// technician's selftest. Blocking; an error says the service is not there.
pub fn readers(filter: &str) -> Result<Vec<String>, String> {
    let ctx = Context::establish(Scope::User).map_err(|e| format!("PC/SC service: {e}"))?;
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n.contains(filter))
            .collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(format!("PC/SC service: {e}")),
    }
}

/// A PC/SC reader (or all of them).
#[derive(Debug)]
pub struct PcscReader {
    events: mpsc::Receiver<CardEvent>,
    _stop: std_mpsc::Sender<()>,
}

impl PcscReader {
    /// Starts watching. Never fails: a missing service or reader is reported as an event and
    /// retried.
    pub fn start(settings: PcscSettings) -> Self {
        let (tx, events) = mpsc::channel(32);
        let (stop, stopped) = std_mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("pcsc".into())
            .spawn(move || watch(&settings, &tx, &stopped));
        if let Err(e) = spawned {
            tracing::error!("cannot start the PC/SC thread: {e}");
        }
        Self {
            events,
            _stop: stop,
        }
    }
}

impl CardReader for PcscReader {
    async fn next(&mut self) -> Option<CardEvent> {
        self.events.recv().await
    }
}

/// The thread: re-establishes the context whenever the service goes away.
fn watch(settings: &PcscSettings, tx: &mpsc::Sender<CardEvent>, stopped: &std_mpsc::Receiver<()>) {
    let mut service_down_reported = false;
    loop {
        if !matches!(stopped.try_recv(), Err(std_mpsc::TryRecvError::Empty)) || tx.is_closed() {
            return;
        }
        match Context::establish(Scope::User) {
            Ok(ctx) => {
                service_down_reported = false;
                match session(&ctx, settings, tx, stopped) {
                    Ended::Stop => return,
                    Ended::ServiceLost(why) => {
                        let _ = tx.blocking_send(CardEvent::ReaderLost {
                            reader: "pcscd".into(),
                            why,
                        });
                    }
                }
            }
            Err(e) => {
                if !service_down_reported {
                    service_down_reported = true;
                    let _ = tx.blocking_send(CardEvent::ReaderLost {
                        reader: "pcscd".into(),
                        why: format!("PC/SC service unavailable: {e}"),
                    });
                }
            }
        }
        std::thread::sleep(settings.retry);
    }
}

enum Ended {
    Stop,
    ServiceLost(String),
}

/// One context's life: readers come and go, cards come and go.
fn session(
    ctx: &Context,
    settings: &PcscSettings,
    tx: &mpsc::Sender<CardEvent>,
    stopped: &std_mpsc::Receiver<()>,
) -> Ended {
    let mut states = vec![ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE)];
    // Readers we announced, and whether a card is on each.
    let mut known: HashMap<CString, bool> = HashMap::new();
    let mut refresh = true;
    loop {
        if !matches!(stopped.try_recv(), Err(std_mpsc::TryRecvError::Empty)) || tx.is_closed() {
            return Ended::Stop;
        }
        if refresh {
            refresh = false;
            let names = match ctx.list_readers_owned() {
                Ok(n) => n,
                Err(pcsc::Error::NoReadersAvailable) => vec![],
                Err(e) => return Ended::ServiceLost(e.to_string()),
            };
            let wanted: Vec<CString> = names
                .into_iter()
                .filter(|n| n.to_string_lossy().contains(&settings.reader))
                .collect();
            for gone in known
                .keys()
                .filter(|k| !wanted.contains(k))
                .cloned()
                .collect::<Vec<_>>()
            {
                known.remove(&gone);
                let _ = tx.blocking_send(CardEvent::ReaderLost {
                    reader: gone.to_string_lossy().into_owned(),
                    why: "unplugged".into(),
                });
            }
            states.retain(|s| {
                s.name() == pcsc::PNP_NOTIFICATION()
                    || wanted.iter().any(|w| w.as_c_str() == s.name())
            });
            for w in wanted {
                if !known.contains_key(&w) {
                    known.insert(w.clone(), false);
                    let _ = tx.blocking_send(CardEvent::ReaderFound {
                        reader: w.to_string_lossy().into_owned(),
                    });
                    states.push(ReaderState::new(w, State::UNAWARE));
                }
            }
        }
        for s in states.iter_mut() {
            s.sync_current_state();
        }
        match ctx.get_status_change(Duration::from_millis(500), &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => continue,
            Err(pcsc::Error::UnknownReader) => {
                refresh = true;
                continue;
            }
            Err(e) => return Ended::ServiceLost(e.to_string()),
        }
        for s in states.iter() {
            let event = s.event_state();
            if s.name() == pcsc::PNP_NOTIFICATION() {
                if event.contains(State::CHANGED) {
                    refresh = true;
                }
                continue;
            }
            if !event.contains(State::CHANGED) {
                continue;
            }
            let name = s.name().to_owned();
            let reader = name.to_string_lossy().into_owned();
            if event.intersects(State::UNKNOWN | State::UNAVAILABLE | State::IGNORE) {
                refresh = true;
                continue;
            }
            let present = event.contains(State::PRESENT) && !event.contains(State::MUTE);
            let was = known.get(&name).copied().unwrap_or(false);
            if present && !was {
                known.insert(name.clone(), true);
                let ev = match read_uid(ctx, &name) {
                    Ok(uid) => match settings.uid.number(&uid) {
                        Some(n) => CardEvent::Card {
                            number: CardNumber::new(n),
                            reader,
                        },
                        None => CardEvent::Unreadable {
                            reader,
                            why: format!("a UID of {} bytes", uid.len()),
                        },
                    },
                    Err(why) => CardEvent::Unreadable { reader, why },
                };
                let _ = tx.blocking_send(ev);
            } else if event.contains(State::MUTE) && !was {
                known.insert(name.clone(), true);
                let _ = tx.blocking_send(CardEvent::Unreadable {
                    reader,
                    why: "the card does not answer (mute)".into(),
                });
            } else if event.contains(State::EMPTY) && was {
                known.insert(name.clone(), false);
                let _ = tx.blocking_send(CardEvent::Removed { reader });
            }
        }
    }
}

/// Connects to the card on `reader` and asks for its UID.
fn read_uid(ctx: &Context, reader: &std::ffi::CStr) -> Result<Vec<u8>, String> {
    let card = ctx
        .connect(reader, ShareMode::Shared, Protocols::ANY)
        .map_err(|e| format!("cannot connect to the card: {e}"))?;
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    let reply = card
        .transmit(&GET_UID, &mut buf)
        .map_err(|e| format!("GET DATA failed: {e}"))?;
    let uid = parse_uid_reply(reply)?;
    let _ = card.disconnect(pcsc::Disposition::LeaveCard);
    Ok(uid)
}

/// The UID from a GET DATA reply (`UID… 90 00`), or why there is none.
pub fn parse_uid_reply(reply: &[u8]) -> Result<Vec<u8>, String> {
    match reply {
        [uid @ .., 0x90, 0x00] if !uid.is_empty() => Ok(uid.to_vec()),
        [.., 0x6A, 0x81] => Err("the reader does not support GET DATA (6A 81)".into()),
        [.., sw1, sw2] => Err(format!("GET DATA answered {sw1:02X} {sw2:02X}")),
        _ => Err(format!("GET DATA answered {} bytes", reply.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_replies() {
        assert_eq!(
            parse_uid_reply(&[1, 2, 3, 4, 0x90, 0]).unwrap(),
            vec![1, 2, 3, 4]
        );
        assert!(parse_uid_reply(&[0x90, 0]).is_err());
        assert!(
            parse_uid_reply(&[0x6A, 0x81])
                .unwrap_err()
                .contains("6A 81")
        );
        assert!(parse_uid_reply(&[0x63]).is_err());
        assert!(parse_uid_reply(&[]).is_err());
    }
}
