//! Real image files, made with ImageMagick 6 (`convert -size WxH xc:red t.png`, ...) and
//! embedded as base64, as clients send them.

use super::*;
use serde_json::json;

const PNG_3X2: &str = "iVBORw0KGgoAAAANSUhEUgAAAAMAAAACAQMAAACnuvRZAAAABGdBTUEAALGPC/xhBQAAACBjSFJNAAB6JgAAgIQAAPoAAACA6AAAdTAAAOpgAAA6mAAAF3CculE8AAAABlBMVEX/AAD///9BHTQRAAAAAWJLR0QB/wIt3gAAAAd0SU1FB+oMBhMLHQUCiKIAAAAMSURBVAjXY2BgYAAAAAQAASc0JwoAAAAldEVYdGRhdGU6Y3JlYXRlADIwMjYtMTItMDZUMTk6MTE6MjkrMDA6MDDfRHXvAAAAJXRFWHRkYXRlOm1vZGlmeQAyMDI2LTEyLTA2VDE5OjExOjI5KzAwOjAwrhnNUwAAAABJRU5ErkJggg==";
const GIF_3X2: &str = "R0lGODlhAwACAPAAAP8AAAAAACH5BAAAAAAALAAAAAADAAIAAAIChF8AOw==";
/// Lossy (`VP8 `).
const WEBP_3X2: &str =
    "UklGRjwAAABXRUJQVlA4IDAAAADQAQCdASoDAAIAAgA0JaACdLoB+AADsAD+8MQL/yC5YXXI1/8gP+QH/ID/+PIAAAA=";
/// Lossless (`VP8L`).
const WEBP_5X4: &str = "UklGRhwAAABXRUJQVlA4TA8AAAAvBMAAAAdQwIj+ByKi/wEA";
/// Extended, with alpha (`VP8X`).
const WEBP_7X6: &str = "UklGRl4AAABXRUJQVlA4WAoAAAAQAAAABgAABQAAQUxQSAwAAAABDzD/ERFiBCL6HwJWUDggLAAAAJABAJ0BKgcABgACADQlAF2GCOg7AAD+8MQBm+Nd5Kjgzz2n/H339iqfesAA";
/// Baseline (SOF0).
const JPEG_3X2: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAACAAMDAREAAhEBAxEB/8QAFAABAAAAAAAAAAAAAAAAAAAACP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/xAAVAQEBAAAAAAAAAAAAAAAAAAAHCf/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/ADoDFU3/2Q==";
/// Progressive (SOF2).
const JPEG_9X8: &str = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wgARCAAIAAkDAREAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAj/xAAWAQEBAQAAAAAAAAAAAAAAAAAABQj/2gAMAwEAAhADEAAAAZ71TDH/xAAUEAEAAAAAAAAAAAAAAAAAAAAQ/9oACAEBAAEFAj//xAAUEQEAAAAAAAAAAAAAAAAAAAAQ/9oACAEDAQE/AT//xAAUEQEAAAAAAAAAAAAAAAAAAAAQ/9oACAECAQE/AT//xAAUEAEAAAAAAAAAAAAAAAAAAAAQ/9oACAEBAAY/Aj//xAAUEAEAAAAAAAAAAAAAAAAAAAAQ/9oACAEBAAE/IT//2gAMAwEAAgADAAAAEEv/xAAUEQEAAAAAAAAAAAAAAAAAAAAQ/9oACAEDAQE/ED//xAAUEQEAAAAAAAAAAAAAAAAAAAAQ/9oACAECAQE/ED//xAAUEAEAAAAAAAAAAAAAAAAAAAAQ/9oACAEBAAE/ED//2Q==";

fn bytes(b64: &str) -> Vec<u8> {
    base64::decode(b64.as_bytes(), Alphabet::Either).unwrap()
}

#[test]
fn every_format_gives_its_dimensions() {
    for (b64, dims) in [
        (PNG_3X2, (3, 2)),
        (GIF_3X2, (3, 2)),
        (WEBP_3X2, (3, 2)),
        (WEBP_5X4, (5, 4)),
        (WEBP_7X6, (7, 6)),
        (JPEG_3X2, (3, 2)),
        (JPEG_9X8, (9, 8)),
    ] {
        assert_eq!(base64_dimensions(b64.as_bytes()), Some(dims), "{b64:.12}");
        assert_eq!(dimensions(&Plain(&bytes(b64))), Some(dims));
        let url = format!("data:image/x;base64,{b64}");
        assert_eq!(data_url_dimensions(&url), Some(dims));
    }
}

#[test]
fn a_jpeg_frame_far_behind_other_segments_is_found() {
    // A 40 KB comment segment (as EXIF thumbnails are) before the frame header, at every
    // alignment against base64's 3-byte groups.
    let jpeg = bytes(JPEG_3X2);
    for pad in 0..3 {
        let mut padded = jpeg[..2].to_vec();
        let len = 40_000 + pad;
        padded.extend_from_slice(&[0xff, 0xfe, (len >> 8) as u8, len as u8]);
        padded.extend(std::iter::repeat_n(b'x', len - 2));
        padded.extend_from_slice(&jpeg[2..]);
        assert_eq!(
            base64_dimensions(base64::encode(&padded).as_bytes()),
            Some((3, 2))
        );
    }
}

