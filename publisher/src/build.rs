//! One publication: the export becomes version N of the list, written with deltas from the
//! versions kept before it, and the head file last, so a device that sees the new head finds
//! every file it names.
//!
//! The output directory, as an HTTPS server serves it:
//! - `head.oal`: the signed header of the newest full list (a few hundred bytes);
//! - `full.oal`: the newest full list;
//! - `delta-from-<N>.oal`: from version N to the newest, for each kept N;
//! - `versions/<N>.oal`: the kept full lists the deltas are made from.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use allowlist::delta::Delta;
use allowlist::entry::Entries;
use allowlist::{
    Argon2Params, BlockScope, CardHash, CardKey, Entry, EntryBlock, Facts, Header, Kind,
    PinVerifier, SignedHeader,
};
use chrono::DateTime;
use sha2::{Digest, Sha256};

use crate::export::{self, ExportPatron, PinSource, Problem};
use crate::secrets::{random, read_card_key, read_signing_key, write_atomic};
use crate::state::{Remembered, State};
use crate::{PublishError, io, journal};

/// What to publish and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the patrons come from.
    pub source: Source,
    /// The publisher's state directory.
    pub state: PathBuf,
    /// The output directory.
    pub out: PathBuf,
    /// Signing key files; every one signs.
    pub keys: Vec<PathBuf>,
    /// The card-key file.
    pub card_key: PathBuf,
    /// Scope names (consortium, branches or devices).
    pub scope: Vec<String>,
    /// How long the list stays valid, in seconds.
    pub valid_for: i64,
    /// Fines at or over this many cents mark a patron; the export header's value if `None`.
    pub fine_limit_cents: Option<u64>,
    /// How many earlier versions to keep deltas from.
    pub keep: usize,
    /// Worker threads for verifiers.
    pub jobs: usize,
    /// argon2id parameters for new verifiers.
    pub argon2: Argon2Params,
    /// The time of publication (Unix seconds).
    pub now: i64,
    /// Print progress to stderr.
    pub progress: bool,
    /// Refuse to publish when more than this share of export lines are unusable (0.0 to 1.0).
    pub max_problem_share: f64,
    /// The highest bcrypt cost carried into the list: each step doubles a door's time per
    /// check, so a patron whose hash costs more is listed without a verifier.
    pub max_bcrypt_cost: u8,
    /// Branch or device names that also get a list of their own, in `out/<name>/`, keyed with
    /// the card key derived for the name: a door holding its branch's key cannot reverse another
    /// branch's card hashes or pseudonyms. Costs one HMAC per patron per list.
    pub branch_lists: Vec<String>,
}

/// Where the patrons come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A patron export file (JSON Lines; see [`export`](mod@crate::export)).
    Export(PathBuf),
    /// A Koha database, named by the connector's TOML file (see [`koha`](mod@crate::koha)).
    Koha(PathBuf),
}

impl Source {
    /// The file named: the export or the connector's TOML.
    pub fn path(&self) -> &Path {
        match self {
            Self::Export(p) | Self::Koha(p) => p,
        }
    }
}

/// The default bcrypt cost ceiling: Koha's 8 and the usual 10 to 12 pass; 12 takes about 0.3 s
/// per check here and an estimated 1.2 s on a Raspberry Pi 4.
pub const MAX_BCRYPT_COST: u8 = 12;

/// A list for one branch or device, keyed with the card key derived for it
/// ([`allowlist::CardKey::for_scope`]), in its own directory under the output.
#[derive(Debug, Clone)]
pub struct BranchList {
    /// The branch or device name: the list's only scope and its directory's name.
    pub name: String,
    /// The id of its card key.
    pub card_key: allowlist::KeyId,
    /// Its full list's path and size.
    pub full: (PathBuf, u64),
    /// How many deltas were written.
    pub deltas: usize,
    /// Keying (one HMAC per patron), encoding, signing and writing it.
    pub time: Duration,
}

