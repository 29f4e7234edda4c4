//! Fault injection: the ways a real library system misbehaves, switched on by command-line flags
//! or live through the control interface (a line protocol on a loopback TCP port).

use std::sync::Mutex;
use std::time::Duration;

/// What the next replies suffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Delay before every reply.
    pub latency: Duration,
    /// This many next replies are cut off halfway and the connection dropped.
    pub drop_mid_reply: u32,
    /// This many next replies are replaced with bytes that are not SIP2.
    pub garbage: u32,
    /// This many next replies carry a wrong checksum.
    pub bad_checksum: u32,
    /// Every login is refused.
    pub refuse_login: bool,
}

/// What to do to one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFault {
    /// Send it as it is.
    None,
    /// Send half, then close.
    DropMidReply,
    /// Send garbage instead.
    Garbage,
    /// Damage its checksum.
    BadChecksum,
}

/// Faults shared by all connections.
#[derive(Debug, Default)]
pub struct FaultSwitch(Mutex<Faults>);

impl FaultSwitch {
    /// A switch starting with `faults`.
    pub fn new(faults: Faults) -> Self {
        Self(Mutex::new(faults))
    }

    /// The current settings.
    pub fn get(&self) -> Faults {
        self.0.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Takes one count from the first pending one-shot fault.
    pub fn next_reply(&self) -> ReplyFault {
        let Ok(mut f) = self.0.lock() else {
            return ReplyFault::None;
        };
        if f.drop_mid_reply > 0 {
            f.drop_mid_reply -= 1;
            ReplyFault::DropMidReply
        } else if f.garbage > 0 {
            f.garbage -= 1;
            ReplyFault::Garbage
        } else if f.bad_checksum > 0 {
            f.bad_checksum -= 1;
            ReplyFault::BadChecksum
        } else {
            ReplyFault::None
        }
    }

    /// Runs one control command and gives the answer line.
    ///
    /// Commands: `latency MS`, `drop N`, `garbage N`, `bad-checksum N`, `refuse-login on|off`,
    /// `clear`, `status`, `help`.
    pub fn command(&self, line: &str) -> String {
        let mut words = line.split_whitespace();
        let (Some(cmd), arg) = (words.next(), words.next()) else {
            return "error: empty command; try `help`".into();
        };
        let Ok(mut f) = self.0.lock() else {
            return "error: fault settings unavailable".into();
        };
        let count = |arg: Option<&str>| arg.and_then(|a| a.parse::<u32>().ok());
        match (cmd, arg) {
            ("latency", a) => match count(a) {
                Some(ms) => f.latency = Duration::from_millis(u64::from(ms)),
                None => return "error: latency takes milliseconds, e.g. `latency 500`".into(),
            },
            ("drop" | "garbage" | "bad-checksum", a) => match count(a) {
                Some(n) => match cmd {
                    "drop" => f.drop_mid_reply = n,
                    "garbage" => f.garbage = n,
                    _ => f.bad_checksum = n,
                },
                None => return format!("error: {cmd} takes a count of replies, e.g. `{cmd} 1`"),
            },
            ("refuse-login", Some("on")) => f.refuse_login = true,
            ("refuse-login", Some("off")) => f.refuse_login = false,
            ("refuse-login", _) => return "error: refuse-login takes on or off".into(),
            ("clear", None) => *f = Faults::default(),
            ("status", None) => {}
            ("help", _) => {
                return "ok commands: latency MS | drop N | garbage N | bad-checksum N | refuse-login on|off | clear | status".into();
            }
            _ => return format!("error: unknown command {cmd:?}; try `help`"),
        }
        format!(
            "ok latency={}ms drop={} garbage={} bad-checksum={} refuse-login={}",
            f.latency.as_millis(),
            f.drop_mid_reply,
            f.garbage,
            f.bad_checksum,
            if f.refuse_login { "on" } else { "off" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_set_faults_and_one_shots_count_down() {
        let s = FaultSwitch::default();
        assert_eq!(
            s.command("garbage 2"),
            "ok latency=0ms drop=0 garbage=2 bad-checksum=0 refuse-login=off"
        );
        assert!(s.command("latency 250").starts_with("ok latency=250ms"));
        assert_eq!(s.next_reply(), ReplyFault::Garbage);
        assert_eq!(s.next_reply(), ReplyFault::Garbage);
        assert_eq!(s.next_reply(), ReplyFault::None);
        assert!(s.command("refuse-login on").ends_with("refuse-login=on"));
        assert!(s.get().refuse_login);
        assert!(s.command("clear").starts_with("ok latency=0ms"));
        assert_eq!(s.get(), Faults::default());
    }

    #[test]
    fn bad_commands_get_a_clear_error() {
        let s = FaultSwitch::default();
        assert!(s.command("").starts_with("error"));
        assert!(s.command("explode").contains("unknown command"));
        assert!(s.command("drop many").contains("count"));
        assert!(s.command("refuse-login maybe").contains("on or off"));
    }
}
