-- email_verify 0.5.0: the prober for the whole server (shared caches,
-- politeness, network health, big providers) and bulk jobs with signed
-- webhooks. Each part below is its source file (extension/src/) as it is.
\echo Use "ALTER EXTENSION email_verify UPDATE TO '0.5.0'" to load this file. \quit
-- extension/src/85_prober.sql

-- The prober as the whole server sees it (shared memory; empty without
-- shared_preload_libraries): the MX sites being probed, with their session
-- slots and rate budgets.

CREATE FUNCTION email_verify_internal.prober_sites(
    OUT site text, OUT sessions_open int, OUT next_session_in_ms double precision,
    OUT next_rcpt_in_ms double precision)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_sites';

CREATE VIEW email_verify.prober_sites AS
SELECT site, sessions_open, next_session_in_ms, next_rcpt_in_ms
FROM email_verify_internal.prober_sites();

COMMENT ON VIEW email_verify.prober_sites IS
    'MX sites (a domain''s MX host names, sorted) with open sessions or a spent rate budget, for the whole server: sessions open, and how long until the next session and the next RCPT may go';

-- Which MX sites are probed is the probing roles' business. (A view's
-- functions are called with its reader's privileges: both are granted.)
REVOKE ALL ON email_verify.prober_sites FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION email_verify_internal.prober_sites() FROM PUBLIC;
GRANT SELECT ON email_verify.prober_sites TO email_verify_prober;
GRANT EXECUTE ON FUNCTION email_verify_internal.prober_sites() TO email_verify_prober;

-- The server's cache of verdicts, catch-all answers and routes (shared
-- memory, email_verify.shared_cache_size): its size and what it served.
CREATE FUNCTION email_verify_internal.prober_cache(
    OUT capacity bigint, OUT entries bigint, OUT hits bigint, OUT misses bigint,
    OUT stores bigint, OUT evictions bigint, OUT too_large bigint)
RETURNS record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_cache';

CREATE VIEW email_verify.prober_cache AS
SELECT * FROM email_verify_internal.prober_cache();

COMMENT ON VIEW email_verify.prober_cache IS
    'the server''s shared prober cache since start: capacity and live entries, hits, misses, stores, evictions of live entries, entries too large to keep (NULLs without shared_preload_libraries)';

-- Counters only: everyone may read them (the function too, as the view's
-- reader calls it).
GRANT SELECT ON email_verify.prober_cache TO PUBLIC;

-- Emptying the server's cache changes every backend's answers: privileged.
REVOKE EXECUTE ON FUNCTION email_verify.clear_cache() FROM PUBLIC;

-- The prober's counters for the whole server since it started (every run of
-- every backend and worker; empty without shared_preload_libraries), one row
-- a counter so that a scraper needs no change when one is added; the server
-- cache's own counters are among them.
CREATE FUNCTION email_verify_internal.prober_counters(OUT counter text, OUT value bigint)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_counters';

CREATE VIEW email_verify.prober_counters AS
SELECT counter, value FROM email_verify_internal.prober_counters()
UNION ALL
SELECT 'cache_' || c.counter, c.value
FROM email_verify.prober_cache p
CROSS JOIN LATERAL (VALUES ('hits', p.hits), ('misses', p.misses), ('stores', p.stores),
                           ('evictions', p.evictions), ('entries', p.entries)) AS c(counter, value)
WHERE p.capacity IS NOT NULL;

COMMENT ON VIEW email_verify.prober_counters IS
    'the prober''s counters for the whole server since start: sessions, RCPTs, RCPT replies by class, errors by cause, server cache hits, misses, stores, evictions and entries';

-- Latency per phase of a probe, from power-of-two histograms: a quantile is
-- the upper bound of the bucket it falls in (at most twice the true value).
CREATE FUNCTION email_verify_internal.prober_latency(
    OUT phase text, OUT samples bigint, OUT p50_ms double precision, OUT p90_ms double precision,
    OUT p99_ms double precision)
RETURNS SETOF record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_latency';

CREATE VIEW email_verify.prober_latency AS
SELECT phase, samples, p50_ms, p90_ms, p99_ms FROM email_verify_internal.prober_latency();

COMMENT ON VIEW email_verify.prober_latency IS
    'latency per probe phase (dns: a domain''s route; connect; banner; rcpt: one RCPT''s reply) for the whole server since start: samples and p50/p90/p99 (bucket upper bounds)';

GRANT SELECT ON email_verify.prober_counters, email_verify.prober_latency TO PUBLIC;

-- The prober's own network, as its sessions saw it (shared memory; 'ok' and
-- NULLs without shared_preload_libraries): 'blocked' when ten or more MX
-- hosts of distinct domains failed to connect or greeted with a blocklist
-- refusal with no session getting through in between, 'degraded' from three.
CREATE FUNCTION email_verify_internal.prober_health(
    OUT state text, OUT since timestamptz, OUT failing_hosts int, OUT seconds_since_success double precision,
    OUT evidence text)
RETURNS record
LANGUAGE C STRICT VOLATILE
AS 'MODULE_PATHNAME', 'prober_health';

CREATE VIEW email_verify.prober_health AS
SELECT state, since, failing_hosts, seconds_since_success, evidence FROM email_verify_internal.prober_health();

COMMENT ON VIEW email_verify.prober_health IS
    'whether the prober''s own network works (ok, degraded, blocked: outbound port 25 blocked or this IP refused everywhere), since when, and the evidence';

GRANT SELECT ON email_verify.prober_health TO PUBLIC;

COMMENT ON FUNCTION email_verify.clear_cache() IS
    'forgets the cached verdicts, MX routes and catch-all answers of the whole server (and this backend''s counters); superuser only unless granted';

-- New in 0.4.0 (extension/src/85_providers.sql, and its grant in
-- 90_privileges.sql). Big mail providers, recognised by the host name of a domain's most
-- preferred MX, each with what is known of how it answers probes: the prober
-- reads their answers only as far as that behaviour allows, and names the
-- provider in smtp_message. Its C side: src/pg/provider_functions.cpp,
-- src/pg/provider_cache.cpp and src/core/prober/provider_rules.cpp.
--
-- Shipped rows and yours ----------------------------------------------------
-- The rows this version ships have origin 'shipped'. pg_dump skips them
-- (CREATE EXTENSION, and so every restore, brings them back) and keeps the
-- others: rows you add ('user') and shipped rows you changed ('edited', set
-- by providers_guard). A row you insert, or a dump restores, under a shipped
-- row's name takes that row's place. A shipped or edited row cannot be
-- deleted or renamed, since the restore of a dump would bring the shipped
-- row back: set enabled = false instead. An upgrade script that refreshes
-- shipped rows must update only origin = 'shipped' rows, with providers_guard
-- disabled meanwhile (or they would turn 'edited').

CREATE FUNCTION email_verify_internal.mx_patterns_are_valid(patterns text[])
RETURNS boolean
AS 'MODULE_PATHNAME', 'mx_patterns_are_valid'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TABLE email_verify.providers (
    name        text PRIMARY KEY,
    mx_patterns text[] NOT NULL,
    behaviour   text NOT NULL,
    notes       text NOT NULL DEFAULT '',
    source      text NOT NULL DEFAULT '',
    enabled     boolean NOT NULL DEFAULT true,
    origin      text NOT NULL DEFAULT 'user',
    CONSTRAINT providers_name_check
        CHECK (octet_length(name) BETWEEN 1 AND 64 AND name !~ '[\x01-\x1f\x7f]'),
    CONSTRAINT providers_mx_patterns_check
        CHECK (email_verify_internal.mx_patterns_are_valid(mx_patterns)),
    CONSTRAINT providers_behaviour_check
        CHECK (behaviour IN ('reveals_mailboxes', 'accepts_all', 'throttles_rcpt', 'per_domain', 'tarpits',
                             'undocumented')),
    CONSTRAINT providers_origin_check CHECK (origin IN ('shipped', 'edited', 'user'))
);

