//! The view of fixtures encrypted as Audible does (and as FFmpeg decrypts), read in windows
//! of every size and alignment.

use std::fs::File;
use std::path::Path;

use earmark_fixtures::{
    AAX_KEYS, AAXC_IV, AAXC_KEY, SyntheticBook, decoded_pcm, encrypt_aax, encrypt_aaxc, hex,
};

use super::*;

/// A small deterministic generator: windows that differ run to run are not worth the flake.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (self.0 >> 33) % n.max(1)
    }
}

/// The whole view, assembled from windows read in a shuffled order.
fn read_in_random_windows(view: &PlainView, file: &File, len: u64, seed: u64) -> Vec<u8> {
    let mut rng = Lcg(seed);
    let mut windows = Vec::new();
    let mut at = 0;
    while at < len {
        let small = rng.below(2) == 0;
        let size = 1 + rng.below(if small { 40 } else { 9000 });
        let size = size.min(len - at);
        windows.push((at, size));
        at += size;
    }
    for i in (1..windows.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        windows.swap(i, j);
    }
    let mut out = vec![0u8; len as usize];
    for (at, size) in windows {
        let window = &mut out[at as usize..(at + size) as usize];
        assert_eq!(view.read_at(file, at, window).unwrap(), size as usize);
    }
    out
}

fn rendered(dir: &Path) -> Vec<u8> {
    let plain = SyntheticBook::short(2)
        .render(Path::new("ffmpeg"), dir)
        .unwrap();
    std::fs::read(plain).unwrap()
}

/// `plain` as the view presents it: its major brand (the first box is `ftyp`) says `M4A `.
fn as_m4a(plain: &[u8]) -> Vec<u8> {
    assert_eq!(&plain[4..8], b"ftyp");
    let mut out = plain.to_vec();
    out[8..12].copy_from_slice(b"M4A ");
    out
}

fn aaxc_secret() -> Secret {
    Secret::Voucher {
        key: hex(&AAXC_KEY),
        iv: hex(&AAXC_IV),
    }
}

#[test]
fn an_aaxc_seen_plain_is_the_plain_file_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let plain = rendered(dir.path());
    let path = dir.path().join("book.aaxc");
    std::fs::write(&path, encrypt_aaxc(&plain, &AAXC_KEY, &AAXC_IV)).unwrap();
    let file = File::open(&path).unwrap();
    let view = PlainView::open(&file, &aaxc_secret()).unwrap();
    let expected = as_m4a(&plain);
    for seed in [1, 2, 3] {
        let seen = read_in_random_windows(&view, &file, plain.len() as u64, seed);
        assert!(
            seen == expected,
            "seed {seed}: the view differs from the plain file"
        );
    }
    // Past the end: nothing, and no panic.
    let mut tail = [0u8; 10];
    assert_eq!(
        view.read_at(&file, plain.len() as u64 - 4, &mut tail)
            .unwrap(),
        4
    );
}

#[test]
fn an_aax_seen_plain_decodes_to_the_plain_audio_with_its_drm_box_freed() {
    let dir = tempfile::tempdir().unwrap();
    let plain = rendered(dir.path());
    let encrypted = encrypt_aax(&plain, &AAX_KEYS);
    let path = dir.path().join("book.aax");
    std::fs::write(&path, &encrypted).unwrap();
    let file = File::open(&path).unwrap();
    let view = PlainView::open(
        &file,
        &Secret::ActivationBytes(hex(&AAX_KEYS.activation_bytes)),
    )
    .unwrap();
    let seen = read_in_random_windows(&view, &file, encrypted.len() as u64, 7);
    let seen_path = dir.path().join("seen.m4a");
    std::fs::write(&seen_path, &seen).unwrap();
    let plain_path = dir.path().join("plain.m4a");
    std::fs::write(&plain_path, &plain).unwrap();
    assert!(
        decoded_pcm(&seen_path, &[]).unwrap() == decoded_pcm(&plain_path, &[]).unwrap(),
        "the view decodes to other audio"
    );
    assert!(!seen.windows(4).any(|w| w == b"adrm" || w == b"aavd"));
    assert_eq!(seen.len(), encrypted.len(), "nothing moves");
}

