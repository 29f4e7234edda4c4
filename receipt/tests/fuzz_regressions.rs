//! Inputs the printer fuzz target (`fuzz/fuzz_targets/printer.rs`) once failed on, kept as
//! regressions: its property checked on the bytes written out below and on every file in
//! `fuzz-corpus/printer/` (add each new failure there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use receipt::escpos::{DLE, EOT, LF};
use receipt::render::{Paper, RenderError, Renderer, StatusRequest};

fn read(bytes: &[u8], piece: usize) -> (Paper, Vec<StatusRequest>, Vec<RenderError>) {
    let mut r = Renderer::new();
    let (mut requests, mut errors) = (Vec::new(), Vec::new());
    for p in bytes.chunks(piece) {
        let fed = r.feed(p);
        requests.extend(fed.requests);
        errors.extend(fed.errors);
    }
    (r.into_paper(), requests, errors)
}

/// The printer target's property: the first byte picks a piece size of 1 to 16, and the rest
/// read in such pieces reads as it does whole.
fn same_in_pieces(data: &[u8]) -> Result<(), String> {
    let Some((&size, bytes)) = data.split_first() else {
        return Ok(());
    };
    let whole = read(bytes, bytes.len().max(1));
    let pieces = read(bytes, usize::from(size % 16) + 1);
    if pieces == whole {
        Ok(())
    } else {
        Err(format!("whole: {whole:?}\npieces: {pieces:?}"))
    }
}

#[test]
fn a_status_request_behind_a_refused_byte_is_answered_at_once() {
    // Reading stopped at the stray byte; the request waited for the next read (the twin's
    // caller waited for its answer).
    let fed = Renderer::new().feed(&[0x07, DLE, EOT, 1]);
    assert_eq!(fed.requests, [StatusRequest(1)]);
    assert_eq!(
        fed.errors,
        [RenderError::StrayControl {
            offset: 0,
            byte: 0x07
        }]
    );
    same_in_pieces(&[0x00, 0x07, DLE, EOT, 1]).unwrap();
}

#[test]
fn a_status_request_before_a_refused_byte_is_not_lost() {
    // An error discarded the requests read before it in the same piece.
    let fed = Renderer::new().feed(&[DLE, EOT, 2, b'a', 0x07, LF]);
    assert_eq!(fed.requests, [StatusRequest(2)]);
    assert_eq!(fed.errors.len(), 1);
    same_in_pieces(&[0x00, DLE, EOT, 2, b'a', 0x07, LF]).unwrap();
}

#[test]
fn every_input_the_fuzzer_failed_on_reads_the_same_in_pieces() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus/printer");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if let Err(e) = same_in_pieces(&std::fs::read(&path).unwrap()) {
            panic!("{}: {e}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 8, "the corpus is there ({seen} files)");
}
