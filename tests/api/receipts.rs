//! Decision receipts, checked by an independent verifier: the `openssl` command (hashing,
//! base64 and Ed25519 all done by OpenSSL, not by tarcza's code) over the answer's bytes as
//! received, and by `POST /v1/receipts/verify`.

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

/// Where a format-2 answer's receipt begins: it signs the bytes before it.
const MEMBER: &[u8] = b",\"receipt\":";

/// Verifies the answer `body` (its bytes as received) against the PEM public key as a
/// third party would, with openssl doing every hash, the base64 and the signature.
/// Returns the signed answer; `Err` says which check failed.
fn openssl_verifies(body: &[u8], public_pem: &str) -> Result<Value, String> {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let cut = body
        .windows(MEMBER.len())
        .rposition(|w| w == MEMBER)
        .ok_or("no receipt")?;
    let mut answer = body[..cut].to_vec();
    answer.push(b'}');
    let receipt: Value = serde_json::from_slice(&body[cut + MEMBER.len()..body.len() - 1])
        .map_err(|e| format!("the receipt does not end the answer: {e}"))?;
    assert_eq!(receipt["v"], 2, "{receipt}");
    // The leaf, then up the path: SHA-256(0x00 ‖ answer) — or, when the receipt says
    // "leaf":"blake3" (a batch answer), SHA-256(0x02 ‖ BLAKE3(answer)), the BLAKE3 by the
    // BLAKE3 team's crate — then SHA-256(0x01 ‖ left ‖ right).
    let leaf = match receipt.get("leaf").map(|l| l.as_str()) {
        None => [&[0u8][..], &answer].concat(),
        Some(Some("blake3")) => [&[2u8][..], blake3::hash(&answer).as_bytes()].concat(),
        Some(other) => return Err(format!("a leaf of {other:?}")),
    };
    let mut h = openssl_sha256(&leaf, dir);
    let path = openssl_unbase64(receipt["path"].as_str().unwrap(), dir);
    if !path.len().is_multiple_of(33) {
        return Err(format!("a path of {} bytes", path.len()));
    }
    for step in path.chunks(33) {
        let sibling = &step[1..];
        let mut node = vec![1u8];
        match step[0] {
            0 => node.extend(sibling.iter().chain(&h)),
            1 => node.extend(h.iter().chain(sibling)),
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
    std::fs::write(
        dir.join("sig.bin"),
        openssl_unbase64(receipt["signature"].as_str().unwrap(), dir),
    )
    .unwrap();
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
        Ok(serde_json::from_slice(&answer).unwrap())
    } else {
        Err(format!(
            "openssl: {said} {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// `text` decoded from base64 by `openssl base64`.
fn openssl_unbase64(text: &str, dir: &Path) -> Vec<u8> {
    if text.is_empty() {
        return Vec::new();
    }
    std::fs::write(dir.join("in.b64"), text).unwrap();
    let out = openssl(
        &["base64", "-d", "-A", "-in", "in.b64", "-out", "out.bin"],
        dir,
    );
    assert!(out.status.success());
    std::fs::read(dir.join("out.bin")).unwrap()
}

/// The answer `body` without its receipt, parsed: what it says outside the receipt.
fn unsealed(body: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    v.as_object_mut().unwrap().remove("receipt");
    v
}

/// A request's status and the body's bytes, as received.
async fn raw(
    app: &TestApp,
    method: &str,
    uri: &str,
    body: Option<Vec<u8>>,
) -> (StatusCode, Vec<u8>) {
    let req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {ADMIN_KEY}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.unwrap_or_default()))
        .unwrap();
    app.send_raw(req).await
}

/// `POST /v1/receipts/verify` with `body` as its exact bytes.
async fn verify_bytes(app: &TestApp, body: &[u8]) -> Value {
    let (status, bytes) = raw(app, "POST", "/v1/receipts/verify", Some(body.to_vec())).await;
    let answer: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

fn key_id(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap();
    v["receipt"]["key_id"].as_str().unwrap().to_string()
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
        let (status, body) = raw(&app, "GET", &format!("/v1/check?number={number}"), None).await;
        assert_eq!(status, StatusCode::OK);
        let pem = public_pem(&app, &key_id(&body)).await;
        let signed = openssl_verifies(&body, &pem).unwrap();
        // The receipt signs the answer itself: everything in it but the receipt.
        assert_eq!(signed, unsealed(&body));
        assert_eq!(signed["allowed"], !blocked);
        assert!(signed.get("client").is_none(), "{signed}");
        // The data it was decided on: the snapshot version and each registry's generation.
        assert!(signed["snapshot_version"].as_i64().is_some(), "{signed}");
        assert!(
            signed["registries"]["robinson"].as_i64().is_some(),
            "{signed}"
        );
        assert!(signed["checked_at"].is_string());
    }
}

#[tokio::test]
async fn the_scope_asked_for_is_in_the_answer_and_signed() {
    let app = TestApp::spawn().await;
    let (_, body) = raw(
        &app,
        "GET",
        "/v1/check?number=601234567&client=Acme&campaign=Lato",
        None,
    )
    .await;
    let pem = public_pem(&app, &key_id(&body)).await;
    let signed = openssl_verifies(&body, &pem).unwrap();
    assert_eq!(signed["client"], "Acme");
    assert_eq!(signed["campaign"], "Lato");
}

#[tokio::test]
async fn a_tampered_answer_is_refused_by_openssl_and_by_tarcza() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let (_, body) = raw(&app, "GET", "/v1/check?number=601234567", None).await;
    let pem = public_pem(&app, &key_id(&body)).await;
    openssl_verifies(&body, &pem).unwrap();
    let r = verify_bytes(&app, &body).await;
    assert_eq!(r["valid"], true, "{r}");
    assert_eq!(r["format"], 2, "{r}");
    assert_eq!(r["answer"], unsealed(&body), "{r}");
    assert_eq!(r["key"]["id"], key_id(&body).as_str(), "{r}");

    let text = std::str::from_utf8(&body).unwrap();
    assert_eq!(text.matches("\"allowed\":false").count(), 1, "{text}");
    assert_eq!(text.matches("\"source\":\"dnc\"").count(), 1, "{text}");
    let tampered = [
        // One byte of the verdict; one byte of a reason; the verdict turned round.
        text.replace("\"allowed\":false", "\"allowed\":fAlse"),
        text.replace("\"source\":\"dnc\"", "\"source\":\"dnC\""),
        text.replace("\"allowed\":false", "\"allowed\":true"),
    ];
    for forged in &tampered {
        let e = openssl_verifies(forged.as_bytes(), &pem).unwrap_err();
        assert!(e.contains("is not the signed"), "{e}");
        let r = app
            .send(
                axum::http::Request::post("/v1/receipts/verify")
                    .header("authorization", format!("Bearer {ADMIN_KEY}"))
                    .header("content-type", "application/json")
                    .body(axum::body::Body::from(forged.clone()))
                    .unwrap(),
            )
            .await;
        if r.status == StatusCode::OK {
            assert_eq!(r.body["valid"], false, "{}", r.body);
            assert!(
                r.body["problem"].as_str().unwrap().contains("altered"),
                "{}",
                r.body
            );
        } else {
            // Not JSON any more ("fAlse"): refused before any receipt is read.
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        }
    }
    // A member after the receipt: a JSON reader would see it, the signature does not cover it.
    let appended = format!("{},\"allowed\":true}}", &text[..text.len() - 1]);
    assert!(openssl_verifies(appended.as_bytes(), &pem).is_err());
    let r = verify_bytes(&app, appended.as_bytes()).await;
    assert_eq!(r["valid"], false, "{r}");
    // The statement restated to name the forged answer's root: the signature fails.
    let cut = text.rfind(",\"receipt\":").unwrap();
    let forged = format!("{}}}", &text[..cut]).replace("\"allowed\":false", "\"allowed\":true");
    let mut receipt: Value = serde_json::from_str(&text[cut + 11..text.len() - 1]).unwrap();
    let mut signed: Value = serde_json::from_str(receipt["signed"].as_str().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let leaf = [&[0u8][..], forged.as_bytes()].concat();
    let root: String = openssl_sha256(&leaf, dir.path())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    signed["merkle_root"] = json!(root);
    receipt["signed"] = json!(signed.to_string());
    receipt["path"] = json!("");
    let restated = format!("{},\"receipt\":{receipt}}}", &forged[..forged.len() - 1]);
    let e = openssl_verifies(restated.as_bytes(), &pem).unwrap_err();
    assert!(e.contains("openssl"), "{e}");
    let r = verify_bytes(&app, restated.as_bytes()).await;
    assert_eq!(r["valid"], false, "{r}");
    assert!(r["problem"].as_str().unwrap().contains("signature"), "{r}");
    // Re-serialized (as a JSON library would): not the bytes signed, and said so.
    let reserialized =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let r = verify_bytes(&app, &reserialized).await;
    assert_eq!(r["valid"], false, "{r}");
    assert!(r["problem"].as_str().unwrap().contains("exactly as"), "{r}");
    let r = app
        .post("/v1/receipts/verify", ADMIN_KEY, json!({"hello": 1}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test]
async fn a_batch_answer_carries_one_receipt_over_the_whole_answer() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let request = json!({"numbers": ["601234567", "501234567", "not a number"], "client": "acme"});
    let (status, body) = raw(
        &app,
        "POST",
        "/v1/check",
        Some(request.to_string().into_bytes()),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let pem = public_pem(&app, &key_id(&body)).await;
    let signed = openssl_verifies(&body, &pem).unwrap();
    assert_eq!(signed, unsealed(&body));
    let receipt = &serde_json::from_slice::<Value>(&body).unwrap()["receipt"];
    assert_eq!(receipt["leaf"], "blake3", "{receipt}");
    assert_eq!(signed["client"], "acme");
    assert_eq!(signed["results"][0]["allowed"], false);
    assert_eq!(signed["results"][1]["allowed"], true);
    assert_eq!(signed["results"][2]["error"]["code"], "invalid_number");
    assert!(signed["registries"].is_object(), "{signed}");

    // tarcza's own check takes the body as received, and notices a changed result.
    let r = verify_bytes(&app, &body).await;
    assert_eq!(r["valid"], true, "{r}");
    assert_eq!(r["answer"]["results"], signed["results"]);
    let text = std::str::from_utf8(&body).unwrap();
    let changed = text.replacen("\"allowed\":false", "\"allowed\":true", 1);
    assert!(openssl_verifies(changed.as_bytes(), &pem).is_err());
    let r = verify_bytes(&app, changed.as_bytes()).await;
    assert_eq!(r["valid"], false, "{r}");

    // The leaf's kind is not signed, but the other kind of leaf leads to another root:
    // without its "leaf" the batch's receipt does not verify, nor a single answer's with
    // "leaf":"blake3" added.
    let unmarked = text.replacen(r#""leaf":"blake3","#, "", 1);
    assert_ne!(unmarked, text);
    assert!(openssl_verifies(unmarked.as_bytes(), &pem).is_err());
    let r = verify_bytes(&app, unmarked.as_bytes()).await;
    assert_eq!(r["valid"], false, "{r}");
    let (_, one) = raw(&app, "GET", "/v1/check?number=601234567", None).await;
    let one = std::str::from_utf8(&one).unwrap();
    assert!(!one.contains(r#""leaf""#), "{one}");
    openssl_verifies(one.as_bytes(), &pem).unwrap();
    let marked = one.replacen(
        r#""receipt":{"v":2,"#,
        r#""receipt":{"v":2,"leaf":"blake3","#,
        1,
    );
    assert_ne!(marked, one);
    assert!(openssl_verifies(marked.as_bytes(), &pem).is_err());
    let r = verify_bytes(&app, marked.as_bytes()).await;
    assert_eq!(r["valid"], false, "{r}");
}

#[tokio::test]
async fn concurrent_checks_share_signatures_and_every_receipt_verifies() {
    let app = TestApp::spawn().await;
    let checks = (0..64).map(|i| {
        let app = &app;
        async move {
            raw(app, "GET", &format!("/v1/check?number=6012345{i:02}"), None)
                .await
                .1
        }
    });
    let answers = futures_util::future::join_all(checks).await;
    let pem = public_pem(&app, &key_id(&answers[0])).await;
    let signature = |body: &[u8]| {
        let v: Value = serde_json::from_slice(body).unwrap();
        v["receipt"]["signature"].as_str().unwrap().to_string()
    };
    let mut signatures = std::collections::HashSet::new();
    // Each on its own, by openssl: the first of every signature's batch, and a sample.
    for (i, a) in answers.iter().enumerate() {
        if signatures.insert(signature(a)) || i % 9 == 0 || i == answers.len() - 1 {
            let signed = openssl_verifies(a, &pem).unwrap();
            assert_eq!(signed["number"], format!("+486012345{i:02}"));
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
    let old_answer = before
        .call("GET", "/v1/check?number=601234567", None)
        .await
        .unwrap()
        .raw;
    let old_id = key_id(&old_answer);
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
    let new_id = key_id(&r.raw);
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
    // The old answer verifies with the old key as the new process publishes it…
    openssl_verifies(&old_answer, old_key["public_key_pem"].as_str().unwrap()).unwrap();
    // …not with the new one…
    let new_key = published
        .iter()
        .find(|k| k["id"] == new_id.as_str())
        .unwrap();
    assert!(openssl_verifies(&old_answer, new_key["public_key_pem"].as_str().unwrap()).is_err());
    // …and the new process says it is valid.
    let r = crate::net::request(
        after.addr,
        "POST",
        "/v1/receipts/verify",
        Some(ADMIN_KEY),
        Some(("application/json", &old_answer)),
    )
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
    assert!(r.body["registries"].is_object(), "{}", r.body);
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
    let (_, body) = raw(&other, "GET", "/v1/check?number=601234567", None).await;
    let r = verify_bytes(&app, &body).await;
    assert_eq!(r["valid"], true, "{r}");
}

#[tokio::test]
async fn receipts_of_format_1_issued_before_format_2_still_verify() {
    use ed25519_dalek::Signer;
    use sha2::Digest;
    let app = TestApp::spawn().await;
    // A key that signed format-1 receipts, published as tarcza publishes its keys.
    let key = ReceiptKey::from_seed(&[11; 32]);
    Receipts::new(ReceiptKey::from_seed(&[11; 32]), None)
        .register(&app.state.db)
        .await
        .unwrap();
    let claims = r#"{"kind":"check","number":"+48601234567","allowed":false,"reasons":[{"source":"dnc"}],"snapshot_version":3,"registries":{},"checked_at":"2026-11-28T10:00:00Z"}"#;
    let leaf = sha2::Sha256::digest([&[0u8][..], claims.as_bytes()].concat());
    let root: String = leaf.iter().map(|b| format!("{b:02x}")).collect();
    let signed = json!({"v": 1, "key_id": key.id, "merkle_root": root,
        "signed_at": chrono::Utc::now().to_rfc3339()})
    .to_string();
    use base64::Engine;
    let signature = base64::engine::general_purpose::STANDARD
        .encode(key.signing.sign(signed.as_bytes()).to_bytes());
    let receipt = json!({"key_id": key.id, "claims": claims, "path": [], "signed": signed,
        "signature": signature});
    let r = app
        .post("/v1/receipts/verify", ADMIN_KEY, receipt.clone())
        .await;
    assert_eq!(r.body["valid"], true, "{}", r.body);
    assert_eq!(r.body["format"], 1, "{}", r.body);
    assert_eq!(r.body["claims"]["allowed"], false, "{}", r.body);
    let mut forged = receipt.clone();
    forged["claims"] = json!(claims.replace("false", "true"));
    let r = app.post("/v1/receipts/verify", ADMIN_KEY, forged).await;
    assert_eq!(r.body["valid"], false, "{}", r.body);
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

    // Allowed only thanks to the consent: the signed answer says which one, and what it
    // exempted.
    let (_, body) = raw(&app, "GET", "/v1/check?number=601234567&client=acme", None).await;
    let pem = public_pem(&app, &key_id(&body)).await;
    let answer = openssl_verifies(&body, &pem).unwrap();
    assert_eq!(answer["allowed"], true, "{answer}");
    assert_eq!(answer["consent"]["consent_id"], c["id"], "{answer}");
    assert_eq!(answer["exemptions"][0]["registry"], "robinson", "{answer}");

    // Without a client the same number is blocked, and its answer has neither.
    let (_, plain) = raw(&app, "GET", "/v1/check?number=601234567", None).await;
    let plain = openssl_verifies(&plain, &pem).unwrap();
    assert_eq!(plain["allowed"], false);
    assert!(plain.get("consent").is_none() && plain.get("exemptions").is_none());

    // An answer whose exemption was taken away next to its intact receipt is refused.
    let text = std::str::from_utf8(&body).unwrap();
    let start = text.find(",\"exemptions\":").unwrap();
    let end = text.find(",\"consent\":").unwrap();
    let lying = format!("{}{}", &text[..start], &text[end..]);
    assert!(serde_json::from_str::<Value>(&lying).is_ok(), "{lying}");
    let r = verify_bytes(&app, lying.as_bytes()).await;
    assert_eq!(r["valid"], false, "{r}");
    assert!(r["problem"].as_str().unwrap().contains("altered"), "{r}");
}
