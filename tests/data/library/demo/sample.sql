INSERT INTO library.book (title) VALUES ('Dune'), ('Solaris');
INSERT INTO library.loan (book_id) SELECT id FROM library.book WHERE title = 'Dune';
