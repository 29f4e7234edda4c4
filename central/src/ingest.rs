//! The device listener: HTTPS with a device certificate required, `POST /v1/report`, and
//! `GET /v1/policy` (the newest policy bundle for the device's branch), `GET /v1/commands` (held
//! open until a command for the device comes, up to [`COMMAND_WAIT`]) and
//! `POST /v1/commands/outcome`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use report::{Batch, BatchError, MAX_BODY_BYTES};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::Clock;
use crate::db::{Db, DbError};
use crate::identity::{self, DeviceCert};
use crate::policy::Publisher;
use crate::settings::{Alarms, DeviceListener};

/// How long a device's request for commands is held open when there is none.
pub const COMMAND_WAIT: Duration = Duration::from_secs(25);

/// A TLS handshake must be over in this time.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The running console.
#[derive(Debug)]
pub struct Console {
    /// Where devices report.
    pub devices_addr: SocketAddr,
    /// Where the fleet's gauges are served, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Where the staff's pages are served, if anywhere.
    pub staff_addr: Option<SocketAddr>,
    /// Its database.
    pub db: Db,
    /// Its alarm rules and recipients.
    pub alarms: Arc<Alarms>,
    /// Woken when an alarm is raised: the delivery task sends at once.
    pub wake: Arc<Notify>,
    /// The signer of policy bundles, once set ([`Console::publish_policies`]).
    pub policy: Arc<std::sync::OnceLock<Arc<Publisher>>>,
    /// The devices' held requests for commands, woken by a command for their device.
    pub commands: Arc<crate::commands::Waiting>,
    /// What a patron's rights need, once set ([`Console::serve_patron_rights`]).
    pub patrons: Arc<std::sync::OnceLock<crate::patrons::PatronRights>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Console {
    /// Serves the fleet's gauges on `addr` (loopback) as well, until [`Console::stop`].
    pub async fn serve_metrics(&mut self, addr: SocketAddr, clock: Clock) -> anyhow::Result<()> {
        let (local, task) =
            crate::metrics::start(addr, self.db.clone(), clock, self.stop.subscribe()).await?;
        self.metrics_addr = Some(local);
        self.tasks.push(task);
        Ok(())
    }

    /// Tells alarms as well (e-mail, webhooks; the silent-device sweep), until [`Console::stop`].
    pub fn deliver_alarms(&mut self, clock: Clock) {
        self.tasks.push(tokio::spawn(crate::alarms::deliver_forever(
            self.db.clone(),
            self.alarms.clone(),
            clock,
            self.wake.clone(),
            self.stop.subscribe(),
        )));
    }

    /// Runs `work` now and every hour until [`Console::stop`] (a round's failure is its own to
    /// log; the next comes all the same).
    fn hourly<F, Fut>(&mut self, work: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let mut stopped = self.stop.subscribe();
        self.tasks.push(tokio::spawn(async move {
            let mut hour = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = hour.tick() => work().await,
                }
            }
        }));
    }

    /// Deletes what is past `retention` now and every hour, until [`Console::stop`].
    pub fn prune_hourly(&mut self, retention: crate::settings::Retention, clock: Clock) {
        let db = self.db.clone();
        self.hourly(move || {
            let (db, clock) = (db.clone(), clock.clone());
            async move {
                match db
                    .prune(clock(), retention.status_days, retention.events_days)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => info!(rows = n, "old reports deleted"),
                    Err(e) => warn!("deleting old reports: {e}"),
                }
                match db.prune_patron_requests(clock()).await {
                    Ok(0) => {}
                    Ok(n) => info!(
                        rows = n,
                        "patron requests' answers past their time forgotten"
                    ),
                    Err(e) => warn!("forgetting patron requests' answers: {e}"),
                }
            }
        });
    }

    /// Signs branch calendars into policy bundles with `publisher` (at every change on the
    /// staff's pages, and daily), names the newest in each answer to a device, and serves it.
    pub fn publish_policies(&mut self, publisher: Arc<Publisher>, clock: Clock) {
        let _ = self.policy.set(publisher.clone());
        let db = self.db.clone();
        self.hourly(move || {
            let (db, clock, publisher) = (db.clone(), clock.clone(), publisher.clone());
            async move {
                match publisher.refresh(&db, clock()).await {
                    Ok(0) => {}
                    Ok(n) => info!(branches = n, "policy bundles signed again"),
                    Err(e) => warn!("signing policy bundles again: {e}"),
                }
            }
        });
    }

    /// Carries out a patron's export and erasure from the staff's pages, keying card numbers
    /// with the library's card key (it needs the policy key as well, to sign the commands), and
    /// shows names in "who was in" when the library system is given.
    pub fn serve_patron_rights(&mut self, rights: crate::patrons::PatronRights) {
        let _ = self.patrons.set(rights);
    }

    /// Serves the staff's pages as well, until [`Console::stop`].
    pub async fn serve_staff(
        &mut self,
        l: &crate::settings::StaffListener,
        clock: Clock,
    ) -> anyhow::Result<()> {
        let (local, task) = crate::web::start(
            l,
            self.db.clone(),
            clock,
            crate::web::Shared {
                alarms: self.alarms.clone(),
                policy: self.policy.clone(),
                commands: self.commands.clone(),
                patrons: self.patrons.clone(),
            },
            self.stop.subscribe(),
        )
        .await?;
        self.staff_addr = Some(local);
        self.tasks.push(task);
        Ok(())
    }

    /// Stops taking connections and waits for the listeners to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn read_pem_certs(path: &Path) -> anyhow::Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{}: no certificate in the file", path.display());
    }
    Ok(certs)
}

