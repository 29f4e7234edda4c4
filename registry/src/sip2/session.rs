//! One SIP2 connection to the library system, owned by one task: requests wait their turn
//! (strictly one in flight), every reply is checked for its sequence number, checksum and type,
//! a damaged reply is asked for again (97), an idle connection sends SC-status heartbeats, and
//! after any failure the task reconnects with backoff and jitter. No caller waits past its
//! deadline, whatever the server does.

use std::sync::Arc;
use std::time::Duration;

use redact::Pin;
use rustls::pki_types::ServerName;
use sip2::{Dialect, Message, Resend};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout_at};
use tracing::{debug, info, warn};

use super::mapping::Requests;
use crate::model::RegistryError;

/// How to reach and log in to the library system.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// `host:port`.
    pub address: String,
    /// Name the certificate must carry.
    pub server_name: String,
    /// TLS; `None` for plain TCP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Dialect.
    pub dialect: Dialect,
    /// The device's SIP2 login.
    pub login: String,
    /// The device's SIP2 password.
    pub password: Pin,
    /// Builds the login.
    pub requests: Requests,
    /// Heartbeat interval on an idle connection.
    pub heartbeat: Option<Duration>,
    /// Bound on connecting (TCP + TLS + login).
    pub connect_timeout: Duration,
    /// Bound on each request, waiting in line included.
    pub timeout: Duration,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct Connection {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
    next_seq: u8,
    last_used: Instant,
}

struct Job {
    request: Message,
    deadline: Instant,
    reply: oneshot::Sender<Result<Message, RegistryError>>,
}

/// A handle to the connection task; cheap to clone. The task ends when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Session {
    jobs: mpsc::Sender<Job>,
    timeout: Duration,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("request", &self.request.name())
            .finish()
    }
}

/// Waits before reconnecting: doubling from 250 ms to 10 s, each wait drawn between half and
/// all of it so that many devices do not reconnect in step after an outage.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(10);

    fn new() -> Self {
        Self { next: Self::FIRST }
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    fn wait(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        let mut r = [0u8; 4];
        let frac = match getrandom::getrandom(&mut r) {
            Ok(()) => f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX),
            Err(_) => 1.0,
        };
        base.mul_f64(0.5 + 0.5 * frac)
    }
}

/// The reply a request is answered with.
fn expected_reply(request: &Message) -> [u8; 2] {
    let id = request.id();
    match &id {
        b"99" => *b"98",
        b"01" => *b"24",
        [a, b] => {
            // Every other request's reply is its id plus one: 09→10, 23→24, 63→64, 93→94, …
            let n = u16::from(a - b'0') * 10 + u16::from(b - b'0') + 1;
            [b'0' + (n / 10) as u8, b'0' + (n % 10) as u8]
        }
    }
}

impl Session {
    /// Starts the connection task; it connects at once, in the background.
    pub fn start(settings: SessionSettings) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let timeout = settings.timeout;
        if settings.tls.is_none() {
            warn!(address = %settings.address, "SIP2 over plain TCP (insecure_plain_tcp): card numbers and PINs cross the network unencrypted");
        }
        tokio::spawn(run(settings, rx));
        Self { jobs: tx, timeout }
    }

    /// Sends `request` and returns the library system's reply, within the request timeout.
    pub async fn call(&self, request: Message) -> Result<Message, RegistryError> {
        let deadline = Instant::now() + self.timeout;
        let (tx, rx) = oneshot::channel();
        let job = Job {
            request,
            deadline,
            reply: tx,
        };
        match timeout_at(deadline, self.jobs.send(job)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return Err(RegistryError::Unreachable("SIP2 client stopped".into())),
            Err(_) => return Err(RegistryError::Timeout(self.timeout)),
        }
        // A little grace so that the task's own timeout error, which says more, arrives first.
        match timeout_at(deadline + Duration::from_millis(50), rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(RegistryError::Unreachable("SIP2 client stopped".into())),
            Err(_) => Err(RegistryError::Timeout(self.timeout)),
        }
    }
}

/// The connection, or when to try again and why the last try failed.
struct Link {
    conn: Option<Connection>,
    backoff: Backoff,
    next_attempt: Instant,
    last_failure: Option<(Instant, RegistryError)>,
}

