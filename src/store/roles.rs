//! Two database roles, so that not even tarcza can rewrite history.
//!
//! The **owner** owns every table and runs the migrations. The **serving** role, which
//! the service runs as, is no superuser, owns no table of the schema and so can neither
//! drop nor alter a table nor disable its triggers, and may not set
//! `session_replication_role` (which would skip triggers). It gets `SELECT`, `INSERT`
//! and `UPDATE` on the tables, and on the append-only ones ([`APPEND_ONLY`]) only
//! `SELECT` and an `INSERT` that leaves `id` and `at` to the database; no `DELETE` or
//! `TRUNCATE` anywhere.
//!
//! Registry members live in tables the imports create and drop (`regdata_<id>`, see
//! `members`). The serving role owns those: they live in a schema named after
//! it, which PostgreSQL's default `search_path` (`"$user", public`) puts first, so the
//! import's unqualified `CREATE TABLE regdata_<id>` lands there and the owner's own
//! look-ups never see it.

use anyhow::{bail, Context};
use sqlx::{Connection, PgConnection, PgExecutor, PgPool};

/// Tables the serving role may add rows to but never change: the audit trail, the
/// change feed (with the expiries it recorded), and the registries' generations and their
/// changes (history). A new append-only table goes here too.
pub const APPEND_ONLY: &[&str] = &[
    "audit_log",
    "changes",
    "dnc_expiries",
    "registry_generations",
    "registry_changes",
];

/// Functions the owner defines for what the serving role may not do itself (it has no
/// `DELETE`): removing change history older than the retention. They run with the
/// owner's rights and refuse anything but old rows.
pub const OWNER_FUNCTIONS: &[&str] = &["prune_change_history(interval)"];

/// Tables the serving role may only read: history written by triggers that run as the
/// owner (migrations 0020, 0061), where history begins and how long evidence is kept (moved
/// only by the owner: the retention function, the owner's start-up).
pub const OWNER_WRITTEN: &[&str] = &[
    "data_version_log",
    "dnc_entry_states",
    "consent_states",
    "policy_states",
    "history_floor",
    "evidence_policy",
];

/// Serialises concurrent grants (several replicas starting with the owner's URL; two
/// GRANTs on one object at once fail with "tuple concurrently updated").
const GRANT_LOCK: i64 = 0x007a_7267_7261_6e74;

/// `name` as an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The role a connection (or a pool's connections) logs in as.
pub async fn current_user(conn: impl PgExecutor<'_>) -> anyhow::Result<String> {
    sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(conn)
        .await
        .context("asking the database who we are")
}

/// Creates the serving role `name` on the server at `admin_url` (a superuser's) unless
/// it exists, and makes sure it is a plain login role: no superuser, no role or
/// database creation, no replication, no bypassing row security. `password` is for a
/// server that wants one (the embedded cluster trusts its private socket).
pub async fn create_serving_role(
    admin_url: &str,
    name: &str,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .context("connecting to create the serving role")?;
    let role = quote_ident(name);
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        sqlx::query(&format!("CREATE ROLE {role} LOGIN"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating role {name}"))?;
    }
    let mut alter = format!(
        "ALTER ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
    );
    if let Some(password) = password {
        alter.push_str(&format!(" PASSWORD '{}'", password.replace('\'', "''")));
    }
    sqlx::query(&alter)
        .execute(&mut conn)
        .await
        .with_context(|| format!("restricting role {name}"))?;
    conn.close().await?;
    Ok(())
}

/// Gives the serving role `role` what the service needs, and nothing more, on the schema
/// that `owner` (the owner's connection, after migrating) owns. Run at every start after
/// the migrations, so tables a migration added are covered. Member tables left in
/// `public` by a version that ran as a single role are moved to the serving role's
/// schema and handed to it (that needs the owner to be a superuser or a member of the
/// serving role; the error says so).
pub async fn grant_serving_role(owner: &mut PgConnection, role: &str) -> anyhow::Result<()> {
    let r = quote_ident(role);
    let mut tx = owner.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(GRANT_LOCK)
        .execute(&mut *tx)
        .await?;
    let mut statements = vec![
        format!("CREATE SCHEMA IF NOT EXISTS {r}"),
        format!("GRANT USAGE, CREATE ON SCHEMA {r} TO {r}"),
        format!("GRANT USAGE ON SCHEMA public TO {r}"),
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {r}"),
        format!("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {r}"),
        // Read to tell whether the schema is current; never written.
        format!("REVOKE INSERT, UPDATE ON public._sqlx_migrations FROM {r}"),
        format!("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {r}"),
        format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {r}"),
    ];
    for function in OWNER_FUNCTIONS {
        statements.push(format!(
            "GRANT EXECUTE ON FUNCTION public.{function} TO {r}"
        ));
    }
    // Receipt keys: register one (the database sets its times), move `last_used_at`.
    statements.push(format!(
        "REVOKE INSERT, UPDATE ON public.receipt_keys FROM {r}"
    ));
    statements.push(format!(
        "GRANT INSERT (id, public_key), UPDATE (last_used_at) ON public.receipt_keys TO {r}"
    ));
    // Erasing evidence older than the retention period, only through the owner's function.
    statements.push(format!(
        "GRANT EXECUTE ON FUNCTION public.erase_expired_evidence(timestamptz) TO {r}"
    ));
    for table in OWNER_WRITTEN {
        statements.push(format!(
            "REVOKE INSERT, UPDATE ON public.{} FROM {r}",
            quote_ident(table)
        ));
    }
    for table in APPEND_ONLY {
        // Every column but the id and the time, which the database fills in.
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT attname::text FROM pg_attribute \
             WHERE attrelid = format('public.%I', $1::text)::regclass AND attnum > 0 \
               AND NOT attisdropped AND attname NOT IN ('id', 'at') ORDER BY attnum",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await
        .with_context(|| format!("reading the columns of {table}"))?;
        let columns: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let t = quote_ident(table);
        statements.push(format!("REVOKE INSERT, UPDATE ON public.{t} FROM {r}"));
        statements.push(format!(
            "GRANT INSERT ({}) ON public.{t} TO {r}",
            columns.join(", ")
        ));
    }
    for statement in statements {
        sqlx::query(&statement)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("granting the serving role `{role}`: {statement}"))?;
    }
    let legacy: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables \
         WHERE schemaname = 'public' AND tablename ~ '^regdata_[0-9]+$' ORDER BY tablename",
    )
    .fetch_all(&mut *tx)
    .await?;
    for table in legacy {
        let t = quote_ident(&table);
        sqlx::query(&format!("ALTER TABLE public.{t} SET SCHEMA {r}"))
            .execute(&mut *tx)
            .await
            .with_context(|| format!("moving public.{table} to schema {role}"))?;
        sqlx::query(&format!("ALTER TABLE {r}.{t} OWNER TO {r}"))
            .execute(&mut *tx)
            .await
            .with_context(|| {
                format!(
                    "handing the registry member table {table} (made when tarcza ran as one \
                     role) to `{role}`: run `GRANT {role} TO <owner role>` once as a superuser, \
                     then start again"
                )
            })?;
        tracing::info!(
            table,
            role,
            "registry member table handed to the serving role"
        );
    }
    tx.commit().await?;
    Ok(())
}

