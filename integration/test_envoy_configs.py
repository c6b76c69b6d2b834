"""Every Envoy config in envoy/ is valid for the pinned Envoy with the built module, and a
plugin configuration the module refuses stops Envoy with a message naming the field."""

import subprocess

import pytest
import yaml

from conftest import ENVOY_BIN, ROOT, WASM, EnvoyStartError

CONFIGS = sorted((ROOT / "envoy").glob("*.yaml"))


def validate(config_path, cwd=ROOT):
    return subprocess.run(
        [str(ENVOY_BIN), "--mode", "validate", "-c", str(config_path), "--disable-hot-restart",
         "--log-level", "info"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_there_are_configs_to_check():
    assert ROOT / "envoy" / "envoy.yaml" in CONFIGS


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_validates(config):
    assert WASM.exists(), "build the module first (make build)"
    r = validate(config.relative_to(ROOT))
    assert r.returncode == 0, f"{config.name} does not validate:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    assert "OK" in (r.stdout + r.stderr)


def test_unknown_plugin_field_is_refused_in_validate_mode(envoy_factory, tmp_path):
    cfg = envoy_factory.config(config={"usage": {"bogus": 1}})
    path = tmp_path / "bogus.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    r = validate(path)
    out = r.stdout + r.stderr
    assert r.returncode != 0, f"a config with usage.bogus validated:\n{out[-4000:]}"
    assert "unknown field" in out and "bogus" in out, out[-4000:]


def test_unknown_plugin_field_stops_envoy_at_startup(envoy_factory):
    with pytest.raises(EnvoyStartError) as err:
        envoy_factory.start(config={"usage": {"bogus": 1}})
    assert err.value.returncode not in (None, 0), "Envoy kept running with a bad plugin config"
    assert "unknown field" in err.value.log and "bogus" in err.value.log, err.value.log[-4000:]


def test_envoy_own_413_gets_an_openai_error_body(envoy_factory):
    """With the filter's limit raised above Envoy's buffer limits, Envoy itself answers
    413 (past the virtual host's 36 MiB request_body_buffer_limit); envoy.yaml's
    local_reply_config gives it an OpenAI error envelope."""
    import requests

    envoy = envoy_factory.start(patch={"api": {"max_body_bytes": 64 * 1024 * 1024}})
    try:
        def chunks():  # chunked: no content-length for the filter to judge up front
            part = b'{"model":"gpt-4o","messages":[{"role":"user","content":"'
            yield part
            for _ in range(40 * 16):  # 40 MiB: past the route's 36 MiB request_body_buffer_limit
                yield b"x" * 65536
            yield b'"}]}'

        r = requests.post(f"{envoy.url}/v1/chat/completions", data=chunks(),
                          headers={"content-type": "application/json"}, timeout=30)
        assert r.status_code == 413, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"error": {"message": "request body too large", "type": "invalid_request_error",
                                      "param": None, "code": "request_too_large"}}
    finally:
        envoy.stop()


def test_filter_413_keeps_the_anthropic_envelope(gateway):
    """The filter's own 413 is a local reply too; the mapper must leave it alone."""
    import requests

    big = "x" * (33 * 1024 * 1024)  # over make run's 32 MiB api.max_body_bytes
    r = requests.post(f"{gateway.url}/v1/messages", timeout=30,
                      json={"model": "claude-sonnet-4-5", "max_tokens": 5,
                            "messages": [{"role": "user", "content": big}]})
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == "request_too_large", body
