// A last line for a long-running local server: an unexpected promise rejection is logged instead of ending the process.

import { describeError } from '../errors';

/**
 * Logs (sanitized) every promise rejection nobody handled, instead of Node's default of ending the process, for as
 * long as the returned function is not called. Every known cause is handled where it arises (serveHttp answers
 * every request itself); this only keeps a local `serve` answering should a new one appear, and says so loudly.
 */
export function guardUnhandledRejections(log: (line: string) => void): () => void {
  const onRejection = (reason: unknown) => {
    log(`Unhandled promise rejection (the server keeps running; please report it): ${describeError(reason)}`);
  };
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('unhandledRejection', onRejection);
  };
}
