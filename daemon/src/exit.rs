//! One exit-code scheme for every binary: the codes of sysexits(3), so a script (or a
//! technician reading `echo $?`) tells a typo on the command line from a broken configuration,
//! a library system that does not answer, or a bug.
//!
//! Where an error is made, the binary says what kind it is ([`Tagged::exit`] on a `Result`);
//! [`of`] finds the code again in the error's chain, and falls back on what an I/O error's
//! kind says.

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

/// Why a binary ends. The numbers are sysexits(3)'s, except [`Exit::No`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// 0: done.
    Ok = 0,
    /// 1: the command worked and the answer is "no" (a card refused, a selftest check failed).
    No = 1,
    /// 64 EX_USAGE: the command line is wrong (an unknown flag, a missing argument).
    Usage = 64,
    /// 65 EX_DATAERR: an input's content is wrong (a malformed list or export file).
    DataErr = 65,
    /// 66 EX_NOINPUT: an input file named on the command line is missing or unreadable.
    NoInput = 66,
    /// 69 EX_UNAVAILABLE: a peer does not answer (the library system, the console, the running
    /// daemon).
    Unavailable = 69,
    /// 70 EX_SOFTWARE: an internal error (a bug: report it).
    Software = 70,
    /// 73 EX_CANTCREAT: an output file cannot be made.
    CantCreat = 73,
    /// 74 EX_IOERR: reading or writing a device or file failed.
    IoErr = 74,
    /// 75 EX_TEMPFAIL: try again later (something else holds the store, a stop came mid-way).
    TempFail = 75,
    /// 77 EX_NOPERM: not allowed (a state directory of another user, a file's mode).
    NoPerm = 77,
    /// 78 EX_CONFIG: the configuration file is missing, unreadable or wrong.
    Config = 78,
}

impl Exit {
    /// The process's exit status.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// The table for a binary's `--help` footer (clap's `after_help`) and its man page.
pub const HELP: &str = "Exit status (sysexits(3)):
  0 done; 1 the answer is no (a refusal, a failed check)
  64 bad command line; 65 bad input data; 66 input file missing
  69 a peer (library system, console, daemon) unreachable; 70 internal error
  73 cannot create an output file; 74 I/O error; 75 try again later
  77 permission denied; 78 bad configuration file; 101 a panic (a bug)";

/// Each code and its meaning, for the man pages' EXIT STATUS.
pub const MEANINGS: &[(u8, &str)] = &[
    (0, "done"),
    (
        1,
        "the command worked and the answer is no (a refusal, a failed check)",
    ),
    (64, "bad command line (EX_USAGE)"),
    (
        65,
        "bad input data, such as a refused list file (EX_DATAERR)",
    ),
    (66, "an input file missing or unreadable (EX_NOINPUT)"),
    (
        69,
        "a peer unreachable: the library system, the console, the running daemon (EX_UNAVAILABLE)",
    ),
    (70, "internal error: report it (EX_SOFTWARE)"),
    (73, "cannot create an output file (EX_CANTCREAT)"),
    (74, "input/output error (EX_IOERR)"),
    (75, "try again later (EX_TEMPFAIL)"),
    (77, "permission denied (EX_NOPERM)"),
    (78, "bad configuration file (EX_CONFIG)"),
    (
        101,
        "a panic (a bug); the door-agent engages the lock first",
    ),
];

/// An error with the code it ends the process with. Its text and its causes are the inner
/// error's, so `{:#}` reads as before.
#[derive(Debug)]
pub struct Coded {
    exit: Exit,
    inner: Box<dyn Error + Send + Sync + 'static>,
}

impl Coded {
    /// `error`, ending the process with `exit`.
    pub fn new(exit: Exit, error: impl Into<Box<dyn Error + Send + Sync + 'static>>) -> Self {
        Self {
            exit,
            inner: error.into(),
        }
    }

    /// The code.
    pub fn exit(&self) -> Exit {
        self.exit
    }
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Error for Coded {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.inner.source()
    }
}

/// Says which code a `Result`'s error ends the process with.
pub trait Tagged<T> {
    /// The error, if any, as [`Coded`] with `exit`.
    fn exit(self, exit: Exit) -> Result<T, Coded>;
}

impl<T, E: Into<Box<dyn Error + Send + Sync + 'static>>> Tagged<T> for Result<T, E> {
    fn exit(self, exit: Exit) -> Result<T, Coded> {
        self.map_err(|e| Coded::new(exit, e))
    }
}

