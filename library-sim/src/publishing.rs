//! The simulator as a list publisher: its fixture catalogue as a patron export, signed lists and
//! deltas from it (with the publisher crate, as a real publisher would make them), and those
//! files served over HTTPS at `/allowlist/` with ETags.

use std::io::Write;
use std::path::{Path, PathBuf};

use allowlist::Argon2Params;
use anyhow::Context;
use publisher::{Options, Publication, secrets};
use serde_json::json;

use crate::fixtures::{BlockKind, Fixtures};

/// Fines per card instead of the catalogue's own (tests change them between publications).
pub type Fines<'a> = Option<&'a dyn Fn(&str) -> u64>;

/// The cost of the register's PIN hashes: Koha's (`$2a$08$`, Koha::AuthUtils::hash_password).
pub const REGISTER_BCRYPT_COST: u8 = 8;

/// The register's hash of a PIN, as a library system keeps it: bcrypt at
/// [`REGISTER_BCRYPT_COST`] with a random salt.
pub fn register_hash(pin: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let h = allowlist::BcryptHash::make(&redact::Pin::new(pin), REGISTER_BCRYPT_COST, salt)
        .map_err(|e| anyhow::anyhow!("a fixture PIN cannot be hashed: {e}"))?;
    Ok(h.to_string())
}

