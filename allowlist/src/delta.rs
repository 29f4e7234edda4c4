//! Deltas: the changes from version N to version N+1.
//!
//! Body: u64 count and the card hashes removed (ascending), then u64 count and the entries added
//! or replaced (ascending, canonical encoding). A device merges its list with a delta into a new
//! whole body and checks that body's hash against the `list_hash` the delta's signed header names,
//! so a delta on the wrong base, or a merge gone wrong, never becomes the list in force.

use crate::card::CardHash;
use crate::entry::Entries;
use crate::{FormatError, Reader};

/// A parsed delta body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    /// Card hashes no longer in the list, ascending.
    pub removed: Vec<CardHash>,
    /// New or changed entries (canonical bytes), ascending by card hash.
    pub upserts: Vec<(CardHash, Vec<u8>)>,
}

/// Why a delta does not fit the list it is merged with.
#[derive(Debug, thiserror::Error)]
pub enum MergeError<E> {
    /// Reading the base failed.
    #[error("reading the held list: {0}")]
    Base(E),
    /// The base is not in ascending card-hash order.
    #[error("the held list is not in card-hash order")]
    BaseNotSorted,
    /// The delta removes a card the base does not hold: it was made for another base.
    #[error("the delta removes an entry the held list does not have (made for another base)")]
    NotInBase,
}

impl Delta {
    /// The changes that turn `old` into `new` (both ascending by card hash).
    pub fn between<'a>(
        old: impl IntoIterator<Item = (CardHash, &'a [u8])>,
        new: impl IntoIterator<Item = (CardHash, &'a [u8])>,
    ) -> Self {
        let mut d = Delta::default();
        let mut old = old.into_iter().peekable();
        let mut new = new.into_iter().peekable();
        loop {
            match (old.peek(), new.peek()) {
                (None, None) => break,
                (Some((ko, _)), Some((kn, _))) if ko == kn => {
                    let (Some((_, bo)), Some((k, bn))) = (old.next(), new.next()) else {
                        break;
                    };
                    if bo != bn {
                        d.upserts.push((k, bn.to_vec()));
                    }
                }
                (Some((ko, _)), Some((kn, _))) if kn < ko => {
                    if let Some((k, b)) = new.next() {
                        d.upserts.push((k, b.to_vec()));
                    }
                }
                (Some(_), _) => {
                    if let Some((k, _)) = old.next() {
                        d.removed.push(k);
                    }
                }
                (None, Some(_)) => {
                    if let Some((k, b)) = new.next() {
                        d.upserts.push((k, b.to_vec()));
                    }
                }
            }
        }
        d
    }

    /// The delta body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.removed.len() as u64).to_le_bytes());
        for k in &self.removed {
            out.extend_from_slice(&k.0);
        }
        out.extend_from_slice(&(self.upserts.len() as u64).to_le_bytes());
        for (_, b) in &self.upserts {
            out.extend_from_slice(b);
        }
        out
    }

    /// Reads a delta body, checking every entry and both orders.
    pub fn parse(body: &[u8]) -> Result<Self, FormatError> {
        let mut r = Reader::new(body);
        let n = r.u64("delta removal count")?;
        if n > (r.remaining() / 32) as u64 {
            return Err(FormatError::Truncated {
                what: "delta removals",
                need: (n as usize)
                    .saturating_mul(32)
                    .saturating_sub(r.remaining()),
            });
        }
        let mut removed = Vec::with_capacity(n as usize);
        for i in 0..n {
            let k = CardHash(r.array("delta removal")?);
            if removed.last().is_some_and(|l| *l >= k) {
                return Err(FormatError::NotSorted { index: i });
            }
            removed.push(k);
        }
        let n = r.u64("delta entry count")?;
        let rest = r.take(r.remaining(), "delta entries")?;
        let mut entries = Entries::new(rest, n);
        let mut upserts = Vec::new();
        for e in entries.by_ref() {
            let e = e?;
            if removed.binary_search(&e.entry.card).is_ok() {
                return Err(FormatError::Malformed {
                    what: "delta",
                    problem: "an entry is both removed and added".into(),
                });
            }
            upserts.push((e.entry.card, e.bytes.to_vec()));
        }
        if upserts.len() as u64 != n {
            return Err(FormatError::Truncated {
                what: "delta entries",
                need: 1,
            });
        }
        match rest.len() - entries.consumed() {
            0 => Ok(Self { removed, upserts }),
            extra => Err(FormatError::TrailingBytes(extra)),
        }
    }

    /// Merges a base list (entries ascending, as canonical bytes) with this delta: the new list's
    /// entries, ascending.
    pub fn merge<'d, E, I>(&'d self, base: I) -> Merge<'d, E, I::IntoIter>
    where
        I: IntoIterator<Item = Result<Vec<u8>, E>>,
    {
        Merge {
            base: base.into_iter(),
            head: None,
            last: None,
            delta: self,
            removed: 0,
            upserted: 0,
            done: false,
        }
    }
}

