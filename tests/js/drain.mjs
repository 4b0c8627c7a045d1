// Graceful drain, seen by the reference clients: one `dataUpdated` subscription through
// replica A; when A drains (the test sends it SIGTERM after our `ready` line), the client,
// with its own retry options, reconnects to replica B (the `url` function plays the load
// balancer that dropped A) and goes on receiving.
// Usage: node drain.mjs <ws|sse-distinct|sse-single> <http://A/graphql> <http://B/graphql>
// Prints JSON lines: {ready} once A sent a result, then {results, closes, urls} or {error}.
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';

import { WebSocketImpl, describe, print, within } from './common.mjs';

const [mode, first, second] = process.argv.slice(2);
if (!['ws', 'sse-distinct', 'sse-single'].includes(mode) || !first || !second) {
  console.error('usage: node drain.mjs <ws|sse-distinct|sse-single> <url-A> <url-B>');
  process.exit(2);
}
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 60000);
const SUBSCRIPTION = 'subscription { dataUpdated { dataVersion } }';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let connects = 0;
let current = null;
const urls = [];
/** A at first, B for every reconnect: A is gone from the load balancer once it drains. */
function next(base) {
  current = connects++ === 0 ? base(first) : base(second);
  urls.push(current);
  return current;
}

const closes = [];
let client;
if (mode === 'ws') {
  client = createWsClient({
    url: () => next((url) => url.replace(/^http/, 'ws')),
    webSocketImpl: WebSocketImpl,
    lazy: true,
    retryAttempts: 5,
    retryWait: () => sleep(200), // the default waits 1 s and more, doubling
    on: { closed: (event) => closes.push({ code: event.code, reason: String(event.reason) }) },
  });
} else {
  client = createSseClient({
    url: () => next((url) => `${url}/stream`),
    singleConnection: mode === 'sse-single',
    retryAttempts: 5,
    retry: () => sleep(200),
  });
}

const results = [];
let readySent = false;
const followed = new Promise((resolve, reject) => {
  client.subscribe(
    { query: SUBSCRIPTION },
    {
      next: (result) => {
        results.push({ url: current, result });
        if (!readySent) {
          readySent = true;
          print({ ready: true });
        }
        if (current !== urls[0] && result.data) resolve();
      },
      error: reject,
      complete: () => reject(new Error('completed: the client will not reconnect')),
    },
  );
});

let exitCode = 1;
try {
  await within(timeoutMs, followed, 'a result from the second replica');
  print({ results, closes, urls });
  exitCode = 0;
} catch (error) {
  print({ error: describe(error), results, closes, urls });
} finally {
  client.dispose();
}
process.exit(exitCode);
