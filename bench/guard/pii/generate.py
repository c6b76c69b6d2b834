#!/usr/bin/env python3
"""Generates the PII evaluation set for src/guard/pii (deterministic, seed below).

positives.jsonl: {"entity", "value", "text"} - one valid value of `entity` inside a
    presidio-evaluator sentence template; the detector must report exactly `value`.
negatives.jsonl: {"kind", "text"} - benign look-alikes (order numbers, dates, prices,
    versions, hashes, UUIDs, tracking numbers, ISBNs, timestamps, invalid phones, cards,
    SSNs, RRNs, IBANs, IPs, key-like words); nothing may be reported.

Values come from Faker where it is right (cards, IBANs, SSNs, IPs, e-mails) and from
our own generators where it is not: Faker's phone numbers ignore the numbering plans
(area codes starting with 0 or 1), its Korean RRNs have no check digit, and it has no
API keys.

Usage: generate.py --templates PATH/templates.txt [--out DIR] [--per-entity 1000]
"""
import argparse
import base64
import ipaddress
import json
import os
import random
import re
import string
import uuid
from datetime import date as Date, datetime

from faker import Faker

SEED = 20240611

SLOTS = {
    "email": ["email"],
    "phone": ["phone_number"],
    "credit_card": ["credit_card_number"],
    "us_ssn": ["ssn"],
    "iban": ["iban"],
    "ip_address": ["ip_address"],
    # No template names these; they take the identifier-like slots.
    "kr_rrn": ["ssn", "credit_card_number", "iban", "us_driver_license"],
    "secret": ["ssn", "credit_card_number", "iban", "us_driver_license", "ip_address"],
}

EXTRA_TEMPLATES = [
    "My resident registration number is {{X}}.",
    "주민등록번호: {{X}}",
    "Here is the key: {{X}}",
    "export TOKEN={{X}}",
    "Use {{X}} for the staging environment",
    "config:\n  credential: {{X}}\n",
    "연락처는 {{X}}입니다.",
    "Please call me back at {{X}}, thanks!",
]

r = random.Random(SEED)
Faker.seed(SEED)
fk = Faker("en_US")
LOCALES = {loc: Faker(loc) for loc in ["de_DE", "fr_FR", "en_GB", "es_ES", "it_IT", "nl_NL", "pl_PL", "pt_PT"]}
for i, f in enumerate(LOCALES.values()):
    f.seed_instance(SEED + i)


def luhn_digit(body):
    s = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        s += d
    return str((10 - s % 10) % 10)


def digits(n):
    return "".join(r.choice(string.digits) for _ in range(n))


# ---------- values ----------

def nanp():
    while True:
        a = str(r.randint(2, 9)) + str(r.randint(0, 8)) + str(r.randint(0, 9))
        e = str(r.randint(2, 9)) + digits(2)
        if a[1:] != "11" and e[1:] != "11":
            return a, e, digits(4)


KR_AREAS = ["02", "031", "032", "033", "041", "042", "043", "044", "051", "052", "053", "054", "055", "061", "062", "063", "064", "070"]
INTL = [("44", [2, 4, 4]), ("49", [2, 3, 4]), ("33", [1, 2, 2, 2, 2]), ("81", [2, 4, 4]), ("86", [2, 4, 4]),
        ("61", [1, 4, 4]), ("91", [5, 5]), ("34", [3, 3, 3]), ("39", [2, 4, 4]), ("55", [2, 5, 4]), ("52", [2, 4, 4])]


