//! The kiosk's RFID pad: ISO 15693 tags on an HF reader, read and secured one by one.
//!
//! The driver speaks FEIG's ISC host protocol: FEIG's HF readers (ID ISC.MR101, MR102, LR2500)
//! are what many library self-service machines and staff stations use, the protocol is
//! documented by the vendor and reaches every tag on the pad by anti-collision inventory, and it
//! runs over a plain serial port, which we can test here on a real pseudo-terminal. A PC/SC
//! reader was the other candidate: it sees one card at a time and has no standard command for
//! the AFI, so it cannot serve a stack of books.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::DeviceError;
use crate::feig::{self, ADDRESSED, BROADCAST, Parsed, cmd, status};

/// A tag the reader found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TagInfo {
    /// The tag's UID as the reader gives it (`E0 …` first).
    pub uid: [u8; 8],
    /// Its data storage format identifier.
    pub dsfid: u8,
}

/// What a tag says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemInfo {
    /// DSFID.
    pub dsfid: u8,
    /// AFI: the security state libraries use (0x07 secured, 0xC2 on loan).
    pub afi: u8,
    /// Number of memory blocks.
    pub blocks: u16,
    /// Bytes per block.
    pub block_size: u8,
}

/// An HF reader with ISO 15693 tags on it.
pub trait RfidPad: Send {
    /// The tags on the pad now.
    fn inventory(&mut self) -> impl Future<Output = Result<Vec<TagInfo>, DeviceError>> + Send;
    /// DSFID, AFI and memory size of one tag.
    fn system_info(
        &mut self,
        uid: [u8; 8],
    ) -> impl Future<Output = Result<SystemInfo, DeviceError>> + Send;
    /// `count` blocks from `first`, in tag memory order.
    fn read_blocks(
        &mut self,
        uid: [u8; 8],
        first: u8,
        count: u8,
    ) -> impl Future<Output = Result<Vec<u8>, DeviceError>> + Send;
    /// Writes the AFI.
    fn write_afi(
        &mut self,
        uid: [u8; 8],
        afi: u8,
    ) -> impl Future<Output = Result<(), DeviceError>> + Send;
    /// Sets or clears the EAS bit (NXP ICODE tags).
    fn set_eas(
        &mut self,
        uid: [u8; 8],
        on: bool,
    ) -> impl Future<Output = Result<(), DeviceError>> + Send;
    /// Reads the EAS bit back (NXP ICODE tags): whether the tag would sound the gate's alarm.
    fn eas(&mut self, uid: [u8; 8]) -> impl Future<Output = Result<bool, DeviceError>> + Send;
}

/// Any byte stream a reader can be on (a serial port, a pipe to the twin).
pub trait ByteLine: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ByteLine for T {}

/// A FEIG reader on whatever line it is on.
pub type AnyFeigPad = FeigPad<Box<dyn ByteLine>>;

/// How long the reader may take to answer one command.
pub const REPLY_TIMEOUT: Duration = Duration::from_millis(800);

/// A FEIG ISC reader on a byte stream.
pub struct FeigPad<S> {
    io: S,
    name: String,
    buf: Vec<u8>,
    /// A request went unanswered: its late reply may still arrive and must not be taken for
    /// the next one's.
    stale: bool,
}

impl<S> std::fmt::Debug for FeigPad<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FeigPad({})", self.name)
    }
}

