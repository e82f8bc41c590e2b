// Generates LlmWorkflow.Client/Generated/*.g.cs from the service's OpenAPI document: a record per schema, a method
// per operation and the route table. Called by clients/typescript/scripts/generate.mjs (`npm run generate` there
// regenerates both clients); no dependencies beyond Node. Schemas that LlmWorkflow.Contracts already defines (the
// wire records the service itself serializes) are reused, not generated.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const dotnetGeneratedDir = join(dirname(fileURLToPath(import.meta.url)), "LlmWorkflow.Client", "Generated");

/** Schemas the service serializes from LlmWorkflow.Contracts records: the client reads them with the same types. */
const contractsTypes = new Set([
  "JobStatusResponse", "JobStepResponse", "JobProgress", "JobWait", "JobAttemptSummary", "JobForkLink", "JobForkSummary",
  "JobCostBreakdown", "JobReusedStep",
]);

/** Operations served by a hand-written method. */
const handWritten = {
  StreamJobEvents: { method: "EventsAsync", reason: "Server-Sent Events: EventsAsync (resumable IAsyncEnumerable)" },
};

/** Why an operation gets no generated method, from what it answers; null when it gets one. */
function notGenerated(operation) {
  const special = handWritten[operation.operationId];
  if (special) return special;
  const answers = Object.entries(operation.responses ?? {}).filter(([code]) => code.startsWith("2")).flatMap(([, r]) => Object.keys(r.content ?? {}));
  const bodies = Object.keys(operation.requestBody?.content ?? {});
  if (answers.includes("text/event-stream")) return { method: null, reason: "a Server-Sent Events stream: read it with SseParser as EventsAsync does" };
  if (answers.includes("text/html") || bodies.includes("application/x-www-form-urlencoded")) {
    return { method: null, reason: "an HTML page or form for people, not an API for apps" };
  }
  return null;
}

