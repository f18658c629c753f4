-- V002__store_settings.sql — store-wide settings.
--
-- Holds the model binding (provider, model, dimension, distance,
-- normalisation), the name of the active Lance table, and the results of
-- the last maintenance runs. Values are JSON text.
CREATE TABLE store_settings (
  key        TEXT PRIMARY KEY NOT NULL,
  value      TEXT NOT NULL CHECK (json_valid(value)),
  updated_at INTEGER NOT NULL
);
