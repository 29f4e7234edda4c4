//! A virtual contactless card for vsmartcard's `vpcd` reader driver in pcscd. vpcd listens on a
//! TCP port (35963 by default); a card "is presented" by connecting to it and "removed" by
//! closing the connection. Each message is a 2-byte big-endian length and a payload: a 1-byte
//! payload is a control (0 power off, 1 power on, 2 reset, 4 ATR please), anything longer is a
//! command APDU answered with a response APDU. Our card answers GET DATA with its UID.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// vpcd's default port (`CHANNELID 0x8C7B` in /etc/reader.conf.d/vpcd).
pub const DEFAULT_PORT: u16 = 0x8C7B;

/// The ATR of a MIFARE Classic 1K as PC/SC part 3 readers report it.
pub const ATR: [u8; 20] = [
    0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x6A,
];

/// How the card answers GET DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// With this UID.
    Uid(Vec<u8>),
    /// With "function not supported" (a card or reader that cannot tell its UID).
    NoUid,
    /// With a reply too short to be a status word.
    Garbage,
}

/// A card lying on the reader until [`Presented::remove`].
#[derive(Debug)]
pub struct Presented {
    task: JoinHandle<()>,
}

impl Presented {
    /// Takes the card away.
    pub fn remove(self) {
        self.task.abort();
    }
}

impl Drop for Presented {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Puts a card on the vpcd reader at `addr`.
pub async fn present(addr: SocketAddr, behaviour: Behaviour) -> std::io::Result<Presented> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let task = tokio::spawn(async move {
        if let Err(e) = serve(&mut stream, &behaviour).await {
            tracing::debug!("virtual card: {e}");
        }
    });
    Ok(Presented { task })
}

async fn serve(stream: &mut TcpStream, behaviour: &Behaviour) -> std::io::Result<()> {
    loop {
        let len = usize::from(stream.read_u16().await?);
        let mut msg = vec![0u8; len];
        stream.read_exact(&mut msg).await?;
        let reply = match msg.as_slice() {
            [4] => Some(ATR.to_vec()),
            [_] => None,
            apdu => Some(answer(apdu, behaviour)),
        };
        if let Some(reply) = reply {
            let len = u16::try_from(reply.len()).unwrap_or(0);
            stream.write_u16(len).await?;
            stream.write_all(&reply).await?;
        }
    }
}

/// The card's answer to one command APDU.
pub fn answer(apdu: &[u8], behaviour: &Behaviour) -> Vec<u8> {
    match (apdu, behaviour) {
        ([0xFF, 0xCA, 0x00, 0x00, ..], Behaviour::Uid(uid)) => {
            let mut r = uid.clone();
            r.extend([0x90, 0x00]);
            r
        }
        ([0xFF, 0xCA, ..], Behaviour::NoUid) => vec![0x6A, 0x81],
        ([0xFF, 0xCA, ..], Behaviour::Garbage) => vec![0x42],
        _ => vec![0x6D, 0x00],
    }
}
