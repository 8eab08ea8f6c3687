-- The q filter on contacts by trigrams, as on messages (0003): without
-- pg_trgm it scans.
DO $$
DECLARE ext text;
BEGIN
    SELECT n.nspname INTO ext FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm';
    IF ext IS NOT NULL THEN
        EXECUTE format('CREATE INDEX contacts_search ON contacts USING gin (search %I.gin_trgm_ops)', ext);
    END IF;
END $$;
