//! Policies that require consent, and consents that exempt from a registry (issue 15,
//! point 3): each rule, and how they meet the do-not-call list and each other.

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use tarcza::config::RegistryConfig;
use tarcza::domain::Role;

use crate::consents::{consent, give};
use crate::helpers::{urlencode, TestApp, ADMIN_KEY};

/// `GET /v1/check` of `number` for `client` and `campaign` (either may be absent).
pub async fn check(
    app: &TestApp,
    number: &str,
    client: Option<&str>,
    campaign: Option<&str>,
) -> Value {
    let mut uri = format!("/v1/check?number={}", urlencode(number));
    if let Some(c) = client {
        uri.push_str(&format!("&client={}", urlencode(c)));
    }
    if let Some(c) = campaign {
        uri.push_str(&format!("&campaign={}", urlencode(c)));
    }
    let r = app.get(&uri, ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn sources(body: &Value) -> Vec<String> {
    body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r["code"].as_str().map_or_else(
                || r["source"].as_str().unwrap().to_string(),
                |c| format!("{}:{c}", r["source"].as_str().unwrap()),
            )
        })
        .collect()
}

pub async fn put_policy(app: &TestApp, path: &str, body: Value) -> Value {
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/policies/{path}"),
            Some(ADMIN_KEY),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body
}

