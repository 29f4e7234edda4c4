//! PIN pads: the trait, and a USB numeric keypad read from its Linux input device
//! (`/dev/input/by-id/…-event-kbd`). Only key presses are read; digits never reach a log.
//! Also what every input-device reader here shares: opening a device grabbed ([`open_input`])
//! and the `input_event` record ([`read_event`]).

use std::future::Future;
use std::time::Duration;

use access::pin::Key;
use tokio::io::AsyncReadExt;

use crate::DeviceError;

/// A keypad. `Ok(None)` means it has stopped for good.
pub trait PinPad: Send {
    /// The next key pressed.
    fn next_key(&mut self) -> impl Future<Output = Result<Option<Key>, DeviceError>> + Send;
}

/// `struct input_event` on this machine: a `timeval` (two longs), type, code, value.
pub const EVENT_SIZE: usize = if cfg!(target_pointer_width = "64") {
    24
} else {
    16
};
const EV_KEY: u16 = 1;

/// An input device opened for reading `input_event`s: the file, and the evdev handle whose
/// grab (`EVIOCGRAB`) keeps the device's keystrokes from every other reader (the console, a
/// desktop) for as long as it lives.
pub(crate) struct OpenedInput {
    pub(crate) file: tokio::fs::File,
    pub(crate) _grab: Option<evdev::raw_stream::RawDevice>,
}

/// Opens `path` grabbed. A character device must be an input device and must be grabbed (else
/// a scanned card would be typed into whatever has the focus); a FIFO or a file is a recording
/// of `input_event`s (the tests': this machine has no uinput) and is read as it is.
pub(crate) async fn open_input(path: &str) -> Result<OpenedInput, DeviceError> {
    use std::os::unix::fs::FileTypeExt;
    let open = |cause: String| DeviceError::Open {
        device: path.to_owned(),
        cause,
    };
    let owned = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&owned).map_err(|e| e.to_string())?;
        let is_device = file
            .metadata()
            .map(|m| m.file_type().is_char_device())
            .map_err(|e| e.to_string())?;
        let grab = if is_device {
            let fd = file.try_clone().map_err(|e| e.to_string())?;
            let mut dev = evdev::raw_stream::RawDevice::from_fd(fd.into())
                .map_err(|e| format!("not an input device ({e})"))?;
            dev.grab().map_err(|e| {
                format!(
                    "cannot grab it for this reader alone ({e}): is another program holding it?"
                )
            })?;
            Some(dev)
        } else {
            None
        };
        Ok(OpenedInput {
            file: tokio::fs::File::from_std(file),
            _grab: grab,
        })
    })
    .await
    .map_err(|e| open(e.to_string()))?
    .map_err(open)
}

/// Reads one `input_event`: its type, code and value.
pub fn read_event(bytes: &[u8]) -> Option<(u16, u16, i32)> {
    let tail = bytes.get(EVENT_SIZE.checked_sub(8)?..EVENT_SIZE)?;
    let kind = u16::from_ne_bytes([tail[0], tail[1]]);
    let code = u16::from_ne_bytes([tail[2], tail[3]]);
    let value = i32::from_ne_bytes([tail[4], tail[5], tail[6], tail[7]]);
    Some((kind, code, value))
}

/// A key event (`EV_KEY`) as an `input_event`, time zero: value 1 a press, 0 a release. For
/// twins, recordings and tests.
pub fn encode_key_event(code: u16, value: i32) -> Vec<u8> {
    let mut e = vec![0u8; EVENT_SIZE - 8];
    e.extend(EV_KEY.to_ne_bytes());
    e.extend(code.to_ne_bytes());
    e.extend(value.to_ne_bytes());
    e
}

/// The key code and value of an `EV_KEY` event; nothing for other events (sync, scan codes).
pub fn key_event(bytes: &[u8]) -> Option<(u16, i32)> {
    read_event(bytes)
        .filter(|(kind, _, _)| *kind == EV_KEY)
        .map(|(_, code, value)| (code, value))
}

