//! The pad's tags over time, as a pure type: fed each inventory with the instant it was taken, it
//! says which tags arrived and left, which have lain still long enough to be read, what their
//! reads said, and the items they make — single items, sets complete or with parts missing, tags
//! that cannot be read. No I/O and no clock: the caller reads the tags ([`crate::tags::read`])
//! and hands the results back.
//!
//! It also remembers which items were acted on this session, so an item on the pad is lent (or
//! returned) once; one that failed can be tried again by lifting every part off and putting it
//! back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use iso28560::ItemTag;

use crate::stack::{PadItem, TagRead, group};

/// A tag's UID.
pub type Uid = [u8; 8];

/// Reads of a tag before it is given up on and shown as unreadable.
pub const READ_TRIES: u32 = 3;

/// What changed on the pad at one inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    /// Tags not on the pad at the inventory before, in inventory order.
    pub arrived: Vec<Uid>,
    /// Tags gone since the inventory before.
    pub left: Vec<Uid>,
}

#[derive(Debug)]
struct Tag {
    /// When it was first seen in this stay on the pad.
    since: Instant,
    read: Option<Result<ItemTag, String>>,
    tries: u32,
}

impl Tag {
    /// Read, or given up on: an unreadable tag is not read again on every inventory.
    fn known(&self) -> bool {
        self.read.as_ref().is_some_and(Result::is_ok) || self.tries >= READ_TRIES
    }
}

/// The tags on the pad and the items acted on this session.
#[derive(Debug)]
pub struct Pad {
    settle: Duration,
    now: Option<Instant>,
    /// In the order of the last inventory.
    order: Vec<Uid>,
    tags: BTreeMap<Uid, Tag>,
    /// Items acted on, with their tags (none when scanned).
    handled: BTreeMap<String, Vec<Uid>>,
}

impl Pad {
    /// An empty pad whose tags are read once they have lain still for `settle` (zero: at once).
    pub fn new(settle: Duration) -> Self {
        Self {
            settle,
            now: None,
            order: Vec::new(),
            tags: BTreeMap::new(),
            handled: BTreeMap::new(),
        }
    }

    /// The tags on the pad at `now`. A tag that left and came back starts settling again and is
    /// read again.
    pub fn inventory(&mut self, now: Instant, uids: &[Uid]) -> Seen {
        self.now = Some(now);
        let mut order: Vec<Uid> = Vec::with_capacity(uids.len());
        for u in uids {
            if !order.contains(u) {
                order.push(*u);
            }
        }
        let left: Vec<Uid> = self
            .order
            .iter()
            .filter(|u| !order.contains(u))
            .copied()
            .collect();
        self.tags.retain(|u, _| order.contains(u));
        let mut arrived = Vec::new();
        for u in &order {
            self.tags.entry(*u).or_insert_with(|| {
                arrived.push(*u);
                Tag {
                    since: now,
                    read: None,
                    tries: 0,
                }
            });
        }
        self.order = order;
        Seen { arrived, left }
    }

    /// Tags to read now: settled, and neither read nor given up on.
    pub fn to_read(&self) -> Vec<Uid> {
        let Some(now) = self.now else {
            return vec![];
        };
        self.order
            .iter()
            .filter(|u| {
                self.tags
                    .get(*u)
                    .is_some_and(|t| !t.known() && t.since + self.settle <= now)
            })
            .copied()
            .collect()
    }

    /// A read of `uid`'s data (ignored if the tag has left meanwhile).
    pub fn read(&mut self, uid: Uid, data: Result<ItemTag, String>) {
        if let Some(t) = self.tags.get_mut(&uid) {
            t.tries += 1;
            t.read = Some(data);
        }
    }

