//! The real `earmark` binary, started as a user would: in a directory of its own, with only
//! the environment given, talked to over HTTP on loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `earmark` binary under test: `EARMARK_BIN`, else the one beside this test's target dir.
pub fn earmark_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("EARMARK_BIN") {
        return bin.into();
    }
    // target/<profile>/deps/<test binary> → target/<profile>/earmark
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("earmark");
    assert!(
        bin.is_file(),
        "{} is missing: build it first (`cargo build -p earmark-server`), or run the whole workspace's tests",
        bin.display()
    );
    bin
}

/// A running `earmark` process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// The key printed at start, if one was generated.
    pub printed_key: Option<String>,
    /// Everything the process printed on stdout until it was listening.
    pub stdout: Vec<String>,
}

/// How a start attempt ended.
pub enum Started {
    /// Listening.
    Up(Server),
    /// Exited before listening.
    Exited {
        /// How it exited.
        status: ExitStatus,
        /// What it printed on stdout.
        stdout: Vec<String>,
        /// What it printed on stderr.
        stderr: String,
    },
}

/// Where a started server's stderr (its log) goes: a file in its working directory, so a
/// chatty log can never fill a pipe and stall it, and tests can read it afterwards.
pub fn stderr_log(cwd: &Path) -> PathBuf {
    cwd.join("earmark.stderr.log")
}

/// Starts `earmark` in `cwd` with only `env` (plus PATH and HOME) set and `args`.
pub fn start(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Started {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(stderr_log(cwd))
        .unwrap();
    let mut command = Command::new(earmark_bin());
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", cwd)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn earmark");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => {
                if let Some(addr) = line.strip_prefix("Listening on ") {
                    let base = addr.trim().to_owned();
                    lines.push(line);
                    let printed_key = lines
                        .iter()
                        .find_map(|l| l.strip_prefix("API key: ").map(str::to_owned));
                    return Started::Up(Server {
                        child,
                        base,
                        printed_key,
                        stdout: lines,
                    });
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait().unwrap() {
                    return exited(cwd, status, lines);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().unwrap();
                return exited(cwd, status, lines);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("earmark did not report listening within 60 s; stdout so far: {lines:?}");
}

fn exited(cwd: &Path, status: ExitStatus, stdout: Vec<String>) -> Started {
    let stderr = std::fs::read_to_string(stderr_log(cwd)).unwrap_or_default();
    Started::Exited {
        status,
        stdout,
        stderr,
    }
}

/// Starts `earmark` and insists that it comes up.
pub fn start_ok(cwd: &Path, env: &[(&str, &str)]) -> Server {
    match start(cwd, env, &[]) {
        Started::Up(server) => server,
        Started::Exited {
            status,
            stdout,
            stderr,
        } => {
            panic!("earmark exited with {status}: stdout {stdout:?}, stderr {stderr}")
        }
    }
}

/// A plain HTTP response.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Reads a whole `ureq` response (bodies up to 64 MiB).
    fn from_response(mut response: ureq::http::Response<ureq::Body>) -> Self {
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .unwrap();
        Self {
            status: response.status().as_u16(),
            headers,
            body,
        }
    }

    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `Content-Type`, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

impl Server {
    /// `GET path` with optional headers, any status accepted.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.request("GET", path, headers)
    }

    /// `method path` (GET, HEAD or DELETE) with optional headers, any status accepted.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "GET" => agent.get(&url),
            "HEAD" => agent.head(&url),
            "DELETE" => agent.delete(&url),
            other => panic!("unsupported method {other}"),
        };
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Reply::from_response(request.call().unwrap())
    }

    /// `POST path` with a JSON body and optional headers, any status accepted.
    pub fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.request_json("POST", path, body, headers)
    }

    /// `method path` (POST, PATCH or PUT) with a JSON body and optional headers, any status
    /// accepted.
    pub fn request_json(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Reply {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.base);
        let mut request = match method {
            "POST" => agent.post(&url),
            "PATCH" => agent.patch(&url),
            "PUT" => agent.put(&url),
            other => panic!("unsupported method {other}"),
        };
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Reply::from_response(request.send_json(body).unwrap())
    }

    /// Polls `GET /jobs/{id}` until `done` holds for the job, and returns it; panics with the
    /// job as last seen after `within`.
    pub fn wait_for_job(
        &self,
        id: &str,
        headers: &[(&str, &str)],
        within: Duration,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let job = self.get(&format!("/jobs/{id}"), headers).json();
            if done(&job) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job still not there after {within:?}: {job}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the process with SIGKILL, as a crash or the OOM killer would, and waits for it.
    pub fn kill_hard(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (at most `within`) for the process to exit.
    pub fn terminate(mut self, within: Duration) -> ExitStatus {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("earmark did not stop within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The living processes (zombies excluded) whose command line `matches`: `(pid, command line)`.
pub fn running_processes(matches: impl Fn(&str) -> bool) -> Vec<(i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let state = stat.get(stat.rfind(')')? + 2..)?.chars().next()?;
            (state != 'Z' && matches(&cmdline)).then_some((pid, cmdline))
        })
        .collect()
}
