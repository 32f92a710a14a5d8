//! A fake Audible API on loopback, for the real audible-cli to talk to.
//!
//! audible-cli runs unmodified; `tests/fixtures/audible/sitecustomize.py` (on `PYTHONPATH`,
//! with `EARMARK_FAKE_AUDIBLE` naming this server) redirects httpx's requests here. The fake
//! answers `GET /1.0/library` in Audible's JSON, paged by `num_results` and `page`, and can be
//! told to fail (any status with Audible's error body) or to answer slowly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

/// How the fake misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Misbehaviour {
    /// Answer every request with this status and message (Audible's `{"message": ...}`).
    Status(u16, String),
    /// Answer correctly, after this long.
    Slow(Duration),
}

/// The fake's state, shared by its handlers.
pub(crate) type Shared = Arc<Mutex<FakeState>>;

#[derive(Default)]
pub(crate) struct FakeState {
    library: Vec<Value>,
    /// The episodes or parts of each parent, as `1.0/library?parent_asin=` lists them.
    children: std::collections::HashMap<String, Vec<Value>>,
    /// Downloadable titles by ASIN.
    pub(crate) content: std::collections::HashMap<String, crate::fake_content::Content>,
    /// How fast audio is served.
    pub(crate) trickle: crate::fake_content::Trickle,
    misbehaviour: Option<Misbehaviour>,
    pub(crate) requests: Vec<Request>,
    /// Authorization codes a login "in the browser" produced, with their PKCE challenge.
    logins: std::collections::HashMap<String, String>,
    /// Listening positions.
    pub(crate) positions: crate::fake_positions::Positions,
}

impl FakeState {
    /// Whether the library holds `asin`.
    pub(crate) fn owns(&self, asin: &str) -> bool {
        self.library
            .iter()
            .chain(self.children.values().flatten())
            .any(|item| item["asin"] == asin)
    }
}

/// The PKCE S256 challenge of `verifier`: base64url(SHA-256), unpadded.
fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// The activation bytes the fake account has.
pub const ACTIVATION_BYTES: &str = "1ceb00da";

/// Audible's activation blob for a signed `GET /license/token`: some metadata, then 8 lines
/// of 70 bytes whose first 4 are the activation bytes, little-endian.
async fn license_token(req: HttpRequest, state: web::Data<Arc<Mutex<FakeState>>>) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    if !req.headers().contains_key("x-adp-signature") {
        return HttpResponse::Forbidden().body("BAD_LOGIN");
    }
    let mut body = b"group_id=fake-group\n".to_vec();
    let value = u32::from_str_radix(ACTIVATION_BYTES, 16).unwrap();
    let mut data = value.to_le_bytes().to_vec();
    data.resize(70 * 8, 0x41);
    for line in data.chunks(70) {
        body.extend_from_slice(line);
        body.push(b'\n');
    }
    HttpResponse::Ok()
        .content_type("application/octet-stream")
        .body(body)
}

