//! `/patrons`: a patron's export and erasure, asked once and carried out on every device
//! (see [`crate::patrons`]). Admins only. The card number is typed into a posted form, keyed at
//! once into each device's hashes and never kept; a reason is required, and every request and
//! every download of an export is audited.

use std::fmt::Write as _;

use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use redact::CardNumber;

use super::{
    Answer, App, Ctx, csrf, csrf_ok, esc, forbidden, form, is_admin, local, page, plain, redirect,
    seg,
};
use crate::db::DbError;
use crate::patrons::{self, Kind};
use crate::staff;
use crate::words::{Lang, tr};

fn kind_words(lang: Lang, kind: &str) -> &'static str {
    if kind == Kind::Erase.code() {
        tr(lang, "Erasure")
    } else {
        tr(lang, "Export")
    }
}

/// The form and the newest requests.
async fn the_page(app: &App, ctx: &Ctx, problem: Option<&str>) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let mut body = format!(
        "<p>{}</p>",
        esc(tr(
            lang,
            "A patron's right of access and to erasure, carried out on every door and kiosk: type the card number once. It is not kept; every device confirms what it did."
        ))
    );
    if app.patrons.get().is_none() || app.policy.get().is_none() {
        let _ = write!(
            body,
            "<p class=\"error\">{}</p>",
            esc(tr(
                lang,
                "Not set up: the console needs the library's card key ([patrons] card_key) and its policy key ([policy] signing_key)."
            ))
        );
    } else {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/patrons\" class=\"grid\" autocomplete=\"off\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label>{}<input type=\"text\" name=\"card\" maxlength=\"40\" autocomplete=\"off\" spellcheck=\"false\" required></label>\
             <fieldset><legend>{}</legend><label class=\"check\"><input type=\"radio\" name=\"kind\" value=\"export\" checked> {}</label><label class=\"check\"><input type=\"radio\" name=\"kind\" value=\"erase\"> {}</label></fieldset>\
             <label class=\"check\"><input type=\"checkbox\" name=\"sure\" value=\"yes\"> {}</label>\
             <label>{}<input type=\"text\" name=\"reason\" maxlength=\"200\" required></label><button>{}</button></form>",
            esc(&csrf(ctx)),
            esc(tr(lang, "Card number")),
            esc(tr(lang, "What")),
            esc(tr(lang, "Export: what is held about the card")),
            esc(tr(lang, "Erasure: remove what is held about the card")),
            esc(tr(
                lang,
                "An erasure cannot be undone: I have checked the card number."
            )),
            esc(tr(lang, "Reason")),
            esc(tr(lang, "Ask every device")),
        );
    }
    if let Some(p) = problem {
        let _ = write!(body, "<p class=\"error\" role=\"alert\">{}</p>", esc(p));
    }
    let rows = patrons::list(&app.db, 50).await?;
    if !rows.is_empty() {
        let _ = write!(
            body,
            "<h2>{}</h2><div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            esc(tr(lang, "Requests")),
            esc(tr(lang, "Time")),
            esc(tr(lang, "What")),
            esc(tr(lang, "By")),
            esc(tr(lang, "Reason")),
            esc(tr(lang, "Devices confirmed")),
        );
        for r in rows {
            let _ = write!(
                body,
                "<tr><td><a href=\"/patrons/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td></tr>",
                seg(&r.id),
                esc(&local(app, r.created_at)),
                esc(kind_words(lang, &r.kind)),
                esc(&r.created_by),
                esc(&r.reason),
                r.done,
                r.devices,
            );
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Patron requests"),
        "patrons",
        body,
    ))
}

/// `GET /patrons`.
pub(super) async fn show(app: &App, ctx: &Ctx) -> Result<Answer, DbError> {
    if !is_admin(ctx) {
        return Ok(forbidden(ctx));
    }
    the_page(app, ctx, None).await
}

/// `POST /patrons`: a new request.
pub(super) async fn ask(
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
    let (Some(rights), Some(publisher)) = (app.patrons.get(), app.policy.get()) else {
        return the_page(app, ctx, None).await;
    };
    let lang = ctx.lang;
    let typed = f.get("card").map(String::as_str).unwrap_or("");
    let card = allowlist::card::normalise(typed);
    let reason: String = f
        .get("reason")
        .map(|r| r.trim())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    let kind = match f.get("kind").map(String::as_str) {
        Some("erase") => Kind::Erase,
        _ => Kind::Export,
    };
    let problem =
        if card.is_empty() || card.len() > 40 || !card.bytes().all(|b| b.is_ascii_graphic()) {
            Some(tr(lang, "Type the card number as printed on the card."))
        } else if reason.is_empty() {
            Some(tr(lang, "Say why, for the record."))
        } else if kind == Kind::Erase && f.get("sure").map(String::as_str) != Some("yes") {
            Some(tr(lang, "Tick the box to confirm the erasure."))
        } else {
            None
        };
    if let Some(p) = problem {
        return the_page(app, ctx, Some(p)).await;
    }
    let now = (app.clock)();
    // The audit line first: a request that cannot be recorded is not carried out.
    staff::audit(
        &app.db,
        now,
        &s.account.username,
        if kind == Kind::Erase {
            "patron-erase-asked"
        } else {
            "patron-export-asked"
        },
        None,
        Some(&reason),
        Some(&ctx.peer),
    )
    .await?;
    let asked = patrons::ask(
        &app.db,
        publisher,
        &rights.key,
        &CardNumber::new(card),
        patrons::Asking {
            kind,
            by: &s.account.username,
            reason: &reason,
            now_ms: now,
        },
    )
    .await?;
    for d in &asked.devices {
        app.commands.wake(d);
    }
    Ok(redirect(&format!("/patrons/{}", seg(&asked.request_id))))
}

