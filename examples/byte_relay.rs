//! The floor for `scripts/bench-sysbench`: a bare TCP byte relay (no parsing, no routing, no
//! pooling), one tokio task per client copying both ways to its own upstream connection.
//! Not part of pxadm's CLI; it exists so the proxy's CPU per query and tail latency can be
//! compared with the cheapest thing that could sit in the same place.
//!
//! `cargo run --release --example byte_relay -- LISTEN_ADDR UPSTREAM_ADDR`

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(upstream)) = (args.next(), args.next()) else {
        eprintln!("usage: byte_relay LISTEN_ADDR UPSTREAM_ADDR");
        std::process::exit(2);
    };
    let parse = |s: &str| {
        s.parse::<SocketAddr>()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{s}: {e}")))
    };
    let upstream = parse(&upstream)?;
    let listener = TcpListener::bind(parse(&listen)?).await?;
    loop {
        let (mut client, _) = listener.accept().await?;
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            // Same socket options as the proxy's client and backend sockets.
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}
