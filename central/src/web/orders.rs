//! The remote commands on a device's page: for a door, unlock for N minutes, lock down and end
//! it, end self-service now, and a selftest; for a kiosk, the selftest. Each is sent signed to
//! the device (see [`crate::commands`]), audited with the staff member, and shown with the
//! device's answer.

use std::fmt::Write as _;

use hyper::StatusCode;
use hyper::body::Incoming;
use report::command::{MAX_UNLOCK_MINUTES, Order};

use super::{Answer, App, Ctx, csrf_ok, esc, form, plain, redirect, seg};
use crate::db::{DbError, DeviceRow};
use crate::staff::{self, Role};
use crate::words::{Lang, tr};

/// Staff and admins order the door; a technician may only ask for a selftest.
fn may_order(ctx: &Ctx, order: Option<&Order>) -> bool {
    ctx.session.as_ref().is_some_and(|s| match s.account.role {
        Role::Admin | Role::Staff => true,
        Role::Technician => order.is_none_or(|o| *o == Order::Selftest),
    })
}

fn order_words(lang: Lang, order: &str, minutes: Option<i64>) -> String {
    match order {
        "unlock" => format!(
            "{} {} min",
            tr(lang, "Unlock for"),
            minutes.unwrap_or_default()
        ),
        "lockdown" => tr(lang, "Lock down").to_owned(),
        "lockdown-end" => tr(lang, "End the lock-down").to_owned(),
        "end-self-service" => tr(lang, "End self-service now").to_owned(),
        "selftest" => tr(lang, "Selftest").to_owned(),
        other => other.to_owned(),
    }
}