/// The code for `error`: the first [`Coded`] in its chain, else what the first I/O error's kind
/// says, else [`Exit::Software`].
pub fn of(error: &(dyn Error + 'static)) -> Exit {
    let chain = || chain(error);
    if let Some(c) = chain().find_map(|e| e.downcast_ref::<Coded>()) {
        return c.exit;
    }
    chain()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .map_or(Exit::Software, |e| of_io(e.kind()))
}

/// `error` and its causes.
fn chain<'a>(error: &'a (dyn Error + 'static)) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    let mut next = Some(error);
    std::iter::from_fn(move || {
        let e = next?;
        next = e.source();
        Some(e)
    })
}

/// The code for an I/O error of `kind` that nothing tagged.
pub fn of_io(kind: std::io::ErrorKind) -> Exit {
    use std::io::ErrorKind as K;
    match kind {
        K::NotFound => Exit::NoInput,
        K::PermissionDenied => Exit::NoPerm,
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::TimedOut => Exit::Unavailable,
        K::WouldBlock | K::Interrupted | K::ResourceBusy => Exit::TempFail,
        K::InvalidData => Exit::DataErr,
        _ => Exit::IoErr,
    }
}

/// Parses the command line; on a mistake prints clap's message and gives [`Exit::Usage`]
/// (clap itself would exit 2), on `--help` or `--version` prints them and gives [`Exit::Ok`].
pub fn parse_args<P: clap::Parser>() -> Result<P, ExitCode> {
    parse_from(std::env::args_os())
}

/// [`parse_args`] over given arguments (the first is the program's name).
pub fn parse_from<P, I, T>(args: I) -> Result<P, ExitCode>
where
    P: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    P::try_parse_from(args).map_err(|e| {
        let _ = e.print();
        usage_exit(&e).into()
    })
}

/// The code for a clap error: 0 for help and version, 64 for the rest.
pub fn usage_exit(e: &clap::Error) -> Exit {
    use clap::error::ErrorKind as K;
    match e.kind() {
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand => {
            Exit::Ok
        }
        _ => Exit::Usage,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(Coded);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("while starting")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_tag_deep_in_the_chain_decides_the_code() {
        let e: Result<(), _> = Err("door.toml: key `rules.frobnicate`: unknown");
        let coded = e.exit(Exit::Config).unwrap_err();
        assert_eq!(
            coded.to_string(),
            "door.toml: key `rules.frobnicate`: unknown"
        );
        assert_eq!(of(&Outer(coded)), Exit::Config);
    }

    #[test]
    fn untagged_io_errors_go_by_their_kind_and_the_rest_is_a_bug() {
        let io = |k| std::io::Error::new(k, "x");
        assert_eq!(of(&io(std::io::ErrorKind::NotFound)), Exit::NoInput);
        assert_eq!(
            of(&io(std::io::ErrorKind::ConnectionRefused)),
            Exit::Unavailable
        );
        assert_eq!(of(&io(std::io::ErrorKind::PermissionDenied)), Exit::NoPerm);
        assert_eq!(of(&fmt::Error), Exit::Software);
    }

    #[test]
    fn codes_are_the_sysexits_numbers() {
        let all = [
            (Exit::Usage, 64),
            (Exit::DataErr, 65),
            (Exit::NoInput, 66),
            (Exit::Unavailable, 69),
            (Exit::Software, 70),
            (Exit::CantCreat, 73),
            (Exit::IoErr, 74),
            (Exit::TempFail, 75),
            (Exit::NoPerm, 77),
            (Exit::Config, 78),
        ];
        for (e, n) in all {
            assert_eq!(e.code(), n, "{e:?}");
            assert!(HELP.contains(&format!("{n} ")), "{n} missing from HELP");
            assert!(
                MEANINGS.iter().any(|(m, _)| *m == n),
                "{n} missing from MEANINGS"
            );
        }
    }

    #[derive(clap::Parser, Debug)]
    struct Args {
        #[arg(long)]
        config: Option<String>,
    }

    #[test]
    fn a_bad_flag_is_a_usage_error_and_help_is_not() {
        let bad = <Args as clap::Parser>::try_parse_from(["x", "--frob"]).unwrap_err();
        assert_eq!(usage_exit(&bad), Exit::Usage);
        let help = <Args as clap::Parser>::try_parse_from(["x", "--help"]).unwrap_err();
        assert_eq!(usage_exit(&help), Exit::Ok);
    }
}
