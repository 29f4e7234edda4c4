//! The kiosk's touch screen: the slint window on this thread, fed views from the kiosk's task
//! and sending touches back.

use tokio::sync::mpsc;
use ui::{View, bind};

use crate::speech::Speaker;
use crate::{Input, Publish};

/// The window.
pub struct Window {
    window: ui::KioskWindow,
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Window")
    }
}

impl Window {
    /// Opens the window (a display is needed) showing `view`; touches go to `inputs`.
    pub fn new(view: &View, inputs: mpsc::Sender<Input>) -> anyhow::Result<Self> {
        let window = bind::window(view, move |a| {
            if inputs.try_send(Input::Ui(a)).is_err() {
                tracing::warn!("a touch was dropped: the kiosk is busy or stopped");
            }
        })?;
        Ok(Self { window })
    }

    /// Where the kiosk's views go: shown on the window from any thread, and, while the patron
    /// has spoken guidance on, what each new screen says read aloud.
    pub fn publisher(&self) -> Publish {
        use slint::ComponentHandle;
        let weak = self.window.as_weak();
        let speaker = std::sync::Arc::new(std::sync::Mutex::new(Speaker::default()));
        Box::new(move |v: View| {
            let weak = weak.clone();
            let speaker = speaker.clone();
            let _ = slint::invoke_from_event_loop(move || {
                if let Some(w) = weak.upgrade() {
                    bind::apply(&w, &v);
                    if let Ok(mut s) = speaker.lock() {
                        if v.speech {
                            s.say(&bind::spoken(&w), &v.language);
                        } else {
                            s.stop();
                        }
                    }
                }
            });
        })
    }

    /// Shows the window until it is closed or [`quit`] is called.
    pub fn run(self) -> anyhow::Result<()> {
        use slint::ComponentHandle;
        self.window.run()?;
        Ok(())
    }
}

/// Closes the window from any thread.
pub fn quit() {
    let _ = slint::invoke_from_event_loop(|| {
        let _ = slint::quit_event_loop();
    });
}