fn state_words(lang: Lang, p: &patrons::DevicePart, now: i64) -> (String, &'static str) {
    match (p.outcome.as_deref(), p.delivered_at) {
        (Some("done"), _) => (tr(lang, "done").to_owned(), "fine"),
        (Some("refused"), _) => (tr(lang, "refused").to_owned(), "bad"),
        (Some(_), _) => (tr(lang, "failed").to_owned(), "bad"),
        (None, Some(_)) => (tr(lang, "taken, no answer").to_owned(), "warn"),
        (None, None) if p.expires_at <= now => (
            tr(lang, "expired: the device was not back in 30 days").to_owned(),
            "bad",
        ),
        (None, None) => (tr(lang, "waiting for the device").to_owned(), "warn"),
    }
}

/// `GET /patrons/{id}`.
pub(super) async fn one(app: &App, ctx: &Ctx, id: &str) -> Result<Answer, DbError> {
    if !is_admin(ctx) {
        return Ok(forbidden(ctx));
    }
    let lang = ctx.lang;
    let Some(r) = patrons::get(&app.db, id).await? else {
        return Ok(plain(StatusCode::NOT_FOUND, "no such request\n"));
    };
    let now = (app.clock)();
    let parts = patrons::parts(&app.db, id).await?;
    let mut body = format!(
        "<p>{}: <b>{}</b> · {} · {}: {} · {}: {}</p><p>{}: <b>{}</b> · {}: <b>{} / {}</b></p>",
        esc(tr(lang, "What")),
        esc(kind_words(lang, &r.kind)),
        esc(&local(app, r.created_at)),
        esc(tr(lang, "By")),
        esc(&r.created_by),
        esc(tr(lang, "Reason")),
        esc(&r.reason),
        esc(if r.kind == Kind::Erase.code() {
            tr(lang, "The console's own rows erased")
        } else {
            tr(lang, "The console's own rows found")
        }),
        r.console_rows,
        esc(tr(lang, "Devices confirmed")),
        r.done,
        r.devices,
    );
    if r.kind == Kind::Export.code() {
        let _ = write!(
            body,
            "<p><a href=\"/patrons/{}/export.json\" download>{}</a></p>",
            seg(id),
            esc(tr(lang, "Download the export (JSON)"))
        );
    }
    let _ = write!(
        body,
        "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead><tbody>",
        esc(tr(lang, "Device")),
        esc(tr(lang, "Branch")),
        esc(tr(lang, "State")),
        esc(tr(lang, "Device's answer")),
    );
    for p in &parts {
        let (state, class) = state_words(lang, p, now);
        let said = match (r.kind.as_str(), p.outcome.as_deref()) {
            ("export", Some("done")) => tr(lang, "in the download").to_owned(),
            _ => p.detail.clone().unwrap_or_default(),
        };
        let again = if p.can_ask_again
            && (p.outcome.is_some() || p.delivered_at.is_some() || p.expires_at <= now)
        {
            format!(
                "<form method=\"post\" action=\"/patrons/{}/again\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"device\" value=\"{}\"><button>{}</button></form>",
                seg(id),
                esc(&csrf(ctx)),
                esc(&p.device_id),
                esc(tr(lang, "Ask again")),
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td><a href=\"/devices/{}\">{}</a></td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{again}</td></tr>",
            seg(&p.device_id),
            esc(&p.device_id),
            esc(&p.branch),
            esc(&state),
            esc(&said),
        );
    }
    body.push_str("</tbody></table></div>");
    if parts.is_empty() {
        let _ = write!(body, "<p>{}</p>", esc(tr(lang, "No devices were known.")));
    }
    let _ = write!(
        body,
        "<p><a href=\"/patrons\">{}</a></p>",
        esc(tr(lang, "Patron requests"))
    );
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Patron request"),
        "patrons",
        body,
    ))
}

/// `POST /patrons/{id}/again`: ask one device again.
pub(super) async fn again(
    app: &App,
    ctx: &Ctx,
    req: hyper::Request<Incoming>,
    id: &str,
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
    let Some(publisher) = app.policy.get() else {
        return Ok(plain(
            StatusCode::CONFLICT,
            "this console has no policy key\n",
        ));
    };
    let device = f.get("device").map(String::as_str).unwrap_or("");
    let now = (app.clock)();
    match patrons::again(&app.db, publisher, id, device, &s.account.username, now).await? {
        Some(command) => {
            app.commands.wake(device);
            staff::audit(
                &app.db,
                now,
                &s.account.username,
                "patron-asked-again",
                Some(device),
                Some(&format!("{id} ({command})")),
                Some(&ctx.peer),
            )
            .await?;
            Ok(redirect(&format!("/patrons/{}", seg(id))))
        }
        None => Ok(plain(
            StatusCode::CONFLICT,
            "nothing to ask again: the device answered done, or the request is too old\n",
        )),
    }
}

/// `GET /patrons/{id}/export.json`: the export, audited.
pub(super) async fn download(app: &App, ctx: &Ctx, id: &str) -> Result<Answer, DbError> {
    let Some(s) = ctx.session.as_ref().filter(|_| is_admin(ctx)) else {
        return Ok(forbidden(ctx));
    };
    let Some(doc) = patrons::export_document(&app.db, id).await? else {
        return Ok(plain(StatusCode::NOT_FOUND, "no such export\n"));
    };
    staff::audit(
        &app.db,
        (app.clock)(),
        &s.account.username,
        "patron-export-downloaded",
        None,
        Some(id),
        Some(&ctx.peer),
    )
    .await?;
    let text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    let mut r = Response::new(http_body_util::Full::new(hyper::body::Bytes::from(text)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) =
        HeaderValue::from_str(&format!("attachment; filename=\"patron-export-{id}.json\""))
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
