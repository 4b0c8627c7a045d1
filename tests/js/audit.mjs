// graphql-http's GraphQL-over-HTTP server audit against a running matchgraph API.
// Usage: node audit.mjs <http-url-of-/graphql> [api-key]   (or GRAPHQL_URL / API_KEY)
// Prints one JSON line: counts per level (MUST/SHOULD/MAY) and every failure.
import { auditServer } from 'graphql-http';

const url = process.argv[2] ?? process.env.GRAPHQL_URL;
const apiKey = process.argv[3] ?? process.env.API_KEY;
if (!url) {
  console.error('usage: node audit.mjs <url> [api-key]');
  process.exit(2);
}

const fetchFn = apiKey
  ? (input, init = {}) => {
      const headers = new Headers(init.headers);
      headers.set('X-API-Key', apiKey);
      return fetch(input, { ...init, headers });
    }
  : fetch;

const results = await auditServer({ url, fetchFn });
const levels = {};
const failures = [];
for (const result of results) {
  const level = result.name.split(' ')[0];
  levels[level] ??= { total: 0, ok: 0, notice: 0, warn: 0, error: 0 };
  levels[level].total += 1;
  levels[level][result.status] += 1;
  if (result.status !== 'ok') {
    let body = null;
    try {
      body = await result.response.text();
    } catch {
      body = null;
    }
    failures.push({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.reason,
      httpStatus: result.response?.status ?? null,
      body: body && body.slice(0, 300),
    });
  }
}
console.log(JSON.stringify({ levels, failures }));