/// Amazon's device registration: accepts a code a login produced, if the PKCE verifier
/// matches its challenge, and answers with tokens in Amazon's shape.
async fn register(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<Arc<Mutex<FakeState>>>,
) -> HttpResponse {
    let auth = &body["auth_data"];
    let code = auth["authorization_code"].as_str().unwrap_or_default();
    let verifier = auth["code_verifier"].as_str().unwrap_or_default();
    let serial = body["registration_data"]["device_serial"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let expected = {
        let mut s = state.lock().unwrap();
        s.requests.push(Request::of(&req));
        s.logins.get(code).cloned()
    };
    if expected.as_deref() != Some(s256(verifier).as_str()) {
        return HttpResponse::BadRequest().json(json!({"response": {"error": {
            "code": "InvalidValue", "message": "the authorization code or verifier is wrong"}}}));
    }
    HttpResponse::Ok().json(json!({"response": {"success": {
        "tokens": {
            "mac_dms": {
                "adp_token": "{enc:ZmFrZQ==}{key:ZmFrZQ==}{iv:ZmFrZQ==}{name:ZWFybWFyaw==}{serial:Mg==}",
                "device_private_key": device_private_key()
            },
            "bearer": {"access_token": "Atna|registered", "refresh_token": "Atnr|registered", "expires_in": "3600"},
            "website_cookies": [{"Name": "session-id", "Value": "\"000-1111111-2222222\""}],
            "store_authentication_cookie": {"cookie": "fake-store-cookie"}
        },
        "extensions": {
            "device_info": {"device_name": "Test's Audible for iPhone", "device_serial_number": serial, "device_type": "A2CZJZGLK2JJVM"},
            "customer_info": {"account_pool": "Amazon", "user_id": "amzn1.account.FAKE", "home_region": "NA", "name": "Test", "given_name": "Test"}
        }
    }}}))
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Request {
    /// The HTTP method.
    pub method: String,
    /// Path and query, as sent.
    pub uri: String,
    /// The host audible meant to reach (`X-Earmark-Original-Host`).
    pub original_host: Option<String>,
    /// Whether it carried audible's request signature.
    pub signed: bool,
}

impl Request {
    pub(crate) fn of(req: &HttpRequest) -> Self {
        Self {
            method: req.method().to_string(),
            uri: req.uri().to_string(),
            original_host: req
                .headers()
                .get("x-earmark-original-host")
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned),
            signed: req.headers().contains_key("x-adp-signature"),
        }
    }
}

/// The running fake.
pub struct FakeAudible {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    state: Arc<Mutex<FakeState>>,
    server: actix_web::dev::ServerHandle,
}

/// The answer a misbehaving fake gives instead of the real one (after waiting, when slow).
pub(crate) async fn misbehaving(state: &Shared) -> Option<HttpResponse> {
    let misbehaviour = state.lock().unwrap().misbehaviour.clone();
    match misbehaviour {
        Some(Misbehaviour::Status(code, message)) => {
            let status = actix_web::http::StatusCode::from_u16(code).unwrap();
            Some(HttpResponse::build(status).json(json!({ "message": message })))
        }
        Some(Misbehaviour::Slow(by)) => {
            actix_web::rt::time::sleep(by).await;
            None
        }
        None => None,
    }
}

async fn library(
    req: HttpRequest,
    query: web::Query<std::collections::HashMap<String, String>>,
    state: web::Data<Arc<Mutex<FakeState>>>,
) -> HttpResponse {
    state.lock().unwrap().requests.push(Request::of(&req));
    if let Some(reply) = misbehaving(&state).await {
        return reply;
    }
    let size: usize = query
        .get("num_results")
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let page: usize = query.get("page").and_then(|n| n.parse().ok()).unwrap_or(1);
    let s = state.lock().unwrap();
    // `parent_asin` lists one parent's children, paged the same way (audible-cli's
    // `LibraryItem.get_child_items`; mkb79/Audible docs/source/misc/external_api.rst names
    // the parameter). An unknown parent has none.
    let listed: &[Value] = match query.get("parent_asin") {
        Some(parent) => s.children.get(parent).map_or(&[], Vec::as_slice),
        None => &s.library,
    };
    let total = listed.len();
    let items: Vec<&Value> = listed
        .iter()
        .skip(size * (page.max(1) - 1))
        .take(size)
        .collect();
    let groups: Vec<&str> = query
        .get("response_groups")
        .map(|g| g.split(',').collect())
        .unwrap_or_default();
    HttpResponse::Ok()
        .insert_header(("Total-Count", total.to_string()))
        .json(json!({ "items": items, "response_groups": groups }))
}

impl FakeAudible {
    /// Starts the fake on a free loopback port, with an empty library.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(FakeState::default()));
        let data = web::Data::new(state.clone());
        let (port, server) = crate::loopback::serve(move |app| {
            app.app_data(data.clone())
                .route("/1.0/library", web::get().to(library))
                .route(
                    "/1.0/annotations/lastpositions",
                    web::get().to(crate::fake_positions::last_positions),
                )
                .route(
                    "/1.0/lastpositions/{asin}",
                    web::put().to(crate::fake_positions::put_last_position),
                )
                .route("/auth/register", web::post().to(register))
                .route("/license/token", web::get().to(license_token))
                .route(
                    "/1.0/content/{asin}/licenserequest",
                    web::post().to(crate::fake_content::licence_request),
                )
                .route(
                    "/1.0/content/{asin}/metadata",
                    web::get().to(crate::fake_content::metadata),
                )
                .route(
                    "/FionaCDEServiceEngine/FSDownloadContent",
                    web::route().to(crate::fake_content::cde_download),
                )
                .route("/content/{file}", web::get().to(crate::fake_content::audio))
                .route(
                    "/download/{file}",
                    web::get().to(crate::fake_content::audio),
                )
                .route(
                    "/images/I/{name}",
                    web::get().to(crate::fake_content::cover),
                );
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            state,
            server,
        }
    }

    /// Replaces the library the fake serves, in purchase order.
    pub fn set_library(&self, items: Vec<Value>) {
        self.state.lock().unwrap().library = items;
    }

    /// Sets the episodes or parts `1.0/library?parent_asin=<parent>` lists.
    pub fn set_children(&self, parent: &str, items: Vec<Value>) {
        self.state
            .lock()
            .unwrap()
            .children
            .insert(parent.to_owned(), items);
    }

    /// Changes the library in place.
    pub fn edit_library(&self, edit: impl FnOnce(&mut Vec<Value>)) {
        edit(&mut self.state.lock().unwrap().library);
    }

    /// Makes `asin` downloadable with `content`.
    pub fn add_content(&self, asin: &str, content: crate::fake_content::Content) {
        self.state
            .lock()
            .unwrap()
            .content
            .insert(asin.to_owned(), content);
    }

    /// Changes what the fake holds for `asin`.
    pub fn edit_content(&self, asin: &str, edit: impl FnOnce(&mut crate::fake_content::Content)) {
        if let Some(content) = self.state.lock().unwrap().content.get_mut(asin) {
            edit(content);
        }
    }

    /// Serves audio `chunk` bytes at a time with `pause` between chunks (`None`: at once).
    pub fn trickle(&self, how: crate::fake_content::Trickle) {
        self.state.lock().unwrap().trickle = how;
    }

    /// Makes every following request misbehave (or, with `None`, behave again).
    pub fn misbehave(&self, how: Option<Misbehaviour>) {
        self.state.lock().unwrap().misbehaviour = how;
    }

    /// Plays the person logging in at `login_url` in a browser: remembers the code Amazon
    /// would issue for its PKCE challenge, and returns the `maplanding` address the browser
    /// ends on.
    pub fn log_in(&self, login_url: &str, code: &str) -> String {
        let challenge = login_url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("openid.oa2.code_challenge="))
            .expect("the login URL carries a PKCE challenge")
            .to_owned();
        self.state
            .lock()
            .unwrap()
            .logins
            .insert(code.to_owned(), challenge);
        format!(
            "https://www.amazon.com/ap/maplanding?openid.assoc_handle=amzn_audible_ios_us\
             &openid.oa2.authorization_code={code}&openid.mode=id_res"
        )
    }

    /// Plays another device (the phone) setting `asin`'s position at `at`.
    pub fn set_position(&self, asin: &str, position_ms: u64, at: time::OffsetDateTime) {
        let mut s = self.state.lock().unwrap();
        let version = s.positions.held.get(asin).map_or(0, |h| h.version) + 1;
        s.positions.held.insert(
            asin.to_owned(),
            crate::fake_positions::Held {
                position_ms,
                last_updated: at,
                version,
            },
        );
    }

    /// The position the fake holds for `asin`, with when it was set.
    pub fn position(&self, asin: &str) -> Option<(u64, time::OffsetDateTime)> {
        let s = self.state.lock().unwrap();
        s.positions
            .held
            .get(asin)
            .map(|h| (h.position_ms, h.last_updated))
    }

    /// Makes the position endpoints answer `status` with Audible's error body (or, with
    /// `None`, work again); the rest of the fake is unaffected.
    pub fn fail_positions(&self, how: Option<(u16, &str)>) {
        self.state.lock().unwrap().positions.failing = how.map(|(c, m)| (c, m.to_owned()));
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    /// Starts the earmark binary in `cwd`, listening on a free port, with `key` as its API
    /// key, its audible-cli talking to this fake, and `extra` settings.
    pub fn start_earmark(
        &self,
        cwd: &Path,
        key: &str,
        extra: &[(&str, &str)],
    ) -> crate::server::Server {
        let fake_env = self.env();
        let mut env: Vec<(&str, &str)> = vec![
            ("EARMARK__SERVER__BIND", "127.0.0.1:0"),
            ("EARMARK__AUTH__API_KEY", key),
        ];
        env.extend(fake_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        env.extend_from_slice(extra);
        crate::server::start_ok(cwd, &env)
    }

    /// The environment the earmark under test needs so that its audible-cli reaches this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "EARMARK__AUDIBLE__CLI".into(),
                audible_cli().display().to_string(),
            ),
            (
                "PYTHONPATH".into(),
                repo_root()
                    .join("tests/fixtures/audible")
                    .display()
                    .to_string(),
            ),
            ("EARMARK_FAKE_AUDIBLE".into(), self.base.clone()),
            (
                "EARMARK__AUDIBLE__HELPER".into(),
                repo_root()
                    .join("crates/earmark-audible/helper/earmark_audible_helper.py")
                    .display()
                    .to_string(),
            ),
        ]
    }
}

