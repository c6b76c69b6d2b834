// The Node `openai` SDK (6.x, integration/package.json) against the gateway: chat plain
// and streamed, models.list, embeddings (the SDK's default base64, decoded by the SDK).
// Run by integration/test_clients.py: `node openai_node.mjs <gateway url> <tag>`; prints
// one JSON object of what the SDK returned.
import OpenAI from "openai";

const [baseURL, tag] = process.argv.slice(2);
const client = new OpenAI({
  baseURL: `${baseURL}/v1`,
  apiKey: "sk-demo-pro",
  maxRetries: 0,
  timeout: 30_000,
  defaultQuery: { tag },
});
const messages = [{ role: "user", content: "Hello from Node" }];

const { data: plain, response } = await client.chat.completions
  .create({ model: "gpt-4o", messages })
  .withResponse();

// A stream read the naive way (chunk.choices[0] unguarded: no usage chunk was asked
// for, so none may come), then one that asks for usage.
let streamed = "";
let unaskedUsage = null;
const stream = await client.chat.completions.create({ model: "gpt-4o", messages, stream: true });
for await (const chunk of stream) {
  streamed += chunk.choices[0].delta?.content ?? "";
  if (chunk.usage) unaskedUsage = chunk.usage;
}
let streamUsage = null;
const asked = await client.chat.completions.create({
  model: "gpt-4o", messages, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of asked) {
  if (chunk.usage) streamUsage = chunk.usage;
}

const models = [];
for await (const model of client.models.list()) models.push(model);

const embeddings = await client.embeddings.create({
  model: "text-embedding-3-small",
  input: ["hello world", "Hello, world!"],
});

console.log(
  JSON.stringify({
    node: process.version,
    sdk: OpenAI.VERSION ?? null,
    plain: { content: plain.choices[0].message.content, usage: plain.usage },
    headers: {
      model: response.headers.get("x-llm-model"),
      provider: response.headers.get("x-llm-provider"),
      inputTokens: response.headers.get("x-llm-input-tokens"),
      costUsd: response.headers.get("x-llm-cost-usd"),
    },
    streamed,
    unaskedUsage,
    streamUsage,
    models: models.map((m) => ({ id: m.id, owned_by: m.owned_by })),
    embeddings: {
      count: embeddings.data.length,
      dims: embeddings.data.map((d) => d.embedding.length),
      first: embeddings.data[0].embedding.slice(0, 4),
      second: embeddings.data[1].embedding.slice(0, 4),
      usage: embeddings.usage,
    },
  }),
);
