//! The kiosk and its real screen together: a patron places thirty items on the pad (the FEIG
//! twin, through the real driver, against the simulator over SIP2/TLS), the kiosk's views are
//! drawn by slint's software renderer at the kiosk's 1280x800, and the patron finishes by
//! tapping the pixels where Finish and "Print a receipt" are drawn; the session ends and the
//! receipt comes out of the printer twin.
//!
//! slint has one platform per process, and the window lives on this test's thread: one test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use drivers::feig_twin::AirTime;
use kiosk::Input;
use receipt::render::Paper;
use rig::kiosk::{self as sim, SimKiosk};
use ui::headless::Headless;
use ui::{Action, RowState, Screen, View, bind};

const W: usize = 1280;
const H: usize = 800;
const WAIT: Duration = Duration::from_secs(30);

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml")
}

/// The accent colour (#005a78) as the 16-bit renderer draws it.
fn accent(p: &[u8]) -> bool {
    p[0] < 16 && (80..100).contains(&p[1]) && (112..132).contains(&p[2])
}

/// The middle of the lowest run (over 40 pixels) of accent colour down column `x`: a filled
/// button (a text line or a border is thinner).
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

async fn started() -> (tempfile::TempDir, sim::Rig, SimKiosk) {
    let tmp = tempfile::tempdir().unwrap();
    let rig = sim::rig(tmp.path(), &fixtures(), e2e::daemons_now(), "")
        .await
        .unwrap();
    let settings = kiosk::settings::load(&rig.config).unwrap();
    let k = sim::start_kiosk(settings, AirTime::default(), kiosk::system_clock()).unwrap();
    (tmp, rig, k)
}

#[test]
fn thirty_items_on_the_pad_then_finish_tapped_on_the_screen_ends_the_session() {
    let screen = Headless::install(W as u32, H as u32).unwrap();
    let touched: Rc<RefCell<Vec<Action>>> = Rc::default();
    let sink = {
        let t = touched.clone();
        move |a| t.borrow_mut().push(a)
    };
    let window = bind::window(&View::default(), sink).unwrap();
    slint::ComponentHandle::show(&window).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (_tmp, rig, mut k) = runtime.block_on(started());
    // What the patron sees: the kiosk's latest view, drawn.
    let draw = |v: &View| {
        bind::apply(&window, v);
        screen.render()
    };
    // A tap at a pixel; what the window made of it goes to the kiosk, as the window would.
    let tap = |k: &SimKiosk, x: f32, y: f32| {
        screen.tap(x, y);
        let actions: Vec<Action> = touched.borrow_mut().drain(..).collect();
        for a in &actions {
            runtime.block_on(k.tap(a.clone()));
        }
        actions
    };

    runtime.block_on(async {
        k.wait_for(WAIT, |v| v.screen == Screen::Welcome)
            .await
            .unwrap();
        k.send(Input::Scan("24680000000011".into())).await;
        k.wait_for(WAIT, |v| v.screen == Screen::Pin).await.unwrap();
        k.type_digits("1234").await;
        k.wait_for(WAIT, |v| v.screen == Screen::Items && !v.busy)
            .await
            .expect("logged in");
    });
    // Thirty items: the catalogue's ten (some refused) and twenty it does not know.
    for n in 1..=30 {
        k.pad.place(sim::tag(&format!("HE{n:07}"), 1, 1));
    }
    let v = runtime
        .block_on(k.wait_for(WAIT, |v| {
            v.items.len() == 30 && v.items.iter().all(|r| r.state != RowState::Working)
        }))
        .unwrap_or_else(|| panic!("30 rows never settled: {}", k.view().items.len()));
    let lent = v.items.iter().filter(|r| r.state == RowState::Ok).count();
    assert!(lent >= 5, "{lent} lent");

    // Finish, found where it is drawn (down a column near its right end, clear of its
    // letters), inside the window.
    let pixels = draw(&v);
    let y = button_down(&pixels, W - 28 - 40).expect("no Finish button on the 1280x800 screen");
    assert!(y < (H - 28) as f32);
    let actions = tap(&k, (W - 28 - 150) as f32, y);
    assert!(actions.contains(&Action::Finish), "{actions:?}");
    let v = runtime
        .block_on(k.wait_for(WAIT, |v| v.screen == Screen::Receipt))
        .expect("the receipt question");

    // "Print a receipt": the left one of the two big buttons in the middle.
    let pixels = draw(&v);
    let y = button_down(&pixels, 260).expect("no receipt button");
    let actions = tap(&k, 430.0, y);
    assert!(actions.contains(&Action::Receipt(true)), "{actions:?}");
    let v = runtime
        .block_on(k.wait_for(WAIT, |v| v.screen == Screen::Goodbye))
        .expect("the session ends");
    assert!(v.items.is_empty(), "the patron's rows are gone");
    std::thread::sleep(Duration::from_millis(300));
    let receipts = rig.printer.receipts();
    assert_eq!(receipts.len(), 1, "errors: {:?}", rig.printer.errors());
    let text = Paper::text(&receipts[0]);
    assert!(
        text.contains("HE0000001") && text.contains("HE0000010"),
        "{text}"
    );
    runtime.block_on(k.shut_down()).unwrap();
}
