//! Inputs the tag fuzz target (`fuzz/fuzz_targets/tag.rs`) once failed on, kept as regressions:
//! its property checked on the bytes written out below and on every file in `fuzz-corpus/tag/`
//! (named by what went wrong; add each new failure there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use iso28560::{DataModel, ItemTag, TagError, decode, part2::Part2Error, part3};

/// The tag target's property: the first byte is a DSFID, the rest the tag's memory; read with
/// and without the DSFID, a tag that decodes re-encodes into bytes that decode, with no DSFID,
/// to the same tag.
fn round_trip(data: &[u8]) -> Result<(), String> {
    let (dsfid, memory) = match data.split_first() {
        Some((d, m)) => (Some(*d), m),
        None => (None, data),
    };
    for dsfid in [None, dsfid] {
        let Ok((tag, _)) = decode(memory, dsfid) else {
            continue;
        };
        let Ok(bytes) = tag.encode(memory.len().max(64)) else {
            continue;
        };
        let again = decode(&bytes, None)
            .map_err(|e| format!("DSFID {dsfid:?}: our own encoding does not decode: {e:?}"))?
            .0;
        if again != tag {
            return Err(format!("DSFID {dsfid:?}: {tag:?} came back as {again:?}"));
        }
    }
    Ok(())
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

#[test]
fn a_space_only_item_is_no_item() {
    // Seven-bit " " (and a pad bit): it was re-encoded six-bit, whose padding read as a space
    // that was trimmed, so our own encoding held no item.
    let input = hex("03 00 41 01 51");
    round_trip(&input).unwrap();
    assert_eq!(
        decode(&part3::reverse_blocks(&input[1..]), None),
        Err(TagError::Part2(Part2Error::NoItem))
    );
}

#[test]
fn an_items_surrounding_white_space_is_not_part_of_it() {
    // Seven-bit "@ \0": the trailing space did not survive six-bit compaction.
    let input = hex("06 80 80 d1 80 80 03 80 80 00 07");
    round_trip(&input).unwrap();
    let (tag, _) = decode(&input[1..], Some(0x06)).unwrap();
    assert_eq!(tag.item, "@");
    let spaced = ItemTag::new(DataModel::Part2, "@ ", None);
    assert_eq!(
        spaced.encode(64),
        Err(TagError::Part2(Part2Error::ItemNotText))
    );
    let spaced = ItemTag::new(DataModel::Part3, " 1234", None);
    assert_eq!(
        spaced.encode(32),
        Err(TagError::Part3(part3::Part3Error::ItemNotText))
    );
}

#[test]
fn a_part2_image_is_never_taken_for_a_part3_block() {
    // A part 2 item whose plain image carries a valid part 3 CRC by chance, read as part 3's
    // part 5 of 1 (the header's length byte); found by searching, like the fuzzer's ones below.
    let input = hex("06 80 c1 00 05 6f 25 73 49 78");
    round_trip(&input).unwrap();
    let (tag, _) = decode(&input[1..], Some(0x06)).unwrap();
    assert_eq!(tag.model, DataModel::Part2);
    let bytes = tag.encode(64).unwrap();
    assert!(!part3::looks_like(&bytes));
    assert_eq!(decode(&bytes, None).unwrap().0, tag);
    for name in [
        "part2-crc-collision-item-not-text-c421",
        "part2-crc-collision-no-item-f1f6",
    ] {
        round_trip(&std::fs::read(corpus().join(name)).unwrap()).unwrap();
    }
}

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus/tag")
}

#[test]
fn every_input_the_fuzzer_failed_on_round_trips() {
    let mut seen = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if let Err(e) = round_trip(&data) {
            panic!("{}: {e}", path.display());
        }
        seen += 1;
    }
    assert!(seen >= 18, "the corpus is there ({seen} files)");
}

#[test]
fn a_part2_dsfid_wins_over_a_part3_crc_by_chance() {
    // What the part 2 encoder wrote before it learnt to move such an image (a tag written by
    // another encoder can look the same): with its DSFID it reads as the part 2 tag it is;
    // without, nothing can tell it from part 3's part 5 of 1.
    let mut image = hex("c1 00 05 6f 25 73 49 78");
    image.resize(64, 0);
    assert!(part3::looks_like(&image));
    assert_eq!(
        decode(&image, None),
        Err(TagError::BadSet { part: 5, parts: 1 })
    );
    let (tag, _) = decode(&image, Some(iso28560::tag::DSFID_PART2)).unwrap();
    assert_eq!((tag.model, tag.item.as_str()), (DataModel::Part2, "[2U3RW"));
}
