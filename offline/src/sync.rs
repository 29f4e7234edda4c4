//! Fetching lists over HTTPS: the head first, with `If-None-Match`, so an unchanged list costs a
//! 304; then the delta from the held version, and the full list only when there is no delta or it
//! does not fit. Downloads go to a file beside the store and are applied from there.

use std::path::PathBuf;
use std::sync::Mutex;

use allowlist::trust::{self, Verdict};
use allowlist::{Refusal, SignedHeader};
use reqwest::StatusCode;

use crate::apply::{Applied, ApplyError, apply_file};
use crate::lookup::OfflineList;

/// The most a `head.oal` may be (headers with many signers are a few kilobytes).
const HEAD_MAX: u64 = 1 << 20;

/// What a sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Synced {
    /// Nothing new (a 304, or the same version).
    Unchanged {
        /// The version in force.
        version: Option<u64>,
    },
    /// A list or delta was applied.
    Applied(Applied),
}

/// Why a sync failed; the old list stays in force.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No answer from the server (network down, TLS, timeout).
    #[error("cannot fetch {url}: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// The server answered with an unexpected status.
    #[error("{url}: HTTP {status}{}", refusal_hint(*status))]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The device has no URL configured.
    #[error("no allowlist.url configured")]
    NoUrl,
    /// The list was refused or could not be applied.
    #[error("{0}")]
    Apply(#[from] ApplyError),
    /// The device could not set up its HTTP client.
    #[error("{0}")]
    Setup(String),
}

/// What a refusal by the list server most likely means: the list is served only to enrolled
/// devices (mutual TLS), so a 400 or 403 is usually a device certificate missing, expired or
/// from another CA. nginx answers 400 for those unless told otherwise (the shipped configuration
/// makes it 403).
fn refusal_hint(status: u16) -> &'static str {
    match status {
        400 | 403 | 495 | 496 => {
            " (the list server refused this device: is its certificate configured as \
             allowlist.client_cert and client_key, signed by the library's CA and not expired?)"
        }
        _ => "",
    }
}

/// The HTTPS side of a device's list.
pub struct Fetcher {
    client: reqwest::Client,
    base: String,
    etag: Mutex<Option<String>>,
    progress: Option<Box<dyn Fn(Progress) + Send + Sync>>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// How far a sync has come, for a technician watching `offline sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Asking the server for its newest list (the head).
    Asking {
        /// The URL.
        url: String,
    },
    /// Downloading a file: this many bytes so far, of this many when the server says.
    Downloading {
        /// `delta-from-N.oal` or `full.oal`.
        name: String,
        /// Bytes so far.
        bytes: u64,
        /// Bytes in all, when known.
        total: Option<u64>,
    },
    /// Checking its signatures and applying it.
    Applying {
        /// The file.
        name: String,
    },
}

impl Synced {
    /// What happened, in words for a technician.
    pub fn words(&self) -> String {
        match self {
            Self::Unchanged { version: Some(v) } => {
                format!("up to date: version {v} is the newest the server has")
            }
            Self::Unchanged { version: None } => {
                "the server has no list this device can take yet".to_owned()
            }
            Self::Applied(Applied::Unchanged { version }) => {
                format!("up to date: version {version} is already in force")
            }
            Self::Applied(Applied::Full { version, entries }) => {
                format!("version {version} applied: a full list of {entries} patron(s)")
            }
            Self::Applied(Applied::Delta {
                from,
                version,
                entries,
            }) => format!(
                "version {version} applied: the changes since version {from} ({entries} patron(s) in all)"
            ),
        }
    }
}

impl Fetcher {
    /// A fetcher for the list's settings. With `allowlist.client_cert` and `client_key` set, the
    /// device presents that certificate (mutual TLS): list servers serve only enrolled devices.
    pub fn new(list: &OfflineList) -> Result<Self, SyncError> {
        let s = list.settings();
        let base = s.url.clone().ok_or(SyncError::NoUrl)?;
        let tls = registry::tls::client_config(&s.tls, &[b"http/1.1"])
            .map_err(|e| SyncError::Setup(e.to_string()))?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(s.timeout)
            .user_agent(concat!("omatoimi-allowlist/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SyncError::Setup(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            base,
            etag: Mutex::new(None),
            progress: None,
        })
    }

