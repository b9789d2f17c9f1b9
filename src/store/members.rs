//! Registry members in Postgres: one table per generation (`regdata_<import id>`), written
//! once with COPY by the import that makes it, read back with COPY when a snapshot is
//! built, and dropped when the next generation goes live. The tables live in the serving
//! role's own schema (see `roles`).
//!
//! Keys are 64-bit: numbers as their E.164 digits, hashes as their first 8 bytes; a hash
//! key above `i64::MAX` is stored bit for bit as a negative `bigint`.

use std::io::Write;

use futures_util::TryStreamExt;
use sqlx::PgConnection;

/// The table holding the members written by import `generation`. Generations are
/// integers we issue, so the name is never user input.
pub fn table_name(generation: i64) -> String {
    format!("regdata_{generation}")
}

/// Creates generation `generation`'s table and fills it with `keys` (in the caller's
/// transaction: the table exists only if the import commits).
pub async fn write(
    conn: &mut PgConnection,
    generation: i64,
    keys: impl Iterator<Item = u64>,
) -> Result<(), sqlx::Error> {
    let table = table_name(generation);
    sqlx::query(&format!("CREATE TABLE {table} (number bigint NOT NULL)"))
        .execute(&mut *conn)
        .await?;
    let mut copy = conn
        .copy_in_raw(&format!("COPY {table} (number) FROM STDIN"))
        .await?;
    let mut buf = Vec::with_capacity(1 << 20);
    for n in keys {
        writeln!(buf, "{}", n as i64).expect("writing to a Vec");
        if buf.len() >= (1 << 20) - 32 {
            copy.send(std::mem::take(&mut buf)).await?;
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await?;
    }
    copy.finish().await?;
    Ok(())
}

/// Every key of generation `generation`, in table order. Read with COPY (text), far
/// cheaper than decoding rows.
pub async fn read(conn: &mut PgConnection, generation: i64) -> Result<Vec<u64>, sqlx::Error> {
    let mut keys = Vec::new();
    let mut partial: u64 = 0;
    let mut negative = false;
    let mut stream = conn
        .copy_out_raw(&format!(
            "COPY {} (number) TO STDOUT",
            table_name(generation)
        ))
        .await?;
    while let Some(chunk) = stream.try_next().await? {
        for &b in chunk.iter() {
            if b == b'\n' {
                keys.push(if negative {
                    partial.wrapping_neg()
                } else {
                    partial
                });
                partial = 0;
                negative = false;
            } else if b == b'-' {
                negative = true;
            } else {
                partial = partial * 10 + u64::from(b.wrapping_sub(b'0'));
            }
        }
    }
    Ok(keys)
}

/// Drops generation `generation`'s table, if it is there.
pub async fn drop(conn: &mut PgConnection, generation: i64) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("DROP TABLE IF EXISTS {}", table_name(generation)))
        .execute(conn)
        .await?;
    Ok(())
}
