//! The console's security incidents with the GDPR's 72-hour clock: a door and a kiosk deliver
//! security events through their real outbox and sender (mutual TLS); the page (over HTTPS,
//! signed in) groups them per branch, runs each incident's clock from its first sign, shows it
//! overdue once the 72 hours are past, and keeps an admin's decision with the reason, audited.
//! Staff read it and may not decide. The console's clock is the test's.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use report::{Body, Event, Role};

const H: i64 = 3_600_000;

fn ev(kind: &str, code: &str, card: Option<&str>) -> Body {
    Body::Event {
        event: Event {
            kind: kind.into(),
            code: Some(code.into()),
            card: card.map(Into::into),
            source: None,
            detail: None,
        },
    }
}

async fn deliver(
    console: &rig::console::DemoConsole,
    dir: &std::path::Path,
    id: &str,
    branch: &str,
    role: Role,
    events: &[(i64, &str, &str, Option<&str>)],
) {
    std::fs::create_dir_all(dir).unwrap();
    let c = console.device(id, branch, dir).unwrap();
    let outbox = uplink::Outbox::open(&c.outbox, c.outbox_max_bytes).unwrap();
    for (at, kind, code, card) in events {
        outbox.push(*at, ev(kind, code, *card)).unwrap();
    }
    let sender = uplink::Sender::new(&c.url, &c.tls, role, Some(id.into())).unwrap();
    let sent = sender.drain(&outbox, events[0].0).await.unwrap();
    assert_eq!(sent.acked, events.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_events_become_incidents_on_a_72_hour_clock_and_an_admin_decides_them() {
    let tmp = tempfile::tempdir().unwrap();
    let console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    // 7 March 2031, 12:00 UTC: the console's clock, moved by the test.
    let t0 = 1_930_651_200_000_i64;
    let now = Arc::new(AtomicI64::new(t0));
    let clock = now.clone();
    console.follow(Arc::new(move || {
        chrono::DateTime::from_timestamp_millis(clock.load(Ordering::SeqCst)).unwrap()
    }));
    let door = [
        (t0 - 10 * H, "alarm", "forced-open", None),
        (t0 - 9 * H, "tamper", "tamper", None),
        (t0 - 8 * H, "security", "command-refused", None),
        // Not security events: entries, a wrong PIN, a door held open.
        (t0 - 8 * H, "entry", "online", None),
        (t0 - 8 * H, "denied", "wrong-pin", None),
        (t0 - 7 * H, "alarm", "held-open", None),
        // Days before: an incident of its own.
        (t0 - 5 * 24 * H, "denied", "pin-locked-out", None),
    ];
    deliver(
        &console,
        &tmp.path().join("d"),
        "lemi-door-1",
        "LEMI",
        Role::Door,
        &door,
    )
    .await;
    let kiosk = [(t0 - 2 * H, "security", "list-refused", None)];
    deliver(
        &console,
        &tmp.path().join("k"),
        "lemi-kiosk-1",
        "LEMI",
        Role::Kiosk,
        &kiosk,
    )
    .await;

    let mut admin = console
        .staff("tietosuoja", central::staff::Role::Admin)
        .await
        .unwrap();
    let page = admin.get("/security?lang=en").await.unwrap();
    let rows: Vec<&str> = page.split("<tr><td>").skip(1).collect();
    assert_eq!(rows.len(), 2, "{page}");
    // The newest first: the night's events with the kiosk's, on one clock from the forced door.
    let night = rows[0];
    for want in [
        "alarm:forced-open × 1",
        "tamper:tamper × 1",
        "security:command-refused × 1",
        "security:list-refused × 1",
        "lemi-door-1, lemi-kiosk-1",
        "left: 62 h",
    ] {
        assert!(night.contains(want), "{want}: {night}");
    }
    for not in ["held-open", "wrong-pin", "entry"] {
        assert!(!night.contains(not), "{not}: {night}");
    }
    // The lock-out five days ago: its 72 hours are past.
    assert!(rows[1].contains("denied:pin-locked-out × 1"), "{}", rows[1]);
    assert!(rows[1].contains("overdue by 48 h"), "{}", rows[1]);
    assert!(page.contains("Incidents not decided: <b>2</b>"), "{page}");

    // Staff read it and may not decide.
    let mut staff = console
        .staff("kirsi", central::staff::Role::Staff)
        .await
        .unwrap();
    let seen = staff.get("/security?lang=en").await.unwrap();
    assert!(seen.contains("left: 62 h"), "{seen}");
    assert!(!seen.contains("action=\"/security/assess\""), "{seen}");
    let (status, _) = staff
        .post(
            "/security/assess",
            &[("key", "x"), ("decision", "reported"), ("note", "x")],
        )
        .await
        .unwrap();
    assert_eq!(status, 403);

    // An admin decides, with a reason; without one nothing is kept.
    let (status, said) = admin
        .submit(
            "/security?lang=en",
            "/security/assess",
            &[("decision", "reported"), ("note", "  ")],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(said.contains("Say why, for the record."), "{said}");
    let (status, _) = admin
        .submit(
            "/security?lang=en",
            "/security/assess",
            &[
                ("decision", "reported"),
                (
                    "note",
                    "door forced, kiosk list tampered: told the authority",
                ),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 303);
    // Two days on: the decided one stays decided; nothing else changed.
    // (The session ended with the 48 hours: another admin signs in.)
    now.fetch_add(48 * H, Ordering::SeqCst);
    let mut admin = console
        .staff("tarkastaja", central::staff::Role::Admin)
        .await
        .unwrap();
    let page = admin.get("/security?lang=en").await.unwrap();
    let rows: Vec<&str> = page.split("<tr><td>").skip(1).collect();
    assert!(
        rows[0].contains("reported to the supervisory authority</b><br>door forced"),
        "{}",
        rows[0]
    );
    assert!(rows[0].contains("tietosuoja"), "{}", rows[0]);
    assert!(rows[1].contains("overdue by 96 h"), "{}", rows[1]);
    assert!(page.contains("Incidents not decided: <b>1</b>"), "{page}");
    let audit = admin.get("/audit?lang=en").await.unwrap();
    assert!(
        audit.contains("decided about a security incident"),
        "{audit}"
    );
    assert!(audit.contains("reported: door forced"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_looks_up_who_entered_a_branch_with_a_reason_and_the_look_up_is_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    // 7 March 2031 in Helsinki (UTC+2): 21:00 is 19:00 UTC.
    let nine_pm = 1_930_676_400_000_i64;
    let t = |minutes: i64| nine_pm + minutes * 60_000;
    let (aino, eero) = (
        Some("0011223344556677889900aabbccddee"),
        Some("ffeeddccbbaa00998877665544332211"),
    );
    deliver(
        &console,
        &tmp.path().join("d"),
        "lemi-door-1",
        "LEMI",
        Role::Door,
        &[
            (t(-90), "entry", "online", aino),
            (t(5), "entry", "online", aino),
            (t(20), "entry", "offline:7", eero),
            (t(20), "denied", "wrong-pin", eero),
            (t(50), "entry", "online", aino),
            (t(70), "entry", "online", eero),
        ],
    )
    .await;
    deliver(
        &console,
        &tmp.path().join("k"),
        "kirj-door-1",
        "KIRJ",
        Role::Door,
        &[(
            t(10),
            "entry",
            "online",
            Some("99999999999999999999999999999999"),
        )],
    )
    .await;

    // Staff may not look.
    let mut staff = console
        .staff("kirsi", central::staff::Role::Staff)
        .await
        .unwrap();
    assert!(!staff.get("/?lang=en").await.unwrap().contains("/presence"));
    let (status, _) = staff
        .post(
            "/presence",
            &[
                ("branch", "LEMI"),
                ("from", "2031-03-07T21:00"),
                ("to", "2031-03-07T22:00"),
                ("reason", "x"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 403);

    let mut admin = console
        .staff("tietosuoja", central::staff::Role::Admin)
        .await
        .unwrap();
    let form = admin.get("/presence?lang=en").await.unwrap();
    assert!(form.contains("<option>LEMI</option>"), "{form}");
    // Without a reason, or with a range too long: refused, and nothing is looked up.
    let range = [
        ("branch", "LEMI"),
        ("from", "2031-03-07T21:00"),
        ("to", "2031-03-07T22:00"),
    ];
    let (_, said) = admin
        .submit(
            "/presence?lang=en",
            "/presence",
            &[range[0], range[1], range[2], ("reason", " ")],
        )
        .await
        .unwrap();
    assert!(said.contains("Say why, for the record."), "{said}");
    assert!(!said.contains("0011223344"), "{said}");
    let (_, said) = admin
        .submit(
            "/presence?lang=en",
            "/presence",
            &[
                range[0],
                range[1],
                ("to", "2031-03-17T22:00"),
                ("reason", "window broken"),
            ],
        )
        .await
        .unwrap();
    assert!(said.contains("At most seven days at once."), "{said}");

    let (status, said) = admin
        .submit(
            "/presence?lang=en",
            "/presence",
            &[
                range[0],
                range[1],
                range[2],
                ("reason", "window broken at 21:40, police report 123"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        said.contains("Entries: <b>3</b> · Different cards: <b>2</b>"),
        "{said}"
    );
    assert!(
        said.contains("<code>0011223344556677889900aabbccddee</code>"),
        "{said}"
    );
    assert!(
        said.contains("<code>ffeeddccbbaa00998877665544332211</code></td><td>offline:7"),
        "{said}"
    );
    // Another branch, an earlier entry, a later one and a refusal are not in it.
    assert!(!said.contains("9999999999"), "{said}");
    assert_eq!(
        said.matches("<code>0011223344556677889900aabbccddee</code>")
            .count(),
        2,
        "{said}"
    );
    assert!(!said.contains("wrong-pin"), "{said}");
    let audit = admin.get("/audit?lang=en").await.unwrap();
    assert!(audit.contains("looked up who was in"), "{audit}");
    assert!(
        audit.contains("window broken at 21:40, police report 123"),
        "{audit}"
    );
    assert_eq!(audit.matches("looked up who was in").count(), 1, "{audit}");
}

/// With the library system's Koha REST API given, an admin may ask for names in "who was in":
/// the console reads the patrons at that moment, keys each card with the keys the branch's
/// doors may hold (the library's, the branch's), and names those that match; a card the library
/// system no longer knows says so. Without the box ticked no name is shown, and the audit line
/// says when names were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_the_names_of_who_entered_only_when_asked_read_from_the_library_system() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = e2e::start(&tmp.path().join("sim")).await;
    let reg_dir = tmp.path().join("registry");
    std::fs::create_dir_all(&reg_dir).unwrap();
    let settings = e2e::DeviceSetup::koha().settings(&reg_dir, &sim).unwrap();
    let config::registry::Backend::KohaRest(koha) = &settings.backend else {
        panic!("not Koha");
    };
    let names = registry::koha::KohaRegistry::new(koha, &settings).unwrap();
    let mut console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    let key = allowlist::CardKey::new([9; 32]);
    console
        .console
        .serve_patron_rights(central::patrons::PatronRights {
            key: key.clone(),
            names: Some(names),
        });
    let pseudonym = |k: &allowlist::CardKey, card: &str| {
        central::hex(&k.hash(&redact::CardNumber::new(card)).0[..16])
    };
    // Aino's door holds the library's key; Erik came in at a door keyed for the branch.
    let aino = pseudonym(&key, "24680000000011");
    let erik = pseudonym(&key.for_scope("LEMI"), "24680000000029");
    let gone = "0123456789abcdef0123456789abcdef".to_owned();
    let nine_pm = 1_930_676_400_000_i64;
    let t = |minutes: i64| nine_pm + minutes * 60_000;
    deliver(
        &console,
        &tmp.path().join("d"),
        "lemi-door-1",
        "LEMI",
        Role::Door,
        &[
            (t(5), "entry", "online", Some(aino.as_str())),
            (t(20), "entry", "online", Some(erik.as_str())),
            (t(30), "entry", "offline:7", Some(gone.as_str())),
        ],
    )
    .await;
    let mut admin = console
        .staff("tietosuoja", central::staff::Role::Admin)
        .await
        .unwrap();
    let form = admin.get("/presence?lang=en").await.unwrap();
    assert!(form.contains("name=\"names\""), "{form}");
    let range = [
        ("branch", "LEMI"),
        ("from", "2031-03-07T21:00"),
        ("to", "2031-03-07T22:00"),
        ("reason", "window broken at 21:40, police report 123"),
    ];
    let (_, said) = admin
        .submit("/presence?lang=en", "/presence", &range)
        .await
        .unwrap();
    assert!(said.contains(&format!("<code>{aino}</code>")), "{said}");
    assert!(
        !said.contains("Virtanen") && !said.contains("Lindholm"),
        "{said}"
    );

    let mut with_names = range.to_vec();
    with_names.push(("names", "yes"));
    let (status, said) = admin
        .submit("/presence?lang=en", "/presence", &with_names)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        said.contains(&format!("<code>{aino}</code></td><td>Aino Virtanen</td>")),
        "{said}"
    );
    assert!(
        said.contains(&format!("<code>{erik}</code></td><td>Erik Lindholm</td>")),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "<code>{gone}</code></td><td>not found in the library system</td>"
        )),
        "{said}"
    );
    let audit = admin.get("/audit?lang=en").await.unwrap();
    assert_eq!(audit.matches("(with names)").count(), 1, "{audit}");
    assert_eq!(audit.matches("looked up who was in").count(), 2, "{audit}");
    // Nothing of it was kept: no name in the console's files.
    for entry in std::fs::read_dir(tmp.path().join("console")).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            for needle in ["Virtanen", "24680000000011"] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle} in {}",
                    p.display()
                );
            }
        }
    }
}

/// A demo console and the simulator rig's kiosk `lpr-kiosk-1` of LPR reporting to it, on the
/// devices' clock; `before_start` sees the kiosk's settings first (to fill its queue, say).
/// Also the offline list's card key, for the patron's pseudonym.
async fn kiosk_reporting_to_a_console(
    tmp: &std::path::Path,
    before_start: impl FnOnce(&kiosk::settings::KioskSettings),
) -> (
    rig::console::DemoConsole,
    rig::kiosk::Rig,
    rig::kiosk::SimKiosk,
    allowlist::CardKey,
) {
    let console = rig::console::DemoConsole::start(&tmp.join("console"))
        .await
        .unwrap();
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../library-sim/fixtures/heili.toml");
    let now = e2e::daemons_now();
    let rig = rig::kiosk::rig(&tmp.join("k"), &fixtures, now, "")
        .await
        .unwrap();
    let mut settings = kiosk::settings::load(&rig.config).unwrap();
    let key = settings.allowlist.as_ref().unwrap().card_key.clone();
    before_start(&settings);
    settings.console = Some(
        console
            .device("lpr-kiosk-1", "LPR", &settings.state_dir)
            .unwrap(),
    );
    let k = rig::kiosk::start_kiosk(
        settings,
        drivers::feig_twin::AirTime::default(),
        rig::kiosk::clock_from(now),
    )
    .unwrap();
    (console, rig, k, key)
}

/// The kiosk's own security events, made by the kiosk itself (not written into an outbox by the
/// test): a patron's tag whose security bit will not switch, and her card locked after wrong
/// PINs, reach the console's incidents through the kiosk's real sender, under her pseudonym.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosks_own_security_events_become_an_incident_in_the_console() {
    use kiosk::Input;
    use ui::{Action, Outcome, Screen};
    const AINO: &str = "24680000000011";
    let wait = std::time::Duration::from_secs(10);

    let tmp = tempfile::tempdir().unwrap();
    let (console, _rig, mut k, key) = kiosk_reporting_to_a_console(tmp.path(), |_| {}).await;
    let log_in = async |k: &mut rig::kiosk::SimKiosk, pin: &str| {
        k.wait_for(wait, |v| v.screen == Screen::Welcome)
            .await
            .unwrap();
        k.send(Input::Scan(AINO.into())).await;
        k.wait_for(wait, |v| v.screen == Screen::Pin).await.unwrap();
        k.type_digits(pin).await;
        k.wait_for(wait, |v| v.screen != Screen::Pin && !v.busy)
            .await
            .unwrap()
    };
    let v = log_in(&mut k, "1234").await;
    assert_eq!(v.screen, Screen::Items);
    let mut stubborn = rig::kiosk::tag("HE0000002", 1, 1);
    stubborn.ignores_afi = true;
    k.pad.place(stubborn);
    let v = k
        .wait_for(wait, |v| {
            v.items
                .iter()
                .any(|r| r.item == "HE0000002" && r.outcome == Outcome::SecurityFailed)
        })
        .await;
    assert!(v.is_some(), "the stubborn tag is refused");
    k.tap(Action::Cancel).await;
    for _ in 0..5 {
        log_in(&mut k, "9999").await;
        k.tap(Action::Cancel).await;
    }

    let mut admin = console
        .staff("tietosuoja", central::staff::Role::Admin)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let page = loop {
        let page = admin.get("/security?lang=en").await.unwrap();
        if page.contains("denied:pin-locked-out") && page.contains("tag-security-failed") {
            break page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the kiosk's security events never reached the console:\n{page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let rows: Vec<&str> = page.split("<tr><td>").skip(1).collect();
    assert_eq!(rows.len(), 1, "one incident at the branch: {page}");
    for want in [
        "security:tag-security-failed × 1",
        "denied:pin-locked-out × 1",
        "lpr-kiosk-1",
    ] {
        assert!(rows[0].contains(want), "{want}: {}", rows[0]);
    }
    assert!(!rows[0].contains("wrong-pin"), "{}", rows[0]);
    // The console holds them under her pseudonym, never her card number.
    let pseudonym = eventlog::pseudonym(&key, &redact::CardNumber::new(AINO));
    let held: i64 = {
        use sqlx::Row as _;
        sqlx::query("SELECT COUNT(*) AS n FROM events WHERE card = $1")
            .bind(&pseudonym)
            .fetch_one(console.console.db.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    };
    assert!(held >= 2, "{held}");
    assert!(!page.contains(AINO));
    k.shut_down().await.unwrap();
}

/// An offline loan the library system refuses when it is delivered (an item it does not know)
/// reaches the console once: the kiosk's security event `offline-refused`, under the patron's
/// pseudonym, raising one queue-conflict alarm (kiosks before sent a second event of their own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_loan_the_library_refuses_is_one_event_and_one_alarm_at_the_console() {
    const AINO: &str = "24680000000011";
    let tmp = tempfile::tempdir().unwrap();
    // Lent while the library system was away, and waiting in the kiosk's queue.
    let (console, _rig, k, key) = kiosk_reporting_to_a_console(tmp.path(), |settings| {
        let q = kiosk::queue::Queue::open(&settings.state_dir.join("queue")).unwrap();
        let at = e2e::daemons_local_now() - chrono::Duration::hours(1);
        let id = q
            .checkout(
                &redact::CardNumber::new(AINO),
                "XX0000404",
                at,
                at + chrono::Duration::days(28),
                false,
            )
            .unwrap();
        q.commit(id).unwrap();
    })
    .await;
    let db = console.console.db.clone();
    let count = async |sql: &str| -> i64 {
        use sqlx::Row as _;
        sqlx::query(sql)
            .bind("lpr-kiosk-1")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .try_get("n")
            .unwrap()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while count("SELECT COUNT(*) AS n FROM alarms WHERE device_id = $1 AND rule = 'queue-conflict'")
        .await
        == 0
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no queue-conflict alarm at the console"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The kiosk said it once: nothing more arrives while its outbox sends (it sends each batch
    // as it is written; the second event of older kiosks followed within milliseconds).
    let mut last = -1;
    loop {
        let n = count("SELECT COUNT(*) AS n FROM events WHERE device_id = $1").await;
        if n == last {
            break;
        }
        last = n;
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    }
    let pseudonym = eventlog::pseudonym(&key, &redact::CardNumber::new(AINO));
    let refused: Vec<(String, Option<String>, Option<String>)> = {
        use sqlx::Row as _;
        sqlx::query(
            "SELECT kind, code, card FROM events WHERE device_id = $1 AND kind IN ('security', 'queue-conflict')",
        )
        .bind("lpr-kiosk-1")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("kind"), r.get("code"), r.get("card")))
        .collect()
    };
    assert_eq!(
        refused,
        [(
            "security".to_owned(),
            Some("offline-refused".to_owned()),
            Some(pseudonym)
        )]
    );
    assert_eq!(
        count("SELECT COUNT(*) AS n FROM alarms WHERE device_id = $1").await,
        1
    );
    k.shut_down().await.unwrap();
}
