//! A reader's LEDs, buzzer and display, and the door's feedback and words on them: a welcome
//! lights it green with a beep, a refusal red with three short ones, an alarm flashes it red
//! until cleared, a card asks for the PIN in amber; the words go to its text lines in ASCII.

use std::time::Duration;

use access::door::Feedback;
use osdp_cp::Output;
use osdp_cp::osdp::command::led::LedRecord;
use osdp_cp::osdp::command::{
    BuzzerControl, BuzzerTone, LedColor, LedControl, LedPermanent, LedTemporary, Text, TextCommand,
};
use tokio::sync::mpsc;

use super::convert;
use crate::display::{DisplayError, TextDisplay};

/// A reader's LEDs, buzzer and display. Commands go out between polls while the reader is up;
/// LEDs and beeps sent while it is not are dropped, the last words are shown when it comes up.
#[derive(Debug, Clone)]
pub struct OsdpOutputs {
    pub(super) tx: mpsc::Sender<Output>,
    pub(super) size: (usize, usize),
}

impl OsdpOutputs {
    fn send(&self, o: Result<Output, osdp_cp::osdp::Error>) {
        match o {
            // A full queue drops this one: the reader is slow or down, and the next says more.
            Ok(o) => {
                let _ = self.tx.try_send(o);
            }
            Err(e) => tracing::error!("OSDP output: {}", osdp_cp::wire::describe(&e)),
        }
    }

    /// The reader's LED in `color`: for `time` and then back, or for good when `None`;
    /// `blink` flashes it.
    pub fn led(&self, color: LedColor, time: Option<Duration>, blink: bool) {
        let (on, off) = if blink { (5, 5) } else { (1, 0) };
        let black = LedColor::Black;
        let record = match time {
            Some(t) => LedRecord {
                reader: 0,
                led: 0,
                temporary: LedTemporary {
                    control: 2,
                    on_time: on,
                    off_time: off,
                    on_color: color,
                    off_color: black,
                    timer: u16::try_from(t.as_millis() / 100).unwrap_or(u16::MAX),
                },
                permanent: LedPermanent {
                    control: 0,
                    on_time: 0,
                    off_time: 0,
                    on_color: black,
                    off_color: black,
                },
            },
            None => LedRecord {
                reader: 0,
                led: 0,
                temporary: LedTemporary {
                    control: 0,
                    on_time: 0,
                    off_time: 0,
                    on_color: black,
                    off_color: black,
                    timer: 0,
                },
                permanent: LedPermanent {
                    control: 1,
                    on_time: on,
                    off_time: off,
                    on_color: color,
                    off_color: black,
                },
            },
        };
        self.send(Output::led(&LedControl::new(vec![record])));
    }

    /// `times` beeps of `on` each.
    pub fn beep(&self, times: u8, on: Duration) {
        let tenths = u8::try_from(on.as_millis() / 100).unwrap_or(u8::MAX).max(1);
        self.send(Output::buzzer(&BuzzerControl {
            reader: 0,
            tone: BuzzerTone::Default,
            on_time: tenths,
            off_time: tenths,
            count: times,
        }));
    }

    /// `text` on line `row` (from 1) of the reader's display, in ASCII, cut to its width.
    pub fn text(&self, row: u8, text: &str) {
        let line = format!(
            "{:width$}",
            convert::ascii(text, self.size.0),
            width = self.size.0
        );
        self.send(Output::text(&Text {
            reader: 0,
            command: TextCommand::PermanentNoWrap,
            temp_time_s: 0,
            row,
            column: 1,
            text: line.into_bytes(),
        }));
    }

    /// A sink for the door's feedback: a welcome lights the reader green with a beep, a refusal
    /// red with three short ones, an alarm flashes it red until cleared, a card asks for the PIN
    /// in amber. (The words go to it as a [`TextDisplay`].) Must be called inside a runtime.
    pub fn feedback(&self) -> mpsc::Sender<Feedback> {
        let (tx, mut rx) = mpsc::channel::<Feedback>(16);
        let out = self.clone();
        tokio::spawn(async move {
            while let Some(f) = rx.recv().await {
                match f {
                    Feedback::EnterPin => {
                        out.led(LedColor::Amber, Some(Duration::from_secs(20)), false)
                    }
                    Feedback::Welcome { .. } => {
                        out.led(LedColor::Green, Some(Duration::from_secs(3)), false);
                        out.beep(1, Duration::from_millis(200));
                    }
                    Feedback::Denied { .. } => {
                        out.led(LedColor::Red, Some(Duration::from_secs(3)), false);
                        out.beep(3, Duration::from_millis(100));
                    }
                    Feedback::Alarm(_) => out.led(LedColor::Red, None, true),
                    Feedback::AlarmCleared(_) => out.led(LedColor::Black, None, false),
                    _ => {}
                }
            }
        });
        tx
    }
}

impl TextDisplay for OsdpOutputs {
    fn size(&self) -> (usize, usize) {
        self.size
    }

    fn show(&mut self, lines: &[String]) -> Result<(), DisplayError> {
        for row in 0..self.size.1 {
            let text = lines.get(row).map_or("", String::as_str);
            self.text(u8::try_from(row + 1).unwrap_or(u8::MAX), text);
        }
        Ok(())
    }
}
