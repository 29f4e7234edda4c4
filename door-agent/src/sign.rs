//! What a patron reads on the door's display: the door's feedback in words (a welcome or a
//! refusal in the patron's own language when the library system says it, the rest in the
//! door's), wrapped to the display's lines, back to a resting text (what to do, or that the
//! library is closed) a few seconds after. The display is written from a thread of its own: a
//! slow or broken display never holds the door up, and its failures are logged once.

use std::time::Duration;

use access::door::Feedback;
use access::hours::LibraryState;
use access::policy::pick;
use access::watch::Alarm;
use drivers::display::TextDisplay;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How long a message stays before the resting text comes back (a longer one, twice round
/// its screens).
pub const SHOWN_FOR: Duration = Duration::from_secs(8);

/// How long each screenful of a message longer than the display stays.
pub const PAGE: Duration = Duration::from_secs(3);

/// The resting text for the library's state.
pub fn resting(state: LibraryState, lang: &str) -> String {
    pick(
        lang,
        match state {
            LibraryState::SelfService => [
                "Näytä kortti lukijalle.",
                "Visa kortet för läsaren.",
                "Show your card to the reader.",
            ],
            LibraryState::Staffed => [
                "Tervetuloa! Kirjasto auki.",
                "Välkommen in!",
                "Welcome! The library is open.",
            ],
            LibraryState::Closed => [
                "Kirjasto on suljettu.",
                "Biblioteket är stängt.",
                "The library is closed.",
            ],
        },
    )
    .to_owned()
}

/// The words for `f`, or `None` for what changes nothing a patron reads.
pub fn words(f: &Feedback, lang: &str) -> Option<String> {
    Some(match f {
        Feedback::EnterPin => pick(
            lang,
            [
                "Näppäile PIN-koodi ja #",
                "Slå PIN-koden och #",
                "Enter your PIN and #",
            ],
        )
        .to_owned(),
        Feedback::Digits(n) => format!("PIN: {}", "*".repeat(*n)),
        Feedback::Checking => {
            pick(lang, ["Tarkistetaan…", "Kontrollerar…", "Checking…"]).to_owned()
        }
        Feedback::Welcome { language, .. } => pick(
            language,
            [
                "Tervetuloa! Ovi on auki.",
                "Välkommen! Dörren är öppen.",
                "Welcome! The door is open.",
            ],
        )
        .to_owned(),
        Feedback::Denied { message, .. } => message.clone(),
        Feedback::Alarm(Alarm::HeldOpen) => pick(
            lang,
            [
                "Sulje ovi, kiitos.",
                "Stäng dörren, tack.",
                "Please close the door.",
            ],
        )
        .to_owned(),
        Feedback::Alarm(Alarm::ForcedOpen)
        | Feedback::AlarmCleared(_)
        | Feedback::State(_)
        | Feedback::Announcement(_) => return None,
    })
}

/// Starts showing the door's feedback on `display`; the feedback goes to the returned sender.
pub fn spawn(
    mut display: Box<dyn TextDisplay>,
    lang: String,
    mut state: LibraryState,
) -> mpsc::Sender<Feedback> {
    let (tx, mut rx) = mpsc::channel::<Feedback>(16);
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<Vec<String>>();
    let (cols, rows) = display.size();
    // The display's own thread: I2C is blocking.
    let _ = std::thread::Builder::new()
        .name("door display".into())
        .spawn(move || {
            let mut failing = false;
            while let Ok(mut lines) = lines_rx.recv() {
                // Only the newest of what waits.
                while let Ok(newer) = lines_rx.try_recv() {
                    lines = newer;
                }
                match display.show(&lines) {
                    Ok(()) if failing => {
                        tracing::info!("the door's display answers again");
                        failing = false;
                    }
                    Ok(()) => {}
                    Err(e) if !failing => {
                        tracing::error!("{e}; the patron reads nothing until it answers");
                        failing = true;
                    }
                    Err(_) => {}
                }
            }
        });
    // A message longer than the display is shown a screenful at a time, in turn.
    let pages = move |text: &str| -> Vec<Vec<String>> {
        let lines = display::wrap(text, cols, usize::MAX);
        if lines.is_empty() {
            return vec![vec![]];
        }
        lines.chunks(rows.max(1)).map(<[String]>::to_vec).collect()
    };
    tokio::spawn(async move {
        let show = |lines: &[String]| {
            let _ = lines_tx.send(lines.to_vec());
        };
        let mut screens = pages(&resting(state, &lang));
        show(&screens[0]);
        let (mut page, mut flip, mut rest): (usize, Option<Instant>, Option<Instant>) =
            (0, None, None);
        loop {
            let flip_at = flip;
            let rest_at = rest;
            tokio::select! {
                f = rx.recv() => {
                    let Some(f) = f else { break };
                    if let Feedback::State(s) = &f {
                        state = *s;
                        if rest.is_none() {
                            screens = pages(&resting(state, &lang));
                            page = 0;
                            show(&screens[0]);
                            flip = (screens.len() > 1).then(|| Instant::now() + PAGE);
                        }
                    }
                    if let Some(text) = words(&f, &lang) {
                        screens = pages(&text);
                        page = 0;
                        show(&screens[0]);
                        let now = Instant::now();
                        flip = (screens.len() > 1).then(|| now + PAGE);
                        rest = Some(now + SHOWN_FOR.max(PAGE * screens.len() as u32 * 2));
                    }
                }
                () = sleep_until(flip_at) => {
                    page = (page + 1) % screens.len();
                    show(&screens[page]);
                    flip = Some(Instant::now() + PAGE);
                }
                () = sleep_until(rest_at) => {
                    rest = None;
                    screens = pages(&resting(state, &lang));
                    page = 0;
                    show(&screens[0]);
                    flip = (screens.len() > 1).then(|| Instant::now() + PAGE);
                }
            }
        }
    });
    tx
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use access::policy::Reason;
    use display::hd44780::Lcd;
    use drivers::display::{Hd44780, LcdTwin, NoDelay};

    #[tokio::test(start_paused = true)]
    async fn a_refused_patron_reads_why_and_the_resting_text_comes_back() {
        let lcd = Lcd { cols: 16, rows: 2 };
        let twin = LcdTwin::new(0x27, lcd);
        let d = Hd44780::start(twin.clone(), NoDelay, 0x27, lcd).unwrap();
        let tx = spawn(Box::new(d), "fi".into(), LibraryState::SelfService);
        let settle = || async {
            for _ in 0..50 {
                tokio::task::yield_now().await;
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        settle().await;
        assert_eq!(twin.lines(), vec!["Näytä kortti", "lukijalle."]);
        tx.send(Feedback::Denied {
            reason: Reason::WrongPin,
            message: Reason::WrongPin.message("fi").into(),
            language: "fi".into(),
        })
        .await
        .unwrap();
        settle().await;
        assert_eq!(twin.lines(), vec!["Väärä PIN-koodi.", ""]);
        tokio::time::advance(SHOWN_FOR + Duration::from_millis(10)).await;
        settle().await;
        assert_eq!(twin.lines(), vec!["Näytä kortti", "lukijalle."]);
        tx.send(Feedback::State(LibraryState::Closed))
            .await
            .unwrap();
        settle().await;
        assert_eq!(twin.lines(), vec!["Kirjasto on", "suljettu."]);
        // Longer than the display: a screenful at a time, in turn, then the resting text.
        tx.send(Feedback::Denied {
            reason: Reason::Revoked,
            message: Reason::Revoked.message("fi").into(),
            language: "fi".into(),
        })
        .await
        .unwrap();
        settle().await;
        assert_eq!(twin.lines(), vec!["Omatoimioikeutes", "i on peruttu."]);
        tokio::time::advance(PAGE).await;
        settle().await;
        assert_eq!(twin.lines(), vec!["Ota yhteys", "kirjastoon."]);
        tokio::time::advance(PAGE).await;
        settle().await;
        assert_eq!(twin.lines(), vec!["Omatoimioikeutes", "i on peruttu."]);
        tokio::time::advance(SHOWN_FOR).await;
        settle().await;
        assert_eq!(twin.lines(), vec!["Kirjasto on", "suljettu."]);
        assert_eq!(twin.faults(), 0);
    }

    /// Whether `text` is shown whole in `rows` lines of `cols`.
    fn fits(text: &str, cols: usize, rows: usize) -> bool {
        display::wrap(text, cols, rows).join(" ")
            == text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn every_message_has_words_in_three_languages_and_fits_four_lines_of_twenty() {
        for lang in ["fi", "sv", "en"] {
            for f in [
                Feedback::EnterPin,
                Feedback::Checking,
                Feedback::Welcome {
                    source: "online".into(),
                    language: lang.into(),
                },
                Feedback::Alarm(Alarm::HeldOpen),
            ] {
                let w = words(&f, lang).unwrap();
                assert!(!w.is_empty());
                assert!(fits(&w, 20, 4), "{w}");
            }
            for s in [
                LibraryState::SelfService,
                LibraryState::Staffed,
                LibraryState::Closed,
            ] {
                let w = resting(s, lang);
                assert!(fits(&w, 16, 2), "{w}");
            }
            // Every reason, and the longest exact words: a lockout in hours, tries left.
            let now = chrono::Utc::now();
            let detail = access::policy::Detail {
                locked_until: Some(now + chrono::Duration::hours(48)),
                tries_left: Some(4),
                language: None,
            };
            for r in Reason::ALL {
                let w = r.words(lang, &detail, now);
                assert!(fits(&w, 20, 4), "{lang}: {w}");
            }
        }
    }
}
