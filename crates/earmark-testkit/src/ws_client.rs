//! A blocking WebSocket client for the job feeds, as tests read them.

use std::collections::VecDeque;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::{Message, WebSocket};

/// A blocking WebSocket client that unpacks `batch` frames into their messages.
pub struct WsClient {
    /// The socket, for sending and for reading raw frames.
    pub socket: WebSocket<TcpStream>,
    pending: VecDeque<Value>,
}

impl WsClient {
    /// Opens `ws://{addr}{path}`, with `X-Api-Key: key` when given; reads time out every
    /// 200 ms so that the waits below can give up.
    ///
    /// # Errors
    /// The handshake's failure (a refused upgrade is `Http` with its status).
    pub fn connect(addr: &str, path: &str, key: Option<&str>) -> Result<Self, tungstenite::Error> {
        let stream = TcpStream::connect(addr).expect("connect");
        // The handshake may wait for a busy server (a whole suite on two cores); frames are
        // then read with a short timeout, set once the socket is open.
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut request = tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}{path}"
        ))?;
        if let Some(key) = key {
            request
                .headers_mut()
                .insert("X-Api-Key", key.parse().expect("header"));
        }
        let (socket, _) = tungstenite::client(request, stream).map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => tungstenite::Error::ConnectionClosed,
        })?;
        socket
            .get_ref()
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        Ok(Self {
            socket,
            pending: VecDeque::new(),
        })
    }

    /// The next message, waiting up to `within`.
    pub fn next(&mut self, within: Duration) -> Option<Value> {
        let deadline = Instant::now() + within;
        while self.pending.is_empty() {
            if Instant::now() > deadline {
                return None;
            }
            if let Some(value) = self.frame() {
                if value["type"] == "batch" {
                    assert_eq!(
                        value["count"].as_u64().map(|c| c as usize),
                        value["messages"].as_array().map(Vec::len)
                    );
                    self.pending
                        .extend(value["messages"].as_array().cloned().unwrap_or_default());
                } else {
                    self.pending.push_back(value);
                }
            }
        }
        self.pending.pop_front()
    }

    /// The next text frame as JSON, or `None` when the read timed out or was not text.
    fn frame(&mut self) -> Option<Value> {
        match self.socket.read() {
            Ok(Message::Text(text)) => {
                Some(serde_json::from_str(text.as_str()).expect("JSON frame"))
            }
            Ok(_) => None,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("socket: {e}"),
        }
    }

    /// Whole frames as sent (batches not unpacked) until one satisfies `done` (included), or
    /// panics after `within`.
    pub fn frames_until(&mut self, within: Duration, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Some(frame) = self.frame() {
                let finished = done(&frame);
                seen.push(frame);
                if finished {
                    return seen;
                }
            }
        }
        panic!("condition not met within {within:?}; frames: {seen:?}");
    }

    /// Messages until one satisfies `done` (included), or panics after `within`.
    pub fn until(&mut self, within: Duration, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Some(message) = self.next(Duration::from_millis(200)) {
                let finished = done(&message);
                seen.push(message);
                if finished {
                    return seen;
                }
            }
        }
        panic!(
            "condition not met within {within:?}; last messages: {:?}",
            seen.iter().rev().take(5).collect::<Vec<_>>()
        );
    }
}
