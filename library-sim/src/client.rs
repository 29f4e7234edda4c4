//! A small scripted SIP2 client over any byte stream, for the demo and the tests: it numbers its
//! requests, checks that every reply echoes the number and carries a valid checksum, and asks for
//! a resend once when a reply arrives damaged. The door and kiosk use the `registry` client.

use std::time::Duration;

use sip2::{Dialect, Message, Resend};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A client connection.
pub struct ScriptClient<S> {
    stream: S,
    dialect: Dialect,
    buf: Vec<u8>,
    sequence: u8,
    timeout: Duration,
}

// The buffer holds raw frames with card numbers and PINs: Debug leaves it out.
impl<S> std::fmt::Debug for ScriptClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptClient")
            .field("dialect", &self.dialect.name)
            .field("sequence", &self.sequence)
            .finish_non_exhaustive()
    }
}

/// What went wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// No reply in time.
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// The reply is not valid SIP2.
    #[error("bad reply: {0}")]
    Decode(#[from] sip2::DecodeError),
    /// Our request could not be encoded.
    #[error("request cannot be encoded: {0}")]
    Encode(#[from] sip2::EncodeError),
    /// The reply carries another sequence number.
    #[error("reply has sequence number {got:?}, expected {want}")]
    Sequence {
        /// Received.
        got: Option<u8>,
        /// Sent.
        want: u8,
    },
}

impl<S: AsyncRead + AsyncWrite + Unpin> ScriptClient<S> {
    /// A client over `stream` speaking `dialect` (error detection on: every request numbered).
    pub fn new(stream: S, dialect: Dialect) -> Self {
        Self {
            stream,
            dialect,
            buf: Vec::new(),
            sequence: 0,
            timeout: Duration::from_secs(5),
        }
    }

    /// Sends one request and waits for its reply.
    pub async fn call(&mut self, request: &Message) -> Result<Message, ClientError> {
        let seq = self.sequence;
        self.sequence = (self.sequence + 1) % 10;
        let bytes = request.encode(&self.dialect, Some(seq))?;
        self.stream.write_all(&bytes).await?;
        self.stream.flush().await?;
        let mut resent = false;
        loop {
            let frame = self.read_frame().await?;
            match Message::decode(&frame, &self.dialect) {
                Ok(d) if matches!(d.message, Message::RequestScResend(_)) => {
                    self.stream.write_all(&bytes).await?;
                }
                Ok(d) => {
                    if self.dialect.error_detection && d.sequence != Some(seq) {
                        return Err(ClientError::Sequence {
                            got: d.sequence,
                            want: seq,
                        });
                    }
                    return Ok(d.message);
                }
                Err(e) if e.is_transmission_error() && !resent => {
                    resent = true;
                    let again =
                        Message::RequestAcsResend(Resend::default()).encode(&self.dialect, None)?;
                    self.stream.write_all(&again).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn read_frame(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some((len, consumed)) =
                sip2::frame::split_frame(&self.buf, self.dialect.max_message_len)?
            {
                let frame = self.buf[..len].to_vec();
                self.buf.drain(..consumed);
                if frame.is_empty() {
                    continue;
                }
                return Ok(frame);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(self.timeout, self.stream.read(&mut chunk))
                .await
                .map_err(|_| ClientError::Timeout(self.timeout))??;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                )
                .into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