/// The console's own certificate chain and key (PEM files), for either listener.
pub(crate) fn identity(
    certificate: &Path,
    key: &Path,
) -> anyhow::Result<(
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
)> {
    let certs = read_pem_certs(certificate)?;
    let pem = std::fs::read(key).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
    let key = rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?
        .ok_or_else(|| anyhow::anyhow!("{}: no private key in the file", key.display()))?;
    Ok((certs, key))
}

/// The listener's TLS: the console's certificate; a client certificate from the device CA
/// required.
pub fn server_config(l: &DeviceListener) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (certs, key) = identity(&l.certificate, &l.key)?;
    let mut roots = rustls::RootCertStore::empty();
    for c in read_pem_certs(&l.device_ca)? {
        roots
            .add(c)
            .map_err(|e| anyhow::anyhow!("{}: {e}", l.device_ca.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Binds the device listener and serves it until [`Console::stop`].
pub async fn start(
    l: &DeviceListener,
    db: Db,
    clock: Clock,
    alarms: Arc<Alarms>,
) -> anyhow::Result<Console> {
    let tls = server_config(l)?;
    let listener = TcpListener::bind(l.listen)
        .await
        .map_err(|e| anyhow::anyhow!("device listener {}: {e}", l.listen))?;
    let devices_addr = listener.local_addr()?;
    info!(%devices_addr, device_ca = %l.device_ca.display(), "devices report here (HTTPS, device certificate required)");
    let (stop, mut stopped) = watch::channel(false);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let served = db.clone();
    let wake = Arc::new(Notify::new());
    let (served_alarms, served_wake) = (alarms.clone(), wake.clone());
    let policy: Arc<std::sync::OnceLock<Arc<Publisher>>> = Arc::default();
    let served_policy = policy.clone();
    let commands = Arc::new(crate::commands::Waiting::default());
    let served_commands = commands.clone();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = stopped.changed() => break,
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            warn!(error = %e, "accepting a device connection");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let (acceptor, db, clock) = (acceptor.clone(), served.clone(), clock.clone());
                    let alarms = Told { alarms: served_alarms.clone(), wake: served_wake.clone(), policy: served_policy.clone(), commands: served_commands.clone() };
                    connections.spawn(connection(acceptor, tcp, peer, db, clock, alarms));
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.abort_all();
    });
    Ok(Console {
        devices_addr,
        metrics_addr: None,
        staff_addr: None,
        db,
        alarms,
        wake,
        policy,
        commands,
        patrons: Arc::default(),
        stop,
        tasks: vec![task],
    })
}

async fn connection(
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    db: Db,
    clock: Clock,
    told: Told,
) {
    let tls = match tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            // A certificate from another CA, an expired one, none at all: refused here.
            warn!(%peer, error = %e, "device TLS handshake refused");
            return;
        }
        Err(_) => {
            debug!(%peer, "device TLS handshake timed out");
            return;
        }
    };
    let der = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.as_ref().to_vec());
    let device = match der.as_deref().map(identity::from_der) {
        Some(Ok(d)) => Arc::new(d),
        Some(Err(e)) => {
            warn!(%peer, error = %e, "device certificate unreadable");
            return;
        }
        None => return,
    };
    let service = hyper::service::service_fn(move |req| {
        handle(req, device.clone(), db.clone(), clock.clone(), told.clone())
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
        .await
    {
        debug!(%peer, error = %e, "device connection ended");
    }
}

/// What a connection needs to raise alarms.
#[derive(Clone)]
struct Told {
    alarms: Arc<Alarms>,
    wake: Arc<Notify>,
    policy: Arc<std::sync::OnceLock<Arc<Publisher>>>,
    commands: Arc<crate::commands::Waiting>,
}

fn answer(status: StatusCode, body: impl Into<Bytes>, json: bool) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let kind = if json {
        "application/json"
    } else {
        "text/plain; charset=utf-8"
    };
    if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

async fn handle(
    req: Request<Incoming>,
    device: Arc<DeviceCert>,
    db: Db,
    clock: Clock,
    told: Told,
) -> Result<Response<Full<Bytes>>, Infallible> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/v1/policy") => return Ok(policy_bundle(&db, &device).await),
        (&Method::GET, "/v1/commands") => {
            return Ok(next_command(&db, &device, &clock, &told.commands).await);
        }
        (&Method::POST, "/v1/commands/outcome") => {
            return Ok(command_outcome(req, &db, &device, &clock).await);
        }
        _ => {}
    }
    if (req.method(), req.uri().path()) != (&Method::POST, "/v1/report") {
        return Ok(answer(
            StatusCode::NOT_FOUND,
            "devices report with POST /v1/report and fetch their branch's policy with GET /v1/policy\n",
            false,
        ));
    }
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            let (status, words) = if too_large {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("a batch is at most {MAX_BODY_BYTES} bytes; send fewer records\n"),
                )
            } else {
                (StatusCode::BAD_REQUEST, format!("reading the body: {e}\n"))
            };
            return Ok(answer(status, words, false));
        }
    };
    let batch = match Batch::parse(&body) {
        Ok(b) => b,
        Err(e) => {
            let status = match e {
                BatchError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            warn!(device = %device.device_id, error = %e, "report refused");
            return Ok(answer(status, format!("{e}\n"), false));
        }
    };
    match db.store_batch(&device, &batch, clock(), &told.alarms).await {
        Ok(crate::db::Stored { mut ack, raised }) => {
            if told.policy.get().is_some() {
                match crate::policy::latest(&db, &device.branch).await {
                    Ok(b) => ack.policy = b.map(|b| b.version),
                    Err(e) => warn!(branch = %device.branch, "newest policy bundle: {e}"),
                }
            }
            if raised > 0 {
                told.wake.notify_one();
            }
            debug!(device = %device.device_id, acked = ack.acked.len(), duplicates = ack.duplicates, rejected = ack.rejected.len(), "report stored");
            for r in &ack.rejected {
                warn!(device = %device.device_id, seq = r.seq, why = %r.why, "record refused");
            }
            let json = serde_json::to_vec(&ack).unwrap_or_default();
            Ok(answer(StatusCode::OK, json, true))
        }
        Err(DbError::Revoked { device: d }) => {
            warn!(device = %d, "report from a revoked certificate refused");
            Ok(answer(
                StatusCode::FORBIDDEN,
                "this device's certificate is revoked: provision the box again\n",
                false,
            ))
        }
        Err(e) => {
            warn!(device = %device.device_id, error = %e, "report not stored");
            Ok(answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the console could not store the report; send it again later\n",
                false,
            ))
        }
    }
}

