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
        let err = "wav".parse::<OutputFormat>().unwrap_err();
        assert!(err.to_string().contains("mp3 m4a m4b flac opus"), "{err}");
    }
}
