//! Delivering the outbox to the console.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use report::{Ack, Batch, MAX_BODY_BYTES, MAX_RECORDS, Role};

use crate::outbox::{Outbox, OutboxError};

/// A delivery that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The HTTPS client could not be made (certificates).
    #[error("console client: {0}")]
    Setup(String),
    /// The console could not be reached or could not store the records; they stay in the outbox.
    #[error("console unreachable: {0}")]
    Unreachable(String),
    /// The console refused this device's certificate: provision the box again.
    #[error("the console refused this device: {0}")]
    Revoked(String),
    /// The console refused the batch (a bug on one side); the records stay.
    #[error("the console refused the report ({status}): {words}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// Its words.
        words: String,
    },
    /// The outbox failed.
    #[error("{0}")]
    Outbox(#[from] OutboxError),
}

/// What one delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    /// Records the console stored (or had stored).
    pub acked: usize,
    /// Of those, stored before (an answer that was lost).
    pub duplicates: u32,
    /// Records the console refused for good (logged, removed).
    pub rejected: usize,
    /// The newest policy bundle the console has for this device's branch.
    pub policy: Option<u64>,
}

/// What a device does with the console's policy bundles: the store that checks and keeps them,
/// and what to do with one taken or refused.
#[allow(missing_debug_implementations)]
pub struct PolicyHook {
    /// The store.
    pub store: crate::PolicyStore,
    /// The wall clock, Unix seconds.
    pub now_s: Box<dyn Fn() -> i64 + Send + Sync>,
    /// A newer bundle was taken and kept: apply it.
    pub taken: Box<dyn Fn(crate::Bundle) + Send + Sync>,
    /// A bundle was refused (a security event), in words.
    pub refused: Box<dyn Fn(String) + Send + Sync>,
}

/// The console's client.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    url: String,
    policy_url: String,
    commands_url: String,
    role: Role,
    name: Option<String>,
}

impl Sender {
    /// A client for the console at `base` (`https://console.example:8443/`), pinning its CA and
    /// presenting the device certificate in `tls`.
    pub fn new(
        base: &str,
        tls: &config::registry::TlsSettings,
        role: Role,
        name: Option<String>,
    ) -> Result<Self, SendError> {
        let config = registry::tls::client_config(tls, &[b"http/1.1"])
            .map_err(|e| SendError::Setup(e.to_string()))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("omatoimi-uplink/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::Setup(e.to_string()))?;
        Ok(Self {
            client,
            url: format!("{}/v1/report", base.trim_end_matches('/')),
            policy_url: format!("{}/v1/policy", base.trim_end_matches('/')),
            commands_url: format!("{}/v1/commands", base.trim_end_matches('/')),
            role,
            name,
        })
    }

    /// Sends the oldest records once (fewer when the console says the batch is too large), and
    /// removes what the answer names.
    pub async fn send_once(&self, outbox: &Outbox, now_ms: i64) -> Result<Sent, SendError> {
        let mut max = MAX_RECORDS;
        loop {
            let records = outbox.oldest(max, MAX_BODY_BYTES / 2)?;
            if records.is_empty() {
                return Ok(Sent::default());
            }
            let batch = Batch {
                v: report::VERSION,
                role: self.role,
                name: self.name.clone(),
                software: env!("CARGO_PKG_VERSION").into(),
                sent_at: now_ms,
                records,
            };
            let body = serde_json::to_vec(&batch).map_err(|e| SendError::Setup(e.to_string()))?;
            let r = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| SendError::Unreachable(self.explain(&e)))?;
            let status = r.status().as_u16();
            let words = r.text().await.unwrap_or_default();
            match status {
                200 => {
                    let ack: Ack =
                        serde_json::from_str(&words).map_err(|e| SendError::Refused {
                            status,
                            words: format!("an answer that is not an acknowledgement: {e}"),
                        })?;
                    for r in &ack.rejected {
                        tracing::error!(seq = r.seq, why = %r.why, "the console refused a record for good; it is dropped");
                    }
                    let mut done: Vec<u64> = ack.acked.clone();
                    done.extend(ack.rejected.iter().map(|r| r.seq));
                    outbox.remove(&done)?;
                    return Ok(Sent {
                        acked: ack.acked.len(),
                        duplicates: ack.duplicates,
                        rejected: ack.rejected.len(),
                        policy: ack.policy,
                    });
                }
                413 if max > 1 => max /= 2,
                401 | 403 => return Err(SendError::Revoked(words.trim().to_owned())),
                500..=599 => {
                    return Err(SendError::Unreachable(format!(
                        "{status}: {}",
                        words.trim()
                    )));
                }
                _ => {
                    return Err(SendError::Refused {
                        status,
                        words: words.trim().to_owned(),
                    });
                }
            }
        }
    }

    /// Sends until the outbox is empty or a delivery fails.
    pub async fn drain(&self, outbox: &Outbox, now_ms: i64) -> Result<Sent, SendError> {
        let mut all = Sent::default();
        loop {
            let s = self.send_once(outbox, now_ms).await?;
            if s.acked + s.rejected == 0 {
                return Ok(all);
            }
            all.acked += s.acked;
            all.duplicates += s.duplicates;
            all.rejected += s.rejected;
            all.policy = s.policy.or(all.policy);
        }
    }

