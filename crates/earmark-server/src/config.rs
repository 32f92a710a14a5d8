//! Settings: defaults, then an optional TOML file, then `EARMARK__SECTION__KEY` variables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The prefix of every environment variable earmark reads (`EARMARK__SERVER__BIND`, ...).
pub const ENV_PREFIX: &str = "EARMARK";

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, a variable or a default did not fit the settings' shape.
    #[error("invalid configuration: {0}")]
    Invalid(#[from] config::ConfigError),
}

/// Every setting earmark has; each has a working default.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    /// Root of everything earmark stores (`EARMARK__DATA_DIR`).
    pub data_dir: PathBuf,
    /// The HTTP listener.
    pub server: ServerSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// API authentication.
    #[serde(default)]
    pub auth: AuthSettings,
    /// Job lanes.
    pub jobs: JobsSettings,
    /// audible-cli.
    pub audible: AudibleSettings,
    /// Conversion engines.
    pub converter: ConverterSettings,
    /// The automatic sync.
    pub schedule: ScheduleSettings,
    /// Webhook deliveries.
    pub webhooks: WebhookSettings,
    /// Adopting books converted elsewhere.
    #[serde(default)]
    pub library: LibrarySettings,
}

/// `[library]`
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LibrarySettings {
    /// The folders `POST /library/import` may import from
    /// (`EARMARK__LIBRARY__IMPORT_ROOTS`, comma-separated); none by default, so nothing is
    /// importable until the operator says where.
    #[serde(default, deserialize_with = "comma_separated")]
    pub import_roots: Vec<String>,
}

/// `[webhooks]`
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    /// The longest one post to a receiver may take, in seconds.
    pub timeout_s: u64,
    /// The wait after a delivery's first failed attempt, in milliseconds; doubled for each
    /// further attempt up to ten minutes.
    pub retry_ms: u64,
    /// How long after it was written a delivery is still tried, in seconds.
    pub give_up_after_s: u64,
}

/// `[schedule]`
#[derive(Debug, Clone, Deserialize)]
pub struct ScheduleSettings {
    /// The shortest interval between automatic syncs a person's setting may ask for, in
    /// seconds (default 300), so that no setting can hammer Audible.
    pub min_interval_s: u64,
}

/// `[server]`
#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free one (it is printed at start).
    pub bind: String,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT (at most
    /// [`MAX_SHUTDOWN_GRACE_S`]: the process ends within 10 s whatever runs).
    pub shutdown_timeout_s: u64,
    /// Origins (`http://host:port`) whose web pages may call the API from a browser
    /// (`EARMARK__SERVER__CORS_ORIGINS`, comma-separated); none by default.
    #[serde(default, deserialize_with = "comma_separated")]
    pub cors_origins: Vec<String>,
}

/// `[database]`
#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `postgres://...` or `sqlite://path`; default `sqlite://<data_dir>/library/earmark.db`.
    pub url: Option<String>,
    /// Pool size.
    pub max_connections: usize,
}

/// `[auth]`
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthSettings {
    /// A fixed API key; when unset one is generated on first start and stored hashed.
    pub api_key: Option<String>,
    /// Networks (CIDR) whose requests need no key (`EARMARK__AUTH__TRUSTED_NETWORKS`,
    /// comma-separated); none by default.
    #[serde(default, deserialize_with = "comma_separated")]
    pub trusted_networks: Vec<String>,
    /// Wrong keys one address may send within a minute before it is refused (429) until the
    /// oldest leaves the minute (`EARMARK__AUTH__FAILED_ATTEMPTS_PER_MINUTE`, default 30).
    pub failed_attempts_per_minute: u32,
}

