CREATE SCHEMA library_app;
CREATE VIEW library_app.titles AS SELECT title FROM library.book;
