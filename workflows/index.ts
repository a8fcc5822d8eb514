// The workflows a worker registers (Temporal bundles this file and what it imports).
export { recordingLifecycle } from './recording-lifecycle';
export { inboxWatcher } from './inbox-watcher';
export { fixitySweep } from './fixity-sweep';
