//! The client side's byte stream: plain TCP, or TCP upgraded to TLS after the client's
//! `SSLRequest` packet.
//!
//! An enum rather than a boxed trait object: a plain session pays one predictable branch per
//! read or write system call, nothing per packet, and no allocation.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// A stream that can switch to TLS in the middle of the MySQL handshake.
pub trait StartTls: AsyncRead + AsyncWrite + Unpin + Send {
    /// Runs the TLS server handshake on this stream. `prefix` holds bytes already read past
    /// the `SSLRequest` (a client sends its TLS ClientHello without waiting), which the TLS
    /// layer must see first.
    fn start_tls(
        &mut self,
        prefix: Bytes,
        config: Arc<rustls::ServerConfig>,
    ) -> impl Future<Output = io::Result<()>> + Send;
}

/// A bare `TcpStream` cannot change type in place: servers that offer TLS use
/// [`ClientStream`]; this is only reached if a caller offers TLS on a bare socket.
impl StartTls for TcpStream {
    async fn start_tls(
        &mut self,
        _prefix: Bytes,
        _config: Arc<rustls::ServerConfig>,
    ) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "TLS needs a ClientStream, not a bare TcpStream",
        ))
    }
}

/// An accepted client connection, plain or TLS.
#[derive(Debug)]
pub enum ClientStream {
    /// Plain TCP (also before the TLS upgrade).
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<TlsStream<Rewind<TcpStream>>>),
    /// Left behind by a failed upgrade: every operation fails.
    Broken,
}

impl From<TcpStream> for ClientStream {
    fn from(stream: TcpStream) -> Self {
        ClientStream::Plain(stream)
    }
}

impl ClientStream {
    /// The TCP socket underneath (to peek for a hang-up, read addresses, set options).
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            ClientStream::Plain(s) => Some(s),
            ClientStream::Tls(s) => Some(&s.get_ref().0.inner),
            ClientStream::Broken => None,
        }
    }

    /// Whether the connection runs over TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self, ClientStream::Tls(_))
    }

    /// The negotiated TLS version and cipher suite, e.g. `("TLSv1.3",
    /// "TLS13_AES_256_GCM_SHA384")`; `None` for a plain connection.
    pub fn tls_info(&self) -> Option<(String, String)> {
        let ClientStream::Tls(s) = self else {
            return None;
        };
        let conn = s.get_ref().1;
        let version = conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
            other => format!("{other:?}"),
        })?;
        let suite = conn.negotiated_cipher_suite()?;
        Some((version, format!("{:?}", suite.suite())))
    }
}

fn broken() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "TLS handshake failed")
}

impl StartTls for ClientStream {
    async fn start_tls(
        &mut self,
        prefix: Bytes,
        config: Arc<rustls::ServerConfig>,
    ) -> io::Result<()> {
        let ClientStream::Plain(tcp) = std::mem::replace(self, ClientStream::Broken) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TLS requested twice",
            ));
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let tls = acceptor.accept(Rewind { prefix, inner: tcp }).await?;
        *self = ClientStream::Tls(Box::new(tls));
        Ok(())
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            ClientStream::Broken => Poll::Ready(Err(broken())),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            ClientStream::Broken => Poll::Ready(Err(broken())),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
            ClientStream::Broken => Poll::Ready(Err(broken())),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(s) => s.is_write_vectored(),
            ClientStream::Tls(s) => s.is_write_vectored(),
            ClientStream::Broken => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            ClientStream::Broken => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            ClientStream::Broken => Poll::Ready(Ok(())),
        }
    }
}

/// A stream that first yields bytes already read from it (the start of the TLS handshake,
/// buffered by the MySQL framing before the switch).
#[derive(Debug)]
pub struct Rewind<T> {
    prefix: Bytes,
    inner: T,
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
