// Usage: node validate.mjs [--strict] <schema.json> <document.json>...
// Prints "valid" once all documents are, and exits 0; or prints Ajv's errors (per document) as JSON and exits 1.
// --strict compiles the schema in Ajv's strict mode, which also checks the schema itself (a keyword without its type,
// a required property no schema defines) and exits 3 naming the problem.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import Ajv from "ajv";
import Ajv2020 from "ajv/dist/2020.js";

const args = process.argv.slice(2);
const strict = args.includes("--strict");
const [schemaPath, ...documentPaths] = args.filter((arg) => arg !== "--strict");
if (!schemaPath || documentPaths.length === 0) {
  console.error("usage: node validate.mjs [--strict] <schema.json> <document.json>...");
  process.exit(2);
}

const schema = JSON.parse(readFileSync(schemaPath, "utf8"));
const Dialect = String(schema.$schema ?? "").includes("2020-12") ? Ajv2020 : Ajv;
// Without --strict: published schemas (e.g. Aspire's manifest) use keywords strict mode flags ("build": false as a property schema).
let validate;
try {
  validate = new Dialect({ allErrors: true, strict }).compile(schema);
} catch (error) {
  console.log(error.message);
  process.exit(3);
}

const failures = {};
for (const path of documentPaths) {
  if (!validate(JSON.parse(readFileSync(path, "utf8")))) {
    failures[documentPaths.length === 1 ? path : basename(path)] = validate.errors;
  }
}

if (Object.keys(failures).length === 0) {
  console.log("valid");
} else {
  console.log(JSON.stringify(documentPaths.length === 1 ? Object.values(failures)[0] : failures, null, 2));
  process.exit(1);
}
