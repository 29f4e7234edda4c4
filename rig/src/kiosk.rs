//! The Lappeenranta main library's self-checkout kiosk on simulated devices against the
//! simulator: the rig the kiosk's tests, benchmark and demo stand on. The RFID pad is the FEIG
//! twin holding tags with ISO 28560 data for the catalogue's items; the receipt printer is the
//! TCP printer twin.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use drivers::feig_twin::{AirTime, SimPad, SimTag};
use drivers::printer::{EscPosPrinter, PrinterTwin};
use iso28560::{DataModel, ItemTag};
use kiosk::{Clock, Devices, Input, KioskSettings};
use tokio::sync::{mpsc, watch};
use ui::{Action, View};

use library_sim::fixtures::Item;
use library_sim::server;

/// The owner ISIL written on the demo catalogue's tags.
pub const ISIL: &str = "FI-Lr";

/// The simulator, the kiosk's files and its twins.
#[derive(Debug)]
pub struct Rig {
    /// The running simulator.
    pub running: server::Running,
    /// The kiosk's directory.
    pub dir: PathBuf,
    /// Its configuration file.
    pub config: PathBuf,
    /// The receipt printer.
    pub printer: PrinterTwin,
    /// Where the kiosk's cues land, one WAV file each, as its player was handed them.
    pub sounds: PathBuf,
}

impl Rig {
    /// The cues the kiosk has played so far, in order.
    pub fn cues_heard(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.sounds)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
    }
}

/// The rig's `[offline]` section: Heili's loan periods (the catalogue's `[[loan_rule]]`s) by the
/// ONIX media format [`tag`] writes on the items.
pub const OFFLINE: &str = r#"[offline]
lending = true
max_loans = 3
loan_days = 14   # also magazines: their tags carry no media format
# Heili's loan periods (fixtures' [[loan_rule]]), by the ONIX media format on the tags.
[offline.loan_days_by_media]
B = 28   # books (BA)
V = 7    # video: DVD (VI), Blu-ray (VO)
A = 28   # audiobooks (AC: on CDs)
"#;

/// Starts the simulator and a printer twin, and writes the kiosk's files under
/// `state_dir/kiosk`; the offline list is issued at `issued_at`.
pub async fn rig(
    state_dir: &Path,
    fixtures: &Path,
    issued_at: DateTime<Utc>,
    kiosk_extra: &str,
) -> anyhow::Result<Rig> {
    let (running, files, _) =
        crate::door::start_library(state_dir, fixtures, issued_at, 24, false).await?;
    let (Some(sip), Some(https)) = (running.sip2_tls, running.https) else {
        anyhow::bail!("the simulator has no SIP2/TLS or HTTPS listener");
    };
    let printer = PrinterTwin::start().await?;
    let dir = state_dir.join("kiosk");
    std::fs::create_dir_all(&dir)?;
    let private = |name: &str| -> anyhow::Result<()> {
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    };
    std::fs::write(
        dir.join("registry.secret"),
        "login = \"kiosk-lpr-1\"\npassword = \"kiosk-secret-1\"\n",
    )?;
    private("registry.secret")?;
    std::fs::copy(&files.card_key, dir.join("card-key.secret"))?;
    private("card-key.secret")?;
    let ca = running.ca_cert.display();
    let sounds = dir.join("sounds");
    std::fs::create_dir_all(&sounds)?;
    let config = dir.join("kiosk.toml");
    std::fs::write(
        &config,
        format!(
            r#"# The self-checkout kiosk of Lappeenranta's main library, on simulated devices.
[kiosk]
name = "LPR kiosk 1"
library = "Lappeenrannan kaupunginkirjasto"
branch = "Pääkirjasto"
state_dir = "state"
language = "fi"
idle_logout_secs = 60
online_timeout_ms = 1500
{kiosk_extra}

[help]
text = {{ fi = "Henkilökunta paikalla ma–pe 10–19.", sv = "Personalen är på plats må–fre 10–19.", en = "Staff are in Mon–Fri 10–19." }}
phone = "05 616 2341"
payment_link = "heili.fi/maksa"

# The cues a patron hears, each kept as the WAV file the player was handed (a kiosk plays them
# with aplay).
[sound]
player = ["sh", "-c", 'cat > "$0/$(date +%s%N)-$$.wav"', "{sounds}"]

{offline}
[rfid]
driver = "simulated"
# Both security bits, each read back after it is written: AFI and NXP's EAS.
security = "both"
poll_ms = 100

[printer]
link = "tcp:{printer}"
code_page = "pc858"
columns = 42
timeout_ms = 1000
footer = "heili.finna.fi"

[registry]
backend = "sip2"
credentials = "registry.secret"
timeout_ms = 1500
[registry.sip2]
address = "{sip}"
server_name = "localhost"
ca = "{ca}"
institution = "heili"
location = "LPR"
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
scopes = ["heili", "LPR"]
keys = ["{key}"]
when_expired = "deny"
"#,
            offline = OFFLINE,
            printer = printer.addr(),
            port = https.port(),
            key = files.public_key,
            device_cert = running.device_cert.display(),
            device_key = running.device_key.display(),
            sounds = sounds.display(),
        ),
    )?;
    Ok(Rig {
        running,
        dir,
        config,
        printer,
        sounds,
    })
}

