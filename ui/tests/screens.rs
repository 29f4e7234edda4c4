//! Every screen in every language, drawn by slint's software renderer and saved as PNG under
//! `target/screenshots/` (or `$SCREENSHOT_DIR`); and the screens driven by touch alone.
//!
//! slint has one platform per process: everything runs in this one test, in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use ui::headless::Headless;
use ui::samples::{base, screens};
use ui::{Action, Mode, Screen, View, bind};

fn shots() -> PathBuf {
    let dir = std::env::var_os("SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/screenshots"
            ))
        });
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_screen_in_every_language_and_driven_by_touch() {
    let screen = Headless::install(1280, 800).unwrap();
    let actions: Rc<RefCell<Vec<Action>>> = Rc::default();
    let sink = {
        let a = actions.clone();
        move |x| a.borrow_mut().push(x)
    };
    let window = bind::window(&base("fi"), sink).unwrap();
    slint::ComponentHandle::show(&window).unwrap();
    let dir = shots();
    // Nothing selects the first language here: the window must do it itself.

    let mut first = Vec::new();
    for language in ["fi", "sv", "en"] {
        for (name, view) in screens(language) {
            bind::apply(&window, &view);
            let pixels = screen.render();
            assert!(pixels.iter().any(|&b| b != pixels[0]), "{name} is blank");
            if name == "welcome" {
                first.push(pixels.clone());
            }
            screen
                .screenshot(&dir.join(format!("{name}-{language}.png")))
                .unwrap();
            // The same in large text and high contrast.
            bind::apply(
                &window,
                &View {
                    easy: true,
                    ..view.clone()
                },
            );
            let easy = screen.render();
            assert!(
                easy != pixels,
                "{name}-{language}: large text looks the same"
            );
            screen
                .screenshot(&dir.join(format!("{name}-{language}-easy.png")))
                .unwrap();
        }
    }
    bind::apply(&window, &base("fi"));

    // Every text on its background, in both modes: WCAG AA's 4.5:1 at least.
    let palette = slint::ComponentHandle::global::<ui::Palette>(&window);
    for easy in [false, true] {
        palette.set_easy(easy);
        let pairs = [
            (
                "ink on background",
                palette.get_ink(),
                palette.get_background(),
            ),
            (
                "muted on background",
                palette.get_muted(),
                palette.get_background(),
            ),
            ("ink on card", palette.get_ink(), palette.get_card()),
            ("accent on card", palette.get_accent(), palette.get_card()),
            (
                "accent on background",
                palette.get_accent(),
                palette.get_background(),
            ),
            (
                "button label",
                palette.get_accent_ink(),
                palette.get_accent(),
            ),
            (
                "pressed button label",
                palette.get_accent_ink(),
                palette.get_accent_pressed(),
            ),
            (
                "disabled button label",
                palette.get_disabled_ink(),
                palette.get_disabled(),
            ),
            ("failed row", palette.get_failed(), palette.get_row_failed()),
            (
                "ink on failed row",
                palette.get_ink(),
                palette.get_row_failed(),
            ),
            ("ok mark", palette.get_ok(), palette.get_row_ok()),
            ("notice row", palette.get_notice(), palette.get_row_notice()),
            (
                "ink on notice row",
                palette.get_ink(),
                palette.get_row_notice(),
            ),
            (
                "ink on working row",
                palette.get_ink(),
                palette.get_row_working(),
            ),
        ];
        for (what, fg, bg) in pairs {
            let ratio = contrast(fg, bg);
            assert!(
                ratio >= 4.5,
                "{what} (easy: {easy}): {ratio:.2}:1 is under 4.5:1"
            );
        }
        // Large text is larger.
        assert_eq!(palette.get_text() > 30.0, easy);
    }
    palette.set_easy(false);
    // Below the header (where the language buttons differ anyway), the words must differ.
    let body = |p: &Vec<u8>| p[1280 * 3 * 120..].to_vec();
    assert!(
        body(&first[0]) != body(&first[1]),
        "Finnish and Swedish welcome screens read the same"
    );
    assert!(
        body(&first[0]) != body(&first[2]),
        "Finnish and English welcome screens read the same"
    );
    assert!(
        body(&first[1]) != body(&first[2]),
        "Swedish and English welcome screens read the same"
    );

    // By touch alone: the big buttons and the PIN pad, found on the screen by their colour.
    bind::apply(&window, &base("fi"));
    let (x, y) = button_at(&screen, 430);
    screen.tap(x, y);
    assert_eq!(
        actions.borrow_mut().drain(..).collect::<Vec<_>>(),
        [Action::Start(Mode::Borrow)]
    );
    screen.tap(1056.0, 58.0);
    assert_eq!(
        actions.borrow_mut().drain(..).collect::<Vec<_>>(),
        [Action::Language("sv".into())]
    );
    screen.tap(640.0, 200.0);
    assert_eq!(
        actions.borrow_mut().drain(..).collect::<Vec<_>>(),
        [Action::Touched],
        "a touch beside the buttons"
    );

    bind::apply(
        &window,
        &View {
            screen: Screen::Pin,
            pin_length: 4,
            ..base("fi")
        },
    );
    // The pad's middle column (2, 5, 8, 0), found by colour; OK is one key to the right of 0.
    let x = column_of_pad(&screen) + 144.0;
    // (Scanned beside the digits, whose white glyphs split the colour runs.)
    let keys = runs(&screen.render(), 1280, x as usize + 40, 100..700);
    assert_eq!(keys.len(), 4, "four rows of keys: {keys:?}");
    for row in &keys {
        screen.tap(x, mid(*row));
    }
    screen.tap(x + 144.0, mid(keys[3]));
    let got: Vec<Action> = actions
        .borrow_mut()
        .drain(..)
        .filter(|a| *a != Action::Touched)
        .collect();
    assert_eq!(
        got,
        [
            Action::Digit(2),
            Action::Digit(5),
            Action::Digit(8),
            Action::Digit(0),
            Action::SubmitPin
        ]
    );
}

