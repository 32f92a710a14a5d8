//! Encrypting a plain MPEG-4 audiobook the way Audible's AAX and AAXC are, as ffmpeg reads them.

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::NoPadding};
use sha1::{Digest, Sha1};

use earmark_mp4::{Mp4Box, SampleTable, boxes, child, top_level};

use crate::mp4::{grow, shift_chunk_offsets};

/// The fixed key ffmpeg's mov demuxer uses to derive AAX keys (`audible_fixed_key`).
pub const AUDIBLE_FIXED_KEY: [u8; 16] = [
    0x77, 0x21, 0x4d, 0x4b, 0x19, 0x6a, 0x87, 0xcd, 0x52, 0x00, 0x45, 0xfd, 0x20, 0xa5, 0x1d, 0x67,
];

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;

fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn first16(bytes: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&bytes[..16]);
    out
}

/// AES-128-CBC over the whole 16-byte blocks of `data`; a shorter tail stays as it is.
fn encrypt_blocks(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
    let whole = data.len() / 16 * 16;
    if whole == 0 {
        return;
    }
    Aes128CbcEnc::new(key.into(), iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut data[..whole], whole)
        .unwrap_or_else(|e| panic!("whole blocks need no padding: {e}"));
}

/// The boxes from `moov` down to the sound track's `stbl`, outermost first.
struct SoundTrack {
    moov: Mp4Box,
    trak: Mp4Box,
    mdia: Mp4Box,
    minf: Mp4Box,
    stbl: Mp4Box,
    stsd: Mp4Box,
    entry: Mp4Box,
}

fn sound_track(buf: &[u8]) -> SoundTrack {
    let moov = top_level(buf, b"moov").unwrap_or_else(|| panic!("no moov"));
    let track = earmark_mp4::sound_track(buf, &moov).unwrap_or_else(|| panic!("no sound track"));
    let stsd = child(buf, &track.stbl, b"stsd").unwrap_or_else(|| panic!("no stsd"));
    // stsd: version/flags and entry count, then the sample entries.
    let entry = *boxes(buf, stsd.body() + 8, stsd.end())
        .first()
        .unwrap_or_else(|| panic!("no sample entry"));
    SoundTrack {
        moov,
        trak: track.trak,
        mdia: track.mdia,
        minf: track.minf,
        stbl: track.stbl,
        stsd,
        entry,
    }
}

/// Encrypts every sample of the sound track in place: whole blocks, iv restarting each sample.
fn encrypt_samples(buf: &mut [u8], track: &SoundTrack, key: &[u8; 16], iv: &[u8; 16]) {
    let spans: Vec<(usize, usize)> = SampleTable::read(buf, &track.stbl)
        .unwrap_or_else(|| panic!("no whole sample table"))
        .spans()
        .map(|span| {
            let (at, size) = span.unwrap_or_else(|| panic!("a sample without a size"));
            (at as usize, size as usize)
        })
        .collect();
    for (at, size) in spans {
        encrypt_blocks(key, iv, &mut buf[at..at + size]);
    }
}

fn set_brand(buf: &mut [u8], brand: &[u8; 4]) {
    let ftyp = top_level(buf, b"ftyp").unwrap_or_else(|| panic!("no ftyp"));
    buf[ftyp.body()..ftyp.body() + 4].copy_from_slice(brand);
}

