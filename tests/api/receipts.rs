//! Decision receipts, checked by an independent verifier: the `openssl` command (hashing,
//! base64 and Ed25519 all done by OpenSSL, not by tarcza's code), and by
//! `POST /v1/receipts/verify`.

use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use serde_json::{json, Value};
use tarcza::http::AppState;
use tarcza::receipts::{ReceiptKey, Receipts};

use crate::helpers::{csv, numbers, TestApp, ADMIN_KEY};
use crate::net::Tarcza;

fn openssl(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (OpenSSL 3) is needed for these tests")
}

fn unbase64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// SHA-256 of `bytes`, computed by `openssl dgst`.
fn openssl_sha256(bytes: &[u8], dir: &Path) -> Vec<u8> {
    std::fs::write(dir.join("in.bin"), bytes).unwrap();
    let out = openssl(
        &["dgst", "-sha256", "-binary", "-out", "digest.bin", "in.bin"],
        dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("digest.bin")).unwrap()
}

/// Verifies `receipt` against the PEM public key as a third party would, with openssl
/// doing every hash, the base64 and the signature. `Err` says which check failed.
fn openssl_verifies(receipt: &Value, public_pem: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // The leaf, then up the path: SHA-256(0x00 ‖ claims), SHA-256(0x01 ‖ left ‖ right).
    let mut leaf = vec![0u8];
    leaf.extend_from_slice(receipt["claims"].as_str().unwrap().as_bytes());
    let mut h = openssl_sha256(&leaf, dir);
    for step in receipt["path"].as_array().unwrap() {
        let step = step.as_str().unwrap();
        let sibling = unbase64(&step[2..]);
        let mut node = vec![1u8];
        match &step[..2] {
            "L:" => node.extend(sibling.iter().chain(&h)),
            "R:" => node.extend(h.iter().chain(&sibling)),
            other => return Err(format!("step side {other}")),
        }
        h = openssl_sha256(&node, dir);
    }
    let signed_text = receipt["signed"].as_str().unwrap();
    let signed: Value = serde_json::from_str(signed_text).unwrap();
    let root: String = h.iter().map(|b| format!("{b:02x}")).collect();
    if signed["merkle_root"] != root.as_str() {
        return Err(format!(
            "root {root} is not the signed {}",
            signed["merkle_root"]
        ));
    }
    std::fs::write(dir.join("pub.pem"), public_pem).unwrap();
    std::fs::write(dir.join("signed.bin"), signed_text).unwrap();
    std::fs::write(dir.join("sig.b64"), receipt["signature"].as_str().unwrap()).unwrap();
    let out = openssl(
        &["base64", "-d", "-A", "-in", "sig.b64", "-out", "sig.bin"],
        dir,
    );
    assert!(out.status.success());
    let out = openssl(
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            "pub.pem",
            "-rawin",
            "-in",
            "signed.bin",
            "-sigfile",
            "sig.bin",
        ],
        dir,
    );
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    if out.status.success() && said.contains("Signature Verified Successfully") {
        Ok(())
    } else {
        Err(format!(
            "openssl: {said} {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The published PEM of key `id`, as served without an API key.
async fn public_pem(app: &TestApp, id: &str) -> String {
    let r = app
        .call(axum::http::Method::GET, "/v1/receipts/keys", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let key = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("key {id} not published: {}", r.body));
    key["public_key_pem"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_check_answer_carries_a_receipt_that_openssl_verifies() {
    let app = TestApp::spawn().await;
    app.upload("robinson", "", csv(&numbers(10, 0))).await;
    app.block("601234567").await;
    for (number, blocked) in [
        ("601234567", true),
        ("600000003", true),
        ("501234567", false),
    ] {
        let r = app.check(number).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let receipt = &r.body["receipt"];
        let claims: Value = serde_json::from_str(receipt["claims"].as_str().unwrap()).unwrap();
        // The claims are the answer: number, verdict, reasons, data, time.
        assert_eq!(claims["kind"], "check");
        assert_eq!(claims["number"], r.body["number"]);
        assert_eq!(claims["allowed"], !blocked);
        assert_eq!(claims["allowed"], r.body["allowed"]);
        assert_eq!(claims["reasons"], r.body["reasons"]);
        assert_eq!(claims["snapshot_version"], r.body["snapshot_version"]);
        assert_eq!(claims["checked_at"], r.body["checked_at"]);
        assert!(
            claims["registries"]["robinson"].as_i64().is_some(),
            "{claims}"
        );
        let signed: Value = serde_json::from_str(receipt["signed"].as_str().unwrap()).unwrap();
        assert_eq!(signed["key_id"], receipt["key_id"]);
        let pem = public_pem(&app, receipt["key_id"].as_str().unwrap()).await;
        openssl_verifies(receipt, &pem).unwrap();
    }
}

#[tokio::test]
async fn the_scope_asked_for_is_in_the_receipt() {
    let app = TestApp::spawn().await;
    let r = app
        .get(
            "/v1/check?number=601234567&client=Acme&campaign=Lato",
            ADMIN_KEY,
        )
        .await;
    let claims: Value =
        serde_json::from_str(r.body["receipt"]["claims"].as_str().unwrap()).unwrap();
    assert_eq!(claims["client"], "Acme");
    assert_eq!(claims["campaign"], "Lato");
}

#[tokio::test]
async fn a_tampered_receipt_is_refused_by_openssl_and_by_tarcza() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let answer = app.check("601234567").await.body;
    let receipt = answer["receipt"].clone();
    let pem = public_pem(&app, receipt["key_id"].as_str().unwrap()).await;
    openssl_verifies(&receipt, &pem).unwrap();

    // "blocked" turned into "allowed" in the claims.
    let mut forged = receipt.clone();
    let claims = receipt["claims"].as_str().unwrap();
    assert!(claims.contains("\"allowed\":false"));
    forged["claims"] = json!(claims.replace("\"allowed\":false", "\"allowed\":true"));
    let e = openssl_verifies(&forged, &pem).unwrap_err();
    assert!(e.contains("is not the signed"), "{e}");
    // A signed statement changed to name the forged claims' root.
    let mut restated = forged.clone();
    let mut signed: Value = serde_json::from_str(receipt["signed"].as_str().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut leaf = vec![0u8];
    leaf.extend_from_slice(forged["claims"].as_str().unwrap().as_bytes());
    let root: String = openssl_sha256(&leaf, dir.path())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    signed["merkle_root"] = json!(root);
    restated["signed"] = json!(signed.to_string());
    let e = openssl_verifies(&restated, &pem).unwrap_err();
    assert!(e.contains("openssl"), "{e}");

    let verify = |body: Value| app.post("/v1/receipts/verify", ADMIN_KEY, body);
    let r = verify(receipt.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["valid"], true, "{}", r.body);
    assert_eq!(r.body["claims"]["allowed"], false);
    assert_eq!(verify(answer.clone()).await.body["valid"], true);
    for bad in [forged, restated] {
        let r = verify(bad).await;
        assert_eq!(r.body["valid"], false, "{}", r.body);
    }
    // An answer whose verdict was changed next to an intact receipt.
    let mut lying = answer.clone();
    lying["allowed"] = json!(true);
    lying["reasons"] = json!([]);
    let r = verify(lying).await;
    assert_eq!(r.body["valid"], false, "{}", r.body);
    assert!(
        r.body["problem"].as_str().unwrap().contains("allowed"),
        "{}",
        r.body
    );
    let r = verify(json!({"hello": 1})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test]
async fn a_batch_answer_carries_one_receipt_over_its_exact_results() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let body = json!({"numbers": ["601234567", "501234567", "not a number"], "client": "acme"});
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/v1/check")
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let res = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let raw = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&raw).unwrap();
    let receipt = &answer["receipt"];
    let claims: Value = serde_json::from_str(receipt["claims"].as_str().unwrap()).unwrap();
    assert_eq!(claims["kind"], "batch");
    assert_eq!(claims["count"], 3);
    assert_eq!(claims["client"], "acme");
    // The results array, as the bytes sent: the body starts with it.
    let text = std::str::from_utf8(&raw).unwrap();
    let start = "{\"results\":".len();
    let end = text.find(",\"snapshot_version\":").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let digest: String = openssl_sha256(&text.as_bytes()[start..end], dir.path())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(claims["results_sha256"], digest.as_str());
    let pem = public_pem(&app, receipt["key_id"].as_str().unwrap()).await;
    openssl_verifies(receipt, &pem).unwrap();

    // tarcza's own check takes the body as received, and notices a changed result.
    let req = |bytes: Vec<u8>| {
        axum::http::Request::builder()
            .method("POST")
            .uri("/v1/receipts/verify")
            .header("authorization", format!("Bearer {ADMIN_KEY}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(bytes))
            .unwrap()
    };
    let r = app.send(req(raw.to_vec())).await;
    assert_eq!(r.body["valid"], true, "{}", r.body);
    let changed = text.replacen("\"allowed\":false", "\"allowed\":true", 1);
    let r = app.send(req(changed.into_bytes())).await;
    assert_eq!(r.body["valid"], false, "{}", r.body);
}

#[tokio::test]
async fn concurrent_checks_share_signatures_and_every_receipt_verifies() {
    let app = TestApp::spawn().await;
    let checks = (0..64).map(|i| {
        let app = &app;
        async move { app.check(&format!("6012345{i:02}")).await.body }
    });
    let answers = futures_util::future::join_all(checks).await;
    let key_id = answers[0]["receipt"]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pem = public_pem(&app, &key_id).await;
    let mut signatures = std::collections::HashSet::new();
    for a in &answers {
        signatures.insert(a["receipt"]["signature"].as_str().unwrap().to_string());
    }
    // Each on its own, by openssl: the first of every signature's batch, and a sample.
    let mut first_of = std::collections::HashSet::new();
    for (i, a) in answers.iter().enumerate() {
        let sig = a["receipt"]["signature"].as_str().unwrap();
        if first_of.insert(sig.to_string()) || i % 9 == 0 || i == answers.len() - 1 {
            openssl_verifies(&a["receipt"], &pem).unwrap();
        }
    }
    println!("64 concurrent checks, {} signatures", signatures.len());
}

#[tokio::test]
async fn a_receipt_issued_before_a_key_rotation_still_verifies_after_it() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old.pem"), dir.path().join("new.pem"));
    for path in [&old, &new] {
        // Keys made by openssl, as the README tells operators to make them.
        let out = openssl(
            &[
                "genpkey",
                "-algorithm",
                "ed25519",
                "-out",
                path.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut before = Tarcza::start_with(
        &app.db_url,
        &[("TARCZA_RECEIPT_KEY_FILE", old.to_str().unwrap())],
    )
    .await;
    let r = before
        .call("GET", "/v1/check?number=601234567", None)
        .await
        .unwrap();
    let old_receipt = r.body["receipt"].clone();
    let old_id = old_receipt["key_id"].as_str().unwrap().to_string();
    before.kill();

    let after = Tarcza::start_with(
        &app.db_url,
        &[("TARCZA_RECEIPT_KEY_FILE", new.to_str().unwrap())],
    )
    .await;
    let r = after
        .call("GET", "/v1/check?number=601234567", None)
        .await
        .unwrap();
    let new_id = r.body["receipt"]["key_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id, "the new key signs");
    let keys = after.call("GET", "/v1/receipts/keys", None).await.unwrap();
    assert_eq!(keys.body["signing_key_id"], new_id.as_str());
    let published: Vec<&Value> = keys.body["keys"].as_array().unwrap().iter().collect();
    let old_key = published
        .iter()
        .find(|k| k["id"] == old_id.as_str())
        .unwrap();
    assert!(old_key["valid_from"].is_string());
    assert!(published.iter().any(|k| k["id"] == new_id.as_str()));
    // The old receipt verifies with the old key as the new process publishes it…
    openssl_verifies(&old_receipt, old_key["public_key_pem"].as_str().unwrap()).unwrap();
    // …not with the new one…
    let new_key = published
        .iter()
        .find(|k| k["id"] == new_id.as_str())
        .unwrap();
    assert!(openssl_verifies(&old_receipt, new_key["public_key_pem"].as_str().unwrap()).is_err());
    // …and the new process says it is valid.
    let r = after
        .call("POST", "/v1/receipts/verify", Some(&old_receipt))
        .await
        .unwrap();
    assert_eq!(r.body["valid"], true, "{:?}", r.body);
}

#[tokio::test]
async fn with_receipts_off_answers_carry_none() {
    let app = TestApp::spawn_with(|c| c.receipts = false).await;
    let r = app.check("601234567").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.get("receipt").is_none(), "{}", r.body);
}

#[tokio::test]
async fn receipts_signed_by_another_replica_verify_everywhere() {
    let app = TestApp::spawn().await;
    let other = AppState::new(app.state.db.clone(), (*app.state.settings).clone()).with_receipts(
        Receipts::new(ReceiptKey::from_seed(&[9; 32]), Some(app.state.db.clone())),
    );
    other.receipts.register(&other.db).await.unwrap();
    other.index.refresh(&other.db).await.unwrap();
    let other = TestApp::with_state(other, app.db_url.clone());
    let receipt = other.check("601234567").await.body["receipt"].clone();
    let r = app.post("/v1/receipts/verify", ADMIN_KEY, receipt).await;
    assert_eq!(r.body["valid"], true, "{}", r.body);
}

#[tokio::test]
async fn a_receipt_binds_the_whole_verdict_with_its_consent_and_exemptions() {
    let app = TestApp::spawn_with(|c| {
        c.registries.push(tarcza::config::RegistryConfig {
            consent_exempts: true,
            ..tarcza::config::RegistryConfig::unconfigured("robinson")
        })
    })
    .await;
    let r = app
        .upload("robinson", "", b"numer\n601234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    let r = app
        .call(
            axum::http::Method::PUT,
            "/v1/policies/clients/acme",
            Some(ADMIN_KEY),
            Some(json!({"consent_required": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = crate::consents::give(&app, crate::consents::consent("601234567", "acme")).await;

    // Allowed only thanks to the consent: the receipt says which one, and what it exempted.
    let answer = app
        .get("/v1/check?number=601234567&client=acme", ADMIN_KEY)
        .await
        .body;
    assert_eq!(answer["allowed"], true, "{answer}");
    let receipt = &answer["receipt"];
    let claims: Value = serde_json::from_str(receipt["claims"].as_str().unwrap()).unwrap();
    assert_eq!(claims["consent"]["consent_id"], c["id"], "{claims}");
    assert_eq!(claims["consent"], answer["consent"]);
    assert_eq!(claims["exemptions"], answer["exemptions"]);
    assert_eq!(claims["exemptions"][0]["registry"], "robinson", "{claims}");
    let pem = public_pem(&app, receipt["key_id"].as_str().unwrap()).await;
    openssl_verifies(receipt, &pem).unwrap();

    // Without a client the same number is blocked, and its receipt has neither.
    let plain = app.check("601234567").await.body;
    let claims: Value = serde_json::from_str(plain["receipt"]["claims"].as_str().unwrap()).unwrap();
    assert_eq!(claims["allowed"], false);
    assert!(claims.get("consent").is_none() && claims.get("exemptions").is_none());

    // An answer whose exemption was taken away next to its intact receipt is refused.
    let verify = |body: Value| app.post("/v1/receipts/verify", ADMIN_KEY, body);
    assert_eq!(verify(answer.clone()).await.body["valid"], true);
    let mut lying = answer.clone();
    lying.as_object_mut().unwrap().remove("exemptions");
    let r = verify(lying).await;
    assert_eq!(r.body["valid"], false, "{}", r.body);
    assert!(
        r.body["problem"].as_str().unwrap().contains("exemptions"),
        "{}",
        r.body
    );
}