    /// The console's newest policy bundle for this device's branch (`GET /v1/policy`): its
    /// bytes, not yet trusted.
    pub async fn fetch_policy(&self) -> Result<Vec<u8>, SendError> {
        let r = self
            .client
            .get(&self.policy_url)
            .send()
            .await
            .map_err(|e| SendError::Unreachable(self.explain(&e)))?;
        let status = r.status().as_u16();
        let bytes = r
            .bytes()
            .await
            .map_err(|e| SendError::Unreachable(self.explain(&e)))?;
        match status {
            200 => Ok(bytes.to_vec()),
            401 | 403 => Err(SendError::Revoked(
                String::from_utf8_lossy(&bytes).trim().to_owned(),
            )),
            _ => Err(SendError::Refused {
                status,
                words: String::from_utf8_lossy(&bytes).trim().to_owned(),
            }),
        }
    }

    /// Waits for the console's next command for this device (the console holds the request
    /// open up to 25 s): its envelope's bytes, not yet trusted; `None` when none came.
    pub async fn next_command(&self) -> Result<Option<Vec<u8>>, SendError> {
        let r = self
            .client
            .get(&self.commands_url)
            .timeout(Duration::from_secs(45))
            .send()
            .await
            .map_err(|e| SendError::Unreachable(self.explain(&e)))?;
        let status = r.status().as_u16();
        let bytes = r
            .bytes()
            .await
            .map_err(|e| SendError::Unreachable(self.explain(&e)))?;
        let words = || String::from_utf8_lossy(&bytes).trim().to_owned();
        match status {
            200 => Ok(Some(bytes.to_vec())),
            204 => Ok(None),
            401 | 403 => Err(SendError::Revoked(words())),
            500..=599 => Err(SendError::Unreachable(format!("{status}: {}", words()))),
            _ => Err(SendError::Refused {
                status,
                words: words(),
            }),
        }
    }

    /// Tells the console what came of a command.
    pub async fn command_outcome(&self, o: &report::command::Outcome) -> Result<(), SendError> {
        let body = serde_json::to_vec(o).map_err(|e| SendError::Setup(e.to_string()))?;
        let r = self
            .client
            .post(format!("{}/outcome", self.commands_url))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Unreachable(self.explain(&e)))?;
        match r.status().as_u16() {
            200 => Ok(()),
            status => Err(SendError::Refused {
                status,
                words: r.text().await.unwrap_or_default().trim().to_owned(),
            }),
        }
    }

    /// Fetches and offers the bundle the console named, when it is newer than the one held and
    /// not the one last refused.
    async fn follow_policy(&self, hook: &PolicyHook, named: u64, refused: &mut Option<u64>) {
        if hook.store.version().is_some_and(|v| v >= named) || *refused == Some(named) {
            return;
        }
        let bytes = match self.fetch_policy().await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(
                    "policy bundle {named} not fetched: {e}; tried again after the next report"
                );
                return;
            }
        };
        match hook.store.offer(&bytes, (hook.now_s)()) {
            Ok(Some(b)) => {
                tracing::info!(version = b.version, branch = %b.policy.branch, "policy bundle taken");
                (hook.taken)(b);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(target: "security", "{e}");
                *refused = Some(named);
                (hook.refused)(e.to_string());
            }
        }
    }

    /// Delivers the outbox until `shutdown` (and once more then, for at most 2 s): at once when
    /// `wake` is notified (an alarm), else every `every`; after a failure again in 1 s, doubling
    /// to a minute. With a `policy` hook, a newer bundle the console's answer names is fetched,
    /// checked and handed over.
    pub async fn run(
        self,
        outbox: Arc<Outbox>,
        clock: impl Fn() -> i64,
        wake: Arc<tokio::sync::Notify>,
        every: Duration,
        policy: Option<PolicyHook>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut backoff = Duration::from_secs(1);
        let mut refused = None;
        loop {
            let pause = match self.drain(&outbox, clock()).await {
                Ok(sent) => {
                    if let (Some(hook), Some(named)) = (&policy, sent.policy) {
                        self.follow_policy(hook, named, &mut refused).await;
                    }
                    backoff = Duration::from_secs(1);
                    every
                }
                Err(e) => {
                    tracing::warn!(
                        "{e}; the records stay in the outbox, next try in {} s",
                        backoff.as_secs()
                    );
                    let b = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    b
                }
            };
            tokio::select! {
                _ = &mut shutdown => {
                    // A last delivery of what came since, if the console answers at once; what
                    // it does not take stays for the next start.
                    let _ = tokio::time::timeout(Duration::from_secs(2), self.drain(&outbox, clock())).await;
                    return;
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}

impl Sender {
    /// A transport error in words: the TLS failure as a technician can act on it (the same
    /// words as the registry's and the list's clients), else the error with its causes.
    fn explain(&self, e: &reqwest::Error) -> String {
        let mut words = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            words.push_str(": ");
            words.push_str(&s.to_string());
            source = s.source();
        }
        let host = reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        match registry::tls::explain(e, &host) {
            Some(why) => format!("{why} ({words})"),
            None => words,
        }
    }
}
