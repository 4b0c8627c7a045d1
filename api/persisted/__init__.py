"""Persisted documents: automatic persisted queries (Apollo's protocol, registrations
shared through Redis) and trusted documents (a manifest; MATCHGRAPH_PERSISTED_ONLY).

protocol: how a request names a document, and the errors; manifest: the trusted
documents file; registry: APQ registrations (Redis + LRU); documents: the rules
and what the process knows; http: the view's step for `/graphql`; extension: the
schema-level check every transport goes through, and registration.
"""
