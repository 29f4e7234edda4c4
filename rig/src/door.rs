//! A door at Lemi on simulated hardware against the simulator: the rig the README's demo, the
//! interactive `door` command and the end-to-end tests share. The simulator signs and serves an
//! offline list; the door is configured as a technician would (a TOML file), with its pins as
//! files, a simulated reader and keypad, and a clock the caller chooses.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use door_agent::settings::{DoorSettings, ReaderSettings};
use door_agent::{Clock, Devices, Feedback};
use drivers::display::TextDisplay;
use drivers::gpio::FileBackend;
use drivers::sim::{SimCards, SimKeys};
use sip2::{Charset, Dialect};
use tokio::sync::mpsc;

use library_sim::server::{self, Settings};

/// Lock relay, door contact, exit button, LEDs, buzzer, lights.
pub const LOCK: u8 = 17;
/// Door contact (high = open).
pub const CONTACT: u8 = 27;
/// Exit button (low = pressed).
pub const EXIT: u8 = 22;
/// Lights output.
pub const LIGHTS: u8 = 24;

/// The simulator, the door's files and its configuration.
#[derive(Debug)]
pub struct Rig {
    /// The running simulator.
    pub running: server::Running,
    /// The door's directory (config, secrets, pins, state).
    pub dir: PathBuf,
    /// The door's configuration file.
    pub config: PathBuf,
    /// The pins' directory.
    pub gpio: PathBuf,
    /// The list version published.
    pub list_version: u64,
    /// The simulator's clock, running from the list's issue time (a test may give it to the
    /// door too, or set it).
    pub clock: TestClock,
    /// The one day the door stays closed (an exception in its hours).
    pub closed_day: NaiveDate,
}

pub use library_sim::clock::TestClock;

/// Publishes the offline list at `issued_at` and starts the simulator (SIP2/TLS, HTTPS with the
/// list, fault control) on loopback: what a door's or kiosk's rig stands on. The simulator's
/// clock runs from `issued_at`, and the catalogue's dates are resolved against it. With
/// `require_client_cert`, SIP2 and HTTPS let in only devices with a certificate from the
/// simulator's CA (`ca.pem`, `ca-key.pem` in `state_dir`).
pub async fn start_library(
    state_dir: &Path,
    fixtures: &Path,
    issued_at: DateTime<Utc>,
    list_valid_hours: i64,
    require_client_cert: bool,
) -> anyhow::Result<(
    server::Running,
    library_sim::publishing::PublisherFiles,
    publisher::Publication,
)> {
    start_library_on(
        state_dir,
        fixtures,
        &TestClock::starting(issued_at),
        list_valid_hours,
        require_client_cert,
    )
    .await
}

/// [`start_library`] with the simulator on `clock` (a test can set it), the list issued now by
/// that clock.
pub async fn start_library_on(
    state_dir: &Path,
    fixtures: &Path,
    clock: &TestClock,
    list_valid_hours: i64,
    require_client_cert: bool,
) -> anyhow::Result<(
    server::Running,
    library_sim::publishing::PublisherFiles,
    publisher::Publication,
)> {
    let issued_at = clock.now();
    let sim_clock = clock.sim();
    let catalogue = library_sim::fixtures::Fixtures::load(fixtures, sim_clock.today())?;
    let files = library_sim::publishing::ensure_publisher(state_dir)?;
    let publication = library_sim::publishing::publish(
        &catalogue,
        None,
        &files,
        issued_at.timestamp(),
        list_valid_hours,
        allowlist::Argon2Params::OWASP_MINIMUM,
    )?;
    let running = server::start(Settings {
        fixtures: fixtures.to_owned(),
        state_dir: state_dir.to_owned(),
        sip2_tls: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        sip2_plain: None,
        control: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        dialect: Dialect {
            charset: Charset::Utf8,
            ..Dialect::standard()
        },
        hostnames: vec![],
        faults: Default::default(),
        idle_timeout: Duration::from_secs(600),
        https: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        require_client_cert,
        token_lifetime: Duration::from_secs(3600),
        allowlist: Some(state_dir.join("allowlist").join("published")),
        clock: sim_clock,
    })
    .await?;
    Ok((running, files, publication))
}

/// The day the rig's door is closed all day (an exception in its hours): two days after the local
/// (Helsinki) date of `at`, so neither the day a test starts nor the days it moves to for other
/// reasons is a closed day by accident, whatever the date.
pub fn closed_day(at: DateTime<Utc>) -> NaiveDate {
    let today = access::zone::Zone::HELSINKI.local(at).date();
    today + chrono::Duration::days(2)
}

