//! The console's statistics equal the events devices sent: a door and a kiosk deliver a known
//! set of events through their real outbox and sender (mutual TLS), and a staff member's CSV of
//! visits and the statistics page (over HTTPS, signed in) count exactly them, by the library's
//! local day (a day around the autumn clock change included).
#![allow(clippy::unwrap_used)]

use report::{Body, Event, Role};

fn at(local: &str) -> i64 {
    local
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Helsinki").unwrap())
        .unwrap()
        .timestamp()
        .as_millisecond()
}

fn ev(kind: &str, code: &str) -> Body {
    Body::Event {
        event: Event {
            kind: kind.into(),
            code: Some(code.into()),
            card: None,
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
    events: &[(&str, &str, &str)],
) {
    std::fs::create_dir_all(dir).unwrap();
    let c = console.device(id, branch, dir).unwrap();
    let outbox = uplink::Outbox::open(&c.outbox, c.outbox_max_bytes).unwrap();
    for (when, kind, code) in events {
        outbox.push(at(when), ev(kind, code)).unwrap();
    }
    let sender = uplink::Sender::new(&c.url, &c.tls, role, Some(id.into())).unwrap();
    let sent = sender.drain(&outbox, at("2026-10-27T12:00")).await.unwrap();
    assert_eq!(sent.acked, events.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_and_the_page_count_exactly_the_events_sent() {
    let tmp = tempfile::tempdir().unwrap();
    let console = rig::console::DemoConsole::start(&tmp.path().join("console"))
        .await
        .unwrap();
    // 25 October 2026 has 25 hours in Helsinki.
    let door = [
        ("2026-10-24T21:00", "entry", "online"),
        ("2026-10-25T00:30", "entry", "online"),
        ("2026-10-25T03:30", "entry", "offline:7"),
        ("2026-10-25T23:59", "entry", "online"),
        ("2026-10-25T21:10", "denied", "wrong-pin"),
        ("2026-10-25T21:11", "denied", "wrong-pin"),
        ("2026-10-25T22:30", "denied", "closed"),
        ("2026-10-26T00:00", "entry", "online"),
        ("2026-10-26T07:00", "exit", "button"),
        // Outside the range asked: not counted.
        ("2026-10-23T23:59", "entry", "online"),
        ("2026-10-27T00:00", "entry", "online"),
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
    let kiosk = [
        ("2026-10-25T12:00", "loan", "online"),
        ("2026-10-25T12:01", "loan", "online"),
        ("2026-10-25T12:02", "loan", "offline"),
        ("2026-10-26T12:03", "return", "offline"),
        ("2026-10-26T12:04", "return", "online"),
    ];
    deliver(
        &console,
        &tmp.path().join("k"),
        "heinola-kiosk-1",
        "HEINOLA",
        Role::Kiosk,
        &kiosk,
    )
    .await;

    let mut staff = console
        .staff("tilastot", central::staff::Role::Staff)
        .await
        .unwrap();
    let csv = staff
        .get("/stats.csv?from=2026-10-24&to=2026-10-26")
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "date,branch,visits,denied,loans_online,loans_offline,returns_online,returns_offline",
            "2026-10-24,HEINOLA,0,0,0,0,0,0",
            "2026-10-24,LEMI,1,0,0,0,0,0",
            "2026-10-25,HEINOLA,0,0,2,1,0,0",
            "2026-10-25,LEMI,3,3,0,0,0,0",
            "2026-10-26,HEINOLA,0,0,0,0,1,1",
            "2026-10-26,LEMI,1,0,0,0,0,0",
        ],
        "{csv}"
    );
    let hours = staff
        .get("/stats.csv?from=2026-10-24&to=2026-10-26&branch=LEMI&by=hour")
        .await
        .unwrap();
    for want in [
        "LEMI,00,2",
        "LEMI,03,1",
        "LEMI,21,1",
        "LEMI,23,1",
        "LEMI,12,0",
    ] {
        assert!(hours.lines().any(|l| l == want), "{want}: {hours}");
    }
    assert!(!hours.contains("HEINOLA"), "{hours}");
    let page = staff
        .get("/stats?from=2026-10-24&to=2026-10-26&lang=en")
        .await
        .unwrap();
    assert!(page.contains("<svg class=\"chart\""), "{page}");
    assert!(page.contains("<td>LEMI</td><td>5</td><td>3</td>"), "{page}");
    assert!(
        page.contains("<code>wrong-pin</code></td><td>2</td>"),
        "{page}"
    );
    // A range too long or backwards is refused in words.
    let bad = staff
        .get("/stats.csv?from=2026-10-26&to=2026-10-24")
        .await
        .unwrap();
    assert!(bad.contains("after the last"), "{bad}");
    console.console.stop().await;
}
