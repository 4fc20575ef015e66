// An agent written in TypeScript's runtime (plain ESM, no build step) that connects to `paybill serve`
// over streamable HTTP with the official MCP TypeScript SDK, and does what the ops-agent may do:
// start a run for a tenant, read its tickets, and try one call the workflow does not allow yet.
//
//   PAYBILL_MCP_URL=http://127.0.0.1:8750/mcp PAYBILL_SERVE_TOKEN=... TENANT=acme-corp node agent.mjs
//
// It prints one JSON object: the tools it was offered, the rows it read, and the refusal it got.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = process.env.PAYBILL_MCP_URL ?? "http://127.0.0.1:8750/mcp";
const token = process.env.PAYBILL_SERVE_TOKEN;
const tenant = process.env.TENANT ?? "acme-corp";
if (!token) {
  console.error("set PAYBILL_SERVE_TOKEN to the server's bearer token");
  process.exit(2);
}

// A server that cannot be reached, or refuses the token, is one line on stderr and exit 1, not a stack trace.
function fail(error) {
  const status = error?.code ? ` (HTTP ${error.code})` : "";
  const cause = error?.cause ? ` (${error.cause.code ?? error.cause.message ?? error.cause})` : "";
  console.error(`paybill agent: ${url}: ${error?.message ?? error}${status}${cause}`);
  process.exit(1);
}

try {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: "paybill-typescript-agent", version: "0.1.0" });
  await client.connect(transport);

  const tools = (await client.listTools()).tools.map((t) => t.name).sort();
  const started = await client.callTool({ name: "start_run", arguments: { tenant, workflow: "incident-response" } });
  if (started.isError) throw new Error(`start_run refused: ${started.content[0].text}`);
  const run = JSON.parse(started.content[0].text);

  const read = await client.callTool({
    name: "read_tickets",
    arguments: { run_id: run.run_id, tenant, columns: ["id", "status"] },
  });
  const rows = read.isError ? null : JSON.parse(read.content[0].text).rows;
  const readRefused = read.isError ? JSON.parse(read.content[0].text).violations ?? [] : [];

  // Closing tickets is the next step's action, and that step needs a human's approval first.
  const early = await client.callTool({
    name: "update_tickets",
    arguments: { run_id: run.run_id, tenant, set: { status: "closed" }, where: {} },
  });
  const refusal = JSON.parse(early.content[0].text);

  console.log(JSON.stringify({ tools, run: run.run_id, step: run.step, rows, readRefused,
    refused: early.isError === true, violations: refusal.violations ?? [] }));
  await client.close();
} catch (error) {
  fail(error);
}
