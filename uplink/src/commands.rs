//! Commands from the console to this device: a request held open to the console brings each at
//! once; it is carried out only when its envelope verifies (the console's key, this device's
//! certificate as its scope, fresh, newer than every command taken before: the ratchet is kept
//! on disk, so a replay is refused after a restart too). A command that does not verify is
//! refused and a security event; the console is told the outcome either way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use allowlist::Ratchet;
use allowlist::envelope::{self, Opened, Purpose, Trust, Verdict};
use report::command::{DeviceCommand, Order, Outcome};
use sha2::{Digest, Sha256};

use crate::Sender;

/// A device's answer to a command, when it comes: `Ok` with what it has to say, `Err` why not.
pub type Answer = tokio::sync::oneshot::Receiver<Result<Option<String>, String>>;

/// What a device does with commands.
#[allow(missing_debug_implementations)]
pub struct CommandHook {
    /// The console's keys (`[console] policy_keys`), revoked ones, and this device's
    /// certificate's SHA-256 as the only scope.
    pub trust: Trust,
    /// Where the commands' ratchet is kept.
    pub dir: PathBuf,
    /// The wall clock, Unix seconds.
    pub now_s: Box<dyn Fn() -> i64 + Send + Sync>,
    /// Carries a verified command out; the answer comes on the channel: `Ok` with what the
    /// device has to say (a selftest's table), `Err` why it failed.
    pub carry_out: Box<dyn Fn(DeviceCommand) -> Answer + Send + Sync>,
    /// A command was refused (a security event), in words.
    pub refused: Box<dyn Fn(String) + Send + Sync>,
}

/// What a device trusts a command by, when `[console] policy_keys` names the console's keys:
/// those keys, the revoked ones, and this device's own certificate as the only scope, fresh for
/// 30 s. `None` without keys or a certificate (said in the log): the device takes no commands.
pub fn trust(c: &config::console::ConsoleSettings) -> Option<Trust> {
    if c.policy_keys.is_empty() {
        return None;
    }
    let (cert, _) = c.tls.client_identity.as_ref()?;
    let own = certificate_sha256(cert)
        .map_err(|e| tracing::error!("commands: {e}; none are taken"))
        .ok()?;
    Some(Trust {
        keys: c.policy_keys.clone(),
        revoked: c.policy_revoked.clone(),
        scopes: vec![own],
        clock_skew: 30,
    })
}

/// SHA-256 of the first certificate of a PEM file, lowercase hex: how the console names this
/// device's certificate in a command's scope.
pub fn certificate_sha256(pem_file: &Path) -> Result<String, String> {
    let pem = std::fs::read(pem_file).map_err(|e| format!("{}: {e}", pem_file.display()))?;
    match rustls_pemfile::certs(&mut pem.as_slice()).next() {
        Some(Ok(der)) => Ok(allowlist::hex(&Sha256::digest(der.as_ref()))),
        Some(Err(e)) => Err(format!("{}: {e}", pem_file.display())),
        None => Err(format!("{}: no certificate", pem_file.display())),
    }
}

