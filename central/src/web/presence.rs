//! `/presence`: who entered a branch between two times, for an incident. Admins only (card
//! pseudonyms are theirs to see); a reason is required, and every look-up is audited with it.
//! The form is posted, so neither the reason nor the range lands in a URL or the browser's
//! history. Cards are shown as the keyed pseudonyms the doors report: the console holds no card
//! number and no name. With `[patrons] library_system`, the admin may ask for names as well:
//! the console reads the library system's patrons at that moment, keys each card number with
//! the card keys the branch's doors may hold, and shows the names of those that match; neither
//! numbers nor names are kept, and the audit line says names were shown.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use hyper::StatusCode;
use hyper::body::Incoming;
use sqlx::Row as _;

use super::{Answer, App, Ctx, csrf, csrf_ok, esc, forbidden, form, is_admin, local, page, plain};
use crate::db::DbError;
use crate::staff;
use crate::words::tr;

/// The most entries shown at once.
const MAX_ROWS: i64 = 2000;

/// The longest range asked at once.
const MAX_RANGE_MS: i64 = 7 * 86_400_000;

/// The form, with what was typed kept.
async fn the_form(
    app: &App,
    ctx: &Ctx,
    typed: &HashMap<String, String>,
) -> Result<String, DbError> {
    let lang = ctx.lang;
    let csrf = csrf(ctx);
    let kept = |k: &str| esc(typed.get(k).map(String::as_str).unwrap_or(""));
    let mut options = String::new();
    for b in crate::policy::branches(&app.db).await? {
        let sel = if typed.get("branch") == Some(&b) {
            " selected"
        } else {
            ""
        };
        let _ = write!(options, "<option{sel}>{}</option>", esc(&b));
    }
    let names = if app.patrons.get().is_some_and(|p| p.names.is_some()) {
        format!(
            "<label class=\"check\"><input type=\"checkbox\" name=\"names\" value=\"yes\"{}> {}</label>",
            if typed.get("names").is_some_and(|v| v == "yes") {
                " checked"
            } else {
                ""
            },
            esc(tr(
                lang,
                "Show names (read from the library system now, never kept)"
            ))
        )
    } else {
        String::new()
    };
    Ok(format!(
        "<p>{}</p><form method=\"post\" action=\"/presence\" class=\"grid\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><label>{}<select name=\"branch\">{options}</select></label><label>{}<input type=\"datetime-local\" name=\"from\" value=\"{}\" required></label><label>{}<input type=\"datetime-local\" name=\"to\" value=\"{}\" required></label><label>{}<input type=\"text\" name=\"reason\" maxlength=\"200\" value=\"{}\" required></label>{names}<button>{}</button></form>",
        esc(tr(
            lang,
            "Who entered a branch between two times, for an incident. Give the reason: every look-up is kept in the audit log."
        )),
        esc(&csrf),
        esc(tr(lang, "Branch")),
        esc(tr(lang, "From")),
        kept("from"),
        esc(tr(lang, "To")),
        kept("to"),
        esc(tr(lang, "Reason")),
        kept("reason"),
        esc(tr(lang, "Look up")),
    ))
}

/// `GET /presence`.
pub(super) async fn show(app: &App, ctx: &Ctx) -> Result<Answer, DbError> {
    if !is_admin(ctx) {
        return Ok(forbidden(ctx));
    }
    let body = the_form(app, ctx, &Default::default()).await?;
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(ctx.lang, "Who was in"),
        "presence",
        body,
    ))
}

