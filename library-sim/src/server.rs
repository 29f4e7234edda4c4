//! The network side: SIP2 over TLS and (on request) plain TCP, one task per connection, login
//! before anything else, the control interface for faults, and state saved after every change.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use redact::{CardNumber, Redactor};
use sip2::{DecodeError, Decoded, Dialect, LoginResponse, Message, Resend};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tracing::{debug, info, warn};

use crate::circulation::Library;
use crate::clock::Clock;
use crate::faults::{FaultSwitch, Faults, ReplyFault};
use crate::fixtures::{Device, Fixtures};
use crate::replies;
use crate::rest;
use crate::store::Store;
use crate::tls::{self, TlsFiles};

/// How the simulator is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Fixture file.
    pub fixtures: PathBuf,
    /// State directory: state, CA and certificates.
    pub state_dir: PathBuf,
    /// Address of the SIP2-over-TLS listener.
    pub sip2_tls: Option<SocketAddr>,
    /// Address of the plain-TCP listener, only when asked for.
    pub sip2_plain: Option<SocketAddr>,
    /// Address of the fault-control listener (keep it on loopback).
    pub control: Option<SocketAddr>,
    /// The SIP2 dialect the simulated library system speaks.
    pub dialect: Dialect,
    /// Extra host names for the server certificate.
    pub hostnames: Vec<String>,
    /// Faults from the start.
    pub faults: Faults,
    /// A connection idle this long is closed.
    pub idle_timeout: Duration,
    /// Address of Koha's REST API over HTTPS.
    pub https: Option<SocketAddr>,
    /// Only clients with a certificate from the simulator's CA get in (mutual TLS).
    pub require_client_cert: bool,
    /// Lifetime of the REST API's OAuth2 tokens.
    pub token_lifetime: Duration,
    /// A published allow-list directory to serve at `/allowlist/` over HTTPS.
    pub allowlist: Option<PathBuf>,
    /// The simulator's clock: the fixtures' dates are resolved against it at start, and every
    /// patron is judged by it.
    pub clock: Clock,
}

impl Settings {
    /// Settings for tests and the demo: fixtures and state in the given places, SIP2 over TLS
    /// and HTTPS on loopback ports the system picks, control on loopback, the standard dialect.
    pub fn loopback(fixtures: PathBuf, state_dir: PathBuf) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            fixtures,
            state_dir,
            sip2_tls: Some(any),
            sip2_plain: None,
            control: Some(any),
            dialect: Dialect::standard(),
            hostnames: vec![],
            faults: Faults::default(),
            idle_timeout: Duration::from_secs(300),
            https: Some(any),
            require_client_cert: false,
            token_lifetime: Duration::from_secs(3600),
            allowlist: None,
            clock: Clock::system(),
        }
    }
}

/// Shared by all connections.
#[derive(Debug)]
pub struct Simulator {
    pub(crate) library: Mutex<Library>,
    pub(crate) store: Store,
    pub(crate) faults: FaultSwitch,
    dialect: Dialect,
    redactor: Redactor,
    idle_timeout: Duration,
    pub(crate) tokens: rest::Tokens,
    pub(crate) token_lifetime: Duration,
    pub(crate) allowlist: Option<PathBuf>,
    closing: tokio::sync::watch::Sender<bool>,
    connections: std::sync::Mutex<Connections>,
    journal: std::sync::Mutex<Vec<Received>>,
    pub(crate) clock: Clock,
    /// A test's watcher of circulation requests ([`Running::watch_circulation`]).
    watcher: Watching,
}

/// The watcher's place (a closure has no `Debug`).
#[derive(Default)]
struct Watching(std::sync::Mutex<Option<Watcher>>);

impl std::fmt::Debug for Watching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let on = self.0.lock().is_ok_and(|w| w.is_some());
        f.debug_tuple("Watching").field(&on).finish()
    }
}

/// When a circulation request is shown to a watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Read and decoded, before the library acts on it.
    Received,
    /// Acted on and its answer written to the device's connection.
    Answered,
}

/// A test's watcher of circulation requests: called with the request (its `ok` false at
/// [`Moment::Received`]) at each moment, on the connection's task, which waits for it.
pub type Watcher = Arc<dyn Fn(&Received, Moment) + Send + Sync>;

