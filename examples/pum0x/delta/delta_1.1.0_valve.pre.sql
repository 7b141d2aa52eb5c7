CREATE TABLE net.valve (
    id serial PRIMARY KEY,
    pipe_id int NOT NULL,
    closed boolean NOT NULL DEFAULT false
);