impl Rig {
    /// Makes the kiosk a Koha library's: its `[registry]` table switched to Koha's REST API on
    /// the simulator's HTTPS side, offline loans and returns delivered through Koha's offline
    /// circulation service with the fixtures' staff account (`extra`: more `[registry.koha]`
    /// lines). Load the settings after this.
    pub fn use_koha(&self, extra: &str) -> anyhow::Result<()> {
        let Some(https) = self.running.https else {
            anyhow::bail!("the simulator has no HTTPS listener");
        };
        let text = std::fs::read_to_string(&self.config)?;
        let (Some(from), Some(to)) = (text.find("[registry]\n"), text.find("[allowlist]\n")) else {
            anyhow::bail!(
                "{}: no [registry] table before [allowlist]",
                self.config.display()
            );
        };
        let table = format!(
            r#"[registry]
backend = "koha-rest"
credentials = "registry.secret"
timeout_ms = 1500
[registry.koha]
base_url = "https://localhost:{port}"
ca = "{ca}"
library_id = "LPR"
offline_service = "https://localhost:{port}"
{extra}
"#,
            port = https.port(),
            ca = self.running.ca_cert.display(),
        );
        std::fs::write(
            &self.config,
            format!("{}{table}{}", &text[..from], &text[to..]),
        )?;
        std::fs::write(
            self.dir.join("registry.secret"),
            "client_id = \"kiosk-lpr-1\"\nclient_secret = \"kiosk-secret-1\"\noffline_userid = \"kiosk-offline\"\noffline_password = \"offline-secret-1\"\n",
        )?;
        std::fs::set_permissions(
            self.dir.join("registry.secret"),
            std::fs::Permissions::from_mode(0o600),
        )?;
        Ok(())
    }
}

/// The ONIX media format Heili writes on the tag (ISO 28560-2's data element 7, from ONIX for
/// Books' product forms) for a media kind of the catalogue: `BA` book, `VI` DVD video, `AC` an
/// audiobook on CDs. None for a magazine (the list has no code for a periodical, so its tag
/// carries none and it gets the kiosk's `loan_days`) or a kind the library has no code for.
pub fn onix_media(media: &str) -> Option<&'static str> {
    match media {
        "book" => Some("BA"),
        "dvd" => Some("VI"),
        "audiobook" => Some("AC"),
        _ => None,
    }
}

/// The shipped demo catalogue's items (the catalogue every rig serves), read once.
fn catalogue() -> &'static [Item] {
    static ITEMS: OnceLock<Vec<Item>> = OnceLock::new();
    ITEMS.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct Items {
            #[serde(default)]
            item: Vec<Item>,
        }
        toml::from_str::<Items>(library_sim::DEFAULT_FIXTURES)
            .map(|c| c.item)
            .unwrap_or_default()
    })
}

