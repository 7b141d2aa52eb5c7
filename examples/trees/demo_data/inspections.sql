INSERT INTO trees_od.inspection (tree_id, inspected_on, health, note)
SELECT id, '2024-06-01', 'fair', 'crown thinning' FROM trees_od.tree WHERE species_id = 2;
