//! Card + PIN -> verdict: the library system first, bounded by a short timeout; when it gives no
//! answer, the signed offline list; then the branch's policy.

use std::sync::Arc;
use std::time::Duration;

use access::hours::Schedule;
use access::policy::{Decision, Reason, Rules, decide};
use chrono::{DateTime, Utc};
use offline::{OfflineAnswer, OfflineError, OfflineList};
use redact::{CardNumber, Pin};
use registry::{PatronLogin, Registry, Verification};

use crate::facts;

/// Who answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The library system.
    Online,
    /// The offline list of this version; `past_expiry` when a grace policy let an expired list
    /// answer.
    Offline {
        /// List version.
        version: u64,
        /// Answered past the list's expiry.
        past_expiry: bool,
    },
    /// Nobody could.
    Nobody,
}

impl Source {
    /// The event log's words.
    pub fn label(&self) -> String {
        match self {
            Self::Online => "online".into(),
            Self::Offline {
                version,
                past_expiry: false,
            } => format!("offline:{version}"),
            Self::Offline {
                version,
                past_expiry: true,
            } => format!("offline-grace:{version}"),
            Self::Nobody => "none".into(),
        }
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Open or not, and why not.
    pub decision: Decision,
    /// Who answered.
    pub source: Source,
    /// Why the library system was not used, when it was not.
    pub online_failure: Option<String>,
}

/// Checks cards and PINs.
#[derive(Debug)]
pub struct Checker<R> {
    registry: Option<R>,
    list: OfflineList,
    online_timeout: Duration,
    rules: Arc<Rules>,
    schedule: Arc<Schedule>,
}

impl<R: Registry> Checker<R> {
    /// A checker asking `registry` (if any) and then `list`.
    pub fn new(
        registry: Option<R>,
        list: OfflineList,
        online_timeout: Duration,
        rules: Arc<Rules>,
        schedule: Arc<Schedule>,
    ) -> Self {
        Self {
            registry,
            list,
            online_timeout,
            rules,
            schedule,
        }
    }

    /// The verdict on this card and PIN at `now`.
    pub async fn check(&self, card: &CardNumber, pin: Pin, now: DateTime<Utc>) -> Verdict {
        let mut online_failure = None;
        if let Some(registry) = &self.registry {
            let login = PatronLogin {
                card: card.clone(),
                pin: pin.clone(),
            };
            match tokio::time::timeout(self.online_timeout, registry.verify(&login)).await {
                Ok(Ok(v)) => {
                    let decision = match v {
                        Verification::UnknownCard { .. } => Decision::Deny(Reason::UnknownCard),
                        Verification::WrongPin { .. } => Decision::Deny(Reason::WrongPin),
                        Verification::Verified(f) => {
                            decide(&facts::from_registry(&f), &self.rules, &self.schedule, now)
                        }
                    };
                    return Verdict {
                        decision,
                        source: Source::Online,
                        online_failure: None,
                    };
                }
                Ok(Err(e)) => online_failure = Some(e.to_string()),
                Err(_) => {
                    online_failure = Some(format!(
                        "no answer within {} ms",
                        self.online_timeout.as_millis()
                    ))
                }
            }
        }
        let list = self.list.clone();
        let card = card.clone();
        let answer =
            tokio::task::spawn_blocking(move || list.check(&card, &pin, now.timestamp())).await;
        let (decision, source) = match answer {
            Err(join) => {
                tracing::error!("offline check failed: {join}");
                (Decision::Deny(Reason::Unreachable), Source::Nobody)
            }
            Ok(Err(e)) => {
                let reason = match e {
                    OfflineError::Expired { .. } => Reason::ListExpired,
                    OfflineError::NoList | OfflineError::NotInForce(_) | OfflineError::Store(_) => {
                        Reason::Unreachable
                    }
                };
                tracing::warn!("offline list cannot answer: {e}");
                (Decision::Deny(reason), Source::Nobody)
            }
            Ok(Ok(OfflineAnswer::Verified {
                facts,
                version,
                past_expiry,
            })) => {
                let today = self.schedule.zone.local(now).date();
                let patron = facts::from_list(&facts, &self.rules.branch, today);
                (
                    decide(&patron, &self.rules, &self.schedule, now),
                    Source::Offline {
                        version,
                        past_expiry,
                    },
                )
            }
            // The list answered "no": it is the source, in the version it holds.
            Ok(Ok(no)) => {
                let reason = match no {
                    OfflineAnswer::WrongPin { .. } => Reason::WrongPin,
                    OfflineAnswer::LockedOut { .. } => Reason::PinLockedOut,
                    _ => Reason::UnknownCard,
                };
                let version = self.list.store().held().map_or(0, |h| h.version);
                (
                    Decision::Deny(reason),
                    Source::Offline {
                        version,
                        past_expiry: false,
                    },
                )
            }
        };
        Verdict {
            decision,
            source,
            online_failure,
        }
    }
}
