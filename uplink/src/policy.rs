//! The branch's policy bundle on the device: the last good one kept on disk with its ratchet,
//! taken from the console only when its signature, scope, times and version pass
//! (`allowlist::envelope`), and replaced atomically, so a crash leaves the old one or the new one
//! whole. A device that cannot reach the console keeps the last good one.

use std::path::Path;
use std::sync::{Arc, Mutex};

use allowlist::envelope::{self, Opened, Purpose, Trust, Verdict};
use allowlist::{Ratchet, Refusal};
use report::policy::Policy;

const MAGIC: &[u8; 8] = b"OMPOLSTO";

/// A bundle taken: its version, expiry and policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// Its version.
    pub version: u64,
    /// When it stops being trusted (Unix seconds); a device past it keeps it and says so.
    pub expires_at: i64,
    /// What it says.
    pub policy: Policy,
}

/// Why an offered bundle was not taken.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Refused: a security event.
    #[error("policy bundle refused: {0}")]
    Refused(#[from] Refusal),
    /// Signed, but its body is not a policy.
    #[error("policy bundle refused: {0}")]
    Body(String),
    /// Taken, but it could not be kept on disk (it is not applied either).
    #[error("policy bundle not kept: {0}")]
    Store(String),
}

#[derive(Debug, Default)]
struct Held {
    ratchet: Ratchet,
    envelope: Option<Opened>,
}

/// The store.
#[derive(Debug, Clone)]
pub struct PolicyStore {
    inner: Arc<Mutex<(daemon::fs::RecordFile, Held)>>,
    trust: Trust,
}

impl PolicyStore {
    /// Opens (or creates) the store in `dir`; a file that cannot be read is set aside as empty
    /// (the next bundle from the console replaces it) and said.
    pub fn open(dir: &Path, trust: Trust) -> Result<Self, String> {
        let (file, bytes) = daemon::fs::open_record_file(dir, "bundle")
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        let held = match bytes.as_deref().map(decode) {
            None => Held::default(),
            Some(Ok(h)) => h,
            Some(Err(e)) => {
                tracing::error!(
                    "{}: {e}; waiting for the console's next bundle",
                    dir.display()
                );
                Held::default()
            }
        };
        Ok(Self {
            inner: Arc::new(Mutex::new((file, held))),
            trust,
        })
    }

    /// The version held, if any.
    pub fn version(&self) -> Option<u64> {
        let g = self.inner.lock().ok()?;
        g.1.envelope.as_ref().map(|e| e.header.version)
    }

    /// The bundle held, if its keys and scope are still good under the device's trust (an
    /// expired one is returned too: the device keeps the last good calendar; the caller says it
    /// is past its expiry).
    pub fn current(&self, now: i64) -> Result<Option<Bundle>, PolicyError> {
        let g = self
            .inner
            .lock()
            .map_err(|_| PolicyError::Store("poisoned".into()))?;
        let Some(e) = g.1.envelope.as_ref() else {
            return Ok(None);
        };
        match envelope::in_force(e, Purpose::Policy, &self.trust, now) {
            Ok(_) | Err(Refusal::Expired { .. }) => {}
            Err(r) => return Err(r.into()),
        }
        Ok(Some(bundle(e)?))
    }

    /// Offers bytes from the console at `now`: the new bundle when it was taken and kept,
    /// `None` when it is the one held.
    pub fn offer(&self, bytes: &[u8], now: i64) -> Result<Option<Bundle>, PolicyError> {
        let e = Opened::parse(bytes)?;
        let mut g = self
            .inner
            .lock()
            .map_err(|_| PolicyError::Store("poisoned".into()))?;
        let held =
            g.1.envelope
                .as_ref()
                .map(|h| (h.header.version, h.header.body_hash));
        let signers =
            match envelope::check(&e, Purpose::Policy, &self.trust, &g.1.ratchet, held, now)? {
                Verdict::Unchanged => return Ok(None),
                Verdict::Take { signers } => signers,
            };
        let b = bundle(&e)?;
        let mut ratchet = g.1.ratchet.clone();
        ratchet.raise(&signers, e.header.version);
        g.0.replace(&encode(&ratchet, bytes))
            .map_err(|err| PolicyError::Store(err.to_string()))?;
        g.1 = Held {
            ratchet,
            envelope: Some(e),
        };
        Ok(Some(b))
    }
}

