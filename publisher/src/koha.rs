//! The Koha connector: the patrons read straight from a Koha database (MariaDB or MySQL), in one
//! read-only transaction, instead of from an export file.
//!
//! A small TOML file names the connection and the library's choices:
//!
//! ```toml
//! library = "HEILI"              # the library (consortium) named in the list's logs
//! fine_limit_cents = 1000        # optional; --fine-limit-cents wins
//!
//! [database]
//! host = "koha-db.example.org"   # or: socket = "/run/mysqld/mysqld.sock"
//! port = 3306                    # default 3306
//! user = "omatoimi_ro"
//! password_file = "/etc/omatoimi/koha-db.password"   # mode 0600, the password on its first line
//! database = "koha_heili"
//! tls_ca = "/etc/omatoimi/koha-db-ca.pem"            # optional: TLS, the server checked against this CA
//!
//! [attributes]
//! self_service = "OMATOIMI"      # extended patron attribute (borrower_attributes.code)
//! self_service_yes = ["1"]       # the values that mean yes (default ["1"])
//! guardian_consent = "HUOLTAJA"  # optional; without it no child has consent
//! guardian_consent_yes = ["1"]
//!
//! [categories]
//! children = ["LAPSI"]           # optional; default: the categories whose category_type is 'C'
//!
//! [restrictions]
//! self_service = ["MANUAL"]      # restriction types that stop self-service; all others stop lending
//! ```
//!
//! The database user needs only `SELECT` on `borrowers`, `categories`, `borrower_debarments`,
//! `accountlines` and `borrower_attributes`:
//! `GRANT SELECT ON koha_heili.borrowers TO 'omatoimi_ro'@'publisher-host';` and so on for each.
//!
//! How Koha's data becomes the list's facts:
//! - `borrowers.cardnumber`: the card (a patron without one is skipped: no card to list);
//! - `borrowers.password`: bcrypt (`$2a$08$…`, as Koha makes it) is carried into the list as it
//!   is; NULL or empty is no PIN; an older scheme (Koha's old unsalted MD5, 22 base64 characters)
//!   is listed without a verifier, named `md5` in the counts;
//! - `categorycode`, `branchcode` (home branch), `dateexpiry` (NULL: Koha's "never expires", so
//!   9999-12-31), `dateofbirth`, `lost` (card lost);
//! - `borrower_debarments`, Koha's restrictions: each one not yet over becomes a block. Koha
//!   counts a restriction as in force while its expiration date is after today
//!   (`Koha::Patron::is_debarred`), so its last day is the day before the expiration; no
//!   expiration is a block without end. The types named in `[restrictions] self_service`
//!   (default `MANUAL`: what staff set by hand, typically for conduct, which is a reason not to
//!   let someone in unstaffed) stop self-service; `OVERDUES`, `SUSPENSION`, `DISCHARGE` and any
//!   other type stop lending only, as they do in Koha, where a restricted patron may still come
//!   to return items; the door's policy decides whether a lending ban also keeps them out;
//! - `borrowers.debarred`, Koha's summary of the restrictions, is used only when a patron has no
//!   restriction rows (older data): in force, it is a lending block until the day before it;
//! - `gonenoaddress`: Koha refuses loans to a patron whose address is in doubt, so a lending block;
//! - `accountlines`: the sum of `amountoutstanding` (credits are negative), in cents, at least 0;
//! - the self-service attribute with a yes value: self-service permission and accepted terms;
//! - the guardian-consent attribute with a yes value: consent for a patron under 15;
//! - a patron in a child category without a birth date cannot be judged by age on the device, so
//!   they are listed only with their guardian's consent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use mysql::prelude::Queryable;
use mysql::{Conn, OptsBuilder, SslOpts, Value};
use redact::CardNumber;
use serde::Deserialize;

use crate::PublishError;
use crate::export::{Export, ExportBlock, ExportHeader, ExportPatron, PinSource, Problem};

