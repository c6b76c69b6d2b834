//! The words around a number: do they say it is a phone number ("call", "Tel.", "fax",
//! "WhatsApp", "Telefon", "téléphone", "電話", "전화"...), or something else ("order",
//! "invoice", "ISBN", "account", a `#` or a currency sign right before it)?
//!
//! Read within [`LEFT`] bytes before the number and the first word of the [`RIGHT`] bytes
//! after it (`555-0132 (mobile)`, `0412 345 678 office`); the output guard holds a number
//! back until that much text follows it (`scan::holdback`). Bounded work per number.

use std::sync::OnceLock;

/// Bytes read before a number.
pub(super) const LEFT: usize = 64;
/// Bytes read after a number.
pub const RIGHT: usize = 16;

/// What the words around a number say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Says {
    Phone,
    Other,
    Nothing,
}

/// Words (ASCII, lower case) that name a phone, whole.
const PHONE_WORDS: &[&[u8]] = &[
    b"tel", b"ph", b"mob", b"cel", b"cell", b"call", b"calls", b"fax", b"sms", b"text", b"ring",
    b"dial", b"tlf", b"tfno", b"telf", b"fone", b"mobile", b"whats",
];

/// Beginnings of words (ASCII, lower case) that name a phone.
const PHONE_PREFIXES: &[&[u8]] = &[
    b"phone",
    b"telephon",
    b"telefon",
    b"mobil",
    b"cellphone",
    b"cellular",
    b"celular",
    b"cellulare",
    b"whatsapp",
    b"contact",
    b"contat",
    b"hotline",
    b"landline",
    b"handy",
    b"rufnummer",
    b"festnetz",
    b"portable",
    b"appel",
    b"llam",
    b"chiam",
    b"ligar",
    b"ligue",
    b"liga",
    b"calling",
    b"called",
    b"caller",
    b"callback",
    b"reach",
    b"dialing",
    b"dialling",
    b"texting",
    b"messag",
    b"answering",
    b"faxes",
    b"smartphone",
    b"iphone",
    b"telegram",
    b"viber",
];

/// After a number only: what kind of line it is (`0412 345 678 office`).
const RIGHT_WORDS: &[&[u8]] = &[
    b"office",
    b"home",
    b"work",
    b"desk",
    b"direct",
    b"main",
    b"mobile",
    b"cell",
    b"fax",
    b"phone",
    b"tel",
    b"landline",
];

/// Words, in UTF-8, of other scripts (and accented ones the ASCII split would cut).
const PHONE_UTF8: &[&str] = &[
    "電話",
    "携帯",
    "ケータイ",
    "전화",
    "휴대",
    "핸드폰",
    "연락",
    "手机",
    "电话",
    "联系",
    "телефон",
    "тел.",
    "моб",
    "फ़ोन",
    "फोन",
    "मोबाइल",
    "móvil",
    "Llám",
    "llám",
    "número de tel",
];

/// Words (ASCII, lower case) that name something else, whole.
const OTHER_WORDS: &[&[u8]] = &[
    b"id",
    b"ids",
    b"uid",
    b"po",
    b"inv",
    b"case",
    b"part",
    b"pin",
    b"lot",
    b"row",
    b"vin",
    b"port",
    b"ports",
    b"sku",
    b"ean",
    b"upc",
    b"gtin",
    b"asin",
    b"otp",
    b"ssn",
    b"isbn",
    b"issn",
    b"zip",
    b"plz",
    b"iban",
    b"bic",
    b"swift",
    b"ref",
    b"item",
    b"model",
    b"tax",
    b"taxes",
    b"lat",
    b"lng",
    b"lon",
    b"build",
    b"usd",
    b"eur",
    b"gbp",
    b"jpy",
    b"krw",
    b"inr",
    b"brl",
    b"aud",
    b"cad",
    b"rs",
    b"tracking",
    b"track",
];

