//! The README's demo: start the simulator, then run a scripted SIP2 session against it over TLS,
//! printing what a self-check unit at Lappeenranta main library sees.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use rustls::pki_types::ServerName;
use sip2::*;

use library_sim::client::ScriptClient;
use library_sim::requests as request;
use library_sim::server::{self, Settings};

fn shown(card: &str) -> String {
    // Even the demo shows only the end of a card number.
    format!("…{}", &card[card.len().saturating_sub(4)..])
}

fn line(step: &str, outcome: impl AsRef<str>) {
    println!("  {step:<52} {}", outcome.as_ref());
}

/// Runs the demo with state in `state_dir` and the fixtures in `fixtures`, the door's and the
/// kiosk's scenes on the day of `now`.
pub async fn run(state_dir: &Path, fixtures: &Path, now: DateTime<Utc>) -> anyhow::Result<()> {
    let clock = library_sim::clock::Clock::system();
    let settings = Settings {
        fixtures: fixtures.to_owned(),
        state_dir: state_dir.to_owned(),
        sip2_tls: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        sip2_plain: None,
        control: None,
        dialect: Dialect {
            charset: Charset::Utf8,
            ..Dialect::standard()
        },
        hostnames: vec![],
        faults: Default::default(),
        idle_timeout: Duration::from_secs(60),
        https: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        require_client_cert: false,
        token_lifetime: Duration::from_secs(3600),
        allowlist: Some(state_dir.join("allowlist").join("published")),
        clock: clock.clone(),
    };
    // The publisher signs a list from the catalogue before the server starts serving it.
    let catalogue = library_sim::fixtures::Fixtures::load(fixtures, clock.today())?;
    let publisher_files = library_sim::publishing::ensure_publisher(state_dir)?;
    let publication = library_sim::publishing::publish(
        &catalogue,
        None,
        &publisher_files,
        clock.now().timestamp(),
        72,
        allowlist::Argon2Params::OWASP_MINIMUM,
    )?;
    let running = server::start(settings).await?;
    let addr = running
        .sip2_tls
        .ok_or_else(|| anyhow::anyhow!("no TLS listener"))?;
    println!("Library-system simulator: SIP2 over TLS on {addr}");
    println!(
        "  CA certificate pinned by the client: {}",
        running.ca_cert.display()
    );
    println!("  state: {}\n", state_dir.display());

    let tls = tokio_rustls::TlsConnector::from(library_sim::tls::client_config(&running.ca_cert)?);
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let stream = tls.connect(ServerName::try_from("localhost")?, tcp).await?;
    let (_, conn) = stream.get_ref();
    println!(
        "Self-check unit connected: {:?}, {:?}, server certificate verified against the pinned CA\n",
        conn.protocol_version()
            .map_or("?".into(), |v| format!("{v:?}")),
        conn.negotiated_cipher_suite()
            .map_or("?".into(), |c| format!("{:?}", c.suite())),
    );
    let dialect = Dialect {
        charset: Charset::Utf8,
        ..Dialect::standard()
    };
    let mut c = ScriptClient::new(stream, dialect);
    const INST: &str = "heili";
    const AINO: &str = "24680000000011";

    let r = c
        .call(&request::login(
            "kiosk-lpr-1",
            "kiosk-secret-1",
            Some("LPR"),
        ))
        .await?;
    let Message::LoginResponse(login) = r else {
        anyhow::bail!("unexpected reply {}", r.name())
    };
    line(
        "93 Login as kiosk-lpr-1",
        if login.ok { "accepted" } else { "REFUSED" },
    );

    let r = c.call(&request::sc_status()).await?;
    if let Message::AcsStatus(s) = r {
        line(
            "99 SC Status",
            format!(
                "{} is {}, checkout {}, checkin {}, renewals {}",
                s.library_name.unwrap_or_default(),
                if s.online { "online" } else { "offline" },
                yes(s.checkout_ok),
                yes(s.checkin_ok),
                yes(s.renewal_policy)
            ),
        );
    }

    let mut patron = async |card: &str, pin: &str, what: &str| -> anyhow::Result<()> {
        let r = c.call(&request::patron_status(INST, card, pin)).await?;
        if let Message::PatronStatusResponse(p) = r {
            let denied: Vec<&str> = p.patron_status.set_names().collect();
            line(
                &format!("23 Patron Status card {} {what}", shown(card)),
                format!(
                    "valid card {}, PIN {}{}: \"{}\"",
                    yes(p.valid_patron == Some(true)),
                    if p.valid_patron_password == Some(true) {
                        "correct"
                    } else {
                        "WRONG"
                    },
                    if denied.is_empty() {
                        String::new()
                    } else {
                        format!(", flags: {}", denied.join(", "))
                    },
                    p.screen_messages.join(" ")
                ),
            );
        }
        Ok(())
    };
    patron("24680000000011", "1234", "(Aino, right PIN)").await?;
    patron("24680000000011", "9999", "(Aino, wrong PIN)").await?;
    patron("24680000000037", "1111", "(lending ban)").await?;
    patron("24680000000045", "4321", "(fines over limit)").await?;
    patron("24680000000052", "5555", "(card lost)").await?;

    for (item, what) in [
        ("HE0000001", "Tuntematon sotilas"),
        ("HE0000004", "on hold for another patron"),
        ("HE0000005", "reference copy"),
    ] {
        let r = c
            .call(&Message::Checkout(request::checkout(
                INST,
                AINO,
                Some("1234"),
                item,
            )))
            .await?;
        if let Message::CheckoutResponse(l) = r {
            line(
                &format!("11 Checkout {item} ({what})"),
                if l.ok {
                    format!(
                        "lent \"{}\", due {} ({})",
                        l.title_identifier,
                        day(&l.due_date),
                        l.screen_messages.join(" ")
                    )
                } else {
                    format!("refused: {}", l.screen_messages.join(" "))
                },
            );
        }
    }

    let r = c
        .call(&request::item_information(INST, "HE0000001"))
        .await?;
    if let Message::ItemInformationResponse(i) = r {
        line(
            "17 Item Information HE0000001",
            format!(
                "\"{}\", {}, due {}",
                i.title_identifier,
                i.circulation_status
                    .name()
                    .unwrap_or("other")
                    .to_lowercase()
                    .replace('_', " "),
                day(&i.due_date.unwrap_or_default())
            ),
        );
    }

    let r = c
        .call(&request::renew(INST, AINO, "1234", "HE0000001"))
        .await?;
    if let Message::RenewResponse(l) = r {
        line(
            "29 Renew HE0000001",
            if l.ok {
                format!("renewed, due {}", day(&l.due_date))
            } else {
                format!("refused: {}", l.screen_messages.join(" "))
            },
        );
    }

    for (item, what) in [
        ("HE0000001", "returned where it belongs"),
        ("HE0000003", "Imatra's book, returned here"),
    ] {
        let r = c.call(&request::checkin(INST, "LPR", item)).await?;
        if let Message::CheckinResponse(ci) = r {
            line(
                &format!("09 Checkin {item} ({what})"),
                format!(
                    "{}, sort bin {}{}: \"{}\"",
                    if ci.ok { "checked in" } else { "REFUSED" },
                    ci.sort_bin.unwrap_or_default(),
                    if ci.alert { ", alert" } else { "" },
                    ci.screen_messages.join(" ")
                ),
            );
        }
    }

    let r = c.call(&request::end_session(INST, AINO)).await?;
    if let Message::EndSessionResponse(e) = r {
        line(
            "35 End Patron Session",
            if e.end_session { "ended" } else { "not ended" },
        );
    }
    println!("\nEvery reply above echoed its sequence number and carried a verified checksum.");
    registry_demo(&running, state_dir).await?;
    offline_demo(&running, state_dir, &publisher_files, &publication).await?;
    running.abort();
    // The library's console, which the door and the kiosk report to.
    let console = crate::console::DemoConsole::start(&state_dir.join("console")).await?;
    crate::door::demo(&state_dir.join("door-demo"), fixtures, now, &console).await?;
    crate::kiosk::demo(&state_dir.join("kiosk-demo"), fixtures, now, &console).await?;
    console.show().await?;
    console.console.stop().await;
    Ok(())
}

