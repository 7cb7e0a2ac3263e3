// The serve command's last line: an unhandled rejection is logged (sanitized) instead of ending the process.

import { guardUnhandledRejections } from '../../src/cli/guardUnhandledRejections';

it('logs an unhandled rejection, sanitized, until it is removed', () => {
  const lines: string[] = [];
  const before = process.listenerCount('unhandledRejection');
  const unguard = guardUnhandledRejections((line) => lines.push(line));
  expect(process.listenerCount('unhandledRejection')).toBe(before + 1);
  const reason = new Error('storage said no: AccountKey=c2VjcmV0;');
  // Emitted directly: the listeners run as they would for a real unhandled rejection.
  process.emit('unhandledRejection', reason, Promise.resolve());
  expect(lines).toEqual([
    'Unhandled promise rejection (the server keeps running; please report it): Error: storage said no: AccountKey=***;',
  ]);
  unguard();
  expect(process.listenerCount('unhandledRejection')).toBe(before);
});