/// After [`grant_serving_role`]: fails unless the serving role is as restricted as the
/// design needs, and its `search_path` puts its own schema first (where imports create
/// the member tables).
pub async fn check_serving_role(pool: &PgPool, role: &str) -> anyhow::Result<()> {
    let risks = rewrite_risks(pool).await?;
    if !risks.is_empty() {
        bail!(
            "the serving role `{role}` (DATABASE_URL) could still rewrite the audit log: {}; \
             run tarcza as a role that is no superuser and owns no table (README: \"Database \
             roles\")",
            risks.join("; ")
        );
    }
    let schema: Option<String> = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(pool)
        .await?;
    if schema.as_deref() != Some(role) {
        bail!(
            "the serving role `{role}` creates tables in schema {schema:?}, not in its own: its \
             search_path must start with \"$user\" (the default); run `ALTER ROLE {} RESET \
             search_path`",
            quote_ident(role)
        );
    }
    Ok(())
}

/// Why the role of `pool` could rewrite or forge the audit trail; empty if it cannot.
pub async fn rewrite_risks(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let mut conn = pool.acquire().await?;
    let (user, superuser, createrole, owner, rewrite, forge, create_public): (
        String,
        bool,
        bool,
        bool,
        bool,
        bool,
        bool,
    ) = sqlx::query_as(
        "SELECT current_user::text, r.rolsuper, r.rolcreaterole, \
                pg_has_role(current_user, c.relowner, 'MEMBER'), \
                has_any_column_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE') \
                    OR has_table_privilege(c.oid, 'TRUNCATE'), \
                has_column_privilege(c.oid, 'at', 'INSERT'), \
                has_schema_privilege('public', 'CREATE') \
         FROM pg_roles r, pg_class c \
         WHERE r.rolname = current_user AND c.oid = 'public.audit_log'::regclass",
    )
    .fetch_one(&mut *conn)
    .await
    .context("checking what the database role may do")?;
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int")
        .fetch_one(&mut *conn)
        .await?;
    // Before PostgreSQL 15 only superusers may set it.
    let replication_role = superuser
        || (version >= 150_000
            && sqlx::query_scalar::<_, bool>(
                "SELECT has_parameter_privilege('session_replication_role', 'SET')",
            )
            .fetch_one(&mut *conn)
            .await?);
    let mut risks = Vec::new();
    if superuser {
        risks.push(format!("`{user}` is a superuser"));
    }
    if replication_role && !superuser {
        risks.push(format!(
            "`{user}` may SET session_replication_role, which skips triggers"
        ));
    }
    if owner {
        risks.push(format!(
            "`{user}` owns audit_log (or may act as its owner), so it may disable its triggers \
             or drop it"
        ));
    }
    if rewrite {
        risks.push(format!("`{user}` may UPDATE, DELETE or TRUNCATE audit_log"));
    }
    if forge && !superuser {
        risks.push(format!("`{user}` may insert audit rows with any time"));
    }
    if createrole {
        risks.push(format!(
            "`{user}` has CREATEROLE, so it may give itself other roles"
        ));
    }
    if create_public && !superuser {
        risks.push(format!(
            "`{user}` may create objects in schema public, where the owner's migrations would \
             find them (run `REVOKE CREATE ON SCHEMA public FROM PUBLIC`, the default since \
             PostgreSQL 15)"
        ));
    }
    Ok(risks)
}
