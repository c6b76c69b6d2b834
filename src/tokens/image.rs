//! Input tokens of an image, by each provider's published method, from the image's
//! dimensions. The dimensions are read from the PNG, JPEG, GIF or WebP header of a
//! base64 data URL, decoding only the bytes the header needs (a few MB photo is never
//! decoded whole); an image given by remote URL, or one whose header cannot be read, is
//! counted as [`DEFAULT_SIZE`] and makes the count an estimate.
//!
//! - OpenAI (<https://platform.openai.com/docs/guides/images-vision>, "Calculating
//!   costs"): tile models scale the image into 2048x2048, then its shortest side to 768,
//!   and count 512-px tiles (`base + tiles * tile`; `detail: low` is `base` alone); patch
//!   models (gpt-4.1-mini/nano, gpt-5-mini/nano, o4-mini) count 32-px patches, at most
//!   1536, times a multiplier.
//! - Anthropic (<https://docs.anthropic.com/en/docs/build-with-claude/vision>): an image
//!   whose long edge is over 1568 px or that would cost over ~1600 tokens is first scaled
//!   down; it then costs `width * height / 750` tokens.

use serde_json::{Map, Value};

use super::base64::{self, Alphabet};

/// The size an image of unknown dimensions (a remote URL) is counted as.
pub const DEFAULT_SIZE: (u32, u32) = (1024, 1024);

/// An image's tokens and whether the count follows from its real dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageCount {
    pub tokens: u64,
    pub exact: bool,
}

/// Which published method applies to a model.
enum Method {
    /// 512-px tiles: tokens for `detail: low` (and the base), per tile.
    Tiles(u64, u64),
    /// 32-px patches, times this multiplier.
    Patches(f64),
    Anthropic,
}

fn method(model: &str) -> Method {
    let model = model.strip_prefix("openai/").unwrap_or(model);
    const PATCHES: &[(&str, f64)] = &[
        ("gpt-4.1-mini", 1.62),
        ("gpt-4.1-nano", 2.46),
        ("gpt-5-mini", 1.62),
        ("gpt-5-nano", 2.46),
        ("o4-mini", 1.72),
    ];
    const TILES: &[(&str, u64, u64)] = &[
        ("gpt-4o-mini", 2833, 5667),
        ("gpt-5", 70, 140),
        ("o1", 75, 150),
        ("o3", 75, 150),
    ];
    if model.starts_with("claude") {
        return Method::Anthropic;
    }
    if let Some(&(_, m)) = PATCHES.iter().find(|(p, _)| model.starts_with(p)) {
        return Method::Patches(m);
    }
    match TILES.iter().find(|(p, _, _)| model.starts_with(p)) {
        Some(&(_, base, tile)) => Method::Tiles(base, tile),
        // gpt-4o, gpt-4.1, gpt-4.5 and models we do not know.
        None => Method::Tiles(85, 170),
    }
}

/// The tokens of an OpenAI `image_url` content part for `model` (a Claude model served
/// through the OpenAI API counts by Anthropic's method).
pub fn openai_part(model: &str, part: &Value) -> ImageCount {
    let image = part.get("image_url");
    let url = match image {
        Some(Value::String(u)) => Some(u.as_str()),
        Some(o) => o.get("url").and_then(Value::as_str),
        None => None,
    };
    let detail = image
        .and_then(|i| i.get("detail"))
        .and_then(Value::as_str)
        .unwrap_or("auto");
    let dims = url.and_then(data_url_dimensions);
    let (w, h) = dims.unwrap_or(DEFAULT_SIZE);
    let tokens = match method(model) {
        Method::Tiles(base, _) if detail == "low" => base,
        Method::Tiles(base, tile) => base + tile * tiles(w, h),
        Method::Patches(m) => (patches(w, h) as f64 * m).ceil() as u64,
        Method::Anthropic => anthropic_tokens(w, h),
    };
    ImageCount {
        tokens,
        exact: dims.is_some(),
    }
}

/// The tokens of an Anthropic `image` block (`source` base64 or url).
pub fn anthropic_block(block: &Value) -> ImageCount {
    let source = block.get("source");
    let kind = source.and_then(|s| s.get("type")).and_then(Value::as_str);
    let dims = match kind {
        Some("base64") => source
            .and_then(|s| s.get("data"))
            .and_then(Value::as_str)
            .and_then(|d| base64_dimensions(d.as_bytes())),
        _ => None,
    };
    let (w, h) = dims.unwrap_or(DEFAULT_SIZE);
    ImageCount {
        tokens: anthropic_tokens(w, h),
        exact: dims.is_some(),
    }
}

/// Whether an image of the request (OpenAI `image_url` parts, Anthropic `image` blocks,
/// tool results included) is counted at [`DEFAULT_SIZE`]: its count is an estimate.
pub fn has_estimated_image(req: &Map<String, Value>) -> bool {
    fn any_estimated(content: Option<&Value>) -> bool {
        let Some(Value::Array(parts)) = content else {
            return false;
        };
        parts
            .iter()
            .any(|p| match p.get("type").and_then(Value::as_str) {
                Some("image_url") => !openai_part("gpt-4o", p).exact,
                Some("image") => !anthropic_block(p).exact,
                Some("tool_result") => any_estimated(p.get("content")),
                _ => false,
            })
    }
    match req.get("messages") {
        Some(Value::Array(messages)) => messages.iter().any(|m| any_estimated(m.get("content"))),
        _ => false,
    }
}

