//! The real `kiosk` binary, headless on real serial lines (socat pseudo-terminals) with the FEIG
//! pad twin and the library simulator, SIGKILLed at each step of a loan and a return, then
//! started again on the same state and ports; judged from outside afterwards:
//!
//! - the library system's record: each loan it took reached it once (one accepted checkout of
//!   the item in the trial), an offline one with its original time;
//! - the tag's security bits (the twin's memory) agree with it: on loan, AFI 0xC2 and EAS clear;
//!   on the shelf, AFI 0x07 and EAS set;
//! - `kiosk queue list` (the kiosk stopped) holds nothing: nothing is left in doubt.
//!
//! The kill points are the real process's windows, hit from the twins the kiosk talks to: the
//! simulator kills the kiosk when a checkout or checkin reaches it (it then goes on and records
//! it, as a library system whose client vanished would) or when it has answered; the pad twin
//! when an AFI or EAS write reaches it (it then does the write, as a reader that had the
//! command would) or when it has done it. The random trials kill at a time drawn over a loan's
//! and a return's measured duration (`OMATOIMI_KILL_TRIALS`, default 20; `OMATOIMI_KILL_SEED`
//! replays a run).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use drivers::feig_twin::{SimPad, Write, WriteMoment};
use library_sim::server::{self, Moment, Received};
use rig::kiosk as sim;
use tokio_serial::SerialPortBuilderExt;

const AINO: &str = "24680000000011";
const ITEM: &str = "HE0000001";
const LENT_AFI: u8 = 0xC2;
const SHELF_AFI: u8 = 0x07;

/// Where the kiosk is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    /// A circulation request at the simulator.
    Library {
        kind: &'static str,
        no_block: bool,
        at: Moment,
    },
    /// The AFI write of a loan (`lend`) or a return, at the pad.
    Afi { lend: bool, at: WriteMoment },
    /// The EAS write of a loan or a return, at the pad.
    Eas { lend: bool, at: WriteMoment },
}

/// How the library system is during the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Library {
    /// Answering.
    Up,
    /// Answering after 3 s (the kiosk gives up after 1.5 s: the request is in doubt, and the
    /// library system has it).
    Slow,
    /// Stopped: connections refused (restarted before the kiosk is).
    Down,
}

/// What a trial ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The item on loan, its tag unsecured.
    Lent,
    /// The item on the shelf, its tag secured.
    OnShelf,
}

#[derive(Default)]
struct Trigger {
    armed: Option<Point>,
    fired: Option<Instant>,
}

struct Bench {
    tmp: tempfile::TempDir,
    fixtures: PathBuf,
    rig: sim::Rig,
    pad: SimPad,
    bin: PathBuf,
    scanner: PathBuf,
    touches: PathBuf,
    _lines: Vec<e2e::Kill>,
    kiosk: Option<Child>,
    log: PathBuf,
    starts: usize,
    pid: Arc<AtomicI32>,
    trigger: Arc<Mutex<Trigger>>,
    /// What the simulators before the running one received.
    journal: Vec<Received>,
    /// Until the trial's first request, how far the journal went.
    mark: usize,
    /// Each start runs under strace, its trace in `trace-N.txt` under `tmp`.
    strace: bool,
}

