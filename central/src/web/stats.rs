//! `/stats`: visits (self-service entries) per branch, per day and per hour of the day, denials
//! by reason, kiosk loans and returns online and offline, for a range of days; charts drawn as
//! SVG on the server (the pages run no script). `/stats.csv` gives the same days for the
//! library's yearly statistics (`?by=hour`: visits by hour of the day).

use std::collections::HashMap;
use std::fmt::Write as _;

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use jiff::civil::Date;

use super::{Answer, App, Ctx, esc, page, plain};
use crate::db::DbError;
use crate::stats::{self, Stats};
use crate::words::tr;

/// The longest range asked at once (a year and a bit).
const MAX_DAYS: i64 = 400;

/// The range and branch asked in the query: `from`, `to` (ISO dates, the library's days;
/// default the last 30 days), `branch` (default all).
struct Asked {
    first: Date,
    last: Date,
    branch: Option<String>,
}

fn asked(app: &App, query: &str) -> Result<Asked, String> {
    let q: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let today = jiff::Timestamp::from_millisecond((app.clock)())
        .map_err(|e| e.to_string())?
        .to_zoned_datetime(app.alarms.time_zone.clone())
        .date();
    let date = |k: &str, default: Date| match q.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => s
            .parse::<Date>()
            .map_err(|_| format!("{k}: `{s}` is not a date (YYYY-MM-DD)")),
    };
    let last = date("to", today)?;
    let first = date(
        "from",
        last.checked_sub(jiff::Span::new().days(29)).unwrap_or(last),
    )?;
    if first > last {
        return Err("the first day is after the last".into());
    }
    let span = last
        .since(first)
        .map_or(i64::MAX, |s| i64::from(s.get_days()));
    if span >= MAX_DAYS {
        return Err(format!("at most {MAX_DAYS} days at once"));
    }
    Ok(Asked {
        first,
        last,
        branch: q.get("branch").filter(|b| !b.is_empty()).cloned(),
    })
}

async fn counted(app: &App, a: &Asked) -> Result<Stats, DbError> {
    let tz = &app.alarms.time_zone;
    let Some((from, to)) = stats::bounds(a.first, a.last, tz) else {
        return Ok(Stats::default());
    };
    let mut rows = stats::rows(&app.db, from, to).await?;
    if let Some(b) = &a.branch {
        rows.retain(|r| &r.branch == b);
    }
    Ok(stats::aggregate(&rows, tz))
}