/// What a publication did.
#[derive(Debug, Clone)]
pub struct Publication {
    /// The version published.
    pub version: u64,
    /// Entries in the list.
    pub entries: usize,
    /// Patrons left out for lack of self-service permission.
    pub without_permission: usize,
    /// Verifiers kept from earlier runs (the state file or an interrupted run's journal).
    pub reused: usize,
    /// Of those, the ones taken from the journal of an interrupted run.
    pub resumed: usize,
    /// Verifiers made now.
    pub made: usize,
    /// Entries carrying the library system's own hash (bcrypt) as it is.
    pub library_hashes: usize,
    /// Entries without a verifier: no PIN in the export, a scheme no door checks, or a bcrypt
    /// cost over the ceiling; such a patron comes in offline only through a verifier a door
    /// learned online. By reason.
    pub without_verifier: Vec<(String, usize)>,
    /// Unusable export lines.
    pub problems: Vec<Problem>,
    /// The full list's path and size.
    pub full: (PathBuf, u64),
    /// The deltas written: from version, path, size.
    pub deltas: Vec<(u64, PathBuf, u64)>,
    /// The per-branch (or per-device) lists written, each keyed with its own card key.
    pub branch_lists: Vec<BranchList>,
    /// Time spent making verifiers.
    pub verifier_time: Duration,
    /// Time spent encoding, hashing and signing the full list.
    pub sign_time: Duration,
    /// Time spent on deltas.
    pub delta_time: Duration,
    /// The whole run.
    pub total_time: Duration,
}

pub use allowlist::entry::coarse_turns_15;

fn facts(p: &ExportPatron, limit: Option<u64>, issued: chrono::NaiveDate) -> Facts {
    let turns_15 = p
        .birth_date
        .as_ref()
        .and_then(|b| coarse_turns_15(*b.expose()))
        .filter(|d| *d > issued);
    Facts {
        card_expires: p.card_expires,
        turns_15,
        self_service: p.self_service,
        guardian_consent: p.guardian_consent,
        fines_over_limit: limit.is_some_and(|l| p.fines_cents >= l),
        card_lost: p.card_lost,
        category: p.category.clone(),
        home_branch: p.home_branch.clone(),
        blocks: p
            .blocks
            .iter()
            .filter(|b| b.until.is_none_or(|u| u >= issued))
            .map(|b| EntryBlock {
                scope: if b.kind == "lending" {
                    BlockScope::Lending
                } else {
                    BlockScope::SelfService
                },
                branch: b.branch.clone().filter(|x| !x.is_empty()),
                until: b.until,
            })
            .collect(),
    }
}

/// How often the verifiers made are appended to the journal: every this many, or every second.
const JOURNAL_BATCH: usize = 256;

/// How a run is made; tests vary it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Keep verifiers in the journal as they are made.
    pub journal: bool,
    /// Stop after making this many verifiers, as if interrupted (tests only).
    pub stop_after: Option<usize>,
}

impl Run {
    pub(crate) const NORMAL: Self = Self {
        journal: true,
        stop_after: None,
    };
}

/// Makes the verifiers of `todo` across `jobs` threads, reporting progress. Each `todo` item is
/// (index into `skeleton`, PIN, salt); every verifier made is appended to `journal` (with the
/// card, fingerprint and salt of its `skeleton` record) in batches, each synced to disk.
fn make_verifiers(
    todo: &[(usize, &redact::Pin, [u8; 16])],
    params: &Argon2Params,
    jobs: usize,
    progress: bool,
    skeleton: &[Option<Remembered>],
    mut journal: Option<journal::Journal>,
    stop_after: Option<usize>,
) -> Result<Vec<[u8; 32]>, PublishError> {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let limit = stop_after.map_or(todo.len(), |k| k.min(todo.len()));
    let mut out = vec![[0u8; 32]; todo.len()];
    let mut done = 0usize;
    let (tx, rx) = std::sync::mpsc::channel::<(usize, [u8; 32])>();
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                let tx = tx.clone();
                let next = &next;
                s.spawn(move || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= limit {
                            break;
                        }
                        let Some((_, pin, salt)) = todo.get(i) else {
                            break;
                        };
                        let v = params.verifier(pin, salt)?;
                        if tx.send((i, v)).is_err() {
                            break;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        drop(tx);
        let mut pending: Vec<Remembered> = Vec::with_capacity(JOURNAL_BATCH);
        let mut last_flush = Instant::now();
        let mut last = Instant::now();
        loop {
            let got = rx.recv_timeout(Duration::from_millis(50));
            let finished = matches!(got, Err(std::sync::mpsc::RecvTimeoutError::Disconnected));
            if let Ok((i, v)) = got {
                done += 1;
                if let Some(slot) = out.get_mut(i) {
                    *slot = v;
                }
                if journal.is_some()
                    && let Some(Some(r)) = todo.get(i).and_then(|(at, _, _)| skeleton.get(*at))
                {
                    pending.push(Remembered { verifier: v, ..*r });
                }
            }
            let due = pending.len() >= JOURNAL_BATCH
                || (!pending.is_empty() && last_flush.elapsed() >= Duration::from_secs(1));
            if (due || finished)
                && let Some(j) = journal.as_mut()
            {
                if let Err(e) = j.append(&pending) {
                    // Only resuming is lost: the run goes on and writes the state at its end.
                    eprintln!(
                        "{e}; the journal is given up for this run (an interrupted run will make these verifiers again)"
                    );
                    journal = None;
                }
                pending.clear();
                last_flush = Instant::now();
            }
            if progress && last.elapsed() >= Duration::from_secs(1) {
                last = Instant::now();
                report(done, todo.len(), start.elapsed());
            }
            if finished {
                break;
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a verifier thread failed".into()))
            })
            .collect()
    });
    for r in results {
        r.map_err(PublishError::Options)?;
    }
    if limit < todo.len() {
        return Err(PublishError::Options(format!(
            "stopped after {limit} of {} verifiers, as asked",
            todo.len()
        )));
    }
    if progress && !todo.is_empty() {
        report(todo.len(), todo.len(), start.elapsed());
    }
    Ok(out)
}