/// Starts the simulator (SIP2/TLS and HTTPS with the list) and writes the Lemi door's files
/// under `state_dir/door`. `door_extra` is appended to the `[door]` table. The list is issued at
/// `issued_at`: the door's own clock, which a device checks the list against; the simulator's
/// clock ([`Rig::clock`]) runs from there. The door is open for self-service 07:00-22:00 every day
/// but one, [`Rig::closed_day`]; no date is fixed, so the rig behaves alike on every day.
pub async fn rig(
    state_dir: &Path,
    fixtures: &Path,
    door_extra: &str,
    issued_at: DateTime<Utc>,
    list_valid_hours: i64,
) -> anyhow::Result<Rig> {
    let clock = TestClock::starting(issued_at);
    let (running, files, publication) =
        start_library_on(state_dir, fixtures, &clock, list_valid_hours, false).await?;
    let (Some(sip), Some(https)) = (running.sip2_tls, running.https) else {
        anyhow::bail!("the simulator has no SIP2/TLS or HTTPS listener");
    };
    let closed_day = closed_day(issued_at);
    let dir = state_dir.join("door");
    std::fs::create_dir_all(&dir)?;
    let secret = |name: &str, text: &str| -> anyhow::Result<()> {
        std::fs::write(dir.join(name), text)?;
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    };
    secret(
        "registry.secret",
        "login = \"door-lemi\"\npassword = \"door-secret-2\"\n",
    )?;
    std::fs::copy(&files.card_key, dir.join("card-key.secret"))?;
    std::fs::set_permissions(
        dir.join("card-key.secret"),
        std::fs::Permissions::from_mode(0o600),
    )?;
    let ca = running.ca_cert.display();
    let config = dir.join("door.toml");
    std::fs::write(
        &config,
        format!(
            r#"# The Lemi library's main door, on simulated hardware.
[door]
name = "Lemi main door"
branch = "LEMI"
state_dir = "state"
language = "en"
online_timeout_ms = 1500
pulse_ms = 3000
held_open_secs = 20
{door_extra}

[rules]
min_age = 15

[hours]
timezone = "Europe/Helsinki"
last_entry_minutes = 15
[hours.self_service]
daily = ["07:00-22:00"]
[hours.staffed]
tue = ["12:00-19:00"]
thu = ["12:00-19:00"]
[[hours.exceptions]]
date = "{closed_day}"
name = "Inventaario"

[gpio]
backend = "files"
dir = "gpio"
lock = {LOCK}
contact = {CONTACT}
exit = {EXIT}
green = 5
red = 6
buzzer = 13

[[outputs]]
name = "lights"
pin = {LIGHTS}
when = ["staffed", "self-service"]
lead_minutes = 15
lag_minutes = 10

[[announcements]]
file = "closing-en.wav"
before_minutes = 15
every_minutes = 5
player = []

[registry]
backend = "sip2"
credentials = "registry.secret"
timeout_ms = 1500
[registry.sip2]
address = "{sip}"
server_name = "localhost"
ca = "{ca}"
institution = "heili"
location = "LEMI"
[registry.sip2.protocol]
dialect = "standard"
charset = "utf-8"

[allowlist]
url = "https://localhost:{port}/allowlist/"
ca = "{ca}"
client_cert = "{device_cert}"
client_key = "{device_key}"
store = "state/allowlist"
card_key = "card-key.secret"
scopes = ["heili", "LEMI"]
keys = ["{key}"]
when_expired = "deny"
"#,
            port = https.port(),
            key = files.public_key,
            device_cert = running.device_cert.display(),
            device_key = running.device_key.display(),
        ),
    )?;
    Ok(Rig {
        running,
        gpio: dir.join("gpio"),
        dir,
        config,
        list_version: publication.version,
        clock,
        closed_day,
    })
}

/// The door running on simulated reader and keypad, with handles to drive it.
#[derive(Debug)]
pub struct SimDoor {
    /// Present cards.
    pub cards: SimCards,
    /// Type keys.
    pub keys: SimKeys,
    /// What the door shows.
    pub feedback: mpsc::Receiver<Feedback>,
    /// Stops the daemon.
    pub stop: tokio::sync::oneshot::Sender<()>,
    /// The daemon.
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The pins.
    pub gpio: PathBuf,
    /// The display at the door: a 16×2 character LCD's controller read from its I2C bytes.
    pub display: drivers::display::LcdTwin,
}

