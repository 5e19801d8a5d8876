"""MongoDB access: one repository per collection, all on pymongo's native async client.

Every write is a single-document atomic operation (upsert keyed by the natural id, `$setOnInsert`,
unique indexes, conditional updates), so nothing needs multi-document transactions — which FerretDB,
used in tests and development, does not have. The commerce repositories return pydantic models,
never raw documents; the `calls` repository returns documents (with `call_sid`), which its readers
project and validate as they need.

Modules: `client` (the process-wide client), `base` (the generic repository), one module per
collection (`customers`, `orders`, `products`, `tickets`, `transfers`, `calls`, `stream_claims`,
`otp_codes` (one-time codes), `sms_quota` (daily SMS counters)), `phone_index` (each phone's list of
orders, so "my recent orders" is `_id` reads), `product_search`
(fuzzy matching of spoken product names), `database` (all repositories of one database) and `seed`
(the sample data set). Import what you need from its module; this package imports nothing itself.
"""
