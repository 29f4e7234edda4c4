//! The demo's mail server: an SMTP sink on a loopback port that takes mail over STARTTLS only
//! (RFC 5321 with RFC 3207), keeps each message in memory, and relays nothing. The tests judge
//! the console's mail against a real server (aiosmtpd); this is so that the README's demo needs
//! nothing installed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message as it arrived.
#[derive(Debug, Clone)]
pub struct Mail {
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// Headers and body, as sent.
    pub data: String,
    /// Whether it came over TLS.
    pub tls: bool,
}

/// A running sink.
#[derive(Debug, Clone)]
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it took.
    pub mails: Arc<Mutex<Vec<Mail>>>,
}

/// Starts the sink with `tls` as its certificate (for STARTTLS).
pub async fn start(tls: Arc<rustls::ServerConfig>) -> anyhow::Result<Sink> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mails = Arc::new(Mutex::new(vec![]));
    let kept = mails.clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, kept) = (acceptor.clone(), kept.clone());
            tokio::spawn(async move {
                let mut plain = BufReader::new(tcp);
                match session(&mut plain, false, &kept).await {
                    Ok(Next::StartTls) => {
                        if let Ok(tls) = acceptor.accept(plain.into_inner()).await {
                            let mut tls = BufReader::new(tls);
                            let _ = session(&mut tls, true, &kept).await;
                        }
                    }
                    Ok(Next::Done) | Err(_) => {}
                }
            });
        }
    });
    Ok(Sink { addr, mails })
}

enum Next {
    StartTls,
    Done,
}

async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    tls: bool,
    kept: &Mutex<Vec<Mail>>,
) -> std::io::Result<Next> {
    if !tls {
        reply(s, "220 localhost omatoimi demo SMTP sink").await?;
    }
    let mut to = vec![];
    let mut line = String::new();
    loop {
        line.clear();
        if s.read_line(&mut line).await? == 0 {
            return Ok(Next::Done);
        }
        let cmd = line.trim_end().to_owned();
        let verb = cmd
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => {
                let ext = if tls { "250 8BITMIME" } else { "250 STARTTLS" };
                reply(s, &format!("250-localhost\r\n{ext}")).await?;
            }
            "HELO" => reply(s, "250 localhost").await?,
            "STARTTLS" if !tls => {
                reply(s, "220 ready to start TLS").await?;
                return Ok(Next::StartTls);
            }
            "MAIL" | "RCPT" if !tls => reply(s, "530 5.7.0 must issue STARTTLS first").await?,
            "MAIL" => {
                to.clear();
                reply(s, "250 OK").await?;
            }
            "RCPT" => {
                let addr = cmd
                    .split_once('<')
                    .and_then(|(_, r)| r.split_once('>'))
                    .map(|(a, _)| a.to_owned())
                    .unwrap_or_default();
                to.push(addr);
                reply(s, "250 OK").await?;
            }
            "DATA" if !to.is_empty() => {
                reply(s, "354 end with <CRLF>.<CRLF>").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if s.read_line(&mut line).await? == 0 {
                        return Ok(Next::Done);
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-stuffing undone (RFC 5321 4.5.2).
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                if let Ok(mut m) = kept.lock() {
                    m.push(Mail {
                        to: std::mem::take(&mut to),
                        data,
                        tls,
                    });
                }
                reply(s, "250 OK: kept").await?;
            }
            "RSET" => {
                to.clear();
                reply(s, "250 OK").await?;
            }
            "NOOP" => reply(s, "250 OK").await?,
            "QUIT" => {
                reply(s, "221 bye").await?;
                return Ok(Next::Done);
            }
            _ => reply(s, "502 5.5.1 not implemented").await?,
        }
    }
}

async fn reply<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    text: &str,
) -> std::io::Result<()> {
    let w = s.get_mut();
    w.write_all(text.as_bytes()).await?;
    w.write_all(b"\r\n").await?;
    w.flush().await
}