impl SimDoor {
    /// Is the lock released?
    pub fn unlocked(&self) -> bool {
        FileBackend::level(&self.gpio, LOCK) == Some(true)
    }
    /// Waits up to half a second for the relay to be released (the daemon applies a grant just
    /// after the verdict is shown); whether it was.
    pub async fn released_soon(&self) -> bool {
        for _ in 0..50 {
            if self.unlocked() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
    /// Waits up to `within` for the lock to be engaged (a grant's pulse ending); whether it
    /// was.
    pub async fn relocked(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.unlocked() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
    /// Opens (`true`) or closes the door.
    pub fn set_open(&self, open: bool) {
        let _ = FileBackend::set_level(&self.gpio, CONTACT, open);
    }
    /// Presses (`true`) or releases the exit button.
    pub fn set_exit(&self, pressed: bool) {
        let _ = FileBackend::set_level(&self.gpio, EXIT, !pressed);
    }
    /// Waits up to `wait` for the library's state to become `state`; whether it did.
    pub async fn state_becomes(
        &mut self,
        state: access::hours::LibraryState,
        wait: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.feedback.recv()).await {
                Ok(Some(Feedback::State(s))) if s == state => return true,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return false,
            }
        }
    }
    /// The next feedback that is not a state change or digit count, within `wait`.
    pub async fn outcome(&mut self, wait: Duration) -> Option<Feedback> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.feedback.recv()).await {
                Ok(Some(
                    Feedback::Digits(_)
                    | Feedback::EnterPin
                    | Feedback::Checking
                    | Feedback::State(_),
                )) => continue,
                Ok(f) => return f,
                Err(_) => return None,
            }
        }
    }
    /// What the display shows once it shows `f` (its first screenful; the door's language
    /// `lang`), or what it shows after a second if it never does.
    pub async fn display_for(&self, f: &Feedback, lang: &str) -> Vec<String> {
        let want = door_agent::sign::words(f, lang).map(|w| {
            let mut lines = display::wrap(&w, 16, usize::MAX);
            lines.truncate(2);
            lines.resize(2, String::new());
            lines
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        loop {
            let now = self.display.lines();
            if Some(&now) == want.as_ref() || tokio::time::Instant::now() >= deadline {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A card alone, and the door's first answer to it: the PIN asked for, or a refusal at once.
    pub async fn first_answer(&mut self, card: &str) -> Option<Feedback> {
        self.cards.present(card).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.feedback.recv()).await {
                Ok(Some(Feedback::State(_))) => continue,
                Ok(f) => return f,
                Err(_) => return None,
            }
        }
    }

    /// A card and a PIN, and the outcome.
    pub async fn try_card(&mut self, card: &str, pin: &str) -> Option<Feedback> {
        self.cards.present(card).await;
        // A patron types after the door asks for the PIN (or has already said no).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.feedback.recv()).await {
                Ok(Some(Feedback::EnterPin)) => break,
                Ok(Some(f @ (Feedback::Denied { .. } | Feedback::Welcome { .. }))) => {
                    return Some(f);
                }
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => return None,
            }
        }
        self.keys.type_text(pin).await;
        self.outcome(Duration::from_secs(10)).await
    }
    /// Stops the daemon and waits for it.
    pub async fn shut_down(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}

/// Starts the door-agent from `settings` on a simulated reader and keypad and the file pins.
pub fn start_door(settings: DoorSettings, clock: Clock) -> anyhow::Result<SimDoor> {
    let (reader, cards) = drivers::sim::card_reader("sim-reader");
    let (pad, keys) = drivers::sim::keypad();
    start_door_on(settings, clock, cards, keys, |card_tx, key_tx| {
        door_agent::devices::forward_cards(reader, card_tx);
        door_agent::devices::forward_keys(pad, key_tx);
    })
}

/// Starts the door-agent from `settings` with a Wiegand reader twin as its only reader and,
/// when `keys` says it has a keypad, its PIN pad: wired as the daemon wires a Pi's Wiegand
/// reader ([`door_agent::devices::forward_wiegand`]). The door's `cards` and `keys` handles
/// reach nothing here: the twin's wires do.
pub fn start_wiegand_door(
    settings: DoorSettings,
    clock: Clock,
    format: access::wiegand::NumberFormat,
    keys: access::wiegand::KeyBursts,
) -> anyhow::Result<(SimDoor, drivers::sim::SimWiegand)> {
    let (wiegand_cards, wiegand_keys, wires) = drivers::sim::wiegand("sim-wiegand", format, keys);
    let (_, cards) = drivers::sim::card_reader("unused");
    let (_, key_handle) = drivers::sim::keypad();
    let door = start_door_on(settings, clock, cards, key_handle, |card_tx, key_tx| {
        door_agent::devices::forward_wiegand(wiegand_cards, wiegand_keys, keys, card_tx, key_tx);
    })?;
    Ok((door, wires))
}

fn start_door_on(
    settings: DoorSettings,
    clock: Clock,
    cards: SimCards,
    keys: SimKeys,
    wire: impl FnOnce(mpsc::Sender<drivers::card::CardEvent>, mpsc::Sender<access::pin::Key>),
) -> anyhow::Result<SimDoor> {
    let registry = settings
        .registry
        .as_ref()
        .map(registry::AnyRegistry::start)
        .transpose()?;
    let door = door_agent::devices::open_door(&settings)?;
    let (card_tx, card_rx) = mpsc::channel(16);
    let (key_tx, key_rx) = mpsc::channel(64);
    // The OSDP readers and serial scanners the configuration names (on twins at the other end
    // of ptys) beside the simulated devices, opened as door-agent opens them.
    let osdp = door_agent::devices::open_inputs(&DoorSettings {
        readers: settings
            .readers
            .iter()
            .filter(|r| {
                matches!(
                    r,
                    ReaderSettings::Osdp { .. } | ReaderSettings::Serial { .. }
                )
            })
            .cloned()
            .collect(),
        keypad: None,
        ..settings.clone()
    })?;
    forward(osdp.cards, card_tx.clone());
    forward(osdp.keys, key_tx.clone());
    wire(card_tx, key_tx);
    let (rig_fb, feedback) = mpsc::channel(256);
    let fb_tx = match osdp.feedback {
        Some(readers) => both(rig_fb, readers),
        None => rig_fb,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gpio = match &settings.gpio {
        door_agent::settings::GpioBackend::Files(d) => d.clone(),
        door_agent::settings::GpioBackend::Rppal => PathBuf::new(),
    };
    // The door's display: the real driver's bytes, on a twin of the LCD at the usual address.
    let lcd = display::hd44780::Lcd { cols: 16, rows: 2 };
    let twin = drivers::display::LcdTwin::new(0x27, lcd);
    let screen =
        drivers::display::Hd44780::start(twin.clone(), drivers::display::NoDelay, 0x27, lcd)?;
    let display: Box<dyn TextDisplay> = match osdp.display {
        // The door's words on the OSDP reader's display too.
        Some(reader) => Box::new(Displays(Box::new(screen), reader)),
        None => Box::new(screen),
    };
    let devices = Devices {
        cards: card_rx,
        keys: key_rx,
        door,
        feedback: Some(fb_tx),
        display: Some(display),
        clock,
    };
    let task = tokio::spawn(door_agent::run(settings, registry, devices, async move {
        let _ = stopped.await;
    }));
    Ok(SimDoor {
        cards,
        keys,
        feedback,
        stop,
        task,
        gpio,
        display: twin,
    })
}

/// Forwards what `rx` brings to `tx` until either closes.
fn forward<T: Send + 'static>(mut rx: mpsc::Receiver<T>, tx: mpsc::Sender<T>) {
    tokio::spawn(async move {
        while let Some(v) = rx.recv().await {
            if tx.send(v).await.is_err() {
                return;
            }
        }
    });
}

/// One sender of the door's feedback for the rig's channel and the OSDP readers' LEDs.
fn both(rig: mpsc::Sender<Feedback>, readers: mpsc::Sender<Feedback>) -> mpsc::Sender<Feedback> {
    let (tx, mut rx) = mpsc::channel::<Feedback>(256);
    tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            let _ = readers.try_send(f.clone());
            if rig.send(f).await.is_err() {
                return;
            }
        }
    });
    tx
}

/// The door's words on two displays of one size: the LCD (whose answer counts) and a reader's.
struct Displays(Box<dyn TextDisplay>, Box<dyn TextDisplay>);

impl TextDisplay for Displays {
    fn size(&self) -> (usize, usize) {
        self.0.size()
    }

    fn show(&mut self, lines: &[String]) -> Result<(), drivers::display::DisplayError> {
        let _ = self.1.show(lines);
        self.0.show(lines)
    }
}

/// Gives the door a health endpoint on a free loopback port, for [`list_synced`].
pub fn with_health_endpoint(settings: &mut DoorSettings) -> std::io::Result<SocketAddr> {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    settings.metrics = Some(addr);
    Ok(addr)
}