/// A circulation request as the simulator received it (for tests that count deliveries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `checkout` or `checkin`.
    pub kind: &'static str,
    /// The item's barcode.
    pub item: String,
    /// Sent with SIP2's no-block flag (an offline transaction).
    pub no_block: bool,
    /// The transaction date the device gave (`YYYYMMDDZZZZHHMMSS`; over Koha's offline
    /// circulation service its `timestamp`, `YYYY-MM-DD HH:MM:SS`).
    pub transaction_date: String,
    /// The simulator lent or took it back.
    pub ok: bool,
}

/// A started simulator: where it listens.
#[derive(Debug)]
pub struct Running {
    /// SIP2 over TLS.
    pub sip2_tls: Option<SocketAddr>,
    /// SIP2 over plain TCP.
    pub sip2_plain: Option<SocketAddr>,
    /// Fault control.
    pub control: Option<SocketAddr>,
    /// Koha's REST API over HTTPS.
    pub https: Option<SocketAddr>,
    /// The CA certificate clients pin.
    pub ca_cert: PathBuf,
    /// A device certificate (and its key) the CA signed, for mutual TLS.
    pub device_cert: PathBuf,
    /// The device certificate's key.
    pub device_key: PathBuf,
    sim: Arc<Simulator>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The listening sockets, shut down by [`Running::abort`] whatever their tasks are doing.
    listeners: Vec<OwnedFd>,
}

/// Every open connection's socket (a duplicate of its descriptor), so that a stop can end them
/// all at once, from outside the tasks that serve them.
#[derive(Debug, Default)]
struct Connections {
    next: u64,
    open: HashMap<u64, OwnedFd>,
}

/// Shuts a socket down in both directions. The socket may be a listener, which Linux then
/// closes to connections: pending ones are reset, new ones refused, a blocked accept woken.
fn shut_down(fd: &OwnedFd) {
    if let Ok(dup) = fd.try_clone() {
        // std has no shutdown for an arbitrary socket; a TcpStream's is `shutdown(2)` on its fd.
        let _ = std::net::TcpStream::from(dup).shutdown(std::net::Shutdown::Both);
    }
}

/// A connection's place in [`Connections`], given up when its task ends (or is aborted).
struct Registered {
    id: u64,
    sim: Arc<Simulator>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut c) = self.sim.connections.lock() {
            c.open.remove(&self.id);
        }
    }
}

impl Running {
    /// The simulator's clock.
    pub fn clock(&self) -> &Clock {
        &self.sim.clock
    }

