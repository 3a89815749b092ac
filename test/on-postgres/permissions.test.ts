import './setup.js'
import '../permissions.test.js'
