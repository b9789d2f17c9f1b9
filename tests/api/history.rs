//! GET /v1/history: what /check answered at past instants, and a number's timeline.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tarcza::domain::Role;

use crate::helpers::{csv, numbers, sha256_hex, urlencode, TestApp, ADMIN_KEY};

const NUMBER: &str = "+48600000007";

/// One answer of /check, as it was given.
struct Seen {
    step: &'static str,
    client: Option<&'static str>,
    checked_at: String,
    body: Value,
}

async fn check(app: &TestApp, step: &'static str, client: Option<&'static str>) -> Seen {
    let mut uri = format!("/v1/check?number={}", urlencode(NUMBER));
    if let Some(c) = client {
        uri.push_str(&format!("&client={c}"));
    }
    let r = app.get(&uri, ADMIN_KEY).await;
    assert_eq!(r.status, StatusCode::OK, "{step}: {}", r.body);
    Seen {
        step,
        client,
        checked_at: r.body["checked_at"].as_str().unwrap().to_string(),
        body: r.body,
    }
}

/// Reasons in a fixed order (the snapshot keeps a number's entries in no set order).
fn sorted(reasons: &Value) -> Vec<String> {
    let mut out: Vec<String> = reasons
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    out.sort();
    out
}

fn upload_ok(r: &crate::helpers::Response) {
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
}

