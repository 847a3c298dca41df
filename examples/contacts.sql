-- A small contacts table for the quickstart: real-looking sign-ups with the
-- usual mistakes in them.
DROP TABLE IF EXISTS contacts;
CREATE TABLE contacts (
    id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name  text NOT NULL,
    email text
);
INSERT INTO contacts (name, email) VALUES
    ('Ada Lovelace',    'ada.lovelace@example.com'),
    ('John Doe',        'John.Doe@GMIAL.con'),
    ('Grace Hopper',    'grace+newsletter@outlook.com'),
    ('Sales desk',      'sales@acme-widgets.example'),
    ('Throwaway',       'someone@mailinator.com'),
    ('Typo Yahoo',      'mary@yaho.com'),
    ('Typo Hotmail',    'li.wei@hotmial.com'),
    ('Bücher Fan',      'leser@bücher.example'),
    ('Unicode name',    '用户@例子.广告'),
    ('Double dot',      'alan..turing@example.org'),
    ('No at sign',      'margaret.hamilton.example.com'),
    ('Trailing spaces', '  katherine@example.net  '),
    ('Missing',         NULL);
