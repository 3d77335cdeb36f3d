//! HTTP side of the scheduler API: the SUBSCRIBE stream and the other calls
//! (PROTOCOL.md §2-§4). Knows about leaders and redirects; knows nothing about policy.

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use reqwest::StatusCode;

use crate::proto::{Call, Event};
use crate::recordio::{Decoder, RecordIoError};

pub const SCHEDULER_PATH: &str = "/api/v1/scheduler";
pub const STREAM_ID_HEADER: &str = "Mesos-Stream-Id";
/// Redirects followed for one request before giving up (a leader change mid-way
/// gives at most one or two).
const MAX_REDIRECTS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("master {master}: {source}")]
    Http {
        master: String,
        source: reqwest::Error,
    },
    #[error("master {master} answered {status}: {body}")]
    Status {
        master: String,
        status: StatusCode,
        body: String,
    },
    #[error("master {master} redirected to an unusable location {location:?}")]
    BadRedirect { master: String, location: String },
    #[error("too many redirects, last at {0}")]
    RedirectLoop(String),
    #[error("no master reachable; tried {0}")]
    NoMaster(String),
    #[error("not subscribed")]
    NotSubscribed,
    #[error("event stream: {0}")]
    Framing(#[from] RecordIoError),
    #[error("event stream: undecodable event: {0}")]
    Decode(serde_json::Error),
    #[error("event stream ended")]
    StreamEnded,
}

impl ClientError {
    /// The subscription is gone (403 "Framework is not subscribed", or a 400 about a
    /// stream id that no longer matches): the caller re-subscribes.
    pub fn needs_resubscribe(&self) -> bool {
        match self {
            Self::Status { status, body, .. } => {
                *status == StatusCode::FORBIDDEN
                    || (*status == StatusCode::BAD_REQUEST
                        && (body.contains("stream ID")
                            || body.contains("Framework cannot be found")))
            }
            Self::NotSubscribed => true,
            _ => false,
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    masters: Vec<String>,
    auth: Option<(String, String)>,
    state: Mutex<ClientState>,
}

#[derive(Default)]
struct ClientState {
    leader: Option<String>,
    stream_id: Option<String>,
}

/// `http://host:port` from a `--master` entry (`host:port` or a URL).
pub fn normalize_master(m: &str) -> String {
    let m = m.trim().trim_end_matches('/');
    if m.starts_with("http://") || m.starts_with("https://") {
        m.to_string()
    } else {
        format!("http://{m}")
    }
}

/// Resolves a 307 `Location` (`//host:port/api/v1/scheduler`, or absolute) to the
/// new leader's base URL, keeping the current scheme.
fn leader_from_location(current: &str, location: &str) -> Option<String> {
    let scheme = current.split_once("://").map_or("http", |(s, _)| s);
    let rest = if let Some(r) = location.strip_prefix("//") {
        r
    } else if let Some((_, r)) = location.split_once("://") {
        r
    } else {
        return None;
    };
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}"))
}

/// An open SUBSCRIBE stream.
pub struct Subscription {
    pub stream_id: String,
    pub master: String,
    body: BoxStream<'static, Result<Bytes, reqwest::Error>>,
    decoder: Decoder,
}

impl Subscription {
    /// The next event; unknown fields are ignored by the types, so an event that does
    /// not decode means a broken stream.
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(record) = self.decoder.next_record()? {
                return serde_json::from_slice(&record).map_err(ClientError::Decode);
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.decoder.push(&chunk),
                Some(Err(source)) => {
                    return Err(ClientError::Http {
                        master: self.master.clone(),
                        source,
                    })
                }
                None => return Err(ClientError::StreamEnded),
            }
        }
    }
}