/// The connector's TOML file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KohaConfig {
    /// The library (consortium).
    pub library: String,
    /// The fine limit in cents, if the library has one.
    #[serde(default)]
    pub fine_limit_cents: Option<u64>,
    /// The connection.
    pub database: Database,
    /// The extended patron attributes.
    pub attributes: Attributes,
    /// Which categories are children's.
    #[serde(default)]
    pub categories: Categories,
    /// Which restriction types stop self-service.
    #[serde(default)]
    pub restrictions: Restrictions,
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// Host name or address (TCP).
    #[serde(default)]
    pub host: Option<String>,
    /// TCP port.
    #[serde(default = "default_port")]
    pub port: u16,
    /// A Unix socket instead of TCP.
    #[serde(default)]
    pub socket: Option<PathBuf>,
    /// The user (SELECT only).
    pub user: String,
    /// A file (0600) holding the password on its first line.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The database name.
    pub database: String,
    /// A CA certificate (PEM): TLS with the server checked against it.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
}

fn default_port() -> u16 {
    3306
}

/// `[attributes]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attributes {
    /// The attribute code for self-service permission and accepted terms.
    pub self_service: String,
    /// Its values that mean yes.
    #[serde(default = "default_yes")]
    pub self_service_yes: Vec<String>,
    /// The attribute code for a guardian's consent, if the library keeps one.
    #[serde(default)]
    pub guardian_consent: Option<String>,
    /// Its values that mean yes.
    #[serde(default = "default_yes")]
    pub guardian_consent_yes: Vec<String>,
}

fn default_yes() -> Vec<String> {
    vec!["1".into()]
}

/// `[categories]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Categories {
    /// The children's category codes; if absent, those whose `category_type` is `C`.
    #[serde(default)]
    pub children: Option<Vec<String>>,
}

/// `[restrictions]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restrictions {
    /// Restriction types that stop self-service; all others stop lending.
    #[serde(default = "default_self_service_types")]
    pub self_service: Vec<String>,
}

impl Default for Restrictions {
    fn default() -> Self {
        Self {
            self_service: default_self_service_types(),
        }
    }
}

fn default_self_service_types() -> Vec<String> {
    vec!["MANUAL".into()]
}

fn bad(path: &Path, problem: impl Into<String>) -> PublishError {
    PublishError::BadFile {
        path: path.to_owned(),
        problem: problem.into(),
    }
}

/// Koha's codes are at most 10 characters (`varchar(10)`).
fn check_code(path: &Path, key: &str, code: &str) -> Result<(), PublishError> {
    if code.is_empty() || code.len() > 10 || !code.chars().all(|c| c.is_ascii_graphic()) {
        return Err(bad(
            path,
            format!("{key}: {code:?} is not a Koha code (1 to 10 printable ASCII characters)"),
        ));
    }
    Ok(())
}

/// A TOML error named by its key (`database.port: invalid type …`) where the error points into
/// a line `key = value`, else by its line.
fn toml_problem(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_string();
    };
    let before = text.get(..span.start).unwrap_or("");
    let line_no = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text
        .get(line_start..)
        .and_then(|t| t.lines().next())
        .unwrap_or("");
    let table = before
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    match line.split_once('=').map(|(k, _)| k.trim()) {
        Some(key) if !key.is_empty() && !key.starts_with('[') => {
            let key = table.map_or(key.to_string(), |t| format!("{t}.{key}"));
            format!("{key}: {}", e.message())
        }
        _ => format!("line {line_no}: {}", e.message()),
    }
}

