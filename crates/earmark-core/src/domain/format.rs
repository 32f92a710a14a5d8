//! What a conversion produces.

use super::wire_enum;

wire_enum! {
    /// An audio container/codec a conversion can produce.
    OutputFormat, "output format" {
        /// MPEG-1 Layer III.
        Mp3 => "mp3",
        /// AAC in MPEG-4, audio extension.
        M4a => "m4a",
        /// AAC in MPEG-4, audiobook extension (chapters, bookmarks in players).
        M4b => "m4b",
        /// Lossless FLAC.
        Flac => "flac",
        /// Opus in Ogg.
        Opus => "opus",
    }
}

impl OutputFormat {
    /// The file extension of outputs in this format, without the dot.
    pub const fn extension(self) -> &'static str {
        self.as_str()
    }

    /// The highest compression level (`-compression_level`, AAXtoMP3's `--level`) the
    /// format's encoder takes; `None` for m4a/m4b, which are stream copies.
    pub const fn max_level(self) -> Option<u8> {
        match self {
            OutputFormat::Mp3 => Some(9),
            OutputFormat::Flac => Some(12),
            OutputFormat::Opus => Some(10),
            OutputFormat::M4a | OutputFormat::M4b => None,
        }
    }

    /// Checks a requested compression level against the format.
    ///
    /// # Errors
    /// A message naming the allowed range, or saying the format takes none.
    pub fn check_level(self, level: u8) -> Result<u8, String> {
        match self.max_level() {
            Some(max) if level <= max => Ok(level),
            Some(max) => Err(format!("{self} takes a level from 0 to {max}, not {level}")),
            None => Err(format!("{self} is a stream copy and takes no level")),
        }
    }

    /// The `Content-Type` players expect for this format.
    pub const fn mime(self) -> &'static str {
        match self {
            OutputFormat::Mp3 => "audio/mpeg",
            OutputFormat::M4a | OutputFormat::M4b => "audio/mp4",
            OutputFormat::Flac => "audio/flac",
            OutputFormat::Opus => "audio/ogg",
        }
    }
}

wire_enum! {
    /// Whether a conversion writes one file for the book or one per chapter.
    ConversionMode, "conversion mode" {
        /// One file with embedded chapters where the format allows.
        Single => "single",
        /// One file per chapter.
        Chapters => "chapters",
    }
}

wire_enum! {
    /// Which audio format to ask Audible for.
    DownloadFormat, "download format" {
        /// AAXC: a licence per download, decrypted with the voucher's key and iv.
        Aaxc => "aaxc",
        /// AAX: decrypted with the account's activation bytes.
        Aax => "aax",
        /// AAX where Audible still offers it, else AAXC.
        AaxFallback => "aax-fallback",
    }
}

impl Default for DownloadFormat {
    /// AAXC: what Audible offers for every book today.
    fn default() -> Self {
        DownloadFormat::Aaxc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_and_know_their_mime() {
        for format in OutputFormat::ALL {
            assert_eq!(format.as_str().parse::<OutputFormat>(), Ok(*format));
        }
        assert_eq!(OutputFormat::M4b.mime(), "audio/mp4");
        assert_eq!(OutputFormat::Opus.mime(), "audio/ogg");
        assert_eq!(OutputFormat::Flac.check_level(12), Ok(12));
        assert!(
            OutputFormat::Mp3
                .check_level(10)
                .unwrap_err()
                .contains("0 to 9")
        );
        assert!(
            OutputFormat::M4b
                .check_level(1)
                .unwrap_err()
                .contains("no level")
        );
        let err = "wav".parse::<OutputFormat>().unwrap_err();
        assert!(err.to_string().contains("mp3 m4a m4b flac opus"), "{err}");
    }
}
