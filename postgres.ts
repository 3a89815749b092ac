export { PostgresStore, type MigrateOptions } from './lib/stores/postgres/store.js'
export { SCHEMA_VERSION } from './lib/stores/postgres/migrations.js'
export type { PGliteLike, PgClientLike, PgPoolLike, PostgresStoreOptions } from './lib/stores/postgres/driver.js'
