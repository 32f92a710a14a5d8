//! How audible-cli is invoked, and what its error output means.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use earmark_core::ports::{JobContext, LibrarySourceError};
use earmark_process::{Line, ProcessError, ProcessSpec};

/// Where audible-cli is and how it is run.
#[derive(Debug, Clone)]
pub struct AudibleCli {
    /// The `audible` executable.
    pub program: PathBuf,
    /// earmark's own audible-cli config directory (`AUDIBLE_CONFIG_DIR`).
    pub config_dir: PathBuf,
    /// The longest one call may take.
    pub timeout: Duration,
}

/// How one call ended when it ran to completion.
#[derive(Debug)]
pub struct Finished {
    /// Whether audible-cli exited 0.
    pub success: bool,
    /// Its exit code, when it exited rather than being killed.
    pub code: Option<i32>,
    /// Its stderr lines, for classifying a failure.
    pub errors: Vec<String>,
}

impl AudibleCli {
    /// The process spec for `audible [-P profile] <args>`: global options before the
    /// subcommand, earmark's config dir, no colours, UTF-8, no Python warnings on stderr.
    pub fn spec<I, A>(&self, profile: Option<&str>, args: I) -> ProcessSpec
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        let mut argv: Vec<OsString> = Vec::new();
        if let Some(profile) = profile {
            argv.push("-P".into());
            argv.push(profile.into());
        }
        argv.extend(args.into_iter().map(Into::into));
        let mut spec = ProcessSpec::new(&self.program, argv);
        spec.env = vec![
            ("AUDIBLE_CONFIG_DIR".into(), self.config_dir.clone().into()),
            ("NO_COLOR".into(), "1".into()),
            ("PYTHONUTF8".into(), "1".into()),
            // audible 0.13 warns on every signed request that it uses pure-Python crypto.
            ("PYTHONWARNINGS".into(), "ignore::UserWarning".into()),
        ];
        spec.timeout = Some(self.timeout);
        spec
    }

    /// Whether earmark's audible-cli config exists at all (no config: no profile).
    pub fn has_config(&self) -> bool {
        self.config_dir.join("config.toml").is_file()
    }

    /// Runs `spec`, logging every line to the job, and returns how it ended.
    ///
    /// # Errors
    /// Cancel, timeout, or a program that cannot be started, as a [`LibrarySourceError`].
    pub async fn run(
        &self,
        spec: &ProcessSpec,
        ctx: &dyn JobContext,
    ) -> Result<Finished, LibrarySourceError> {
        ctx.log(&format!("$ {}", spec.display()));
        let mut errors = Vec::new();
        let result = earmark_process::run(spec, ctx.cancelled(), |line: Line| {
            ctx.log(&line.text);
            if line.stream == earmark_process::OutputStream::Stderr {
                errors.push(line.text);
            }
        })
        .await;
        match result {
            Ok(status) => Ok(Finished {
                success: status.success(),
                code: status.code(),
                errors,
            }),
            Err(e) => Err(not_run(e)),
        }
    }
}

