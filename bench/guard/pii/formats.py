#!/usr/bin/env python3
"""Phone and card formats per region, and numeric look-alikes: the data behind
src/guard/pii/eval_formats.rs, and an evaluation that drives the real detector.

    .venv/bin/python bench/guard/pii/formats.py generate   # writes the three JSONL files
    .venv/bin/python bench/guard/pii/formats.py evaluate   # builds examples/pii_detect.rs, prints tables

Generators other than our own: PyPI `phonenumbers` (random valid numbers per region and
type, made from its example numbers and checked with is_valid_number) and Faker in twelve
locales. Everything is seeded: the files are the same on every run.

formats-dev.jsonl (what the detector was tuned on; not committed, `generate` remakes it):
    phonenumbers NATIONAL and INTERNATIONAL; Faker phone_number() seeds 0-999; our own
    hand-written formats (the issue's misses, extensions, prefixes); Faker cards, seeds
    0-999; in the dev sentence templates.
formats-heldout.jsonl (not looked at while tuning):
    phonenumbers E164, RFC3966 and both with extensions (x, ext., #, ;ext=); Faker
    phone_number() seeds 100000+, basic_phone_number() / cellphone_number() where the
    locale has them; Faker cards seeds 100000+, in other groupings; in other templates
    (other phrasings, other languages).
    Not included: Faker's msisdn() (13 random digits: no format a reader or a detector
    could tell from an id).
lookalikes-{dev,heldout}.jsonl: benign numbers in their own words (tracking numbers,
    ISBNs, timestamps, versions, prices, IPs, invoice / order / account ids, zip codes,
    UUIDs, hashes, code, coordinates), two seeds.

Rows: {"entity", "region", "source", "context", "value", "text"} for values
("context": "phone" when the sentence names what it is, "none" for a bare sentence:
reported, not held to the goal), {"kind", "text"} for look-alikes.
"""
import json
import os
import random
import subprocess
import sys
from collections import defaultdict

import phonenumbers as pn
from faker import Faker
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
REGIONS = {"US": "en_US", "CA": "en_CA", "GB": "en_GB", "DE": "de_DE", "FR": "fr_FR", "ES": "es_ES",
           "IT": "it_IT", "JP": "ja_JP", "KR": "ko_KR", "IN": "en_IN", "BR": "pt_BR", "AU": "en_AU"}
TYPES = [T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.PREMIUM_RATE, T.SHARED_COST, T.VOIP, T.PERSONAL_NUMBER,
         T.PAGER, T.UAN, T.VOICEMAIL, T.FIXED_LINE_OR_MOBILE]
CARD_TYPES = ["maestro", "mastercard", "visa16", "visa13", "visa19", "amex", "discover", "diners", "jcb15", "jcb16"]

# ---------------------------------------------------------------- templates

DEV_PHONE = [
    "Please call me back at {v}, thanks!", "Phone: {v}", "My cell is {v}.", "Tel. {v}",
    "You can reach me on {v} after 6pm.", "Fax: {v}", "Mobile: {v}\nEmail: me@example.com",
    "Send an SMS to {v}", "WhatsApp {v}", "Call {v} to confirm the booking.",
    "Telefon: {v}", "téléphone : {v}", "Teléfono {v}", "telefono: {v}", "電話番号: {v}", "전화번호: {v}",
    "{v} (mobile)", "Contact: {v}",
]
HELDOUT_PHONE = [
    "If the line is busy, phone {v} instead.", "Office phone {v} | Fax {v2}", "mob. {v}",
    "Ring me at {v} tomorrow", "Customer hotline: {v}", "Rufen Sie uns an: Tel {v}",
    "Appelez-moi au {v} s'il vous plaît", "Llámame al {v}", "Chiamami al {v}", "Me liga no {v}",
    "携帯: {v}", "휴대폰 {v}로 연락 주세요", "Name: Jane Roe\nPhone number: {v}\nCity: Springfield",
    "{v} office", "Text me on {v}", "Emergency contact number - {v}", "Landline {v}, dial 9 first",
    "Handynummer {v}",
]
NO_CONTEXT = ["{v}", "The value is {v}.", "See {v} for details.", "Forwarded from {v} yesterday"]
DEV_CARD = ["My card number is {v}.", "card: {v}", "Pay with {v}, exp 09/27", "CC {v}"]
HELDOUT_CARD = ["Visa/Mastercard ending... full number {v}, CVV 123", "Kartennummer: {v}",
                "numéro de carte {v}", "Charge it to {v} please", "{v}"]


