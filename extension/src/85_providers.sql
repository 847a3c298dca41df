-- Big mail providers, recognised by the host name of a domain's most
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
