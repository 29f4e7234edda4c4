//! A FEIG ISC reader in software, with a stack of ISO 15693 tags on it: the twin the kiosk's
//! tests and demo put at the other end of a pseudo-terminal or an in-process pipe, so that the
//! real [`FeigPad`](crate::rfid::FeigPad) driver does every byte of its work.
//!
//! Faults a stack of books shows on a real pad can be staged: a tag that does not answer a read
//! for a while (half a stack read), a tag that takes no AFI write, or one that answers "OK" and
//! keeps its old AFI or EAS bit (only reading back shows it).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::feig::{self, Parsed, cmd, status};

/// One tag on the twin's pad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimTag {
    /// UID, `E0 04 …` for NXP ICODE.
    pub uid: [u8; 8],
    /// DSFID.
    pub dsfid: u8,
    /// AFI.
    pub afi: u8,
    /// NXP EAS bit.
    pub eas: bool,
    /// User memory in tag order (a multiple of 4 bytes).
    pub memory: Vec<u8>,
    /// The next this many reads of the tag fail with a radio error.
    pub failing_reads: u32,
    /// AFI writes are refused.
    pub refuses_afi: bool,
    /// AFI writes are answered OK but the AFI does not change.
    pub ignores_afi: bool,
    /// EAS writes are answered OK but the EAS bit does not change.
    pub ignores_eas: bool,
}

impl SimTag {
    /// A tag with `memory` (padded to whole 4-byte blocks), secured (AFI 0x07).
    pub fn new(uid: [u8; 8], dsfid: u8, memory: Vec<u8>) -> Self {
        let mut memory = memory;
        memory.resize(memory.len().div_ceil(4) * 4, 0);
        Self {
            uid,
            dsfid,
            afi: 0x07,
            eas: true,
            memory,
            failing_reads: 0,
            refuses_afi: false,
            ignores_afi: false,
            ignores_eas: false,
        }
    }

    /// An NXP-style UID from a serial number.
    pub fn uid_from(serial: u32) -> [u8; 8] {
        let s = serial.to_be_bytes();
        [0xE0, 0x04, 0x01, 0x00, s[0], s[1], s[2], s[3]]
    }
}

/// Radio time the twin spends per operation, so timings resemble a real pad's (a real ISO 15693
/// inventory of a stack takes tens of milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AirTime {
    /// Per inventory round.
    pub inventory: Duration,
    /// Per tag in an inventory.
    pub per_tag: Duration,
    /// Per addressed command (read, write AFI, system info).
    pub command: Duration,
}

impl AirTime {
    /// Times in the range of a desktop HF reader at 26 kbit/s with 4-byte blocks.
    pub const TYPICAL: AirTime = AirTime {
        inventory: Duration::from_millis(15),
        per_tag: Duration::from_millis(3),
        command: Duration::from_millis(8),
    };
}

/// A security write the twin received: what a test's watcher sees ([`SimPad::watch_writes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The tag's AFI written.
    Afi {
        /// The tag.
        uid: [u8; 8],
        /// The AFI written.
        afi: u8,
    },
    /// The tag's NXP EAS bit set (`true`) or reset.
    Eas {
        /// The tag.
        uid: [u8; 8],
        /// Set or reset.
        on: bool,
    },
}

/// When a write is shown to a watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMoment {
    /// Received over the line, before the tag changes.
    Received,
    /// Done on the tag, before the reply goes back.
    Done,
}

/// A test's watcher of security writes, called on the reader's task, which waits for it.
pub type WriteWatcher = Arc<dyn Fn(Write, WriteMoment) + Send + Sync>;

/// The twin's pad, shared between the code placing tags and the reader serving the line.
#[derive(Clone, Default)]
pub struct SimPad {
    tags: Arc<Mutex<Vec<SimTag>>>,
    air: AirTime,
    watcher: Arc<Mutex<Option<WriteWatcher>>>,
}

impl std::fmt::Debug for SimPad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimPad")
            .field("tags", &self.tags)
            .field("air", &self.air)
            .finish_non_exhaustive()
    }
}