def fill(tpl, v, r):
    return tpl.replace("{v2}", "+1 415 555 0132").replace("{v}", v)

# ---------------------------------------------------------------- phonenumbers


def pn_numbers(region, r, per_type):
    """Random valid numbers of every type of `region`: the example number with its last
    digits redrawn until phonenumbers calls the result valid for that type."""
    out = []
    for t in TYPES:
        ex = pn.example_number_for_type(region, t)
        if ex is None:
            continue
        nat = str(ex.national_number)
        seen = set()
        tries = 0
        while len(seen) < per_type and tries < per_type * 50:
            tries += 1
            k = min(len(nat) - 2, r.choice([3, 4, 5, 6]))
            cand = nat[:-k] + "".join(r.choice("0123456789") for _ in range(k))
            try:
                n = pn.parse("+%d%s" % (ex.country_code, cand))
            except pn.NumberParseException:
                continue
            if pn.is_valid_number_for_region(n, region) and pn.number_type(n) == pn.number_type(ex):
                if cand not in seen:
                    seen.add(cand)
                    out.append((pn.PhoneNumberType.to_string(t) if hasattr(pn.PhoneNumberType, "to_string") else str(t), n))
    return out


def ext_variants(v, r):
    ext = str(r.randint(1, 99999))
    return r.choice([v + " x" + ext, v + "x" + ext, v + " ext. " + ext, v + " ext " + ext, v + "#" + ext,
                     v + " Ext." + ext, v + ", ext. " + ext])

# ---------------------------------------------------------------- own formats (dev)

OWN = {
    "US": ["226-521-2997x220", "644.752.9078x4547", "001-269-420-6159x7755", "+1-521-256-7284x1424",
           "495-826-0214", "(415) 555-0132 ext. 12", "1 (415) 555-0132", "+1 (415) 555-0132", "011 44 20 7946 0958"],
    "GB": ["+44 (0)20 7946 0958", "020 7946 0958", "07700 900123", "0044 20 7946 0958"],
    "DE": ["+49 (0)30 123456", "030 123456", "0151 23456789", "0049 30 1234567"],
    "FR": ["01 23 45 67 89", "+33 (0)1 23 45 67 89", "06.12.34.56.78", "0033 1 23 45 67 89"],
    "ES": ["612 34 56 78", "+34 612 345 678", "912 345 678"],
    "IT": ["06 1234 5678", "+39 312 345 6789", "312 345 6789"],
    "JP": ["03-1234-5678", "090-1234-5678", "+81 3-1234-5678"],
    "KR": ["02-123-4567", "010-1234-5678", "+82 10-1234-5678"],
    "IN": ["98765 43210", "+91 98765 43210", "081234 56789"],
    "BR": ["(11) 96123-4567", "+55 11 96123-4567", "11 2345-6789"],
    "AU": ["(02) 1234 5678", "0412 345 678", "+61 412 345 678", "1800 123 456"],
    "CA": ["(506) 234-5678", "+1 506 234 5678", "1-506-234-5678"],
}

# ---------------------------------------------------------------- cards


def group_card(n, style):
    if style == "none":
        return n
    sep = " " if style.endswith("space") else "-"
    if style.startswith("amex") and len(n) == 15:
        return sep.join([n[:4], n[4:10], n[10:]])
    if style.startswith("diners") and len(n) == 14:
        return sep.join([n[:4], n[4:10], n[10:]])
    return sep.join(n[i:i + 4] for i in range(0, len(n), 4))


def card_rows(split, seeds, templates, styles):
    rows = []
    for ct in CARD_TYPES:
        for i, seed in enumerate(seeds):
            loc = list(REGIONS.values())[i % len(REGIONS)]
            f = Faker(loc)
            f.seed_instance(seed)
            n = f.credit_card_number(ct)
            style = styles[i % len(styles)]
            if style.startswith("amex") and len(n) != 15 or style.startswith("diners") and len(n) != 14:
                style = "4" + style[4:] if False else style.replace("amex", "four").replace("diners", "four")
            v = group_card(n, style)
            tpl = templates[i % len(templates)]
            rows.append({"entity": "credit_card", "region": ct, "source": "faker " + style,
                         "context": "phone", "value": v, "text": fill(tpl, v, None)})
    return rows