/// What a device holds in `dir`, read without taking the store (the daemon may be running: the
/// file is replaced whole, never written in place), as a technician's line: the version, its
/// branch and expiry at `now` (Unix seconds), or why there is none to use.
pub fn describe(dir: &Path, trust: &Trust, now: i64) -> String {
    let bytes = match std::fs::read(dir.join("bundle")) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return "none from the console yet: the hours in this file apply".into();
        }
        Err(e) => return format!("{}: cannot read: {e}", dir.display()),
    };
    let envelope = match decode(&bytes) {
        Ok(Held {
            envelope: Some(e), ..
        }) => e,
        Ok(_) => return "none from the console yet: the hours in this file apply".into(),
        Err(e) => return format!("{}: {e}; the hours in this file apply", dir.display()),
    };
    let expired = match envelope::in_force(&envelope, Purpose::Policy, trust, now) {
        Ok(_) => false,
        Err(Refusal::Expired { .. }) => true,
        Err(r) => {
            return format!("the kept bundle is not trusted ({r}): the hours in this file apply");
        }
    };
    match bundle(&envelope) {
        Ok(b) => {
            let rules = if b.policy.entry.is_some() {
                "; who may come in: the library's rules in it"
            } else {
                "; who may come in: this file's [rules]"
            };
            let day = chrono::DateTime::from_timestamp(b.expires_at, 0).map_or_else(
                || b.expires_at.to_string(),
                |t| t.format("%Y-%m-%d %H:%M UTC").to_string(),
            );
            if expired {
                format!(
                    "version {} for {}, expired {day}: its calendar is kept until the console sends a new one{rules}",
                    b.version, b.policy.branch
                )
            } else {
                format!(
                    "version {} for {}, in force until {day}{rules}",
                    b.version, b.policy.branch
                )
            }
        }
        Err(e) => format!("{e}: the hours in this file apply"),
    }
}

fn bundle(e: &Opened) -> Result<Bundle, PolicyError> {
    Ok(Bundle {
        version: e.header.version,
        expires_at: e.header.expires_at,
        policy: Policy::parse(e.body()).map_err(PolicyError::Body)?,
    })
}

fn encode(ratchet: &Ratchet, bundle: &[u8]) -> Vec<u8> {
    let r = ratchet.encode();
    let mut out = Vec::with_capacity(16 + r.len() + bundle.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(r.len() as u32).to_le_bytes());
    out.extend_from_slice(&r);
    out.extend_from_slice(bundle);
    out
}

