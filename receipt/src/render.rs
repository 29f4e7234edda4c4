//! Printer bytes back into what the paper shows: the test oracle for [`crate::escpos`] and the
//! heart of the printer simulator. It knows the commands a receipt printer is sent by common
//! self-service software and refuses anything else, so a wrong byte fails a test instead of
//! printing garbage unnoticed.

use crate::CodePage;
use crate::escpos::{Align, DLE, EOT, ESC, GS, LF};

/// One printed line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrintedLine {
    /// The text, decoded from the code page in force.
    pub text: String,
    /// Alignment in force when the line was printed.
    pub align: Align,
    /// Bold was on.
    pub bold: bool,
    /// Double size was on.
    pub large: bool,
}

/// What came out of the printer: receipts, each ended by a cut.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paper {
    /// Receipts that were cut off.
    pub receipts: Vec<Vec<PrintedLine>>,
    /// Lines printed since the last cut.
    pub uncut: Vec<PrintedLine>,
}

impl Paper {
    /// Every line of a receipt joined with newlines.
    pub fn text(lines: &[PrintedLine]) -> String {
        lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A byte sequence the renderer does not accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A command this renderer does not know.
    #[error("unknown printer command {command:02X?} at byte {offset}")]
    UnknownCommand {
        /// Where it started, counted over everything fed so far.
        offset: usize,
        /// The command's first bytes.
        command: Vec<u8>,
    },
    /// A known command with a parameter out of its range.
    #[error("printer command {command:02X?} at byte {offset} has a bad parameter")]
    BadParameter {
        /// Where it started.
        offset: usize,
        /// The whole command.
        command: Vec<u8>,
    },
    /// A control byte that is not a command.
    #[error("control byte {byte:#04X} at byte {offset}")]
    StrayControl {
        /// Where.
        offset: usize,
        /// The byte.
        byte: u8,
    },
}

/// A real-time status request (`DLE EOT n`) seen in the stream; the printer answers at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRequest(pub u8);

/// What one [`Renderer::feed`] found, in stream order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fed {
    /// Status requests to answer.
    pub requests: Vec<StatusRequest>,
    /// Bytes refused (each dropped, and reading went on after it).
    pub errors: Vec<RenderError>,
}

/// Reads printer bytes as they arrive, in pieces of any size: how the bytes are split does not
/// change what is printed, requested or refused.
#[derive(Debug)]
pub struct Renderer {
    pending: Vec<u8>,
    consumed: usize,
    page: CodePage,
    align: Align,
    bold: bool,
    large: bool,
    line: Vec<u8>,
    paper: Paper,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

enum Step {
    /// Consumed this many bytes.
    Took(usize),
    /// The command is not complete yet.
    More,
}

impl Renderer {
    /// A renderer in the printer's power-on state (code page PC437).
    pub fn new() -> Self {
        Self {
            pending: Vec::new(),
            consumed: 0,
            page: CodePage::Pc437,
            align: Align::Left,
            bold: false,
            large: false,
            line: Vec::new(),
            paper: Paper::default(),
        }
    }

    /// Reads `bytes` up to a command they end in the middle of (the next feed completes it);
    /// returns the status requests and the refused bytes among them. The bytes after a refused
    /// one are read too: a status request behind a stray byte is still answered.
    pub fn feed(&mut self, bytes: &[u8]) -> Fed {
        self.pending.extend_from_slice(bytes);
        let mut fed = Fed::default();
        let mut at = 0;
        while at < self.pending.len() {
            match self.step(at, &mut fed.requests) {
                Ok(Step::Took(n)) => at += n,
                Ok(Step::More) => break,
                Err((n, e)) => {
                    at += n;
                    fed.errors.push(e);
                }
            }
        }
        self.pending.drain(..at);
        self.consumed += at;
        fed
    }

    /// The paper so far (a line not yet ended by LF is not on it).
    pub fn paper(&self) -> &Paper {
        &self.paper
    }

