//! Phone numbers stay out of the logs unless TARCZA_LOG_NUMBERS is on.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

use crate::helpers::{TestApp, ADMIN_KEY};

/// Log output captured in memory.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// `subscriber` as this thread's default until the value is dropped, so that it sees
/// every event of this thread. tracing-core caches each callsite's interest for the whole
/// process, and while only one dispatcher is registered it asks the *registering thread's*
/// default (tokio-rs/tracing#3611): a sibling test on a thread without a subscriber that
/// reaches a callsite first caches `never` for it, and this capture then misses that
/// event (the `privacy` test failed so now and then, "dnc entry added" missing). With a
/// second dispatcher registered, tracing takes the union of all of them instead.
pub(crate) fn capture(subscriber: impl tracing::Subscriber + Send + Sync + 'static) -> Capturing {
    let second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    Capturing {
        _guard: tracing::subscriber::set_default(subscriber),
        _second: second,
    }
}

pub(crate) struct Capturing {
    _guard: tracing::subscriber::DefaultGuard,
    _second: tracing::Dispatch,
}

/// Checks, blocks, looks up and unblocks 601 234 567 with every log level on, in text and
/// JSON format, and returns everything that was logged.
async fn log_of_a_day_with(app: &TestApp, json_format: bool) -> String {
    let out = Captured::default();
    let builder = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false);
    let _capturing = if json_format {
        capture(builder.json().finish())
    } else {
        capture(builder.finish())
    };
    assert!(app.allowed("601 234 567").await);
    let r = app
        .post(
            "/v1/check",
            ADMIN_KEY,
            json!({"numbers": ["601234567", "+48601234567"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .post(
            "/v1/dnc",
            ADMIN_KEY,
            json!({"number": "601-234-567", "reason": "asked"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let id = r.body["id"].as_i64().unwrap();
    assert!(!app.allowed("+48601234567").await);
    assert_eq!(
        app.get("/v1/dnc?number=601234567", ADMIN_KEY).await.status,
        StatusCode::OK
    );
    let r = app
        .delete(
            &format!("/v1/dnc/{id}"),
            ADMIN_KEY,
            json!({"reason": "mistake"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.check("601234567x").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    out.text()
}

#[tokio::test]
async fn logs_hold_masked_numbers_and_matched_routes_only() {
    let app = TestApp::spawn().await;
    for json_format in [false, true] {
        let logs = log_of_a_day_with(&app, json_format).await;
        // The capture works: the events and spans are there.
        assert!(logs.contains("dnc entry added"), "{logs}");
        assert!(logs.contains("/v1/check"), "{logs}");
        assert!(
            logs.contains("+48601***567"),
            "the masked form is logged: {logs}"
        );
        for raw in ["601234567", "601 234 567", "601-234-567", "601%20234%20567"] {
            assert!(!logs.contains(raw), "{raw} appears in the logs:\n{logs}");
        }
        assert!(!logs.contains("number=6"), "no raw URI in spans: {logs}");
        // Keys are never logged either.
        assert!(!logs.contains(ADMIN_KEY));
    }
}

#[tokio::test]
async fn numbers_are_logged_in_full_only_when_switched_on() {
    let app = TestApp::spawn().await;
    let mut settings = (*app.state.settings).clone();
    settings.log_numbers = true;
    let state = app.state.clone().with_settings(settings);
    let debug = TestApp::with_state(state, app.db_url.clone());
    let logs = log_of_a_day_with(&debug, false).await;
    assert!(logs.contains("+48601234567"), "{logs}");
}
