//! One port, two protocols: plain HTTP for the Alibaba Cloud OpenAPI (as the SDKs' `http`
//! endpoints use it) and HTTPS for the clusters' Kubernetes APIs (as kubeconfigs use them).
//!
//! ```text
//!  accept ─▶ peek first byte ─▶ 0x16 (TLS handshake record) ─▶ TLS ─▶ HTTP/1.1 ─▶ router
//!                            └─▶ anything else (a method name) ──────▶ HTTP/1.1 ─▶ router
//! ```

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The first byte of every TLS connection: a handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Accepts connections on `listener` until it fails; each is served on its own task.
pub async fn serve(listener: TcpListener, app: Router, tls: TlsAcceptor) -> io::Result<()> {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors and the like pass; do not spin on them.
            Err(e) if is_transient(&e) => {
                tracing::warn!(error = %e, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let (app, tls) = (app.clone(), tls.clone());
        tokio::spawn(async move {
            if let Err(e) = serve_connection(stream, app, tls).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

fn is_transient(e: &io::Error) -> bool {
    !matches!(
        e.kind(),
        io::ErrorKind::InvalidInput | io::ErrorKind::PermissionDenied
    )
}

async fn serve_connection(stream: TcpStream, app: Router, tls: TlsAcceptor) -> io::Result<()> {
    // Replies are small and latency-bound; do not let Nagle hold them back.
    stream.set_nodelay(true)?;
    let mut first = [0u8; 1];
    let is_tls = stream.peek(&mut first).await? == 1 && first[0] == TLS_HANDSHAKE;
    let service = TowerToHyperService::new(app);
    let http = hyper::server::conn::http1::Builder::new();
    let served = if is_tls {
        let stream = tls.accept(stream).await?;
        http.serve_connection(TokioIo::new(stream), service).await
    } else {
        http.serve_connection(TokioIo::new(stream), service).await
    };
    served.map_err(io::Error::other)
}
