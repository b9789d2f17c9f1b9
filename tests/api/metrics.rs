//! `/metrics`: scraped and parsed like Prometheus would; counters move after checks,
//! imports and do-not-call changes; state is read at scrape time; no number, client or
//! campaign ever appears in it.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;
use tarcza::domain::Role;
use tower::ServiceExt;

use crate::helpers::{csv, numbers, TestApp, ADMIN_KEY};

/// One scrape: each sample by its name and sorted labels.
#[derive(Debug)]
pub struct Scrape {
    samples: BTreeMap<(String, Vec<(String, String)>), f64>,
    pub text: String,
}

impl Scrape {
    /// Parses Prometheus' text format (0.0.4): `# HELP`/`# TYPE` lines, then samples
    /// `name{label="value",…} number`. Panics on a line that is neither.
    pub fn parse(text: &str) -> Scrape {
        let mut samples = BTreeMap::new();
        let mut typed = std::collections::HashSet::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                assert!(
                    ["counter", "gauge", "histogram"].contains(&kind),
                    "unexpected type: {line}"
                );
                typed.insert(name.to_string());
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            assert!(!line.starts_with('#'), "unexpected comment: {line}");
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), vec![]),
                Some((name, rest)) => (name.to_string(), labels(rest.strip_suffix('}').unwrap())),
            };
            let family = ["_bucket", "_sum", "_count", "_total"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
                .unwrap_or(&name);
            assert!(typed.contains(family), "sample before its # TYPE: {line}");
            let previous = samples.insert((name, labels), value);
            assert!(previous.is_none(), "repeated series: {line}");
        }
        Scrape {
            samples,
            text: text.to_string(),
        }
    }

    /// The value of the series `name` with exactly these labels (0 when absent, as
    /// Prometheus reads a counter that has not been touched).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut labels: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        self.samples
            .get(&(name.to_string(), labels))
            .copied()
            .unwrap_or(0.0)
    }

    pub fn has(&self, name: &str) -> bool {
        self.samples.keys().any(|(n, _)| n == name)
    }
}

/// `k="v",…` with the escapes of the text format.
fn labels(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escaped char").1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        out.push((key.to_string(), value));
        rest = after[end + 1..].trim_start_matches(',');
    }
    out.sort();
    out
}

pub async fn scrape(app: &TestApp) -> Scrape {
    let res = app
        .router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    Scrape::parse(std::str::from_utf8(&bytes).unwrap())
}

#[tokio::test]
async fn metrics_need_no_key_and_describe_the_loaded_state() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let m = scrape(&app).await;
    assert_eq!(m.get("tarcza_ready", &[]), 1.0);
    assert_eq!(m.get("tarcza_database_up", &[]), 1.0);
    assert_eq!(m.get("tarcza_dnc_entries", &[("scope", "global")]), 1.0);
    assert_eq!(m.get("tarcza_dnc_entries", &[("scope", "client")]), 0.0);
    let version = app.state.index.current().unwrap().version;
    assert_eq!(m.get("tarcza_snapshot_version", &[]), version as f64);
    assert_eq!(
        m.get("tarcza_registry_entries", &[("registry", "robinson")]),
        0.0
    );
    assert!(m.has("tarcza_registry_entries"));
    assert_eq!(
        m.get("tarcza_import_in_progress", &[("registry", "robinson")]),
        0.0
    );
    assert!(m.get("tarcza_db_pool_max_connections", &[]) >= 1.0);
    assert!(m.has("tarcza_snapshot_age_seconds"));
    assert!(m.has("tarcza_snapshot_lag_seconds"));
}

#[tokio::test]
async fn before_the_first_snapshot_metrics_say_not_ready() {
    let app = TestApp::spawn_unloaded().await;
    let m = scrape(&app).await;
    assert_eq!(m.get("tarcza_ready", &[]), 0.0);
    assert!(!m.has("tarcza_snapshot_version"));
    let r = app.check("601234567").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    let after = scrape(&app).await;
    let not_ready = [("mode", "single"), ("result", "not_ready")];
    assert_eq!(after.get("tarcza_checks_total", &not_ready), 1.0);
}