# ---------------------------------------------------------------- assemble


def phone_row(split, region, source, v, tpl, context):
    return {"entity": "phone", "region": region, "source": source, "context": context,
            "value": v, "text": fill(tpl, v, None)}


def build(split):
    r = random.Random(16 if split == "dev" else 1616)
    rows = []
    tpls = DEV_PHONE if split == "dev" else HELDOUT_PHONE
    for region, loc in REGIONS.items():
        # phonenumbers
        for tname, n in pn_numbers(region, r, 8):
            if split == "dev":
                forms = [("NATIONAL", pn.format_number(n, F.NATIONAL)), ("INTERNATIONAL", pn.format_number(n, F.INTERNATIONAL))]
            else:
                e164 = pn.format_number(n, F.E164)
                rfc = pn.format_number(n, F.RFC3966)
                forms = [("E164", e164), ("RFC3966", rfc[len("tel:"):]),
                         ("E164+ext", ext_variants(e164, r)),
                         ("RFC3966;ext", rfc[len("tel:"):] + ";ext=" + str(r.randint(1, 9999))),
                         ("NATIONAL+ext", ext_variants(pn.format_number(n, F.NATIONAL), r)),
                         ("INTERNATIONAL+ext", ext_variants(pn.format_number(n, F.INTERNATIONAL), r))]
            for src, v in forms:
                rows.append(phone_row(split, region, "phonenumbers " + src, v, r.choice(tpls), "phone"))
                if r.random() < 0.34:
                    rows.append(phone_row(split, region, "phonenumbers " + src, v, r.choice(NO_CONTEXT), "none"))
        # Faker
        f = Faker(loc)
        seeds = range(0, 1000) if split == "dev" else range(100000, 100500)
        for s in seeds:
            f.seed_instance(s)
            v = f.phone_number()
            rows.append(phone_row(split, region, "faker phone_number", v, r.choice(tpls), "phone"))
            if s % 4 == 0:
                rows.append(phone_row(split, region, "faker phone_number", v, r.choice(NO_CONTEXT), "none"))
        if split == "heldout":
            for meth in ("basic_phone_number", "cellphone_number"):
                if hasattr(f, meth):
                    for s in range(200000, 200200):
                        f.seed_instance(s)
                        v = getattr(f, meth)()
                        rows.append(phone_row(split, region, "faker " + meth, v, r.choice(tpls), "phone"))
        if split == "dev":
            for v in OWN.get(region, []):
                for tpl in tpls[:6]:
                    rows.append(phone_row(split, region, "own", v, tpl, "phone"))
    if split == "dev":
        rows += card_rows(split, range(0, 1000), DEV_CARD, ["none", "four-space", "four-dash", "amex-space", "diners-space"])
    else:
        rows += card_rows(split, range(100000, 100400), HELDOUT_CARD,
                          ["four-dash", "none", "amex-dash", "diners-dash", "four-space"])
    return rows

# ---------------------------------------------------------------- look-alikes


