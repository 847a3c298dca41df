-- Level syntax: every verdict of the syntax rules (README.md, "Syntax rules"), no network.
SELECT input, (r).normalized, (r).status, (r).reason, (r).suggestion,
       (r).is_disposable AS disp, (r).is_role AS role, (r).is_free AS free, (r).score
FROM (SELECT input, verify_email(input, 'syntax') AS r
      FROM unnest(ARRAY[
        'john@example.com',
        '  John.Doe@GMIAL.con  ',
        'jane.doe+news@Example.COM',
        'o''reilly@example.ie',
        'info@example.com',
        'No-Reply@example.com',
        'someone@mailinator.com',
        'someone@sub.mailinator.com',
        'user@gmail.com',
        'user@gmx.com',
        'user@mail.com',
        'user@yahoo.co.uk',
        'user@hotmial.com',
        'user@yaho.com',
        'user@outlook.co',
        'José@Bücher.example',
        '用户@例子.广告',
        'john..doe@example.com',
        '.john@example.com',
        'john.@example.com',
        'john@',
        '@example.com',
        'john',
        'john@@example.com',
        'john@localhost',
        'john@example.com.',
        'john@-example.com',
        'john@exa_mple.com',
        'john@1.2.3.4',
        'john doe@example.com',
        '"john doe"@example.com',
        'john@[192.0.2.1]',
        'a@xn--bcher-kva.de',
        'a@xn--bcher-xxx.de',
        ''
      ]) WITH ORDINALITY AS t(input, n)
      ORDER BY n) s;

-- Length limits: 64-octet local part, 63-octet label, 254-octet address.
SELECT (verify_email(repeat('a', 64) || '@example.com', 'syntax')).status AS local_64,
       (verify_email(repeat('a', 65) || '@example.com', 'syntax')).status AS local_65,
       (verify_email('a@' || repeat('b', 63) || '.com', 'syntax')).status AS label_63,
       (verify_email('a@' || repeat('b', 64) || '.com', 'syntax')).status AS label_64,
       (verify_email(repeat('a', 64) || '@' || repeat('b', 63) || '.' || repeat('c', 63) || '.' || repeat('d', 57) || '.com', 'syntax')).status AS whole_254,
       (verify_email(repeat('a', 64) || '@' || repeat('b', 63) || '.' || repeat('c', 63) || '.' || repeat('d', 58) || '.com', 'syntax')).status AS whole_255;

-- The reasons behind a syntax verdict.
SELECT input, email_verify.syntax_error(input)
FROM unnest(ARRAY['john..doe@example.com', 'john@localhost', 'john', '"a b"@example.com',
                  'a@[192.0.2.1]', 'a@example.123', 'good@example.com']) AS input;

-- GUCs relax quoted local parts and domain literals for verify_email.
SET email_verify.allow_quoted_local = on;
SET email_verify.allow_domain_literal = on;
SELECT (verify_email('"john doe"@example.com', 'syntax')).normalized,
       (verify_email('"a@b"@example.com', 'syntax')).status,
       (verify_email('john@[192.0.2.1]', 'syntax')).normalized,
       (verify_email('john@[IPv6:2001:DB8::1]', 'syntax')).normalized,
       (verify_email('john@[300.1.1.1]', 'syntax')).status;
RESET email_verify.allow_quoted_local;
RESET email_verify.allow_domain_literal;
SELECT (verify_email('"john doe"@example.com', 'syntax')).status;

-- Issue 16: Unicode hygiene of local parts, NFC, IDNA2008 registration
-- rules (A-labels as strictly as U-labels, CONTEXTO), the TLD form,
-- special-use names, the RFC 5321 IPv6 rule; syntax_error() names each.
SELECT n, (r).status, (r).reason, (r).normalized, email_verify.syntax_error(input)
FROM (SELECT n, input, verify_email(input, 'syntax') AS r
      FROM unnest(ARRAY[
        U&'a\00A0b@example.com',          -- NBSP
        U&'a\3000b@example.com',          -- ideographic space
        U&'a\2028b@example.com',          -- line separator
        U&'a\200Bb@example.com',          -- zero-width space
        U&'jo\00ADhn@example.com',        -- soft hyphen
        U&'a\202Eb@example.com',          -- bidi override
        U&'\FEFFjohn@example.com',        -- a leading BOM is trimmed
        U&'\0301a@example.com',           -- combining mark first
        U&'a\0378b@example.com',          -- unassigned
        U&'a\FDD0b@example.com',          -- noncharacter
        U&'a\E000b@example.com',          -- private use
        U&'Jose\0301@example.com',        -- NFC: composed
        U&'a\037Eb@example.com',          -- NFC: GREEK QUESTION MARK is ';'
        'u@xn--p6j.com',                  -- A-label of U+3000
        'u@xn--oc-jw3n.com',              -- A-label with a fullwidth @
        U&'u@a\2260b.com',                -- not-equal sign
        U&'u@a\00B7b.com',                -- MIDDLE DOT out of context
        U&'u@l\00B7l.cat',                -- MIDDLE DOT between l and l
        U&'u@a\30FBb.jp',                 -- KATAKANA MIDDLE DOT without kana
        'u@xn--abc-.com',                 -- Punycode of plain ASCII
        'u@ab--cd.com',                   -- reserved hyphens
        'u@example.c0m',                  -- TLD neither letters nor A-label
        'u@example.xn--p1ai',             -- A-label TLD
        'u@hidden.onion',
        'u@x.invalid',
        'u@host.localhost',
        'u@printer.local',
        'u@strict.test'                   -- RFC 6761 6.2: an ordinary name
      ]) WITH ORDINALITY AS t(input, n)) s
ORDER BY n;

SELECT email_verify.normalize_email(U&'Jose\0301@Example.COM') = email_verify.normalize_email(U&'Jos\00E9@example.com')
       AS nfc_equal;

SET email_verify.allow_domain_literal = on;
SELECT email_verify.syntax_error('u@[IPv6:1:2:3:4:5:6::7]') AS one_group,
       (verify_email('u@[IPv6:1:2:3:4:5::7]', 'syntax')).normalized AS two_groups;
RESET email_verify.allow_domain_literal;

-- The level argument is case-insensitive, as email_verify.default_level is.
SELECT (verify_email('john@example.com', 'SYNTAX')).level AS upper,
       (verify_email('john@example.com', 'Syntax')).level AS mixed;
SELECT verify_email('john@example.com', 'syntaxx');
