//! Who may use the API and the web UI: nobody is asked when no credentials are configured
//! (the default: a loopback scheduler, or one behind the DC/OS admin router, which
//! authenticates itself); with `--api-token` and/or `--api-user`/`--api-password` every
//! request needs `Authorization: Bearer <token>` or `Basic` credentials, except
//! `GET /v1/health` (Marathon's health check) and the agent binary the Mesos fetcher
//! downloads (it cannot send headers).
//!
//! Writes are CSRF-safe: a browser attaches Basic credentials to any request a foreign
//! page makes, but cannot add a custom header to a cross-site request, so a write
//! authenticated with Basic must carry `X-Requested-With` (the UI sends it). A Bearer
//! token is never attached by a browser on its own.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

/// The header a write authenticated with Basic credentials must carry.
pub const CSRF_HEADER: &str = "x-requested-with";

/// Configured credentials; both `None` means authentication is off.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Auth {
    pub token: Option<String>,
    pub basic: Option<(String, String)>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secrets themselves.
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("basic_user", &self.basic.as_ref().map(|(u, _)| u))
            .finish()
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Open,
    Bearer,
    Basic,
    Denied,
}

/// Equal without an early exit, so a timing cannot tell how much of a secret matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

impl Auth {
    pub fn enabled(&self) -> bool {
        self.token.is_some() || self.basic.is_some()
    }

    /// Checks the `Authorization` header against the configured credentials.
    pub fn check(&self, headers: &HeaderMap) -> Verdict {
        if !self.enabled() {
            return Verdict::Open;
        }
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Verdict::Denied;
        };
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if let Some(t) = &self.token {
                if same(rest.as_bytes(), t.as_bytes()) {
                    return Verdict::Bearer;
                }
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            if let Some((user, pass)) = &self.basic {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(rest)
                    .unwrap_or_default();
                let want = format!("{user}:{pass}");
                if same(&decoded, want.as_bytes()) {
                    return Verdict::Basic;
                }
            }
        }
        Verdict::Denied
    }
}

/// Paths anyone may read: the health check and the binary the Mesos fetcher downloads.
fn public(method: &Method, path: &str) -> bool {
    *method == Method::GET && (path == "/v1/health" || path == crate::sched::task::ARTIFACT_PATH)
}

/// The axum middleware applying [`Auth`] to every route.
pub async fn require(State(auth): State<Auth>, req: Request, next: Next) -> Response {
    if public(req.method(), req.uri().path()) {
        return next.run(req).await;
    }
    let verdict = auth.check(req.headers());
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    match verdict {
        Verdict::Open | Verdict::Bearer => next.run(req).await,
        Verdict::Basic if write && !req.headers().contains_key(CSRF_HEADER) => (
            StatusCode::FORBIDDEN,
            axum::Json(serde_json::json!({
                "error": "writes with Basic credentials must carry an X-Requested-With header (CSRF protection)"
            })),
        )
            .into_response(),
        Verdict::Basic => next.run(req).await,
        Verdict::Denied => {
            let mut resp = (
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"error": "authentication required"})),
            )
                .into_response();
            if auth.basic.is_some() {
                if let Ok(v) = header::HeaderValue::from_str("Basic realm=\"logstash-mesos\"") {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_str(auth).expect("header"),
        );
        h
    }

    #[test]
    fn credentials_are_checked_exactly() {
        let auth = Auth {
            token: Some("t0ken".into()),
            basic: Some(("ops".into(), "pa:ss".into())),
        };
        assert_eq!(auth.check(&HeaderMap::new()), Verdict::Denied);
        assert_eq!(auth.check(&headers("Bearer t0ken")), Verdict::Bearer);
        assert_eq!(auth.check(&headers("bearer  t0ken ")), Verdict::Bearer);
        assert_eq!(auth.check(&headers("Bearer t0ke")), Verdict::Denied);
        assert_eq!(auth.check(&headers("Bearer t0kenX")), Verdict::Denied);
        let basic = base64::engine::general_purpose::STANDARD.encode("ops:pa:ss");
        assert_eq!(
            auth.check(&headers(&format!("Basic {basic}"))),
            Verdict::Basic
        );
        let wrong = base64::engine::general_purpose::STANDARD.encode("ops:pass");
        assert_eq!(
            auth.check(&headers(&format!("Basic {wrong}"))),
            Verdict::Denied
        );
        assert_eq!(auth.check(&headers("Basic !!notbase64")), Verdict::Denied);
        assert_eq!(Auth::default().check(&HeaderMap::new()), Verdict::Open);
        assert!(!format!("{auth:?}").contains("t0ken") && !format!("{auth:?}").contains("pa:ss"));
    }
}