/// The door's and kiosk's view: the same questions through the `registry` client, once over
/// SIP2/TLS and once over Koha's REST API on HTTPS, each set up by a configuration file as a
/// device is.
async fn registry_demo(running: &server::Running, state_dir: &Path) -> anyhow::Result<()> {
    use registry::{AnyRegistry, PatronLogin, Registry, Verification};
    use std::os::unix::fs::PermissionsExt;
    let (Some(sip), Some(https)) = (running.sip2_tls, running.https) else {
        anyhow::bail!("the simulator has no SIP2/TLS or HTTPS listener");
    };
    let ca = running.ca_cert.display();
    let setups = [
        (
            "SIP2/TLS",
            format!(
                "backend = \"sip2\"\ncredentials = \"door.secret\"\n[registry.sip2]\naddress = \"{sip}\"\nserver_name = \"localhost\"\nca = \"{ca}\"\ninstitution = \"heili\"\nlocation = \"LEMI\"\n[registry.sip2.protocol]\ndialect = \"standard\"\ncharset = \"utf-8\"\n"
            ),
            "login = \"door-lemi\"\npassword = \"door-secret-2\"\n",
        ),
        (
            "Koha REST/HTTPS",
            format!(
                "backend = \"koha-rest\"\ncredentials = \"door.secret\"\n[registry.koha]\nbase_url = \"https://localhost:{}\"\nca = \"{ca}\"\nlibrary_id = \"LEMI\"\nself_service_plugin = true\n",
                https.port()
            ),
            "client_id = \"door-lemi\"\nclient_secret = \"door-secret-2\"\n",
        ),
    ];
    println!(
        "\nThe door at Lemi asks through the registry client (the interface the daemons use),\nonce over SIP2 on TLS {sip}, once over Koha's REST API on HTTPS {https}:"
    );
    let patrons = [
        ("Aino, right PIN", "24680000000011", "1234"),
        ("Aino, wrong PIN", "24680000000011", "9999"),
        ("Kalle, lending ban", "24680000000037", "1111"),
        ("Ville, blocked at Lemi", "24680000000102", "1020"),
        ("Ella, 12, guardian's consent", "24680000000060", "2014"),
    ];
    for (name, config, secret) in setups {
        let dir = state_dir.join(
            name.split('/')
                .next()
                .unwrap_or("device")
                .to_lowercase()
                .replace(' ', "-"),
        );
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("door.secret"), secret)?;
        std::fs::set_permissions(
            dir.join("door.secret"),
            std::fs::Permissions::from_mode(0o600),
        )?;
        std::fs::write(dir.join("registry.toml"), format!("[registry]\n{config}"))?;
        let settings = config::registry::load(&dir.join("registry.toml"))?;
        let r = AnyRegistry::start(&settings)?;
        println!("\n  {name} ({})", dir.join("registry.toml").display());
        for (who, card, pin) in patrons {
            let started = std::time::Instant::now();
            let v = r.verify(&PatronLogin::new(card, pin)).await?;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let outcome = match &v {
                Verification::UnknownCard { .. } => "unknown card".to_owned(),
                Verification::WrongPin { .. } => "wrong PIN: no".to_owned(),
                Verification::Verified(f) => {
                    let blocks: Vec<String> = f
                        .blocks
                        .iter()
                        .map(|b| match &b.branch {
                            Some(br) => format!("{:?} at {br}", b.kind),
                            None => format!("{:?}", b.kind),
                        })
                        .collect();
                    format!(
                        "verified; age {}, {}; entry {}{}",
                        f.age_on(running.clock().today())
                            .map_or("?".into(), |a| a.to_string()),
                        f.category.as_deref().unwrap_or("?"),
                        if f.denies_entry() {
                            "denied"
                        } else {
                            "not blocked"
                        },
                        if blocks.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", blocks.join(", "))
                        }
                    )
                }
            };
            line(
                &format!("{who} {}", shown(card)),
                format!("{outcome}  [{ms:.1} ms]"),
            );
        }
        let aino = PatronLogin::new("24680000000011", "1234");
        let lent = r.checkout(&aino, "HE0000006").await?;
        line(
            "Aino borrows HE0000006",
            match (lent.ok, lent.due) {
                (true, Some(d)) => format!("lent, due {}", d.format("%-d.%-m.%Y")),
                _ => format!("not lent: {}", lent.message.unwrap_or_default()),
            },
        );
        let back = r.checkin("HE0000006").await?;
        let route = match back.route {
            registry::ReturnRoute::Shelf => "to the shelf".to_owned(),
            registry::ReturnRoute::Hold => "to the holds shelf".to_owned(),
            registry::ReturnRoute::Transfer { to } => {
                format!(
                    "to be sent home to {}",
                    to.unwrap_or_else(|| "its branch".into())
                )
            }
            registry::ReturnRoute::Staff => "to the staff".to_owned(),
        };
        line(
            "HE0000006 returned",
            if back.ok { route } else { "refused".into() },
        );
    }
    println!("\nThe same library, the same answers, whichever way a library reaches its system.");
    Ok(())
}

