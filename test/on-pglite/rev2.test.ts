// The suites that pin the spec's revision 2 rows, on one PGlite (starting one costs seconds).
import './setup.js'
import '../auth.test.js'
import '../no-cache.test.js'
import '../permissions.test.js'
import '../resolve.test.js'