/// Waits, up to `within`, until the door's health endpoint (`metrics`) says it has synced its
/// offline list (the gauge `door-agent status` reads, set once the list is applied); an error
/// with what the endpoint said last if it never does.
pub async fn list_synced(metrics: SocketAddr, within: Duration) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = String::new();
    while tokio::time::Instant::now() < deadline {
        if let Ok(mut s) = tokio::net::TcpStream::connect(metrics).await {
            seen.clear();
            if s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.is_ok()
                && tokio::time::timeout_at(deadline, s.read_to_string(&mut seen))
                    .await
                    .is_ok()
                && seen
                    .lines()
                    .any(|l| l.starts_with("omatoimi_allowlist_last_sync_timestamp_seconds "))
            {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "the door never synced its offline list in {within:?}; its health endpoint said:\n{seen}"
    ))
}

/// 21:00 in Helsinki on the day of `now`: the hour the demo's patron stands at the door. The
/// caller gives the instant (the binary its system clock, a test `e2e::daemons_now`).
pub fn nine_pm_on(now: DateTime<Utc>) -> DateTime<Utc> {
    let zone = access::zone::Zone::HELSINKI;
    let today = zone.local(now).date();
    zone.instant(today.and_hms_opt(21, 0, 0).unwrap_or_default())
}

fn shown(f: &Option<Feedback>) -> String {
    match f {
        Some(Feedback::Welcome { source, .. }) => {
            format!("DOOR OPENS (answered by {source}; two short chirps)")
        }
        Some(Feedback::Denied {
            reason, message, ..
        }) => format!(
            "stays shut: \"{message}\" [{}; one long tone]",
            reason.code()
        ),
        Some(Feedback::Alarm(a)) => format!("ALARM {}", a.code()),
        Some(Feedback::AlarmCleared(a)) => format!("alarm {} cleared", a.code()),
        Some(other) => format!("{other:?}"),
        None => "no answer".into(),
    }
}

