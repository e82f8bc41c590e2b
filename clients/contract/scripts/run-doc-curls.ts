// Runs every shell example of docs/API_GUIDE.md as written — only the base URL is the test service's — with the
// variables the guide uses ($KEY, $LLM_SERVICE_API_SECRET, $ADMIN_KEY, $JOB: a finished job) from the repository
// root. curl reports each status on stderr; a block fails on a non-zero exit, a 5xx, or a 4xx other than the
// documented 409 (cancelling or retrying a finished job).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { adminKey, callerKey, serviceUrl } from "./env.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const guide = readFileSync(`${root}docs/API_GUIDE.md`, "utf8");
const blocks = [...guide.matchAll(/```(?:bash|sh|shell)\n([\s\S]*?)```/g)].map(m => m[1]);

async function finishedJob(): Promise<string> {
  const headers = { "Content-Type": "application/json", "X-API-Key": callerKey };
  const submitted = await fetch(`${serviceUrl}/api/v1/workflow`, { method: "POST", headers, body: JSON.stringify({ workflow_name: "hello_transform", input_data: { name: "Docs" } }) });
  const { job_id } = (await submitted.json()) as { job_id: string };
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const { status } = (await (await fetch(`${serviceUrl}/api/v1/status/${job_id}`, { headers })).json()) as { status: string };
    if (status === "completed") return job_id;
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  throw new Error("the docs' job did not complete");
}

const prelude = `set -eo pipefail
curl() { command curl --write-out '%{stderr}HTTP %{http_code}\\n' --max-time 60 "$@"; }
`;
const failures: string[] = [];
const statuses: number[] = [];
for (const [index, block] of blocks.entries()) {
  const job = await finishedJob();
  const script = prelude + block.replaceAll("http://localhost:5080", serviceUrl);
  const run = spawnSync("bash", ["-c", script], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, KEY: callerKey, LLM_SERVICE_API_SECRET: callerKey, ADMIN_KEY: adminKey, JOB: job },
  });
  const codes = [...run.stderr.matchAll(/^HTTP (\d{3})$/gm)].map(m => Number(m[1]));
  statuses.push(...codes);
  const bad = codes.filter(code => code >= 500 || code === 0 || (code >= 400 && code !== 409));
  if (run.status !== 0 || codes.length === 0 || bad.length > 0) {
    failures.push(`example ${index + 1} (exit ${run.status}, statuses ${codes.join(",")}):\n${block}\nstdout: ${run.stdout.slice(0, 500)}\nstderr: ${run.stderr.slice(0, 500)}`);
  }
}

console.log(`docs curl examples: ${blocks.length} blocks, ${statuses.length} requests, statuses ${[...new Set(statuses)].sort().join(",")}`);
if (failures.length > 0) {
  console.error(failures.join("\n\n"));
  process.exit(1);
}
