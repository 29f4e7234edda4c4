//! One reader as a state machine. Feed it what the line brought ([`Session::handle_input`]) and
//! the passing of time ([`Session::handle_timeout`]); take what to send
//! ([`Session::poll_transmit`]), what happened ([`Session::poll_event`]) and when to wake it next
//! ([`Session::poll_timeout`]). Time is a [`Duration`] since any fixed start.
//!
//! The link comes up in steps, each a command and its reply: with a key, CHLNG and SCRYPT open the
//! secure channel (Annex D.4); then ID (who the reader is), CAP (what it can do) and LSTAT (tamper
//! and power); then the reader is up and is polled. When pairing, KEYSET follows the channel
//! opened under SCBK-D, and the link starts again under the new key. Any step that fails takes
//! the link down with a [`Fault`]; it is tried again after [`Config::retry_every`] (at once after
//! a bad MAC or a new key).

use std::collections::VecDeque;
use std::time::Duration;

use osdp::command::{BuzzerControl, KeySet, LedControl, Text};
use osdp::packet::{
    Address, ControlByte, CtrlFlags, PacketBuilder, ParsedPacket, Scb, ScsType, Sqn,
};
use osdp::reply::{CCrypt, PdId, RMacI};
use osdp::secure::session::{Challenged, Cryptogrammed, Disconnected, Secure};
use osdp::secure::{Direction, SCBK_D};

use crate::config::{Config, Random, Security};
use crate::event::{CardData, Event, Fault, Identity, KeyBytes, LocalStatus};
use crate::wire::{Deframer, Rejected, describe};

use crate::codes::{command as code, reply};

/// An LED, buzzer or text command for the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    what: &'static str,
    code: u8,
    data: Vec<u8>,
}

impl Output {
    /// An LED command.
    pub fn led(c: &LedControl) -> Result<Self, osdp::Error> {
        Ok(Self {
            what: "LED",
            code: code::LED,
            data: c.encode()?,
        })
    }

    /// A buzzer command.
    pub fn buzzer(c: &BuzzerControl) -> Result<Self, osdp::Error> {
        Ok(Self {
            what: "buzzer",
            code: code::BUZ,
            data: c.encode()?,
        })
    }

    /// A text command (printable ASCII).
    pub fn text(c: &Text) -> Result<Self, osdp::Error> {
        Ok(Self {
            what: "text",
            code: code::TEXT,
            data: c.encode()?,
        })
    }
}

/// Outputs waiting beyond this are dropped, the oldest first.
const MAX_OUTPUTS: usize = 16;

/// Which command is waiting for its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Chlng,
    Scrypt,
    Id,
    Cap,
    Lstat,
    Keyset,
    Poll,
    Output(&'static str),
}

impl Sent {
    fn name(self) -> &'static str {
        match self {
            Self::Chlng => "CHLNG",
            Self::Scrypt => "SCRYPT",
            Self::Id => "ID",
            Self::Cap => "CAP",
            Self::Lstat => "LSTAT",
            Self::Keyset => "KEYSET",
            Self::Poll => "POLL",
            Self::Output(w) => w,
        }
    }
}

#[derive(Debug)]
struct Pending {
    sent: Sent,
    sqn: Sqn,
    bytes: Vec<u8>,
    tries: u8,
    deadline: Duration,
}

/// Where the link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Down { retry_at: Duration },
    Handshake,
    Id,
    Cap,
    Lstat,
    Keyset,
    Up,
}

/// The secure channel's state (the `osdp` crate's type-state session).
enum Channel {
    Off,
    Challenged(osdp::secure::Session<Challenged>),
    Cryptogrammed(osdp::secure::Session<Cryptogrammed>),
    Secure(osdp::secure::Session<Secure>),
}

/// What was last said about the link.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Said {
    Nothing,
    Up,
    Down(Fault),
}

