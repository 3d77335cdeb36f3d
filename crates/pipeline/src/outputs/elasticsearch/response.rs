//! Bulk responses → what to do with each item (pure: no I/O), with Logstash 8's rules:
//! 2xx is delivered; 409 is a conflict (on `create`, the document is already there:
//! delivered); 400/404 and `dlq_custom_codes` go to the dead letter queue; anything else
//! (429, 5xx, ...) is retried for that item alone.

use super::encode::Action;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// The query that keeps bulk responses small (only what classification reads).
pub const FILTER_PATH: &str = "errors,items.*.error,items.*.status";

/// What to do with one item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// 409: the document exists (create) or changed meanwhile (update); Logstash logs and
    /// does not retry it.
    Conflict(String),
    Retry(String),
    DeadLetter(String),
}

/// What to do with a whole request, from its HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestVerdict {
    /// Read the items.
    Items,
    /// Retry the whole request (429, 5xx, 413, and any other failure: never drop).
    RetryAll,
}

pub fn classify_status(status: u16) -> RequestVerdict {
    if (200..300).contains(&status) {
        RequestVerdict::Items
    } else {
        RequestVerdict::RetryAll
    }
}

#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    errors: bool,
    #[serde(default)]
    #[allow(dead_code)]
    items: IgnoredAny,
}

#[derive(Deserialize)]
struct Full {
    #[serde(default)]
    items: Vec<indexmap::IndexMap<String, ItemResult>>,
}

#[derive(Deserialize)]
struct ItemResult {
    status: u16,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

/// A 2xx bulk response that cannot be read: the whole request is retried.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("unreadable bulk response: {0}")]
    Json(String),
    #[error("bulk response has {got} items, {sent} were sent")]
    Count { got: usize, sent: usize },
}

/// Classifies every item of a 2xx bulk response; `sent` are the actions in request order.
pub fn classify_bulk(
    body: &[u8],
    sent: &[Action],
    dlq_custom_codes: &[u16],
) -> Result<Vec<Verdict>, ResponseError> {
    let head: Head =
        serde_json::from_slice(body).map_err(|e| ResponseError::Json(e.to_string()))?;
    if !head.errors {
        // The common case: no item needs reading.
        return Ok(vec![Verdict::Delivered; sent.len()]);
    }
    let full: Full =
        serde_json::from_slice(body).map_err(|e| ResponseError::Json(e.to_string()))?;
    if full.items.len() != sent.len() {
        return Err(ResponseError::Count {
            got: full.items.len(),
            sent: sent.len(),
        });
    }
    Ok(full
        .items
        .iter()
        .zip(sent)
        .map(|(item, action)| match item.values().next() {
            Some(r) => classify_item(*action, r.status, r.error.as_ref(), dlq_custom_codes),
            None => Verdict::Retry("empty bulk item".into()),
        })
        .collect())
}

/// Classifies one item by its status and error.
pub fn classify_item(
    action: Action,
    status: u16,
    error: Option<&serde_json::Value>,
    dlq_custom_codes: &[u16],
) -> Verdict {
    let reason = || {
        let err = error.map(|e| e.to_string()).unwrap_or_else(|| "{}".into());
        format!(
            "could not index event to elasticsearch: status {status}, action {}, error {err}",
            action.as_str()
        )
    };
    match status {
        200..=299 => Verdict::Delivered,
        // Deleting what is not there is done.
        404 if action == Action::Delete && error.is_none() => Verdict::Delivered,
        409 => Verdict::Conflict(reason()),
        s if dlq_custom_codes.contains(&s) => Verdict::DeadLetter(reason()),
        400 | 404 => Verdict::DeadLetter(reason()),
        _ => Verdict::Retry(reason()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn testdata(name: &str) -> Vec<u8> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/es")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The actions of a recorded request body, read from its action lines.
    fn actions_of(ndjson: &[u8]) -> Vec<Action> {
        let mut out = Vec::new();
        let mut lines = ndjson.split(|b| *b == b'\n').filter(|l| !l.is_empty());
        while let Some(l) = lines.next() {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            let name = v.as_object().unwrap().keys().next().unwrap().clone();
            let a = Action::parse(&name).unwrap();
            if a != Action::Delete {
                lines.next();
            }
            out.push(a);
        }
        out
    }

    #[test]
    fn recorded_mixed_response() {
        let sent = actions_of(&testdata("bulk_mixed.request.ndjson"));
        assert_eq!(sent.len(), 8);
        let v = classify_bulk(&testdata("bulk_mixed.response.json"), &sent, &[]).unwrap();
        assert_eq!(v[0], Verdict::Delivered);
        assert!(
            matches!(&v[1], Verdict::Conflict(r) if r.contains("version_conflict_engine_exception"))
        );
        assert!(
            matches!(&v[2], Verdict::DeadLetter(r) if r.contains("status 400") && r.contains("mapper_parsing_exception"))
        );
        assert!(
            matches!(&v[3], Verdict::DeadLetter(r) if r.contains("invalid_index_name_exception"))
        );
        assert_eq!(v[4], Verdict::Delivered);
        assert_eq!(v[5], Verdict::Delivered);
        // delete of a missing document: nothing to do.
        assert_eq!(v[6], Verdict::Delivered);
        assert!(
            matches!(&v[7], Verdict::DeadLetter(r) if r.contains("document_missing_exception"))
        );
    }

    #[test]
    fn recorded_ok_response_needs_no_items() {
        let v = classify_bulk(
            &testdata("bulk_ok.response.json"),
            &[Action::Index, Action::Create],
            &[],
        )
        .unwrap();
        assert_eq!(v, vec![Verdict::Delivered, Verdict::Delivered]);
    }

    #[test]
    fn per_item_rejections_are_retried_and_custom_codes_dead_lettered() {
        let body = testdata("bulk_item_429.response.json");
        let sent = [Action::Index; 4];
        let v = classify_bulk(&body, &sent, &[]).unwrap();
        assert_eq!(v[0], Verdict::Delivered);
        assert!(matches!(&v[1], Verdict::Retry(r) if r.contains("status 429")));
        assert!(matches!(&v[2], Verdict::Retry(_)));
        assert!(matches!(&v[3], Verdict::Retry(_)));
        let v = classify_bulk(&body, &sent, &[403]).unwrap();
        assert!(matches!(&v[3], Verdict::DeadLetter(r) if r.contains("cluster_block_exception")));
    }

    #[test]
    fn malformed_or_mismatched_responses_retry_everything() {
        assert!(matches!(
            classify_bulk(b"<html>", &[Action::Index], &[]),
            Err(ResponseError::Json(_))
        ));
        let body = testdata("bulk_item_429.response.json");
        assert_eq!(
            classify_bulk(&body, &[Action::Index], &[]),
            Err(ResponseError::Count { got: 4, sent: 1 })
        );
    }

    #[test]
    fn request_statuses() {
        assert_eq!(classify_status(200), RequestVerdict::Items);
        for s in [429, 500, 502, 503, 413, 401, 400] {
            assert_eq!(classify_status(s), RequestVerdict::RetryAll, "{s}");
        }
    }
}
