// (d) The `eventsource` package (the WHATWG EventSource for Node) on a finished job and on a resumed live stream:
// every event arrives once, the terminal event once, and the reconnect after it gets 204, which ends the retries.
import { EventSource, type FetchLike } from "eventsource";
import { callerKey, serviceUrl } from "./env.ts";
import { parseEvents, terminalEvents } from "./contract-recorder.ts";

const eventTypes = ["run_started", "step_started", "step_completed", "llm_delta", "llm_call_completed", "run_completed", "run_failed", "cancelled"];

interface Session {
  events: { id: string; type: string }[];
  statuses: number[];
  closedAfterMs: number;
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function submit(): Promise<string> {
  const response = await fetch(`${serviceUrl}/api/v1/workflow`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-API-Key": callerKey },
    body: JSON.stringify({ workflow_name: "trip_briefing", input_data: { traveler: "Ada", destination: "Porto", start_date: "2026-06-01", days: 2, interests: ["food"] } }),
  });
  check(response.status === 202, `submit answered ${response.status}`);
  return ((await response.json()) as { job_id: string }).job_id;
}

async function waitFinished(jobId: string) {
  for (const deadline = Date.now() + 90_000; Date.now() < deadline;) {
    const status = (await (await fetch(`${serviceUrl}/api/v1/status/${jobId}`, { headers: { "X-API-Key": callerKey } })).json()) as { status: string };
    if (["completed", "failed", "cancelled"].includes(status.status)) return status.status;
    await new Promise(resolve => setTimeout(resolve, 200));
  }
  throw new Error(`job ${jobId} did not finish`);
}

/**
 * Follows a job's events with EventSource until the library gives up by itself (readyState CLOSED) or
 * <stopAfter> events arrived. The key goes in a header through the fetch option; <resumeFrom> is sent as
 * Last-Event-ID on the first request, as a browser does after a page reload that kept the id.
 */
function follow(jobId: string, options: { resumeFrom?: string; stopAfter?: number; timeoutMs: number }): Promise<Session> {
  const session: Session = { events: [], statuses: [], closedAfterMs: 0 };
  const started = Date.now();
  const fetchWithKey: FetchLike = async (url, init) => {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>), "X-API-Key": callerKey };
    if (options.resumeFrom && session.statuses.length === 0) headers["Last-Event-ID"] = options.resumeFrom;
    const response = await fetch(url, { ...init, headers });
    session.statuses.push(response.status);
    return response;
  };
  return new Promise((resolve, reject) => {
    const source = new EventSource(`${serviceUrl}/api/v1/jobs/${jobId}/events`, { fetch: fetchWithKey });
    const timer = setTimeout(() => {
      source.close();
      reject(new Error(`EventSource still ${source.readyState} after ${options.timeoutMs} ms; statuses ${session.statuses.join(",")}, ${session.events.length} events`));
    }, options.timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      source.close();
      session.closedAfterMs = Date.now() - started;
      resolve(session);
    };
    for (const type of eventTypes) {
      source.addEventListener(type, event => {
        session.events.push({ id: event.lastEventId, type });
        if (options.stopAfter !== undefined && session.events.length >= options.stopAfter) finish();
      });
    }
    source.addEventListener("error", () => {
      if (source.readyState === source.CLOSED) finish();
    });
  });
}

function checkOnce(events: { id: string; type: string }[], label: string) {
  const ids = events.map(e => e.id);
  check(ids.every(id => id.length > 0), `${label}: an event came without an id`);
  check(new Set(ids).size === ids.length, `${label}: duplicate events ${ids.join(",")}`);
  const terminal = events.filter(e => terminalEvents.has(e.type));
  check(terminal.length === 1, `${label}: ${terminal.length} terminal events (${terminal.map(e => e.type).join(",")})`);
  check(terminalEvents.has(events.at(-1)!.type), `${label}: the terminal event is not the last`);
}

// 1. A finished job: the whole stream once, then the automatic reconnect is answered 204 and EventSource stops.
const finishedJob = await submit();
check((await waitFinished(finishedJob)) === "completed", "the job completed");
const finished = await follow(finishedJob, { timeoutMs: 30_000 });
checkOnce(finished.events, "finished job");
check(finished.statuses.join(",") === "200,204", `finished job: expected one 200 then one 204, got ${finished.statuses.join(",")}`);

// 2. A live job followed for two events, then resumed from the last id seen: together they are the whole stream.
const liveJob = await submit();
const first = await follow(liveJob, { stopAfter: 2, timeoutMs: 60_000 });
const resumed = await follow(liveJob, { resumeFrom: first.events.at(-1)!.id, timeoutMs: 90_000 });
const together = [...first.events, ...resumed.events];
checkOnce(together, "resumed stream");
check(resumed.statuses.at(-1) === 204, `resumed stream: the last answer was ${resumed.statuses.at(-1)}, not 204`);
const whole = parseEvents(await (await fetch(`${serviceUrl}/api/v1/jobs/${liveJob}/events`, { headers: { "X-API-Key": callerKey } })).text());
check(JSON.stringify(whole.map(e => e.id)) === JSON.stringify(together.map(e => e.id)),
  `resumed stream: ${together.length} events seen, ${whole.length} in the stream`);

// 3. Resuming at the terminal event of a finished job: 204 straight away, no event.
const atEnd = await follow(finishedJob, { resumeFrom: finished.events.at(-1)!.id, timeoutMs: 30_000 });
check(atEnd.events.length === 0 && atEnd.statuses.join(",") === "204", `resume at the end: ${atEnd.events.length} events, statuses ${atEnd.statuses.join(",")}`);

console.log(`eventsource: finished job ${finished.events.length} events then 204 after ${finished.closedAfterMs} ms; ` +
  `live job ${first.events.length}+${resumed.events.length} events (statuses ${first.statuses.join(",")} / ${resumed.statuses.join(",")}), no duplicates, one terminal event`);