async fn withdraw(app: &TestApp, id: &Value) {
    let r = app
        .delete(
            &format!("/v1/consents/{id}"),
            ADMIN_KEY,
            json!({"reason": "changed their mind"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// An app whose `robinson` registry lets a consent exempt (the operator opted in), with
/// 601 234 567 and 602 234 567 in it.
async fn exempting_app() -> TestApp {
    let app = TestApp::spawn_with(|c| {
        c.registries.push(RegistryConfig {
            consent_exempts: true,
            ..RegistryConfig::unconfigured("robinson")
        })
    })
    .await;
    let r = app
        .upload("robinson", "", b"numer\n601234567\n602234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    app
}

#[tokio::test]
async fn under_consent_required_only_a_valid_consent_lets_a_number_through() {
    let app = TestApp::spawn().await;
    let p = put_policy(&app, "clients/Acme", json!({"consent_required": true})).await;
    assert_eq!(p["purpose"], "marketing");
    assert_eq!(p["consent_required"], true);

    let blocked = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(blocked["allowed"], false);
    assert_eq!(
        blocked["reasons"],
        json!([{"source": "consent", "code": "no_consent", "client": "Acme", "purpose": "marketing"}])
    );
    // No client, or another client: under no policy.
    assert_eq!(check(&app, "601234567", None, None).await["allowed"], true);
    assert_eq!(
        check(&app, "601234567", None, Some("summer")).await["allowed"],
        true
    );
    assert_eq!(
        check(&app, "601234567", Some("beta"), None).await["allowed"],
        true
    );

    let c = give(&app, consent("601234567", "ACME")).await;
    let ok = check(&app, "+48 601 234 567", Some("acme"), Some("summer")).await;
    assert_eq!(ok["allowed"], true, "{ok}");
    assert_eq!(ok["consent"]["consent_id"], c["id"]);
    assert_eq!(ok["consent"]["purpose"], "marketing");
    // Batch checks apply the same policy.
    let b = app
        .post(
            "/v1/check",
            ADMIN_KEY,
            json!({"numbers": ["601234567", "602234567"], "client": "acme"}),
        )
        .await;
    assert_eq!(b.body["results"][0]["allowed"], true, "{}", b.body);
    assert_eq!(b.body["results"][1]["allowed"], false);
    assert_eq!(b.body["results"][1]["reasons"][0]["code"], "no_consent");

    // Withdrawn: blocked again, at once and on another process.
    withdraw(&app, &c["id"]).await;
    assert_eq!(
        check(&app, "601234567", Some("acme"), None).await["allowed"],
        false
    );
    let other = app.replica().await;
    assert_eq!(
        check(&other, "601234567", Some("acme"), None).await["allowed"],
        false
    );
}

#[tokio::test]
async fn an_expired_consent_blocks_again_without_a_restart() {
    let app = TestApp::spawn().await;
    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    let mut body = consent("601234567", "acme");
    body["expires_at"] = json!(Utc::now() + Duration::milliseconds(2200));
    let c = give(&app, body).await;
    let ok = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(ok["allowed"], true, "{ok}");
    assert!(ok["consent"]["expires_at"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let after = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(after["allowed"], false, "{after}");
    assert_eq!(sources(&after), vec!["consent:no_consent"]);
    let listed = app
        .get(&format!("/v1/consents/{}", c["id"]), ADMIN_KEY)
        .await;
    assert_eq!(listed.body["valid"], false);
}

#[tokio::test]
async fn a_consent_never_overrides_a_dnc_entry() {
    let app = TestApp::spawn().await;
    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    give(&app, consent("601234567", "acme")).await;
    give(&app, consent("701234567", "acme")).await;
    give(&app, consent("602234567", "acme")).await;
    // Global, the client's own, and a prefix entry: each still blocks.
    app.block("601234567").await;
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "602234567", "client": "acme"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post("/v1/dnc", ADMIN_KEY, json!({"prefix": "+48 70"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    for number in ["601234567", "602234567", "701234567"] {
        let body = check(&app, number, Some("acme"), None).await;
        assert_eq!(body["allowed"], false, "{number}: {body}");
        assert_eq!(sources(&body), vec!["dnc"], "{number}: {body}");
    }
}

#[tokio::test]
async fn a_campaign_policy_overrides_its_client_and_names_compare_like_scopes() {
    let app = TestApp::spawn().await;
    put_policy(&app, "clients/ACME", json!({"consent_required": true})).await;
    put_policy(
        &app,
        "clients/acme/campaigns/Serwis",
        json!({"consent_required": false}),
    )
    .await;
    put_policy(
        &app,
        "clients/Beta/campaigns/Lato%20%C5%81%C3%B3d%C5%BA",
        json!({"consent_required": true}),
    )
    .await;
    let allowed = |b: Value| b["allowed"].as_bool().unwrap();
    assert!(!allowed(check(&app, "601234567", Some("Acme"), None).await));
    assert!(!allowed(
        check(&app, "601234567", Some("acme"), Some("summer")).await
    ));
    assert!(allowed(
        check(&app, "601234567", Some("acme"), Some("SERWIS")).await
    ));
    assert!(allowed(check(&app, "601234567", Some("beta"), None).await));
    let lato = check(&app, "601234567", Some("BETA"), Some("lato łódź")).await;
    assert!(!allowed(lato.clone()));
    assert_eq!(lato["reasons"][0]["campaign"], "Lato Łódź");
    // A campaign without its client is under no client's policy.
    assert!(allowed(
        check(&app, "601234567", None, Some("lato łódź")).await
    ));

    let g = app
        .get("/v1/policies/clients/acme/campaigns/summer", ADMIN_KEY)
        .await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.body);
    assert_eq!(g.body["policy"], Value::Null);
    assert_eq!(g.body["effective"]["consent_required"], true);
    assert_eq!(g.body["effective"]["client"], "ACME");
    let g = app.get("/v1/policies/clients/Acme", ADMIN_KEY).await;
    assert_eq!(g.body["policy"]["consent_required"], true);
    assert_eq!(g.body["campaigns"][0]["campaign"], "Serwis");
    assert_eq!(g.body["campaigns"][0]["consent_required"], false);
}

#[tokio::test]
async fn only_a_consent_of_that_client_and_purpose_counts() {
    let app = TestApp::spawn().await;
    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    give(&app, consent("601234567", "beta")).await;
    let mut surveys = consent("601234567", "acme");
    surveys["purpose"] = json!("surveys");
    give(&app, surveys).await;
    assert_eq!(
        check(&app, "601234567", Some("acme"), None).await["allowed"],
        false
    );
    // A policy for surveys is met by the surveys consent.
    put_policy(
        &app,
        "clients/acme",
        json!({"consent_required": true, "purpose": "Surveys"}),
    )
    .await;
    let ok = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(ok["allowed"], true, "{ok}");
    assert_eq!(ok["consent"]["purpose"], "surveys");
}

#[tokio::test]
async fn policy_changes_are_audited_admin_only_and_checked() {
    let app = TestApp::spawn().await;
    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    // The same again changes nothing and is not audited again.
    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    put_policy(&app, "clients/acme", json!({"consent_required": false})).await;
    let audit = app.get("/v1/audit?limit=10", ADMIN_KEY).await;
    let sets: Vec<&Value> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "policy.set")
        .collect();
    assert_eq!(sets.len(), 2, "{}", audit.body);
    assert_eq!(sets[0]["details"]["before"]["consent_required"], true);
    assert_eq!(sets[0]["details"]["after"]["consent_required"], false);
    assert_eq!(sets[1]["details"]["before"], Value::Null);
    assert_eq!(sets[0]["actor"]["role"], "admin");

    let agent = app.key(Role::Agent).await;
    let r = app
        .call(
            Method::PUT,
            "/v1/policies/clients/acme",
            Some(&agent),
            Some(json!({"consent_required": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for (body, code) in [
        (json!({"consent_required": "yes"}), "invalid_body"),
        (json!({}), "invalid_body"),
        (
            json!({"consent_required": true, "purpose": "a b"}),
            "invalid_purpose",
        ),
        (
            json!({"consent_required": true, "scope": "x"}),
            "invalid_body",
        ),
    ] {
        let r = app
            .call(
                Method::PUT,
                "/v1/policies/clients/acme",
                Some(ADMIN_KEY),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], code, "{body}");
    }
    let long = "x".repeat(201);
    let r = app
        .call(
            Method::PUT,
            &format!("/v1/policies/clients/{long}"),
            Some(ADMIN_KEY),
            Some(json!({"consent_required": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["error"]["code"], "invalid_scope");
    // Still the last good policy.
    assert_eq!(
        check(&app, "601234567", Some("acme"), None).await["allowed"],
        true
    );
}

#[tokio::test]
async fn a_consent_exempts_from_an_opted_in_registry_for_its_client_only() {
    let app = exempting_app().await;
    let c = give(&app, consent("601234567", "acme")).await;
    let ok = check(&app, "601234567", Some("ACME"), None).await;
    assert_eq!(ok["allowed"], true, "{ok}");
    assert_eq!(ok["reasons"], json!([]));
    assert_eq!(
        ok["exemptions"],
        json!([{"source": "registry", "registry": "robinson",
                "exempted_by": {"consent_id": c["id"], "purpose": "marketing", "expires_at": null}}])
    );
    // Never for another client, nor for a call that names none.
    for client in [Some("beta"), None] {
        let body = check(&app, "601234567", client, None).await;
        assert_eq!(body["allowed"], false, "{client:?}");
        assert_eq!(sources(&body), vec!["registry"]);
        assert!(body.get("exemptions").is_none());
    }
    // Another number of the registry, without a consent, stays blocked.
    assert_eq!(
        check(&app, "602234567", Some("acme"), None).await["allowed"],
        false
    );
    // The registry's view says it is opted in.
    let r = app.get("/v1/registries/robinson", ADMIN_KEY).await;
    assert_eq!(r.body["consent_exempts"], true);

    // A later DNC entry still blocks; the exemption is still shown.
    app.block("601234567").await;
    let body = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(body["allowed"], false);
    assert_eq!(sources(&body), vec!["dnc"]);
    assert_eq!(body["exemptions"][0]["registry"], "robinson");
}

#[tokio::test]
async fn a_withdrawn_consent_no_longer_exempts() {
    let app = exempting_app().await;
    let c = give(&app, consent("601234567", "acme")).await;
    assert_eq!(
        check(&app, "601234567", Some("acme"), None).await["allowed"],
        true
    );
    withdraw(&app, &c["id"]).await;
    let body = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(body["allowed"], false);
    assert_eq!(sources(&body), vec!["registry"]);
}

#[tokio::test]
async fn without_the_operator_opting_in_a_consent_exempts_from_nothing() {
    let app = TestApp::spawn().await;
    let r = app
        .upload("robinson", "", b"numer\n601234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded");
    give(&app, consent("601234567", "acme")).await;
    let body = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(body["allowed"], false);
    assert_eq!(sources(&body), vec!["registry"]);
    let r = app.get("/v1/registries/robinson", ADMIN_KEY).await;
    assert_eq!(r.body["consent_exempts"], false);
}

#[tokio::test]
async fn the_exemption_needs_a_consent_for_the_calls_purpose() {
    let app = exempting_app().await;
    let mut surveys = consent("601234567", "acme");
    surveys["purpose"] = json!("surveys");
    give(&app, surveys).await;
    // Without a policy a call is for marketing: a surveys consent does not exempt it.
    assert_eq!(
        check(&app, "601234567", Some("acme"), None).await["allowed"],
        false
    );
    // A campaign for surveys: it does.
    put_policy(
        &app,
        "clients/acme/campaigns/ankieta",
        json!({"consent_required": false, "purpose": "surveys"}),
    )
    .await;
    let body = check(&app, "601234567", Some("acme"), Some("ankieta")).await;
    assert_eq!(body["allowed"], true, "{body}");
    assert_eq!(body["exemptions"][0]["exempted_by"]["purpose"], "surveys");
}

#[tokio::test]
async fn consent_required_and_exemption_together_need_one_consent() {
    let app = exempting_app().await;
    put_policy(&app, "clients/acme", json!({"consent_required": true})).await;
    // No consent: blocked twice over.
    let body = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(sources(&body), vec!["consent:no_consent", "registry"]);
    // One consent meets the policy and exempts from the registry.
    let c = give(&app, consent("601234567", "acme")).await;
    let body = check(&app, "601234567", Some("acme"), None).await;
    assert_eq!(body["allowed"], true, "{body}");
    assert_eq!(body["consent"]["consent_id"], c["id"]);
    assert_eq!(body["exemptions"][0]["exempted_by"]["consent_id"], c["id"]);
}
