//! A [`View`] onto the slint window, and its callbacks into [`Action`]s.

use std::rc::Rc;

use slint::{ComponentHandle as _, ModelRc, SharedString, VecModel};

use crate::generated as g;
use crate::view::{Action, Mode, Renewal, RowState, Screen, View};

fn screen(s: Screen) -> g::Screen {
    match s {
        Screen::Welcome => g::Screen::Welcome,
        Screen::Pin => g::Screen::Pin,
        Screen::Items => g::Screen::Items,
        Screen::Receipt => g::Screen::Receipt,
        Screen::Loans => g::Screen::Loans,
        Screen::Message => g::Screen::Message,
        Screen::Goodbye => g::Screen::Goodbye,
    }
}

fn mode(m: Mode) -> g::Mode {
    match m {
        Mode::Borrow => g::Mode::Borrow,
        Mode::Checkin => g::Mode::Checkin,
    }
}

fn row_state(s: RowState) -> g::RowState {
    match s {
        RowState::Working => g::RowState::Working,
        RowState::Ok => g::RowState::Ok,
        RowState::Failed => g::RowState::Failed,
        RowState::Notice => g::RowState::Notice,
    }
}

fn model<T: Clone + 'static>(rows: Vec<T>) -> ModelRc<T> {
    ModelRc::from(Rc::new(VecModel::from(rows)))
}

/// Selects the language of every `@tr()` string: `fi`, `sv`, or anything else for English.
/// Fails only when a language is missing from the build (a `.po` file not found).
pub fn select_language(language: &str) -> Result<(), crate::UiError> {
    let code = match language {
        "fi" | "sv" => language,
        _ => "",
    };
    slint::select_bundled_translation(code)
        .map_err(|e| crate::UiError::Platform(format!("language {language}: {e}")))
}

/// Shows `view` on `window`.
pub fn apply(window: &g::KioskWindow, view: &View) {
    if window.get_language().as_str() != view.language
        && let Err(e) = select_language(&view.language)
    {
        tracing::warn!("{e}");
    }
    window.set_language(SharedString::from(view.language.as_str()));
    window.set_screen(screen(view.screen));
    window.set_mode(mode(view.mode));
    window.set_library_name(view.library.as_str().into());
    window.set_offline(view.offline);
    window.set_pin_length(i32::try_from(view.pin_length).unwrap_or(i32::MAX));
    window.set_entering_card(view.card_entry.is_some());
    window.set_card_digits(view.card_entry.as_deref().unwrap_or("").into());
    window.set_items(model(
        view.items
            .iter()
            .map(|r| g::ItemRow {
                title: r.title.as_str().into(),
                item: r.item.as_str().into(),
                state: row_state(r.state),
                outcome: r.outcome.code(),
                due: r.due.as_str().into(),
                note: r.note.as_str().into(),
            })
            .collect(),
    ));
    window.set_loans(model(
        view.loans
            .iter()
            .map(|l| g::LoanRow {
                title: l.title.as_str().into(),
                item: l.item.as_str().into(),
                due: l.due.as_str().into(),
                overdue: l.overdue,
                renewal: match l.renewal {
                    Renewal::NotTried => 0,
                    Renewal::Renewed => 1,
                    Renewal::Refused => 2,
                },
                note: l.note.as_str().into(),
            })
            .collect(),
    ));
    window.set_loans_partial(view.loans_partial);
    window.set_holds(model(
        view.holds
            .iter()
            .map(|h| g::HoldRow {
                title: h.title.as_str().into(),
                ready: h.ready,
                pickup: h.pickup.as_str().into(),
            })
            .collect(),
    ));
    window.set_ready_holds(
        i32::try_from(view.holds.iter().filter(|h| h.ready).count()).unwrap_or(i32::MAX),
    );
    window.set_message_code(view.message.map_or(0, |m| m as i32));
    window.set_message_note(view.message_note.as_str().into());
    window.set_busy(view.busy);
    window.set_printer_ready(view.printer_ready);
    window.set_clock(view.clock.as_str().into());
    window.set_help_text(view.help.text.as_str().into());
    window.set_help_phone(view.help.phone.as_str().into());
    window.set_payment_link(view.help.payment_link.as_str().into());
    window.set_easy(view.easy);
    window.global::<g::Palette>().set_easy(view.easy);
    window.set_speech(view.speech);
}

/// What spoken guidance says on `window` now: the screen's title and what to do, in its
/// language.
pub fn spoken(window: &g::KioskWindow) -> String {
    window.invoke_spoken().to_string()
}

/// Sends every touch on `window` to `sink` as an [`Action`].
pub fn connect(window: &g::KioskWindow, sink: impl Fn(Action) + Clone + 'static) {
    let s = sink.clone();
    window.on_choose_language(move |l| s(Action::Language(l.to_string())));
    let s = sink.clone();
    window.on_start(move |m| {
        s(Action::Start(match m {
            g::Mode::Checkin => Mode::Checkin,
            _ => Mode::Borrow,
        }))
    });
    let s = sink.clone();
    window.on_digit(move |d| s(Action::Digit(u8::try_from(d).unwrap_or(0))));
    let s = sink.clone();
    window.on_erase_digit(move || s(Action::EraseDigit));
    let s = sink.clone();
    window.on_submit_pin(move || s(Action::SubmitPin));
    let s = sink.clone();
    window.on_cancel(move || s(Action::Cancel));
    let s = sink.clone();
    window.on_finish(move || s(Action::Finish));
    let s = sink.clone();
    window.on_show_loans(move || s(Action::ShowLoans));
    let s = sink.clone();
    window.on_back_to_items(move || s(Action::BackToItems));
    let s = sink.clone();
    window.on_renew_all(move || s(Action::RenewAll));
    let s = sink.clone();
    window.on_receipt(move |yes| s(Action::Receipt(yes)));
    let s = sink.clone();
    window.on_dismiss(move || s(Action::Dismiss));
    let s = sink.clone();
    window.on_renew(move |item| s(Action::Renew(item.to_string())));
    let s = sink.clone();
    window.on_help(move || s(Action::Help));
    let s = sink.clone();
    window.on_toggle_easy(move || s(Action::ToggleEasy));
    let s = sink.clone();
    window.on_toggle_speech(move || s(Action::ToggleSpeech));
    window.on_touched(move || sink(Action::Touched));
}

/// A new window with `view` on it, wired to `sink`.
pub fn window(
    view: &View,
    sink: impl Fn(Action) + Clone + 'static,
) -> Result<g::KioskWindow, crate::UiError> {
    let w = g::KioskWindow::new().map_err(|e| crate::UiError::Platform(e.to_string()))?;
    connect(&w, sink);
    // The window's own default language is not a selected translation: select it now.
    if let Err(e) = select_language(&view.language) {
        tracing::warn!("{e}");
    }
    apply(&w, view);
    Ok(w)
}