/// The README's door demo: a patron at the Lemi door at 21:00, online and then with the library
/// system stopped; alarms; and the staff's question "who came in, which alarms".
pub async fn demo(
    state_dir: &Path,
    fixtures: &Path,
    now: DateTime<Utc>,
    console: &crate::console::DemoConsole,
) -> anyhow::Result<()> {
    let rig = rig(
        state_dir,
        fixtures,
        "pin_first_key_secs = 3",
        nine_pm_on(now),
        72,
    )
    .await?;
    println!(
        "\nThe Lemi door: door-agent on simulated hardware ({}),\npins as files in {}, the simulator as library system.",
        rig.config.display(),
        rig.gpio.display()
    );
    let reader = add_osdp_reader(&rig).await?;
    let mut phone = add_phone_scanner(&rig)?;
    let line = |who: &str, what: String| println!("  {who:<46} {what}");
    println!(
        "\nIts second reader: an OSDP reader twin (the reader's side of OSDP in software) on the\npseudo-terminal {}, fresh from its box, paired as provisioning pairs one:",
        reader.twin.port().path
    );
    line(
        "secure channel under the install key, KEYSET",
        format!(
            "paired: {}; the door's own key in {} (mode 0600)",
            reader.identity,
            reader.key_file.display()
        ),
    );
    line("pairing it again with the install key", reader.refused);
    let mut settings = door_agent::settings::load(&rig.config)?;
    // The door reports to the library's console.
    settings.console = Some(console.device("lemi-door-1", "LEMI", &rig.dir.join("state"))?);
    // The door and the library system on one clock, set forward below.
    let clock = rig.clock.clone();
    let at = clock.now();
    // The console keeps the devices' time (bundles it signs are from their present).
    console.follow(clock.clock());
    let mut door = start_door(settings, clock.clock())?;
    // Let the first list sync finish.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    println!(
        "  lock relay at start: {}",
        if door.unlocked() {
            "RELEASED"
        } else {
            "engaged (locked)"
        }
    );
    line(
        "the OSDP reader",
        match reader
            .twin
            .until(Duration::from_secs(5), |s| s.secure)
            .await
        {
            Some(_) => "in service: the door's secure channel is open under its own key".into(),
            None => "NOT in service".into(),
        },
    );
    let patrons = [
        ("Aino, right PIN", "24680000000011", "1234#"),
        ("Aino, wrong PIN", "24680000000011", "9999#"),
        ("Kalle, lending ban", "24680000000037", "1111#"),
        ("Fines over the limit", "24680000000045", "4321#"),
        ("A card reported lost", "24680000000052", "5555#"),
        ("Ella, 12, guardian's consent", "24680000000060", "2014#"),
        ("A 13-year-old without consent", "24680000000078", "2013#"),
        ("An expired card", "24680000000086", "8686#"),
        ("Self-service revoked", "24680000000094", "9494#"),
        ("Ville, blocked at Lemi", "24680000000102", "1020#"),
        ("A card the library never issued", "11112222333344", "0000#"),
    ];
    println!("\nAt 21:00, the library system answering:");
    for (who, card, pin) in patrons {
        let started = std::time::Instant::now();
        let f = door.try_card(card, pin).await;
        line(
            who,
            format!("{}  [{} ms]", shown(&f), started.elapsed().as_millis()),
        );
        if let Some(f) = &f {
            let screen = door.display_for(f, "en").await;
            line(
                "",
                format!(
                    "the door's display: │{:<16}│{:<16}│",
                    screen[0],
                    screen.get(1).map_or("", String::as_str)
                ),
            );
        }
        if matches!(f, Some(Feedback::Welcome { .. })) {
            line(
                "",
                format!(
                    "relay {}",
                    if door.released_soon().await {
                        "released"
                    } else {
                        "engaged"
                    }
                ),
            );
            door.set_open(true);
            tokio::time::sleep(Duration::from_millis(200)).await;
            door.set_open(false);
            tokio::time::sleep(Duration::from_millis(100)).await;
            line(
                "",
                format!(
                    "door opened and closed; relay {}",
                    if door.unlocked() {
                        "released"
                    } else {
                        "engaged again"
                    }
                ),
            );
        }
    }
    door.cards
        .send(drivers::card::CardEvent::Unreadable {
            reader: "scanner".into(),
            why: "a scan of 9 characters is not a card number".into(),
        })
        .await;
    line(
        "A garbage scan",
        shown(&door.outcome(Duration::from_secs(5)).await),
    );
    door.cards.present("24680000000029").await;
    line(
        "Card shown, no PIN typed (3 s)",
        shown(&door.outcome(Duration::from_secs(10)).await),
    );

    osdp_scene(&mut door, &reader.twin).await;
    phone_scene(&mut door, &mut phone).await;

    rig.running.stop();
    println!(
        "\nThe library system is stopped. The door asks its signed offline list (version {}):",
        rig.list_version
    );
    for (who, card, pin) in [
        patrons[0],
        patrons[1],
        patrons[2],
        patrons[5],
        patrons[9],
        patrons[10],
    ] {
        let started = std::time::Instant::now();
        let f = door.try_card(card, pin).await;
        line(
            who,
            format!("{}  [{} ms]", shown(&f), started.elapsed().as_millis()),
        );
    }

    calendar_demo(&mut door, console, &clock).await?;

    println!("\nThe door is forced open, then an exit through the exit button:");
    // The last entry's pulse ends first.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let forced = std::time::Instant::now();
    door.set_open(true);
    line(
        "door opened with no entry",
        shown(&door.outcome(Duration::from_secs(2)).await),
    );
    match console
        .mail_to(crate::console::NIGHT_DUTY, Duration::from_secs(60))
        .await
    {
        Some(mail) => {
            line(
                "the console e-mailed the night duty",
                format!(
                    "{} ms after the door opened ({})",
                    crate::console::ms_since(forced),
                    if mail.tls {
                        "over STARTTLS"
                    } else {
                        "IN CLEAR"
                    }
                ),
            );
            // Long headers come folded (RFC 5322 2.2.3): unfolded to be read.
            let unfolded = mail.data.replace("\r\n ", " ").replace("\n ", " ");
            for l in unfolded.lines().filter(|l| {
                l.starts_with("Subject:") || l.starts_with("To:") || l.starts_with("Device:")
            }) {
                line("", format!("| {l}"));
            }
        }
        None => {
            anyhow::bail!("the forced door's e-mail did not reach the SMTP sink within a minute")
        }
    }
    door.set_open(false);
    line(
        "door closed",
        shown(&door.outcome(Duration::from_secs(2)).await),
    );
    door.set_exit(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    door.set_exit(false);
    door.set_open(true);
    tokio::time::sleep(Duration::from_millis(200)).await;
    door.set_open(false);
    line(
        "exit button, door opened and closed",
        format!(
            "no alarm: {}",
            door.outcome(Duration::from_millis(500)).await.is_none()
        ),
    );

    println!("\nClosing time: at 21:45 the last entry has passed.");
    clock.set(at + chrono::Duration::minutes(45));
    line(
        "Aino, right PIN, 21:45",
        shown(&door.try_card("24680000000011", "1234#").await),
    );
    clock.set(at + chrono::Duration::minutes(65));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    line(
        "22:05: closed; the lights output (lag 10 min)",
        if FileBackend::level(&rig.gpio, LIGHTS) == Some(true) {
            "on".to_owned()
        } else {
            "off".to_owned()
        },
    );
    let gpio = door.gpio.clone();
    door.shut_down().await?;
    println!(
        "\nThe door-agent stopped; the lock relay is {}.",
        if FileBackend::level(&gpio, LOCK) == Some(false) {
            "engaged"
        } else {
            "RELEASED"
        }
    );

    let log = door_agent::events::EventLog::open(&rig.dir.join("state").join("events"))?;
    let q = door_agent::control::Query {
        from: 0,
        to: i64::MAX,
        alarms: false,
        security: false,
    };
    let events = door_agent::control::answer(&log, &q)?;
    println!(
        "\nStaff ask the event log (door-agent -c {} events --from … --to …):",
        rig.config.display()
    );
    for e in events.iter().filter(|e| {
        matches!(
            e.kind,
            door_agent::events::Kind::Entry | door_agent::events::Kind::Alarm
        )
    }) {
        let t = chrono::TimeZone::timestamp_millis_opt(&Utc, e.at)
            .single()
            .map(|t| {
                access::zone::Zone::HELSINKI
                    .local(t)
                    .format("%H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        println!(
            "  {t}  {:<6} {:<12} {:<34} {}",
            format!("{:?}", e.kind).to_lowercase(),
            e.code.as_deref().unwrap_or("-"),
            e.card.as_deref().unwrap_or("-"),
            e.source.as_deref().unwrap_or("")
        );
    }
    println!(
        "  ({} events in all; cards appear only as keyed hashes the library can resolve with its card key)",
        events.len()
    );
    Ok(())
}

/// The demo's OSDP reader, paired and named in the door's configuration.
#[derive(Debug)]
pub struct OsdpReader {
    /// The twin.
    pub twin: drivers::osdp_twin::OsdpTwin,
    /// Who it said it is when it was paired.
    pub identity: osdp_cp::Identity,
    /// The door's key for it.
    pub key_file: PathBuf,
    /// What a second pairing with the install key came to.
    pub refused: String,
}

/// A 2D barcode scanner on a pseudo-terminal, as the door reads it (`[[readers]] kind =
/// "serial"` with the card rule for the library app's QR link, `card = { query = "number" }`);
/// what is written here is what the scanner sends.
#[allow(missing_debug_implementations)]
pub struct PhoneScanner {
    /// The scanner's end of the line.
    pub line: tokio_serial::SerialStream,
    /// The door's end, held open so that the line stays while the door opens and reads it.
    _door_end: tokio_serial::SerialStream,
}

impl PhoneScanner {
    /// The scanner reads `code` (a phone's screen held to it), with its AIM identifier for a
    /// QR code and a carriage return, as such scanners send.
    pub async fn scan(&mut self, code: &str) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.line
            .write_all(format!("]Q1{code}\r\n").as_bytes())
            .await?;
        self.line.flush().await
    }
}

/// Adds a 2D scanner on a pseudo-terminal to the rig's door, reading phone library cards: the
/// card number is the `number` parameter of the app's QR link.
pub fn add_phone_scanner(rig: &Rig) -> anyhow::Result<PhoneScanner> {
    use tokio_serial::SerialPort;
    let (line, door_end) = tokio_serial::SerialStream::pair()?;
    let path = door_end
        .name()
        .ok_or_else(|| anyhow::anyhow!("the scanner's pseudo-terminal has no name"))?;
    let config = std::fs::read_to_string(&rig.config)?.replace(
        "[gpio]",
        &format!(
            "[[readers]]\nkind = \"serial\"\npath = \"{path}\"\ncard = {{ query = \"number\" }}\n\n[gpio]"
        ),
    );
    std::fs::write(&rig.config, config)?;
    Ok(PhoneScanner {
        line,
        _door_end: door_end,
    })
}

/// A patron shows the library app's card on a phone: its QR link opens the door with the PIN;
/// a QR code that is no library card (a menu's link) is refused without being quoted.
async fn phone_scene(door: &mut SimDoor, scanner: &mut PhoneScanner) {
    let line = |who: &str, what: String| println!("  {who:<46} {what}");
    println!("\nAt the door's 2D scanner (a phone's screen held to it):");
    let wait = Duration::from_secs(10);
    let started = std::time::Instant::now();
    let asked = match scanner
        .scan("https://heili.finna.fi/MyResearch/LibraryCard?number=24680000000011")
        .await
    {
        Ok(()) => {
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                match tokio::time::timeout_at(deadline, door.feedback.recv()).await {
                    Ok(Some(Feedback::EnterPin)) => break "asks for the PIN".to_owned(),
                    Ok(Some(f @ (Feedback::Welcome { .. } | Feedback::Denied { .. }))) => {
                        break shown(&Some(f));
                    }
                    Ok(Some(_)) => continue,
                    Ok(None) | Err(_) => break "NO ANSWER".to_owned(),
                }
            }
        }
        Err(e) => format!("the scanner's line failed: {e}"),
    };
    line("Aino's phone card (the app's QR link)", asked);
    door.keys.type_text("1234#").await;
    let f = door.outcome(wait).await;
    line(
        "Aino types 1234#",
        format!("{}  [{} ms]", shown(&f), started.elapsed().as_millis()),
    );
    if matches!(f, Some(Feedback::Welcome { .. })) && door.released_soon().await {
        door.set_open(true);
        tokio::time::sleep(Duration::from_millis(200)).await;
        door.set_open(false);
    }
    let refused = match scanner.scan("https://kahvila.example/menu?table=7").await {
        Ok(()) => shown(&door.outcome(wait).await),
        Err(e) => format!("the scanner's line failed: {e}"),
    };
    line("A café menu's QR code", refused);
}

