//! The Koha connector against a real MariaDB server (Debian's mariadb-server): the test starts
//! its own server in a temporary directory (its own datadir, socket and free port), creates the
//! Koha tables the connector reads, as kohastructure.sql declares them, fills them with generated
//! patrons, publishes a list from them through a SELECT-only user and checks every entry.
//!
//! Without mariadbd the tests fail, unless OMATOIMI_SKIP_MARIADB=1 says to skip them. The
//! measurement (100,000 patrons) is ignored by default:
//! `cargo test --release -p publisher --test koha_mariadb -- --ignored --nocapture`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use allowlist::entry::Entries;
use allowlist::{Argon2Params, BcryptHash, BlockScope, PinCheck, SignedHeader};
use chrono::{Datelike, NaiveDate};
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder};
use publisher::secrets::{new_card_key, new_signing_key, read_card_key};

const KOHA_TABLES: &str = r#"
CREATE TABLE `branches` (
  `branchcode` varchar(10) NOT NULL DEFAULT '',
  `branchname` longtext NOT NULL,
  PRIMARY KEY (`branchcode`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE `categories` (
  `categorycode` varchar(10) NOT NULL DEFAULT '',
  `description` longtext DEFAULT NULL,
  `enrolmentperiod` smallint(6) DEFAULT NULL,
  `enrolmentperioddate` date DEFAULT NULL,
  `upperagelimit` smallint(6) DEFAULT NULL,
  `dateofbirthrequired` tinyint(1) DEFAULT NULL,
  `category_type` varchar(1) NOT NULL DEFAULT 'A',
  PRIMARY KEY (`categorycode`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE `borrowers` (
  `borrowernumber` int(11) NOT NULL AUTO_INCREMENT,
  `cardnumber` varchar(32) DEFAULT NULL,
  `surname` longtext DEFAULT NULL,
  `firstname` mediumtext DEFAULT NULL,
  `dateofbirth` date DEFAULT NULL,
  `branchcode` varchar(10) NOT NULL DEFAULT '',
  `categorycode` varchar(10) NOT NULL DEFAULT '',
  `dateenrolled` date DEFAULT NULL,
  `dateexpiry` date DEFAULT NULL,
  `gonenoaddress` tinyint(1) DEFAULT NULL,
  `lost` tinyint(1) DEFAULT NULL,
  `debarred` date DEFAULT NULL,
  `debarredcomment` varchar(255) DEFAULT NULL,
  `password` varchar(60) DEFAULT NULL,
  `userid` varchar(75) DEFAULT NULL,
  `login_attempts` int(4) NOT NULL DEFAULT 0,
  PRIMARY KEY (`borrowernumber`),
  UNIQUE KEY `cardnumber` (`cardnumber`),
  KEY `categorycode` (`categorycode`),
  KEY `branchcode` (`branchcode`),
  CONSTRAINT `borrowers_ibfk_1` FOREIGN KEY (`categorycode`) REFERENCES `categories` (`categorycode`),
  CONSTRAINT `borrowers_ibfk_2` FOREIGN KEY (`branchcode`) REFERENCES `branches` (`branchcode`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE `restriction_types` (
  `code` varchar(50) NOT NULL,
  `display_text` text NOT NULL,
  `is_system` tinyint(1) NOT NULL DEFAULT 0,
  `is_default` tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`code`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE `borrower_debarments` (
  `borrower_debarment_id` int(11) NOT NULL AUTO_INCREMENT,
  `borrowernumber` int(11) NOT NULL,
  `expiration` date DEFAULT NULL,
  `type` varchar(50) NOT NULL,
  `comment` mediumtext DEFAULT NULL,
  `manager_id` int(11) DEFAULT NULL,
  `created` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  `updated` timestamp NULL DEFAULT NULL,
  PRIMARY KEY (`borrower_debarment_id`),
  KEY `borrowernumber` (`borrowernumber`),
  KEY `borrower_debarments_ibfk_2` (`type`),
  CONSTRAINT `borrower_debarments_ibfk_1` FOREIGN KEY (`borrowernumber`) REFERENCES `borrowers` (`borrowernumber`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `borrower_debarments_ibfk_2` FOREIGN KEY (`type`) REFERENCES `restriction_types` (`code`) ON DELETE NO ACTION ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE `accountlines` (
  `accountlines_id` int(11) NOT NULL AUTO_INCREMENT,
  `issue_id` int(11) DEFAULT NULL,
  `borrowernumber` int(11) DEFAULT NULL,
  `itemnumber` int(11) DEFAULT NULL,
  `date` timestamp NULL DEFAULT NULL,
  `amount` decimal(28,6) DEFAULT NULL,
  `description` longtext DEFAULT NULL,
  `credit_type_code` varchar(80) DEFAULT NULL,
  `debit_type_code` varchar(80) DEFAULT NULL,
  `amountoutstanding` decimal(28,6) DEFAULT NULL,
  `timestamp` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  `interface` varchar(16) NOT NULL,
  `branchcode` varchar(10) DEFAULT NULL,
  PRIMARY KEY (`accountlines_id`),
  KEY `borrowernumber` (`borrowernumber`),
  CONSTRAINT `accountlines_ibfk_borrowers` FOREIGN KEY (`borrowernumber`) REFERENCES `borrowers` (`borrowernumber`) ON DELETE SET NULL ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE `borrower_attribute_types` (
  `code` varchar(10) NOT NULL,
  `description` varchar(255) NOT NULL,
  `repeatable` tinyint(1) NOT NULL DEFAULT 0,
  `unique_id` tinyint(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (`code`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE TABLE `borrower_attributes` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `borrowernumber` int(11) NOT NULL,
  `code` varchar(10) NOT NULL,
  `attribute` varchar(255) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `borrowernumber` (`borrowernumber`),
  KEY `code_attribute` (`code`,`attribute`(191)),
  CONSTRAINT `borrower_attributes_ibfk_1` FOREIGN KEY (`borrowernumber`) REFERENCES `borrowers` (`borrowernumber`) ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT `borrower_attributes_ibfk_2` FOREIGN KEY (`code`) REFERENCES `borrower_attribute_types` (`code`) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO branches VALUES ('LEMI','Lemi'),('TAIP','Taipalsaari');
INSERT INTO categories (categorycode, description, category_type) VALUES
  ('HENKILO','Adult','A'),('LAPSI','Child','C'),('HENKUNTA','Staff','S');
INSERT INTO restriction_types (code, display_text, is_system, is_default) VALUES
  ('MANUAL','Manual',0,1),('OVERDUES','Overdues',1,0),('SUSPENSION','Suspension',1,0),('DISCHARGE','Discharge',1,0);
INSERT INTO borrower_attribute_types (code, description) VALUES ('OMATOIMI','Self-service'),('HUOLTAJA','Guardian consent');
"#;

/// A MariaDB server of the test's own; stopped when dropped.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Starts a server, or `None` when mariadbd is missing and OMATOIMI_SKIP_MARIADB=1.
fn start() -> Option<Server> {
    start_with(&[])
}

/// Starts a server with more mariadbd arguments.
fn start_with(extra: &[String]) -> Option<Server> {
    let (Some(mariadbd), Some(install)) = (find("mariadbd"), find("mariadb-install-db")) else {
        if std::env::var("OMATOIMI_SKIP_MARIADB").is_ok_and(|v| v == "1") {
            eprintln!("mariadbd not found: skipped (OMATOIMI_SKIP_MARIADB=1)");
            return None;
        }
        panic!(
            "mariadbd or mariadb-install-db not found: install Debian's mariadb-server (scripts/test does), or set OMATOIMI_SKIP_MARIADB=1 to skip these tests"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Its own temporary directory: the bootstrap's temporary tables stay out of the shared /tmp
    // (where one vanished from under a run: "Could not remove temporary table … error: 2").
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = Command::new(install);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db");
    if is_root() {
        cmd.arg("--user=root");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "mariadb-install-db failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(mariadbd);
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.path().join("sock").display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .arg(format!("--pid-file={}", dir.path().join("pid").display()))
        .arg(format!(
            "--log-error={}",
            dir.path().join("err.log").display()
        ))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg("--innodb-buffer-pool-size=256M")
        .arg("--innodb-flush-log-at-trx-commit=2")
        .args(extra);
    if is_root() {
        cmd.arg("--user=root");
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server { child, dir, port };
    let started = Instant::now();
    loop {
        if server.admin_try().is_ok() {
            return Some(server);
        }
        let log = std::fs::read_to_string(server.dir.path().join("err.log")).unwrap_or_default();
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("mariadbd exited ({status}):\n{log}");
        }
        if started.elapsed() > Duration::from_secs(60) {
            panic!("mariadbd did not answer in 60 s:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

impl Server {
    fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn admin_try(&self) -> Result<Conn, mysql::Error> {
        Conn::new(
            OptsBuilder::new()
                .socket(Some(self.socket().to_string_lossy().into_owned()))
                .user(Some("root")),
        )
    }

    fn admin(&self) -> Conn {
        let mut c = self.admin_try().unwrap();
        c.query_drop("CREATE DATABASE IF NOT EXISTS koha").unwrap();
        c.query_drop("USE koha").unwrap();
        c
    }

    /// The Koha tables and a SELECT-only user `omatoimi`.
    fn koha(&self) -> Conn {
        let mut c = self.admin();
        c.query_drop(KOHA_TABLES).unwrap();
        c.query_drop("CREATE USER 'omatoimi'@'127.0.0.1' IDENTIFIED BY 'read-only-pw'")
            .unwrap();
        c.query_drop("CREATE USER 'omatoimi'@'localhost' IDENTIFIED BY 'read-only-pw'")
            .unwrap();
        for t in [
            "borrowers",
            "categories",
            "borrower_debarments",
            "accountlines",
            "borrower_attributes",
        ] {
            for h in ["127.0.0.1", "localhost"] {
                c.query_drop(format!("GRANT SELECT ON koha.{t} TO 'omatoimi'@'{h}'"))
                    .unwrap();
            }
        }
        c
    }

    /// The connector's TOML and its password file (0600) in `dir`.
    fn config(&self, dir: &Path, extra: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let pw = dir.join("koha-db.password");
        std::fs::write(&pw, "read-only-pw\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let p = dir.join("koha.toml");
        std::fs::write(
            &p,
            format!(
                r#"library = "HEILI"
fine_limit_cents = 1000

[database]
host = "127.0.0.1"
port = {}
user = "omatoimi"
password_file = "koha-db.password"
database = "koha"

[attributes]
self_service = "OMATOIMI"
self_service_yes = ["1", "yes"]
guardian_consent = "HUOLTAJA"
{extra}"#,
                self.port
            ),
        )
        .unwrap();
        p
    }
}

const TODAY: (i32, u32, u32) = (2026, 12, 2);

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(TODAY.0, TODAY.1, TODAY.2).unwrap()
}

fn now() -> i64 {
    today().and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp()
}

/// What the generator made for one patron, and what the list should say.
#[derive(Debug, Clone)]
struct Patron {
    card: Option<String>,
    pin: String,
    /// "bcrypt", "null", "md5"
    password: &'static str,
    category: &'static str,
    child: bool,
    branch: &'static str,
    expiry: Option<NaiveDate>,
    birth: Option<NaiveDate>,
    lost: bool,
    gna: bool,
    /// (type, expiration)
    restrictions: Vec<(&'static str, Option<NaiveDate>)>,
    /// In cents: each line's amountoutstanding.
    lines: Vec<i64>,
    self_service: Option<&'static str>,
    consent: bool,
}

fn card_of(i: usize) -> String {
    format!("2468{:08}", 100_000 + i)
}

fn generate(i: usize) -> Patron {
    let t = today();
    let child = i % 13 == 5 || i % 13 == 6;
    Patron {
        card: (i % 97 != 50).then(|| card_of(i)),
        pin: format!("{:04}", (i * 7919 + 1234) % 10_000),
        password: match i % 10 {
            3 => "null",
            7 if i % 20 == 7 => "md5",
            _ => "bcrypt",
        },
        category: if child {
            "LAPSI"
        } else if i % 41 == 8 {
            "HENKUNTA"
        } else {
            "HENKILO"
        },
        child,
        branch: if i % 2 == 0 { "LEMI" } else { "TAIP" },
        expiry: match i % 17 {
            2 => Some(t - chrono::Days::new(10)),
            9 if i % 34 == 9 => None,
            _ => Some(t + chrono::Days::new(300 + i as u64)),
        },
        birth: if child {
            (i % 26 != 5).then(|| NaiveDate::from_ymd_opt(2016, 1 + (i % 12) as u32, 10).unwrap())
        } else {
            (i % 3 != 0).then(|| NaiveDate::from_ymd_opt(1960 + (i % 40) as i32, 3, 14).unwrap())
        },
        lost: i % 19 == 4,
        gna: i % 23 == 6,
        restrictions: match i % 11 {
            1 => vec![("MANUAL", None)],
            2 => vec![("OVERDUES", Some(t + chrono::Days::new(5)))],
            3 => vec![("SUSPENSION", Some(t - chrono::Days::new(1)))],
            4 => vec![("MANUAL", Some(t))],
            5 => vec![
                ("DISCHARGE", None),
                ("MANUAL", Some(t + chrono::Days::new(30))),
            ],
            _ => vec![],
        },
        lines: match i % 9 {
            0 => vec![1250, -200],
            1 => vec![320],
            2 => vec![1000, 0],
            _ => vec![],
        },
        self_service: match i % 8 {
            7 => None,
            6 if i % 16 == 6 => Some("yes"),
            5 if i % 24 == 5 => Some("0"),
            _ => Some("1"),
        },
        consent: child && i % 4 == 1,
    }
}

/// Koha's hash: `$2a$`, as Crypt::Eksblowfish makes it (`$2b$` from BcryptHash::make, same bytes
/// for these PINs).
fn koha_hash(pin: &str, cost: u8, i: usize) -> String {
    let mut salt = [0u8; 16];
    salt[..8].copy_from_slice(&(i as u64).to_le_bytes());
    salt[8] = cost;
    let h = BcryptHash::make(&redact::Pin::new(pin), cost, salt).unwrap();
    h.to_string().replacen("$2b$", "$2a$", 1)
}

fn sql_date(d: Option<NaiveDate>) -> String {
    d.map_or("NULL".into(), |d| format!("'{d}'"))
}

fn insert(
    c: &mut Conn,
    patrons: &[Patron],
    cost: impl Fn(usize) -> u8,
    hashes: &dyn Fn(usize, &Patron) -> String,
) {
    let mut b = Vec::new();
    let mut d = Vec::new();
    let mut a = Vec::new();
    let mut l = Vec::new();
    let flush = |c: &mut Conn, table: &str, cols: &str, rows: &mut Vec<String>| {
        if !rows.is_empty() {
            c.query_drop(format!(
                "INSERT INTO {table} ({cols}) VALUES {}",
                rows.join(",")
            ))
            .unwrap();
            rows.clear();
        }
    };
    let _ = &cost;
    for (i, p) in patrons.iter().enumerate() {
        let n = i + 1;
        let password = match p.password {
            "null" => "NULL".to_string(),
            "md5" => "'rL0Y20zC+Fzt72VPzMSk2A'".into(),
            _ => format!("'{}'", hashes(i, p)),
        };
        b.push(format!(
            "({n},{},'Sukunimi','Etu',{},'{}','{}','2020-01-01',{},{},{},{},{},{})",
            p.card.as_ref().map_or("NULL".into(), |c| format!("'{c}'")),
            sql_date(p.birth),
            p.branch,
            p.category,
            sql_date(p.expiry),
            u8::from(p.gna),
            u8::from(p.lost),
            // Koha's summary: the latest expiration, 9999-12-31 for one without end.
            if p.restrictions.is_empty() {
                "NULL".into()
            } else if p.restrictions.iter().any(|r| r.1.is_none()) {
                "'9999-12-31'".into()
            } else {
                sql_date(p.restrictions.iter().filter_map(|r| r.1).max())
            },
            if p.restrictions.is_empty() {
                "NULL"
            } else {
                "'restricted'"
            },
            password,
        ));
        for (t, e) in &p.restrictions {
            d.push(format!("({n},{},'{t}','a comment')", sql_date(*e)));
        }
        if let Some(v) = p.self_service {
            a.push(format!("({n},'OMATOIMI','{v}')"));
        }
        if p.consent {
            a.push(format!("({n},'HUOLTAJA','1')"));
        }
        for cents in &p.lines {
            l.push(format!(
                "({n},{}.{:02},{}.{:02},'intranet')",
                cents / 100,
                (cents % 100).abs(),
                cents / 100,
                (cents % 100).abs()
            ));
        }
        if b.len() >= 1000 {
            flush(
                c,
                "borrowers",
                "borrowernumber,cardnumber,surname,firstname,dateofbirth,branchcode,categorycode,dateenrolled,dateexpiry,gonenoaddress,lost,debarred,debarredcomment,password",
                &mut b,
            );
            flush(
                c,
                "borrower_debarments",
                "borrowernumber,expiration,type,comment",
                &mut d,
            );
            flush(
                c,
                "borrower_attributes",
                "borrowernumber,code,attribute",
                &mut a,
            );
            flush(
                c,
                "accountlines",
                "borrowernumber,amount,amountoutstanding,interface",
                &mut l,
            );
        }
    }
    flush(
        c,
        "borrowers",
        "borrowernumber,cardnumber,surname,firstname,dateofbirth,branchcode,categorycode,dateenrolled,dateexpiry,gonenoaddress,lost,debarred,debarredcomment,password",
        &mut b,
    );
    flush(
        c,
        "borrower_debarments",
        "borrowernumber,expiration,type,comment",
        &mut d,
    );
    flush(
        c,
        "borrower_attributes",
        "borrowernumber,code,attribute",
        &mut a,
    );
    flush(
        c,
        "accountlines",
        "borrowernumber,amount,amountoutstanding,interface",
        &mut l,
    );
}

const CHEAP: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    lanes: 1,
};

fn options(dir: &Path, koha: PathBuf) -> publisher::Options {
    let keys = dir.join("keys");
    let (_, key, _) = new_signing_key(&keys).unwrap();
    new_card_key(&keys.join("card.key")).unwrap();
    publisher::Options {
        source: publisher::Source::Koha(koha),
        state: dir.join("state"),
        out: dir.join("out"),
        keys: vec![key],
        card_key: keys.join("card.key"),
        scope: vec!["heili".into()],
        valid_for: 72 * 3600,
        fine_limit_cents: None,
        keep: 2,
        jobs: 2,
        argon2: CHEAP,
        now: now(),
        progress: false,
        max_problem_share: 0.0,
        max_bcrypt_cost: 12,
        branch_lists: vec![],
    }
}

#[test]
fn a_list_is_published_from_a_koha_database() {
    let Some(server) = start() else { return };
    let mut admin = server.koha();
    let patrons: Vec<Patron> = (0..300).map(generate).collect();
    // Koha's own cost (8) for some, cost 4 for the rest to keep the test quick.
    let hash = |i: usize, p: &Patron| koha_hash(&p.pin, if i % 25 == 0 { 8 } else { 4 }, i);
    insert(&mut admin, &patrons, |_| 4, &hash);

    let work = tempfile::tempdir().unwrap();
    let toml = server.config(work.path(), "");
    let o = options(work.path(), toml);
    let p = publisher::publish(&o).unwrap();
    assert!(p.problems.is_empty(), "{:?}", p.problems);

    // Who should be listed: a card, the attribute with a yes value, and a child without a birth
    // date only with consent.
    let listed: Vec<(usize, &Patron)> = patrons
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            p.card.is_some()
                && matches!(p.self_service, Some("1" | "yes"))
                && (!p.child || p.birth.is_some() || p.consent)
        })
        .collect();
    assert_eq!(p.entries, listed.len());
    let with_card = patrons.iter().filter(|p| p.card.is_some()).count();
    assert_eq!(p.without_permission, with_card - listed.len());
    // Every sort of patron the brief names is there.
    assert!(listed.iter().any(|(_, p)| p.password == "null"));
    assert!(listed.iter().any(|(_, p)| p.password == "md5"));
    assert!(listed.iter().any(|(_, p)| p.child && p.consent));
    assert!(
        listed
            .iter()
            .any(|(_, p)| p.child && !p.consent && p.birth.is_some())
    );
    assert!(
        patrons
            .iter()
            .any(|p| p.child && p.birth.is_none() && !p.consent && p.self_service == Some("1"))
    );
    assert!(
        listed
            .iter()
            .any(|(_, p)| p.expiry.is_some_and(|e| e < today()))
    );
    assert!(listed.iter().any(|(_, p)| p.lost));
    assert!(listed.iter().any(|(_, p)| p.self_service == Some("yes")));
    assert_eq!(
        p.library_hashes,
        listed
            .iter()
            .filter(|(_, p)| p.password == "bcrypt")
            .count()
    );

    let bytes = std::fs::read(o.out.join("full.oal")).unwrap();
    let s = SignedHeader::parse(&bytes).unwrap();
    let entries: HashMap<_, _> = Entries::new(&bytes[s.body_offset..], s.header.entry_count)
        .map(|e| {
            let e = e.unwrap().entry;
            (e.card, e)
        })
        .collect();
    let card_key = read_card_key(&o.card_key).unwrap();
    for (i, p) in &listed {
        let e = entries
            .get(&card_key.hash(&redact::CardNumber::new(p.card.clone().unwrap())))
            .unwrap_or_else(|| panic!("patron {i} is listed"));
        let f = &e.facts;
        assert_eq!(
            f.card_expires,
            p.expiry
                .unwrap_or(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap()),
            "patron {i}"
        );
        assert_eq!(f.category, p.category, "patron {i}");
        assert_eq!(f.home_branch, p.branch, "patron {i}");
        assert!(f.self_service, "patron {i}");
        assert_eq!(f.guardian_consent, p.consent, "patron {i}");
        assert_eq!(f.card_lost, p.lost, "patron {i}");
        let fines: i64 = p.lines.iter().sum();
        assert_eq!(f.fines_over_limit, fines >= 1000, "patron {i}");
        let young = p.birth.is_some_and(|b| {
            NaiveDate::from_ymd_opt(b.year() + 15, b.month(), b.day()).unwrap() > today()
        });
        assert_eq!(f.turns_15.is_some(), young, "patron {i}");
        // Blocks: restrictions in force (expiration after today), last day the day before.
        let mut want: Vec<(BlockScope, Option<NaiveDate>)> = p
            .restrictions
            .iter()
            .filter(|(_, e)| e.is_none_or(|e| e > today()))
            .map(|(t, e)| {
                (
                    if *t == "MANUAL" {
                        BlockScope::SelfService
                    } else {
                        BlockScope::Lending
                    },
                    e.and_then(|e| e.pred_opt()),
                )
            })
            .collect();
        if p.gna {
            want.push((BlockScope::Lending, None));
        }
        let mut got: Vec<(BlockScope, Option<NaiveDate>)> =
            f.blocks.iter().map(|b| (b.scope, b.until)).collect();
        assert!(f.blocks.iter().all(|b| b.branch.is_none()));
        let key = |x: &(BlockScope, Option<NaiveDate>)| (x.0 == BlockScope::Lending, x.1);
        want.sort_by_key(key);
        got.sort_by_key(key);
        assert_eq!(got, want, "patron {i}");
        // The PIN: Koha's bcrypt hash verifies the real PIN, not a wrong one.
        let check = |pin: &str| e.pin.check(&redact::Pin::new(pin), &o.argon2, 12);
        if p.password == "bcrypt" {
            assert_eq!(check(&p.pin), PinCheck::Match, "patron {i}");
            let wrong = format!("{:04}", (p.pin.parse::<u32>().unwrap() + 1) % 10_000);
            assert_eq!(check(&wrong), PinCheck::Mismatch, "patron {i}");
        } else {
            assert!(matches!(e.pin, allowlist::PinVerifier::None), "patron {i}");
        }
    }
    let md5 = listed.iter().filter(|(_, p)| p.password == "md5").count();
    let null = listed.iter().filter(|(_, p)| p.password == "null").count();
    assert_eq!(
        p.without_verifier,
        vec![
            ("hash scheme md5 not checked by doors".to_string(), md5),
            ("no PIN in the export".to_string(), null),
        ]
    );
}

#[test]
fn the_connectors_user_can_read_but_not_write() {
    let Some(server) = start() else { return };
    let mut admin = server.koha();
    insert(&mut admin, &[generate(0)], |_| 4, &|i, p| {
        koha_hash(&p.pin, 4, i)
    });
    let mut ro = Conn::new(
        OptsBuilder::new()
            .ip_or_hostname(Some("127.0.0.1"))
            .tcp_port(server.port)
            .user(Some("omatoimi"))
            .pass(Some("read-only-pw"))
            .db_name(Some("koha")),
    )
    .unwrap();
    let n: Option<u64> = ro.query_first("SELECT COUNT(*) FROM borrowers").unwrap();
    assert_eq!(n, Some(1));
    let e = ro
        .query_drop("UPDATE borrowers SET lost = 1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("denied"), "{e}");
    assert!(ro.query_drop("DELETE FROM accountlines").is_err());
    assert!(ro.query_drop("SELECT * FROM restriction_types").is_err());

    // A wrong password, a missing attribute table grant: clear errors, no secrets.
    let work = tempfile::tempdir().unwrap();
    let toml = server.config(work.path(), "");
    std::fs::write(work.path().join("koha-db.password"), "wrong\n").unwrap();
    let e = publisher::koha::read(&toml, today())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("connecting to 127.0.0.1") && e.contains("omatoimi"),
        "{e}"
    );
    assert!(!e.contains("wrong") || e.contains("Access denied"), "{e}");
    std::fs::write(work.path().join("koha-db.password"), "read-only-pw\n").unwrap();
    for h in ["127.0.0.1", "localhost"] {
        admin
            .query_drop(format!(
                "REVOKE SELECT ON koha.accountlines FROM 'omatoimi'@'{h}'"
            ))
            .unwrap();
    }
    let e = publisher::koha::read(&toml, today())
        .unwrap_err()
        .to_string();
    assert!(e.contains("accountlines"), "{e}");
    assert!(!e.contains(&card_of(0)), "{e}");
}

#[test]
fn the_library_chooses_its_children_and_restriction_types() {
    let Some(server) = start() else { return };
    let mut admin = server.koha();
    let patrons: Vec<Patron> = (0..60).map(generate).collect();
    insert(&mut admin, &patrons, |_| 4, &|i, p| koha_hash(&p.pin, 4, i));
    let work = tempfile::tempdir().unwrap();
    let toml = server.config(
        work.path(),
        "\n[categories]\nchildren = [\"HENKUNTA\"]\n\n[restrictions]\nself_service = [\"OVERDUES\"]\n",
    );
    let e = publisher::koha::read(&toml, today()).unwrap();
    for (i, p) in patrons.iter().enumerate() {
        let Some(card) = &p.card else { continue };
        let got = e
            .patrons
            .iter()
            .find(|x| x.card.expose() == card.as_str())
            .unwrap();
        for b in &got.blocks {
            let from_overdues = p.restrictions.iter().any(|r| r.0 == "OVERDUES");
            if b.kind == "self_service" {
                assert!(from_overdues, "patron {i}");
            }
        }
        // LAPSI without a birth date is no child now: listed without consent.
        if p.child && p.birth.is_none() {
            assert_eq!(got.self_service, p.self_service == Some("1"), "patron {i}");
        }
    }
}

/// How long reading N patrons takes. Run with
/// `cargo test --release -p publisher --test koha_mariadb -- --ignored --nocapture read_time`.
#[test]
#[ignore = "a measurement: 100,000 patrons"]
fn read_time() {
    let n: usize = std::env::var("KOHA_PATRONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let Some(server) = start() else { return };
    let mut admin = server.koha();
    let patrons: Vec<Patron> = (0..n).map(generate).collect();
    // 1,000 distinct cost-4 hashes, reused: the read does not care whose hash it is.
    let hashes: Vec<String> = (0..1000)
        .map(|i| koha_hash(&format!("{:04}", i), 4, i))
        .collect();
    let t = Instant::now();
    insert(&mut admin, &patrons, |_| 4, &|i, _| {
        hashes[i % 1000].clone()
    });
    eprintln!("inserted {n} patrons in {:.1} s", t.elapsed().as_secs_f64());
    let work = tempfile::tempdir().unwrap();
    let toml = server.config(work.path(), "");
    for round in 0..3 {
        let t = Instant::now();
        let e = publisher::koha::read(&toml, today()).unwrap();
        eprintln!(
            "round {round}: read {} patrons ({} problems) in {:.2} s",
            e.patrons.len(),
            e.problems.len(),
            t.elapsed().as_secs_f64()
        );
    }
    let o = options(work.path(), toml);
    let t = Instant::now();
    let p = publisher::publish(&o).unwrap();
    eprintln!(
        "publish from Koha: {} entries ({} with Koha's bcrypt) in {:.2} s",
        p.entries,
        p.library_hashes,
        t.elapsed().as_secs_f64()
    );
}

/// A CA and a server certificate for 127.0.0.1 in `dir`: (ca.pem, server.pem, server-key.pem).
fn tls_files(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "koha test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut server = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    server
        .distinguished_name
        .push(rcgen::DnType::CommonName, "koha-db");
    let cert = server.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let files = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server-key.pem"),
    );
    std::fs::write(&files.0, ca_cert.pem()).unwrap();
    std::fs::write(&files.1, cert.pem()).unwrap();
    std::fs::write(&files.2, key.serialize_pem()).unwrap();
    (files.0, files.1, files.2)
}

#[test]
fn the_connection_can_be_tls_checked_against_the_librarys_ca() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = tls_files(certs.path());
    let Some(server) = start_with(&[
        format!("--ssl-ca={}", ca.display()),
        format!("--ssl-cert={}", cert.display()),
        format!("--ssl-key={}", key.display()),
        "--require-secure-transport=ON".into(),
    ]) else {
        return;
    };
    let mut admin = server.koha();
    let patrons: Vec<Patron> = (0..20).map(generate).collect();
    insert(&mut admin, &patrons, |_| 4, &|i, p| koha_hash(&p.pin, 4, i));
    let work = tempfile::tempdir().unwrap();
    // Without TLS the server refuses.
    let toml = server.config(work.path(), "");
    let e = publisher::koha::read(&toml, today())
        .unwrap_err()
        .to_string();
    assert!(e.contains("connecting to 127.0.0.1"), "{e}");
    // With the CA: read.
    let text = std::fs::read_to_string(&toml).unwrap().replace(
        "database = \"koha\"",
        &format!("database = \"koha\"\ntls_ca = \"{}\"", ca.display()),
    );
    std::fs::write(&toml, text).unwrap();
    let got = publisher::koha::read(&toml, today()).unwrap();
    assert_eq!(
        got.patrons.len(),
        patrons.iter().filter(|p| p.card.is_some()).count()
    );
    // Another CA: refused.
    let other = tempfile::tempdir().unwrap();
    let (other_ca, _, _) = tls_files(other.path());
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace(&ca.display().to_string(), &other_ca.display().to_string());
    std::fs::write(&toml, text).unwrap();
    let e = publisher::koha::read(&toml, today())
        .unwrap_err()
        .to_string();
    assert!(e.contains("connecting to 127.0.0.1"), "{e}");
    eprintln!("another CA: {e}");
}
