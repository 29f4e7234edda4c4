//! The branches' calendars: `/calendars` (every branch, the bundle published and which devices
//! run it) and `/calendars/BRANCH` (the week, the holidays with this and next year's dates, the
//! branch's own closed days and special hours). Admins and staff may change them; every change
//! is signed at once into a new policy bundle and audited.

use std::collections::HashMap;
use std::fmt::Write as _;

use access::holidays::{Holiday, in_year};
use chrono::Datelike;
use hyper::StatusCode;
use hyper::body::Incoming;
use report::policy::{DatedHours, DaySpans, EntryRules};

use super::{Answer, App, Ctx, csrf_ok, esc, form, page, plain, redirect, seg};
use crate::db::DbError;
use crate::policy::{self, BranchCalendar, HolidayChoice};
use crate::staff::{self, Role};
use crate::words::{Lang, tr};

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn may_change(ctx: &Ctx) -> bool {
    ctx.session
        .as_ref()
        .is_some_and(|s| matches!(s.account.role, Role::Admin | Role::Staff))
}

fn spans_text(l: &[String]) -> String {
    l.join(", ")
}

/// `/calendars`.
pub(super) async fn list(app: &App, ctx: &Ctx) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let branches = policy::branches(&app.db).await?;
    let devices = app.db.devices().await?;
    let mut body = String::new();
    if app.policy.get().is_none() {
        let _ = write!(
            body,
            "<p class=\"problem warn\">{}</p>",
            esc(tr(
                lang,
                "This console has no policy key: calendars are kept but not sent to devices."
            ))
        );
    }
    body.push_str("<div class=\"cards\">");
    for b in &branches {
        let newest = policy::latest(&app.db, b).await?;
        let here: Vec<_> = devices.iter().filter(|d| &d.branch == b).collect();
        let running = |v: u64| {
            here.iter()
                .filter(|d| {
                    d.gauge_map()
                        .get("omatoimi_policy_version")
                        .is_some_and(|g| *g as u64 == v)
                })
                .count()
        };
        let _ = write!(
            body,
            "<a class=\"card\" href=\"/calendars/{}\"><span class=\"name\">{}</span><br><span class=\"meta\">",
            seg(b),
            esc(b)
        );
        match newest {
            Some(n) => {
                let _ = write!(
                    body,
                    "{} {} · {} {}/{}",
                    esc(tr(lang, "Published version")),
                    n.version,
                    esc(tr(lang, "devices running it")),
                    running(n.version),
                    here.len()
                );
            }
            None => body.push_str(&esc(tr(
                lang,
                "No calendar yet: the devices' own hours apply.",
            ))),
        }
        body.push_str("</span></a>");
    }
    body.push_str("</div>");
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Calendars"),
        "calendars",
        body,
    ))
}