#[test]
fn wrong_or_malformed_secrets_are_told_apart_and_never_give_a_view() {
    let dir = tempfile::tempdir().unwrap();
    let plain = rendered(dir.path());
    let aax = dir.path().join("book.aax");
    std::fs::write(&aax, encrypt_aax(&plain, &AAX_KEYS)).unwrap();
    let file = File::open(&aax).unwrap();
    let open = |secret: Secret| PlainView::open(&file, &secret).map(|_| ()).unwrap_err();
    assert!(matches!(
        open(Secret::ActivationBytes("deadbeef".into())),
        ViewError::Key(KeyError::WrongActivationBytes)
    ));
    assert!(matches!(
        open(Secret::ActivationBytes("xyz".into())),
        ViewError::Key(KeyError::NotHex(..))
    ));
    let plain_path = dir.path().join("plain.m4a");
    std::fs::write(&plain_path, &plain).unwrap();
    let not_aax = File::open(&plain_path).unwrap();
    assert!(matches!(
        PlainView::open(&not_aax, &Secret::ActivationBytes("deadbeef".into())),
        Err(ViewError::Key(KeyError::NoAdrm))
    ));
    let garbage = dir.path().join("garbage.aaxc");
    std::fs::write(&garbage, b"not an mpeg-4 file at all").unwrap();
    assert!(matches!(
        PlainView::open(&File::open(&garbage).unwrap(), &aaxc_secret()),
        Err(ViewError::NoIndex)
    ));
}

#[test]
fn a_download_cut_short_is_served_as_far_as_it_goes() {
    let dir = tempfile::tempdir().unwrap();
    let plain = rendered(dir.path());
    let encrypted = encrypt_aaxc(&plain, &AAXC_KEY, &AAXC_IV);
    assert!(
        earmark_fixtures::moov_before_mdat(&encrypted),
        "the fixture's index comes first"
    );
    let cut = encrypted.len() * 2 / 3 + 5;
    let path = dir.path().join("cut.aaxc");
    std::fs::write(&path, &encrypted[..cut]).unwrap();
    let file = File::open(&path).unwrap();
    let view = PlainView::open(&file, &aaxc_secret()).unwrap();
    let mut seen = vec![0u8; cut + 100];
    let n = view.read_at(&file, 0, &mut seen).unwrap();
    assert_eq!(n, cut);
    // Every sample wholly present is plain; the one cut is plain up to its last whole block.
    let agree = seen[..n]
        .iter()
        .zip(&as_m4a(&plain))
        .take_while(|(a, b)| a == b)
        .count();
    assert!(agree + 16 >= cut, "agrees for {agree} of {cut} bytes");
}

#[test]
fn an_index_naming_a_sample_larger_than_any_audio_frame_gives_no_view() {
    let dir = tempfile::tempdir().unwrap();
    let mut encrypted = encrypt_aaxc(&rendered(dir.path()), &AAXC_KEY, &AAXC_IV);
    let moov = earmark_mp4::top_level(&encrypted, b"moov").unwrap();
    let track = earmark_mp4::sound_track(&encrypted, &moov).unwrap();
    let stsz = earmark_mp4::child(&encrypted, &track.stbl, b"stsz").unwrap();
    // stsz: version and flags, a size for every sample (0: each has its own), the count,
    // then the sizes.
    assert_eq!(earmark_mp4::uint(&encrypted, stsz.body() + 4, 4), Some(0));
    let first = stsz.body() + 12;
    let oversized = MAX_SAMPLE + 1;
    encrypted[first..first + 4].copy_from_slice(&oversized.to_be_bytes());
    let path = dir.path().join("damaged.aaxc");
    std::fs::write(&path, &encrypted).unwrap();
    let refused = PlainView::open(&File::open(&path).unwrap(), &aaxc_secret()).unwrap_err();
    assert!(
        matches!(refused, ViewError::OversizedSample(size) if size == u64::from(oversized)),
        "{refused}"
    );
    assert!(refused.to_string().contains("download the book again"));
}
