//! The Lauritsala self-checkout kiosk on simulated devices against the simulator: the rig the
//! kiosk's tests, benchmark and demo stand on. The RFID pad is the FEIG twin holding tags with
//! ISO 28560 data for the catalogue's items; the receipt printer is the TCP printer twin.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Local, Utc};
use drivers::feig_twin::{AirTime, SimPad, SimTag};
use drivers::printer::{EscPosPrinter, PrinterTwin};
use iso28560::{DataModel, ItemTag};
use kiosk::{Clock, Devices, Input, KioskSettings};
use tokio::sync::{mpsc, watch};
use ui::{Action, View};

use crate::server;

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
}

/// Starts the simulator and a printer twin, and writes the kiosk's files under
/// `state_dir/kiosk`; the offline list is issued at `issued_at`.
pub async fn rig(
    state_dir: &Path,
    fixtures: &Path,
    issued_at: DateTime<Utc>,
    kiosk_extra: &str,
) -> anyhow::Result<Rig> {
    let (running, files, _) = crate::door::start_library(state_dir, fixtures, issued_at, 24).await?;
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

[offline]
lending = true
max_loans = 3
loan_days = 14

[rfid]
driver = "simulated"
security = "afi"
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
store = "state/allowlist"
card_key = "card-key.secret"
scopes = ["heili", "LPR"]
keys = ["{key}"]
when_expired = "deny"
"#,
            printer = printer.addr(),
            port = https.port(),
            key = files.public_key,
        ),
    )?;
    Ok(Rig {
        running,
        dir,
        config,
        printer,
    })
}

/// The tag of part `part` of `parts` of item `barcode`: ISO 28560-2 for odd item numbers (as
/// Finnish libraries encode), ISO 28560-3 for even ones, so both pass through every test.
pub fn tag(barcode: &str, part: u8, parts: u8) -> SimTag {
    let n: u32 = barcode
        .trim_start_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .unwrap_or(0);
    let model = if n % 2 == 1 {
        DataModel::Part2
    } else {
        DataModel::Part3
    };
    let t = ItemTag::new(model, barcode, Some(ISIL)).part_of(part, parts);
    let (dsfid, memory) = match model {
        DataModel::Part2 => (iso28560::tag::DSFID_PART2, t.encode(32)),
        DataModel::Part3 => (iso28560::tag::DSFID_PART3, t.encode(32)),
    };
    SimTag::new(
        SimTag::uid_from(n * 16 + u32::from(part)),
        dsfid,
        memory.unwrap_or_default(),
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
pub fn start_kiosk(settings: KioskSettings, air: AirTime, clock: Clock) -> anyhow::Result<SimKiosk> {
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
