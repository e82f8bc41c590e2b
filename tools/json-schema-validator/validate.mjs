// Usage: node validate.mjs <schema.json> <document.json>
// Prints "valid" and exits 0, or prints Ajv's errors as JSON and exits 1.
import { readFileSync } from "node:fs";
import Ajv from "ajv";

const [schemaPath, documentPath] = process.argv.slice(2);
if (!schemaPath || !documentPath) {
  console.error("usage: node validate.mjs <schema.json> <document.json>");
  process.exit(2);
}

// strict: false - published schemas use keywords Ajv's strict mode flags (e.g. "build": false as a property schema).
const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")));
if (validate(JSON.parse(readFileSync(documentPath, "utf8")))) {
  console.log("valid");
} else {
  console.log(JSON.stringify(validate.errors, null, 2));
  process.exit(1);
}
