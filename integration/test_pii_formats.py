"""Phone and card formats the PII guard missed before issue 16, through the real Envoy
with make run's guard (envoy/envoy.yaml: phone numbers masked, cards refused), sent with
the OpenAI SDK. GET /__mock/requests shows what the provider received: none of the
values, extensions included; the mock echoes the placeholders and the client gets its
own values back, in plain and streamed answers."""

from __future__ import annotations

import openai
import pytest

from helpers import mock_requests_for, new_tag
from test_guard import client, start  # noqa: F401  (start: the module fixture below)

# (sentence, value): the issue's misses first, then other regions' everyday formats.
PHONES = [
    ("Phone: {}", "226-521-2997x220"),
    ("Call me at {} tonight.", "644.752.9078x4547"),
    ("Mobile {}", "001-269-420-6159x7755"),
    ("Fax: {}", "+1-521-256-7284x1424"),
    ("{} (office)", "495-826-0214"),
    ("My cell is {}.", "7296313758"),
    ("Desk {}", "(415) 555-0132 ext. 12"),
    ("Telefon: {}", "+49 (0)30 123456"),
    ("téléphone : {}", "01 23 45 67 89"),
    ("電話: {}", "03-1234-5678"),
    ("휴대폰 {}로 연락 주세요", "010-1234-5678"),
    ("WhatsApp {}", "+91 98765 43210"),
    ("Tel. {}", "(11) 96123-4567"),
    ("Ring me on {}", "0412 345 678"),
    ("Llámame al {}", "612 34 56 78"),
    ("UK office {}", "+44 (0)20 7946 0958"),
]
TEXT = "\n".join(s.format(v) for s, v in PHONES)

# Faker cards of brands and lengths the detector did not take before (valid Luhn).
CARDS = ["4260181590833", "4166 1318 6091 3909 960", "3430 824628 19487", "3021 993518 1909",
         "213178657975436", "3531-9487-5749-1180", "630425276015", "2717 4650 7529 1703"]


@pytest.fixture(scope="module")
def gw(envoy_factory):
    envoy = start(envoy_factory)
    yield envoy
    envoy.stop()


def sent_text(mock, tag) -> str:
    return " ".join(r["body"] for r in mock_requests_for(mock, tag))


@pytest.mark.parametrize("stream", [False, True])
def test_no_phone_number_reaches_the_provider_and_all_come_back(gw, mock_provider, stream):
    tag = new_tag()
    c = client(gw, tag)
    if stream:
        chunks = c.chat.completions.create(model="gpt-4o", stream=True,
                                           messages=[{"role": "user", "content": TEXT}])
        answer = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    else:
        answer = c.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": TEXT}]).choices[0].message.content
    sent = sent_text(mock_provider, tag)
    assert sent, "the provider got the request"
    leaked = [v for _, v in PHONES if v in sent]
    assert not leaked, f"reached the provider: {leaked}\n{sent}"
    # No digit run of an extension or a national number survives either.
    for tail in ["x220", "4547", "7755", "1424", "7296313758", "ext. 12"]:
        assert tail not in sent, tail
    assert f"[PHONE_{len(PHONES)}]" in sent and f"[PHONE_{len(PHONES) + 1}]" not in sent
    # The mock echoes the placeholders; the client gets its own values back.
    assert answer == TEXT


@pytest.mark.parametrize("card", CARDS)
def test_cards_of_every_brand_and_grouping_are_refused_and_never_sent(gw, mock_provider, card):
    tag = new_tag()
    with pytest.raises(openai.BadRequestError) as e:
        client(gw, tag).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": f"My card number is {card}, exp 09/27"}])
    assert e.value.code == "content_filter"
    assert e.value.response.headers["x-llm-guard"] == "pii.credit_card:block"
    assert mock_requests_for(mock_provider, tag) == []