/// The key a Linux key code means on a numeric keypad or the top row.
pub fn key_of_code(code: u16) -> Option<Key> {
    Some(match code {
        // KEY_1..KEY_9, KEY_0
        2..=10 => Key::Digit(u8::try_from(code - 1).ok()?),
        11 => Key::Digit(0),
        // KEY_KP7 KP8 KP9, KP4 KP5 KP6, KP1 KP2 KP3, KP0
        71 => Key::Digit(7),
        72 => Key::Digit(8),
        73 => Key::Digit(9),
        75 => Key::Digit(4),
        76 => Key::Digit(5),
        77 => Key::Digit(6),
        79 => Key::Digit(1),
        80 => Key::Digit(2),
        81 => Key::Digit(3),
        82 => Key::Digit(0),
        // KEY_KPASTERISK, KEY_BACKSPACE, KEY_ESC, KEY_KPMINUS, KEY_DELETE
        55 | 14 | 1 | 74 | 111 => Key::Clear,
        // KEY_KPENTER, KEY_ENTER, KEY_KPPLUS (a "#" on many keypads)
        96 | 28 | 78 => Key::Submit,
        _ => return None,
    })
}

/// Decodes one `input_event`: a key when it is a press of a key we know.
pub fn decode_event(bytes: &[u8]) -> Option<Key> {
    match key_event(bytes)? {
        (code, 1) => key_of_code(code),
        _ => None,
    }
}

/// A USB keypad read from its event device, grabbed; reopened when unplugged.
pub struct EvdevKeypad {
    path: String,
    file: Option<OpenedInput>,
    buf: Vec<u8>,
}

impl std::fmt::Debug for EvdevKeypad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvdevKeypad")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EvdevKeypad {
    /// A keypad at `path` (opened on first use).
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            file: None,
            buf: Vec::new(),
        }
    }
}

impl PinPad for EvdevKeypad {
    async fn next_key(&mut self) -> Result<Option<Key>, DeviceError> {
        loop {
            while self.buf.len() >= EVENT_SIZE {
                let event: Vec<u8> = self.buf.drain(..EVENT_SIZE).collect();
                if let Some(k) = decode_event(&event) {
                    return Ok(Some(k));
                }
            }
            let file = match &mut self.file {
                Some(f) => &mut f.file,
                None => &mut self.file.insert(open_input(&self.path).await?).file,
            };
            let mut chunk = [0u8; EVENT_SIZE * 8];
            match file.read(&mut chunk).await {
                Ok(0) => {
                    // End of a FIFO or a file: wait for more rather than spin.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) => {
                    self.file = None;
                    self.buf.clear();
                    return Err(DeviceError::Io {
                        device: self.path.clone(),
                        cause: e.to_string(),
                    });
                }
            }
        }
    }
}

/// Encodes a key press as an `input_event` (for simulated keypads and tests).
pub fn encode_press(code: u16) -> Vec<u8> {
    encode_key_event(code, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keypad_codes() {
        assert_eq!(decode_event(&encode_press(79)), Some(Key::Digit(1)));
        assert_eq!(decode_event(&encode_press(82)), Some(Key::Digit(0)));
        assert_eq!(decode_event(&encode_press(11)), Some(Key::Digit(0)));
        assert_eq!(decode_event(&encode_press(10)), Some(Key::Digit(9)));
        assert_eq!(decode_event(&encode_press(96)), Some(Key::Submit));
        assert_eq!(decode_event(&encode_press(55)), Some(Key::Clear));
        assert_eq!(decode_event(&encode_press(30)), None);
        let mut release = encode_press(79);
        let n = release.len();
        release[n - 4..].copy_from_slice(&0i32.to_ne_bytes());
        assert_eq!(decode_event(&release), None);
        assert_eq!(decode_event(&[0u8; 3]), None);
    }
}