#[tokio::test]
async fn history_answers_what_check_answered_at_each_instant() {
    let app = TestApp::spawn().await;
    // The registry: 200 numbers, ours among them from the first import on.
    let mut registry = numbers(200, 0);
    assert!(registry.contains(&"600000007".to_string()));
    let mut seen = Vec::new();
    seen.push(check(&app, "nothing yet", None).await);

    let expiry = Utc::now() + chrono::Duration::milliseconds(4000);
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": NUMBER, "client": "acme", "reason": "said stop",
                   "expires_at": Utc::now() + chrono::Duration::milliseconds(3000)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let scoped = r.body["id"].as_i64().unwrap();
    seen.push(check(&app, "scoped entry, other call", None).await);
    seen.push(check(&app, "scoped entry, its client", Some("acme")).await);

    upload_ok(&app.upload("robinson", "", csv(&registry)).await);
    seen.push(check(&app, "registry member", Some("acme")).await);

    // A re-add that blocks longer extends the entry.
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": NUMBER, "client": "ACME", "expires_at": expiry}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"].as_i64(), Some(scoped));
    seen.push(check(&app, "extended", Some("acme")).await);

    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": NUMBER, "reason": "complaint"}),
        )
        .await;
    let global = r.body["id"].as_i64().unwrap();
    seen.push(check(&app, "global entry too", None).await);
    let r = app
        .delete(
            &format!("/v1/dnc/{global}"),
            ADMIN_KEY,
            json!({"reason": "entered by mistake"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    seen.push(check(&app, "global entry removed", None).await);

    // The next export no longer lists the number, the one after lists it again.
    registry.retain(|n| n != "600000007");
    upload_ok(&app.upload("robinson", "", csv(&registry)).await);
    seen.push(check(&app, "left the registry", None).await);
    seen.push(check(&app, "left the registry, scoped", Some("acme")).await);
    registry.push("600000007".into());
    upload_ok(&app.upload("robinson", "", csv(&registry)).await);
    seen.push(check(&app, "back in the registry", Some("acme")).await);
    registry.retain(|n| n != "600000007");
    upload_ok(&app.upload("robinson", "", csv(&registry)).await);
    seen.push(check(&app, "out again, the entry still blocks", Some("acme")).await);

    // The extended entry runs out: no write, only time.
    let wait = (expiry - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(50);
    tokio::time::sleep(wait).await;
    seen.push(check(&app, "expired", Some("acme")).await);

    let blocked: Vec<bool> = seen.iter().map(|s| s.body["allowed"] == false).collect();
    assert_eq!(
        blocked,
        [false, false, true, true, true, true, true, false, true, true, true, false],
        "the scenario itself"
    );
    assert_history_matches(&app, &seen).await;
}

#[tokio::test]
async fn history_answers_for_prefix_entries_as_check_did() {
    let app = TestApp::spawn().await;
    let add = |body: Value| app.post("/v1/dnc", ADMIN_KEY, body);
    let mut seen = vec![check(&app, "nothing yet", None).await];
    // A range block over our number, one for a client only, and one of a neighbour range.
    let r = add(json!({"prefix": "+48 600", "reason": "premium range"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let wide = r.body["id"].as_i64().unwrap();
    let r = add(json!({"prefix": "+48 601"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    seen.push(check(&app, "covered by +48 600", None).await);
    let r = add(json!({"prefix": "+48 6000 000", "client": "acme"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    seen.push(check(&app, "two prefixes for acme", Some("acme")).await);
    seen.push(check(&app, "one prefix for others", None).await);
    let r = app
        .delete(
            &format!("/v1/dnc/{wide}"),
            ADMIN_KEY,
            json!({"reason": "too wide"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    seen.push(check(&app, "wide prefix removed, acme", Some("acme")).await);
    seen.push(check(&app, "wide prefix removed", None).await);

    let blocked: Vec<bool> = seen.iter().map(|s| s.body["allowed"] == false).collect();
    assert_eq!(
        blocked,
        [false, true, true, true, true, false],
        "the scenario itself"
    );
    assert_eq!(
        seen[2].body["reasons"].as_array().unwrap().len(),
        2,
        "{}",
        seen[2].body
    );
    assert_history_matches(&app, &seen).await;

    // The answer shows each prefix entry, and says what it does not replay for a client.
    let h = app
        .get(
            &format!(
                "/v1/history?number={}&at={}&client=acme",
                urlencode(NUMBER),
                urlencode(&seen[2].checked_at)
            ),
            ADMIN_KEY,
        )
        .await;
    let prefixes: Vec<&Value> = h.body["dnc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["prefix"])
        .collect();
    assert_eq!(
        prefixes,
        [&json!("+48600"), &json!("+486000000")],
        "{}",
        h.body
    );
    assert_eq!(h.body["not_replayed"], json!([]), "{}", h.body);
    assert_eq!(h.body["policy"], Value::Null, "{}", h.body);
    let t = app
        .get(
            &format!("/v1/history?number={}", urlencode(NUMBER)),
            ADMIN_KEY,
        )
        .await;
    let added: Vec<&Value> = t.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "dnc.added")
        .map(|e| &e["prefix"])
        .collect();
    assert_eq!(
        added,
        [&json!("+48600"), &json!("+486000000")],
        "{}",
        t.body
    );
}

/// Asks history about every instant in `seen`: it must give /check's answer.
async fn assert_history_matches(app: &TestApp, seen: &[Seen]) {
    for s in seen {
        let mut uri = format!(
            "/v1/history?number={}&at={}",
            urlencode(NUMBER),
            urlencode(&s.checked_at)
        );
        if let Some(c) = s.client {
            uri.push_str(&format!("&client={c}"));
        }
        let h = app.get(&uri, ADMIN_KEY).await;
        assert_eq!(h.status, StatusCode::OK, "{}: {}", s.step, h.body);
        assert_eq!(
            h.body["allowed"], s.body["allowed"],
            "{}: {}",
            s.step, h.body
        );
        assert_eq!(
            h.body["snapshot_version"], s.body["snapshot_version"],
            "{}: {}",
            s.step, h.body
        );
        assert_eq!(
            sorted(&h.body["reasons"]),
            sorted(&s.body["reasons"]),
            "{}: {}",
            s.step,
            h.body
        );
    }
}

fn hashes(numbers: &[String], plus: bool) -> Vec<u8> {
    let mut out = String::new();
    for n in numbers {
        let text = if plus {
            format!("+48{n}")
        } else {
            format!("48{n}")
        };
        out.push_str(&sha256_hex(text));
        out.push('\n');
    }
    out.into_bytes()
}

#[tokio::test]
async fn history_follows_hashed_lists_deltas_and_a_change_of_hash_scheme() {
    let app = TestApp::spawn().await;
    let mut registry = numbers(100, 0);
    let mut seen = vec![check(&app, "empty", None).await];
    upload_ok(
        &app.upload("robinson", "format=sha256", hashes(&registry, false))
            .await,
    );
    seen.push(check(&app, "hashed member", None).await);
    // The same list hashed another way: every key changes (a forced snapshot).
    registry.retain(|n| n != "600000007");
    upload_ok(
        &app.upload(
            "robinson",
            "format=sha256&hash_scheme=e164_plus&force=true",
            hashes(&registry, true),
        )
        .await,
    );
    seen.push(check(&app, "rehashed without it", None).await);
    let delta = format!("{};A\n", sha256_hex("+48600000007"));
    upload_ok(
        &app.upload(
            "robinson",
            "mode=delta&format=sha256&hash_scheme=e164_plus",
            delta.into_bytes(),
        )
        .await,
    );
    seen.push(check(&app, "added by a delta", None).await);
    let delta = format!("{};D\n", sha256_hex("+48600000007"));
    upload_ok(
        &app.upload(
            "robinson",
            "mode=delta&format=sha256&hash_scheme=e164_plus",
            delta.into_bytes(),
        )
        .await,
    );
    seen.push(check(&app, "removed by a delta", None).await);
    upload_ok(
        &app.upload("robinson", "force=true", csv(&numbers(100, 0)))
            .await,
    );
    seen.push(check(&app, "plain numbers again", None).await);

    let blocked: Vec<bool> = seen.iter().map(|s| s.body["allowed"] == false).collect();
    assert_eq!(
        blocked,
        [false, true, false, true, false, true],
        "the scenario itself"
    );
    assert_history_matches(&app, &seen).await;
}

#[tokio::test]
async fn history_explains_an_answer_and_lists_the_timeline() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let r = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"number": NUMBER, "reason": "said stop", "source": "agent"}),
        )
        .await;
    let id = r.body["id"].as_i64().unwrap();
    let registry = numbers(100, 0);
    upload_ok(&app.upload("robinson", "", csv(&registry)).await);
    let first_import = app.get("/v1/registries/robinson", ADMIN_KEY).await.body["last_import"]
        ["id"]
        .as_i64()
        .unwrap();
    let at = Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    app.delete(
        &format!("/v1/dnc/{id}"),
        ADMIN_KEY,
        json!({"reason": "mistake"}),
    )
    .await;
    let fewer: Vec<String> = registry
        .iter()
        .filter(|n| *n != "600000007")
        .cloned()
        .collect();
    upload_ok(&app.upload("robinson", "", csv(&fewer)).await);

    let uri = format!(
        "/v1/history?number={}&at={}",
        urlencode(NUMBER),
        urlencode(&at.to_rfc3339())
    );
    let h = app.get(&uri, ADMIN_KEY).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.body);
    assert_eq!(h.body["allowed"], false);
    let entry = &h.body["dnc"][0];
    assert_eq!(entry["entry_id"], id);
    assert_eq!(entry["active"], true);
    assert_eq!(entry["blocking"], true);
    assert_eq!(entry["created_by"]["name"], "test agent");
    let robinson = &h.body["registries"][0];
    assert_eq!(robinson["registry"], "robinson");
    assert_eq!(robinson["member"], true);
    assert_eq!(robinson["added_by"]["import_id"], first_import);

    // Now: the entry is removed (by whom, why), the number out of the registry.
    let h = app
        .get(
            &format!(
                "/v1/history?number={}&at={}",
                urlencode(NUMBER),
                urlencode(&Utc::now().to_rfc3339())
            ),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(h.body["allowed"], true, "{}", h.body);
    assert_eq!(h.body["dnc"][0]["active"], false);
    assert_eq!(h.body["dnc"][0]["removal_reason"], "mistake");
    assert_eq!(h.body["registries"][0]["member"], false);
    let removed_by = h.body["registries"][0]["removed_by"]["import_id"].as_i64();
    assert!(removed_by > Some(first_import), "{}", h.body);

    let t = app
        .get(
            &format!("/v1/history?number={}", urlencode(NUMBER)),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.body);
    let events: Vec<&str> = t.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "dnc.added",
            "registry.added",
            "dnc.removed",
            "registry.removed"
        ],
        "{}",
        t.body
    );
    let times: Vec<DateTime<Utc>> = t.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{}", t.body);
}

#[tokio::test]
async fn history_refuses_instants_it_cannot_answer_for() {
    let app = TestApp::spawn().await;
    let at = |t: DateTime<Utc>| {
        format!(
            "/v1/history?number={}&at={}",
            urlencode(NUMBER),
            urlencode(&t.to_rfc3339())
        )
    };
    let before = app
        .get(&at(Utc::now() - chrono::Duration::days(1)), ADMIN_KEY)
        .await;
    assert_eq!(
        before.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        before.body
    );
    assert_eq!(before.body["error"]["code"], "history_unavailable");
    let future = app
        .get(&at(Utc::now() + chrono::Duration::hours(1)), ADMIN_KEY)
        .await;
    assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(future.body["error"]["code"], "invalid_at");
    let dialer = app.key(Role::Dialer).await;
    let r = app.get(&at(Utc::now()), &dialer).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get(
            &format!("/v1/history?number={}&client=acme", urlencode(NUMBER)),
            ADMIN_KEY,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}
