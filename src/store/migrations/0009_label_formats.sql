-- Issue #19: a label is a PDF or ZPL II for a thermal printer ('pdf', 'zpl-203',
-- 'zpl-300'); the `pdf` column holds the label's bytes in that format. Labels made
-- before this migration are PDFs.
ALTER TABLE label_files ADD COLUMN format TEXT NOT NULL DEFAULT 'pdf';
