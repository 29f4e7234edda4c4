//! SIP2 as strict peers expect it, over real sockets: the simulator answers every fault with a
//! 96 or a refusal (raw bytes in, exact reply out, each read bounded by a deadline), and our
//! registry client reads what deployed servers write (a checksum without zero padding, AY
//! without the delimiter before it) without asking for a resend.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use e2e::*;
use registry::sip2::mapping::Requests;
use registry::sip2::session::{Session, SessionSettings};
use sip2::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long any reply may take: far above a loopback round trip, far below a kiosk's patience.
const DEADLINE: Duration = Duration::from_secs(3);

/// A raw connection: bytes in, one reply (up to and including CR) out.
struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn connect(sim: &library_sim::server::Running) -> Self {
        Self {
            tcp: TcpStream::connect(sim.sip2_plain.unwrap()).await.unwrap(),
            buf: vec![],
        }
    }

    /// Sends `bytes` and returns the reply, failing the test if none comes by the deadline.
    async fn ask(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.tcp.write_all(bytes).await.unwrap();
        self.reply().await
    }

    async fn reply(&mut self) -> Vec<u8> {
        tokio::time::timeout(DEADLINE, async {
            loop {
                if let Some(i) = self.buf.iter().position(|&b| b == b'\r') {
                    let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                    // A CRLF dialect's LF belongs to this reply.
                    if self.buf.first() == Some(&b'\n') {
                        line.push(self.buf.remove(0));
                    }
                    return line;
                }
                let mut chunk = [0u8; 4096];
                let n = self.tcp.read(&mut chunk).await.unwrap();
                assert!(
                    n > 0,
                    "the simulator closed the connection instead of answering"
                );
                self.buf.extend_from_slice(&chunk[..n]);
            }
        })
        .await
        .expect("the simulator went silent")
    }

    async fn login(&mut self, dialect: &Dialect) {
        let bytes = kiosk_login().encode(dialect, Some(0)).unwrap();
        let reply = self.ask(&bytes).await;
        assert!(
            reply.starts_with(b"941"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
    }
}

/// `frame` with AY and a four-digit checksum appended, and CR.
fn checksummed(frame: &[u8], seq: u8) -> Vec<u8> {
    let mut out = frame.to_vec();
    out.extend_from_slice(format!("AY{seq}AZ").as_bytes());
    let sum = checksum(&out);
    out.extend_from_slice(format!("{sum:04X}\r").as_bytes());
    out
}

const RESEND: &[u8] = b"96AZFEF6\r";

async fn sim_with(dir: &std::path::Path, dialect: Dialect) -> library_sim::server::Running {
    let mut s = settings(dir);
    s.dialect = dialect;
    library_sim::server::start(s).await.unwrap()
}

#[tokio::test]
async fn a_resend_request_before_any_reply_is_answered_with_96() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut raw = Raw::connect(&sim).await;
    assert_eq!(raw.ask(b"97AZFEF5\r").await, RESEND);
    // Without a checksum too.
    assert_eq!(raw.ask(b"97\r").await, RESEND);
    sim.abort();
}

#[tokio::test]
async fn a_resend_request_after_a_reply_gets_that_reply_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut raw = Raw::connect(&sim).await;
    raw.login(&dialect()).await;
    let first = raw.ask(&checksummed(b"9900402.00", 1)).await;
    assert!(first.starts_with(b"98"));
    assert_eq!(raw.ask(b"97AZFEF5\r").await, first);
    sim.abort();
}

