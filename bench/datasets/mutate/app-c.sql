-- Incremental scenario (c) on the `app` dataset (bench/datasets/app.py): 1% of the users,
-- chosen uniformly over the whole table (by a hash of the id), get a new score in their
-- profile: a change scattered over every part of the table. Deterministic, like app-b.sql.
\set ON_ERROR_STOP on
UPDATE app.users
SET profile = jsonb_set(profile, '{score}', to_jsonb(round((hashint8(id + 7) & 1023) / 1024.0, 3))),
    updated_at = timestamptz '2025-01-03 09:00:00+00'
WHERE (hashint8(id) & 2147483647) % 100 = 0;
CHECKPOINT;
