// The official MCP TypeScript SDK's experimental Tasks client against LlmWorkflow's /mcp: the SDK decides on its own,
// from the server's `tasks` capability and the tool's `execution.taskSupport`, to call the workflow tool as a task
// (callToolStream), polls tasks/get at the task's pollInterval and, once the task is completed (or needs input),
// reads tasks/result. A task that needs a person (input_required: an approval) is approved through the signed decision
// link get_job shows, as the person would on the page, when APPROVE=1. A second call of the same tool, made as a task
// by hand, is cancelled with tasks/cancel. Prints one JSON line with what it saw (LlmWorkflow.Tests reads it).
//
//   MCP_URL=http://127.0.0.1:5080/mcp LLMWF_API_KEY=... WORKFLOW=support_agent INPUT="$(cat ../../workflows/examples/support_agent.json)" APPROVE=1 node follow-task.mjs
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateTaskResultSchema } from "@modelcontextprotocol/sdk/types.js";

const url = new URL(required("MCP_URL"));
const workflow = required("WORKFLOW");
const input = JSON.parse(required("INPUT"));

const transport = new StreamableHTTPClientTransport(url, {
  requestInit: { headers: { "X-API-Key": required("LLMWF_API_KEY") } },
});
const client = new Client({ name: "llmworkflow-node-task-check", version: "1.0.0" });
await client.connect(transport);
const { tools } = await client.listTools();
const tool = tools.find((t) => t.name === workflow);
if (!tool) fail(`no tool ${workflow}`);

// The stream: taskCreated, taskStatus at each poll, then result (or error).
let taskId;
let result;
let error;
const statuses = [];
for await (const message of client.experimental.tasks.callToolStream({ name: workflow, arguments: input })) {
  if (message.type === "taskCreated") {
    taskId = message.task.taskId;
    statuses.push(message.task.status);
  } else if (message.type === "taskStatus") {
    if (statuses.at(-1) !== message.task.status) statuses.push(message.task.status);
    if (message.task.status === "input_required" && process.env.APPROVE === "1") {
      const job = answer(await client.callTool({ name: "get_job", arguments: { job_id: taskId } }));
      const decided = await fetch(job.waiting_for.decision_url, { method: "POST", body: new URLSearchParams({ decision: "approve", comment: "node task client" }) });
      if (!decided.ok) fail(`the decision link answered ${decided.status}`);
    }
  } else if (message.type === "result") {
    result = message.result;
  } else if (message.type === "error") {
    error = message.error.message;
  }
}
const task = taskId ? await client.experimental.tasks.getTask(taskId) : undefined;

// A second task of the same tool, cancelled: tasks/cancel answers the cancelled task; cancelling it again is refused.
const created = await client.request(
  { method: "tools/call", params: { name: workflow, arguments: input, task: { ttl: 60000 } } },
  CreateTaskResultSchema,
);
const cancelled = await client.experimental.tasks.cancelTask(created.task.taskId);
const afterCancel = await client.experimental.tasks.getTask(created.task.taskId);
let secondCancel;
try {
  await client.experimental.tasks.cancelTask(created.task.taskId);
  secondCancel = "accepted";
} catch (e) {
  secondCancel = e.message;
}

await client.close();
console.log(JSON.stringify({
  server_tasks_capability: client.getServerCapabilities()?.tasks ?? null,
  tool_execution: tool.execution ?? null,
  task_id: taskId ?? null,
  statuses,
  result: result ?? null,
  error: error ?? null,
  task,
  cancelled: { created: created.task, cancelled, after: afterCancel, second_cancel: secondCancel },
}));

function answer(r) {
  return r.structuredContent ?? JSON.parse(r.content.filter((c) => c.type === "text").map((c) => c.text).join(""));
}

function required(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set`);
  return value;
}

function fail(message) {
  console.error(`mcp node task client: ${message}`);
  process.exit(1);
}
