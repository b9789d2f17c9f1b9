//! The web console over the real router: sessions in Postgres, roles as the API has them,
//! and state-changing forms refused unless they come from the console's own page with
//! the session's token. (The browser tests in tests/browser drive it in Chromium.)

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use sha2::{Digest, Sha256};
use tarcza::domain::Role;
use tower::ServiceExt;

use crate::helpers::{TestApp, ADMIN_KEY};

const HOST: &str = "127.0.0.1:8080";
const ORIGIN: &str = "http://127.0.0.1:8080";

struct Page {
    status: StatusCode,
    location: Option<String>,
    cookies: Vec<String>,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(app: &TestApp, req: Request<Body>) -> Page {
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let location = headers
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    Page {
        status,
        location,
        cookies,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(app: &TestApp, path: &str, session: Option<&str>) -> Page {
    let mut req = Request::builder().uri(path).header(header::HOST, HOST);
    if let Some(s) = session {
        req = req.header(header::COOKIE, format!("tarcza_session={s}"));
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

/// `path` in a session whose language is Polish.
async fn get_in_polish(app: &TestApp, path: &str, session: &str) -> Page {
    let req = Request::builder()
        .uri(path)
        .header(header::HOST, HOST)
        .header(
            header::COOKIE,
            format!("tarcza_session={session}; tarcza_lang=pl"),
        )
        .body(Body::empty())
        .unwrap();
    send(app, req).await
}

async fn post(
    app: &TestApp,
    path: &str,
    session: Option<&str>,
    origin: Option<&str>,
    form: &str,
) -> Page {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(s) = session {
        req = req.header(header::COOKIE, format!("tarcza_session={s}"));
    }
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    send(app, req.body(Body::from(form.to_string())).unwrap()).await
}

/// Signs in with `key`; returns the session id from the cookie.
async fn sign_in(app: &TestApp, key: &str) -> String {
    let page = post(app, "/login", None, Some(ORIGIN), &format!("key={key}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let cookie = page
        .cookies
        .iter()
        .find(|c| c.starts_with("tarcza_session="))
        .unwrap();
    cookie["tarcza_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The CSRF token in a page's forms.
fn token(page: &Page) -> String {
    let at = page
        .body
        .find("name=\"csrf\" value=\"")
        .expect("a form with a token");
    let rest = &page.body[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn signing_in_makes_a_strict_http_only_session_that_survives_a_restart() {
    let app = TestApp::spawn().await;
    let page = post(
        &app,
        "/login",
        None,
        Some(ORIGIN),
        &format!("key={ADMIN_KEY}"),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/overview"));
    let cookie = &page.cookies[0];
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
    assert!(cookie.contains("; SameSite=Strict"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http without a public https URL: {cookie}"
    );
    let id = sign_in(&app, ADMIN_KEY).await;

    let page = get(&app, "/overview", Some(&id)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("<h1>Overview</h1>"));
    assert!(page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");

    // Only the SHA-256 of the id is stored.
    let raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&id[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT id_hash FROM console_sessions")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert!(stored.contains(&Sha256::digest(&raw).to_vec()));
    assert!(!stored.contains(&raw));

    // Another process on the same database (as after a restart) knows the session.
    let restarted = app.replica().await;
    let page = get(&restarted, "/lookup", Some(&id)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("bootstrap-admin"));
}

#[tokio::test]
async fn a_wrong_key_does_not_sign_in_and_a_missing_session_goes_to_the_sign_in_page() {
    let app = TestApp::spawn().await;
    let page = post(
        &app,
        "/login",
        None,
        Some(ORIGIN),
        "key=tz_nobody_has_this_key",
    )
    .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("not known or has been revoked"));
    assert!(page.cookies.is_empty());
    for path in ["/", "/lookup", "/keys", "/dnc/export"] {
        let page = get(&app, path, None).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(page.location.as_deref(), Some("/login"), "{path}");
    }
    let page = get(&app, "/lookup", Some(&"ab".repeat(32))).await;
    assert_eq!(page.location.as_deref(), Some("/login?ended=idle"));
}

#[tokio::test]
async fn with_an_https_public_url_the_cookie_is_secure_and_forms_must_come_from_it() {
    let app = TestApp::spawn_with(|c| c.public_url = Some("https://dnc.example.com".into())).await;
    let page = post(
        &app,
        "/login",
        None,
        Some("https://dnc.example.com"),
        &format!("key={ADMIN_KEY}"),
    )
    .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.cookies[0].contains("; Secure"), "{}", page.cookies[0]);
    // The Host the request came to is not enough when the public URL is set.
    let page = post(
        &app,
        "/login",
        None,
        Some(ORIGIN),
        &format!("key={ADMIN_KEY}"),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_idle_session_ends() {
    let app = TestApp::spawn().await;
    let id = sign_in(&app, ADMIN_KEY).await;
    assert_eq!(get(&app, "/lookup", Some(&id)).await.status, StatusCode::OK);
    sqlx::query("UPDATE console_sessions SET last_seen_at = now() - interval '31 minutes'")
        .execute(&app.state.db)
        .await
        .unwrap();
    let page = get(&app, "/lookup", Some(&id)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("/login?ended=idle"));
    assert!(page.cookies[0].contains("Max-Age=0"));
    // Marked ended (the service may not delete rows), and it stays ended.
    let why: Option<String> = sqlx::query_scalar("SELECT ended_why FROM console_sessions")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(why.as_deref(), Some("idle"));
    sqlx::query("UPDATE console_sessions SET last_seen_at = now()")
        .execute(&app.state.db)
        .await
        .unwrap();
    let page = get(&app, "/lookup", Some(&id)).await;
    assert_eq!(page.location.as_deref(), Some("/login?ended=idle"));
    let login = get(&app, "/login?ended=idle", None).await;
    assert!(login.body.contains("was not used for a while"));
}

#[tokio::test]
async fn a_revoked_keys_sessions_end_at_once() {
    let app = TestApp::spawn().await;
    let agent = app.key(Role::Agent).await;
    let id = sign_in(&app, &agent).await;
    assert_eq!(get(&app, "/lookup", Some(&id)).await.status, StatusCode::OK);
    let keys = app.get("/v1/keys", ADMIN_KEY).await;
    let agent_id = keys.body["keys"][1]["id"].as_i64().unwrap();
    let r = app
        .delete(
            &format!("/v1/keys/{agent_id}"),
            ADMIN_KEY,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = get(&app, "/lookup", Some(&id)).await;
    assert_eq!(page.location.as_deref(), Some("/login?ended=revoked"));
    // The key's new secret would not bring the session back either: it has ended.
    assert_eq!(
        get(&app, "/lookup", Some(&id)).await.location.as_deref(),
        Some("/login?ended=revoked")
    );
}

#[tokio::test]
async fn an_admin_binds_a_key_to_a_client_on_the_keys_page_and_the_list_shows_it() {
    let app = TestApp::spawn().await;
    let id = sign_in(&app, ADMIN_KEY).await;
    let csrf = token(&get(&app, "/keys", Some(&id)).await);
    let keys = || async { app.get("/v1/keys", ADMIN_KEY).await.body["keys"].clone() };
    let before = keys().await;

    // Refused as the API refuses them, each a sentence on the page, nothing created, and
    // the form keeps what was typed.
    for (form, says) in [
        (
            "name=ops-acme&role=ops&client=acme",
            "Only a dialer or an agent key can be bound to a client",
        ),
        (
            "name=no-client&role=agent&campaigns=summer",
            "campaigns or global entries need a client",
        ),
        (
            "name=no-client&role=agent&may_block_global=yes",
            "campaigns or global entries need a client",
        ),
        (
            "name=bad-client&role=agent&client=ac%01me",
            "The client or campaign name is not valid.",
        ),
    ] {
        let page = post(
            &app,
            "/keys",
            Some(&id),
            Some(ORIGIN),
            &format!("csrf={csrf}&{form}"),
        )
        .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{form}");
        assert!(page.body.contains(says), "{form}: {}", page.body);
        let name = &form["name=".len()..form.find('&').unwrap()];
        assert!(
            page.body.contains(&format!("value=\"{name}\"")),
            "{form}: the name is kept"
        );
        assert_eq!(keys().await, before, "{form}: nothing created");
    }

    let page = post(
        &app,
        "/keys",
        Some(&id),
        Some(ORIGIN),
        &format!(
            "csrf={csrf}&name=acme-crm&role=agent&client=+Acme+\
             &campaigns=summer%0D%0A%0D%0Awinter+&may_block_global=yes"
        ),
    )
    .await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.body);
    assert!(
        page.body
            .contains("Created the key “acme-crm” (role agent, bound to client Acme):"),
        "{}",
        page.body
    );
    let key = keys()
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "acme-crm")
        .cloned()
        .expect("the key was created");
    // Trimmed, kept as typed (it compares as scopes do: `ACME` is `acme`).
    assert_eq!(key["client"], "Acme");
    assert_eq!(key["campaigns"], serde_json::json!(["summer", "winter"]));
    assert_eq!(key["may_block_global"], true);

    // The list shows each key's binding, unbound ones as acting for every client.
    let list = get(&app, "/keys", Some(&id)).await;
    let row = |name: &str| {
        let at = list
            .body
            .find(&format!("data-label=\"Name\">{name}"))
            .expect("the key is listed");
        let end = at + list.body[at..].find("</tr>").unwrap();
        list.body[at..end].to_string()
    };
    let bound = row("acme-crm");
    assert!(bound.contains("data-label=\"Bound to\""), "{bound}");
    assert!(bound.contains("<strong>Acme</strong>"), "{bound}");
    assert!(bound.contains("campaigns: summer, winter"), "{bound}");
    assert!(bound.contains("may block globally"), "{bound}");
    assert!(row("bootstrap-admin").contains("every client"));

    // In Polish too.
    let polish = get_in_polish(&app, "/keys", &id).await;
    for words in [
        "Klient (wiąże klucz)",
        "Powiązany z",
        "kampanie: summer, winter",
        "może blokować globalnie",
        "każdy klient",
    ] {
        assert!(polish.body.contains(words), "{words}");
    }
}

#[tokio::test]
async fn state_changing_forms_need_the_consoles_origin_and_the_sessions_token() {
    let app = TestApp::spawn().await;
    let id = sign_in(&app, ADMIN_KEY).await;
    let form = get(&app, "/block", Some(&id)).await;
    let csrf = token(&form);
    let body = |t: &str| format!("csrf={t}&number=601234567&reason=stop");
    let refused = [
        (Some("http://evil.example"), body(&csrf), "cross-site"),
        (Some("http://127.0.0.1:8081"), body(&csrf), "cross-site"),
        (None, body(&csrf), "cross-site"),
        (Some(ORIGIN), body("00"), "does not belong to your session"),
        (
            Some(ORIGIN),
            "number=601234567".to_string(),
            "does not belong to your session",
        ),
    ];
    for (origin, form, says) in refused {
        let page = post(&app, "/block", Some(&id), origin, &form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{origin:?} {form}");
        assert!(page.body.contains(says), "{origin:?}: {}", page.body);
    }
    assert!(app.allowed("601234567").await, "nothing was blocked");
    // Another session's token is no good either.
    let other = sign_in(&app, ADMIN_KEY).await;
    let other_csrf = token(&get(&app, "/block", Some(&other)).await);
    assert_ne!(other_csrf, csrf);
    let page = post(&app, "/block", Some(&id), Some(ORIGIN), &body(&other_csrf)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    let page = post(&app, "/block", Some(&id), Some(ORIGIN), &body(&csrf)).await;
    assert_eq!(page.status, StatusCode::CREATED, "{}", page.body);
    assert!(page.body.contains("Blocked +48601234567"));
    assert!(!app.allowed("601234567").await);

    // Sign-out needs the token too, and then the session is gone.
    let page = post(
        &app,
        "/logout",
        Some(&id),
        Some("http://evil.example"),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = post(
        &app,
        "/logout",
        Some(&id),
        Some(ORIGIN),
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(page.location.as_deref(), Some("/login?ended=signed_out"));
    assert_eq!(
        get(&app, "/lookup", Some(&id)).await.location.as_deref(),
        Some("/login?ended=signed_out")
    );
    let audit = app.get("/v1/audit?action=console.*", ADMIN_KEY).await;
    let actions: Vec<&str> = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["console.sign_out", "console.sign_in", "console.sign_in"]
    );
}

#[tokio::test]
async fn a_dialer_sees_the_lookup_only_and_the_api_refuses_it_the_rest() {
    let app = TestApp::spawn().await;
    let dialer = app.key(Role::Dialer).await;
    let page = post(&app, "/login", None, Some(ORIGIN), &format!("key={dialer}")).await;
    assert_eq!(page.location.as_deref(), Some("/lookup"));
    let id = sign_in(&app, &dialer).await;
    let lookup = get(&app, "/lookup?number=601234567", Some(&id)).await;
    assert_eq!(lookup.status, StatusCode::OK);
    assert!(lookup.body.contains("May be called"));
    assert!(
        !lookup.body.contains("href=\"/block"),
        "no way to the block form"
    );
    for path in [
        "/block",
        "/dnc",
        "/registries",
        "/audit",
        "/keys",
        "/overview",
        "/unblock/1",
    ] {
        let page = get(&app, path, Some(&id)).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.body.contains("cannot use this page"), "{path}");
        assert!(!page.body.contains("name=\"number\""), "{path}: no form");
    }
    // Even a well-formed block from a dialer's session is refused, by the API.
    let csrf = token(&lookup);
    let page = post(
        &app,
        "/block",
        Some(&id),
        Some(ORIGIN),
        &format!("csrf={csrf}&number=601234567"),
    )
    .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("may not do this"), "{}", page.body);
    assert!(app.allowed("601234567").await);
}

#[tokio::test]
async fn errors_are_sentences_on_the_page_never_json() {
    let app = TestApp::spawn().await;
    let id = sign_in(&app, ADMIN_KEY).await;
    let page = get(&app, "/lookup?number=not+a+number", Some(&id)).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page
        .body
        .contains("That is not a phone number tarcza can read"));
    assert!(!page.body.contains("{\"error\""));
    // A stale registry: the page says plainly not to call.
    let up = app
        .upload("robinson", "mode=snapshot", b"phone\n601000001\n".to_vec())
        .await;
    assert_eq!(up.body["status"], "succeeded", "{}", up.body);
    let version: i64 =
        sqlx::query_scalar("UPDATE data_version SET version = version + 1 RETURNING version")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    sqlx::query("UPDATE registries SET source_time = now() - interval '400 days', version = $1")
        .bind(version)
        .execute(&app.state.db)
        .await
        .unwrap();
    app.state.index.refresh(&app.state.db).await.unwrap();
    let r = app.check("601234567").await;
    assert_eq!(r.body["error"]["code"], "stale_registry", "{}", r.body);
    let page = get(&app, "/lookup?number=601234567", Some(&id)).await;
    assert_eq!(
        page.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        page.body
    );
    assert!(page.body.contains("Do not call"));
    assert!(page.body.contains("older than allowed"));
    // In Polish too.
    let mut req = Request::builder()
        .uri("/lookup?number=abc")
        .header(header::HOST, HOST)
        .header(
            header::COOKIE,
            format!("tarcza_session={id}; tarcza_lang=pl"),
        );
    req = req.header("x-test", "pl");
    let page = send(&app, req.body(Body::empty()).unwrap()).await;
    assert!(
        page.body.contains("To nie jest numer telefonu"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<html lang=\"pl\">"));
}

#[tokio::test]
async fn the_console_assets_are_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = get(&app, "/assets/htmx-2.0.11.min.js", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CONTENT_TYPE], "text/javascript");
    assert_eq!(
        format!("{:x}", Sha256::digest(page.body.as_bytes())),
        "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717",
        "htmx 2.0.11 as published"
    );
    for path in ["/assets/console.css", "/assets/console.js"] {
        assert_eq!(get(&app, path, None).await.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn a_lost_database_is_a_sentence_on_the_page() {
    let app = TestApp::spawn().await;
    let id = sign_in(&app, ADMIN_KEY).await;
    app.state.db.close().await;
    let page = get(&app, "/lookup?number=601234567", Some(&id)).await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.body.contains("cannot reach its database right now"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<html"), "a page, not JSON");
    let page = post(
        &app,
        "/login",
        None,
        Some(ORIGIN),
        &format!("key={ADMIN_KEY}"),
    )
    .await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.body.contains("cannot reach its database right now"));
}

#[tokio::test]
async fn the_list_exports_its_filtered_entries_as_csv() {
    let app = TestApp::spawn().await;
    for (number, source) in [("601000001", "crm"), ("601000002", "agent")] {
        let r = app
            .post(
                "/v1/dnc",
                ADMIN_KEY,
                serde_json::json!({"number": number, "source": source}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let id = sign_in(&app, ADMIN_KEY).await;
    let list = get(&app, "/dnc?source=crm", Some(&id)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("+48601000001") && !list.body.contains("+48601000002"));
    assert!(list.body.contains("href=\"/dnc/export?source=crm\""));
    let csv = get(&app, "/dnc/export?source=crm", Some(&id)).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(csv.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"dnc-"));
    let lines: Vec<&str> = csv.body.lines().collect();
    assert_eq!(lines.len(), 2, "{}", csv.body);
    assert!(
        lines[1].contains(",+48601000001,,active,global,"),
        "{}",
        lines[1]
    );
    // A bad filter is a sentence on the list page, not a broken download.
    let bad = get(&app, "/dnc/export?number=abc", Some(&id)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("That is not a phone number"));
}

#[tokio::test]
async fn the_language_switch_only_goes_back_to_this_site() {
    let app = TestApp::spawn().await;
    let page = get(&app, "/lang/pl?back=%2Fdnc%3Fstate%3Dactive", None).await;
    assert_eq!(page.location.as_deref(), Some("/dnc?state=active"));
    assert!(page.cookies[0].starts_with("tarcza_lang=pl;"));
    for back in [
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example",
        "%2F%5Cevil.example",
    ] {
        let page = get(&app, &format!("/lang/en?back={back}"), None).await;
        assert_eq!(page.location.as_deref(), Some("/"), "{back}");
    }
}

#[tokio::test]
async fn prefix_entries_and_missing_consents_read_sensibly_on_the_list_and_lookup() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            serde_json::json!({"prefix": "+48 70", "reason": "premium range"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .call(
            Method::PUT,
            "/v1/policies/clients/acme",
            Some(ADMIN_KEY),
            Some(serde_json::json!({"consent_required": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let id = sign_in(&app, ADMIN_KEY).await;

    let list = get(&app, "/dnc?kind=prefix", Some(&id)).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body
            .contains("+4870… <span class=\"badge muted\">Prefix</span>"),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("<option value=\"prefix\" selected>"),
        "{}",
        list.body
    );
    let list = get(&app, "/dnc?kind=number", Some(&id)).await;
    assert!(!list.body.contains("+4870…"), "{}", list.body);

    let lookup = get(&app, "/lookup?number=701234567", Some(&id)).await;
    assert!(
        lookup.body.contains("every number starting with +4870"),
        "{}",
        lookup.body
    );
    assert!(
        lookup.body.contains("Prefix +4870…"),
        "the entry below the verdict"
    );
    let lookup = get(&app, "/lookup?number=601234567&client=acme", Some(&id)).await;
    assert!(
        lookup
            .body
            .contains("<strong>No consent</strong> — client acme, purpose: marketing"),
        "{}",
        lookup.body
    );
    assert!(!lookup.body.contains("{\"source\""), "no raw JSON");
    let lookup = get_in_polish(&app, "/lookup?number=601234567&client=acme", &id).await;
    assert!(lookup.body.contains("Brak zgody"), "{}", lookup.body);
}