/// The door fetches the signed offline list over HTTPS, the library system goes away, and the
/// door checks cards and PINs against the list: the call it makes when the network is down.
async fn offline_demo(
    running: &server::Running,
    state_dir: &Path,
    files: &library_sim::publishing::PublisherFiles,
    publication: &publisher::Publication,
) -> anyhow::Result<()> {
    use offline::{Fetcher, OfflineList};
    use std::os::unix::fs::PermissionsExt;
    let https = running
        .https
        .ok_or_else(|| anyhow::anyhow!("no HTTPS listener"))?;
    let without: usize = publication.without_verifier.iter().map(|(_, n)| n).sum();
    println!(
        "\nThe publisher signed allow-list version {} ({} patrons with self-service permission, {} bytes;\nno names, no card numbers, no clear PIN: keyed card hashes, {} PINs as the register's own bcrypt\nhashes, {} without one: the register cannot export it); key {}.",
        publication.version,
        publication.entries,
        publication.full.1,
        publication.library_hashes,
        without,
        files.public_key.get(..24).unwrap_or_default()
    );
    let dir = state_dir.join("door-offline");
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(&files.card_key, dir.join("card-key.secret"))?;
    std::fs::set_permissions(
        dir.join("card-key.secret"),
        std::fs::Permissions::from_mode(0o600),
    )?;
    // The door presents its device certificate (from the library's CA): the list is served to
    // enrolled devices only. `identity` is left out for a stranger's client.
    let device_config = |identity: bool| {
        let mut toml = format!(
            "[allowlist]\nurl = \"https://localhost:{}/allowlist/\"\nca = \"{}\"\nstore = \"store\"\ncard_key = \"card-key.secret\"\nscopes = [\"heili\", \"LEMI\"]\nkeys = [\"{}\"]\nwhen_expired = \"deny\"\n",
            https.port(),
            running.ca_cert.display(),
            files.public_key
        );
        if identity {
            toml += &format!(
                "client_cert = \"{}\"\nclient_key = \"{}\"\n",
                running.device_cert.display(),
                running.device_key.display()
            );
        }
        toml
    };
    std::fs::write(dir.join("door.toml"), device_config(true))?;
    let settings = config::allowlist::load(&dir.join("door.toml"))?;
    let list = OfflineList::open(settings)?;
    let fetcher = Fetcher::new(&list)?;
    let now = running.clock().now().timestamp();
    println!(
        "\nThe Lemi door syncs its list over HTTPS with its device certificate ({}):",
        dir.join("door.toml").display()
    );
    line(
        "first sync",
        format!("{:?}", fetcher.sync(&list, now).await?),
    );
    line(
        "second sync (If-None-Match)",
        format!("{:?}", fetcher.sync(&list, now).await?),
    );
    // A client without a device certificate is refused the list.
    let stranger = state_dir.join("stranger");
    std::fs::create_dir_all(&stranger)?;
    std::fs::copy(&files.card_key, stranger.join("card-key.secret"))?;
    std::fs::set_permissions(
        stranger.join("card-key.secret"),
        std::fs::Permissions::from_mode(0o600),
    )?;
    std::fs::write(stranger.join("door.toml"), device_config(false))?;
    let theirs = OfflineList::open(config::allowlist::load(&stranger.join("door.toml"))?)?;
    let refused = match Fetcher::new(&theirs)?.sync(&theirs, now).await {
        Err(offline::SyncError::Status { status: 403, .. }) => "refused (HTTP 403)".to_owned(),
        other => anyhow::bail!(
            "a client without a device certificate was not refused the list: {other:?}"
        ),
    };
    line("a client without a device certificate", refused);
    let erik = ("24680000000029", "2468");
    line(
        "Erik offline, never seen at this door",
        describe(&list.check(
            &redact::CardNumber::new(erik.0),
            &redact::Pin::new(erik.1),
            now,
        )?),
    );
    // The door's verifier: the library system first (SIP2/TLS, as set up above), else the list.
    let registry = registry::AnyRegistry::start(&config::registry::load(
        &state_dir.join("sip2").join("registry.toml"),
    )?)?;
    let verifier = offline::Verifier::new(
        Some(registry),
        Some(list.clone()),
        list.settings().guard,
        Duration::from_secs(2),
    );
    let seen = verifier
        .verify(
            &redact::CardNumber::new(erik.0),
            redact::Pin::new(erik.1),
            running.clock().now(),
        )
        .await;
    verifier.learning_settled().await;
    line(
        "Erik at the door, library system up",
        format!(
            "{} ({:?} source); the door learned his PIN ({} learned verifier on disk)",
            if seen.outcome.is_ok() {
                "verified by the library system"
            } else {
                "refused"
            },
            seen.source,
            list.learned().len()
        ),
    );
    running.stop();
    println!("\nThe library system is now stopped. The door checks against the list alone:");
    let patrons = [
        ("Aino, right PIN", "24680000000011", "1234"),
        ("Aino, wrong PIN", "24680000000011", "9999"),
        ("Erik, right PIN", erik.0, erik.1),
        ("Erik, wrong PIN", erik.0, "2469"),
        ("Kalle, lending ban", "24680000000037", "1111"),
        ("Ville, blocked at Lemi", "24680000000102", "1020"),
        ("Ella, 12, guardian's consent", "24680000000060", "2014"),
        ("a card the library never issued", "11112222333344", "0000"),
    ];
    for (who, card, pin) in patrons {
        let started = std::time::Instant::now();
        let answer = list.check(&redact::CardNumber::new(card), &redact::Pin::new(pin), now)?;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        line(who, format!("{}  ({ms:.0} ms)", describe(&answer)));
    }
    println!("\nThe door's access policy (next) decides from these facts, online or offline.");
    Ok(())
}

