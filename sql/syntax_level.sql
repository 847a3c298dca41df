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
