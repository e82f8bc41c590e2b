// The admin's tenant filter, shared by the jobs, costs and activity views: one choice that survives navigation.
import { api } from './api.js';
import { h, replace, select, field } from './dom.js';

export const tenantState = { tenant: '' };

let tenants;

/** The tenants that have jobs, read once per page load (GET /admin/tenants). */
function loadTenants() {
  tenants ??= api('/admin/tenants').then(({ data }) => data?.tenants ?? []).catch(() => { tenants = undefined; return []; });
  return tenants;
}

/** The tenants that have jobs, as GET /admin/tenants lists them ({ tenant_id, jobs }). */
export const tenantList = () => loadTenants();

/**
 * A labelled "Tenant" select ("All tenants" plus every tenant with jobs); onChange runs after tenantState changes.
 * Returns the field element; the options arrive asynchronously.
 */
export function tenantField(onChange) {
  const control = select({ name: 'tenant_id' }, [['', 'All tenants'], ...(tenantState.tenant ? [tenantState.tenant] : [])], tenantState.tenant);
  control.addEventListener('change', () => { tenantState.tenant = control.value; onChange(); });
  loadTenants().then((list) => {
    const names = new Set(list.map((t) => t.tenant_id));
    if (tenantState.tenant) names.add(tenantState.tenant);
    replace(control, h('option', { value: '' }, 'All tenants'),
      [...names].sort().map((name) => {
        const count = list.find((t) => t.tenant_id === name)?.jobs;
        return h('option', { value: name }, count == null ? name : `${name} (${count})`);
      }));
    control.value = tenantState.tenant;
  });
  return field('Tenant', control);
}

/** Appends tenant_id to URLSearchParams when a tenant is chosen. */
export function withTenant(params) {
  if (tenantState.tenant) params.set('tenant_id', tenantState.tenant);
  return params;
}