def lookalikes(split):
    r = random.Random(61 if split == "dev" else 6161)
    d = lambda n: "".join(r.choice("0123456789") for _ in range(n))
    up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

    def isbn13():
        b = r.choice(["978", "979"]) + d(9)
        c = (10 - sum(int(x) * (1 if i % 2 == 0 else 3) for i, x in enumerate(b)) % 10) % 10
        return b + str(c)

    def isbn10():
        b = r.choice(["0", "1", "3", "2", "4"]) + d(8)
        c = (11 - sum(int(x) * (10 - i) for i, x in enumerate(b)) % 11) % 11
        return b + ("X" if c == 10 else str(c))

    def hyph10(v):
        return "%s-%s-%s-%s" % (v[0], v[1:4], v[4:9], v[9])

    def hyph13(v):
        return "%s-%s-%s-%s-%s" % (v[:3], v[3], v[4:6], v[6:12], v[12])

    epoch = lambda: r.randint(946684800, 2000000000)
    kinds = {
        "ups_tracking": lambda: r.choice(["Your UPS tracking number is {}", "UPS: {}", "{}"]).format("1Z" + "".join(r.choice(up) for _ in range(16))),
        "usps_tracking": lambda: r.choice(["USPS tracking {}", "Track your package: {}", "{}"]).format(
            r.choice([lambda v: v, lambda v: " ".join(v[i:i + 4] for i in range(0, len(v), 4))])("9" + r.choice(["4", "2", "3"]) + d(r.choice([18, 19, 20])))),
        "fedex_tracking": lambda: r.choice(["FedEx tracking number: {}", "Shipped with FedEx ({})", "{}"]).format(d(r.choice([12, 15]))),
        "isbn": lambda: r.choice(["ISBN {}", "ISBN-13: {}", "isbn: {}", "Cited as {} in the bibliography", "{}"]).format(
            r.choice([isbn13, lambda: hyph13(isbn13()), isbn10, lambda: hyph10(isbn10())])()),
        "epoch_seconds": lambda: r.choice(["created_at: {}", "\"ts\": {},", "Logged at {} by the scheduler", "{}"]).format(epoch()),
        "epoch_millis": lambda: r.choice(["\"timestamp\": {}", "Date.now() returned {}", "{}"]).format(epoch() * 1000 + r.randint(0, 999)),
        "iso_datetime": lambda: r.choice(["at {}", "{}", "deadline {}"]).format(
            r.choice(["2024-%02d-%02dT%02d:%02d:%02dZ", "2023-%02d-%02d %02d:%02d:%02d", "%02d/%02d/2024 %02d:%02d:%02d"]) % (
                r.randint(1, 12), r.randint(1, 28), r.randint(0, 23), r.randint(0, 59), r.randint(0, 59))),
        "date": lambda: r.choice(["on {}", "{}", "Due {}"]).format(r.choice(["%d-%02d-%02d", "%02d.%02d.%d"]) % (
            (r.randint(1990, 2030), r.randint(1, 12), r.randint(1, 28)) if r.random() < .5 else (r.randint(1, 28), r.randint(1, 12), r.randint(1990, 2030)))),
        "version": lambda: r.choice(["version {}", "upgraded to {}", "Windows {}", "{}"]).format(r.choice([
            "%d.%d.%d" % (r.randint(0, 30), r.randint(0, 99), r.randint(0, 999)), "10.0.%d.%d" % (r.randint(10000, 26100), r.randint(1, 5000)),
            "%d.%d.%d.%d" % (r.randint(1, 130), r.randint(0, 9), r.randint(1000, 9999), r.randint(0, 999))])),
        "price": lambda: r.choice(["Total: {}", "costs {}", "{}", "Price {}"]).format(r.choice([
            "$%s" % format(r.uniform(1, 9999999), ",.2f"), "%s €" % format(r.uniform(1, 9999999), ",.2f").replace(",", " ").replace(".", ","),
            "USD %d" % r.randint(1000000, 99999999), "%d.%02d KRW" % (r.randint(100000, 99999999), 0), "₹%d" % r.randint(1000000, 9999999999)])),
        "ipv4": lambda: r.choice(["server at {}", "{}", "ping {}"]).format(".".join(str(r.randint(1, 255)) for _ in range(4))),
        "invoice_id": lambda: r.choice(["Invoice {}", "{}", "Ref. {}"]).format(r.choice([
            "INV-%d-%06d" % (r.randint(2015, 2026), r.randint(1, 999999)), "INV%s" % d(10), "invoice no. %s" % d(9)])),
        "order_number": lambda: r.choice(["Your order {} has shipped.", "Order #{}", "order number {}", "Bestellnummer {}", "주문번호 {}"]).format(
            r.choice([d(10), d(12), "%s-%s-%s" % (d(3), d(7), d(7)), d(8)])),
        "account_number": lambda: r.choice(["Account number: {}", "acct {}", "Kontonummer {}", "customer ID {}"]).format(d(r.choice([8, 10, 11, 12]))),
        "zip_code": lambda: r.choice(["ZIP {}", "{}", "Springfield, IL {}", "PLZ {}"]).format(r.choice([d(5), d(5) + "-" + d(4)])),
        "uuid": lambda: "%08x-%04x-4%03x-%04x-%012x" % (r.getrandbits(32), r.getrandbits(16), r.getrandbits(12), r.getrandbits(16), r.getrandbits(48)),
        "hex_hash": lambda: r.choice(["commit {}", "sha256: {}", "{}"]).format("%0*x" % (r.choice([7, 12, 40, 64]), r.getrandbits(256) % (16 ** 40))),
        "code": lambda: r.choice([
            "const ids = [%s, %s, %s];" % (d(8), d(9), d(10)), "listening on port %d" % r.randint(1024, 65535),
            "curl http://localhost:%d/v1" % r.randint(1024, 65535), "int max = %s;" % d(10), "x = %d  # seconds" % r.randint(10 ** 6, 10 ** 10),
            "SELECT * FROM t WHERE id IN (%s, %s);" % (d(10), d(10)), "{\"id\": %s, \"n\": %s}" % (d(10), d(9))]),
        "coordinates": lambda: r.choice(["Coordinates: {}", "{}", "at lat/lng {}"]).format(r.choice([
            "%.6f, %.6f" % (r.uniform(-90, 90), r.uniform(-180, 180)), "%.4f %.4f" % (r.uniform(-90, 90), r.uniform(-180, 180))])),
    }
    rows = []
    for kind, gen in kinds.items():
        for _ in range(400):
            rows.append({"kind": kind, "text": gen()})
    return rows


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{os.path.relpath(path, ROOT)}: {len(rows)} rows")