/// A list given as one comma-separated string (as environment variables give it) or, in the
/// settings file, as an array.
fn comma_separated<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        One(String),
        Many(Vec<String>),
    }
    let items = match List::deserialize(d)? {
        List::One(text) => text.split(',').map(str::to_owned).collect(),
        List::Many(items) => items,
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

/// `[jobs]`
#[derive(Debug, Clone, Deserialize)]
pub struct JobsSettings {
    /// Downloads running at once.
    pub download_concurrency: usize,
    /// Conversions running at once.
    pub convert_concurrency: usize,
    /// First wait after Audible refused or throttled (licence denied, 429), in seconds;
    /// doubled for each further attempt.
    pub throttled_backoff_s: u64,
    /// First wait after a network failure or timeout, in seconds; doubled likewise.
    pub transient_backoff_s: u64,
    /// CPU niceness of the tools (0 to 19): at 10 a conversion gets the CPU the API leaves.
    pub tool_niceness: i32,
}

/// The longest in-flight requests may delay a stop; the stop itself is bounded 2 s later.
pub const MAX_SHUTDOWN_GRACE_S: u64 = 7;

/// `[audible]`
#[derive(Debug, Clone, Deserialize)]
pub struct AudibleSettings {
    /// The `audible` executable.
    pub cli: PathBuf,
    /// audible-cli's config directory; default `<data_dir>/audible`.
    pub config_dir: Option<PathBuf>,
    /// The longest one audible-cli call may take, in seconds.
    pub timeout_s: u64,
    /// earmark's helper for logins and profiles, run with the Python beside `cli`.
    pub helper: PathBuf,
    /// The longest one `audible download` may take, in seconds.
    pub download_timeout_s: u64,
    /// audible-cli's own timeout per HTTP request (`--timeout`), in seconds.
    pub http_timeout_s: u64,
    /// At most this many downloads in any 24 hours (Audible refuses licences to accounts
    /// that ask for too many); 0 for no limit.
    pub daily_download_limit: u32,
    /// Keep listening positions in step with Audible's own apps, both ways.
    pub sync_positions: bool,
    /// From a position's first unwritten change to its write to Audible, in milliseconds
    /// (at most 30 000).
    pub position_push_delay_ms: u64,
    /// The first wait after a failed position write, in milliseconds; doubled for each further
    /// attempt.
    pub position_retry_ms: u64,
}

/// Which converter runs conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConverterEngine {
    /// AAXtoMP3 when a script is configured, else ffmpeg.
    Auto,
    /// Always AAXtoMP3.
    Aaxtomp3,
    /// Always the native ffmpeg engine.
    Ffmpeg,
}

/// `[converter]`
#[derive(Debug, Clone, Deserialize)]
pub struct ConverterSettings {
    /// Engine choice.
    pub engine: ConverterEngine,
    /// Path to the user's AAXtoMP3 script.
    pub aaxtomp3: Option<PathBuf>,
    /// The `ffmpeg` executable (`ffprobe` is looked for beside it).
    pub ffmpeg: PathBuf,
    /// The longest one converter run may take, in seconds.
    pub timeout_s: u64,
}

/// `max(1, min(2, cpus/2))`: conversions are CPU-bound, and a home server has other work.
pub fn default_convert_concurrency(cpus: usize) -> usize {
    (cpus / 2).clamp(1, 2)
}