/// Inserts `extra` at the end of the sound track's sample entry, growing every box around
/// it and moving chunk offsets when `moov` comes before `mdat`.
fn insert_in_entry(mut buf: Vec<u8>, track: &SoundTrack, extra: &[u8]) -> Vec<u8> {
    let moov_first = boxes(&buf, 0, buf.len())
        .iter()
        .position(|b| &b.kind == b"moov")
        < boxes(&buf, 0, buf.len())
            .iter()
            .position(|b| &b.kind == b"mdat");
    if moov_first {
        for trak in boxes(&buf, track.moov.body(), track.moov.end())
            .into_iter()
            .filter(|b| &b.kind == b"trak")
        {
            let stbl = child(&buf, &trak, b"mdia")
                .and_then(|m| child(&buf, &m, b"minf"))
                .and_then(|m| child(&buf, &m, b"stbl"));
            if let Some(stbl) = stbl {
                shift_chunk_offsets(&mut buf, &stbl, extra.len());
            }
        }
    }
    let path = [
        track.moov,
        track.trak,
        track.mdia,
        track.minf,
        track.stbl,
        track.stsd,
        track.entry,
    ];
    grow(&mut buf, &path, extra.len());
    let at = track.entry.end();
    buf.splice(at..at, extra.iter().copied());
    buf
}

/// Key material of an AAX file.
#[derive(Debug, Clone, Copy)]
pub struct AaxKeys {
    /// The account's activation bytes, as `-activation_bytes` takes them (hex, in order).
    pub activation_bytes: [u8; 4],
    /// The key the audio is encrypted with.
    pub file_key: [u8; 16],
    /// The seed the audio's iv is derived from.
    pub seed: [u8; 16],
}

/// `plain` (an MPEG-4 audio file) as an AAX that ffmpeg decrypts with `-activation_bytes`.
pub fn encrypt_aax(plain: &[u8], keys: &AaxKeys) -> Vec<u8> {
    let ab = keys.activation_bytes;
    let ik = sha1(&[&AUDIBLE_FIXED_KEY, &ab]);
    let iiv = sha1(&[&AUDIBLE_FIXED_KEY, &ik, &ab]);
    let checksum = sha1(&[&ik[..16], &iiv[..16]]);

    let mut blob_plain = [0u8; 48];
    for i in 0..4 {
        blob_plain[i] = ab[3 - i];
    }
    blob_plain[8..24].copy_from_slice(&keys.file_key);
    blob_plain[26..42].copy_from_slice(&keys.seed);
    encrypt_blocks(&first16(&ik), &first16(&iiv), &mut blob_plain);
    let file_iv = first16(&sha1(&[&keys.seed, &keys.file_key, &AUDIBLE_FIXED_KEY]));

    let mut buf = plain.to_vec();
    let track = sound_track(&buf);
    encrypt_samples(&mut buf, &track, &keys.file_key, &file_iv);
    buf[track.entry.start + 4..track.entry.start + 8].copy_from_slice(b"aavd");
    set_brand(&mut buf, b"aax ");

    let mut adrm = Vec::with_capacity(104);
    adrm.extend_from_slice(&104u32.to_be_bytes());
    adrm.extend_from_slice(b"adrm");
    adrm.extend_from_slice(&[0, 0, 0, 56, 0, 0, 0, 1]);
    adrm.extend_from_slice(&blob_plain);
    adrm.extend_from_slice(&[0xa5; 8]);
    adrm.extend_from_slice(&[0, 0, 0, 1]);
    adrm.extend_from_slice(&checksum);
    adrm.extend_from_slice(&[0; 8]);
    insert_in_entry(buf, &track, &adrm)
}

/// `plain` as an AAXC that ffmpeg decrypts with `-audible_key`/`-audible_iv`.
pub fn encrypt_aaxc(plain: &[u8], key: &[u8; 16], iv: &[u8; 16]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    let track = sound_track(&buf);
    encrypt_samples(&mut buf, &track, key, iv);
    buf[track.entry.start + 4..track.entry.start + 8].copy_from_slice(b"aavd");
    set_brand(&mut buf, b"aaxc");
    buf
}

/// Whether `moov` comes before `mdat` (players can start before the whole file is there).
pub fn moov_before_mdat(buf: &[u8]) -> bool {
    let top = boxes(buf, 0, buf.len());
    let moov = top.iter().position(|b| &b.kind == b"moov");
    let mdat = top.iter().position(|b| &b.kind == b"mdat");
    matches!((moov, mdat), (Some(m), Some(d)) if m < d)
}
