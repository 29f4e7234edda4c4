//! A stack of thirty items and a patron with thirty loans on the kiosk's 1280x800 screen: the
//! lists scroll, the newest row is in view, and the buttons under them stay on the screen and
//! answer a tap. Drawn by slint's software renderer, touched at pixels found by their colour.
//!
//! slint has one platform per process: everything runs in this one test, in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::rc::Rc;

use ui::headless::Headless;
use ui::{Action, Loan, Outcome, Row, RowState, Screen, View, bind};

const W: usize = 1280;
const H: usize = 800;

fn base() -> View {
    View {
        language: "en".into(),
        library: "Lappeenrannan kaupunginkirjasto – Lauritsala".into(),
        printer_ready: true,
        clock: "20:05".into(),
        ..View::default()
    }
}

/// Item `n` of a stack: the first one stands out (a notice), the newest one failed, the rest
/// were lent; each state has its own row colour.
fn item(n: usize, of: usize) -> Row {
    let state = if n == of {
        RowState::Failed
    } else if n == 1 {
        RowState::Notice
    } else {
        RowState::Ok
    };
    Row {
        title: format!("Kirja {n}"),
        item: format!("HE{n:07}"),
        state,
        outcome: match state {
            RowState::Failed => Outcome::ReservedForAnother,
            RowState::Notice => Outcome::LentOffline,
            _ => Outcome::Lent,
        },
        due: "22.12.2026".into(),
        note: String::new(),
    }
}

/// Pixels of colour `rgb` (within the 16-bit renderer's rounding) in rows `ys`.
fn count(pixels: &[u8], rgb: [u8; 3], ys: std::ops::Range<usize>) -> usize {
    ys.flat_map(|y| (0..W).map(move |x| (y * W + x) * 3))
        .filter(|&i| (0..3).all(|c| pixels[i + c].abs_diff(rgb[c]) <= 8))
        .count()
}

/// The accent colour (#005a78) as the 16-bit renderer draws it.
fn accent(p: &[u8]) -> bool {
    p[0] < 16 && (80..100).contains(&p[1]) && (112..132).contains(&p[2])
}

/// The middle of the lowest run (over 40 pixels) of accent colour down column `x`: a primary
/// button, or a secondary one's border seen from inside is not tall enough.
fn button_down(pixels: &[u8], x: usize) -> Option<f32> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for y in 0..H {
        let i = (y * W + x) * 3;
        if accent(&pixels[i..i + 3]) {
            match runs.last_mut() {
                Some(r) if r.1 + 1 == y => r.1 = y,
                _ => runs.push((y, y)),
            }
        }
    }
    runs.retain(|r| r.1 - r.0 > 40);
    runs.last().map(|r| (r.0 + r.1) as f32 / 2.0)
}

const FAILED_ROW: [u8; 3] = [0xfb, 0xe9, 0xe7];
const NOTICE_ROW: [u8; 3] = [0xff, 0xf3, 0xd6];
const OK_ROW: [u8; 3] = [0xe8, 0xf5, 0xe9];

#[test]
fn thirty_items_scroll_to_the_newest_and_finish_stays_on_the_screen() {
    let screen = Headless::install(W as u32, H as u32).unwrap();
    let actions: Rc<RefCell<Vec<Action>>> = Rc::default();
    let sink = {
        let a = actions.clone();
        move |x| a.borrow_mut().push(x)
    };
    let window = bind::window(&base(), sink).unwrap();
    slint::ComponentHandle::show(&window).unwrap();
    let take = || -> Vec<Action> {
        actions
            .borrow_mut()
            .drain(..)
            .filter(|a| *a != Action::Touched)
            .collect()
    };

    // Rows arrive one by one, as the pad reads a stack.
    let mut view = View {
        screen: Screen::Items,
        ..base()
    };
    bind::apply(&window, &view);
    screen.render();
    for n in 1..=30 {
        view.items = (1..=n).map(|i| item(i, n)).collect();
        bind::apply(&window, &view);
        screen.render();
    }
    let pixels = screen.render();
    let body = 100..H;
    assert!(
        count(&pixels, FAILED_ROW, body.clone()) > 10_000,
        "the newest row (failed, red) is not in view"
    );
    assert_eq!(
        count(&pixels, NOTICE_ROW, body.clone()),
        0,
        "the list stayed at its first row"
    );
    assert!(count(&pixels, OK_ROW, body.clone()) > 10_000);

    // Finish: the primary button at the right, inside the window, and it answers. (Found down a
    // column near its right end, clear of its white letters.)
    let probe_x = W - 28 - 40;
    let finish_x = W - 28 - 150;
    let y = button_down(&pixels, probe_x).expect("no Finish button on the 1280x800 screen");
    assert!(y < (H - 28) as f32, "Finish at y {y}");
    screen.tap(finish_x as f32, y);
    assert_eq!(take(), [Action::Finish]);
    // My loans beside it (white with an accent border): tapped by its middle.
    screen.tap((finish_x - 150 - 24 - 150) as f32, y);
    assert_eq!(take(), [Action::ShowLoans]);

    // The patron scrolls back up to read the first rows: the list follows the finger...
    // (From just inside the list's top, under the words above it, down to its bottom.)
    let list_y = y - 200.0;
    for _ in 0..12 {
        screen.drag(640.0, list_y - 120.0, list_y + 150.0, 20);
        screen.render();
    }
    let pixels = screen.render();
    assert!(
        count(&pixels, NOTICE_ROW, body.clone()) > 10_000,
        "scrolled back, the first row is in view"
    );
    // ...and Finish is still there.
    assert!(button_down(&pixels, probe_x).is_some());
    take();

    // A new row brings the list back to the newest.
    view.items = (1..=31).map(|i| item(i, 31)).collect();
    bind::apply(&window, &view);
    let pixels = screen.render();
    assert!(count(&pixels, FAILED_ROW, body.clone()) > 10_000);
    assert_eq!(count(&pixels, NOTICE_ROW, body.clone()), 0);

    // Thirty loans: Renew all and Back stay on the screen.
    let loans = View {
        screen: Screen::Loans,
        loans: (1..=30)
            .map(|n| Loan {
                title: format!("Kirja {n}"),
                item: format!("HE{n:07}"),
                due: "22.12.2026".into(),
                overdue: n == 30,
                ..Loan::default()
            })
            .collect(),
        ..base()
    };
    bind::apply(&window, &loans);
    let pixels = screen.render();
    let y = button_down(&pixels, probe_x).expect("no Back button on the 1280x800 screen");
    screen.tap(finish_x as f32, y);
    assert_eq!(take(), [Action::BackToItems]);
    screen.tap((finish_x - 150 - 24 - 150) as f32, y);
    assert_eq!(take(), [Action::RenewAll]);
}
