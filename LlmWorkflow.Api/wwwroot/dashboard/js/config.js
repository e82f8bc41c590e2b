// The dashboard's settings from the API (GET /admin/dashboard/config), read once per page load.
import { api } from './api.js';

let config;

/** {aspire_dashboard_url: string|null}; an API without the route (or any error) means no settings. */
export function dashboardConfig() {
  config ??= api('/admin/dashboard/config')
    .then(({ data }) => ({ aspire_dashboard_url: data?.aspire_dashboard_url ?? null }))
    .catch(() => ({ aspire_dashboard_url: null }));
  return config;
}

/** The Aspire dashboard's page of a trace, or null without a configured URL or a valid W3C trace id. */
export function traceUrl(base, traceId) {
  return base && /^[0-9a-f]{32}$/.test(traceId ?? '') ? `${base}/traces/detail/${traceId}` : null;
}
