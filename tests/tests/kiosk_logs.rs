//! No card number, PIN or name reaches the kiosk's logs, at any level: a wrong PIN, a login, a
//! loan, an offline loan into the queue, a stranger's card, and the queue's records printed for
//! debugging.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::time::Duration;

use drivers::feig_twin::AirTime;
use e2e::{LogCapture, leaks};
use kiosk::Input;
use rig::kiosk as sim;
use ui::{Action, Outcome, RowState, Screen};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_logs_at_trace_level_hold_no_personal_data() {
    let captured = LogCapture::install();
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = sim::rig(tmp.path(), &fixtures, e2e::daemons_now(), "")
        .await
        .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let mut k = sim::start_kiosk(settings, AirTime::default(), kiosk::system_clock()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let wait = Duration::from_secs(10);

    for (card, pin) in [
        ("24680000000011", "9876"),
        ("99999999999999", "4444"),
        ("24680000000011", "1234"),
    ] {
        k.wait_for(wait, |v| v.screen == Screen::Welcome)
            .await
            .unwrap();
        k.send(Input::Scan(card.into())).await;
        k.wait_for(wait, |v| v.screen == Screen::Pin).await.unwrap();
        k.type_digits(pin).await;
        let v = k
            .wait_for(wait, |v| v.screen != Screen::Pin && !v.busy)
            .await
            .unwrap();
        if v.screen == Screen::Message {
            k.tap(Action::Dismiss).await;
            k.wait_for(wait, |v| v.screen != Screen::Message)
                .await
                .unwrap();
            k.tap(Action::Cancel).await;
            k.wait_for(wait, |v| v.screen == Screen::Welcome)
                .await
                .unwrap();
        }
    }
    k.wait_for(wait, |v| v.screen == Screen::Items)
        .await
        .unwrap();
    k.pad.place(sim::tag("HE0000001", 1, 1));
    k.wait_for(wait, |v| v.items.iter().any(|r| r.outcome == Outcome::Lent))
        .await
        .unwrap();
    rig.running.stop();
    k.pad.place(sim::tag("HE0000003", 1, 1));
    k.wait_for(wait, |v| {
        v.items
            .iter()
            .any(|r| r.outcome == Outcome::LentOffline && r.state == RowState::Notice)
    })
    .await
    .unwrap();
    let queue_dir = rig.dir.join("state/queue");
    k.shut_down().await.unwrap();
    let q = kiosk::queue::Queue::open(&queue_dir).unwrap();
    tracing::debug!("queue: {:?}", q.list());

    let logs = captured.text();
    assert!(
        logs.contains("patron logged in") && logs.contains("lent offline"),
        "{logs}"
    );
    assert!(
        logs.contains("CardNumber(<redacted>)") || logs.contains("Checkout("),
        "{logs}"
    );
    for secret in [
        "24680000000011",
        "99999999999999",
        "1234",
        "9876",
        "4444",
        "Virtanen",
        "Aino",
    ] {
        assert!(!leaks(&logs, secret), "{secret:?} is in the logs:\n{logs}");
    }
}
