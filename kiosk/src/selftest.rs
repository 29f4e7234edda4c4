//! `kiosk selftest`: every configured device and the network path, tried once, as a table a
//! technician reads at a glance. The kiosk must be stopped (the devices are its own).

use std::time::Duration;

use drivers::printer::{EscPosPrinter, ReceiptPrinter};
use drivers::rfid::RfidPad;
use registry::{AnyRegistry, Registry};

use crate::settings::{KioskSettings, PadSettings};

/// One line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was tried.
    pub what: String,
    /// It worked.
    pub ok: bool,
    /// What was seen, or what to do.
    pub detail: String,
}

fn check(what: &str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        what: what.into(),
        ok,
        detail: detail.into(),
    }
}

/// Runs every check `settings` calls for; `now` is Unix seconds (for the list's freshness).
pub async fn run(settings: &KioskSettings, now: i64) -> Vec<Check> {
    let mut out = Vec::new();
    let bound = Duration::from_secs(5);

    match &settings.pad {
        None => out.push(check("RFID pad", true, "none configured (barcodes only)")),
        Some(p) => {
            let pad = match p {
                PadSettings::Feig { path, baud } => drivers::rfid::open_serial(path, *baud),
                PadSettings::Simulated => Ok(drivers::feig_twin::SimPad::new().connect()),
            };
            out.push(match pad {
                Err(e) => check("RFID pad", false, e.to_string()),
                Ok(mut pad) => match tokio::time::timeout(bound, pad.inventory()).await {
                    Ok(Ok(tags)) => check(
                        "RFID pad",
                        true,
                        format!("answers; {} tag(s) on it", tags.len()),
                    ),
                    Ok(Err(e)) => check("RFID pad", false, e.to_string()),
                    Err(_) => check("RFID pad", false, "no answer in 5 s"),
                },
            });
        }
    }

    match &settings.scanner {
        None => out.push(check("barcode scanner", true, "none configured")),
        Some(s) => out.push(match std::fs::metadata(&s.path) {
            Ok(_) => check(
                "barcode scanner",
                true,
                format!("{} present (scan something to see it work)", s.path),
            ),
            Err(e) => check(
                "barcode scanner",
                false,
                format!("{}: {e} (plugged in?)", s.path),
            ),
        }),
    }

    match &settings.printer {
        None => out.push(check("receipt printer", true, "none configured")),
        Some(p) => {
            let printer = EscPosPrinter::new(p.link.clone(), p.timeout);
            out.push(match printer.status().await {
                Ok(s) => match s.refusal() {
                    None if s.paper_near_end => {
                        check("receipt printer", true, "ready; paper near its end")
                    }
                    None => check("receipt printer", true, "ready"),
                    Some(why) => check("receipt printer", false, why),
                },
                Err(e) => check("receipt printer", false, e.to_string()),
            });
        }
    }

    match &settings.registry {
        None => out.push(check("library system", false, "no [registry] configured")),
        Some(r) => out.push(match AnyRegistry::start(r) {
            Err(e) => check("library system", false, e.to_string()),
            Ok(reg) => {
                let started = std::time::Instant::now();
                // Any answer about an item proves TLS, the device's login and a round trip.
                match tokio::time::timeout(bound, reg.item("SELFTEST-0")).await {
                    Ok(Ok(_)) => check(
                        "library system",
                        true,
                        format!(
                            "{} answers in {} ms",
                            reg.kind(),
                            started.elapsed().as_millis()
                        ),
                    ),
                    Ok(Err(e)) => check("library system", false, e.to_string()),
                    Err(_) => check("library system", false, "no answer in 5 s"),
                }
            }
        }),
    }

    match &settings.allowlist {
        None => out.push(check(
            "offline list",
            true,
            "none configured (no offline lending)",
        )),
        Some(a) => out.push(match offline::OfflineList::open(a.clone()) {
            Err(e) => check(
                "offline list",
                false,
                format!("{e} (is the kiosk running?)"),
            ),
            Ok(list) => match list.store().current() {
                None => check(
                    "offline list",
                    false,
                    "none applied yet (run the kiosk with the network up)",
                ),
                Some(c) => {
                    let h = &c.header.header;
                    let hours = (h.expires_at - now) / 3600;
                    if h.expires_at <= now {
                        check(
                            "offline list",
                            false,
                            format!("version {} expired", h.version),
                        )
                    } else {
                        check(
                            "offline list",
                            true,
                            format!("version {}, expires in {hours} h", h.version),
                        )
                    }
                }
            },
        }),
    }
    out
}

/// The table.
pub fn table(checks: &[Check]) -> String {
    let mut s = String::new();
    for c in checks {
        s.push_str(&format!(
            "{:<4}  {:<16}  {}\n",
            if c.ok { "ok" } else { "FAIL" },
            c.what,
            c.detail
        ));
    }
    s
}