/// Takes commands until `stopped` changes.
pub(crate) async fn commands_forever(
    sender: Sender,
    hook: CommandHook,
    outbox: std::sync::Arc<crate::Outbox>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let (file, bytes) = match daemon::fs::open_record_file(&hook.dir, "ratchet") {
        Ok(f) => f,
        Err(e) => {
            tracing::error!("commands: {}: {e}; no command is taken", hook.dir.display());
            return;
        }
    };
    let mut ratchet = bytes
        .as_deref()
        .and_then(|b| Ratchet::decode(b).ok())
        .unwrap_or_default();
    let mut backoff = Duration::from_secs(1);
    loop {
        let next = tokio::select! {
            _ = stopped.changed() => return,
            n = sender.next_command() => n,
        };
        let bytes = match next {
            Ok(Some(b)) => {
                backoff = Duration::from_secs(1);
                b
            }
            Ok(None) => {
                backoff = Duration::from_secs(1);
                continue;
            }
            Err(e) => {
                tracing::debug!("commands: {e}; asking again in {} s", backoff.as_secs());
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        let outcome = take(&hook, &mut ratchet, &file, &bytes, &outbox).await;
        if let Err(e) = sender.command_outcome(&outcome).await {
            tracing::warn!("the console was not told a command's outcome: {e}");
        }
    }
}

async fn take(
    hook: &CommandHook,
    ratchet: &mut Ratchet,
    file: &daemon::fs::RecordFile,
    bytes: &[u8],
    outbox: &std::sync::Arc<crate::Outbox>,
) -> Outcome {
    // The id from the body even when it does not verify: only to tell the console which one.
    let opened = Opened::parse(bytes);
    let id = opened
        .as_ref()
        .ok()
        .and_then(|e| DeviceCommand::parse(e.body()).ok())
        .map(|c| c.id)
        .unwrap_or_default();
    let refuse = |why: String| {
        tracing::warn!(target: "security", "command refused: {why}");
        (hook.refused)(format!("a command was refused: {why}"));
        Outcome {
            id: id.clone(),
            outcome: "refused".into(),
            detail: Some(why),
        }
    };
    let e = match opened {
        Ok(e) => e,
        Err(r) => return refuse(r.to_string()),
    };
    let signers = match envelope::check(
        &e,
        Purpose::Command,
        &hook.trust,
        ratchet,
        None,
        (hook.now_s)(),
    ) {
        Ok(Verdict::Take { signers }) => signers,
        Ok(Verdict::Unchanged) => return refuse("a command taken before".into()),
        Err(r) => return refuse(r.to_string()),
    };
    let command = match DeviceCommand::parse(e.body()) {
        Ok(c) => c,
        Err(why) => return refuse(why),
    };
    // The ratchet first, so a crash after cannot let the same command run twice.
    let mut raised = ratchet.clone();
    raised.raise(&signers, e.header.version);
    if let Err(err) = file.replace(&raised.encode()) {
        return Outcome {
            id,
            outcome: "failed".into(),
            detail: Some(format!(
                "not carried out: the device could not keep its record ({err})"
            )),
        };
    }
    *ratchet = raised;
    // A patron's erasure: what waits for the console about the card goes first (the device's
    // own stores are the hook's).
    let mut outbox_erased = None;
    if let Order::PatronErase { cards } = &command.order {
        let (o, cards) = (outbox.clone(), cards.clone());
        let erased = tokio::task::spawn_blocking(move || {
            let pseudonyms: Vec<&str> = cards
                .iter()
                .map(|c| report::command::pseudonym(c))
                .collect();
            o.erase_cards(&pseudonyms)
        })
        .await;
        match erased {
            Ok(Ok(n)) => outbox_erased = Some(n),
            Ok(Err(e)) => {
                return Outcome {
                    id,
                    outcome: "failed".into(),
                    detail: Some(format!("nothing erased: {e}")),
                };
            }
            Err(e) => {
                return Outcome {
                    id,
                    outcome: "failed".into(),
                    detail: Some(format!("nothing erased: {e}")),
                };
            }
        }
    }
    // A selftest or a door's order is quick; a patron's export or erasure rewrites stores.
    let patience = if command.order.cards().is_empty() {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(300)
    };
    let answer = (hook.carry_out)(command);
    match tokio::time::timeout(patience, answer).await {
        Ok(Ok(Ok(detail))) => Outcome {
            id,
            outcome: "done".into(),
            detail: match (detail, outbox_erased) {
                (Some(d), Some(n)) => Some(format!(
                    "{d}; {n} record(s) removed from the console's outbox"
                )),
                (d, _) => d,
            },
        },
        Ok(Ok(Err(why))) => Outcome {
            id,
            outcome: "failed".into(),
            detail: Some(why),
        },
        _ => Outcome {
            id,
            outcome: "failed".into(),
            detail: Some("the device did not answer".into()),
        },
    }
}
