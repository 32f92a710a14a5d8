//! The key and iv an Audible file's samples are encrypted with: an AAXC's come from its
//! voucher; an AAX's are derived from the account's activation bytes and the file's `adrm`
//! box, as FFmpeg's mov demuxer derives them (`mov_read_adrm`).

use std::fmt;
use std::ops::Range;

use aes::cipher::consts::U16;
use aes::cipher::inout::InOutBuf;
use aes::cipher::{BlockDecrypt, KeyInit};
use earmark_mp4::{Mp4Box, boxes, child, sound_track, uint};
use sha1::{Digest, Sha1};

/// The fixed key FFmpeg derives AAX keys with (`audible_fixed_key`).
const FIXED_KEY: [u8; 16] = [
    0x77, 0x21, 0x4d, 0x4b, 0x19, 0x6a, 0x87, 0xcd, 0x52, 0x00, 0x45, 0xfd, 0x20, 0xa5, 0x1d, 0x67,
];

/// Why a file's key cannot be had. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The voucher's key or iv, or the activation bytes, are not the hex they must be.
    #[error("{0} is not {1} hexadecimal digits")]
    NotHex(&'static str, usize),
    /// The file carries no `adrm` box where an AAX has it.
    #[error("the file has no adrm box: it is not an AAX")]
    NoAdrm,
    /// The activation bytes do not open this file.
    #[error("the activation bytes do not open this file: they belong to another Audible account")]
    WrongActivationBytes,
}

/// What opens a file: an AAXC's voucher key and iv, or the activation bytes of the account
/// that bought an AAX (hex, as audible-cli caches them).
#[derive(Clone)]
pub enum Secret {
    /// `content_license.license_response.key` and `.iv` of the voucher.
    Voucher {
        /// 32 hex digits.
        key: String,
        /// 32 hex digits.
        iv: String,
    },
    /// 8 hex digits.
    ActivationBytes(String),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Voucher { .. } => "Secret::Voucher(..)",
            Self::ActivationBytes(_) => "Secret::ActivationBytes(..)",
        })
    }
}

/// The AES-128 key and the iv every sample starts from.
#[derive(Clone)]
pub struct SampleKey {
    /// The key, expanded once for every sample.
    cipher: aes::Aes128Dec,
    iv: [u8; 16],
}

impl fmt::Debug for SampleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SampleKey(..)")
    }
}

impl SampleKey {
    /// The key that `secret` gives for the file whose `moov` (at `moov_box` in `moov`) is
    /// given.
    ///
    /// # Errors
    /// [`KeyError`] when the secret is malformed, the AAX has no `adrm`, or the activation
    /// bytes are another account's.
    pub fn of(secret: &Secret, moov: &[u8], moov_box: &Mp4Box) -> Result<Self, KeyError> {
        match secret {
            Secret::Voucher { key, iv } => Ok(Self::new(
                &hex16("the voucher's key", key)?,
                hex16("the voucher's iv", iv)?,
            )),
            Secret::ActivationBytes(bytes) => {
                let bytes = hex::<4>("the activation bytes", bytes)?;
                let adrm = adrm(moov, moov_box).ok_or(KeyError::NoAdrm)?;
                Self::from_adrm(&moov[adrm.body()..adrm.end()], bytes)
            }
        }
    }

    /// FFmpeg's derivation: a key and iv from the activation bytes open the 48-byte blob of
    /// the `adrm` body, which holds the file key and the seed of its iv; a checksum of the
    /// derived pair tells wrong activation bytes before anything is decrypted.
    fn from_adrm(body: &[u8], activation_bytes: [u8; 4]) -> Result<Self, KeyError> {
        let (Some(blob), Some(checksum)) = (body.get(8..56), body.get(68..88)) else {
            return Err(KeyError::NoAdrm);
        };
        let ik = sha1(&[&FIXED_KEY, &activation_bytes]);
        let iiv = sha1(&[&FIXED_KEY, &ik, &activation_bytes]);
        if sha1(&[&ik[..16], &iiv[..16]])[..] != checksum[..] {
            return Err(KeyError::WrongActivationBytes);
        }
        let mut plain = [0u8; 48];
        plain.copy_from_slice(blob);
        Self::new(&first16(&ik), first16(&iiv)).decrypt_sample(&mut plain);
        let reversed: Vec<u8> = activation_bytes.iter().rev().copied().collect();
        if plain[..4] != reversed[..] {
            return Err(KeyError::WrongActivationBytes);
        }
        let key = first16(&plain[8..24]);
        let iv = first16(&sha1(&[&plain[26..42], &key, &FIXED_KEY]));
        Ok(Self::new(&key, iv))
    }

