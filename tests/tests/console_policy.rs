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
