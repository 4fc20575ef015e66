// A load generator for `paybill serve` (benchmarks/bench_serve.py drives it): CLIENTS concurrent
// clients of the official MCP TypeScript SDK in one Node process, each calling `read_tickets` in a
// loop on its own run (a new run every RUN_LENGTH calls: run starts are part of the load).
//
// Why Node and the TypeScript SDK: the Python client costs more CPU per call than the server, and on
// a two-core machine the load generator shares the cores with the server and PostgreSQL; this
// client is an official MCP client too, at a fraction of the CPU.
//
//   PAYBILL_MCP_URL=... PAYBILL_SERVE_TOKEN=... TENANT=initech CLIENTS=16 CALLS=4000 node load.mjs
//
// MODE=sdk (default): the TypeScript SDK's client, which speaks the handshake-era protocol
// (2025-11-25: initialize once, then one POST per call, served by the Python SDK's stateless
// transport). MODE=raw: the POSTs the official Python client sends under the current, stateless
// protocol (2026-07-28: no handshake, the envelope in `params._meta`, routing headers), sent with
// node:http and nothing else: the lightest MCP client this machine can run.
//
// It prints one JSON object: each call's latency (ms), the wall seconds, and the process's CPU seconds.
import http from "node:http";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

// PAYBILL_MCP_URL may list several replicas, comma-separated: client i calls replica i mod n.
const urls = (process.env.PAYBILL_MCP_URL ?? "http://127.0.0.1:8750/mcp").split(",");
const token = process.env.PAYBILL_SERVE_TOKEN;
const tenant = process.env.TENANT ?? "initech";
const clients = Number(process.env.CLIENTS ?? "16");
const calls = Number(process.env.CALLS ?? "4000");
const runLength = Number(process.env.RUN_LENGTH ?? "50");
const rows = Number(process.env.ROWS ?? "20");
const mode = process.env.MODE ?? "sdk";
const columns = ["id", "subject", "status", "priority", "assignee"];
if (!token) {
  console.error("set PAYBILL_SERVE_TOKEN to the server's bearer token");
  process.exit(2);
}

function check(result) {
  if (result.isError) throw new Error(`refused: ${result.content[0].text}`);
  return result.structuredContent ?? JSON.parse(result.content[0].text);
}

async function sdkClient(url) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "paybill-load", version: "0.1.0" });
  await client.connect(transport);
  return { call: async (name, args) => check(await client.callTool({ name, arguments: args })),
    close: () => client.close() };
}

const MODERN = "2026-07-28";
const META = { "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientInfo": { name: "paybill-load", version: "0.1.0" },
  "io.modelcontextprotocol/clientCapabilities": {} };

async function rawClient(url) {
  // node:http with a kept-alive agent: a fraction of fetch's CPU per request.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const target = new URL(url);
  let id = 0;
  const post = (name, body) => new Promise((resolve, reject) => {
    const request = http.request({ agent, host: target.hostname, port: target.port, path: target.pathname,
      method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json",
        Accept: "application/json, text/event-stream", "MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call",
        "Mcp-Name": name, "Content-Length": Buffer.byteLength(body) } }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        if (response.statusCode !== 200) reject(new Error(`HTTP ${response.statusCode}: ${text}`));
        else resolve(JSON.parse(text));
      });
    });
    request.on("error", reject);
    request.end(body);
  });
  return {
    call: async (name, args) => {
      const message = await post(name, JSON.stringify({ jsonrpc: "2.0", id: ++id, method: "tools/call",
        params: { name, arguments: args, _meta: META } }));
      if (message.error) throw new Error(`JSON-RPC error: ${JSON.stringify(message.error)}`);
      return check(message.result);
    },
    close: async () => agent.destroy(),
  };
}

async function loop(client, count, times) {
  let run = "";
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    if (i % runLength === 0) {
      run = (await client.call("start_run", { tenant, workflow: "incident-response" })).run_id;
    }
    const read = await client.call("read_tickets", { run_id: run, tenant, columns });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (read.count !== rows) throw new Error(`expected ${rows} rows, got ${read.count}`);
  }
}

const made = await Promise.all(Array.from({ length: clients },
  (_, i) => (mode === "raw" ? rawClient : sdkClient)(urls[i % urls.length])));
const times = [];
const cpu = process.cpuUsage();
const started = process.hrtime.bigint();
await Promise.all(made.map((client) => loop(client, Math.floor(calls / clients), times)));
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
const used = process.cpuUsage(cpu);
await Promise.all(made.map((client) => client.close()));
console.log(JSON.stringify({ times, elapsed, cpu: (used.user + used.system) / 1e6 }));
