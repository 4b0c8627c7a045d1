"""GraphQL over Server-Sent Events at `/graphql/stream` (the graphql-sse protocol).

`protocol` is the wire format and request parsing, `operations` runs one GraphQL
operation as a sequence of results, `streams` holds event streams and the
reservations of single connection mode, `route` answers the HTTP requests.
"""
