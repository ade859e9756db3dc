// The schema as an ordered list of migrations. PRAGMA user_version records how many have run;
// each runs in its own transaction with the version bump, so a crash mid-migration leaves the
// previous version intact. Append new migrations; never edit one that has shipped.
import type Database from 'better-sqlite3';

export const migrations: readonly string[] = [
  // 1: jobs, events, metric series, logs
  `
  CREATE TABLE jobs (
    number       INTEGER PRIMARY KEY AUTOINCREMENT,  -- submission order; the pagination cursor
    id           TEXT NOT NULL UNIQUE,
    name         TEXT,
    state        TEXT NOT NULL,
    spec         TEXT NOT NULL,                      -- JSON: the job as submitted (validated)
    summary      TEXT NOT NULL,                      -- JSON: the model summary's totals
    threads      INTEGER NOT NULL,
    memory_mb    INTEGER NOT NULL,
    idem_key     TEXT UNIQUE,                        -- Idempotency-Key of the POST that made it
    idem_hash    TEXT,                               -- SHA-256 of that POST's body
    created_at   INTEGER NOT NULL,                   -- ms since the epoch
    updated_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    step         INTEGER NOT NULL DEFAULT 0,
    total_steps  INTEGER,
    epoch        REAL NOT NULL DEFAULT 0,
    checkpoint_step INTEGER,                         -- step of the last checkpoint written
    attempts     INTEGER NOT NULL DEFAULT 0,         -- times a worker was started for it
    error        TEXT,
    result       TEXT                                -- JSON: the final metrics
  );
  CREATE INDEX jobs_state ON jobs(state, number);

  CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,       -- global order (GET /v1/events ids)
    job_id  TEXT NOT NULL,
    seq     INTEGER NOT NULL,                        -- per-job order (GET /v1/jobs/:id/events ids)
    type    TEXT NOT NULL,
    data    TEXT NOT NULL,                           -- JSON
    time    INTEGER NOT NULL,
    UNIQUE (job_id, seq)
  );
  CREATE INDEX events_type ON events(type, id);

  CREATE TABLE metrics (
    job_id  TEXT NOT NULL,
    name    TEXT NOT NULL,
    step    INTEGER NOT NULL,
    value   REAL,                                    -- NULL stands for a non-finite value
    time    INTEGER NOT NULL,
    PRIMARY KEY (job_id, name, step)
  ) WITHOUT ROWID;

  CREATE TABLE logs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  TEXT NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL,
    time    INTEGER NOT NULL
  );
  CREATE INDEX logs_job ON logs(job_id, id);
  `,
  // 2: uploaded data sets (their files live in <dataDir>/datasets/<id>/; a row exists only for a
  // set whose files were format-checked, so every row can be trained on)
  `
  CREATE TABLE datasets (
    name        TEXT PRIMARY KEY,                    -- what jobs name (data.name); never a built-in's
    id          TEXT NOT NULL UNIQUE,                -- its directory under <dataDir>/datasets/
    kind        TEXT NOT NULL,                       -- image | seq2seq | lm
    format      TEXT NOT NULL,                       -- idx | cifar10 | cifar100 | image-folder | tsv | text
    shape       TEXT,                                -- JSON [C, H, W] (images of one size), else NULL
    classes     TEXT,                                -- JSON class names (image sets), else NULL
    sizes       TEXT NOT NULL,                       -- JSON { train, validation, test }: examples per uploaded split
    files       TEXT NOT NULL,                       -- JSON { role: [file names in the directory] }
    bytes       INTEGER NOT NULL,                    -- bytes on disk
    state       TEXT NOT NULL,                       -- ready
    created_at  INTEGER NOT NULL
  );
  `,
  // 3: a job's events by type (GET /v1/jobs/:id/history: its epochs and log lines without reading
  // the many progress events between them)
  `
  CREATE INDEX events_job_type ON events(job_id, type, seq);
  `,
];

/** Runs the migrations the database has not seen yet; returns the schema version. */
export function migrate(db: Database.Database): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new Error(`store: the database has schema version ${current}, newer than this build knows (${migrations.length}); upgrade Kiln`);
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return migrations.length;
}