/// `/calendars/BRANCH`.
pub(super) async fn show(
    app: &App,
    ctx: &Ctx,
    branch: &str,
    error: Option<String>,
) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let cal = stored_or_new(app, branch).await?;
    let csrf = ctx
        .session
        .as_ref()
        .map(|s| s.csrf.clone())
        .unwrap_or_default();
    let edit = may_change(ctx);
    let dis = if edit { "" } else { " disabled" };
    let mut body = String::new();
    if let Some(e) = error {
        let _ = write!(body, "<p class=\"problem\" role=\"alert\">{}</p>", esc(&e));
    }
    match policy::latest(&app.db, branch).await? {
        Some(n) => {
            let _ = write!(
                body,
                "<p class=\"meta\">{} <b>{}</b>, {} {}.</p>",
                esc(tr(lang, "Published version")),
                n.version,
                esc(tr(lang, "valid until")),
                esc(&super::local(app, n.expires_at))
            );
        }
        None => {
            let why = if app.policy.get().is_none() {
                tr(
                    lang,
                    "This console has no policy key: calendars are kept but not sent to devices.",
                )
            } else {
                tr(lang, "No calendar yet: the devices' own hours apply.")
            };
            let _ = write!(body, "<p class=\"meta\">{}</p>", esc(why));
        }
    }
    if let Some((at, by)) = &cal.updated {
        let _ = write!(
            body,
            "<p class=\"meta\">{} {} ({})</p>",
            esc(tr(lang, "Last changed")),
            esc(&super::local(app, *at)),
            esc(by)
        );
    }
    // The branch's own closed days and special hours.
    let _ = write!(
        body,
        "<h2>{}</h2>",
        esc(tr(lang, "Closed days and special hours"))
    );
    if cal.exceptions.is_empty() {
        let _ = write!(body, "<p class=\"muted\">{}</p>", esc(tr(lang, "None.")));
    } else {
        let _ = write!(
            body,
            "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
            esc(tr(lang, "Days")),
            esc(tr(lang, "Name")),
            esc(tr(lang, "Hours")),
        );
        for (i, e) in cal.exceptions.iter().enumerate() {
            let days = if e.first == e.last {
                e.first.clone()
            } else {
                format!("{} – {}", e.first, e.last)
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><form method=\"post\" action=\"/calendars/{}/exceptions/{i}/delete\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"first\" value=\"{}\"><input type=\"hidden\" name=\"name\" value=\"{}\"><button{dis}>{}</button></form></td></tr>",
                esc(&days),
                esc(&e.name),
                esc(&hours_words(lang, &e.hours)),
                seg(branch),
                esc(&csrf),
                esc(&e.first),
                esc(&e.name),
                esc(tr(lang, "Remove")),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/calendars/{}/exceptions\" class=\"grid\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>{}<input type=\"date\" name=\"first\" required{dis}></label>\
         <label>{}<input type=\"date\" name=\"last\"{dis}></label>\
         <label>{}<input name=\"name\" required maxlength=\"80\"{dis}></label>\
         <label>{}<input name=\"self_service\" placeholder=\"{}\"{dis}></label>\
         <label>{}<input name=\"staffed\"{dis}></label>\
         <button{dis}>{}</button></form>",
        seg(branch),
        esc(&csrf),
        esc(tr(lang, "First day")),
        esc(tr(lang, "Last day (if more than one)")),
        esc(tr(lang, "Name")),
        esc(tr(lang, "Self-service hours (empty: closed)")),
        esc(tr(lang, "closed")),
        esc(tr(lang, "Staffed hours")),
        esc(tr(lang, "Add")),
    );
    // The week and the holidays, one form.
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/calendars/{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><h2>{}</h2>\
         <p class=\"muted\">{}</p><div class=\"scroll\"><table><thead><tr><th></th><th>{}</th><th>{}</th></tr></thead><tbody>",
        seg(branch),
        esc(&csrf),
        esc(tr(lang, "Week")),
        esc(tr(
            lang,
            "Hours as 07:00-22:00; several separated by commas; empty: none."
        )),
        esc(tr(lang, "Self-service")),
        esc(tr(lang, "Staffed")),
    );
    for (i, d) in cal.week.iter().enumerate() {
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td><input name=\"ss{i}\" value=\"{}\" aria-label=\"{} {}\"{dis}></td><td><input name=\"st{i}\" value=\"{}\" aria-label=\"{} {}\"{dis}></td></tr>",
            esc(tr(lang, DAYS[i])),
            esc(&spans_text(&d.self_service)),
            esc(tr(lang, DAYS[i])),
            esc(tr(lang, "Self-service")),
            esc(&spans_text(&d.staffed)),
            esc(tr(lang, DAYS[i])),
            esc(tr(lang, "Staffed")),
        );
    }
    body.push_str("</tbody></table></div>");
    let _ = write!(
        body,
        "<label>{} <input type=\"number\" name=\"last_entry\" min=\"0\" max=\"120\" value=\"{}\"{dis}></label>\
         <label>{} <input name=\"time_zone\" value=\"{}\"{dis}></label>",
        esc(tr(lang, "Last entry, minutes before closing")),
        cal.last_entry_minutes,
        esc(tr(lang, "Time zone")),
        esc(&cal.time_zone),
    );
    let now = chrono::DateTime::from_timestamp_millis((app.clock)()).unwrap_or_default();
    let year = now.year();
    let _ = write!(
        body,
        "<h2>{}</h2><div class=\"scroll\"><table><thead><tr><th>{}</th><th>{year}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(tr(lang, "Public holidays")),
        esc(tr(lang, "Holiday")),
        year + 1,
        esc(tr(lang, "The branch is")),
        esc(tr(lang, "Hours if short")),
    );
    let dates = |y: i32| -> HashMap<Holiday, String> {
        in_year(y)
            .into_iter()
            .map(|(d, h)| (h, d.format("%d.%m.").to_string()))
            .collect()
    };
    let (this, next) = (dates(year), dates(year + 1));
    for h in Holiday::ALL {
        let choice = cal.choice(h);
        let sel = |c: &str| {
            let on = matches!(
                (&choice, c),
                (HolidayChoice::Closed, "closed")
                    | (HolidayChoice::AsUsual, "usual")
                    | (HolidayChoice::Hours(_), "short")
            );
            if on { " selected" } else { "" }
        };
        let short = match &choice {
            HolidayChoice::Hours(d) => spans_text(&d.self_service),
            _ => String::new(),
        };
        let _ = write!(
            body,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td><select name=\"h-{}\" aria-label=\"{}\"{dis}><option value=\"closed\"{}>{}</option><option value=\"short\"{}>{}</option><option value=\"usual\"{}>{}</option></select></td><td><input name=\"hh-{}\" value=\"{}\" aria-label=\"{} {}\"{dis}></td></tr>",
            esc(h.name(lang.code())),
            this.get(&h).map(String::as_str).unwrap_or(""),
            next.get(&h).map(String::as_str).unwrap_or(""),
            h.code(),
            esc(h.name(lang.code())),
            sel("closed"),
            esc(tr(lang, "closed")),
            sel("short"),
            esc(tr(lang, "open short hours")),
            sel("usual"),
            esc(tr(lang, "open as usual")),
            h.code(),
            esc(&short),
            esc(h.name(lang.code())),
            esc(tr(lang, "Hours if short")),
        );
    }
    let _ = write!(
        body,
        "</tbody></table></div><p><button{dis}>{}</button></p></form>",
        esc(tr(lang, "Save and send to the devices"))
    );
    entry_form(&mut body, lang, &cal, &csrf, dis);
    let title = format!("{} {branch}", tr(lang, "Calendar:"));
    Ok(page(ctx, StatusCode::OK, &title, "calendars", body))
}

