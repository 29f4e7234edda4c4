//! PIN pads: the trait, and a USB numeric keypad read from its Linux input device
//! (`/dev/input/by-id/…-event-kbd`). Only key presses are read; digits never reach a log.

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
const EVENT_SIZE: usize = if cfg!(target_pointer_width = "64") {
    24
} else {
    16
};
const EV_KEY: u16 = 1;

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
    let tail = bytes.get(EVENT_SIZE - 8..EVENT_SIZE)?;
    let kind = u16::from_ne_bytes([tail[0], tail[1]]);
    let code = u16::from_ne_bytes([tail[2], tail[3]]);
    let value = i32::from_ne_bytes([tail[4], tail[5], tail[6], tail[7]]);
    (kind == EV_KEY && value == 1)
        .then(|| key_of_code(code))
        .flatten()
}

/// A USB keypad read from its event device; reopened when unplugged.
#[derive(Debug)]
pub struct EvdevKeypad {
    path: String,
    file: Option<tokio::fs::File>,
    buf: Vec<u8>,
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
                Some(f) => f,
                None => {
                    let f =
                        tokio::fs::File::open(&self.path)
                            .await
                            .map_err(|e| DeviceError::Open {
                                device: self.path.clone(),
                                cause: e.to_string(),
                            })?;
                    self.file.insert(f)
                }
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
    let mut e = vec![0u8; EVENT_SIZE - 8];
    e.extend(EV_KEY.to_ne_bytes());
    e.extend(code.to_ne_bytes());
    e.extend(1i32.to_ne_bytes());
    e
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