/// The names of the cards of these pseudonyms, read from the library system now: every patron's
/// card keyed with each key the branch's doors may hold (the library's, the branch's, each
/// door's own); the numbers and names go with the page.
async fn names_of(
    key: &allowlist::CardKey,
    registry: &registry::koha::KohaRegistry,
    branch: &str,
    devices: &BTreeSet<String>,
    wanted: &BTreeSet<String>,
) -> Result<HashMap<String, String>, String> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let mut keys = vec![key.clone(), key.for_scope(branch)];
    keys.extend(devices.iter().map(|d| key.for_scope(d)));
    let found = registry
        .patron_names(|card| {
            keys.iter().find_map(|k| {
                let p = crate::hex(&k.hash(card).0[..16]);
                wanted.contains(&p).then_some(p)
            })
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(found.into_iter().collect())
}

fn instant(app: &App, typed: &str) -> Option<i64> {
    let civil = typed.trim().parse::<jiff::civil::DateTime>().ok()?;
    let zoned = civil.to_zoned_datetime(app.alarms.time_zone.clone()).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

/// `POST /presence`: the look-up.
pub(super) async fn look_up(
    app: &App,
    ctx: &Ctx,
    req: hyper::Request<Incoming>,
) -> Result<Answer, DbError> {
    let Some(f) = form(req).await else {
        return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n"));
    };
    if !csrf_ok(ctx, &f) {
        return Ok(plain(StatusCode::FORBIDDEN, "the form's token is wrong\n"));
    }
    let Some(s) = ctx.session.as_ref().filter(|_| is_admin(ctx)) else {
        return Ok(forbidden(ctx));
    };
    let lang = ctx.lang;
    let branch = f.get("branch").map(|b| b.trim()).unwrap_or("");
    let reason: String = f
        .get("reason")
        .map(|r| r.trim())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    let from = f.get("from").and_then(|t| instant(app, t));
    let to = f.get("to").and_then(|t| instant(app, t));
    let problem = match (from, to) {
        _ if branch.is_empty() => Some(tr(lang, "Choose the branch.")),
        _ if reason.is_empty() => Some(tr(lang, "Say why, for the record.")),
        (None, _) | (_, None) => Some(tr(lang, "Give both times.")),
        (Some(a), Some(b)) if b <= a => Some(tr(lang, "The end is before the start.")),
        (Some(a), Some(b)) if b - a > MAX_RANGE_MS => Some(tr(lang, "At most seven days at once.")),
        _ => None,
    };
    let mut body = the_form(app, ctx, &f).await?;
    let (Some(from), Some(to), None) = (from, to, problem) else {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}</p>",
            esc(problem.unwrap_or(""))
        );
        return Ok(page(
            ctx,
            StatusCode::OK,
            tr(lang, "Who was in"),
            "presence",
            body,
        ));
    };
    let now = (app.clock)();
    let names_from = app
        .patrons
        .get()
        .filter(|_| f.get("names").is_some_and(|v| v == "yes"))
        .and_then(|p| Some((p.key.clone(), p.names.clone()?)));
    // The audit line first: a look-up that cannot be recorded is not shown.
    staff::audit(
        &app.db,
        now,
        &s.account.username,
        "presence-looked-up",
        Some(branch),
        Some(&format!(
            "{} – {}{}: {reason}",
            local(app, from),
            local(app, to),
            if names_from.is_some() {
                " (with names)"
            } else {
                ""
            }
        )),
        Some(&ctx.peer),
    )
    .await?;
    let rows = sqlx::query(
        "SELECT e.at, e.device_id, e.card, e.code FROM events e JOIN devices d ON d.device_id = e.device_id \
         WHERE d.branch = $1 AND e.kind = 'entry' AND e.at >= $2 AND e.at < $3 ORDER BY e.at, e.device_id LIMIT $4",
    )
    .bind(branch)
    .bind(from)
    .bind(to)
    .bind(MAX_ROWS + 1)
    .fetch_all(app.db.pool())
    .await?;
    let cards: BTreeSet<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<Option<String>, _>("card").ok().flatten())
        .collect();
    let mut names: Option<HashMap<String, String>> = None;
    let mut names_failed = None;
    if let Some((key, registry)) = names_from {
        let devices: BTreeSet<String> = rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>("device_id").ok())
            .collect();
        match names_of(&key, &registry, branch, &devices, &cards).await {
            Ok(n) => names = Some(n),
            Err(e) => names_failed = Some(e),
        }
    }
    let _ = write!(
        body,
        "<h2>{} {} – {}</h2><p>{}: <b>{}</b> · {}: <b>{}</b></p>",
        esc(branch),
        esc(&local(app, from)),
        esc(&local(app, to)),
        esc(tr(lang, "Entries")),
        rows.len().min(MAX_ROWS as usize),
        esc(tr(lang, "Different cards")),
        cards.len(),
    );
    if rows.len() as i64 > MAX_ROWS {
        let _ = write!(
            body,
            "<p class=\"error\">{}</p>",
            esc(tr(
                lang,
                "More entries than can be shown: ask a shorter range."
            ))
        );
    }
    if let Some(e) = &names_failed {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\">{}: {}</p>",
            esc(tr(lang, "The library system did not give the names")),
            esc(e)
        );
    }
    if !rows.is_empty() {
        let _ = write!(
            body,
            "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th>{}<th>{}</th></tr></thead><tbody>",
            esc(tr(lang, "Time")),
            esc(tr(lang, "Device")),
            esc(tr(lang, "Card (pseudonym)")),
            if names.is_some() {
                format!("<th>{}</th>", esc(tr(lang, "Name")))
            } else {
                String::new()
            },
            esc(tr(lang, "Checked")),
        );
        for r in rows.iter().take(MAX_ROWS as usize) {
            let at: i64 = r.try_get("at")?;
            let device: String = r.try_get("device_id")?;
            let card: Option<String> = r.try_get("card")?;
            let how: Option<String> = r.try_get("code")?;
            let name = match &names {
                Some(n) => format!(
                    "<td>{}</td>",
                    esc(card
                        .as_ref()
                        .and_then(|c| n.get(c))
                        .map_or(tr(lang, "not found in the library system"), String::as_str))
                ),
                None => String::new(),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td>{name}<td>{}</td></tr>",
                esc(&local(app, at)),
                esc(&device),
                esc(card.as_deref().unwrap_or("–")),
                esc(how.as_deref().unwrap_or("")),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Who was in"),
        "presence",
        body,
    ))
}
