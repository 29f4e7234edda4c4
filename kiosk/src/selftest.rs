//! `kiosk selftest`: every configured device and the network path, tried once, as a table a
//! technician reads at a glance. The kiosk must be stopped (the devices are its own).

use std::time::Duration;

use drivers::printer::{EscPosPrinter, ReceiptPrinter};
use drivers::rfid::RfidPad;

use crate::settings::{KioskSettings, PadSettings};

use daemon::selftest::check;
pub use daemon::selftest::{Check, table};

/// Runs every check `settings` calls for; `now` is Unix seconds (for the list's freshness).
/// With `test_page`, a ready printer prints a test page (the code page's letters and a ruler).
pub async fn run(settings: &KioskSettings, now: i64, test_page: bool) -> Vec<Check> {
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
        Some(s) => out.push(match std::fs::metadata(s.path()) {
            Ok(_) => check(
                "barcode scanner",
                true,
                format!("{} present (scan something to see it work)", s.path()),
            ),
            Err(e) => check(
                "barcode scanner",
                false,
                format!("{}: {e} (plugged in?)", s.path()),
            ),
        }),
    }

    match &settings.printer {
        None => out.push(check("receipt printer", true, "none configured")),
        Some(p) => {
            let printer = EscPosPrinter::new(p.link.clone(), p.timeout);
            out.push(match printer.status().await {
                Ok(s) => match s.refusal() {
                    None if test_page => {
                        // The kiosk's own time, as on its receipts.
                        let at = chrono::DateTime::from_timestamp(now, 0)
                            .unwrap_or_default()
                            .with_timezone(&chrono::Local)
                            .naive_local();
                        let page = receipt::test_page(
                            &settings.name,
                            at,
                            p.code_page,
                            p.columns,
                        );
                        match printer.print(&page).await {
                            Ok(_) => check(
                                "receipt printer",
                                true,
                                "ready; test page printed (are the letters ÅÄÖ right, the ruler one line?)",
                            ),
                            Err(e) => check("receipt printer", false, format!("test page: {e}")),
                        }
                    }
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

    out.push(offline::selftest::library_system(settings.registry.as_ref(), bound).await);

    match &settings.allowlist {
        None => out.push(check(
            "offline list",
            true,
            "none configured (no offline lending)",
        )),
        Some(a) => out.push(offline::selftest::offline_list(a, now, "kiosk").await),
    }
    out
}