    /// How many OAuth2 tokens the REST API issued, and how many requests it refused for a
    /// missing or expired token.
    pub fn token_counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.sim.tokens.issued.load(Relaxed),
            self.sim.tokens.refused.load(Relaxed),
        )
    }

    /// The library's circulation state as it stands (loans, returns, offline operations
    /// queued for staff), for tests and the demo to read what was recorded.
    pub async fn state(&self) -> crate::circulation::State {
        self.sim.library.lock().await.state.clone()
    }

    /// Every checkout and checkin received since the start, in order.
    pub fn received(&self) -> Vec<Received> {
        self.sim
            .journal
            .lock()
            .map(|j| j.clone())
            .unwrap_or_default()
    }

    /// Shows every checkout and checkin to `watcher` when it is received and when it has been
    /// answered (`None`: to nobody): a test can act at those moments, e.g. kill the device that
    /// sent it, and the simulator then goes on as a library system would.
    pub fn watch_circulation(&self, watcher: Option<Watcher>) {
        if let Ok(mut w) = self.sim.watcher.0.lock() {
            *w = watcher;
        }
    }

    /// Stops accepting connections: when this returns, a new connection is refused (the
    /// listening sockets are shut down here, not when their tasks next run).
    pub fn abort(&self) {
        for fd in &self.listeners {
            shut_down(fd);
        }
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Stops as a restart would: no more connections, and every open connection (SIP2, HTTPS,
    /// control) closed. When this returns, nothing sent to the old server is answered: each
    /// connection's socket is shut down here, so a request racing the stop fails on the client's
    /// side instead of being served by a task that has not yet seen the stop.
    pub fn stop(&self) {
        self.abort();
        self.sim.closing.send_replace(true);
        let open: Vec<OwnedFd> = match self.sim.connections.lock() {
            Ok(mut c) => c.open.drain().map(|(_, fd)| fd).collect(),
            Err(_) => vec![],
        };
        for fd in &open {
            shut_down(fd);
        }
    }
}

/// Loads fixtures and state, makes the TLS identity, binds the listeners and starts serving.
pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    std::fs::create_dir_all(&settings.state_dir).with_context(|| {
        format!(
            "cannot create state directory {}",
            settings.state_dir.display()
        )
    })?;
    let fixtures = Fixtures::load(&settings.fixtures, settings.clock.today())?;
    let store = Store::new(&settings.state_dir);
    let library = match store.load()? {
        Some(state) => {
            info!(loans = state.loans.len(), file = %store.path().display(), "state restored");
            Library::with_state(fixtures, state)
        }
        None => {
            let lib = Library::new(fixtures);
            store.save(&lib.state)?;
            info!(file = %store.path().display(), "new state from fixtures");
            lib
        }
    };
    info!(
        patrons = library.fixtures.patrons.len(),
        items = library.fixtures.items.len(),
        branches = library.fixtures.branches.len(),
        "fixtures loaded"
    );
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key)
        .map_err(|e| anyhow::anyhow!("no randomness for the log pseudonym key: {e}"))?;
    let sim = Arc::new(Simulator {
        library: Mutex::new(library),
        store,
        faults: FaultSwitch::new(settings.faults.clone()),
        dialect: settings.dialect.clone(),
        redactor: Redactor::new(&key),
        idle_timeout: settings.idle_timeout,
        tokens: rest::Tokens::default(),
        token_lifetime: settings.token_lifetime,
        allowlist: settings.allowlist.clone(),
        closing: tokio::sync::watch::channel(false).0,
        connections: std::sync::Mutex::default(),
        journal: std::sync::Mutex::default(),
        clock: settings.clock.clone(),
        watcher: Watching::default(),
    });
    let files: TlsFiles = tls::ensure_identity(&settings.state_dir, &settings.hostnames)?;
    let mut running = Running {
        sip2_tls: None,
        sip2_plain: None,
        control: None,
        https: None,
        ca_cert: files.ca_cert.clone(),
        device_cert: files.device_cert.clone(),
        device_key: files.device_key.clone(),
        sim: sim.clone(),
        tasks: vec![],
        listeners: vec![],
    };
    if let Some(addr) = settings.sip2_tls {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(
            &files,
            settings.require_client_cert,
            &[],
        )?);
        let listener = listen(addr).await?;
        let local = listener.local_addr()?;
        info!(%local, ca = %files.ca_cert.display(), dialect = %sim.dialect.name, charset = %sim.dialect.charset, "SIP2 over TLS");
        running.sip2_tls = Some(local);
        let sim = sim.clone();
        running.tasks.push(accept_loop(
            &mut running.listeners,
            &running.sim,
            listener,
            move |tcp, peer| {
                let (sim, acceptor) = (sim.clone(), acceptor.clone());
                async move {
                    if let Some(tls) = handshake(&acceptor, tcp, peer).await {
                        serve(sim, tls, peer).await;
                    }
                }
            },
        ));
    }
    if let Some(addr) = settings.https {
        // The offline list holds every patron's card hash and PIN verifier: it goes only to
        // enrolled devices, with a certificate from the simulator's CA. Clients of the REST API
        // are asked for one too, but may go without.
        let asked = if settings.require_client_cert {
            tls::ClientCerts::Required
        } else if settings.allowlist.is_some() {
            tls::ClientCerts::Optional
        } else {
            tls::ClientCerts::NotAsked
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config_asking(
            &files,
            asked,
            &[b"http/1.1"],
        )?);
        let listener = listen(addr).await?;
        let local = listener.local_addr()?;
        info!(%local, "Koha REST API over HTTPS");
        if let Some(dir) = &settings.allowlist {
            info!(%local, dir = %dir.display(), device_ca = %files.ca_cert.display(),
                  "offline list at /allowlist/, to devices with a certificate from this CA only");
        }
        running.https = Some(local);
        let sim = sim.clone();
        running.tasks.push(accept_loop(
            &mut running.listeners,
            &running.sim,
            listener,
            move |tcp, peer| {
                let (sim, acceptor) = (sim.clone(), acceptor.clone());
                async move {
                    let Some(tls) = handshake(&acceptor, tcp, peer).await else {
                        return;
                    };
                    // A certificate presented has been verified against the CA in the handshake.
                    let device = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|c| !c.is_empty());
                    let service = hyper::service::service_fn(move |req| {
                        rest::handle(sim.clone(), req, peer, device)
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await
                    {
                        debug!(%peer, error = %e, "HTTP connection ended");
                    }
                }
            },
        ));
    }
    if let Some(addr) = settings.sip2_plain {
        let listener = listen(addr).await?;
        let local = listener.local_addr()?;
        warn!(%local, "SIP2 over plain TCP: card numbers and PINs cross the network unencrypted; use only behind a VPN or stunnel");
        running.sip2_plain = Some(local);
        let sim = sim.clone();
        running.tasks.push(accept_loop(
            &mut running.listeners,
            &running.sim,
            listener,
            move |tcp, peer| serve(sim.clone(), tcp, peer),
        ));
    }
    if let Some(addr) = settings.control {
        let listener = listen(addr).await?;
        let local = listener.local_addr()?;
        if !local.ip().is_loopback() {
            warn!(%local, "the fault-control port is not on loopback");
        }
        info!(%local, "fault control");
        running.control = Some(local);
        let sim = sim.clone();
        running.tasks.push(accept_loop(
            &mut running.listeners,
            &running.sim,
            listener,
            move |tcp, _| control(sim.clone(), tcp),
        ));
    }
    Ok(running)
}

