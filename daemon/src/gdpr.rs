//! What both daemons' `export` and `erase` commands share: the card number read from standard
//! input (never an argument, which `ps` and shell history would keep), and exports written
//! readable by their owner only.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use redact::CardNumber;

/// The card number typed or piped on standard input.
pub fn card_from_stdin() -> std::io::Result<CardNumber> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let card = line.trim();
    if card.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "no card number on standard input",
        ));
    }
    Ok(CardNumber::new(card))
}

/// Writes `bytes` to a new file (it must not exist yet) readable by this user only, durably.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "{}: cannot create (it must not exist yet): {e}",
                    path.display()
                ),
            )
        })?;
    f.write_all(bytes)?;
    f.sync_all()
}