#[test]
fn what_is_not_an_image_gives_nothing_and_never_panics() {
    for junk in [
        "",
        "AAAA",
        "iVBORw0KGgo=",
        "/9j/",
        "/9j/4AAQ",
        "R0lGODlh",
        "UklGRjwAAABXRUJQ",
        "not base64 at all!",
    ] {
        assert_eq!(base64_dimensions(junk.as_bytes()), None, "{junk}");
    }
    assert_eq!(data_url_dimensions("https://example.com/cat.png"), None);
    assert_eq!(data_url_dimensions("data:image/png,rawbytes"), None);
    // Every truncation of a real file.
    for b64 in [PNG_3X2, JPEG_9X8, WEBP_7X6] {
        let raw = bytes(b64);
        for cut in 0..raw.len() {
            let _ = dimensions(&Plain(&raw[..cut]));
        }
    }
}

#[test]
fn openai_tiles_by_detail_and_model() {
    // OpenAI's worked examples (gpt-4o): 1024x1024 high is 765, 2048x4096 high is 1105,
    // low is 85 whatever the size.
    assert_eq!(tiles(1024, 1024), 4);
    assert_eq!(tiles(2048, 4096), 6);
    assert_eq!(tiles(4096, 8192), 6);
    assert_eq!(tiles(100, 100), 1);
    let part = |url: &str, detail: &str| json!({"type": "image_url", "image_url": {"url": url, "detail": detail}});
    let png = format!("data:image/png;base64,{PNG_3X2}");
    assert_eq!(
        openai_part("gpt-4o", &part(&png, "high")),
        ImageCount {
            tokens: 85 + 170,
            exact: true
        }
    );
    assert_eq!(openai_part("gpt-4o", &part(&png, "low")).tokens, 85);
    assert_eq!(
        openai_part("gpt-4o-mini", &part(&png, "auto")).tokens,
        2833 + 5667
    );
    assert_eq!(openai_part("o3", &part(&png, "auto")).tokens, 75 + 150);
    assert_eq!(openai_part("gpt-5", &part(&png, "auto")).tokens, 70 + 140);
    // A remote image counts as a 1024x1024 one, and says it is an estimate.
    assert_eq!(
        openai_part("gpt-4o", &part("https://example.com/cat.jpg", "auto")),
        ImageCount {
            tokens: 765,
            exact: false
        }
    );
    // The bare-string form of image_url.
    let bare = json!({"type": "image_url", "image_url": png});
    assert!(openai_part("gpt-4o", &bare).exact);
}

#[test]
fn openai_patches_for_the_mini_and_nano_models() {
    // OpenAI's worked examples: 1024x1024 is 1024 patches; 1800x2400 is scaled to 1452.
    assert_eq!(patches(1024, 1024), 1024);
    assert_eq!(patches(1800, 2400), 1452);
    assert_eq!(patches(3, 2), 1);
    let remote = json!({"type": "image_url", "image_url": {"url": "https://x/y.png"}});
    assert_eq!(
        openai_part("gpt-4.1-mini", &remote).tokens,
        (1024.0f64 * 1.62).ceil() as u64
    );
    assert_eq!(
        openai_part("o4-mini", &remote).tokens,
        (1024.0f64 * 1.72).ceil() as u64
    );
}

#[test]
fn anthropic_area_over_750_after_its_resize() {
    // Anthropic's table: 200x200 ~54, 1000x1000 ~1334, 1092x1092 ~1590 (no resize).
    assert_eq!(anthropic_tokens(200, 200), 54);
    assert_eq!(anthropic_tokens(1000, 1000), 1334);
    assert_eq!(anthropic_tokens(1092, 1092), 1590);
    // Larger images are scaled down first: never much over 1600.
    assert!((1590..=1600).contains(&anthropic_tokens(4000, 3000)));
    assert!(anthropic_tokens(3000, 200) <= 1568 * 105 / 750 + 1);
    let block = |data: &str| json!({"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": data}});
    assert_eq!(
        anthropic_block(&block(GIF_3X2)),
        ImageCount {
            tokens: 1,
            exact: true
        }
    );
    let remote = json!({"type": "image", "source": {"type": "url", "url": "https://x/y.png"}});
    assert_eq!(
        anthropic_block(&remote),
        ImageCount {
            tokens: 1024 * 1024 / 750 + 1,
            exact: false
        }
    );
    // A Claude model through the OpenAI API counts by Anthropic's method.
    let part = json!({"type": "image_url", "image_url": {"url": format!("data:image/jpeg;base64,{JPEG_9X8}")}});
    assert_eq!(openai_part("claude-haiku-4-5", &part).tokens, 1);
}
