//! The patron reads at the door what happens and why: the real door-agent drives a 16×2
//! character LCD through the real HD44780/PCF8574 driver over embedded-hal's I2C, and the
//! twin reads the bytes back as the controller would. A refused patron reads the reason in the
//! door's language, then the resting text comes back.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use access::door::Feedback;
use access::policy::Reason;

async fn shows(door: &rig::door::SimDoor, want: &[&str]) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if door.display.lines() == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_patron_reads_why_on_the_doors_display() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = rig::door::rig(
        tmp.path(),
        &fixtures,
        "",
        rig::door::nine_pm_on(e2e::daemons_now()),
        72,
    )
    .await
    .unwrap();
    let settings = door_agent::settings::load(&rig.config).unwrap();
    assert_eq!(settings.language, "en");
    let mut door = rig::door::start_door(settings, rig.clock.clock()).unwrap();
    assert!(
        shows(&door, &["Show your card", "to the reader."]).await,
        "{:?}",
        door.display.lines()
    );

    // A lending ban: refused, and why. The library system takes 400 ms to answer, so that the
    // door's "Checking…" is on the display long enough to be seen whatever else the machine does.
    latency(&rig.running, 400).await;
    let f = door.try_card("24680000000037", "1111#").await;
    latency(&rig.running, 0).await;
    assert!(
        matches!(
            f,
            Some(Feedback::Denied {
                reason: Reason::LendingBan,
                ..
            })
        ),
        "{f:?}"
    );
    // In the patron's own language (Finnish, as the library system says) at this English
    // door, and longer than 16 × 2: a screenful at a time.
    for screen in [
        ["Lainauskielto", "estää"],
        ["omatoimikäytön.", "Ota yhteys"],
        ["kirjastoon.", ""],
    ] {
        assert!(
            shows(&door, &screen).await,
            "{screen:?}: {:?}",
            door.display.lines()
        );
    }
    // On the way the door said it was checking (what a quick typist passes by, the display
    // skips: it shows the newest).
    let seen: Vec<String> = door
        .display
        .history()
        .into_iter()
        .map(|l| l.join(" ").trim().to_owned())
        .collect();
    assert!(seen.iter().any(|l| l == "Checking…"), "{seen:#?}");

    // A card nobody has: no patron, so the door's own language.
    let f = door.try_card("11112222333344", "0000#").await;
    assert!(
        matches!(
            f,
            Some(Feedback::Denied {
                reason: Reason::UnknownCard,
                ..
            })
        ),
        "{f:?}"
    );
    assert!(
        shows(&door, &["Card not", "recognised."]).await,
        "{:?}",
        door.display.lines()
    );

    // Welcomes, each in the patron's language: Swedish, then English.
    let f = door.try_card("24680000000029", "2468#").await;
    assert!(matches!(f, Some(Feedback::Welcome { .. })), "{f:?}");
    assert!(
        shows(&door, &["Välkommen!", "Dörren är öppen."]).await,
        "{:?}",
        door.display.lines()
    );
    let f = door.try_card("24680000000110", "0000#").await;
    assert!(matches!(f, Some(Feedback::Welcome { .. })), "{f:?}");
    assert!(
        shows(&door, &["Welcome! The", "door is open."]).await,
        "{:?}",
        door.display.lines()
    );
    assert_eq!(door.display.faults(), 0);
    println!("the display showed, in order:");
    for screen in door.display.history() {
        println!(
            "  │{:<16}│ │{:<16}│",
            screen[0],
            screen.get(1).map_or("", |s| s.as_str())
        );
    }
    door.shut_down().await.unwrap();
    rig.running.stop();
}

