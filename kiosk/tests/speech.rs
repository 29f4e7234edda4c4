//! Spoken guidance, heard: each screen's words (from the real slint screens, in the screen's
//! language) spoken by espeak-ng into WAV files under `target/speech/`, each judged as sound:
//! a RIFF WAVE whose length fits the words and which is speech, not silence.
//!
//! slint has one platform per process: this test binary has this one test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use kiosk::speech::{self, Wav};
use ui::headless::Headless;
use ui::{Help, Message, Mode, Outcome, Row, RowState, Screen, View, bind};

fn out() -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/speech"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn view(language: &str) -> View {
    View {
        language: language.into(),
        library: "Heilin kirjasto".into(),
        help: Help {
            text: String::new(),
            phone: "040 123 4567".into(),
            payment_link: "heili.fi/maksa".into(),
        },
        speech: true,
        ..View::default()
    }
}

#[test]
fn spoken_guidance_says_each_screen_in_its_language_as_speech_of_the_right_length() {
    if std::env::var_os("OMATOIMI_SKIP_SPEECH").is_some() {
        println!("SKIPPED: OMATOIMI_SKIP_SPEECH is set");
        return;
    }
    assert!(
        std::process::Command::new(speech::ESPEAK)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "espeak-ng is not installed (scripts/test installs Debian's espeak-ng; \
         OMATOIMI_SKIP_SPEECH=1 skips this test)"
    );
    let _screen = Headless::install(1280, 800).unwrap();
    let window = bind::window(&view("fi"), |_| {}).unwrap();
    let dir = out();
    // (screen name, the view, words the speech must contain in fi / sv / en)
    let cases = |l: &str| -> Vec<(&'static str, View, [&'static str; 3])> {
        vec![
            (
                "welcome",
                view(l),
                [
                    "Tervetuloa kirjastoon",
                    "Välkommen till biblioteket",
                    "Welcome to the library",
                ],
            ),
            (
                "pin",
                View {
                    screen: Screen::Pin,
                    ..view(l)
                },
                ["tunnuslukusi", "PIN-kod", "Type your PIN"],
            ),
            (
                "items",
                View {
                    screen: Screen::Items,
                    mode: Mode::Borrow,
                    items: vec![Row {
                        title: "Tuntematon sotilas".into(),
                        item: "HE0000001".into(),
                        state: RowState::Ok,
                        outcome: Outcome::Lent,
                        due: "22.12.2026".into(),
                        note: String::new(),
                    }],
                    ..view(l)
                },
                [
                    "Eräpäivä 22.12.2026",
                    "Förfallodag 22.12.2026",
                    "Due 22.12.2026",
                ],
            ),
            (
                "fines",
                View {
                    screen: Screen::Message,
                    message: Some(Message::FinesOwed),
                    message_note: if l == "en" { "€12.50" } else { "12,50 €" }.into(),
                    ..view(l)
                },
                ["12,50 €", "12,50 €", "€12.50"],
            ),
        ]
    };
    let mut heard = vec![];
    for (i, language) in ["fi", "sv", "en"].into_iter().enumerate() {
        for (name, v, words) in cases(language) {
            bind::apply(&window, &v);
            let text = bind::spoken(&window);
            assert!(
                text.contains(words[i]),
                "{name} in {language} says {text:?}, not {:?}",
                words[i]
            );
            let path = dir.join(format!("{name}-{language}.wav"));
            speech::to_wav(&text, language, &path).unwrap();
            let wav = Wav::parse(&std::fs::read(&path).unwrap()).unwrap();
            // At 150 words a minute a letter takes some 50 to 100 ms; a digit is read out as
            // a word ("kaksikymmentäkaksi"), so it counts as six letters.
            let chars = text
                .chars()
                .map(|c| if c.is_ascii_digit() { 6.0 } else { 1.0 })
                .sum::<f64>();
            let secs = wav.seconds();
            assert!(
                secs > chars * 0.03 && secs < chars * 0.2,
                "{name}-{language}: {secs:.2} s for {chars} letters' worth: {text:?}"
            );
            let voiced = wav.voiced_share();
            assert!(voiced > 0.4, "{name}-{language}: only {voiced:.2} voiced");
            heard.push(format!(
                "{}: {secs:.1} s, {:.0} % voiced: {text}",
                path.display(),
                voiced * 100.0
            ));
        }
    }
    println!("spoken guidance, as WAV files:");
    for h in heard {
        println!("  {h}");
    }
}
