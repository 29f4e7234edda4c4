//! The reader's side of OSDP (the peripheral device, PD) as a pure state machine: command bytes
//! in ([`Peripheral::handle_input`]), reply bytes out ([`Peripheral::poll_transmit`]), and what
//! the control panel told it ([`Peripheral::poll_told`]). No I/O, no clock, no randomness of its
//! own (RND.B comes from a source the caller hands in).
//!
//! It is the reader twin's protocol (`drivers::osdp_twin` puts it at the other end of a pty), so
//! the door's control panel ([`crate::Session`] in `drivers::osdp`) does every byte of its work
//! against it: ID, CAP, LSTAT, POLL answered with queued card data and keys or ACK, LED, buzzer
//! and text taken, and the Annex D secure channel on the reader's side: CHLNG answered with
//! CCRYPT (session keys from its SCBK and RND.A, its own RND.B, the client cryptogram), SCRYPT
//! with RMAC_I (the server cryptogram checked), then every command's MAC checked (and its data
//! decrypted) and every reply sealed. A fresh reader holds only the install key SCBK-D (install
//! mode); KEYSET inside the secure channel gives it a key of its own, and from then on it refuses
//! SCBK-D and every command outside the secure channel.
//!
//! # The same `osdp` crate on both sides
//! Framing, CRC, session keys, cryptograms and MACs come from the `osdp` crate here as in
//! [`crate::Session`]: an error shared by both sides would cancel out between them. That is
//! acceptable for a twin because the judge of the control panel is elsewhere: the
//! interoperability tests (`tests/tests/osdp.rs`) run it against LibOSDP's C reader, and the
//! crate's Annex E examples are checked in `session/tests.rs`. The twin is for what a third-party
//! reader in a Python virtualenv cannot be: the demo on a machine with only Rust, faults staged
//! on cue, and quick tests.
//!
//! What it is not: a multi-reader PD, file transfer, biometrics, or output control; commands it
//! does not know are answered with NAK 3, as a reader without the feature would.

use std::collections::VecDeque;

use osdp::command::{BuzzerControl, KeySet, LedControl, Text};
use osdp::packet::{
    Address, ControlByte, CtrlFlags, PacketBuilder, ParsedPacket, Scb, ScsType, Sqn,
};
use osdp::reply::{CCrypt, PdCap, PdId};
use osdp::secure::crypto::{SessionKeys, client_cryptogram};
use osdp::secure::session::{Cryptogrammed, Disconnected, Secure};
use osdp::secure::{Direction, SCBK_D};

use crate::wire::Deframer;
use crate::{CardData, Identity, LocalStatus, Random, Scbk};

use crate::codes::{command as code, reply};

/// NAK error codes (the specification's Table 47).
pub mod nak {
    /// The command's length does not fit it.
    pub const LENGTH: u8 = 0x02;
    /// A command this reader does not know.
    pub const UNKNOWN_COMMAND: u8 = 0x03;
    /// A security block type this reader does not take.
    pub const SECURITY_BLOCK: u8 = 0x05;
    /// Secure channel conditions not met: no channel, a MAC that does not verify, the install
    /// key refused.
    pub const SECURE_CHANNEL: u8 = 0x06;
    /// A command record that cannot be processed (a key that cannot be taken).
    pub const UNABLE: u8 = 0x09;
}

/// Card data and keys waiting beyond this are dropped, the newest first (a reader's buffer).
const MAX_QUEUED: usize = 32;

/// The reader's settings.
#[derive(Debug, Clone)]
pub struct PeripheralConfig {
    /// Its address (0 to 126).
    pub address: u8,
    /// What its ID reply says.
    pub identity: Identity,
    /// Its own secure channel key, once paired; `None` fresh from its box.
    pub key: Option<Scbk>,
    /// Install mode: the install key SCBK-D is taken, for pairing. Left when KEYSET gives it a
    /// key.
    pub install_mode: bool,
}

impl PeripheralConfig {
    /// A reader fresh from its box: no key of its own, in install mode.
    pub fn fresh(address: u8, identity: Identity) -> Self {
        Self {
            address,
            identity,
            key: None,
            install_mode: true,
        }
    }

    /// A paired reader holding `key`.
    pub fn paired(address: u8, identity: Identity, key: Scbk) -> Self {
        Self {
            address,
            identity,
            key: Some(key),
            install_mode: false,
        }
    }
}

