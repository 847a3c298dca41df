-- The email_verify.* settings and their sealed prefix.
SELECT name, CASE name WHEN 'email_verify.helo_name' THEN '(the host name)' ELSE boot_val END AS default_value,
       context, vartype, unit
FROM pg_settings WHERE name LIKE 'email_verify.%' ORDER BY name;
SET email_verify.default_level = 'dns';
SHOW email_verify.default_level;
SET email_verify.default_level = 'deep';
RESET email_verify.default_level;
SET email_verify.no_such_setting = 'x';