impl AudibleCli {
    /// Runs `spec` outside any job (it is bounded by its timeout alone), logging the command
    /// and its stderr to `log`, and returns how it ended with its stdout lines (an `api`
    /// call's answer).
    ///
    /// # Errors
    /// Timeout, or a program that cannot be started, as a [`LibrarySourceError`].
    pub async fn call(
        &self,
        spec: &ProcessSpec,
        log: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<(Finished, Vec<String>), LibrarySourceError> {
        log(&format!("$ {}", spec.display()));
        let mut errors = Vec::new();
        let mut out = Vec::new();
        let result = earmark_process::run(spec, std::future::pending(), |line: Line| {
            if line.stream == earmark_process::OutputStream::Stderr {
                log(&line.text);
                errors.push(line.text);
            } else {
                out.push(line.text);
            }
        })
        .await;
        match result {
            Ok(status) => Ok((
                Finished {
                    success: status.success(),
                    code: status.code(),
                    errors,
                },
                out,
            )),
            Err(e) => Err(not_run(e)),
        }
    }
}

/// Why audible-cli did not run to completion, as the user can act on it.
fn not_run(e: ProcessError) -> LibrarySourceError {
    match e {
        ProcessError::Cancelled(_) => LibrarySourceError::Cancelled,
        ProcessError::TimedOut { after, .. } => LibrarySourceError::TimedOut(after.as_secs()),
        ProcessError::NotFound(p) => LibrarySourceError::Tool(format!(
            "`{p}` was not found; run `./just setup` or set EARMARK__AUDIBLE__CLI"
        )),
        e => LibrarySourceError::Tool(e.to_string()),
    }
}

/// What a failed audible-cli call's stderr says went wrong.
///
/// audible-cli prints `error: <message>` for errors its commands catch (exit 1 or 2) and a
/// traceback ending in `<Exception>: <message>` for those it does not (exit 3); the messages
/// come from audible's `StatusError` (`<Reason> (<code>): <detail>`), `NotResponding`,
/// `NetworkError` and audible-cli's config checks.
pub fn classify_failure(profile: Option<&str>, finished: &Finished) -> LibrarySourceError {
    let said = |needle: &str| finished.errors.iter().any(|l| l.contains(needle));
    let last_error = finished
        .errors
        .iter()
        .rev()
        .find(|l| l.starts_with("error:") || l.contains("Error") || l.contains("Exception"))
        .or(finished.errors.last())
        .map(|l| l.trim_start_matches("error:").trim().to_owned())
        .unwrap_or_else(|| format!("exit code {:?}", finished.code));
    let profile = profile.map(str::to_owned);
    if said("Config file") && said("does not exist")
        || said("Provided profile not found")
        || said("primary profile not set")
    {
        LibrarySourceError::NoProfile(profile)
    } else if said("(401)") || said("(403)") || said("Unauthorized") {
        LibrarySourceError::AuthRejected(last_error)
    } else if said("(429)") || said("RatelimitError") {
        LibrarySourceError::Throttled(last_error)
    } else if said("Network down")
        || said("timed out")
        || said("ConnectError")
        || said("(500)")
        || said("(502)")
        || said("(503)")
        || said("(504)")
    {
        LibrarySourceError::Network(last_error)
    } else {
        LibrarySourceError::Tool(last_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(lines: &[&str]) -> Finished {
        Finished {
            success: false,
            code: Some(1),
            errors: lines.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn audible_cli_messages_map_to_what_the_user_can_do() {
        let cases = [
            (
                "error: Config file /d/audible/config.toml does not exists",
                "NoProfile",
            ),
            ("error: Provided profile not found in config.", "NoProfile"),
            ("error: Unauthorized (401): Token invalid", "AuthRejected"),
            (
                "error: Forbidden (403): Device deregistered",
                "AuthRejected",
            ),
            ("error: Too Many Requests (429): slow down", "Throttled"),
            ("error: Internal Server Error (500): oops", "Network"),
            ("error: Network down.", "Network"),
            (
                "error: API request timed out, please be patient.",
                "Network",
            ),
            ("error: Something else entirely", "Tool"),
            (
                "audible.exceptions.Unauthorized: Unauthorized (401): x",
                "AuthRejected",
            ),
        ];
        for (line, want) in cases {
            let got = classify_failure(Some("p"), &finished(&[line]));
            assert!(format!("{got:?}").starts_with(want), "{line} -> {got:?}");
        }
    }

    #[test]
    fn the_message_kept_is_the_error_line() {
        let got = classify_failure(
            None,
            &finished(&["some warning", "error: Unauthorized (401): Token invalid"]),
        );
        assert_eq!(
            got,
            LibrarySourceError::AuthRejected("Unauthorized (401): Token invalid".into())
        );
    }

    #[test]
    fn the_profile_goes_before_the_subcommand_and_the_env_is_earmarks() {
        let cli = AudibleCli {
            program: "/v/audible".into(),
            config_dir: "/d/audible".into(),
            timeout: Duration::from_secs(9),
        };
        let spec = cli.spec(Some("me"), ["api", "1.0/library"]);
        assert_eq!(
            spec.args,
            ["-P", "me", "api", "1.0/library"].map(OsString::from)
        );
        assert!(
            spec.env
                .contains(&("AUDIBLE_CONFIG_DIR".into(), "/d/audible".into()))
        );
        assert!(spec.env.contains(&("NO_COLOR".into(), "1".into())));
        assert_eq!(spec.timeout, Some(Duration::from_secs(9)));
        assert_eq!(cli.spec(None, ["api"]).args, [OsString::from("api")]);
    }
}