/// Starts, then serves until `shutdown` completes.
pub async fn run(settings: Settings, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let running = start(settings).await?;
    shutdown.await;
    info!("shutting down");
    running.abort();
    Ok(())
}

async fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Accepts connections for ever, each handled in a task of its own and registered in the
/// simulator's [`Connections`] while it lasts; the listener is kept in `listeners` for a stop.
fn accept_loop<F, Fut>(
    listeners: &mut Vec<OwnedFd>,
    sim: &Arc<Simulator>,
    listener: TcpListener,
    handle: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(TcpStream, SocketAddr) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if let Ok(fd) = listener.as_fd().try_clone_to_owned() {
        listeners.push(fd);
    }
    let sim = sim.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = match accept(&listener).await {
                Ok(accepted) => accepted,
                // The listener was shut down by `stop`/`abort`: this loop is done.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => return,
                Err(_) => continue,
            };
            let Some(registered) = sim.register(&tcp) else {
                // Stopped (or out of descriptors): not served.
                continue;
            };
            let served = handle(tcp, peer);
            tokio::spawn(async move {
                served.await;
                drop(registered);
            });
        }
    })
}

/// The TLS handshake, bounded to 10 s; failures are logged.
async fn handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            warn!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            warn!(%peer, "TLS handshake timed out");
            None
        }
    }
}

async fn accept(listener: &TcpListener) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok((tcp, peer)) => {
            let _ = tcp.set_nodelay(true);
            Ok((tcp, peer))
        }
        // A listener shut down by `stop` (EINVAL): not a fault, the caller ends its loop.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Err(e),
        Err(e) => {
            // Out of file descriptors and the like: wait a little rather than spin.
            warn!(error = %e, "accept failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(e)
        }
    }
}

async fn control(sim: Arc<Simulator>, tcp: TcpStream) {
    let (r, mut w) = tcp.into_split();
    let mut lines = BufReader::new(r.take(64 * 1024)).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = sim.faults.command(&line);
        info!(command = %line.trim(), %answer, "fault control");
        if w.write_all(format!("{answer}\n").as_bytes()).await.is_err() {
            break;
        }
    }
}

