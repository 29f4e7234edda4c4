//! Spoken guidance: what the screen says, read aloud by espeak-ng in the screen's language
//! (Finnish, Swedish or English voices), for a patron who cannot read the screen. The patron
//! turns it on with the "Read aloud" button; it speaks each new screen once, cutting off what
//! it was saying, and stops when turned off or when the next patron comes.
//!
//! espeak-ng runs as a child process (Debian's `espeak-ng` package): it plays to the default
//! sound device, or writes a WAV file ([`to_wav`]) for the tests, which judge the file as
//! sound: a RIFF WAVE of mono 16-bit samples whose length fits the words and which is not
//! silence ([`Wav`]).

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The program.
pub const ESPEAK: &str = "espeak-ng";

/// Words per minute: slower than espeak-ng's 175, for a patron who needs it.
const RATE: &str = "150";

/// espeak-ng's voice for a screen language.
pub fn voice(language: &str) -> &'static str {
    match language {
        "sv" => "sv",
        "en" => "en",
        _ => "fi",
    }
}

/// Speaks on the kiosk's sound device.
#[derive(Debug, Default)]
pub struct Speaker {
    child: Option<Child>,
    said: Option<(String, String)>,
    missing_logged: bool,
}

impl Speaker {
    /// Says `text` in `language` unless it is what was said last; stops what was being said.
    pub fn say(&mut self, text: &str, language: &str) {
        let now = (text.to_owned(), language.to_owned());
        if self.said.as_ref() == Some(&now) || text.trim().is_empty() {
            return;
        }
        self.stop();
        match Command::new(ESPEAK)
            .args(["-v", voice(language), "-s", RATE, "--", text])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => self.child = Some(child),
            Err(e) if !self.missing_logged => {
                tracing::error!(
                    "spoken guidance: {ESPEAK} could not start: {e} (install Debian's espeak-ng)"
                );
                self.missing_logged = true;
            }
            Err(_) => {}
        }
        self.said = Some(now);
    }

    /// Stops speaking, and forgets what was said (the same words are said again next time).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.said = None;
    }
}

impl Drop for Speaker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Speaks `text` in `language` into the WAV file `path`.
pub fn to_wav(text: &str, language: &str, path: &Path) -> std::io::Result<()> {
    let out = Command::new(ESPEAK)
        .args(["-v", voice(language), "-s", RATE, "-w"])
        .arg(path)
        .args(["--", text])
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "{ESPEAK} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// A WAV file's sound, as read from its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Wav {
    /// Samples per second.
    pub rate: u32,
    /// Channels.
    pub channels: u16,
    /// The samples (16-bit, the first channel).
    pub samples: Vec<i16>,
}

impl Wav {
    /// Reads a RIFF WAVE file of 16-bit PCM.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err("not a RIFF WAVE file".into());
        }
        let mut at = 12;
        let mut format: Option<(u16, u16, u32, u16)> = None;
        while at + 8 <= bytes.len() {
            let id = &bytes[at..at + 4];
            let len =
                u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
                    as usize;
            let body = at + 8;
            let end = body.saturating_add(len).min(bytes.len());
            let chunk = &bytes[body..end];
            let u16_at = |i: usize| {
                chunk
                    .get(i..i + 2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
            };
            match id {
                b"fmt " => {
                    let (Some(tag), Some(channels), Some(bits)) =
                        (u16_at(0), u16_at(2), u16_at(14))
                    else {
                        return Err("a short fmt chunk".into());
                    };
                    let rate = chunk
                        .get(4..8)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .unwrap_or(0);
                    format = Some((tag, channels, rate, bits));
                }
                // espeak-ng writing to a file it cannot seek leaves the sizes 0x7fffffff:
                // the data runs to the end.
                b"data" => {
                    let Some((tag, channels, rate, bits)) = format else {
                        return Err("data before fmt".into());
                    };
                    if tag != 1 || bits != 16 || channels == 0 {
                        return Err(format!(
                            "format {tag}, {bits} bits, {channels} channels: not 16-bit PCM"
                        ));
                    }
                    let frame = 2 * usize::from(channels);
                    let samples = chunk
                        .chunks_exact(frame)
                        .map(|f| i16::from_le_bytes([f[0], f[1]]))
                        .collect();
                    return Ok(Self {
                        rate,
                        channels,
                        samples,
                    });
                }
                _ => {}
            }
            at = body + len + (len & 1);
        }
        Err("no data chunk".into())
    }

    /// How long it plays, in seconds.
    pub fn seconds(&self) -> f64 {
        if self.rate == 0 {
            return 0.0;
        }
        self.samples.len() as f64 / f64::from(self.rate)
    }

    /// The share of 20 ms windows louder than near-silence (RMS over 1 % of full scale):
    /// speech has pauses, silence has nothing else.
    pub fn voiced_share(&self) -> f64 {
        let window = (self.rate as usize / 50).max(1);
        let windows: Vec<f64> = self
            .samples
            .chunks(window)
            .map(|w| {
                let sum: f64 = w.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
                (sum / w.len() as f64).sqrt()
            })
            .collect();
        if windows.is_empty() {
            return 0.0;
        }
        windows.iter().filter(|&&rms| rms > 327.0).count() as f64 / windows.len() as f64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn wav(rate: u32, samples: &[i16]) -> Vec<u8> {
        let mut b = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        b.extend(16u32.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(1u16.to_le_bytes());
        b.extend(rate.to_le_bytes());
        b.extend((rate * 2).to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(16u16.to_le_bytes());
        b.extend(b"data");
        b.extend(((samples.len() * 2) as u32).to_le_bytes());
        for s in samples {
            b.extend(s.to_le_bytes());
        }
        b
    }

    #[test]
    fn a_wav_is_read_as_sound_and_silence_is_told_from_a_voice() {
        let silence = Wav::parse(&wav(1000, &[0; 2000])).unwrap();
        assert_eq!(silence.seconds(), 2.0);
        assert_eq!(silence.voiced_share(), 0.0);
        let tone: Vec<i16> = (0..2000)
            .map(|i| if i % 2 == 0 { 8000 } else { -8000 })
            .collect();
        let loud = Wav::parse(&wav(1000, &tone)).unwrap();
        assert_eq!(loud.voiced_share(), 1.0);
        assert!(Wav::parse(b"RIFF\0\0\0\0AVI ").is_err());
        assert!(Wav::parse(&wav(1000, &[])[..30]).is_err());
    }

    #[test]
    fn each_screen_language_has_its_voice() {
        assert_eq!(voice("fi"), "fi");
        assert_eq!(voice("sv"), "sv");
        assert_eq!(voice("en"), "en");
        assert_eq!(voice("de"), "fi");
    }
}
