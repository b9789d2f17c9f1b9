//! Overview (ops): readiness, snapshot version, registry freshness, and two charts:
//! checks and blocks over the last 24 hours by source (this process's counters), and
//! each registry's size over its imports.

use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Duration, Timelike, Utc};
use maud::{html, Markup};
use serde_json::Value;

use super::chart::{self, Series};
use super::ctx::Ctx;
use super::i18n::Tr;
use super::layout::{self, shell, Nav};
use super::page::respond;
use super::registries::{freshness_badge, segment};
use super::Console;
use crate::domain::Role;

/// Width of a bar of the 24-hour chart.
const BUCKET_MINUTES: i64 = 30;

pub async fn page(State(console): State<Console>, ctx: Ctx) -> Response {
    let tr = ctx.tr();
    if !ctx.can(Role::Ops) {
        return layout::not_allowed(&ctx, Nav::Overview, tr.nav_overview, Role::Ops);
    }
    let api = ctx.api(&console);
    // /readyz answers 503 with its own body when not ready: read it either way.
    let ready = api.send(Method::GET, "/readyz", None, Body::empty()).await;
    let ready: Value = axum::body::to_bytes(ready.into_body(), 1 << 20)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let registries = api.get("/v1/registries").await;
    let stats = api.get("/v1/stats").await;
    let now = Utc::now();
    let mut sizes = Vec::new();
    if let Ok(r) = &registries {
        for g in r["registries"].as_array().into_iter().flatten() {
            let name = layout::text(&g["name"]).to_string();
            let imports = api
                .get(&format!(
                    "/v1/registries/{}/imports?limit=100",
                    segment(&name)
                ))
                .await;
            sizes.push((name, imports));
        }
    }
    let body = html! {
        div.cards-grid {
            article.card { (readiness(tr, &ready)) }
            article.card {
                h2 { (tr.overview.registries_freshness) }
                @match &registries {
                    Err(f) => (layout::failure(tr, f)),
                    Ok(r) => ul.plain {
                        @for g in r["registries"].as_array().into_iter().flatten() {
                            li {
                                strong { (layout::text(&g["name"])) } " " (freshness_badge(tr, g))
                                br;
                                span.meta { (layout::count(&g["entries"])) " " (tr.overview.entries_word) " · " (tr.fresh_until) ": " (layout::or_dash(layout::time(&g["fresh_until"]))) }
                            }
                        }
                    },
                }
            }
        }
        section.card {
            h2 { (tr.overview.checks_chart) }
            @match &stats {
                Err(f) => (layout::failure(tr, f)),
                Ok(s) => (checks_chart(tr, s, now)),
            }
        }
        section.card {
            h2 { (tr.overview.size_chart) }
            @for (name, imports) in &sizes {
                @match imports {
                    Err(f) => (layout::failure(tr, f)),
                    Ok(v) => (size_chart(tr, name, v)),
                }
            }
        }
    };
    respond(
        StatusCode::OK,
        shell(&ctx, Nav::Overview, tr.nav_overview, body),
    )
}

fn readiness(tr: &Tr, r: &Value) -> Markup {
    let status = r["status"].as_str().unwrap_or("not_ready");
    let (class, word) = match status {
        "ready" => ("badge ok big", tr.overview.ready),
        "degraded" => ("badge warn big", tr.overview.degraded),
        "stale_snapshot" => ("badge bad big", tr.overview.stale_snapshot),
        _ => ("badge bad big", tr.overview.not_ready),
    };
    html! {
        h2 { (tr.overview.readiness) }
        p { span class=(class) { (word) } }
        @if status != "ready" {
            p { (tr.readiness_explained(status)) }
        }
        dl.facts {
            dt { (tr.overview.snapshot_version) } dd { (r["snapshot_version"]) }
            dt { (tr.overview.snapshot_loaded) } dd { (layout::or_dash(layout::time(&r["snapshot_loaded_at"]))) }
            dt { (tr.overview.snapshot_lag) } dd { @if let Some(ms) = r["snapshot_lag_ms"].as_u64() { (ms) " ms" } @else { "—" } }
            dt { (tr.overview.dnc_numbers) } dd { (layout::count(&r["dnc_numbers"])) }
            dt { (tr.overview.database) } dd {
                @if r["database"]["ok"] == true { (tr.overview.database_ok) } @else { (tr.overview.database_down) " " span.meta { (layout::text(&r["database"]["error"])) } }
            }
        }
    }
}