impl Drop for Bench {
    /// A failed test leaves no kiosk behind.
    fn drop(&mut self) {
        if let Some(mut c) = self.kiosk.take() {
            kill(self.pid.load(Ordering::SeqCst));
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn kill(pid: i32) {
    if let Ok(pid) = u32::try_from(pid) {
        let _ = e2e::signal(pid, rustix::process::Signal::KILL);
    }
}

/// Fires the armed trigger if `p` is it: the kiosk is SIGKILLed there and then.
fn fire(trigger: &Mutex<Trigger>, pid: &AtomicI32, p: Point) {
    let mut t = trigger.lock().unwrap();
    if t.armed == Some(p) {
        t.armed = None;
        kill(pid.load(Ordering::SeqCst));
        t.fired = Some(Instant::now());
    }
}

async fn until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("timed out waiting for {what}");
}

impl Bench {
    async fn new() -> Option<Self> {
        // OMATOIMI_KIOSK_BIN: another build of the kiosk (a long run on a copy while the
        // workspace's is rebuilt).
        let bin = match std::env::var_os("OMATOIMI_KIOSK_BIN") {
            Some(b) => PathBuf::from(b),
            None => e2e::workspace_binary("kiosk")?,
        };
        let tmp = tempfile::tempdir().unwrap();
        let (pad_line, pad_dev, pad_test) = e2e::socat_pair(tmp.path(), "pad")?;
        let (scan_line, scan_dev, scanner) = e2e::socat_pair(tmp.path(), "scanner")?;
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
        let rig = sim::rig(
            tmp.path(),
            &fixtures,
            e2e::daemons_now(),
            "pin_required = false",
        )
        .await
        .unwrap();
        e2e::kiosk_on_serial_lines(&rig.config, &scan_dev, &pad_dev).unwrap();
        let touches = tmp.path().join("touches");
        assert!(
            Command::new("mkfifo")
                .arg(&touches)
                .status()
                .unwrap()
                .success()
        );
        let pad = SimPad::new();
        let port = tokio_serial::new(pad_test.to_string_lossy(), 38400)
            .open_native_async()
            .unwrap();
        tokio::spawn(pad.clone().serve(port));
        let b = Self {
            tmp,
            fixtures,
            rig,
            pad,
            bin,
            scanner,
            touches,
            _lines: vec![pad_line, scan_line],
            kiosk: None,
            log: PathBuf::new(),
            starts: 0,
            pid: Arc::default(),
            trigger: Arc::default(),
            journal: vec![],
            mark: 0,
            strace: false,
        };
        let (trigger, pid) = (b.trigger.clone(), b.pid.clone());
        b.pad.watch_writes(Some(Arc::new(move |w, at| {
            let p = match w {
                Write::Afi { afi, .. } => Point::Afi {
                    lend: afi == LENT_AFI,
                    at,
                },
                Write::Eas { on, .. } => Point::Eas { lend: !on, at },
            };
            fire(&trigger, &pid, p);
        })));
        b.watch_library();
        // The item starts on the shelf, its tag secured, on the pad.
        b.pad.place(sim::tag(ITEM, 1, 1));
        Some(b)
    }

    fn watch_library(&self) {
        let (trigger, pid) = (self.trigger.clone(), self.pid.clone());
        self.rig
            .running
            .watch_circulation(Some(Arc::new(move |r: &Received, at| {
                let p = Point::Library {
                    kind: if r.kind == "checkout" {
                        "checkout"
                    } else {
                        "checkin"
                    },
                    no_block: r.no_block,
                    at,
                };
                fire(&trigger, &pid, p);
            })));
    }

    fn uid() -> [u8; 8] {
        sim::tag(ITEM, 1, 1).uid
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// What the last few starts of the kiosk said (its own lines, no debug), for a failure.
    fn trail(&self) -> String {
        let mut out = String::new();
        for n in self.starts.saturating_sub(3)..=self.starts {
            let log = self.tmp.path().join(format!("kiosk-{n}.log"));
            out.push_str(&format!("--- start {n}\n"));
            for l in std::fs::read_to_string(log).unwrap_or_default().lines() {
                if l.contains(" kiosk") && !l.contains("DEBUG") {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Starts the kiosk and waits until it says it is ready (its flows run: anything left by a
    /// crash is settled and delivery has started).
    async fn start(&mut self) {
        let notify = self.spawn();
        let mut buf = [0u8; 64];
        let mut ready = false;
        until("the kiosk ready", 30, || {
            while let Ok(n) = notify.recv(&mut buf) {
                ready |= &buf[..n] == b"READY=1";
            }
            ready
        })
        .await;
    }

    /// Starts the kiosk; its notification socket.
    fn spawn(&mut self) -> UnixDatagram {
        assert!(self.kiosk.is_none());
        self.starts += 1;
        self.log = self.tmp.path().join(format!("kiosk-{}.log", self.starts));
        let notify_path = self.tmp.path().join(format!("notify-{}.sock", self.starts));
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        notify.set_nonblocking(true).unwrap();
        let mut command = if self.strace {
            let mut c = Command::new("strace");
            c.args(["-f", "-yy", "-qq", "-e", TRACED, "-o"])
                .arg(self.tmp.path().join(format!("trace-{}.txt", self.starts)))
                .arg("--")
                .arg(&self.bin);
            c
        } else {
            Command::new(&self.bin)
        };
        let child = command
            .args([
                "-c",
                &self.rig.config.to_string_lossy(),
                "run",
                "--headless",
            ])
            .arg("--touches")
            .arg(&self.touches)
            .env("RUST_LOG", "debug")
            .env("NOTIFY_SOCKET", &notify_path)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&self.log).unwrap())
            .spawn()
            .unwrap();
        let mut pid = i32::try_from(child.id()).unwrap();
        if self.strace {
            // The kiosk is strace's child.
            let children = format!("/proc/{pid}/task/{pid}/children");
            let end = Instant::now() + Duration::from_secs(10);
            // (strace forks a child of its own to test ptrace first: the kiosk is the child
            // running the kiosk's binary.)
            let bin = std::fs::canonicalize(&self.bin).unwrap();
            pid = loop {
                let listed = std::fs::read_to_string(&children).unwrap_or_default();
                let kiosk = listed
                    .split_whitespace()
                    .find(|p| std::fs::read_link(format!("/proc/{p}/exe")).is_ok_and(|e| e == bin));
                if let Some(p) = kiosk {
                    break p.parse().unwrap();
                }
                assert!(Instant::now() < end, "strace started no kiosk");
                std::thread::sleep(Duration::from_millis(5));
            };
        }
        self.pid.store(pid, Ordering::SeqCst);
        self.kiosk = Some(child);
        notify
    }

    /// Waits for the killed kiosk to be gone.
    fn reap(&mut self) {
        if let Some(mut c) = self.kiosk.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the kiosk with SIGTERM, as systemd does.
    async fn stop(&mut self) {
        if self.kiosk.is_none() {
            return;
        }
        kill_term(u32::try_from(self.pid.load(Ordering::SeqCst)).unwrap());
        let end = Instant::now() + Duration::from_secs(10);
        while self
            .kiosk
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
        {
            assert!(
                Instant::now() < end,
                "the kiosk (start {}) did not stop on SIGTERM:\n{}",
                self.starts,
                self.trail()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kiosk = None;
    }

    async fn touch(&self, word: &str) {
        let fifo = self.touches.clone();
        let line = format!("{word}\n");
        tokio::task::spawn_blocking(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            f.write_all(line.as_bytes()).unwrap();
        })
        .await
        .unwrap();
    }

    fn views_of_items(&self) -> usize {
        self.log_text().matches("screen=Items").count()
    }

    /// Aino's phone card at the scanner: logged in, borrowing.
    async fn log_in(&self) {
        let before = self.log_text().matches("patron logged in").count();
        let mut s = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.scanner)
            .unwrap();
        s.write_all(format!("]Q1https://kirjasto.example.fi/card?number={AINO}\r\n").as_bytes())
            .unwrap();
        until("the patron logged in", 20, || {
            self.log_text().matches("patron logged in").count() > before
        })
        .await;
    }

    /// The return button: returning.
    async fn returning(&self) {
        let before = self.views_of_items();
        self.touch("return").await;
        until("the return screen", 20, || self.views_of_items() > before).await;
    }

    fn received(&self) -> Vec<Received> {
        let mut all = self.journal.clone();
        all.extend(self.rig.running.received());
        all
    }

    async fn control(&self, command: &str) {
        let line = e2e::control(&self.rig.running, command).await;
        assert!(line.starts_with("ok"), "{line}");
    }

    async fn library_down(&mut self) {
        self.rig.running.stop();
    }

    /// The simulator again, on the same ports and state, as a restarted library system.
    async fn library_up(&mut self) {
        let old = &self.rig.running;
        let running = server::start(server::Settings {
            fixtures: self.fixtures.clone(),
            state_dir: self.tmp.path().to_owned(),
            sip2_tls: old.sip2_tls,
            sip2_plain: None,
            control: old.control,
            dialect: sip2::Dialect {
                charset: sip2::Charset::Utf8,
                ..sip2::Dialect::standard()
            },
            hostnames: vec![],
            faults: Default::default(),
            idle_timeout: Duration::from_secs(600),
            https: old.https,
            require_client_cert: false,
            token_lifetime: Duration::from_secs(3600),
            allowlist: Some(self.tmp.path().join("allowlist").join("published")),
            clock: old.clock().clone(),
        })
        .await
        .unwrap();
        self.journal.extend(self.rig.running.received());
        self.rig.running = running;
        self.watch_library();
    }

    async fn on_loan(&self) -> bool {
        self.rig.running.state().await.loans.contains_key(ITEM)
    }

    /// Starts a loan (`lend`) or a return of the item with the library system `library`, the
    /// kiosk running: the tag goes on the pad at the instant returned.
    async fn begin(&mut self, lend: bool, library: Library) -> (Instant, NaiveDateTime) {
        // Off the pad while the session starts, then back as it was (its bits as they are).
        let tag = self
            .pad
            .remove(Self::uid())
            .expect("the item's tag is on the pad");
        if lend {
            self.log_in().await;
        } else {
            self.returning().await;
        }
        match library {
            Library::Up => {}
            Library::Slow => self.control("latency 3000").await,
            Library::Down => self.library_down().await,
        }
        self.mark = self.received().len();
        let at = e2e::daemons_local_now();
        self.pad.place(tag);
        (Instant::now(), at)
    }

    /// The library system back to normal, the kiosk started again until its queue is empty
    /// (each start settles what a crash left and delivers; a start is stopped with SIGTERM
    /// once it has delivered, and `kiosk queue list` read); the number of starts it took.
    async fn settle(&mut self, library: Library) -> usize {
        match library {
            Library::Up => {}
            Library::Slow => self.control("clear").await,
            Library::Down => self.library_up().await,
        }
        for round in 1..=4 {
            self.start().await;
            // Delivery runs at start when anything waits: give it its round.
            let end = Instant::now() + Duration::from_millis(1500);
            while Instant::now() < end && !self.log_text().contains("offline queue delivery") {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            self.stop().await;
            let list = self.queue_list();
            if list.trim().is_empty() {
                return round;
            }
            println!("  after start {round} the queue holds:\n{list}");
        }
        panic!(
            "the queue is not empty after four starts:\n{}\n{}",
            self.queue_list(),
            self.log_text()
        );
    }

    fn queue_list(&self) -> String {
        let out = Command::new(&self.bin)
            .args(["-c", &self.rig.config.to_string_lossy(), "queue", "list"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The judge: the library system's record and the tag agree, the item's loan reached the
    /// library once with its time, nothing is left.
    async fn judge(&self, what: &str, placed: NaiveDateTime, killed: NaiveDateTime) -> End {
        let state = self.rig.running.state().await;
        let tag = self.pad.tag(Self::uid()).expect("the tag left the pad");
        let loan = state.loans.get(ITEM);
        let end = if loan.is_some() {
            End::Lent
        } else {
            End::OnShelf
        };
        let (afi, eas) = match end {
            End::Lent => (LENT_AFI, false),
            End::OnShelf => (SHELF_AFI, true),
        };
        assert_eq!(
            (tag.afi, tag.eas),
            (afi, eas),
            "{what}: the library has the item {end:?} but its tag reads AFI {:#04X} EAS {}\n{}\nthe library received {:?}",
            tag.afi,
            tag.eas,
            self.trail(),
            &self.received()[self.mark..]
        );
        let trial: Vec<Received> = self.received().split_off(self.mark);
        let checkouts: Vec<&Received> = trial
            .iter()
            .filter(|r| r.kind == "checkout" && r.item == ITEM && r.ok)
            .collect();
        assert!(
            checkouts.len() <= 1,
            "{what}: the loan reached the library {} times: {trial:?}",
            checkouts.len()
        );
        // A loan taken back never reaches the library afterwards: its history keeps no loan
        // the patron never had (only a checkout made online before the kill, then a return).
        if end == End::OnShelf {
            assert!(
                !checkouts.iter().any(|c| c.no_block),
                "{what}: taken back, yet delivered afterwards as a loan: {trial:?}"
            );
        }
        if let (Some(loan), Some(c)) = (loan, checkouts.first())
            && c.no_block
        {
            // Lent offline: the library has the loan at the kiosk's time of it.
            let slack = chrono::Duration::seconds(1);
            assert!(
                loan.lent_at >= placed - slack && loan.lent_at <= killed + slack,
                "{what}: an offline loan recorded at {} (placed {placed}, killed {killed})",
                loan.lent_at
            );
        }
        end
    }
}

fn kill_term(pid: u32) {
    let _ = e2e::signal(pid, rustix::process::Signal::TERM);
}

impl Bench {
    /// Makes the item be on loan (`lent`) or on the shelf, by a loan or return that runs to
    /// its end (the kiosk stopped after).
    async fn ensure(&mut self, lent: bool) {
        if self.on_loan().await == lent {
            return;
        }
        self.start().await;
        let (_, placed) = self.begin(lent, Library::Up).await;
        let uid = Self::uid();
        until("the clean flow's tag", 20, || {
            self.pad.tag(uid).is_some_and(|t| t.eas != lent)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.stop().await;
        self.settle(Library::Up).await;
        let now = e2e::daemons_local_now();
        let end = self.judge("a clean flow", placed, now).await;
        assert_eq!(end == End::Lent, lent);
    }

    /// One fixed window: the flow, killed at `point`; then settled and judged.
    async fn window(&mut self, lend: bool, library: Library, point: Point) -> End {
        self.ensure(!lend).await;
        self.start().await;
        self.trigger.lock().unwrap().fired = None;
        self.trigger.lock().unwrap().armed = Some(point);
        let (_, placed) = self.begin(lend, library).await;
        until(&format!("the kill at {point:?}"), 30, || {
            self.trigger.lock().unwrap().fired.is_some()
        })
        .await;
        let killed = e2e::daemons_local_now();
        self.reap();
        let starts = self.settle(library).await;
        let what = format!(
            "{} ({library:?}) killed at {point:?}",
            if lend { "loan" } else { "return" }
        );
        let end = self.judge(&what, placed, killed).await;
        println!("{what}: {end:?}, settled in {starts} start(s)");
        end
    }

    /// A delivery window: the flow with the library system down runs to its end (the item
    /// lent or returned offline); the library comes back, and the kiosk, started, is killed at
    /// `point` while it delivers.
    async fn delivery(&mut self, lend: bool, point: Point) -> End {
        self.ensure(!lend).await;
        self.start().await;
        let (_, placed) = self.begin(lend, Library::Down).await;
        let uid = Self::uid();
        until("the offline flow's tag", 20, || {
            self.pad.tag(uid).is_some_and(|t| t.eas != lend)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.stop().await;
        self.library_up().await;
        self.trigger.lock().unwrap().fired = None;
        self.trigger.lock().unwrap().armed = Some(point);
        // Delivery starts before the kiosk says it is ready: the kill may come first.
        let _notify = self.spawn();
        until(&format!("the kill at {point:?}"), 30, || {
            self.trigger.lock().unwrap().fired.is_some()
        })
        .await;
        let killed = e2e::daemons_local_now();
        self.reap();
        let starts = self.settle(Library::Up).await;
        let what = format!(
            "{} delivered offline, killed at {point:?}",
            if lend { "loan" } else { "return" }
        );
        let end = self.judge(&what, placed, killed).await;
        println!("{what}: {end:?}, settled in {starts} start(s)");
        end
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_killed_at_each_step_of_a_loan_and_a_return_settles_with_the_library() {
    let Some(mut b) = Bench::new().await else {
        println!("SKIPPED: the kiosk binary is not built, or socat is missing");
        return;
    };
    use End::{Lent, OnShelf};
    use Library::{Down, Slow, Up};
    use Moment::{Answered, Received};
    use WriteMoment::{Done, Received as Got};
    let library = |kind, no_block, at| Point::Library { kind, no_block, at };
    // (lend, library, kill point, the end a real product should come to)
    let windows = [
        // An online loan: the library has it; the tag was never switched (the patron left
        // without the item): taken back.
        (true, Up, library("checkout", false, Received), OnShelf),
        (true, Up, library("checkout", false, Answered), OnShelf),
        // The AFI switched (the reader does the write it got) but not the EAS: taken back,
        // the tag secured again.
        (
            true,
            Up,
            Point::Afi {
                lend: true,
                at: Got,
            },
            OnShelf,
        ),
        (
            true,
            Up,
            Point::Afi {
                lend: true,
                at: Done,
            },
            OnShelf,
        ),
        // Both bits switched: the loan stands.
        (
            true,
            Up,
            Point::Eas {
                lend: true,
                at: Got,
            },
            Lent,
        ),
        (
            true,
            Up,
            Point::Eas {
                lend: true,
                at: Done,
            },
            Lent,
        ),
        // An online return: the library has it, the tag is secured at the next start.
        (false, Up, library("checkin", false, Received), OnShelf),
        (false, Up, library("checkin", false, Answered), OnShelf),
        (
            false,
            Up,
            Point::Afi {
                lend: false,
                at: Got,
            },
            OnShelf,
        ),
        (
            false,
            Up,
            Point::Eas {
                lend: false,
                at: Done,
            },
            OnShelf,
        ),
        // Offline, the library system down: the loan is staged before the tag is switched.
        (
            true,
            Down,
            Point::Afi {
                lend: true,
                at: Got,
            },
            OnShelf,
        ),
        (
            true,
            Down,
            Point::Eas {
                lend: true,
                at: Done,
            },
            Lent,
        ),
        (
            false,
            Down,
            Point::Afi {
                lend: false,
                at: Done,
            },
            OnShelf,
        ),
        // Offline after an unanswered request the library did take (in doubt).
        (
            true,
            Slow,
            Point::Afi {
                lend: true,
                at: Done,
            },
            OnShelf,
        ),
        (
            true,
            Slow,
            Point::Eas {
                lend: true,
                at: Done,
            },
            Lent,
        ),
    ];
    let started = Instant::now();
    for (lend, lib, point, want) in windows {
        let got = b.window(lend, lib, point).await;
        assert_eq!(got, want, "{lend} {lib:?} {point:?}");
    }
    // Delivery of what was lent or returned offline, killed as it leaves and once answered.
    for (lend, at, want) in [
        (true, Received, Lent),
        (true, Answered, Lent),
        (false, Received, OnShelf),
        (false, Answered, OnShelf),
    ] {
        let kind = if lend { "checkout" } else { "checkin" };
        let got = b.delivery(lend, library(kind, true, at)).await;
        assert_eq!(got, want, "delivery of {kind} killed at {at:?}");
    }
    println!(
        "{} kiosk starts in {:.1} s",
        b.starts,
        started.elapsed().as_secs_f64()
    );
}

impl Bench {
    /// How long a loan (`lend`) or a return takes with the library system `library`: from the
    /// tag put on the pad to its last security bit switched (a clean run, judged too).
    async fn measure(&mut self, lend: bool, library: Library) -> Duration {
        self.ensure(!lend).await;
        self.start().await;
        let (t0, placed) = self.begin(lend, library).await;
        let uid = Self::uid();
        until("the measured flow's tag", 30, || {
            self.pad.tag(uid).is_some_and(|t| t.eas != lend)
        })
        .await;
        let took = t0.elapsed();
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.stop().await;
        self.settle(library).await;
        let now = e2e::daemons_local_now();
        let end = self.judge("a measured flow", placed, now).await;
        assert_eq!(end == End::Lent, lend);
        took
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_killed_at_random_times_over_loans_and_returns_settles_every_time() {
    let trials: usize = std::env::var("OMATOIMI_KILL_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("OMATOIMI_KILL_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("kill trials: {trials}, seed {seed} (OMATOIMI_KILL_SEED={seed} replays them)");
    let Some(mut b) = Bench::new().await else {
        println!("SKIPPED: the kiosk binary is not built, or socat is missing");
        return;
    };
    let started = Instant::now();
    let libraries = [Library::Up, Library::Slow, Library::Down];
    // Measured in this run: a loan's and a return's real duration on each kind of library.
    let mut took = std::collections::HashMap::new();
    for library in libraries {
        for lend in [true, false] {
            let d = b.measure(lend, library).await;
            println!(
                "  {} with the library {library:?}: {} ms",
                if lend { "a loan" } else { "a return" },
                d.as_millis()
            );
            took.insert((lend, library), d);
        }
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    // Kill times as fractions of the flow's duration, in fifths up to 1.25 (the last fifth is
    // after the last bit: the record's removal and the session's end).
    let mut spread = [0usize; 5];
    let mut ends = std::collections::BTreeMap::new();
    let mut extra_starts = 0;
    for i in 0..trials {
        let lend = !b.on_loan().await;
        let library = libraries[rng.usize(..libraries.len())];
        let whole = took[&(lend, library)];
        let fraction = rng.f64() * 1.25;
        let delay = whole.mul_f64(fraction);
        spread[((fraction / 0.25) as usize).min(4)] += 1;
        b.start().await;
        let (t0, placed) = b.begin(lend, library).await;
        tokio::time::sleep_until((t0 + delay).into()).await;
        kill(b.pid.load(Ordering::SeqCst));
        let killed = e2e::daemons_local_now();
        b.reap();
        let starts = b.settle(library).await;
        extra_starts += starts - 1;
        let what = format!(
            "trial {i} (seed {seed}): {} with the library {library:?}, killed at {} ms of {} ms",
            if lend { "a loan" } else { "a return" },
            delay.as_millis(),
            whole.as_millis()
        );
        let end = b.judge(&what, placed, killed).await;
        *ends
            .entry(format!(
                "{} {library:?} -> {end:?}",
                if lend { "loan" } else { "return" }
            ))
            .or_insert(0usize) += 1;
    }
    println!(
        "{trials} trials (seed {seed}) in {:.0} s, every one settled: the library's record and the tag agree, each loan reached the library at most once (offline ones with their time), the queue empty",
        started.elapsed().as_secs_f64()
    );
    println!(
        "  kill times over the measured duration, by quarter (0-25-50-75-100-125 %): {spread:?}"
    );
    println!("  starts beyond the first needed to empty the queue: {extra_starts}");
    for (k, n) in ends {
        println!("  {k}: {n}");
    }
}

/// The system calls strace shows: writes to files, sockets and the pad's line, and syncs.
const TRACED: &str =
    "trace=write,writev,pwrite64,pwritev,sendto,sendmsg,fsync,fdatasync,sync_file_range";

/// What a trace showed.
#[derive(Debug, Default)]
struct Syncs {
    /// Writes to the queue's log file.
    queue_writes: usize,
    /// fsync/fdatasync of it.
    queue_syncs: usize,
    /// sync_file_range of it (sled's flush).
    ranges: usize,
    /// Requests to the library system (writes to its SIP2 socket).
    requests: usize,
    /// Writes to the pad's line.
    pad_writes: usize,
    /// Requests or pad writes made while a write to the queue was not yet synced.
    unsynced: Vec<String>,
}

/// Reads strace's `-f -yy` output: each queue write must be fsynced (or fdatasynced) before the
/// kiosk sends anything to the library system (`sip2_port`) or the pad (`pad`, a pts path).
fn judge_trace(trace: &str, sip2_port: u16, pad: &str, into: &mut Syncs) {
    use std::collections::HashMap;
    // A call split by another thread's: its name and first argument, by thread.
    let mut pending: HashMap<&str, (String, String)> = HashMap::new();
    // The last write to the queue's log not yet synced (the test runs one thing at a time:
    // no flow while the queue is delivered).
    let mut dirty: Option<String> = None;
    let socket = format!("->127.0.0.1:{sip2_port}]");
    // `-yy` shows a pty as `/dev/pts/N<char 136:N>`.
    let on_pad = |arg: &str| arg == pad || arg.starts_with(&format!("{pad}<"));
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        let (name, arg, done, ok) = if let Some(r) = rest.strip_prefix("<... ") {
            let Some((name, tail)) = r.split_once(" resumed>") else {
                continue;
            };
            let Some((n, a)) = pending.remove(pid) else {
                continue;
            };
            debug_assert_eq!(n, name);
            (n, a, true, tail.trim_end().ends_with("= 0"))
        } else {
            let Some((name, args)) = rest.split_once('(') else {
                continue;
            };
            // The first argument's path (`N</path>`, `N<TCP:[a->b]>`, `N</dev/pts/0<char 136:0>>`),
            // up to what follows it: another argument, the call's end, or strace's break.
            let arg = args.split_once('<').map_or(String::new(), |(_, a)| {
                [">,", ">)", "> <unfinished"]
                    .iter()
                    .filter_map(|end| a.find(end))
                    .min()
                    .map_or(String::new(), |i| a[..i].to_owned())
            });
            let unfinished = rest.ends_with("<unfinished ...>");
            if unfinished {
                pending.insert(pid, (name.to_owned(), arg.clone()));
            }
            (
                name.to_owned(),
                arg,
                !unfinished,
                rest.trim_end().ends_with("= 0"),
            )
        };
        let queue_log = arg.ends_with("/state/queue/db");
        match name.as_str() {
            "write" | "writev" | "pwrite64" | "pwritev" if queue_log => {
                into.queue_writes += 1;
                dirty = Some(line.to_owned());
            }
            "fsync" | "fdatasync" if queue_log && done && ok => {
                into.queue_syncs += 1;
                dirty = None;
            }
            "sync_file_range" if queue_log && done => into.ranges += 1,
            "write" | "writev" | "sendto" | "sendmsg"
                if !rest.starts_with("<...") && (arg.contains(&socket) || on_pad(&arg)) =>
            {
                if on_pad(&arg) {
                    into.pad_writes += 1;
                } else {
                    into.requests += 1;
                }
                if let Some(w) = &dirty {
                    into.unsynced.push(format!("{line}\n  after {w}"));
                }
            }
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_on_the_disk_before_the_kiosk_acts_on_it() {
    let traced = Command::new("strace")
        .args(["-f", "-qq", "-o", "/dev/null", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !traced {
        println!(
            "SKIPPED: strace is not installed or may not trace here (scripts/test installs it)"
        );
        return;
    }
    let Some(mut b) = Bench::new().await else {
        println!("SKIPPED: the kiosk binary is not built, or socat is missing");
        return;
    };
    let pad = std::fs::canonicalize(b.tmp.path().join("pad-device"))
        .unwrap()
        .display()
        .to_string();
    b.strace = true;
    let uid = Bench::uid();
    let mut queued = false;
    // Online: a loan and a return; offline (the library system down), a loan and a return,
    // each delivered at the next start, marked in flight before it is sent. A start each.
    for (lend, library) in [
        (true, Library::Up),
        (false, Library::Up),
        (true, Library::Down),
        (false, Library::Down),
    ] {
        b.start().await;
        if queued {
            // What the last flow queued is delivered first, alone.
            until("the delivery", 30, || {
                b.log_text().contains("offline queue delivery")
            })
            .await;
        }
        queued = library == Library::Down;
        b.begin(lend, library).await;
        until("the flow's tag", 30, || {
            b.pad.tag(uid).is_some_and(|t| t.eas != lend)
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.stop().await;
        if library == Library::Down {
            b.library_up().await;
        }
    }
    b.start().await;
    until("the delivery", 30, || {
        b.log_text().contains("offline queue delivery")
    })
    .await;
    b.stop().await;
    b.strace = false;
    assert!(b.queue_list().trim().is_empty(), "{}", b.queue_list());
    let sip2 = b.rig.running.sip2_tls.unwrap().port();
    let mut syncs = Syncs::default();
    for n in 1..=b.starts {
        let trace = std::fs::read_to_string(b.tmp.path().join(format!("trace-{n}.txt")))
            .unwrap_or_default();
        judge_trace(&trace, sip2, &pad, &mut syncs);
    }
    println!("{syncs:?}");
    assert!(
        syncs.unsynced.is_empty(),
        "{} request(s) or pad write(s) left while a queue write was not synced (sled's flushes made {} sync_file_range calls):\n{}",
        syncs.unsynced.len(),
        syncs.ranges,
        syncs.unsynced.join("\n")
    );
    // The trace saw what it judges: the staged records, the requests, the pad's writes.
    assert!(syncs.queue_writes >= 8, "{syncs:?}");
    assert!(syncs.queue_syncs >= 8, "{syncs:?}");
    assert!(syncs.requests >= 4, "{syncs:?}");
    assert!(syncs.pad_writes >= 8, "{syncs:?}");
}