/// The tag of part `part` of `parts` of item `barcode`, as the library tagged it. An item of
/// the demo catalogue carries what Heili writes, in ISO 28560-2: its type of usage (a reference
/// copy is "not for circulation") and the ONIX media format of its kind ([`onix_media`]), from
/// which the kiosk takes its offline loan period. A barcode the catalogue does not know (typed
/// at `rig kiosk`, or a test filling the pad) gets a plain circulating tag without a
/// media format: ISO 28560-2 for odd item numbers, ISO 28560-3 (the Danish model) for even ones,
/// so both data models still reach the pad.
pub fn tag(barcode: &str, part: u8, parts: u8) -> SimTag {
    if let Some(item) = catalogue().iter().find(|i| i.barcode == barcode) {
        let usage = if item.non_circulating {
            iso28560::Usage::NOT_FOR_CIRCULATION
        } else {
            iso28560::Usage::CIRCULATING
        };
        return tag_as(barcode, part, parts, usage, onix_media(&item.media));
    }
    let n = item_number(barcode);
    let model = if n % 2 == 1 {
        DataModel::Part2
    } else {
        DataModel::Part3
    };
    let dsfid = match model {
        DataModel::Part2 => iso28560::tag::DSFID_PART2,
        DataModel::Part3 => iso28560::tag::DSFID_PART3,
    };
    let memory = ItemTag::new(model, barcode, Some(ISIL))
        .part_of(part, parts)
        .encode(32)
        .unwrap_or_default();
    SimTag::new(uid(barcode, part), dsfid, memory)
}

fn item_number(barcode: &str) -> u32 {
    barcode
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(0)
}

/// The UID of part `part` of `barcode`'s tag: any number typed at the terminal makes one
/// (wrapping, not overflowing).
fn uid(barcode: &str, part: u8) -> [u8; 8] {
    SimTag::uid_from(
        item_number(barcode)
            .wrapping_mul(16)
            .wrapping_add(u32::from(part)),
    )
}

/// A tag written with this type of usage and ONIX media format (`BA` book, `VI` DVD video), in
/// the ISO 28560-2 data Finnish libraries write, for any barcode; [`tag`] writes the
/// catalogue's items this way.
pub fn tag_as(
    barcode: &str,
    part: u8,
    parts: u8,
    usage: iso28560::Usage,
    media: Option<&str>,
) -> SimTag {
    let mut item = ItemTag::new(DataModel::Part2, barcode, Some(ISIL)).part_of(part, parts);
    item.usage = Some(usage);
    if let Some(m) = media {
        let (compaction, data) = iso28560::part2::compact_text(m);
        item.kept = iso28560::tag::Kept::Part2(vec![iso28560::part2::Element {
            oid: iso28560::part2::oid::ONIX_MEDIA_FORMAT,
            compaction,
            data,
        }]);
    }
    SimTag::new(
        uid(barcode, part),
        iso28560::tag::DSFID_PART2,
        item.encode(64).unwrap_or_default(),
    )
}

