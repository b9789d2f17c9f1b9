use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, ADMIN_KEY};

#[tokio::test]
async fn check_answers_503_not_ready_before_the_first_snapshot() {
    let app = TestApp::spawn_unloaded().await;
    let r = app.check("601234567").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"]["code"], "not_ready");
}

#[tokio::test]
async fn a_number_nobody_objected_to_may_be_called() {
    let app = TestApp::spawn().await;
    let r = app.check("+48 601 234 567").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["number"], "+48601234567");
    assert_eq!(r.body["allowed"], true);
    assert_eq!(r.body["reasons"], json!([]));
    assert!(r.body["snapshot_version"].as_i64().unwrap() > 0);
    assert!(r.body["checked_at"].is_string());
}

#[tokio::test]
async fn every_spelling_of_a_blocked_number_is_blocked() {
    let app = TestApp::spawn().await;
    app.block("+48 601 234 567").await;
    for spelling in [
        "601234567",
        "0048601234567",
        "48601234567",
        "601-234-567",
        "tel:+48-601-234-567",
        "+48\u{a0}601\u{a0}234\u{a0}567",
        "６０１２３４５６７",
        "601 234 567 wew. 12",
    ] {
        assert!(
            !app.allowed(spelling).await,
            "{spelling:?} should be blocked"
        );
    }
    assert!(app.allowed("601234568").await);
}

#[tokio::test]
async fn an_invalid_number_is_422_naming_the_input() {
    let app = TestApp::spawn().await;
    for bad in ["12", "601-CALL-NOW", "601234567, 602345678", "hello"] {
        let r = app.check(bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert_eq!(r.body["error"]["code"], "invalid_number");
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(bad),
            "{}",
            r.body
        );
    }
    let r = app.get("/v1/check", ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["error"]["code"], "missing_number");
}

#[tokio::test]
async fn reasons_list_every_source_that_blocks_the_number() {
    let app = TestApp::spawn().await;
    let entry = app.block("601234567").await;
    let r = app
        .upload("robinson", "", b"phone\n601234567\n501234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);

    let r = app.check("601234567").await;
    assert_eq!(r.body["allowed"], false);
    let reasons = r.body["reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 2, "{}", r.body);
    assert_eq!(reasons[0]["source"], "dnc");
    assert_eq!(reasons[0]["entry_id"], entry["id"]);
    assert_eq!(reasons[0]["scope"], "global");
    assert_eq!(reasons[0]["reason"], "customer asked");
    assert_eq!(
        reasons[1],
        json!({"source": "registry", "registry": "robinson"})
    );
}

#[tokio::test]
async fn batch_results_come_back_in_input_order_with_errors_per_item() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let r = app
        .post(
            "/v1/check",
            ADMIN_KEY,
            json!({"numbers": ["501234567", "not a number", "+48 601-234-567", "601234567"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["input"], "501234567");
    assert_eq!(results[0]["allowed"], true);
    assert_eq!(results[1]["input"], "not a number");
    assert_eq!(results[1]["error"]["code"], "invalid_number");
    assert!(results[1].get("allowed").is_none());
    assert_eq!(results[2]["number"], "+48601234567");
    assert_eq!(results[2]["allowed"], false);
    assert_eq!(results[3]["allowed"], false);
}

#[tokio::test]
async fn batch_is_limited_to_ten_thousand_numbers() {
    let app = TestApp::spawn().await;
    let ok: Vec<String> = (0..10_000).map(|i| format!("60{:07}", i)).collect();
    let r = app
        .post("/v1/check", ADMIN_KEY, json!({ "numbers": ok }))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 10_000);

    let too_many: Vec<String> = (0..10_001).map(|i| format!("60{:07}", i)).collect();
    let r = app
        .post("/v1/check", ADMIN_KEY, json!({ "numbers": too_many }))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["error"]["code"], "batch_too_large");
}

#[tokio::test]
async fn check_scopes_apply_to_their_client_and_campaign() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601234567", "client": "acme"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "501234567", "campaign": "summer"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    let allowed = |uri: String| {
        let app = &app;
        async move {
            let r = app.get(&uri, ADMIN_KEY).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.body["allowed"].as_bool().unwrap()
        }
    };
    assert!(!allowed("/v1/check?number=601234567&client=acme".into()).await);
    assert!(allowed("/v1/check?number=601234567&client=other".into()).await);
    assert!(allowed("/v1/check?number=601234567".into()).await);
    assert!(!allowed("/v1/check?number=501234567&client=x&campaign=summer".into()).await);
    assert!(allowed("/v1/check?number=501234567&client=x&campaign=winter".into()).await);
}

/// Every answer, the hot `/v1/check` and its refusals among them, names its request: an id
/// of its own, unique, or the one the caller sent.
#[tokio::test]
async fn every_answer_carries_a_request_id_of_its_own_or_the_callers() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    let app = TestApp::spawn().await;
    let id_of = |uri: &str, sent: Option<&str>| {
        let mut req = Request::get(uri).header("authorization", format!("Bearer {ADMIN_KEY}"));
        if let Some(id) = sent {
            req = req.header("x-request-id", id);
        }
        let req = req.body(Body::empty()).unwrap();
        let router = app.router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            let id = res
                .headers()
                .get("x-request-id")
                .map(|v| v.to_str().unwrap().to_string());
            (
                res.status(),
                id.unwrap_or_else(|| panic!("no x-request-id ({})", res.status())),
            )
        }
    };
    let mut seen = std::collections::HashSet::new();
    for (uri, status) in [
        ("/v1/check?number=601234567", StatusCode::OK),
        ("/v1/check?number=12", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "/v1/check?number=601234567&Client=acme",
            StatusCode::BAD_REQUEST,
        ),
        ("/v1/registries", StatusCode::OK),
        ("/v1/nothing-here", StatusCode::NOT_FOUND),
    ] {
        for _ in 0..3 {
            let (got, id) = id_of(uri, None).await;
            assert_eq!(got, status, "{uri}");
            let (tag, sequence) = id.split_once('-').unwrap();
            assert!(
                tag.len() == 8 && tag.bytes().all(|b| b.is_ascii_hexdigit()),
                "{id}"
            );
            assert!(sequence.parse::<u64>().is_ok(), "{id}");
            assert!(seen.insert(id.clone()), "{id} given twice");
        }
    }
    let (_, id) = id_of("/v1/check?number=601234567", Some("dialer-7f3a")).await;
    assert_eq!(id, "dialer-7f3a");
}
