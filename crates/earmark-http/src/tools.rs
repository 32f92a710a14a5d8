//! Finding the external tools earmark drives, and their versions, for `/healthz`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use earmark_process::{OutputStream, ProcessSpec};
use serde::Serialize;
use tokio::sync::Mutex;

/// How long a `--version` call may take (audible-cli's Python start-up is slow on a Pi).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a probe result is reused: tools rarely change under a running server.
const PROBE_TTL: Duration = Duration::from_secs(300);

/// One tool's state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ToolStatus {
    /// `ffmpeg`, `audible-cli` or `AAXtoMP3`.
    pub name: String,
    /// Whether earmark needs it to work at all, or only for some features.
    pub required: bool,
    /// Whether it was found and answered.
    pub found: bool,
    /// The path or command earmark runs.
    pub path: Option<String>,
    /// Its version as it reports it.
    pub version: Option<String>,
    /// When not found: how to install or configure it.
    pub hint: Option<String>,
}

/// What to probe.
#[derive(Debug, Clone)]
pub struct ToolPaths {
    /// `ffmpeg` executable.
    pub ffmpeg: PathBuf,
    /// `audible` executable.
    pub audible_cli: PathBuf,
    /// The user's AAXtoMP3 script, when configured.
    pub aaxtomp3: Option<PathBuf>,
}

/// Probes tools and remembers the answer for a while.
#[derive(Debug)]
pub struct ToolProbe {
    paths: ToolPaths,
    cached: Mutex<Option<(Instant, Vec<ToolStatus>)>>,
}

impl ToolProbe {
    /// A probe of `paths`, nothing run yet.
    pub fn new(paths: ToolPaths) -> Self {
        Self {
            paths,
            cached: Mutex::new(None),
        }
    }

    /// The state of every tool, probed at most every few minutes.
    pub async fn statuses(&self) -> Vec<ToolStatus> {
        let mut cached = self.cached.lock().await;
        if let Some((at, statuses)) = cached.as_ref()
            && at.elapsed() < PROBE_TTL
        {
            return statuses.clone();
        }
        let statuses = self.probe_all().await;
        *cached = Some((Instant::now(), statuses.clone()));
        statuses
    }

    async fn probe_all(&self) -> Vec<ToolStatus> {
        let ffmpeg = probe(
            "ffmpeg",
            true,
            &self.paths.ffmpeg,
            &["-hide_banner", "-version"],
            "install ffmpeg (Debian: apt-get install ffmpeg; `./just setup` does it) or set EARMARK__CONVERTER__FFMPEG",
        );
        let audible = probe(
            "audible-cli",
            true,
            &self.paths.audible_cli,
            &["--version"],
            "run `./just setup` to install audible-cli 0.6.0 under vendor/, or set EARMARK__AUDIBLE__CLI to an `audible` executable",
        );
        let (ffmpeg, audible) = tokio::join!(ffmpeg, audible);
        let aaxtomp3 = match &self.paths.aaxtomp3 {
            Some(path) => {
                let found = path.is_file();
                ToolStatus {
                    name: "AAXtoMP3".into(),
                    required: false,
                    found,
                    path: Some(path.display().to_string()),
                    version: None,
                    hint: (!found).then(|| format!("EARMARK__CONVERTER__AAXTOMP3 points at {}, which is not a file", path.display())),
                }
            }
            None => ToolStatus {
                name: "AAXtoMP3".into(),
                required: false,
                found: false,
                path: None,
                version: None,
                hint: Some(
                    "optional: set EARMARK__CONVERTER__AAXTOMP3 to your copy of AAXtoMP3 (github KrumpetPirate/AAXtoMP3); the built-in ffmpeg engine converts meanwhile".into(),
                ),
            },
        };
        vec![ffmpeg, audible, aaxtomp3]
    }
}

async fn probe(
    name: &str,
    required: bool,
    program: &PathBuf,
    args: &[&str],
    hint: &str,
) -> ToolStatus {
    let spec = ProcessSpec {
        timeout: Some(PROBE_TIMEOUT),
        ..ProcessSpec::new(program, args.iter().copied())
    };
    let mut first_line = None;
    let outcome = earmark_process::run(&spec, std::future::pending(), |line| {
        if line.stream == OutputStream::Stdout && first_line.is_none() {
            first_line = Some(line.text);
        }
    })
    .await;
    let version = match outcome {
        Ok(status) if status.success() => first_line.map(|line| version_from(line.trim())),
        _ => None,
    };
    ToolStatus {
        name: name.to_owned(),
        required,
        found: version.is_some(),
        path: Some(program.display().to_string()),
        hint: version
            .is_none()
            .then(|| format!("{name} not found at `{}`: {hint}", program.display())),
        version,
    }
}

/// The version in a tool's first line: the word after "version" (`ffmpeg version 5.1.6-0+deb12u1
/// Copyright ...`, `audible-cli, version 0.6.0`), else the whole line.
fn version_from(line: &str) -> String {
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        if word.eq_ignore_ascii_case("version")
            && let Some(version) = words.next()
        {
            return version.to_owned();
        }
    }
    line.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_first_lines() {
        assert_eq!(
            version_from("ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024"),
            "5.1.6-0+deb12u1"
        );
        assert_eq!(version_from("audible, version 0.6.0"), "0.6.0");
        assert_eq!(version_from("tool 1.2"), "tool 1.2");
    }

    #[tokio::test]
    async fn missing_tools_say_how_to_get_them() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let silent = dir.path().join("silent");
        std::fs::write(&silent, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&silent, std::fs::Permissions::from_mode(0o755)).unwrap();
        let answering = dir.path().join("audible");
        std::fs::write(&answering, "#!/bin/sh\necho 'audible, version 0.6.0'\n").unwrap();
        std::fs::set_permissions(&answering, std::fs::Permissions::from_mode(0o755)).unwrap();

        let probe = ToolProbe::new(ToolPaths {
            ffmpeg: "/nonexistent/ffmpeg".into(),
            audible_cli: silent,
            aaxtomp3: None,
        });
        let statuses = probe.statuses().await;
        let ffmpeg = &statuses[0];
        assert!(!ffmpeg.found);
        assert!(
            ffmpeg
                .hint
                .as_deref()
                .unwrap_or_default()
                .contains("apt-get install ffmpeg")
        );
        assert!(
            !statuses[1].found,
            "a tool that answers without a version is not trusted"
        );
        assert!(!statuses[2].found && !statuses[2].required);

        let probe = ToolProbe::new(ToolPaths {
            ffmpeg: "/nonexistent/ffmpeg".into(),
            audible_cli: answering,
            aaxtomp3: None,
        });
        let audible = &probe.statuses().await[1];
        assert!(audible.found && audible.hint.is_none());
        assert_eq!(audible.version.as_deref(), Some("0.6.0"));
    }
}
