// graphql-sse (GraphQL over Server-Sent Events): one query, then one predictMatch
// subscription followed until the server completes it, in either mode.
// Usage: node sse-client.mjs <http://host:port/graphql/stream> <distinct|single> [match-id]
//        (env API_KEY)
// Prints one JSON line: {query, matchId, statuses, last, completed} or {error}.
import { createClient } from 'graphql-sse';

import { describe, queryThenFollow } from './common.mjs';

const url = process.argv[2];
const mode = process.argv[3];
if (!url || !['distinct', 'single'].includes(mode)) {
  console.error('usage: node sse-client.mjs <http://host:port/graphql/stream> <distinct|single> [match-id]');
  process.exit(2);
}
const given = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
const apiKey = process.env.API_KEY || undefined;
const timeoutMs = Number(process.env.TIMEOUT_MS ?? 60000);
const client = createClient({
  url,
  singleConnection: mode === 'single',
  headers: apiKey ? { 'X-API-Key': apiKey } : {},
  retryAttempts: 0,
});

/** A failed HTTP request (graphql-sse's errors carry the response) with its status. */
function describeError(error) {
  const described = describe(error);
  if (error?.response) described.status = error.response.status;
  return described;
}

let exitCode = 1;
try {
  exitCode = await queryThenFollow(client, { given, timeoutMs, describeError });
} finally {
  client.dispose();
}
process.exit(exitCode);