/// Who the demo's OSDP reader says it is.
pub const OSDP_READER: osdp_cp::Identity = osdp_cp::Identity {
    vendor: [0x0A, 0x1B, 0x2C],
    model: 7,
    version: 2,
    serial: 0x0012_3456,
    firmware: [1, 4, 2],
};

/// An OSDP reader twin fresh from its box on a pseudo-terminal, paired as
/// `omatoimi-provision --reader osdp:PORT` pairs a reader (a secure channel under the install
/// key SCBK-D, KEYSET with a new random key, the channel again under that key; the same driver
/// call), the key written beside the door's configuration under the name provisioning gives it,
/// and the reader added to it as `[[readers]] kind = "osdp"`, card numbers read as decimal
/// numbers. (Provisioning itself is not run: it builds its own runtime and a whole device.)
pub async fn add_osdp_reader(rig: &Rig) -> anyhow::Result<OsdpReader> {
    use drivers::osdp::{self, key};
    let twin = drivers::osdp_twin::OsdpTwin::on_pty(drivers::osdp_twin::TwinSettings::fresh(
        1,
        OSDP_READER,
    ))?;
    let new_key = key::new_key()?;
    let identity = osdp::pair(&twin.port(), 1, &new_key).await?;
    // The name omatoimi-provision gives a reader's key beside the configuration.
    let key_name = provision::render::osdp_key_name(&twin.port().path, 1);
    let key_file = rig.dir.join(&key_name);
    key::write_key(&key_file, &new_key)?;
    // Someone else trying the install key again.
    let refused = match osdp::pair(&twin.port(), 1, &key::new_key()?).await {
        Ok(_) => "PAIRED AGAIN: the reader still took the install key".to_owned(),
        // The driver's words, without the port's name.
        Err(e) => {
            let e = e.to_string();
            format!(
                "refused: {}",
                e.split_once(": ").map_or(e.as_str(), |(_, w)| w)
            )
        }
    };
    let config = std::fs::read_to_string(&rig.config)?.replace(
        "[gpio]",
        &format!(
            "[[readers]]\nkind = \"osdp\"\npath = \"{}\"\naddress = 1\nkey = \"{key_name}\"\nuid = \"decimal\"\n\n[gpio]",
            twin.port().path
        ),
    );
    std::fs::write(&rig.config, config)?;
    Ok(OsdpReader {
        twin,
        identity,
        key_file,
        refused,
    })
}

/// A card's number as the bytes an OSDP reader sends for it (big-endian, no leading zeros).
fn number_bytes(card: &str) -> Vec<u8> {
    let n: u64 = card.parse().unwrap_or_default();
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    bytes[first..].to_vec()
}

/// What the OSDP reader shows, in a line.
fn reader_shows(s: &drivers::osdp_twin::Shown) -> String {
    let led = match (s.led, s.led_blinking) {
        (None, _) => "off".to_owned(),
        (Some(c), blink) => format!(
            "{}{}",
            format!("{c:?}").to_lowercase(),
            if blink { ", flashing" } else { "" }
        ),
    };
    format!(
        "LED {led}, display │{:<16}│{:<16}│",
        s.lines.first().map_or("", String::as_str),
        s.lines.get(1).map_or("", String::as_str)
    )
}