/// Beginnings of words (ASCII, lower case) that name something else.
const OTHER_PREFIXES: &[&[u8]] = &[
    b"order",
    b"invoice",
    b"account",
    b"acct",
    b"shipment",
    b"parcel",
    b"package",
    b"serial",
    b"reference",
    b"ticket",
    b"postal",
    b"postcode",
    b"code",
    b"fedex",
    b"usps",
    b"dhl",
    b"shipped",
    b"shipping",
    b"transaction",
    b"txn",
    b"confirmation",
    b"booking",
    b"reservation",
    b"policy",
    b"claim",
    b"member",
    b"patient",
    b"employee",
    b"licen",
    b"passport",
    b"price",
    b"total",
    b"amount",
    b"cost",
    b"version",
    b"release",
    b"timestamp",
    b"epoch",
    b"uuid",
    b"hash",
    b"commit",
    b"batch",
    b"product",
    b"receipt",
    b"bill",
    b"payment",
    b"record",
    b"bestell",
    b"rechnung",
    b"kunden",
    b"commande",
    b"facture",
    b"pedido",
    b"factura",
    b"ordine",
    b"fattura",
    b"konto",
    b"compte",
    b"cuenta",
    b"conto",
    b"conta",
    b"dollar",
    b"euro",
    b"seconds",
    b"millis",
    b"bytes",
    b"coordinat",
    b"latitude",
    b"longitude",
];

const OTHER_UTF8: &[&str] = &[
    "주문",
    "송장",
    "운송장",
    "注文",
    "订单",
    "заказ",
    "€",
    "£",
    "¥",
    "₩",
    "₹",
];

/// `w.starts_with(p)`, the first byte compared inline: most entries differ there, and a
/// `memcmp` call per entry of the lists read near every number adds up.
#[inline(always)]
fn begins(w: &[u8], p: &[u8]) -> bool {
    match (w.first(), p.first()) {
        (Some(a), Some(b)) if a == b => w.starts_with(p),
        (_, None) => true,
        _ => false,
    }
}

/// One entry of the word lists, filed under its first letter.
struct Entry {
    word: &'static [u8],
    whole: bool,
    phone: bool,
}

/// The four ASCII lists by first letter: every word near every number is looked up,
/// and a pass over all ~190 entries per word was a fifth of the PII scan.
fn by_first_letter() -> &'static [Vec<Entry>; 26] {
    static INDEX: OnceLock<[Vec<Entry>; 26]> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index: [Vec<Entry>; 26] = Default::default();
        let lists = [
            (PHONE_WORDS, true, true),
            (PHONE_PREFIXES, false, true),
            (OTHER_WORDS, true, false),
            (OTHER_PREFIXES, false, false),
        ];
        for (list, whole, phone) in lists {
            for &word in list {
                index[usize::from(word[0] - b'a')].push(Entry { word, whole, phone });
            }
        }
        index
    })
}

fn word_says(w: &[u8], right: bool) -> Option<bool> {
    if w.is_empty() || w.len() > 24 || !w[0].is_ascii_alphabetic() {
        return None;
    }
    let mut low = [0u8; 24];
    for (l, &b) in low.iter_mut().zip(w) {
        *l = b.to_ascii_lowercase();
    }
    let w = &low[..w.len()];
    if right && RIGHT_WORDS.contains(&w) {
        return Some(true);
    }
    let entries = &by_first_letter()[usize::from(w[0] - b'a')];
    let says = |phone: bool| {
        entries.iter().any(|e| {
            e.phone == phone
                && if e.whole {
                    e.word == w
                } else {
                    w.starts_with(e.word)
                }
        })
    };
    if says(true) {
        return Some(true);
    }
    if says(false) {
        return Some(false);
    }
    None
}

/// What the words around `text[start..end]` say.
#[cfg(test)]
fn around(text: &[u8], start: usize, end: usize) -> Says {
    match left(text, start) {
        Says::Nothing => right(text, end),
        said => said,
    }
}

