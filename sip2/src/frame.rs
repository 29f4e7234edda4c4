//! Finding message boundaries in a byte stream.

use crate::DecodeError;

/// Where the next message ends in `buf`: `Ok(Some((frame_len, consumed)))` when a terminator is
/// there (`frame_len` excludes it, `consumed` includes CR, LF or CRLF), `Ok(None)` when more bytes
/// are needed, and an error when `max_len` bytes arrived without a terminator.
///
/// A bare LF ends a message too (some units send LF or CRLF); a LF right after a CR belongs to
/// that CR. Blank lines yield a zero-length frame, which the caller skips.
pub fn split_frame(buf: &[u8], max_len: usize) -> Result<Option<(usize, usize)>, DecodeError> {
    match buf.iter().position(|&b| b == b'\r' || b == b'\n') {
        Some(i) if i > max_len => Err(DecodeError::TooLong {
            len: i,
            max: max_len,
        }),
        Some(i) => {
            // A CR at the very end may still be followed by its LF; the next call then sees that
            // LF as an empty frame, which callers skip.
            let crlf = buf[i] == b'\r' && buf.get(i + 1) == Some(&b'\n');
            Ok(Some((i, i + 1 + usize::from(crlf))))
        }
        None if buf.len() > max_len => Err(DecodeError::TooLong {
            len: buf.len(),
            max: max_len,
        }),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cr_lf_and_crlf_all_end_a_message() {
        assert_eq!(split_frame(b"9900302.00\rnext", 100), Ok(Some((10, 11))));
        assert_eq!(split_frame(b"9900302.00\nnext", 100), Ok(Some((10, 11))));
        assert_eq!(split_frame(b"9900302.00\r\nnext", 100), Ok(Some((10, 12))));
    }

    #[test]
    fn partial_message_asks_for_more() {
        assert_eq!(split_frame(b"9900302", 100), Ok(None));
        assert_eq!(split_frame(b"", 100), Ok(None));
    }

    #[test]
    fn runaway_stream_without_terminator_is_an_error() {
        assert!(matches!(
            split_frame(&[b'A'; 101], 100),
            Err(DecodeError::TooLong { .. })
        ));
        assert!(matches!(
            split_frame(&[[b'A'; 101].as_slice(), b"\r"].concat(), 100),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn lone_lf_after_split_cr_is_an_empty_frame() {
        assert_eq!(split_frame(b"\n99", 100), Ok(Some((0, 1))));
    }
}
