"""Large bodies through `make run`'s stack: an ordinary photo as a base64 image part
(a 1500x1000 PNG, ~6 MB as base64) passes in both protocols (api.max_body_bytes is
32 MiB by default; Envoy's request buffer sits above it), and its image tokens are
counted from its dimensions by each provider's published method."""

from __future__ import annotations

import base64
import json
import math

import anthropic
import openai
import pytest

from helpers import (access_log_for, as_int, mock_requests_for, new_tag, photo_png,
                     reference_request_tokens)

WIDTH, HEIGHT = 1500, 1000  # photo_png's


@pytest.fixture(scope="module")
def photo() -> str:
    data = base64.b64encode(photo_png()).decode()
    assert 5_000_000 < len(data) < 10_000_000
    return data


def openai_tile_tokens(w, h, base=85, tile=170):
    """OpenAI's published method (gpt-4o, detail high): fit in 2048x2048, shortest side
    to 768, count 512-px tiles."""
    if max(w, h) > 2048:
        s = 2048 / max(w, h)
        w, h = w * s, h * s
    if min(w, h) > 768:
        s = 768 / min(w, h)
        w, h = w * s, h * s
    return base + tile * math.ceil(w / 512) * math.ceil(h / 512)


def anthropic_image_tokens(w, h):
    """Anthropic's published method: scaled down to a 1568-px long edge and ~1600
    tokens, then width * height / 750."""
    s = min(1, 1568 / max(w, h), math.sqrt(1600 * 750 / (w * h)))
    w, h = math.floor(w * s), math.floor(h * s)
    return math.ceil(w * h / 750)


def test_a_photo_passes_the_openai_api_and_its_tokens_are_counted(gateway, mock_provider, photo):
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="sk-demo-pro", max_retries=0,
                           timeout=60)
    tag = new_tag()
    question = "What is in this picture?"
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", extra_query={"tag": tag},
        messages=[{"role": "user", "content": [
            {"type": "text", "text": question},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{photo}", "detail": "high"}}]}])
    assert raw.parse().choices[0].message.content == question
    image = openai_tile_tokens(WIDTH, HEIGHT)
    assert image == 85 + 170 * 6
    text = reference_request_tokens("gpt-4o", [{"role": "user", "content": question}])
    assert int(raw.headers["x-llm-input-tokens"]) == text + image
    (seen,) = mock_requests_for(mock_provider, tag)
    sent = json.loads(seen["body"])["messages"][0]["content"][1]["image_url"]["url"]
    assert sent.endswith(photo[-64:]) and len(sent) > len(photo), "the image went up whole"
    line = access_log_for(gateway, tag)
    assert (line["status"], line["input_accuracy"]) == (200, "exact"), line
    assert as_int(line["input_tokens_counted"]) == text + image


def test_a_photo_passes_the_anthropic_api_and_its_tokens_are_counted(gateway, photo):
    client = anthropic.Anthropic(base_url=gateway.url, api_key="sk-demo-pro", max_retries=0,
                                 timeout=60)
    tag = new_tag()
    message = client.messages.create(
        model="claude-haiku-4-5", max_tokens=100, extra_query={"tag": tag},
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": photo}},
            {"type": "text", "text": "Describe it."}]}])
    assert message.content[0].text == "Describe it."
    line = access_log_for(gateway, tag)
    assert line["status"] == 200, line
    image = anthropic_image_tokens(WIDTH, HEIGHT)
    assert image == 1599
    counted = as_int(line["input_tokens_counted"])
    assert image < counted < image + 30, (counted, image)
