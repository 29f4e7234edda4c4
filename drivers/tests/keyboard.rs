//! The keyboard-wedge scanner reading recorded `input_event` streams. This machine's kernel has
//! no uinput (no `/dev/uinput`, no module to load), so no virtual keyboard can be made here: the
//! events a scanner's key presses make are written, byte for byte as the kernel would, into a
//! FIFO the reader opens as it opens a device. The grab itself is tried against a character
//! device that is not an input device, and refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use drivers::card::{CardEvent, CardReader};
use drivers::keyboard::{KeyboardScanner, KeyboardSettings};
use drivers::keymap::{Layout, Terminator, events_for};
use drivers::keypad::encode_key_event;
use drivers::scan::{RawScanRule, ScanRule};

fn fifo(dir: &Path) -> PathBuf {
    let path = dir.join("scanner-event-kbd");
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    path
}

/// Writes the key events of `scans` (each typed as a scanner set to `layout` types it), in
/// one go, as a scanner's burst of keystrokes arrives; the writer stays open.
fn type_scans(path: PathBuf, layout: Layout, scans: Vec<String>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut w = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        for scan in scans {
            let mut bytes = vec![];
            for (code, value) in events_for(layout, &scan, Terminator::Enter).unwrap() {
                bytes.extend(encode_key_event(code, value));
            }
            w.write_all(&bytes).unwrap();
        }
        // Held open a while: the reader sees a quiet device, not a closed one.
        std::thread::sleep(Duration::from_millis(500));
    })
}

async fn next_card(r: &mut KeyboardScanner) -> Result<String, String> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), r.next()).await {
            Ok(Some(CardEvent::Card { number, .. })) => return Ok(number.expose().to_owned()),
            Ok(Some(CardEvent::Unreadable { why, .. })) => return Err(why),
            Ok(Some(CardEvent::ReaderFound { .. })) => continue,
            other => panic!("{other:?}"),
        }
    }
}

fn phone_rule() -> ScanRule {
    let raw: RawScanRule = toml::from_str(
        "query = \"number\"\nstrip_prefix = [\"LIBRARYCARD:\"]\ncharacters = \"digits\"",
    )
    .unwrap();
    raw.validate().unwrap()
}

#[tokio::test]
async fn a_door_reads_phone_cards_from_a_finnish_keyboard_scanner() {
    let tmp = tempfile::tempdir().unwrap();
    let path = fifo(tmp.path());
    let settings = KeyboardSettings {
        layout: Layout::Fi,
        ..KeyboardSettings::new(path.to_str().unwrap())
    };
    let mut reader = KeyboardScanner::open(settings, phone_rule());
    let writer = type_scans(
        path,
        Layout::Fi,
        vec![
            "]Q1https://kirjasto.example.fi/card?lang=fi&number=24680000000011".into(),
            "LIBRARYCARD:24680000000029".into(),
            "24680000000037".into(),
            "HE-0000008".into(),
        ],
    );
    assert_eq!(next_card(&mut reader).await.unwrap(), "24680000000011");
    assert_eq!(next_card(&mut reader).await.unwrap(), "24680000000029");
    assert_eq!(next_card(&mut reader).await.unwrap(), "24680000000037");
    // An item's barcode at the door is no card, and the refusal does not quote it.
    let why = next_card(&mut reader).await.unwrap_err();
    assert!(
        why.contains("digits expected") && !why.contains("0000008"),
        "{why}"
    );
    writer.join().unwrap();
}

#[tokio::test]
async fn a_kiosk_reads_cards_and_items_as_typed_and_a_scan_without_enter_after_a_silence() {
    let tmp = tempfile::tempdir().unwrap();
    let path = fifo(tmp.path());
    let mut reader = KeyboardScanner::open(
        KeyboardSettings {
            idle: Duration::from_millis(100),
            ..KeyboardSettings::new(path.to_str().unwrap())
        },
        ScanRule::text(),
    );
    let link = "https://kirjasto.example.fi/card?number=24680000000011";
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            let mut bytes = vec![];
            for scan in [format!("]C0{link}"), "HE0000008".to_owned()] {
                for (code, value) in events_for(Layout::Us, &scan, Terminator::Enter).unwrap() {
                    bytes.extend(encode_key_event(code, value));
                }
            }
            // A scanner set to send no terminator: "HE0000009", then quiet.
            for (code, value) in events_for(Layout::Us, "HE0000009", Terminator::Enter)
                .unwrap()
                .into_iter()
                .filter(|(code, _)| *code != 28)
            {
                bytes.extend(encode_key_event(code, value));
            }
            // Split mid-event: the reader keeps the half it has until the rest comes.
            let (a, b) = bytes.split_at(bytes.len() / 2 + 5);
            w.write_all(a).unwrap();
            w.flush().unwrap();
            std::thread::sleep(Duration::from_millis(20));
            w.write_all(b).unwrap();
            std::thread::sleep(Duration::from_millis(800));
        })
    };
    assert_eq!(next_card(&mut reader).await.unwrap(), link);
    assert_eq!(next_card(&mut reader).await.unwrap(), "HE0000008");
    assert_eq!(next_card(&mut reader).await.unwrap(), "HE0000009");
    writer.join().unwrap();
}

#[tokio::test]
async fn a_character_device_that_cannot_be_grabbed_is_refused() {
    // /dev/null is a character device but no input device: no grab, so no reading it.
    let mut reader = KeyboardScanner::open(KeyboardSettings::new("/dev/null"), ScanRule::default());
    match tokio::time::timeout(Duration::from_secs(5), reader.next()).await {
        Ok(Some(CardEvent::ReaderLost { why, .. })) => {
            assert!(why.contains("not an input device"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}