/// An offline answer as the demo prints it.
fn describe(answer: &offline::OfflineAnswer) -> String {
    use offline::OfflineAnswer;
    {
        {
            match answer {
                OfflineAnswer::Verified { facts, by, .. } => {
                    let blocks: Vec<String> = facts
                        .blocks
                        .iter()
                        .map(|b| {
                            format!(
                                "{:?}{}",
                                b.scope,
                                b.branch
                                    .as_ref()
                                    .map(|x| format!(" at {x}"))
                                    .unwrap_or_default()
                            )
                        })
                        .collect();
                    format!(
                        "verified by the {}: {}, fines over limit {}, turns 15 {}, consent {}, blocks [{}]",
                        by.name(),
                        facts.category,
                        yes(facts.fines_over_limit),
                        facts.turns_15.map_or("-".into(), |d| d.to_string()),
                        yes(facts.guardian_consent),
                        blocks.join(", ")
                    )
                }
                OfflineAnswer::WrongPin { tries_left } => {
                    format!("wrong PIN ({tries_left} tries left)")
                }
                OfflineAnswer::LockedOut { .. } => "locked out".into(),
                OfflineAnswer::UnknownCard => "unknown card".into(),
                OfflineAnswer::NoVerifier { .. } => {
                    "listed, but no PIN verifier: the register exported none, none learned yet"
                        .into()
                }
            }
        }
    }
}

/// A due date as a Finnish patron reads it.
fn day(sip: &str) -> String {
    SipDate::parse_lenient(sip).map_or_else(
        || sip.to_owned(),
        |d| format!("{}.{}.{}", d.day, d.month, d.year),
    )
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