    /// Tells `report` how the sync comes on (the head asked, bytes downloaded, the list
    /// applied): `offline sync` shows it.
    pub fn with_progress(mut self, report: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Box::new(report));
        self
    }

    fn report(&self, p: Progress) {
        if let Some(r) = &self.progress {
            r(p);
        }
    }

    fn unreachable(&self, url: &str, e: reqwest::Error) -> SyncError {
        let e = e.without_url();
        let mut message = e.to_string();
        let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(s) = src {
            message = format!("{message}: {s}");
            src = s.source();
        }
        // A TLS failure in words a technician can act on (a refused device certificate, an
        // expired server certificate), before the library's own words.
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| url.to_owned());
        if let Some(why) = registry::tls::explain(&e, &host) {
            message = format!("{why} ({message})");
        }
        SyncError::Unreachable {
            url: url.to_owned(),
            message,
        }
    }

    /// Downloads `name` into a file beside the store; `None` on 404.
    async fn download(&self, list: &OfflineList, name: &str) -> Result<Option<PathBuf>, SyncError> {
        let url = format!("{}{name}", self.base);
        let mut resp = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| self.unreachable(&url, e))?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(SyncError::Status {
                url,
                status: resp.status().as_u16(),
            });
        }
        let max = list.settings().max_list_bytes;
        let total = resp.content_length();
        let path = list.store().path().with_extension("download");
        let io = |cause| {
            SyncError::Apply(ApplyError::Io {
                path: path.clone(),
                cause,
            })
        };
        let mut file = tokio::fs::File::create(&path).await.map_err(io)?;
        let mut size = 0u64;
        let mut told = 0u64;
        use tokio::io::AsyncWriteExt;
        self.report(Progress::Downloading {
            name: name.to_owned(),
            bytes: 0,
            total,
        });
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(&url, e))? {
            size += chunk.len() as u64;
            if size > max {
                return Err(ApplyError::TooLarge { size, max }.into());
            }
            file.write_all(&chunk).await.map_err(io)?;
            // Every megabyte.
            if size - told >= 1 << 20 {
                told = size;
                self.report(Progress::Downloading {
                    name: name.to_owned(),
                    bytes: size,
                    total,
                });
            }
        }
        file.sync_all().await.map_err(io)?;
        self.report(Progress::Downloading {
            name: name.to_owned(),
            bytes: size,
            total: Some(size),
        });
        self.report(Progress::Applying {
            name: name.to_owned(),
        });
        Ok(Some(path))
    }

    async fn apply(
        &self,
        list: &OfflineList,
        path: PathBuf,
        now: i64,
    ) -> Result<Applied, ApplyError> {
        let l = list.clone();
        let p = path.clone();
        let result = tokio::task::spawn_blocking(move || {
            let s = l.settings();
            apply_file(l.store(), &s.anchors, &p, now, s.max_list_bytes)
        })
        .await
        .unwrap_or_else(|e| {
            Err(ApplyError::Io {
                path: path.clone(),
                cause: std::io::Error::other(e.to_string()),
            })
        });
        let _ = tokio::fs::remove_file(&path).await;
        result
    }

    /// Brings the device's list up to date at `now` (Unix seconds).
    pub async fn sync(&self, list: &OfflineList, now: i64) -> Result<Synced, SyncError> {
        let url = format!("{}head.oal", self.base);
        self.report(Progress::Asking { url: url.clone() });
        let mut req = self.client.get(&url);
        let etag = self.etag.lock().ok().and_then(|e| e.clone());
        let held = list.store().held();
        if let (Some(tag), Some(_)) = (&etag, held) {
            req = req.header(reqwest::header::IF_NONE_MATCH, tag);
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&url, e))?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(Synced::Unchanged {
                version: held.map(|h| h.version),
            });
        }
        if !resp.status().is_success() {
            return Err(SyncError::Status {
                url,
                status: resp.status().as_u16(),
            });
        }
        let new_tag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // A head is a signed header of a few kilobytes: a server sending more is refused, not
        // read into memory.
        let mut resp = resp;
        let mut head = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.unreachable(&url, e))? {
            head.extend_from_slice(&chunk);
            if head.len() as u64 > HEAD_MAX {
                return Err(ApplyError::TooLarge {
                    size: head.len() as u64,
                    max: HEAD_MAX,
                }
                .into());
            }
        }
        let signed = SignedHeader::parse(&head).map_err(|e| {
            let r = Refusal::from(e);
            crate::log_refusal("head.oal", &r);
            ApplyError::Refused(r)
        })?;
        let anchors = &list.settings().anchors;
        let ratchet = list.store().ratchet().map_err(ApplyError::from)?;
        match trust::check(&signed, anchors, &ratchet, held, now) {
            Ok(Verdict::Unchanged) => {
                self.remember(new_tag);
                return Ok(Synced::Unchanged {
                    version: held.map(|h| h.version),
                });
            }
            Ok(Verdict::Take { .. }) => {}
            Err(r) => {
                crate::log_refusal("head.oal", &r);
                return Err(ApplyError::Refused(r).into());
            }
        }
        if let Some(h) = held {
            let name = format!("delta-from-{}.oal", h.version);
            if let Some(path) = self.download(list, &name).await? {
                match self.apply(list, path, now).await {
                    Ok(a) => {
                        self.remember(new_tag);
                        return Ok(Synced::Applied(a));
                    }
                    Err(ApplyError::Refused(r)) => {
                        crate::log_refusal(&name, &r);
                        tracing::info!("fetching the full list instead of the delta");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let path = self
            .download(list, "full.oal")
            .await?
            .ok_or_else(|| SyncError::Status {
                url: format!("{}full.oal", self.base),
                status: 404,
            })?;
        match self.apply(list, path, now).await {
            Ok(a) => {
                self.remember(new_tag);
                Ok(Synced::Applied(a))
            }
            Err(e) => {
                if let ApplyError::Refused(r) = &e {
                    crate::log_refusal("full.oal", r);
                }
                Err(e.into())
            }
        }
    }

    fn remember(&self, tag: Option<String>) {
        if let Ok(mut e) = self.etag.lock() {
            *e = tag;
        }
    }
}

/// Syncs `list` now and every `every`, forever: what a door and a kiosk run in the background.
/// `now` gives Unix seconds; `refused` is told of a list that failed its trust checks
/// (signatures, scope, rollback, clock): a security event, not just a network hiccup; `synced`
/// is told the time of each successful check with the server.
pub async fn sync_forever(
    fetcher: Fetcher,
    list: OfflineList,
    every: std::time::Duration,
    now: impl Fn() -> i64,
    refused: impl Fn(&Refusal),
    synced: impl Fn(i64),
) {
    loop {
        let at = now();
        match fetcher.sync(&list, at).await {
            Ok(s) => {
                tracing::info!("offline list: {s:?}");
                synced(at);
            }
            Err(SyncError::Apply(ApplyError::Refused(r))) => refused(&r),
            Err(e) => tracing::warn!("offline list sync: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}
