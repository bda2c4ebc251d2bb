-- Incremental scenario (b) on the `app` dataset (bench/datasets/app.py): the most recent 1% of
-- users log in again (their profile and updated_at change), and app.events grows by 5% (new
-- rows after the last one, as an append-only table grows). Deterministic: every new value is
-- a function of the row's id or position, and the times are fixed, so two runs of the
-- benchmark mutate the database identically.
\set ON_ERROR_STOP on
BEGIN;
UPDATE app.users
SET profile = profile || jsonb_build_object('last_login', '2025-01-02T08:00:00Z',
                                            'logins', 1 + id % 97),
    updated_at = timestamptz '2025-01-02 08:00:00+00'
WHERE id > (SELECT max(id) - count(*) / 100 FROM app.users);

INSERT INTO app.events (occurred_at, user_id, kind, payload, message)
SELECT s.last + g * interval '250 milliseconds',
       1 + (hashint8(g) & 2147483647) % s.users,
       (ARRAY['page_view', 'search', 'login', 'api_call', 'add_to_cart', 'checkout'])[1 + g % 6],
       jsonb_build_object('path', (ARRAY['/', '/search', '/cart', '/api/v2/orders'])[1 + g % 4],
                          'status', CASE WHEN g % 40 = 0 THEN 404 ELSE 200 END,
                          'ms', 1 + (hashint8(g) & 1023),
                          'ip', format('10.%s.%s.%s', g % 256, (g / 256) % 256, 1 + g % 253),
                          'agent', 'shop-app/4.4 (android)',
                          'session', lpad(to_hex(hashint8(g + 1) & 2147483647), 12, '0')),
       format('event %s by user %s', g, 1 + (hashint8(g) & 2147483647) % s.users)
FROM (SELECT count(*) / 20 AS n, max(occurred_at) AS last,
             (SELECT max(id) FROM app.users) AS users
      FROM app.events) AS s,
     generate_series(1, s.n) AS g;
COMMIT;
CHECKPOINT;