fn hours_words(lang: Lang, h: &DaySpans) -> String {
    if h.self_service.is_empty() && h.staffed.is_empty() {
        return tr(lang, "closed").to_owned();
    }
    let mut out = spans_text(&h.self_service);
    if !h.staffed.is_empty() {
        let _ = write!(out, " ({} {})", tr(lang, "staffed"), spans_text(&h.staffed));
    }
    out
}

/// A branch's calendar as stored, or a new one's defaults.
/// One switch of the library's entry rules: its form name, its words, and where it is kept.
type Switch = (&'static str, &'static str, fn(&mut EntryRules) -> &mut bool);

/// The switches of the library's entry rules.
fn switches() -> [Switch; 10] {
    [
        (
            "consent_admits_minors",
            "A guardian's consent lets a younger patron in",
            |r| &mut r.consent_admits_minors,
        ),
        (
            "admit_unknown_age",
            "A patron whose age the library system does not give is let in",
            |r| &mut r.admit_unknown_age,
        ),
        (
            "require_valid_card",
            "The card must be valid and not expired",
            |r| &mut r.require_valid_card,
        ),
        ("refuse_lost_card", "A card reported lost is refused", |r| {
            &mut r.refuse_lost_card
        }),
        (
            "refuse_lending_ban",
            "A lending ban keeps the patron out",
            |r| &mut r.refuse_lending_ban,
        ),
        (
            "refuse_fines",
            "Fines over the limit keep the patron out",
            |r| &mut r.refuse_fines,
        ),
        (
            "honour_blocks",
            "A block at this branch keeps the patron out",
            |r| &mut r.honour_blocks,
        ),
        (
            "require_terms",
            "The self-service terms must be accepted",
            |r| &mut r.require_terms,
        ),
        (
            "require_permission",
            "A revoked self-service permission keeps the patron out",
            |r| &mut r.require_permission,
        ),
        (
            "permission_must_be_stated",
            "A permission the library system does not state counts as missing",
            |r| &mut r.permission_must_be_stated,
        ),
    ]
}

