// The dashboard's only way to the server: fetch with the API key (when one
// is set), a per-tab client id (so the change feed can tell this tab's own
// writes apart), and errors turned into ApiError with the server's code.

const KEY_STORAGE = 'nodespace.api_key';

export const clientId =
  'dash-' + (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2));

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

let keyListeners = [];
export function onKeyRequired(fn) {
  keyListeners.push(fn);
  return () => (keyListeners = keyListeners.filter((f) => f !== fn));
}

export function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || '';
}
export function setApiKey(key) {
  if (key) localStorage.setItem(KEY_STORAGE, key);
  else localStorage.removeItem(KEY_STORAGE);
}

function headers(extra = {}) {
  const h = { 'X-Client-Id': clientId, ...extra };
  const key = apiKey();
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}

async function toError(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  const e = body && body.error;
  if (res.status === 401) keyListeners.forEach((fn) => fn());
  return new ApiError(
    res.status,
    e ? e.code : 'http_' + res.status,
    e ? e.message : res.statusText || 'request failed',
    e ? e.details : {},
  );
}

// JSON request; resolves to { body, etag, status }.
export async function request(method, path, { body, ifMatch, raw, contentType } = {}) {
  const h = headers();
  if (body !== undefined && !raw) h['Content-Type'] = 'application/json';
  if (contentType) h['Content-Type'] = contentType;
  if (ifMatch !== undefined) h['If-Match'] = '"' + ifMatch + '"';
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, 'network', 'the server cannot be reached (' + err.message + ')');
  }
  if (!res.ok) throw await toError(res);
  const text = await res.text();
  return {
    status: res.status,
    etag: (res.headers.get('ETag') || '').replaceAll('"', ''),
    body: text ? JSON.parse(text) : null,
  };
}

export const get = (path) => request('GET', path).then((r) => r.body);
export const post = (path, body) => request('POST', path, { body }).then((r) => r.body);

// Server-sent events over fetch (EventSource cannot send the API key).
// Calls onEvent({id, event, data}) per event; returns a function that stops.
export function subscribe(path, onEvent, onState = () => {}) {
  const controller = new AbortController();
  let lastId = '';
  let stopped = false;
  async function run() {
    while (!stopped) {
      try {
        const h = headers({ Accept: 'text/event-stream' });
        if (lastId) h['Last-Event-ID'] = lastId;
        const res = await fetch(path, { headers: h, signal: controller.signal });
        if (!res.ok) throw await toError(res);
        onState('live');
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const ev = { id: '', event: 'message', data: '' };
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) continue;
              const colon = line.indexOf(':');
              const field = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
              if (field === 'id') ev.id = value;
              else if (field === 'event') ev.event = value;
              else if (field === 'data') ev.data += (ev.data ? '\n' : '') + value;
            }
            if (ev.id) lastId = ev.id;
            if (ev.data) {
              try {
                onEvent({ ...ev, data: JSON.parse(ev.data) });
              } catch {
                onEvent(ev);
              }
            }
          }
        }
      } catch (err) {
        if (stopped) return;
        onState(err.status === 401 ? 'unauthorized' : 'reconnecting');
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  }
  run();
  return () => {
    stopped = true;
    controller.abort();
  };
}

// Polls a task until it finishes; onProgress gets every snapshot.
export async function waitForTask(id, onProgress, intervalMs = 500) {
  for (;;) {
    const t = await get('/v1/tasks/' + encodeURIComponent(id));
    onProgress(t);
    if (t.state !== 'running') return t;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
