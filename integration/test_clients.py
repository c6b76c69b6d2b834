"""The client-library test bed: the gateway (the real Envoy with make run's configuration:
guard, identity, limits and routes on) driven by the libraries users actually use, pinned
in integration/requirements.txt, integration/requirements-instructor.txt and
integration/package.json, and installed by scripts/setup.sh:

- LangChain: `ChatOpenAI` (plain, streamed, tools), `ChatAnthropic` (its defaults, and
  with a `max_tokens`), `OpenAIEmbeddings` (which sends token-id arrays);
- litellm: `openai/...` and `anthropic/...` models with `api_base` at the gateway,
  completion plain and streamed, `litellm.embedding`;
- instructor: structured output with a Pydantic model through chat (its own venv, run as
  a subprocess: its pins cannot co-install with the openai SDK's);
- the Node `openai` SDK 6.x on Node 20: chat plain and streamed, models.list, embeddings.

Each test asserts what the library returned and what reached the mock provider."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import anthropic
import pytest

# litellm reads its model price map from the network at import unless told not to; this
# machine (and CI) has none.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
from langchain_anthropic import ChatAnthropic  # noqa: E402
from langchain_core.messages import HumanMessage, SystemMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_openai import ChatOpenAI, OpenAIEmbeddings  # noqa: E402

from conftest import ROOT  # noqa: E402
from helpers import (  # noqa: E402
    access_log_for,
    access_log_lines_for,
    encoding_for,
    mock_requests_for,
    new_tag,
    ntok,
    reference_request_tokens,
)

KEY = "sk-demo-pro"  # make run's demo consumer (60 requests a minute)
CLIENTS = Path(__file__).resolve().parent / "clients"
INSTRUCTOR_PYTHON = ROOT / ".venv-instructor" / "bin" / "python"
NODE_MODULES = Path(__file__).resolve().parent / "node_modules" / "openai"

@pytest.fixture(scope="module")
def gw(make_run_gateway):
    return make_run_gateway


def bodies(mock, tag) -> list[dict]:
    return [json.loads(r["body"]) for r in mock_requests_for(mock, tag)]


def only_body(mock, tag) -> dict:
    sent = bodies(mock, tag)
    assert len(sent) == 1, sent
    return sent[0]


# ------------------------------------------------------------------ LangChain, OpenAI

def chat_openai(gw, tag, **kw):
    return ChatOpenAI(model="gpt-4o", base_url=f"{gw.url}/v1", api_key=KEY, max_retries=0,
                      timeout=30, default_query={"tag": tag}, **kw)


def test_langchain_chat_openai_plain(gw, mock_provider):
    tag = new_tag()
    messages = [SystemMessage("You echo."), HumanMessage("Hello from LangChain")]
    answer = chat_openai(gw, tag).invoke(messages)
    assert answer.content == "Hello from LangChain"
    expected = reference_request_tokens(
        "gpt-4o", [{"role": "system", "content": "You echo."},
                   {"role": "user", "content": "Hello from LangChain"}])
    assert answer.usage_metadata["input_tokens"] == expected
    assert answer.response_metadata["model_name"] == "gpt-4o"
    sent = only_body(mock_provider, tag)
    assert sent["messages"][1] == {"role": "user", "content": "Hello from LangChain"}
    line = access_log_for(gw, tag)
    assert (line["api"], line["model"], line["consumer"]) == ("openai_chat", "gpt-4o", "demo-pro")
    assert int(line["input_tokens"]) == expected


def test_langchain_chat_openai_stream(gw, mock_provider):
    tag = new_tag()
    chunks = list(chat_openai(gw, tag).stream("Stream me back please"))
    assert "".join(c.content for c in chunks) == "Stream me back please"
    # The gateway asked the provider for usage to meter the stream, and kept that chunk
    # from LangChain, which did not ask for it; the access log has the usage.
    assert not [c.usage_metadata for c in chunks if c.usage_metadata]
    assert only_body(mock_provider, tag)["stream_options"] == {"include_usage": True}
    line = access_log_for(gw, tag)
    assert line["stream"] == "true" and int(line["output_tokens"]) > 0
    # Asked for (stream_usage=True), the usage reaches LangChain.
    tag = new_tag()
    chunks = list(chat_openai(gw, tag, stream_usage=True).stream("Stream me back please"))
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage and usage[-1]["output_tokens"] > 0


@tool
def get_weather(city: str) -> str:
    """The weather of a city."""
    return f"sunny in {city}"


def test_langchain_chat_openai_tools(gw, mock_provider):
    tag = new_tag()
    llm = chat_openai(gw, tag, default_headers={
        "x-mock-tool-call": "get_weather", "x-mock-tool-args": json.dumps({"city": "Paris"})})
    answer = llm.bind_tools([get_weather]).invoke("What is the weather in Paris?")
    assert answer.tool_calls[0]["name"] == "get_weather"
    assert answer.tool_calls[0]["args"] == {"city": "Paris"}
    sent = only_body(mock_provider, tag)
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tools"][0]["function"]["parameters"]["properties"] == {"city": {"type": "string"}}
    # Streamed too: the arguments arrive in pieces and LangChain joins them.
    tag = new_tag()
    llm = chat_openai(gw, tag, default_headers={
        "x-mock-tool-call": "get_weather", "x-mock-tool-args": json.dumps({"city": "Seoul"})})
    merged = None
    for chunk in llm.bind_tools([get_weather]).stream("Weather in Seoul?"):
        merged = chunk if merged is None else merged + chunk
    assert merged.tool_calls[0]["args"] == {"city": "Seoul"}


def test_langchain_openai_embeddings_send_token_ids(gw, mock_provider):
    tag = new_tag()
    emb = OpenAIEmbeddings(model="text-embedding-3-small", base_url=f"{gw.url}/v1", api_key=KEY,
                           max_retries=0, default_query={"tag": tag})
    docs = ["The cat sat on the mat.", "Embeddings through the gateway."]
    vectors = emb.embed_documents(docs)
    query = emb.embed_query("The cat sat on the mat.")
    assert [len(v) for v in vectors] == [1536, 1536]
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-3 for v in vectors)
    assert max(abs(a - b) for a, b in zip(query, vectors[0])) < 1e-6, "same text, same vector"
    sent = bodies(mock_provider, tag)
    # LangChain tokenizes with tiktoken and sends token-id arrays; the gateway counts them
    # by their length, which is what the provider bills.
    enc = encoding_for("text-embedding-3-small")
    assert sent[0]["input"] == [enc.encode(d) for d in docs]
    line = access_log_lines_for(gw, tag)[0]
    assert int(line["input_tokens"]) == sum(ntok(enc, d) for d in docs)
    assert line["api"] == "openai_embeddings"


# ------------------------------------------------------------------ LangChain, Anthropic

def chat_anthropic(gw, **kw):
    return ChatAnthropic(model="claude-sonnet-4-5", base_url=gw.url, api_key=KEY, max_retries=0,
                         default_request_timeout=30, **kw)




def test_langchain_chat_anthropic_with_its_defaults(gw, mock_provider):
    """LangChain sends max_tokens 64000, claude-sonnet-4-5's own maximum: within the
    model's output cap (limits' per-model table), so it goes as sent."""
    mock_provider.clear()
    answer = chat_anthropic(gw).invoke("Hello Claude")
    assert answer.content == "Hello Claude"
    sent = [json.loads(r["body"]) for r in mock_provider.requests() if r["path"] == "/v1/messages"]
    assert sent[-1]["max_tokens"] == 64000


def test_langchain_chat_anthropic_plain_and_stream(gw, mock_provider):
    mock_provider.clear()
    llm = chat_anthropic(gw, max_tokens=1024)
    answer = llm.invoke([SystemMessage("Be brief."), HumanMessage("Hello Claude")])
    assert answer.content == "Hello Claude"
    assert answer.usage_metadata["input_tokens"] > 0
    streamed = "".join(c.content if isinstance(c.content, str) else
                       "".join(p.get("text", "") for p in c.content)
                       for c in llm.stream("Stream, Claude"))
    assert streamed == "Stream, Claude"
    sent = [json.loads(r["body"]) for r in mock_provider.requests() if r["path"] == "/v1/messages"]
    assert sent[0]["system"] == "Be brief." and sent[0]["max_tokens"] == 1024
    assert sent[1]["stream"] is True


# ------------------------------------------------------------------ litellm

def test_litellm_openai_completion_plain_and_stream(gw, mock_provider):
    mock_provider.clear()
    base = f"{gw.url}/v1"
    messages = [{"role": "user", "content": "Hello from litellm"}]
    answer = litellm.completion(model="openai/gpt-4o", api_base=base, api_key=KEY,
                                messages=messages)
    assert answer.choices[0].message.content == "Hello from litellm"
    assert answer.usage.prompt_tokens == reference_request_tokens("gpt-4o", messages)
    chunks = list(litellm.completion(model="openai/gpt-4o", api_base=base, api_key=KEY,
                                     messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello from litellm"
    sent = [json.loads(r["body"]) for r in mock_provider.requests()
            if r["path"] == "/v1/chat/completions"]
    assert [b["model"] for b in sent] == ["gpt-4o", "gpt-4o"]
    assert sent[1]["stream"] is True


def test_litellm_anthropic_completion_with_its_defaults(gw, mock_provider):
    mock_provider.clear()
    answer = litellm.completion(model="anthropic/claude-sonnet-4-5", api_base=gw.url,
                                api_key=KEY, messages=[{"role": "user", "content": "Hi"}])
    assert answer.choices[0].message.content == "Hi"
    sent = [json.loads(r["body"]) for r in mock_provider.requests() if r["path"] == "/v1/messages"]
    assert sent[-1]["max_tokens"] <= 64000


def test_litellm_anthropic_completion_plain_and_stream(gw, mock_provider):
    mock_provider.clear()
    messages = [{"role": "user", "content": "Hello Claude from litellm"}]
    answer = litellm.completion(model="anthropic/claude-sonnet-4-5", api_base=gw.url,
                                api_key=KEY, messages=messages, max_tokens=512)
    assert answer.choices[0].message.content == "Hello Claude from litellm"
    assert answer.usage.prompt_tokens > 0
    chunks = list(litellm.completion(model="anthropic/claude-sonnet-4-5", api_base=gw.url,
                                     api_key=KEY, messages=messages, max_tokens=512, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello Claude from litellm"
    sent = [json.loads(r["body"]) for r in mock_provider.requests() if r["path"] == "/v1/messages"]
    assert [b["max_tokens"] for b in sent] == [512, 512]
    assert sent[1]["stream"] is True


def test_litellm_embedding(gw, mock_provider):
    mock_provider.clear()
    answer = litellm.embedding(model="openai/text-embedding-3-small", api_base=f"{gw.url}/v1",
                               api_key=KEY, input=["hello world", "tiktoken is great!"])
    assert [len(d["embedding"]) for d in answer.data] == [1536, 1536]
    assert answer.usage.prompt_tokens == 8
    (sent,) = [json.loads(r["body"]) for r in mock_provider.requests()
               if r["path"] == "/v1/embeddings"]
    assert sent["input"] == ["hello world", "tiktoken is great!"]


# ------------------------------------------------------------------ instructor

def test_instructor_structured_output_through_chat(gw, mock_provider):
    if not INSTRUCTOR_PYTHON.exists():
        pytest.fail(f"{INSTRUCTOR_PYTHON} is missing: run `make setup`")
    tag = new_tag()
    out = subprocess.run([str(INSTRUCTOR_PYTHON), str(CLIENTS / "instructor_chat.py"), gw.url, tag],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["user"] == {"name": "Jason", "age": 25}
    assert result["usage"]["prompt_tokens"] > 0
    assert result["instructor"] == "1.17.0" and result["jiter"].startswith("0.14")
    sent = only_body(mock_provider, tag)
    function = sent["tools"][0]["function"]
    assert function["name"] == "UserInfo"
    assert set(function["parameters"]["properties"]) == {"name", "age"}
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "UserInfo"}}


# ------------------------------------------------------------------ Node openai SDK

def test_node_openai_sdk(gw, mock_provider):
    if not NODE_MODULES.exists():
        pytest.fail(f"{NODE_MODULES} is missing: run `make setup`")
    tag = new_tag()
    out = subprocess.run(["node", str(CLIENTS / "openai_node.mjs"), gw.url, tag],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-4000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["node"].startswith("v20.")
    assert result["plain"]["content"] == "Hello from Node"
    expected = reference_request_tokens("gpt-4o", [{"role": "user", "content": "Hello from Node"}])
    assert result["plain"]["usage"]["prompt_tokens"] == expected
    assert result["headers"]["model"] == "gpt-4o"
    assert int(result["headers"]["inputTokens"]) == expected
    assert float(result["headers"]["costUsd"]) > 0
    assert result["streamed"] == "Hello from Node"
    assert result["unaskedUsage"] is None
    assert result["streamUsage"]["prompt_tokens"] == expected
    owners = {m["id"]: m["owned_by"] for m in result["models"]}
    assert owners["gpt-4o-mini"] == "chain" and owners["text-embedding-3-small"] == "mock"
    emb = result["embeddings"]
    assert emb["count"] == 2 and emb["dims"] == [1536, 1536]
    # "hello world" and "Hello, world!" are the same words: the same vector.
    assert emb["first"] == emb["second"]
    assert emb["usage"]["prompt_tokens"] == 2 + 4
    sent = bodies(mock_provider, tag)
    assert [b.get("encoding_format") for b in sent if "input" in b] == ["base64"]
    assert len([b for b in sent if "messages" in b]) == 3  # plain, stream, stream asking for usage
