// The one API client: cookie session, the CSRF header on every write, errors turned into ApiError.
export class ApiError extends Error {
  constructor(status, code, message, field, extra) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.field = field || null;
    this.extra = extra || {};
  }
  // The server answers this for a path it does not route yet (an endpoint of a later issue).
  get missingEndpoint() {
    return this.status === 404 && this.code === 'not_found' && /no such endpoint/i.test(this.message);
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

function cookie(name) {
  const m = document.cookie.match(new RegExp('(?:^|; )' + name + '=([^;]*)'));
  return m ? decodeURIComponent(m[1]) : '';
}

function query(params) {
  if (!params) return '';
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export async function request(method, path, { body, params, version } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = cookie('dm_csrf');
  if (version !== undefined && version !== null) headers['If-Match'] = String(version);
  let res;
  try {
    res = await fetch('/api/v1' + path + query(params), {
      method, headers, credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, 'network', e.message);
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const { code, message, field, ...extra } = err;
    const e = new ApiError(res.status, code || 'http_' + res.status, message || res.statusText, field, extra);
    if (res.status === 401 && path !== '/auth/login') onUnauthorized(e);
    throw e;
  }
  return data;
}

export const api = {
  get: (path, params) => request('GET', path, { params }),
  post: (path, body, params) => request('POST', path, { body: body ?? {}, params }),
  patch: (path, body, version) => request('PATCH', path, { body, version }),
  put: (path, body) => request('PUT', path, { body }),
  del: (path) => request('DELETE', path),
  // Every page of a list (for boards and pickers); stops at `max` items.
  async all(path, params = {}, max = 5000) {
    const items = [];
    let cursor;
    do {
      const page = await request('GET', path, { params: { ...params, limit: 500, cursor } });
      items.push(...(page.items || []));
      cursor = page.next;
    } while (cursor && items.length < max);
    return items;
  },
};
