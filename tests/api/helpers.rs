//! TestApp: the real router over a real Postgres, with a fresh database per test.
//!
//! With DATABASE_URL unset, one embedded cluster is started per test process (in the
//! system temp dir, fsync off) and each test gets its own database in it. With
//! DATABASE_URL set (a superuser's), the databases are created on that server instead.
//! As in production, the schema is migrated by its owner (the superuser) and the service
//! runs as the unprivileged serving role.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tarcza::config::{Config, Settings};
use tarcza::db::Database;
use tarcza::domain::Role;
use tarcza::embedded::{EmbeddedPostgres, Options, SERVING_ROLE};
use tarcza::http::AppState;
use tower::ServiceExt;

pub const ADMIN_KEY: &str = "tz_test_admin_key_0123456789abcdef";

static CLUSTER: OnceLock<EmbeddedPostgres> = OnceLock::new();
static CREATE_DB: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static COUNTER: AtomicU32 = AtomicU32::new(0);
/// With DATABASE_URL: the serving role's password on that (test) server.
const SERVING_PASSWORD: &str = "tarcza_app_test";

/// URL of a database on the test server, by name.
pub fn server_url(database: &str) -> String {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        // postgres://user@host:port/dbname?params → same with `database`.
        let (base, query) = url
            .split_once('?')
            .map_or((url.as_str(), None), |(b, q)| (b, Some(q)));
        let authority_end = base.find("://").map_or(0, |i| i + 3);
        let path_start = base[authority_end..]
            .find('/')
            .map_or(base.len(), |i| authority_end + i);
        let mut out = format!("{}/{database}", &base[..path_start]);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        return out;
    }
    let cluster = CLUSTER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("tarcza-test-{}", std::process::id()));
        remove_stale_clusters();
        EmbeddedPostgres::start_with(&dir, Options { fsync: false })
            .expect("embedded PostgreSQL for tests")
    });
    cluster.url(database)
}

/// URL of a database on the test server as the serving role.
pub fn serving_url(database: &str) -> String {
    if std::env::var("DATABASE_URL").is_ok() {
        // postgres://user[:password]@host… → postgres://tarcza_app:…@host…
        let url = server_url(database);
        let scheme_end = url.find("://").map_or(0, |i| i + 3);
        let authority_end = url[scheme_end..]
            .find('/')
            .map_or(url.len(), |i| scheme_end + i);
        let host_start = url[scheme_end..authority_end]
            .rfind('@')
            .map_or(scheme_end, |i| scheme_end + i + 1);
        return format!(
            "{}{SERVING_ROLE}:{SERVING_PASSWORD}@{}",
            &url[..scheme_end],
            &url[host_start..]
        );
    }
    server_url(database);
    CLUSTER
        .get()
        .expect("cluster started")
        .serving_url(database)
}

/// Removes the data dirs of earlier test processes that are gone (their lock is free).
fn remove_stale_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path: PathBuf = entry.path();
        let is_ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("tarcza-test-"));
        if !is_ours {
            continue;
        }
        let Ok(lock) = std::fs::File::open(path.join("tarcza.lock")) else {
            continue;
        };
        if lock.try_lock().is_ok() {
            drop(lock);
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    /// The service's URL: the serving role's.
    pub db_url: String,
    /// The schema owner's URL (a superuser's); for an app made by `with_state`, the
    /// same as `db_url`.
    pub owner_url: String,
}

pub struct Response {
    pub status: StatusCode,
    pub body: Value,
}