/// Waits up to `within` for the first thing the reader is told from position `from` of its
/// log that `f` accepts; its position.
async fn told_after(
    twin: &drivers::osdp_twin::OsdpTwin,
    from: usize,
    within: Duration,
    f: impl Fn(&osdp_cp::Told) -> bool,
) -> Option<usize> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let told = twin.told();
        if let Some(i) = told.get(from..).and_then(|t| t.iter().position(&f)) {
            return Some(from + i);
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let n = told.len() as u64;
        twin.until(left, |s| s.told > n).await?;
    }
}

/// Aino at the door's OSDP reader: her card and PIN go through the secure channel, and the
/// door's answer comes back to the reader's LED, buzzer and display.
async fn osdp_scene(door: &mut SimDoor, twin: &drivers::osdp_twin::OsdpTwin) {
    use osdp_cp::Told;
    use osdp_cp::osdp::command::LedColor;
    let line = |who: &str, what: String| println!("  {who:<46} {what}");
    println!(
        "\nAt the door's OSDP reader (secure channel: card data and keys MACed and encrypted):"
    );
    // The door's words for `f`, as the reader's two lines show them.
    let words = |f: &Feedback| {
        door_agent::sign::words(f, "en").map(|w| {
            let mut lines = display::wrap(&w, 16, usize::MAX);
            lines.truncate(2);
            lines.resize(2, String::new());
            lines
                .iter()
                .map(|l| drivers::osdp::convert::ascii(l, 16).trim_end().to_owned())
                .collect::<Vec<_>>()
        })
    };
    let led = |color: LedColor| move |t: &Told| matches!(t, Told::Led(c) if c.records.first().is_some_and(|r| r.temporary.on_color == color));
    let wait = Duration::from_secs(10);
    for (who, pin, color) in [
        ("Aino, right PIN", "1234#", LedColor::Green),
        ("Aino, wrong PIN", "9999#", LedColor::Red),
    ] {
        let started = std::time::Instant::now();
        // What the reader is told from now on; the door's answers to the scene before may
        // still be on their way to it.
        let mark = twin.told().len();
        twin.present_bytes(&number_bytes("24680000000011"));
        let asking = words(&Feedback::EnterPin);
        let amber = told_after(twin, mark, wait, led(LedColor::Amber)).await;
        let asked = match amber {
            Some(_) => twin
                .until(wait, |s| Some(&s.lines) == asking.as_ref())
                .await
                .map_or("the PIN asked for, not in words".into(), |s| {
                    reader_shows(&s)
                }),
            None => "the PIN was NOT asked for".into(),
        };
        line(&format!("{who}: card on the reader"), asked);
        twin.type_keys(pin);
        let f = door.outcome(wait).await;
        line(
            &format!("{who}: {pin} on its keypad"),
            format!("{}  [{} ms]", shown(&f), started.elapsed().as_millis()),
        );
        let answered = told_after(twin, amber.unwrap_or(mark), wait, led(color)).await;
        let beeps = match answered {
            Some(at) => told_after(twin, at, wait, |t| matches!(t, Told::Buzzer(_)))
                .await
                .and_then(|i| match twin.told().get(i) {
                    Some(Told::Buzzer(b)) => Some(b.count),
                    _ => None,
                }),
            None => None,
        };
        let want = f.as_ref().and_then(words);
        let told = twin
            .until(wait, |s| Some(&s.lines) == want.as_ref())
            .await
            .unwrap_or_else(|| twin.shown());
        line(
            "",
            format!(
                "the reader was told: {}, {} beep{}",
                reader_shows(&told),
                beeps.unwrap_or_default(),
                if beeps == Some(1) { "" } else { "s" }
            ),
        );
        if matches!(f, Some(Feedback::Welcome { .. })) && door.released_soon().await {
            door.set_open(true);
            tokio::time::sleep(Duration::from_millis(200)).await;
            door.set_open(false);
        }
    }
}

/// The door for a person at a terminal: type `card 24680000000011`, then the PIN and `#`
/// (`1234#`); `open` and `close` the door, `exit` presses the exit button, `stop` stops the
/// library system (the door then uses its offline list), `quit` ends.
pub async fn interactive(
    state_dir: &Path,
    fixtures: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    use tokio::io::AsyncBufReadExt;
    let rig = rig(state_dir, fixtures, "", nine_pm_on(now), 72).await?;
    let settings = door_agent::settings::load(&rig.config)?;
    let mut door = start_door(settings, rig.clock.clock())?;
    println!(
        "The Lemi door at 21:00 ({}). Commands: card NUMBER | 1234# | open | close | exit | stop | quit",
        rig.config.display()
    );
    println!(
        "Cards: 24680000000011 (PIN 1234), 24680000000037 (1111, lending ban), 24680000000060 (2014, 12 with consent), 24680000000078 (2013, 13 without)"
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            f = door.feedback.recv() => match f {
                Some(Feedback::Digits(n)) => println!("  [{}]", "*".repeat(n)),
                Some(Feedback::EnterPin) => println!("  Enter PIN, then #"),
                Some(Feedback::Checking) | Some(Feedback::State(_)) => {}
                // The daemon stopped (its error is returned below).
                None => break,
                f => {
                    let released = matches!(f, Some(Feedback::Welcome { .. })) && door.released_soon().await;
                    println!("  {}  (relay {})", shown(&f), if released || door.unlocked() { "released" } else { "engaged" });
                }
            },
            line = lines.next_line() => {
                let Some(line) = line? else { break };
                let line = line.trim();
                match line.split_whitespace().collect::<Vec<_>>().as_slice() {
                    ["card", number] => door.cards.present(number).await,
                    ["open"] => door.set_open(true),
                    ["close"] => door.set_open(false),
                    ["exit"] => {
                        door.set_exit(true);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        door.set_exit(false);
                    }
                    ["stop"] => {
                        rig.running.stop();
                        println!("  the library system is stopped");
                    }
                    ["quit"] => break,
                    _ if line.chars().all(|c| c.is_ascii_digit() || c == '#' || c == '*') => door.keys.type_text(line).await,
                    _ => println!("  ? card NUMBER | 1234# | open | close | exit | stop | quit"),
                }
            }
        }
    }
    door.shut_down().await
}

