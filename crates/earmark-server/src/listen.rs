//! The HTTP server: the actix-web application behind actix-http's HTTP/1 dispatcher, on
//! connections of earmark's own type.
//!
//! This is what `actix_web::HttpServer` assembles, with one difference it does not allow: each
//! accepted connection is a [`ZeroCopyConnection`], so that `/stream` bodies go from the page
//! cache to the socket with `sendfile` (`earmark_sendfile`). Timeouts, graceful shutdown and
//! worker count are `HttpServer`'s defaults except where noted.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::error::DispatchError;
use actix_http::{Extensions, HttpService, KeepAlive, Request, Response};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config,
};
use actix_web::dev::AppConfig;
use actix_web::rt::net::TcpStream;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

use earmark_sendfile::ZeroCopyConnection;

/// How long a client may take to send a request's head (`HttpServer`'s default is 5 s; a
/// phone on a poor network needs longer).
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a closing connection may take to say goodbye.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Connections the kernel queues before they are accepted (`HttpServer`'s default).
const BACKLOG: i32 = 1024;

/// Listeners on every address `addrs` resolves to; an error only when none could be bound.
///
/// # Errors
/// The last address's error when no address could be bound.
pub fn bind(addrs: &str) -> io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::new();
    let mut last_error = None;
    for addr in addrs.to_socket_addrs()? {
        match listener(addr) {
            Ok(listener) => listeners.push(listener),
            Err(e) => last_error = Some(e),
        }
    }
    match (listeners.is_empty(), last_error) {
        (false, _) => Ok(listeners),
        (true, Some(e)) => Err(e),
        (true, None) => Err(io::Error::other("the address resolves to nothing")),
    }
}

/// A listener on `addr` as `HttpServer` makes it: address reuse (a restart need not wait for
/// the old connections to time out) and room for [`BACKLOG`] connections not yet accepted
/// (std's `TcpListener::bind` allows 128).
fn listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let socket = rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    rustix::net::sockopt::set_socket_reuseaddr(&socket, true)?;
    rustix::net::bind(&socket, &addr)?;
    rustix::net::listen(&socket, BACKLOG)?;
    Ok(TcpListener::from(socket))
}

/// A server answering with `app` on `listeners` until SIGINT or SIGTERM, then giving
/// in-flight requests `shutdown_timeout_s` seconds to finish.
///
/// # Errors
/// When a listener cannot be set up for serving.
pub fn serve<F, I, S, B>(
    listeners: Vec<TcpListener>,
    app: F,
    shutdown_timeout_s: u64,
) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    B: MessageBody + 'static,
{
    let mut builder = Server::build().shutdown_timeout(shutdown_timeout_s);
    let shutdown = builder.graceful_shutdown_signal();
    for listener in listeners {
        let addr = listener.local_addr()?;
        let (app, shutdown) = (app.clone(), shutdown.clone());
        builder = builder.listen(format!("earmark-{addr}"), listener, move || {
            let shutdown = shutdown.clone();
            let http = HttpService::build()
                // Lets idle keep-alive connections close at once when shutting down (as
                // `HttpServer` does, through this builder method it keeps out of its docs).
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .keep_alive(KeepAlive::default())
                .client_request_timeout(REQUEST_HEAD_TIMEOUT)
                .client_disconnect_timeout(DISCONNECT_TIMEOUT)
                .local_addr(addr)
                .on_connect_ext(|conn: &ZeroCopyConnection, data: &mut Extensions| {
                    data.insert(conn.handoff());
                })
                .h1(map_config(
                    app().into_factory().map_err(|e| e.into().error_response()),
                    |_| AppConfig::default(),
                ));
            fn_service(|tcp: TcpStream| async move {
                let peer = tcp.peer_addr().ok();
                Ok::<_, DispatchError>((ZeroCopyConnection::new(tcp), peer))
            })
            .and_then(http)
        })?;
    }
    Ok(builder.run())
}
