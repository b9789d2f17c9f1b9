//! `tarcza check NUMBER…`: asks a running tarcza whether numbers may be called
//! (`POST /v1/check`, in batches of 10 000) and prints each verdict with its reasons, in
//! the order given. `-` reads numbers from standard input, one a line.

use std::io::BufRead;
use std::process::ExitCode;

use serde_json::{json, Value};

use super::client::{Client, Failure};
use super::Exit;
use crate::config::CheckArgs;

/// Most numbers one request carries (the API's limit).
const BATCH: usize = 10_000;

/// Runs `tarcza check`; the exit status is described at [`Exit`].
pub async fn check(args: CheckArgs) -> ExitCode {
    match run(&args).await {
        Ok(exit) => exit.into(),
        Err(failure) => failure.report().into(),
    }
}

async fn run(args: &CheckArgs) -> Result<Exit, Failure> {
    let client = Client::new(&args.server)?;
    let mut exit = Exit::Ok;
    let mut batch = Vec::with_capacity(BATCH.min(1024));
    for given in &args.numbers {
        if given != "-" {
            batch.push(given.clone());
        } else {
            for line in std::io::stdin().lock().lines() {
                let line =
                    line.map_err(|e| Failure::Unavailable(format!("reading standard input: {e}")))?;
                let line = line.trim();
                if !line.is_empty() {
                    batch.push(line.to_string());
                }
                if batch.len() == BATCH {
                    exit = exit.max(ask(&client, args, &mut batch).await?);
                }
            }
        }
        if batch.len() >= BATCH {
            exit = exit.max(ask(&client, args, &mut batch).await?);
        }
    }
    if !batch.is_empty() {
        exit = exit.max(ask(&client, args, &mut batch).await?);
    }
    Ok(exit)
}

/// Checks the numbers of `batch` (emptying it), prints their verdicts, and says whether
/// all may be called.
async fn ask(client: &Client, args: &CheckArgs, batch: &mut Vec<String>) -> Result<Exit, Failure> {
    let numbers = std::mem::take(batch);
    let body = json!({"numbers": numbers, "client": args.client, "campaign": args.campaign});
    let answer = client.post_json("v1/check", &body).await?;
    for warning in answer["warnings"].as_array().into_iter().flatten() {
        eprintln!(
            "tarcza: warning: {}",
            warning["message"].as_str().unwrap_or("")
        );
    }
    let mut exit = Exit::Ok;
    for result in answer["results"].as_array().into_iter().flatten() {
        if result["allowed"] != true {
            exit = Exit::No;
        }
        if args.json {
            println!("{result}");
        } else {
            println!("{}", line(result));
        }
    }
    Ok(exit)
}

/// A result as one line: the input, the verdict, the number, the reasons.
fn line(r: &Value) -> String {
    let input = r["input"].as_str().unwrap_or("");
    if let Some(error) = r["error"].as_object() {
        let message = error.get("message").and_then(Value::as_str).unwrap_or("");
        return format!("{input}\tinvalid\t{message}");
    }
    let number = r["number"].as_str().unwrap_or("");
    if r["allowed"] == true {
        return format!("{input}\tallowed\t{number}");
    }
    let reasons: Vec<String> = r["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(reason)
        .collect();
    format!("{input}\tblocked\t{number}\t{}", reasons.join("; "))
}

fn reason(r: &Value) -> String {
    match r["source"].as_str() {
        Some("registry") => format!("registry {}", r["registry"].as_str().unwrap_or("?")),
        Some("dnc") => {
            let mut out = format!(
                "do-not-call entry {} ({}",
                r["entry_id"],
                r["scope"].as_str().unwrap_or("?")
            );
            for key in ["client", "campaign"] {
                if let Some(v) = r[key].as_str() {
                    out.push_str(&format!(" {key} {v}"));
                }
            }
            out.push(')');
            if let Some(why) = r["reason"].as_str() {
                out.push_str(&format!(": {why}"));
            }
            if let Some(until) = r["expires_at"].as_str() {
                out.push_str(&format!(", until {until}"));
            }
            out
        }
        _ => r.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_is_one_line_with_its_reasons() {
        let blocked = json!({"input": "601 234 567", "number": "+48601234567", "allowed": false,
            "reasons": [{"source": "dnc", "entry_id": 5, "scope": "client", "client": "acme",
                         "reason": "said stop"},
                        {"source": "registry", "registry": "robinson"}]});
        assert_eq!(
            line(&blocked),
            "601 234 567\tblocked\t+48601234567\tdo-not-call entry 5 (client client acme): \
             said stop; registry robinson"
        );
        let invalid = json!({"input": "x", "error": {"code": "invalid_number", "message": "no"}});
        assert_eq!(line(&invalid), "x\tinvalid\tno");
        let allowed = json!({"input": "1", "number": "+481", "allowed": true, "reasons": []});
        assert_eq!(line(&allowed), "1\tallowed\t+481");
    }
}
