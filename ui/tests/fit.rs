//! Every text fits: every screen in every language, in normal and in large text, online and
//! offline, with the longest real values a kiosk meets (a long library name, long titles, thirty
//! items and thirty loans, the library system's long words), laid out by slint in the kiosk's
//! real fonts at 1280x800. The test fails when a text needs more room than it has (it would be
//! cut or elided) or a button or text outside a scrolling list leaves the screen.
//!
//! Each text is a `Label` in `kiosk.slint`, which measures itself with slint's own text metrics;
//! the test reads that through slint's element queries. A canary (a word far too long for the
//! header) proves the check sees a cut text before the screens are judged.
//!
//! slint has one platform per process: everything runs in this one test, in order.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementRoot};
use ui::headless::Headless;
use ui::samples::screens;
use ui::{Hold, Loan, View, bind};

const W: f32 = 1280.0;
const H: f32 = 800.0;

/// A library name as long as real ones get (a city library, the branch, and what it is).
const LONG_LIBRARY: &str =
    "Pääkaupunkiseudun kirjastot – Espoon kaupunginkirjasto, Kalajärven omatoimikirjasto";

/// Real long titles, as a library system gives them (title : subtitle / statement).
const LONG_TITLES: [&str; 3] = [
    "Mielensäpahoittaja ja ruskeakastike : kertomuksia suomalaisesta elämänmenosta / Tuomas Kyrö",
    "Seitsemän veljestä – kuvitettu juhlapainos vuodelta 1947 alkuperäisine kuvituksineen",
    "Kansanrunousarkiston aarteita : Suomalaisen Kirjallisuuden Seuran kokoelmista 1831–2031",
];

/// The library system's longest words in a note (a SIP2 screen message is up to 255 bytes).
const LONG_NOTE: &str = "Nide on varattu toiselle asiakkaalle eikä sitä voi lainata. Palauta nide \
    palautushyllyyn tai jätä se tiskille, henkilökunta käsittelee sen seuraavana aukiolopäivänä.";

/// `view` with the longest values in every field it shows.
fn longest(view: &View, n: usize) -> View {
    let mut v = view.clone();
    v.library = LONG_LIBRARY.into();
    v.help.text = match v.language.as_str() {
        "sv" => {
            "Personalen är på plats må–fre 10–18 och lö 10–15. Ring oss om något inte fungerar."
        }
        "en" => "Staff are in Mon–Fri 10–18 and Sat 10–15. Call us if something does not work.",
        _ => "Henkilökunta paikalla ma–pe 10–18 ja la 10–15. Soita, jos jokin ei toimi.",
    }
    .into();
    v.help.payment_link = "https://www.lappeenranta.fi/fi/kirjasto/asiointi/maksa-maksusi".into();
    if !v.items.is_empty() {
        let template = v.items.clone();
        v.items = (0..30)
            .map(|i| {
                let mut r = template[i % template.len()].clone();
                r.title = if r.title.is_empty() {
                    String::new()
                } else {
                    LONG_TITLES[(i + n) % 3].into()
                };
                r.item = format!("HE{:07}", i + 1);
                if !r.note.is_empty() && !r.note.contains('/') {
                    r.note = LONG_NOTE.into();
                }
                r
            })
            .collect();
    }
    if !v.loans.is_empty() {
        let template = v.loans.clone();
        v.loans = (0..30)
            .map(|i| Loan {
                title: LONG_TITLES[(i + n) % 3].into(),
                item: format!("HE{:07}", i + 1),
                ..template[i % template.len()].clone()
            })
            .collect();
        for l in v.loans.iter_mut().filter(|l| !l.note.is_empty()) {
            l.note = LONG_NOTE.into();
        }
    }
    if !v.holds.is_empty() {
        v.holds = (0..8)
            .map(|i| Hold {
                title: LONG_TITLES[i % 3].into(),
                ready: i % 2 == 0,
                pickup: "Lappeenrannan pääkirjasto, noutohylly 2. kerroksessa".into(),
            })
            .collect();
    }
    if !v.message_note.is_empty() && v.message_note.chars().all(|c| c.is_ascii_digit()) {
        // A lockout's minutes: a day's worth.
        v.message_note = "1440".into();
    }
    v
}

/// The position and size of an element, for telling it apart from others.
fn rect(e: &ElementHandle) -> (i32, i32, i32, i32) {
    let p = e.absolute_position();
    let s = e.size();
    (p.x as i32, p.y as i32, s.width as i32, s.height as i32)
}

/// What does not fit on the screen now: texts cut, and buttons or texts outside the window
/// (a scrolling list's rows excepted: the list clips them and scrolls).
fn misfits(window: &impl ElementRoot) -> Vec<String> {
    let root = window.root_element();
    let mut in_lists = Vec::new();
    for list in ElementHandle::find_by_element_type_name(window, "Flickable") {
        for e in list.query_descendants().find_all() {
            in_lists.push(rect(&e));
        }
    }
    let mut out = Vec::new();
    for e in root.query_descendants().find_all() {
        let role = e.accessible_role();
        if !matches!(role, Some(AccessibleRole::Text | AccessibleRole::Button)) {
            continue;
        }
        let label = e.accessible_label().unwrap_or_default().to_string();
        if label.is_empty() {
            continue;
        }
        if e.accessible_description().as_deref() == Some("cut") {
            let (_, _, w, h) = rect(&e);
            out.push(format!("cut in {w}x{h}: {label:?}"));
        }
        let r = rect(&e);
        let inside =
            r.0 >= 0 && r.1 >= 0 && (r.0 + r.2) as f32 <= W + 0.5 && (r.1 + r.3) as f32 <= H + 0.5;
        if !inside && !in_lists.contains(&r) {
            out.push(format!("off the screen at {r:?}: {label:?}"));
        }
    }
    out
}

#[test]
fn every_text_fits_every_screen_in_every_language() {
    let screen = Headless::install(W as u32, H as u32).unwrap();
    let window = bind::window(&ui::samples::base("fi"), |_| {}).unwrap();
    slint::ComponentHandle::show(&window).unwrap();
    slint::ComponentHandle::global::<ui::Fit>(&window).set_checking(true);

    // The canary: a name with no place to break, far wider than the header. The check must see
    // it, or it sees nothing.
    let mut canary = ui::samples::base("en");
    canary.library = "Kirjasto".repeat(40);
    bind::apply(&window, &canary);
    screen.render();
    let found = misfits(&window);
    assert!(
        found.iter().any(|m| m.contains("KirjastoKirjasto")),
        "the check did not see the canary: {found:?}"
    );

    let mut judged = 0;
    let mut failures = Vec::new();
    for language in ["fi", "sv", "en"] {
        for (n, (name, view)) in screens(language).into_iter().enumerate() {
            for easy in [false, true] {
                for offline in [false, true] {
                    let v = View {
                        easy,
                        offline,
                        ..longest(&view, n)
                    };
                    bind::apply(&window, &v);
                    // Layout happens as the screen is drawn.
                    screen.render();
                    judged += 1;
                    for m in misfits(&window) {
                        failures.push(format!(
                            "{name}-{language}{}{}: {m}",
                            if easy { " large" } else { "" },
                            if offline { " offline" } else { "" }
                        ));
                    }
                }
            }
        }
    }
    println!("{judged} screens judged");
    assert!(judged >= 3 * 4 * 15, "only {judged} screens judged");
    assert!(
        failures.is_empty(),
        "{} texts or buttons do not fit:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