impl Drop for FakeAudible {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}

/// The repository's root.
pub fn repo_root() -> PathBuf {
    // crates/earmark-testkit → the workspace.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_owned()
}

/// The audible-cli that `vendor/setup.sh` installs.
pub fn audible_cli() -> PathBuf {
    vendored("audible-cli/venv/bin/audible")
}

/// A program `vendor/setup.sh` installs, at `path` under `vendor/`; panics saying how to
/// install it when it is missing.
pub fn vendored(path: &str) -> PathBuf {
    let program = repo_root().join("vendor").join(path);
    assert!(
        program.is_file(),
        "{} is missing: run `./just setup`",
        program.display()
    );
    program
}

/// A PKCS#1 RSA private key in PEM, made once per test process by the venv's own `rsa`.
fn device_private_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let python = repo_root().join("vendor/audible-cli/venv/bin/python");
        let out = std::process::Command::new(python)
            .args([
                "-c",
                "import rsa; print(rsa.newkeys(1024)[1].save_pkcs1().decode(), end='')",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    })
}

/// Writes an audible-cli config with `profile` as its primary profile and a syntactically
/// valid auth file (audible 0.13 checks the token formats and the PEM key) into
/// `config_dir`, as `audible quickstart` would after a login.
pub fn write_profile(config_dir: &Path, profile: &str) {
    std::fs::create_dir_all(config_dir).unwrap();
    let auth = json!({
        "website_cookies": {"session-id": "000-0000000-0000000"},
        "adp_token": "{enc:ZmFrZQ==}{key:ZmFrZQ==}{iv:ZmFrZQ==}{name:ZWFybWFyaw==}{serial:Mg==}",
        "access_token": "Atna|fake-access-token",
        "refresh_token": "Atnr|fake-refresh-token",
        "device_private_key": device_private_key(),
        "store_authentication_cookie": {"cookie": "fake"},
        "device_info": {
            "device_name": "earmark test device",
            "device_serial_number": "0123456789ABCDEF",
            "device_type": "A2CZJZGLK2JJVM"
        },
        "customer_info": {"account_pool": "Amazon", "user_id": "amzn1.account.FAKE",
                          "home_region": "NA", "name": "Test", "given_name": "Test"},
        "expires": 4_102_444_800.0,
        "locale_code": "us",
        "with_username": false,
        "activation_bytes": null
    });
    std::fs::write(
        config_dir.join(format!("{profile}.json")),
        serde_json::to_vec_pretty(&auth).unwrap(),
    )
    .unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "title = \"Audible Config File\"\n\n[APP]\nprimary_profile = \"{profile}\"\n\n\
             [profile.{profile}]\nauth_file = \"{profile}.json\"\ncountry_code = \"us\"\n"
        ),
    )
    .unwrap();
}

