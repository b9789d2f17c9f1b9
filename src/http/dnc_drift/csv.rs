//! The drift report as CSV (`Accept: text/csv`): one row per finding.

use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::findings::Findings;
use crate::http::dnc_list::csv_field;
use crate::index::Reason;

/// One row per finding: `client,number,kind,line,reasons`.
pub(super) fn csv_answer(findings: &Findings<'_>) -> Response {
    let mut out = String::from("client,number,kind,line,reasons\r\n");
    for r in findings.clients.values() {
        let client = r.client.as_deref().unwrap_or("");
        let rows = r
            .forgotten
            .iter()
            .map(|f| (f, "forgotten"))
            .chain(r.candidates.iter().map(|f| (f, "candidate")));
        for (f, kind) in rows {
            csv_field(&mut out, client, true);
            out.push(',');
            csv_field(&mut out, &f.number.e164(), false);
            out.push(',');
            out.push_str(kind);
            out.push(',');
            out.push_str(&f.line.to_string());
            out.push(',');
            let reasons: Vec<String> = f.reasons.iter().map(describe).collect();
            csv_field(&mut out, &reasons.join("; "), true);
            out.push_str("\r\n");
        }
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
}

/// A reason in words: `dnc entry 12 (client Acme, prefix +4870): asked`, `registry rpo`.
pub(super) fn describe(r: &Reason<'_>) -> String {
    match r {
        Reason::Dnc {
            entry_id,
            prefix,
            scope,
            client,
            campaign,
            reason,
            ..
        } => {
            let mut s = format!("dnc entry {entry_id} ({scope}");
            if let Some(c) = client {
                s.push_str(&format!(" {c}"));
            }
            if let Some(c) = campaign {
                s.push_str(&format!(" / {c}"));
            }
            if let Some(p) = prefix {
                s.push_str(&format!(", prefix {p}"));
            }
            s.push(')');
            if let Some(why) = reason {
                s.push_str(&format!(": {why}"));
            }
            s
        }
        Reason::Registry { registry } => format!("registry {registry}"),
        Reason::Consent { code, .. } => code.to_string(),
    }
}
