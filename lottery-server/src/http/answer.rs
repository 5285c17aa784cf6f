//! What the status port answers to one request ([`answer`]): the route, the
//! token check, the headers. Synchronous and short: a look at the server
//! ([`Facts::gather`]) takes locks the event loops also take, so it happens
//! here, between two awaits, never across one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use parking_lot::Mutex;

use super::slots::Slots;
use crate::history::Sampler;
use crate::http_counters::HttpCounters;
use crate::http_settings::BearerToken;
use crate::shared::Shared;
use crate::status::Facts;
use crate::store_watch::StoreWatch;

/// The page at `/`: no external script, font or style.
const PAGE: &str = include_str!("../status.html");

/// Whether the server is ready (the agency port accepts), shared with the
/// server that sets it.
pub(crate) type Readiness = Arc<AtomicBool>;

/// What the port looks at to answer.
pub(super) struct View {
    pub(super) shared: Arc<Shared>,
    pub(super) store: StoreWatch,
    pub(super) ready: Readiness,
    pub(super) started: Instant,
    pub(super) token: Option<BearerToken>,
    /// The port's connections (how many are held, for `/metrics`).
    pub(super) slots: Arc<Slots>,
    /// What the port's limits did.
    pub(super) counters: Arc<HttpCounters>,
    /// The last minutes, sampled on the port's thread (so this lock is
    /// never contended: the sampler and the answers take turns there).
    pub(super) sampler: Mutex<Sampler>,
}

impl View {
    /// One look at the server and at the port itself.
    fn facts(&self) -> Facts {
        let http = self.counters.counts(self.slots.len());
        Facts::gather(&self.shared, &self.store, self.started.elapsed(), http)
    }

    /// Takes the history's next sample.
    pub(super) fn sample(&self) {
        self.sampler.lock().sample(&self.shared);
    }
}

/// The answer to `request` (its body is never read: every path is a GET).
pub(super) fn answer<B>(request: &Request<B>, view: &View) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if path != "/healthz"
        && let Some(token) = &view.token
        && !authorized(request, token)
    {
        view.counters.unauthorized();
        let mut response = plain(StatusCode::UNAUTHORIZED, "a bearer token is required\n");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"lottery status\""),
        );
        return response;
    }
    match path {
        "/metrics" => {
            let facts = view.facts();
            body(
                StatusCode::OK,
                facts.metrics_text(),
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
        }
        "/status" => {
            let facts = view.facts();
            let json = facts.status_json(view.sampler.lock().history());
            no_store(body(StatusCode::OK, json.to_string(), "application/json"))
        }
        "/" => no_store(body(
            StatusCode::OK,
            PAGE.to_owned(),
            "text/html; charset=utf-8",
        )),
        "/healthz" => plain(StatusCode::OK, "ok\n"),
        "/readyz" if view.ready.load(Ordering::SeqCst) && !view.shared.is_stopping() => {
            plain(StatusCode::OK, "ready\n")
        }
        "/readyz" => plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Whether `request` carries `Authorization: Bearer <token>` (the scheme's
/// case does not matter, RFC 9110 11.1).
fn authorized<B>(request: &Request<B>, token: &BearerToken) -> bool {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return false;
    };
    let value = value.as_bytes();
    let scheme = b"bearer ";
    match value.get(..scheme.len()) {
        Some(given) if given.eq_ignore_ascii_case(scheme) => {
            token.matches(value[scheme.len()..].trim_ascii())
        }
        _ => false,
    }
}

fn body(status: StatusCode, text: String, content_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn no_store(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