/// Who may let themselves in: the library's rules for the branch, or each door's own file.
fn entry_form(body: &mut String, lang: Lang, cal: &BranchCalendar, csrf: &str, dis: &str) {
    let mut shown = cal
        .entry
        .clone()
        .unwrap_or_else(|| EntryRules::of(&access::policy::Rules::default()));
    let _ = write!(
        body,
        "<h2 id=\"rules\">{}</h2><form method=\"post\" action=\"/calendars/{}/rules\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <p><label><input type=\"checkbox\" name=\"library\" value=\"yes\"{}{dis}> {}</label></p>\
         <p><label>{} <input type=\"number\" name=\"min_age\" min=\"0\" max=\"99\" value=\"{}\"{dis}></label></p>\
         <p><label>{} <input name=\"categories\" value=\"{}\"{dis}></label></p>",
        esc(tr(lang, "Who may let themselves in")),
        seg(&cal.branch),
        esc(csrf),
        if cal.entry.is_some() { " checked" } else { "" },
        esc(tr(
            lang,
            "The library decides here for every door of the branch (otherwise each door's own file)"
        )),
        esc(tr(lang, "Youngest age let in alone (0: no age rule)")),
        shown.min_age,
        esc(tr(
            lang,
            "Only these patron categories (comma-separated; empty: all)"
        )),
        esc(&shown.categories.join(", ")),
    );
    for (name, words, field) in switches() {
        let on = *field(&mut shown);
        let _ = write!(
            body,
            "<p><label><input type=\"checkbox\" name=\"{name}\" value=\"yes\"{}{dis}> {}</label></p>",
            if on { " checked" } else { "" },
            esc(tr(lang, words)),
        );
    }
    let _ = write!(
        body,
        "<p><button{dis}>{}</button></p></form>",
        esc(tr(lang, "Save and send to the devices"))
    );
}

/// `POST /calendars/BRANCH/rules`: who may let themselves in.
pub(super) async fn save_rules(
    app: &App,
    ctx: &Ctx,
    req: hyper::Request<Incoming>,
    branch: &str,
) -> Result<Answer, DbError> {
    let f = match checked_form(ctx, req).await {
        Ok(f) => f,
        Err(a) => return Ok(a),
    };
    let lang = ctx.lang;
    let mut cal = stored_or_new(app, branch).await?;
    let on = |k: &str| f.get(k).is_some_and(|v| v == "yes");
    if !on("library") {
        cal.entry = None;
        return commit(
            app,
            ctx,
            &cal,
            "calendar-rules-saved",
            "who may come in: each door's own file",
        )
        .await;
    }
    let Ok(min_age) = f
        .get("min_age")
        .map(|v| v.trim())
        .unwrap_or("0")
        .parse::<u8>()
    else {
        return show(
            app,
            ctx,
            branch,
            Some(format!(
                "{}: 0-99",
                tr(lang, "Youngest age let in alone (0: no age rule)")
            )),
        )
        .await;
    };
    let categories: Vec<String> = f
        .get("categories")
        .map(String::as_str)
        .unwrap_or("")
        .split([',', ' '])
        .map(|c| c.trim().to_uppercase())
        .filter(|c| !c.is_empty())
        .collect();
    let mut rules = EntryRules {
        min_age: min_age.min(99),
        categories,
        ..EntryRules::of(&access::policy::Rules::default())
    };
    for (name, _, field) in switches() {
        *field(&mut rules) = on(name);
    }
    let note = format!(
        "who may come in: {}, {}",
        if rules.min_age > 0 {
            format!("age {}+", rules.min_age)
        } else {
            "any age".to_owned()
        },
        if rules.categories.is_empty() {
            "every category".to_owned()
        } else {
            rules.categories.join(", ")
        }
    );
    cal.entry = Some(rules);
    commit(app, ctx, &cal, "calendar-rules-saved", &note).await
}