impl Link {
    /// Connects by `deadline`; on failure, books the next attempt after a backoff.
    async fn connect(
        &mut self,
        s: &SessionSettings,
        deadline: Instant,
    ) -> Result<(), RegistryError> {
        match connect(s, deadline).await {
            Ok(c) => {
                self.conn = Some(c);
                self.backoff.reset();
                self.last_failure = None;
                Ok(())
            }
            Err(e) => {
                self.next_attempt = Instant::now() + self.backoff.wait();
                self.last_failure = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    /// The connection broke: drop it and reconnect at once, in the background.
    fn lost(&mut self) {
        self.conn = None;
        self.next_attempt = Instant::now();
    }
}

async fn run(s: SessionSettings, mut jobs: mpsc::Receiver<Job>) {
    let mut link = Link {
        conn: None,
        backoff: Backoff::new(),
        next_attempt: Instant::now(),
        last_failure: None,
    };
    loop {
        let heartbeat_at = match (&link.conn, s.heartbeat) {
            (Some(c), Some(h)) => Some(c.last_used + h),
            _ => None,
        };
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { break };
                if Instant::now() >= job.deadline {
                    let _ = job.reply.send(Err(RegistryError::Timeout(s.timeout)));
                    continue;
                }
                if link.conn.is_none() {
                    // Right after a failed attempt, answer at once rather than make every
                    // caller wait out the same dead server; the background retry goes on.
                    // Only a failure that will repeat (a refused certificate or login) is
                    // answered from memory; after a timeout or a reset, the caller tries anew.
                    if let Some((at, e)) = &link.last_failure {
                        let repeats = matches!(
                            e,
                            RegistryError::Tls(_) | RegistryError::DeviceRefused(_) | RegistryError::Setup(_)
                        );
                        if repeats && at.elapsed() < Duration::from_millis(250) {
                            let _ = job.reply.send(Err(e.clone()));
                            continue;
                        }
                    }
                    let deadline = job.deadline.min(Instant::now() + s.connect_timeout);
                    if let Err(e) = link.connect(&s, deadline).await {
                        let e = if Instant::now() >= job.deadline { RegistryError::Timeout(s.timeout) } else { e };
                        let _ = job.reply.send(Err(e));
                        continue;
                    }
                }
                let Some(c) = link.conn.as_mut() else { continue };
                let result = exchange(c, &s.dialect, &job.request, job.deadline).await;
                let result = match result {
                    Err(RegistryError::Timeout(_)) => Err(RegistryError::Timeout(s.timeout)),
                    other => other,
                };
                if let Err(e) = &result {
                    warn!(request = job.request.name(), error = %e, "SIP2 request failed; reconnecting");
                    link.lost();
                }
                let _ = job.reply.send(result);
            }
            () = sleep_until(heartbeat_at.unwrap_or_else(Instant::now)), if heartbeat_at.is_some() => {
                if let Some(c) = link.conn.as_mut() {
                    let deadline = Instant::now() + s.timeout;
                    match exchange(c, &s.dialect, &Requests::sc_status(), deadline).await {
                        Ok(Message::AcsStatus(a)) => debug!(online = a.online, "heartbeat"),
                        Ok(_) => {}
                        Err(e) => {
                            warn!(error = %e, "heartbeat failed; reconnecting");
                            link.lost();
                        }
                    }
                }
            }
            () = sleep_until(link.next_attempt), if link.conn.is_none() => {
                let deadline = Instant::now() + s.connect_timeout;
                if let Err(e) = link.connect(&s, deadline).await {
                    debug!(error = %e, "reconnect failed");
                }
            }
        }
    }
    debug!("SIP2 session ended");
}

fn io_error(e: &std::io::Error, server_name: &str, what: &str) -> RegistryError {
    match crate::tls::explain(e, server_name) {
        Some(t) => RegistryError::Tls(t),
        None => RegistryError::Unreachable(format!("{what}: {e}")),
    }
}

async fn connect(s: &SessionSettings, deadline: Instant) -> Result<Connection, RegistryError> {
    let started = Instant::now();
    let timeout = RegistryError::Timeout(s.connect_timeout);
    let tcp = timeout_at(deadline, TcpStream::connect(&s.address))
        .await
        .map_err(|_| timeout.clone())?
        .map_err(|e| RegistryError::Unreachable(format!("cannot connect to {}: {e}", s.address)))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Stream> = match &s.tls {
        Some(config) => {
            let name = ServerName::try_from(s.server_name.clone()).map_err(|e| {
                RegistryError::Setup(format!("server name {:?}: {e}", s.server_name))
            })?;
            let tls = timeout_at(
                deadline,
                tokio_rustls::TlsConnector::from(config.clone()).connect(name, tcp),
            )
            .await
            .map_err(|_| timeout.clone())?
            .map_err(|e| io_error(&e, &s.server_name, "TLS handshake"))?;
            Box::new(tls)
        }
        None => Box::new(tcp),
    };
    let mut conn = Connection {
        stream,
        buf: Vec::with_capacity(1024),
        next_seq: 0,
        last_used: Instant::now(),
    };
    // The exchanges' own timeouts carry no bound; connecting's is connect_timeout.
    let bounded = |e: RegistryError| match e {
        RegistryError::Timeout(_) => timeout.clone(),
        other => other,
    };
    let login = s.requests.login(&s.login, &s.password);
    match exchange(&mut conn, &s.dialect, &login, deadline)
        .await
        .map_err(bounded)?
    {
        Message::LoginResponse(r) if r.ok => {}
        _ => {
            return Err(RegistryError::DeviceRefused(format!(
                "login as {:?} refused by {}",
                s.login, s.address
            )));
        }
    }
    let online = match exchange(&mut conn, &s.dialect, &Requests::sc_status(), deadline)
        .await
        .map_err(bounded)?
    {
        Message::AcsStatus(a) => a.online,
        _ => false,
    };
    info!(
        address = %s.address,
        tls = s.tls.is_some(),
        dialect = %s.dialect.name,
        online,
        ms = started.elapsed().as_millis() as u64,
        "connected to the library system"
    );
    Ok(conn)
}

/// Sends one request and reads its reply.
async fn exchange(
    c: &mut Connection,
    dialect: &Dialect,
    request: &Message,
    deadline: Instant,
) -> Result<Message, RegistryError> {
    let seq = dialect.error_detection.then(|| {
        let s = c.next_seq;
        c.next_seq = (c.next_seq + 1) % 10;
        s
    });
    let bytes = request
        .encode(dialect, seq)
        .map_err(|e| RegistryError::Setup(format!("cannot encode {}: {e}", request.name())))?;
    send(c, &bytes, deadline).await?;
    let want = expected_reply(request);
    let mut resends = 0;
    loop {
        let frame = read_frame(c, dialect.max_message_len, deadline).await?;
        let problem = match Message::decode(&frame, dialect) {
            Ok(d) => {
                if let Message::RequestScResend(_) = d.message {
                    // The library system could not read our request: send it again.
                    if resends >= 2 {
                        return Err(RegistryError::Protocol(format!(
                            "the library system could not read {} three times",
                            request.name()
                        )));
                    }
                    resends += 1;
                    send(c, &bytes, deadline).await?;
                    continue;
                }
                if d.message.id() != want {
                    return Err(RegistryError::Protocol(format!(
                        "asked {} and got a {} reply",
                        request.name(),
                        String::from_utf8_lossy(&d.message.id())
                    )));
                }
                if let (Some(sent), true) = (seq, dialect.error_detection) {
                    if d.sequence.is_some_and(|got| got != sent) {
                        return Err(RegistryError::Protocol(format!(
                            "reply to {} has sequence number {:?}, expected {sent}",
                            request.name(),
                            d.sequence
                        )));
                    }
                }
                c.last_used = Instant::now();
                return Ok(d.message);
            }
            Err(e) => e.redacted(),
        };
        if resends >= 2 {
            return Err(RegistryError::Protocol(format!(
                "unreadable reply to {} after asking twice again: {problem}",
                request.name()
            )));
        }
        debug!(error = %problem, "damaged reply; asking for it again (97)");
        resends += 1;
        let resend = Message::RequestAcsResend(Resend::default())
            .encode(dialect, None)
            .map_err(|e| RegistryError::Setup(format!("cannot encode 97: {e}")))?;
        send(c, &resend, deadline).await?;
    }
}

async fn send(c: &mut Connection, bytes: &[u8], deadline: Instant) -> Result<(), RegistryError> {
    let write = async {
        c.stream.write_all(bytes).await?;
        c.stream.flush().await
    };
    match timeout_at(deadline, write).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(RegistryError::Unreachable(format!("send failed: {e}"))),
        Err(_) => Err(RegistryError::Timeout(Duration::ZERO)),
    }
}