/// What the control panel told the reader, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// The secure channel is open (under the install key SCBK-D when `install_key`).
    SecureChannel {
        /// Opened under SCBK-D.
        install_key: bool,
    },
    /// An LED command.
    Led(LedControl),
    /// A buzzer command.
    Buzzer(BuzzerControl),
    /// A text command.
    Text(Text),
    /// KEYSET: the reader's key from now on (install mode left). Its debug form is redacted.
    NewKey(Scbk),
    /// A command refused with a NAK.
    Refused {
        /// The NAK's error code ([`nak`]).
        nak: u8,
        /// Why, in words.
        why: &'static str,
    },
}

/// The secure channel's state on the reader's side.
enum Channel {
    Off,
    Cryptogrammed {
        session: osdp::secure::Session<Cryptogrammed>,
        install_key: bool,
    },
    Secure(osdp::secure::Session<Secure>),
}

/// One reader.
pub struct Peripheral {
    config: PeripheralConfig,
    random: Random,
    rx: Deframer,
    channel: Channel,
    /// The last command's sequence number and the reply sent to it (sent again when the
    /// control panel repeats the command).
    last: Option<(u8, Vec<u8>)>,
    queued: VecDeque<(u8, Vec<u8>)>,
    status: LocalStatus,
    status_news: bool,
    dropped: u64,
    transmit: VecDeque<Vec<u8>>,
    told: VecDeque<Told>,
}

impl std::fmt::Debug for Peripheral {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No keys, no card data.
        f.debug_struct("Peripheral")
            .field("address", &self.config.address)
            .field("paired", &self.config.key.is_some())
            .field("install_mode", &self.config.install_mode)
            .field("secure", &self.is_secure())
            .field("queued", &self.queued.len())
            .finish_non_exhaustive()
    }
}

impl Peripheral {
    /// A reader as `config` says; RND.B from `random`.
    pub fn new(config: PeripheralConfig, random: Random) -> Self {
        let address = config.address;
        Self {
            config,
            random,
            rx: Deframer::for_peripheral(address),
            channel: Channel::Off,
            last: None,
            queued: VecDeque::new(),
            status: LocalStatus::default(),
            status_news: false,
            dropped: 0,
            transmit: VecDeque::new(),
            told: VecDeque::new(),
        }
    }

    /// Whether the secure channel is open.
    pub fn is_secure(&self) -> bool {
        matches!(self.channel, Channel::Secure(_))
    }

    /// Its own key, if it has one.
    pub fn key(&self) -> Option<&Scbk> {
        self.config.key.as_ref()
    }

    /// Whether it takes the install key.
    pub fn install_mode(&self) -> bool {
        self.config.install_mode
    }

    /// Its tamper and power status.
    pub fn status(&self) -> LocalStatus {
        self.status
    }

    /// How many broken frames or frames for others were dropped without an answer.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Another reader of the same model in this one's place, holding `key` (a swapped reader);
    /// gives back the key it held. The secure channel is closed: the control panel's next
    /// sealed command is refused, and its next handshake meets `key`.
    pub fn replace_key(&mut self, key: Option<Scbk>) -> Option<Scbk> {
        self.channel = Channel::Off;
        self.last = None;
        std::mem::replace(&mut self.config.key, key)
    }

    /// A card presented: its data goes out in the reply to a POLL.
    pub fn present(&mut self, card: &CardData) {
        let item = match card {
            CardData::Bits {
                format,
                count,
                bytes,
            } => {
                let mut d = vec![0, *format];
                d.extend(count.to_le_bytes());
                d.extend(bytes);
                (reply::RAW, d)
            }
            CardData::Chars(c) => {
                let mut d = vec![0, 0, u8::try_from(c.len()).unwrap_or(u8::MAX)];
                d.extend(c.iter().take(usize::from(u8::MAX)));
                (reply::FMT, d)
            }
        };
        self.enqueue(item);
    }

    /// Keys typed on the keypad (ASCII digits, `*`, `#`): one KEYPAD reply per POLL.
    pub fn type_keys(&mut self, keys: &[u8]) {
        for chunk in keys.chunks(usize::from(u8::MAX)) {
            let mut d = vec![0, u8::try_from(chunk.len()).unwrap_or(u8::MAX)];
            d.extend(chunk);
            self.enqueue((reply::KEYPAD, d));
        }
    }