async fn stored_or_new(app: &App, branch: &str) -> Result<BranchCalendar, DbError> {
    Ok(policy::calendar(&app.db, branch)
        .await?
        .unwrap_or_else(|| BranchCalendar::new(branch)))
}

/// Saves, signs a new bundle when the console has a key, audits, and answers: back to the
/// branch's page, or the page again with what is wrong.
async fn commit(
    app: &App,
    ctx: &Ctx,
    cal: &BranchCalendar,
    action: &str,
    note: &str,
) -> Result<Answer, DbError> {
    match save_and_sign(app, ctx, cal, action, note).await? {
        Some(e) => show(app, ctx, &cal.branch, Some(e)).await,
        None => Ok(redirect(&format!("/calendars/{}", seg(&cal.branch)))),
    }
}

async fn save_and_sign(
    app: &App,
    ctx: &Ctx,
    cal: &BranchCalendar,
    action: &str,
    note: &str,
) -> Result<Option<String>, DbError> {
    if let Err(e) = cal.check() {
        return Ok(Some(e));
    }
    let Some(s) = &ctx.session else {
        return Ok(None);
    };
    let now = (app.clock)();
    policy::save(&app.db, cal, &s.account.username, now).await?;
    let version = match app.policy.get() {
        Some(p) => match p.publish(&app.db, cal, now).await {
            Ok(v) => Some(v),
            Err(DbError::Invalid(e)) => return Ok(Some(e)),
            Err(e) => return Err(e),
        },
        None => None,
    };
    let note = match version {
        Some(v) => format!("{note} (bundle {v})"),
        None => note.to_owned(),
    };
    staff::audit(
        &app.db,
        now,
        &s.account.username,
        action,
        Some(&cal.branch),
        Some(&note),
        Some(&ctx.peer),
    )
    .await?;
    Ok(None)
}

