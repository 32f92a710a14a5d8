//! An actix-web server on a free loopback port, in a thread of its own: how the fakes and
//! receivers of the tests listen.

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

/// Serves the routes `configure` sets up on `127.0.0.1:<free port>` with one worker; returns
/// the port and the handle that stops it.
pub(crate) fn serve(
    configure: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
) -> (u16, ServerHandle) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || App::new().configure(configure.clone()))
                .workers(1)
                .bind("127.0.0.1:0")
                .unwrap();
            let port = server.addrs()[0].port();
            let server = server.run();
            tx.send((port, server.handle())).unwrap();
            server.await.unwrap();
        });
    });
    rx.recv().unwrap()
}
