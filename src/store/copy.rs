//! Rows sent to a `COPY … FROM STDIN` in its text format, in batches of about a
//! megabyte: what the bulk loads (a CRM's flags, its consents) stream their rows through.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgCopyIn;
use sqlx::{PgConnection, Postgres, Transaction};

const BATCH: usize = 1 << 20;

/// Makes the temporary table `create` makes (dropped at commit) for a bulk load in `tx`.
pub async fn temp_table(
    tx: &mut Transaction<'static, Postgres>,
    create: &str,
) -> Result<(), sqlx::Error> {
    // A million rows are sorted (repeats) and joined (with the live rows) in memory.
    sqlx::query("SET LOCAL work_mem = '256MB'")
        .execute(&mut **tx)
        .await?;
    sqlx::query(create).execute(&mut **tx).await?;
    Ok(())
}

pub struct CopyRows<'c> {
    copy: PgCopyIn<&'c mut PgConnection>,
    buf: Vec<u8>,
}

impl<'c> CopyRows<'c> {
    /// Starts `statement` (a `COPY … FROM STDIN`).
    pub async fn start(
        conn: &'c mut PgConnection,
        statement: &str,
    ) -> Result<CopyRows<'c>, sqlx::Error> {
        let copy = conn.copy_in_raw(statement).await?;
        Ok(CopyRows {
            copy,
            buf: Vec::with_capacity(BATCH + 4096),
        })
    }

    /// A field written as is (numbers), with the tab after it.
    pub fn raw(&mut self, value: impl std::fmt::Display) -> &mut Self {
        use std::io::Write;
        // Writing to a Vec cannot fail.
        let _ = write!(self.buf, "{value}\t");
        self
    }

    /// A text field (`\N` for none), escaped, with the tab after it.
    pub fn text(&mut self, value: Option<&str>) -> &mut Self {
        let b = &mut self.buf;
        match value {
            None => b.extend_from_slice(b"\\N"),
            Some(v) => {
                for &c in v.as_bytes() {
                    match c {
                        b'\\' => b.extend_from_slice(b"\\\\"),
                        b'\t' => b.extend_from_slice(b"\\t"),
                        b'\n' => b.extend_from_slice(b"\\n"),
                        b'\r' => b.extend_from_slice(b"\\r"),
                        c => b.push(c),
                    }
                }
            }
        }
        b.push(b'\t');
        self
    }

    /// A time field (`\N` for none), with the tab after it.
    pub fn time(&mut self, value: Option<DateTime<Utc>>) -> &mut Self {
        match value {
            Some(t) => self.raw(t.to_rfc3339()),
            None => self.raw("\\N"),
        }
    }

    /// Ends the row (sent when the batch is full).
    pub async fn end_row(&mut self) -> Result<(), sqlx::Error> {
        // The last field's tab becomes the row's newline.
        if let Some(last) = self.buf.last_mut() {
            *last = b'\n';
        }
        if self.buf.len() >= BATCH {
            self.copy.send(std::mem::take(&mut self.buf)).await?;
            self.buf.reserve(BATCH + 4096);
        }
        Ok(())
    }

    /// Sends what is left and ends the copy.
    pub async fn finish(mut self) -> Result<(), sqlx::Error> {
        if !self.buf.is_empty() {
            self.copy.send(std::mem::take(&mut self.buf)).await?;
        }
        self.copy.finish().await?;
        Ok(())
    }

    /// Gives up the copy (the transaction is then rolled back).
    pub async fn abort(self) {
        let _ = self.copy.abort("the load was abandoned").await;
    }
}