/// The merge of a base list with a delta; see [`Delta::merge`].
#[derive(Debug)]
pub struct Merge<'d, E, I: Iterator<Item = Result<Vec<u8>, E>>> {
    base: I,
    head: Option<(CardHash, Vec<u8>)>,
    last: Option<CardHash>,
    delta: &'d Delta,
    removed: usize,
    upserted: usize,
    done: bool,
}

impl<E, I: Iterator<Item = Result<Vec<u8>, E>>> Merge<'_, E, I> {
    fn fill(&mut self) -> Result<(), MergeError<E>> {
        if self.head.is_none() {
            if let Some(b) = self.base.next() {
                let b = b.map_err(MergeError::Base)?;
                let mut k = [0u8; 32];
                match b.get(..32) {
                    Some(s) => k.copy_from_slice(s),
                    None => return Err(MergeError::BaseNotSorted),
                }
                let k = CardHash(k);
                if self.last.is_some_and(|l| l >= k) {
                    return Err(MergeError::BaseNotSorted);
                }
                self.last = Some(k);
                self.head = Some((k, b));
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Vec<u8>>, MergeError<E>> {
        loop {
            self.fill()?;
            let up = self.delta.upserts.get(self.upserted);
            let Some((kb, _)) = &self.head else {
                if self.removed < self.delta.removed.len() {
                    return Err(MergeError::NotInBase);
                }
                self.upserted += 1;
                return Ok(up.map(|(_, b)| b.clone()));
            };
            let kb = *kb;
            if let Some(r) = self.delta.removed.get(self.removed) {
                if *r < kb {
                    return Err(MergeError::NotInBase);
                }
                if *r == kb {
                    self.removed += 1;
                    self.head = None;
                    continue;
                }
            }
            match up {
                Some((ku, b)) if *ku <= kb => {
                    if *ku == kb {
                        self.head = None;
                    }
                    self.upserted += 1;
                    return Ok(Some(b.clone()));
                }
                _ => return Ok(self.head.take().map(|(_, b)| b)),
            }
        }
    }
}

impl<E, I: Iterator<Item = Result<Vec<u8>, E>>> Iterator for Merge<'_, E, I> {
    type Item = Result<Vec<u8>, MergeError<E>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::tests::sample;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn list(cards: &[u8], twist: u8) -> Vec<(CardHash, Vec<u8>)> {
        let mut v: Vec<_> = cards
            .iter()
            .map(|c| {
                let mut e = sample(*c);
                if twist != 0 {
                    // Another verifier, as after a PIN change.
                    e.pin = crate::PinVerifier::Argon2id {
                        salt: [twist; 16],
                        output: [*c; 32],
                    };
                }
                (e.card, e.to_bytes())
            })
            .collect();
        v.sort();
        v.dedup_by(|a, b| a.0 == b.0);
        v
    }

    fn merged(base: &[(CardHash, Vec<u8>)], d: &Delta) -> Result<Vec<Vec<u8>>, MergeError<()>> {
        d.merge(base.iter().map(|(_, b)| Ok::<_, ()>(b.clone())))
            .collect()
    }

    proptest! {
        #[test]
        fn a_delta_turns_its_base_into_the_new_list(
            old in proptest::collection::btree_set(any::<u8>(), 0..40),
            new in proptest::collection::btree_map(any::<u8>(), any::<bool>(), 0..40),
        ) {
            let old_cards: Vec<u8> = old.iter().copied().collect();
            let old = list(&old_cards, 0);
            // Some kept entries change (another verifier), as after a PIN change.
            let new: Vec<(CardHash, Vec<u8>)> = new
                .iter()
                .flat_map(|(c, changed)| list(&[*c], u8::from(*changed)))
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .collect();
            let d = Delta::between(
                old.iter().map(|(k, b)| (*k, b.as_slice())),
                new.iter().map(|(k, b)| (*k, b.as_slice())),
            );
            let parsed = Delta::parse(&d.encode()).unwrap();
            prop_assert_eq!(&parsed, &d);
            let out = merged(&old, &parsed).unwrap();
            let want: Vec<Vec<u8>> = new.iter().map(|(_, b)| b.clone()).collect();
            prop_assert_eq!(out, want);
        }
    }

    #[test]
    fn a_delta_for_another_base_is_caught() {
        let old = list(&[1, 2, 3], 0);
        let new = list(&[1, 3], 0);
        let d = Delta::between(
            old.iter().map(|(k, b)| (*k, b.as_slice())),
            new.iter().map(|(k, b)| (*k, b.as_slice())),
        );
        let other = list(&[1, 3, 4], 0);
        assert!(matches!(merged(&other, &d), Err(MergeError::NotInBase)));
    }

    #[test]
    fn truncated_or_padded_deltas_are_errors() {
        let old = list(&[1, 2, 3, 5], 0);
        let new = list(&[1, 3, 4, 5], 1);
        let body = Delta::between(
            old.iter().map(|(k, b)| (*k, b.as_slice())),
            new.iter().map(|(k, b)| (*k, b.as_slice())),
        )
        .encode();
        for n in 0..body.len() {
            assert!(Delta::parse(&body[..n]).is_err(), "{n}");
        }
        let mut long = body.clone();
        long.push(0);
        assert!(Delta::parse(&long).is_err());
        let mut huge = body.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Delta::parse(&huge).is_err());
    }
}
