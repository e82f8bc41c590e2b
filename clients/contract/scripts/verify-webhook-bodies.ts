// Checks webhook deliveries that a real worker sent to the xunit receiver, as a receiver that only has the documents
// would: the standardwebhooks package verifies each signature over the raw body, and ajv (strict, JSON Schema
// 2020-12) validates the body against schemas/terminal-webhook.schema.json or, for workflow.waiting,
// schemas/waiting-webhook.schema.json, both written from docs/WEBHOOKS.md. A delivery recorded as over the size cap
// must carry the truncated output and fit under the cap.
// Input: WEBHOOK_DELIVERIES, a JSON file of { secret, max_payload_bytes, deliveries: [{ headers, body, expect_truncated }] }.
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { Webhook } from "standardwebhooks";

// ajv-formats is published as CommonJS; under NodeNext its default import is the module object.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv2020) => Ajv2020 }).default;

interface Delivery { headers: Record<string, string>; body: string; expect_truncated: boolean }
interface Recorded { secret: string; max_payload_bytes: number; deliveries: Delivery[] }
// The fields this script reads beyond the schema's checks.
interface TerminalBody { event: string; job_id: string; result: { output: { status_url?: string; size_bytes?: number } } | null }

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const file = process.env.WEBHOOK_DELIVERIES;
check(file, "WEBHOOK_DELIVERIES is not set (the script is run by LlmWorkflow.Tests/Webhooks/TerminalWebhookValidatorTests)");
const recorded = JSON.parse(readFileSync(file, "utf8")) as Recorded;
const schema = JSON.parse(readFileSync(new URL("../schemas/terminal-webhook.schema.json", import.meta.url), "utf8"));
const waitingSchema = JSON.parse(readFileSync(new URL("../schemas/waiting-webhook.schema.json", import.meta.url), "utf8"));

const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats(ajv);
const validateBody = ajv.compile(schema);
const validateTruncated = ajv.compile({ $ref: `${schema.$id}#/$defs/truncated_output` });
const validateWaiting = ajv.compile(waitingSchema);
// A secret that is not whsec_ is used as its UTF-8 bytes (docs/WEBHOOKS.md); the package takes base64 key bytes.
const standard = new Webhook(Buffer.from(recorded.secret, "utf8").toString("base64"));

let truncated = 0;
let waiting = 0;
for (const delivery of recorded.deliveries) {
  const headers = {
    "webhook-id": delivery.headers["webhook-id"],
    "webhook-timestamp": delivery.headers["webhook-timestamp"],
    "webhook-signature": delivery.headers["webhook-signature"],
  };
  standard.verify(delivery.body, headers);
  const body = JSON.parse(delivery.body) as TerminalBody;
  check(body.event === delivery.headers["x-webhook-event"], `${headers["webhook-id"]}: event ${body.event} sent as ${delivery.headers["x-webhook-event"]}`);
  if (body.event === "workflow.waiting") {
    check(validateWaiting(body), `${headers["webhook-id"]}: ${ajv.errorsText(validateWaiting.errors)}\n${delivery.body.slice(0, 2000)}`);
    waiting++;
    continue;
  }
  const valid = validateBody(body);
  check(valid, `${headers["webhook-id"]}: ${ajv.errorsText(validateBody.errors)}\n${delivery.body.slice(0, 2000)}`);
  const isTruncated = validateTruncated(body.result?.output);
  check(isTruncated === delivery.expect_truncated, `${headers["webhook-id"]}: truncated output ${isTruncated}, expected ${delivery.expect_truncated}`);
  if (isTruncated) {
    truncated++;
    const output = body.result!.output;
    check(output.status_url === `/api/v1/status/${body.job_id}`, `${headers["webhook-id"]}: status_url ${output.status_url}`);
    check(output.size_bytes! > recorded.max_payload_bytes, `${headers["webhook-id"]}: size_bytes ${output.size_bytes} is not above the cap`);
    check(Buffer.byteLength(delivery.body, "utf8") <= recorded.max_payload_bytes, `${headers["webhook-id"]}: the truncated body is still above the cap`);
  }
}

check(recorded.deliveries.length > 0, "no deliveries to verify");
console.log(`verified ${recorded.deliveries.length - waiting} terminal webhook bodies (${truncated} truncated) and ${waiting} workflow.waiting bodies with standardwebhooks and ajv`);