/// What the words before `text[start..]` say: the later of the last phone word and the
/// last other word wins.
pub(super) fn left(text: &[u8], start: usize) -> Says {
    let from = start.saturating_sub(LEFT);
    let left = &text[from..start];
    let (mut phone_at, mut other_at) = (None::<usize>, None::<usize>);
    let mut i = 0;
    while i < left.len() {
        let b = left[i];
        if b >= 0x80 {
            // Words of other scripts: compared where a UTF-8 sequence starts.
            if b >= 0xC0 {
                let rest = &left[i..];
                if PHONE_UTF8.iter().any(|w| begins(rest, w.as_bytes())) {
                    phone_at = Some(i + 1);
                } else if OTHER_UTF8.iter().any(|w| begins(rest, w.as_bytes())) {
                    other_at = Some(i + 1);
                }
            }
            i += 1;
            continue;
        }
        if !b.is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let st = i;
        // Words with accents whose first letters are ASCII (`Llámame`, `móvil`).
        if PHONE_UTF8.iter().any(|w| begins(&left[st..], w.as_bytes())) {
            phone_at = Some(st + 1);
        }
        while i < left.len() && left[i].is_ascii_alphabetic() {
            i += 1;
        }
        // A word cut by the window's left edge is not read.
        if st == 0 && from > 0 && text[from - 1].is_ascii_alphabetic() {
            continue;
        }
        match word_says(&left[st..i], false) {
            Some(true) => phone_at = Some(i),
            Some(false) => other_at = Some(i),
            None => {}
        }
        if let Some(end) = possessive_number(left, st, i) {
            phone_at = Some(end);
        }
    }
    // Right before the number: `#12345678`, `$1234567`, `[1234567,` read as ids and
    // amounts, code.
    let mut k = start;
    while k > from && text[k - 1] == b' ' {
        k -= 1;
    }
    let sign_before = k > 0 && matches!(text[k - 1], b'#' | b'$' | b'[' | b'{' | b'=' | b',');
    if sign_before && phone_at.is_none() {
        other_at = other_at.max(Some(k - from));
    }
    // `#8910663829`, `$1234567`: an id or an amount, whatever the words say.
    if start > 0 && matches!(text[start - 1], b'#' | b'$') {
        return Says::Other;
    }
    match (phone_at, other_at) {
        (Some(p), o) if o.is_none_or(|o| o < p) => Says::Phone,
        (_, Some(_)) => Says::Other,
        _ => Says::Nothing,
    }
}

/// Possessives that, right before "number", make it someone's phone number.
const POSSESSIVES: &[&[u8]] = &[
    b"my", b"your", b"his", b"her", b"our", b"their", b"mi", b"tu", b"su", b"mon", b"ton", b"son",
    b"votre", b"notre", b"mio", b"tuo", b"suo", b"meine", b"deine", b"seine", b"ihre", b"unsere",
    b"meu", b"teu", b"seu",
];

/// "number" in the languages of [`POSSESSIVES`], lower case (`Número` is not matched).
const NUMBER_WORDS: &[&str] = &["number", "numero", "número", "numéro", "nummer"];

/// "my number", "su número", "mon numéro", "meine Nummer": where the number word ends,
/// when the word `left[st..end]` is a possessive and one space or two separate it from a
/// number word. "my order number" and "your account number" are not this: the word
/// between decides, as it names something else.
fn possessive_number(left: &[u8], st: usize, end: usize) -> Option<usize> {
    let w = &left[st..end];
    if !POSSESSIVES.iter().any(|p| p.eq_ignore_ascii_case(w)) {
        return None;
    }
    let mut j = end;
    while j < left.len() && j - end < 2 && left[j] == b' ' {
        j += 1;
    }
    if j == end {
        return None;
    }
    let rest = &left[j..];
    NUMBER_WORDS.iter().find_map(|n| {
        let n = n.as_bytes();
        let k = j + n.len();
        let whole = rest.len() >= n.len()
            && rest[..n.len()].eq_ignore_ascii_case(n)
            && left.get(k).is_none_or(|c| !c.is_ascii_alphabetic());
        whole.then_some(k)
    })
}

