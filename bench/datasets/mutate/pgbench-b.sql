-- Incremental scenario (b) on the `pgbench` dataset (pgbench -i): the accounts with the
-- highest 1% of ids change balance, then pgbench_accounts grows by 5% (new ids after the last,
-- spread over the branches). Deterministic.
\set ON_ERROR_STOP on
BEGIN;
UPDATE pgbench_accounts SET abalance = abalance + 100
WHERE aid > (SELECT max(aid) - count(*) / 100 FROM pgbench_accounts);
INSERT INTO pgbench_accounts (aid, bid, abalance, filler)
SELECT s.last + g, 1 + g % s.branches, 0, ''
FROM (SELECT max(aid) AS last, count(*) / 20 AS n,
             (SELECT count(*) FROM pgbench_branches) AS branches
      FROM pgbench_accounts) AS s,
     generate_series(1, s.n) AS g;
COMMIT;
CHECKPOINT;
