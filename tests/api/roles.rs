//! The service runs as a database role that cannot rewrite history: migrations run as the
//! schema's owner, the service as a role that owns no table and bypasses no trigger.

use sqlx::{Connection, PgConnection};
use tarcza::config::{Config, Settings};
use tarcza::db::Database;
use tarcza::http::AppState;

use crate::helpers::{server_url, serving_url, TestApp};
use crate::net::Tarcza;

/// A database name no earlier run used (a DATABASE_URL server outlives test runs).
fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{tag}_{}_{nanos}", std::process::id())
}

/// `(id, at, action, details)` of every audit row, as the owner sees them.
async fn audit_rows(owner_url: &str) -> Vec<(i64, String, String, String)> {
    let mut owner = PgConnection::connect(owner_url).await.unwrap();
    sqlx::query_as("SELECT id, at::text, action, details::text FROM audit_log ORDER BY id")
        .fetch_all(&mut owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_service_connection_cannot_delete_update_or_truncate_audit_rows() {
    let app = TestApp::spawn().await;
    app.block("601234567").await;
    let before = audit_rows(&app.owner_url).await;
    assert!(before.len() >= 2, "{before:?}");

    // The service's own connections: what a bug or an injected statement could run.
    let mut conn = app.state.db.acquire().await.unwrap();
    let who: (String, bool) = sqlx::query_as(
        "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(who, ("tarcza_app".to_string(), false));
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'audit_log'::regclass",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();

    let attempts = [
        "DELETE FROM audit_log".to_string(),
        "UPDATE audit_log SET action = 'nothing'".to_string(),
        "TRUNCATE audit_log".to_string(),
        // Skipping the append-only triggers.
        "SET session_replication_role = replica".to_string(),
        "ALTER TABLE audit_log DISABLE TRIGGER USER".to_string(),
        "DROP TABLE audit_log".to_string(),
        "ALTER TABLE audit_log RENAME TO audit_log_old".to_string(),
        // Backdated or forged entries.
        "INSERT INTO audit_log (id, action) VALUES (100000, 'forged')".to_string(),
        "INSERT INTO audit_log (at, action) VALUES ('2001-01-01', 'forged')".to_string(),
        // Becoming someone who could.
        format!("SET ROLE \"{owner}\""),
    ];
    for statement in &attempts {
        let r = sqlx::query(statement).execute(&mut *conn).await;
        assert!(r.is_err(), "the service's role could run: {statement}");
    }
    // session_replication_role within a transaction, then the rewrites.
    let mut tx = conn.begin().await.unwrap();
    let set = sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await;
    assert!(set.is_err(), "SET LOCAL session_replication_role worked");
    tx.rollback().await.unwrap();
    for rewrite in [
        "DELETE FROM audit_log",
        "UPDATE audit_log SET details = '{}'",
    ] {
        let mut tx = conn.begin().await.unwrap();
        let _ = sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *tx)
            .await;
        let r = sqlx::query(rewrite).execute(&mut *tx).await;
        let committed = tx.commit().await;
        assert!(
            r.is_err() || committed.is_err(),
            "{rewrite} with session_replication_role worked"
        );
    }
    drop(conn);
    assert!(tarcza::store::roles::rewrite_risks(&app.state.db)
        .await
        .unwrap()
        .is_empty());

    // Nothing changed; the service itself still appends.
    assert_eq!(audit_rows(&app.owner_url).await, before);
    app.block("602234567").await;
    let after = audit_rows(&app.owner_url).await;
    assert_eq!(&after[..before.len()], &before[..]);
    assert_eq!(after.last().unwrap().2, "dnc.add");
}

#[tokio::test]
async fn one_role_for_everything_still_works_and_is_reported() {
    let app = TestApp::spawn().await;

    // DATABASE_URL alone, a superuser's (as before two roles): starts, and says why it
    // should not.
    let single = Database::connect(&app.owner_url, None).await.unwrap();
    single
        .migrate()
        .await
        .expect("a superuser may still run tarcza");
    let risks = tarcza::store::roles::rewrite_risks(&single.pool)
        .await
        .unwrap();
    assert!(risks.iter().any(|r| r.contains("superuser")), "{risks:?}");
    let t = Tarcza::start(&app.owner_url).await;
    let log = t.log();
    assert!(
        log.contains("could rewrite the audit log") && log.contains("is a superuser"),
        "no warning in:\n{log}"
    );
    drop(t);

    // A replica with only the serving role's URL: the schema is current, so it starts.
    let replica = Database::connect(&app.db_url, None).await.unwrap();
    replica
        .migrate()
        .await
        .expect("a current schema needs no owner");

    // The serving role alone on a new database cannot migrate it, and says what to set.
    let name = unique("roles_fresh");
    tarcza::store::schema::create_database(&server_url("postgres"), &name)
        .await
        .unwrap();
    let fresh = Database::connect(&serving_url(&name), None).await.unwrap();
    let err = fresh
        .migrate()
        .await
        .expect_err("the serving role may not migrate");
    assert!(
        format!("{err:#}").contains("TARCZA_MIGRATION_DATABASE_URL"),
        "{err:#}"
    );

    // Two URLs for one role are refused.
    let same = Database::connect(&app.db_url, Some(&app.db_url))
        .await
        .unwrap();
    let err = same.migrate().await.expect_err("same role twice");
    assert!(format!("{err:#}").contains("both log in as"), "{err:#}");
}

/// A database that ran as one role has its registry members in a table that role owns;
/// after the switch to two roles the serving role must read it and, at the next import,
/// drop it.
#[tokio::test]
async fn member_tables_made_under_one_role_pass_to_the_serving_role() {
    let name = unique("roles_upgrade");
    let owner_url = server_url(&name);
    tarcza::store::schema::create_database(&server_url("postgres"), &name)
        .await
        .unwrap();
    // Before: everything as the owner (migrations, an import).
    let owner_pool = tarcza::db::connect(&owner_url).await.unwrap();
    tarcza::db::migrate(&owner_pool).await.unwrap();
    let old = TestApp::with_state(
        AppState::new(owner_pool.clone(), Settings::from(&Config::defaults())),
        owner_url.clone(),
    );
    tarcza::store::keys::bootstrap(&owner_pool, crate::helpers::ADMIN_KEY)
        .await
        .unwrap();
    old.state.index.refresh(&old.state.db).await.unwrap();
    let r = old
        .upload("robinson", "", b"501234567\n502234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);

    // After: the serving role, the owner migrating.
    let database = Database::connect(&serving_url(&name), Some(&owner_url))
        .await
        .unwrap();
    database
        .migrate()
        .await
        .expect("hand the member table over");
    let app = TestApp::with_state(
        AppState::new(database.pool.clone(), Settings::from(&Config::defaults())),
        serving_url(&name),
    );
    app.state.index.refresh(&app.state.db).await.unwrap();
    assert!(!app.allowed("501234567").await);
    let r = app
        .upload("robinson", "force=true", b"501234567\n503234567\n".to_vec())
        .await;
    assert_eq!(r.body["status"], "succeeded", "{}", r.body);
    assert!(app.allowed("502234567").await);
    assert!(!app.allowed("503234567").await);
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT schemaname::text, tableowner::text FROM pg_tables WHERE tablename LIKE 'regdata_%'",
    )
    .fetch_all(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [("tarcza_app".to_string(), "tarcza_app".to_string())]
    );
    owner_pool.close().await;
}
