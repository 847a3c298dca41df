-- The email_verify.* settings and their sealed prefix.
SELECT name, setting, context, vartype
FROM pg_settings WHERE name LIKE 'email_verify.%' ORDER BY name;
SET email_verify.default_level = 'dns';
SHOW email_verify.default_level;
SET email_verify.default_level = 'deep';
RESET email_verify.default_level;
SET email_verify.no_such_setting = 'x';