def phone():
    k = r.random()
    if k < 0.4:
        a, e, l = nanp()
        fmt = r.choice(["({a}) {e}-{l}", "({a}){e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "{a} {e} {l}",
                        "+1 {a} {e} {l}", "+1-{a}-{e}-{l}", "1-{a}-{e}-{l}", "+1 ({a}) {e}-{l}", "+1{a}{e}{l}"])
        return fmt.format(a=a, e=e, l=l)
    if k < 0.6:
        mid, last = digits(4), digits(4)
        fmt = r.choice(["010-{m}-{l}", "010{m}{l}", "010 {m} {l}", "+82 10-{m}-{l}", "+82-10-{m}-{l}", "+8210{m}{l}"])
        return fmt.format(m=mid, l=last)
    if k < 0.75:
        area = r.choice(KR_AREAS)
        mid = digits(r.choice([3, 4]))
        if mid[0] == "0":
            mid = "2" + mid[1:]
        return r.choice(["{a}-{m}-{l}", "{a} {m} {l}"]).format(a=area, m=mid, l=digits(4))
    cc, groups = r.choice(INTL)
    parts = [str(r.randint(1, 9)) + digits(g - 1) for g in groups]
    sep = r.choice([" ", "-"])
    return "+" + cc + " " + sep.join(parts)


CARD_TYPES = ["maestro", "mastercard", "visa16", "visa13", "visa19", "amex", "discover", "diners", "jcb15", "jcb16"]


def card():
    t = r.choice(CARD_TYPES)
    if t == "jcb16":
        # Faker draws JCB numbers from all of 35xx; JCB's range is 3528-3589.
        body = str(r.randint(3528, 3589)) + digits(11)
        n = body + luhn_digit(body)
    else:
        n = fk.credit_card_number(t)
    k = r.random()
    if k < 0.6:
        return n
    sep = " " if k < 0.85 else "-"
    if len(n) == 15 and n[:2] in ("34", "37"):
        groups = [n[:4], n[4:10], n[10:]]
    else:
        groups = [n[i:i + 4] for i in range(0, len(n), 4)]
        if len(groups[-1]) < 3 and len(groups) > 1:
            return n  # e.g. 13 digits: no common grouping
    return sep.join(groups)


def ssn():
    s = fk.ssn()
    return s.replace("-", " ") if r.random() < 0.2 else s


def rrn_digits(post2020=False):
    while True:
        year = r.randint(1940, 2019)
        month, day = r.randint(1, 12), r.randint(1, 28)
        g = r.choice([1, 2, 5, 6]) if year < 2000 else r.choice([3, 4, 7, 8])
        body = "%02d%02d%02d%d%s" % (year % 100, month, day, g, digits(5))
        if post2020:
            return body + str(r.randint(0, 9))
        w = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]
        s = sum(int(c) * x for c, x in zip(body, w))
        return body + str((11 - s % 11) % 10)


def rrn():
    k = r.random()
    d = rrn_digits(post2020=k < 0.3)
    if 0.3 <= k < 0.4:
        return d  # bare, with check digit
    return d[:6] + "-" + d[6:]


def iban():
    f = r.choice(list(LOCALES.values()))
    v = f.iban()
    if r.random() < 0.5:
        v = " ".join(v[i:i + 4] for i in range(0, len(v), 4))
    return v


def ip():
    k = r.random()
    if k < 0.5:
        return fk.ipv4()
    if k < 0.8:
        return fk.ipv6()
    if k < 0.95:
        groups = fk.ipv6().split(":")[: r.randint(1, 4)]
        return ipaddress.IPv6Address(":".join(groups) + "::" + "%x" % r.randint(1, 65535)).compressed
    return "::ffff:" + fk.ipv4()


def rand(alphabet, n):
    return "".join(r.choice(alphabet) for _ in range(n))


AN = string.ascii_letters + string.digits
UP = string.ascii_uppercase + string.digits
B64U = AN + "-_"


