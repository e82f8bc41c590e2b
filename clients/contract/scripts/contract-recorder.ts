// Sends requests to the service and checks every response against the live OpenAPI document with ajv
// (JSON Schema 2020-12, strict mode): the status must be declared for the route, the media type must be one the
// document lists, and the body must match its schema. Counts validated responses per route and status.
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";
import { callerKey, serviceUrl } from "./env.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type OpenApiDocument = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, Json> } };

// ajv-formats is published as CommonJS; under NodeNext its default import is the module object.
const addFormats = (addFormatsModule as unknown as { default: (ajv: Ajv2020) => Ajv2020 }).default;

export interface Call {
  method: "GET" | "POST" | "DELETE" | "OPTIONS" | "PATCH";
  /** The route as the document names it, e.g. /api/v1/status/{jobId}. */
  route: string;
  path?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
  /** The key to send; null sends none. Default: the caller key. */
  key?: string | null;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export class ContractRecorder {
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  readonly counts = new Map<string, number>();
  readonly failures: string[] = [];

  private constructor(readonly document: OpenApiDocument) {
    this.ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
    addFormats(this.ajv);
    // The .NET number formats, checked for real rather than ignored.
    const int = (bits: number) => (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** (bits - 1);
    this.ajv.addFormat("int32", { type: "number", validate: int(32) });
    this.ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
    this.ajv.addFormat("double", { type: "number", validate: (n: number) => Number.isFinite(n) });
    this.ajv.addFormat("float", { type: "number", validate: (n: number) => Number.isFinite(n) });
    this.ajv.addSchema({ $id: "https://llmworkflow.contract/schemas", $defs: rewriteRefs(document.components.schemas) as Record<string, any> });
  }

  static async load(): Promise<ContractRecorder> {
    const response = await fetch(`${serviceUrl}/openapi/v1.json`);
    if (response.status !== 200) throw new Error(`GET /openapi/v1.json answered ${response.status}`);
    return new ContractRecorder((await response.json()) as OpenApiDocument);
  }

  async send(call: Call): Promise<Answer> {
    let url = serviceUrl + call.route.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(call.path?.[name] ?? `{${name}}`));
    if (call.query) url += "?" + new URLSearchParams(call.query).toString();
    const headers: Record<string, string> = { ...(call.headers ?? {}) };
    const key = call.key === undefined ? callerKey : call.key;
    if (key !== null) headers["X-API-Key"] = key;
    let body: string | undefined = call.rawBody;
    if (call.body !== undefined) body = JSON.stringify(call.body);
    if (body !== undefined) headers["Content-Type"] ??= "application/json";
    const response = await fetch(url, { method: call.method, headers, body });
    const text = await response.text();
    const mediaType = (response.headers.get("content-type") ?? "").split(";")[0].trim();
    const json = mediaType.endsWith("json") && text.length > 0 ? JSON.parse(text) : undefined;
    this.check(call, response.status, mediaType, text, json);
    return { status: response.status, headers: response.headers, text, json };
  }

  /** Sends and fails unless the status is one of <expected>. */
  async expect(call: Call, ...expected: number[]): Promise<Answer> {
    const answer = await this.send(call);
    if (!expected.includes(answer.status)) {
      this.failures.push(`${call.method} ${call.route}: expected ${expected.join("|")}, got ${answer.status}: ${answer.text.slice(0, 500)}`);
    }
    return answer;
  }

  private check(call: Call, status: number, mediaType: string, text: string, json: unknown) {
    const where = `${call.method} ${call.route} -> ${status}`;
    const operation = this.document.paths[call.route]?.[call.method.toLowerCase()];
    if (!operation) return this.fail(`${where}: the route is not in the document`);
    const response = operation.responses?.[String(status)];
    if (!response) return this.fail(`${where}: status ${status} is not declared (declared: ${Object.keys(operation.responses ?? {}).join(", ")})`);
    const content: Record<string, { schema?: Json }> | undefined = response.content;
    if (!content || Object.keys(content).length === 0) {
      if (text.length > 0) return this.fail(`${where}: the document declares no body but ${text.length} bytes came (${mediaType})`);
      return this.count(call, status);
    }
    const media = content[mediaType];
    if (!media) return this.fail(`${where}: media type '${mediaType}' is not declared (declared: ${Object.keys(content).join(", ")})`);
    if (mediaType === "text/event-stream") {
      const problem = checkEventStream(text);
      if (problem) return this.fail(`${where}: ${problem}`);
      return this.count(call, status);
    }
    if (media.schema !== undefined) {
      const value = mediaType.endsWith("json") ? json : text;
      const validate = this.validator(`${call.method} ${call.route} ${status} ${mediaType}`, media.schema);
      if (!validate(value)) {
        return this.fail(`${where}: body does not match the schema: ${this.ajv.errorsText(validate.errors, { separator: "; " })}\n  body: ${text.slice(0, 800)}`);
      }
    }
    this.count(call, status);
  }

  private validator(key: string, schema: Json): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(rewriteRefs(schema) as object);
      this.validators.set(key, validate);
    }
    return validate;
  }

  private count(call: Call, status: number) {
    const key = `${call.method} ${call.route} ${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  private fail(message: string) {
    this.failures.push(message);
  }

  /** Per route: validated responses by status, and the total. */
  summary(): string {
    const byRoute = new Map<string, string[]>();
    let total = 0;
    for (const [key, count] of [...this.counts].sort()) {
      const [method, route, status] = key.split(" ");
      const list = byRoute.get(`${method} ${route}`) ?? [];
      list.push(`${status}x${count}`);
      byRoute.set(`${method} ${route}`, list);
      total += count;
    }
    const lines = [...byRoute].map(([route, list]) => `  ${route}: ${list.join(", ")}`);
    return `validated ${total} responses on ${byRoute.size} routes:\n${lines.join("\n")}`;
  }
}

function rewriteRefs(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node && typeof node === "object") {
    const copy: { [key: string]: Json } = {};
    for (const [key, value] of Object.entries(node)) {
      copy[key] = key === "$ref" && typeof value === "string"
        ? value.replace("#/components/schemas/", "https://llmworkflow.contract/schemas#/$defs/")
        : rewriteRefs(value);
    }
    return copy;
  }
  return node;
}

/** Every event has an id, a type and a JSON object as data; at most one terminal event, and it comes last. */
export function parseEvents(text: string): { id?: string; event?: string; data: string }[] {
  return text.split(/\n\n/).filter(block => block.trim().length > 0).map(block => {
    const event: { id?: string; event?: string; data: string } = { data: "" };
    for (const line of block.split("\n")) {
      const colon = line.indexOf(":");
      const field = line.slice(0, colon), value = line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") event.id = value;
      else if (field === "event") event.event = value;
      else if (field === "data") event.data += (event.data ? "\n" : "") + value;
    }
    return event;
  });
}

export const terminalEvents = new Set(["run_completed", "run_failed", "cancelled"]);

function checkEventStream(text: string): string | undefined {
  const events = parseEvents(text);
  if (events.length === 0) return "the event stream is empty";
  for (const [index, event] of events.entries()) {
    if (!event.id) return `event ${index} (${event.event}) has no id`;
    if (!event.event) return `event ${index} has no type`;
    const data = JSON.parse(event.data);
    if (typeof data !== "object" || data === null || data.type !== event.event) return `event ${index}: data.type is not '${event.event}'`;
    if (terminalEvents.has(event.event) && index !== events.length - 1) return `terminal event ${event.event} is not the last`;
  }
  return undefined;
}