impl Settings {
    /// Loads settings from defaults, `file` (if any), and the process environment.
    ///
    /// # Errors
    /// When the file is unreadable or a value does not fit.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars().collect())
    }

    /// Like [`Settings::load`], with `env` standing in for the process environment.
    ///
    /// # Errors
    /// When the file is unreadable or a value does not fit.
    pub fn load_from(
        file: Option<&Path>,
        env: HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let mut builder = config::Config::builder()
            .set_default("data_dir", "./data")?
            .set_default("server.bind", "127.0.0.1:8080")?
            .set_default("server.shutdown_timeout_s", 5)?
            .set_default("auth.failed_attempts_per_minute", 30)?
            .set_default("database.max_connections", 10)?
            .set_default("jobs.download_concurrency", 5)?
            .set_default(
                "jobs.convert_concurrency",
                default_convert_concurrency(cpus) as u64,
            )?
            .set_default("audible.cli", "vendor/audible-cli/venv/bin/audible")?
            .set_default("audible.timeout_s", 300)?
            .set_default("audible.download_timeout_s", 4 * 3600)?
            .set_default("audible.http_timeout_s", 60)?
            .set_default("audible.daily_download_limit", 0)?
            .set_default("audible.sync_positions", true)?
            .set_default("audible.position_push_delay_ms", 10_000)?
            .set_default("audible.position_retry_ms", 30_000)?
            .set_default("jobs.throttled_backoff_s", 15 * 60)?
            .set_default("jobs.transient_backoff_s", 30)?
            .set_default("jobs.tool_niceness", 10)?
            .set_default("schedule.min_interval_s", 300)?
            .set_default("webhooks.timeout_s", 10)?
            .set_default("webhooks.retry_ms", 10_000)?
            .set_default("webhooks.give_up_after_s", 24 * 3600)?
            .set_default(
                "audible.helper",
                "crates/earmark-audible/helper/earmark_audible_helper.py",
            )?
            .set_default("converter.engine", "auto")?
            .set_default("converter.ffmpeg", "ffmpeg")?
            .set_default("converter.timeout_s", 6 * 3600)?;
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
        }
        // Plain DATABASE_URL is honoured too, below EARMARK__DATABASE__URL.
        let explicit_url = env.contains_key("EARMARK__DATABASE__URL");
        let plain_url = env.get("DATABASE_URL").filter(|u| !u.is_empty()).cloned();
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .source(Some(env.into_iter().collect())),
        );
        if !explicit_url {
            builder = builder.set_override_option("database.url", plain_url)?;
        }
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.database.url = settings.database.url.filter(|u| !u.trim().is_empty());
        settings.auth.api_key = settings.auth.api_key.filter(|k| !k.trim().is_empty());
        Ok(settings)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database.url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("library").join("earmark.db").display()
            )
        })
    }

    /// audible-cli's config directory in force.
    pub fn audible_config_dir(&self) -> PathBuf {
        self.audible
            .config_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audible"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(s.data_dir, PathBuf::from("./data"));
        assert_eq!(s.database_url(), "sqlite://./data/library/earmark.db");
        assert_eq!(s.jobs.download_concurrency, 5);
        assert!((1..=2).contains(&s.jobs.convert_concurrency));
        assert_eq!(s.converter.engine, ConverterEngine::Auto);
        assert_eq!(s.audible_config_dir(), PathBuf::from("./data/audible"));
        assert!(s.auth.api_key.is_none());
    }

    #[test]
    fn convert_lane_default_follows_the_cpu_count() {
        assert_eq!(default_convert_concurrency(1), 1);
        assert_eq!(default_convert_concurrency(2), 1);
        assert_eq!(default_convert_concurrency(4), 2);
        assert_eq!(default_convert_concurrency(64), 2);
    }

    #[test]
    fn environment_names_from_the_spec_apply() {
        let s = Settings::load_from(
            None,
            env(&[
                ("EARMARK__SERVER__BIND", "0.0.0.0:9000"),
                ("EARMARK__DATA_DIR", "/srv/earmark"),
                ("EARMARK__AUTH__API_KEY", "secret-key"),
                ("EARMARK__JOBS__DOWNLOAD_CONCURRENCY", "3"),
                ("EARMARK__JOBS__CONVERT_CONCURRENCY", "4"),
                ("EARMARK__AUDIBLE__CLI", "/opt/audible"),
                ("EARMARK__AUDIBLE__CONFIG_DIR", "/srv/audible"),
                ("EARMARK__CONVERTER__ENGINE", "ffmpeg"),
                ("EARMARK__CONVERTER__AAXTOMP3", "/opt/AAXtoMP3/AAXtoMP3"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        assert_eq!(s.database_url(), "sqlite:///srv/earmark/library/earmark.db");
        assert_eq!(s.auth.api_key.as_deref(), Some("secret-key"));
        assert_eq!(
            (s.jobs.download_concurrency, s.jobs.convert_concurrency),
            (3, 4)
        );
        assert_eq!(s.audible.cli, PathBuf::from("/opt/audible"));
        assert_eq!(s.audible_config_dir(), PathBuf::from("/srv/audible"));
        assert_eq!(s.converter.engine, ConverterEngine::Ffmpeg);
        assert_eq!(
            s.converter.aaxtomp3,
            Some(PathBuf::from("/opt/AAXtoMP3/AAXtoMP3"))
        );
    }

    #[test]
    fn lists_come_comma_separated_from_the_environment_or_as_arrays_from_the_file() {
        let s = Settings::load_from(
            None,
            env(&[
                (
                    "EARMARK__SERVER__CORS_ORIGINS",
                    "http://192.168.1.20:3000, http://localhost:3000,",
                ),
                (
                    "EARMARK__AUTH__TRUSTED_NETWORKS",
                    "192.168.1.0/24,127.0.0.1/32",
                ),
                (
                    "EARMARK__LIBRARY__IMPORT_ROOTS",
                    "/srv/Libation,/srv/OpenAudible",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.library.import_roots,
            ["/srv/Libation", "/srv/OpenAudible"]
        );
        assert_eq!(
            s.server.cors_origins,
            ["http://192.168.1.20:3000", "http://localhost:3000"]
        );
        assert_eq!(s.auth.trusted_networks, ["192.168.1.0/24", "127.0.0.1/32"]);
        let none = Settings::load_from(None, env(&[])).unwrap();
        assert!(none.server.cors_origins.is_empty() && none.auth.trusted_networks.is_empty());
        assert!(
            none.library.import_roots.is_empty(),
            "nothing importable by default"
        );

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("earmark.toml");
        std::fs::write(
            &file,
            "[server]\ncors_origins = [\"http://a:3000\"]\n[auth]\ntrusted_networks = [\"10.0.0.0/8\"]\n",
        )
        .unwrap();
        let from_file = Settings::load_from(Some(&file), env(&[])).unwrap();
        assert_eq!(from_file.server.cors_origins, ["http://a:3000"]);
        assert_eq!(from_file.auth.trusted_networks, ["10.0.0.0/8"]);
    }

    #[test]
    fn database_url_precedence_is_prefixed_then_plain_then_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("earmark.toml");
        std::fs::write(
            &file,
            "data_dir = \"/from/file\"\n[database]\nurl = \"sqlite:///file.db\"\n",
        )
        .unwrap();

        let from_file = Settings::load_from(Some(&file), env(&[])).unwrap();
        assert_eq!(from_file.database_url(), "sqlite:///file.db");
        assert_eq!(from_file.data_dir, PathBuf::from("/from/file"));

        let plain = Settings::load_from(
            Some(&file),
            env(&[("DATABASE_URL", "postgres://p@h/plain")]),
        )
        .unwrap();
        assert_eq!(plain.database_url(), "postgres://p@h/plain");

        let both = Settings::load_from(
            Some(&file),
            env(&[
                ("DATABASE_URL", "postgres://p@h/plain"),
                ("EARMARK__DATABASE__URL", "postgres://p@h/prefixed"),
            ]),
        )
        .unwrap();
        assert_eq!(both.database_url(), "postgres://p@h/prefixed");
    }

    #[test]
    fn bad_values_are_reported() {
        let err = Settings::load_from(None, env(&[("EARMARK__CONVERTER__ENGINE", "handbrake")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("handbrake") || err.to_string().contains("variant"),
            "{err}"
        );
        let err = Settings::load_from(
            None,
            env(&[("EARMARK__JOBS__DOWNLOAD_CONCURRENCY", "many")]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("download_concurrency"), "{err}");
    }
}