/// WCAG's contrast ratio of two colours.
fn contrast(a: slint::Color, b: slint::Color) -> f64 {
    let lum = |c: slint::Color| {
        let ch = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.03928 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(c.red()) + 0.7152 * ch(c.green()) + 0.0722 * ch(c.blue())
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// The accent colour (#005a78) as the 16-bit renderer draws it.
fn accent(p: &[u8]) -> bool {
    p[0] < 16 && (80..100).contains(&p[1]) && (112..132).contains(&p[2])
}

/// Runs of accent pixels down column `x` within `ys`, as (first, last) rows.
fn runs(rgb: &[u8], width: usize, x: usize, ys: std::ops::Range<usize>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for y in ys {
        let i = (y * width + x) * 3;
        if accent(&rgb[i..i + 3]) {
            match out.last_mut() {
                Some(r) if r.1 + 1 == y => r.1 = y,
                _ => out.push((y, y)),
            }
        }
    }
    out.retain(|r| r.1 - r.0 > 40);
    out
}

fn mid(r: (usize, usize)) -> f32 {
    (r.0 + r.1) as f32 / 2.0
}

/// A point inside the first big accent button crossing column `x`.
fn button_at(screen: &Headless, x: usize) -> (f32, f32) {
    let r = runs(&screen.render(), 1280, x, 120..780);
    assert!(!r.is_empty(), "no button at column {x}");
    (x as f32, mid(r[0]))
}

/// The x of the PIN pad's first column: the leftmost accent column right of the middle.
fn column_of_pad(screen: &Headless) -> f32 {
    let rgb = screen.render();
    let y = (100..780)
        .find(|&y| (640..1280).any(|x| accent(&rgb[(y * 1280 + x) * 3..][..3])))
        .expect("the pad")
        + 20;
    let first = (640..1280)
        .find(|&x| accent(&rgb[(y * 1280 + x) * 3..][..3]))
        .expect("the pad");
    first as f32 + 65.0
}

#[test]
fn every_screen_word_is_translated_into_finnish_and_swedish() {
    let slint =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/screens/kiosk.slint"))
            .unwrap();
    let ids: Vec<&str> = slint
        .split("@tr(\"")
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect();
    assert!(ids.len() > 50, "found {} strings", ids.len());
    for lang in ["fi", "sv"] {
        let po = std::fs::read_to_string(format!(
            "{}/lang/{lang}/LC_MESSAGES/ui.po",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        for id in &ids {
            let key = format!("msgid \"{id}\"\nmsgstr \"");
            let at = po
                .find(&key)
                .unwrap_or_else(|| panic!("{lang} lacks {id:?}"));
            let translated = &po[at + key.len()..];
            assert!(!translated.starts_with('"'), "{lang} leaves {id:?} empty");
            let placeholders = |s: &str| s.matches("{}").count();
            let line = &translated[..translated.find('\n').unwrap()];
            assert_eq!(
                placeholders(line),
                placeholders(id),
                "{lang}: {id:?} -> {line:?}"
            );
        }
    }
}