/** The operation's method name: its operationId, or the HTTP method and path when it has none. */
const operationName = (method, path, operation) =>
  operation.operationId ? pascal(operation.operationId) : pascal(`${method} ${path.replace(/[{}]/g, "")}`.replace(/\//g, " "));

const keywords = new Set(["event", "object", "string", "class", "params", "base", "operator", "checked", "fixed", "lock", "out", "ref", "default"]);
const pascal = s => s.replace(/(^|[_\-\s.])([a-zA-Z0-9])/g, (_, __, c) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, "");
const identifier = s => (/^[0-9]/.test(s) ? `_${s}` : s);
const camel = s => { const p = identifier(pascal(s)); const c = p[0].toLowerCase() + p.slice(1); return keywords.has(c) ? `@${c}` : c; };
const refName = ref => ref.split("/").at(-1);
const doc = text => (text ?? "").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\s+/g, " ").trim();

function kindOf(schemas, name) {
  const schema = schemas[name];
  if (contractsTypes.has(name)) return "contracts";
  if (name === "JsonObject") return "jsonobject";
  if (schema?.enum) return "enum";
  if (propertiesOf(schemas, schema)) return "record";
  return "json";
}

/** The schema's properties and required names, allOf parts merged; null when it is not an object with properties. */
function propertiesOf(schemas, schema) {
  if (!schema) return null;
  if (schema.allOf) {
    const merged = { properties: {}, required: [] };
    for (const part of schema.allOf) {
      const resolved = part.$ref ? schemas[refName(part.$ref)] : part;
      const inner = propertiesOf(schemas, resolved);
      if (inner) { Object.assign(merged.properties, inner.properties); merged.required.push(...inner.required); }
    }
    return merged;
  }
  return schema.properties ? { properties: schema.properties, required: schema.required ?? [] } : null;
}

/** The C# type of a schema and whether JSON null is allowed. */
function typeOf(schemas, schema) {
  if (!schema || Object.keys(schema).filter(k => k !== "description").length === 0) return { type: "JsonNode", nullable: true };
  if (schema.$ref) {
    const name = refName(schema.$ref);
    switch (kindOf(schemas, name)) {
      case "contracts": return { type: `global::LlmWorkflow.Contracts.${name}`, nullable: false };
      case "jsonobject": return { type: "JsonObject", nullable: false };
      case "enum": return { type: "string", nullable: false };
      case "json": return { type: "JsonNode", nullable: true };
      default: return { type: name, nullable: false };
    }
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) {
    const rest = alternatives.filter(a => a.type !== "null");
    const inner = rest.length === 1 ? typeOf(schemas, rest[0]) : { type: "JsonNode", nullable: true };
    return { type: inner.type, nullable: rest.length < alternatives.length || inner.nullable };
  }
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const nullable = types.includes("null");
  const main = types.filter(t => t !== "null");
  if (main.length !== 1) return { type: "JsonNode", nullable: true };
  switch (main[0]) {
    case "string":
      if (schema.format === "uuid") return { type: "Guid", nullable };
      if (schema.format === "date-time") return { type: "DateTimeOffset", nullable };
      return { type: "string", nullable };
    case "integer": return { type: schema.format === "int64" ? "long" : "int", nullable };
    case "number": return { type: "double", nullable };
    case "boolean": return { type: "bool", nullable };
    case "array": return { type: `IReadOnlyList<${render(typeOf(schemas, schema.items))}>`, nullable };
    case "object":
      if (schema.additionalProperties && Object.keys(schema.additionalProperties).length > 0) {
        return { type: `IReadOnlyDictionary<string, ${render(typeOf(schemas, schema.additionalProperties))}>`, nullable };
      }
      return { type: "JsonObject", nullable };
    default: return { type: "JsonNode", nullable: true };
  }
}

const render = t => (t.nullable && !t.type.endsWith("?") ? `${t.type}?` : t.type);

function recordSource(schemas, name) {
  const { properties, required } = propertiesOf(schemas, schemas[name]);
  const lines = [];
  if (schemas[name].description) lines.push(`/// <summary>${doc(schemas[name].description)}</summary>`);
  lines.push(`public sealed record ${name}`, "{");
  const used = new Set([name]);
  for (const [json, schema] of Object.entries(properties)) {
    const t = typeOf(schemas, schema);
    const isRequired = required.includes(json);
    let property = identifier(pascal(json));
    while (used.has(property)) property += "Value";
    used.add(property);
    const nullable = t.nullable || !isRequired;
    const csType = render({ type: t.type, nullable });
    if (schema.description) lines.push(`    /// <summary>${doc(schema.description)}</summary>`);
    lines.push(`    [JsonPropertyName("${json}")]`);
    lines.push(`    public ${isRequired && !nullable ? "required " : ""}${csType} ${property} { get; init; }`, "");
  }
  if (lines.at(-1) === "") lines.pop();
  lines.push("}", "");
  return lines.join("\n");
}

function enumSource(schemas, name) {
  const schema = schemas[name];
  const lines = [`/// <summary>The values of ${name}${schema.description ? `: ${doc(schema.description)}` : ""}</summary>`, `public static class ${name}Values`, "{"];
  for (const value of schema.enum) lines.push(`    public const string ${pascal(String(value))} = "${value}";`);
  lines.push("", `    public static IReadOnlyList<string> All { get; } = [${schema.enum.map(v => `"${v}"`).join(", ")}];`, "}", "");
  return lines.join("\n");
}

const methods = ["get", "put", "post", "delete", "patch"];

function operationsOf(document) {
  const list = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of methods) if (item[method]) list.push({ path, method, operation: item[method] });
  }
  return list.sort((a, b) => `${a.path} ${a.method}`.localeCompare(`${b.path} ${b.method}`));
}

function responseOf(schemas, operation) {
  for (const [code, response] of Object.entries(operation.responses ?? {})) {
    if (!code.startsWith("2")) continue;
    const content = response.content ?? {};
    if (content["application/json"]) return { kind: "json", type: render(typeOf(schemas, content["application/json"].schema)) };
    if (content["text/plain"]) return { kind: "text", type: "string" };
  }
  return { kind: "none" };
}

