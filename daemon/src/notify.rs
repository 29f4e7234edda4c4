//! systemd's notification protocol (`sd_notify`): one datagram to `$NOTIFY_SOCKET` per state
//! (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=…`), and the watchdog interval systemd asked
//! for (`$WATCHDOG_USEC`, for this process when `$WATCHDOG_PID` says so). Without the variables
//! it does nothing, so the daemon runs the same outside systemd.
//!
//! Hand-written rather than the `sd-notify` crate (0.5), for three reasons:
//! - `$NOTIFY_SOCKET` may name a socket in Linux's abstract namespace (`@name`, as sd_notify(3)
//!   documents and as service managers in containers hand out); `sd-notify` connects to that as
//!   a file path and fails, so a door there would never report ready and be killed.
//! - No `unsafe` and no `libc`: `sd-notify` brings both for file-descriptor passing and a
//!   monotonic clock, which we do not use; this module is the standard library's datagram
//!   socket and nothing else.
//! - What we need is small: the protocol is one datagram, and the one check `sd-notify` does
//!   that we did not (`$WATCHDOG_PID`) is here too. The tests below send to real sockets, a
//!   path and an abstract name, and read what arrives.

use std::ffi::OsStr;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends `state` (for example `READY=1`) to systemd, if it is listening; a failure is logged,
/// not returned: a daemon runs on whether or not its manager hears it.
pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&socket, state) {
        tracing::warn!("systemd notification failed: {e}");
    }
}

/// Sends `state` to the socket as `$NOTIFY_SOCKET` names it: a path, or `@` and an abstract
/// name.
fn send(socket: &OsStr, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = socket.as_encoded_bytes().strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(state.as_bytes(), &addr)?;
    } else {
        sock.send_to(state.as_bytes(), socket)?;
    }
    Ok(())
}

/// Half the watchdog interval systemd asked for (`$WATCHDOG_USEC`), if it asked this process
/// (`$WATCHDOG_PID`, when set, is its process id): how often to send `WATCHDOG=1`.
pub fn watchdog_interval() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// [`watchdog_interval`] from the variables' values and this process' id.
fn interval(usec: Option<&str>, pid: Option<&str>, me: u32) -> Option<Duration> {
    if let Some(pid) = pid {
        // Another process' watchdog (a variable inherited from a parent), or nonsense.
        if pid.parse::<u32>().ok()? != me {
            return None;
        }
    }
    let usec: u64 = usec?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use std::os::unix::net::SocketAddr;

    fn receive(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn a_state_reaches_a_socket_named_by_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1").unwrap();
        send(path.as_os_str(), "STATUS=online\nWATCHDOG=1").unwrap();
        assert_eq!(receive(&systemd), "READY=1");
        assert_eq!(receive(&systemd), "STATUS=online\nWATCHDOG=1");
    }

    #[test]
    fn a_state_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("omatoimi-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let systemd = UnixDatagram::bind_addr(&addr).unwrap();
        send(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        assert_eq!(receive(&systemd), "STOPPING=1");
    }

    #[test]
    fn a_socket_that_is_not_there_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(send(dir.path().join("gone").as_os_str(), "READY=1").is_err());
        assert!(send(OsStr::new("@omatoimi-nobody-listens-here"), "READY=1").is_err());
    }

    /// Run as a child of the test below, with the variables set: sends what it read from them.
    const CHILD: &str = "OMATOIMI_NOTIFY_TEST_CHILD";

    #[test]
    fn the_daemon_reads_its_socket_and_watchdog_from_the_environment() {
        if std::env::var_os(CHILD).is_some() {
            notify("READY=1");
            notify(&format!("STATUS={:?}", watchdog_interval()));
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let systemd = UnixDatagram::bind(&path).unwrap();
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "notify::tests::the_daemon_reads_its_socket_and_watchdog_from_the_environment",
            ])
            .env(CHILD, "1")
            .env("NOTIFY_SOCKET", &path)
            .env("WATCHDOG_USEC", "3000000")
            .env_remove("WATCHDOG_PID")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(receive(&systemd), "READY=1");
        assert_eq!(receive(&systemd), "STATUS=Some(1.5s)");
    }

    #[test]
    fn the_watchdog_interval_is_half_of_what_systemd_asked_of_this_process() {
        let me = 4242;
        assert_eq!(
            interval(Some("20000000"), None, me),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            interval(Some("20000000"), Some("4242"), me),
            Some(Duration::from_secs(10))
        );
        // Another process' watchdog, none, or nonsense.
        assert_eq!(interval(Some("20000000"), Some("1"), me), None);
        assert_eq!(interval(Some("20000000"), Some("x"), me), None);
        assert_eq!(interval(None, Some("4242"), me), None);
        assert_eq!(interval(None, None, me), None);
        assert_eq!(interval(Some("0"), None, me), None);
        assert_eq!(interval(Some("-5"), None, me), None);
        assert_eq!(interval(Some("soon"), None, me), None);
    }
}
