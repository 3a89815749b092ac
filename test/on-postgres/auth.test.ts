import './setup.js'
import '../auth.test.js'
