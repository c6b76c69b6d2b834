// Runs a wasm32-wasip1 command module under Node's built-in WASI (V8, the engine Envoy's
// envoy.wasm.runtime.v8 embeds). Usage: node bench/wasi-run.mjs MODULE.wasm DIR [ARGS...]
// DIR is preopened as /data, so ARGS name files as /data/<name>.
import { readFile } from "node:fs/promises";
import { WASI } from "node:wasi";
import { argv, exit } from "node:process";

const [modulePath, dir, ...args] = argv.slice(2);
if (!modulePath || !dir) {
  console.error("usage: node wasi-run.mjs MODULE.wasm DIR [ARGS...]");
  exit(2);
}
const wasi = new WASI({ version: "preview1", args: [modulePath, ...args], env: {}, preopens: { "/data": dir } });
const module = await WebAssembly.compile(await readFile(modulePath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