async fn read_frame(
    c: &mut Connection,
    max: usize,
    deadline: Instant,
) -> Result<Vec<u8>, RegistryError> {
    loop {
        match sip2::frame::split_frame(&c.buf, max) {
            Ok(Some((len, consumed))) => {
                let frame = c.buf[..len].to_vec();
                c.buf.drain(..consumed);
                if frame.is_empty() {
                    continue;
                }
                return Ok(frame);
            }
            Ok(None) => {}
            Err(e) => {
                return Err(RegistryError::Protocol(format!("{}", e.redacted())));
            }
        }
        let mut chunk = [0u8; 4096];
        match timeout_at(deadline, c.stream.read(&mut chunk)).await {
            Ok(Ok(0)) => {
                return Err(RegistryError::Unreachable(if c.buf.is_empty() {
                    "the library system closed the connection".into()
                } else {
                    "the library system closed the connection mid-reply".into()
                }));
            }
            Ok(Ok(n)) => c.buf.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => return Err(RegistryError::Unreachable(format!("read failed: {e}"))),
            Err(_) => return Err(RegistryError::Timeout(Duration::ZERO)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_knows_its_reply() {
        let r = Requests {
            institution: "x".into(),
            location: None,
        };
        assert_eq!(expected_reply(&Requests::sc_status()), *b"98");
        assert_eq!(expected_reply(&r.login("a", &Pin::new("b"))), *b"94");
        let now = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(expected_reply(&r.checkin("1", now)), *b"10");
        assert_eq!(expected_reply(&r.item_information("1", now)), *b"18");
        assert_eq!(
            expected_reply(&r.end_session(&redact::CardNumber::new("1"), now)),
            *b"36"
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_a_cap() {
        let mut b = Backoff::new();
        let first = b.wait();
        assert!(first >= Duration::from_millis(125) && first <= Duration::from_millis(250));
        for _ in 0..20 {
            assert!(b.wait() <= Backoff::MAX);
        }
        assert!(b.wait() >= Backoff::MAX / 2);
        b.reset();
        assert!(b.wait() <= Duration::from_millis(250));
    }
}