def generate():
    for split in ("dev", "heldout"):
        write(os.path.join(HERE, f"formats-{split}.jsonl"), build(split))
        write(os.path.join(HERE, f"lookalikes-{split}.jsonl"), lookalikes(split))

# ---------------------------------------------------------------- evaluate


def detect(rows):
    """Runs examples/pii_detect.rs (the crate's detector, native) on every row's text."""
    subprocess.run(["cargo", "build", "-q", "--example", "pii_detect", "-p", "llm-gateway", "--no-default-features"],
                   cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "debug", "examples", "pii_detect")
    inp = "".join(json.dumps({"text": r["text"]}, ensure_ascii=False) + "\n" for r in rows)
    out = subprocess.run([exe], input=inp, capture_output=True, text=True, check=True).stdout.splitlines()
    return [json.loads(l) for l in out]


def evaluate():
    if not os.path.exists(os.path.join(HERE, "formats-dev.jsonl")):
        generate()  # the dev files are not committed (deterministic, 5 MB)
    for split in ("dev", "heldout"):
        vals = [json.loads(l) for l in open(os.path.join(HERE, f"formats-{split}.jsonl"), encoding="utf-8")]
        looks = [json.loads(l) for l in open(os.path.join(HERE, f"lookalikes-{split}.jsonl"), encoding="utf-8")]
        found = detect(vals + looks)
        stats = defaultdict(lambda: [0, 0])
        misses = defaultdict(list)
        for row, ms in zip(vals, found[:len(vals)]):
            key = (row["entity"], row["region"], row["context"])
            hit = any(m["entity"] == row["entity"] and m["value"] == row["value"] for m in ms)
            stats[key][0] += hit
            stats[key][1] += 1
            if not hit:
                misses[key].append((row["source"], row["value"], row["text"], [m["value"] for m in ms]))
        print(f"\n== {split}: recall per entity x region (context: the sentence names what the value is)")
        for key in sorted(stats):
            h, n = stats[key]
            print(f"{key[0]:<12} {key[1]:<11} {key[2]:<6} {100 * h / n:7.2f} %  ({h}/{n})")
        fp = defaultdict(lambda: [0, 0])
        for row, ms in zip(looks, found[len(vals):]):
            ms = [m for m in ms if m["entity"] != "ip_address"]  # an entity of its own
            fp[row["kind"]][0] += bool(ms)
            fp[row["kind"]][1] += 1
            if ms and len(misses[("fp", row["kind"])]) < 5:
                misses[("fp", row["kind"])].append((row["text"], ms))
        print(f"\n== {split}: look-alikes flagged")
        for k in sorted(fp):
            f_, n = fp[k]
            print(f"{k:<16} {100 * f_ / n:6.2f} %  ({f_}/{n})")
        for key, ms in sorted(misses.items()):
            if key[0] == "fp" or key[2] == "phone":
                for m in ms[:6]:
                    print("miss" if key[0] != "fp" else "fp  ", key, m)


if __name__ == "__main__":
    {"generate": generate, "evaluate": evaluate}[sys.argv[1] if len(sys.argv) > 1 else "evaluate"]()
