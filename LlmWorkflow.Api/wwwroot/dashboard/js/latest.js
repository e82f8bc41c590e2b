// Latest request wins: a view that reloads when the user changes something must show the answer to the newest
// request only. Without this, a slow answer to an older choice (30 days) can arrive after the newer one (7 days)
// and overwrite it, leaving the old figures under the new label.

/**
 * Returns a tracker whose begin() starts a new request: it aborts the previous one and hands back the new
 * request's signal and an isLatest() check to call after every await, before touching the page.
 */
export function latestRequest() {
  let current = null;
  return {
    begin() {
      current?.abort();
      const mine = new AbortController();
      current = mine;
      return { signal: mine.signal, isLatest: () => current === mine && !mine.signal.aborted };
    },
    /** Aborts the request in flight (when the view is left). */
    cancel() {
      current?.abort();
      current = null;
    },
  };
}
