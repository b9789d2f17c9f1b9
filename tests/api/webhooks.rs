//! Signed webhooks (issue 13 point 4) against a real HTTP receiver on a real port: it
//! fails, times out and recovers, redirects, and is reached from real `tarcza serve`
//! processes that are killed or run two at once. Signatures are checked with the `hmac`
//! crate, not tarcza's own HMAC.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response as AxumResponse};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tarcza::config::Config;
use tarcza::domain::Role;
use tarcza::jobs::webhooks::Deliverer;

use crate::changes::feed;
use crate::helpers::{TestApp, ADMIN_KEY};
use crate::net::{time_until, Tarcza};

/// What the receiver answers a request.
#[derive(Clone, Debug)]
pub enum Answer {
    Status(u16),
    /// Answers 200 only after this long (past the sender's timeout).
    Sleep(Duration),
    /// 302 to this URL.
    Redirect(String),
}

/// A request the receiver got, and whether it answered it 2xx at once.
#[derive(Clone, Debug)]
pub struct Got {
    pub event_id: String,
    pub event: String,
    pub timestamp: String,
    pub signature: String,
    pub attempt: String,
    pub body: Bytes,
    pub answered_ok: bool,
}

#[derive(Default)]
struct Inbox {
    got: Mutex<Vec<Got>>,
    script: Mutex<VecDeque<Answer>>,
    otherwise: Mutex<Option<Answer>>,
}

