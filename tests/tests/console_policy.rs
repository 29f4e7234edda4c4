//! The branch's calendar from the console to the door, end to end: a librarian marks today
//! closed on the console's pages (HTTPS, her session and the form's token), the console signs a
//! policy bundle, the real door-agent takes it with the answer to its next report and refuses a
//! patron; bundles it must not take (signed by a stranger's key, for another branch, expired)
//! are refused, each a security event the console receives, and the door keeps its calendar;
//! the day removed, the door opens again.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use access::door::Feedback;
use access::hours::LibraryState;
use access::policy::Reason;
use sqlx::Row;

async fn refusals(db: &central::Db) -> Vec<String> {
    sqlx::query(
        "SELECT detail FROM events WHERE device_id = $1 AND kind = $2 AND code = $3 ORDER BY at",
    )
    .bind("lemi-door-1")
    .bind("security")
    .bind("policy-refused")
    .fetch_all(db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        r.try_get::<Option<String>, _>("detail")
            .unwrap()
            .unwrap_or_default()
    })
    .collect()
}

async fn wait_refusals(db: &central::Db, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let r = refusals(db).await;
        if r.len() >= n || tokio::time::Instant::now() >= deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn newest(db: &central::Db) -> u64 {
    central::policy::latest(db, "LEMI")
        .await
        .unwrap()
        .unwrap()
        .version
}

/// Stores `bytes` as LEMI's newest bundle, as a console whose database was tampered with would.
async fn serve(db: &central::Db, bytes: &[u8], version: u64) {
    sqlx::query("INSERT INTO policy_bundles (branch, version, issued_at, expires_at, bundle) VALUES ($1, $2, $3, $4, $5)")
        .bind("LEMI")
        .bind(version as i64)
        .bind(0_i64)
        .bind(0_i64)
        .bind(central::hex(bytes))
        .execute(db.pool())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_day_marked_in_the_console_reaches_the_door_and_bad_bundles_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    let db = console.console.db.clone();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let nine_pm = rig::door::nine_pm_on(e2e::daemons_now());
    let rig = rig::door::rig(&tmp.path().join("door"), &fixtures, "", nine_pm, 72)
        .await
        .unwrap();
    let mut settings = door_agent::settings::load(&rig.config).unwrap();
    settings.console = Some(
        console
            .device("lemi-door-1", "LEMI", &rig.dir.join("state"))
            .unwrap(),
    );
    console.follow(rig.clock.clock());
    let mut door = rig::door::start_door(settings, rig.clock.clock()).unwrap();

    // The librarian closes today.
    let mut staff = console
        .staff("kirsi", central::staff::Role::Staff)
        .await
        .unwrap();
    let today = access::zone::Zone::HELSINKI
        .local(rig.clock.now())
        .date()
        .to_string();
    let (status, _) = staff
        .submit(
            "/calendars/LEMI",
            "/calendars/LEMI/exceptions",
            &[("first", &today), ("name", "Inventaario")],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    assert!(
        door.state_becomes(LibraryState::Closed, Duration::from_secs(40))
            .await,
        "the door never took the console's calendar"
    );
    assert!(matches!(
        door.try_card("24680000000011", "1234#").await,
        Some(Feedback::Denied {
            reason: Reason::Closed,
            ..
        })
    ));
    let page = staff.get("/calendars/LEMI").await.unwrap();
    assert!(page.contains("Inventaario"), "{page}");

    // A bundle signed by a key the door does not trust (a console database tampered with).
    let stranger = allowlist::SigningKey::from_seed([9; 32]).unwrap();
    let open_week = central::policy::BranchCalendar::new("LEMI")
        .policy(
            chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").unwrap(),
            30,
        )
        .unwrap();
    let now = rig.clock.now().timestamp();
    let forged = allowlist::envelope::seal(
        allowlist::envelope::Purpose::Policy,
        newest(&db).await + 1000,
        now - 60,
        now + 86_400,
        vec!["LEMI".into()],
        &serde_json::to_vec(&open_week).unwrap(),
        &[&stranger],
    );
    serve(&db, &forged, newest(&db).await + 1000).await;
    let r = wait_refusals(&db, 1).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(r[0].contains("none of which this device trusts"), "{r:?}");

    // The console's own key, but another branch's bundle served to Lemi.
    let publisher = console.console.policy.get().unwrap().clone();
    let heinola = central::policy::BranchCalendar::new("HEINOLA");
    central::policy::save(&db, &heinola, "test", console.clock.now_ms())
        .await
        .unwrap();
    publisher
        .publish(&db, &heinola, console.clock.now_ms())
        .await
        .unwrap();
    let theirs = central::policy::newest(&db, "HEINOLA")
        .await
        .unwrap()
        .unwrap();
    serve(&db, &theirs.bytes, newest(&db).await + 1).await;
    let r = wait_refusals(&db, 2).await;
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[1].contains("HEINOLA"), "{r:?}");

    // The console's key and Lemi, but signed a month ago: expired.
    let mut lemi = central::policy::calendar(&db, "LEMI")
        .await
        .unwrap()
        .unwrap();
    lemi.exceptions.clear();
    publisher
        .publish(&db, &lemi, console.clock.now_ms() - 30 * 86_400_000)
        .await
        .unwrap();
    let r = wait_refusals(&db, 3).await;
    assert_eq!(r.len(), 3, "{r:?}");
    assert!(r[2].contains("expired"), "{r:?}");

    // Through all three the door kept its calendar.
    assert!(matches!(
        door.try_card("24680000000011", "1234#").await,
        Some(Feedback::Denied {
            reason: Reason::Closed,
            ..
        })
    ));

    // A removal from a page that shows another day at that place (the list changed since it
    // was loaded) removes nothing and says so.
    let (status, page) = staff
        .submit(
            "/calendars/LEMI",
            "/calendars/LEMI/exceptions/0/delete",
            &[("name", "Joulu")],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        page.contains("nothing was removed") || page.contains("mitään ei poistettu"),
        "{page}"
    );
    assert_eq!(
        central::policy::calendar(&db, "LEMI")
            .await
            .unwrap()
            .unwrap()
            .exceptions
            .len(),
        1
    );

    // The day removed on the page: a new bundle, and the door opens again.
    let (status, _) = staff
        .submit(
            "/calendars/LEMI",
            "/calendars/LEMI/exceptions/0/delete",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    assert!(
        door.state_becomes(LibraryState::SelfService, Duration::from_secs(40))
            .await,
        "the door never reopened"
    );
    assert!(matches!(
        door.try_card("24680000000011", "1234#").await,
        Some(Feedback::Welcome { .. })
    ));
    // The audit log has both changes, by the librarian.
    let audit = central::staff::audit_log(&db, 50).await.unwrap();
    let mine: Vec<&str> = audit
        .iter()
        .filter(|a| a.username == "kirsi")
        .map(|a| a.action.as_str())
        .collect();
    assert!(mine.contains(&"calendar-day-added"), "{mine:?}");
    assert!(mine.contains(&"calendar-day-removed"), "{mine:?}");

    door.shut_down().await.unwrap();
    rig.running.stop();
    console.console.stop().await;
}

async fn command_outcome(db: &central::Db, id: &str) -> Option<(String, Option<String>)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let row = sqlx::query("SELECT outcome, detail FROM commands WHERE command_id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap();
        let outcome: Option<String> = row.try_get("outcome").unwrap();
        if let Some(o) = outcome {
            return Some((o, row.try_get("detail").unwrap()));
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn newest_command(db: &central::Db) -> String {
    sqlx::query("SELECT command_id FROM commands ORDER BY version DESC LIMIT 1")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .try_get("command_id")
        .unwrap()
}

/// Queues `envelope` for the door as a console whose database was tampered with would.
async fn plant_command(db: &central::Db, id: &str, envelope: &[u8], expires_ms: i64) {
    sqlx::query(
        "INSERT INTO commands (command_id, device_id, version, order_code, created_at, expires_at, created_by, envelope) \
         VALUES ($1, 'lemi-door-1', $2, 'lockdown', 0, $3, 'intruder', $4)",
    )
    .bind(id)
    .bind(i64::MAX / 2)
    .bind(expires_ms)
    .bind(central::hex(envelope))
    .execute(db.pool())
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlock_and_a_lockdown_travel_to_the_door_and_back_and_forged_or_stale_ones_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    let db = console.console.db.clone();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let nine_pm = rig::door::nine_pm_on(e2e::daemons_now());
    let rig = rig::door::rig(&tmp.path().join("door"), &fixtures, "", nine_pm, 72)
        .await
        .unwrap();
    let mut settings = door_agent::settings::load(&rig.config).unwrap();
    let console_settings = console
        .device("lemi-door-1", "LEMI", &rig.dir.join("state"))
        .unwrap();
    let cert = console_settings.tls.client_identity.clone().unwrap().0;
    settings.console = Some(console_settings);
    console.follow(rig.clock.clock());
    let mut door = rig::door::start_door(settings, rig.clock.clock()).unwrap();
    // The console knows the door once it has reported.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while db.device("lemi-door-1").await.unwrap().is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the door never reported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut staff = console
        .staff("kirsi", central::staff::Role::Staff)
        .await
        .unwrap();
    let page = "/devices/lemi-door-1";
    let action = "/devices/lemi-door-1/commands";

    // Unlock for an evening event: the lock is released within seconds, and the door says so.
    let clicked = std::time::Instant::now();
    let (status, _) = staff
        .submit(page, action, &[("order", "unlock"), ("minutes", "1")])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let unlock = newest_command(&db).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !door.unlocked() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the door was not unlocked within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "the door unlocked {} ms after the click",
        clicked.elapsed().as_millis()
    );
    assert_eq!(command_outcome(&db, &unlock).await.unwrap().0, "done");

    // A lock-down: the lock engages, and a patron is refused with its own reason.
    let (status, _) = staff
        .submit(page, action, &[("order", "lockdown")])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let lockdown = newest_command(&db).await;
    assert_eq!(command_outcome(&db, &lockdown).await.unwrap().0, "done");
    assert!(door.relocked(Duration::from_secs(2)).await);
    assert!(matches!(
        door.try_card("24680000000011", "1234#").await,
        Some(Feedback::Denied {
            reason: Reason::LockedDown,
            ..
        })
    ));
    let (status, _) = staff
        .submit(page, action, &[("order", "lockdown-end")])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let end = newest_command(&db).await;
    assert_eq!(command_outcome(&db, &end).await.unwrap().0, "done");

    // A technician asks the running door for a selftest of what needs no person, and reads its
    // table on the page; a technician may not order the door otherwise.
    let mut technician = console
        .staff("teemu", central::staff::Role::Technician)
        .await
        .unwrap();
    let (status, _) = technician
        .submit(page, action, &[("order", "lockdown")])
        .await
        .unwrap();
    assert_eq!(status, 403);
    let (status, _) = technician
        .submit(page, action, &[("order", "selftest")])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let selftest = newest_command(&db).await;
    let (outcome, table) = command_outcome(&db, &selftest).await.unwrap();
    let table = table.unwrap_or_default();
    assert_eq!(outcome, "done", "{table}");
    for line in [
        "ok    door inputs      contact and exit button read",
        "ok    card readers     none lost",
        "ok    state directory  writable, ",
        "ok    offline list     version ",
        "ok    library system   answers in ",
        "ok    policy bundle    ",
    ] {
        assert!(table.contains(line), "{line:?} not in\n{table}");
    }
    let shown = technician.get(&format!("{page}?lang=en")).await.unwrap();
    assert!(shown.contains("all checks passed"), "{shown}");
    assert!(
        shown.contains("<pre class=\"selftest\">ok    door inputs"),
        "{shown}"
    );

    // A lock-down signed by a stranger's key (planted in the console's database): refused, a
    // security event, and the door lets Aino in.
    let stranger = allowlist::SigningKey::from_seed([9; 32]).unwrap();
    let own = uplink::certificate_sha256(&cert).unwrap();
    let now = rig.clock.now().timestamp();
    let body = serde_json::to_vec(&report::command::DeviceCommand {
        id: "f".repeat(32),
        order: report::command::Order::Lockdown,
    })
    .unwrap();
    let forged = allowlist::envelope::seal(
        allowlist::envelope::Purpose::Command,
        u64::MAX / 4,
        now,
        now + 30,
        vec![own.clone()],
        &body,
        &[&stranger],
    );
    plant_command(&db, &"f".repeat(32), &forged, (now + 30) * 1000).await;
    console.console.commands.wake("lemi-door-1");
    let (outcome, detail) = command_outcome(&db, &"f".repeat(32)).await.unwrap();
    assert_eq!(outcome, "refused", "{detail:?}");
    assert!(
        detail.as_deref().unwrap_or("").contains("trusts"),
        "{detail:?}"
    );
    let refused_sql = "SELECT CAST(COUNT(*) AS BIGINT) FROM events WHERE device_id = 'lemi-door-1' AND code = 'command-refused'";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n: i64 = sqlx::query(refused_sql)
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get(0);
        if n == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no security event reached the console"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(matches!(
        door.try_card("24680000000011", "1234#").await,
        Some(Feedback::Welcome { .. })
    ));

    // An unlock the console signed a minute ago, delivered only now (a console slow to hand it
    // over, or a replay): it expired unused, and the door refuses it.
    let publisher = console.console.policy.get().unwrap().clone();
    let stale = publisher.seal(
        allowlist::envelope::Purpose::Command,
        u64::MAX / 2,
        now - 60,
        now - 30,
        vec![own],
        &serde_json::to_vec(&report::command::DeviceCommand {
            id: "e".repeat(32),
            order: report::command::Order::Unlock { minutes: 60 },
        })
        .unwrap(),
    );
    plant_command(&db, &"e".repeat(32), &stale, (now + 30) * 1000).await;
    console.console.commands.wake("lemi-door-1");
    let (outcome, detail) = command_outcome(&db, &"e".repeat(32)).await.unwrap();
    assert_eq!(outcome, "refused");
    assert!(
        detail.as_deref().unwrap_or("").contains("expired"),
        "{detail:?}"
    );
    // (Aino's entry pulse ends; the stale unlock released nothing.)
    assert!(door.relocked(Duration::from_secs(5)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!door.unlocked());

    // The audit log names who sent each command.
    let audit = central::staff::audit_log(&db, 50).await.unwrap();
    let sent = audit
        .iter()
        .filter(|a| a.username == "kirsi" && a.action == "command-sent")
        .count();
    assert_eq!(sent, 3);
    let page = staff.get("/devices/lemi-door-1?lang=en").await.unwrap();
    assert!(page.contains("refused by the device"), "{page}");

    door.shut_down().await.unwrap();
    rig.running.stop();
    console.console.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_answers_a_selftest_from_its_page_and_takes_no_door_order() {
    let tmp = tempfile::tempdir().unwrap();
    let console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    let db = console.console.db.clone();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let rig = rig::kiosk::rig(&tmp.path().join("k"), &fixtures, e2e::daemons_now(), "")
        .await
        .unwrap();
    let mut settings = kiosk::settings::load(&rig.config).unwrap();
    settings.console = Some(
        console
            .device("lpr-kiosk-1", "LPR", &rig.dir.join("state"))
            .unwrap(),
    );
    let k = rig::kiosk::start_kiosk(
        settings,
        drivers::feig_twin::AirTime::default(),
        kiosk::system_clock(),
    )
    .unwrap();
    // The kiosk has reported, with its offline list synced (its gauges say when).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let synced = db.device("lpr-kiosk-1").await.unwrap().is_some_and(|d| {
            d.gauge_map()
                .contains_key("omatoimi_allowlist_last_sync_timestamp_seconds")
        });
        if synced {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the kiosk never reported a synced list"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut staff = console
        .staff("kirsi", central::staff::Role::Staff)
        .await
        .unwrap();
    let page = "/devices/lpr-kiosk-1";
    let action = "/devices/lpr-kiosk-1/commands";
    // Only the selftest is offered, and a door's order is refused by the console.
    let shown = staff.get(&format!("{page}?lang=en")).await.unwrap();
    assert!(shown.contains("value=\"selftest\""), "{shown}");
    assert!(!shown.contains("value=\"lockdown\""), "{shown}");
    let (status, _) = staff
        .submit(page, action, &[("order", "lockdown")])
        .await
        .unwrap();
    assert_eq!(status, 400);

    let (status, _) = staff
        .submit(page, action, &[("order", "selftest")])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let id = newest_command(&db).await;
    let (outcome, table) = command_outcome(&db, &id).await.unwrap();
    let table = table.unwrap_or_default();
    assert_eq!(outcome, "done", "{table}");
    for line in [
        "ok    state directory  writable, ",
        "ok    offline list     version ",
        "ok    library system   answers in ",
        "ok    offline loans    0 waiting for the library system, 0 refused by it",
    ] {
        assert!(table.contains(line), "{line:?} not in\n{table}");
    }
    let shown = staff.get(&format!("{page}?lang=en")).await.unwrap();
    assert!(shown.contains("all checks passed"), "{shown}");
    k.shut_down().await.unwrap();
}

/// The door runs the policy bundle `version` (or a newer one), as its status says.
async fn door_runs(db: &central::Db, version: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    let (name, _) = daemon::metrics::POLICY_VERSION;
    loop {
        let runs = db
            .device("lemi-door-1")
            .await
            .unwrap()
            .and_then(|d| d.gauge_map().get(name).copied())
            .unwrap_or(0.0);
        if runs >= version as f64 {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Who may come in is the library's to decide for a branch: the librarian sets it on the
/// branch's page, the bundle carries it, and the door judges the next patron by it (a
/// 12-year-old with her guardian's consent, admitted by the door's own file, is refused once
/// consent no longer admits minors); handed back, each door's own file applies again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_librarys_entry_rules_travel_in_the_bundle_and_the_door_judges_by_them() {
    const ELLA: (&str, &str) = ("24680000000060", "2014#");
    const AINO: (&str, &str) = ("24680000000011", "1234#");
    let tmp = tempfile::tempdir().unwrap();
    let console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    let db = console.console.db.clone();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let nine_pm = rig::door::nine_pm_on(e2e::daemons_now());
    let rig = rig::door::rig(&tmp.path().join("door"), &fixtures, "", nine_pm, 72)
        .await
        .unwrap();
    let mut settings = door_agent::settings::load(&rig.config).unwrap();
    settings.console = Some(
        console
            .device("lemi-door-1", "LEMI", &rig.dir.join("state"))
            .unwrap(),
    );
    console.follow(rig.clock.clock());
    let mut door = rig::door::start_door(settings, rig.clock.clock()).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        matches!(
            door.try_card(ELLA.0, ELLA.1).await,
            Some(Feedback::Welcome { .. })
        ),
        "the door's own file admits a minor with consent"
    );

    let mut staff = console
        .staff("kirsi", central::staff::Role::Staff)
        .await
        .unwrap();
    let page = staff.get("/calendars/LEMI?lang=en").await.unwrap();
    assert!(page.contains("Who may let themselves in"), "{page}");
    let mut fields = vec![("library", "yes"), ("min_age", "15"), ("categories", "")];
    for on in [
        "admit_unknown_age",
        "require_valid_card",
        "refuse_lost_card",
        "refuse_lending_ban",
        "refuse_fines",
        "honour_blocks",
        "require_terms",
        "require_permission",
    ] {
        fields.push((on, "yes"));
    }
    let (status, _) = staff
        .submit("/calendars/LEMI?lang=en", "/calendars/LEMI/rules", &fields)
        .await
        .unwrap();
    assert_eq!(status, 303);
    let version = newest(&db).await;
    assert!(
        door_runs(&db, version).await,
        "the door never took the bundle"
    );
    assert!(matches!(
        door.try_card(ELLA.0, ELLA.1).await,
        Some(Feedback::Denied {
            reason: Reason::Underage,
            ..
        })
    ));
    assert!(matches!(
        door.try_card(AINO.0, AINO.1).await,
        Some(Feedback::Welcome { .. })
    ));
    let page = staff.get("/calendars/LEMI?lang=en").await.unwrap();
    assert!(
        page.contains("name=\"library\" value=\"yes\" checked"),
        "{page}"
    );
    assert!(
        !page.contains("name=\"consent_admits_minors\" value=\"yes\" checked"),
        "{page}"
    );

    // Handed back to each door's file.
    let (status, _) = staff
        .submit("/calendars/LEMI?lang=en", "/calendars/LEMI/rules", &[])
        .await
        .unwrap();
    assert_eq!(status, 303);
    let version = newest(&db).await;
    assert!(
        door_runs(&db, version).await,
        "the door never took the bundle"
    );
    assert!(matches!(
        door.try_card(ELLA.0, ELLA.1).await,
        Some(Feedback::Welcome { .. })
    ));
    door.shut_down().await.unwrap();
    rig.running.stop();
    console.console.stop().await;
}