    fn new(key: &[u8; 16], iv: [u8; 16]) -> Self {
        Self {
            cipher: aes::Aes128Dec::new(key.into()),
            iv,
        }
    }

    /// Decrypts one sample in place: AES-128-CBC over its whole 16-byte blocks from the
    /// file's iv, the tail in clear. A sample cut short keeps what is not a whole block.
    pub fn decrypt_sample(&self, sample: &mut [u8]) {
        let whole_sample = 0..sample.len();
        self.decrypt_samples(sample, std::slice::from_ref(&whole_sample));
    }

    /// Decrypts many samples of `window` in place, each given by its range, as
    /// [`Self::decrypt_sample`] would one by one, but nearly twice as fast on short samples.
    ///
    /// AES-NI decrypts eight blocks at once, but only when eight independent blocks are at
    /// hand: CBC decryption of one ~200-byte sample leaves most blocks in a short tail done
    /// one at a time. So the samples' whole blocks are gathered, a few kilobytes at a time
    /// (the run stays in the L1 cache), decrypted there as independent blocks, and each XORed
    /// with the ciphertext block before it (the iv for a sample's first) as it is put back —
    /// which is CBC decryption, with the AES work pipelined. A sample longer than a run
    /// continues in the next.
    pub fn decrypt_samples(&self, window: &mut [u8], samples: &[Range<usize>]) {
        let mut batch = Batch::new(self);
        for range in samples {
            let end = range.start + range.len() / 16 * 16;
            let mut at = range.start;
            let mut first = true;
            while at < end {
                if batch.room() == 0 {
                    batch.flush(window);
                }
                let len = (end - at).min(batch.room());
                batch.push(window, at..at + len, first);
                at += len;
                first = false;
            }
        }
        batch.flush(window);
    }
}

/// Whole blocks gathered from a window's samples, to be decrypted together.
struct Batch<'k> {
    key: &'k SampleKey,
    /// The gathered ciphertext.
    cipher: [u8; Batch::RUN],
    /// The gathered blocks' AES decryption, not yet chained.
    plain: [u8; Batch::RUN],
    used: usize,
    /// Where each gathered piece came from, and whether it starts its sample (else it
    /// continues the piece before it).
    pieces: Vec<(Range<usize>, bool)>,
    /// The last ciphertext block of the piece flushed last, for a piece that continues it.
    carried: [u8; 16],
}

impl<'k> Batch<'k> {
    /// Bytes gathered at most: both runs stay in the L1 cache.
    const RUN: usize = 8 * 1024;

    fn new(key: &'k SampleKey) -> Self {
        Self {
            key,
            cipher: [0; Self::RUN],
            plain: [0; Self::RUN],
            used: 0,
            pieces: Vec::new(),
            carried: key.iv,
        }
    }

    fn room(&self) -> usize {
        Self::RUN - self.used
    }

    /// Gathers `blocks` (whole blocks, at most [`Self::room`] bytes) of `window`.
    fn push(&mut self, window: &[u8], blocks: Range<usize>, starts_sample: bool) {
        let len = blocks.len();
        self.cipher[self.used..self.used + len].copy_from_slice(&window[blocks.clone()]);
        self.used += len;
        self.pieces.push((blocks, starts_sample));
    }

    /// Decrypts what was gathered and puts each piece back: each block's AES decryption
    /// XORed with the ciphertext block before it (CBC), the iv before a sample's first, the
    /// block carried over from the last run before a continuation's first.
    fn flush(&mut self, window: &mut [u8]) {
        let used = self.used;
        // Two slices of one length: `new` cannot refuse them.
        if let Ok(buf) = InOutBuf::new(&self.cipher[..used], &mut self.plain[..used]) {
            let (blocks, _) = buf.into_chunks::<U16>();
            self.key.cipher.decrypt_blocks_inout(blocks);
        }
        let mut at = 0;
        for (range, starts_sample) in self.pieces.drain(..) {
            let mut before = u128::from_ne_bytes(if starts_sample {
                self.key.iv
            } else {
                self.carried
            });
            let len = range.len();
            let (out, _) = window[range].as_chunks_mut::<16>();
            let (plain, _) = self.plain[at..at + len].as_chunks::<16>();
            let (cipher, _) = self.cipher[at..at + len].as_chunks::<16>();
            for ((out, plain), cipher) in out.iter_mut().zip(plain).zip(cipher) {
                *out = (u128::from_ne_bytes(*plain) ^ before).to_ne_bytes();
                before = u128::from_ne_bytes(*cipher);
            }
            self.carried = before.to_ne_bytes();
            at += len;
        }
        self.used = 0;
    }
}

