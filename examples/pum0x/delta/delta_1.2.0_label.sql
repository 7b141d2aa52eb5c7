-- -v string label 'unnamed'; with variables given, a percent sign is written %%.
ALTER TABLE net.pipe ADD COLUMN label text DEFAULT %(label)s;
COMMENT ON COLUMN net.pipe.label IS 'free text, 100%% optional';