/// OpenAI's 512-px tiles of an image in `detail: high`.
fn tiles(w: u32, h: u32) -> u64 {
    let (mut w, mut h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    if w > 2048.0 || h > 2048.0 {
        let s = 2048.0 / w.max(h);
        (w, h) = (w * s, h * s);
    }
    if w.min(h) > 768.0 {
        let s = 768.0 / w.min(h);
        (w, h) = (w * s, h * s);
    }
    ((w / 512.0).ceil() * (h / 512.0).ceil()) as u64
}

/// OpenAI's 32-px patches, at most 1536 (the image scaled down to fit).
fn patches(w: u32, h: u32) -> u64 {
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let raw = (w / 32.0).ceil() * (h / 32.0).ceil();
    if raw <= 1536.0 {
        return raw as u64;
    }
    let mut r = (32.0 * 32.0 * 1536.0 / (w * h)).sqrt();
    let (sw, sh) = (w * r / 32.0, h * r / 32.0);
    r *= (sw.floor() / sw).min(sh.floor() / sh);
    let n = (w * r / 32.0).ceil() * (h * r / 32.0).ceil();
    n.min(1536.0) as u64
}

/// Anthropic's `width * height / 750` after its resize rule.
fn anthropic_tokens(w: u32, h: u32) -> u64 {
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let s = 1f64
        .min(1568.0 / w.max(h))
        .min((1600.0 * 750.0 / (w * h)).sqrt());
    let (w, h) = ((w * s).floor(), (h * s).floor());
    (w * h / 750.0).ceil() as u64
}

/// The dimensions of a `data:<type>;base64,<data>` URL's image.
pub fn data_url_dimensions(url: &str) -> Option<(u32, u32)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    if !meta.ends_with(";base64") {
        return None;
    }
    base64_dimensions(data.as_bytes())
}

/// The dimensions of a base64-encoded image, decoding only what its header needs.
pub fn base64_dimensions(b64: &[u8]) -> Option<(u32, u32)> {
    dimensions(&Encoded(b64))
}

/// Bytes of an image, read by position.
trait Bytes {
    /// `len` bytes from `at`, or fewer at the end; `None` when they cannot be read.
    fn read(&self, at: usize, len: usize) -> Option<Vec<u8>>;
}

/// Decoded bytes.
#[cfg(test)]
struct Plain<'a>(&'a [u8]);

#[cfg(test)]
impl Bytes for Plain<'_> {
    fn read(&self, at: usize, len: usize) -> Option<Vec<u8>> {
        let end = at.checked_add(len)?.min(self.0.len());
        self.0.get(at..end).map(<[u8]>::to_vec)
    }
}

/// Base64 text read as the bytes it encodes: each read decodes only its own 4-character
/// groups.
struct Encoded<'a>(&'a [u8]);

impl Bytes for Encoded<'_> {
    fn read(&self, at: usize, len: usize) -> Option<Vec<u8>> {
        let first = at / 3 * 4;
        let last = (at.checked_add(len)?.div_ceil(3) * 4).min(self.0.len());
        let decoded = base64::decode(self.0.get(first..last)?, Alphabet::Either)?;
        let skip = at % 3;
        Some(decoded.get(skip..)?.iter().take(len).copied().collect())
    }
}

fn be16(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])))
}

fn le16(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])))
}

fn le24(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        0,
    ]))
}

fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Width and height from a PNG, GIF, WebP or JPEG header.
fn dimensions(img: &dyn Bytes) -> Option<(u32, u32)> {
    let head = img.read(0, 32)?;
    let found = if head.starts_with(b"\x89PNG\r\n\x1a\n") && head.get(12..16) == Some(b"IHDR") {
        (be32(&head, 16)?, be32(&head, 20)?)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        (le16(&head, 6)?, le16(&head, 8)?)
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        match head.get(12..16)? {
            b"VP8 " => (le16(&head, 26)? & 0x3fff, le16(&head, 28)? & 0x3fff),
            b"VP8L" => {
                let bits = u32::from_le_bytes(head.get(21..25)?.try_into().ok()?);
                ((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1)
            }
            b"VP8X" => (le24(&head, 24)? + 1, le24(&head, 27)? + 1),
            _ => return None,
        }
    } else if head.starts_with(&[0xff, 0xd8]) {
        jpeg_dimensions(img)?
    } else {
        return None;
    };
    Some(found).filter(|&(w, h)| w > 0 && h > 0)
}

/// Walks a JPEG's marker segments to its frame header (SOFn), skipping the others by
/// their length (EXIF thumbnails can put it tens of KB in).
fn jpeg_dimensions(img: &dyn Bytes) -> Option<(u32, u32)> {
    let mut at = 2;
    // A bound on segments, so a malformed file cannot loop for long.
    for _ in 0..1024 {
        let marker = img.read(at, 9)?;
        if marker.len() < 4 || marker[0] != 0xff {
            return None;
        }
        let kind = marker[1];
        if kind == 0xff {
            at += 1; // fill byte
            continue;
        }
        let is_frame = matches!(kind, 0xc0..=0xcf) && !matches!(kind, 0xc4 | 0xc8 | 0xcc);
        if is_frame {
            // FF Cn, length (2), precision (1), height (2), width (2).
            return Some((be16(&marker, 7)?, be16(&marker, 5)?));
        }
        if kind == 0xd9 || kind == 0xda {
            return None; // end of image, or scan data before any frame header
        }
        at += 2 + be16(&marker, 2)? as usize;
    }
    None
}

#[cfg(test)]
mod tests;