/// A bar chart: one bar per value, a label under every `label_every`-th.
fn bars(title: &str, values: &[(String, u64)], label_every: usize) -> String {
    let (w, h, top, bottom) = (720.0_f64, 180.0_f64, 16.0_f64, 22.0_f64);
    let max = values.iter().map(|v| v.1).max().unwrap_or(0).max(1) as f64;
    let n = values.len().max(1) as f64;
    let slot = w / n;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\"><title>{}</title>",
        esc(title),
        esc(title)
    );
    let _ = write!(
        svg,
        "<text x=\"0\" y=\"12\" font-size=\"12\" fill=\"#555\">{}</text>",
        max as u64
    );
    for (i, (label, v)) in values.iter().enumerate() {
        let bar = (h - top - bottom) * (*v as f64) / max;
        let x = i as f64 * slot;
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"#12355b\"><title>{}: {v}</title></rect>",
            x + slot * 0.1,
            h - bottom - bar,
            slot * 0.8,
            esc(label)
        );
        if label_every > 0 && i % label_every == 0 {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#555\">{}</text>",
                x + slot * 0.1,
                h - 6.0,
                esc(label)
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// `GET /stats`.
pub(super) async fn show(app: &App, ctx: &Ctx, query: &str) -> Result<Answer, DbError> {
    let lang = ctx.lang;
    let mut body = String::new();
    let a = match asked(app, query) {
        Ok(a) => a,
        Err(e) => {
            let _ = write!(body, "<p class=\"problem\" role=\"alert\">{}</p>", esc(&e));
            return Ok(page(
                ctx,
                StatusCode::BAD_REQUEST,
                tr(lang, "Statistics"),
                "stats",
                body,
            ));
        }
    };
    let s = counted(app, &a).await?;
    let branches = crate::policy::branches(&app.db).await?;
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/stats\" class=\"grid\"><label>{}<input type=\"date\" name=\"from\" value=\"{}\"></label><label>{}<input type=\"date\" name=\"to\" value=\"{}\"></label><label>{}<select name=\"branch\"><option value=\"\">{}</option>",
        esc(tr(lang, "First day")),
        a.first,
        esc(tr(lang, "Last day")),
        a.last,
        esc(tr(lang, "Branch")),
        esc(tr(lang, "All branches")),
    );
    for b in &branches {
        let sel = if a.branch.as_deref() == Some(b) {
            " selected"
        } else {
            ""
        };
        let _ = write!(body, "<option{sel}>{}</option>", esc(b));
    }
    let q = |by: &str| {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair("from", &a.first.to_string())
            .append_pair("to", &a.last.to_string());
        if let Some(b) = &a.branch {
            ser.append_pair("branch", b);
        }
        if !by.is_empty() {
            ser.append_pair("by", by);
        }
        ser.finish()
    };
    let _ = write!(
        body,
        "</select></label><button>{}</button></form><p><a href=\"/stats.csv?{}\" download>{}</a> · <a href=\"/stats.csv?{}\" download>{}</a></p>",
        esc(tr(lang, "Show")),
        esc(&q("")),
        esc(tr(lang, "Visits per day and branch (CSV)")),
        esc(&q("hour")),
        esc(tr(lang, "Visits by hour (CSV)")),
    );
    // The totals, a branch a row.
    let _ = write!(
        body,
        "<div class=\"scroll\"><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        esc(tr(lang, "Branch")),
        esc(tr(lang, "Visits")),
        esc(tr(lang, "Refused")),
        esc(tr(lang, "Loans online")),
        esc(tr(lang, "Loans offline")),
        esc(tr(lang, "Returns online")),
        esc(tr(lang, "Returns offline")),
    );
    for b in &s.branches {
        let c = s.total(b);
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(b),
            c.entries,
            c.denied,
            c.loans_online,
            c.loans_offline,
            c.returns_online,
            c.returns_offline
        );
    }
    if s.branches.is_empty() {
        let _ = write!(
            body,
            "<tr><td colspan=\"7\" class=\"muted\">{}</td></tr>",
            esc(tr(lang, "Nothing in these days."))
        );
    }
    body.push_str("</tbody></table></div>");
    let per_day: Vec<(String, u64)> = s
        .entries_per_day(a.first, a.last, None)
        .into_iter()
        .map(|(d, n)| (d.strftime("%-d.%-m.").to_string(), n))
        .collect();
    let every = (per_day.len() / 10).max(1);
    let _ = write!(body, "<h2>{}</h2>", esc(tr(lang, "Visits per day")));
    body.push_str(&bars(tr(lang, "Visits per day"), &per_day, every));
    let mut hours = [0u64; 24];
    for h in s.hours.values() {
        for (i, n) in h.iter().enumerate() {
            hours[i] += n;
        }
    }
    let per_hour: Vec<(String, u64)> = hours
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("{i:02}"), *n))
        .collect();
    let _ = write!(
        body,
        "<h2>{}</h2>",
        esc(tr(lang, "Visits by hour of the day"))
    );
    body.push_str(&bars(tr(lang, "Visits by hour of the day"), &per_hour, 3));
    let _ = write!(body, "<h2>{}</h2>", esc(tr(lang, "Refusals by reason")));
    if s.denials.is_empty() {
        let _ = write!(body, "<p class=\"muted\">{}</p>", esc(tr(lang, "None.")));
    } else {
        body.push_str("<div class=\"scroll\"><table><tbody>");
        let mut by: Vec<_> = s.denials.iter().collect();
        by.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
        for (reason, n) in by {
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{n}</td></tr>",
                esc(reason)
            );
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(page(
        ctx,
        StatusCode::OK,
        tr(lang, "Statistics"),
        "stats",
        body,
    ))
}

/// `GET /stats.csv`.
pub(super) async fn csv(app: &App, query: &str) -> Result<Answer, DbError> {
    let a = match asked(app, query) {
        Ok(a) => a,
        Err(e) => return Ok(plain(StatusCode::BAD_REQUEST, &format!("{e}\n"))),
    };
    let s = counted(app, &a).await?;
    let by_hour = query.split('&').any(|p| p == "by=hour");
    let (text, name) = if by_hour {
        (
            stats::csv_by_hour(&s),
            format!("visits-by-hour-{}-{}.csv", a.first, a.last),
        )
    } else {
        (
            stats::csv_by_day(&s, a.first, a.last),
            format!("visits-{}-{}.csv", a.first, a.last),
        )
    };
    let mut r = Response::new(http_body_util::Full::new(hyper::body::Bytes::from(text)));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
