import './setup.js'
import '../resolve.test.js'
