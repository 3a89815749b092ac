// Imported first by each file here: the suites that follow then build every app on PostgreSQL.
import t from 'tap'
import { useBackend } from '../helpers/on-backend.js'
import { pglite, server } from '../helpers/postgres.js'

// The real server when it answers (CI makes sure it does), else PGlite.
useBackend(t, await server(t) ?? await pglite(t))
