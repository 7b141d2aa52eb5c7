CREATE SCHEMA trees_od;
CREATE SCHEMA trees_vl;
COMMENT ON SCHEMA trees_od IS 'Ordinary data: the trees and what is known of them';
COMMENT ON SCHEMA trees_vl IS 'Value lists';