/// Words that make a bare run of digits a shipment or an order id, not a card number.
const SHIPMENT_PREFIXES: &[&[u8]] = &[
    b"track",
    b"fedex",
    b"ups",
    b"usps",
    b"dhl",
    b"ship",
    b"parcel",
    b"package",
    b"order",
    b"awb",
    b"waybill",
    b"consignment",
];

/// Whether `#` is right before `start`, or a word within [`LEFT`] bytes before it names
/// a shipment or an order (`FedEx tracking 573411585309509`, `Order #502004646159`).
pub(super) fn shipment_or_order(text: &[u8], start: usize) -> bool {
    if start > 0 && text[start - 1] == b'#' {
        return true;
    }
    any_word_before(text, start, SHIPMENT_PREFIXES)
}

/// Whether a word within [`LEFT`] bytes before `start` begins with one of `prefixes`.
fn any_word_before(text: &[u8], start: usize, prefixes: &[&[u8]]) -> bool {
    let from = start.saturating_sub(LEFT);
    text[from..start]
        .split(|b| !b.is_ascii_alphabetic())
        .filter(|w| !w.is_empty() && w.len() <= 24)
        .any(|w| {
            let mut low = [0u8; 24];
            for (l, &b) in low.iter_mut().zip(w) {
                *l = b.to_ascii_lowercase();
            }
            prefixes.iter().any(|p| begins(&low[..w.len()], p))
        })
}

/// Beginnings of words (ASCII, lower case) that name a payment card.
const CARD_PREFIXES: &[&[u8]] = &[
    b"card",
    b"cart", // carte, carta, cartão
    b"karte",
    b"tarjeta",
    b"visa",
    b"mastercard",
    b"credit",
    b"kredit",
    b"debit",
    b"cc",
];

/// Whether a word within [`LEFT`] bytes before `start` names a payment card
/// (`card`, `Kartennummer`, `numéro de carte`, `tarjeta`, `Visa`, `CC`).
pub(super) fn names_card(text: &[u8], start: usize) -> bool {
    any_word_before(text, start, CARD_PREFIXES)
}

/// What the first word after `text[..end]` says (`(mobile)`, ` office`, `-Fax`, ` USD`).
pub(super) fn right(text: &[u8], end: usize) -> Says {
    let mut j = end;
    while j < text.len() && j - end < 3 && matches!(text[j], b' ' | b'-' | b'(' | b',' | b'/') {
        j += 1;
    }
    let st = j;
    while j < text.len() && j - end < RIGHT && text[j].is_ascii_alphabetic() {
        j += 1;
    }
    let after_ok = j == text.len() || !text[j].is_ascii_alphabetic();
    match word_says(&text[st..j], true) {
        Some(true) if after_ok && st > end => Says::Phone,
        Some(false) if after_ok && st > end => Says::Other,
        _ => Says::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn says(t: &str) -> Says {
        let s = t.find('~').unwrap();
        around(t.as_bytes(), s, s + 1)
    }

    #[test]
    fn words_around() {
        for t in [
            "call me at ~",
            "Phone:\n~",
            "Tel. ~",
            "my cell is ~",
            "Telefonnummer: ~",
            "téléphone : ~",
            "teléfono ~",
            "Llámame al ~",
            "電話番号: ~",
            "전화 ~",
            "~ (mobile)",
            "~ office",
            "~-Fax",
            "Order 12, call me at ~",
            "Phone No.: ~",
            "My number is ~",
            "mi número es ~",
            "Mon numéro : ~",
            "Meine Nummer: ~",
            "text your number, ~",
        ] {
            assert_eq!(says(t), Says::Phone, "{t}");
        }
        for t in [
            "Order ~",
            "call about order ~",
            "ISBN ~",
            "Your order #~",
            "total $~",
            "[~",
            "~ USD",
            "my order number is ~",
            "Your account number: ~",
        ] {
            assert_eq!(says(t), Says::Other, "{t}");
        }
        for t in [
            "~",
            "the value was ~",
            "telling ~",
            "We received ~ from the vendor",
            "the number ~",
            "my numbers ~",
            "summary number ~",
        ] {
            assert_eq!(says(t), Says::Nothing, "{t}");
        }
    }
}
