"""The gateway answers an OpenAI chat completion through the mock provider, with the
x-llm-* headers, and refuses paths it does not know."""

import requests


def test_chat_completion_through_the_gateway(gateway):
    r = requests.post(
        f"{gateway.url}/v1/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hello gateway"}]},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "hello gateway" in body["choices"][0]["message"]["content"]
    assert r.headers["x-llm-model"] == "gpt-4o"
    assert r.headers["x-llm-provider"] == "mock"
    for h in ("x-llm-input-tokens", "x-llm-output-tokens", "x-llm-cost-usd"):
        assert h in r.headers, f"missing {h}: {dict(r.headers)}"
    assert int(r.headers["x-llm-input-tokens"]) > 0
    assert int(r.headers["x-llm-output-tokens"]) > 0
    assert float(r.headers["x-llm-cost-usd"]) >= 0


def test_unknown_paths_get_404_from_the_gateway(gateway):
    r = requests.get(f"{gateway.url}/v1/not-an-llm-path", timeout=30)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/json")
    r.json()
    assert "x-llm-model" not in r.headers


def test_access_log_and_metrics_carry_the_facts(gateway):
    import re
    import time
    import uuid

    path = f"/v1/chat/completions?tag={uuid.uuid4().hex}"
    r = requests.post(
        f"{gateway.url}{path}",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "access log please"}]},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in gateway.access_log_lines()
                 if line.get("path") == path]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert lines, gateway.access_log_lines()[-5:]
    line = lines[-1]
    assert line["model"] == "gpt-4o" and line["provider"] == "mock"
    assert line["api"] == "openai_chat" and line["stream"] == "false"
    assert line["status"] == 200 and line["upstream_cluster"] == "mock"
    assert int(line["input_tokens"]) > 0 and int(line["output_tokens"]) > 0
    assert line["usage_source"] in ("provider", "counted")

    text = gateway.prometheus()
    model = 'gen_ai_request_model="gpt-4o",gen_ai_provider_name="mock"'
    assert re.search(rf'^llm_requests\{{{model},consumer="[^"]+"\}} [1-9]', text, re.M), text[-3000:]
    assert re.search(rf'^llm_tokens\{{gen_ai_token_type="input",{model},consumer="[^"]+"\}} [1-9]', text, re.M)