    /// The paper so far, to take receipts off it.
    pub fn paper_mut(&mut self) -> &mut Paper {
        &mut self.paper
    }

    /// Everything printed, consuming the renderer.
    pub fn into_paper(self) -> Paper {
        self.paper
    }

    fn step(
        &mut self,
        at: usize,
        requests: &mut Vec<StatusRequest>,
    ) -> Result<Step, (usize, RenderError)> {
        let b = &self.pending[at..];
        let offset = self.consumed + at;
        let need = |n: usize| b.len() < n;
        let bad = |n: usize| {
            (
                n,
                RenderError::BadParameter {
                    offset,
                    command: b[..n].to_vec(),
                },
            )
        };
        match b[0] {
            LF => {
                self.end_line();
                Ok(Step::Took(1))
            }
            b'\r' => Ok(Step::Took(1)),
            ESC => {
                if need(2) {
                    return Ok(Step::More);
                }
                match b[1] {
                    b'@' => {
                        self.page = CodePage::Pc437;
                        self.align = Align::Left;
                        self.bold = false;
                        self.large = false;
                        Ok(Step::Took(2))
                    }
                    // ESC 2: default line spacing, no parameter.
                    b'2' => Ok(Step::Took(2)),
                    b't' | b'a' | b'E' | b'd' | b'!' | b'J' | b'M' | b'-' | b'3' => {
                        if need(3) {
                            return Ok(Step::More);
                        }
                        let n = b[2];
                        match b[1] {
                            b't' => {
                                self.page = CodePage::from_escpos_number(n).ok_or_else(|| bad(3))?
                            }
                            b'a' => self.align = Align::from_n(n).ok_or_else(|| bad(3))?,
                            b'E' => self.bold = n & 1 == 1,
                            b'!' => {
                                self.bold = n & 0x08 != 0;
                                self.large = n & 0x30 == 0x30;
                            }
                            b'd' => {
                                self.end_line_if_any();
                                for _ in 0..n {
                                    self.paper.uncut.push(self.blank());
                                }
                            }
                            _ => {}
                        }
                        Ok(Step::Took(3))
                    }
                    _ => Err((
                        2,
                        RenderError::UnknownCommand {
                            offset,
                            command: b[..2].to_vec(),
                        },
                    )),
                }
            }
            GS => {
                if need(2) {
                    return Ok(Step::More);
                }
                match b[1] {
                    b'!' | b'a' => {
                        if need(3) {
                            return Ok(Step::More);
                        }
                        if b[1] == b'!' {
                            self.large = b[2] & 0x77 != 0;
                        }
                        Ok(Step::Took(3))
                    }
                    b'V' => {
                        if need(3) {
                            return Ok(Step::More);
                        }
                        let len = match b[2] {
                            0 | 1 | 48 | 49 => 3,
                            65 | 66 => 4,
                            _ => return Err(bad(3)),
                        };
                        if need(len) {
                            return Ok(Step::More);
                        }
                        self.end_line_if_any();
                        let receipt = std::mem::take(&mut self.paper.uncut);
                        self.paper.receipts.push(receipt);
                        Ok(Step::Took(len))
                    }
                    _ => Err((
                        2,
                        RenderError::UnknownCommand {
                            offset,
                            command: b[..2].to_vec(),
                        },
                    )),
                }
            }
            DLE => {
                if need(3) {
                    return Ok(Step::More);
                }
                if b[1] != EOT {
                    return Err((
                        2,
                        RenderError::UnknownCommand {
                            offset,
                            command: b[..2].to_vec(),
                        },
                    ));
                }
                if !(1..=4).contains(&b[2]) {
                    return Err(bad(3));
                }
                requests.push(StatusRequest(b[2]));
                Ok(Step::Took(3))
            }
            c if c < 0x20 || c == 0x7F => Err((1, RenderError::StrayControl { offset, byte: c })),
            _ => {
                let run = b.iter().take_while(|&&c| c >= 0x20 && c != 0x7F).count();
                self.line.extend_from_slice(&b[..run]);
                Ok(Step::Took(run))
            }
        }
    }

