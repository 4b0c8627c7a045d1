// graphql-ws (graphql-transport-ws protocol): one query, then one predictMatch
// subscription followed until the server completes it.
// Usage: node ws-client.mjs <http://host:port/graphql> [match-id]   (env API_KEY)
// Prints one JSON line: {query, matchId, statuses, last, completed} or {error}.
import { createClient } from 'graphql-ws';

import { WebSocketImpl, args, queryThenFollow } from './common.mjs';

const { wsUrl, matchId: given, apiKey, timeoutMs } = args('ws-client.mjs');
const client = createClient({
  url: wsUrl,
  webSocketImpl: WebSocketImpl,
  connectionParams: apiKey ? { 'X-API-Key': apiKey } : {},
  retryAttempts: 0,
  lazy: true,
});

let exitCode = 1;
try {
  exitCode = await queryThenFollow(client, { given, timeoutMs });
} finally {
  await client.dispose();
}
process.exit(exitCode);