/// The `adrm` box inside the sound track's sample entry.
fn adrm(moov: &[u8], moov_box: &Mp4Box) -> Option<Mp4Box> {
    let entry = sample_entry(moov, moov_box)?;
    entry_children(moov, &entry)
        .into_iter()
        .find(|b| &b.kind == b"adrm")
}

/// The sound track's first sample entry.
pub(crate) fn sample_entry(moov: &[u8], moov_box: &Mp4Box) -> Option<Mp4Box> {
    let track = sound_track(moov, moov_box)?;
    let stsd = child(moov, &track.stbl, b"stsd")?;
    // stsd: version and flags, the entry count, then the entries.
    boxes(moov, stsd.body() + 8, stsd.end()).first().copied()
}

/// The boxes inside an audio sample entry, after its fixed fields (28 bytes for a version 0
/// sound description, 44 for version 1, 64 for version 2).
pub(crate) fn entry_children(moov: &[u8], entry: &Mp4Box) -> Vec<Mp4Box> {
    let fixed = match uint(moov, entry.body() + 8, 2) {
        Some(1) => 44,
        Some(2) => 64,
        _ => 28,
    };
    boxes(moov, entry.body() + fixed, entry.end())
}

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

fn hex16(what: &'static str, text: &str) -> Result<[u8; 16], KeyError> {
    hex::<16>(what, text)
}

fn hex<const N: usize>(what: &'static str, text: &str) -> Result<[u8; N], KeyError> {
    let text = text.trim().as_bytes();
    if text.len() != 2 * N {
        return Err(KeyError::NotHex(what, 2 * N));
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, pair) in text.chunks(2).enumerate() {
        match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => out[i] = hi << 4 | lo,
            _ => return Err(KeyError::NotHex(what, 2 * N)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};

    /// CBC decryption of a sample's whole blocks by the `cbc` crate: the reference.
    fn cbc_decrypted(key: &[u8; 16], iv: &[u8; 16], sample: &mut [u8]) {
        let whole = sample.len() / 16 * 16;
        cbc::Decryptor::<aes::Aes128>::new(key.into(), iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut sample[..whole])
            .expect("whole blocks need no padding");
    }

    #[test]
    fn samples_decrypted_together_equal_samples_decrypted_one_by_one() {
        let key = SampleKey::new(&[0x5a; 16], [0x3c; 16]);
        // Sizes below, at and around a block, and the short and long samples AAC makes;
        // gaps between them (another track's bytes) stay as they are.
        // Enough of them to fill several runs, one larger than a run and one larger than two
        // (each continues across runs).
        let mut sizes = vec![0usize, 5, 16, 17, 31, 186, 372, 600, 15, 1024, 9000, 20_003];
        sizes.extend((0..120).map(|i| 150 + i * 7));
        let mut window: Vec<u8> = (0..150_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut ranges = Vec::new();
        let mut at = 3;
        for size in sizes {
            ranges.push(at..at + size);
            at += size + 7;
        }
        let mut one_by_one = window.clone();
        for range in &ranges {
            cbc_decrypted(&[0x5a; 16], &[0x3c; 16], &mut one_by_one[range.clone()]);
        }
        let mut alone = window.clone();
        for range in &ranges {
            key.decrypt_sample(&mut alone[range.clone()]);
        }
        assert_eq!(alone, one_by_one, "a sample decrypted alone");
        let untouched = window.clone();
        key.decrypt_samples(&mut window, &ranges);
        assert_eq!(window, one_by_one);
        assert_ne!(window, untouched, "the samples were decrypted");
        assert_eq!(
            window[..3],
            untouched[..3],
            "bytes before the first sample kept"
        );
    }
}