/// Writes the catalogue's patrons as an export (see the publisher's `export` module), with the
/// catalogue's fines unless `fines` says otherwise. As a real register would, it carries each
/// PIN as the register's own bcrypt hash (`pin_hash`), never in clear, and none at all for a
/// patron whose PIN the register cannot hand over (`export_pin = false`).
pub fn export(fixtures: &Fixtures, fines: Fines<'_>, path: &Path, now: &str) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    writeln!(
        out,
        "{}",
        json!({"format": "omatoimi-patron-export", "version": 1, "library": fixtures.library.institution_id,
               "exported_at": now, "fine_limit_cents": fixtures.library.fine_limit_cents})
    )?;
    for p in &fixtures.patrons {
        let blocks: Vec<_> = p
            .blocks
            .iter()
            .map(|b| {
                json!({"kind": match b.kind { BlockKind::Lending => "lending", BlockKind::SelfService => "self_service" },
                       "branch": b.branch, "until": b.until})
            })
            .collect();
        writeln!(
            out,
            "{}",
            json!({"card": p.card, "pin_hash": if p.export_pin { Some(register_hash(&p.pin)?) } else { None },
                   "category": p.category, "home_branch": p.home_branch,
                   "card_expires": p.card_expires, "birth_date": p.birth_date, "self_service": p.self_service,
                   "guardian_consent": p.guardian_consent, "card_lost": p.card_lost,
                   "fines_cents": fines.map_or(u64::from(p.fines_cents), |f| f(&p.card)), "blocks": blocks})
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Writes a synthetic export of `n` patrons (for benchmarks): card `9000` + 10 digits, PIN from
/// the card, a mix of categories, branches, ages and blocks. `changed` patrons (spread evenly)
/// get a different PIN and fines, as a day's changes would.
pub fn synthetic_export(
    path: &Path,
    n: u64,
    changed: u64,
    new_pin_share: f64,
) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    writeln!(
        out,
        "{}",
        json!({"format": "omatoimi-patron-export", "version": 1, "library": "HEILI",
               "exported_at": "2026-11-24T18:00:00Z", "fine_limit_cents": 1000})
    )?;
    let branches = [
        "LAPPEENRANTA",
        "LEMI",
        "LUUMAKI",
        "PARIKKALA",
        "RAUTJARVI",
        "RUOKOLAHTI",
        "SAVITAIPALE",
        "TAIPALSAARI",
    ];
    let step = n.checked_div(changed).map_or(u64::MAX, |s| s.max(1));
    let pin_changes = (changed as f64 * new_pin_share).round() as u64;
    for i in 0..n {
        let is_changed = i % step == 0 && i / step < changed;
        let pin_changed = is_changed && i / step < pin_changes;
        let pin = (i * 7919 + u64::from(pin_changed) * 1234) % 10_000;
        let year = 1940 + (i % 80);
        let child = year > 2011;
        let line = json!({
            "card": format!("9000{i:010}"),
            "pin": format!("{pin:04}"),
            "category": if child { "CHILD" } else if i % 50 == 0 { "STAFF" } else { "ADULT" },
            "home_branch": branches[(i % branches.len() as u64) as usize],
            "card_expires": format!("{}-{:02}-28", 2027 + i % 4, 1 + i % 12),
            "birth_date": format!("{year}-{:02}-{:02}", 1 + i % 12, 1 + i % 28),
            "self_service": i % 10 != 9,
            "guardian_consent": child && i % 3 == 0,
            "fines_cents": if is_changed && !pin_changed { 1500 } else { (i % 7) * 100 },
            "blocks": if i % 97 == 0 { json!([{"kind": "self_service", "branch": "LEMI", "until": null}]) } else { json!([]) },
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

/// The publisher's files the simulator keeps in its state directory.
#[derive(Debug, Clone)]
pub struct PublisherFiles {
    /// `allowlist/` in the state directory.
    pub dir: PathBuf,
    /// The signing key.
    pub signing_key: PathBuf,
    /// Its public half's text, for device configs.
    pub public_key: String,
    /// The card key (devices need a copy).
    pub card_key: PathBuf,
    /// The published directory served at `/allowlist/`.
    pub out: PathBuf,
}

/// Makes (once) the publisher's keys in `state_dir/allowlist/`.
pub fn ensure_publisher(state_dir: &Path) -> anyhow::Result<PublisherFiles> {
    let dir = state_dir.join("allowlist");
    std::fs::create_dir_all(&dir)?;
    let keys = dir.join("keys");
    let existing = std::fs::read_dir(&keys).ok().and_then(|d| {
        d.filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "key"))
    });
    let signing_key = match existing {
        Some(k) => k,
        None => secrets::new_signing_key(&keys)?.1,
    };
    let public_key = secrets::read_signing_key(&signing_key)?
        .public()
        .to_string();
    let card_key = dir.join("card-key.secret");
    if !card_key.exists() {
        secrets::new_card_key(&card_key)?;
    }
    Ok(PublisherFiles {
        out: dir.join("published"),
        dir,
        signing_key,
        public_key,
        card_key,
    })
}

/// Publishes the next list from the catalogue at `now` (Unix seconds).
pub fn publish(
    fixtures: &Fixtures,
    fines: Fines<'_>,
    files: &PublisherFiles,
    now: i64,
    valid_hours: i64,
    argon2: Argon2Params,
) -> anyhow::Result<Publication> {
    let export_path = files.dir.join("export.jsonl");
    let stamp =
        chrono::DateTime::from_timestamp(now, 0).map_or_else(String::new, |d| d.to_rfc3339());
    export(fixtures, fines, &export_path, &stamp)?;
    let mut scope = vec![fixtures.library.institution_id.clone()];
    scope.extend(fixtures.branches.iter().map(|b| b.code.clone()));
    let p = publisher::publish(&Options {
        source: publisher::Source::Export(export_path.clone()),
        state: files.dir.join("publisher-state"),
        out: files.out.clone(),
        keys: vec![files.signing_key.clone()],
        card_key: files.card_key.clone(),
        scope,
        valid_for: valid_hours * 3600,
        fine_limit_cents: None,
        keep: 7,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        argon2,
        now,
        progress: false,
        max_problem_share: 0.01,
        max_bcrypt_cost: publisher::build::MAX_BCRYPT_COST,
        branch_lists: vec![],
    })?;
    // The export holds every patron's card number and PIN hash: it lives only as long as the
    // build.
    let _ = std::fs::remove_file(&export_path);
    Ok(p)
}

/// The ETag of a published file: a hash of its bytes.
pub fn etag(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", allowlist::hex(&sha2::Sha256::digest(bytes)[..12]))
}

/// Whether `name` is a file the published directory serves (no paths, no dot files).
pub fn servable(name: &str) -> bool {
    !name.is_empty()
        && name.ends_with(".oal")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        && !name.starts_with('.')
}
