// routeHandler: HEAD answers the GET's status and headers without a body, and lets go of a streamed body.

import { Readable } from 'node:stream';

import { HttpRequest, InvocationContext } from '@azure/functions';

import { routeHandler } from '../../src/http/handle';
import { API_ROUTES } from '../../src/http/routes';

function streamed(): { body: Readable; chunksRead: () => number } {
  let read = 0;
  const body = Readable.from(
    (function* () {
      for (let i = 0; i < 1000; i++) {
        read += 1;
        yield Buffer.from(`chunk ${i}\n`);
      }
    })(),
    { objectMode: false },
  );
  return { body, chunksRead: () => read };
}

async function call(method: string, body: Readable) {
  const handler = routeHandler(API_ROUTES.health, { appServiceAuthEnabled: false }, () =>
    Promise.resolve({ status: 200, headers: { 'Content-Type': 'text/plain' }, body }),
  );
  const request = new HttpRequest({ method, url: 'https://host.example/api/health' });
  return handler(request, new InvocationContext({ functionName: 'test', invocationId: 'test' }));
}

test('HEAD answers the status and headers without a body, and destroys the streamed body unread', async () => {
  const { body, chunksRead } = streamed();
  const response = await call('HEAD', body);
  expect(response.status).toBe(200);
  expect((response as { body?: unknown }).body).toBeUndefined();
  expect(body.destroyed).toBe(true);
  expect(chunksRead()).toBe(0);
});

test('GET keeps the streamed body for the host to send', async () => {
  const { body } = streamed();
  const response = await call('GET', body);
  expect((response as { body?: unknown }).body).toBe(body);
  expect(body.destroyed).toBe(false);
  body.destroy();
});
