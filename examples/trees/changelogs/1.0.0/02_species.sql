CREATE TABLE trees_vl.species (
    id integer PRIMARY KEY,
    latin text NOT NULL UNIQUE,
    name_en text NOT NULL,
    name_fr text NOT NULL,
    name_de text NOT NULL
);
INSERT INTO trees_vl.species VALUES
    (1, 'Tilia cordata', 'small-leaved lime', 'tilleul à petites feuilles', 'Winterlinde'),
    (2, 'Platanus x hispanica', 'London plane', 'platane commun', 'Ahornblättrige Platane'),
    (3, 'Acer platanoides', 'Norway maple', 'érable plane', 'Spitzahorn');
