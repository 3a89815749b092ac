// Imported first: the suites that follow then build every app on PGlite, even where the real
// server answers (test/on-postgres prefers the server), so that each rev-2 row is pinned on both.
import t from 'tap'
import { useBackend } from '../helpers/on-backend.js'
import { pglite } from '../helpers/postgres.js'

useBackend(t, await pglite(t))
