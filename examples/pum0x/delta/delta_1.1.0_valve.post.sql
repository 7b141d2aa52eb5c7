ALTER TABLE net.valve ADD CONSTRAINT valve_pipe_fk FOREIGN KEY (pipe_id) REFERENCES net.pipe (id);
