//! `earmark-bench-aaxc <dir> <asin> [seconds per chapter]`: writes `<dir>/bench.aaxc` (three
//! chapters of tones, 1200 s each by default: an hour of 64 kb/s AAC) encrypted as Audible's
//! AAXC, and `<dir>/bench.voucher` with its key, for the decrypted-stream benchmark.

use std::path::PathBuf;
use std::process::ExitCode;

use earmark_fixtures::{AAXC_IV, AAXC_KEY, SyntheticBook, encrypt_aaxc, voucher};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(asin)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: earmark-bench-aaxc <dir> <asin> [seconds per chapter]");
        return ExitCode::from(2);
    };
    let seconds = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1200);
    let dir = PathBuf::from(dir);
    let made = std::fs::create_dir_all(&dir)
        .and_then(|()| SyntheticBook::short(seconds).render(std::path::Path::new("ffmpeg"), &dir))
        .and_then(std::fs::read)
        .and_then(|plain| {
            std::fs::write(
                dir.join("bench.aaxc"),
                encrypt_aaxc(&plain, &AAXC_KEY, &AAXC_IV),
            )?;
            std::fs::write(
                dir.join("bench.voucher"),
                voucher(asin, &AAXC_KEY, &AAXC_IV).to_string(),
            )
        });
    match made {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("earmark-bench-aaxc: {e}");
            ExitCode::FAILURE
        }
    }
}
