//! Log lines on standard error, written for whoever reads them: a person at a terminal gets
//! colours and times; a pipe or a file gets plain text (no escape codes landing in a log as
//! `^[[31mERROR`); the journal (standard error connected to it, as `JOURNAL_STREAM` says) gets
//! each line with its syslog priority in front (`<3>` error, `<4>` warning, `<6>` info, `<7>`
//! debug), which journald takes as the line's priority, and no time of our own (the journal
//! keeps its own). Every binary of the project starts its logging here.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Where standard error goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// A terminal: colours and times.
    Terminal,
    /// The systemd journal: priorities, no colours, no times.
    Journal,
    /// A pipe or a file: plain lines with times.
    Plain,
}

impl Sink {
    /// Where this process's standard error goes now.
    pub fn of_stderr() -> Self {
        if std::io::stderr().is_terminal() {
            return Self::Terminal;
        }
        match std::env::var("JOURNAL_STREAM") {
            Ok(v) if stderr_is(&v) => Self::Journal,
            _ => Self::Plain,
        }
    }
}

/// Whether standard error is the stream `JOURNAL_STREAM` (`DEVICE:INODE`) names: systemd sets it
/// for the service's own standard streams, and a child whose standard error was redirected
/// elsewhere inherits the variable but not the stream.
fn stderr_is(journal_stream: &str) -> bool {
    let Some((dev, ino)) = journal_stream.split_once(':') else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    match rustix::fs::fstat(std::io::stderr()) {
        // Narrower than 64 bits on some targets.
        #[allow(clippy::unnecessary_cast)]
        Ok(st) => st.st_dev as u64 == dev && st.st_ino as u64 == ino,
        Err(_) => false,
    }
}

/// The syslog priority journald reads from a line's `<N>` prefix.
pub fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// Lines for the journal: the priority, then the line without a time or colours.
#[derive(Debug)]
pub struct JournalFormat(Format<Full, ()>);

impl Default for JournalFormat {
    fn default() -> Self {
        Self(Format::default().without_time().with_ansi(false))
    }
}

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", priority(event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
}

/// Starts logging to standard error for `sink`: `default` is the filter when `RUST_LOG` is not
/// set (`warn`, `info`, …).
pub fn init(default: &str) {
    init_for(Sink::of_stderr(), default);
}

/// [`init`] for a chosen sink.
pub fn init_for(sink: Sink, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match sink {
        Sink::Terminal => builder.with_ansi(true).try_init(),
        Sink::Plain => builder.with_ansi(false).try_init(),
        Sink::Journal => builder.event_format(JournalFormat::default()).try_init(),
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn journal_lines_carry_their_priority_and_no_colour_or_time() {
        let out = Buffer::default();
        let w = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || w.clone())
            .with_max_level(Level::DEBUG)
            .event_format(JournalFormat::default())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!("the lock does not answer");
            tracing::warn!(target: "security", "a card locked after 5 wrong PINs");
            tracing::info!(door = "Lemi", "door-agent ready");
            tracing::debug!("a poll");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("<3>") && lines[0].contains("the lock does not answer"));
        assert!(lines[1].starts_with("<4>") && lines[1].contains("security"));
        assert!(lines[2].starts_with("<6>") && lines[2].contains("door=\"Lemi\""));
        assert!(lines[3].starts_with("<7>"));
        assert!(!text.contains('\u{1b}'), "{text:?}");
        // No time of our own (the journal keeps one): the level follows the priority.
        for (line, level) in lines.iter().zip(["ERROR", "WARN", "INFO", "DEBUG"]) {
            assert!(line[3..].trim_start().starts_with(level), "{line}");
        }
    }

    #[test]
    fn a_journal_stream_that_is_not_our_stderr_is_not_the_journal() {
        assert!(!stderr_is("not-a-pair"));
        assert!(!stderr_is("1:x"));
        assert!(!stderr_is("0:0"));
    }
}