impl KohaConfig {
    /// Reads and checks the file; every error names the key.
    pub fn read(path: &Path) -> Result<Self, PublishError> {
        let text = std::fs::read_to_string(path).map_err(crate::io(path))?;
        let c: Self = toml::from_str(&text).map_err(|e| bad(path, toml_problem(&text, &e)))?;
        let d = &c.database;
        match (&d.host, &d.socket) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    path,
                    "database.host and database.socket: give one, not both",
                ));
            }
            (None, None) => {
                return Err(bad(
                    path,
                    "database.host or database.socket is needed: where the Koha database is",
                ));
            }
            (Some(h), None) if h.trim().is_empty() => {
                return Err(bad(path, "database.host is empty"));
            }
            _ => {}
        }
        if d.port == 0 {
            return Err(bad(path, "database.port: 0 is not a port"));
        }
        if d.socket.is_some() && d.tls_ca.is_some() {
            return Err(bad(
                path,
                "database.tls_ca: TLS is for a TCP connection (database.host), not a socket",
            ));
        }
        if d.user.is_empty() {
            return Err(bad(path, "database.user is empty"));
        }
        if d.database.is_empty() {
            return Err(bad(path, "database.database is empty"));
        }
        if c.library.is_empty() {
            return Err(bad(path, "library is empty"));
        }
        check_code(path, "attributes.self_service", &c.attributes.self_service)?;
        if let Some(g) = &c.attributes.guardian_consent {
            check_code(path, "attributes.guardian_consent", g)?;
        }
        for (key, yes) in [
            (
                "attributes.self_service_yes",
                &c.attributes.self_service_yes,
            ),
            (
                "attributes.guardian_consent_yes",
                &c.attributes.guardian_consent_yes,
            ),
        ] {
            if yes.is_empty() || yes.iter().any(|v| v.is_empty() || v.len() > 255) {
                return Err(bad(
                    path,
                    format!("{key}: at least one value, each 1 to 255 bytes"),
                ));
            }
        }
        for code in c.categories.children.iter().flatten() {
            check_code(path, "categories.children", code)?;
        }
        for t in &c.restrictions.self_service {
            if t.is_empty() || t.len() > 50 {
                return Err(bad(
                    path,
                    format!(
                        "restrictions.self_service: {t:?} is not a restriction type (1 to 50 characters)"
                    ),
                ));
            }
        }
        Ok(c)
    }

    fn password(&self, path: &Path) -> Result<Option<String>, PublishError> {
        let Some(file) = &self.database.password_file else {
            return Ok(None);
        };
        let file = if file.is_relative() {
            path.parent().unwrap_or(Path::new(".")).join(file)
        } else {
            file.clone()
        };
        let meta = std::fs::metadata(&file).map_err(crate::io(&file))?;
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(bad(
                    path,
                    format!(
                        "database.password_file: {} is readable by others (mode {:o}); chmod 600 it",
                        file.display(),
                        meta.permissions().mode() & 0o777
                    ),
                ));
            }
        }
        let text = std::fs::read_to_string(&file).map_err(crate::io(&file))?;
        let line = text.lines().next().unwrap_or("").to_string();
        if line.is_empty() {
            return Err(bad(
                path,
                format!(
                    "database.password_file: {} has no password on its first line",
                    file.display()
                ),
            ));
        }
        Ok(Some(line))
    }

    fn connect(&self, path: &Path) -> Result<Conn, PublishError> {
        let d = &self.database;
        let mut opts = OptsBuilder::new()
            .user(Some(d.user.clone()))
            .pass(self.password(path)?)
            .db_name(Some(d.database.clone()))
            .prefer_socket(false)
            .tcp_connect_timeout(Some(std::time::Duration::from_secs(10)))
            .read_timeout(Some(std::time::Duration::from_secs(600)));
        if let Some(h) = &d.host {
            opts = opts.ip_or_hostname(Some(h.clone())).tcp_port(d.port);
        }
        if let Some(s) = &d.socket {
            opts = opts.socket(Some(s.to_string_lossy().into_owned()));
        }
        if let Some(ca) = &d.tls_ca {
            if !ca.exists() {
                return Err(bad(
                    path,
                    format!("database.tls_ca: {} does not exist", ca.display()),
                ));
            }
            opts = opts.ssl_opts(SslOpts::default().with_root_cert_path(Some(ca.clone())));
        }
        let place = match (&d.host, &d.socket) {
            (Some(h), _) => format!("{h}:{}", d.port),
            (None, Some(s)) => s.display().to_string(),
            (None, None) => String::new(),
        };
        Conn::new(opts)
            .map_err(|e| db_error(path, &format!("connecting to {place} as {}", d.user), &e))
    }
}