/// An HTTP server on 127.0.0.1 that records every request and answers as scripted
/// (then 200, or its `otherwise`).
pub struct Receiver {
    pub addr: SocketAddr,
    inbox: Arc<Inbox>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let inbox = Arc::new(Inbox::default());
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Receiver { addr, inbox }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks/tarcza", self.addr)
    }

    /// The next answers, in order.
    pub fn script(&self, answers: &[Answer]) {
        self.inbox
            .script
            .lock()
            .unwrap()
            .extend(answers.iter().cloned());
    }

    /// The answer once the script is used up.
    pub fn otherwise(&self, answer: Answer) {
        *self.inbox.otherwise.lock().unwrap() = Some(answer);
    }

    pub fn got(&self) -> Vec<Got> {
        self.inbox.got.lock().unwrap().clone()
    }

    /// The event ids answered 2xx, in the order they came.
    pub fn delivered(&self) -> Vec<String> {
        self.got()
            .into_iter()
            .filter(|g| g.answered_ok)
            .map(|g| g.event_id)
            .collect()
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> AxumResponse {
    let answer = inbox
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| inbox.otherwise.lock().unwrap().clone())
        .unwrap_or(Answer::Status(200));
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    inbox.got.lock().unwrap().push(Got {
        event_id: header("x-tarcza-event-id"),
        event: header("x-tarcza-event"),
        timestamp: header("x-tarcza-timestamp"),
        signature: header("x-tarcza-signature"),
        attempt: header("x-tarcza-attempt"),
        body,
        answered_ok: matches!(answer, Answer::Status(s) if (200..300).contains(&s)),
    });
    match answer {
        Answer::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Answer::Sleep(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
        Answer::Redirect(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
    }
}

/// Checks a delivery's signature as a receiver would: HMAC-SHA256 keyed with the secret
/// over `timestamp.body`, and a timestamp at most five minutes old.
fn verify(secret: &str, got: &Got) {
    let ts: i64 = got
        .timestamp
        .parse()
        .expect("X-Tarcza-Timestamp is Unix seconds");
    assert!(
        (chrono::Utc::now().timestamp() - ts).abs() <= 300,
        "timestamp {ts} is not recent"
    );
    let hex = got
        .signature
        .strip_prefix("v1=")
        .unwrap_or_else(|| panic!("signature {:?} is not v1=", got.signature));
    let sig: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(got.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&got.body);
    mac.verify_slice(&sig)
        .unwrap_or_else(|_| panic!("bad signature on {}", got.event_id));
    // A body changed by one byte does not verify.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(got.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&got.body[1..]);
    assert!(mac.verify_slice(&sig).is_err());
}

/// Settings for fast tests: private targets, short timeouts, millisecond backoff.
fn fast(c: &mut Config) {
    c.webhook_allow_private = true;
    c.webhook_timeout = Duration::from_millis(400);
    c.webhook_connect_timeout = Duration::from_millis(400);
    c.webhook_backoff = Duration::from_millis(10);
    c.webhook_backoff_max = Duration::from_millis(40);
    c.webhook_retry_for = Duration::from_millis(300);
}

const FAST_ENV: [(&str, &str); 4] = [
    ("TARCZA_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("TARCZA_WEBHOOK_BACKOFF", "50ms"),
    ("TARCZA_WEBHOOK_BACKOFF_MAX", "200ms"),
    ("TARCZA_WEBHOOK_TIMEOUT", "30s"),
];

fn deliverer(app: &TestApp) -> Deliverer {
    Deliverer::new(
        app.state.db.clone(),
        &app.state.settings.webhooks,
        app.state.metrics.clone(),
    )
}

/// Runs passes of `d` until `done`, at most for `limit`.
async fn deliver_until(d: &Deliverer, limit: Duration, what: &str, done: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        d.run_once().await.expect("a delivery pass");
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Subscribes `url` to `events`; returns the id and the secret.
async fn subscribe(app: &TestApp, url: &str, events: &[&str]) -> (i64, String) {
    let r = app
        .post(
            "/v1/webhooks",
            ADMIN_KEY,
            json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (
        r.body["id"].as_i64().unwrap(),
        r.body["secret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn subscriptions_are_validated_strictly_and_the_secret_is_shown_once() {
    let app = TestApp::spawn().await;
    let urls = [
        "http://crm.example.com/h",
        "https://127.0.0.1/h",
        "https://localhost:8443/h",
        "https://[::1]/h",
        "https://10.0.0.7/h",
        "https://169.254.169.254/latest",
        "https://u:p@crm.example.com/h",
        "crm.example.com",
    ];
    let refusals = urls
        .iter()
        .map(|url| (json!({"url": url, "events": ["dnc.add"]}), "invalid_url"))
        .chain([
            (json!({"url": "https://crm.example.com/h", "events": []}), "invalid_events"),
            (json!({"url": "https://crm.example.com/h", "events": ["dnc.added"]}), "invalid_events"),
            (json!({"url": "https://crm.example.com/h", "events": ["dnc.add"], "description": " "}), "invalid_description"),
            (json!({"url": "https://crm.example.com/h", "events": ["dnc.add"], "secret": "mine"}), "invalid_body"),
        ]);
    for (body, code) in refusals {
        let r = app.post("/v1/webhooks", ADMIN_KEY, body.clone()).await;
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
            "/v1/webhooks",
            ADMIN_KEY,
            json!({"url": "https://127.0.0.1/h", "events": ["dnc.add"]}),
        )
        .await;
    assert!(r.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("TARCZA_WEBHOOK_ALLOW_PRIVATE"));
    let agent = app.key(Role::Agent).await;
    let r = app
        .post(
            "/v1/webhooks",
            &agent,
            json!({"url": "https://crm.example.com/h", "events": ["dnc.add"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let made: i64 = sqlx::query_scalar("SELECT count(*) FROM webhooks")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(made, 0, "a refused subscription changes nothing");

    let r = app
        .post(
            "/v1/webhooks",
            ADMIN_KEY,
            json!({"url": "https://crm.example.com/hooks/tarcza", "events": ["dnc.add", "dnc.remove", "dnc.add"],
                   "description": " CRM flags "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    let secret = r.body["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 54,
        "{secret}"
    );
    assert_eq!(r.body["events"], json!(["dnc.add", "dnc.remove"]));
    assert_eq!(r.body["description"], "CRM flags");
    assert_eq!(r.body["state"], "active");

    let shown = app.get(&format!("/v1/webhooks/{id}"), ADMIN_KEY).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.get("secret").is_none(), "{}", shown.body);
    let list = app.get("/v1/webhooks", ADMIN_KEY).await;
    assert_eq!(list.body["webhooks"][0]["id"], id);
    assert!(!list.body.to_string().contains(secret));
    assert_eq!(
        app.get("/v1/webhooks/999", ADMIN_KEY).await.status,
        StatusCode::NOT_FOUND
    );

    let r = app
        .delete(&format!("/v1/webhooks/{id}"), ADMIN_KEY, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["state"], "deleted");
    let r = app
        .delete(&format!("/v1/webhooks/{id}"), ADMIN_KEY, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.body["error"]["code"], "already_deleted");
    let secret_kept: Option<String> =
        sqlx::query_scalar("SELECT secret FROM webhooks WHERE id = $1")
            .bind(id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        secret_kept, None,
        "a deleted subscription's secret is forgotten"
    );
    let audited: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE subject = $1 ORDER BY id")
            .bind(format!("webhook:{id}"))
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(audited, ["webhook.create", "webhook.delete"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_times_out_and_recovers_gets_every_change_in_order_signed() {
    let app = TestApp::spawn_with(fast).await;
    let receiver = Receiver::start().await;
    // Before the subscription: not delivered.
    app.block("601000000").await;
    let (id, secret) = subscribe(&app, &receiver.url(), &["dnc.add"]).await;
    let (_, start) = feed(&app, ADMIN_KEY, "").await;
    receiver.script(&[
        Answer::Status(500),
        Answer::Sleep(Duration::from_secs(2)),
        Answer::Status(503),
    ]);
    let mut ids = Vec::new();
    for i in 1..=5 {
        let entry = app.block(&format!("60100000{i}")).await;
        ids.push(entry["id"].as_i64().unwrap());
    }
    // A removal, which this subscription did not ask for.
    let r = app
        .delete(
            &format!("/v1/dnc/{}", ids[0]),
            ADMIN_KEY,
            json!({"reason": "wrong number"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let d = deliverer(&app);
    // Three failed attempts at the first change, the last one past TARCZA_WEBHOOK_RETRY_FOR.
    deliver_until(&d, Duration::from_secs(10), "three failures", || {
        receiver.got().len() >= 3
    })
    .await;
    let r = app
        .get(&format!("/v1/webhooks/{id}/deliveries"), ADMIN_KEY)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["webhook"]["state"], "failing", "{}", r.body);
    assert_eq!(r.body["webhook"]["attempts"], 3);
    let tries = r.body["deliveries"].as_array().unwrap();
    assert_eq!(tries.len(), 3, "{}", r.body);
    assert_eq!(tries[2]["status_code"], 500);
    assert_eq!(tries[1]["status_code"], Value::Null);
    assert!(
        tries[1]["error"]
            .as_str()
            .unwrap()
            .contains("TARCZA_WEBHOOK_TIMEOUT"),
        "{}",
        tries[1]
    );
    assert_eq!(tries[0]["status_code"], 503);
    assert_eq!(tries[0]["attempt"], 3);
    assert!(tries[0]["next_attempt_at"].is_string());
    assert!(
        tries.iter().all(|t| t["event_id"] == tries[0]["event_id"]),
        "the same change"
    );
    assert!(app
        .state
        .metrics
        .encode()
        .contains("tarcza_webhooks_failing 1"));

    // Recovered: every change arrives, in commit order, once answered 2xx.
    deliver_until(&d, Duration::from_secs(10), "all five delivered", || {
        receiver.delivered().len() >= 5
    })
    .await;
    let (changes, _) = feed(&app, ADMIN_KEY, &start).await;
    let adds: Vec<&Value> = changes
        .iter()
        .filter(|c| c["action"] == "dnc.add")
        .collect();
    assert_eq!(changes.len(), 6, "five adds and a removal");
    let expected: Vec<String> = adds
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(receiver.delivered(), expected);
    for got in receiver.got() {
        verify(&secret, &got);
        assert_eq!(got.event, "dnc.add");
    }
    for (got, change) in receiver.got().iter().filter(|g| g.answered_ok).zip(&adds) {
        let body: Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!(
            &&body, change,
            "the body is the change as the feed shows it"
        );
    }
    let attempts: Vec<String> = receiver.got().iter().map(|g| g.attempt.clone()).collect();
    assert_eq!(attempts[..4], ["1", "2", "3", "4"]);

    let r = app.get(&format!("/v1/webhooks/{id}"), ADMIN_KEY).await;
    assert_eq!(r.body["state"], "active", "{}", r.body);
    assert_eq!(r.body["attempts"], 0);
    // Past the removal too, which it passes over.
    let (_, head) = feed(&app, ADMIN_KEY, &start).await;
    d.run_once().await.unwrap();
    let r = app.get(&format!("/v1/webhooks/{id}"), ADMIN_KEY).await;
    assert!(
        r.body["delivered_through"].as_str().unwrap() >= head.as_str(),
        "{}",
        r.body
    );
    assert_eq!(
        receiver.got().len(),
        8,
        "3 failures, 5 deliveries, no duplicate"
    );
    let metrics = app.state.metrics.encode();
    assert!(
        metrics.contains("tarcza_webhook_deliveries_total{outcome=\"delivered\"} 5"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tarcza_webhook_deliveries_total{outcome=\"failed\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("tarcza_webhooks_failing 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let app = TestApp::spawn_with(fast).await;
    let target = Receiver::start().await;
    let redirecting = Receiver::start().await;
    redirecting.otherwise(Answer::Redirect(target.url()));
    let (id, _) = subscribe(&app, &redirecting.url(), &["dnc.add"]).await;
    app.block("601000001").await;
    let d = deliverer(&app);
    deliver_until(&d, Duration::from_secs(5), "two attempts", || {
        redirecting.got().len() >= 2
    })
    .await;
    assert!(target.got().is_empty(), "the redirect's target got nothing");
    let r = app
        .get(&format!("/v1/webhooks/{id}/deliveries?limit=1"), ADMIN_KEY)
        .await;
    let last = &r.body["deliveries"][0];
    assert_eq!(last["status_code"], 302, "{}", r.body);
    assert!(last["error"]
        .as_str()
        .unwrap()
        .contains("redirects are not followed"));
    assert!(
        r.body["webhook"]["delivered_through"].as_str().unwrap()
            < last["event_id"].as_str().unwrap(),
        "not moved past the change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_target_is_refused_at_delivery_when_the_setting_is_off() {
    let app = TestApp::spawn_with(fast).await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, &receiver.url(), &["dnc.add"]).await;
    app.block("601000001").await;
    // The same database delivered by a process with the setting off.
    let mut strict = app.state.settings.webhooks.clone();
    strict.allow_private = false;
    let d = Deliverer::new(app.state.db.clone(), &strict, app.state.metrics.clone());
    d.run_once().await.unwrap();
    let r = app
        .get(&format!("/v1/webhooks/{id}/deliveries"), ADMIN_KEY)
        .await;
    let error = r.body["deliveries"][0]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        error.contains("refused") && error.contains("TARCZA_WEBHOOK_ALLOW_PRIVATE"),
        "{}",
        r.body
    );
    assert!(
        receiver.got().is_empty(),
        "nothing reached the loopback receiver"
    );
    // With the setting on, the same change arrives.
    deliver_until(
        &deliverer(&app),
        Duration::from_secs(5),
        "delivered",
        || receiver.delivered().len() == 1,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_mid_delivery_loses_no_change() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let mut t = Tarcza::start_with(&app.db_url, &FAST_ENV).await;
    let r = t
        .call(
            "POST",
            "/v1/webhooks",
            Some(&json!({"url": receiver.url(), "events": ["dnc.add"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    // The first delivery hangs until the process is gone.
    receiver.script(&[Answer::Sleep(Duration::from_secs(60))]);
    for i in 1..=5 {
        let r = t
            .call(
                "POST",
                "/v1/dnc",
                Some(&json!({"number": format!("60100000{i}")})),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    time_until(
        Duration::from_secs(10),
        "the first delivery arrives",
        || async { !receiver.got().is_empty() },
    )
    .await;
    t.kill();
    assert!(receiver.delivered().is_empty());

    let _t = Tarcza::start_with(&app.db_url, &FAST_ENV).await;
    time_until(
        Duration::from_secs(20),
        "all five delivered after the restart",
        || async { receiver.delivered().len() >= 5 },
    )
    .await;
    let got = receiver.got();
    let (changes, _) = feed(&app, ADMIN_KEY, "").await;
    let expected: Vec<String> = changes
        .iter()
        .filter(|c| c["action"] == "dnc.add")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        receiver.delivered(),
        expected,
        "every change, in order, each once answered"
    );
    assert_eq!(
        got[0].event_id, expected[0],
        "the change in flight at the kill…"
    );
    assert_eq!(
        got[1].event_id, expected[0],
        "…is sent again after the restart"
    );
    for g in &got {
        verify(&secret, g);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_change_once() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start().await;
    let a = Tarcza::start_with(&app.db_url, &FAST_ENV).await;
    let b = Tarcza::start_with(&app.db_url, &FAST_ENV).await;
    let r = b
        .call(
            "POST",
            "/v1/webhooks",
            Some(&json!({"url": receiver.url(), "events": ["dnc.add", "dnc.remove"]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.body);
    for i in 0..20 {
        let through = if i % 2 == 0 { &a } else { &b };
        let r = through
            .call(
                "POST",
                "/v1/dnc",
                Some(&json!({"number": format!("6010000{i:02}")})),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    time_until(Duration::from_secs(15), "all twenty delivered", || async {
        receiver.delivered().len() >= 20
    })
    .await;
    // Time for a second deliverer to send anything again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (changes, _) = feed(&app, ADMIN_KEY, "").await;
    let expected: Vec<String> = changes
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(expected.len(), 20);
    assert_eq!(receiver.delivered(), expected, "each once, in order");
    assert_eq!(receiver.got().len(), 20);
}

/// The "Done means": the CRM pushes its flags, loses some in an overwrite, the
/// drift report names exactly those, and a webhook and the change feed tell the CRM of a
/// block an agent added.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crm_loop_closes_end_to_end() {
    let app = TestApp::spawn_with(fast).await;
    let agent = app.key(Role::Agent).await;
    let post = |path: &str, bytes: String| {
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {agent}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(bytes))
            .unwrap()
    };
    // 1. The CRM pushes its ten flags for Acme.
    let flags: Vec<String> = (1..=10).map(|i| format!("6010000{i:02}")).collect();
    let mut file = String::from("number,client\n");
    for n in &flags {
        file.push_str(&format!("{n},Acme\n"));
    }
    let r = app.send(post("/v1/dnc/imports", file)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["created"], 10);

    // 2. An overwrite in the CRM loses two of them.
    let lost = ["601000003", "601000007"];
    let mut export = String::from("telefon,klient,nie_dzwonic\n");
    for n in &flags {
        let flag = if lost.contains(&n.as_str()) {
            "false"
        } else {
            "true"
        };
        export.push_str(&format!("{n},Acme,{flag}\n"));
    }
    export.push_str("601000050,Acme,false\n");

    // 3. The drift report names exactly those.
    let r = app.send(post("/v1/dnc/drift", export)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let acme = r.body["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == "Acme")
        .unwrap();
    let mut forgotten: Vec<&str> = acme["forgotten"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["number"].as_str().unwrap())
        .collect();
    forgotten.sort();
    assert_eq!(forgotten, ["+48601000003", "+48601000007"], "{acme}");

    // 4. The CRM subscribes and follows the feed; an agent blocks a number for Acme.
    let receiver = Receiver::start().await;
    let (_, secret) = subscribe(&app, &receiver.url(), &["dnc.add", "dnc.extend"]).await;
    let latest = app.get("/v1/changes?after=latest", &agent).await;
    let cursor = latest.body["next"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/v1/dnc",
            &agent,
            json!({"number": "601 000 099", "client": "Acme", "reason": "asked the agent"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // 5. Both tell the CRM, with the same change.
    deliver_until(
        &deliverer(&app),
        Duration::from_secs(5),
        "the webhook",
        || receiver.delivered().len() == 1,
    )
    .await;
    let got = &receiver.got()[0];
    verify(&secret, got);
    let pushed: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(pushed["action"], "dnc.add");
    assert_eq!(pushed["number"], "+48601000099");
    assert_eq!(pushed["client"], "Acme");
    assert_eq!(pushed["reason"], "asked the agent");
    let (changes, _) = feed(&app, &agent, &cursor).await;
    assert_eq!(changes, vec![pushed]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_tries_at_once_and_a_subscription_past_the_retention_stops() {
    let app = TestApp::spawn_with(fast).await;
    let receiver = Receiver::start().await;
    receiver.otherwise(Answer::Status(500));
    let (id, _) = subscribe(&app, &receiver.url(), &["dnc.add"]).await;
    app.block("601000001").await;
    // Backoff of an hour: after one failure the change waits.
    let mut slow = app.state.settings.webhooks.clone();
    slow.backoff = Duration::from_secs(3600);
    slow.backoff_max = Duration::from_secs(3600);
    let d = Deliverer::new(app.state.db.clone(), &slow, app.state.metrics.clone());
    d.run_once().await.unwrap();
    d.run_once().await.unwrap();
    assert_eq!(
        receiver.got().len(),
        1,
        "not due again for half an hour or more"
    );
    let r = app.get(&format!("/v1/webhooks/{id}"), ADMIN_KEY).await;
    let next =
        chrono::DateTime::parse_from_rfc3339(r.body["next_attempt_at"].as_str().unwrap()).unwrap();
    assert!(
        next > chrono::Utc::now() + chrono::Duration::minutes(29),
        "{}",
        r.body
    );

    receiver.otherwise(Answer::Status(204));
    let r = app
        .post(&format!("/v1/webhooks/{id}/resume"), ADMIN_KEY, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["attempts"], 0);
    d.run_once().await.unwrap();
    assert_eq!(receiver.delivered().len(), 1, "resumed: tried at once");

    // The feed's retention passes the subscription's cursor (as after a week's outage).
    sqlx::query("UPDATE change_feed SET pruned_version = 1000000")
        .execute(&app.state.db)
        .await
        .unwrap();
    app.block("601000002").await;
    d.run_once().await.unwrap();
    let r = app
        .post(&format!("/v1/webhooks/{id}/resume"), ADMIN_KEY, json!({}))
        .await;
    assert_eq!(r.body["state"], "expired", "{}", r.body);
    assert!(r.body["last_error"]
        .as_str()
        .unwrap()
        .contains("TARCZA_CHANGES_RETENTION"));
    d.run_once().await.unwrap();
    assert_eq!(
        receiver.got().len(),
        2,
        "an expired subscription sends nothing"
    );
    let audited: Vec<String> =
        sqlx::query_scalar("SELECT action FROM audit_log WHERE subject = $1 ORDER BY id")
            .bind(format!("webhook:{id}"))
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        audited,
        ["webhook.create", "webhook.resume", "webhook.resume"]
    );
}
