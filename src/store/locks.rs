//! Advisory locks that make a piece of work happen once across replicas: an import of a
//! registry, the scheduled re-sync (the scheduler's leadership), and the change feed's
//! upkeep (the feed's leadership) and webhook deliveries. A lock is held by a
//! session of its own ([`SessionLock`]), so it dies with its connection when the holder
//! crashes. Nothing else takes advisory locks on these keys.

use sqlx::{Connection, PgConnection, PgPool};

/// Class of the import locks (the object is the registry's id): "an import of this
/// registry is running".
pub const IMPORT_LOCK_CLASS: i32 = 0x7a72;
/// Class of the scheduler's lock: "this session runs the scheduled re-sync".
const SCHEDULER_LOCK_CLASS: i32 = 0x7a73;
/// Class of the feed's lock: "this session records expiries and prunes the feed".
const FEED_LOCK_CLASS: i32 = 0x7a74;
/// Class of the webhooks' lock: "this session delivers webhooks".
const WEBHOOKS_LOCK_CLASS: i32 = 0x7a75;

/// The (class, object) key of an advisory lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockKey(i32, i32);

impl LockKey {
    /// One import of registry `registry_id` at a time.
    pub fn import(registry_id: i32) -> LockKey {
        LockKey(IMPORT_LOCK_CLASS, registry_id)
    }

    /// One scheduler among all replicas.
    pub const SCHEDULER: LockKey = LockKey(SCHEDULER_LOCK_CLASS, 0);

    /// One replica recording expiries and pruning the feed.
    pub const FEED: LockKey = LockKey(FEED_LOCK_CLASS, 0);

    /// One replica delivering webhooks.
    pub const WEBHOOKS: LockKey = LockKey(WEBHOOKS_LOCK_CLASS, 0);
}

/// Takes the lock on `conn`'s session if no other session holds it.
pub async fn try_lock(conn: &mut PgConnection, key: LockKey) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(key.0)
        .bind(key.1)
        .fetch_one(conn)
        .await
}

/// Gives the lock up (a harmless no-op when `conn`'s session does not hold it).
pub async fn unlock(conn: &mut PgConnection, key: LockKey) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(key.0)
        .bind(key.1)
        .execute(conn)
        .await?;
    Ok(())
}

/// A connection of its own (out of the pool) holding an advisory lock for as long as it
/// lives.
pub struct SessionLock {
    conn: PgConnection,
    key: LockKey,
}

impl SessionLock {
    /// Takes `key` on a new session if no other session holds it; `None` if one does.
    pub async fn try_take(pool: &PgPool, key: LockKey) -> Result<Option<SessionLock>, sqlx::Error> {
        let mut conn = pool.acquire().await?.detach();
        if try_lock(&mut conn, key).await? {
            Ok(Some(SessionLock { conn, key }))
        } else {
            let _ = conn.close().await;
            Ok(None)
        }
    }

    /// The lock of registry `registry_id`'s imports.
    pub async fn try_import(
        pool: &PgPool,
        registry_id: i32,
    ) -> Result<Option<SessionLock>, sqlx::Error> {
        Self::try_take(pool, LockKey::import(registry_id)).await
    }

    /// The scheduler's leadership.
    pub async fn try_leadership(pool: &PgPool) -> Result<Option<SessionLock>, sqlx::Error> {
        Self::try_take(pool, LockKey::SCHEDULER).await
    }

    /// The locked session, for the work the lock guards.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Whether the session (and so the lock) is still there.
    pub async fn held(&mut self) -> bool {
        self.conn.ping().await.is_ok()
    }

    /// Gives the lock up at once: closing alone frees it only when the server gets round
    /// to ending the session, a moment later, and the next taker could be refused. (If
    /// the connection is broken, closing it frees the lock anyway.)
    pub async fn release(mut self) {
        let _ = unlock(&mut self.conn, self.key).await;
        if let Err(e) = self.conn.close().await {
            tracing::warn!(error = %e, "closing a locked session");
        }
    }
}
