//! What the technicians' tools (`registry` and `offline`) share, behind the `cli` feature (the
//! daemons link this crate without it): reading a PIN without it ever being on the command line,
//! and logging to stderr.

use std::io::{BufRead, IsTerminal};

/// Reads a PIN: a prompt without echo on a terminal, else one line of standard input.
pub fn read_pin() -> std::io::Result<redact::Pin> {
    let pin = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("PIN: ")?
    } else {
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line)? == 0 {
            // Nothing at all (an empty file, /dev/null), which is not an empty PIN line.
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "standard input ended before a PIN line",
            ));
        }
        line
    };
    Ok(redact::Pin::new(pin.trim_end_matches(['\r', '\n'])))
}

/// Logs to stderr: warnings (security events among them), or progress with `verbose`;
/// `RUST_LOG` overrides.
pub fn init_logging(verbose: bool) {
    daemon::logging::init(if verbose { "info" } else { "warn" });
}