/// The section of a door's page.
pub(super) async fn section(app: &App, ctx: &Ctx, d: &DeviceRow) -> Result<String, DbError> {
    let lang = ctx.lang;
    let mut body = format!("<h2>{}</h2>", esc(tr(lang, "Commands")));
    if app.policy.get().is_none() {
        let _ = write!(
            body,
            "<p class=\"muted\">{}</p>",
            esc(tr(
                lang,
                "This console has no policy key: it cannot sign commands."
            ))
        );
        return Ok(body);
    }
    if may_order(ctx, None) {
        let csrf = ctx
            .session
            .as_ref()
            .map(|s| s.csrf.clone())
            .unwrap_or_default();
        let action = format!("/devices/{}/commands", seg(&d.device_id));
        let button = |body: &mut String, order: &str| {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"{action}\" class=\"grid\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"order\" value=\"{order}\"><button>{}</button></form>",
                esc(&csrf),
                esc(&order_words(lang, order, None)),
            );
        };
        // A kiosk has no door: a selftest is all it takes.
        if d.role == "door" && may_order(ctx, Some(&Order::Lockdown)) {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"{action}\" class=\"grid\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"order\" value=\"unlock\"><label>{}<input type=\"number\" name=\"minutes\" min=\"1\" max=\"{MAX_UNLOCK_MINUTES}\" value=\"30\" required></label><button>{}</button></form>",
                esc(&csrf),
                esc(tr(lang, "Minutes")),
                esc(tr(lang, "Unlock for")),
            );
            for order in ["lockdown", "lockdown-end", "end-self-service"] {
                button(&mut body, order);
            }
        }
        button(&mut body, "selftest");
    }
    let sent = crate::commands::recent(&app.db, &d.device_id, 10).await?;
    if !sent.is_empty() {
        let now = (app.clock)();
        let _ = write!(
            body,
            "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
            esc(tr(lang, "Time")),
            esc(tr(lang, "Command")),
            esc(tr(lang, "Who")),
            esc(tr(lang, "Outcome")),
        );
        for c in sent {
            let outcome = match (c.outcome.as_deref(), c.delivered_at) {
                (Some("done"), _) if c.order == "selftest" => {
                    tr(lang, "all checks passed").to_owned()
                }
                (Some("done"), _) => tr(lang, "done").to_owned(),
                (Some("failed"), _) if c.order == "selftest" => {
                    tr(lang, "a check failed").to_owned()
                }
                (Some("refused"), _) => format!(
                    "{}: {}",
                    tr(lang, "refused by the device"),
                    c.detail.as_deref().unwrap_or("")
                ),
                (Some("failed"), _) => format!(
                    "{}: {}",
                    tr(lang, "failed"),
                    c.detail.as_deref().unwrap_or("")
                ),
                (Some(other), _) => other.to_owned(),
                (None, Some(_)) => tr(lang, "delivered, no answer yet").to_owned(),
                (None, None) if c.expires_at <= now => {
                    tr(lang, "expired: the device did not take it in time").to_owned()
                }
                (None, None) => tr(lang, "waiting for the device").to_owned(),
            };
            // A selftest's table, as the device wrote it.
            let table = match (c.order.as_str(), &c.detail) {
                ("selftest", Some(t)) => format!("<pre class=\"selftest\">{}</pre>", esc(t)),
                _ => String::new(),
            };
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{table}</td></tr>",
                esc(&super::local(app, c.created_at)),
                esc(&order_words(lang, &c.order, c.minutes)),
                esc(&c.created_by),
                esc(&outcome),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(body)
}

/// `POST /devices/ID/commands`.
pub(super) async fn send(
    app: &App,
    ctx: &Ctx,
    req: hyper::Request<Incoming>,
    device_id: &str,
) -> Result<Answer, DbError> {
    let Some(f) = form(req).await else {
        return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE, "form too large\n"));
    };
    if !csrf_ok(ctx, &f) {
        return Ok(plain(StatusCode::FORBIDDEN, "the form's token is wrong\n"));
    }
    let Some(publisher) = app.policy.get() else {
        return Ok(plain(
            StatusCode::CONFLICT,
            "this console has no policy key\n",
        ));
    };
    let order = match f.get("order").map(String::as_str) {
        Some("unlock") => match f.get("minutes").and_then(|m| m.trim().parse::<u32>().ok()) {
            Some(minutes) if (1..=MAX_UNLOCK_MINUTES).contains(&minutes) => {
                Order::Unlock { minutes }
            }
            _ => {
                return Ok(plain(
                    StatusCode::BAD_REQUEST,
                    &format!("minutes: 1 to {MAX_UNLOCK_MINUTES}\n"),
                ));
            }
        },
        Some("lockdown") => Order::Lockdown,
        Some("lockdown-end") => Order::LockdownEnd,
        Some("end-self-service") => Order::EndSelfService,
        Some("selftest") => Order::Selftest,
        _ => return Ok(plain(StatusCode::BAD_REQUEST, "no such command\n")),
    };
    let (Some(s), true) = (&ctx.session, may_order(ctx, Some(&order))) else {
        return Ok(plain(StatusCode::FORBIDDEN, "not allowed for your role\n"));
    };
    match app.db.device(device_id).await? {
        None => return Ok(plain(StatusCode::NOT_FOUND, "no such device\n")),
        Some(d) if d.role != "door" && order != Order::Selftest => {
            return Ok(plain(
                StatusCode::BAD_REQUEST,
                "a kiosk has no door: it takes only the selftest\n",
            ));
        }
        Some(_) => {}
    }
    let now = (app.clock)();
    let note = order.clone();
    let Some(id) = crate::commands::issue(
        &app.db,
        publisher,
        device_id,
        order,
        &s.account.username,
        now,
    )
    .await?
    else {
        return Ok(plain(StatusCode::NOT_FOUND, "no such device\n"));
    };
    app.commands.wake(device_id);
    let note = match note {
        Order::Unlock { minutes } => format!("{} {minutes} min ({id})", note.code()),
        _ => format!("{} ({id})", note.code()),
    };
    staff::audit(
        &app.db,
        now,
        &s.account.username,
        "command-sent",
        Some(device_id),
        Some(&note),
        Some(&ctx.peer),
    )
    .await?;
    Ok(redirect(&format!("/devices/{}", seg(device_id))))
}