    /// When the next tag on the pad settles, if one is still settling: the caller takes an
    /// inventory then.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let now = self.now?;
        self.tags
            .values()
            .map(|t| t.since + self.settle)
            .filter(|at| *at > now)
            .min()
    }

    /// The items on the pad, in the order of the inventory: tags read (or given up on), grouped.
    /// A patron's RFID library card on the pad is not an item: never sent, never shown.
    pub fn items(&self) -> Vec<PadItem> {
        let reads: Vec<TagRead> = self
            .order
            .iter()
            .filter_map(|u| {
                let t = self.tags.get(u)?;
                if !t.known() {
                    return None;
                }
                let data = t.read.clone()?;
                if data
                    .as_ref()
                    .is_ok_and(|tag| tag.usage.is_some_and(|u| u.class() == 8))
                {
                    return None;
                }
                Some(TagRead { uid: *u, data })
            })
            .collect();
        group(&reads)
    }

    /// Whether `uid` was on the pad at the last inventory.
    pub fn on_pad(&self, uid: &Uid) -> bool {
        self.tags.contains_key(uid)
    }

    /// What `uid` says, when it is on the pad and was read.
    pub fn tag(&self, uid: &Uid) -> Option<&ItemTag> {
        self.tags.get(uid)?.read.as_ref()?.as_ref().ok()
    }

    /// The tags on the pad read as `item`'s, in inventory order (for an item scanned by its
    /// barcode, whose tags must be switched too).
    pub fn uids_of(&self, item: &str) -> Vec<Uid> {
        self.order
            .iter()
            .filter(|u| self.tag(u).is_some_and(|t| t.item == item))
            .copied()
            .collect()
    }

    /// Whether `item` was acted on this session.
    pub fn handled(&self, item: &str) -> bool {
        self.handled.contains_key(item)
    }

    /// Marks `item` as acted on with these tags; false when it already was.
    pub fn claim(&mut self, item: &str, uids: Vec<Uid>) -> bool {
        if self.handled.contains_key(item) {
            return false;
        }
        self.handled.insert(item.to_owned(), uids);
        true
    }

    /// Marks `item` as acted on again (a scanned item tried anew after it failed).
    pub fn reclaim(&mut self, item: &str, uids: Vec<Uid>) {
        self.handled.insert(item.to_owned(), uids);
    }

    /// Forgets items that `failed` and whose tags have all left the pad, so that putting them
    /// back tries them again. Items acted on by barcode alone are kept.
    pub fn retry_lifted(&mut self, failed: impl Fn(&str) -> bool) {
        let tags = &self.tags;
        self.handled.retain(|item, uids| {
            !(failed(item) && !uids.is_empty() && uids.iter().all(|u| !tags.contains_key(u)))
        });
    }

    /// A new session: nothing acted on yet (the tags stay as read).
    pub fn forget_handled(&mut self) {
        self.handled.clear();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use iso28560::{DataModel, Usage};

    const SETTLE: Duration = Duration::from_millis(300);

    fn part(item: &str, part: u8, parts: u8) -> Result<ItemTag, String> {
        Ok(ItemTag::new(DataModel::Part3, item, None).part_of(part, parts))
    }

    fn uid(n: u8) -> Uid {
        [n; 8]
    }

    /// A pad at `t0` and the instant `ms` after it.
    fn start() -> (Pad, impl Fn(u64) -> Instant) {
        let t0 = Instant::now();
        (Pad::new(SETTLE), move |ms| t0 + Duration::from_millis(ms))
    }

    #[test]
    fn a_tag_arrives_settles_is_read_and_leaves() {
        let (mut pad, at) = start();
        let seen = pad.inventory(at(0), &[uid(1)]);
        assert_eq!(
            seen,
            Seen {
                arrived: vec![uid(1)],
                left: vec![]
            }
        );
        assert!(pad.to_read().is_empty(), "not settled yet");
        assert_eq!(pad.poll_timeout(), Some(at(300)));
        assert!(pad.items().is_empty());

        assert_eq!(pad.inventory(at(299), &[uid(1)]), Seen::default());
        assert!(pad.to_read().is_empty());
        pad.inventory(at(300), &[uid(1)]);
        assert_eq!(pad.to_read(), [uid(1)]);
        assert_eq!(pad.poll_timeout(), None);
        pad.read(uid(1), part("A", 1, 1));
        assert!(pad.to_read().is_empty(), "read once");
        assert_eq!(
            pad.items(),
            [PadItem::Complete {
                item: "A".into(),
                uids: vec![uid(1)]
            }]
        );
        assert_eq!(pad.tag(&uid(1)).map(|t| t.item.as_str()), Some("A"));

        let seen = pad.inventory(at(1000), &[]);
        assert_eq!(seen.left, [uid(1)]);
        assert!(!pad.on_pad(&uid(1)));
        assert!(pad.items().is_empty());
        assert_eq!(pad.tag(&uid(1)), None);
    }

    #[test]
    fn a_tag_that_leaves_before_it_settles_is_never_read() {
        let (mut pad, at) = start();
        pad.inventory(at(0), &[uid(1)]);
        pad.inventory(at(200), &[]);
        pad.inventory(at(400), &[]);
        assert!(pad.to_read().is_empty());
        assert_eq!(pad.poll_timeout(), None);
    }

    #[test]
    fn a_tag_put_back_settles_and_is_read_again() {
        let (mut pad, at) = start();
        pad.inventory(at(0), &[uid(1)]);
        pad.inventory(at(300), &[uid(1)]);
        pad.read(uid(1), part("A", 1, 1));
        pad.inventory(at(400), &[]);
        let seen = pad.inventory(at(500), &[uid(1)]);
        assert_eq!(seen.arrived, [uid(1)]);
        assert!(pad.to_read().is_empty());
        assert_eq!(pad.poll_timeout(), Some(at(800)));
        pad.inventory(at(800), &[uid(1)]);
        assert_eq!(pad.to_read(), [uid(1)]);
    }

    #[test]
    fn with_no_settle_time_a_tag_is_read_at_its_first_inventory() {
        let mut pad = Pad::new(Duration::ZERO);
        let t0 = Instant::now();
        pad.inventory(t0, &[uid(1), uid(2)]);
        assert_eq!(pad.to_read(), [uid(1), uid(2)]);
        assert_eq!(pad.poll_timeout(), None);
    }

    #[test]
    fn an_unreadable_tag_is_tried_three_times_then_shown_and_left_alone() {
        let (mut pad, at) = start();
        pad.inventory(at(0), &[uid(9)]);
        for (n, ms) in [300, 400, 500].into_iter().enumerate() {
            pad.inventory(at(ms), &[uid(9)]);
            assert_eq!(pad.to_read(), [uid(9)], "try {}", n + 1);
            assert!(pad.items().is_empty(), "not given up after {n} tries");
            pad.read(uid(9), Err("no answer".into()));
        }
        pad.inventory(at(600), &[uid(9)]);
        assert!(pad.to_read().is_empty());
        assert_eq!(
            pad.items(),
            [PadItem::Unreadable {
                uid: uid(9),
                why: "no answer".into()
            }]
        );
    }

    #[test]
    fn a_failed_read_then_a_good_one_makes_an_item() {
        let mut pad = Pad::new(Duration::ZERO);
        let t0 = Instant::now();
        pad.inventory(t0, &[uid(1)]);
        pad.read(uid(1), Err("collision".into()));
        assert!(pad.items().is_empty());
        pad.inventory(t0 + Duration::from_millis(100), &[uid(1)]);
        assert_eq!(pad.to_read(), [uid(1)]);
        pad.read(uid(1), part("A", 1, 1));
        assert!(matches!(pad.items()[..], [PadItem::Complete { .. }]));
    }

    #[test]
    fn a_set_waits_for_its_last_part_and_then_completes() {
        let (mut pad, at) = start();
        pad.inventory(at(0), &[uid(1), uid(3)]);
        pad.inventory(at(300), &[uid(1), uid(3)]);
        pad.read(uid(1), part("KIT", 1, 3));
        pad.read(uid(3), part("KIT", 3, 3));
        assert_eq!(
            pad.items(),
            [PadItem::Incomplete {
                item: "KIT".into(),
                seen: 2,
                parts: 3
            }]
        );
        // The second disc, put down late, settles on its own time.
        pad.inventory(at(1000), &[uid(1), uid(3), uid(2)]);
        assert_eq!(pad.poll_timeout(), Some(at(1300)));
        assert!(matches!(
            pad.items()[..],
            [PadItem::Incomplete { seen: 2, .. }]
        ));
        pad.inventory(at(1300), &[uid(1), uid(3), uid(2)]);
        assert_eq!(pad.to_read(), [uid(2)]);
        pad.read(uid(2), part("KIT", 2, 3));
        assert_eq!(
            pad.items(),
            [PadItem::Complete {
                item: "KIT".into(),
                uids: vec![uid(1), uid(2), uid(3)]
            }]
        );
        assert_eq!(pad.uids_of("KIT"), [uid(1), uid(3), uid(2)]);
        // A part lifted off: the set is incomplete again.
        pad.inventory(at(2000), &[uid(1), uid(2)]);
        assert!(matches!(
            pad.items()[..],
            [PadItem::Incomplete { seen: 2, .. }]
        ));
    }

    #[test]
    fn items_come_in_inventory_order_and_a_patron_card_is_no_item() {
        let mut pad = Pad::new(Duration::ZERO);
        let t0 = Instant::now();
        pad.inventory(t0, &[uid(2), uid(7), uid(1)]);
        pad.read(uid(1), part("A", 1, 1));
        pad.read(uid(2), part("B", 1, 1));
        let mut card = ItemTag::new(DataModel::Part3, "24680000000011", None);
        card.usage = Some(Usage::PATRON_CARD);
        pad.read(uid(7), Ok(card));
        let items: Vec<String> = pad
            .items()
            .into_iter()
            .map(|i| match i {
                PadItem::Complete { item, .. } => item,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(items, ["B", "A"]);
    }

    #[test]
    fn a_read_for_a_tag_gone_meanwhile_is_dropped() {
        let mut pad = Pad::new(Duration::ZERO);
        let t0 = Instant::now();
        pad.inventory(t0, &[uid(1)]);
        pad.inventory(t0, &[]);
        pad.read(uid(1), part("A", 1, 1));
        assert!(pad.items().is_empty());
        pad.inventory(t0, &[uid(1)]);
        assert_eq!(pad.to_read(), [uid(1)]);
    }

    #[test]
    fn an_item_is_acted_on_once_until_it_fails_and_is_lifted_off_whole() {
        let mut pad = Pad::new(Duration::ZERO);
        let t0 = Instant::now();
        pad.inventory(t0, &[uid(1), uid(2)]);
        let kit = vec![uid(1), uid(2)];
        assert!(pad.claim("KIT", kit.clone()));
        assert!(!pad.claim("KIT", kit.clone()));
        // Failed, but a part is still on the pad: not yet.
        pad.inventory(t0, &[uid(2)]);
        pad.retry_lifted(|_| true);
        assert!(pad.handled("KIT"));
        // Lifted whole, but it did not fail: done for this session.
        pad.inventory(t0, &[]);
        pad.retry_lifted(|_| false);
        assert!(pad.handled("KIT"));
        // Failed and lifted whole: put back, it is tried again.
        pad.retry_lifted(|item| item == "KIT");
        assert!(!pad.handled("KIT"));
        assert!(pad.claim("KIT", kit));
    }

    #[test]
    fn an_item_acted_on_by_barcode_alone_is_not_forgotten_by_lifting() {
        let mut pad = Pad::new(Duration::ZERO);
        pad.inventory(Instant::now(), &[]);
        assert!(pad.claim("HE0000001", vec![]));
        pad.retry_lifted(|_| true);
        assert!(pad.handled("HE0000001"));
        pad.forget_handled();
        assert!(!pad.handled("HE0000001"));
    }

    #[test]
    fn a_uid_twice_in_one_inventory_is_one_tag() {
        let mut pad = Pad::new(Duration::ZERO);
        let seen = pad.inventory(Instant::now(), &[uid(1), uid(1)]);
        assert_eq!(seen.arrived, [uid(1)]);
        assert_eq!(pad.to_read(), [uid(1)]);
    }
}