fn checks_chart(tr: &Tr, stats: &Value, now: DateTime<Utc>) -> Markup {
    // Buckets of BUCKET_MINUTES ending with the current one.
    let end = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let end = end - Duration::minutes(i64::from(end.minute()) % BUCKET_MINUTES)
        + Duration::minutes(BUCKET_MINUTES);
    let buckets = (24 * 60 / BUCKET_MINUTES) as usize;
    let start = end - Duration::minutes(BUCKET_MINUTES * buckets as i64);
    let mut checks = vec![0.0; buckets];
    let mut dnc = vec![0.0; buckets];
    let mut registry = vec![0.0; buckets];
    for m in stats["minutes"].as_array().into_iter().flatten() {
        let Some(at) = m["at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        else {
            continue;
        };
        let offset = (at.with_timezone(&Utc) - start).num_minutes();
        if offset < 0 {
            continue;
        }
        let i = (offset / BUCKET_MINUTES) as usize;
        if i < buckets {
            checks[i] += m["checks"].as_f64().unwrap_or(0.0);
            dnc[i] += m["blocked_dnc"].as_f64().unwrap_or(0.0);
            registry[i] += m["blocked_registry"].as_f64().unwrap_or(0.0);
        }
    }
    let points = |v: &[f64]| {
        v.iter()
            .enumerate()
            .map(|(i, y)| (i as f64 + 0.5, *y))
            .collect()
    };
    let series = [
        Series {
            label: tr.overview.series_checks.into(),
            class: "s-checks",
            points: points(&checks),
        },
        Series {
            label: tr.overview.series_dnc.into(),
            class: "s-dnc",
            points: points(&dnc),
        },
        Series {
            label: tr.overview.series_registry.into(),
            class: "s-registry",
            points: points(&registry),
        },
    ];
    let ticks: Vec<(f64, String)> = (0..=4)
        .map(|k| {
            let i = k * buckets / 4;
            let t = start + Duration::minutes(BUCKET_MINUTES * i as i64);
            (i as f64, t.format("%H:%M").to_string())
        })
        .collect();
    let total = &stats["total"];
    html! {
        p {
            (tr.checks_summary(
                total["checks"].as_u64().unwrap_or(0),
                total["blocked"].as_u64().unwrap_or(0),
                total["blocked_dnc"].as_u64().unwrap_or(0),
                total["blocked_registry"].as_u64().unwrap_or(0),
            ))
        }
        (chart::lines(tr.overview.checks_chart, tr.overview.checks_chart_desc, (0.0, buckets as f64), &ticks, &series, false))
        p.hint { (tr.overview.checks_chart_note) }
    }
}

fn size_chart(tr: &Tr, name: &str, imports: &Value) -> Markup {
    let mut points: Vec<(DateTime<Utc>, f64)> = imports["imports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["status"] == "succeeded")
        .filter_map(|i| {
            let at = i["finished_at"]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())?;
            Some((at.with_timezone(&Utc), i["entries_after"].as_f64()?))
        })
        .collect();
    points.sort_by_key(|p| p.0);
    if points.is_empty() {
        return html! { h3 { (name) } p.empty { (tr.no_imports) } };
    }
    let t0 = points[0].0;
    let t1 = Utc::now().max(points[points.len() - 1].0);
    let hours = |t: DateTime<Utc>| (t - t0).num_seconds() as f64 / 3600.0;
    let span = hours(t1).max(1.0 / 60.0);
    let ticks = vec![
        (0.0, t0.format("%Y-%m-%d").to_string()),
        (span, t1.format("%Y-%m-%d").to_string()),
    ];
    let series = [Series {
        label: format!("{name}: {}", tr.overview.entries_word),
        class: "s-size",
        points: points.iter().map(|(t, v)| (hours(*t), *v)).collect(),
    }];
    html! {
        h3 { (name) }
        (chart::lines(&format!("{} {name}", tr.overview.size_chart), tr.overview.size_chart_desc, (0.0, span), &ticks, &series, true))
    }
}