/// The newest policy bundle of the device's branch (its certificate's OU): the envelope's bytes.
async fn policy_bundle(db: &Db, device: &DeviceCert) -> Response<Full<Bytes>> {
    if db.is_revoked(&device.sha256).await.unwrap_or(true) {
        return answer(
            StatusCode::FORBIDDEN,
            "this device's certificate is revoked (or the console cannot tell now)\n",
            false,
        );
    }
    match crate::policy::newest(db, &device.branch).await {
        Ok(Some(b)) => {
            let mut r = answer(StatusCode::OK, b.bytes, false);
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/octet-stream"),
            );
            r
        }
        Ok(None) => answer(
            StatusCode::NOT_FOUND,
            format!(
                "no policy bundle for branch {:?}: staff have not set its calendar\n",
                device.branch
            ),
            false,
        ),
        Err(e) => {
            warn!(device = %device.device_id, "policy bundle: {e}");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "the console could not read the bundle; ask again later\n",
                false,
            )
        }
    }
}

/// The next command for the device, held open up to [`COMMAND_WAIT`] when there is none yet
/// (`204 No Content` then: ask again).
async fn next_command(
    db: &Db,
    device: &DeviceCert,
    clock: &Clock,
    waiting: &crate::commands::Waiting,
) -> Response<Full<Bytes>> {
    if db.is_revoked(&device.sha256).await.unwrap_or(true) {
        return answer(
            StatusCode::FORBIDDEN,
            "this device's certificate is revoked (or the console cannot tell now)\n",
            false,
        );
    }
    let deadline = tokio::time::Instant::now() + COMMAND_WAIT;
    let wake = waiting.register(&device.device_id);
    loop {
        // Armed before the look, so a command queued during it is not missed.
        let woken = wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        match crate::commands::take_next(db, &device.device_id, clock()).await {
            Ok(Some(bytes)) => {
                info!(device = %device.device_id, "command delivered");
                let mut r = answer(StatusCode::OK, bytes, false);
                r.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/octet-stream"),
                );
                return r;
            }
            Ok(None) => {}
            Err(e) => {
                warn!(device = %device.device_id, "commands: {e}");
                return answer(StatusCode::SERVICE_UNAVAILABLE, "ask again later\n", false);
            }
        }
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            return answer(StatusCode::NO_CONTENT, Bytes::new(), false);
        }
    }
}

/// A device's answer to a command.
async fn command_outcome(
    req: Request<Incoming>,
    db: &Db,
    device: &DeviceCert,
    clock: &Clock,
) -> Response<Full<Bytes>> {
    // A patron's export carries what the device holds about the card.
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                format!("reading the body: {e}\n"),
                false,
            );
        }
    };
    let o: report::command::Outcome = match serde_json::from_slice(&body) {
        Ok(o) => o,
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                format!("not an outcome: {e}\n"),
                false,
            );
        }
    };
    match crate::commands::record_outcome(db, &device.device_id, &o, clock()).await {
        Ok(true) => {
            info!(device = %device.device_id, outcome = %o.outcome, "command outcome");
            if let Err(e) = crate::patrons::answered(db, &device.device_id, &o.id, &o.outcome).await
            {
                warn!(device = %device.device_id, "a patron request's answer: {e}");
            }
            answer(StatusCode::OK, "recorded\n", false)
        }
        Ok(false) => answer(
            StatusCode::NOT_FOUND,
            "no such command of this device awaits an outcome\n",
            false,
        ),
        Err(e) => {
            warn!(device = %device.device_id, "command outcome: {e}");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "send it again later\n",
                false,
            )
        }
    }
}
