//! A webhook receiver on loopback, as a person's home automation would run one: it records
//! every post (headers and raw body) and can refuse the first ones.

use std::sync::{Arc, Mutex};

use actix_web::{HttpRequest, HttpResponse, web};

/// One post the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `X-Earmark-Event`.
    pub event: Option<String>,
    /// `X-Earmark-Signature`.
    pub signature: Option<String>,
    /// `X-Earmark-Delivery`.
    pub delivery: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub answered: u16,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    refuse_next: usize,
}

/// The receiver; stops when dropped.
pub struct WebhookReceiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    state: Arc<Mutex<State>>,
    server: actix_web::dev::ServerHandle,
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut state = state.lock().unwrap();
    let answered = if state.refuse_next > 0 {
        state.refuse_next -= 1;
        503
    } else {
        204
    };
    state.received.push(Received {
        event: header("X-Earmark-Event"),
        signature: header("X-Earmark-Signature"),
        delivery: header("X-Earmark-Delivery"),
        content_type: header("Content-Type"),
        body: body.to_vec(),
        answered,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(answered).unwrap()).finish()
}

impl WebhookReceiver {
    /// Starts a receiver on a free loopback port, taking every post.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let data = web::Data::new(state.clone());
        let (port, server) = crate::loopback::serve(move |app| {
            app.app_data(data.clone())
                .route("/hook", web::post().to(receive));
        });
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
            server,
        }
    }

    /// Answers the next `n` posts 503.
    pub fn refuse_next(&self, n: usize) {
        self.state.lock().unwrap().refuse_next = n;
    }

    /// Every post so far, in the order received.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}