COMMENT ON TABLE email_verify.providers IS
'big mail providers recognised by the host name of a domain''s most preferred MX, with how they answer probes';
COMMENT ON COLUMN email_verify.providers.mx_patterns IS
'MX host names or parent domains of them (google.com matches aspmx.l.google.com); the longest matching pattern wins';
COMMENT ON COLUMN email_verify.providers.behaviour IS
'reveals_mailboxes, accepts_all, throttles_rcpt, per_domain, tarpits or undocumented (README: Big providers)';
COMMENT ON COLUMN email_verify.providers.source IS
'where the knowledge of its behaviour comes from';
COMMENT ON COLUMN email_verify.providers.origin IS
'shipped (as this version ships it, not dumped), edited (a shipped row you changed) or user (yours)';

-- Kept by pg_dump: your rows and your edits, not what CREATE EXTENSION ships.
SELECT pg_catalog.pg_extension_config_dump('email_verify.providers', 'WHERE origin <> ''shipped''');

CREATE FUNCTION email_verify_internal.providers_guard()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.origin <> 'shipped' THEN
            DELETE FROM email_verify.providers WHERE name = NEW.name AND origin = 'shipped';
            IF FOUND THEN
                NEW.origin := 'edited';
            END IF;
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.origin <> 'user' AND NEW.name IS DISTINCT FROM OLD.name THEN
            RAISE EXCEPTION 'provider "%" came with email_verify and keeps its name', OLD.name
                USING ERRCODE = 'restrict_violation',
                      HINT = 'Add a row of your own and set enabled = false on this one.';
        END IF;
        IF OLD.origin = 'shipped' AND NEW.origin = 'shipped'
           AND (NEW.mx_patterns, NEW.behaviour, NEW.notes, NEW.source, NEW.enabled)
               IS DISTINCT FROM (OLD.mx_patterns, OLD.behaviour, OLD.notes, OLD.source, OLD.enabled) THEN
            NEW.origin := 'edited';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        -- Deeper, it is the INSERT branch above making room for a row that
        -- takes a shipped row's place.
        IF OLD.origin <> 'user' AND pg_trigger_depth() < 2 THEN
            RAISE EXCEPTION 'provider "%" came with email_verify and cannot be deleted', OLD.name
                USING ERRCODE = 'restrict_violation',
                      HINT = 'Set enabled = false: CREATE EXTENSION, and so the restore of a dump, '
                             'brings shipped providers back.';
        END IF;
        RETURN OLD;
    END IF;
    -- TRUNCATE
    RAISE EXCEPTION 'email_verify.providers cannot be truncated: it holds the providers email_verify ships'
        USING ERRCODE = 'restrict_violation',
              HINT = 'DELETE FROM email_verify.providers WHERE origin = ''user'' removes your own rows.';
END
$$;

CREATE TRIGGER providers_guard
BEFORE INSERT OR UPDATE OR DELETE ON email_verify.providers
FOR EACH ROW EXECUTE FUNCTION email_verify_internal.providers_guard();

CREATE TRIGGER providers_guard_truncate
BEFORE TRUNCATE ON email_verify.providers
FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.providers_guard();

CREATE FUNCTION email_verify_internal.providers_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'providers_changed'
LANGUAGE C;

CREATE TRIGGER providers_changed
AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON email_verify.providers
FOR EACH STATEMENT EXECUTE FUNCTION email_verify_internal.providers_changed();

CREATE FUNCTION email_verify.provider_for_mx(mx_host text)
RETURNS text
AS 'MODULE_PATHNAME', 'provider_for_mx'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION email_verify.provider_for_mx(text) IS
'the enabled provider of email_verify.providers an MX host name belongs to, as the prober sees it; NULL when none';

-- What this version knows. Each behaviour is what the public record shows;
-- sources name documentation or public reports, and field experience of
-- open-source verifiers where nothing was published.
INSERT INTO email_verify.providers (name, mx_patterns, behaviour, notes, source, origin) VALUES
('Google', '{google.com,googlemail.com}', 'reveals_mailboxes',
 'Gmail and Google Workspace (MX aspmx.l.google.com, smtp.google.com, gmail-smtp-in.l.google.com and their '
 'alternates). Unknown recipients are refused at RCPT with 550 5.1.1 ("The email account that you tried to reach '
 'does not exist"), disabled accounts with 550 5.2.1, full mailboxes with 452 4.2.2; a mailbox receiving mail too '
 'fast gets 450 4.2.1 (it exists). A Workspace domain may route unknown addresses to a catch-all, which the '
 'catch-all probe detects.',
 'Google Workspace Admin Help, "SMTP error reference": https://support.google.com/a/answer/3726730',
 'shipped'),
('Microsoft Outlook.com', '{olc.protection.outlook.com}', 'throttles_rcpt',
 'Microsoft''s consumer mail: outlook.com, hotmail.*, live.*, msn.com (MX <domain>.olc.protection.outlook.com, '
 'eur.olc.protection.outlook.com). Unknown recipients are refused at RCPT with 550 5.5.0 "Requested action not '
 'taken: mailbox unavailable". A second recipient in one transaction is answered 452 4.5.3 ("Too many '
 'recipients", "Recipients belong to multiple regions"), so every recipient, the catch-all probe included, is '
 'asked in a transaction of its own; a 4xx is never a verdict. Probers on addresses of poor reputation are '
 'refused with 5.7.x, which reads as smtp_blocked.',
 'Public reports: reacherhq/check-if-email-exists issues #569, #756 and #1334, AfterShip/email-verifier issue #72 '
 '(452 4.5.3 to a second RCPT); MicrosoftDocs/OfficeDocs-Exchange issue #2836 (550 5.5.0 for unused hotmail.com '
 'and outlook.com addresses).',
 'shipped'),
('Microsoft 365', '{mail.protection.outlook.com,mail.protection.office365.us,mail.protection.partner.outlook.cn}',
 'per_domain',
 'Exchange Online (MX <tenant>.mail.protection.outlook.com). With Directory Based Edge Blocking, the default for '
 'authoritative accepted domains, unknown recipients are refused at RCPT with 550 5.4.1 "Recipient address '
 'rejected: Access denied"; tenants without it (internal-relay domains, some hybrid set-ups) answer "250 2.1.5 '
 'Recipient OK" to anyone and bounce later. The catch-all probe tells which: until the domain has refused it, an '
 'acceptance proves nothing (unknown, asked again later). Busy front ends answer 451 4.4.4 or 452 4.5.3.',
 'Microsoft Learn, "Use Directory Based Edge Blocking to reject messages sent to invalid recipients" and "Email '
 'non-delivery reports and SMTP errors in Exchange Online": https://docs.microsoft.com/en-us/exchange/'
 'mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online; '
 'public reports: reacherhq/check-if-email-exists issue #1185 ("250 2.1.5 Recipient OK" for a non-existent '
 'address), karolyi/py3-validate-email pull request #63 (some tenants refuse unknown recipients, some do not).',
 'shipped'),