impl TestApp {
    /// A fresh database, migrated, with the admin key in place and the snapshot loaded.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Like `spawn`, with the configuration changed by `configure` first.
    pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        let app = TestApp::spawn_unloaded_with(configure).await;
        app.state
            .index
            .refresh(&app.state.db)
            .await
            .expect("first snapshot");
        app
    }

    /// Like `spawn`, but the snapshot is not loaded yet (as right after start-up).
    pub async fn spawn_unloaded() -> TestApp {
        TestApp::spawn_unloaded_with(|_| {}).await
    }

    async fn spawn_unloaded_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        let (owner_url, db_url) = new_database().await;
        let database = Database::connect(&db_url, Some(&owner_url))
            .await
            .expect("connect to test database");
        let mut config = Config::defaults();
        config.bootstrap_admin_key = Some(ADMIN_KEY.into());
        // A TestApp runs no change follower: its snapshot is refreshed by the writes made
        // through it (and by tests that call refresh), so the staleness gate, there for a
        // follower that died, would only trip on a slow test. Tests of the gate set it.
        config.max_snapshot_lag = std::time::Duration::from_secs(3600);
        configure(&mut config);
        tarcza::prepare(&database, &config)
            .await
            .expect("prepare database");
        let state = AppState::new(database.pool.clone(), Settings::from(&config));
        state
            .receipts
            .register(&state.db)
            .await
            .expect("publish the receipt key");
        let mut app = TestApp::with_state(state, db_url);
        app.owner_url = owner_url;
        app
    }

    /// Another process's view of the same database: a second AppState on it.
    pub async fn replica(&self) -> TestApp {
        let pool = tarcza::db::connect(&self.db_url)
            .await
            .expect("connect replica");
        let state = AppState::new(pool, (*self.state.settings).clone());
        state
            .receipts
            .register(&state.db)
            .await
            .expect("publish the receipt key");
        state
            .index
            .refresh(&state.db)
            .await
            .expect("replica snapshot");
        let mut app = TestApp::with_state(state, self.db_url.clone());
        app.owner_url = self.owner_url.clone();
        app
    }

    pub fn with_state(state: AppState, db_url: String) -> TestApp {
        TestApp {
            router: tarcza::startup::app(state.clone()),
            state,
            owner_url: db_url.clone(),
            db_url,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Response {
        let (status, bytes) = self.send_raw(req).await;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("non-JSON body: {}", String::from_utf8_lossy(&bytes)))
        };
        Response { status, body }
    }

    /// The status and the body's bytes, as received.
    pub async fn send_raw(&self, req: Request<Body>) -> (StatusCode, Vec<u8>) {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    pub async fn get(&self, uri: &str, key: &str) -> Response {
        self.call(Method::GET, uri, Some(key), None).await
    }

    pub async fn post(&self, uri: &str, key: &str, body: Value) -> Response {
        self.call(Method::POST, uri, Some(key), Some(body)).await
    }

    pub async fn delete(&self, uri: &str, key: &str, body: Value) -> Response {
        self.call(Method::DELETE, uri, Some(key), Some(body)).await
    }

    /// Creates a key with `role` through the API and returns its secret.
    pub async fn key(&self, role: Role) -> String {
        let r = self
            .post(
                "/v1/keys",
                ADMIN_KEY,
                json!({"name": format!("test {role}"), "role": role}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["key"].as_str().unwrap().to_string()
    }

    /// Creates a key with `role` bound as `binding` says (`{"client": …, "campaigns": …,
    /// "may_block_global": …}`) and returns its secret.
    pub async fn bound_key(&self, role: Role, binding: Value) -> String {
        let mut body = json!({"name": format!("bound {role}"), "role": role});
        body.as_object_mut()
            .unwrap()
            .extend(binding.as_object().unwrap().clone());
        let r = self.post("/v1/keys", ADMIN_KEY, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["key"].as_str().unwrap().to_string()
    }

    pub async fn check(&self, number: &str) -> Response {
        let uri = format!("/v1/check?number={}", urlencode(number));
        self.get(&uri, ADMIN_KEY).await
    }

    /// Whether `/check` currently allows `number` (panics on a non-200 answer).
    pub async fn allowed(&self, number: &str) -> bool {
        let r = self.check(number).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.body["allowed"].as_bool().unwrap()
    }

    pub async fn block(&self, number: &str) -> Value {
        let r = self
            .post(
                "/v1/dnc",
                ADMIN_KEY,
                json!({"number": number, "reason": "customer asked"}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
        r.body
    }

    /// Uploads a registry file (raw bytes) and returns the import record.
    pub async fn upload(&self, registry: &str, query: &str, bytes: Vec<u8>) -> Response {
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/v1/registries/{registry}/imports?{query}"))
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN_KEY}"))
            .header(header::CONTENT_TYPE, "text/csv")
            .body(Body::from(bytes))
            .unwrap();
        self.send(req).await
    }
}

/// A fresh, empty database (no migrations applied): its URL and a pool on it, both the
/// owner's (a superuser's).
pub async fn empty_database() -> (String, sqlx::PgPool) {
    let (owner_url, _) = new_database().await;
    let pool = tarcza::db::connect(&owner_url)
        .await
        .expect("connect to test database");
    (owner_url, pool)
}

/// A fresh, empty database, and the serving role on its server: the owner's URL and the
/// serving role's.
async fn new_database() -> (String, String) {
    static ROLE_CREATED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let name = format!(
        "t_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let db_name = name.clone();
    let (admin_url, owner_url, db_url) = tokio::task::spawn_blocking(move || {
        (
            server_url("postgres"),
            server_url(&db_name),
            serving_url(&db_name),
        )
    })
    .await
    .unwrap();
    let _one_at_a_time = CREATE_DB.lock().await;
    tarcza::store::schema::create_database(&admin_url, &name)
        .await
        .expect("create test database");
    if !ROLE_CREATED.load(Ordering::SeqCst) {
        let password = std::env::var("DATABASE_URL")
            .is_ok()
            .then_some(SERVING_PASSWORD);
        tarcza::store::roles::create_serving_role(&admin_url, SERVING_ROLE, password)
            .await
            .expect("create the serving role");
        ROLE_CREATED.store(true, Ordering::SeqCst);
    }
    (owner_url, db_url)
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// `count` Polish mobile numbers from 600 000 000 + `start`, as national digits.
pub fn numbers(count: u64, start: u64) -> Vec<String> {
    (start..start + count)
        .map(|i| format!("60{i:07}"))
        .collect()
}

/// A registry CSV of `numbers` under a `numer` header.
pub fn csv(numbers: &[String]) -> Vec<u8> {
    let mut s = String::from("numer\n");
    for n in numbers {
        s.push_str(n);
        s.push('\n');
    }
    s.into_bytes()
}

/// The SHA-256 of `data` in lowercase hex, as registry checksums and hashed lists write it.
pub fn sha256_hex(data: impl AsRef<[u8]>) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
