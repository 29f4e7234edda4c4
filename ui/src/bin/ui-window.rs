//! The kiosk's screens in a real window (slint's winit backend on X11, as the kiosk opens it):
//! the sample screens ([`ui::samples`]) one at a time, for the screenshots taken under Xvfb
//! (`ui/tests/window.rs`) and for anyone who wants to look at them on a desktop.
//!
//! Reads a line per screen on standard input, `NAME LANGUAGE [easy]` (a sample's name, `fi`,
//! `sv` or `en`, and `easy` for large text and high contrast), and prints `shown NAME LANGUAGE`
//! once the window has drawn it; ends at the end of the input.

use std::io::BufRead;
use std::time::Duration;

use slint::ComponentHandle;
use ui::{View, bind, samples};

fn view(line: &str) -> Result<(String, View), String> {
    let mut words = line.split_whitespace();
    let (Some(name), Some(language)) = (words.next(), words.next()) else {
        return Err(format!("{line:?}: expected NAME LANGUAGE [easy]"));
    };
    let easy = words.next() == Some("easy");
    let (_, v) = samples::screens(language)
        .into_iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("{name}: no such sample screen"))?;
    Ok((format!("{name} {language}"), View { easy, ..v }))
}

fn main() -> std::process::ExitCode {
    let window = match bind::window(&samples::base("fi"), |_| {}) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("ui-window: {e}");
            return std::process::ExitCode::from(69);
        }
    };
    window
        .window()
        .set_size(slint::LogicalSize::new(1280.0, 800.0));
    let weak = window.as_weak();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match view(&line) {
                Ok((said, v)) => {
                    let weak = weak.clone();
                    let _ = slint::invoke_from_event_loop(move || {
                        if let Some(w) = weak.upgrade() {
                            bind::apply(&w, &v);
                            w.window().request_redraw();
                            // Drawn within a few frames; then say so.
                            slint::Timer::single_shot(Duration::from_millis(400), move || {
                                println!("shown {said}");
                            });
                        }
                    });
                }
                Err(e) => eprintln!("ui-window: {e}"),
            }
        }
        let _ = slint::invoke_from_event_loop(|| {
            let _ = slint::quit_event_loop();
        });
    });
    match window.run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ui-window: {e}");
            std::process::ExitCode::from(69)
        }
    }
}