function methodSource(schemas, { path, method, operation }) {
  const id = operationName(method, path, operation);
  const parameters = operation.parameters ?? [];
  const response = responseOf(schemas, operation);
  const args = [], pathArgs = {}, query = [], headers = [];
  for (const p of parameters.filter(p => p.in === "path")) {
    const t = typeOf(schemas, p.schema);
    args.push(`${t.type} ${camel(p.name)}`);
    pathArgs[p.name] = camel(p.name);
  }
  const body = operation.requestBody?.content?.["application/json"];
  if (body) {
    const t = typeOf(schemas, body.schema);
    args.push(operation.requestBody.required ? `${t.type} body` : `${render({ type: t.type, nullable: true })} body = null`);
  }
  for (const p of parameters.filter(p => p.in === "query" || p.in === "header")) {
    const t = typeOf(schemas, p.schema);
    const name = camel(p.name);
    args.push(`${render({ type: t.type, nullable: true })} ${name} = null`);
    (p.in === "query" ? query : headers).push([p.name, name]);
  }
  args.push("CancellationToken cancellationToken = default");
  const template = path.replace(/\{([^}]+)\}/g, (_, name) => `{Escape(${pathArgs[name]})}`);
  const returns = response.kind === "none" ? "Task" : `Task<${response.type}>`;
  const call = response.kind === "json" ? `SendForJsonAsync<${response.type}>` : response.kind === "text" ? "SendForTextAsync" : "SendAsync";
  const lines = [];
  lines.push(`    /// <summary>${doc(operation.summary ?? id)} (<c>${method.toUpperCase()} ${doc(path)}</c>).</summary>`);
  lines.push(`    public ${returns} ${id}Async(${args.join(", ")}) =>`);
  lines.push(`        ${call}(HttpMethod.${pascal(method)}, $"${template}",`);
  lines.push(`            query: [${query.map(([json, name]) => `("${json}", Format(${name}))`).join(", ")}],`);
  lines.push(`            headers: [${headers.map(([json, name]) => `("${json}", Format(${name}))`).join(", ")}],`);
  lines.push(`            body: ${body ? "body" : "null"}, cancellationToken);`);
  lines.push("");
  return lines.join("\n");
}

const header = [
  "// <auto-generated>",
  "// Generated by clients/dotnet/generate.mjs from the service's OpenAPI document: do not edit; run `npm run generate`",
  "// in clients/typescript (it regenerates both clients).",
  "// </auto-generated>",
  "#nullable enable",
  "#pragma warning disable CS1591 // generated members without a description",
  "",
];

/** The generated files (name → text) for a document. */
export function generateDotnet(document) {
  const schemas = document.components?.schemas ?? {};
  const names = Object.keys(schemas).sort();

  const models = [...header, "using System.Text.Json.Nodes;", "using System.Text.Json.Serialization;", "", "namespace LlmWorkflow.Client;", ""];
  for (const name of names) {
    const kind = kindOf(schemas, name);
    if (kind === "record") models.push(recordSource(schemas, name));
    if (kind === "enum") models.push(enumSource(schemas, name));
  }

  const operations = operationsOf(document);
  const client = [...header, "using System.Text.Json.Nodes;", "", "namespace LlmWorkflow.Client;", "", "public partial class LlmWorkflowClient", "{"];
  for (const op of operations) if (!notGenerated(op.operation)) client.push(methodSource(schemas, op));
  if (client.at(-1) === "") client.pop();
  client.push("}", "");

  const routes = [...header, "namespace LlmWorkflow.Client;", "", "public static partial class LlmWorkflowRoutes", "{",
    "    /// <summary>Every operation of the OpenAPI document the client was generated from, with the method that calls it.</summary>",
    "    public static IReadOnlyList<LlmWorkflowRoute> All { get; } =", "    ["];
  for (const { path, method, operation } of operations) {
    const id = operationName(method, path, operation);
    const special = notGenerated(operation);
    const clientMethod = special ? (special.method ? `nameof(LlmWorkflowClient.${special.method})` : "null") : `nameof(LlmWorkflowClient.${id}Async)`;
    const reason = special ? `"${special.reason}"` : "null";
    routes.push(`        new("${method.toUpperCase()}", "${path}", "${id}", ${clientMethod}, ${reason}),`);
  }
  routes.push("    ];", "", "    /// <summary>Each schema of that document and the .NET type the client reads it as (null: a string enum or free JSON).</summary>",
    "    public static IReadOnlyDictionary<string, Type?> Schemas { get; } = new Dictionary<string, Type?>", "    {");
  for (const name of names) {
    const kind = kindOf(schemas, name);
    const type = kind === "record" ? `typeof(${name})` : kind === "contracts" ? `typeof(global::LlmWorkflow.Contracts.${name})` : "null";
    routes.push(`        ["${name}"] = ${type},`);
  }
  routes.push("    };", "}", "");

  return {
    "Models.g.cs": models.join("\n"),
    "LlmWorkflowClient.g.cs": client.join("\n"),
    "LlmWorkflowRoutes.g.cs": routes.join("\n"),
  };
}
