ALTER TABLE todo.task ADD COLUMN due date;
CREATE INDEX task_open ON todo.task (due) WHERE NOT done;