def b64u(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def with_digit(s, alphabet):
    # Real keys of this length always mix letters and digits; force one digit.
    i = r.randrange(len(s))
    return s[:i] + r.choice(string.digits) + s[i + 1:]


def secret():
    k = r.randrange(13)
    if k == 0:
        return "sk-proj-" + with_digit(rand(B64U, 156), B64U)
    if k == 1:
        return "sk-" + with_digit(rand(AN, 48), AN)
    if k == 2:
        return "sk-ant-api03-" + with_digit(rand(B64U, 93), B64U) + "AA"
    if k == 3:
        return r.choice(["AKIA", "ASIA"]) + rand(string.ascii_uppercase + "234567", 16)
    if k == 4:
        return r.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + rand(AN, 36)
    if k == 5:
        return "github_pat_" + rand(AN, 22) + "_" + rand(AN, 59)
    if k == 6:
        return r.choice(["xoxb-", "xoxp-", "xoxa-", "xoxr-"]) + digits(12) + "-" + digits(13) + "-" + rand(AN, 24)
    if k == 7:
        return r.choice(["sk_live_", "rk_live_", "sk_test_"]) + rand(AN, 24)
    if k == 8:
        return "AIza" + rand(B64U, 35)
    if k == 9:
        header = {"alg": r.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}
        payload = {"sub": digits(10), "name": fk.name(), "iat": r.randint(1500000000, 1800000000)}
        return b64u(header) + "." + b64u(payload) + "." + rand(B64U, 43)
    if k == 10:
        kind = r.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
        body = "\n".join(rand(AN + "+/", 64) for _ in range(r.randint(3, 8)))
        return "-----BEGIN %s-----\n%s\n-----END %s-----" % (kind, body, kind)
    if k == 11:
        return "ASSIGN:" + rand(AN + "/+", 40)
    return "sk-svcacct-" + with_digit(rand(B64U, 60), B64U)


GEN = {"email": lambda: r.choice([fk.email, fk.free_email, fk.company_email, fk.ascii_safe_email])(),
       "phone": phone, "credit_card": card, "us_ssn": ssn, "kr_rrn": rrn, "iban": iban,
       "ip_address": ip, "secret": secret}

# ---------- templates ----------

FILL = {
    "person": fk.name, "name": fk.name, "first_name": fk.first_name, "last_name": fk.last_name,
    "organization": fk.company, "city": fk.city, "country": fk.country, "address": fk.address,
    "street_name": fk.street_name, "building_number": fk.building_number, "age": lambda: str(r.randint(18, 90)),
    "secondary_address": fk.secondary_address, "year": lambda: str(r.randint(1950, 2030)), "postcode": fk.postcode,
    "zipcode": fk.zipcode, "nationality": lambda: r.choice(["French", "Korean", "German", "American"]),
    "url": fk.url, "job": fk.job,
    # Fixed ranges: Faker's defaults are relative to today, which would make runs differ.
    "date_time": lambda: str(fk.date_time_between(datetime(2000, 1, 1), datetime(2026, 1, 1))),
    "date_of_birth": lambda: str(fk.date_between(Date(1940, 1, 1), Date(2008, 1, 1))),
    "state_abbr": fk.state_abbr, "day_of_week": fk.day_of_week, "us_driver_license": fk.bothify,
}


def fill(tpl, slot, value):
    # Replace the first occurrence of the target slot by the value, then the rest.
    # Other PII slots get real values of their own kind too (they are PII, not noise).
    marker = "\x00"
    tpl = tpl.replace("{{%s}}" % slot, marker, 1)

    def sub(m):
        name = m.group(1)
        for ent, slots in SLOTS.items():
            if name == slots[0]:
                return GEN[ent]().replace("ASSIGN:", "aws_secret_access_key=")
        f = FILL.get(name)
        if f is None:
            try:
                return str(getattr(fk, name)())
            except Exception:
                return fk.word()
        return str(f())

    tpl = re.sub(r"\{\{(\w+)\}\}", sub, tpl)
    i = tpl.index(marker)
    prefix = ""
    if value.startswith("ASSIGN:"):
        prefix, value = "aws_secret_access_key = ", value[len("ASSIGN:"):]
    text = tpl[:i] + prefix + value + tpl[i + 1:]
    return text, value


def load_templates(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        # Like presidio-evaluator's own generator: "\\n" in a template is a line break.
        return [line.rstrip("\n").replace("\\n", "\n").replace("\\,", ",") for line in f if "{{" in line]


def positives(templates, per_entity):
    out = []
    for ent, slots in SLOTS.items():
        pool = [(t, s) for t in templates for s in slots if "{{%s}}" % s in t]
        pool += [(t.replace("{{X}}", "{{ssn}}"), "ssn") for t in EXTRA_TEMPLATES]
        for _ in range(per_entity):
            tpl, slot = r.choice(pool)
            text, value = fill(tpl, slot, GEN[ent]())
            out.append({"entity": ent, "value": value, "text": text})
    return out


# ---------- benign look-alikes ----------

def bad_luhn():
    while True:
        n = card().replace(" ", "").replace("-", "")
        last = str((int(n[-1]) + r.randint(1, 9)) % 10)
        v = n[:-1] + last
        return " ".join(v[i:i + 4] for i in range(0, len(v), 4)) if r.random() < 0.3 else v


def bad_phone():
    k = r.randrange(7)
    # Area codes 1XX: not NANP, and without the trunk 0 not Korean either.
    if k == 0:
        return "1%s-%s-%s" % (digits(2), digits(3), digits(4))
    if k == 1:
        return "(1%s) %s-%s" % (digits(2), digits(3), digits(4))
    if k == 2:
        return "%s-%s" % (digits(3), digits(4))  # 7 digits, no area code
    if k == 3:
        return "+1 %d%s %s %s" % (r.randint(0, 1), digits(2), digits(3), digits(4))  # +1 0XX/1XX
    if k == 4:
        return digits(10)  # bare ten digits
    if k == 5:
        return "+%s" % digits(r.randint(3, 6))  # too short
    return "%s-%s-%s" % (digits(4), digits(3), digits(3))  # 4-3-3


def bad_ssn():
    a = r.choice(["000", "666", str(r.randint(900, 999))])
    k = r.randrange(3)
    if k == 0:
        return "%s-%s-%s" % (a, digits(2), digits(4))
    if k == 1:
        return "%03d-00-%s" % (r.randint(1, 899), digits(4))
    return "%03d-%02d-0000" % (r.randint(1, 899), r.randint(1, 99))


def bad_rrn():
    d = rrn_digits()
    k = r.randrange(3)
    if k == 0:
        d = d[:2] + "%02d" % r.randint(13, 99) + d[4:]  # month
    elif k == 1:
        d = d[:4] + "%02d" % r.randint(32, 99) + d[6:]  # day
    else:
        d = d[:6] + r.choice("09") + d[7:]  # century digit
    return d[:6] + "-" + d[6:]


def bad_iban():
    v = r.choice(list(LOCALES.values())).iban()
    cd = "%02d" % ((int(v[2:4]) + r.randint(1, 96)) % 97 or 1)
    v = v[:2] + cd + v[4:]
    return v


def version():
    k = r.randrange(5)
    if k == 0:
        return "v%d.%d.%d" % (r.randint(0, 20), r.randint(0, 40), r.randint(0, 99))
    if k == 1:
        return "%d.%d.%d" % (r.randint(0, 20), r.randint(0, 40), r.randint(0, 99))
    if k == 2:
        return "10.0.%d.%d" % (r.randint(10240, 26100), r.randint(1, 5000))  # Windows build
    if k == 3:
        return "%d.0.%d.%d" % (r.randint(90, 130), r.randint(4000, 7000), r.randint(1, 200))  # Chrome
    return "Python %d.%d.%d" % (3, r.randint(6, 13), r.randint(0, 20))


def tracking():
    k = r.randrange(4)
    if k == 0:
        return "1Z" + rand(UP, 16)
    if k == 1:
        return digits(12)  # FedEx
    if k == 2:
        v = "9400" + digits(18)
        return " ".join(v[i:i + 4] for i in range(0, 22, 4))
    return "9400" + digits(18)


def isbn():
    body = "978" + digits(9)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
    full = body + str((10 - s % 10) % 10)
    if r.random() < 0.5:
        return "ISBN %s-%s-%s-%s-%s" % (full[:3], full[3], full[4:6], full[6:12], full[12])
    return full


def timestamp():
    k = r.randrange(4)
    d = fk.date_time_between(datetime(2016, 1, 1), datetime(2028, 1, 1))
    if k == 0:
        return d.isoformat() + "Z"
    if k == 1:
        return str(int(d.timestamp()))
    if k == 2:
        return str(int(d.timestamp() * 1000))
    return d.strftime("%H:%M:%S")


def price():
    return r.choice(["$%s" % format(r.uniform(1, 99999), ",.2f"), "€ %.2f" % r.uniform(1, 9999),
                     "USD %s" % format(r.randint(100, 99999), ","), "%d.%02d KRW" % (r.randint(1000, 999999), 0)])


def date():
    d = fk.date_between(Date(1970, 1, 1), Date(2030, 1, 1))
    return r.choice([d.isoformat(), d.strftime("%m/%d/%Y"), d.strftime("%d.%m.%Y"), d.strftime("%B %d, %Y"), d.strftime("%Y/%m/%d")])


def order():
    return r.choice(["#" + digits(r.randint(6, 12)), "ORD-%d-%06d" % (r.randint(2015, 2026), r.randint(1, 999999)),
                     "%s-%s-%s" % (digits(3), digits(7), digits(7)), "PO %s" % digits(8)])


def keylike():
    return r.choice(["sk-learn", "sk-" + rand(string.ascii_lowercase, 12), "AKIA" + rand(UP, 8), "ghp_" + rand(AN, 10),
                     "eyJ" + rand(B64U, 30), "xoxb-token", "password: required", "api_key=YOUR_API_KEY",
                     "sk_live_" + rand(AN, 6), rand(AN, 32), "-----BEGIN CERTIFICATE-----", "secret = changeme"])


def bad_ip():
    return r.choice(["%d.%d.%d.%d" % (r.randint(256, 999), r.randint(0, 255), r.randint(0, 255), r.randint(0, 255)),
                     "%d.%d.%d" % (r.randint(1, 255), r.randint(0, 255), r.randint(0, 255)),
                     "%d.%d.%d.%d.%d" % tuple(r.randint(0, 255) for _ in range(5)),
                     "%02d:%02d:%02d" % (r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)),
                     ":".join("%02X" % r.randint(0, 255) for _ in range(6)), "std::vector<int>"])


NEG = {"order_number": order, "date": date, "price": price, "version": version,
       "git_hash": lambda: "%x" % r.getrandbits(160) if r.random() < 0.5 else ("%x" % r.getrandbits(28)).rjust(7, "0"),
       "uuid": lambda: str(uuid.UUID(int=r.getrandbits(128), version=4)), "tracking_number": tracking, "isbn": isbn,
       "timestamp": timestamp, "invalid_phone": bad_phone, "invalid_card": bad_luhn, "invalid_ssn": bad_ssn,
       "invalid_rrn": bad_rrn, "invalid_iban": bad_iban, "invalid_ip": bad_ip, "key_like": keylike}

NEG_TEMPLATES = [
    "Your order {x} has shipped.", "Reference: {x}", "Updated to {x} yesterday", "See {x} for details.",
    "The value was {x}, not what we expected.", "{x}", "Ticket {x} was closed by the on-call engineer.",
    "We received {x} from the vendor.", "주문번호 {x} 확인 부탁드립니다.", "Logged at {x} by the scheduler",
]


def negatives(templates, per_kind):
    out = []
    slot_templates = [t for t in templates if "{{credit_card_number}}" in t or "{{phone_number}}" in t]
    for kind, gen in NEG.items():
        for i in range(per_kind):
            v = gen()
            if i % 2 == 0:
                text = r.choice(NEG_TEMPLATES).format(x=v)
            else:
                tpl = r.choice(slot_templates)
                slot = "credit_card_number" if "{{credit_card_number}}" in tpl else "phone_number"
                # Other slots get benign fillers: this set measures false positives only.
                tpl = tpl.replace("{{%s}}" % slot, "\x00", 1)
                tpl = re.sub(r"\{\{\w+\}\}", lambda m: fk.first_name(), tpl)
                text = tpl.replace("\x00", v)
            out.append({"kind": kind, "text": text})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--templates", required=True)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--per-entity", type=int, default=1000)
    ap.add_argument("--per-kind", type=int, default=400)
    a = ap.parse_args()
    templates = load_templates(a.templates)
    pos = positives(templates, a.per_entity)
    neg = negatives(templates, a.per_kind)
    for name, rows in [("positives.jsonl", pos), ("negatives.jsonl", neg)]:
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print("positives", len(pos), "negatives", len(neg))


if __name__ == "__main__":
    main()
