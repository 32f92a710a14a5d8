//! Running ffmpeg, ffprobe and AAXtoMP3 through the process runner, as the converters need.

use std::process::ExitStatus;

use earmark_core::ports::{ConvertError, JobContext};
use earmark_process::{Line, OutputStream, ProcessError, ProcessSpec};

/// Runs `spec` for a job: every line goes to the job's log, then to `on_line`.
pub(crate) async fn run_logged(
    spec: &ProcessSpec,
    ctx: &dyn JobContext,
    mut on_line: impl FnMut(&Line),
) -> Result<ExitStatus, ConvertError> {
    ctx.log(&format!("$ {}", spec.display()));
    earmark_process::run(spec, ctx.cancelled(), |line: Line| {
        ctx.log(&line.text);
        on_line(&line);
    })
    .await
    .map_err(process_error)
}

/// What a short helper run printed.
pub(crate) struct Captured {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

/// Runs a short helper (ffprobe, a decode check) and keeps its output.
pub(crate) async fn capture(spec: &ProcessSpec) -> Result<Captured, ConvertError> {
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let status = earmark_process::run(spec, std::future::pending(), |line: Line| {
        match line.stream {
            OutputStream::Stdout => stdout.push(line.text),
            OutputStream::Stderr => stderr.push(line.text),
        }
    })
    .await
    .map_err(process_error)?;
    Ok(Captured {
        status,
        stdout,
        stderr,
    })
}

fn process_error(e: ProcessError) -> ConvertError {
    match e {
        ProcessError::Cancelled(_) => ConvertError::Cancelled,
        ProcessError::TimedOut { after, .. } => ConvertError::TimedOut(after.as_secs()),
        ProcessError::NotFound(program) => ConvertError::Tool(format!(
            "`{program}` was not found: run `./just setup`, or set its path in the configuration"
        )),
        other => ConvertError::Tool(other.to_string()),
    }
}
