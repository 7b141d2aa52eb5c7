CREATE SCHEMA library;
CREATE TABLE library.book (
    id serial PRIMARY KEY,
    title text NOT NULL
);