/// A database error in words that never hold a row's values (the server's messages name tables
/// and columns, not data, for the statements made here).
fn db_error(path: &Path, doing: &str, e: &mysql::Error) -> PublishError {
    PublishError::Export {
        path: path.to_owned(),
        problem: format!("Koha database: {doing}: {e}"),
    }
}

/// Koha's restriction in the export's terms.
fn restriction_block(
    kind: &str,
    expiration: Option<NaiveDate>,
    self_service_types: &[String],
) -> ExportBlock {
    ExportBlock {
        kind: if self_service_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(kind))
        {
            "self_service".into()
        } else {
            "lending".into()
        },
        branch: None,
        until: expiration.and_then(|d| d.pred_opt()),
    }
}

fn date(v: Value) -> Result<Option<NaiveDate>, String> {
    match v {
        Value::NULL => Ok(None),
        // MySQL's zero date ('0000-00-00') in old data: no date.
        Value::Date(0, 0, 0, ..) => Ok(None),
        Value::Date(y, m, d, ..) => {
            NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
                .map(Some)
                .ok_or_else(|| "not a calendar date".into())
        }
        Value::Bytes(b) => {
            let s = String::from_utf8_lossy(&b);
            if s.starts_with("0000-00-00") {
                return Ok(None);
            }
            NaiveDate::parse_from_str(s.get(..10).unwrap_or(&s), "%Y-%m-%d")
                .map(Some)
                .map_err(|_| "not a date".into())
        }
        _ => Err("not a date".into()),
    }
}

fn text(v: Value) -> Result<Option<String>, String> {
    match v {
        Value::NULL => Ok(None),
        Value::Bytes(b) => String::from_utf8(b)
            .map(Some)
            .map_err(|_| "not UTF-8".into()),
        Value::Int(i) => Ok(Some(i.to_string())),
        Value::UInt(i) => Ok(Some(i.to_string())),
        _ => Err("not text".into()),
    }
}

fn int(v: Value) -> Result<i64, String> {
    match v {
        Value::NULL => Ok(0),
        Value::Int(i) => Ok(i),
        Value::UInt(i) => i64::try_from(i).map_err(|_| "out of range".into()),
        Value::Bytes(b) => String::from_utf8_lossy(&b)
            .trim()
            .parse()
            .map_err(|_| "not a number".into()),
        _ => Err("not a number".into()),
    }
}

/// What a `borrowers.password` holds.
fn pin_source(password: Option<String>) -> PinSource {
    match password {
        None => PinSource::Nothing,
        Some(p) if p.is_empty() => PinSource::Nothing,
        // Koha before 3.12 kept an unsalted MD5, base64 without padding: 22 characters.
        Some(p) if p.len() == 22 && !p.starts_with('$') => PinSource::Unsupported("md5".into()),
        // A malformed bcrypt string is not a verifier either; never quote it.
        Some(p) => PinSource::from_hash(&p)
            .unwrap_or_else(|_| PinSource::Unsupported("malformed bcrypt".into())),
    }
}