const MAX_PER_REPLY: usize = 8;

impl SimPad {
    /// An empty pad answering at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty pad taking `air` per operation.
    pub fn with_air_time(air: AirTime) -> Self {
        Self {
            tags: Arc::default(),
            air,
            watcher: Arc::default(),
        }
    }

    /// Shows every AFI and EAS write to `watcher` when it is received and when it is done on the
    /// tag (`None`: to nobody): a test can act at those moments, e.g. kill the host, and the
    /// reader then finishes the command as a real one would.
    pub fn watch_writes(&self, watcher: Option<WriteWatcher>) {
        *self.watcher.lock().unwrap_or_else(PoisonError::into_inner) = watcher;
    }

    fn watch(&self, w: Write, at: WriteMoment) {
        let watcher = self
            .watcher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(f) = watcher {
            f(w, at);
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<SimTag>) -> T) -> T {
        f(&mut self.tags.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts a tag on the pad (replacing one with the same UID).
    pub fn place(&self, tag: SimTag) {
        self.with(|t| {
            t.retain(|x| x.uid != tag.uid);
            t.push(tag);
        });
    }

    /// Takes a tag off the pad; returns it.
    pub fn remove(&self, uid: [u8; 8]) -> Option<SimTag> {
        self.with(|t| {
            let i = t.iter().position(|x| x.uid == uid)?;
            Some(t.remove(i))
        })
    }

    /// Takes every tag off; returns them.
    pub fn clear(&self) -> Vec<SimTag> {
        self.with(std::mem::take)
    }

    /// A tag's current state.
    pub fn tag(&self, uid: [u8; 8]) -> Option<SimTag> {
        self.with(|t| t.iter().find(|x| x.uid == uid).cloned())
    }

    /// Changes a tag in place.
    pub fn modify(&self, uid: [u8; 8], f: impl FnOnce(&mut SimTag)) {
        self.with(|t| {
            if let Some(tag) = t.iter_mut().find(|x| x.uid == uid) {
                f(tag);
            }
        });
    }

    /// Serves the reader protocol on `io` until it closes.
    pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(self, mut io: S) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        let mut pending: Vec<[u8; 10]> = Vec::new();
        loop {
            loop {
                match feig::parse(&buf) {
                    Parsed::Frame(f, n) => {
                        buf.drain(..n);
                        let reply = self.answer(&f, &mut pending).await;
                        if io.write_all(&reply).await.is_err() || io.flush().await.is_err() {
                            return;
                        }
                    }
                    // A real reader stays silent on a broken frame.
                    Parsed::Garbage(n) => {
                        buf.drain(..n);
                    }
                    Parsed::Incomplete => break,
                }
            }
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    async fn pause(&self, d: Duration) {
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    async fn answer(&self, f: &feig::Frame, pending: &mut Vec<[u8; 10]>) -> Vec<u8> {
        let reply = |st: u8, data: &[u8]| feig::reply(0x00, f.command, st, data);
        match (f.command, f.body.as_slice()) {
            (cmd::SOFTWARE_VERSION, _) => {
                reply(status::OK, &[0x03, 0x03, 0x00, 0x44, 77, 0x00, 0x08])
            }
            (cmd::ISO_HOST, [cmd::INVENTORY, mode]) => {
                if mode & 0x80 == 0 {
                    *pending = self.with(|t| {
                        t.iter()
                            .map(|tag| {
                                let mut r = [0u8; 10];
                                r[0] = 0x03;
                                r[1] = tag.dsfid;
                                r[2..].copy_from_slice(&tag.uid);
                                r
                            })
                            .collect()
                    });
                    let n = u32::try_from(pending.len()).unwrap_or(u32::MAX);
                    self.pause(self.air.inventory + self.air.per_tag * n).await;
                }
                if pending.is_empty() {
                    return reply(status::NO_TAG, &[]);
                }
                let take = pending.len().min(MAX_PER_REPLY);
                let batch: Vec<[u8; 10]> = pending.drain(..take).collect();
                let mut data = vec![u8::try_from(batch.len()).unwrap_or(0)];
                for r in &batch {
                    data.extend_from_slice(r);
                }
                let st = if pending.is_empty() {
                    status::OK
                } else {
                    status::MORE_DATA
                };
                reply(st, &data)
            }
            (cmd::ISO_HOST, [sub, 0x01, rest @ ..]) if rest.len() >= 8 => {
                self.pause(self.air.command).await;
                let mut uid = [0u8; 8];
                uid.copy_from_slice(&rest[..8]);
                let args = &rest[8..];
                let write = match (*sub, args) {
                    (cmd::WRITE_AFI, [afi]) => Some(Write::Afi { uid, afi: *afi }),
                    _ => None,
                };
                if let Some(w) = write {
                    self.watch(w, WriteMoment::Received);
                }
                let (st, data) = self.with(|t| {
                    let Some(tag) = t.iter_mut().find(|x| x.uid == uid) else {
                        return (status::NO_TAG, vec![]);
                    };
                    addressed(tag, *sub, args)
                });
                if let Some(w) = write {
                    self.watch(w, WriteMoment::Done);
                }
                reply(st, &data)
            }
            (
                cmd::ISO_CUSTOM,
                [
                    cmd::MFR_NXP,
                    sub @ (cmd::NXP_SET_EAS | cmd::NXP_RESET_EAS),
                    0x01,
                    uid @ ..,
                ],
            ) if uid.len() == 8 => {
                self.pause(self.air.command).await;
                let on = *sub == cmd::NXP_SET_EAS;
                let mut tag_uid = [0u8; 8];
                tag_uid.copy_from_slice(uid);
                let write = Write::Eas { uid: tag_uid, on };
                self.watch(write, WriteMoment::Received);
                let found = self.with(|t| {
                    t.iter_mut()
                        .find(|x| x.uid[..] == uid[..])
                        .map(|tag| {
                            if !tag.ignores_eas {
                                tag.eas = on;
                            }
                        })
                        .is_some()
                });
                self.watch(write, WriteMoment::Done);
                reply(if found { status::OK } else { status::NO_TAG }, &[])
            }
            (cmd::ISO_CUSTOM, [cmd::MFR_NXP, cmd::NXP_EAS_ALARM, 0x01, uid @ ..])
                if uid.len() == 8 =>
            {
                self.pause(self.air.command).await;
                // A set tag answers with its EAS sequence (32 bytes); a clear one stays silent,
                // which the reader reports as no transponder.
                let set = self.with(|t| t.iter().any(|x| x.uid[..] == uid[..] && x.eas));
                if set {
                    reply(status::OK, &[0xA5; 32])
                } else {
                    reply(status::NO_TAG, &[])
                }
            }
            _ => reply(status::UNKNOWN_COMMAND, &[]),
        }
    }

    /// Runs a twin reader on one end of an in-process pipe; returns the driver on the other.
    pub fn connect(&self) -> crate::rfid::AnyFeigPad {
        let (ours, theirs) = tokio::io::duplex(4096);
        tokio::spawn(self.clone().serve(theirs));
        crate::rfid::FeigPad::new(Box::new(ours), "simulated RFID pad")
    }
}

fn addressed(tag: &mut SimTag, sub: u8, args: &[u8]) -> (u8, Vec<u8>) {
    let blocks = tag.memory.len() / 4;
    match (sub, args) {
        (cmd::SYSTEM_INFO, []) => {
            let mut d = vec![tag.dsfid];
            d.extend(tag.uid);
            d.push(tag.afi);
            d.push(0x03);
            d.push(u8::try_from(blocks.saturating_sub(1)).unwrap_or(u8::MAX));
            d.push(0x01);
            (status::OK, d)
        }
        (cmd::READ_BLOCKS, [first, count]) => {
            if tag.failing_reads > 0 {
                tag.failing_reads -= 1;
                return (status::RF_ERROR, vec![]);
            }
            let (first, count) = (usize::from(*first), usize::from(*count));
            if first + count > blocks {
                return (status::ISO_ERROR, vec![0x10]);
            }
            let mut d = vec![u8::try_from(count).unwrap_or(0), 4];
            for b in tag.memory[first * 4..(first + count) * 4].chunks(4) {
                d.push(0x00);
                d.extend(feig::flip_blocks(b, 4));
            }
            (status::OK, d)
        }
        (cmd::WRITE_AFI, [afi]) => {
            if tag.refuses_afi {
                return (status::ISO_ERROR, vec![0x12]);
            }
            if !tag.ignores_afi {
                tag.afi = *afi;
            }
            (status::OK, vec![])
        }
        _ => (status::UNKNOWN_COMMAND, vec![]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::rfid::RfidPad;

    #[tokio::test]
    async fn the_driver_reads_a_stack_through_the_twin() {
        let pad = SimPad::new();
        for i in 0..11u32 {
            let mut memory = vec![0x11, 0x01, 0x01];
            memory.extend(format!("HE{i:07}").bytes());
            pad.place(SimTag::new(SimTag::uid_from(i), 0x3E, memory));
        }
        let mut reader = pad.connect();
        let tags = reader.inventory().await.unwrap();
        assert_eq!(
            tags.len(),
            11,
            "more than one reply's worth, through MORE DATA"
        );
        let uid = SimTag::uid_from(3);
        let info = reader.system_info(uid).await.unwrap();
        assert_eq!((info.afi, info.block_size, info.blocks), (0x07, 4, 3));
        let bytes = reader.read_blocks(uid, 0, 3).await.unwrap();
        assert_eq!(&bytes[..12], b"\x11\x01\x01HE0000003");
        reader.write_afi(uid, 0xC2).await.unwrap();
        assert_eq!(pad.tag(uid).unwrap().afi, 0xC2);
        reader.set_eas(uid, false).await.unwrap();
        assert!(!pad.tag(uid).unwrap().eas);
        assert!(!reader.eas(uid).await.unwrap(), "a clear bit reads clear");
        reader.set_eas(uid, true).await.unwrap();
        assert!(reader.eas(uid).await.unwrap(), "a set bit reads set");
    }

    #[tokio::test]
    async fn tags_that_leave_or_refuse_give_clear_errors() {
        let pad = SimPad::new();
        let uid = SimTag::uid_from(7);
        pad.place(SimTag::new(uid, 0x3E, vec![0; 32]));
        pad.modify(uid, |t| {
            t.failing_reads = 1;
            t.refuses_afi = true;
        });
        let mut reader = pad.connect();
        let e = reader.read_blocks(uid, 0, 8).await.unwrap_err().to_string();
        assert!(e.contains("radio error"), "{e}");
        assert_eq!(reader.read_blocks(uid, 0, 8).await.unwrap().len(), 32);
        let e = reader.write_afi(uid, 0xC2).await.unwrap_err().to_string();
        assert!(e.contains("ISO 15693 error 0x12"), "{e}");
        pad.remove(uid);
        let e = reader.system_info(uid).await.unwrap_err().to_string();
        assert!(e.contains("moved off the pad"), "{e}");
        assert!(reader.inventory().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_late_reply_left_by_a_host_that_died_is_not_the_next_hosts_answer() {
        use tokio::io::AsyncWriteExt;
        let pad = SimPad::new();
        pad.place(SimTag::new(SimTag::uid_from(1), 0x3E, vec![0; 32]));
        let (ours, mut theirs) = tokio::io::duplex(4096);
        // The reader's "OK" to an AFI write, sent after the host that asked was killed.
        theirs
            .write_all(&feig::reply(0x00, cmd::ISO_HOST, status::OK, &[]))
            .await
            .unwrap();
        tokio::spawn(pad.clone().serve(theirs));
        let mut reader = crate::rfid::FeigPad::new(ours, "pad");
        assert_eq!(reader.inventory().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_silent_reader_times_out() {
        let (ours, _theirs) = tokio::io::duplex(64);
        let mut reader = crate::rfid::FeigPad::new(ours, "pad");
        let e = reader.inventory().await.unwrap_err().to_string();
        assert!(e.contains("no answer"), "{e}");
    }
}
