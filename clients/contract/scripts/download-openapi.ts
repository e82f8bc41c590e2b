// Saves the live /openapi/v1.json to OUT_DIR/openapi.json for the linter and the client generator.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { outDir, serviceUrl } from "./env.ts";

const response = await fetch(`${serviceUrl}/openapi/v1.json`);
if (!response.ok) throw new Error(`GET /openapi/v1.json answered ${response.status}`);
const text = await response.text();
writeFileSync(join(outDir, "openapi.json"), text);
console.log(`openapi.json: ${text.length} bytes, ${Object.keys(JSON.parse(text).paths).length} paths`);
