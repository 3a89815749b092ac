import './setup.js'
import '../no-cache.test.js'