/// One reader.
pub struct Session {
    config: Config,
    random: Random,
    rx: Deframer,
    stage: Stage,
    channel: Channel,
    sqn: Sqn,
    pending: Option<Pending>,
    outputs: VecDeque<Output>,
    texts: Vec<Output>,
    next_poll: Duration,
    next_status: Duration,
    identity: Option<Identity>,
    status: Option<LocalStatus>,
    said: Said,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No keys, no card data.
        f.debug_struct("Session")
            .field("address", &self.config.address)
            .field("stage", &self.stage)
            .field("secure", &matches!(self.channel, Channel::Secure(_)))
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session that connects at once (at the first [`Session::handle_timeout`]).
    pub fn new(config: Config, random: Random) -> Self {
        let address = config.address;
        Self {
            config,
            random,
            rx: Deframer::new(address),
            stage: Stage::Down {
                retry_at: Duration::ZERO,
            },
            channel: Channel::Off,
            sqn: Sqn::ZERO,
            pending: None,
            outputs: VecDeque::new(),
            texts: Vec::new(),
            next_poll: Duration::ZERO,
            next_status: Duration::ZERO,
            identity: None,
            status: None,
            said: Said::Nothing,
            transmit: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Whether the reader is up.
    pub fn is_up(&self) -> bool {
        self.stage == Stage::Up
    }

    /// Whether the secure channel is open.
    pub fn is_secure(&self) -> bool {
        matches!(self.channel, Channel::Secure(_))
    }

    /// Who the reader said it is, once it did.
    pub fn identity(&self) -> Option<Identity> {
        self.identity
    }

    /// The security in force (a pairing becomes a key once the reader took it).
    pub fn security(&self) -> &Security {
        &self.config.security
    }

    /// Bytes to send, in order.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// What happened, in order.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Duration> {
        if let Some(p) = &self.pending {
            return Some(p.deadline);
        }
        match self.stage {
            Stage::Down { retry_at } => Some(retry_at),
            Stage::Up if self.outputs.is_empty() => Some(self.next_poll.min(self.next_status)),
            // A step to take now.
            _ => Some(Duration::ZERO),
        }
    }

    /// An LED, buzzer or text command, sent between polls while the reader is up. LEDs and
    /// beeps are dropped while it is not (they belong to a moment); the last text of each line
    /// is kept and shown again whenever the reader comes (back) up.
    pub fn queue(&mut self, output: Output, now: Duration) {
        if output.code == code::TEXT {
            let row = output.data.get(3).copied().unwrap_or_default();
            self.texts
                .retain(|t| t.data.get(3).copied().unwrap_or_default() != row);
            self.texts.push(output.clone());
        }
        if self.stage != Stage::Up {
            return;
        }
        if self.outputs.len() == MAX_OUTPUTS {
            self.outputs.pop_front();
        }
        self.outputs.push_back(output);
        self.step(now);
    }

    /// Bytes the line brought.
    pub fn handle_input(&mut self, bytes: &[u8], now: Duration) {
        self.rx.push(bytes);
        while let Some(frame) = self.rx.next_frame() {
            match frame {
                Err(Rejected::Noise(n)) => self.garbled(format!("{n} bytes outside any frame")),
                Err(Rejected::Frame(why)) => self.garbled(format!("a frame dropped: {why}")),
                Ok(frame) => self.handle_frame(&frame, now),
            }
        }
        self.step(now);
    }

    /// The passing of time: replies that did not come, polls and retries due.
    pub fn handle_timeout(&mut self, now: Duration) {
        if let Some(p) = &mut self.pending
            && now >= p.deadline
        {
            if p.tries < self.config.attempts {
                // The same bytes, the same sequence number: the reader repeats its reply.
                p.tries += 1;
                p.deadline = now + self.config.reply_timeout;
                let bytes = p.bytes.clone();
                let dropped = self.rx.clear();
                if dropped > 0 {
                    self.garbled(format!("{dropped} bytes of an unfinished frame"));
                }
                self.transmit.push_back(bytes);
            } else {
                let why = format!(
                    "no reply to {} in {} tries of {} ms",
                    p.sent.name(),
                    self.config.attempts,
                    self.config.reply_timeout.as_millis()
                );
                self.fail(Fault::Silent(why), now + self.config.retry_every);
            }
        }
        self.step(now);
    }

    fn garbled(&mut self, why: String) {
        self.events.push_back(Event::Garbled(why));
    }

    /// The key and its SCB key-type byte for the next secure channel, if one is wanted.
    fn channel_key(&self) -> Option<([u8; 16], u8)> {
        match &self.config.security {
            Security::Plain => None,
            Security::Key(k) => Some((k.0, 1)),
            Security::Pair { .. } => Some((SCBK_D, 0)),
            Security::Rekey { current, .. } => Some((current.0, 1)),
        }
    }

    /// Takes the next step when nothing is waiting for a reply.
    fn step(&mut self, now: Duration) {
        if self.pending.is_some() {
            return;
        }
        match self.stage {
            Stage::Down { retry_at } if now >= retry_at => self.connect(now),
            Stage::Down { .. } | Stage::Handshake => {}
            Stage::Id => self.send(Sent::Id, code::ID, vec![0], now),
            Stage::Cap => self.send(Sent::Cap, code::CAP, vec![0], now),
            Stage::Lstat => self.send(Sent::Lstat, code::LSTAT, vec![], now),
            Stage::Keyset => {
                let (Security::Pair { new } | Security::Rekey { new, .. }) = &self.config.security
                else {
                    self.stage = Stage::Id;
                    return self.step(now);
                };
                let data = KeySet::scbk(new.0).encode().unwrap_or_default();
                self.send(Sent::Keyset, code::KEYSET, data, now);
            }
            Stage::Up => {
                if let Some(o) = self.outputs.pop_front() {
                    self.send(Sent::Output(o.what), o.code, o.data, now);
                } else if now >= self.next_status {
                    self.next_status = now + self.config.status_every;
                    self.send(Sent::Lstat, code::LSTAT, vec![], now);
                } else if now >= self.next_poll {
                    self.send(Sent::Poll, code::POLL, vec![], now);
                }
            }
        }
    }

    /// Starts the link afresh: sequence number 0, the secure channel first when there is a key.
    fn connect(&mut self, now: Duration) {
        self.sqn = Sqn::ZERO;
        self.rx.clear();
        self.channel = Channel::Off;
        match self.channel_key() {
            Some((key, key_type)) => {
                let rnd_a = (self.random)();
                let session = osdp::secure::Session::<Disconnected>::new(key).challenge(rnd_a);
                self.channel = Channel::Challenged(session);
                self.stage = Stage::Handshake;
                let scb = Scb::new(ScsType::Scs11, [key_type]);
                self.send_handshake(Sent::Chlng, code::CHLNG, scb, rnd_a.to_vec(), now);
            }
            None => {
                self.stage = Stage::Id;
                self.step(now);
            }
        }
    }

    fn send_handshake(&mut self, sent: Sent, code: u8, scb: Scb, data: Vec<u8>, now: Duration) {
        let builder = PacketBuilder {
            addr: Address::from_raw(self.config.address),
            ctrl: ControlByte::new(self.sqn, CtrlFlags::USE_CRC | CtrlFlags::HAS_SCB),
            scb: Some(scb),
            code,
            data,
        };
        match builder.encode() {
            Ok(bytes) => self.sent(sent, bytes, now),
            Err(e) => self.fail(
                Fault::Protocol(format!("cannot encode {}: {}", sent.name(), describe(&e))),
                now + self.config.retry_every,
            ),
        }
    }

    /// Sends a command: sealed (MAC, and its data encrypted) inside the secure channel.
    fn send(&mut self, sent: Sent, code: u8, data: Vec<u8>, now: Duration) {
        let addr = Address::from_raw(self.config.address);
        let encoded = match &mut self.channel {
            Channel::Secure(s) => osdp::secure::seal(
                s,
                addr,
                self.sqn,
                Direction::AcuToPd,
                !data.is_empty(),
                code,
                &data,
            ),
            _ => PacketBuilder::plain(
                addr,
                ControlByte::new(self.sqn, CtrlFlags::USE_CRC),
                code,
                data,
            )
            .encode(),
        };
        match encoded {
            Ok(bytes) => self.sent(sent, bytes, now),
            Err(e) => self.fail(
                Fault::Protocol(format!("cannot encode {}: {}", sent.name(), describe(&e))),
                now + self.config.retry_every,
            ),
        }
    }

    fn sent(&mut self, sent: Sent, bytes: Vec<u8>, now: Duration) {
        self.transmit.push_back(bytes.clone());
        self.pending = Some(Pending {
            sent,
            sqn: self.sqn,
            bytes,
            tries: 1,
            deadline: now + self.config.reply_timeout,
        });
    }

    /// The link goes down; said once per kind of fault.
    fn fail(&mut self, fault: Fault, retry_at: Duration) {
        self.pending = None;
        self.channel = Channel::Off;
        self.stage = Stage::Down { retry_at };
        self.outputs.clear();
        let again = matches!(&self.said, Said::Down(f) if f.same_kind(&fault));
        if !again {
            self.said = Said::Down(fault.clone());
            self.events.push_back(Event::Down(fault));
        }
    }

    fn handle_frame(&mut self, frame: &[u8], now: Duration) {
        let Ok((parsed, _)) = ParsedPacket::parse(frame) else {
            return;
        };
        let Some(pending) = &self.pending else {
            return self.garbled("a reply when none was asked for".into());
        };
        let (sent, sqn) = (pending.sent, pending.sqn);
        if parsed.code == reply::BUSY {
            // The reader asks for the same command again later; its retries are not counted.
            if let Some(p) = &mut self.pending {
                p.deadline = now + self.config.poll_every;
                p.tries = p.tries.saturating_sub(1);
            }
            return;
        }
        if parsed.ctrl.sqn != sqn {
            return self.garbled(format!(
                "a reply with sequence number {} to command {}",
                parsed.ctrl.sqn.value(),
                sqn.value()
            ));
        }
        let retry = now + self.config.retry_every;
        // Inside the secure channel every reply carries a MAC, checked before anything is read.
        let data = match &mut self.channel {
            Channel::Secure(s) => {
                let sealed = parsed.scb.is_some_and(|scb| scb.ty.has_mac());
                if !sealed {
                    // A NAK in clear is a reader that lost its channel (it restarted, or took
                    // our retry for a stale command): nothing of it is read, the channel is
                    // opened again. Anything else in clear is not to be trusted.
                    let fault = if parsed.code == reply::NAK {
                        Fault::Protocol(format!(
                            "the reader left the secure channel (NAK {}); it is opened again",
                            parsed.data.first().copied().unwrap_or_default()
                        ))
                    } else {
                        Fault::Untrusted("a reply without a MAC inside the secure channel".into())
                    };
                    return self.fail(fault, now);
                }
                match osdp::secure::unseal(s, &parsed, frame) {
                    Ok(d) => d,
                    Err(_) => {
                        return self.fail(
                            Fault::Untrusted("a reply whose MAC does not verify".into()),
                            now,
                        );
                    }
                }
            }
            _ => {
                if parsed.scb.is_some_and(|scb| scb.ty.has_mac()) {
                    return self.fail(
                        Fault::Protocol("a sealed reply outside any secure channel".into()),
                        retry,
                    );
                }
                parsed.data.to_vec()
            }
        };
        self.pending = None;
        self.sqn = self.sqn.next();
        let nak = (parsed.code == reply::NAK).then(|| data.first().copied().unwrap_or_default());
        match (sent, parsed.code) {
            (Sent::Chlng, reply::CCRYPT) => self.on_ccrypt(&parsed, &data, now),
            (Sent::Scrypt, reply::RMAC_I) => self.on_rmac_i(&parsed, &data, now),
            (Sent::Chlng | Sent::Scrypt, reply::NAK) => {
                let why = match self.config.security {
                    Security::Pair { .. } => format!(
                        "the reader refused the install key SCBK-D (NAK {}): is it in install mode?",
                        nak.unwrap_or_default()
                    ),
                    _ => format!(
                        "the reader refused the secure channel (NAK {})",
                        nak.unwrap_or_default()
                    ),
                };
                self.fail(Fault::KeyRefused(why), retry);
            }
            (Sent::Id, reply::PDID) => {
                self.identity = PdId::decode(&data).ok().map(|p| Identity {
                    vendor: p.vendor_oui,
                    model: p.model,
                    version: p.version,
                    serial: p.serial,
                    firmware: p.firmware,
                });
                self.stage = Stage::Cap;
            }
            (Sent::Id, reply::NAK) => self.stage = Stage::Cap,
            (Sent::Cap, reply::PDCAP | reply::NAK) => self.stage = Stage::Lstat,
            (Sent::Keyset, reply::ACK) => {
                if let Security::Pair { new } | Security::Rekey { new, .. } = &self.config.security
                {
                    self.config.security = Security::Key(new.clone());
                }
                self.events.push_back(Event::Paired);
                // The reader starts its channel again under the new key; so do we, at once.
                self.channel = Channel::Off;
                self.stage = Stage::Down { retry_at: now };
            }
            (Sent::Keyset, reply::NAK) => self.fail(
                Fault::KeyRefused(format!(
                    "the reader refused the new key (NAK {})",
                    nak.unwrap_or_default()
                )),
                retry,
            ),
            (Sent::Lstat, reply::LSTATR | reply::NAK) if self.stage == Stage::Lstat => {
                if parsed.code == reply::LSTATR {
                    self.on_status(&data);
                }
                self.stage = Stage::Up;
                self.outputs.extend(self.texts.iter().cloned());
                self.next_poll = now;
                self.next_status = now + self.config.status_every;
                if self.said != Said::Up {
                    self.said = Said::Up;
                    self.events.push_back(Event::Up {
                        identity: self.identity,
                        secure: self.is_secure(),
                    });
                }
            }
            (Sent::Poll | Sent::Lstat | Sent::Output(_), code) if self.stage == Stage::Up => {
                self.next_poll = now + self.config.poll_every;
                self.on_running_reply(sent, code, &data, now);
            }
            (sent, code) => self.fail(
                Fault::Protocol(format!(
                    "reply {code:#04x} to {} makes no sense",
                    sent.name()
                )),
                retry,
            ),
        }
    }

    fn on_ccrypt(&mut self, parsed: &ParsedPacket<'_>, data: &[u8], now: Duration) {
        let retry = now + self.config.retry_every;
        let Some((_, key_type)) = self.channel_key() else {
            return;
        };
        let scb = parsed.scb.filter(|s| s.ty == ScsType::Scs12);
        let Some(scb) = scb else {
            return self.fail(
                Fault::Protocol("CCRYPT without its security block".into()),
                retry,
            );
        };
        if scb.data.first().is_some_and(|t| *t != key_type) {
            let why = if key_type == 1 {
                "the reader answered under the install key SCBK-D, not this door's key"
            } else {
                "the reader answered under another key than the install key"
            };
            return self.fail(Fault::KeyRefused(why.into()), retry);
        }
        let ccrypt = match CCrypt::decode(data) {
            Ok(c) => c,
            Err(e) => {
                return self.fail(Fault::Protocol(format!("CCRYPT: {}", describe(&e))), retry);
            }
        };
        let Channel::Challenged(session) = std::mem::replace(&mut self.channel, Channel::Off)
        else {
            return self.fail(Fault::Protocol("CCRYPT out of turn".into()), retry);
        };
        match session.receive_ccrypt(&ccrypt) {
            Ok(s) => {
                let server = s.server_cryptogram();
                self.channel = Channel::Cryptogrammed(s);
                let scb = Scb::new(ScsType::Scs13, [key_type]);
                self.send_handshake(Sent::Scrypt, code::SCRYPT, scb, server.to_vec(), now);
            }
            Err(_) => {
                let why = if key_type == 1 {
                    "the reader's cryptogram does not match this door's key (another reader, or one reset to its install key)"
                } else {
                    "the reader's cryptogram does not match the install key SCBK-D (it holds a key of its own)"
                };
                self.fail(Fault::KeyRefused(why.into()), retry);
            }
        }
    }

    fn on_rmac_i(&mut self, parsed: &ParsedPacket<'_>, data: &[u8], now: Duration) {
        let retry = now + self.config.retry_every;
        if !parsed.scb.is_some_and(|s| s.ty == ScsType::Scs14) {
            return self.fail(
                Fault::Protocol("RMAC_I without its security block".into()),
                retry,
            );
        }
        let rmac = match RMacI::decode(data) {
            Ok(r) => r,
            Err(e) => {
                return self.fail(Fault::Protocol(format!("RMAC_I: {}", describe(&e))), retry);
            }
        };
        let Channel::Cryptogrammed(session) = std::mem::replace(&mut self.channel, Channel::Off)
        else {
            return self.fail(Fault::Protocol("RMAC_I out of turn".into()), retry);
        };
        match session.confirm_rmac_i(&rmac.r_mac_i) {
            Ok(s) => {
                self.channel = Channel::Secure(s);
                self.stage = match self.config.security {
                    Security::Pair { .. } | Security::Rekey { .. } => Stage::Keyset,
                    _ => Stage::Id,
                };
            }
            Err(_) => self.fail(
                Fault::KeyRefused(
                    "the reader's initial R-MAC does not match (it refused our cryptogram)".into(),
                ),
                retry,
            ),
        }
    }

    fn on_status(&mut self, data: &[u8]) {
        if let [tamper, power, ..] = data {
            let status = LocalStatus {
                tamper: *tamper != 0,
                power_failure: *power != 0,
            };
            if self.status != Some(status) {
                self.status = Some(status);
                self.events.push_back(Event::Status(status));
            }
        }
    }

    fn on_running_reply(&mut self, sent: Sent, code: u8, data: &[u8], now: Duration) {
        match code {
            reply::ACK => {}
            reply::RAW => match data {
                [_reader, format, lo, hi, bytes @ ..]
                    if bytes.len() == usize::from(u16::from_le_bytes([*lo, *hi])).div_ceil(8) =>
                {
                    self.events.push_back(Event::Card(CardData::Bits {
                        format: *format,
                        count: u16::from_le_bytes([*lo, *hi]),
                        bytes: bytes.to_vec(),
                    }));
                }
                _ => self.garbled("card data whose bit count and length disagree".into()),
            },
            reply::FMT => match data {
                [_reader, _direction, count, chars @ ..] if chars.len() == usize::from(*count) => {
                    self.events
                        .push_back(Event::Card(CardData::Chars(chars.to_vec())));
                }
                _ => self.garbled("formatted card data whose length disagrees".into()),
            },
            reply::KEYPAD => match data {
                [_reader, count, keys @ ..] if keys.len() == usize::from(*count) => {
                    self.events.push_back(Event::Keys(KeyBytes(keys.to_vec())));
                }
                _ => self.garbled("keypad data whose length disagrees".into()),
            },
            reply::LSTATR => self.on_status(data),
            reply::NAK => {
                let nak = data.first().copied().unwrap_or_default();
                match sent {
                    Sent::Output(what) => self.events.push_back(Event::Refused { what, nak }),
                    Sent::Lstat => {}
                    _ => self.fail(
                        Fault::Protocol(format!("the reader refused {} (NAK {nak})", sent.name())),
                        now + self.config.retry_every,
                    ),
                }
            }
            // Replies to what we do not use (input status, manufacturer's) are ignored.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
