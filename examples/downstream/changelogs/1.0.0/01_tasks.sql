CREATE SCHEMA IF NOT EXISTS todo;
CREATE TABLE todo.task (id serial PRIMARY KEY, title text NOT NULL, done boolean NOT NULL DEFAULT false);