('Yahoo/AOL', '{yahoodns.net}', 'accepts_all',
 'yahoo.*, aol.*, ymail.com, rocketmail.com and the other Yahoo Inc. domains (MX *.yahoodns.net). Every recipient '
 'is accepted at RCPT; an unknown one is refused only after DATA ("554 delivery error: dd This user doesn''t have a '
 'yahoo.com account"), which a probe never sends. Busy or distrusted senders get 421 4.7.0 [TSS04] deferrals.',
 'Yahoo Sender Hub, "SMTP error codes": https://senders.yahooinc.com/smtp-error-codes; public reports: '
 'truemail-rb/truemail-go issue #91 (250 at RCPT, refusal after DATA), AfterShip/email-verifier issue #57, '
 'hbattat/verifyEmail issue #30.',
 'shipped'),
('Apple iCloud Mail', '{mail.icloud.com}', 'reveals_mailboxes',
 'icloud.com, me.com, mac.com and custom domains (MX mx01.mail.icloud.com, mx02.mail.icloud.com). Unknown '
 'recipients are refused at RCPT with 550 5.1.1 ("unknown or illegal alias", "user does not exist", "inactive email '
 'address"), full mailboxes with 552 5.2.2. Probers report erratic sessions: 450 4.7.1 "Helo command rejected: Host '
 'not found" for a HELO name without an address, "503 5.5.1 send HELO/EHLO first" after EHLO, 421 4.7.1 deferrals '
 'for volume; none of them is read as a verdict on the mailbox.',
 'Apple, iCloud Mail postmaster information: https://support.apple.com/en-us/102322; bounce texts collected by '
 'Sisimai (sisimai/p5-sisimai, lib/Sisimai/Rhost/Apple.pm); public reports: reacherhq/check-if-email-exists issues '
 '#934 and #1410, sisimai/set-of-emails issue #11.',
 'shipped'),
('Proton Mail', '{protonmail.ch}', 'undocumented',
 'proton.me, protonmail.com, pm.me and custom domains (MX mail.protonmail.ch, mailsec.protonmail.ch). No public '
 'account of how it answers recipient probes was found: its answers are read as any server''s, with the catch-all '
 'probe.',
 'MX host names: Proton''s custom-domain set-up instructions. Behaviour: nothing published; edit this row with what '
 'you observe.',
 'shipped'),
('Zoho Mail', '{zoho.com,zoho.eu,zoho.in,zoho.com.au,zoho.jp}', 'reveals_mailboxes',
 'zoho.com and custom domains (MX mx.zoho.com, mx2.zoho.com, mx3.zoho.com, smtpin.zoho.com and the regional '
 'zoho.eu, zoho.in, zoho.com.au, zoho.jp). Unknown recipients are refused at RCPT with 550 5.1.1 "User does not '
 'exist"; accepted ones get "250 Recipient <address> OK" without an enhanced code. Some senders are greylisted at '
 'RCPT ("451 4.7.1 Greylisted, try again after some time"). An organisation may set a catch-all address, which the '
 'catch-all probe detects.',
 'Bounce texts collected by Sisimai (sisimai/p5-sisimai, lib/Sisimai/Rhost/Zoho.pm); public report: '
 'reacherhq/check-if-email-exists issue #487 (the 250 reply text).',
 'shipped'),
('Yandex', '{yandex.ru,yandex.net}', 'reveals_mailboxes',
 'yandex.ru, yandex.com, ya.ru and Yandex 360 domains (MX mx.yandex.ru, mx.yandex.net). Unknown recipients are '
 'refused at RCPT with "550 5.7.1 No such user!": a policy code with an unknown-user text, read as '
 'mailbox_not_found for the text; other 5.7.x replies are read as a refusal of the prober (smtp_blocked).',
 'Public report: maxcom/lorsource issue #1094 ("550 5.7.1 No such user!" for a mistyped yandex.ru address); field '
 'experience of open-source verifiers.',
 'shipped'),
('Mail.ru', '{mail.ru}', 'accepts_all',
 'mail.ru, inbox.ru, list.ru, bk.ru and Mail.ru for business (MX mxs.mail.ru, emx.mail.ru). Every recipient is '
 'accepted at RCPT; an unknown one bounces after the message was sent.',
 'Public report: zytzagoo/smtp-validate-email issue #3 (2023: non-existent mail.ru, inbox.ru and list.ru '
 'addresses are accepted and bounce later); field experience of open-source verifiers.',
 'shipped');

GRANT SELECT ON email_verify.providers TO PUBLIC;

-- extension/src/97_jobs.sql

-- Bulk jobs: a list submitted at once, verified by the background workers
-- beside the watched tables, its progress and results read with SQL, its
-- events sent as signed webhooks (98_webhooks.sql).
--
-- Security model (as for watches, 30_tables.sql): the tables are internal,
-- readable by the extension's owner and the workers' role alone. A role
-- reaches its own jobs through the functions below, which check the calling
-- role (email_verify_internal.calling_role); superusers and members of
-- email_verify_admin reach every job. Levels dns and smtp need the prober
-- privilege (may_probe), at submission and again whenever the workers claim
-- the job's addresses: a job whose owner lost it fails.
-- submit_job and submit_job_from_query are the module's (src/pg/job_functions.cpp):
-- they run as the caller (the query of submit_job_from_query is the caller's
-- own code, run with the caller's own rights) and write the job through the
-- SECURITY DEFINER functions job_create, job_add and job_seal, which accept
-- only a job the calling role created in the current transaction.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'email_verify_admin') THEN
        CREATE ROLE email_verify_admin NOLOGIN;
        COMMENT ON ROLE email_verify_admin IS
            'members see, cancel and replay the webhooks of every role''s email_verify jobs';
    END IF;
END
$$;

-- Tables ---------------------------------------------------------------------------

-- One row per job. webhook_secret is the secret given with the job (a
-- registered endpoint keeps its own, 98_webhooks.sql); no view or function
-- shows it. processed counts inputs (duplicates included) whose verdict is in.
-- claimed_through is the position up to which the workers have claimed its
-- new addresses (see job_addresses).
CREATE TABLE email_verify_internal.jobs (
    id               bigserial PRIMARY KEY,
    owner            oid NOT NULL,
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    level            text NOT NULL CHECK (level IN ('syntax', 'dns', 'smtp')),
    total            bigint NOT NULL DEFAULT 0,
    unique_addresses bigint NOT NULL DEFAULT 0,
    processed        bigint NOT NULL DEFAULT 0,
    webhook_url      text,
    webhook_secret   text,
    endpoint_id      int,
    failure_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    progress_sent_at timestamptz,
    claimed_through  bigint NOT NULL DEFAULT 0
);
CREATE INDEX jobs_open_idx ON email_verify_internal.jobs (id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_finished_idx ON email_verify_internal.jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Every input, in input order. address_key (email_verify_internal.address_key)
-- is what makes two inputs the same address: trimmed, domain lower-cased.
CREATE TABLE email_verify_internal.job_inputs (
    job_id      bigint NOT NULL,
    ordinal     bigint NOT NULL,
    email       text NOT NULL,
    address_key text COLLATE "C" NOT NULL,
    PRIMARY KEY (job_id, ordinal)
);

-- Every distinct address of a job, where its verdict is kept (result) for
-- each of its copies inputs; position is the ordinal of its first input.
-- No index covers state, result or attempts: the worker's writes to a row are
-- heap-only updates (fillfactor leaves them room), which add no index entry.
-- The work itself is tracked beside it:
--   * new addresses are claimed a range of positions at a time, after the
--     job's claimed_through (job_claims), and read through the position index;
--   * an address put back (a transient verdict retried, a claim whose lease
--     ran out) waits in job_retries until it is due.
CREATE TABLE email_verify_internal.job_addresses (
    job_id      bigint NOT NULL,
    address_key text COLLATE "C" NOT NULL,
    position    bigint NOT NULL,
    copies      bigint NOT NULL,
    state       text NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'retrying', 'done')),
    attempts    int NOT NULL DEFAULT 0,
    result      email_verify.result,
    PRIMARY KEY (job_id, address_key)
) WITH (fillfactor = 60);
CREATE UNIQUE INDEX job_addresses_position_idx ON email_verify_internal.job_addresses (job_id, position);