/// One device's connection.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    sim: Arc<Simulator>,
    mut stream: S,
    peer: SocketAddr,
) {
    debug!(%peer, "connected");
    let mut closing = sim.closing.subscribe();
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut device: Option<Device> = None;
    let mut last_reply: Option<Vec<u8>> = None;
    // Decode leniently: a checksum is verified when present and echoed when the device sent one.
    let decode_dialect = Dialect {
        error_detection: false,
        ..sim.dialect.clone()
    };
    loop {
        let frame = match sip2::frame::split_frame(&buf, sim.dialect.max_message_len) {
            Ok(Some((len, consumed))) => {
                let frame = buf[..len].to_vec();
                buf.drain(..consumed);
                frame
            }
            Ok(None) => {
                let mut chunk = [0u8; 4096];
                let read = tokio::select! {
                    r = tokio::time::timeout(sim.idle_timeout, stream.read(&mut chunk)) => r,
                    _ = closing.wait_for(|c| *c) => break,
                };
                match read {
                    Ok(Ok(0)) => break,
                    Ok(Ok(n)) => {
                        buf.extend_from_slice(&chunk[..n]);
                        continue;
                    }
                    Ok(Err(e)) => {
                        debug!(%peer, error = %e, "read failed");
                        break;
                    }
                    Err(_) => {
                        info!(%peer, "idle connection closed");
                        break;
                    }
                }
            }
            Err(e) => {
                warn!(%peer, error = %e, "message too long; closing the connection");
                break;
            }
        };
        if frame.is_empty() {
            continue;
        }
        let decoded = match Message::decode(&frame, &decode_dialect) {
            Ok(d) => d,
            Err(e) => {
                // Damaged or garbled in any way (checksum, truncated fixed part, impossible
                // date, bytes not in the charset, a message we do not know): 96, never silence,
                // which would leave a kiosk frozen in front of a patron.
                if matches!(e, DecodeError::UnknownMessage { .. }) {
                    warn!(%peer, error = %e.redacted(), "unsupported message; answered 96");
                } else {
                    warn!(%peer, error = %e.redacted(), "malformed message; answered 96");
                }
                let bytes = sc_resend(&sim.dialect);
                if stream.write_all(&bytes).await.is_err() {
                    break;
                }
                last_reply = Some(bytes);
                continue;
            }
        };
        if let Message::RequestAcsResend(_) = decoded.message {
            // Before any reply there is nothing to send again: 96 (specification, p. 16; Koha's
            // C4/SIP/Sip.pm keeps `$last_response` for this and answers REQUEST_SC_RESEND).
            let reply = last_reply.get_or_insert_with(|| sc_resend(&sim.dialect));
            if stream.write_all(reply).await.is_err() {
                break;
            }
            continue;
        }
        let watched = sim.circulation(&decoded.message);
        if let Some(r) = &watched {
            sim.watch(r, Moment::Received);
        }
        let reply = match handle(&sim, &mut device, &decoded, peer).await {
            Action::Reply(m) => m,
            Action::Ignore => continue,
            Action::Resend => {
                let bytes = sc_resend(&sim.dialect);
                if stream.write_all(&bytes).await.is_err() {
                    break;
                }
                last_reply = Some(bytes);
                continue;
            }
            Action::Close => break,
        };
        let dialect = Dialect {
            error_detection: decoded.checksummed,
            ..sim.dialect.clone()
        };
        let mut bytes = match reply.encode(&dialect, decoded.sequence) {
            Ok(b) => b,
            Err(e) => {
                // Text the charset lacks is transliterated by the codec; what is left (an
                // identifier it cannot write, a delimiter in a fixture's text) still gets an
                // answer.
                warn!(%peer, error = %e, message = reply.name(), "reply cannot be encoded; answered 96");
                sc_resend(&sim.dialect)
            }
        };
        let faults = sim.faults.get();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        // A resend request (97) gets the reply as it should have been, not as a fault damaged it.
        last_reply = Some(bytes.clone());
        let fault = sim.faults.next_reply();
        match fault {
            ReplyFault::None => {}
            ReplyFault::DropMidReply => {
                warn!(%peer, "fault: dropping the connection mid-reply");
                let _ = stream.write_all(&bytes[..bytes.len() / 2]).await;
                let _ = stream.flush().await;
                break;
            }
            ReplyFault::Garbage => {
                warn!(%peer, "fault: garbage reply");
                bytes = b"\x00\xFFgarbage~~\x1B[2J not SIP2 at all\r".to_vec();
            }
            ReplyFault::BadChecksum => {
                warn!(%peer, "fault: bad checksum");
                if let Some(pos) = bytes.windows(2).rposition(|w| w == b"AZ") {
                    let i = pos + 2;
                    if i < bytes.len() {
                        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
                    }
                } else {
                    let end = bytes.len() - dialect.terminator.bytes().len();
                    bytes.splice(end..end, b"AZ0000".iter().copied());
                }
            }
        }
        if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
            break;
        }
        if let Some(mut r) = watched {
            r.ok = match &*reply {
                Message::CheckoutResponse(c) => c.ok,
                Message::CheckinResponse(c) => c.ok,
                _ => false,
            };
            sim.watch(&r, Moment::Answered);
        }
    }
    let _ = stream.shutdown().await;
    debug!(%peer, "disconnected");
}