#[tokio::test]
async fn garbled_requests_are_answered_with_96_never_silence() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut raw = Raw::connect(&sim).await;
    raw.login(&dialect()).await;
    let cases: &[(&str, Vec<u8>)] = &[
        ("an unknown message type", b"XX\r".to_vec()),
        (
            "a message the simulator does not implement (15 Hold)",
            checksummed(b"15+20261124    210000AOheili|AA24680000000011|", 2),
        ),
        (
            "a truncated fixed part",
            b"2300120261124    2100\r".to_vec(),
        ),
        (
            "an impossible date",
            checksummed(b"1720261301    120000AOheili|ABHE0000001|", 4),
        ),
        (
            "a non-UTF-8 byte in utf-8 mode",
            checksummed(b"1720261124    120000AOheili|ABHE\xE4001|", 5),
        ),
        (
            "a damaged checksum",
            b"1720261124    120000AOheili|ABHE0000001|AY6AZ0000\r".to_vec(),
        ),
        (
            "a response sent to the library system",
            checksummed(b"941", 7),
        ),
    ];
    for (what, bytes) in cases {
        assert_eq!(
            raw.ask(bytes).await,
            RESEND,
            "{what}: {}",
            String::from_utf8_lossy(bytes)
        );
    }
    // The connection goes on: the next good request gets its answer.
    let reply = raw.ask(&checksummed(b"9900402.00", 8)).await;
    assert!(
        reply.starts_with(b"98"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    sim.abort();
}

#[tokio::test]
async fn a_96_from_a_device_is_not_answered_with_another() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(dir.path()).await;
    let mut raw = Raw::connect(&sim).await;
    raw.login(&dialect()).await;
    raw.tcp.write_all(RESEND).await.unwrap();
    // The next reply is the 98 to the status request, so the 96 got none.
    let reply = raw.ask(&checksummed(b"9900402.00", 1)).await;
    assert!(
        reply.starts_with(b"98"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    sim.abort();
}

/// Liisa owes 12,50 € and is over the limit: her checkout is refused with the amount in euros.
async fn fines_refusal_in(charset: Charset, bytes_of_text: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let dialect = Dialect {
        charset,
        ..Dialect::standard()
    };
    let sim = sim_with(dir.path(), dialect.clone()).await;
    let mut raw = Raw::connect(&sim).await;
    raw.login(&dialect).await;
    let request = Message::Checkout(checkout("24680000000045", Some("4321"), "HE0000001"));
    let reply = raw.ask(&request.encode(&dialect, Some(1)).unwrap()).await;
    assert!(
        reply.starts_with(b"120"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let af = reply
        .windows(bytes_of_text.len())
        .any(|w| w == bytes_of_text);
    assert!(af, "{charset}: {}", String::from_utf8_lossy(&reply));
    let Message::CheckoutResponse(r) = Message::decode(&reply, &dialect).unwrap().message else {
        panic!()
    };
    assert!(!r.ok);
    sim.abort();
}

#[tokio::test]
async fn a_fines_message_with_a_euro_sign_is_answered_in_cp850() {
    fines_refusal_in(Charset::Cp850, b"|AFMaksuja 12,50 EUR, yli rajan.|").await;
}

#[tokio::test]
async fn a_fines_message_with_a_euro_sign_is_answered_in_latin1() {
    fines_refusal_in(Charset::Latin1, b"|AFMaksuja 12,50 EUR, yli rajan.|").await;
}

#[tokio::test]
async fn a_fines_message_keeps_its_euro_sign_in_utf8() {
    fines_refusal_in(Charset::Utf8, "|AFMaksuja 12,50 €, yli rajan.|".as_bytes()).await;
}

/// A server as some deployed ones write: the checksum printed with `%X` (three digits when
/// below 0x1000) and no `|` between the last field and AY. It records every frame it receives.
async fn unpadded_server(listener: TcpListener, seen: tokio::sync::mpsc::UnboundedSender<Vec<u8>>) {
    let (mut tcp, _) = listener.accept().await.unwrap();
    let mut buf = Vec::new();
    let d = Dialect {
        charset: Charset::Utf8,
        error_detection: false,
        ..Dialect::standard()
    };
    loop {
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        while let Some(i) = buf.iter().position(|&b| b == b'\r') {
            let frame: Vec<u8> = buf.drain(..=i).collect();
            let _ = seen.send(frame.clone());
            let Ok(decoded) = Message::decode(&frame, &d) else {
                continue;
            };
            let seq = decoded.sequence.unwrap_or(0);
            let body: Vec<u8> = match decoded.message {
                Message::Login(_) => b"941".to_vec(),
                Message::ScStatus(_) => {
                    b"98YYYYNN01000320261124    2100002.00AOheili|BXYYYYYYYYYYYYYYYY|".to_vec()
                }
                Message::ItemInformation(_) => {
                    // Pad the title until the checksum needs only three digits.
                    let mut pad = 0;
                    loop {
                        let body = format!(
                            "1803000120261124    210000ABHE0000001|AJ{}|AF{}",
                            "Tuntematon sotilas",
                            "z".repeat(pad)
                        )
                        .into_bytes();
                        let mut probe = body.clone();
                        probe.extend_from_slice(format!("AY{seq}AZ").as_bytes());
                        if checksum(&probe) < 0x1000 {
                            break body;
                        }
                        pad += 1;
                    }
                }
                _ => continue,
            };
            let mut out = body;
            out.extend_from_slice(format!("AY{seq}AZ").as_bytes());
            let sum = checksum(&out);
            out.extend_from_slice(format!("{sum:X}\r").as_bytes());
            if tcp.write_all(&out).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test]
async fn our_client_reads_a_three_digit_checksum_and_ay_without_a_delimiter() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(unpadded_server(listener, tx));
    let session = Session::start(SessionSettings {
        address,
        server_name: "localhost".into(),
        tls: None,
        dialect: Dialect {
            charset: Charset::Utf8,
            ..Dialect::standard()
        },
        login: "kiosk-lpr-1".into(),
        password: redact::Pin::new("kiosk-secret-1"),
        requests: Requests {
            institution: INST.into(),
            location: Some("LPR".into()),
        },
        heartbeat: None,
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    });
    let requests = Requests {
        institution: INST.into(),
        location: Some("LPR".into()),
    };
    let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(21, 0, 0)
        .unwrap();
    let started = tokio::time::Instant::now();
    let reply = session
        .call(requests.item_information("HE0000001", now))
        .await
        .unwrap();
    // Read at once, not after a resend or a timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let Message::ItemInformationResponse(item) = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(item.title_identifier, "Tuntematon sotilas");
    assert!(
        item.screen_messages[0].starts_with('z'),
        "AY not read into AF"
    );
    drop(session);
    let mut frames = vec![];
    while let Ok(f) = seen.try_recv() {
        frames.push(f);
    }
    assert!(
        frames.iter().all(|f| !f.starts_with(b"97")),
        "no resend asked: {:?}",
        frames
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect::<Vec<_>>()
    );
    assert_eq!(frames.len(), 3, "login, status, item information");
    server.abort();
}
