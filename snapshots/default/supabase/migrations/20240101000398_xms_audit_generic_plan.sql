-- xms audit trigger: its statements keep one generic plan.
--
-- audit.log_changes() (20240101000000_xms_base.sql) runs its statements with PL/pgSQL variables as
-- parameters: the table's name and rules, the actor, the trigger's arguments. For such a statement
-- PostgreSQL's plan cache chooses, at each execution, between planning it again for the values at
-- hand and one generic plan, by comparing the generic plan's estimated cost with the average of the
-- custom plans so far. After a few bulk statements on a connection (a CSV import, a mass update) that
-- average is the bulk plans', and from then on every audited write on the connection plans its log
-- INSERT again. Measured, backend CPU per single-row insert after eight 10,000-row inserts on the
-- connection: 197 µs, against 139 µs with the generic plan and 84 µs unaudited (0.42x -> 0.60x); on
-- a connection without that history both cost the same, and bulk statements a little less
-- (0.72x -> 0.76x of unaudited). The generic plan is the same plan: the statements scan the
-- transition tables, the UPDATE pairs old and new rows with a FULL JOIN (which PostgreSQL can only
-- run as a hash or merge join, whatever the row counts) and the rules are looked up by their key.
--
-- A setting of the function, so it holds wherever the trigger runs and nothing else changes;
-- `xms check` (DB017) keeps it as this migration leaves it.

set role xms_owner;

alter function audit.log_changes() set plan_cache_mode = force_generic_plan;

reset role;