/// What to do after a request.
enum Action {
    Reply(Box<Message>),
    /// A 96 from the device: answering it with 96 would start a ping-pong.
    Ignore,
    /// Not a request a library system answers (a response sent our way): 96, as Koha answers a
    /// message it has no handler for (`C4/SIP/Sip/MsgType.pm`, `handle`).
    Resend,
    Close,
}

/// 96 Request SC Resend, with a checksum (the specification's example, `96AZFEF6`).
fn sc_resend(dialect: &Dialect) -> Vec<u8> {
    let with_checksum = Dialect {
        error_detection: true,
        ..dialect.clone()
    };
    Message::RequestScResend(Resend::default())
        .encode(&with_checksum, None)
        .unwrap_or_else(|_| [b"96AZFEF6".as_slice(), dialect.terminator.bytes()].concat())
}

impl Simulator {
    /// Registers an accepted connection, or `None` if the simulator is stopping (a connection
    /// accepted as the stop came in) or its socket cannot be duplicated.
    fn register(self: &Arc<Self>, tcp: &TcpStream) -> Option<Registered> {
        let fd = tcp.as_fd().try_clone_to_owned().ok()?;
        let mut c = self.connections.lock().ok()?;
        // Checked under the lock a stop drains the connections under: none slips in after.
        if *self.closing.borrow() {
            return None;
        }
        c.next += 1;
        let id = c.next;
        c.open.insert(id, fd);
        Some(Registered {
            id,
            sim: self.clone(),
        })
    }

    /// The circulation request `m` is, for a watcher (`ok` still false).
    fn circulation(&self, m: &Message) -> Option<Received> {
        let watching = self.watcher.0.lock().is_ok_and(|w| w.is_some());
        let (kind, item, no_block, date) = match m {
            Message::Checkout(r) if watching => (
                "checkout",
                &r.item_identifier,
                r.no_block,
                &r.transaction_date,
            ),
            Message::Checkin(r) if watching => (
                "checkin",
                &r.item_identifier,
                r.no_block,
                &r.transaction_date,
            ),
            _ => return None,
        };
        Some(Received {
            kind,
            item: item.clone(),
            no_block,
            transaction_date: date.to_string(),
            ok: false,
        })
    }

    fn watch(&self, r: &Received, at: Moment) {
        let watcher = self.watcher.0.lock().ok().and_then(|w| w.clone());
        if let Some(w) = watcher {
            w(r, at);
        }
    }

    pub(crate) fn record(&self, r: Received) {
        // For tests and the demo; a long-running simulator keeps only the latest.
        const KEPT: usize = 10_000;
        if let Ok(mut j) = self.journal.lock() {
            if j.len() >= KEPT {
                j.drain(..KEPT / 2);
            }
            j.push(r);
        }
    }
}

