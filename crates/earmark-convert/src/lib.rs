#![doc = include_str!("../README.md")]

mod aaxtomp3;
mod ffmeta;
mod ffmpeg_engine;
mod layout;
mod probe;
mod store;
mod tool;
mod verify;

pub use aaxtomp3::AaxToMp3Converter;
pub use ffmpeg_engine::FfmpegConverter;
pub use probe::{
    Decryption, Ffmpeg, decoded_duration_ms, decryption, duration_ms, embedded_chapters, has_cover,
};
pub use store::FsOutputStore;
pub use verify::{DURATION_TOLERANCE_MS, verify_outputs};