/// Opens a FEIG reader on a serial port at its default 38400 baud, 8E1.
pub fn open_serial(path: &str, baud: u32) -> Result<AnyFeigPad, DeviceError> {
    use tokio_serial::SerialPortBuilderExt;
    let port = tokio_serial::new(path, baud)
        .parity(tokio_serial::Parity::Even)
        .data_bits(tokio_serial::DataBits::Eight)
        .stop_bits(tokio_serial::StopBits::One)
        .open_native_async()
        .map_err(|e| DeviceError::Open {
            device: path.into(),
            cause: e.to_string(),
        })?;
    Ok(FeigPad::new(Box::new(port), path))
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> FeigPad<S> {
    /// A reader on `io`, named `name` in errors. The line is drained before the first request:
    /// a host that died mid-command (killed, a power cut) leaves the reader's late reply on it,
    /// which would otherwise be read as the answer to the next process's first request (an
    /// AFI write's "OK" taken for an inventory of an empty pad).
    pub fn new(io: S, name: &str) -> Self {
        Self {
            io,
            name: name.into(),
            buf: Vec::new(),
            stale: true,
        }
    }

    fn io_error(&self, cause: impl ToString) -> DeviceError {
        DeviceError::Io {
            device: self.name.clone(),
            cause: cause.to_string(),
        }
    }

    fn refused(&self, what: &str, code: u8, iso: Option<u8>) -> DeviceError {
        let why = match code {
            status::NO_TAG => "no tag answered (moved off the pad?)".to_owned(),
            status::DATA_FALSE => "the tag's data was garbled on the air".to_owned(),
            status::WRITE_ERROR => "the tag refused the write".to_owned(),
            status::RF_ERROR => "radio error talking to the tag".to_owned(),
            status::ISO_ERROR => {
                format!("the tag answered ISO 15693 error {:#04X}", iso.unwrap_or(0))
            }
            other => format!("reader status {other:#04X}"),
        };
        DeviceError::Refused {
            device: self.name.clone(),
            cause: format!("{what}: {why}"),
        }
    }

    /// Sends one request and reads its reply: (status, data).
    async fn call(&mut self, command: u8, data: &[u8]) -> Result<(u8, Vec<u8>), DeviceError> {
        // A standard frame's length is one byte: LEN, address, command, data, two CRC bytes.
        if data.len() > 250 {
            return Err(self.io_error("a request too long for one reader frame"));
        }
        let request = feig::request(BROADCAST, command, data);
        if self.stale {
            // Drain whatever a late reply left on the line before asking again.
            let mut junk = [0u8; 256];
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(30), self.io.read(&mut junk)).await
            {
                if n == 0 {
                    break;
                }
            }
            self.stale = false;
        }
        self.buf.clear();
        self.io
            .write_all(&request)
            .await
            .map_err(|e| self.io_error(e))?;
        self.io.flush().await.map_err(|e| self.io_error(e))?;
        let deadline = tokio::time::Instant::now() + REPLY_TIMEOUT;
        let mut chunk = [0u8; 512];
        loop {
            loop {
                match feig::parse(&self.buf) {
                    Parsed::Frame(f, n) => {
                        self.buf.drain(..n);
                        if f.command != command {
                            continue;
                        }
                        let Some((&st, rest)) = f.body.split_first() else {
                            return Err(self.io_error("a reply without a status byte"));
                        };
                        return Ok((st, rest.to_vec()));
                    }
                    Parsed::Garbage(n) => {
                        self.buf.drain(..n);
                    }
                    Parsed::Incomplete => break,
                }
            }
            let read = tokio::time::timeout_at(deadline, self.io.read(&mut chunk)).await;
            if read.is_err() {
                self.stale = true;
            }
            let n = read
                .map_err(|_| {
                    self.io_error(format!(
                        "no answer within {} ms (reader unplugged or switched off?)",
                        REPLY_TIMEOUT.as_millis()
                    ))
                })?
                .map_err(|e| self.io_error(e))?;
            if n == 0 {
                return Err(self.io_error("the reader's line closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    async fn addressed(
        &mut self,
        command: u8,
        head: &[u8],
        uid: [u8; 8],
        tail: &[u8],
        what: &str,
    ) -> Result<Vec<u8>, DeviceError> {
        let mut data = head.to_vec();
        data.push(ADDRESSED);
        data.extend(uid);
        data.extend_from_slice(tail);
        let (st, body) = self.call(command, &data).await?;
        if st == status::OK {
            Ok(body)
        } else {
            Err(self.refused(what, st, body.first().copied()))
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> RfidPad for FeigPad<S> {
    async fn inventory(&mut self) -> Result<Vec<TagInfo>, DeviceError> {
        let mut tags = Vec::new();
        let mut mode = 0x00;
        // A reader that keeps saying "more data" is not believed past 64 rounds.
        for _ in 0..64 {
            let (st, body) = self.call(cmd::ISO_HOST, &[cmd::INVENTORY, mode]).await?;
            match st {
                status::NO_TAG => return Ok(tags),
                status::OK | status::MORE_DATA | status::RF_ERROR => {}
                other => return Err(self.refused("inventory", other, body.first().copied())),
            }
            let count = usize::from(body.first().copied().unwrap_or(0));
            for record in body
                .get(1..)
                .unwrap_or_default()
                .chunks_exact(10)
                .take(count)
            {
                let mut uid = [0u8; 8];
                uid.copy_from_slice(&record[2..10]);
                tags.push(TagInfo {
                    uid,
                    dsfid: record[1],
                });
            }
            if st != status::MORE_DATA {
                return Ok(tags);
            }
            mode = 0x80;
        }
        Err(self.io_error("the inventory never ended (\"more data\" 64 times)"))
    }

    async fn system_info(&mut self, uid: [u8; 8]) -> Result<SystemInfo, DeviceError> {
        let b = self
            .addressed(
                cmd::ISO_HOST,
                &[cmd::SYSTEM_INFO],
                uid,
                &[],
                "system information",
            )
            .await?;
        if b.len() < 12 {
            return Err(self.io_error("a short system information reply"));
        }
        // DSFID, UID (8), AFI, MEM-SIZE: blocks - 1, then block size - 1 (MSB first), IC-REF.
        Ok(SystemInfo {
            dsfid: b[0],
            afi: b[9],
            block_size: (b[10] & 0x1F) + 1,
            blocks: u16::from(b[11]) + 1,
        })
    }

    async fn read_blocks(
        &mut self,
        uid: [u8; 8],
        first: u8,
        count: u8,
    ) -> Result<Vec<u8>, DeviceError> {
        let b = self
            .addressed(
                cmd::ISO_HOST,
                &[cmd::READ_BLOCKS],
                uid,
                &[first, count],
                "reading the tag",
            )
            .await?;
        let (n, size) = match b.as_slice() {
            [n, size, ..] => (usize::from(*n), usize::from(*size)),
            _ => return Err(self.io_error("a short read reply")),
        };
        let records = &b[2..];
        if size == 0 || records.len() < n * (size + 1) {
            return Err(self.io_error("a read reply shorter than its block count"));
        }
        Ok(records
            .chunks_exact(size + 1)
            .take(n)
            .flat_map(|r| feig::flip_blocks(&r[1..], size))
            .collect())
    }

    async fn write_afi(&mut self, uid: [u8; 8], afi: u8) -> Result<(), DeviceError> {
        self.addressed(
            cmd::ISO_HOST,
            &[cmd::WRITE_AFI],
            uid,
            &[afi],
            "writing the AFI",
        )
        .await
        .map(|_| ())
    }

    async fn set_eas(&mut self, uid: [u8; 8], on: bool) -> Result<(), DeviceError> {
        let sub = if on {
            cmd::NXP_SET_EAS
        } else {
            cmd::NXP_RESET_EAS
        };
        self.addressed(
            cmd::ISO_CUSTOM,
            &[cmd::MFR_NXP, sub],
            uid,
            &[],
            "setting EAS",
        )
        .await
        .map(|_| ())
    }

    /// NXP's EAS ALARM, addressed: the tag answers it only while its EAS bit is set. Silence
    /// ("no transponder") is the bit clear only if the tag then answers its system information;
    /// a tag that answers neither has left the pad, which is an error, not an answer.
    async fn eas(&mut self, uid: [u8; 8]) -> Result<bool, DeviceError> {
        let mut data = vec![cmd::MFR_NXP, cmd::NXP_EAS_ALARM, ADDRESSED];
        data.extend(uid);
        let (st, body) = self.call(cmd::ISO_CUSTOM, &data).await?;
        match st {
            status::OK => Ok(true),
            status::NO_TAG => self.system_info(uid).await.map(|_| false),
            other => Err(self.refused("reading EAS", other, body.first().copied())),
        }
    }
}
