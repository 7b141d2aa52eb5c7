DROP TABLE library.loan;
