//! An outside judge: every request our registry client sends, against a third-party SIP2 server
//! that validates fixed fields (PyPI `pysip2` 0.1.0: dates as `YYYYMMDDZZZZHHMMSS`, four-digit
//! checksums) and closes the connection on anything it cannot decode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::*;
use registry::sip2::mapping::Requests;
use registry::sip2::session::{Session, SessionSettings};
use sip2::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn python() -> PathBuf {
    let venv = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/interop-venv/bin/python"
    ));
    assert!(
        venv.exists(),
        "{} is missing: run scripts/test, which installs the third-party SIP2 packages",
        venv.display()
    );
    venv
}

/// Starts the pysip2 server; returns it (killed on drop) and its port.
fn pysip2_server() -> (Kill, u16) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/pysip2_server.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = Kill(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!("pysip2 did not start (is it installed? scripts/test): {line:?}")
        });
    (child, port)
}

fn requests() -> Requests {
    Requests {
        institution: INST.into(),
        location: Some("LPR".into()),
    }
}

#[tokio::test]
async fn a_strict_third_party_server_reads_every_request_our_client_sends() {
    let (_server, port) = pysip2_server();
    let session = Session::start(SessionSettings {
        address: format!("127.0.0.1:{port}"),
        server_name: "localhost".into(),
        tls: None,
        dialect: Dialect {
            charset: Charset::Utf8,
            ..Dialect::standard()
        },
        login: "kiosk-lpr-1".into(),
        password: redact::Pin::new("kiosk-secret-1"),
        requests: requests(),
        heartbeat: None,
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(5),
    });
    let r = requests();
    let login = registry::model::PatronLogin {
        card: redact::CardNumber::new(AINO),
        pin: redact::Pin::new(AINO_PIN),
    };
    // No daemon here: the requests' dates are pinned to a hard one (a leap day's last second).
    let now = chrono::NaiveDate::from_ymd_opt(2028, 2, 29)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .unwrap();
    let cases = vec![
        (r.patron_information(&login, None, now), *b"64"),
        (r.checkout(&login, "HE0000001", now), *b"12"),
        (
            r.checkout_deferred(&login.card, "HE0000001", now, None),
            *b"12",
        ),
        (
            r.checkout_deferred(&login.card, "HE0000001", now, Some(now)),
            *b"12",
        ),
        (r.renew(&login, "HE0000001", now), *b"30"),
        (r.renew_all(&login, now), *b"66"),
        (r.checkin("HE0000001", now), *b"10"),
        (r.checkin_deferred("HE0000001", now), *b"10"),
        (r.item_information("HE0000001", now), *b"18"),
        (r.end_session(&login.card, now), *b"36"),
    ];
    for (request, want) in cases {
        let name = request.name();
        let reply = session
            .call(request)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(reply.id(), want, "{name}: {reply:?}");
    }
}

/// The judge can fail: the checkout we used to send (18 blanks as nb due date) makes it close
/// the connection, which is how the defect showed against servers in libraries.
#[tokio::test]
async fn the_judge_closes_the_connection_on_a_blank_due_date() {
    let (_server, port) = pysip2_server();
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let blank =
        "11NN20261124    210000                  AOheili|AA24680000000011|ABHE0000001|AC|AY1AZ";
    let frame = format!("{blank}{:04X}\r", checksum(blank.as_bytes()));
    tcp.write_all(frame.as_bytes()).await.unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("pysip2 neither answered nor closed")
        .unwrap_or(0);
    assert_eq!(n, 0, "{}", String::from_utf8_lossy(&buf[..n]));

    // The same checkout with the transaction date there is answered.
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let dated = blank.replace(
        "20261124    210000                  ",
        "20261124    21000020261124    210000",
    );
    let frame = format!("{dated}{:04X}\r", checksum(dated.as_bytes()));
    tcp.write_all(frame.as_bytes()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..n].starts_with(b"120"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}
