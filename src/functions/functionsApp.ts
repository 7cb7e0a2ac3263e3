// The Functions host's one App, built from validated settings when the first function module loads.

import { App } from '../app';
import { loadConfig, requireQueue } from '../config';

let instance: App | undefined;

/**
 * Validates every setting on first use (module load of any function): a bad setting, or no pipeline queue,
 * stops the host with a message naming the setting. Every run goes through the AUDIT_QUEUE Storage queue.
 */
export function functionsApp(): App {
  if (!instance) {
    const config = loadConfig(process.env);
    requireQueue(config);
    // Outside an invocation (the completion hook's notes), the host keeps the worker's console output.
    instance = new App(config, { queue: 'storage', log: (message) => console.log(message) });
  }
  return instance;
}