async fn checked_form(
    ctx: &Ctx,
    req: hyper::Request<Incoming>,
) -> Result<HashMap<String, String>, Answer> {
    let Some(f) = form(req).await else {
        return Err(plain(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n"));
    };
    if !csrf_ok(ctx, &f) {
        return Err(plain(StatusCode::FORBIDDEN, "the form's token is wrong\n"));
    }
    if !may_change(ctx) {
        return Err(plain(StatusCode::FORBIDDEN, "not allowed for your role\n"));
    }
    Ok(f)
}

/// `POST /calendars/BRANCH`: the week, the settings and the holidays.
pub(super) async fn save(
    app: &App,
    ctx: &Ctx,
    req: hyper::Request<Incoming>,
    branch: &str,
) -> Result<Answer, DbError> {
    let f = match checked_form(ctx, req).await {
        Ok(f) => f,
        Err(a) => return Ok(a),
    };
    let lang = ctx.lang;
    let mut cal = stored_or_new(app, branch).await?;
    let field = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    let mut problems = vec![];
    let mut spans = |k: &str, what: String| match policy::parse_spans(field(k)) {
        Ok(l) => l,
        Err(e) => {
            problems.push(format!("{what}: {e}"));
            vec![]
        }
    };
    let mut week = vec![];
    for (i, day) in DAYS.iter().enumerate() {
        week.push(DaySpans {
            self_service: spans(
                &format!("ss{i}"),
                format!("{} {}", tr(lang, day), tr(lang, "Self-service")),
            ),
            staffed: spans(
                &format!("st{i}"),
                format!("{} {}", tr(lang, day), tr(lang, "Staffed")),
            ),
        });
    }
    let mut holidays = std::collections::BTreeMap::new();
    for h in Holiday::ALL {
        let choice = match field(&format!("h-{}", h.code())) {
            "usual" => HolidayChoice::AsUsual,
            "short" => HolidayChoice::Hours(DaySpans {
                self_service: spans(&format!("hh-{}", h.code()), h.name(lang.code()).to_owned()),
                staffed: vec![],
            }),
            _ => HolidayChoice::Closed,
        };
        if choice != HolidayChoice::Closed {
            holidays.insert(h.code().to_owned(), choice);
        }
    }
    match field("last_entry").trim().parse::<u16>() {
        Ok(m) if m <= 120 => cal.last_entry_minutes = m,
        _ => problems.push(tr(lang, "Last entry, minutes before closing").to_owned() + ": 0-120"),
    }
    let tz = field("time_zone").trim();
    if !tz.is_empty() {
        cal.time_zone = tz.to_owned();
    }
    if !problems.is_empty() {
        return show(app, ctx, branch, Some(problems.join("; "))).await;
    }
    cal.week = week;
    cal.holidays = holidays;
    commit(app, ctx, &cal, "calendar-saved", "week and holidays").await
}

/// `POST /calendars/BRANCH/exceptions`: a closed day or special hours added.
pub(super) async fn add_exception(
    app: &App,
    ctx: &Ctx,
    req: hyper::Request<Incoming>,
    branch: &str,
) -> Result<Answer, DbError> {
    let f = match checked_form(ctx, req).await {
        Ok(f) => f,
        Err(a) => return Ok(a),
    };
    let lang = ctx.lang;
    let field = |k: &str| f.get(k).map(|s| s.trim()).unwrap_or("");
    let first = field("first").to_owned();
    let last = match field("last") {
        "" => first.clone(),
        l => l.to_owned(),
    };
    let name: String = field("name").chars().take(80).collect();
    if name.is_empty() {
        return show(
            app,
            ctx,
            branch,
            Some(tr(lang, "Give the day a name.").to_owned()),
        )
        .await;
    }
    let (ss, st) = match (
        policy::parse_spans(field("self_service")),
        policy::parse_spans(field("staffed")),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return show(app, ctx, branch, Some(e)).await,
    };
    let mut cal = stored_or_new(app, branch).await?;
    let note = format!("{first}..{last} {name}");
    cal.exceptions.push(DatedHours {
        first,
        last,
        name,
        hours: DaySpans {
            self_service: ss,
            staffed: st,
        },
    });
    commit(app, ctx, &cal, "calendar-day-added", &note).await
}

/// `POST /calendars/BRANCH/exceptions/I/delete`.
pub(super) async fn remove_exception(
    app: &App,
    ctx: &Ctx,
    req: hyper::Request<Incoming>,
    branch: &str,
    index: usize,
) -> Result<Answer, DbError> {
    let f = match checked_form(ctx, req).await {
        Ok(f) => f,
        Err(a) => return Ok(a),
    };
    let Some(mut cal) = policy::calendar(&app.db, branch).await? else {
        return Ok(redirect(&format!("/calendars/{}", seg(branch))));
    };
    // The day the person saw: another person may have changed the list since the page was
    // loaded, and the index alone would then remove another day.
    let seen = |e: &DatedHours| f.get("first") == Some(&e.first) && f.get("name") == Some(&e.name);
    if !cal.exceptions.get(index).is_some_and(seen) {
        let why = tr(
            ctx.lang,
            "The calendar was changed meanwhile; nothing was removed. Look at it again.",
        );
        return show(app, ctx, branch, Some(why.to_owned())).await;
    }
    let e = cal.exceptions.remove(index);
    let note = format!("{}..{} {}", e.first, e.last, e.name);
    commit(app, ctx, &cal, "calendar-day-removed", &note).await
}
