//! `/security`: the branches' security incidents with the GDPR's 72-hour clock from each one's
//! first sign (see [`crate::incidents`]), the time left or overdue, and the library's decision
//! (not a personal-data breach, or reported to the supervisory authority) with who made it and
//! why. Every role reads it; admins decide, and each decision is audited.

use std::fmt::Write as _;

use hyper::StatusCode;
use hyper::body::Incoming;

use super::{Answer, App, Ctx, csrf_ok, esc, form, local, page, plain, redirect};
use crate::db::DbError;
use crate::incidents::{self, Decision, Incident, Standing};
use crate::staff::{self, Role};
use crate::words::{Lang, tr};

/// How far back the page looks.
const DAYS: i64 = 30;

fn may_decide(ctx: &Ctx) -> bool {
    ctx.session
        .as_ref()
        .is_some_and(|s| s.account.role == Role::Admin)
}

fn hours(ms: i64) -> i64 {
    ms.max(0) / 3_600_000
}

fn decision_words(lang: Lang, d: Decision) -> &'static str {
    match d {
        Decision::NoBreach => tr(lang, "not a personal-data breach"),
        Decision::Reported => tr(lang, "reported to the supervisory authority"),
    }
}

fn incident_row(app: &App, ctx: &Ctx, i: &Incident, now: i64) -> String {
    let lang = ctx.lang;
    let clock = match i.standing(now) {
        Standing::Assessed(_) => {
            format!("<span class=\"fine\">{}</span>", esc(tr(lang, "decided")))
        }
        Standing::Open { left_ms } => format!(
            "<span class=\"problem warn\">{} {} h</span><br>{} {}",
            esc(tr(lang, "left:")),
            hours(left_ms),
            esc(tr(lang, "deadline")),
            esc(&local(app, i.deadline())),
        ),
        Standing::Overdue { past_ms } => format!(
            "<span class=\"problem\">{} {} h</span><br>{} {}",
            esc(tr(lang, "overdue by")),
            hours(past_ms),
            esc(tr(lang, "deadline")),
            esc(&local(app, i.deadline())),
        ),
    };
    let what: Vec<String> = i
        .counts
        .iter()
        .map(|(k, n)| format!("{} × {n}", esc(k)))
        .collect();
    let mut decision = match &i.assessment {
        Some(a) => format!(
            "<b>{}</b><br>{}<br><span class=\"muted\">{} · {}</span>",
            esc(decision_words(lang, a.decision)),
            esc(&a.note),
            esc(&a.by),
            esc(&local(app, a.at)),
        ),
        None => String::new(),
    };
    if may_decide(ctx) {
        let csrf = ctx
            .session
            .as_ref()
            .map(|s| s.csrf.clone())
            .unwrap_or_default();
        let _ = write!(
            decision,
            "<form method=\"post\" action=\"/security/assess\" class=\"grid\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"key\" value=\"{}\"><label>{}<select name=\"decision\"><option value=\"no-breach\">{}</option><option value=\"reported\">{}</option></select></label><label>{}<input type=\"text\" name=\"note\" maxlength=\"500\" required></label><button>{}</button></form>",
            esc(&csrf),
            esc(&i.key),
            esc(tr(lang, "Decision")),
            esc(decision_words(lang, Decision::NoBreach)),
            esc(decision_words(lang, Decision::Reported)),
            esc(tr(lang, "Why")),
            esc(tr(lang, "Save")),
        );
    }
    format!(
        "<tr><td>{}</td><td>{}<br><span class=\"muted\">{} {}</span></td><td>{clock}</td><td>{}<br><span class=\"muted\">{}</span></td><td>{decision}</td></tr>",
        esc(&i.branch),
        esc(&local(app, i.first_at)),
        esc(tr(lang, "latest")),
        esc(&local(app, i.last_at)),
        what.join("<br>"),
        esc(&i.devices.join(", ")),
    )
}

/// `GET /security`.
pub(super) async fn show(app: &App, ctx: &Ctx, error: Option<&str>) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let now = (app.clock)();
    let list = incidents::recent(&app.db, now, DAYS).await?;
    let mut body = format!(
        "<p>{}</p>",
        esc(tr(
            lang,
            "Security events of a branch close together are one incident. A personal-data breach must be told to the supervisory authority within 72 hours of its first sign: decide each incident in time."
        ))
    );
    if let Some(e) = error {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(e));
    }
    if list.is_empty() {
        let _ = write!(
            body,
            "<p class=\"fine\">{}</p>",
            esc(tr(lang, "No security events in the last 30 days."))
        );
    } else {
        let open = list
            .iter()
            .filter(|i| !matches!(i.standing(now), Standing::Assessed(_)))
            .count();
        let _ = write!(
            body,
            "<p>{}: <b>{open}</b></p><div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            esc(tr(lang, "Incidents not decided")),
            esc(tr(lang, "Branch")),
            esc(tr(lang, "First sign")),
            esc(tr(lang, "72-hour clock")),
            esc(tr(lang, "Events")),
            esc(tr(lang, "Decision")),
        );
        for i in &list {
            body.push_str(&incident_row(app, ctx, i, now));
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Security incidents"),
        "security",
        body,
    ))
}

/// `POST /security/assess`.
pub(super) async fn assess(
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
    let (Some(s), true) = (&ctx.session, may_decide(ctx)) else {
        return Ok(plain(StatusCode::FORBIDDEN, "not allowed for your role\n"));
    };
    let lang = ctx.lang;
    let key = f.get("key").map(String::as_str).unwrap_or("");
    let Some(decision) = f.get("decision").and_then(|d| Decision::parse(d)) else {
        return Ok(plain(StatusCode::BAD_REQUEST, "no such decision\n"));
    };
    let note: String = f
        .get("note")
        .map(|n| n.trim())
        .unwrap_or("")
        .chars()
        .take(500)
        .collect();
    if note.is_empty() {
        return show(app, ctx, Some(tr(lang, "Say why, for the record."))).await;
    }
    let now = (app.clock)();
    let known = incidents::recent(&app.db, now, DAYS)
        .await?
        .iter()
        .any(|i| i.key == key);
    if !known {
        return show(
            app,
            ctx,
            Some(tr(lang, "No such incident in the last 30 days.")),
        )
        .await;
    }
    incidents::assess(&app.db, key, decision, &note, &s.account.username, now).await?;
    staff::audit(
        &app.db,
        now,
        &s.account.username,
        "incident-assessed",
        Some(key),
        Some(&format!("{}: {note}", decision.code())),
        Some(&ctx.peer),
    )
    .await?;
    Ok(redirect("/security"))
}
