// The official MCP TypeScript SDK's client against LlmWorkflow's /mcp over Streamable HTTP, with a tenant API key:
// lists the tools, checks the workflow tool's input schema is enforced, runs the workflow, and follows the job with
// get_job until its MCP task status is final. A job that needs a person (input_required: an approval) is approved
// through its signed decision link when APPROVE=1, as the person would on the page. Prints one JSON line with what it
// saw (LlmWorkflow.Tests reads it).
//
//   MCP_URL=http://127.0.0.1:5080/mcp LLMWF_API_KEY=... WORKFLOW=support_agent INPUT="$(cat ../../workflows/examples/support_agent.json)" APPROVE=1 node follow-workflow.mjs
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const url = new URL(required("MCP_URL"));
const workflow = required("WORKFLOW");
const input = JSON.parse(required("INPUT"));
const deadline = Date.now() + Number(process.env.FOLLOW_TIMEOUT_MS ?? 60000);

const transport = new StreamableHTTPClientTransport(url, {
  requestInit: { headers: { "X-API-Key": required("LLMWF_API_KEY") } },
});
const client = new Client({ name: "llmworkflow-node-check", version: "1.0.0" });
await client.connect(transport);

const { tools } = await client.listTools();
const tool = tools.find((t) => t.name === workflow);
if (!tool) fail(`no tool ${workflow} among ${tools.map((t) => t.name).join(", ")}`);

// Input that breaks the workflow's input schema: an isError answer naming the field, nothing queued.
const refused = await client.callTool({ name: workflow, arguments: {} });

const accepted = await client.callTool({ name: workflow, arguments: input });
if (accepted.isError) fail(`the workflow call failed: ${text(accepted)}`);
const jobId = answer(accepted).job_id;

// The job runs asynchronously: get_job is the task's status in the MCP Tasks vocabulary.
const seen = [];
let status;
for (;;) {
  status = answer(await client.callTool({ name: "get_job", arguments: { job_id: jobId } }));
  if (seen.at(-1) !== status.mcp_task_status) seen.push(status.mcp_task_status);
  if (["completed", "failed", "cancelled"].includes(status.mcp_task_status)) break;
  if (status.mcp_task_status === "input_required" && process.env.APPROVE === "1" && status.waiting_for?.decision_url) {
    const decided = await fetch(status.waiting_for.decision_url, { method: "POST", body: new URLSearchParams({ decision: "approve", comment: "node client" }) });
    if (!decided.ok) fail(`the decision link answered ${decided.status}`);
  }
  if (Date.now() > deadline) fail(`job ${jobId} still ${status.status} at the deadline`);
  await new Promise((resolve) => setTimeout(resolve, 100));
}

await client.close();
console.log(JSON.stringify({
  server: client.getServerVersion(),
  tools: tools.map((t) => t.name),
  input_schema: tool.inputSchema,
  refused: { is_error: refused.isError === true, text: text(refused) },
  accepted: answer(accepted),
  task_statuses: seen,
  final: status,
}));

function answer(result) {
  return result.structuredContent ?? JSON.parse(text(result));
}

function text(result) {
  return result.content.filter((c) => c.type === "text").map((c) => c.text).join("");
}

function required(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set`);
  return value;
}

function fail(message) {
  console.error(`mcp node client: ${message}`);
  process.exit(1);
}
