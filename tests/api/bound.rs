//! Client-bound keys (issue 15, point 2): two clients' data, and a key bound to one of
//! them never sees or changes the other's through any endpoint, batch checks and the
//! change feed included. (Which routes take bound keys at all: the role matrix in
//! openapi.rs, from the document.)

use axum::http::StatusCode;
use serde_json::{json, Value};
use tarcza::domain::Role;

use crate::consents::{consent, give};
use crate::helpers::{TestApp, ADMIN_KEY};

/// Adds an entry as the admin; its id.
async fn entry(app: &TestApp, body: Value) -> i64 {
    let r = app.post("/v1/dnc", ADMIN_KEY, body).await;
    assert!(r.status.is_success(), "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

fn ids(list: &Value, field: &str) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e[field].as_i64())
        .collect()
}

fn refused(r: &crate::helpers::Response, code: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
}

/// The two clients' data: `(global, acme, globex, globex_only_number)` entry ids and the
/// `(acme, globex)` consent ids.
struct Data {
    global: i64,
    acme: i64,
    acme_campaign: i64,
    globex: i64,
    globex_campaign: i64,
    bare_campaign: i64,
    acme_consent: i64,
    globex_consent: i64,
}

async fn two_clients(app: &TestApp) -> Data {
    Data {
        global: entry(app, json!({"number": "601000001"})).await,
        acme: entry(app, json!({"number": "601000002", "client": "acme"})).await,
        acme_campaign: entry(
            app,
            json!({"number": "601000007", "client": "acme", "campaign": "winter"}),
        )
        .await,
        globex: entry(
            app,
            json!({"number": "601000003", "client": "globex", "reason": "globex secret"}),
        )
        .await,
        globex_campaign: entry(
            app,
            json!({"number": "601000004", "client": "globex", "campaign": "summer"}),
        )
        .await,
        bare_campaign: entry(app, json!({"number": "601000008", "campaign": "summer"})).await,
        acme_consent: give(app, consent("601000005", "acme")).await["id"]
            .as_i64()
            .unwrap(),
        globex_consent: give(app, consent("601000006", "globex")).await["id"]
            .as_i64()
            .unwrap(),
    }
}

