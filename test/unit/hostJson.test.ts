// host.json: the queue trigger settings the pipeline relies on, each present once.
// JSON.parse keeps the last of two equal keys, so a second "extensions" object would silently drop the first;
// these checks read the parsed file and fail when either half is lost.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface HostJson {
  functionTimeout?: string;
  extensions?: {
    queues?: {
      visibilityTimeout?: string;
      maxDequeueCount?: number;
      batchSize?: number;
      newBatchThreshold?: number;
    };
  };
}

const text = readFileSync(join(__dirname, '..', '..', 'host.json'), 'utf8');
const host = JSON.parse(text) as HostJson;

test('host.json declares each top-level key once', () => {
  const topLevelKeys = [...text.matchAll(/^ {2}"([^"]+)":/gm)].map((m) => m[1]);
  expect(topLevelKeys).toEqual([...new Set(topLevelKeys)]);
});

test('queue retries are spaced and bounded (a storage outage outlives neither)', () => {
  expect(host.extensions?.queues?.visibilityTimeout).toBe('00:00:30');
  expect(host.extensions?.queues?.maxDequeueCount).toBe(5);
});

test('an instance takes one queue message at a time, so its memory is one shard', () => {
  expect(host.extensions?.queues?.batchSize).toBe(1);
  expect(host.extensions?.queues?.newBatchThreshold).toBe(0);
});

test('an audit has the 30-minute function timeout', () => {
  expect(host.functionTimeout).toBe('00:30:00');
});
