// One change-feed connection per tab (/v1/changes), shared by every view
// that wants live updates.
import { subscribe } from './api.js';

const listeners = new Set();
let stop = null;
let state = 'connecting';
const stateListeners = new Set();

function setState(s) {
  state = s;
  stateListeners.forEach((fn) => fn(s));
}

export function onChange(fn) {
  listeners.add(fn);
  if (!stop) {
    stop = subscribe(
      '/v1/changes',
      (ev) => {
        if (ev.event === 'change') listeners.forEach((l) => l(ev.data));
        if (ev.event === 'reset') listeners.forEach((l) => l({ op: 'reset' }));
      },
      setState,
    );
  }
  return () => listeners.delete(fn);
}

export function onFeedState(fn) {
  stateListeners.add(fn);
  fn(state);
  return () => stateListeners.delete(fn);
}