/// The `n`th book of a generated library, in Audible's library-item JSON.
pub fn library_item(n: u32) -> Value {
    let asin = format!("B{n:09}");
    let mut item = json!({
        "asin": asin,
        "title": format!("Generated Book {n}"),
        "subtitle": if n.is_multiple_of(2) { Value::from(format!("Part {n}")) } else { Value::Null },
        "authors": [{"asin": format!("B0AUTH{:04}", n % 97), "name": format!("Author {}", n % 97)}],
        "narrators": [{"name": format!("Narrator {}", n % 13)}],
        "runtime_length_min": 60 + n % 900,
        "product_images": {
            "500": format!("https://m.media-amazon.com/images/I/{n}._SL500_.jpg"),
            "1215": format!("https://m.media-amazon.com/images/I/{n}._SL1215_.jpg")
        },
        "release_date": format!("20{:02}-0{}-1{}", n % 25, 1 + n % 9, n % 10),
        "purchase_date": format!("2024-01-01T00:00:{:02}.000Z", n % 60),
        "library_status": {"date_added": "2024-01-01T00:00:00.000Z", "is_pending": false},
        "publisher_name": "Fake House",
        "language": "english",
        "format_type": "unabridged",
        "content_type": "Product",
        "content_delivery_type": "SinglePartBook",
        "customer_rights": {"is_consumable": true, "is_consumable_indefinitely": true, "is_consumable_offline": true},
        "available_codecs": [
            {"enhanced_codec": "LC_128_44100_stereo", "format": "Enhanced", "name": "aax_44_128"},
            {"enhanced_codec": "LC_64_44100_stereo", "format": "Enhanced", "name": "mp4_44_64"}
        ],
        "rating": {"overall_distribution": {"display_average_rating": "4.5", "num_ratings": 10}}
    });
    if n.is_multiple_of(5) {
        item["series"] = json!([
            {"asin": format!("B0SER{:05}", n % 11), "title": format!("Series {}", n % 11), "sequence": format!("{}", n / 5)}
        ]);
    }
    item
}
