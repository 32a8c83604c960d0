//! One admin client session (filled in when the protocol layer lands).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::shared::NodeShared;
use super::AdminHandle;

/// Serves one admin connection until the client quits.
pub async fn serve_admin_connection(_stream: TcpStream, _peer: SocketAddr, _admin: AdminHandle, _shared: Arc<NodeShared>) {}