impl Client {
    pub fn new(masters: &[String], auth: Option<(String, String)>) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| ClientError::Http {
                master: String::new(),
                source,
            })?;
        Ok(Self {
            http,
            masters: masters.iter().map(|m| normalize_master(m)).collect(),
            auth,
            state: Mutex::new(ClientState::default()),
        })
    }

    pub fn leader(&self) -> Option<String> {
        self.lock().leader.clone()
    }

    /// Replaces the master list (ZooKeeper detection found a new leader).
    pub fn set_leader(&self, leader: String) {
        self.lock().leader = Some(normalize_master(&leader));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClientState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn candidates(&self) -> Vec<String> {
        let mut out: Vec<String> = self.lock().leader.iter().cloned().collect();
        for m in &self.masters {
            if !out.contains(m) {
                out.push(m.clone());
            }
        }
        out
    }

    fn request(
        &self,
        master: &str,
        call: &Call,
        stream_id: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let body = serde_json::to_vec(call).unwrap_or_default();
        // Exactly "application/json": the master compares the string (415 otherwise).
        let mut rb = self
            .http
            .post(format!("{master}{SCHEDULER_PATH}"))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body);
        if let Some(id) = stream_id {
            rb = rb.header(STREAM_ID_HEADER, id);
        }
        if let Some((user, pass)) = &self.auth {
            rb = rb.basic_auth(user, Some(pass));
        }
        rb
    }

    /// Sends one call to `master`, following 307s; returns the response and the
    /// master that answered.
    async fn post(
        &self,
        mut master: String,
        call: &Call,
        stream_id: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<(reqwest::Response, String), ClientError> {
        for _ in 0..MAX_REDIRECTS {
            let mut rb = self.request(&master, call, stream_id);
            if let Some(t) = timeout {
                rb = rb.timeout(t);
            }
            let resp = rb.send().await.map_err(|source| ClientError::Http {
                master: master.clone(),
                source,
            })?;
            if resp.status() == StatusCode::TEMPORARY_REDIRECT {
                let location = resp
                    .headers()
                    .get("Location")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let next = leader_from_location(&master, &location).ok_or_else(|| {
                    ClientError::BadRedirect {
                        master: master.clone(),
                        location,
                    }
                })?;
                tracing::info!(from = %master, to = %next, "following redirect to the leading master");
                master = next;
                continue;
            }
            if resp.status().is_success() {
                return Ok((resp, master));
            }
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            return Err(ClientError::Status {
                master,
                status,
                body,
            });
        }
        Err(ClientError::RedirectLoop(master))
    }

    /// Opens the event stream on the leader (or the first master that answers).
    pub async fn subscribe(&self, call: &Call) -> Result<Subscription, ClientError> {
        let mut tried = Vec::new();
        for master in self.candidates() {
            tried.push(master.clone());
            match self.post(master, call, None, None).await {
                Ok((resp, leader)) => {
                    let Some(stream_id) = resp
                        .headers()
                        .get(STREAM_ID_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string)
                    else {
                        tracing::warn!(master = %leader, "SUBSCRIBE answer lacks Mesos-Stream-Id");
                        continue;
                    };
                    {
                        let mut st = self.lock();
                        st.leader = Some(leader.clone());
                        st.stream_id = Some(stream_id.clone());
                    }
                    return Ok(Subscription {
                        stream_id,
                        master: leader,
                        body: resp.bytes_stream().boxed(),
                        decoder: Decoder::default(),
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "subscribe failed");
                    // A 4xx from a leader is an answer about the request, not the master.
                    if let ClientError::Status { status, .. } = &e {
                        if status.is_client_error() {
                            return Err(e);
                        }
                    }
                }
            }
        }
        Err(ClientError::NoMaster(tried.join(", ")))
    }

    /// Sends a non-SUBSCRIBE call on a separate connection with the stream id.
    pub async fn send(&self, call: &Call) -> Result<(), ClientError> {
        let (leader, stream_id) = {
            let st = self.lock();
            (st.leader.clone(), st.stream_id.clone())
        };
        let (Some(leader), Some(stream_id)) = (leader, stream_id) else {
            return Err(ClientError::NotSubscribed);
        };
        let (_, answered) = self
            .post(
                leader.clone(),
                call,
                Some(&stream_id),
                Some(Duration::from_secs(75)),
            )
            .await?;
        if answered != leader {
            self.lock().leader = Some(answered);
        }
        Ok(())
    }

    /// The stream is gone; calls fail until the next subscribe.
    pub fn clear_stream(&self) {
        self.lock().stream_id = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_locations() {
        assert_eq!(
            leader_from_location("http://m1:5050", "//m2:5050/api/v1/scheduler").as_deref(),
            Some("http://m2:5050")
        );
        assert_eq!(
            leader_from_location("https://m1:5050", "//m2:5050/x").as_deref(),
            Some("https://m2:5050")
        );
        assert_eq!(
            leader_from_location("http://m1", "http://m3:1/api").as_deref(),
            Some("http://m3:1")
        );
        assert_eq!(leader_from_location("http://m1", "m2:5050"), None);
        assert_eq!(leader_from_location("http://m1", "//"), None);
    }

    #[test]
    fn master_entries() {
        assert_eq!(normalize_master("m1:5050"), "http://m1:5050");
        assert_eq!(normalize_master(" http://m1:5050/ "), "http://m1:5050");
    }
}
