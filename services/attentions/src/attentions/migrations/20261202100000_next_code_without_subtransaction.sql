-- migrate:up
-- The code counters without entering an EXCEPTION block on every call: PostgreSQL starts a subtransaction
-- for each entry into such a block, and next_code runs on every attention, event and ticket created. The
-- year's sequence is looked up first; the block is entered only to create it (once a year per prefix).
CREATE OR REPLACE FUNCTION next_code_number(prefix text, year int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq text := format('code_seq_%s_%s', lower(prefix), year);
BEGIN
    IF to_regclass(seq) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- another transaction created it at the same moment
        END;
    END IF;
    RETURN nextval(seq);
END;
$$;

-- migrate:down
CREATE OR REPLACE FUNCTION next_code_number(prefix text, year int) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    seq text := format('code_seq_%s_%s', lower(prefix), year);
BEGIN
    BEGIN
        RETURN nextval(seq);
    EXCEPTION WHEN undefined_table THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;
        END;
        RETURN nextval(seq);
    END;
END;
$$;