#[tokio::test]
async fn counters_move_after_checks_imports_and_dnc_changes() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;

    // Checks: allowed, blocked (do-not-call), invalid; a batch of three.
    let entry = app.block("601234567").await;
    assert!(app.allowed("601234568").await);
    assert!(!app.allowed("601234567").await);
    assert_eq!(
        app.check("60123").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let batch = app
        .post(
            "/v1/check",
            ADMIN_KEY,
            json!({"numbers": ["601234567", "601234569", "no number"]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    // A do-not-call change of each kind.
    app.block("601234567").await; // existing
    let removed = app
        .delete(
            &format!("/v1/dnc/{}", entry["id"]),
            ADMIN_KEY,
            json!({"reason": "entered by mistake"}),
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.body);
    // An import, then a check the registry blocks.
    let listed = numbers(200, 1000);
    let mut file = csv(&listed);
    file.extend_from_slice(b"not a number\n");
    let r = app.upload("robinson", "max_reject_rate=0.5", file).await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert!(!app.allowed(&listed[0]).await);
    // A wrong key and a key without the role.
    let wrong = app.get("/v1/check?number=601234567", "tz_wrong_key").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let dialer = app.key(Role::Dialer).await;
    let r = app.get("/v1/registries/robinson/imports", &dialer).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let after = scrape(&app).await;
    let moved =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let checks = |mode, result| moved("tarcza_checks_total", &[("mode", mode), ("result", result)]);
    assert_eq!(checks("single", "allowed"), 1.0);
    assert_eq!(checks("single", "blocked"), 2.0);
    assert_eq!(checks("single", "invalid"), 1.0);
    assert_eq!(checks("batch", "allowed"), 1.0);
    assert_eq!(checks("batch", "blocked"), 1.0);
    assert_eq!(checks("batch", "invalid"), 1.0);
    assert_eq!(
        moved(
            "tarcza_blocks_total",
            &[("source", "dnc"), ("registry", "")]
        ),
        2.0
    );
    assert_eq!(
        moved(
            "tarcza_blocks_total",
            &[("source", "registry"), ("registry", "robinson")]
        ),
        1.0
    );
    assert_eq!(
        moved("tarcza_check_duration_seconds_count", &[("mode", "single")]),
        4.0
    );
    assert_eq!(
        moved("tarcza_check_duration_seconds_count", &[("mode", "batch")]),
        1.0
    );
    let dnc = |action| moved("tarcza_dnc_changes_total", &[("action", action)]);
    assert_eq!(dnc("add"), 1.0);
    assert_eq!(dnc("existing"), 1.0);
    assert_eq!(dnc("remove"), 1.0);
    let import = [
        ("registry", "robinson"),
        ("source", "upload"),
        ("status", "succeeded"),
    ];
    assert_eq!(moved("tarcza_imports_total", &import), 1.0);
    let rows = |outcome| {
        moved(
            "tarcza_import_rows_total",
            &[("registry", "robinson"), ("outcome", outcome)],
        )
    };
    assert_eq!(rows("accepted"), 200.0);
    assert_eq!(rows("rejected"), 1.0);
    assert_eq!(
        moved(
            "tarcza_import_duration_seconds_count",
            &[("source", "upload")]
        ),
        1.0
    );
    assert_eq!(
        after.get("tarcza_registry_entries", &[("registry", "robinson")]),
        200.0
    );
    assert_eq!(
        after.get("tarcza_registry_stale", &[("registry", "robinson")]),
        0.0
    );
    let loaded = after.get(
        "tarcza_registry_loaded_timestamp_seconds",
        &[("registry", "robinson")],
    );
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - loaded).abs() < 60.0, "loaded at {loaded}, now {now}");
    let fresh = after.get(
        "tarcza_registry_fresh_until_timestamp_seconds",
        &[("registry", "robinson")],
    );
    assert_eq!((fresh - loaded).round(), 31.0 * 86_400.0);
    assert_eq!(after.get("tarcza_dnc_entries", &[("scope", "global")]), 0.0);
    let auth = |reason| moved("tarcza_auth_failures_total", &[("reason", reason)]);
    assert_eq!(auth("unknown"), 1.0);
    assert_eq!(auth("forbidden"), 1.0);
    let http = |route, method, status| {
        moved(
            "tarcza_http_requests_total",
            &[("route", route), ("method", method), ("status", status)],
        )
    };
    assert_eq!(http("/v1/check", "GET", "200"), 3.0);
    assert_eq!(http("/v1/check", "GET", "422"), 1.0);
    assert_eq!(http("/v1/check", "GET", "401"), 1.0);
    assert_eq!(http("/v1/check", "POST", "200"), 1.0);
    assert_eq!(http("/v1/dnc/{id}", "DELETE", "200"), 1.0);
    assert_eq!(http("/v1/registries/{name}/imports", "GET", "403"), 1.0);
    assert_eq!(
        moved(
            "tarcza_http_request_duration_seconds_count",
            &[("route", "/v1/check"), ("method", "GET"), ("status", "200")]
        ),
        3.0
    );
}

#[tokio::test]
async fn metrics_never_name_a_number_a_client_or_a_campaign() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "+48 601 234 567", "client": "Klient Tajny", "campaign": "Lato-77"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let uri = "/v1/check?number=601234567&client=Klient%20Tajny&campaign=Lato-77";
    assert_eq!(app.get(uri, ADMIN_KEY).await.status, StatusCode::OK);
    app.check("+44 20 7946 0958").await;
    let m = scrape(&app).await;
    for secret in [
        "601234567",
        "2079460958",
        "Klient",
        "Tajny",
        "Lato-77",
        ADMIN_KEY,
    ] {
        assert!(
            !m.text.contains(secret),
            "{secret} in /metrics:\n{}",
            m.text
        );
    }
    assert_eq!(m.get("tarcza_dnc_entries", &[("scope", "campaign")]), 1.0);
}

#[tokio::test]
async fn with_its_own_address_metrics_leave_the_api() {
    let app = TestApp::spawn_with(|c| c.metrics_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    let r = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let own = tarcza::http::metrics_router(app.state.clone());
    let res = own
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn switched_off_metrics_count_nothing_and_are_not_served() {
    let app = TestApp::spawn_with(|c| c.metrics = false).await;
    app.block("601234567").await;
    assert!(!app.allowed("601234567").await);
    assert!(app.allowed("601234568").await);
    let r = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let text = app.state.metrics.encode();
    assert!(
        text.contains(r#"tarcza_checks_total{mode="single",result="blocked"} 0"#),
        "{text}"
    );
    assert!(!text.contains("route=\"/v1/check\",method=\"GET\",status=\"200\"} 1"));
    // Not in the document either.
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    assert!(doc.body["paths"].get("/metrics").is_none());
}
