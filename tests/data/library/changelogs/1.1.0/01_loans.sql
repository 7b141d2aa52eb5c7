CREATE TABLE library.loan (
    id serial PRIMARY KEY,
    book_id integer NOT NULL REFERENCES library.book (id),
    days integer NOT NULL DEFAULT {loan_days}
);
