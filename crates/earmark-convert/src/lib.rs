#![doc = include_str!("../README.md")]

mod aaxtomp3;
mod ffmeta;
mod ffmpeg_engine;
mod join;
mod layout;
mod mp3_check;
mod mp4_check;
mod probe;
mod store;
mod tags;
mod tool;
mod verify;

pub use aaxtomp3::AaxToMp3Converter;
pub use ffmpeg_engine::FfmpegConverter;
pub use mp3_check::{Mp3Facts, check_mp3};
pub use mp4_check::{Mp4Facts, check_mp4};
pub use probe::{
    Decryption, Ffmpeg, decoded_duration_ms, decryption, duration_ms, embedded_chapters, has_cover,
};
pub use store::FsOutputStore;
pub use tags::FfprobeTags;
pub use verify::{DURATION_TOLERANCE_MS, DecodeProof, verify_outputs};
