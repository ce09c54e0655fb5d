//! The HTTP/1.1 front of `valdrix serve`, standing where API Gateway stands in
//! AWS: hyper with room to read an oversized head, and API Gateway's own
//! header limit (10,240 bytes of request line and headers) answered as
//! problem+json like every other error. hyper still answers malformed framing
//! itself, with an empty 400 it gives no hook to shape (docs/faults.md).

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use valdrix_shared::http::problem_with;

/// API Gateway HTTP API's limit on the request line and headers together.
pub const MAX_HEAD_BYTES: usize = 10_240;
/// hyper reads this much before it gives up with its own bare 431: far above
/// [`MAX_HEAD_BYTES`], so the limit above is the one callers meet.
const READ_BUFFER: usize = 256 * 1024;
/// Headers hyper parses; above it hyper answers its own 431.
const MAX_HEADERS: usize = 1000;

/// Refuse a head over [`MAX_HEAD_BYTES`] with a 431 problem.
async fn head_limit(request: Request, next: Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    let method = request.method().as_str().len();
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    // "METHOD SP target SP HTTP/1.1 CRLF" + headers + the closing CRLF.
    let head = method + target + 12 + headers + 2;
    if head > MAX_HEAD_BYTES {
        return problem_with(
            http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("the request line and headers exceed {MAX_HEAD_BYTES} bytes"),
            Default::default(),
        )
        .into_response();
    }
    next.run(request).await
}

/// Serve `app` on `listener` until `shutdown` completes, then let open
/// connections finish (up to 10 s).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // Around the whole router, unmatched paths included.
    let app = tower::ServiceBuilder::new()
        .map_request(|r: http::Request<hyper::body::Incoming>| r.map(axum::body::Body::new))
        .layer(from_fn(head_limit))
        .service(app);
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_buf_size(READ_BUFFER).max_headers(MAX_HEADERS);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    Ok(())
}
