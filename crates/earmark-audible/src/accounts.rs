//! [`AudibleAccounts`] through `helper/earmark_audible_helper.py`, run with the audible-cli
//! venv's Python: the `audible` library's own login, registration and auth-file code, and
//! audible-cli's own config writer, so the profiles it makes are audible-cli's.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use earmark_core::ActivationBytes;
use earmark_core::ports::{AccountsError, AudibleAccounts, AudibleProfile, LoginStart};
use earmark_process::{OutputStream, ProcessSpec};
use serde_json::{Value, json};

/// Where the helper and its Python are, and audible-cli beside them.
#[derive(Debug, Clone)]
pub struct AccountHelper {
    /// The `audible` executable (for `activation-bytes`).
    pub cli: PathBuf,
    /// The venv's `python`.
    pub python: PathBuf,
    /// `earmark_audible_helper.py`.
    pub script: PathBuf,
    /// earmark's audible-cli config directory.
    pub config_dir: PathBuf,
    /// The longest one call may take.
    pub timeout: Duration,
}

impl AccountHelper {
    /// Runs `command` with `args`, `secrets` as JSON on stdin; returns its JSON answer.
    async fn call(
        &self,
        command: &str,
        args: &[(&str, Option<&str>)],
        secrets: Option<Value>,
    ) -> Result<Value, AccountsError> {
        let mut argv: Vec<String> = vec![
            self.script.display().to_string(),
            command.to_owned(),
            "--config-dir".into(),
            self.config_dir.display().to_string(),
        ];
        for (flag, value) in args {
            argv.push((*flag).to_owned());
            if let Some(value) = value {
                argv.push((*value).to_owned());
            }
        }
        let mut spec = ProcessSpec::new(&self.python, argv);
        spec.env = vec![
            ("NO_COLOR".into(), "1".into()),
            ("PYTHONUTF8".into(), "1".into()),
            ("PYTHONWARNINGS".into(), "ignore::UserWarning".into()),
        ];
        spec.timeout = Some(self.timeout);
        spec.stdin = Some(
            secrets
                .unwrap_or_else(|| json!({}))
                .to_string()
                .into_bytes(),
        );
        let (mut out, mut errors) = (String::new(), Vec::new());
        let status =
            earmark_process::run(&spec, std::future::pending(), |line| match line.stream {
                OutputStream::Stdout => out.push_str(&line.text),
                OutputStream::Stderr => errors.push(line.text),
            })
            .await
            .map_err(|e| AccountsError::Tool(e.to_string()))?;
        let message = || {
            errors
                .iter()
                .rev()
                .find_map(|l| l.strip_prefix("error: "))
                .map_or_else(|| format!("exit status {status}"), str::to_owned)
        };
        match status.code() {
            Some(0) => serde_json::from_str(&out)
                .map_err(|e| AccountsError::Tool(format!("unreadable answer: {e}"))),
            Some(2) => Err(AccountsError::Invalid(message())),
            Some(3) => Err(AccountsError::NoProfile(message())),
            Some(4) => Err(AccountsError::ProfileExists(message())),
            _ if message().starts_with("Amazon refused") => Err(AccountsError::Refused(message())),
            _ => Err(AccountsError::Tool(message())),
        }
    }
}

fn profile(value: Value) -> Result<AudibleProfile, AccountsError> {
    serde_json::from_value(value)
        .map_err(|e| AccountsError::Tool(format!("unreadable profile: {e}")))
}

fn text(value: &Value, key: &str) -> Result<String, AccountsError> {
    value[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| AccountsError::Tool(format!("answer without `{key}`")))
}

#[async_trait]
impl AudibleAccounts for AccountHelper {
    async fn start_login(
        &self,
        country_code: &str,
        with_username: bool,
    ) -> Result<LoginStart, AccountsError> {
        let mut args = vec![("--country-code", Some(country_code))];
        if with_username {
            args.push(("--with-username", None));
        }
        let answer = self.call("login-url", &args, None).await?;
        Ok(LoginStart {
            login_url: text(&answer, "login_url")?,
            code_verifier: text(&answer, "code_verifier")?,
            serial: text(&answer, "serial")?,
        })
    }

    async fn finish_login(
        &self,
        name: &str,
        country_code: &str,
        with_username: bool,
        primary: bool,
        start: &LoginStart,
        response: &str,
    ) -> Result<AudibleProfile, AccountsError> {
        let mut args = vec![
            ("--profile", Some(name)),
            ("--country-code", Some(country_code)),
        ];
        if with_username {
            args.push(("--with-username", None));
        }
        if primary {
            args.push(("--primary", None));
        }
        let secrets = json!({
            "code_verifier": start.code_verifier,
            "serial": start.serial,
            "response": response,
        });
        profile(self.call("register", &args, Some(secrets)).await?)
    }

    async fn import(
        &self,
        name: &str,
        country_code: &str,
        primary: bool,
        auth_file: &str,
        password: Option<&str>,
    ) -> Result<AudibleProfile, AccountsError> {
        let mut args = vec![
            ("--profile", Some(name)),
            ("--country-code", Some(country_code)),
        ];
        if primary {
            args.push(("--primary", None));
        }
        let secrets = json!({ "auth_file": auth_file, "password": password });
        profile(self.call("import", &args, Some(secrets)).await?)
    }

    async fn profiles(&self) -> Result<Vec<AudibleProfile>, AccountsError> {
        crate::profiles::read_profiles(&self.config_dir).await
    }

    async fn set_primary(&self, name: &str) -> Result<AudibleProfile, AccountsError> {
        profile(
            self.call("primary", &[("--profile", Some(name))], None)
                .await?,
        )
    }

    async fn activation_bytes(&self, name: Option<&str>) -> Result<ActivationBytes, AccountsError> {
        let cli = crate::AudibleCli {
            program: self.cli.clone(),
            config_dir: self.config_dir.clone(),
            timeout: self.timeout,
        };
        let spec = cli.spec(name, ["activation-bytes"]);
        // Neither stream is logged: stdout is the secret, and audible prints the whole
        // activation blob there when it cannot read it.
        let (mut last, mut errors) = (String::new(), Vec::new());
        let status =
            earmark_process::run(&spec, std::future::pending(), |line| match line.stream {
                OutputStream::Stdout => last = line.text,
                OutputStream::Stderr => errors.push(line.text),
            })
            .await
            .map_err(|e| AccountsError::Tool(e.to_string()))?;
        let said = |needle: &str| errors.iter().any(|l| l.contains(needle));
        if status.success() {
            return ActivationBytes::parse(&last).map_err(|e| AccountsError::Tool(e.to_string()));
        }
        if said("profile not found") || said("does not exist") || said("primary profile not set") {
            Err(AccountsError::NoProfile(format!(
                "no Audible profile {}: log in or import one first",
                name.unwrap_or("(primary)")
            )))
        } else if said("data wrong") || said("(401)") || said("(403)") || said("AuthFlowError") {
            Err(AccountsError::Refused(
                "Audible refused the activation request (the device may be deregistered)".into(),
            ))
        } else {
            Err(AccountsError::Tool(format!(
                "audible activation-bytes failed ({status})"
            )))
        }
    }

    async fn remove(&self, name: &str) -> Result<(), AccountsError> {
        self.call("remove", &[("--profile", Some(name))], None)
            .await?;
        Ok(())
    }
}
