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
  ],
  // 6: one step of a purge as one call (purge.ts): the oldest purge no other session is stepping,
  // locked until the caller commits, and a batch of up to `batch_size` rows of each kind of its
  // rooms, each kind its own DELETE, found through the rid index and deleted by physical address.
  // And the rest of an erase (store.ts) once its uploads are gone, as one call: Rocket.Chat's
  // order, the rooms last. One round trip each; the statements are planned once per connection,
  // as prepared ones are.
  (table) => {
    const batch = (name: string): string =>
      `DELETE FROM ${table(name)} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table(name)} WHERE rid = ANY(step_room_ids) LIMIT batch_size))`
    return [
      `CREATE FUNCTION ${table('purge_step')} (batch_size integer, record_blobs boolean, hand_back boolean,
         OUT purge_id text, OUT step_room_ids text[], OUT messages integer, OUT uploads integer, OUT read_receipts integer,
         OUT subscriptions integer, OUT upload_docs text)
       LANGUAGE plpgsql AS $step$
       BEGIN
         SELECT p.room_id, p.room_ids INTO purge_id, step_room_ids FROM ${table('purges')} p
           ORDER BY p.created_at, p.room_id LIMIT 1 FOR UPDATE SKIP LOCKED;
         IF purge_id IS NULL THEN RETURN; END IF;
         WITH gone AS (DELETE FROM ${table('uploads')} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table('uploads')} WHERE rid = ANY(step_room_ids) LIMIT batch_size)) RETURNING _id, doc),
              recorded AS (INSERT INTO ${table('pending_blobs')} (upload_id, doc) SELECT _id, doc FROM gone WHERE record_blobs ON CONFLICT (upload_id) DO NOTHING)
         -- Filtered, not a CASE around it: an aggregate is computed whatever the CASE says.
         SELECT count(*), coalesce(json_agg(doc ORDER BY _id) FILTER (WHERE hand_back), '[]')::text INTO uploads, upload_docs FROM gone;
         ${batch('messages')};
         GET DIAGNOSTICS messages = ROW_COUNT;
         ${batch('read_receipts')};
         GET DIAGNOSTICS read_receipts = ROW_COUNT;
         ${batch('subscriptions')};
         GET DIAGNOSTICS subscriptions = ROW_COUNT;
         UPDATE ${table('purges')} p SET messages = p.messages + purge_step.messages, uploads = p.uploads + purge_step.uploads,
           read_receipts = p.read_receipts + purge_step.read_receipts, subscriptions = p.subscriptions + purge_step.subscriptions
         WHERE p.room_id = purge_id;
       END
       $step$`,
      `CREATE FUNCTION ${table('erase_rest')} (room_ids text[], hand_back boolean,
         OUT messages integer, OUT subscriptions integer, OUT read_receipts integer, OUT subscription_docs text, OUT room_docs text)
       LANGUAGE plpgsql AS $erase$
       BEGIN
         DELETE FROM ${table('messages')} WHERE rid = ANY(room_ids);
         GET DIAGNOSTICS messages = ROW_COUNT;
         WITH gone AS (DELETE FROM ${table('subscriptions')} WHERE rid = ANY(room_ids) RETURNING _id, doc)
         SELECT count(*), coalesce(json_agg(doc ORDER BY _id) FILTER (WHERE hand_back), '[]')::text INTO subscriptions, subscription_docs FROM gone;
         DELETE FROM ${table('read_receipts')} WHERE rid = ANY(room_ids);
         GET DIAGNOSTICS read_receipts = ROW_COUNT;
         WITH gone AS (DELETE FROM ${table('rooms')} WHERE _id = ANY(room_ids) RETURNING _id, doc)
         SELECT coalesce(json_agg(doc ORDER BY array_position(room_ids, _id)) FILTER (WHERE hand_back), '[]')::text INTO room_docs FROM gone;
       END
       $erase$`
    ]
  }
]

/** The schema version this release creates and expects. */
export const SCHEMA_VERSION = MIGRATIONS.length
