//! Retention: personal data older than TARCZA_EVIDENCE_RETENTION is erased by the job,
//! which is audited, and the serving role cannot erase anything younger.

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{csv, numbers, urlencode, TestApp, ADMIN_KEY};

const SEVEN_YEARS_AGO: &str = "now() - interval '7 years'";

async fn owner(app: &TestApp) -> PgPool {
    tarcza::db::connect(&app.owner_url).await.unwrap()
}

async fn add(app: &TestApp, body: Value) -> i64 {
    let r = app.post("/v1/dnc", ADMIN_KEY, body).await;
    assert!(r.status.is_success(), "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn entry(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/v1/dnc/{id}"), ADMIN_KEY).await.body
}

#[tokio::test]
async fn the_job_erases_old_personal_data_keeps_the_rest_and_is_audited() {
    let app = TestApp::spawn().await;
    let owner = owner(&app).await;
    // Seven years ago: an entry removed then, one that expired then, an audit event about a
    // number, and an import with a rejected line; a registry generation that went live then.
    let removed = add(
        &app,
        json!({"number": "601000001", "reason": "said stop", "note": "Jan K."}),
    )
    .await;
    app.delete(
        &format!("/v1/dnc/{removed}"),
        ADMIN_KEY,
        json!({"reason": "mistake"}),
    )
    .await;
    let expired = add(
        &app,
        json!({"number": "601000002", "reason": "asked", "expires_at": chrono::Utc::now() + chrono::Duration::days(1)}),
    )
    .await;
    let kept = add(&app, json!({"number": "601000003", "reason": "said stop"})).await;
    // A consent withdrawn seven years ago, and one that still counts.
    let old_consent =
        crate::consents::give(&app, crate::consents::consent("601000004", "acme")).await;
    let r = app
        .delete(
            &format!("/v1/consents/{}", old_consent["id"]),
            ADMIN_KEY,
            json!({"reason": "asked to stop"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let old_consent = old_consent["id"].as_i64().unwrap();
    let live_consent =
        crate::consents::give(&app, crate::consents::consent("601000005", "acme")).await;
    let old_registry = numbers(100, 0);
    let mut file = csv(&old_registry);
    file.extend_from_slice(b"not a number\n");
    let r = app.upload("robinson", "", file).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    let old_import = r.body["id"].as_i64().unwrap();
    let r = app.upload("robinson", "", csv(&numbers(100, 1))).await;
    let old_generation = r.body["id"].as_i64().unwrap();
    for statement in [
        format!("UPDATE dnc_entries SET created_at = {SEVEN_YEARS_AGO}, deactivated_at = {SEVEN_YEARS_AGO} WHERE id = {removed}"),
        format!("UPDATE dnc_entries SET created_at = {SEVEN_YEARS_AGO}, expires_at = {SEVEN_YEARS_AGO} + interval '1 day' WHERE id = {expired}"),
        format!("UPDATE imports SET finished_at = {SEVEN_YEARS_AGO} WHERE id = {old_import}"),
        format!("UPDATE consents SET given_at = {SEVEN_YEARS_AGO} - interval '1 day', \
                 withdrawn_at = {SEVEN_YEARS_AGO} WHERE id = {old_consent}"),
        format!("UPDATE data_version_log SET committed_at = {SEVEN_YEARS_AGO} \
                 WHERE version = (SELECT version FROM registry_generations WHERE generation = {old_generation})"),
        format!("INSERT INTO audit_log (at, action, number, subject, details) VALUES \
                 ({SEVEN_YEARS_AGO}, 'dnc.add', 48601000001, 'dnc:{removed}', '{{\"reason\": \"said stop\"}}')"),
    ] {
        sqlx::query(&statement).execute(&owner).await.unwrap();
    }
    let chunks_before: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM registry_changes WHERE generation = {old_generation}"
    ))
    .fetch_one(&owner)
    .await
    .unwrap();
    assert!(chunks_before > 0);
    let recent_events: Vec<(i64, Option<i64>, Value)> = sqlx::query_as(
        "SELECT id, number, details FROM audit_log WHERE at > now() - interval '1 day' ORDER BY id",
    )
    .fetch_all(&owner)
    .await
    .unwrap();

    // The job runs as the serving role, like the service's; its change is announced, and
    // picked up here as the change follower would.
    let erased = tarcza::jobs::retention::run_once(&app.state.db)
        .await
        .unwrap();
    app.state.index.refresh(&app.state.db).await.unwrap();
    assert!(!erased.skipped);
    assert_eq!(erased.audit_events, 1, "{erased:?}");
    assert_eq!(erased.dnc_entries, 1, "{erased:?}");
    assert_eq!(erased.dnc_entries_closed, 1, "{erased:?}");
    assert!(app.allowed("601000002").await, "it had expired");
    assert_eq!(entry(&app, expired).await["number"], "+48601000002");
    // The entry closed by this run is erased by the next, once snapshots have let it go.
    let next = tarcza::jobs::retention::run_once(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        (next.dnc_entries, next.dnc_entries_closed),
        (1, 0),
        "{next:?}"
    );
    assert_eq!(erased.registry_change_chunks, chunks_before, "{erased:?}");
    assert_eq!(erased.import_rejects, 1, "{erased:?}");
    assert_eq!(erased.consents, 1, "{erased:?}");
    let consents: Vec<(i64, i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, number, evidence, note FROM consents ORDER BY id")
            .fetch_all(&owner)
            .await
            .unwrap();
    assert_eq!(
        consents,
        [
            (old_consent, 1000000, format!("erased {old_consent}"), None),
            (
                live_consent["id"].as_i64().unwrap(),
                48601000005,
                live_consent["evidence"].as_str().unwrap().to_string(),
                None
            )
        ]
    );

    // The old entries keep their ids and scopes, not their numbers or texts.
    for id in [removed, expired] {
        let e = entry(&app, id).await;
        assert_eq!(e["active"], false, "{e}");
        assert_eq!(e["reason"], Value::Null, "{e}");
        assert_eq!(e["note"], Value::Null, "{e}");
        assert_ne!(e["number"], "+48601000001");
        assert_ne!(e["number"], "+48601000002");
    }
    let list = app.get("/v1/dnc?number=601000001", ADMIN_KEY).await;
    assert_eq!(list.body["entries"], json!([]), "{}", list.body);
    // The entry that still blocks is untouched, and still blocks.
    assert_eq!(entry(&app, kept).await["reason"], "said stop");
    assert!(!app.allowed("601000003").await);
    let old: (Option<i64>, Value) = sqlx::query_as(
        "SELECT number, details FROM audit_log WHERE at < now() - interval '6 years'",
    )
    .fetch_one(&owner)
    .await
    .unwrap();
    assert_eq!(old, (None, json!({"erased": "retention"})));
    let recent_after: Vec<(i64, Option<i64>, Value)> = sqlx::query_as(
        "SELECT id, number, details FROM audit_log WHERE at > now() - interval '1 day' \
         AND id <= $1 ORDER BY id",
    )
    .bind(recent_events.last().unwrap().0)
    .fetch_all(&owner)
    .await
    .unwrap();
    assert_eq!(recent_after, recent_events, "recent events untouched");
    let rejects = app
        .get(
            &format!("/v1/registries/robinson/imports/{old_import}"),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(rejects.body["rejects"], json!([]), "{}", rejects.body);

    // The run is in the audit log; history now starts at the cut-off.
    let log = app.get("/v1/audit", ADMIN_KEY).await;
    let run = log.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "evidence.erase")
        .unwrap_or_else(|| panic!("no evidence.erase event: {}", log.body));
    assert_eq!(run["details"]["dnc_entries"], 1);
    let before_cutoff = erased.cutoff.unwrap() - chrono::Duration::hours(1);
    let h = app
        .get(
            &format!(
                "/v1/history?number=601000003&at={}",
                urlencode(&before_cutoff.to_rfc3339())
            ),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(h.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", h.body);
    // A second run finds nothing more.
    let again = tarcza::jobs::retention::run_once(&app.state.db)
        .await
        .unwrap();
    assert_eq!(
        (
            again.audit_events,
            again.dnc_entries,
            again.registry_change_chunks
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn the_serving_role_cannot_erase_recent_evidence_or_change_the_period() {
    let app = TestApp::spawn().await;
    let id = add(&app, json!({"number": "601000009", "reason": "said stop"})).await;
    app.delete(
        &format!("/v1/dnc/{id}"),
        ADMIN_KEY,
        json!({"reason": "mistake"}),
    )
    .await;
    let snapshot = |db: PgPool| async move {
        let rows: Vec<(i64, Option<i64>, Value)> =
            sqlx::query_as("SELECT id, number, details FROM audit_log ORDER BY id")
                .fetch_all(&db)
                .await
                .unwrap();
        rows
    };
    let before = snapshot(app.state.db.clone()).await;
    let db = &app.state.db;
    for (what, statement) in [
        (
            "a cut-off in the future",
            "SELECT erase_expired_evidence(now() + interval '1 day')",
        ),
        (
            "a cut-off a day ago",
            "SELECT erase_expired_evidence(now() - interval '1 day')",
        ),
        (
            "erasing audit rows directly",
            "UPDATE audit_log SET number = NULL, details = '{\"erased\": \"retention\"}'",
        ),
        (
            "shortening the period",
            "UPDATE evidence_policy SET retention = interval '1 second'",
        ),
        (
            "moving where history starts",
            "UPDATE history_floor SET since = now()",
        ),
        (
            "rewriting a state",
            "UPDATE dnc_entry_states SET active = false",
        ),
        ("deleting registry history", "DELETE FROM registry_changes"),
        (
            "forging a commit time",
            "INSERT INTO data_version_log VALUES (999999, now())",
        ),
    ] {
        let e = sqlx::query(statement).execute(db).await;
        assert!(e.is_err(), "the serving role could do {what}");
    }
    assert_eq!(snapshot(app.state.db.clone()).await, before);
    assert_eq!(entry(&app, id).await["reason"], "said stop");

    // Not even the owner may rewrite recent events, or old ones in any other way.
    let owner = owner(&app).await;
    sqlx::query(&format!(
        "INSERT INTO audit_log (at, action, number, details) VALUES ({SEVEN_YEARS_AGO}, \
         'dnc.add', 48601000009, '{{}}')"
    ))
    .execute(&owner)
    .await
    .unwrap();
    for statement in [
        "UPDATE audit_log SET number = NULL, details = '{\"erased\": \"retention\"}' \
         WHERE at > now() - interval '1 day'",
        "UPDATE audit_log SET action = 'nothing', number = NULL, details = '{\"erased\": \"retention\"}' \
         WHERE at < now() - interval '6 years'",
        "DELETE FROM audit_log WHERE at < now() - interval '6 years'",
    ] {
        assert!(
            sqlx::query(statement).execute(&owner).await.is_err(),
            "the owner could: {statement}"
        );
    }
}

#[tokio::test]
async fn the_period_is_the_configured_one() {
    let app = TestApp::spawn_with(|c| {
        c.evidence_retention = tarcza::domain::Retention {
            years: 0,
            seconds: 30 * 86_400,
        }
    })
    .await;
    let kept: String = sqlx::query_scalar("SELECT retention::text FROM evidence_policy")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(kept, "720:00:00");
}