-- Ranges of new addresses a worker has claimed, until lease_until; a range
-- is deleted when its batch has been written back. One whose lease ran out
-- (its worker died) puts its addresses still new back, as retries.
CREATE TABLE email_verify_internal.job_claims (
    id             bigserial PRIMARY KEY,
    job_id         bigint NOT NULL,
    worker_id      int NOT NULL,
    first_position bigint NOT NULL,
    last_position  bigint NOT NULL,
    lease_until    timestamptz NOT NULL
);

-- Addresses put back: due at not_before, claimed (claimed_by) until
-- lease_until, deleted when their verdict is written.
CREATE TABLE email_verify_internal.job_retries (
    job_id      bigint NOT NULL,
    address_key text COLLATE "C" NOT NULL,
    not_before  timestamptz NOT NULL,
    claimed_by  int,
    lease_until timestamptz,
    PRIMARY KEY (job_id, address_key)
);
CREATE INDEX job_retries_due_idx ON email_verify_internal.job_retries (job_id, not_before);

-- Verdicts per job, status and reason, counted over inputs: job_status, the
-- progress events and the completion summary read these, never the results.
CREATE TABLE email_verify_internal.job_counts (
    job_id     bigint NOT NULL,
    status     text NOT NULL,
    reason     text NOT NULL,
    n          bigint NOT NULL,
    disposable bigint NOT NULL,
    catch_all  bigint NOT NULL,
    PRIMARY KEY (job_id, status, reason)
);

-- Endpoints registered once (name, url, secret, events) instead of a secret
-- with every job; and URLs that answered 410 Gone (disabled_at set, name
-- NULL when nobody registered them): no event is sent to them until
-- enable_webhook_endpoint.
CREATE TABLE email_verify_internal.webhook_endpoints (
    id                serial PRIMARY KEY,
    owner             oid NOT NULL,
    name              text,
    url               text NOT NULL,
    secret            text,
    previous_secret   text,
    previous_until    timestamptz,
    events            text[] NOT NULL DEFAULT '{bulk.progress,bulk.completed,bulk.failed}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    disabled_at       timestamptz,
    disabled_reason   text,
    UNIQUE (owner, name)
);

-- Provided by the module (src/core/webhook/url_policy.h): only http and
-- https, a host, no credentials; the worker checks the address it connects
-- to at every attempt (email_verify.webhook_allow_private).
CREATE FUNCTION email_verify_internal.check_webhook_url(url text)
RETURNS void
AS 'MODULE_PATHNAME', 'check_webhook_url'
LANGUAGE C STABLE STRICT;

-- Jobs and their results survive pg_dump and restore.
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.jobs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_inputs', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_addresses', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_counts', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_claims', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_claims_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.job_retries', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_endpoints', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_endpoints_id_seq', '');

-- Who may see a job ---------------------------------------------------------------

-- The OID of the role that called (calling_role): what jobs and endpoints
-- record as their owner.
CREATE FUNCTION email_verify_internal.calling_role_oid()
RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.oid FROM pg_roles r WHERE r.rolname = email_verify_internal.calling_role()
$$;

-- Whether role may see and act on the jobs of owner.
CREATE FUNCTION email_verify_internal.may_see_job(role name, owner oid)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role AND (r.oid = owner OR r.rolsuper))
        OR (EXISTS (SELECT FROM pg_roles r WHERE r.rolname = 'email_verify_admin')
            AND pg_has_role(role, 'email_verify_admin', 'USAGE'))
$$;

