//! Serves one emulated cluster API on 127.0.0.1 (port from argv[1], default 0) with bearer token
//! `argv[2]` (none: no authentication), printing the bound address. Used by the kubectl golden
//! tests and handy for poking at the API by hand.

use std::sync::Arc;

use kube_emu::{ApiServer, Config, HttpState, SystemClock, router};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "0".into());
    // No token argument: authentication off (kubectl sends no token to an http:// server).
    let token = std::env::args().nth(2);
    let api = Arc::new(ApiServer::new(Arc::new(SystemClock), Config::default()));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("{}", listener.local_addr()?);
    axum::serve(listener, router(HttpState { api, token })).await
}
