//! GET /v1/history with a client: the policy in force and the consents as they stood are
//! replayed, so history gives `/check`'s `no_consent` blocks, registry exemptions by a
//! consent and the consent an answer rested on, at each past instant.

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tarcza::config::RegistryConfig;

use crate::consents::{consent, give};
use crate::helpers::{urlencode, TestApp, ADMIN_KEY};
use crate::policies::put_policy;

const NUMBER: &str = "+48601234567";

/// One answer of /check, as it was given.
struct Seen {
    step: &'static str,
    client: Option<&'static str>,
    campaign: Option<&'static str>,
    body: Value,
}

fn call_query(client: Option<&str>, campaign: Option<&str>) -> String {
    let mut q = String::new();
    for (name, value) in [("client", client), ("campaign", campaign)] {
        if let Some(v) = value {
            q.push_str(&format!("&{name}={}", urlencode(v)));
        }
    }
    q
}

async fn check(
    app: &TestApp,
    step: &'static str,
    client: Option<&'static str>,
    campaign: Option<&'static str>,
) -> Seen {
    let uri = format!(
        "/v1/check?number={}{}",
        urlencode(NUMBER),
        call_query(client, campaign)
    );
    let r = app.get(&uri, ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{step}: {}", r.body);
    Seen {
        step,
        client,
        campaign,
        body: r.body,
    }
}

/// `/check`'s answer for the three calls this test asks about.
async fn check_all(app: &TestApp, seen: &mut Vec<Seen>, step: &'static str) {
    seen.push(check(app, step, None, None).await);
    seen.push(check(app, step, Some("acme"), None).await);
    seen.push(check(app, step, Some("acme"), Some("summer")).await);
}

async fn remove_policy(app: &TestApp, path: &str) {
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/policies/{path}"),
            Some(ADMIN_KEY),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// An array of the answer (absent: empty), as history must give it.
fn list(v: &Value) -> Value {
    if v.is_null() {
        json!([])
    } else {
        v.clone()
    }
}

#[tokio::test]
async fn history_with_a_client_answers_what_check_answered_as_consents_and_policies_changed() {
    let app = TestApp::spawn_with(|c| {
        c.registries.push(RegistryConfig {
            consent_exempts: true,
            ..RegistryConfig::unconfigured("robinson")
        })
    })
    .await;
    let r = app
        .upload("robinson", "", b"numer\n601234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    let mut seen = Vec::new();
    check_all(&app, &mut seen, "in the registry, no policy").await;

    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    check_all(&app, &mut seen, "acme requires consent").await;
    let before_any_consent = Utc::now();

    let first = give(&app, consent(NUMBER, "acme")).await;
    check_all(
        &app,
        &mut seen,
        "a consent: allowed, exempt from the registry",
    )
    .await;

    put_policy(
        &app,
        "clients/acme/campaigns/summer",
        json!({"consent_required": true, "purpose": "surveys"}),
    )
    .await;
    check_all(&app, &mut seen, "summer requires a surveys consent").await;

    let r = app
        .delete(
            &format!("/v1/consents/{}", first["id"]),
            ADMIN_KEY,
            json!({"reason": "changed their mind"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    check_all(&app, &mut seen, "withdrawn").await;

    let mut short = consent(NUMBER, "acme");
    short["evidence"] = json!("rec-short");
    short["expires_at"] = json!(Utc::now() + Duration::milliseconds(2500));
    give(&app, short).await;
    check_all(&app, &mut seen, "a short consent").await;
    tokio::time::sleep(std::time::Duration::from_millis(3000)).await;
    // No data version in between: history must see the expiry by the instant alone.
    check_all(&app, &mut seen, "the short consent expired").await;

    // Recorded now, but given before any other: the instants before this write did not
    // know it, and history must not pretend they did.
    let mut late = consent(NUMBER, "acme");
    late["evidence"] = json!("rec-late");
    late["given_at"] = json!(before_any_consent - Duration::days(30));
    let late = give(&app, late).await;
    check_all(&app, &mut seen, "a late-recorded consent").await;

    remove_policy(&app, "clients/acme/campaigns/summer").await;
    check_all(&app, &mut seen, "summer's policy removed").await;
    remove_policy(&app, "clients/acme").await;
    check_all(&app, &mut seen, "acme's policy removed").await;

    // What /check said covers each rule at least once.
    let codes: Vec<String> = seen
        .iter()
        .flat_map(|s| s.body["reasons"].as_array().unwrap().clone())
        .filter_map(|r| r["code"].as_str().map(String::from))
        .collect();
    assert!(codes.iter().any(|c| c == "no_consent"));
    assert!(seen.iter().any(|s| s.body["exemptions"].is_array()));
    assert!(seen
        .iter()
        .any(|s| s.body["consent"]["consent_id"] == late["id"]));

    for s in &seen {
        let uri = format!(
            "/v1/history?number={}&at={}{}",
            urlencode(NUMBER),
            urlencode(s.body["checked_at"].as_str().unwrap()),
            call_query(s.client, s.campaign)
        );
        let h = app.get(&uri, ADMIN_KEY).await;
        let what = format!("{} ({:?}, {:?})", s.step, s.client, s.campaign);
        assert_eq!(h.status, StatusCode::OK, "{what}: {}", h.body);
        for field in ["allowed", "snapshot_version", "reasons"] {
            assert_eq!(h.body[field], s.body[field], "{what}: {field}: {}", h.body);
        }
        assert_eq!(
            list(&h.body["exemptions"]),
            list(&s.body["exemptions"]),
            "{what}: exemptions: {}",
            h.body
        );
        assert_eq!(h.body["consent"], s.body["consent"], "{what}: {}", h.body);
        assert_eq!(
            h.body["not_replayed"],
            if s.client.is_some() {
                json!(["consent_exempts"])
            } else {
                json!([])
            },
            "{what}"
        );
    }

    // Why, at the instant the consent was withdrawn: the policy and the consent as then.
    let withdrawn = &seen[13];
    assert_eq!(withdrawn.step, "withdrawn");
    let h = app
        .get(
            &format!(
                "/v1/history?number={}&at={}&client=acme",
                urlencode(NUMBER),
                urlencode(withdrawn.body["checked_at"].as_str().unwrap())
            ),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(h.body["policy"]["consent_required"], true, "{}", h.body);
    assert_eq!(h.body["policy"]["campaign"], Value::Null);
    assert_eq!(h.body["consents"][0]["consent_id"], first["id"]);
    assert_eq!(h.body["consents"][0]["withdrawn"], true);
    assert_eq!(
        h.body["consents"][0]["withdrawal_reason"],
        "changed their mind"
    );
    assert_eq!(h.body["consents"][0]["counted"], false);

    // The timeline: each consent given, withdrawn or expired, and every policy change.
    let t = app
        .get(
            &format!("/v1/history?number={}", urlencode(NUMBER)),
            ADMIN_KEY,
        )
        .await;
    let events: Vec<&str> = t.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .filter(|e| e.starts_with("consent.") || e.starts_with("policy."))
        .collect();
    assert_eq!(
        events,
        [
            // By when each was given: the late one 30 days ago, the others a day ago.
            "consent.given",
            "consent.given",
            "consent.given",
            "policy.set",
            "policy.set",
            "consent.withdrawn",
            "consent.expired",
            "policy.removed",
            "policy.removed",
        ],
        "{}",
        t.body
    );
}
