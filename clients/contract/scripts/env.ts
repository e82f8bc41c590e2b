// Settings the xunit ContractTests pass to every script.
import { mkdirSync } from "node:fs";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the scripts are run by LlmWorkflow.Tests/Contract/ContractTests).`);
  return value;
}

export const serviceUrl = required("LLM_SERVICE_URL");
export const callerKey = required("LLM_SERVICE_API_SECRET");
export const adminKey = required("LLM_ADMIN_KEY");
export const webhookSecret = required("LLM_WEBHOOK_SECRET");
export const receiverPort = Number(required("WEBHOOK_RECEIVER_PORT"));
export const browserOrigin = required("BROWSER_ORIGIN");
export const outDir = required("OUT_DIR");
mkdirSync(outDir, { recursive: true });