/// The patrons, read from Koha in one consistent read-only transaction.
///
/// `today` is the day the restrictions are judged at (the list's issue date). Rows that cannot be
/// used are problems numbered by `borrowernumber` (never by card number).
pub fn read(config_path: &Path, today: NaiveDate) -> Result<Export, PublishError> {
    let c = KohaConfig::read(config_path)?;
    let mut conn = c.connect(config_path)?;
    let err = |doing: &str| {
        let doing = doing.to_string();
        move |e: mysql::Error| db_error(config_path, &doing, &e)
    };
    conn.query_drop("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .map_err(err("setting the isolation level"))?;
    conn.query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .map_err(err("starting a read-only transaction"))?;
    let exported_at = chrono::Utc::now().to_rfc3339();

    // Restrictions in force (few rows): by patron.
    let mut restrictions: HashMap<i64, Vec<ExportBlock>> = HashMap::new();
    let mut problems = Vec::new();
    {
        let rows = conn
            .exec_iter(
                "SELECT borrowernumber, type, expiration FROM borrower_debarments \
                 WHERE expiration IS NULL OR expiration > ?",
                (today.format("%Y-%m-%d").to_string(),),
            )
            .map_err(err("reading borrower_debarments"))?;
        for row in rows {
            let row = row.map_err(err("reading borrower_debarments"))?;
            let mut v = row.unwrap();
            let mut take = |i: usize| {
                v.get_mut(i)
                    .map(|x| std::mem::replace(x, Value::NULL))
                    .unwrap_or(Value::NULL)
            };
            let (n, kind, exp) = (take(0), take(1), take(2));
            let n = int(n);
            match (n, text(kind), date(exp)) {
                (Ok(n), Ok(kind), Ok(exp)) => restrictions.entry(n).or_default().push(
                    restriction_block(&kind.unwrap_or_default(), exp, &c.restrictions.self_service),
                ),
                (n, _, _) => problems.push(Problem {
                    line: n.ok().and_then(|n| usize::try_from(n).ok()).unwrap_or(0),
                    problem: "borrower_debarments: a restriction's type or expiration is unreadable; the patron is left out".into(),
                }),
            }
        }
    }
    let unreadable_restrictions: Vec<usize> = problems.iter().map(|p| p.line).collect();

    let placeholders = |n: usize| vec!["?"; n].join(",");
    let a = &c.attributes;
    let consent = match &a.guardian_consent {
        Some(_) => format!(
            "EXISTS (SELECT 1 FROM borrower_attributes g WHERE g.borrowernumber = b.borrowernumber AND g.code = ? AND g.attribute IN ({}))",
            placeholders(a.guardian_consent_yes.len())
        ),
        None => "0".into(),
    };
    let child = match &c.categories.children {
        Some(list) if !list.is_empty() => {
            format!("b.categorycode IN ({})", placeholders(list.len()))
        }
        Some(_) => "0".into(),
        None => "c.category_type = 'C'".into(),
    };
    let sql = format!(
        "SELECT b.borrowernumber, b.cardnumber, b.password, b.categorycode, b.branchcode, \
           b.dateexpiry, b.dateofbirth, b.lost, b.gonenoaddress, b.debarred, \
           EXISTS (SELECT 1 FROM borrower_attributes s WHERE s.borrowernumber = b.borrowernumber \
                   AND s.code = ? AND s.attribute IN ({})) AS self_service, \
           {consent} AS consent, \
           COALESCE({child}, 0) AS child, \
           (SELECT CAST(ROUND(COALESCE(SUM(l.amountoutstanding), 0) * 100) AS SIGNED) \
              FROM accountlines l WHERE l.borrowernumber = b.borrowernumber) AS fines \
         FROM borrowers b LEFT JOIN categories c ON c.categorycode = b.categorycode \
         ORDER BY b.borrowernumber",
        placeholders(a.self_service_yes.len()),
    );
    let mut params: Vec<Value> = vec![a.self_service.clone().into()];
    params.extend(a.self_service_yes.iter().map(|v| Value::from(v.clone())));
    if let Some(g) = &a.guardian_consent {
        params.push(g.clone().into());
        params.extend(
            a.guardian_consent_yes
                .iter()
                .map(|v| Value::from(v.clone())),
        );
    }
    params.extend(
        c.categories
            .children
            .iter()
            .flatten()
            .map(|v| Value::from(v.clone())),
    );

    let mut patrons = Vec::new();
    {
        let rows = conn
            .exec_iter(sql, params)
            .map_err(err("reading borrowers"))?;
        for row in rows {
            let row = row.map_err(err("reading borrowers"))?;
            let mut cols = row.unwrap();
            let mut take = |i: usize| {
                cols.get_mut(i)
                    .map(|x| std::mem::replace(x, Value::NULL))
                    .unwrap_or(Value::NULL)
            };
            let number = int(take(0)).unwrap_or(0);
            let line = usize::try_from(number).unwrap_or(0);
            if unreadable_restrictions.contains(&line) {
                continue;
            }
            match patron(
                [
                    take(1),
                    take(2),
                    take(3),
                    take(4),
                    take(5),
                    take(6),
                    take(7),
                    take(8),
                    take(9),
                    take(10),
                    take(11),
                    take(12),
                    take(13),
                ],
                restrictions.remove(&number),
                today,
            ) {
                Ok(Some(p)) => patrons.push(p),
                Ok(None) => {}
                Err(problem) => problems.push(Problem {
                    line,
                    problem: format!("borrowernumber {number}: {problem}"),
                }),
            }
        }
    }
    conn.query_drop("COMMIT")
        .map_err(err("ending the transaction"))?;
    Ok(Export {
        header: ExportHeader {
            format: "omatoimi-patron-export".into(),
            version: 1,
            library: c.library,
            exported_at,
            fine_limit_cents: c.fine_limit_cents,
        },
        patrons,
        problems,
    })
}

/// One `borrowers` row (with its computed columns) as an export patron; `None` for a patron
/// without a card number (nothing to list).
fn patron(
    cols: [Value; 13],
    restrictions: Option<Vec<ExportBlock>>,
    today: NaiveDate,
) -> Result<Option<ExportPatron>, String> {
    let [
        card,
        password,
        category,
        branch,
        expiry,
        birth,
        lost,
        gna,
        debarred,
        ss,
        consent,
        child,
        fines,
    ] = cols;
    let Some(card) = text(card).map_err(|e| format!("cardnumber: {e}"))? else {
        return Ok(None);
    };
    if allowlist::card::normalise(&card).is_empty() {
        return Ok(None);
    }
    let password = text(password).map_err(|e| format!("password: {e}"))?;
    let category = text(category)
        .map_err(|e| format!("categorycode: {e}"))?
        .unwrap_or_default();
    let home_branch = text(branch)
        .map_err(|e| format!("branchcode: {e}"))?
        .unwrap_or_default();
    if category.len() > 32 || home_branch.len() > 32 {
        return Err("categorycode or branchcode longer than 32 bytes".into());
    }
    let card_expires = date(expiry)
        .map_err(|e| format!("dateexpiry: {e}"))?
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX));
    let birth_date = date(birth).map_err(|e| format!("dateofbirth: {e}"))?;
    let flag = |v: Value, what: &str| int(v).map(|n| n != 0).map_err(|e| format!("{what}: {e}"));
    let card_lost = flag(lost, "lost")?;
    let gone_no_address = flag(gna, "gonenoaddress")?;
    let self_service = flag(ss, "self-service attribute")?;
    let guardian_consent = flag(consent, "guardian-consent attribute")?;
    let child = flag(child, "category")?;
    let fines = int(fines).map_err(|e| format!("accountlines: {e}"))?;
    let mut blocks = match restrictions {
        Some(r) => r,
        None => {
            // Koha's summary without restriction rows (older data): a lending block while in force.
            match date(debarred).map_err(|e| format!("debarred: {e}"))? {
                Some(d) if d > today => vec![ExportBlock {
                    kind: "lending".into(),
                    branch: None,
                    until: if d.year() >= 9999 { None } else { d.pred_opt() },
                }],
                _ => Vec::new(),
            }
        }
    };
    if gone_no_address {
        blocks.push(ExportBlock {
            kind: "lending".into(),
            branch: None,
            until: None,
        });
    }
    Ok(Some(ExportPatron {
        card: CardNumber::new(card),
        pin: pin_source(password),
        category,
        home_branch,
        card_expires,
        self_service: self_service && (!child || birth_date.is_some() || guardian_consent),
        birth_date: birth_date.map(redact::Personal::new),
        guardian_consent,
        card_lost,
        fines_cents: u64::try_from(fines).unwrap_or(0),
        blocks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("koha.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    const GOOD: &str = r#"
library = "HEILI"
[database]
host = "127.0.0.1"
user = "ro"
database = "koha"
[attributes]
self_service = "OMATOIMI"
"#;

    #[test]
    fn a_good_file_reads_with_its_defaults() {
        let d = tempfile::tempdir().unwrap();
        let c = KohaConfig::read(&write(d.path(), GOOD)).unwrap();
        assert_eq!(c.database.port, 3306);
        assert_eq!(c.attributes.self_service_yes, ["1"]);
        assert_eq!(c.restrictions.self_service, ["MANUAL"]);
        assert!(c.categories.children.is_none());
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let d = tempfile::tempdir().unwrap();
        for (text, key) in [
            (
                GOOD.replace("host = \"127.0.0.1\"", ""),
                "database.host or database.socket",
            ),
            (
                GOOD.replace("host = \"127.0.0.1\"", "host = \"h\"\nsocket = \"/s\""),
                "database.host and database.socket",
            ),
            (
                GOOD.replace("OMATOIMI", "MUCH_TOO_LONG_CODE"),
                "attributes.self_service",
            ),
            (
                format!("{GOOD}self_service_yes = []\n"),
                "attributes.self_service_yes",
            ),
            (
                GOOD.replace("user = \"ro\"", "user = \"ro\"\nport = 0"),
                "database.port",
            ),
            (
                GOOD.replace("user = \"ro\"", "user = \"ro\"\nprot = 1"),
                "prot",
            ),
            (
                GOOD.replace("user = \"ro\"", "user = \"ro\"\nport = \"x\""),
                "database.port",
            ),
        ] {
            let e = KohaConfig::read(&write(d.path(), &text))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn a_password_file_readable_by_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let pw = d.path().join("pw");
        std::fs::write(&pw, "sekret\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
        let p = write(
            d.path(),
            &GOOD.replace("user = \"ro\"", "user = \"ro\"\npassword_file = \"pw\""),
        );
        let c = KohaConfig::read(&p).unwrap();
        let e = c.password(&p).unwrap_err().to_string();
        assert!(
            e.contains("database.password_file") && !e.contains("sekret"),
            "{e}"
        );
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(c.password(&p).unwrap().as_deref(), Some("sekret"));
    }

    #[test]
    fn koha_passwords_map_to_pin_sources() {
        assert!(matches!(pin_source(None), PinSource::Nothing));
        assert!(matches!(
            pin_source(Some(String::new())),
            PinSource::Nothing
        ));
        assert!(
            matches!(pin_source(Some("rL0Y20zC+Fzt72VPzMSk2A".into())), PinSource::Unsupported(s) if s == "md5")
        );
        assert!(matches!(
            pin_source(Some(
                "$2a$08$VIQCE.U8iDsD/b5tPvisy.TXlNMiXQILKuCrEGsvLmtrYVv8uiP72".into()
            )),
            PinSource::Bcrypt(_)
        ));
        assert!(
            matches!(pin_source(Some("$2a$08$short".into())), PinSource::Unsupported(s) if s == "malformed bcrypt")
        );
    }

    #[test]
    fn a_restriction_lasts_until_the_day_before_its_expiration() {
        let d = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let b = restriction_block("MANUAL", Some(d), &default_self_service_types());
        assert_eq!(b.kind, "self_service");
        assert_eq!(b.until, NaiveDate::from_ymd_opt(2026, 12, 30));
        let b = restriction_block("OVERDUES", None, &default_self_service_types());
        assert_eq!((b.kind.as_str(), b.until), ("lending", None));
    }
}
