// (f) Document 004's main-app flow (../seeds/generate-project-client.ts, the snippets as printed) against the service's
// /generator surface: start twice -> the same run_id (202, then 200); the progress stream to run_completed with every
// section; the final proj.v1 document, checked with ajv (strict, JSON Schema 2020-12) against ../schemas/proj.v1.schema.json
// written from the document; a run that fails (cancelled through /api/v1) streams `error` and its document says error;
// and, when the worker writes CSV run logs (CSV_LOG_DIR), the run's log has its rows with the owner's e-mail redacted.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { callerKey, serviceUrl } from "./env.ts";
import { EventSource, fetch as generatorFetch } from "./generator-origin.ts";
import { getFinalResult, startGeneration, streamProgress } from "../seeds/generate-project-client.ts";

const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv2020) => Ajv2020 }).default;
const eventNames = ["run_started", "section_started", "section_completed", "run_completed", "error"];

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

interface Seen { type: string; id: string; data: any }

/** Records every 004 event of a source until run_completed or error (or the timeout). */
function record(source: InstanceType<typeof EventSource>, timeoutMs = 90_000): { events: Seen[]; ended: Promise<Seen[]> } {
  const events: Seen[] = [];
  const ended = new Promise<Seen[]>((resolve, reject) => {
    const timer = setTimeout(() => { source.close(); reject(new Error(`no run_completed or error after ${timeoutMs} ms: ${events.map(e => e.type).join(",")}`)); }, timeoutMs);
    for (const type of eventNames) {
      source.addEventListener(type, event => {
        // The EventSource's own connection errors are events named "error" without data: not the service's error event.
        if (!("data" in event) || typeof event.data !== "string") return;
        events.push({ type, id: event.lastEventId, data: JSON.parse(event.data) });
        if (type === "run_completed" || type === "error") {
          clearTimeout(timer);
          source.close();
          resolve(events);
        }
      });
    }
  });
  return { events, ended };
}

const validateDocument = (() => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(new URL("../schemas/proj.v1.schema.json", import.meta.url), "utf8")));
})();

function checkDocument(document: unknown, label: string) {
  check(validateDocument(document), `${label}: not a proj.v1 document: ${JSON.stringify(validateDocument.errors)}`);
}

// 1. Start twice: the same run_id, 202 then 200.
const first = await startGeneration();
const again = await startGeneration();
check(first.status === 202 && again.status === 200, `start answered ${first.status} then ${again.status}`);
check(first.run_id && first.run_id === again.run_id, `two starts gave ${first.run_id} and ${again.run_id}`);

// 2. The printed stream code (it closes on run_completed), with a recorder on the same source.
const progress = record(streamProgress(first.run_id));
const events = await progress.ended;
const types = events.map(e => e.type);
check(types[0] === "run_started" && types.at(-1) === "run_completed", `events: ${types.join(",")}`);
const sections = events.filter(e => e.type === "section_completed").map(e => e.data.section_id);
check(JSON.stringify(sections) === JSON.stringify(["sec_01", "sec_02", "sec_03"]), `sections completed: ${sections.join(",")}`);
check(events.every(e => e.data.run_id === first.run_id && e.id), "every event names the run and has an id");

// 3. The final result: proj.v1 with every section the plan names.
const spec = await getFinalResult("proj_123");
checkDocument(spec, "final result");
check(spec.status === "complete" && spec.run_id === first.run_id && spec.chat_id === "chat_456", `final result: ${spec.status} ${spec.run_id}`);
const planned = spec.plan.sections.map((s: { id: string }) => s.id);
check(JSON.stringify(Object.keys(spec.sections)) === JSON.stringify(planned), `sections ${Object.keys(spec.sections)} for plan ${planned}`);

// 4. A failure streams error: a run cancelled through /api/v1 (its run_id is the job id) ends in error.
const failing = await (await generatorFetch("/start", {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ project_id: "proj_fail", chat_id: "chat_1", topic: "Ratios", life_skill: "Teamwork", group_size: 2, duration_min: 30, owner_email: "teacher@school.ae" }),
})).json() as { run_id: string };
const failure = record(new EventSource(`/events/stream?run_id=${failing.run_id}`));
for (const deadline = Date.now() + 30_000; !failure.events.some(e => e.type === "run_started");) {
  check(Date.now() < deadline, "the failing run never started");
  await new Promise(resolve => setTimeout(resolve, 50));
}
const cancel = await globalThis.fetch(`${serviceUrl}/api/v1/workflow/${failing.run_id}`, { method: "DELETE", headers: { "X-API-Key": callerKey } });
check(cancel.ok, `cancel answered ${cancel.status}`);
const failed = await failure.ended;
check(failed.at(-1)!.type === "error" && failed.at(-1)!.data.status === "error", `failing run: ${failed.map(e => e.type).join(",")}`);
const failedSpec = await getFinalResult("proj_fail");
checkDocument(failedSpec, "failed run");
check(failedSpec.status === "error", `failed run's document says ${failedSpec.status}`);

// 5. The CSV run log (written by the worker when CSV_LOG_DIR is set).
let csvSummary = "no CSV_LOG_DIR";
const csvDir = process.env.CSV_LOG_DIR;
if (csvDir) {
  const path = join(csvDir, `${first.run_id}.csv`);
  let lines: string[] = [];
  for (const deadline = Date.now() + 30_000; !(lines.at(-1) ?? "").includes(",run_completed,");) {
    check(Date.now() < deadline, `the CSV log ${path} has no run_completed row: ${lines.join(" | ")}`);
    await new Promise(resolve => setTimeout(resolve, 100));
    lines = existsSync(path) ? readFileSync(path, "utf8").trim().split(/\r?\n/) : [];
  }
  check(lines[0] === "timestamp,run_id,stage,model,temperature,prompt_tokens,completion_tokens,cost_est,decision_summary,input_path,output_path,warning", `CSV header: ${lines[0]}`);
  check(lines.slice(1).every(line => line.split(",")[1] === first.run_id), "every CSV row names the run");
  check(lines.filter(line => line.includes(",section_completed,")).length === 3, "three section_completed rows");
  const files = [path, ...readdirSync(join(csvDir, first.run_id)).map(name => join(csvDir, first.run_id, name))];
  check(files.every(file => !readFileSync(file, "utf8").includes("teacher@school.ae")), "an e-mail address in the run's logs");
  csvSummary = `CSV log: ${lines.length - 1} rows and ${files.length - 1} step files, e-mail redacted`;
}

console.log(`generator 004: run ${first.run_id} started once (202, 200), ${events.length} events to run_completed, ` +
  `proj.v1 with ${planned.length} sections; a cancelled run streamed error; ${csvSummary}`);
