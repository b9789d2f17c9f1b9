//! Bulk load of a CRM's consents (`POST /v1/consents/imports`): the rules of `POST
//! /v1/consents` per row and its idempotence, atomic, line-numbered rejects, the
//! reject-rate guard and dry runs; the consents count at once on every process.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{Duration, Utc};
use serde_json::json;
use tarcza::domain::Role;

use crate::consents::{consent, give};
use crate::helpers::{gzip, Response, TestApp, ADMIN_KEY};
use crate::policies::{check, put_policy};

async fn load(
    app: &TestApp,
    key: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Response {
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/consents/imports?{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(bytes))
        .unwrap();
    app.send(req).await
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_crm_export_of_consents_counts_at_once_on_every_process_and_a_repeat_changes_nothing() {
    let app = TestApp::spawn().await;
    let replica = app.replica().await;
    let agent = app.key(Role::Agent).await;
    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    let given = (Utc::now() - Duration::days(2)).to_rfc3339();
    let later = (Utc::now() + Duration::days(300)).to_rfc3339();
    let file = format!(
        "Numer telefonu;Klient;Cel;Dowód;Źródło;Data zgody;Wygasa;Uwagi\r\n\
         601 234 567;Acme;marketing;form-1;web;{given};{later};yes on the form\r\n\
         +48 602 234 567;ACME;Marketing;rec-2;;{given};;\r\n\
         601234567;acme;marketing;form-1;web;{given};{later};the same again\r\n"
    );
    let before = scalar(&app, "SELECT version FROM data_version").await;
    replica
        .state
        .index
        .refresh(&replica.state.db)
        .await
        .unwrap();
    let blocked = check(&replica, "601234567", Some("acme"), None).await;
    assert_eq!(blocked["allowed"], false, "{blocked}");

    // A dry run says what would happen and changes nothing.
    let r = load(
        &app,
        &agent,
        "dry_run=true",
        "text/csv",
        gzip(file.as_bytes()),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        (r.body["dry_run"].clone(), r.body["created"].clone()),
        (json!(true), json!(2))
    );
    assert_eq!(scalar(&app, "SELECT count(*) FROM consents").await, 0);
    assert_eq!(
        scalar(&app, "SELECT version FROM data_version").await,
        before
    );

    let r = load(&app, &agent, "", "text/csv", gzip(file.as_bytes())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["rows_total"], 3);
    assert_eq!(r.body["rows_accepted"], 3);
    assert_eq!(r.body["created"], 2);
    assert_eq!(r.body["rows_duplicate"], 1);
    assert_eq!(r.body["unchanged"], 0);
    assert_eq!(
        r.body["snapshot_version"],
        before + 1,
        "one version for the load"
    );
    // Counted by /check when the answer comes, here and on another process once it
    // reads the change its notification announces (as its listener does).
    replica
        .state
        .index
        .refresh(&replica.state.db)
        .await
        .unwrap();
    for process in [&app, &replica] {
        for number in ["601234567", "602234567"] {
            let c = check(process, number, Some("acme"), None).await;
            assert_eq!(c["allowed"], true, "{number}: {c}");
        }
        let other = check(process, "603234567", Some("acme"), None).await;
        assert_eq!(other["allowed"], false, "{other}");
    }
    let listed = app.get("/v1/consents?number=602234567", ADMIN_KEY).await;
    let c = &listed.body["consents"][0];
    assert_eq!(c["source"], "crm", "a row without a source is from the CRM");
    assert_eq!(c["client"], "ACME");
    assert_eq!(c["expires_at"], json!(null));
    // Each consent audited as a single one is, and the load once.
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'consent.add' AND details ? 'import'"
        )
        .await,
        2
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM audit_log WHERE action = 'consent.import'"
        )
        .await,
        1
    );

    // The same file again (here as JSON Lines of the same consents): nothing new.
    let lines = format!(
        "{}\n{}\n",
        json!({"number": "601234567", "client": "acme", "purpose": "marketing", "evidence": "form-1", "source": "web", "given_at": given, "expires_at": later}),
        json!({"number": "602234567", "client": "Acme", "purpose": "marketing", "evidence": "rec-2", "source": "crm", "given_at": given}),
    );
    let r = load(&app, &agent, "", "application/x-ndjson", lines.into_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 0);
    assert_eq!(r.body["unchanged"], 2);
    assert_eq!(r.body["snapshot_version"], json!(null));
    assert_eq!(scalar(&app, "SELECT count(*) FROM consents").await, 2);
}

#[tokio::test]
async fn conflicting_evidence_is_a_line_numbered_reject_and_too_many_change_nothing() {
    let app = TestApp::spawn().await;
    // Recorded one at a time first (source `agent`); the file contradicts it (line 2),
    // and line 4 contradicts line 3.
    let single = give(&app, consent("601234567", "acme")).await;
    let given = single["given_at"].as_str().unwrap().to_string();
    let other = (Utc::now() - Duration::days(9)).to_rfc3339();
    let file = format!(
        "number,client,purpose,evidence,source,given_at\n\
         601234567,acme,marketing,rec-601234567-acme,crm,{given}\n\
         602234567,acme,marketing,e-2,crm,{given}\n\
         602234567,acme,marketing,e-2,crm,{other}\n\
         603234567,acme,marketing,e-3,crm,{given}\n\
         601234567,acme,marketing,rec-601234567-acme,crm,{given}\n\
         604234567,acme,marketing,e-4,crm,tomorrow\n"
    );
    // 3 of 6 rejected: over the default rate, so nothing at all.
    let r = load(&app, ADMIN_KEY, "", "text/csv", file.clone().into_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "too_many_rejects");
    let rejects: Vec<(i64, String)> = r.body["rejects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["line"].as_i64().unwrap(),
                x["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rejects,
        [
            (2, "consent_conflict".to_string()),
            (4, "consent_conflict".to_string()),
            (7, "invalid_given_at".to_string()),
        ]
    );
    let messages = r.body["rejects"].to_string();
    assert!(messages.contains("line 3 has evidence"), "{messages}");
    assert!(
        messages.contains(&format!("consent {}", single["id"])),
        "{messages}"
    );
    assert_eq!(r.body["rows_rejected"], 3);
    assert_eq!(r.body["rows_accepted"], 3);
    assert_eq!(scalar(&app, "SELECT count(*) FROM consents").await, 1);

    // Allowed more rejects, the good rows go in and the rejected stay out.
    let r = load(
        &app,
        ADMIN_KEY,
        "max_reject_rate=0.6",
        "text/csv",
        file.into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 2);
    assert_eq!(r.body["unchanged"], 0);
    assert_eq!(r.body["rows_duplicate"], 1);
    assert_eq!(r.body["rows_rejected"], 3);
    assert_eq!(scalar(&app, "SELECT count(*) FROM consents").await, 3);
    assert_eq!(
        scalar(
            &app,
            "SELECT count(*) FROM consents WHERE number = 48602234567"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn an_export_without_its_columns_is_refused_and_only_agents_and_up_may_load() {
    let app = TestApp::spawn().await;
    let r = load(
        &app,
        ADMIN_KEY,
        "",
        "text/csv",
        b"number,client,purpose,given_at\n601234567,acme,marketing,2026-01-01T00:00:00Z\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "unreadable_file");
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no evidence column"));
    let r = load(
        &app,
        ADMIN_KEY,
        "",
        "text/csv",
        b"number,client,purpose,evidence,given_at\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "no_rows");
    let viewer = app.key(Role::Dialer).await;
    let r = load(&app, &viewer, "", "text/csv", b"number\n".to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