/// A librarian marks today closed on the console's pages; the console signs a new policy bundle,
/// the door takes it with the answer to its next report and refuses; the day is removed again.
async fn calendar_demo(
    door: &mut SimDoor,
    console: &crate::console::DemoConsole,
    clock: &TestClock,
) -> anyhow::Result<()> {
    use access::hours::LibraryState;
    let line = |who: &str, what: String| println!("  {who:<46} {what}");
    println!(
        "\nA librarian marks today closed for an inventory on the console's calendar page (over HTTPS,\nas her phone's browser would), and the console signs a new policy bundle for Lemi:"
    );
    let mut staff = console.staff("kirsi", central::staff::Role::Staff).await?;
    let today = access::zone::Zone::HELSINKI
        .local(clock.now())
        .date()
        .to_string();
    let clicked = std::time::Instant::now();
    let (status, _) = staff
        .submit(
            "/calendars/LEMI",
            "/calendars/LEMI/exceptions",
            &[
                ("first", &today),
                ("name", "Inventaario"),
                ("self_service", ""),
                ("staffed", ""),
            ],
        )
        .await?;
    if status != 303 {
        anyhow::bail!("the console refused the closed day ({status})");
    }
    let version = central::policy::latest(&console.console.db, "LEMI")
        .await?
        .map_or(0, |b| b.version);
    line(
        &format!("{today} closed: \"Inventaario\""),
        format!("saved; bundle version {version} signed"),
    );
    let closed = door
        .state_becomes(LibraryState::Closed, Duration::from_secs(30))
        .await;
    line(
        "the door took the bundle and closed",
        if closed {
            format!("{} ms after the click", clicked.elapsed().as_millis())
        } else {
            "NOT within 30 s".into()
        },
    );
    if !closed {
        anyhow::bail!("the door never applied the console's calendar");
    }
    line(
        "Aino, right PIN",
        shown(&door.try_card("24680000000011", "1234#").await),
    );
    let clicked = std::time::Instant::now();
    let (status, _) = staff
        .submit(
            "/calendars/LEMI",
            "/calendars/LEMI/exceptions/0/delete",
            &[],
        )
        .await?;
    if status != 303 {
        anyhow::bail!("the console refused to remove the closed day ({status})");
    }
    let opened = door
        .state_becomes(LibraryState::SelfService, Duration::from_secs(30))
        .await;
    line(
        "the inventory is called off",
        if opened {
            format!(
                "the door is open again {} ms after the click",
                clicked.elapsed().as_millis()
            )
        } else {
            "the door did NOT reopen within 30 s".into()
        },
    );
    if !opened {
        anyhow::bail!("the door never applied the console's second calendar");
    }
    // Commands from the door's page: an unlock for an evening event, a lock-down, its end.
    println!(
        "\nFrom the door's page on the console, signed commands travel to the door over its own\nconnection, and its answer comes back:"
    );
    for (what, fields) in [
        (
            "unlock for 1 minute",
            vec![("order", "unlock"), ("minutes", "1")],
        ),
        ("lock down", vec![("order", "lockdown")]),
    ] {
        let clicked = std::time::Instant::now();
        let (status, _) = staff
            .submit(
                "/devices/lemi-door-1",
                "/devices/lemi-door-1/commands",
                &fields,
            )
            .await?;
        if status != 303 {
            anyhow::bail!("the console refused the command ({status})");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let outcome = loop {
            let c = central::commands::recent(&console.console.db, "lemi-door-1", 1).await?;
            match c.first().and_then(|c| c.outcome.clone()) {
                Some(o) => break o,
                None if tokio::time::Instant::now() >= deadline => break "no answer".into(),
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        };
        line(
            what,
            format!(
                "{outcome} {} ms after the click; lock {}",
                clicked.elapsed().as_millis(),
                if door.unlocked() {
                    "RELEASED"
                } else {
                    "engaged"
                }
            ),
        );
    }
    line(
        "Aino, right PIN, during the lock-down",
        shown(&door.try_card("24680000000011", "1234#").await),
    );
    staff
        .submit(
            "/devices/lemi-door-1",
            "/devices/lemi-door-1/commands",
            &[("order", "lockdown-end")],
        )
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A technician's selftest of the running door, asked from the same page: its table.
    let clicked = std::time::Instant::now();
    staff
        .submit(
            "/devices/lemi-door-1",
            "/devices/lemi-door-1/commands",
            &[("order", "selftest")],
        )
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let answer = loop {
        let c = central::commands::recent(&console.console.db, "lemi-door-1", 1).await?;
        match c.first().filter(|c| c.order == "selftest") {
            Some(c) if c.outcome.is_some() => {
                break format!(
                    "{} {} ms after the click",
                    c.outcome.as_deref().unwrap_or(""),
                    clicked.elapsed().as_millis()
                ) + &c
                    .detail
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .map(|l| format!("\n{:49}{l}", ""))
                    .collect::<String>();
            }
            _ if tokio::time::Instant::now() >= deadline => break "no answer".into(),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    line("selftest (the library system is still stopped)", answer);

    // The door's next status snapshot says which bundle it runs.
    let newest = central::policy::latest(&console.console.db, "LEMI")
        .await?
        .map_or(0, |b| b.version);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let runs = console
            .console
            .db
            .device("lemi-door-1")
            .await?
            .and_then(|d| d.gauge_map().get("omatoimi_policy_version").copied());
        if runs == Some(newest as f64) {
            line(
                "the console sees the door run",
                format!("bundle {newest}, the newest"),
            );
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            line(
                "the console sees the door run",
                format!("{runs:?}, not {newest}"),
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
