-- Incremental scenario (c) on the `pgbench` dataset (pgbench -i): 1% of the accounts, chosen
-- uniformly over the table (by a hash of the id), change balance. Deterministic.
\set ON_ERROR_STOP on
UPDATE pgbench_accounts SET abalance = abalance - 7
WHERE (hashint4(aid) & 2147483647) % 100 = 0;
CHECKPOINT;