    fn blank(&self) -> PrintedLine {
        PrintedLine {
            align: self.align,
            ..PrintedLine::default()
        }
    }

    fn end_line_if_any(&mut self) {
        if !self.line.is_empty() {
            self.end_line();
        }
    }

    fn end_line(&mut self) {
        let text = self.page.decode(&std::mem::take(&mut self.line));
        self.paper.uncut.push(PrintedLine {
            text,
            align: self.align,
            bold: self.bold,
            large: self.large,
        });
    }
}

/// Renders a whole byte stream at once; the first refused bytes are the error.
pub fn render(bytes: &[u8]) -> Result<Paper, RenderError> {
    let mut r = Renderer::new();
    match r.feed(bytes).errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(r.into_paper()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::escpos::{Op, encode};
    use proptest::prelude::*;

    #[test]
    fn encoded_operations_render_back_to_their_text_and_style() {
        let bytes = encode(&[
            Op::Initialize,
            Op::CodePage(CodePage::Pc850),
            Op::Align(Align::Center),
            Op::Large(true),
            Op::Line("Lauritsalan kirjasto".into()),
            Op::Large(false),
            Op::Align(Align::Left),
            Op::Bold(true),
            Op::Line("Eräpäivä 22.12.2026 – Förfallodag".into()),
            Op::Bold(false),
            Op::Feed(2),
            Op::Cut,
        ]);
        let paper = render(&bytes).unwrap();
        assert_eq!(paper.receipts.len(), 1);
        let r = &paper.receipts[0];
        assert_eq!(r[0].text, "Lauritsalan kirjasto");
        assert!(r[0].large && r[0].align == Align::Center);
        assert_eq!(r[1].text, "Eräpäivä 22.12.2026 - Förfallodag");
        assert!(r[1].bold && !r[1].large);
        assert_eq!(r.len(), 4, "two fed lines");
        assert!(paper.uncut.is_empty());
    }

    #[test]
    fn commands_split_across_reads_are_completed_by_the_next_read() {
        let bytes = encode(&[
            Op::Initialize,
            Op::CodePage(CodePage::Pc865),
            Op::Line("Åbo".into()),
            Op::Cut,
        ]);
        for cut in 0..bytes.len() {
            let mut r = Renderer::new();
            assert_eq!(r.feed(&bytes[..cut]), Fed::default());
            assert_eq!(r.feed(&bytes[cut..]), Fed::default());
            assert_eq!(Paper::text(&r.paper().receipts[0]), "Åbo", "split at {cut}");
        }
    }

    #[test]
    fn status_requests_are_reported_in_order() {
        let mut r = Renderer::new();
        let got = r.feed(&[DLE, EOT, 4, b'a', LF, DLE, EOT, 1]);
        assert_eq!(got.requests, vec![StatusRequest(4), StatusRequest(1)]);
        assert_eq!(r.paper().uncut[0].text, "a");
    }

    #[test]
    fn unknown_commands_and_stray_controls_are_refused_with_their_place() {
        assert_eq!(
            render(&[b'a', ESC, b'Z']),
            Err(RenderError::UnknownCommand {
                offset: 1,
                command: vec![ESC, b'Z']
            })
        );
        assert!(matches!(
            render(&[ESC, b't', 99]),
            Err(RenderError::BadParameter { offset: 0, .. })
        ));
        assert_eq!(
            render(&[0x07]),
            Err(RenderError::StrayControl { offset: 0, byte: 7 })
        );
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut r = Renderer::new();
            for chunk in bytes.chunks(7) {
                r.feed(chunk);
            }
        }

        #[test]
        fn any_text_prints_as_its_page_spelling(text in "[ -~åäöÅÄÖéü€\n]{0,60}") {
            let paper = render(&encode(&[Op::CodePage(CodePage::Pc858), Op::Line(text.clone())])).unwrap();
            prop_assert_eq!(&paper.uncut[0].text, &text.replace('\n', " "));
        }
    }
}
