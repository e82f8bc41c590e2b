// What the browser gives document 004's main-app snippets (../seeds/generate-project-client.ts): a fetch and an
// EventSource whose relative URLs ('/start', '/events/stream?...') resolve against the project generator's base URL,
// the service's /generator, with the caller's key on every request (a 004 client changes only its base URL and adds
// the key). EventSource is the WHATWG one of the `eventsource` package; the key goes in a header through its fetch option.
import { EventSource as WhatwgEventSource, type FetchLike } from "eventsource";
import { callerKey, serviceUrl } from "./env.ts";

export const generatorBaseUrl = `${serviceUrl}/generator`;

export function fetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("X-API-Key", callerKey);
  return globalThis.fetch(`${generatorBaseUrl}${path}`, { ...init, headers });
}

const fetchWithKey: FetchLike = (url, init) =>
  globalThis.fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), "X-API-Key": callerKey } });

export class EventSource extends WhatwgEventSource {
  constructor(path: string) {
    super(`${generatorBaseUrl}${path}`, { fetch: fetchWithKey });
  }
}