fn report(done: usize, all: usize, elapsed: Duration) {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-9);
    let eta = if rate > 0.0 {
        (all - done) as f64 / rate
    } else {
        0.0
    };
    eprintln!(
        "  verifiers {done}/{all}  {rate:.0}/s  about {}s left",
        eta.round()
    );
}

/// Reads a full list file's entries as (card, canonical bytes) pairs, for deltas.
fn read_list(path: &Path) -> Result<(Header, Vec<u8>), PublishError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let s = SignedHeader::parse(&bytes).map_err(|e| PublishError::BadFile {
        path: path.to_owned(),
        problem: e.to_string(),
    })?;
    let body = bytes.get(s.body_offset..).unwrap_or_default().to_vec();
    Ok((s.header, body))
}

fn pairs(body: &[u8], count: u64) -> Result<Vec<(CardHash, &[u8])>, String> {
    Entries::new(body, count)
        .map(|e| {
            e.map(|e| (e.entry.card, e.bytes))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Publishes the next version from `o.source`. On error nothing in `o.out` has changed, except
/// perhaps a new file under `versions/` that no head names yet.
///
/// Verifiers are kept in the state directory's journal as they are made (see
/// [`journal`](mod@crate::journal)), so a run that is interrupted is resumed by the next one: it
/// makes only the verifiers the interrupted run had not.
pub fn publish(o: &Options) -> Result<Publication, PublishError> {
    publish_with(o, Run::NORMAL)
}

pub(crate) fn publish_with(o: &Options, run: Run) -> Result<Publication, PublishError> {
    let started = Instant::now();
    o.argon2.check().map_err(PublishError::Options)?;
    if o.scope.is_empty() {
        return Err(PublishError::Options(
            "at least one scope name is needed".into(),
        ));
    }
    if o.keys.is_empty() {
        return Err(PublishError::Options(
            "at least one signing key is needed".into(),
        ));
    }
    let keys = o
        .keys
        .iter()
        .map(|k| read_signing_key(k))
        .collect::<Result<Vec<_>, _>>()?;
    let card_key = read_card_key(&o.card_key)?;
    let mut state = State::open(&o.state)?;
    let issued = DateTime::from_timestamp(o.now, 0)
        .ok_or_else(|| PublishError::Options(format!("{} is not a time", o.now)))?
        .date_naive();
    let export = match &o.source {
        Source::Export(path) => export::read(path)?,
        Source::Koha(path) => crate::koha::read(path, issued)?,
    };
    let lines = export.patrons.len() + export.problems.len();
    if lines > 0 && export.problems.len() as f64 > o.max_problem_share * lines as f64 {
        return Err(PublishError::Export {
            path: o.source.path().to_owned(),
            problem: format!(
                "{} of {lines} lines are unusable (first: line {}: {}); refusing to publish a list missing that many patrons",
                export.problems.len(),
                export.problems.first().map_or(0, |p| p.line),
                export.problems.first().map_or("", |p| p.problem.as_str()),
            ),
        });
    }
    let limit = o.fine_limit_cents.or(export.header.fine_limit_cents);
    let mut problems = export.problems.clone();

    // Patrons with self-service permission, by card hash; a card twice is a problem.
    let mut listed: Vec<(CardHash, &ExportPatron)> = export
        .patrons
        .iter()
        .filter(|p| p.self_service)
        .map(|p| (card_key.hash(&p.card), p))
        .collect();
    let without_permission = export.patrons.len() - listed.len();
    listed.sort_by_key(|a| a.0);
    let before = listed.len();
    listed.dedup_by(|a, b| a.0 == b.0);
    if listed.len() < before {
        problems.push(Problem {
            line: 0,
            problem: format!(
                "{} card numbers appear twice; the first of each was kept",
                before - listed.len()
            ),
        });
    }

    // Reuse what the journal of an interrupted run and the state remember; salt the rest.
    let loaded = if run.journal {
        journal::load(state.dir())?
    } else {
        journal::Loaded::default()
    };
    // One slot per listed patron: a remembered argon2id verifier for a clear PIN, else none.
    let mut remembered: Vec<Option<Remembered>> = Vec::with_capacity(listed.len());
    let mut todo = Vec::new();
    let mut resumed = 0;
    let mut library_hashes = 0;
    let mut without: std::collections::BTreeMap<String, usize> = Default::default();
    for (i, (card, p)) in listed.iter().enumerate() {
        let pin = match &p.pin {
            PinSource::Clear(pin) => pin,
            PinSource::Bcrypt(h) if h.cost() > o.max_bcrypt_cost => {
                *without
                    .entry(format!("bcrypt cost over {}", o.max_bcrypt_cost))
                    .or_default() += 1;
                remembered.push(None);
                continue;
            }
            PinSource::Bcrypt(_) => {
                library_hashes += 1;
                remembered.push(None);
                continue;
            }
            PinSource::Unsupported(scheme) => {
                *without
                    .entry(format!("hash scheme {scheme} not checked by doors"))
                    .or_default() += 1;
                remembered.push(None);
                continue;
            }
            PinSource::Nothing => {
                *without.entry("no PIN in the export".into()).or_default() += 1;
                remembered.push(None);
                continue;
            }
        };
        let fingerprint = state.fingerprint(&o.argon2, card, pin);
        match (loaded.records.get(card), state.find(card)) {
            (Some(r), _) if r.fingerprint == fingerprint => {
                resumed += 1;
                remembered.push(Some(*r));
            }
            (_, Some(r)) if r.fingerprint == fingerprint => remembered.push(Some(*r)),
            _ => {
                let salt = random()?;
                todo.push((i, pin, salt));
                remembered.push(Some(Remembered {
                    card: *card,
                    fingerprint,
                    salt,
                    verifier: [0; 32],
                }));
            }
        }
    }
    let clear = remembered.iter().flatten().count();
    let without_verifier: Vec<(String, usize)> = without.into_iter().collect();
    for (why, n) in &without_verifier {
        eprintln!(
            "{n} patron(s) listed without a PIN verifier ({why}): offline they come in only through a verifier a door learned online"
        );
    }
    if o.progress {
        eprintln!(
            "{} patrons with self-service permission: {library_hashes} with the library system's own hash, {} argon2id verifiers kept ({resumed} from an interrupted run's journal), {} to make on {} threads",
            listed.len(),
            clear - todo.len(),
            todo.len(),
            o.jobs
        );
    }
    let journal = if run.journal && !todo.is_empty() {
        Some(journal::Journal::open(state.dir(), &loaded)?)
    } else {
        None
    };
    drop(loaded);
    let t = Instant::now();
    let made = make_verifiers(
        &todo,
        &o.argon2,
        o.jobs,
        o.progress,
        &remembered,
        journal,
        run.stop_after,
    )?;
    let verifier_time = t.elapsed();
    for ((i, _, _), v) in todo.iter().zip(made) {
        if let Some(Some(r)) = remembered.get_mut(*i) {
            r.verifier = v;
        }
    }

    // The entries once; each list keys them with its own card key.
    let t = Instant::now();
    let unkeyed: Vec<(&ExportPatron, PinVerifier, Facts)> = listed
        .iter()
        .zip(&remembered)
        .map(|((_, p), r)| {
            let pin = match (r, &p.pin) {
                (Some(r), _) => PinVerifier::Argon2id {
                    salt: r.salt,
                    output: r.verifier,
                },
                (None, PinSource::Bcrypt(h)) if h.cost() <= o.max_bcrypt_cost => {
                    PinVerifier::Bcrypt(h.clone())
                }
                (None, _) => PinVerifier::None,
            };
            (*p, pin, facts(p, limit, issued))
        })
        .collect();
    let heads = std::iter::once(o.out.clone())
        .chain(o.branch_lists.iter().map(|b| o.out.join(b)))
        .map(|d| {
            std::fs::read(d.join("head.oal"))
                .ok()
                .and_then(|b| SignedHeader::parse(&b).ok())
                .map_or(0, |s| s.header.version)
        })
        .max()
        .unwrap_or(0);
    // The version only grows, even if the state directory is lost: never below the clock.
    let version = state
        .last_version
        .max(heads)
        .saturating_add(1)
        .max(u64::try_from(o.now).unwrap_or(0));
    let key_refs: Vec<_> = keys.iter().collect();
    let entries_for = |key: &CardKey| -> Vec<Entry> {
        let mut e: Vec<Entry> = unkeyed
            .iter()
            .map(|(p, pin, facts)| Entry {
                card: key.hash(&p.card),
                pin: pin.clone(),
                facts: facts.clone(),
            })
            .collect();
        e.sort_by_key(|e| e.card);
        e
    };
    let main = write_list(
        o,
        &o.out,
        &o.scope,
        &card_key,
        &entries_for(&card_key),
        version,
        &key_refs,
    )?;
    let sign_time = t.elapsed().saturating_sub(main.delta_time);
    let mut branch_lists = Vec::new();
    for name in &o.branch_lists {
        let t = Instant::now();
        let key = card_key.for_scope(name);
        let written = write_list(
            o,
            &o.out.join(name),
            std::slice::from_ref(name),
            &key,
            &entries_for(&key),
            version,
            &key_refs,
        )?;
        branch_lists.push(BranchList {
            name: name.clone(),
            card_key: key.id(),
            full: written.full,
            deltas: written.deltas.len(),
            time: t.elapsed(),
        });
    }
    state.save(remembered.into_iter().flatten().collect(), version)?;
    if run.journal {
        journal::remove(state.dir());
    }
    Ok(Publication {
        version,
        entries: listed.len(),
        without_permission,
        reused: clear - todo.len(),
        resumed,
        made: todo.len(),
        library_hashes,
        without_verifier,
        problems,
        full: main.full,
        deltas: main.deltas,
        branch_lists,
        verifier_time,
        sign_time,
        delta_time: main.delta_time,
        total_time: started.elapsed(),
    })
}

/// One list written: its full file and deltas.
struct Written {
    full: (PathBuf, u64),
    deltas: Vec<(u64, PathBuf, u64)>,
    delta_time: Duration,
}

/// Writes version `version` of the list of `entries` (ascending by card hash, keyed with
/// `card_key`) for `scope` into `out`: the kept full list, deltas from the kept versions, the
/// full list and the head last, and drops what is no longer kept.
fn write_list(
    o: &Options,
    out: &Path,
    scope: &[String],
    card_key: &CardKey,
    entries: &[Entry],
    version: u64,
    key_refs: &[&allowlist::SigningKey],
) -> Result<Written, PublishError> {
    let mut body = Vec::with_capacity(entries.len() * 100);
    for e in entries {
        e.encode(&mut body);
    }
    let list_hash: [u8; 32] = Sha256::digest(&body).into();
    let header = Header {
        kind: Kind::Full,
        version,
        base: None,
        issued_at: o.now,
        expires_at: o.now.saturating_add(o.valid_for),
        scope: scope.to_vec(),
        signers: key_refs.iter().map(|k| k.public().id()).collect(),
        card_key: card_key.id(),
        argon2: o.argon2,
        entry_count: entries.len() as u64,
        list_hash,
        body_len: body.len() as u64,
        body_hash: list_hash,
    };
    let prefix = header.sign(key_refs);

    let versions = out.join("versions");
    std::fs::create_dir_all(&versions).map_err(io(&versions))?;
    let mut file = prefix.clone();
    file.extend_from_slice(&body);
    let this = versions.join(format!("{version}.oal"));
    write_atomic(&this, &file, 0o644)?;

    // Deltas from the kept versions.
    let t = Instant::now();
    let mut kept: Vec<u64> = std::fs::read_dir(&versions)
        .map_err(io(&versions))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".oal")?.parse().ok())
        .filter(|v| *v < version)
        .collect();
    kept.sort_unstable();
    let drop_count = kept.len().saturating_sub(o.keep);
    let (dropped, kept) = kept.split_at(drop_count);
    let new_pairs = pairs(&body, entries.len() as u64).map_err(PublishError::Options)?;
    let mut deltas = Vec::new();
    for old in kept {
        let path = versions.join(format!("{old}.oal"));
        let (oh, obody) = read_list(&path)?;
        if oh.card_key != header.card_key {
            // Made with another card key: no delta can turn it into this one.
            continue;
        }
        let old_pairs = pairs(&obody, oh.entry_count).map_err(|problem| PublishError::BadFile {
            path: path.clone(),
            problem,
        })?;
        let dbody = Delta::between(old_pairs.iter().copied(), new_pairs.iter().copied()).encode();
        let dh = Header {
            kind: Kind::Delta,
            base: Some((oh.version, oh.list_hash)),
            body_len: dbody.len() as u64,
            body_hash: Sha256::digest(&dbody).into(),
            ..header.clone()
        };
        let mut dfile = dh.sign(key_refs);
        dfile.extend_from_slice(&dbody);
        let dpath = out.join(format!("delta-from-{old}.oal"));
        write_atomic(&dpath, &dfile, 0o644)?;
        deltas.push((*old, dpath, dfile.len() as u64));
    }
    let delta_time = t.elapsed();

    let full = out.join("full.oal");
    write_atomic(&full, &file, 0o644)?;
    write_atomic(&out.join("head.oal"), &prefix, 0o644)?;
    for old in dropped {
        let _ = std::fs::remove_file(versions.join(format!("{old}.oal")));
    }
    // Deltas from versions no longer kept (or made with another key) are stale: remove them.
    let made: Vec<u64> = deltas.iter().map(|d| d.0).collect();
    if let Ok(dir) = std::fs::read_dir(out) {
        for e in dir.filter_map(|e| e.ok()) {
            let name = e.file_name();
            let from = name.to_str().and_then(|n| {
                n.strip_prefix("delta-from-")?
                    .strip_suffix(".oal")?
                    .parse::<u64>()
                    .ok()
            });
            if from.is_some_and(|f| !made.contains(&f)) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(Written {
        full: (full, file.len() as u64),
        deltas,
        delta_time,
    })
}

#[cfg(test)]
#[path = "resume_tests.rs"]
mod resume_tests;

#[cfg(test)]
mod coarse_tests {
    #![allow(clippy::unwrap_used)]
    use chrono::NaiveDate;

    use super::coarse_turns_15;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_childs_15th_birthday_becomes_the_first_of_the_next_month() {
        assert_eq!(coarse_turns_15(d(2014, 5, 10)), Some(d(2029, 6, 1)));
        assert_eq!(coarse_turns_15(d(2014, 12, 31)), Some(d(2030, 1, 1)));
        // Already a first: kept.
        assert_eq!(coarse_turns_15(d(2013, 2, 1)), Some(d(2028, 2, 1)));
        // Born on 29 February: 15 years on is 28 February, then 1 March.
        assert_eq!(coarse_turns_15(d(2012, 2, 29)), Some(d(2027, 3, 1)));
    }

    #[test]
    fn every_day_of_a_year_is_rounded_up_by_less_than_a_month_and_loses_the_day() {
        let mut day = d(2012, 1, 1);
        while day < d(2013, 1, 1) {
            let exact = day.checked_add_months(chrono::Months::new(180)).unwrap();
            let coarse = coarse_turns_15(day).unwrap();
            assert!(coarse >= exact, "{day}: never earlier than the birthday");
            assert!(
                (coarse - exact).num_days() <= 30,
                "{day}: at most 30 days later"
            );
            assert_eq!(
                chrono::Datelike::day(&coarse),
                1,
                "{day}: only month and year"
            );
            day = day.succ_opt().unwrap();
        }
    }
}
