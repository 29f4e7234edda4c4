//! The PC/SC reader driver on the real stack: pcscd (started here, in the foreground) with
//! vsmartcard's vpcd reader, and our virtual card presented and removed on cue. Needs root (pcscd
//! makes its socket under /run) and the Debian packages `pcscd vsmartcard-vpcd`, which
//! `scripts/test` installs; prints SKIPPED otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use drivers::card::{CardEvent, CardReader, UidFormat};
use drivers::pcsc::{PcscReader, PcscSettings};
use drivers::vpcd::{self, Behaviour};

struct Pcscd(Child);
impl Drop for Pcscd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_pcscd() -> Option<Pcscd> {
    let bin = ["/usr/sbin/pcscd", "/usr/bin/pcscd"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    // Only one pcscd: an old one (ours from an earlier run, or the system's) is stopped.
    let _ = Command::new("pkill").args(["-x", "pcscd"]).status();
    std::thread::sleep(Duration::from_millis(300));
    let child = Command::new(bin)
        .arg("-f")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Pcscd(child))
}

async fn next(reader: &mut PcscReader, what: &str) -> CardEvent {
    tokio::time::timeout(Duration::from_secs(15), reader.next())
        .await
        .unwrap_or_else(|_| panic!("no event while waiting for {what}"))
        .expect("reader stopped")
}

async fn until(
    reader: &mut PcscReader,
    what: &str,
    want: impl Fn(&CardEvent) -> bool,
) -> CardEvent {
    loop {
        let ev = next(reader, what).await;
        if want(&ev) {
            return ev;
        }
    }
}

async fn present(uid: Behaviour) -> vpcd::Presented {
    let addr = SocketAddr::from(([127, 0, 0, 1], vpcd::DEFAULT_PORT));
    for _ in 0..100 {
        if let Ok(p) = vpcd::present(addr, uid.clone()).await {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("vpcd does not listen on {addr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_on_the_real_pcsc_stack_survives_the_service_restarting() {
    if !std::path::Path::new("/usr/lib/pcsc/drivers/serial/libifdvpcd.so").exists() {
        println!("SKIPPED: vsmartcard-vpcd is not installed");
        return;
    }
    if !is_root() {
        println!("SKIPPED: pcscd needs root to make its socket");
        return;
    }
    let Some(daemon) = start_pcscd() else {
        println!("SKIPPED: pcscd is not installed");
        return;
    };
    let mut reader = PcscReader::start(PcscSettings {
        uid: UidFormat::Hex,
        retry: Duration::from_millis(300),
        ..PcscSettings::default()
    });
    until(&mut reader, "the reader", |e| {
        matches!(e, CardEvent::ReaderFound { .. })
    })
    .await;

    // Aino's card: its UID is her card number in hex digits.
    let card = present(Behaviour::Uid(vec![
        0x24, 0x68, 0x00, 0x00, 0x00, 0x00, 0x11,
    ]))
    .await;
    match until(&mut reader, "a card", |e| {
        !matches!(e, CardEvent::ReaderFound { .. })
    })
    .await
    {
        CardEvent::Card { number, .. } => assert_eq!(number.expose(), "24680000000011"),
        other => panic!("{other:?}"),
    }
    card.remove();
    assert!(matches!(
        next(&mut reader, "removal").await,
        CardEvent::Removed { .. }
    ));

    // A card that cannot tell its UID is unreadable, not a crash.
    let card = present(Behaviour::NoUid).await;
    match next(&mut reader, "an unreadable card").await {
        CardEvent::Unreadable { why, .. } => assert!(why.contains("6A 81"), "{why}"),
        other => panic!("{other:?}"),
    }
    card.remove();
    assert!(matches!(
        next(&mut reader, "removal").await,
        CardEvent::Removed { .. }
    ));

    // The service goes away (the reader is "unplugged") and comes back: no restart needed.
    drop(daemon);
    until(&mut reader, "the reader lost", |e| {
        matches!(e, CardEvent::ReaderLost { .. })
    })
    .await;
    let _daemon = start_pcscd().unwrap();
    until(&mut reader, "the reader back", |e| {
        matches!(e, CardEvent::ReaderFound { .. })
    })
    .await;
    let card = present(Behaviour::Uid(vec![0x04, 0xA2, 0x3B, 0x1C])).await;
    match until(&mut reader, "a card after the restart", |e| {
        matches!(e, CardEvent::Card { .. } | CardEvent::Unreadable { .. })
    })
    .await
    {
        CardEvent::Card { number, .. } => assert_eq!(number.expose(), "04A23B1C"),
        other => panic!("{other:?}"),
    }
    card.remove();
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
