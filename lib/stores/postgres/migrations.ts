// The schema's history: each migration, and the foreign keys the erase and import rely on.

/** The foreign keys to `rooms(_id)` (migration 3), and the collection each one guards on import. */
export const ROOM_KEYS = [
  { table: 'rooms', column: 'prid', collection: 'rooms' },
  { table: 'subscriptions', column: 'rid', collection: 'subscriptions' },
  { table: 'messages', column: 'rid', collection: 'messages' },
  { table: 'uploads', column: 'rid', collection: 'uploads' },
  { table: 'read_receipts', column: 'rid', collection: 'readReceipts' }
] as const

/** Each entry upgrades the schema by one version: append, never edit a released one. */
export const MIGRATIONS: ReadonlyArray<(table: (name: string) => string) => string[]> = [
  // 1: one table per collection, the whole document beside the columns it is found by.
  (table) => [
    `CREATE TABLE ${table('users')} (_id text PRIMARY KEY, username text, doc jsonb NOT NULL)`,
    `CREATE TABLE ${table('login_tokens')} (
       user_id text NOT NULL REFERENCES ${table('users')} ON DELETE CASCADE,
       hashed_token text NOT NULL,
       PRIMARY KEY (user_id, hashed_token))`,
    `CREATE TABLE ${table('rooms')} (_id text PRIMARY KEY, t text, member_key text[], prid text, doc jsonb NOT NULL)`,
    `CREATE TABLE ${table('subscriptions')} (_id text PRIMARY KEY, rid text NOT NULL, user_id text, doc jsonb NOT NULL)`,
    ...['messages', 'uploads', 'read_receipts'].map((name) =>
      `CREATE TABLE ${table(name)} (_id text PRIMARY KEY, rid text NOT NULL, doc jsonb NOT NULL)`)
  ],
  // 2: the indexes that make each lookup and each step of an erase an index scan.
  (table) => [
    `CREATE UNIQUE INDEX users_username ON ${table('users')} (username)`,
    `CREATE INDEX rooms_direct ON ${table('rooms')} (t, member_key) WHERE member_key IS NOT NULL`,
    `CREATE INDEX rooms_prid ON ${table('rooms')} (prid) WHERE prid IS NOT NULL`,
    `CREATE INDEX subscriptions_rid_user ON ${table('subscriptions')} (rid, user_id)`,
    ...['messages', 'uploads', 'read_receipts'].map((name) => `CREATE INDEX ${name}_rid ON ${table(name)} (rid)`)
  ],
  // 3: every room-owned row, and every discussion, names a room that exists. Without these keys a
  // message committed into a room while an erase of it is in flight outlives the room; with them
  // the insert waits on the erase's row lock and then fails, or commits first and is erased too.
  // NOT VALID: rows already orphaned in a database being upgraded stay and block nothing; every
  // row written from now on is checked. The erase deletes children before rooms, as the keys need.
  (table) => [
    ...ROOM_KEYS.map(({ table: name, column }) =>
      `ALTER TABLE ${table(name)} ADD CONSTRAINT ${name}_${column}_fkey FOREIGN KEY (${column}) REFERENCES ${table('rooms')} (_id) NOT VALID`)
  ],
  // 4: the file blobs still to remove, written by the erase that removed their uploads, in its own
  // transaction: a process dying after the commit leaves them here, not forgotten (blobs.ts).
  (table) => [
    `CREATE TABLE ${table('pending_blobs')} (upload_id text PRIMARY KEY, doc jsonb NOT NULL, erased_at timestamptz NOT NULL DEFAULT now())`
  ],
  // 5: erases too big for one short transaction (purge.ts). The erase marks the rooms `purging`
  // (no lookup finds them from then on) and records the purge, with what it removed so far; the
  // purge's steps remove the rest in batches, then the rooms and the purge row.
  (table) => [
    `ALTER TABLE ${table('rooms')} ADD COLUMN purging boolean NOT NULL DEFAULT false`,
    `CREATE TABLE ${table('purges')} (
       room_id text PRIMARY KEY,
       room_ids text[] NOT NULL,
       messages bigint NOT NULL DEFAULT 0,
       subscriptions bigint NOT NULL DEFAULT 0,
       uploads bigint NOT NULL DEFAULT 0,
       read_receipts bigint NOT NULL DEFAULT 0,
       created_at timestamptz NOT NULL DEFAULT now())`
  ]
]

/** The schema version this release creates and expects. */
export const SCHEMA_VERSION = MIGRATIONS.length