-- The job the calling role may see, or an error that says no more than that it
-- does not exist (another role's job is not revealed).
CREATE FUNCTION email_verify_internal.visible_job(job bigint)
RETURNS email_verify_internal.jobs
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j email_verify_internal.jobs;
BEGIN
    IF job IS NULL THEN
        RAISE EXCEPTION 'job_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO j FROM email_verify_internal.jobs WHERE id = job;
    IF NOT FOUND OR NOT email_verify_internal.may_see_job(email_verify_internal.calling_role(), j.owner) THEN
        RAISE EXCEPTION 'email_verify job % does not exist', job USING ERRCODE = 'no_data_found',
            HINT = 'A role sees its own jobs; superusers and members of email_verify_admin see all.';
    END IF;
    RETURN j;
END
$$;

-- Building a job (called by submit_job and submit_job_from_query) ------------------------

-- The dedupe key: provided by the module (src/core/jobs/address_key.h).
CREATE FUNCTION email_verify_internal.address_key(address text)
RETURNS text
AS 'MODULE_PATHNAME', 'job_address_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A new, empty job of the calling role. Checks what can be checked before any
-- address is read: the level and its privilege, the webhook target.
CREATE FUNCTION email_verify_internal.job_create(level text, webhook_url text, webhook_secret text,
                                                 endpoint text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    caller name := email_verify_internal.calling_role();
    chosen text := coalesce(level, current_setting('email_verify.default_level'));
    target email_verify_internal.webhook_endpoints;
    id bigint;
BEGIN
    IF chosen NOT IN ('syntax', 'dns', 'smtp') THEN
        RAISE EXCEPTION 'invalid level "%"', chosen USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use ''syntax'', ''dns'' or ''smtp''.';
    END IF;
    IF chosen <> 'syntax' AND NOT email_verify_internal.may_probe(caller) THEN
        RAISE EXCEPTION 'permission denied to submit a job at level %', chosen
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Levels dns and smtp need membership in email_verify_prober.';
    END IF;
    IF endpoint IS NOT NULL THEN
        IF webhook_url IS NOT NULL OR webhook_secret IS NOT NULL THEN
            RAISE EXCEPTION 'give either endpoint or webhook_url and webhook_secret, not both'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT * INTO target FROM email_verify_internal.webhook_endpoints e
        WHERE e.name = endpoint AND e.owner = email_verify_internal.calling_role_oid();
        IF NOT FOUND THEN
            RAISE EXCEPTION 'webhook endpoint "%" does not exist', endpoint USING ERRCODE = 'no_data_found',
                HINT = 'Register it with email_verify.register_webhook_endpoint.';
        END IF;
    ELSIF webhook_url IS NOT NULL THEN
        PERFORM email_verify_internal.check_webhook_url(webhook_url);
        IF webhook_secret IS NULL OR webhook_secret = '' THEN
            RAISE EXCEPTION 'a webhook_url needs a webhook_secret to sign its events'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'email_verify.new_webhook_secret() makes one.';
        END IF;
    ELSIF webhook_secret IS NOT NULL THEN
        RAISE EXCEPTION 'webhook_secret given without a webhook_url' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO email_verify_internal.jobs (owner, level, webhook_url, webhook_secret, endpoint_id)
    VALUES (email_verify_internal.calling_role_oid(), chosen,
            coalesce(webhook_url, target.url), webhook_secret, target.id)
    RETURNING jobs.id INTO id;
    RETURN id;
END
$$;

-- The job being built: the calling role's, created in this very transaction.
CREATE FUNCTION email_verify_internal.job_being_built(job bigint)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.id FROM email_verify_internal.jobs j
    WHERE j.id = job AND j.xmin = pg_current_xact_id()::xid
      AND j.owner = email_verify_internal.calling_role_oid()
$$;

-- Appends addresses to a job being built, after those it has.
CREATE FUNCTION email_verify_internal.job_add(job bigint, addresses text[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    base bigint;
    hole int := array_position(addresses, NULL);
BEGIN
    IF email_verify_internal.job_being_built(job) IS NULL THEN
        RAISE EXCEPTION 'job % is not being built by this transaction', job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF hole IS NOT NULL THEN
        RAISE EXCEPTION 'address % of the job is NULL', (SELECT total FROM email_verify_internal.jobs WHERE id = job) + hole
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Leave NULL addresses out (WHERE email IS NOT NULL).';
    END IF;
    UPDATE email_verify_internal.jobs j SET total = j.total + cardinality(addresses)
    WHERE j.id = job RETURNING j.total - cardinality(addresses) INTO base;
    INSERT INTO email_verify_internal.job_inputs (job_id, ordinal, email, address_key)
    SELECT job, base + u.o, u.e, email_verify_internal.address_key(u.e)
    FROM unnest(addresses) WITH ORDINALITY AS u(e, o);
    RETURN job;
END
$$;

-- Ends the building of a job: it must hold an address. Its addresses are
-- made from its inputs in one statement, duplicates (the same address_key)
-- one address with that many copies: cheaper than merging each slice into
-- them as it comes. The workers are woken when the transaction commits.
CREATE FUNCTION email_verify_internal.job_seal(job bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unique_count bigint;
BEGIN
    IF email_verify_internal.job_being_built(job) IS NULL THEN
        RAISE EXCEPTION 'job % is not being built by this transaction', job USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    INSERT INTO email_verify_internal.job_addresses (job_id, address_key, position, copies)
    SELECT job, i.address_key, min(i.ordinal), count(*)
    FROM email_verify_internal.job_inputs i WHERE i.job_id = job
    GROUP BY i.address_key;
    GET DIAGNOSTICS unique_count = ROW_COUNT;
    UPDATE email_verify_internal.jobs j SET unique_addresses = unique_count WHERE j.id = job;
    IF (SELECT total FROM email_verify_internal.jobs WHERE id = job) = 0 THEN
        RAISE EXCEPTION 'a job needs at least one address' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- A large job can make its tables many times what their statistics
    -- say (a fresh installation has none): planned on those, job_results
    -- would sort the whole job before its first row, and the workers'
    -- lookups would be costed wrongly.
    IF (SELECT total FROM email_verify_internal.jobs WHERE id = job) >= 10000 THEN
        ANALYZE email_verify_internal.job_inputs, email_verify_internal.job_addresses;
    END IF;
    PERFORM email_verify_internal.wake_workers_at_commit();
    RETURN job;
END
$$;

-- The API ----------------------------------------------------------------------------

CREATE FUNCTION email_verify.submit_job(addresses text[], webhook_url text DEFAULT NULL,
                                        webhook_secret text DEFAULT NULL, level text DEFAULT NULL,
                                        endpoint text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'submit_job'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.submit_job(text[], text, text, text, text) IS
    'submits a bulk job; returns its id (email_verify.job_status, job_results, cancel_job)';

CREATE FUNCTION email_verify.submit_job_from_query(query text, webhook_url text DEFAULT NULL,
                                                   webhook_secret text DEFAULT NULL, level text DEFAULT NULL,
                                                   endpoint text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'submit_job_from_query'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.submit_job_from_query(text, text, text, text, text) IS
    'submits a bulk job of the addresses a query returns (its first column, read in batches, in its order)';

CREATE FUNCTION email_verify.job_status(job_id bigint,
    OUT job_id bigint, OUT state text, OUT level text, OUT total bigint, OUT processed bigint,
    OUT percent_done numeric, OUT valid bigint, OUT invalid bigint, OUT risky bigint, OUT unknown bigint,
    OUT disposable bigint, OUT catch_all bigint, OUT reasons jsonb, OUT unique_addresses bigint,
    OUT created_at timestamptz, OUT started_at timestamptz, OUT finished_at timestamptz,
    OUT estimated_completion timestamptz, OUT failure_reason text, OUT webhook_url text,
    OUT webhook_endpoint text, OUT owner name)
RETURNS record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT j.id, j.state, j.level, j.total, j.processed,
           round(100.0 * j.processed / greatest(j.total, 1), 1),
           coalesce(sum(c.n) FILTER (WHERE c.status = 'valid'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'invalid'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'risky'), 0)::bigint,
           coalesce(sum(c.n) FILTER (WHERE c.status = 'unknown'), 0)::bigint,
           coalesce(sum(c.disposable), 0)::bigint, coalesce(sum(c.catch_all), 0)::bigint,
           coalesce(jsonb_object_agg(c.status || '/' || c.reason, c.n) FILTER (WHERE c.n IS NOT NULL), '{}'),
           j.unique_addresses, j.created_at, j.started_at, j.finished_at,
           CASE WHEN j.state = 'running' AND j.processed > 0
                THEN now() + (now() - j.started_at) * ((j.total - j.processed)::float8 / j.processed) END,
           j.failure_reason, j.webhook_url,
           (SELECT e.name FROM email_verify_internal.webhook_endpoints e WHERE e.id = j.endpoint_id),
           (SELECT r.rolname FROM pg_roles r WHERE r.oid = j.owner)
    FROM email_verify_internal.visible_job($1) j
    LEFT JOIN email_verify_internal.job_counts c ON c.job_id = j.id
    GROUP BY j.id, j.state, j.level, j.total, j.processed, j.unique_addresses, j.created_at, j.started_at,
             j.finished_at, j.failure_reason, j.webhook_url, j.endpoint_id, j.owner
$$;
COMMENT ON FUNCTION email_verify.job_status(bigint) IS
    'a job''s state, progress, counts per status and per reason, times and estimated completion';

-- The ids of the jobs the calling role may see.
CREATE FUNCTION email_verify_internal.visible_job_ids()
RETURNS bigint[]
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(j.id), '{}') FROM email_verify_internal.jobs j
    WHERE email_verify_internal.may_see_job(email_verify_internal.calling_role(), j.owner)
$$;

-- The results of the jobs the calling role may see, in input order; what
-- job_results reads. A view reads the tables with its owner's rights; its
-- filter lets a role see its own jobs' rows only. Driven by the inputs' index, with
-- one lookup per input for its address's verdict (LIMIT keeps the planner
-- from turning it into a hash of the whole job): rows come in input order,
-- the first at once, however large the job.
CREATE VIEW email_verify_internal.visible_job_results WITH (security_barrier) AS
SELECT i.job_id, i.ordinal, i.email, (a.result).normalized, (a.result).status, (a.result).reason,
       (a.result).level, (a.result).suggestion, (a.result).is_disposable, (a.result).is_role,
       (a.result).is_free, (a.result).is_catch_all, (a.result).mx_found, (a.result).mx_host,
       (a.result).smtp_code, (a.result).smtp_message, (a.result).score, (a.result).checked_at,
       (a.result).duration_ms, (a.result).from_cache
FROM email_verify_internal.job_inputs i
LEFT JOIN LATERAL (SELECT x.result FROM email_verify_internal.job_addresses x
                   WHERE x.job_id = i.job_id AND x.address_key = i.address_key LIMIT 1) a ON true
-- The filter is an InitPlan (computed once) and no index condition: as an
-- index condition an array on the leading column would cost the scan its
-- order (PostgreSQL 15), and job_results would sort the whole job.
WHERE (i.job_id = ANY ((SELECT email_verify_internal.visible_job_ids())::bigint[])) IS TRUE
-- A security_barrier view is planned as a subquery of its own, blind to the
-- caller's ORDER BY: without one here the scan that gives input order is
-- never considered, and a job that is most of the table is read whole and
-- sorted before job_results returns its first row.
ORDER BY i.job_id, i.ordinal;

-- Inlined into the caller's query (plain SQL, no SET, not STRICT): the rows
-- stream from the inputs' index in input order, so COPY of a million-row job
-- holds no more than a row at a time. The job is matched by a plain equality
-- (leakproof, so the planner may use it below the view's barrier and knows
-- the index order is input order); visible_job raises the error for a job
-- the caller may not see. An address not verified yet (a cancelled or failed job) has only its
-- email.
CREATE FUNCTION email_verify.job_results(job_id bigint)
RETURNS SETOF email_verify.result
LANGUAGE sql STABLE
AS $$
    SELECT r.email, r.normalized, r.status, r.reason, r.level, r.suggestion, r.is_disposable, r.is_role,
           r.is_free, r.is_catch_all, r.mx_found, r.mx_host, r.smtp_code, r.smtp_message, r.score,
           r.checked_at, r.duration_ms, r.from_cache
    FROM email_verify_internal.visible_job_results r
    WHERE r.job_id OPERATOR(pg_catalog.=) $1
      -- No column in it: checked once, before the first row.
      AND (email_verify_internal.visible_job($1)).id IS NOT NULL
    ORDER BY r.job_id, r.ordinal
$$;
COMMENT ON FUNCTION email_verify.job_results(bigint) IS
    'a job''s results, one row per input in input order (streamed: COPY it to export)';

-- Cancels a queued or running job: the addresses not verified yet stay so,
-- its results so far stay readable, and a bulk.failed event (reason
-- cancelled) tells its webhook.
CREATE FUNCTION email_verify.cancel_job(job_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    j email_verify_internal.jobs := email_verify_internal.visible_job(job_id);
BEGIN
    UPDATE email_verify_internal.jobs SET state = 'cancelled', finished_at = now(),
           failure_reason = format('cancelled by %s', email_verify_internal.calling_role())
    WHERE id = j.id AND state IN ('queued', 'running');
    IF NOT FOUND THEN
        RAISE EXCEPTION 'email_verify job % is already %', j.id, j.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM email_verify_internal.emit_event(j.id, 'bulk.failed');
    -- The worker sends the event as soon as this commits.
    PERFORM email_verify_internal.wake_workers_at_commit();
END
$$;
COMMENT ON FUNCTION email_verify.cancel_job(bigint) IS
    'cancels a queued or running job; its results so far stay readable';

-- Every job the current role may see, newest first.
CREATE VIEW email_verify.jobs WITH (security_barrier) AS
SELECT j.id AS job_id, r.rolname AS owner, j.state, j.level, j.total, j.processed,
       round(100.0 * j.processed / greatest(j.total, 1), 1) AS percent_done,
       j.created_at, j.started_at, j.finished_at, j.failure_reason, j.webhook_url
FROM email_verify_internal.jobs j
LEFT JOIN pg_roles r ON r.oid = j.owner
WHERE email_verify_internal.may_see_job(current_user, j.owner);
COMMENT ON VIEW email_verify.jobs IS 'the bulk jobs the current role may see (its own; all for admins)';

-- extension/src/98_webhooks.sql

-- Webhooks: the events of bulk jobs (97_jobs.sql), kept in an outbox that the
-- background worker delivers (src/pg/webhook_sender.cpp): signed, retried
-- with backoff, and parked as dead letters after the last attempt. Every event
-- is also sent as NOTIFY email_verify when it is created. Secrets stay in the
-- internal tables: no view, function result, log line or error shows them.

-- Tables ---------------------------------------------------------------------------

-- The outbox: one row per event and target. event_id is fixed when the event
-- is created and sent unchanged with every attempt. A job's events go out in
-- order: one waits while an earlier one of its job is pending or sending.
CREATE TABLE email_verify_internal.webhook_events (
    id              bigserial PRIMARY KEY,
    event_id        uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    job_id          bigint NOT NULL,
    event_type      text NOT NULL,
    body            jsonb NOT NULL,
    url             text NOT NULL,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    last_status     int,
    last_cause      text,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX webhook_events_due_idx ON email_verify_internal.webhook_events (next_attempt_at, id)
    WHERE state = 'pending';
CREATE INDEX webhook_events_job_idx ON email_verify_internal.webhook_events (job_id, id);
CREATE INDEX webhook_events_sending_idx ON email_verify_internal.webhook_events (lease_until)
    WHERE state = 'sending';

-- One row per delivery attempt, for the statistics view.
CREATE TABLE email_verify_internal.webhook_attempts (
    event_row    bigint NOT NULL,
    url          text NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    http_status  int,
    cause        text NOT NULL,
    latency_ms   double precision NOT NULL
);
CREATE INDEX webhook_attempts_event_idx ON email_verify_internal.webhook_attempts (event_row);

SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_events', '');
SELECT pg_catalog.pg_extension_config_dump('email_verify_internal.webhook_events_id_seq', '');

-- Provided by the module (src/core/webhook/): a fresh secret.
CREATE FUNCTION email_verify.new_webhook_secret()
RETURNS text
AS 'MODULE_PATHNAME', 'new_webhook_secret'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION email_verify.new_webhook_secret() IS
    'a new random secret "whsec_<base64>" that Stripe-style and Standard Webhooks receivers both accept unchanged';

-- Events ------------------------------------------------------------------------------

-- The body of event_type for job: jsonb, never text pasted together. Counts
-- are over inputs (duplicates included), equal to what job_results returns;
-- a completed job of at most email_verify.webhook_inline_results addresses
-- carries its results too.
CREATE FUNCTION email_verify_internal.event_body(job bigint, event_type text, event_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
               'event_id', event_id, 'event_type', event_type, 'job_id', j.id,
               'created_at', now(), 'state', j.state, 'level', j.level,
               'total', j.total, 'processed', j.processed,
               'summary', jsonb_build_object(
                   'total', j.total,
                   'valid', coalesce(sum(c.n) FILTER (WHERE c.status = 'valid'), 0),
                   'invalid', coalesce(sum(c.n) FILTER (WHERE c.status = 'invalid'), 0),
                   'risky', coalesce(sum(c.n) FILTER (WHERE c.status = 'risky'), 0),
                   'unknown', coalesce(sum(c.n) FILTER (WHERE c.status = 'unknown'), 0),
                   'disposable', coalesce(sum(c.disposable), 0),
                   'catch_all', coalesce(sum(c.catch_all), 0)),
               'reasons', coalesce(jsonb_object_agg(c.status || '/' || c.reason, c.n) FILTER (WHERE c.n IS NOT NULL),
                                   '{}'))
           || CASE WHEN event_type = 'bulk.failed'
                   THEN jsonb_build_object('reason', j.failure_reason) ELSE '{}' END
           || CASE WHEN event_type = 'bulk.completed'
                        AND j.total <= coalesce(current_setting('email_verify.webhook_inline_results', true), '100')::int
                   THEN jsonb_build_object('results', (
                            SELECT jsonb_agg(to_jsonb(r) - 'job_id' - 'ordinal' ORDER BY r.ordinal)
                            FROM email_verify_internal.job_inputs i
                            LEFT JOIN email_verify_internal.job_addresses a
                                   ON a.job_id = i.job_id AND a.address_key = i.address_key
                            CROSS JOIN LATERAL (SELECT i.email, (a.result).normalized, (a.result).status,
                                       (a.result).reason, (a.result).level, (a.result).suggestion,
                                       (a.result).is_disposable, (a.result).is_role, (a.result).is_free,
                                       (a.result).is_catch_all, (a.result).mx_found, (a.result).mx_host,
                                       (a.result).smtp_code, (a.result).smtp_message, (a.result).score,
                                       (a.result).checked_at, i.ordinal, i.job_id) r
                            WHERE i.job_id = j.id))
                   ELSE '{}' END
    FROM email_verify_internal.jobs j
    LEFT JOIN email_verify_internal.job_counts c ON c.job_id = j.id
    WHERE j.id = job
    GROUP BY j.id
$$;

-- Creates an event of a job: NOTIFY email_verify at commit, and an outbox row
-- when the job has a webhook that takes this event type. A progress event
-- not attempted yet is replaced by the newer one (coalesced); the completion
-- replaces it too, so bulk.completed never goes out before the last progress
-- event that does.
CREATE FUNCTION email_verify_internal.emit_event(job bigint, event_type text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id uuid := gen_random_uuid();
    body jsonb := email_verify_internal.event_body(job, event_type, id);
    j email_verify_internal.jobs;
    payload text := body::text;
BEGIN
    SELECT * INTO j FROM email_verify_internal.jobs WHERE jobs.id = job;
    -- Any role may LISTEN: NOTIFY never carries a job's results (the
    -- addresses), only its identity and counts. Its payload must stay under
    -- 8000 bytes: a larger event goes out trimmed, with where to read the rest.
    payload := CASE WHEN body ? 'results'
                    THEN (body - 'results' || jsonb_build_object(
                              'trimmed', true, 'read', format('SELECT * FROM email_verify.job_results(%s)', job)))::text
                    ELSE payload END;
    IF octet_length(payload) >= 7900 THEN
        payload := jsonb_build_object('event_id', id, 'event_type', event_type, 'job_id', job,
                                      'created_at', body -> 'created_at', 'state', body -> 'state',
                                      'summary', body -> 'summary', 'trimmed', true,
                                      'read', format('SELECT * FROM email_verify.job_status(%s)', job))::text;
    END IF;
    PERFORM pg_notify('email_verify', payload);
    DELETE FROM email_verify_internal.webhook_events e
    WHERE e.job_id = job AND e.event_type = 'bulk.progress' AND e.state = 'pending' AND e.attempts = 0;
    IF j.webhook_url IS NOT NULL
       AND (j.endpoint_id IS NULL
            OR event_type = ANY ((SELECT w.events FROM email_verify_internal.webhook_endpoints w
                                  WHERE w.id = j.endpoint_id)::text[])) THEN
        INSERT INTO email_verify_internal.webhook_events (event_id, job_id, event_type, body, url)
        VALUES (id, job, event_type, body, j.webhook_url);
    END IF;
END
$$;

-- Endpoints ---------------------------------------------------------------------------

CREATE FUNCTION email_verify.register_webhook_endpoint(name text, url text, secret text,
        events text[] DEFAULT '{bulk.progress,bulk.completed,bulk.failed}')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR url IS NULL OR secret IS NULL OR secret = '' THEN
        RAISE EXCEPTION 'name, url and secret are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF events IS NULL OR cardinality(events) = 0
       OR NOT events <@ '{bulk.progress,bulk.completed,bulk.failed}'::text[] THEN
        RAISE EXCEPTION 'events must be some of bulk.progress, bulk.completed, bulk.failed'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM email_verify_internal.check_webhook_url(url);
    INSERT INTO email_verify_internal.webhook_endpoints (owner, name, url, secret, events)
    VALUES (email_verify_internal.calling_role_oid(),
            register_webhook_endpoint.name, register_webhook_endpoint.url, register_webhook_endpoint.secret,
            register_webhook_endpoint.events);
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'webhook endpoint "%" already exists', register_webhook_endpoint.name
        USING ERRCODE = 'duplicate_object', HINT = 'Rotate its secret with email_verify.rotate_webhook_secret.';
END
$$;

-- The new secret signs from now on; the old one signs too (a second v1=)
-- until overlap has passed, so receivers can switch at their own pace.
CREATE FUNCTION email_verify.rotate_webhook_secret(name text, new_secret text,
                                                   overlap interval DEFAULT '24 hours')
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF new_secret IS NULL OR new_secret = '' THEN
        RAISE EXCEPTION 'new_secret is required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE email_verify_internal.webhook_endpoints e
    SET previous_secret = e.secret, previous_until = now() + coalesce(overlap, '0'), secret = new_secret
    WHERE e.name = rotate_webhook_secret.name
      AND e.owner = email_verify_internal.calling_role_oid();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" does not exist', rotate_webhook_secret.name
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

CREATE FUNCTION email_verify.unregister_webhook_endpoint(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    user_job bigint;
BEGIN
    -- Its secret signs the events of its jobs: not while one may still send.
    SELECT j.id INTO user_job
    FROM email_verify_internal.jobs j JOIN email_verify_internal.webhook_endpoints e ON e.id = j.endpoint_id
    WHERE e.name = unregister_webhook_endpoint.name
      AND e.owner = email_verify_internal.calling_role_oid()
      AND (j.state IN ('queued', 'running')
           OR EXISTS (SELECT FROM email_verify_internal.webhook_events w
                      WHERE w.job_id = j.id AND w.state IN ('pending', 'sending')))
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" is in use by job %', unregister_webhook_endpoint.name, user_job
            USING ERRCODE = 'object_in_use',
                  HINT = 'Wait until its jobs are finished and their events delivered, or cancel them.';
    END IF;
    DELETE FROM email_verify_internal.webhook_endpoints e
    WHERE e.name = unregister_webhook_endpoint.name
      AND e.owner = email_verify_internal.calling_role_oid();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" does not exist', unregister_webhook_endpoint.name
            USING ERRCODE = 'no_data_found';
    END IF;
END
$$;

-- A URL disabled by 410 Gone takes events again (its dead letters can be replayed).
CREATE FUNCTION email_verify.enable_webhook_endpoint(url text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE email_verify_internal.webhook_endpoints e SET disabled_at = NULL, disabled_reason = NULL
    WHERE e.url = enable_webhook_endpoint.url
      AND email_verify_internal.may_see_job(email_verify_internal.calling_role(), e.owner);
    DELETE FROM email_verify_internal.webhook_endpoints e
    WHERE e.url = enable_webhook_endpoint.url AND e.name IS NULL
      AND email_verify_internal.may_see_job(email_verify_internal.calling_role(), e.owner);
$$;

-- The endpoints the current role may see; never their secrets.
CREATE VIEW email_verify.webhook_endpoints WITH (security_barrier) AS
SELECT e.name, e.url, e.events, r.rolname AS owner, e.created_at,
       e.previous_until > now() AS rotating, e.disabled_at, e.disabled_reason
FROM email_verify_internal.webhook_endpoints e
LEFT JOIN pg_roles r ON r.oid = e.owner
WHERE email_verify_internal.may_see_job(current_user, e.owner);

-- Dead letters ---------------------------------------------------------------------------

CREATE VIEW email_verify.webhook_dead_letters WITH (security_barrier) AS
SELECT e.event_id, e.job_id, e.event_type, e.url, e.attempts, e.last_status, e.last_cause, e.last_error,
       e.created_at, e.next_attempt_at AS last_attempt_at, e.body
FROM email_verify_internal.webhook_events e
JOIN email_verify_internal.jobs j ON j.id = e.job_id
WHERE e.state = 'dead' AND email_verify_internal.may_see_job(current_user, j.owner);

-- Sends dead letters again (same event id, attempts counted from zero):
-- one event, or every dead event of a job. Returns how many.
CREATE FUNCTION email_verify.replay_webhook(event_id uuid)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH replayed AS (
        UPDATE email_verify_internal.webhook_events e
        SET state = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL
        FROM email_verify_internal.jobs j
        WHERE e.event_id = replay_webhook.event_id AND e.state = 'dead' AND j.id = e.job_id
          AND email_verify_internal.may_see_job(email_verify_internal.calling_role(), j.owner)
        RETURNING e.id
    )
    SELECT count(*) FROM replayed, LATERAL email_verify_internal.wake_workers_at_commit();
$$;

CREATE FUNCTION email_verify.replay_job_webhooks(job_id bigint)
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH replayed AS (
        UPDATE email_verify_internal.webhook_events e
        SET state = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL
        WHERE e.job_id = (email_verify_internal.visible_job(replay_job_webhooks.job_id)).id AND e.state = 'dead'
        RETURNING e.id
    )
    SELECT count(*) FROM replayed, LATERAL email_verify_internal.wake_workers_at_commit();
$$;

-- Delivery statistics per target URL: attempts, outcomes by cause, latency
-- percentiles, events delivered, waiting and dead.
CREATE VIEW email_verify.webhook_delivery_stats WITH (security_barrier) AS
WITH visible AS (
    SELECT e.* FROM email_verify_internal.webhook_events e
    JOIN email_verify_internal.jobs j ON j.id = e.job_id
    WHERE email_verify_internal.may_see_job(current_user, j.owner)
), attempts AS (
    SELECT a.url, count(*) AS attempts,
           count(*) FILTER (WHERE a.cause = 'delivered') AS successes,
           count(*) FILTER (WHERE a.cause <> 'delivered') AS failures,
           coalesce(jsonb_object_agg(a.cause, a.n) FILTER (WHERE a.cause <> 'delivered'), '{}') AS failures_by_cause,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p50_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p95_ms,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY a.latency_ms) AS latency_p99_ms
    FROM (SELECT t.url, t.cause, t.latency_ms, count(*) OVER (PARTITION BY t.url, t.cause) AS n
          FROM email_verify_internal.webhook_attempts t
          WHERE t.event_row IN (SELECT v.id FROM visible v)) a
    GROUP BY a.url
)
SELECT u.url, coalesce(a.attempts, 0) AS attempts, coalesce(a.successes, 0) AS successes,
       coalesce(a.failures, 0) AS failures, coalesce(a.failures_by_cause, '{}') AS failures_by_cause,
       a.latency_p50_ms, a.latency_p95_ms, a.latency_p99_ms,
       u.delivered, u.waiting, u.dead,
       (SELECT max(w.disabled_at) FROM email_verify_internal.webhook_endpoints w WHERE w.url = u.url) AS disabled_at
FROM (SELECT v.url, count(*) FILTER (WHERE v.state = 'delivered') AS delivered,
             count(*) FILTER (WHERE v.state IN ('pending', 'sending')) AS waiting,
             count(*) FILTER (WHERE v.state = 'dead') AS dead
      FROM visible v GROUP BY v.url) u
LEFT JOIN attempts a ON a.url = u.url;

-- Retention ----------------------------------------------------------------------------

-- Removes the jobs finished longer than email_verify.job_retention ago, with
-- their results and events, but not while an event of theirs still waits to
-- be delivered; at most max_jobs a call (the worker calls it between batches).
CREATE FUNCTION email_verify_internal.remove_expired_jobs(max_jobs int)
RETURNS int
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH expired AS (
        SELECT j.id FROM email_verify_internal.jobs j
        WHERE j.finished_at < now() - coalesce(current_setting('email_verify.job_retention', true), '7 days')::interval
          AND NOT EXISTS (SELECT FROM email_verify_internal.webhook_events e
                          WHERE e.job_id = j.id AND e.state IN ('pending', 'sending'))
        ORDER BY j.finished_at LIMIT max_jobs
        FOR UPDATE SKIP LOCKED
    ), attempts AS (
        DELETE FROM email_verify_internal.webhook_attempts t
        USING email_verify_internal.webhook_events e
        WHERE t.event_row = e.id AND e.job_id IN (SELECT id FROM expired)
    ), events AS (
        DELETE FROM email_verify_internal.webhook_events e WHERE e.job_id IN (SELECT id FROM expired)
    ), inputs AS (
        DELETE FROM email_verify_internal.job_inputs i WHERE i.job_id IN (SELECT id FROM expired)
    ), addresses AS (
        DELETE FROM email_verify_internal.job_addresses a WHERE a.job_id IN (SELECT id FROM expired)
    ), claims AS (
        DELETE FROM email_verify_internal.job_claims c WHERE c.job_id IN (SELECT id FROM expired)
    ), retries AS (
        DELETE FROM email_verify_internal.job_retries r WHERE r.job_id IN (SELECT id FROM expired)
    ), counts AS (
        DELETE FROM email_verify_internal.job_counts c WHERE c.job_id IN (SELECT id FROM expired)
    ), jobs AS (
        DELETE FROM email_verify_internal.jobs j WHERE j.id IN (SELECT id FROM expired) RETURNING j.id
    )
    SELECT count(*)::int FROM jobs;
$$;

-- Privileges -----------------------------------------------------------------------------

REVOKE ALL ON email_verify_internal.jobs, email_verify_internal.job_inputs, email_verify_internal.job_addresses,
    email_verify_internal.job_claims, email_verify_internal.job_retries,
    email_verify_internal.job_counts, email_verify_internal.webhook_endpoints,
    email_verify_internal.webhook_events, email_verify_internal.webhook_attempts,
    email_verify_internal.visible_job_results
FROM PUBLIC;
GRANT SELECT ON email_verify_internal.visible_job_results, email_verify.jobs, email_verify.webhook_endpoints,
    email_verify.webhook_dead_letters, email_verify.webhook_delivery_stats TO PUBLIC;
REVOKE EXECUTE ON FUNCTION
    email_verify_internal.calling_role_oid(),
    email_verify_internal.job_being_built(bigint),
    email_verify_internal.event_body(bigint, text, uuid),
    email_verify_internal.emit_event(bigint, text),
    email_verify_internal.remove_expired_jobs(int)
FROM PUBLIC;

-- The workers claim job addresses, write their verdicts and counts, end jobs,
-- and deliver the outbox (src/pg/job_items.cpp, src/pg/webhook_outbox.cpp).
GRANT SELECT, UPDATE ON email_verify_internal.jobs, email_verify_internal.webhook_endpoints TO email_verify_worker;
GRANT SELECT, UPDATE ON email_verify_internal.job_addresses TO email_verify_worker;
GRANT SELECT ON email_verify_internal.job_inputs TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify_internal.job_claims, email_verify_internal.job_retries
    TO email_verify_worker;
GRANT USAGE ON SEQUENCE email_verify_internal.job_claims_id_seq TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE ON email_verify_internal.job_counts TO email_verify_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON email_verify_internal.webhook_events TO email_verify_worker;
GRANT INSERT ON email_verify_internal.webhook_endpoints TO email_verify_worker;
GRANT USAGE ON SEQUENCE email_verify_internal.webhook_events_id_seq, email_verify_internal.webhook_endpoints_id_seq
    TO email_verify_worker;
GRANT SELECT, INSERT ON email_verify_internal.webhook_attempts TO email_verify_worker;
GRANT EXECUTE ON FUNCTION
    email_verify_internal.event_body(bigint, text, uuid),
    email_verify_internal.emit_event(bigint, text),
    email_verify_internal.may_probe(name)
TO email_verify_worker;
-- Retention deletes every table's rows of an expired job.
GRANT DELETE ON email_verify_internal.jobs, email_verify_internal.job_inputs, email_verify_internal.job_addresses,
    email_verify_internal.job_counts, email_verify_internal.webhook_attempts TO email_verify_worker;
GRANT EXECUTE ON FUNCTION email_verify_internal.remove_expired_jobs(int) TO email_verify_worker;

-- The launcher starts the workers once this commits.
SELECT email_verify_internal.wake_workers_at_commit();