/// Answers one request.
async fn handle(
    sim: &Simulator,
    device: &mut Option<Device>,
    decoded: &Decoded,
    peer: SocketAddr,
) -> Action {
    let now = sim.clock.local_now();
    let mut lib = sim.library.lock().await;
    let dev_name = device.as_ref().map_or("-", |d| d.login.as_str()).to_owned();
    let card_log = |card: &CardNumber| sim.redactor.card(card).to_string();
    let mut changed = false;
    let reply = match &decoded.message {
        Message::Login(login) => {
            let found = lib
                .fixtures
                .devices
                .iter()
                .find(|d| {
                    d.login == login.login_user_id && login.login_password.matches(&d.password)
                })
                .cloned();
            let refused = sim.faults.get().refuse_login;
            let ok = found.is_some() && !refused;
            if ok {
                info!(%peer, device = %login.login_user_id, "login");
                *device = found;
            } else {
                warn!(%peer, device = %login.login_user_id, injected = refused, "login refused");
            }
            Message::LoginResponse(LoginResponse { ok, extra: vec![] })
        }
        Message::ScStatus(_) => {
            Message::AcsStatus(replies::acs_status(&lib, device.is_some(), now))
        }
        other if device.is_none() => {
            warn!(%peer, message = other.name(), "request before login; closing the connection");
            return Action::Close;
        }
        Message::PatronStatus(req) => {
            let resp = replies::patron_status(
                &lib,
                &req.institution_id,
                &req.patron_identifier,
                &req.patron_password,
                now,
            );
            info!(device = %dev_name, card = %card_log(&req.patron_identifier), valid = ?resp.valid_patron, pin_ok = ?resp.valid_patron_password, "patron status");
            Message::PatronStatusResponse(resp)
        }
        Message::PatronInformation(req) => {
            let resp = replies::patron_information(&lib, req, now);
            info!(device = %dev_name, card = %card_log(&req.patron_identifier), pin_ok = ?resp.valid_patron_password, "patron information");
            Message::PatronInformationResponse(resp)
        }
        Message::Checkout(req) => {
            let resp = replies::checkout(&mut lib, req, now);
            changed = resp.ok;
            info!(device = %dev_name, card = %card_log(&req.patron_identifier), item = %req.item_identifier, no_block = req.no_block, ok = resp.ok, "checkout");
            sim.record(Received {
                kind: "checkout",
                item: req.item_identifier.clone(),
                no_block: req.no_block,
                transaction_date: req.transaction_date.to_string(),
                ok: resp.ok,
            });
            Message::CheckoutResponse(resp)
        }
        Message::Checkin(req) => {
            let Some(dev) = device.as_ref() else {
                return Action::Close;
            };
            let resp = replies::checkin(&mut lib, req, dev, now);
            changed = resp.ok;
            info!(device = %dev_name, item = %req.item_identifier, ok = resp.ok, "checkin");
            sim.record(Received {
                kind: "checkin",
                item: req.item_identifier.clone(),
                no_block: req.no_block,
                transaction_date: req.transaction_date.to_string(),
                ok: resp.ok,
            });
            Message::CheckinResponse(resp)
        }
        Message::Renew(req) => {
            let resp = replies::renew(&mut lib, req, now);
            changed = resp.ok;
            info!(device = %dev_name, card = %card_log(&req.patron_identifier), ok = resp.ok, "renew");
            Message::RenewResponse(resp)
        }
        Message::RenewAll(req) => {
            let resp = replies::renew_all(&mut lib, req, now);
            changed = resp.renewed_count > 0;
            info!(device = %dev_name, card = %card_log(&req.patron_identifier), renewed = resp.renewed_count, "renew all");
            Message::RenewAllResponse(resp)
        }
        Message::ItemInformation(req) => {
            Message::ItemInformationResponse(replies::item_information(&lib, req, now))
        }
        Message::ItemStatusUpdate(req) => {
            let resp = replies::item_status_update(&mut lib, req, now);
            changed = resp.item_properties_ok;
            Message::ItemStatusUpdateResponse(resp)
        }
        Message::EndPatronSession(req) => {
            info!(device = %dev_name, card = %card_log(&req.patron_identifier), "end session");
            Message::EndSessionResponse(sip2::EndSessionResponse {
                end_session: true,
                transaction_date: replies::sip_date(now),
                institution_id: req.institution_id.clone(),
                patron_identifier: req.patron_identifier.clone(),
                screen_messages: vec![],
                print_lines: vec![],
                extra: vec![],
            })
        }
        Message::FeePaid(req) => {
            let resp = replies::fee_paid(&mut lib, req, now);
            changed = resp.payment_accepted;
            info!(device = %dev_name, card = %card_log(&req.patron_identifier), accepted = resp.payment_accepted, "fee paid");
            Message::FeePaidResponse(resp)
        }
        Message::BlockPatron(req) => {
            if lib.patron(req.patron_identifier.expose()).is_some() {
                let card = req.patron_identifier.expose().trim().to_owned();
                let msg = if req.blocked_card_message.is_empty() {
                    "Blocked by a self-service device".to_owned()
                } else {
                    req.blocked_card_message.clone()
                };
                lib.state.blocked_cards.insert(card, msg);
                changed = true;
            }
            warn!(device = %dev_name, card = %card_log(&req.patron_identifier), retained = req.card_retained, "block patron");
            Message::PatronStatusResponse(replies::patron_status(
                &lib,
                &req.institution_id,
                &req.patron_identifier,
                &redact::Pin::default(),
                now,
            ))
        }
        Message::RequestScResend(_) => {
            warn!(%peer, "96 from a device; ignored");
            return Action::Ignore;
        }
        other => {
            warn!(%peer, message = other.name(), "not a request; answered 96");
            return Action::Resend;
        }
    };
    if changed {
        let state = lib.state.clone();
        let store = sim.store.clone();
        match tokio::task::spawn_blocking(move || store.save(&state)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "state not saved"),
            Err(e) => warn!(error = %e, "state save task failed"),
        }
    }
    Action::Reply(Box::new(reply))
}