    /// Tamper or power changed: said in the next reply to a POLL, and to every LSTAT.
    pub fn set_status(&mut self, status: LocalStatus) {
        if status != self.status {
            self.status = status;
            self.status_news = true;
        }
    }

    fn enqueue(&mut self, item: (u8, Vec<u8>)) {
        if self.queued.len() < MAX_QUEUED {
            self.queued.push_back(item);
        }
    }

    /// Bytes to send, in order.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// What it was told, in order.
    pub fn poll_told(&mut self) -> Option<Told> {
        self.told.pop_front()
    }

    /// Bytes the line brought. A broken frame is not answered (the control panel sends it
    /// again); a command is answered once, and a repeated one (the same sequence number) with
    /// the same reply again.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        self.rx.push(bytes);
        while let Some(frame) = self.rx.next_frame() {
            match frame {
                Ok(frame) => self.handle_frame(&frame),
                Err(_) => self.dropped += 1,
            }
        }
    }

    fn handle_frame(&mut self, frame: &[u8]) {
        let Ok((parsed, _)) = ParsedPacket::parse(frame) else {
            self.dropped += 1;
            return;
        };
        let sqn = parsed.ctrl.sqn.value();
        // Sequence number 0 starts the link afresh; any other, the same as the last, is the
        // control panel asking again for a reply it did not get.
        if sqn != 0
            && let Some((last, bytes)) = &self.last
            && *last == sqn
        {
            self.transmit.push_back(bytes.clone());
            return;
        }
        if let Some(bytes) = self.answer(&parsed, frame) {
            self.last = Some((sqn, bytes.clone()));
            self.transmit.push_back(bytes);
        }
    }

    fn answer(&mut self, p: &ParsedPacket<'_>, raw: &[u8]) -> Option<Vec<u8>> {
        let sqn = p.ctrl.sqn;
        match p.scb.map(|s| (s.ty, s.data)) {
            Some((ScsType::Scs11, data)) => self.on_chlng(p, data),
            Some((ScsType::Scs13, _)) => self.on_scrypt(p),
            Some((ScsType::Scs15 | ScsType::Scs17, _)) => self.on_sealed(p, raw),
            Some(_) => self.refuse(sqn, nak::SECURITY_BLOCK, "a reply's security block"),
            None if self.is_secure() => {
                // The control panel left the channel; it must open it again.
                self.channel = Channel::Off;
                self.refuse(
                    sqn,
                    nak::SECURE_CHANNEL,
                    "a command in clear inside the secure channel",
                )
            }
            None if self.config.key.is_some() => self.refuse(
                sqn,
                nak::SECURE_CHANNEL,
                "a command in clear to a paired reader",
            ),
            None => {
                let (code, data) = self.command(p.code, p.data);
                self.plain(sqn, code, data)
            }
        }
    }

    fn on_chlng(&mut self, p: &ParsedPacket<'_>, scb: &[u8]) -> Option<Vec<u8>> {
        let sqn = p.ctrl.sqn;
        self.channel = Channel::Off;
        let Ok(rnd_a) = <[u8; 8]>::try_from(p.data) else {
            return self.refuse(sqn, nak::LENGTH, "a challenge that is not 8 bytes");
        };
        if p.code != code::CHLNG {
            return self.refuse(
                sqn,
                nak::SECURITY_BLOCK,
                "a challenge block on another command",
            );
        }
        // Key type 0 asks for SCBK-D, 1 for the reader's own key. A fresh reader holds only
        // SCBK-D and says so in its answer's key type.
        let wants_install = scb.first() == Some(&0);
        let key = match (&self.config.key, wants_install) {
            (_, true) if !self.config.install_mode => {
                return self.refuse(
                    sqn,
                    nak::SECURE_CHANNEL,
                    "the install key SCBK-D, refused once paired",
                );
            }
            (Some(k), false) => k.0,
            _ => SCBK_D,
        };
        let install_key = key == SCBK_D;
        let rnd_b = (self.random)();
        let keys = SessionKeys::derive(&key, &rnd_a);
        let ccrypt = CCrypt {
            cuid: self.cuid(),
            rnd_b,
            client_cryptogram: client_cryptogram(&keys.s_enc, &rnd_a, &rnd_b),
        };
        // The reader's half of the handshake is the control panel's mirror: the same session
        // type, fed the cryptogram it has just made.
        let session = osdp::secure::Session::<Disconnected>::new(key).challenge(rnd_a);
        let Ok(session) = session.receive_ccrypt(&ccrypt) else {
            return self.refuse(sqn, nak::SECURE_CHANNEL, "no session from this challenge");
        };
        self.channel = Channel::Cryptogrammed {
            session,
            install_key,
        };
        let data = ccrypt.encode().unwrap_or_default();
        let key_type = u8::from(!install_key);
        self.handshake(sqn, ScsType::Scs12, key_type, reply::CCRYPT, data)
    }

    fn on_scrypt(&mut self, p: &ParsedPacket<'_>) -> Option<Vec<u8>> {
        let sqn = p.ctrl.sqn;
        let Channel::Cryptogrammed {
            session,
            install_key,
        } = std::mem::replace(&mut self.channel, Channel::Off)
        else {
            return self.refuse(
                sqn,
                nak::SECURE_CHANNEL,
                "a server cryptogram without a challenge",
            );
        };
        if p.code != code::SCRYPT || !same(&session.server_cryptogram(), p.data) {
            return self.refuse(
                sqn,
                nak::SECURE_CHANNEL,
                "a server cryptogram that does not match this reader's key",
            );
        }
        let rmac = session.initial_rmac();
        let Ok(secure) = session.confirm_rmac_i(&rmac) else {
            return self.refuse(sqn, nak::SECURE_CHANNEL, "no session from this cryptogram");
        };
        self.channel = Channel::Secure(secure);
        self.told.push_back(Told::SecureChannel { install_key });
        // 0x01: the server cryptogram was accepted.
        self.handshake(sqn, ScsType::Scs14, 0x01, reply::RMAC_I, rmac.to_vec())
    }

    fn on_sealed(&mut self, p: &ParsedPacket<'_>, raw: &[u8]) -> Option<Vec<u8>> {
        let sqn = p.ctrl.sqn;
        let Channel::Secure(session) = &mut self.channel else {
            return self.refuse(
                sqn,
                nak::SECURE_CHANNEL,
                "a sealed command outside any secure channel",
            );
        };
        let Ok(data) = osdp::secure::unseal(session, p, raw) else {
            self.channel = Channel::Off;
            return self.refuse(
                sqn,
                nak::SECURE_CHANNEL,
                "a command whose MAC does not verify",
            );
        };
        let (code, data) = self.command(p.code, &data);
        let addr = Address::from_raw(self.config.address | osdp::REPLY_FLAG);
        let Channel::Secure(session) = &mut self.channel else {
            return None;
        };
        let encrypt = !data.is_empty();
        osdp::secure::seal(session, addr, sqn, Direction::PdToAcu, encrypt, code, &data).ok()
    }

    /// The reply to a command (already checked and decrypted when sealed).
    fn command(&mut self, code: u8, data: &[u8]) -> (u8, Vec<u8>) {
        let ack = (reply::ACK, vec![]);
        match code {
            code::POLL => {
                if let Some(item) = self.queued.pop_front() {
                    item
                } else if std::mem::take(&mut self.status_news) {
                    (reply::LSTATR, self.status_bytes())
                } else {
                    ack
                }
            }
            code::ID => {
                let i = self.config.identity;
                let id = PdId {
                    vendor_oui: i.vendor,
                    model: i.model,
                    version: i.version,
                    serial: i.serial,
                    firmware: i.firmware,
                };
                (reply::PDID, id.encode().unwrap_or_default())
            }
            code::CAP => (reply::PDCAP, capabilities()),
            code::LSTAT => {
                self.status_news = false;
                (reply::LSTATR, self.status_bytes())
            }
            code::LED => match LedControl::decode(data) {
                Ok(c) => self.took(Told::Led(c)),
                Err(_) => self.nak(nak::LENGTH, "an LED command of the wrong length"),
            },
            code::BUZ => match BuzzerControl::decode(data) {
                Ok(c) => self.took(Told::Buzzer(c)),
                Err(_) => self.nak(nak::LENGTH, "a buzzer command of the wrong length"),
            },
            code::TEXT => match Text::decode(data) {
                Ok(c) => self.took(Told::Text(c)),
                Err(_) => self.nak(nak::LENGTH, "a text command that is not printable text"),
            },
            code::KEYSET => self.keyset(data),
            code::CHLNG | code::SCRYPT => {
                self.nak(nak::SECURITY_BLOCK, "a handshake command without its block")
            }
            _ => self.nak(nak::UNKNOWN_COMMAND, "a command this reader does not know"),
        }
    }

    fn keyset(&mut self, data: &[u8]) -> (u8, Vec<u8>) {
        if !self.is_secure() {
            return self.nak(nak::SECURE_CHANNEL, "a new key outside the secure channel");
        }
        let key = KeySet::decode(data)
            .ok()
            .filter(|k| k.key_type == 1)
            .and_then(|k| <[u8; 16]>::try_from(k.key.as_slice()).ok())
            .map(Scbk);
        match key {
            Some(k) if k.is_default() => self.nak(nak::UNABLE, "the install key as a new key"),
            Some(k) => {
                self.config.key = Some(k.clone());
                self.config.install_mode = false;
                self.took(Told::NewKey(k))
            }
            None => self.nak(nak::UNABLE, "a new key that is not a 16-byte SCBK"),
        }
    }

    fn took(&mut self, told: Told) -> (u8, Vec<u8>) {
        self.told.push_back(told);
        (reply::ACK, vec![])
    }

    fn nak(&mut self, nak: u8, why: &'static str) -> (u8, Vec<u8>) {
        self.told.push_back(Told::Refused { nak, why });
        (reply::NAK, vec![nak])
    }

    /// A NAK in clear (outside, or instead of, the secure channel).
    fn refuse(&mut self, sqn: Sqn, nak: u8, why: &'static str) -> Option<Vec<u8>> {
        let (code, data) = self.nak(nak, why);
        self.plain(sqn, code, data)
    }

    fn plain(&self, sqn: Sqn, code: u8, data: Vec<u8>) -> Option<Vec<u8>> {
        PacketBuilder::plain(self.reply_address(), ctrl(sqn, false), code, data)
            .encode()
            .ok()
    }

    fn handshake(
        &self,
        sqn: Sqn,
        ty: ScsType,
        scb: u8,
        code: u8,
        data: Vec<u8>,
    ) -> Option<Vec<u8>> {
        PacketBuilder {
            addr: self.reply_address(),
            ctrl: ctrl(sqn, true),
            scb: Some(Scb::new(ty, [scb])),
            code,
            data,
        }
        .encode()
        .ok()
    }

    fn reply_address(&self) -> Address {
        Address::from_raw(self.config.address | osdp::REPLY_FLAG)
    }

    fn status_bytes(&self) -> Vec<u8> {
        vec![
            u8::from(self.status.tamper),
            u8::from(self.status.power_failure),
        ]
    }

    /// The client's unique id in CCRYPT: vendor, model and serial number.
    fn cuid(&self) -> [u8; 8] {
        let i = self.config.identity;
        let s = i.serial.to_le_bytes();
        [
            i.vendor[0],
            i.vendor[1],
            i.vendor[2],
            i.model,
            s[0],
            s[1],
            s[2],
            s[3],
        ]
    }
}

fn ctrl(sqn: Sqn, scb: bool) -> ControlByte {
    let flags = if scb {
        CtrlFlags::USE_CRC | CtrlFlags::HAS_SCB
    } else {
        CtrlFlags::USE_CRC
    };
    ControlByte::new(sqn, flags)
}

/// What a card reader with a keypad, one LED, a buzzer and a two-line display can do.
fn capabilities() -> Vec<u8> {
    use osdp::caps::{Capability, FunctionCode as F};
    let cap = |f: F, compliance, number_of| Capability {
        code: f.as_byte(),
        compliance,
        number_of,
    };
    PdCap::new(vec![
        cap(F::CardDataFormat, 1, 0),
        cap(F::LedControl, 1, 1),
        cap(F::AudibleOutput, 1, 1),
        cap(F::TextOutput, 1, 1),
        cap(F::CheckCharacter, 1, 0),
        cap(F::CommunicationSecurity, 1, 1),
        cap(F::ReceiveBufferSize, 0, 1),
        cap(F::OsdpVersion, 2, 0),
    ])
    .encode()
    .unwrap_or_default()
}

/// Equal bytes, compared without an early exit.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests;