/// The kiosk running on the twins, with handles to drive it.
#[derive(Debug)]
pub struct SimKiosk {
    /// Touches, scans and cards.
    pub inputs: mpsc::Sender<Input>,
    /// The latest view.
    pub views: watch::Receiver<View>,
    /// The RFID pad.
    pub pad: SimPad,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

/// A clock for the kiosk that runs from `at`.
pub fn clock_from(at: DateTime<Utc>) -> Clock {
    let start = std::time::Instant::now();
    Arc::new(move || {
        (at + chrono::Duration::from_std(start.elapsed()).unwrap_or_default()).with_timezone(&Local)
    })
}

/// Starts the kiosk on the twins: a FEIG twin pad taking `air` per operation, and the rig's
/// printer at the configured address.
pub fn start_kiosk(
    settings: KioskSettings,
    air: AirTime,
    clock: Clock,
) -> anyhow::Result<SimKiosk> {
    start_kiosk_showing(settings, air, clock, None)
}

/// [`start_kiosk`], also sending every view to `also` (a window).
pub fn start_kiosk_showing(
    settings: KioskSettings,
    air: AirTime,
    clock: Clock,
    also: Option<kiosk::Publish>,
) -> anyhow::Result<SimKiosk> {
    let registry = settings
        .registry
        .as_ref()
        .map(registry::AnyRegistry::start)
        .transpose()?;
    let pad = SimPad::with_air_time(air);
    let printer = settings
        .printer
        .as_ref()
        .map(|p| EscPosPrinter::new(p.link.clone(), p.timeout));
    let devices = Devices {
        pad: Some(pad.connect()),
        printer,
    };
    let (tx, rx) = mpsc::channel(64);
    let (view_tx, views) = watch::channel(View::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(kiosk::run(
        settings,
        registry,
        devices,
        rx,
        Box::new(move |v| {
            if let Some(a) = &also {
                a(v.clone());
            }
            let _ = view_tx.send(v);
        }),
        clock,
        async {
            let _ = stopped.await;
        },
    ));
    Ok(SimKiosk {
        inputs: tx,
        views,
        pad,
        task,
        stop,
    })
}

impl SimKiosk {
    /// Sends an input.
    pub async fn send(&self, input: Input) {
        let _ = self.inputs.send(input).await;
    }

    /// Taps a button.
    pub async fn tap(&self, action: Action) {
        self.send(Input::Ui(action)).await;
    }

    /// Types digits on the screen's pad and taps OK.
    pub async fn type_digits(&self, digits: &str) {
        for d in digits.bytes().filter(u8::is_ascii_digit) {
            self.tap(Action::Digit(d - b'0')).await;
        }
        self.tap(Action::SubmitPin).await;
    }

    /// Waits until a view satisfies `pred`, for at most `wait`.
    pub async fn wait_for(&mut self, wait: Duration, pred: impl Fn(&View) -> bool) -> Option<View> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            {
                let v = self.views.borrow_and_update();
                if pred(&v) {
                    return Some(v.clone());
                }
            }
            match tokio::time::timeout_at(deadline, self.views.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }

    /// The view now.
    pub fn view(&self) -> View {
        self.views.borrow().clone()
    }

    /// Kills the kiosk where it stands, as a crash would: no goodbye, no end of session.
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }

    /// Stops the kiosk and waits for it.
    pub async fn shut_down(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }
}

fn words(v: &View) -> String {
    match v.screen {
        ui::Screen::Message => format!("message {:?}", v.message),
        s => format!("{s:?}"),
    }
}

fn print_rows(v: &View) {
    for r in &v.items {
        let what = match (r.due.is_empty(), r.note.is_empty()) {
            (false, _) => format!("{:?}, due {}", r.outcome, r.due),
            (true, false) => format!("{:?}: \"{}\"", r.outcome, r.note),
            _ => format!("{:?}", r.outcome),
        };
        let title = if r.title.is_empty() {
            ""
        } else {
            r.title.as_str()
        };
        println!("    {:<16} {:<28} {what}", r.item, title);
    }
}

/// The README's kiosk demo: Aino borrows a stack by RFID (one disc of a set missing at first,
/// a reference book, a blank tag), the security bits, a receipt read back from the printer;
/// then the library system goes away and loans go on into the offline queue, each for its
/// tag's loan period (the reference book still refused, by its tag), delivered once it is back.
pub async fn demo(
    state_dir: &Path,
    fixtures: &Path,
    now: DateTime<Utc>,
    console: &crate::console::DemoConsole,
) -> anyhow::Result<()> {
    // On the devices' clock (the door's, 21:00 on the day, which the console follows), so that
    // what the console shows of the kiosk does not depend on the hour the demo runs.
    let at = DateTime::<Utc>::from_timestamp_millis(console.clock.now_ms()).unwrap_or(now);
    let rig = rig(state_dir, fixtures, at, "").await?;
    println!(
        "\nThe self-checkout kiosk ({}): the FEIG reader twin with ISO 28560 tags, the ESC/POS\nprinter twin on {}, the simulator as library system.",
        rig.config.display(),
        rig.printer.addr()
    );
    let mut settings = kiosk::settings::load(&rig.config)?;
    // The kiosk reports to the library's console too.
    settings.console = Some(console.device("lemi-kiosk-1", "LEMI", &settings.state_dir)?);
    let mut k = start_kiosk(settings, AirTime::TYPICAL, clock_from(at))?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let wait = Duration::from_secs(10);
    k.send(Input::Scan("24680000000011".into())).await;
    k.wait_for(wait, |v| v.screen == ui::Screen::Pin).await;
    println!("  Aino's card scanned: {}", words(&k.view()));
    k.type_digits("1234").await;
    let v = k.wait_for(wait, |v| v.screen == ui::Screen::Items).await;
    println!(
        "  PIN typed on the screen: {}",
        v.as_ref().map_or("?".into(), words)
    );
    println!(
        "  A stack on the pad: two books, discs 1 and 2 of a 3-disc audiobook, a reference book, a blank tag:"
    );
    for t in [
        tag("HE0000001", 1, 1),
        tag("HE0000003", 1, 1),
        tag("HE0000008", 1, 3),
        tag("HE0000008", 2, 3),
        tag("HE0000005", 1, 1),
        SimTag::new(SimTag::uid_from(0xBAD), 0, vec![0; 32]),
    ] {
        k.pad.place(t);
    }
    let settled =
        |v: &View| v.items.len() >= 5 && v.items.iter().all(|r| r.state != ui::RowState::Working);
    let started = std::time::Instant::now();
    let v = k.wait_for(wait, settled).await.unwrap_or_else(|| k.view());
    println!("  ... settled in {} ms:", started.elapsed().as_millis());
    print_rows(&v);
    println!("  The third disc is added:");
    k.pad.place(tag("HE0000008", 3, 3));
    let v = k
        .wait_for(wait, |v| {
            v.items
                .iter()
                .any(|r| r.item == "HE0000008" && r.outcome == ui::Outcome::Lent)
        })
        .await
        .unwrap_or_else(|| k.view());
    print_rows(&v);
    println!(
        "  A worn tag whose EAS bit will not switch (the write is acknowledged, the bit stays):"
    );
    let mut worn = tag("HE0000009", 1, 1);
    worn.ignores_eas = true;
    k.pad.place(worn);
    let v = k
        .wait_for(wait, |v| {
            v.items
                .iter()
                .any(|r| r.item == "HE0000009" && r.state != ui::RowState::Working)
        })
        .await
        .unwrap_or_else(|| k.view());
    if let Some(r) = v.items.iter().find(|r| r.item == "HE0000009") {
        println!(
            "    {:<16} {:?}: read back, the loan is undone and the tag still sounds the gate",
            r.item, r.outcome
        );
    }
    let afi = |item: &str, part: u8, parts: u8| {
        k.pad.tag(tag(item, part, parts).uid).map_or(0, |t| t.afi)
    };
    println!(
        "  Security (AFI read back from the tags): HE0000001 {:#04X} (on loan), HE0000008 discs {:#04X} {:#04X} {:#04X}, HE0000005 {:#04X} (still secured)",
        afi("HE0000001", 1, 1),
        afi("HE0000008", 1, 3),
        afi("HE0000008", 2, 3),
        afi("HE0000008", 3, 3),
        afi("HE0000005", 1, 1)
    );
    k.tap(Action::Finish).await;
    k.wait_for(wait, |v| v.screen == ui::Screen::Receipt).await;
    k.tap(Action::Receipt(true)).await;
    k.wait_for(wait, |v| v.screen == ui::Screen::Goodbye).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("  Receipt, as the printer read it back:");
    for r in rig.printer.receipts() {
        for l in &r {
            println!("    | {}", l.text);
        }
    }
    k.pad.clear();
    k.wait_for(Duration::from_secs(6), |v| v.screen == ui::Screen::Welcome)
        .await;

    println!(
        "  The library system stops. Aino comes back with a book, a DVD and the reference book; offline\n  the kiosk goes by their tags (media format BA: 28 days, VI: 7; the reference copy: not for loan):"
    );
    let sip = rig.running.sip2_tls;
    rig.running.stop();
    k.send(Input::Scan("24680000000011".into())).await;
    k.wait_for(wait, |v| v.screen == ui::Screen::Pin).await;
    k.type_digits("1234").await;
    let v = k
        .wait_for(wait, |v| v.screen != ui::Screen::Pin && !v.busy)
        .await;
    println!(
        "  login: {} (offline: {})",
        v.as_ref().map_or("?".into(), words),
        v.as_ref().is_some_and(|v| v.offline)
    );
    for item in ["HE0000006", "HE0000002", "HE0000005"] {
        k.pad.place(tag(item, 1, 1));
    }
    let v = k
        .wait_for(wait, |v| {
            v.items.len() >= 3 && v.items.iter().all(|r| r.state != ui::RowState::Working)
        })
        .await
        .unwrap_or_else(|| k.view());
    print_rows(&v);
    k.tap(Action::Finish).await;
    k.wait_for(wait, |v| v.screen == ui::Screen::Receipt).await;
    k.tap(Action::Receipt(false)).await;
    let queue_dir = rig.dir.join("state/queue");
    k.shut_down().await?;
    // The kiosk's own security log, as `kiosk events --security` shows it (the console has it
    // too, as an incident).
    let log = eventlog::EventLog::open(&rig.dir.join("state/events"))?;
    let zone = access::zone::Zone::system();
    println!("  The kiosk's security log (kiosk events --security):");
    for e in log.security_between(0, i64::MAX)? {
        println!("    {}", eventlog::table_line(&e, &zone));
    }
    drop(log);
    let q = kiosk::queue::Queue::open(&queue_dir)?;
    println!("  The offline queue on disk:");
    for d in q.list() {
        println!(
            "    #{} {} at {} ({:?})",
            d.id,
            d.item,
            d.at.format("%H:%M:%S"),
            d.state
        );
    }
    let offline_at = q.list().first().map(|d| d.at);
    let running = server::start(server::Settings {
        sip2_tls: sip,
        https: rig.running.https,
        dialect: sip2::Dialect {
            charset: sip2::Charset::Utf8,
            ..sip2::Dialect::standard()
        },
        ..server::Settings::loopback(fixtures.to_owned(), state_dir.to_owned())
    })
    .await?;
    let settings = kiosk::settings::load(&rig.config)?;
    if let Some(r) = &settings.registry {
        let registry = registry::AnyRegistry::start(r)?;
        let d = q.deliver(&registry).await?;
        let again = q.deliver(&registry).await?;
        let sent = running.received().iter().filter(|r| r.no_block).count();
        println!(
            "  The library system is back: delivered {}, conflicts {}, waiting {}; a second round delivers {}; no-block checkouts received: {sent}.",
            d.delivered, d.conflicts, d.waiting, again.delivered
        );
    }
    if let Some(at) = offline_at {
        koha_delivery(&rig, &running, at).await?;
    }
    running.stop();
    Ok(())
}

/// The same kiosk as a Koha library's: an offline loan delivered through Koha's offline
/// circulation service (the staff interface's), and what Koha recorded.
async fn koha_delivery(
    rig: &Rig,
    running: &server::Running,
    at: chrono::NaiveDateTime,
) -> anyhow::Result<()> {
    rig.use_koha("")?;
    let settings = kiosk::settings::load(&rig.config)?;
    let Some(r) = &settings.registry else {
        return Ok(());
    };
    let registry = registry::AnyRegistry::start(r)?;
    let q = kiosk::queue::Queue::open(&rig.dir.join("state/koha-queue"))?;
    let item = "HE0000010";
    let id = q.checkout(
        &redact::CardNumber::new("24680000000011"),
        item,
        at,
        at + chrono::Duration::days(28),
        false,
    )?;
    q.commit(id)?;
    let d = q.deliver(&registry).await?;
    let again = q.deliver(&registry).await?;
    println!(
        "  A Koha library's kiosk (backend {}) delivers an offline loan of {} through Koha's offline\n  circulation service: delivered {}, conflicts {}; a second round delivers {}.",
        registry.kind(),
        at.format("%H:%M:%S"),
        d.delivered,
        d.conflicts,
        again.delivered
    );
    let state = running.state().await;
    match state.loans.get(item) {
        Some(l) => println!(
            "  Koha recorded {item}: issued {}, due {}, renewals {}.",
            l.lent_at.format("%Y-%m-%d %H:%M:%S"),
            l.due.format("%Y-%m-%d"),
            l.renewals
        ),
        None => println!("  Koha recorded no loan of {item}."),
    }
    Ok(())
}

/// `rig kiosk`: the kiosk's window on the twins for a person to click, with the pad,
/// scanner, printer and library system driven from the terminal.
#[cfg(feature = "window")]
pub fn interactive(state_dir: &Path, fixtures: &Path, now: DateTime<Utc>) -> anyhow::Result<()> {
    use std::io::BufRead;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let rig = runtime.block_on(rig(state_dir, fixtures, now, ""))?;
    let settings = kiosk::settings::load(&rig.config)?;
    let (touch_tx, mut touch_rx) = mpsc::channel(64);
    let window = kiosk::window::Window::new(
        &View {
            language: settings.language.clone(),
            ..View::default()
        },
        touch_tx,
    )?;
    let publish = window.publisher();
    let k = {
        let _guard = runtime.enter();
        start_kiosk_showing(
            settings,
            AirTime::TYPICAL,
            kiosk::system_clock(),
            Some(publish),
        )?
    };
    let inputs = k.inputs.clone();
    runtime.spawn(async move {
        while let Some(i) = touch_rx.recv().await {
            if inputs.send(i).await.is_err() {
                return;
            }
        }
    });
    println!(
        "The kiosk's window is open. Tap it; type here to move things on the pad:\n\
         \x20 place N [PART PARTS]   put item HE000000N (or one part of a set) on the pad\n\
         \x20 remove N | clear       take it (or everything) off\n\
         \x20 scan TEXT              a barcode: a card at the welcome screen, an item after\n\
         \x20 down | up              the library system stops answering / answers again\n\
         \x20 paper out | paper in   the receipt printer\n\
         \x20 receipts               what the printer printed\n\
         \x20 quit\n\
         Cards: 24680000000011 PIN 1234 (Aino), 24680000000029 PIN 2468 (svenska), 24680000000110 PIN 0000 (English)."
    );
    let pad = k.pad.clone();
    let inputs = k.inputs.clone();
    let printer = rig.printer.clone();
    let control = rig.running.control;
    let handle = runtime.handle().clone();
    std::thread::spawn(move || {
        let item = |n: &str| format!("HE{:0>7}", n);
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                ["place", n] => pad.place(tag(&item(n), 1, 1)),
                ["place", n, p, ps] => match (p.parse(), ps.parse()) {
                    (Ok(p), Ok(ps)) => pad.place(tag(&item(n), p, ps)),
                    _ => println!("place N PART PARTS, e.g. place 8 1 3"),
                },
                ["remove", n] => {
                    for p in 1..=3 {
                        for ps in 1..=3 {
                            pad.remove(tag(&item(n), p, ps).uid);
                        }
                    }
                }
                ["clear"] => {
                    pad.clear();
                }
                ["scan", text] => {
                    let _ = inputs.blocking_send(Input::Scan((*text).to_owned()));
                }
                ["down" | "up"] => {
                    let cmd = if w[0] == "down" {
                        "latency 10000"
                    } else {
                        "clear"
                    };
                    if let Some(addr) = control {
                        let answer = handle.block_on(async move {
                            use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
                            let mut s = tokio::net::TcpStream::connect(addr).await?;
                            s.write_all(format!("{cmd}\n").as_bytes()).await?;
                            let mut line = String::new();
                            tokio::io::BufReader::new(s).read_line(&mut line).await?;
                            Ok::<String, std::io::Error>(line)
                        });
                        println!(
                            "library system: {}",
                            answer.map_or_else(|e| e.to_string(), |a| a.trim().to_owned())
                        );
                    }
                }
                ["paper", state] => printer.set_status(receipt::PrinterStatus {
                    paper_out: *state == "out",
                    ..Default::default()
                }),
                ["receipts"] => {
                    for r in printer.receipts() {
                        println!("{}\n--- cut ---", receipt::render::Paper::text(&r));
                    }
                }
                ["quit"] => {
                    kiosk::window::quit();
                    break;
                }
                [] => {}
                _ => println!("unknown command; see the list above"),
            }
        }
    });
    window.run()?;
    runtime.block_on(k.shut_down())?;
    rig.running.stop();
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use kiosk::offline_rules::{self, Offline};

    /// The rig's offline rules, as the kiosk loads them from its file.
    fn rig_rules() -> offline_rules::LoanDays {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kiosk.toml");
        std::fs::write(
            &file,
            format!("[kiosk]\nname = \"k\"\nlibrary = \"Heili\"\nbranch = \"LPR\"\nstate_dir = \"state\"\n\n{OFFLINE}"),
        )
        .unwrap();
        let settings = kiosk::settings::load(&file).unwrap();
        assert!(
            !settings.warnings().iter().any(|w| w.contains("loan_days")),
            "{:?}",
            settings.warnings()
        );
        settings.offline.loan_days
    }

    fn read(t: &SimTag) -> ItemTag {
        iso28560::decode(&t.memory, Some(t.dsfid)).unwrap().0
    }

    #[test]
    fn every_catalogue_item_is_lent_offline_for_its_loan_rule_and_a_reference_copy_is_not() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let fixtures = library_sim::fixtures::Fixtures::parse(
            Path::new("heili.toml"),
            library_sim::DEFAULT_FIXTURES,
            today,
        )
        .unwrap();
        assert_eq!(catalogue().len(), fixtures.items.len());
        let rules = rig_rules();
        let mut media_seen = std::collections::BTreeSet::new();
        for item in &fixtures.items {
            let t = read(&tag(&item.barcode, 1, 1));
            assert_eq!(t.item, item.barcode);
            assert_eq!(t.owner.as_deref(), Some(ISIL));
            let got = offline_rules::decide(&[&t], &rules, false);
            if item.non_circulating {
                assert_eq!(got, Offline::NotForLoan, "{}", item.barcode);
                continue;
            }
            let days = fixtures.rule(&item.media).unwrap().loan_days;
            assert_eq!(
                got,
                Offline::Lend {
                    days,
                    media: onix_media(&item.media).map(Into::into)
                },
                "{} ({})",
                item.barcode,
                item.media
            );
            media_seen.insert(item.media.as_str());
        }
        // The catalogue has each kind the rules name, and a reference copy.
        assert_eq!(
            media_seen.into_iter().collect::<Vec<_>>(),
            ["audiobook", "book", "dvd", "magazine"]
        );
        assert!(fixtures.items.iter().any(|i| i.non_circulating));
    }

    #[test]
    fn every_disc_of_a_set_carries_the_set_and_unknown_items_keep_both_data_models() {
        for part in 1..=3 {
            let t = read(&tag("HE0000008", part, 3));
            assert_eq!((t.part, t.parts), (part, 3));
            assert_eq!(t.media_format().as_deref(), Some("AC"));
        }
        assert_ne!(tag("HE0000008", 1, 3).uid, tag("HE0000008", 2, 3).uid);
        let dvd = tag("HE0000002", 1, 1);
        assert_eq!(
            dvd.uid,
            tag_as("HE0000002", 1, 1, iso28560::Usage::CIRCULATING, None).uid
        );
        // Not in the catalogue: a plain circulating tag, part 2 or part 3 by the number.
        let odd = read(&tag("HE0000011", 1, 1));
        let even = read(&tag("HE0000012", 1, 1));
        assert_eq!(
            (odd.model, even.model),
            (DataModel::Part2, DataModel::Part3)
        );
        for t in [&odd, &even] {
            assert_eq!(t.usage, Some(iso28560::Usage::CIRCULATING));
            assert_eq!(t.media_format(), None);
        }
    }
}