#[tokio::test]
async fn a_bound_keys_checks_are_for_its_client_batch_and_receipt_included() {
    let app = TestApp::spawn().await;
    two_clients(&app).await;
    let key = app.bound_key(Role::Dialer, json!({"client": "Acme"})).await;

    // No client named: the check is acme's, so acme's entry blocks and globex's does not.
    for (number, allowed) in [
        ("601000001", false),
        ("601000002", false),
        ("601000003", true),
        ("601000004", true),
    ] {
        let r = app.get(&format!("/v1/check?number={number}"), &key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["allowed"], allowed, "{number}: {}", r.body);
        // The receipt signs the answer's own bytes, which name the scope evaluated.
        assert_eq!(r.body["receipt"]["v"], 2, "{}", r.body);
        assert_eq!(
            r.body["client"], "Acme",
            "the signed answer names the scope evaluated"
        );
    }
    // The same number unbound, for globex: blocked; the bound key cannot ask for globex.
    let r = app
        .get("/v1/check?number=601000003&client=globex", ADMIN_KEY)
        .await;
    assert_eq!(r.body["allowed"], false);
    let r = app
        .get("/v1/check?number=601000003&client=globex", &key)
        .await;
    refused(&r, "scope_forbidden");
    assert!(!r.body.to_string().contains("globex secret"));
    let r = app
        .get(
            "/v1/check?number=601000004&client=Globex&campaign=summer",
            &key,
        )
        .await;
    refused(&r, "scope_forbidden");
    // Its own client in any spelling is fine; a campaign is acme's campaign.
    let r = app
        .get(
            "/v1/check?number=601000007&client=ACME&campaign=winter",
            &key,
        )
        .await;
    assert_eq!(r.body["allowed"], false, "{}", r.body);
    let r = app
        .get("/v1/check?number=601000004&campaign=summer", &key)
        .await;
    assert_eq!(
        r.body["allowed"], true,
        "globex's summer is not acme's: {}",
        r.body
    );

    // The batch: the same rules.
    let numbers = json!(["601000001", "601000002", "601000003", "601000004"]);
    let r = app
        .post("/v1/check", &key, json!({"numbers": numbers}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let allowed: Vec<bool> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["allowed"].as_bool().unwrap())
        .collect();
    assert_eq!(allowed, [false, false, true, true]);
    assert_eq!(r.body["receipt"]["v"], 2, "{}", r.body);
    assert_eq!(
        r.body["client"], "Acme",
        "the signed answer names the scope evaluated"
    );
    let r = app
        .post(
            "/v1/check",
            &key,
            json!({"numbers": numbers, "client": "globex"}),
        )
        .await;
    refused(&r, "scope_forbidden");

    // Bound to campaigns: others are refused, none is the client alone.
    let summer = app
        .bound_key(
            Role::Dialer,
            json!({"client": "acme", "campaigns": ["Summer"]}),
        )
        .await;
    let r = app
        .get("/v1/check?number=601000007&campaign=winter", &summer)
        .await;
    refused(&r, "scope_forbidden");
    let r = app
        .get("/v1/check?number=601000008&campaign=SUMMER", &summer)
        .await;
    assert_eq!(r.body["allowed"], false, "{}", r.body);
    let r = app.get("/v1/check?number=601000007", &summer).await;
    assert_eq!(r.body["allowed"], true, "the client alone: {}", r.body);
}

#[tokio::test]
async fn a_bound_key_adds_only_in_its_scope_and_removes_nothing() {
    let app = TestApp::spawn().await;
    let d = two_clients(&app).await;
    let key = app.bound_key(Role::Agent, json!({"client": "acme"})).await;
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    for body in [
        json!({"number": "602000001", "client": "globex"}),
        json!({"number": "602000001", "client": "globex", "campaign": "x"}),
        json!({"number": "602000001"}),
        json!({"prefix": "+48 70"}),
        json!({"number": "602000001", "campaign": "x"}),
    ] {
        let r = app.post("/v1/dnc", &key, body.clone()).await;
        refused(&r, "scope_forbidden");
    }
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM dnc_entries")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(after, before, "a refused write changes nothing");
    let r = app
        .post(
            "/v1/dnc",
            &key,
            json!({"number": "602000001", "client": "ACME"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .post(
            "/v1/dnc",
            &key,
            json!({"number": "602000002", "client": "acme", "campaign": "autumn"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Global entries only with may_block_global; campaigns narrow writes too.
    let global = app
        .bound_key(
            Role::Agent,
            json!({"client": "acme", "may_block_global": true}),
        )
        .await;
    let r = app
        .post("/v1/dnc", &global, json!({"number": "602000003"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["scope"], "global");
    let r = app
        .post(
            "/v1/dnc",
            &global,
            json!({"number": "602000003", "client": "globex"}),
        )
        .await;
    refused(&r, "scope_forbidden");
    let summer = app
        .bound_key(
            Role::Agent,
            json!({"client": "acme", "campaigns": ["summer"]}),
        )
        .await;
    let r = app
        .post(
            "/v1/dnc",
            &summer,
            json!({"number": "602000004", "client": "acme", "campaign": "winter"}),
        )
        .await;
    refused(&r, "scope_forbidden");

    // Removal: never, whichever entry.
    for id in [d.acme, d.globex, d.global] {
        let r = app
            .delete(&format!("/v1/dnc/{id}"), &key, json!({"reason": "x"}))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    }
    assert!(!app.allowed("601000001").await, "still blocks");
}

#[tokio::test]
async fn a_bound_key_never_sees_another_clients_data() {
    let app = TestApp::spawn().await;
    let d = two_clients(&app).await;
    let key = app.bound_key(Role::Agent, json!({"client": "acme"})).await;
    let mine = [d.global, d.acme, d.acme_campaign];
    let theirs = [d.globex, d.globex_campaign, d.bare_campaign];

    // The list, every filter, and the CSV export.
    for uri in [
        "/v1/dnc",
        "/v1/dnc?limit=1000",
        "/v1/dnc?client=globex",
        "/v1/dnc?number=601000003",
        "/v1/dnc?scope=client",
        "/v1/dnc?scope=campaign",
        "/v1/dnc?campaign=summer",
    ] {
        let r = app.get(uri, &key).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.body);
        let seen = ids(&r.body["entries"], "id");
        for id in theirs {
            assert!(!seen.contains(&id), "{uri} shows {id}: {}", r.body);
        }
    }
    let seen = ids(&app.get("/v1/dnc", &key).await.body["entries"], "id");
    for id in mine {
        assert!(
            seen.contains(&id),
            "its own entry {id} is missing: {seen:?}"
        );
    }
    let unbound = ids(&app.get("/v1/dnc", ADMIN_KEY).await.body["entries"], "id");
    for id in theirs {
        assert!(unbound.contains(&id), "an unbound key sees {id}");
    }
    let csv_text = csv_export(&app, &key).await;
    assert!(csv_text.contains("+48601000002"), "{csv_text}");
    for n in ["601000003", "601000004", "601000008", "globex"] {
        assert!(!csv_text.contains(n), "the export shows {n}: {csv_text}");
    }
    for id in theirs {
        let r = app.get(&format!("/v1/dnc/{id}"), &key).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    let r = app.get(&format!("/v1/dnc/{}", d.acme), &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The change feed: global entries and acme's (and registry imports), nothing else.
    let r = app.get("/v1/changes?limit=1000", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let changed = ids(&r.body["changes"], "entry_id");
    assert_eq!(changed, mine, "{}", r.body);
    assert!(!r.body.to_string().contains("globex"), "{}", r.body);
    let all = ids(
        &app.get("/v1/changes?limit=1000", ADMIN_KEY).await.body["changes"],
        "entry_id",
    );
    assert_eq!(all.len(), 6, "the unbound feed has every change");

    // Consents: its client's only, in lists, reads and withdrawals.
    let r = app.get("/v1/consents?number=601000006", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["consents"], json!([]), "{}", r.body);
    let r = app.get("/v1/consents?number=601000005", &key).await;
    assert_eq!(ids(&r.body["consents"], "id"), [d.acme_consent]);
    let r = app.get("/v1/consents?client=globex", &key).await;
    refused(&r, "scope_forbidden");
    let r = app
        .get(&format!("/v1/consents/{}", d.globex_consent), &key)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app
        .delete(
            &format!("/v1/consents/{}", d.globex_consent),
            &key,
            json!({"reason": "not mine"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = app
        .get(&format!("/v1/consents/{}", d.globex_consent), ADMIN_KEY)
        .await;
    assert!(r.body["withdrawn_at"].is_null(), "{}", r.body);
    let r = app
        .post("/v1/consents", &key, consent("601000009", "globex"))
        .await;
    refused(&r, "scope_forbidden");
    let r = app
        .post("/v1/consents", &key, consent("601000009", "ACME"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .delete(
            &format!("/v1/consents/{}", d.acme_consent),
            &key,
            json!({"reason": "the customer said so"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Audit, history, stats, keys: not for bound keys.
    for uri in [
        "/v1/audit?number=601000003",
        "/v1/history?number=601000003",
        "/v1/stats",
        "/v1/keys",
    ] {
        let r = app.get(uri, &key).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}: {}", r.body);
    }
}

/// The CSV export's text (not JSON).
async fn csv_export(app: &TestApp, key: &str) -> String {
    let req = axum::http::Request::get("/v1/dnc?format=csv")
        .header("authorization", format!("Bearer {key}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = tower::ServiceExt::oneshot(app.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn bindings_are_validated_and_listed() {
    let app = TestApp::spawn().await;
    for (body, code) in [
        (
            json!({"name": "x", "role": "admin", "client": "acme"}),
            "invalid_binding",
        ),
        (
            json!({"name": "x", "role": "ops", "client": "acme"}),
            "invalid_binding",
        ),
        (
            json!({"name": "x", "role": "agent", "campaigns": ["a"]}),
            "invalid_binding",
        ),
        (
            json!({"name": "x", "role": "agent", "may_block_global": true}),
            "invalid_binding",
        ),
        (
            json!({"name": "x", "role": "agent", "client": " "}),
            "invalid_scope",
        ),
        (
            json!({"name": "x", "role": "agent", "client": "a\u{7}"}),
            "invalid_scope",
        ),
        (
            json!({"name": "x", "role": "agent", "client": "a", "campaigns": [""]}),
            "invalid_scope",
        ),
        (
            json!({"name": "x", "role": "agent", "client": "a".repeat(201)}),
            "invalid_scope",
        ),
    ] {
        let r = app.post("/v1/keys", ADMIN_KEY, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["error"]["code"], code, "{body}: {}", r.body);
    }
    let r = app
        .post(
            "/v1/keys",
            ADMIN_KEY,
            json!({"name": "acme crm", "role": "agent", "client": " Acme ",
                   "campaigns": ["summer", "SUMMER", "winter"], "may_block_global": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["client"], "Acme");
    assert_eq!(r.body["campaigns"], json!(["summer", "winter"]));
    assert_eq!(r.body["may_block_global"], true);
    let keys = app.get("/v1/keys", ADMIN_KEY).await.body["keys"].clone();
    let listed = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "acme crm")
        .unwrap()
        .clone();
    assert_eq!(listed["client"], "Acme");
    assert_eq!(listed["campaigns"], json!(["summer", "winter"]));
    let admin = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == 1)
        .unwrap();
    assert!(admin["client"].is_null() && admin["may_block_global"] == false);
    // The audit log says how the key was bound.
    let r = app.get("/v1/audit?action=key.create", ADMIN_KEY).await;
    assert!(
        r.body.to_string().contains("may_block_global"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_makes_bound_keys_and_refuses_bound_admins() {
    let app = TestApp::spawn().await;
    let run = |args: &[&str]| {
        std::process::Command::new(crate::net::binary())
            .args(["keys", "create"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &app.db_url)
            .env("TARCZA_LOG", "warn")
            .output()
            .expect("run tarcza keys create")
    };
    let out = run(&["--name", "boss", "--role", "admin", "--client", "acme"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = run(&["--name", "x", "--role", "agent", "--campaign", "summer"]);
    assert!(
        !out.status.success(),
        "a campaign without a client: {out:?}"
    );
    let out = run(&[
        "--name",
        "acme crm",
        "--role",
        "agent",
        "--client",
        "acme",
        "--campaign",
        "summer",
    ]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let secret = stdout
        .split_whitespace()
        .find(|w| w.starts_with("tz_"))
        .unwrap_or_else(|| panic!("no key in {stdout}"));
    app.state.index.refresh(&app.state.db).await.unwrap();
    let r = app
        .get("/v1/check?number=601234567&client=globex", secret)
        .await;
    refused(&r, "scope_forbidden");
    let r = app
        .get("/v1/check?number=601234567&campaign=summer", secret)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Sends `bytes` (CSV) to `path` as `key`.
async fn upload(app: &TestApp, key: &str, path: &str, bytes: &str) -> crate::helpers::Response {
    let req = axum::http::Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(bytes.to_string()))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn a_bound_keys_bulk_sync_and_drift_report_stay_in_its_client() {
    let app = TestApp::spawn().await;
    two_clients(&app).await;
    let key = app.bound_key(Role::Agent, json!({"client": "acme"})).await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM dnc_entries")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    let before = count().await;

    // The bulk sync: a row of another client, or a global one, refuses the whole file.
    for file in [
        "number;client\n603000001;acme\n603000002;globex\n",
        "number;client\n603000001;acme\n603000002;\n",
        "number;client;campaign\n603000002;;summer\n",
    ] {
        let r = upload(&app, &key, "/v1/dnc/imports", file).await;
        refused(&r, "scope_forbidden");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("line "),
            "{}",
            r.body
        );
    }
    let r = upload(
        &app,
        &key,
        "/v1/dnc/imports?dry_run=true",
        "number\n603000002\n",
    )
    .await;
    refused(&r, "scope_forbidden");
    assert_eq!(count().await, before, "a refused sync changes nothing");
    let r = upload(
        &app,
        &key,
        "/v1/dnc/imports",
        "number;client\n603000001;acme\n603000003;ACME\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 2, "{}", r.body);

    // The drift report: every contact is acme's, as its checks are.
    let contacts = "phone;dnc\n601000003;0\n601000002;0\n602100001;1\n";
    let r = upload(&app, &key, "/v1/dnc/drift", contacts).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let text = r.body.to_string();
    assert!(
        !text.contains("globex") && !text.contains("+48601000003"),
        "{text}"
    );
    let clients = r.body["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 1, "{text}");
    assert_eq!(clients[0]["client"], "acme");
    let forgotten: Vec<&str> = clients[0]["forgotten"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["number"].as_str().unwrap())
        .collect();
    assert_eq!(forgotten, ["+48601000002"], "{text}");
    let r = upload(
        &app,
        &key,
        "/v1/dnc/drift?apply=true",
        "phone;client;dnc\n601000003;acme;0\n601000003;Globex;0\n",
    )
    .await;
    refused(&r, "scope_forbidden");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 3"),
        "{}",
        r.body
    );
    // Applied, the candidates become acme's entries.
    let r = upload(&app, &key, "/v1/dnc/drift?apply=true", contacts).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["applied"]["created"], 1, "{}", r.body);
    let r = app.get("/v1/dnc?number=602100001", ADMIN_KEY).await;
    let entries = r.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", r.body);
    assert_eq!(entries[0]["client"], "acme", "{}", r.body);
}
