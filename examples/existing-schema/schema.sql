-- A small chat server's own schema: nothing here is shaped like Rocket.Chat's collections.
-- Applied by migrate() in db.ts; every statement can run again on an existing database.

CREATE TABLE IF NOT EXISTS accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  username text UNIQUE,
  display_name text,
  roles text[] NOT NULL DEFAULT '{user}',
  -- Set when an admin deactivates the account: its sessions stop working, its posts stay.
  deactivated_at timestamptz
);

CREATE TABLE IF NOT EXISTS sessions (
  -- Only the token's SHA-256 is stored: a leaked table holds no usable session.
  token_sha256 bytea PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts ON DELETE CASCADE,
  expires_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS conversations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL CHECK (kind IN ('direct', 'group', 'channel')),
  title text,
  -- Bridged from another server: the plugin refuses to erase those.
  federated boolean NOT NULL DEFAULT false,
  -- A discussion is a conversation of its own, started from its parent.
  parent_id uuid REFERENCES conversations,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS conversations_parent ON conversations (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS conversation_members (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations,
  account_id uuid NOT NULL REFERENCES accounts,
  roles text[] NOT NULL DEFAULT '{}',
  UNIQUE (conversation_id, account_id)
);
-- Finding a direct conversation by its members starts from one member's memberships.
CREATE INDEX IF NOT EXISTS conversation_members_account ON conversation_members (account_id);

CREATE TABLE IF NOT EXISTS posts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations,
  author_id uuid REFERENCES accounts,
  body text NOT NULL DEFAULT '',
  thread_parent_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- The target of the keys below: a reply, an attachment, a read mark lives in its post's conversation.
  UNIQUE (id, conversation_id),
  FOREIGN KEY (thread_parent_id, conversation_id) REFERENCES posts (id, conversation_id)
);
CREATE INDEX IF NOT EXISTS posts_conversation ON posts (conversation_id);

CREATE TABLE IF NOT EXISTS attachments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  conversation_id uuid NOT NULL REFERENCES conversations,
  -- NULL while uploaded but not yet posted (or when the post was edited away).
  post_id uuid,
  uploader_id uuid REFERENCES accounts,
  storage_key text NOT NULL,
  file_name text,
  size bigint,
  mime_type text,
  FOREIGN KEY (post_id, conversation_id) REFERENCES posts (id, conversation_id)
);
CREATE INDEX IF NOT EXISTS attachments_conversation ON attachments (conversation_id);

CREATE TABLE IF NOT EXISTS read_marks (
  post_id uuid NOT NULL,
  account_id uuid NOT NULL REFERENCES accounts,
  conversation_id uuid NOT NULL,
  read_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (post_id, account_id),
  FOREIGN KEY (post_id, conversation_id) REFERENCES posts (id, conversation_id)
);
CREATE INDEX IF NOT EXISTS read_marks_conversation ON read_marks (conversation_id);

-- No ON DELETE CASCADE towards conversations: a row written into a conversation takes a key
-- share lock on it, so a post racing an erase waits for the erase's row lock and then fails,
-- or commits first and is erased with the rest. Deleting children before parents is the
-- erase's job, and a forgotten table makes it fail instead of leaving orphans.