fn decode(bytes: &[u8]) -> Result<Held, String> {
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or("not a policy store (the magic bytes are wrong)")?;
    let (len, rest) = rest.split_at_checked(4).ok_or("truncated")?;
    let len = u32::from_le_bytes(len.try_into().map_err(|_| "truncated")?) as usize;
    let (r, bundle) = rest.split_at_checked(len).ok_or("truncated")?;
    let ratchet = Ratchet::decode(r).map_err(|e| e.to_string())?;
    let envelope = Opened::parse(bundle).map_err(|e| e.to_string())?;
    Ok(Held {
        ratchet,
        envelope: Some(envelope),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use allowlist::SigningKey;

    const NOW: i64 = 1_796_000_000;

    fn body(name: &str) -> Vec<u8> {
        serde_json::to_vec(&Policy {
            branch: "LEMI".into(),
            time_zone: "Europe/Helsinki".into(),
            week: vec![Default::default(); 7],
            exceptions: vec![report::policy::DatedHours {
                first: "2026-12-24".into(),
                last: "2026-12-26".into(),
                name: name.into(),
                hours: Default::default(),
            }],
            last_entry_minutes: 15,
            first_day: "2026-12-01".into(),
            last_day: "2027-12-31".into(),
            entry: None,
        })
        .unwrap()
    }

    fn seal(k: &SigningKey, version: u64, scope: &str, name: &str) -> Vec<u8> {
        envelope::seal(
            Purpose::Policy,
            version,
            NOW - 10,
            NOW + 86_400,
            vec![scope.into()],
            &body(name),
            &[k],
        )
    }

    fn trust(k: &SigningKey) -> Trust {
        Trust {
            keys: vec![k.public()],
            revoked: vec![],
            scopes: vec!["LEMI".into()],
            clock_skew: 300,
        }
    }

    #[test]
    fn a_bundle_is_kept_across_a_restart_and_an_older_one_is_refused_after_it() {
        let tmp = tempfile::tempdir().unwrap();
        let k = SigningKey::from_seed([7; 32]).unwrap();
        let dir = tmp.path().join("policy");
        {
            let s = PolicyStore::open(&dir, trust(&k)).unwrap();
            assert!(s.current(NOW).unwrap().is_none());
            let b = s
                .offer(&seal(&k, 2, "LEMI", "Joulu"), NOW)
                .unwrap()
                .unwrap();
            assert_eq!(b.version, 2);
            assert!(
                s.offer(&seal(&k, 2, "LEMI", "Joulu"), NOW)
                    .unwrap()
                    .is_none()
            );
        }
        let s = PolicyStore::open(&dir, trust(&k)).unwrap();
        assert_eq!(s.version(), Some(2));
        let b = s.current(NOW).unwrap().unwrap();
        assert_eq!(b.policy.exceptions[0].name, "Joulu");
        // Past its expiry it is still the last good one.
        assert!(s.current(NOW + 90_000).unwrap().is_some());
        // An older one (a replay) and a forged one are refused; the held one stays.
        assert!(matches!(
            s.offer(&seal(&k, 1, "LEMI", "Vanha"), NOW),
            Err(PolicyError::Refused(Refusal::Rollback { .. }))
        ));
        let forger = SigningKey::from_seed([8; 32]).unwrap();
        assert!(matches!(
            s.offer(&seal(&forger, 9, "LEMI", "Väärä"), NOW),
            Err(PolicyError::Refused(Refusal::UnknownKey { .. }))
        ));
        assert!(matches!(
            s.offer(&seal(&k, 9, "HEINOLA", "Muu"), NOW),
            Err(PolicyError::Refused(Refusal::OtherScope { .. }))
        ));
        assert_eq!(
            s.current(NOW).unwrap().unwrap().policy.exceptions[0].name,
            "Joulu"
        );
        // A key revoked since: the held bundle no longer counts.
        let mut revoked = trust(&k);
        revoked.revoked = vec![k.public().id()];
        drop(s);
        let s = PolicyStore::open(&dir, revoked).unwrap();
        assert!(s.current(NOW).is_err());
    }

    #[test]
    fn a_technician_reads_which_bundle_is_held_while_the_door_holds_the_store() {
        let tmp = tempfile::tempdir().unwrap();
        let k = SigningKey::from_seed([7; 32]).unwrap();
        let dir = tmp.path().join("policy");
        assert_eq!(
            describe(&dir, &trust(&k), NOW),
            "none from the console yet: the hours in this file apply"
        );
        let s = PolicyStore::open(&dir, trust(&k)).unwrap();
        s.offer(&seal(&k, 5, "LEMI", "Joulu"), NOW)
            .unwrap()
            .unwrap();
        // The store stays open (the running door's), and is read beside it.
        assert_eq!(
            describe(&dir, &trust(&k), NOW),
            "version 5 for LEMI, in force until 2026-12-01 00:53 UTC; who may come in: this file's [rules]"
        );
        assert!(
            describe(&dir, &trust(&k), NOW + 90_000).starts_with("version 5 for LEMI, expired "),
            "{}",
            describe(&dir, &trust(&k), NOW + 90_000)
        );
        let other = SigningKey::from_seed([8; 32]).unwrap();
        assert!(
            describe(&dir, &trust(&other), NOW).starts_with("the kept bundle is not trusted"),
            "{}",
            describe(&dir, &trust(&other), NOW)
        );
        drop(s);
        std::fs::write(dir.join("bundle"), b"garbage").unwrap();
        assert!(
            describe(&dir, &trust(&k), NOW).contains("the magic bytes are wrong"),
            "{}",
            describe(&dir, &trust(&k), NOW)
        );
    }
}
