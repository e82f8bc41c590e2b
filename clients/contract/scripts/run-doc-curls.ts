// Runs every shell example of docs/API_GUIDE.md as written — only the base URL is the test service's — with the
// variables the guide uses ($KEY, $LLM_SERVICE_API_SECRET, $ADMIN_KEY, $JOB: a finished job) from the repository
// root. curl reports each status on stderr; a block fails on a non-zero exit, a 5xx, or a 4xx other than the
// documented 409 (cancelling or retrying a finished job).
// A shell block followed by `<!-- answer ... -->` and a json block is an answer example: the json block is what the
// service says to it, so the block's output must be JSON holding every member the example shows with the same value
// (objects: the members shown; arrays and scalars: equal), and its 4xx is the documented answer, not a failure.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { adminKey, callerKey, serviceUrl } from "./env.ts";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const guide = readFileSync(`${root}docs/API_GUIDE.md`, "utf8");
const answerExample = /^\s*<!--\s*answer\b[^>]*-->\s*```json\n([\s\S]*?)```/;
const blocks = [...guide.matchAll(/```(?:bash|sh|shell)\n([\s\S]*?)```/g)].map(m => {
  const answer = answerExample.exec(guide.slice(m.index! + m[0].length));
  return { code: m[1], answer: answer ? JSON.parse(answer[1]) as unknown : undefined };
});

/** Where the answer differs from what the example shows ("" when it holds every member shown). */
function differs(shown: unknown, actual: unknown, at = "$"): string {
  if (shown !== null && typeof shown === "object" && !Array.isArray(shown)) {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return `${at}: expected an object, got ${JSON.stringify(actual)}`;
    for (const [key, value] of Object.entries(shown)) {
      const found = differs(value, (actual as Record<string, unknown>)[key], `${at}.${key}`);
      if (found) return found;
    }
    return "";
  }
  return JSON.stringify(shown) === JSON.stringify(actual) ? "" : `${at}: the guide shows ${JSON.stringify(shown)}, the service said ${JSON.stringify(actual)}`;
}

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
let compared = 0;
for (const [index, { code: block, answer }] of blocks.entries()) {
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
  const bad = codes.filter(code => code >= 500 || code === 0 || (code >= 400 && code !== 409 && answer === undefined));
  if (run.status !== 0 || codes.length === 0 || bad.length > 0) {
    failures.push(`example ${index + 1} (exit ${run.status}, statuses ${codes.join(",")}):\n${block}\nstdout: ${run.stdout.slice(0, 500)}\nstderr: ${run.stderr.slice(0, 500)}`);
  } else if (answer !== undefined) {
    compared++;
    let said: unknown;
    try {
      said = JSON.parse(run.stdout);
    } catch {
      said = run.stdout;
    }
    const difference = differs(answer, said);
    if (difference) failures.push(`example ${index + 1}: its answer differs from the guide's: ${difference}\n${block}`);
  }
}

console.log(`docs curl examples: ${blocks.length} blocks, ${statuses.length} requests, statuses ${[...new Set(statuses)].sort().join(",")}, ${compared} answers compared with the guide`);
if (failures.length > 0) {
  console.error(failures.join("\n\n"));
  process.exit(1);
}