/// The demo's door with its OSDP reader twin, paired at start as provisioning pairs one: a card
/// and a PIN through the secure channel open the door, and the reader's LED, buzzer and display
/// show the door's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patron_at_the_doors_osdp_reader_is_let_in_and_the_reader_shows_it() {
    use osdp_cp::osdp::command::LedColor;
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = rig::door::rig(
        tmp.path(),
        &fixtures,
        "",
        rig::door::nine_pm_on(e2e::daemons_now()),
        72,
    )
    .await
    .unwrap();
    let reader = rig::door::add_osdp_reader(&rig).await.unwrap();
    assert_eq!(reader.identity, rig::door::OSDP_READER);
    assert!(reader.refused.starts_with("refused"), "{}", reader.refused);
    assert_eq!(
        drivers::osdp::key::read_key(&reader.key_file).ok(),
        reader.twin.key()
    );
    let settings = door_agent::settings::load(&rig.config).unwrap();
    let mut door = rig::door::start_door(settings, rig.clock.clock()).unwrap();
    let twin = &reader.twin;
    let resting = twin
        .until(Duration::from_secs(5), |s| {
            s.secure && s.lines == ["Show your card", "to the reader."]
        })
        .await;
    assert!(resting.is_some(), "{:?}", twin.shown());

    // 24680000000011 as 48 bits of card data.
    twin.present_bytes(&[0x16, 0x72, 0x42, 0xa2, 0x10, 0x0b]);
    let asked = twin
        .until(Duration::from_secs(5), |s| s.led == Some(LedColor::Amber))
        .await;
    assert!(asked.is_some(), "{:?}", twin.shown());
    twin.type_keys("1234#");
    let f = door.outcome(Duration::from_secs(10)).await;
    assert!(matches!(f, Some(Feedback::Welcome { .. })), "{f:?}");
    assert!(door.released_soon().await, "the relay was not released");
    let shown = twin
        .until(Duration::from_secs(5), |s| {
            s.led == Some(LedColor::Green)
                && s.lines.first().is_some_and(|l| l.starts_with("Terve"))
        })
        .await;
    assert!(shown.is_some(), "{:?}", twin.shown());
    door.shut_down().await.unwrap();
}

/// The demo's door with a 2D scanner on a pseudo-terminal: a phone library card's QR link (the
/// card number in its `number` parameter, after the scanner's AIM identifier) and the PIN open
/// the door; a QR code that is no card is refused as unreadable, and no scan is quoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_cards_qr_code_opens_the_door() {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = rig::door::rig(
        tmp.path(),
        &fixtures,
        "",
        rig::door::nine_pm_on(e2e::daemons_now()),
        72,
    )
    .await
    .unwrap();
    let mut phone = rig::door::add_phone_scanner(&rig).unwrap();
    let settings = door_agent::settings::load(&rig.config).unwrap();
    let mut door = rig::door::start_door(settings, rig.clock.clock()).unwrap();
    phone
        .scan("https://heili.finna.fi/MyResearch/LibraryCard?number=24680000000011")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, door.feedback.recv()).await {
            Ok(Some(Feedback::EnterPin)) => break,
            Ok(Some(Feedback::Denied { reason, .. })) => panic!("refused: {reason:?}"),
            Ok(Some(_)) => continue,
            other => panic!("the phone card was not read: {other:?}"),
        }
    }
    door.keys.type_text("1234#").await;
    let f = door.outcome(Duration::from_secs(10)).await;
    assert!(matches!(f, Some(Feedback::Welcome { .. })), "{f:?}");
    assert!(door.released_soon().await, "the relay was not released");

    phone
        .scan("https://kahvila.example/menu?table=7")
        .await
        .unwrap();
    match door.outcome(Duration::from_secs(10)).await {
        Some(Feedback::Denied { reason, .. }) => {
            assert_eq!(reason, Reason::UnreadableCard)
        }
        other => panic!("{other:?}"),
    }
    door.shut_down().await.unwrap();
}

/// Sets the library system's delay before each answer, through the simulator's control port.
async fn latency(sim: &library_sim::server::Running, ms: u64) {
    e2e::control(sim, &format!("latency {ms}")).await;
}
