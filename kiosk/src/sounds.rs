//! The kiosk's sounds: a short cue for each outcome a patron should notice without looking, and
//! one for items left on the pad when they are done. Each is a tune of pure tones, made here as
//! a WAV (16-bit mono, 22 050 Hz) and handed to a player on its standard input (`aplay -q` by
//! default, from Debian's alsa-utils; `[sound] player` names another, such as `paplay`, or an
//! ALSA device: `["aplay", "-q", "-D", "plughw:1,0"]`).
//!
//! The cues differ in shape, not only in pitch, for a patron who hears one pitch poorly: done
//! rises in two notes, refused falls in two long low ones, a notice is one middle note, and
//! items left on the pad are three quick high beeps.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Samples per second.
pub const RATE: u32 = 22_050;

/// What a patron should hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// Lent, renewed or returned.
    Done,
    /// Done, with something to know (offline, a hold waiting).
    Notice,
    /// Not done.
    Refused,
    /// Finished, with items still on the pad.
    LeftOnPad,
}

impl Cue {
    /// The tune: (frequency in Hz, 0 for a rest; milliseconds).
    pub fn notes(self) -> &'static [(f64, u32)] {
        match self {
            Self::Done => &[(660.0, 110), (0.0, 30), (880.0, 160)],
            Self::Notice => &[(587.0, 220)],
            Self::Refused => &[(330.0, 260), (0.0, 40), (220.0, 380)],
            Self::LeftOnPad => &[
                (1175.0, 120),
                (0.0, 90),
                (1175.0, 120),
                (0.0, 90),
                (1175.0, 120),
            ],
        }
    }

    /// The tune as a WAV file.
    pub fn wav(self) -> Vec<u8> {
        let mut samples: Vec<i16> = Vec::new();
        for &(freq, ms) in self.notes() {
            let n = (RATE as usize * ms as usize) / 1000;
            // 5 ms fades at each end: no clicks.
            let fade = (RATE as usize / 200).min(n / 2).max(1);
            for i in 0..n {
                let edge = i.min(n - 1 - i);
                let gain = if edge < fade {
                    edge as f64 / fade as f64
                } else {
                    1.0
                };
                let t = i as f64 / f64::from(RATE);
                let v = if freq > 0.0 {
                    (2.0 * std::f64::consts::PI * freq * t).sin() * 0.5 * gain
                } else {
                    0.0
                };
                samples.push((v * f64::from(i16::MAX)) as i16);
            }
        }
        let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX);
        let mut b = Vec::with_capacity(44 + samples.len() * 2);
        b.extend(b"RIFF");
        b.extend((36 + data_len).to_le_bytes());
        b.extend(b"WAVEfmt ");
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes()); // PCM
        b.extend(1u16.to_le_bytes()); // mono
        b.extend(RATE.to_le_bytes());
        b.extend((RATE * 2).to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(b"data");
        b.extend(data_len.to_le_bytes());
        for s in samples {
            b.extend(s.to_le_bytes());
        }
        b
    }
}

/// Plays cues through the player command; never waits for it.
#[derive(Debug, Clone)]
pub struct Player {
    command: Vec<String>,
    missing_logged: Arc<AtomicBool>,
}

impl Player {
    /// A player running `command` (program and arguments) with the WAV on its standard input;
    /// `None` plays nothing.
    pub fn new(command: Option<Vec<String>>) -> Option<Self> {
        let command = command.filter(|c| !c.is_empty())?;
        Some(Self {
            command,
            missing_logged: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Plays `cue` (in the background).
    pub fn play(&self, cue: Cue) {
        let Some((program, args)) = self.command.split_first() else {
            return;
        };
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                if !self.missing_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "sounds: {program} could not start: {e}; the kiosk stays silent"
                    );
                }
                return;
            }
        };
        std::thread::spawn(move || {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(&cue.wav());
            }
            let _ = child.wait();
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::speech::Wav;

    /// The pitch of `samples` by counting rising zero crossings.
    fn pitch(samples: &[i16]) -> f64 {
        let ups = samples.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
        ups as f64 * f64::from(RATE) / samples.len() as f64
    }

    /// The sounding stretches of a cue, each as (start, samples).
    fn notes(w: &Wav) -> Vec<Vec<i16>> {
        let mut out: Vec<Vec<i16>> = vec![];
        let mut current: Vec<i16> = vec![];
        let mut quiet = 0;
        for &s in &w.samples {
            if s.unsigned_abs() > 300 {
                quiet = 0;
                current.push(s);
            } else {
                quiet += 1;
                current.push(s);
                // 10 ms of silence ends a note.
                if quiet > RATE as usize / 100 && current.len() > quiet {
                    current.truncate(current.len() - quiet);
                    out.push(std::mem::take(&mut current));
                    quiet = 0;
                } else if quiet > RATE as usize / 100 {
                    current.clear();
                }
            }
        }
        if current.iter().any(|s| s.unsigned_abs() > 300) {
            out.push(current);
        }
        out
    }

    #[test]
    fn each_cue_has_its_own_shape_heard_in_its_samples() {
        let heard = |c: Cue| {
            let w = Wav::parse(&c.wav()).unwrap();
            assert_eq!((w.rate, w.channels), (RATE, 1));
            notes(&w).iter().map(|n| pitch(n)).collect::<Vec<f64>>()
        };
        let done = heard(Cue::Done);
        assert_eq!(done.len(), 2, "{done:?}");
        assert!(done[1] > done[0] * 1.2, "done rises: {done:?}");
        let refused = heard(Cue::Refused);
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[1] < refused[0] * 0.8, "refused falls: {refused:?}");
        assert!(
            refused[0] < done[0],
            "refused is lower: {refused:?} {done:?}"
        );
        let notice = heard(Cue::Notice);
        assert_eq!(notice.len(), 1, "{notice:?}");
        let left = heard(Cue::LeftOnPad);
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(left.iter().all(|p| (p - 1175.0).abs() < 60.0), "{left:?}");
        // Pitches within a few per cent of the tune.
        assert!((done[0] - 660.0).abs() < 30.0 && (refused[1] - 220.0).abs() < 15.0);
        // Short: a cue never holds a patron up.
        for c in [Cue::Done, Cue::Notice, Cue::Refused, Cue::LeftOnPad] {
            assert!(Wav::parse(&c.wav()).unwrap().seconds() < 0.8, "{c:?}");
        }
    }

    #[test]
    fn a_player_that_is_missing_is_said_once_and_nothing_breaks() {
        let p = Player::new(Some(vec!["/nonexistent/aplay".into()])).unwrap();
        p.play(Cue::Done);
        p.play(Cue::Refused);
        assert!(p.missing_logged.load(Ordering::Relaxed));
        assert!(Player::new(Some(vec![])).is_none());
        assert!(Player::new(None).is_none());
    }
}
